"""Summary frameworks (NOMS): lines for the board, each the first outcome whose condition holds for the case."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from . import kleene
from .conditions import Condition, fields_of
from .fields import FieldCatalog
from .kleene import Truth
from .vocabulary import Citation

_MODEL = ConfigDict(extra="forbid", frozen=True)


class Outcome(BaseModel):
    model_config = _MODEL
    when: Condition
    text: str


class Line(BaseModel):
    """One line of a summary: outcomes in order of precedence, and what to say when none holds yet."""

    model_config = _MODEL
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    outcomes: tuple[Outcome, ...] = Field(min_length=1)
    unknown: str = Field(description="what the line says when no outcome holds for the case as it stands")


class Framework(BaseModel):
    model_config = _MODEL
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str = ""
    lines: tuple[Line, ...] = Field(min_length=1)
    citations: tuple[Citation, ...] = Field(min_length=1)


class SummaryLine(BaseModel):
    """One line of a summary as it reads for this case."""

    model_config = ConfigDict(frozen=True)
    name: str = Field(title="Name", description="the line's name in the framework (neurologic, oncologic, ...)")
    title: str = Field(title="Title", description="the line's heading")
    text: str = Field(title="Text", description="the first outcome that holds, or what is still unknown")
    known: bool = Field(title="Known", description="an outcome holds for the case")
    provisional: bool = Field(title="Provisional", description="an unknown field could still change the line")
    find_out: tuple[str, ...] = Field(title="Find out", description="unknown case fields that could change it")


class Summary(BaseModel):
    """A framework's summary of the case (the NOMS four lines)."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["summary"] = Field(default="summary", title="Kind", description="'summary' (a score is 'score')")
    id: str = Field(title="Framework", description="framework id of the rule base")
    title: str = Field(title="Title", description="the framework's name")
    lines: tuple[SummaryLine, ...] = Field(title="Lines", description="one per consideration, in order")
    citations: tuple[Citation, ...] = Field(title="Citations", description="the framework's published source")


class CompiledFramework:
    """A framework's conditions compiled once for three-valued evaluation."""

    def __init__(self, framework: Framework, catalog: FieldCatalog) -> None:
        self.framework = framework
        self._lines = tuple(
            (line, tuple((outcome, kleene.compile_condition(outcome.when, catalog),
                          frozenset().union(*(catalog.inputs_of(n) for n in fields_of(outcome.when))))
                         for outcome in line.outcomes))
            for line in framework.lines)

    def summarise(self, scope: dict[str, Any], unknown_inputs: frozenset[str]) -> Summary:
        """Each line's first outcome that is TRUE; UNKNOWN outcomes before it make the line provisional."""
        lines = []
        for line, outcomes in self._lines:
            text: str | None = None
            undecided: list[frozenset[str]] = []
            for outcome, test, inputs in outcomes:
                truth = test(scope)
                if truth == Truth.TRUE:
                    text = outcome.text
                    break
                if truth == Truth.UNKNOWN:
                    undecided.append(inputs)
            fields = sorted({name for inputs in undecided for name in inputs if name in unknown_inputs})
            lines.append(SummaryLine(name=line.name, title=line.title, text=text or line.unknown,
                                     known=text is not None, provisional=bool(undecided), find_out=tuple(fields)))
        f = self.framework
        return Summary(id=f.id, title=f.title, lines=tuple(lines), citations=f.citations)
