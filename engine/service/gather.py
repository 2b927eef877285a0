"""The patient's record for a hook call: what the client prefetched, and what it did not, fetched from its FHIR
server with the token it gave (only when that server is one the hospital allowed, and never sent elsewhere)."""
from __future__ import annotations

import asyncio
import logging
import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from ..fhir import load
from .models import CdsRequest
from .outbound import NOT_FETCHED, Fetcher, FetchFailed, Refused, Session, place

log = logging.getLogger("spinemets.service")
MAX_PAGES = 10
MAX_ENTRIES = 5000
_PLACEHOLDER = re.compile(r"\{\{\s*context\.(\w+)\s*\}\}")


class Insufficient(Exception):
    """The record cannot be had: nothing prefetched and no server, or the server refused (412)."""


class BadRequest(Exception):
    """The request's data is not what the hook promises (400)."""


def prefetch_templates() -> dict[str, str]:
    """The FHIR queries a client should prefetch: the patient, their conditions and allergies, and the
    observations of the codes the mapping reads."""
    mapping = load()
    observation_codes = sorted({f"{c.system}|{c.code}" for f in mapping.fields.values() if f.resource == "Observation"
                                for c in f.codes})
    return {
        "patient": "Patient/{{context.patientId}}",
        "conditions": "Condition?patient={{context.patientId}}",
        "observations": "Observation?patient={{context.patientId}}&code=" + ",".join(observation_codes),
        "allergies": "AllergyIntolerance?patient={{context.patientId}}",
    }


def _fill(template: str, context: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        got = context.get(match.group(1))
        if not isinstance(got, str):
            raise BadRequest(f"the prefetch template needs context.{match.group(1)}")
        if got in (".", ".."):  # a valid FHIR id that a URL path would read as a dot segment
            raise BadRequest(f"context.{match.group(1)} {got!r} cannot be fetched")
        return quote(got, safe="")
    return _PLACEHOLDER.sub(value, template)


async def gather(request: CdsRequest, fetcher: Fetcher) -> dict[str, Any]:
    """One collection Bundle of the patient's resources: prefetched where given, else fetched."""
    context = request.context.model_dump()  # type: ignore[attr-defined]
    prefetch = {k: v.model_dump() if v is not None else None for k, v in (request.prefetch or {}).items()}
    queries = {}
    for key, template in prefetch_templates().items():
        if prefetch.get(key) is None:
            if request.fhirServer is None:
                raise Insufficient(f"prefetch '{key}' was not given and there is no fhirServer to fetch it from")
            queries[key] = _fill(template, context)
    fetched: dict[str, dict[str, Any]] = {}
    if queries:
        try:
            fetched = await _fetch_all(request, fetcher, queries)
        except FetchFailed as err:  # the reason is the operator's; the caller gets the one message
            log.warning("fhirServer fetch failed: %s", err)
            raise Insufficient(NOT_FETCHED) from None
    resources: list[dict[str, Any]] = []
    for key in prefetch_templates():
        resources += _resources(key, prefetch.get(key) or fetched[key])
    _check_patient(resources, context["patientId"])
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def _resources(key: str, value: dict[str, Any]) -> list[dict[str, Any]]:
    if not isinstance(value.get("resourceType"), str):
        raise BadRequest(f"prefetch '{key}' is not a FHIR resource (no resourceType)")
    if value["resourceType"] != "Bundle":
        return [value]
    entries = value.get("entry") or []
    if not isinstance(entries, list):
        raise BadRequest(f"prefetch '{key}': Bundle.entry must be a list")
    out = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise BadRequest(f"prefetch '{key}': an entry has no resource")
        search = entry.get("search")
        if isinstance(search, dict) and search.get("mode") == "outcome":
            continue  # an OperationOutcome about the search, not the patient's data
        out.append(resource)
    return out


def _check_patient(resources: list[dict[str, Any]], patient_id: str) -> None:
    for resource in resources:
        if resource.get("resourceType") == "Patient" and resource.get("id") not in (None, patient_id):
            raise BadRequest("the prefetched Patient is not context.patientId")




async def _fetch_all(request: CdsRequest, fetcher: Fetcher, queries: dict[str, str]) -> dict[str, dict[str, Any]]:
    base = fetcher.base(str(request.fhirServer))
    token = request.fhirAuthorization.access_token if request.fhirAuthorization is not None else None
    session = fetcher.session(base, token)
    try:
        # one budget for the wait for a connection slot and every page of every query: a server that drips
        # its answer holds the call no longer than that
        async with asyncio.timeout(fetcher.limits.budget), session.slots:
            return {key: await _search(session, query) for key, query in queries.items()}
    except TimeoutError:
        raise FetchFailed("the time budget ran out") from None


async def _search(session: Session, query: str) -> dict[str, Any]:
    path, _, query_string = query.partition("?")
    encoded = urlencode(parse_qsl(query_string, keep_blank_values=True))
    try:
        target = place(session.base.url.rstrip("/") + "/" + path + (f"?{encoded}" if encoded else ""))
    except Refused as err:
        raise FetchFailed(f"the query is not a usable URL ({err})") from None
    first = await session.get(target)
    if first["resourceType"] != "Bundle":
        return first
    body, pages = first, 1
    while True:
        entries = first.setdefault("entry", [])
        if not isinstance(entries, list) or not isinstance(body.get("entry") or [], list):
            raise FetchFailed("Bundle.entry is not a list")
        if len(entries) > MAX_ENTRIES:
            raise FetchFailed(f"a search gave more than {MAX_ENTRIES} entries")
        link = _next_link(body)
        if link is None:
            return first
        # a record cut short could change the advice: more pages than the limit is a failed fetch, not a stop
        if pages >= MAX_PAGES:
            raise FetchFailed(f"a search gave more than {MAX_PAGES} pages")
        target = session.resolve(link, target)
        body, pages = await session.get(target), pages + 1
        if body["resourceType"] != "Bundle" or not isinstance(body.get("entry") or [], list):
            raise FetchFailed("a next page is not a Bundle")
        entries.extend(body.get("entry") or [])


def _next_link(bundle: dict[str, Any]) -> str | None:
    links = bundle.get("link") or []
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            url: str = link["url"]
            return url
    return None


__all__ = ["BadRequest", "Insufficient", "gather", "prefetch_templates"]
