"""The rule language's models: effects, rules, consistency checks, the manifest, sources and the loaded rule base."""
from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .. import conditions
from ..conditions import Condition
from ..fields import FieldCatalog
from ..frameworks import Framework
from ..scores import Scale, Score
from ..vocabulary import Citation, Option, Status

_MODEL = ConfigDict(extra="forbid", frozen=True)
RULE_ID = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"
LOCATOR_WORDS = (4, 30)
# Evidence levels (Oxford CEBM) at which a strong indication needs a stated rationale: case series, non-randomised
# comparisons, expert opinion and narrative review (docs/rule-language.md, Strength and evidence).
STRONG_NEEDS_RATIONALE_FROM_LEVEL = 4


def _as_tuple(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


# --- effects ----------------------------------------------------------------------------------------------


class _Effect(BaseModel):
    model_config = _MODEL
    text: str | None = Field(default=None, description="reason in plain words; defaults to the rule's text")


class Indicate(_Effect):
    """Raise the options to `recommended` (strong) or `appropriate` (moderate)."""

    indicate: tuple[Option, ...]
    strength: Literal["strong", "moderate"] = "strong"
    _v = field_validator("indicate", mode="before")(_as_tuple)

    def describe(self) -> str:
        return f"indicate {', '.join(self.indicate)} ({self.strength})"


class Contraindicate(_Effect):
    """Absolute: the option is contraindicated. Relative: it is at most `caution`."""

    contraindicate: tuple[Option, ...]
    severity: Literal["absolute", "relative"]
    _v = field_validator("contraindicate", mode="before")(_as_tuple)

    def describe(self) -> str:
        return f"contraindicate {', '.join(self.contraindicate)} ({self.severity})"


class AdviseAgainst(_Effect):
    """The option is at most `not_recommended`: the evidence argues against it, short of a contraindication."""

    advise_against: tuple[Option, ...]
    _v = field_validator("advise_against", mode="before")(_as_tuple)

    def describe(self) -> str:
        return f"advise against {', '.join(self.advise_against)}"


# The one status `limit` caps at. Lower caps have named effects that say why (a relative contraindication or a
# conflict: caution; advice against: not recommended; an absolute contraindication: contraindicated), and a
# reader of the decision must see that reason, not a bare number (docs/rule-language.md, Effects).
LIMIT_STATUSES = ("appropriate",)


class Limit(_Effect):
    """The options are at most `at_most` (`appropriate`): for this finding they are the lesser choice, whatever
    the grade of their own indications, so a strong indication cannot lift them above an option the sources
    prefer for it (docs/rule-language.md, Bounds)."""

    limit: tuple[Option, ...] = Field(min_length=1)
    at_most: Status = Field(description="the status the options are capped at; the loader accepts "
                            "only LIMIT_STATUSES")
    _v = field_validator("limit", mode="before")(_as_tuple)

    def describe(self) -> str:
        return f"limit {', '.join(self.limit)} to at most {self.at_most}"


class Prefer(_Effect):
    """Among options of equal status, rank `prefer` above each of `over`."""

    prefer: Option
    over: tuple[Option, ...]
    _v = field_validator("over", mode="before")(_as_tuple)

    def describe(self) -> str:
        return f"prefer {self.prefer} over {', '.join(self.over)}"


class Conflict(_Effect):
    """The sources disagree about these options for this case; with `caution`, each is at most `caution`."""

    conflict: tuple[Option, ...]
    caution: bool = True
    _v = field_validator("conflict", mode="before")(_as_tuple)

    def describe(self) -> str:
        return f"the sources disagree about {', '.join(self.conflict)} ({'caution' if self.caution else 'note'})"


class Adjunct(_Effect):
    """Something to do besides the chosen option (biopsy, radiotherapy, ...), optionally tied to options."""

    adjunct: str
    options: tuple[Option, ...] = ()
    _v = field_validator("options", mode="before")(_as_tuple)

    def describe(self) -> str:
        return f"adjunct: {self.adjunct}" + (f" with {', '.join(self.options)}" if self.options else "")


class Derive(BaseModel):
    """Assert a derived fact that other rules test (forward chaining)."""

    model_config = _MODEL
    derive: str

    def describe(self) -> str:
        return f"derive the fact {self.derive}"


Effect = Indicate | Contraindicate | AdviseAgainst | Limit | Prefer | Conflict | Adjunct | Derive
_EFFECT_BY_KEY: dict[str, type[BaseModel]] = {
    "indicate": Indicate, "contraindicate": Contraindicate, "advise_against": AdviseAgainst, "limit": Limit,
    "prefer": Prefer, "conflict": Conflict, "adjunct": Adjunct, "derive": Derive}


def effect_key(effect: Effect) -> str:
    """The YAML key that writes this kind of effect ('indicate', 'derive', ...)."""
    return next(key for key, cls in _EFFECT_BY_KEY.items() if isinstance(effect, cls))


def effect_options(effect: Effect) -> tuple[str, ...]:
    """The options whose status an effect can change (prefer and adjunct change none)."""
    if isinstance(effect, Indicate):
        return effect.indicate
    if isinstance(effect, Contraindicate):
        return effect.contraindicate
    if isinstance(effect, AdviseAgainst):
        return effect.advise_against
    if isinstance(effect, Limit):
        return effect.limit
    if isinstance(effect, Conflict) and effect.caution:
        return effect.conflict
    return ()


# --- rules and the rest of the rule base ------------------------------------------------------------------


class Rule(BaseModel):
    """One clinical statement: when the condition holds, these effects follow, because these sources say so."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    id: str = Field(pattern=RULE_ID, description="dotted id, e.g. ci.cement.coagulopathy")
    title: str
    when: Condition
    then: tuple[Effect, ...] = Field(min_length=1)
    text: str = Field(description="the reason as the board reads it")
    citations: tuple[Citation, ...] = Field(min_length=1)
    evidence_level: int = Field(ge=1, le=5, description="Oxford CEBM level of the supporting evidence, 1-5")
    strength_rationale: str | None = Field(
        default=None, description="why the board may read a strong indication as strong although it rests on "
        "level 4-5 evidence only (docs/rule-language.md, Strength and evidence)")
    status: Literal["active", "draft", "retired"] = "active"
    version: int = Field(default=1, ge=1)
    notes: str | None = None
    population: str | None = Field(
        default=None, description="source id of the study whose patients this indication is drawn from: it "
        "applies within that study's inclusion and exclusion criteria, which the board sees with it")
    file: str = Field(default="", exclude=True)
    line: int | None = Field(default=None, exclude=True)

    def reason_text(self, effect: BaseModel) -> str:
        return getattr(effect, "text", None) or self.text

    @property
    def derives(self) -> tuple[str, ...]:
        return tuple(e.derive for e in self.then if isinstance(e, Derive))


class SessionLimit(BaseModel):
    """How many levels of these options one session treats at most: the plan splits the levels into sessions."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sessions: tuple[Option, ...] = Field(min_length=1, description="the options whose levels are split")
    levels_at_most: int = Field(ge=1, le=29, description="levels per session")
    text: str | None = None
    _v = field_validator("sessions", mode="before")(_as_tuple)

    def describe(self) -> str:
        return f"at most {self.levels_at_most} levels of {', '.join(self.sessions)} per session"


class PlanNote(BaseModel):
    """A reason the plan shows, naming the levels it concerns: those compressing the cord or cauda equina, or those
    whose advice is one of `options`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    note: Literal["compressive", "advised"] = Field(description="which levels the reason names")
    options: tuple[Option, ...] = Field(default=(), description="with `advised`: the options whose levels it names")
    text: str | None = None
    _v = field_validator("options", mode="before")(_as_tuple)

    def describe(self) -> str:
        return f"note on the {self.note} levels" + (f" ({', '.join(self.options)})" if self.options else "")


PlanEffect = SessionLimit | PlanNote


class PlanRule(BaseModel):
    """A patient-level statement about the plan: when its condition (over the patient's fields and the facts of the
    plan: levels per option, discrete compressions) holds, its effects shape the plan and its reason is shown."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    id: str = Field(pattern=RULE_ID, description="dotted id, starting plan.")
    title: str
    when: Condition
    then: tuple[PlanEffect, ...] = Field(min_length=1)
    text: str = Field(description="the reason as the board reads it")
    citations: tuple[Citation, ...] = Field(min_length=1)
    evidence_level: int = Field(ge=1, le=5)
    file: str = Field(default="", exclude=True)
    line: int | None = Field(default=None, exclude=True)


class Constraint(BaseModel):
    """A combination of values that cannot be true of one patient; the case is refused with `message`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=RULE_ID)
    when: Condition
    message: str
    fields: tuple[str, ...] = ()
    citations: tuple[Citation, ...] = ()


class Question(BaseModel):
    """When a board would ask about an unknown field: `missing` lists it while `ask_when` is TRUE; while UNKNOWN,
    the unknown fields `ask_when` reads are asked in its place; when FALSE, the case's situation makes it moot."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    field: str = Field(description="the case input field asked about")
    ask_when: Condition = Field(description="the situation in which the question matters")
    because: str = Field(description="why the field matters only in that situation, in plain words")


class OptionInfo(BaseModel):
    model_config = _MODEL
    code: Option
    title: str
    description: str
    cement: bool = Field(description="injects PMMA bone cement")


class Named(BaseModel):
    model_config = _MODEL
    title: str
    description: str = ""


class Manifest(BaseModel):
    """rules/rulebook.yaml: identity, the options in tie-break order, adjunct codes and derived facts."""

    model_config = _MODEL
    name: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    title: str
    description: str = ""
    options: tuple[OptionInfo, ...] = Field(description="the six options; their order breaks ties in the ranking")
    adjuncts: dict[str, Named]
    facts: dict[str, Named] = Field(default_factory=dict, description="derived facts rules may assert and test")


class Criterion(BaseModel):
    """One inclusion or exclusion criterion of a study, in words, with the passage that states it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str = Field(description="the criterion in plain words")
    citation: Citation


class Population(BaseModel):
    """Whom a study admitted: its evidence, and the indications drawn from it, apply to these patients only."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    inclusion: tuple[Criterion, ...] = ()
    exclusion: tuple[Criterion, ...] = ()


class Source(BaseModel):
    """A bibliographic source: one of the five papers, or an external reference."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["paper", "external"]
    title: str
    authors: str
    journal: str
    year: int | str
    volume: str | None = None
    pages: str | None = None
    doi: str | None = None
    pmid: str | None = None
    design: str
    evidence_level: int | None = Field(default=None, ge=1, le=5)
    note: str | None = None
    short: str | None = Field(default=None, description="how a reader names the source in one line, when the "
                                 "authors are not recorded (else 'First et al. year' is built from them)")
    population: Population | None = Field(
        default=None, description="the study's inclusion and exclusion criteria, for the indications drawn from it")


class Rulebook(BaseModel):
    """A loaded, validated rule base; `sha256` identifies its content."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    manifest: Manifest
    sources: dict[str, Source]
    scores: tuple[Score, ...]
    scales: tuple[Scale, ...] = ()
    frameworks: tuple[Framework, ...] = ()
    rules: tuple[Rule, ...]
    constraints: tuple[Constraint, ...]
    questions: tuple[Question, ...] = ()
    evidence: tuple[dict[Any, Any], ...] = ()
    invariants: tuple[dict[Any, Any], ...] = ()
    plan_rules: tuple[PlanRule, ...] = ()
    catalog: FieldCatalog
    sha256: str
    root: str

    @property
    def version(self) -> str:
        return self.manifest.version

    @cached_property
    def active_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.status == "active")

    @cached_property
    def rule_by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}

    def passage(self, citation: Citation) -> str:
        """The citation's locator as a reader should take it: quoted when it is copied from one of the papers,
        marked as a pointer when the source is external (its text is not here, so nothing was copied)."""
        source = self.sources.get(citation.source)
        if source is not None and source.kind == "external":
            return f"{citation.locator} (pointer into an external source, not a quotation)"
        return f'"{citation.locator}"'

    def source_name(self, source_id: str) -> str:
        """How a reader names a source in one line: its `short` name, else 'Barbanti Brodano et al. 2007' from
        its authors, else its id."""
        source = self.sources.get(source_id)
        if source is not None and source.short:
            return source.short
        if source is None or source.authors.lower().startswith("not recorded"):
            return source_id
        first = source.authors.split(",")[0].strip()
        # Vancouver style "Barbanti Brodano G": drop the initials, keep a compound surname.
        words = first.split()
        if len(words) > 1 and words[-1].isupper() and len(words[-1]) <= 3:
            words = words[:-1]
        more = " et al." if "," in source.authors else ""
        return f"{' '.join(words)}{more} {source.year}"

    def population_of(self, rule_id: str) -> tuple[str, Population] | None:
        """(source id, population) of the study an indication is drawn from, when the rule names one."""
        rule = self.rule_by_id.get(rule_id)
        if rule is None or not rule.population:
            return None
        source = self.sources.get(rule.population)
        return (rule.population, source.population) if source is not None and source.population else None

    @property
    def option_order(self) -> tuple[str, ...]:
        return tuple(o.code for o in self.manifest.options)

    @cached_property
    def numeric_constants(self) -> dict[str, tuple[float, ...]]:
        """Every number each numeric field is compared with by an active rule, sorted."""
        found: dict[str, set[float]] = {}
        for rule in self.active_rules:
            for leaf in conditions.leaves(rule.when):
                if isinstance(leaf, conditions.Compare) and self.catalog.specs[leaf.field].numeric:
                    values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
                    found.setdefault(leaf.field, set()).update(values)
        return {name: tuple(sorted(values)) for name, values in found.items()}
