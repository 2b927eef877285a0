"""The service against its own OpenAPI (schemathesis): every generated request is answered as documented, never
with a server error, with and without trusted issuers. The EHR's FHIR server is a fake that refuses everything
(no request leaves the machine)."""
from __future__ import annotations

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from spinemets.service.app import Settings, create_app
from spinemets.service.auth import Issuer, Trust

from .cds_support import Signer


def _refuse(request: httpx.Request) -> httpx.Response:
    return httpx.Response(404, json={"resourceType": "OperationOutcome"})


OPEN = create_app(Settings(board_db=None, transport=httpx.MockTransport(_refuse)))
_SIGNER = Signer()
GUARDED = create_app(Settings(board_db=None, transport=httpx.MockTransport(_refuse),
                              trust=Trust(issuers={_SIGNER.issuer: Issuer(_SIGNER.issuer, jwks=_SIGNER.jwks)},
                                          audience="http://testserver")))
# A well-formed call may still find nothing to read (no prefetch, and the fake server refuses): 412, documented;
# well-formed feedback may accept a suggestion of a card this service never issued: 409, documented.
CONFIG = SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {
    "expected-statuses": ["2xx", "401", "409", "412"]}}})
open_schema = schemathesis.openapi.from_asgi("/openapi.json", OPEN, config=CONFIG)
guarded_schema = schemathesis.openapi.from_asgi("/openapi.json", GUARDED, config=CONFIG)


@open_schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_open_service_answers_as_its_openapi_says(case):
    case.call_and_validate()


@guarded_schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_guarded_service_answers_as_its_openapi_says(case):
    response = case.call_and_validate()
    assert response.status_code != 200 or case.method.upper() == "GET"  # no generated JWT is one it trusts
