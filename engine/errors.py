"""One error hierarchy: bad input (exit 2) versus a fault of the engine itself (exit 1)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as the input allows."""

    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    rule: str | None = None
    # Further fields the problem involves equally (a combination the rule base declares impossible).
    also: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field the problem names, `field` first."""
        return ((self.field,) if self.field else ()) + self.also

    def __str__(self) -> str:
        where = self.file or ""
        if self.line is not None:
            where += f":{self.line}" if where else f"line {self.line}"
        parts = [where] if where else []
        if self.rule:
            parts.append(f"rule {self.rule}")
        if len(self.fields) == 1:
            parts.append(f"field '{self.field}'")
        elif self.fields:
            parts.append("fields " + " and ".join(f"'{name}'" for name in self.fields))
        prefix = ", ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class SpinemetsError(Exception):
    """Base of every error the engine raises on purpose.

    InputError (CaseError for a case, RulebookError for a rule base) means the input is wrong: its `summary`
    says what, its `problems` where (file, line, field, rule). EngineError means the engine failed on valid
    input. The command line exits 2 for the first and 1 for the second.

    >>> from spinemets import CaseError, InputError, SpinemetsError, evaluate
    >>> try:
    ...     evaluate({"id": "bad id with spaces"})
    ... except SpinemetsError as err:
    ...     print(isinstance(err, CaseError) and isinstance(err, InputError), err.problems[0].field)
    True id
    """


class InputError(SpinemetsError):
    """The user's input (a case or a rule base) is wrong; the message says where and what was expected."""

    def __init__(self, summary: str, problems: list[Problem] | None = None) -> None:
        self.summary = summary
        # in file order, so a reader can walk down the file
        self.problems = sorted(problems or [], key=lambda p: (p.file or "", p.line or 0))
        super().__init__(self.render())

    def render(self) -> str:
        if not self.problems:
            return self.summary
        lines = [self.summary] + [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class CaseError(InputError):
    """A case file or case mapping does not satisfy the data dictionary."""


class RulebookError(InputError):
    """A rule base does not load: YAML, schema, references or derivation structure."""


class EngineError(SpinemetsError):
    """The engine failed on valid input: a durable-rules fault or an internal inconsistency."""
