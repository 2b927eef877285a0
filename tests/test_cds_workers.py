"""The CDS Hooks service deciding in worker processes (`spinemets serve --decide-workers N`): the same cards as in
the server's own process, feedback still checked against the cards the server issued, and a worker on another
rule base refused."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spinemets import get_engine, read_case_file
from spinemets.commands.cli import main
from spinemets.errors import EngineError
from spinemets.service.app import Settings, create_app
from spinemets.service.deciding import DecidingPool

from .cds_support import SERVICE, draft_orders, hook_request, prefetch_from_bundle, validate
from .conftest import CASES_DIR, ROOT

GOLDEN = ROOT / "tests" / "golden" / "fhir"
CPT = "http://www.ama-assn.org/go/cpt"
# flat and lesion-form vignettes, one unreadable record among them would show too: a spread, not all 73
VIGNETTES = sorted(CASES_DIR.glob("*.yaml"))[::9]


def _without_uuids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_uuids(v) for k, v in value.items() if k != "uuid"}
    if isinstance(value, list):
        return [_without_uuids(v) for v in value]
    return value


def _prefetch(path) -> dict[str, Any]:
    case = read_case_file(path).case
    return prefetch_from_bundle(json.loads((GOLDEN / f"{case.id}.json").read_text()))


@pytest.fixture(scope="module")
def pooled():
    with TestClient(create_app(Settings(board_db=None, decide_workers=2))) as client:
        yield client


@pytest.fixture(scope="module")
def in_process():
    with TestClient(create_app(Settings(board_db=None))) as client:
        yield client


def test_workers_give_the_cards_the_servers_own_process_gives(pooled, in_process):
    assert len(VIGNETTES) >= 8
    for path in VIGNETTES:
        body = hook_request(prefetch=_prefetch(path))
        here, there = in_process.post(SERVICE, json=body), pooled.post(SERVICE, json=body)
        assert there.status_code == here.status_code == 200, (path.name, there.text)
        validate("response", there.json())
        assert _without_uuids(there.json()) == _without_uuids(here.json()), path.name


def test_calls_at_once_are_each_answered_for_their_own_patient(pooled):
    """Two workers, a call per vignette of the spread in flight together: each card is its own patient's (the top of
    its own case)."""
    import httpx

    engine = get_engine()
    bodies = [(path, hook_request(prefetch=_prefetch(path))) for path in VIGNETTES]

    async def all_at_once() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=pooled.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await asyncio.gather(*(client.post(SERVICE, json=body) for _, body in bodies))

    responses = asyncio.run(all_at_once())
    for (path, _), response in zip(bodies, responses, strict=True):
        assert response.status_code == 200, response.text
        (card,) = response.json()["cards"]
        assert card["extension"]["spinemets"]["top"] == engine.evaluate(read_case_file(path).case).top, path.name


def test_feedback_is_checked_against_the_cards_the_server_issued(pooled):
    body = hook_request("order-sign", prefetch=_prefetch(CASES_DIR / "gu-fig2-prostate-t11-neuro.yaml"),
                        context={"draftOrders": draft_orders(("o1", CPT, "22511"))})
    card = pooled.post("/cds-services/spinemets-order-sign", json=body).json()["cards"][0]
    known = {"feedback": [{"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-05-04T10:01:00Z",
                           "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]}]}
    assert pooled.post("/cds-services/spinemets-order-sign/feedback", json=known).status_code == 200
    unknown = {"feedback": [{**known["feedback"][0], "card": "00000000-0000-4000-8000-000000000000"}]}
    response = pooled.post("/cds-services/spinemets-order-sign/feedback", json=unknown)
    assert response.status_code == 409 and "no such card" in response.text


def test_a_worker_that_dies_is_replaced_and_the_call_still_answered(pooled):
    """A worker killed mid-service (out of memory, a crash in durable-rules' C extension) costs no call: the pool
    starts afresh and answers there."""
    import os
    import signal

    decider = pooled.app.state.decider
    victims = list(decider._pool._processes)  # noqa: SLF001 - the test kills a real worker
    assert victims
    os.kill(victims[0], signal.SIGKILL)
    body = hook_request(prefetch=_prefetch(VIGNETTES[0]))
    response = pooled.post(SERVICE, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["cards"]
    assert not set(decider._pool._processes) & set(victims)  # noqa: SLF001


def test_a_worker_on_another_rule_base_is_refused():
    pool = DecidingPool(1, None, "0" * 64, None, None)

    async def start() -> None:
        try:
            await pool.start()
        finally:
            await pool.stop()

    with pytest.raises(EngineError, match="another rule base"):
        asyncio.run(start())


@pytest.mark.parametrize("workers", ["-1", "65"])
def test_a_worker_count_out_of_range_is_refused_with_a_message(workers, capsys):
    assert main(["serve", "--decide-workers", workers]) == 2
    assert "--decide-workers" in capsys.readouterr().err
