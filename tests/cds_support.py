"""Helpers of the CDS Hooks tests: the shared CDS Hooks OpenAPI as validators, requests built from Bundles, JWTs
signed with keys made here."""
from __future__ import annotations

import copy
import json
import time
import uuid
from functools import cache
from typing import Any, Optional

import jwt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec
from jsonschema import Draft4Validator, FormatChecker

from .conftest import SHARED

SPEC_PATH = SHARED / "specs" / "cds-hooks-openapi.yaml"
SERVICE = "/cds-services/spinemets-patient-view"


@cache
def spec() -> dict[str, Any]:
    """The CDS Hooks OpenAPI from ../shared/specs, its known defect mended here (never in the file):
    OverrideReason.reason refers to OverrideReason itself where it means a FHIR Coding."""
    if not SPEC_PATH.exists():
        pytest.skip(f"{SPEC_PATH} is absent (the shared specs sit beside the repository)")
    data = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    reason = data["components"]["schemas"]["OverrideReason"]["properties"]["reason"]
    if reason.get("allOf") == [{"$ref": "#/components/schemas/OverrideReason"}]:
        reason["allOf"] = [{"$ref": "#/components/schemas/Coding"}]
    return data


def _validator(schema: dict[str, Any]) -> Draft4Validator:
    # the path's schema sits beside the spec's components, so that '#/components/...' resolves
    root = {"allOf": [schema], "components": spec()["components"]}
    return Draft4Validator(root, format_checker=FormatChecker())


def _operation(path: str, method: str = "post") -> dict[str, Any]:
    return spec()["paths"][path][method]


def validate(kind: str, body: Any) -> None:
    """Validate a message against the spec: discovery, request, response, feedback."""
    if kind == "discovery":
        schema = _operation("/cds-services", "get")["responses"]["200"]["content"]["application/json"]["schema"]
    elif kind == "request":
        schema = _operation("/cds-services/{serviceId}")["requestBody"]["content"]["application/json"]["schema"]
    elif kind == "response":
        schema = _operation("/cds-services/{serviceId}")["responses"]["200"]["content"]["application/json"]["schema"]
    elif kind == "feedback":
        schema = _operation("/cds-services/{serviceId}/feedback")["requestBody"]["content"]["application/json"][
            "schema"]
    else:
        raise ValueError(kind)
    errors = sorted(_validator(schema).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{kind} does not match the CDS Hooks OpenAPI: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5])


def prefetch_from_bundle(bundle: dict[str, Any], patient_id: str = "patient") -> dict[str, Any]:
    """The prefetch a FHIR server would give for the Bundle's patient: the Patient and a searchset per query."""
    bundle = copy.deepcopy(bundle)
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    patient["id"] = patient_id
    others = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] != "Patient"]
    for resource in others:  # as a server stores them: references by id, not by the Bundle's urn:uuid
        for key in ("subject", "patient"):
            if key in resource:
                resource[key] = {"reference": f"Patient/{patient_id}"}

    def searchset(resource_type: str) -> dict[str, Any]:
        found = [r for r in others if r["resourceType"] == resource_type]
        return {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                "entry": [{"fullUrl": f"https://fhir.example/r4/{r['resourceType']}/{r['id']}", "resource": r,
                           "search": {"mode": "match"}} for r in found]}
    return {"patient": patient, "conditions": searchset("Condition"), "observations": searchset("Observation"),
            "allergies": searchset("AllergyIntolerance"), "medicationRequests": searchset("MedicationRequest"),
            "medicationStatements": searchset("MedicationStatement")}


def hook_request(hook: str = "patient-view", patient_id: str = "patient", prefetch: Optional[dict] = None,
                 **more: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/example", "patientId": patient_id}
    context.update(more.pop("context", {}))
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if prefetch is not None:
        body["prefetch"] = prefetch
    body.update(more)
    return body


def draft_orders(*orders: tuple[str, str, str]) -> dict[str, Any]:
    """A Bundle of draft ServiceRequests, each (id, system, code)."""
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "ServiceRequest", "id": rid, "status": "draft", "intent": "order",
                      "subject": {"reference": "Patient/patient"},
                      "code": {"coding": [{"system": system, "code": code}]}}} for rid, system, code in orders]}


class Signer:
    """A CDS client's key pair made for the test, its JWK Set, and JWTs it signs."""

    def __init__(self, issuer: str = "https://ehr.example.org", kid: str = "test-key-1"):
        self.issuer, self.kid = issuer, kid
        self.key = ec.generate_private_key(ec.SECP384R1())
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = {"keys": [{**public, "kid": kid, "use": "sig", "alg": "ES384"}]}

    def token(self, audience: str, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": self.issuer, "sub": "client-1", "aud": audience, "iat": now, "exp": now + 120,
                   "jti": str(uuid.uuid4()), **claims}
        return jwt.encode({k: v for k, v in payload.items() if v is not None}, self.key, algorithm="ES384",
                          headers={"kid": self.kid})
