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
        resources += _resources(key, given)
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
