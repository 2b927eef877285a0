"""The CDS Hooks 2.0 service: discovery, patient-view, order-select and order-sign, and feedback to the board log.

Nothing about a patient is logged: log lines name the service, the number and urgency of the cards and the
time taken. Request bodies, FHIR data, tokens and error details stay out of the logs (httpx, which logs the
URLs it fetches, is kept at WARNING).

Its trust boundary: a body larger than `max_body` is refused (413) before it is read whole, one that has not
arrived within `body_seconds` is 408; every response says
`Cache-Control: no-store` and `X-Content-Type-Options: nosniff`; FHIR servers are fetched from only when the
hospital allowed them (engine/service/outbound.py); feedback reaches the board log only from a caller whose
JWT verified."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .. import __version__
from ..board_log import OVERRIDE_REASONS, BoardLog, CdsFeedback, default_path
from ..engine import get_engine
from ..errors import InputError
from ..fhir import load
from .auth import Trust, Unauthorized
from .cards import IssuedCard, recognised_orders
from .deciding import Answer, Call, Decider, DecidingPool, InProcess, Responder, settle_memory
from .gather import BadRequest, Insufficient, gather, prefetch_templates
from .models import (
    CdsRequest,
    CdsResponse,
    CdsService,
    Discovery,
    FeedbackRequest,
    OrderSelectRequest,
    OrderSignRequest,
    PatientViewRequest,
)
from .models import Problem as ProblemBody
from .outbound import Fetcher, Limits, Refused, allowed_servers

log = logging.getLogger("spinemets.service")
MAX_REMEMBERED_CARDS = 10_000
MAX_BODY = 1_000_000   # bytes of a request body; the largest vignette's patient-view call is about 30 kB
BODY_SECONDS = 30.0    # for the whole body to arrive: uvicorn has no such limit, and a drip would hold a task
JWKS_TIMEOUT = 5.0
SECURITY_HEADERS = ((b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"))


@dataclass(frozen=True)
class Hook:
    """One CDS service of this provider."""

    id: str
    hook: str
    title: str
    description: str
    request: type[CdsRequest]


HOOKS: tuple[Hook, ...] = (
    Hook("spinemets-patient-view", "patient-view", "Painful spinal metastases: graded treatment options",
         "The six options (vertebroplasty, embolization then vertebroplasty, vertebroplasty with tumour removal, "
         "kyphoplasty, open surgery, conservative care) graded for the patient, with cited reasons and the "
         "unknown findings that could change the advice. Decision support, not a medical device.",
         PatientViewRequest),
    Hook("spinemets-order-select", "order-select", "Spinal metastasis procedure orders: is this one indicated?",
         "When a vertebroplasty, kyphoplasty, embolization or spine surgery order is selected: its grade for "
         "the patient, a critical card with a replacement when it is contraindicated.", OrderSelectRequest),
    Hook("spinemets-order-sign", "order-sign", "Spinal metastasis procedure orders: check before signing",
         "Before a vertebroplasty, kyphoplasty, embolization or spine surgery order is signed: its grade for "
         "the patient, a critical card with a replacement when it is contraindicated.", OrderSignRequest),
)


@dataclass
class Settings:
    """How the service runs: rule base, board log, trusted issuers, the front end's URL, the FHIR servers it may
    fetch from (none: prefetch only) and the limits of a call."""

    rules: str | None = None
    board_db: Path | None = field(default_factory=default_path)
    trust: Trust = field(default_factory=Trust)
    app_url: str | None = "http://localhost:8501"
    fhir_servers: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    max_body: int = MAX_BODY
    body_seconds: float = BODY_SECONDS
    transport: httpx.AsyncBaseTransport | None = None  # tests hand in a fake FHIR server here
    today: dt.date | None = None  # the day staleness is judged on (None: today); tests fix it
    cors_origins: tuple[str, ...] = ()  # browser-based clients allowed to call (none by default: no CORS headers)
    decide_workers: int = 0  # processes that read records and decide beside the server's (0: in its own process)
    settle_memory: bool = False  # freeze what is loaded out of the GC's reach once started (a real server's)


class _Service(FastAPI):
    """The app behind a boundary no response or request gets around, the framework's own 500s included."""

    max_body = MAX_BODY
    body_seconds = BODY_SECONDS

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],  # type: ignore[override]
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return

        async def guarded(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                message = {**message, "headers": [(k, v) for k, v in message.get("headers", [])
                                                  if k.lower() not in names] + list(SECURITY_HEADERS)}
            await send(message)
        try:
            async with asyncio.timeout(self.body_seconds):
                body = await _bounded_body(scope, receive, self.max_body)
        except TimeoutError:
            await JSONResponse({"detail": "the request body did not arrive in time"},
                               status_code=408)(scope, receive, guarded)
            return
        if body is None:
            await JSONResponse({"detail": f"the request body is larger than {self.max_body} bytes"},
                               status_code=413)(scope, receive, guarded)
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()
        await super().__call__(scope, replay, guarded)


async def _bounded_body(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed the limit: by Content-Length before reading,
    else by counting (a chunked body has no length to trust)."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length" and (not value.isdigit() or int(value) > limit):
            return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)  # the client went away; the app sees an empty body and answers no one
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class _Contain:
    """Turns an unexpected exception into a bare 500, logged by type only (its message may hold patient data)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)
        try:
            await self.app(scope, receive, tracking)
        except Exception as err:  # noqa: BLE001 - the service must answer, and must not log the message
            log.error("internal error (%s) on %s", type(err).__name__, scope.get("path"))
            if not started:
                await JSONResponse({"detail": "internal error"}, status_code=500)(scope, receive, send)


def _refusal(status: int, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers or None)


def _validation_message(err: RequestValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {e.get('msg')}")
    return "bad request: " + "; ".join(parts)


def _feedback_problem(item: Any, known: IssuedCard | None) -> str | None:
    """Why a feedback item cannot enter the log: accepted suggestions the card did not offer, or of a card this
    service does not know (the timestamp is checked by the model)."""
    accepted = [s.id for s in item.acceptedSuggestions or ()]
    if item.outcome == "overridden" and accepted:
        return f"feedback on card {item.card}: an overridden card accepts no suggestion"
    if accepted and known is None:
        return f"feedback on card {item.card}: this service issued no such card, so no suggestion of it exists"
    unknown = [a for a in accepted if known is not None and a not in known.suggestions]
    if unknown:
        return f"feedback on card {item.card}: suggestion {unknown[0]} is not one of the card's"
    return None


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service as an ASGI app (uvicorn runs it; tests call it in process)."""
    settings = settings or Settings()
    if settings.trust.required and not settings.trust.audience:
        # taken from the request, the audience would be whatever Host header the caller wrote
        raise InputError("trusted issuers need the audience: this service's base URL as its clients call it")
    try:
        servers = allowed_servers(settings.fhir_servers)
    except Refused as err:
        raise InputError(str(err)) from None
    for noisy in ("httpx", "httpcore"):  # they log request URLs, which carry the patient's id
        logging.getLogger(noisy).setLevel(logging.WARNING)
    engine = get_engine(settings.rules)
    decider: Decider = (
        DecidingPool(settings.decide_workers, settings.rules, engine.sha256, settings.app_url, settings.today)
        if settings.decide_workers else InProcess(Responder(engine, settings.app_url, settings.today)))
    issued: OrderedDict[str, IssuedCard] = OrderedDict()
    fetcher = Fetcher(servers, settings.limits, settings.transport)
    holder: dict[str, httpx.AsyncClient] = {}

    def jwks_client() -> httpx.AsyncClient:
        # its own pool: FHIR servers that are slow to answer cannot starve the checking of JWTs
        if "client" not in holder:
            holder["client"] = httpx.AsyncClient(timeout=JWKS_TIMEOUT, transport=settings.transport,
                                                 follow_redirects=False, trust_env=False)
        return holder["client"]

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        log.info("spinemets CDS Hooks service: rule base %s %s; %s; feedback %s; %d FHIR server(s) allowed",
                 engine.rulebook.version, engine.sha256[:12],
                 "JWT required" if settings.trust.required else "no JWT required",
                 "to the board log" if settings.board_db and settings.trust.required else
                 "not recorded (no board log)" if not settings.board_db else "not recorded (no JWT required)",
                 len(servers))
        await decider.start()
        if settings.settle_memory:
            settle_memory()
        if settings.decide_workers:
            log.info("records are read and decided in %d worker process(es)", settings.decide_workers)
        try:
            yield
        finally:
            await decider.stop()
        if "client" in holder:
            await holder["client"].aclose()
        await fetcher.aclose()

    app = _Service(title="spinemets CDS Hooks service", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,  # the interactive docs load scripts from the internet
                  description="CDS Hooks 2.0 services for painful spinal metastases. Decision support, not a "
                              "medical device.")
    app.max_body, app.body_seconds = settings.max_body, settings.body_seconds
    app.state.decider = decider  # where calls are decided (tests look at the deciding pool's workers)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"], allow_credentials=False)
    app.add_middleware(_Contain)
    bearer = HTTPBearer(auto_error=False, description="a JWT signed by a trusted CDS client (CDS Hooks 2.0)")
    refusals: dict[int | str, dict[str, Any]] = {
        400: {"model": ProblemBody, "description": "the request is not what the hook promises"},
        413: {"model": ProblemBody, "description": "the request body is larger than the service accepts"},
        401: {"model": ProblemBody, "description": "no JWT, or one this service cannot trust"},
    }

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_request: Request, err: RequestValidationError) -> JSONResponse:
        return _refusal(400, _validation_message(err))

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_request: Request, err: Unauthorized) -> JSONResponse:
        return _refusal(401, str(err), **{"WWW-Authenticate": "Bearer"})

    async def authorize(request: Request,  # FastAPI's way of declaring a dependency: B008 does not apply
                        credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
        header = f"Bearer {credentials.credentials}" if credentials is not None else None
        await settings.trust.verify(header, request.url.path, jwks_client())

    @app.get("/cds-services", response_model=Discovery, response_model_exclude_none=True, tags=["discovery"],
             summary="The CDS services this provider offers")
    async def discovery() -> Discovery:
        templates = prefetch_templates()
        return Discovery(services=[CdsService(hook=h.hook, id=h.id, title=h.title, description=h.description,
                                              prefetch=templates) for h in HOOKS])

    def remember(answer: Answer) -> None:
        for uuid, card in answer.issued:
            issued[uuid] = card
        while len(issued) > MAX_REMEMBERED_CARDS:
            issued.popitem(last=False)

    async def answer(hook: Hook, body: CdsRequest) -> JSONResponse:
        started = time.perf_counter()
        if body.hook != hook.hook:
            return _refusal(400, f"this service answers the {hook.hook} hook, not {body.hook!r}")
        context = body.context  # type: ignore[attr-defined]
        drafts = []
        if hook.hook != "patient-view":
            drafts = recognised_orders(context.draftOrders.model_dump(), getattr(context, "selections", None))
            if not drafts:  # no spinal procedure among the orders: nothing to say, nothing to fetch
                return JSONResponse({"cards": []})
        try:
            record = await gather(body, fetcher)
        except BadRequest as err:
            return _refusal(400, str(err))
        except Insufficient as err:
            return _refusal(412, str(err))
        answered = await decider.answer(Call(hook.id, hook.hook, record, context.patientId, tuple(drafts)))
        remember(answered)
        log.info("%s: %d card(s) [%s] in %.1f ms", hook.id, len(answered.cards),
                 ",".join(card.indicator for _, card in answered.issued), (time.perf_counter() - started) * 1000)
        return JSONResponse({"cards": list(answered.cards)})

    async def feedback(hook: Hook, body: FeedbackRequest) -> JSONResponse:
        project = load().project
        records = []
        for item in body.feedback:
            known = issued.get(item.card)
            if known is not None and known.service != hook.id:
                return _refusal(400, f"card {item.card} came from {known.service}, not {hook.id}")
            refused = _feedback_problem(item, known)
            if refused:  # well-formed, but not about a card and suggestion this service issued
                return _refusal(409, refused)
            reason = item.overrideReason.reason if item.overrideReason else None
            ours = None
            if reason is not None and reason.system == project and reason.code.startswith("override:"):
                ours = reason.code.split(":", 1)[1]
                ours = ours if ours in OVERRIDE_REASONS else None
            coding = {k: v for k, v in (reason.model_dump(include={"system", "code", "display"}).items()
                                        if reason else ()) if isinstance(v, str)} or None
            records.append(CdsFeedback(
                service=hook.id, card=item.card, outcome=item.outcome, outcome_timestamp=item.outcomeTimestamp,
                accepted_suggestions=tuple(s.id for s in item.acceptedSuggestions or ()),
                override_reason=ours, override_coding=coding,
                comment=item.overrideReason.userComment if item.overrideReason else None,
                hook=hook.hook, top=known.top if known else None,
                ordered=known.ordered if known else None,
                indicator=known.indicator if known else None,
                rulebook_version=known.rulebook_version if known else None,
                rulebook_sha256=known.rulebook_sha256 if known else None))
        if settings.board_db is None:
            log.warning("%s: %d feedback item(s) not recorded: no board log (SPINEMETS_BOARD_DB or --board-db)",
                        hook.id, len(records))
            return JSONResponse({})
        if not settings.trust.required:  # anyone could have sent it: the permanent log takes no anonymous record
            log.warning("%s: %d feedback item(s) not recorded: no trusted issuers, so the caller is unknown",
                        hook.id, len(records))
            return JSONResponse({})
        try:
            with BoardLog(settings.board_db) as board:
                for record in records:
                    board.append("cds_feedback", record)
        except InputError:
            log.error("%s: the board log could not be written", hook.id)
            return JSONResponse({"detail": "the feedback could not be recorded"}, status_code=500)
        log.info("%s: %d feedback item(s) recorded", hook.id, len(records))
        return JSONResponse({})

    # only a service that trusts issuers asks for a JWT, and only its OpenAPI says so
    guard = [Depends(authorize)] if settings.trust.required else []
    for hook in HOOKS:
        _register(app, hook, answer, feedback, guard, refusals)
    return app


def _register(app: FastAPI, hook: Hook, answer: Callable[..., Awaitable[JSONResponse]],
              feedback: Callable[..., Awaitable[JSONResponse]], guard: list[Any],
              refusals: dict[int | str, dict[str, Any]]) -> None:
    # one route per service (not /{serviceId}), so that each has its own typed request in the OpenAPI
    request_model = hook.request

    async def call(body: Any) -> JSONResponse:
        return await answer(hook, body)

    async def post_feedback(body: Any) -> JSONResponse:
        return await feedback(hook, body)

    # the module's postponed annotations are strings; FastAPI reads these types from here
    call.__annotations__ = {"body": request_model, "return": JSONResponse}
    post_feedback.__annotations__ = {"body": FeedbackRequest, "return": JSONResponse}
    if not guard:
        refusals = {k: v for k, v in refusals.items() if k != 401}

    responses = {**refusals, 412: {"model": ProblemBody, "description": "the record could not be had: nothing "
                                   "prefetched and no fhirServer, or the server refused"}}
    app.post(f"/cds-services/{hook.id}", response_model=CdsResponse, response_model_exclude_none=True,
             responses=responses, tags=["service"], summary=hook.title, operation_id=hook.id.replace("-", "_"),
             name=hook.id, dependencies=guard)(call)
    feedback_refusals = {**refusals, 409: {"model": ProblemBody, "description": "accepted suggestions that the "
                                           "card did not offer, or of a card this service did not issue"}}
    app.post(f"/cds-services/{hook.id}/feedback", responses=feedback_refusals, tags=["feedback"], dependencies=guard,
             summary=f"Feedback on the cards of {hook.id}", operation_id=f"{hook.id.replace('-', '_')}_feedback",
             name=f"{hook.id}-feedback")(post_feedback)


__all__ = ["HOOKS", "Settings", "create_app"]
