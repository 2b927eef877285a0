"""The CDS Hooks service's trust boundary, tried as an attacker would (issue 21, items 3-5): it fetches only from
the FHIR servers the hospital allowed and says one thing whatever went wrong; bodies, strings, FHIR answers,
fetch time and connections are bounded per call; callers are known before feedback is written, the JWT's
audience is configured, an unknown kid does not make every call a JWKS fetch, and every response carries the
security headers. Fake FHIR servers are respx routes or real servers on 127.0.0.1 (for what only a socket shows:
a slow drip, connections held open)."""
from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from spinemets import read_case_file
from spinemets.board_log import BoardLog
from spinemets.commands.cli import main
from spinemets.errors import InputError
from spinemets.service import app as app_module
from spinemets.service import deciding
from spinemets.service.app import Settings, create_app
from spinemets.service.auth import Issuer, Trust
from spinemets.service.outbound import NOT_FETCHED, Limits

from .cds_support import SERVICE, Signer, hook_request, prefetch_from_bundle
from .conftest import CASES_DIR, ROOT

FHIR = "https://fhir.example/r4"
CASE = "teach-sepsis-breast-l1.yaml"
FEEDBACK = "/cds-services/spinemets-patient-view/feedback"


def _prefetch() -> dict:
    case_id = read_case_file(CASES_DIR / CASE).case.id
    return prefetch_from_bundle(json.loads((ROOT / "tests" / "golden" / "fhir" / f"{case_id}.json").read_text()))


def _authorization(token: str = "secret-token-17") -> dict:
    return {"access_token": token, "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read",
            "subject": "spinemets"}


def _fetching(server: str, prefetch: dict | None = None, **more) -> dict:
    """A patient-view call with only the patient prefetched: the rest comes from the server."""
    given = {"patient": (prefetch or _prefetch())["patient"]}
    return hook_request(prefetch=given, fhirServer=server, fhirAuthorization=_authorization(), **more)


def _serve_all(fhir, prefetch: dict, base: str = FHIR) -> None:
    fhir.get(f"{base}/Patient/patient").respond(200, json=prefetch["patient"])
    for key, resource in (("conditions", "Condition"), ("observations", "Observation"),
                          ("allergies", "AllergyIntolerance"), ("medicationRequests", "MedicationRequest"),
                          ("medicationStatements", "MedicationStatement")):
        fhir.get(f"{base}/{resource}").respond(200, json=prefetch[key])


@pytest.fixture(scope="module")
def allowed():
    with TestClient(create_app(Settings(board_db=None, fhir_servers=(FHIR,)))) as c:
        yield c


# --- item 3: the FHIR servers it may fetch from --------------------------------------------------------------


def test_without_configured_fhir_servers_nothing_is_fetched_and_prefetch_still_works():
    with TestClient(create_app(Settings(board_db=None))) as c, respx.mock(assert_all_called=False) as net:
        anything = net.route().respond(200, json={"resourceType": "Bundle", "type": "searchset"})
        refused = c.post(SERVICE, json=_fetching(FHIR))
        assert refused.status_code == 412 and refused.json()["detail"] == NOT_FETCHED
        assert not anything.called
        assert c.post(SERVICE, json=hook_request(prefetch=_prefetch())).status_code == 200


@pytest.mark.parametrize("server", [
    "https://fhir.example/r4/../../admin",           # dot segments out of the prefix
    "https://fhir.example/r4/%2e%2e/admin",          # the same, percent-encoded
    "https://fhir.example/r4/%2E%2E%2Fadmin",        # an encoded slash
    "https://fhir.example/r4/..;/admin",             # a path parameter some servers strip
    "https://fhir.example/r40",                      # a sibling of the prefix, not below it
    "https://fhir.example:8443/r4",                  # another port
    "http://fhir.example/r4",                        # another scheme (and port)
    "https://user:pw@fhir.example/r4",               # userinfo, which httpx turns into a Basic header
    "https://fhir.example@127.0.0.1/r4",
    "https://fhir.example.attacker.example/r4",
    "https://attacker.example/fhir.example/r4",
    "http://127.0.0.1:22/",
    "http://2130706433/r4",                          # 127.0.0.1 as one decimal number
    "http://0x7f.0.0.1/r4",                          # hex
    "http://0177.0.0.1/r4",                          # octal
    "http://127.1/r4",                               # short form
    "http://[::1]:8090/cds-services",
    "https://fhir.example\\@attacker.example/r4",    # a backslash read as a slash by browsers' parsers
    "https://fhir.example/r4?x=1",                   # a query in the base
    "https://fhir.example./r4",                      # a trailing dot: another name to a virtual host
    "https://fhir.example%2eattacker.example/r4",    # an escape in the host
    "https://fhir.example/r4\t/../../admin",         # a control character
])
def test_a_fhir_server_outside_the_allowed_ones_gets_no_request(allowed, server):
    with respx.mock(assert_all_called=False) as net:
        anything = net.route().respond(200, json={"resourceType": "Bundle", "type": "searchset"})
        response = allowed.post(SERVICE, json=_fetching(server))
        assert response.status_code in (400, 412), response.text  # 400: not even an http(s) URL by the schema
        assert not anything.called, server


@pytest.mark.parametrize("server", ["https://FHIR.Example/r4", "https://fhir.example:443/r4/", "https://fhir.example/r4/.",
                                    "https://fhir.example/x/../r4", "https://fhir.example/%72%34"])
def test_the_allowed_server_written_another_way_is_the_allowed_server(allowed, server):
    prefetch = _prefetch()
    with respx.mock(assert_all_called=False) as net:
        _serve_all(net, prefetch)
        response = allowed.post(SERVICE, json=_fetching(server, prefetch))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("link", [
    "https://fhir.example/r4/paged/../../admin/secret",
    "https://fhir.example/r4/%2e%2e/admin/secret",
    "/admin/secret",                                       # relative to the page: the server root
    "../admin/secret",
    "https://fhir.example:444/r4/Condition?page=2",
    "https://fhir.example.attacker.example/r4/Condition?page=2",
    "https://token-thief@fhir.example/r4/Condition?page=2",
    "http://fhir.example/r4/Condition?page=2",             # the token in the clear
    "//attacker.example/r4/Condition?page=2",              # scheme-relative
    "https://fhir.example/r4/Condition?page=2\n",          # a control character
])
def test_a_next_link_out_of_the_server_is_not_followed_with_the_token(allowed, link):
    prefetch = _prefetch()
    first = {**prefetch["conditions"], "link": [{"relation": "next", "url": link}]}
    with respx.mock(assert_all_called=False) as net:
        _serve_all(net, {**prefetch, "conditions": first})
        elsewhere = net.route().respond(200, json={"resourceType": "Bundle", "type": "searchset"})
        response = allowed.post(SERVICE, json=_fetching(FHIR, prefetch))
        assert response.status_code == 412 and response.json()["detail"] == NOT_FETCHED
        assert not elsewhere.called
        sent = [call.request for call in net.calls]
    assert sent and all(str(r.url).startswith(FHIR + "/") for r in sent)


def _failure(kind):
    def respond(request: httpx.Request) -> httpx.Response:
        if kind == "unreachable":
            raise httpx.ConnectError("connection refused", request=request)
        if kind == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if kind == "redirect":
            return httpx.Response(302, headers={"Location": "http://127.0.0.1:22/"})
        if kind == "not JSON":
            return httpx.Response(200, text="<html>admin console</html>")
        if kind == "not FHIR":
            return httpx.Response(200, json=["a", "list"])
        if kind == "deep JSON":
            return httpx.Response(200, content=b"[" * 200_000 + b"]" * 200_000)
        return httpx.Response(int(kind))
    return respond


def test_every_failed_fetch_answers_the_same_so_no_port_or_host_can_be_told_apart(allowed):
    answers = set()
    with respx.mock(assert_all_called=False) as net:
        route = net.route()
        for kind in ("unreachable", "timeout", "redirect", "not JSON", "not FHIR", "deep JSON", "401", "404", "500"):
            route.side_effect = _failure(kind)
            response = allowed.post(SERVICE, json=_fetching(FHIR))
            answers.add((response.status_code, response.text))
        answers.add((lambda r: (r.status_code, r.text))(allowed.post(SERVICE, json=_fetching("http://10.0.0.1:22/"))))
    assert answers == {(412, json.dumps({"detail": NOT_FETCHED}, separators=(",", ":")))}


def test_the_allowed_servers_come_from_the_flag_the_environment_and_the_file(monkeypatch, tmp_path, capsys):
    seen = []
    import uvicorn
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    real = app_module.create_app
    monkeypatch.setattr(app_module, "create_app", lambda settings: seen.append(settings) or real(settings))
    signer = Signer()
    (tmp_path / "service.yaml").write_text(json.dumps({
        "audience": "https://cds.example", "issuers": {signer.issuer: {"jwks": signer.jwks}},
        "fhir_servers": ["https://c.example/fhir"]}))
    monkeypatch.setenv("SPINEMETS_FHIR_SERVERS", "https://b.example/fhir https://b2.example/")
    assert main(["serve", "--fhir-server", "https://a.example/r4", "--issuers", str(tmp_path / "service.yaml")]) == 0
    assert set(seen[-1].fhir_servers) == {"https://a.example/r4", "https://b.example/fhir", "https://b2.example/",
                                          "https://c.example/fhir"}
    monkeypatch.delenv("SPINEMETS_FHIR_SERVERS")
    assert main(["serve", "--fhir-server", "http://2130706433/fhir"]) == 2
    err = capsys.readouterr().err
    assert "2130706433" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


# --- item 4: limits per call ---------------------------------------------------------------------------------


def _asgi_call(app, headers, chunks):
    """Run one POST through the app at the ASGI level; how many body chunks it read, and what it answered."""
    read, sent = [0], []

    async def receive():
        if read[0] < len(chunks):
            read[0] += 1
            return {"type": "http.request", "body": chunks[read[0] - 1], "more_body": read[0] < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": SERVICE, "raw_path": SERVICE.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
             "client": ("127.0.0.1", 1), "server": ("testserver", 80)}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return read[0], start["status"]


def test_a_body_over_the_limit_is_413_by_its_length_before_reading_and_by_count_while_reading():
    app = create_app(Settings(board_db=None))  # the default limit, 1 MB
    chunk = b" " * 65536
    # declared too long: refused before a byte is read
    read, status = _asgi_call(app, [(b"content-length", b"50000000")], [chunk] * 800)
    assert (read, status) == (0, 413)
    # chunked, no length: refused as soon as the count passes the limit, not after the 50 MB
    read, status = _asgi_call(app, [(b"transfer-encoding", b"chunked")], [chunk] * 800)
    assert status == 413 and read <= 1_000_000 // 65536 + 1
    # a body within the limit is read and answered
    body = json.dumps(hook_request(prefetch=_prefetch())).encode()
    read, status = _asgi_call(app, [(b"content-length", str(len(body)).encode())], [body])
    assert status == 200


def test_a_body_that_drips_in_is_408_at_the_time_budget():
    app = create_app(Settings(board_db=None, body_seconds=0.5))
    read, sent = [0], []

    async def receive():  # one byte, then nothing more, ever (bounded here at 60 s)
        read[0] += 1
        if read[0] == 1:
            return {"type": "http.request", "body": b"{", "more_body": True}
        await asyncio.sleep(60)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": SERVICE, "raw_path": SERVICE.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
             "client": ("127.0.0.1", 1), "server": ("testserver", 80)}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 60))
    assert next(m for m in sent if m["type"] == "http.response.start")["status"] == 408


def test_the_body_limit_is_configurable_and_said_in_the_answer():
    with TestClient(create_app(Settings(board_db=None, max_body=2000))) as c:
        response = c.post(SERVICE, json=hook_request(prefetch=_prefetch()))
        assert response.status_code == 413 and "2000 bytes" in response.json()["detail"]


@pytest.mark.parametrize("change, where", [
    (lambda b: b.update(hookInstance="x" * 10_000), "hookInstance"),
    (lambda b: b.update(hook="patient-view" * 1000), "hook"),
    (lambda b: b["context"].update(userId="Practitioner/" + "9" * 5000), "context.userId"),
    (lambda b: b["context"].update(encounterId="e" * 1000), "context.encounterId"),
    (lambda b: b.update(fhirServer=FHIR + "/" + "a" * 5000, fhirAuthorization=_authorization()), "fhirServer"),
    (lambda b: b.update(fhirServer=FHIR, fhirAuthorization=_authorization("t" * 20_000)), "access_token"),
])
def test_strings_are_bounded(allowed, change, where):
    body = hook_request(prefetch=_prefetch())
    change(body)
    response = allowed.post(SERVICE, json=body)
    assert response.status_code == 400 and where in response.json()["detail"], response.text


def test_a_feedback_card_id_is_bounded(allowed):
    item = {"card": "c" * 10_000, "outcome": "accepted", "outcomeTimestamp": "2026-01-01T00:00:00Z"}
    response = allowed.post(FEEDBACK, json={"feedback": [item]})
    assert response.status_code == 400 and "card" in response.json()["detail"]


def test_a_fhir_answer_over_the_byte_budget_is_abandoned_while_it_streams():
    chunk = b" " * 65536
    pulled = [0]

    async def endless():  # 64 MB of whitespace, counted as the service pulls it
        for _ in range(1024):
            pulled[0] += 1
            yield chunk
    settings = Settings(board_db=None, fhir_servers=(FHIR,), limits=Limits(max_bytes=1_000_000))
    with TestClient(create_app(settings)) as c, respx.mock(assert_all_called=False) as net:
        net.route().mock(side_effect=lambda request: httpx.Response(200, content=endless()))
        response = c.post(SERVICE, json=_fetching(FHIR))
    assert response.status_code == 412 and response.json()["detail"] == NOT_FETCHED
    assert pulled[0] <= 1_000_000 // 65536 + 2
    # a declared length over the budget is refused before the body is read
    pulled[0] = 0
    with TestClient(create_app(settings)) as c, respx.mock(assert_all_called=False) as net:
        net.route().mock(side_effect=lambda request: httpx.Response(
            200, content=endless(), headers={"Content-Length": str(64 * 1024 * 1024)}))
        assert c.post(SERVICE, json=_fetching(FHIR)).status_code == 412
    assert pulled[0] <= 1
    # a compressed answer counts as it unpacks: 50 MB of gzip in about 50 kB
    bomb = gzip.compress(b" " * 50_000_000)
    with TestClient(create_app(settings)) as c, respx.mock(assert_all_called=False) as net:
        net.route().respond(200, content=bomb, headers={"Content-Encoding": "gzip"})
        response = c.post(SERVICE, json=_fetching(FHIR))
    assert response.status_code == 412 and response.json()["detail"] == NOT_FETCHED


def test_a_patient_id_that_is_a_dot_segment_is_not_fetched(allowed):
    with respx.mock(assert_all_called=False) as net:
        anything = net.route().respond(200, json={"resourceType": "Patient", "id": ".."})
        response = allowed.post(SERVICE, json=hook_request(patient_id="..", fhirServer=FHIR,
                                                           fhirAuthorization=_authorization()))
        assert response.status_code == 400 and not anything.called


class _Loopback:
    """A misbehaving FHIR server on 127.0.0.1: /drip sends a byte every 50 ms (for 30 s at most), /hold keeps
    the connection until released; it counts what it sent and how many connections it held at once."""

    def __init__(self):
        self.dripped, self.drip_done, self.holding, self.most_held = 0, False, 0, 0
        self.release = threading.Event()
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if "/drip/" in self.path:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/fhir+json")
                    self.end_headers()
                    try:
                        for _ in range(600):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            outer.dripped += 1
                            time.sleep(0.05)
                        outer.drip_done = True
                    except OSError:
                        return  # the service hung up
                elif "/hold/" in self.path:
                    with outer.lock:
                        outer.holding += 1
                        outer.most_held = max(outer.most_held, outer.holding)
                    outer.release.wait(30)
                    with outer.lock:
                        outer.holding -= 1
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_slow_drip_fhir_server_holds_a_call_no_longer_than_the_budget():
    with _Loopback() as fhir:
        settings = Settings(board_db=None, fhir_servers=(f"{fhir.base}/drip",), limits=Limits(budget=1.0))
        with TestClient(create_app(settings)) as c:
            response = c.post(SERVICE, json=_fetching(f"{fhir.base}/drip"))
        assert response.status_code == 412 and response.json()["detail"] == NOT_FETCHED
        # each byte came well within any read timeout; only a budget for the whole fetch ends it, long before
        # the server's 600 bytes
        deadline = time.monotonic() + 10
        while fhir.dripped < 600 and not fhir.drip_done and time.monotonic() < deadline:
            before = fhir.dripped
            time.sleep(0.2)
            if fhir.dripped == before:
                break
        assert not fhir.drip_done and fhir.dripped < 600


def test_a_jwks_that_drips_in_holds_calls_no_longer_than_its_budget(monkeypatch):
    from spinemets.service import auth
    monkeypatch.setattr(auth, "JWKS_SECONDS", 1.0)
    signer = Signer()
    with _Loopback() as ehr:
        trust = Trust(issuers={signer.issuer: Issuer(signer.issuer, jwks_url=f"{ehr.base}/drip/jwks.json")},
                      audience="http://testserver")
        with TestClient(create_app(Settings(board_db=None, trust=trust))) as c:
            token = signer.token(f"http://testserver{SERVICE}")
            response = c.post(SERVICE, json=hook_request(prefetch=_prefetch()),
                              headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert not ehr.drip_done


def test_calls_to_a_server_that_holds_them_take_a_bounded_share_of_connections_and_jwts_still_verify():
    signer = Signer()
    jwks_url = "https://ehr.example.org/jwks.json"
    trust = Trust(issuers={signer.issuer: Issuer(signer.issuer, jwks_url=jwks_url)}, audience="http://testserver")
    with _Loopback() as fhir:
        server = f"{fhir.base}/hold"
        app = create_app(Settings(board_db=None, trust=trust, fhir_servers=(server,),
                                  limits=Limits(budget=20.0, concurrent=2)))

        async def scenario():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c, \
                    respx.mock(assert_all_called=False) as net:
                net.route(host="127.0.0.1").pass_through()
                net.get(jwks_url).respond(200, json=signer.jwks)

                def call(body):
                    return c.post(SERVICE, json=body,
                                  headers={"Authorization": f"Bearer {signer.token(f'http://testserver{SERVICE}')}"})
                held = [asyncio.create_task(call(_fetching(server))) for _ in range(6)]
                for _ in range(1200):  # until the server holds what the service lets through (a minute at most)
                    await asyncio.sleep(0.05)
                    if fhir.holding >= 2:
                        break
                await asyncio.sleep(0.3)
                # a call that needs the JWK Set fetched, and its record prefetched, is answered meanwhile
                answered = await call(hook_request(prefetch=_prefetch()))
                most = fhir.most_held
                fhir.release.set()
                statuses = [r.status_code for r in await asyncio.gather(*held)]
                return answered.status_code, most, statuses
        answered, most, statuses = asyncio.run(scenario())
    assert answered == 200
    assert most == 2  # never more connections to the slow server than the limit
    assert statuses == [412] * 6


# --- item 5: who may call, and what every answer says --------------------------------------------------------


def test_feedback_from_an_unauthenticated_caller_never_reaches_the_board_log(tmp_path):
    db = tmp_path / "board.sqlite"
    with TestClient(create_app(Settings(board_db=db))) as c:
        card = c.post(SERVICE, json=hook_request(prefetch=_prefetch())).json()["cards"][0]
        for _ in range(5):
            item = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z",
                    "overrideReason": {"userComment": "anyone at all"}}
            assert c.post(FEEDBACK, json={"feedback": [item] * 100}).status_code == 200
    if db.exists():
        with BoardLog(db) as log:
            assert list(log.records("cds_feedback")) == []


def test_the_jwt_audience_is_the_configured_one_not_the_callers_host_header():
    signer = Signer()
    issuers = {signer.issuer: Issuer(signer.issuer, jwks=signer.jwks)}
    with pytest.raises(InputError, match="audience"):
        create_app(Settings(board_db=None, trust=Trust(issuers=issuers)))
    trust = Trust(issuers=issuers, audience="https://cds.hospital.example")
    body = hook_request(prefetch=_prefetch())
    with TestClient(create_app(Settings(board_db=None, trust=trust))) as c:
        # minted for another service; the caller writes that service's name into Host
        forged = signer.token(f"http://other-service.example{SERVICE}")
        response = c.post(SERVICE, json=body, headers={"Host": "other-service.example",
                                                       "Authorization": f"Bearer {forged}"})
        assert response.status_code == 401
        good = signer.token(f"https://cds.hospital.example{SERVICE}")
        assert c.post(SERVICE, json=body, headers={"Authorization": f"Bearer {good}"}).status_code == 200
        # the audience names the endpoint: a token for order-sign does not open patient-view
        other = signer.token("https://cds.hospital.example/cds-services/spinemets-order-sign")
        assert c.post(SERVICE, json=body, headers={"Authorization": f"Bearer {other}"}).status_code == 401


def test_an_unknown_kid_does_not_refetch_the_jwks_on_every_call():
    signer = Signer()
    jwks_url = "https://ehr.example.org/jwks.json"
    trust = Trust(issuers={signer.issuer: Issuer(signer.issuer, jwks_url=jwks_url)}, audience="http://testserver")
    stranger = Signer(signer.issuer, "kid-nobody-published")
    body = hook_request(prefetch=_prefetch())
    with TestClient(create_app(Settings(board_db=None, trust=trust))) as c, respx.mock as net:
        jwks = net.get(jwks_url).respond(200, json=signer.jwks)
        for _ in range(20):
            token = stranger.token(f"http://testserver{SERVICE}")
            assert c.post(SERVICE, json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 401
        good = signer.token(f"http://testserver{SERVICE}")
        assert c.post(SERVICE, json=body, headers={"Authorization": f"Bearer {good}"}).status_code == 200
        assert jwks.call_count == 1


def test_an_unreachable_jwks_is_not_asked_on_every_call():
    signer = Signer()
    jwks_url = "https://ehr.example.org/jwks.json"
    trust = Trust(issuers={signer.issuer: Issuer(signer.issuer, jwks_url=jwks_url)}, audience="http://testserver")
    with TestClient(create_app(Settings(board_db=None, trust=trust))) as c, respx.mock as net:
        jwks = net.get(jwks_url).respond(503)
        for _ in range(10):
            token = signer.token(f"http://testserver{SERVICE}")
            assert c.post(SERVICE, json=hook_request(prefetch=_prefetch()),
                          headers={"Authorization": f"Bearer {token}"}).status_code == 401
        assert jwks.call_count == 1


def _headers_ok(response: httpx.Response) -> bool:
    return response.headers.get("Cache-Control") == "no-store" and \
        response.headers.get("X-Content-Type-Options") == "nosniff"


def test_every_response_says_no_store_and_nosniff(monkeypatch):
    signer = Signer()
    trust = Trust(issuers={signer.issuer: Issuer(signer.issuer, jwks=signer.jwks)}, audience="http://testserver")
    with TestClient(create_app(Settings(board_db=None, max_body=100_000, fhir_servers=(FHIR,)))) as c:
        responses = {
            200: c.get("/cds-services"),
            400: c.post(SERVICE, json={"hook": "patient-view"}),
            404: c.get("/nowhere"),
            405: c.get(SERVICE),
            412: c.post(SERVICE, json=hook_request()),
            413: c.post(SERVICE, content=b" " * 200_000, headers={"Content-Type": "application/json"}),
        }
        responses[201] = c.get("/openapi.json")
    with TestClient(create_app(Settings(board_db=None, trust=trust))) as c:
        responses[401] = c.post(SERVICE, json=hook_request(prefetch=_prefetch()))

    def explode(*args, **kwargs):
        raise ValueError("boom")
    monkeypatch.setattr(deciding, "bundle_to_document", explode)
    with TestClient(create_app(Settings(board_db=None)), raise_server_exceptions=False) as c:
        responses[500] = c.post(SERVICE, json=hook_request(prefetch=_prefetch()))
    assert {code: r.status_code for code, r in responses.items()} == {**{c: c for c in responses}, 201: 200}
    assert [code for code, r in responses.items() if not _headers_ok(r)] == []


@pytest.mark.parametrize("text, field", [
    ("issuers: [a, b]\naudience: https://cds.example\n", "issuers"),
    ("audience: https://cds.example\nissuers:\n  https://ehr.example: [1, 2]\n", "issuers.https://ehr.example"),
    ("audience: https://cds.example\nissuers:\n  https://ehr.example: {jwks: not-a-jwks}\n",
     "issuers.https://ehr.example.jwks"),
    ("audience: https://cds.example\nissuers:\n  https://ehr.example: {jwks: {keys: 5}}\n",
     "issuers.https://ehr.example.jwks"),
    ("audience: https://cds.example\nissuers:\n  https://ehr.example: {jwks_url: 5}\n",
     "issuers.https://ehr.example.jwks_url"),
    ("audience: https://cds.example\nissuers:\n  https://ehr.example: {jwks_url: 'file:///etc/passwd'}\n",
     "issuers.https://ehr.example.jwks_url"),
    ("audience: https://cds.example\nissuers:\n  https://ehr.example: {jwks_file: absent.json}\n",
     "issuers.https://ehr.example.jwks_file"),
    ("audience: https://cds.example\nissuers:\n  https://ehr.example: {jwks_uri: https://ehr.example/j}\n",
     "issuers.https://ehr.example"),
    ("audience: 5\nissuers:\n  https://ehr.example: {jwks_url: https://ehr.example/j}\n", "audience"),
    ("issuers:\n  https://ehr.example: {jwks_url: https://ehr.example/j}\n", "audience"),
    ("audience: https://cds.example\nissuer:\n  https://ehr.example: {jwks_url: https://ehr.example/j}\n", "issuer"),
    ("audience: https://cds.example\nissuers:\n  https://ehr.example: {jwks_url: https://ehr.example/j}\n"
     "fhir_servers: https://ehr.example/fhir\n", "fhir_servers"),
    ("audience: https://cds.example\nissuers:\n  https://ehr.example: {jwks_url: https://ehr.example/j}\n"
     "fhir_servers: ['http://0x7f.1/fhir']\n", "fhir_servers"),
])
def test_serve_with_a_malformed_issuers_file_exits_2_naming_the_field(monkeypatch, tmp_path, capsys, text, field):
    import uvicorn
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: pytest.fail("served with a malformed issuers file"))
    (tmp_path / "issuers.yaml").write_text(text)
    assert main(["serve", "--issuers", str(tmp_path / "issuers.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and f"field '{field}'" in err, err


def test_serve_with_an_unreadable_issuers_file_exits_2(monkeypatch, tmp_path, capsys):
    import uvicorn
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: pytest.fail("served"))
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00garbage")
    for path in (tmp_path / "binary.yaml", tmp_path, tmp_path / "absent.yaml"):
        assert main(["serve", "--issuers", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
