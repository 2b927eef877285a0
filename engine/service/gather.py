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
    """The FHIR queries a client should prefetch: the patient, their conditions, allergies and medications, and
    the observations of the codes the mapping reads (fields and questions: labs, ECOG), newest first."""
    mapping = load()
    codes = {f"{c.system}|{c.code}" for f in [*mapping.fields.values(), *mapping.lesion_fields.values()]
             if f.resource == "Observation" for c in f.codes}
    for spec in mapping.questions.values():
        codes |= {f"{c.system}|{c.code}" for lab in spec.labs for c in lab.codes}
        codes |= {f"{c.system}|{c.code}" for c in spec.ecog + spec.cultures}
        codes |= {f"{c.system}|{c.code}" for item in spec.not_read for c in item.codes}
    return {
        "patient": "Patient/{{context.patientId}}",
        "conditions": "Condition?patient={{context.patientId}}",
        "observations": "Observation?patient={{context.patientId}}&code=" + ",".join(sorted(codes))
                        + "&_sort=-date",
        "allergies": "AllergyIntolerance?patient={{context.patientId}}",
        "medicationRequests": "MedicationRequest?patient={{context.patientId}}&status=active,on-hold",
        "medicationStatements": "MedicationStatement?patient={{context.patientId}}&status=active,intended,on-hold",
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
        found = _resources(key, prefetch.get(key) or fetched[key])
        _check_patient(key, found, context["patientId"])
        resources += found
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


SUBJECT = {"Patient": None, "AllergyIntolerance": "patient"}  # every other resource read names its subject


def _check_patient(key: str, resources: list[dict[str, Any]], patient_id: str) -> None:
    """Every resource must be context.patientId's: the `patient` prefetch is that Patient, each other resource
    names it as its subject (or patient). Anything else refuses the request, naming the resource."""
    if key == "patient":
        patients = [r for r in resources if r.get("resourceType") == "Patient"]
        if len(resources) != 1 or len(patients) != 1:
            raise BadRequest(f"prefetch 'patient' must be the one Patient resource of context.patientId "
                             f"(Patient/{patient_id}); got {_kinds(resources)}")
    for resource in resources:
        label = f"{resource.get('resourceType')}/{resource.get('id')}"
        if resource.get("resourceType") == "Patient":
            if resource.get("id") != patient_id:
                raise BadRequest(f"prefetch '{key}': {label} is not context.patientId (Patient/{patient_id})")
            continue
        element = SUBJECT.get(str(resource.get("resourceType")), "subject")
        ref = resource.get(element or "subject")
        reference = ref.get("reference") if isinstance(ref, dict) else None
        if not isinstance(reference, str) or not _is_patient(reference, patient_id):
            shown = reference if isinstance(reference, str) else "no patient"
            raise BadRequest(f"prefetch '{key}': {label} is about {shown}, not context.patientId "
                             f"(Patient/{patient_id})")


def _is_patient(reference: str, patient_id: str) -> bool:
    """Patient/ID, or an absolute URL ending in /Patient/ID (a version suffix allowed)."""
    path = reference.split("/_history/", maxsplit=1)[0]
    return path == f"Patient/{patient_id}" or path.endswith(f"/Patient/{patient_id}")


def _kinds(resources: list[dict[str, Any]]) -> str:
    if not resources:
        return "nothing"
    return ", ".join(str(r.get("resourceType")) for r in resources[:3]) + (" ..." if len(resources) > 3 else "")




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
