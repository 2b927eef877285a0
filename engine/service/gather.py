"""The patient's record for a hook call: what the client prefetched, and what it did not, fetched from its FHIR
server with the token it gave (never sent to any other host)."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from ..fhir import load
from .models import CdsRequest

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
    codes = {f"{c.system}|{c.code}" for f in mapping.fields.values() if f.resource == "Observation" for c in f.codes}
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
        return quote(got, safe="")
    return _PLACEHOLDER.sub(value, template)


async def gather(request: CdsRequest, client: httpx.AsyncClient) -> dict[str, Any]:
    """One collection Bundle of the patient's resources: prefetched where given, else fetched."""
    context = request.context.model_dump()  # type: ignore[attr-defined]
    prefetch = {k: v.model_dump() if v is not None else None for k, v in (request.prefetch or {}).items()}
    resources: list[dict[str, Any]] = []
    for key, template in prefetch_templates().items():
        given = prefetch.get(key)
        if given is None:
            if request.fhirServer is None:
                raise Insufficient(f"prefetch '{key}' was not given and there is no fhirServer to fetch it from")
            given = await _fetch(request, client, _fill(template, context))
        found = _resources(key, given)
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


async def _fetch(request: CdsRequest, client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    base = str(request.fhirServer).rstrip("/")
    headers = {"Accept": "application/fhir+json"}
    if request.fhirAuthorization is not None:
        headers["Authorization"] = f"Bearer {request.fhirAuthorization.access_token}"
    path, _, query_string = query.partition("?")
    url: str | None = f"{base}/{path}"
    params: Any = parse_qsl(query_string, keep_blank_values=True)
    first: dict[str, Any] | None = None
    pages = 0
    while url is not None and pages < MAX_PAGES:
        body = await _get(client, url, params, headers, path)
        pages += 1
        if first is None:
            first = body
            if body.get("resourceType") != "Bundle":
                return body
        else:
            first.setdefault("entry", []).extend(body.get("entry") or [])
        if len(first.get("entry") or []) >= MAX_ENTRIES:
            break
        url, params = _next_link(body, base), None
    assert first is not None
    return first


def _next_link(bundle: dict[str, Any], base: str) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            url: str = link["url"]
            # the token goes to the client's FHIR server only: a next page elsewhere is not followed
            same = urlsplit(url)[:2] == urlsplit(base)[:2] and urlsplit(url).path.startswith(urlsplit(base).path)
            return url if same else None
    return None


async def _get(client: httpx.AsyncClient, url: str, params: Any,
               headers: dict[str, str], what: str) -> dict[str, Any]:
    try:
        response = await client.get(url, params=params, headers=headers)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as err:  # an unusable URL is a fetch that failed
        raise Insufficient(f"could not fetch {what} from fhirServer ({type(err).__name__})") from None
    if response.status_code != 200:
        raise Insufficient(f"fhirServer answered HTTP {response.status_code} for {what}")
    try:
        body = response.json()
    except ValueError:
        raise Insufficient(f"fhirServer did not answer {what} with JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise Insufficient(f"fhirServer did not answer {what} with a FHIR resource")
    return body
