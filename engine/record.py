"""What reading a record (a FHIR Bundle) left beside the case: where each field came from, which values were
voided or raise a question for the board, and what was not read. Plain data, so that case files, decisions
and cards can carry it without importing the FHIR reader."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

NoteKind = Literal["voided", "question", "ignored"]


class Provenance(BaseModel):
    """The resource a field's value was read from, and the date it states (None when it states none)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    resource: str = Field(title="Resource", description="the resource read, e.g. Observation/inr-1")
    date: str | None = Field(default=None, title="Date", description="the date the resource states (ISO 8601)")


class RecordNote(BaseModel):
    """One thing the reader did not take as a value: a voided field, a question for the board, or an ignored
    resource or coded element."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: NoteKind = Field(title="Kind", description="voided: a value that could not be read, the field is "
                           "unknown; question: a fact the board must weigh (the field stays unknown); ignored: "
                           "a resource or coded element no field reads")
    message: str = Field(title="Message", description="what was found and why it was not read as a value")
    field: str | None = Field(default=None, title="Field", description="the case field concerned")
    resource: str | None = Field(default=None, title="Resource", description="the resource concerned")


class RecordReading(BaseModel):
    """Provenance of every field read from a record, and every note (an additive key of the decision:
    `record`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    provenance: dict[str, Provenance] = Field(default_factory=dict, title="Provenance",
                                              description="for each field read, its resource and date")
    notes: tuple[RecordNote, ...] = Field(default=(), title="Notes",
                                          description="voided fields, questions for the board, ignored elements")

    def of(self, kind: NoteKind) -> list[RecordNote]:
        return [n for n in self.notes if n.kind == kind]

    def questions_for(self, field: str) -> list[RecordNote]:
        return [n for n in self.notes if n.field == field and n.kind in ("question", "voided")]
