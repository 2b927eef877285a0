"""The CDS Hooks 2.0 messages the service reads and writes, as pydantic models (its own OpenAPI comes from them)."""
from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_IN = ConfigDict(extra="allow", strict=True)  # clients may add extensions; the types are as the spec says
_OUT = ConfigDict(extra="forbid")
FHIR_ID = r"^[A-Za-z0-9\-.]{1,64}$"
HTTP_URL = r"^https?://"
# Bounds of the strings a client sends (the body as a whole is bounded by the service, 1 MB by default): an id
# or a UUID is far shorter, an OAuth token or a URL rarely longer.
SHORT = 256
LONG = 2048
TOKEN = 16384


class FhirAuthorization(BaseModel):
    """The OAuth 2.0 bearer token the service may use on the client's FHIR server."""

    model_config = _IN
    access_token: str = Field(min_length=1, max_length=TOKEN)
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str = Field(max_length=LONG)
    subject: str = Field(max_length=LONG)
    patient: str | None = Field(default=None, max_length=SHORT)


class _Context(BaseModel):
    model_config = _IN
    userId: str = Field(max_length=LONG, description="the user in whose session the hook fired, e.g. Practitioner/123")
    patientId: str = Field(pattern=FHIR_ID, description="the FHIR id of the patient in context (letters, digits, "
                           "'-' and '.', at most 64)")
    encounterId: str | None = Field(default=None, max_length=SHORT)


class PatientViewContext(_Context):
    """Context of `patient-view`."""


class Resource(BaseModel):
    """A FHIR resource (JSON): its resourceType and whatever elements it has."""

    model_config = _IN
    resourceType: str = Field(min_length=1)


class DraftOrders(Resource):
    """A FHIR Bundle of draft orders."""

    resourceType: Literal["Bundle"]


class OrderSignContext(_Context):
    """Context of `order-sign`: the orders about to be signed."""

    draftOrders: DraftOrders = Field(description="a FHIR Bundle of the draft orders")


class OrderSelectContext(OrderSignContext):
    """Context of `order-select`: the orders drafted and which of them were just selected."""

    selections: list[Annotated[str, Field(max_length=SHORT)]] = Field(
        max_length=100, description="references to the selected draft orders, e.g. ServiceRequest/1")


class CdsRequest(BaseModel):
    """A hook call: which hook, the context, and the prefetched data or the FHIR server to fetch it from."""

    model_config = ConfigDict(extra="allow", strict=True, json_schema_extra={
        "dependentRequired": {"fhirAuthorization": ["fhirServer"]}})
    hook: str = Field(max_length=SHORT)
    hookInstance: str = Field(min_length=1, max_length=SHORT)
    fhirServer: str | None = Field(default=None, pattern=HTTP_URL, max_length=LONG,
                                   description="the client's FHIR base URL")
    fhirAuthorization: FhirAuthorization | None = None
    prefetch: dict[str, Resource | None] | None = None

    @model_validator(mode="after")
    def _server_with_token(self) -> CdsRequest:
        if "fhirAuthorization" in self.model_fields_set and "fhirServer" not in self.model_fields_set:
            raise ValueError("fhirAuthorization needs fhirServer")
        return self


class PatientViewRequest(CdsRequest):
    hook: Literal["patient-view"]
    context: PatientViewContext


class OrderSelectRequest(CdsRequest):
    hook: Literal["order-select"]
    context: OrderSelectContext


class OrderSignRequest(CdsRequest):
    hook: Literal["order-sign"]
    context: OrderSignContext


class Coding(BaseModel):
    model_config = _OUT
    code: str
    system: str | None = None
    display: str | None = None


class Source(BaseModel):
    model_config = _OUT
    label: str
    url: str | None = None
    topic: Coding | None = None


class Link(BaseModel):
    model_config = _OUT
    label: str
    url: str
    type: Literal["absolute", "smart"]


class Action(BaseModel):
    model_config = _OUT
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None  # CDS Hooks 2.0: the id of the resource to delete, a string


class Suggestion(BaseModel):
    model_config = _OUT
    label: str
    uuid: str
    isRecommended: bool | None = None
    actions: list[Action] = Field(default_factory=list)


class Card(BaseModel):
    model_config = _OUT
    uuid: str
    summary: str = Field(max_length=139)
    indicator: Literal["info", "warning", "critical"]
    detail: str | None = None
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[Coding] | None = None
    links: list[Link] | None = None
    extension: dict[str, Any] | None = None


class CdsResponse(BaseModel):
    model_config = _OUT
    cards: list[Card]


class CdsService(BaseModel):
    model_config = _OUT
    hook: str
    id: str
    title: str
    description: str
    prefetch: dict[str, str]
    usageRequirements: str | None = None


class Discovery(BaseModel):
    model_config = _OUT
    services: list[CdsService]


class CodingIn(Coding):
    """A coding as a client sends it: the same fields, extensions allowed."""

    model_config = _IN


class OverrideReasonGiven(BaseModel):
    model_config = _IN
    reason: CodingIn | None = None
    userComment: str | None = Field(default=None, max_length=4000)


class AcceptedSuggestion(BaseModel):
    model_config = _IN
    id: str = Field(max_length=SHORT)


class Feedback(BaseModel):
    model_config = _IN
    card: str = Field(min_length=1, max_length=SHORT)
    outcome: Literal["accepted", "overridden"]
    outcomeTimestamp: str = Field(min_length=1, json_schema_extra={"format": "date-time"},
                                  description="when the user acted (ISO 8601 date-time with a time zone)")

    @field_validator("outcomeTimestamp")
    @classmethod
    def _a_real_timestamp(cls, value: str) -> str:
        try:
            stamp = datetime.datetime.fromisoformat(value.upper())  # RFC 3339 allows a lower-case t and z
        except ValueError:
            raise ValueError(f"{value[:40]!r} is not an ISO 8601 date-time") from None
        if stamp.tzinfo is None:
            raise ValueError("the date-time needs a time zone (e.g. Z or +01:00)")
        return value
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReasonGiven | None = None


class FeedbackRequest(BaseModel):
    model_config = _IN
    feedback: list[Feedback] = Field(min_length=1, max_length=100)


class Problem(BaseModel):
    """The body of every refusal: what was wrong, in words."""

    model_config = _OUT
    detail: str
