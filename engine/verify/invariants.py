"""Safety invariants as data: statements about the decision that must hold for every admissible case.

`rules/invariants.yaml` holds two kinds of entries (see docs/verification.md):

- an **invariant**: `when` a condition holds of the case (the rule language's conditions, Kleene
  semantics), `then` every claim about the decision holds; with its rationale and either paper
  citations (`basis: paper`, or `basis: external` for published sources outside the five papers) or a
  pointer into the decision semantics (`basis: semantics`, `see:`);
- a **structural check** (`check:`): a property of the rule base itself (no dead rules, every option
  can lead, ...), with `allow:` entries that sanction named findings and say why.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from .. import conditions
from .._internal import yamlio
from .._internal.limits import RULE_FILE
from .._internal.suggest import did_you_mean
from ..conditions import Condition, ConditionProblem
from ..errors import Problem, RulebookError
from ..rulebook import RULE_ID, Rulebook, rule_files
from ..vocabulary import OPTIONS, STATUS_RANK, STATUSES, Citation, Option, Status

_MODEL = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
ABOVE_BASELINE: tuple[Status, ...] = ("recommended", "appropriate", "caution")


def _options(value: Any, info: ValidationInfo) -> Any:
    """`all`, `cement` (the manifest's cement procedures) or one code or a list of codes."""
    manifest = (info.context or {}).get("manifest")
    if value == "all":
        return tuple(o.code for o in manifest.options) if manifest else OPTIONS
    if value == "cement":
        if manifest is None:
            raise ValueError("'cement' needs the rule base's manifest")
        return tuple(o.code for o in manifest.options if o.cement)
    return (value,) if isinstance(value, str) else value


class StatusTest(BaseModel):
    """`{options: cement, is: contraindicated}`: every named option's status passes exactly one test."""

    model_config = _MODEL
    options: tuple[Option, ...] = Field(min_length=1)
    is_: Status | None = Field(default=None, alias="is")
    in_: tuple[Status, ...] | None = Field(default=None, alias="in")
    not_in: tuple[Status, ...] | None = None
    at_most: Status | None = None
    at_least: Status | None = None
    _o = field_validator("options", mode="before")(_options)

    @model_validator(mode="before")
    @classmethod
    def _either_spelling(cls, data: Any) -> Any:
        if isinstance(data, dict) and "option" in data and "options" not in data:
            data = {("options" if k == "option" else k): v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _one_test(self) -> StatusTest:
        given = [k for k in ("is_", "in_", "not_in", "at_most", "at_least") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a status claim has exactly one of is, in, not_in, at_most, at_least")
        return self

    @property
    def allowed(self) -> tuple[str, ...]:
        """The statuses that satisfy the test, best first."""
        ok: set[str]
        if self.is_ is not None:
            ok = {self.is_}
        elif self.in_ is not None:
            ok = set(self.in_)
        elif self.not_in is not None:
            ok = set(STATUSES) - set(self.not_in)
        elif self.at_most is not None:
            ok = {s for s in STATUSES if STATUS_RANK[s] <= STATUS_RANK[self.at_most]}
        else:
            assert self.at_least is not None  # _one_test: exactly one test is given
            ok = {s for s in STATUSES if STATUS_RANK[s] >= STATUS_RANK[self.at_least]}
        return tuple(s for s in STATUSES if s in ok)

    def describe(self) -> str:
        who = _join(self.options)
        if self.is_ is not None:
            return f"{who}: {self.is_}"
        if self.in_ is not None:
            return f"{who}: one of {', '.join(self.in_)}"
        if self.not_in is not None:
            return f"{who}: never {' or '.join(self.not_in)}"
        if self.at_most is not None:
            return f"{who}: at most {self.at_most}"
        return f"{who}: at least {self.at_least}"


class StatusClaim(BaseModel):
    model_config = _MODEL
    status: StatusTest

    def describe(self) -> str:
        return self.status.describe()


class RankedClaim(BaseModel):
    """`{ranked: CONSERVATIVE}`: each named option appears in the ranking (is not contraindicated)."""

    model_config = _MODEL
    ranked: tuple[Option, ...] = Field(min_length=1)
    _o = field_validator("ranked", mode="before")(_options)

    def describe(self) -> str:
        return f"{_join(self.ranked)} in the ranking"


class TopTest(BaseModel):
    model_config = _MODEL
    in_: tuple[Option, ...] | None = Field(default=None, alias="in")
    not_in: tuple[Option, ...] | None = None

    @model_validator(mode="after")
    def _one_test(self) -> TopTest:
        if (self.in_ is None) == (self.not_in is None):
            raise ValueError("a top claim has exactly one of in, not_in")
        return self

    @property
    def allowed(self) -> tuple[str, ...]:
        if self.in_ is not None:
            return tuple(o for o in OPTIONS if o in self.in_)
        return tuple(o for o in OPTIONS if o not in (self.not_in or ()))


class TopClaim(BaseModel):
    """`{top: {not_in: [SURGERY]}}`: the first option of the ranking (the top suggestion)."""

    model_config = _MODEL
    top: TopTest

    def describe(self) -> str:
        if self.top.in_ is not None:
            return f"the top suggestion is one of {', '.join(self.top.in_)}"
        return f"the top suggestion is never {' or '.join(self.top.not_in or ())}"


class RankingNonemptyClaim(BaseModel):
    model_config = _MODEL
    ranking_nonempty: Literal[True]

    def describe(self) -> str:
        return "the ranking holds at least one option"


class ExcludesContraindicatedClaim(BaseModel):
    model_config = _MODEL
    ranking_excludes_contraindicated: Literal[True]

    def describe(self) -> str:
        return "no contraindicated option is in the ranking"


class CitedReasonsTest(BaseModel):
    """Which options, and which of their statuses, must be explained by a fired, cited rule of their kind."""

    model_config = _MODEL
    options: tuple[Option, ...] = ("PVP", "TAE_PVP", "PVP_ITR", "KP", "SURGERY", "CONSERVATIVE")
    statuses: tuple[Status, ...] = ABOVE_BASELINE
    _o = field_validator("options", mode="before")(_options)


class CitedReasonsClaim(BaseModel):
    """Every named status is explained: recommended/appropriate by a cited indication of that strength;
    caution by a cited indication and a cited caution; contraindicated by a cited absolute contraindication."""

    model_config = _MODEL
    cited_reasons: CitedReasonsTest

    def describe(self) -> str:
        return (f"every {', '.join(self.cited_reasons.statuses)} status of {_join(self.cited_reasons.options)} "
                "rests on a cited reason of its kind")


class NotAboveTest(BaseModel):
    """`{options: [PVP, KP], than: TAE_PVP}`: every named option's status is no better than `than`'s."""

    model_config = _MODEL
    options: tuple[Option, ...] = Field(min_length=1)
    than: Option
    _o = field_validator("options", mode="before")(_options)

    @model_validator(mode="after")
    def _not_itself(self) -> NotAboveTest:
        if self.than in self.options:
            raise ValueError(f"an option is never above itself: take {self.than} out of options")
        return self


class NotAboveClaim(BaseModel):
    """The lesser of two choices: each named option's status is at most that of `than` (so, with a preference for
    `than` among equals, it never ranks above it)."""

    model_config = _MODEL
    not_above: NotAboveTest

    def describe(self) -> str:
        return f"{_join(self.not_above.options)}: never graded above {self.not_above.than}"


class AdjunctClaim(BaseModel):
    """`{adjunct: biopsy}`: the decision lists this adjunct."""

    model_config = _MODEL
    adjunct: str

    def describe(self) -> str:
        return f"the adjunct '{self.adjunct}' is listed"


Claim = (StatusClaim | RankedClaim | TopClaim | RankingNonemptyClaim | ExcludesContraindicatedClaim | CitedReasonsClaim
         | NotAboveClaim | AdjunctClaim)
CLAIM_BY_KEY: dict[str, type[BaseModel]] = {
    "status": StatusClaim, "ranked": RankedClaim, "top": TopClaim, "ranking_nonempty": RankingNonemptyClaim,
    "ranking_excludes_contraindicated": ExcludesContraindicatedClaim, "cited_reasons": CitedReasonsClaim,
    "not_above": NotAboveClaim, "adjunct": AdjunctClaim}


def _join(options: tuple[str, ...]) -> str:
    return ", ".join(options)


class Invariant(BaseModel):
    """When the condition is TRUE of a case, every claim holds of its decision."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    id: str = Field(pattern=RULE_ID)
    title: str
    when: Condition | None = Field(default=None, description="the cases it speaks of; absent: every case")
    then: tuple[Claim, ...] = Field(min_length=1)
    rationale: str
    basis: Literal["paper", "external", "semantics"] = Field(
        description="paper: rests on the five papers (cited); external: on published sources outside them (cited, "
                    "declared kind external); semantics: follows from the decision semantics (see:)")
    citations: tuple[Citation, ...] = ()
    see: str | None = Field(default=None, description="for basis semantics: the section of docs/ it encodes")
    notes: str | None = None
    file: str = Field(default="", exclude=True)
    line: int | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _grounded(self) -> Invariant:
        if self.basis in ("paper", "external") and not self.citations:
            raise ValueError(f"an invariant with basis '{self.basis}' cites at least one passage (citations)")
        if self.basis == "semantics" and (self.citations or not self.see):
            raise ValueError("an invariant with basis 'semantics' names the documented rule it encodes (see: "
                             "docs/decision.md ...) and cites no paper")
        return self

    @property
    def when_text(self) -> str:
        return "every case" if self.when is None else conditions.to_text(self.when)


CheckName = Literal["rules_can_fire", "no_shadowed_rules", "every_option_can_lead", "no_undeclared_contradictions",
                    "provisional_is_sound", "range_is_sound", "invariants_at_every_lesion",
                    "plan_advice_never_contraindicated"]
DEFAULT_LESIONS = 4  # the bound of the checks over a case of several lesions (docs/verification.md, "Lesions")


class Allowance(BaseModel):
    """A finding of a structural check the rule base keeps on purpose, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    finding: str = Field(description="the finding's key as the report prints it, e.g. a rule id or 'r1 > r2'")
    reason: str


class StructuralCheck(BaseModel):
    """A property of the rule base itself, proved over every case."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=RULE_ID)
    title: str
    check: CheckName
    rationale: str
    basis: Literal["semantics"] = "semantics"
    see: str
    allow: tuple[Allowance, ...] = ()
    lesions: int = Field(default=DEFAULT_LESIONS, ge=1, le=29,
                         description="the checks over a case of several lesions: every case of 1 to this many lesions")
    notes: str | None = None
    file: str = Field(default="", exclude=True)
    line: int | None = Field(default=None, exclude=True)

    def allowed(self, key: str) -> str | None:
        return next((a.reason for a in self.allow if a.finding == key), None)


# --- loading ----------------------------------------------------------------------------------------------


def load_invariants(rulebook: Rulebook) -> tuple[tuple[Invariant, ...], tuple[StructuralCheck, ...]]:
    """Parse the rule base's `invariants:` entries; every problem is reported at once, with file and line."""
    places = _places(Path(rulebook.root))
    if len(places) != len(rulebook.invariants):
        places = []  # not the files the rule base was loaded from: report without lines rather than wrong ones
    problems: list[Problem] = []
    invariants: list[Invariant] = []
    checks: list[StructuralCheck] = []
    seen: dict[str, str] = {}
    context = {"manifest": rulebook.manifest}
    entries: tuple[Any, ...] = rulebook.invariants  # as read from YAML: checked here, entry by entry
    for n, raw in enumerate(entries):
        file, index, base = places[n] if n < len(places) else (None, None, ())

        def report(message: str, path: tuple[Any, ...] = (), field: str | None = None, rule: str | None = None) -> None:
            line = index.line(base + path) if index is not None else None
            problems.append(Problem(message, file=file, line=line, field=field, rule=rule))

        if not isinstance(raw, dict):
            report("each invariant is a mapping with id, title, when, then, rationale and basis")
            continue
        ident = raw.get("id") if isinstance(raw.get("id"), str) else None
        if ident in seen:
            report(f"duplicate invariant id (first defined at {seen[ident]})", rule=ident)
            continue
        if ident:
            seen[ident] = f"{file}:{index.line(base) if index else '?'}"
        data = dict(raw)
        line = index.line(base) if index is not None else None
        data.update(file=file or "", line=line)
        if "check" in data:
            checks.append(_validated(StructuralCheck, data, report, ident, context))
            continue
        ok = True
        if "when" in data:
            def condition_problem(problem: ConditionProblem) -> None:
                report(problem.message, ("when",) + problem.path, problem.field, ident)
            when = conditions.parse(data.pop("when"), rulebook.catalog, (), condition_problem)
            ok = when is not None
            data["when"] = when
        claims = _claims(data.pop("then", None), rulebook, report, ident, context)
        if claims is None or not ok:
            continue
        data["then"] = claims
        invariant = _validated(Invariant, data, report, ident, context)
        if invariant is not None:
            _check_sources(invariant, rulebook, report)
        invariants.append(invariant)
    if problems:
        count = len(problems)
        raise RulebookError(f"invariants of {rulebook.root}: {count} problem{'s' if count != 1 else ''}", problems)
    return tuple(i for i in invariants if i is not None), tuple(c for c in checks if c is not None)


def _check_sources(invariant: Invariant, rulebook: Rulebook, report: Callable[..., None]) -> None:
    """The basis says truthfully whether the five papers are among the cited sources (the rule base loader has
    already refused citations of undeclared sources)."""
    kinds = {rulebook.sources[c.source].kind for c in invariant.citations if c.source in rulebook.sources}
    if invariant.basis == "paper" and kinds and "paper" not in kinds:
        report("basis 'paper' cites none of the five papers; an invariant resting on external sources only has "
               "basis 'external'", ("basis",), "basis", invariant.id)
    if invariant.basis == "external" and "paper" in kinds:
        report("basis 'external' cites one of the five papers; use basis 'paper'", ("basis",), "basis", invariant.id)


def _claims(raw: Any, rulebook: Rulebook, report: Callable[..., None], ident: str | None,
            context: dict[str, Any]) -> tuple[Any, ...] | None:
    if not isinstance(raw, list) or not raw:
        report("'then' needs a non-empty list of claims about the decision", ("then",), rule=ident)
        return None
    claims = []
    for i, item in enumerate(raw):
        keys = [k for k in (item if isinstance(item, dict) else {}) if k in CLAIM_BY_KEY]
        if len(keys) != 1 or len(item) != 1:
            report(f"a claim is a mapping with one key, one of {', '.join(CLAIM_BY_KEY)}; got {item!r}"[:200],
                   ("then", i), rule=ident)
            return None
        claim = _validated(CLAIM_BY_KEY[keys[0]], item, lambda m, p=(), f=None, rule=None:  # noqa: ARG005 (report's signature)
                           report(m, ("then", i) + p, f, ident), ident, context)
        if claim is None:
            return None
        if isinstance(claim, AdjunctClaim) and claim.adjunct not in rulebook.manifest.adjuncts:
            report(f"unknown adjunct '{claim.adjunct}' (declared: {', '.join(rulebook.manifest.adjuncts)})",
                   ("then", i, "adjunct"), rule=ident)
            return None
        claims.append(claim)
    return tuple(claims)


def _validated(model: type[BaseModel], data: Any, report: Callable[..., None], ident: str | None,
               context: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data, context=context)
    except ValidationError as err:
        for e in err.errors(include_url=False):
            loc = tuple(e["loc"])
            message = e["msg"]
            if e["type"] == "literal_error":
                got = e["input"]
                message = f"expected one of {e['ctx']['expected']}, got {got!r}"
                if isinstance(got, str):
                    message += did_you_mean(got, [*OPTIONS, *STATUSES])
            elif e["type"] == "extra_forbidden":
                message = f"unknown key {loc[-1]!r}"
            report(message, loc, ".".join(str(p) for p in loc) or None, ident)
        return None


def _places(root: Path) -> list[tuple[str, yamlio.LineIndex, tuple[Any, ...]]]:
    """File, line index and path of every `invariants:` item, in the loader's file order."""
    files = rule_files(root)[1] if root.is_dir() else []
    places = []
    for path in files:
        try:
            data, index = yamlio.load(yamlio.decode_text(path.read_bytes()), limits=RULE_FILE)
        except (yamlio.YamlProblem, OSError):
            continue
        if isinstance(data, dict) and list(data) == ["invariants"] and isinstance(data["invariants"], list):
            name = str(path.relative_to(root.parent))
            places += [(name, index, ("invariants", i)) for i in range(len(data["invariants"]))]
    return places


# --- checking a claim against a decision the engine made ----------------------------------------------------


def failed_claims(invariant: Invariant, decision: Any) -> list[str]:
    """What the decision says against each claim of the invariant (empty: every claim holds)."""
    out = []
    for claim in invariant.then:
        problem = claim_problem(claim, decision)
        if problem:
            out.append(problem)
    return out


def claim_problem(claim: Any, decision: Any) -> str | None:
    """None when the engine's decision satisfies the claim, else what the decision says instead."""
    statuses = decision.statuses()
    if isinstance(claim, StatusClaim):
        bad = [f"{o} is {statuses[o]}" for o in claim.status.options if statuses[o] not in claim.status.allowed]
        return "; ".join(bad) or None
    if isinstance(claim, RankedClaim):
        bad = [f"{o} is not ranked ({statuses[o]})" for o in claim.ranked if o not in decision.ranking]
        return "; ".join(bad) or None
    if isinstance(claim, TopClaim):
        if not decision.ranking:
            return "the ranking is empty"
        return None if decision.ranking[0] in claim.top.allowed else f"the top suggestion is {decision.ranking[0]}"
    if isinstance(claim, RankingNonemptyClaim):
        return None if decision.ranking else "the ranking is empty"
    if isinstance(claim, ExcludesContraindicatedClaim):
        bad = [o for o in decision.ranking if statuses[o] == "contraindicated"]
        return f"ranked although contraindicated: {', '.join(bad)}" if bad else None
    if isinstance(claim, CitedReasonsClaim):
        bad = []
        for option in claim.cited_reasons.options:
            status = statuses[option]
            if status in claim.cited_reasons.statuses and not explained(decision.option(option)):
                bad.append(f"{option} is {status} without a cited reason of that kind")
        return "; ".join(bad) or None
    if isinstance(claim, NotAboveClaim):
        than = claim.not_above.than
        bad = [f"{o} is {statuses[o]}, above {than} ({statuses[than]})" for o in claim.not_above.options
               if STATUS_RANK[statuses[o]] > STATUS_RANK[statuses[than]]]
        return "; ".join(bad) or None
    if isinstance(claim, AdjunctClaim):
        return None if any(a.adjunct == claim.adjunct for a in decision.adjuncts) else \
            f"the adjunct '{claim.adjunct}' is not listed"
    raise TypeError(f"unknown claim {claim!r}")


def explained(option: Any) -> bool:
    """Whether an option's status rests on cited reasons of the kind that produces it (docs/decision.md section 2)."""
    def cited(reason: Any) -> bool:
        return bool(reason.citations) and all(c.locator.strip() for c in reason.citations)

    reasons = [r for r in option.reasons if cited(r)]
    lifts = {r.detail for r in reasons if r.effect == "indicates"}
    status = option.status
    if status == "recommended":
        return "strong" in lifts
    if status == "appropriate":
        limited = any(r.effect == "limits" for r in reasons)
        return "moderate" in lifts or ("strong" in lifts and limited)
    if status == "caution":
        caps = [r for r in reasons if (r.effect == "contraindicates" and r.detail == "relative")
                or (r.effect == "conflict" and r.detail != "note")]
        return bool(lifts) and bool(caps)
    if status == "contraindicated":
        return any(r.effect == "contraindicates" and r.detail == "absolute" for r in reasons)
    return True
