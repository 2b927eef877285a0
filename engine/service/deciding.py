"""Where the service reads the record and decides: in the server's own process, or in worker processes beside it.

Reading a Bundle and deciding take about three quarters of a hook call's CPU time, and they block the event loop
while they run. With one process, a busy EHR's calls queue behind each other on one core. `DecidingPool` sends
that work to worker processes (spawned, each with its own engine: durable-rules keeps global state, so a process
is the unit that can run it in parallel), while the server's process keeps everything that must be one: the
cards it issued, which feedback is checked against, the JWT checks and the board log. A worker gets the Bundle
and returns the decision; nothing is written anywhere on the way.

Every decision names its rule base: a worker whose rule base is not the server's (the files changed on disk
between the two loads) is refused, never used.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

from ..decision import Decision
from ..engine import Engine, get_engine
from ..errors import CaseError, EngineError, Problem
from ..fhir import bundle_to_document
from ..record import RecordReading
from .cards import CardMaker, DraftOrder, IssuedCard, graded
from .models import Card, CdsResponse

log = logging.getLogger("spinemets.service")
Outcome = tuple[Decision, RecordReading | None] | list[Problem]


def decide_record(engine: Engine, bundle: dict[str, Any], patient_id: str, today: dt.date | None) -> Outcome:
    """The decision for a hook call's record, and what was read from it; or why the record cannot be decided."""
    try:
        document = bundle_to_document(bundle, "the record", case_id="cds-hooks", patient_id=patient_id,
                                      today=today)
        return engine.evaluate(document.case), document.record
    except CaseError as err:
        return err.problems or [Problem(err.summary)]


@dataclass(frozen=True)
class Answer:
    """A hook call's cards, as JSON, and what the server remembers of each (by the card's uuid) for feedback."""

    cards: tuple[dict[str, Any], ...]
    issued: tuple[tuple[str, IssuedCard], ...]


@dataclass(frozen=True)
class Call:
    """What a hook call asks, once its record is gathered."""

    service: str
    hook: str
    record: dict[str, Any]
    patient_id: str
    drafts: tuple[DraftOrder, ...] = ()


class Responder:
    """Reads a call's record, decides and makes its cards: one per process (the engine is the process's own)."""

    def __init__(self, engine: Engine, app_url: str | None, today: dt.date | None) -> None:
        self.engine, self._today = engine, today
        self._maker = CardMaker(engine.rulebook, app_url)

    def answer(self, call: Call) -> Answer:
        outcome = decide_record(self.engine, call.record, call.patient_id, self._today)
        made: list[tuple[Card, Decision | None, str | None]] = []
        if isinstance(outcome, list):
            made.append((self._maker.unreadable(outcome, call.hook), None, None))
        elif call.hook == "patient-view":
            decision, reading = outcome
            if self._maker.has_spinal_metastasis(reading):
                made.append((self._maker.patient_view(decision, reading), decision, None))
        else:
            decision, reading = outcome
            for recognised in call.drafts:
                draft = graded(decision, recognised)
                made.append((self._maker.order(decision, draft, call.patient_id, reading), decision, draft.option))
        rulebook = self.engine.rulebook
        issued = tuple((card.uuid, IssuedCard(
            service=call.service, hook=call.hook, top=decision.ranking[0] if decision and decision.ranking else None,
            ordered=ordered, indicator=card.indicator, rulebook_version=rulebook.version,
            rulebook_sha256=self.engine.sha256, suggestions=tuple(s.uuid for s in card.suggestions or ())))
            for card, decision, ordered in made)
        cards = CdsResponse(cards=[card for card, _, _ in made]).model_dump(mode="json", exclude_none=True)["cards"]
        return Answer(tuple(cards), issued)


class Decider(Protocol):
    async def start(self) -> None: ...
    async def answer(self, call: Call) -> Answer: ...
    async def stop(self) -> None: ...


class InProcess:
    """Answers in the server's own process, on its event loop (one call at a time)."""

    def __init__(self, responder: Responder) -> None:
        self._responder = responder

    async def start(self) -> None:
        return None

    async def answer(self, call: Call) -> Answer:
        return self._responder.answer(call)

    async def stop(self) -> None:
        return None


# --- in a worker process ------------------------------------------------------------------------------------

_WORKER: dict[str, Responder] = {}


def _load(rules: str | None, app_url: str | None, today: dt.date | None) -> None:
    _WORKER["responder"] = Responder(get_engine(rules), app_url, today)
    settle_memory()


def settle_memory() -> None:
    """Keep the garbage collector off what lives as long as the process: the compiled rule base, the FHIR and
    pydantic models. A full collection walking those 120,000 objects took about 75 ms here, a whole p99
    budget, at random calls; frozen, they are never walked again. For a process that serves from now on (a
    worker once loaded, `spinemets serve` once its app is built): a test process that freezes at each app it
    builds would keep every earlier app's cycles."""
    gc.collect()
    gc.freeze()


def _rulebook_of_worker() -> str:
    return _WORKER["responder"].engine.sha256


def _answer_in_worker(call: Call) -> tuple[str, Answer]:
    responder = _WORKER["responder"]
    return responder.engine.sha256, responder.answer(call)


# --- in the server's process --------------------------------------------------------------------------------

class DecidingPool:
    """Answers in `workers` spawned processes, each with the rule base loaded once when it starts."""

    def __init__(self, workers: int, rules: str | None, sha256: str, app_url: str | None,
                 today: dt.date | None) -> None:
        if workers < 1:
            raise ValueError(f"a deciding pool needs at least one worker, got {workers}")
        self.workers, self._sha256 = workers, sha256
        self._setup = (rules, app_url, today)
        self._pool: ProcessPoolExecutor | None = None
        self._restarting = asyncio.Lock()

    async def start(self) -> None:
        """Start every worker and load its rule base before the first call (a cold worker takes seconds)."""
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_load, initargs=self._setup)
        loop = asyncio.get_running_loop()
        hashes = await asyncio.gather(*(loop.run_in_executor(self._pool, _rulebook_of_worker)
                                        for _ in range(self.workers)))
        self._same_rulebook(set(hashes))

    async def answer(self, call: Call) -> Answer:
        if self._pool is None:
            raise EngineError("the deciding pool was not started")
        pool = self._pool
        try:
            sha256, answer = await asyncio.get_running_loop().run_in_executor(pool, _answer_in_worker, call)
        except BrokenProcessPool:
            # a worker died (killed, out of memory, a crash in the C extension): the server lives on. The pool is
            # started afresh once, by the first call that finds it broken, and the call is answered there.
            log.error("a deciding worker died; starting the pool again")
            async with self._restarting:
                if self._pool is pool:
                    pool.shutdown(wait=False, cancel_futures=True)
                    await self.start()
            assert self._pool is not None
            sha256, answer = await asyncio.get_running_loop().run_in_executor(self._pool, _answer_in_worker, call)
        self._same_rulebook({sha256})
        return answer

    async def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _same_rulebook(self, hashes: set[str]) -> None:
        if hashes != {self._sha256}:
            raise EngineError(f"a deciding worker loaded another rule base ({', '.join(sorted(h[:12] for h in hashes))}"
                              f", the service has {self._sha256[:12]}): restart the service")
