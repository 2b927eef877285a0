"""From fired rules to a decision: one status per option, a ranking, cited reasons, conflicts, adjuncts, missing data.

The resolution semantics are written down in docs/decision.md; in short:
- every option starts at `not_recommended`;
- indications raise it (strong: `recommended`, moderate: `appropriate`), the highest wins;
- limits lower it, the lowest wins and beats any indication: an absolute contraindication makes it
  `contraindicated`; a relative contraindication or a conflict with caution caps it at `caution`;
  advice against caps it at `not_recommended`; a limit caps it at `appropriate` (the lesser of two choices);
- options are ranked by status, then by the rule base's preferences, then by the manifest's order; among options
  nothing lifts yet (`not_recommended`), those some answer to the unknown fields could still lift come first.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .conditions import fields_of
from .fields import FieldCatalog
from .frameworks import Summary
from .rulebook import (
    Adjunct,
    AdviseAgainst,
    Conflict,
    Contraindicate,
    Indicate,
    Limit,
    Prefer,
    Rule,
    Rulebook,
    effect_options,
)
from .scores import ScoreResult
from .vocabulary import STATUS_RANK, STATUSES, Citation, Option, Status

_OUT = ConfigDict(frozen=True)
EffectName = Literal["indicates", "contraindicates", "advises_against", "limits", "conflict", "prefers"]


class Reason(BaseModel):
    """Why an option has its status: one effect of one fired rule, with the passages it rests on."""

    model_config = _OUT
    rule: str = Field(title="Rule", description="id of the rule that gives this reason")
    effect: EffectName = Field(title="Effect", description="what the rule does to the option")
    detail: str | None = Field(default=None, title="Detail",
                                  description="strength, severity, or the options preferred over")
    text: str = Field(title="Reason", description="the reason in plain words")
    citations: tuple[Citation, ...] = Field(title="Citations", description="where in the sources the reason rests")


class StatusRange(BaseModel):
    """The statuses a provisional option can still reach once its unknown fields are known (docs/decision.md, 4)."""

    model_config = _OUT
    best: Status = Field(title="Best", description="the best status some answers to the unknown fields could give")
    worst: Status = Field(title="Worst", description="the worst status some answers to the unknown fields could give")
    toward_best: tuple[str, ...] = Field(title="Toward best", description="unknown fields whose answer could lift "
                                         "the option above its status")
    toward_worst: tuple[str, ...] = Field(title="Toward worst", description="unknown fields whose answer could "
                                          "lower the option below its status")


class OptionDecision(BaseModel):
    """One treatment option, graded."""

    model_config = _OUT
    option: Option = Field(title="Option", description="option code of the data dictionary")
    status: Status = Field(title="Status", description="recommended > appropriate > caution > not_recommended > "
                           "contraindicated")
    provisional: bool = Field(title="Provisional",
                              description="some unknown field, once known, could change this status")
    reasons: tuple[Reason, ...] = Field(title="Reasons", description="what limits the option first, then what "
                                        "lifts it; source conflicts that only inform last")
    # Absent unless provisional, so that a settled option (and every decision on a complete case) reads as before.
    range: StatusRange | None = Field(default=None, exclude_if=lambda value: value is None, title="Range",
                                      description="only on a provisional option: the best and worst status the "
                                      "unknown fields can still give it, and the fields that move it toward each")
    # Absent on a flat case and on each lesion's own decision: only the patient's summary of a case in lesion form
    # says where an option reaches its status.
    levels: tuple[str, ...] | None = Field(
        default=None, exclude_if=lambda value: value is None, title="Levels",
        description="on the patient summary of a case in lesion form: the levels where the option reaches this status")


class RulebookRef(BaseModel):
    """The rule base that made the decision: with the case, enough to reproduce it."""

    model_config = _OUT
    name: str = Field(title="Name", description="the rule base's name")
    version: str = Field(title="Version", description="the rule base's declared version")
    sha256: str = Field(title="Content hash", description="sha256 of the rule base's content (rules, sources, "
                        "scores, checks), independent of comments and layout")


class MissingField(BaseModel):
    """An unknown case field some value of which, the other fields left as they are, changes some status."""

    model_config = _OUT
    field: str = Field(title="Field", description="case field name of the data dictionary")
    affects: tuple[Option, ...] = Field(title="Affects", description="options whose status some value of it "
                                        "changes")
    rules: tuple[str, ...] = Field(title="Rules", description="rules whose firing such a value changes, among "
                                   "those that can change a status")
    levels: tuple[str, ...] | None = Field(
        default=None, exclude_if=lambda value: value is None, title="Levels",
        description="case in lesion form: the levels whose decision lists it (on a lesion's own "
                    "decision: the other level whose field it is; absent for the lesion's own or the patient's field)")


class ConflictNote(BaseModel):
    """The sources disagree about some options for this case."""

    model_config = _OUT
    rule: str = Field(title="Rule", description="id of the conflict rule")
    options: tuple[Option, ...] = Field(title="Options", description="the options the sources disagree about")
    caution: bool = Field(title="Caution", description="true when the conflict caps the options at caution; "
                          "false when it only informs")
    text: str = Field(title="Disagreement", description="who says what, in plain words")
    citations: tuple[Citation, ...] = Field(title="Citations", description="a passage from each side")
    levels: tuple[str, ...] | None = Field(
        default=None, exclude_if=lambda value: value is None, title="Levels",
        description="on the patient summary of a case in lesion form: the levels where the sources disagree")


class AdjunctNote(BaseModel):
    """Something to do besides the chosen option (biopsy, radiotherapy, follow-up, ...)."""

    model_config = _OUT
    rule: str = Field(title="Rule", description="id of the rule that adds the adjunct")
    adjunct: str = Field(title="Adjunct", description="adjunct code of the rule base")
    title: str = Field(title="Title", description="the adjunct's name for a reader")
    options: tuple[Option, ...] = Field(title="Options", description="the options it goes with; empty when it "
                                        "goes with any")
    text: str = Field(title="Reason", description="why, in plain words")
    citations: tuple[Citation, ...] = Field(title="Citations", description="where in the sources it rests")
    levels: tuple[str, ...] | None = Field(
        default=None, exclude_if=lambda value: value is None, title="Levels",
        description="on the patient summary of a case in lesion form: the levels it goes with")


class Because(BaseModel):
    """A fired rule that derived a fact."""

    model_config = _OUT
    rule: str = Field(title="Rule", description="id of the deriving rule")
    text: str = Field(title="Reason", description="the rule's reason in plain words")
    citations: tuple[Citation, ...] = Field(title="Citations", description="where in the sources it rests")


class Derivation(BaseModel):
    """An intermediate conclusion of the forward chaining: a derived fact that holds, why, and who used it."""

    model_config = _OUT
    fact: str = Field(title="Fact", description="derived fact name of the rule base")
    title: str = Field(title="Title", description="the fact in words")
    because: tuple[Because, ...] = Field(title="Because", description="the fired rules that derived it")
    used_by: tuple[str, ...] = Field(title="Used by", description="fired rules whose condition tests it")


class Decision(BaseModel):
    """The engine's answer for one case, as the data dictionary lays it out (plus `derived` and `fired`).

    Immutable. `options` holds all six options, graded (`status`, `provisional`, cited `reasons`), best first;
    `ranking` the options not contraindicated, best first; `missing` the unknown fields that could change a
    status; `rulebook` the name, version and content hash of the rule base that made it.

    >>> from spinemets import evaluate, load_vignette
    >>> document = load_vignette("teach-sins-unstable-t12")  # a shipped teaching case and its board's answer
    >>> decision = evaluate(document.case)
    >>> decision.case_id == document.case.id, len(decision.options)
    (True, 6)
    >>> decision.top == decision.ranking[0] == document.board.expected_top
    True
    >>> reason = decision.option(decision.top).reasons[0]  # each reason names its rule and its sources
    >>> bool(reason.rule and reason.citations)
    True

    In a notebook the decision shows itself as a table of statuses with the reasons and their citations
    (`_repr_html_`, `_repr_markdown_`).
    """

    model_config = _OUT
    case_id: str = Field(title="Case id", description="the case's `id`")
    rulebook: RulebookRef = Field(title="Rule base", description="name, version and content hash of the rule base")
    options: tuple[OptionDecision, ...] = Field(title="Options", description="all six, in ranking order, then the "
                                                "contraindicated ones")
    ranking: tuple[Option, ...] = Field(title="Ranking", description="the options not contraindicated, best first; "
                                        "the first is the top suggestion")
    missing: tuple[MissingField, ...] = Field(title="Missing", description="unknown fields some value of which, "
                                              "the others left as they are, changes a status, and that are "
                                              "relevant to the case's situation, with the options they affect")
    conflicts: tuple[ConflictNote, ...] = Field(title="Conflicts", description="disagreements between the "
                                                "sources that this case triggers")
    adjuncts: tuple[AdjunctNote, ...] = Field(title="Adjuncts", description="what to do besides the chosen option")
    frameworks: dict[str, Annotated[ScoreResult | Summary, Field(discriminator="kind")]] = Field(
                                       default_factory=dict, title="Frameworks",
                                       description="scores (SINS, revised Tokuhashi, Tomita) with their "
                                       "components or the range unknowns leave, and the NOMS summary")
    derived: tuple[Derivation, ...] = Field(default=(), title="Derived facts",
                                            description="derived facts that hold, and why")
    fired: tuple[str, ...] = Field(default=(), title="Fired rules", description="every rule durable-rules fired, by id")
    # Only on a case in lesion form (absent otherwise, so a flat decision reads exactly as before): each lesion's
    # own decision, and the patient's plan. The keys above then summarise the patient (docs/decision.md, Lesions).
    lesions: tuple[LesionDecision, ...] | None = Field(
        default=None, exclude_if=lambda value: value is None, title="Lesions",
        description="each lesion's own graded, cited decision, from the most cranial level down")
    plan: Plan | None = Field(default=None, exclude_if=lambda value: value is None, title="Plan",
                              description="the patient's plan: each level's advice, procedures and sessions, the "
                              "levels radiotherapy covers, patient-level reasons")

    def option(self, code: str) -> OptionDecision:
        """The graded option with this code (one of `spinemets.OPTIONS`); KeyError for another code."""
        found = next((o for o in self.options if o.option == code), None)
        if found is None:
            raise KeyError(f"no option {code!r}; options: {', '.join(o.option for o in self.options)}")
        return found

    def rests_on(self, rule_id: str) -> tuple[Derivation, ...]:
        """The derived facts a fired rule's condition used: how a reason depends on an earlier conclusion (an
        estimate from a score, say), which its own text does not show."""
        return tuple(d for d in self.derived if rule_id in d.used_by)

    @property
    def top(self) -> str:
        """The top suggestion: the first of `ranking` (IndexError when every option is contraindicated)."""
        return self.ranking[0]

    def statuses(self) -> dict[str, str]:
        """Option code -> status, best first.

        >>> from spinemets import STATUSES, evaluate
        >>> statuses = evaluate({"id": "demo"}).statuses()
        >>> len(statuses), set(statuses.values()) <= set(STATUSES)
        (6, True)
        """
        return {o.option: o.status for o in self.options}

    def to_dict(self) -> dict[str, Any]:
        """The decision as plain JSON-ready data (dicts, lists, strings, numbers), the same content as `to_json`.

        >>> import json
        >>> from spinemets import evaluate
        >>> decision = evaluate({"id": "demo", "primary_tumor": "lung"})
        >>> data = decision.to_dict()
        >>> data["case_id"], data["rulebook"]["sha256"] == decision.rulebook.sha256
        ('demo', True)
        >>> data == json.loads(decision.to_json())
        True
        """
        data: dict[str, Any] = self.model_dump(mode="json")
        return data

    def to_json(self) -> str:
        """The decision as indented JSON, the data dictionary's format (what `spinemets evaluate --json` prints;
        `spinemets schema decision` gives its JSON Schema). `Decision.model_validate_json` reads it back.

        >>> from spinemets import Decision, evaluate
        >>> decision = evaluate({"id": "demo"})
        >>> Decision.model_validate_json(decision.to_json()) == decision
        True
        """
        return self.model_dump_json(indent=2) + "\n"

    def _repr_markdown_(self) -> str:
        """Jupyter's Markdown view: the top suggestion, each option's status, the reasons with their citations."""
        from .decision_display import markdown

        return markdown(self)

    def _repr_html_(self) -> str:
        """Jupyter's HTML view, the same content as `_repr_markdown_`; every text from the case or the rule base is
        escaped."""
        from .decision_display import to_html

        return to_html(self)


# --- status semantics -------------------------------------------------------------------------------------

FLOOR = {"strong": "recommended", "moderate": "appropriate"}
BASELINE = "not_recommended"

# Ranks as ints, higher is better. A floor is always above the baseline and a ceiling always below the
# top (FLOOR, limits_of), so the baseline and the top double as "no floor" and "no ceiling".
_NO_FLOOR, _NO_CAP = STATUS_RANK[BASELINE], STATUS_RANK["recommended"]
_STATUS_OF_RANK = {rank: status for status, rank in STATUS_RANK.items()}


def limits_of(effect: Any) -> tuple[str, str | None]:
    """('floor'|'ceiling', status) that an effect imposes on each option it names."""
    if isinstance(effect, Indicate):
        return "floor", FLOOR[effect.strength]
    if isinstance(effect, Contraindicate):
        return "ceiling", "contraindicated" if effect.severity == "absolute" else "caution"
    if isinstance(effect, AdviseAgainst):
        return "ceiling", "not_recommended"
    if isinstance(effect, Limit):
        return "ceiling", effect.at_most
    if isinstance(effect, Conflict):
        return "ceiling", "caution"
    return "none", None


def resolve_status(floors: Iterable[str], ceilings: Iterable[str]) -> str:
    """The highest floor (baseline not_recommended), capped by the lowest ceiling."""
    rank = STATUS_RANK
    base = max(floors, key=rank.__getitem__, default=BASELINE)
    if rank[base] < rank[BASELINE]:
        base = BASELINE
    cap = min(ceilings, key=rank.__getitem__, default="recommended")
    return cap if rank[cap] < rank[base] else base


def _bounds(rules: Iterable[Rule], option: str) -> tuple[list[str], list[str]]:
    floors: list[str] = []
    ceilings: list[str] = []
    for rule in rules:
        for effect in rule.then:
            if option in effect_options(effect):
                kind, status = limits_of(effect)
                assert status is not None  # every effect that names an option limits it
                (floors if kind == "floor" else ceilings).append(status)
    return floors, ceilings


def rank_pair(rule: Rule, option: str) -> tuple[int, int]:
    """(floor, cap) ranks a rule imposes on an option, "no floor" and "no cap" when it imposes none."""
    floors, ceilings = _bounds([rule], option)
    return (max((STATUS_RANK[s] for s in floors), default=_NO_FLOOR),
            min((STATUS_RANK[s] for s in ceilings), default=_NO_CAP))


def status_of(rules: Iterable[Rule], option: str) -> str:
    floors, ceilings = _bounds(rules, option)
    return resolve_status(floors, ceilings)


def _affects(rule: Rule, option: str) -> bool:
    return any(option in effect_options(e) for e in rule.then)


def pivotal_rules(option: str, certain: Sequence[Rule], undecided: Sequence[Rule]) -> list[Rule]:
    """Undecided rules whose firing or not can change the option's status, in some extreme of the others."""
    relevant = [r for r in undecided if _affects(r, option)]
    pivotal = []
    for rule in relevant:
        others = [r for r in relevant if r is not rule]
        raisers = [r for r in others if _bounds([r], option)[0]]
        lowerers = [r for r in others if _bounds([r], option)[1]]
        contexts: tuple[list[Rule], ...] = ([], others, raisers, lowerers)
        if any(status_of([*certain, *ctx, rule], option) != status_of([*certain, *ctx], option) for ctx in contexts):
            pivotal.append(rule)
    return pivotal


def rank_options(statuses: dict[str, str], preferences: Iterable[tuple[str, str]], order: Sequence[str],
                 spans: Mapping[str, tuple[int, int]] | None = None) -> list[str]:
    """Non-contraindicated options: by status, then preferences among equals, then manifest order; among options
    at `not_recommended` (nothing lifts them yet), those that some answer to the unknown fields could still lift
    (`spans`: the (worst, best) ranks the unknown fields leave each option) come before those that nothing can.
    A settled option's range is its status, so without unknowns the range changes nothing."""
    edges = set(preferences)
    position = {o: i for i, o in enumerate(order)}

    def by_range(option: str) -> tuple[bool, int]:
        liftable = spans is not None and spans[option][1] > _NO_FLOOR
        return not liftable, position[option]
    ranking: list[str] = []
    for status in STATUSES[:-1]:
        group = [o for o in order if statuses[o] == status]
        ranged = spans is not None and status == BASELINE
        while group:
            free = [o for o in group if not any((p, o) in edges for p in group if p != o)]
            # a preference cycle falls back to the same order over the whole group
            pick = min(free or group, key=by_range) if ranged else (free or group)[0]
            ranking.append(pick)
            group.remove(pick)
    return ranking


def span_of(certain: Sequence[tuple[int, int]], undecided: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """(worst, best) status ranks an option can reach, from the (floor, cap) ranks of the certain rules and of the
    undecided ones that affect it. Every completion of the unknown fields fires all the certain rules and some of
    the undecided ones, and status only rises with floors and falls with caps: the best fires every undecided
    floor and no undecided cap, the worst the reverse."""
    floor = max([f for f, _ in certain], default=_NO_FLOOR)
    cap = min([c for _, c in certain], default=_NO_CAP)
    high = max([f for f, _ in undecided], default=_NO_FLOOR)
    low = min([c for _, c in undecided], default=_NO_CAP)
    best_floor = high if high > floor else floor
    worst_cap = low if low < cap else cap
    return (worst_cap if worst_cap < floor else floor), (cap if cap < best_floor else best_floor)


def toward_ends(pivots: Iterable[tuple[tuple[int, int], bool, Iterable[str]]], unknown: set[str],
                asks: Mapping[str, tuple[str, ...]]) -> tuple[set[str], set[str]]:
    """Unknown fields of the pivotal rules, split by the way their answer can move the option: toward its best (a
    lifting rule that has not fired, a limiting one that has) or toward its worst (the reverse); a field whose
    question (rules/questions.yaml) is open is replaced by the fields that decide its situation, one that the case
    rules out is dropped, as for `missing`."""
    up: set[str] = set()
    down: set[str] = set()
    for (floor, cap), fired, inputs in pivots:
        names = {asked for name in inputs if name in unknown for asked in asks.get(name, (name,))}
        if floor > _NO_FLOOR:
            (down if fired else up).update(names)
        if cap < _NO_CAP:
            (up if fired else down).update(names)
    return up, down


# --- the decision -----------------------------------------------------------------------------------------


Exact = Mapping[str, tuple[Iterable[str], Iterable[str]]]
# Given the pivotal rules (the only ones whose firing can change a status) and the unknown fields they read, the
# fields some value of which alone changes a status, with the options and rules it changes (MissingProbe.changes).
ExactProbe = Callable[[frozenset[str], frozenset[str]], Exact]


def decide(rulebook: Rulebook, case_id: str, fired: Iterable[str], undecided: Iterable[str],
           unknown_inputs: Iterable[str], frameworks: dict[str, ScoreResult | Summary] | None = None,
           asks: Mapping[str, tuple[str, ...]] | None = None, exact: ExactProbe | None = None) -> Decision:
    """Build the decision from the rules that fired and those still undecided by unknown fields.

    `asks` (Engine.questions_for) says what to ask in place of an unknown field whose relevance the rule base
    qualifies: nothing while the case rules its situation out, or the fields that decide the situation.
    `exact` finds the unknown fields some value of which alone changes a status (MissingProbe); `missing` is those
    the questions do not set aside. Without it, `missing` is the wider set the pivotal rules read."""
    by_id = rulebook.rule_by_id
    fired_rules = sorted((by_id[r] for r in fired), key=lambda r: r.id)
    undecided_ids = set(undecided)
    undecided_rules = [by_id[r] for r in sorted(undecided_ids)]
    certain = [r for r in fired_rules if r.id not in undecided_ids]
    order = rulebook.option_order
    catalog = rulebook.catalog
    unknown = set(unknown_inputs)
    asks = asks or {}

    statuses = {o: status_of(fired_rules, o) for o in order}
    provisional: dict[str, bool] = {}
    missing: dict[str, dict[str, set[str]]] = {}
    spans: dict[str, tuple[int, int]] = {}
    ends: dict[str, tuple[set[str], set[str]]] = {}
    fired_ids = {r.id for r in fired_rules}
    candidates: set[str] = set()
    pivotal: set[str] = set()
    for option in order:
        pivots = pivotal_rules(option, certain, undecided_rules)
        provisional[option] = bool(pivots)
        candidates.update(name for rule in pivots for name in conditions_inputs(rule, catalog) if name in unknown)
        pivotal.update(rule.id for rule in pivots)
        spans[option] = span_of([rank_pair(r, option) for r in certain],
                                [rank_pair(r, option) for r in undecided_rules if _affects(r, option)])
        if pivots:
            ends[option] = toward_ends(((rank_pair(r, option), r.id in fired_ids, conditions_inputs(r, catalog))
                                        for r in pivots), unknown, asks)
        for rule in pivots if exact is None else ():
            for name in conditions_inputs(rule, catalog):
                if name in unknown:
                    for asked in asks.get(name, (name,)):
                        entry = missing.setdefault(asked, {"affects": set(), "rules": set()})
                        entry["affects"].add(option)
                        entry["rules"].add(rule.id)
    if exact is not None:
        missing = _exact_missing(exact(frozenset(candidates), frozenset(pivotal)), asks)

    field_order = {name: i for i, name in enumerate(catalog.specs)}
    field_order.setdefault("levels", -1)
    preferences = [(e.prefer, worse) for r in fired_rules for e in r.then if isinstance(e, Prefer) for worse in e.over]
    ranking = rank_options(statuses, preferences, order, spans)
    contraindicated = [o for o in order if statuses[o] == "contraindicated"]
    options = tuple(OptionDecision(option=o, status=statuses[o], provisional=provisional[o],
                                   reasons=_reasons(o, fired_rules),
                                   range=_range(spans[o], ends[o], field_order) if provisional[o] else None)
                    for o in ranking + contraindicated)
    missing_out = tuple(
        MissingField(field=name, affects=tuple(o for o in order if o in entry["affects"]),
                     rules=tuple(sorted(entry["rules"])))
        for name, entry in sorted(missing.items(), key=lambda kv: field_order.get(kv[0], len(field_order))))
    conflicts = tuple(ConflictNote(rule=r.id, options=e.conflict, caution=e.caution, text=r.reason_text(e),
                                   citations=r.citations)
                      for r in fired_rules for e in r.then if isinstance(e, Conflict))
    adjuncts = tuple(AdjunctNote(rule=r.id, adjunct=e.adjunct, title=rulebook.manifest.adjuncts[e.adjunct].title,
                                 options=e.options, text=r.reason_text(e), citations=r.citations)
                     for r in fired_rules for e in r.then if isinstance(e, Adjunct)
                     if not e.options or any(statuses[o] != "contraindicated" for o in e.options))
    m = rulebook.manifest
    return Decision(case_id=case_id, rulebook=RulebookRef(name=m.name, version=m.version, sha256=rulebook.sha256),
                    options=options, ranking=tuple(ranking), missing=missing_out, conflicts=conflicts,
                    adjuncts=adjuncts, frameworks=frameworks or {})


def _exact_missing(exact: Exact, asks: Mapping[str, tuple[str, ...]]) -> dict[str, dict[str, set[str]]]:
    """The exact single-field changes, less the fields whose question (rules/questions.yaml) is not TRUE: a
    situation the case rules out is not asked about, and an open one is found out first through its own fields,
    which are listed when they themselves change a status."""
    return {name: {"affects": set(affects), "rules": set(rules)} for name, (affects, rules) in exact.items()
            if name not in asks}


def _range(span: tuple[int, int], ends: tuple[set[str], set[str]], field_order: Mapping[str, int]) -> StatusRange:
    def ordered(names: set[str]) -> tuple[str, ...]:
        return tuple(sorted(names, key=lambda n: (field_order.get(n, len(field_order)), n)))
    worst, best = span
    return StatusRange(best=_STATUS_OF_RANK[best], worst=_STATUS_OF_RANK[worst], toward_best=ordered(ends[0]),
                       toward_worst=ordered(ends[1]))


class DerivationPlan:
    """For each derived fact, its deriving rules (with their reasons, built once) and the rules that test it."""

    def __init__(self, rulebook: Rulebook) -> None:
        rules = sorted(rulebook.active_rules, key=lambda r: r.id)
        self._facts = tuple(
            (fact, info.title,
             tuple((r.id, Because(rule=r.id, text=r.text, citations=r.citations)) for r in rules if fact in r.derives),
             tuple(r.id for r in rules if fact in fields_of(r.when)))
            for fact, info in rulebook.manifest.facts.items())

    def derivations(self, fired: frozenset[str]) -> tuple[Derivation, ...]:
        """The derived facts that hold (some deriver fired), in manifest order, with their rules and users."""
        found = []
        for fact, title, derivers, testers in self._facts:
            because = tuple(b for rule_id, b in derivers if rule_id in fired)
            if because:
                found.append(Derivation(fact=fact, title=title, because=because,
                                        used_by=tuple(r for r in testers if r in fired)))
        return tuple(found)


def conditions_inputs(rule: Rule, catalog: FieldCatalog) -> frozenset[str]:
    """Case input fields a rule's condition rests on, through computed values, scores and derived facts."""
    return frozenset().union(*(catalog.inputs_of(n) for n in fields_of(rule.when)))


_EFFECT_NAMES: dict[type, EffectName] = {Indicate: "indicates", Contraindicate: "contraindicates",
                                         AdviseAgainst: "advises_against", Limit: "limits", Conflict: "conflict"}
# What limits an option first, then what lifts it; a conflict that only informs (detail "note") comes last.
_REASON_ORDER = {"contraindicates": 0, "advises_against": 1, "conflict": 2, "limits": 3, "indicates": 4, "prefers": 5,
                 "note": 6}


def _reason_rank(reason: Reason) -> int:
    return _REASON_ORDER["note" if reason.detail == "note" else reason.effect]


def _reasons(option: str, rules: Sequence[Rule]) -> tuple[Reason, ...]:
    reasons = []
    for rule in rules:
        for effect in rule.then:
            if isinstance(effect, Prefer):
                if effect.prefer == option:
                    reasons.append(Reason(rule=rule.id, effect="prefers", detail="over " + ", ".join(effect.over),
                                          text=rule.reason_text(effect), citations=rule.citations))
                continue
            in_conflict = isinstance(effect, Conflict) and option in effect.conflict
            if option not in effect_options(effect) and not in_conflict:
                continue
            detail = (getattr(effect, "strength", None) or getattr(effect, "severity", None)
                      or getattr(effect, "at_most", None))
            if isinstance(effect, Conflict) and not effect.caution:
                detail = "note"
            reasons.append(Reason(rule=rule.id, effect=_EFFECT_NAMES[type(effect)], detail=detail,
                                  text=rule.reason_text(effect), citations=rule.citations))
    reasons.sort(key=lambda r: (_reason_rank(r), r.rule))
    return tuple(reasons)


# --- the same decision, precompiled per rule base ---------------------------------------------------------



class _RulePlan:
    """What one rule contributes to a decision once fired, worked out once per rule base."""

    __slots__ = ("adjuncts", "affects", "cap", "conflicts", "floor", "id", "inputs", "preferences", "reasons")

    def __init__(self, rule: Rule, rulebook: Rulebook) -> None:
        self.id = rule.id
        order = rulebook.option_order
        self.floor: list[int] = []  # by option position: highest floor rank the rule imposes
        self.cap: list[int] = []    # lowest ceiling rank
        for option in order:
            floors, ceilings = _bounds([rule], option)
            self.floor.append(max((STATUS_RANK[s] for s in floors), default=_NO_FLOOR))
            self.cap.append(min((STATUS_RANK[s] for s in ceilings), default=_NO_CAP))
        self.affects = tuple(i for i in range(len(order)) if self.floor[i] > _NO_FLOOR or self.cap[i] < _NO_CAP)
        self.reasons = tuple(_reasons(o, [rule]) for o in order)
        self.preferences = tuple((e.prefer, worse) for e in rule.then if isinstance(e, Prefer) for worse in e.over)
        self.conflicts = tuple(ConflictNote(rule=rule.id, options=e.conflict, caution=e.caution,
                                            text=rule.reason_text(e), citations=rule.citations)
                               for e in rule.then if isinstance(e, Conflict))
        manifest = rulebook.manifest
        self.adjuncts = tuple((AdjunctNote(rule=rule.id, adjunct=e.adjunct, title=manifest.adjuncts[e.adjunct].title,
                                           options=e.options, text=rule.reason_text(e), citations=rule.citations),
                               e.options) for e in rule.then if isinstance(e, Adjunct))
        self.inputs = conditions_inputs(rule, rulebook.catalog)


def _ranks(rules: Sequence[_RulePlan], i: int) -> int:
    """Status rank of the option at position `i` when exactly `rules` fire (`status_of` on ints)."""
    floor = max([r.floor[i] for r in rules], default=_NO_FLOOR)
    cap = min([r.cap[i] for r in rules], default=_NO_CAP)
    return cap if cap < floor else floor


class DecisionPlan:
    """`decide`, with everything that depends only on the rule base worked out once.

    A decision is built per case from per-rule lookups and prebuilt (immutable, shared) reasons and notes
    instead of re-deriving them from the effects for every option and every status tried. (The models are
    still built through validation: for these small models pydantic-core validates faster than
    `model_construct` assembles.) The output is byte-identical to `decide`
    (tests/test_performance_equivalence.py).
    """

    def __init__(self, rulebook: Rulebook) -> None:
        self.order = rulebook.option_order
        self.rules = {r.id: _RulePlan(r, rulebook) for r in rulebook.active_rules}
        m = rulebook.manifest
        self.ref = RulebookRef(name=m.name, version=m.version, sha256=rulebook.sha256)
        field_order = {name: i for i, name in enumerate(rulebook.catalog.specs)}
        field_order.setdefault("levels", -1)
        self._field_order = field_order

    def ranking(self, fired: Iterable[str], undecided: Iterable[str] = ()) -> tuple[dict[str, str], list[str]]:
        """Statuses and ranking alone: all the what-if sweep compares (the same ranking as `decide` when given the
        same undecided rules)."""
        rules = [self.rules[r] for r in sorted(fired)]
        statuses = {o: _STATUS_OF_RANK[_ranks(rules, i)] for i, o in enumerate(self.order)}
        open_ids = set(undecided)
        spans = None
        if open_ids:
            certain = [r for r in rules if r.id not in open_ids]
            open_rules = [self.rules[r] for r in open_ids]
            spans = {o: span_of([(r.floor[i], r.cap[i]) for r in certain],
                                [(r.floor[i], r.cap[i]) for r in open_rules if i in r.affects])
                     for i, o in enumerate(self.order)}
        return statuses, rank_options(statuses, [p for r in rules for p in r.preferences], self.order, spans)

    def decide(self, case_id: str, fired: Iterable[str], undecided: Iterable[str], unknown_inputs: Iterable[str],
               frameworks: dict[str, ScoreResult | Summary] | None = None,
               asks: Mapping[str, tuple[str, ...]] | None = None, exact: ExactProbe | None = None) -> Decision:
        plans = self.rules
        asks = asks or {}
        fired_rules = [plans[r] for r in sorted(fired)]
        fired_ids = {r.id for r in fired_rules}
        undecided_ids = set(undecided)
        undecided_rules = [plans[r] for r in sorted(undecided_ids)]
        certain = [r for r in fired_rules if r.id not in undecided_ids]
        order = self.order
        unknown = set(unknown_inputs)

        statuses = {o: _STATUS_OF_RANK[_ranks(fired_rules, i)] for i, o in enumerate(order)}
        provisional: dict[str, bool] = {}
        missing: dict[str, dict[str, set[str]]] = {}
        spans: dict[str, tuple[int, int]] = {}
        ends: dict[str, tuple[set[str], set[str]]] = {}
        relevant: list[list[_RulePlan]] = [[] for _ in order]
        for rule in undecided_rules:
            for i in rule.affects:
                relevant[i].append(rule)
        candidates: set[str] = set()
        pivotal: set[str] = set()
        for i, option in enumerate(order):
            pivots = _pivotal(i, certain, relevant[i])
            provisional[option] = bool(pivots)
            for rule in pivots:
                candidates.update(rule.inputs & unknown)
                pivotal.add(rule.id)
            if not relevant[i]:
                rank = STATUS_RANK[statuses[option]]
                spans[option] = (rank, rank)
                continue
            spans[option] = span_of([(r.floor[i], r.cap[i]) for r in certain if i in r.affects],
                                    [(r.floor[i], r.cap[i]) for r in relevant[i]])
            if pivots:
                ends[option] = toward_ends((((r.floor[i], r.cap[i]), r.id in fired_ids, r.inputs) for r in pivots),
                                           unknown, asks)
            for rule in pivots if exact is None else ():
                for name in rule.inputs:
                    if name in unknown:
                        for asked in asks.get(name, (name,)):
                            entry = missing.setdefault(asked, {"affects": set(), "rules": set()})
                            entry["affects"].add(option)
                            entry["rules"].add(rule.id)
        if exact is not None:
            missing = _exact_missing(exact(frozenset(candidates), frozenset(pivotal)), asks)

        field_order = self._field_order
        ranking = rank_options(statuses, [p for r in fired_rules for p in r.preferences], order, spans)
        contraindicated = [o for o in order if statuses[o] == "contraindicated"]
        position = {o: i for i, o in enumerate(order)}
        options = []
        for o in ranking + contraindicated:
            i = position[o]
            reasons = [reason for r in fired_rules for reason in r.reasons[i]]
            reasons.sort(key=_reason_key)
            options.append(OptionDecision(option=o, status=statuses[o], provisional=provisional[o],
                                          reasons=tuple(reasons),
                                          range=_range(spans[o], ends[o], field_order) if provisional[o] else None))
        missing_out = tuple(
            MissingField(field=name, affects=tuple(o for o in order if o in entry["affects"]),
                         rules=tuple(sorted(entry["rules"])))
            for name, entry in sorted(missing.items(), key=lambda kv: field_order.get(kv[0], len(field_order))))
        conflicts = tuple(note for r in fired_rules for note in r.conflicts)
        adjuncts = tuple(note for r in fired_rules for note, tied in r.adjuncts
                         if not tied or any(statuses[o] != "contraindicated" for o in tied))
        return Decision(case_id=case_id, rulebook=self.ref, options=tuple(options), ranking=tuple(ranking),
                        missing=missing_out, conflicts=conflicts, adjuncts=adjuncts, frameworks=frameworks or {})


def _reason_key(reason: Reason) -> tuple[int, str]:
    return _reason_rank(reason), reason.rule


def _pivotal(i: int, certain: Sequence[_RulePlan], relevant: Sequence[_RulePlan]) -> list[_RulePlan]:
    """`pivotal_rules` for the option at position `i`, on ranks, among the undecided rules that affect it.

    Whether a rule is pivotal depends only on its own (floor, cap) and on those of the others, so rules with
    the same pair are decided once: a case with dozens of undecided rules has only a few distinct pairs.
    For each pair, the backgrounds (none of the other relevant rules, all of them, those that lift, those
    that limit) are folded on top of the certain rules; the pair is pivotal when adding it changes
    `cap if cap < floor else floor` on some background.
    """
    if not relevant:
        return []
    base_floor = max([r.floor[i] for r in certain], default=_NO_FLOOR)
    base_cap = min([r.cap[i] for r in certain], default=_NO_CAP)
    counts: dict[tuple[int, int], int] = {}
    for r in relevant:
        pair = (r.floor[i], r.cap[i])
        counts[pair] = counts.get(pair, 0) + 1
    pivotal_pairs = set()
    for pair, count in counts.items():
        f, c = pair
        all_f = lift_f = limit_f = base_floor
        all_c = lift_c = limit_c = base_cap
        for (fm, cm) in counts:  # comparisons, not max()/min(): this is the hot loop
            if (fm, cm) == pair and count == 1:
                continue  # the rule itself; another rule with the same pair is one of the others
            if fm > all_f:
                all_f = fm
            if cm < all_c:
                all_c = cm
            if fm > _NO_FLOOR:
                if fm > lift_f:
                    lift_f = fm
                if cm < lift_c:
                    lift_c = cm
            if cm < _NO_CAP:
                if fm > limit_f:
                    limit_f = fm
                if cm < limit_c:
                    limit_c = cm
        for floor, cap in ((base_floor, base_cap), (all_f, all_c), (lift_f, lift_c), (limit_f, limit_c)):
            without = cap if cap < floor else floor
            with_f = f if f > floor else floor
            with_c = c if c < cap else cap
            if (with_c if with_c < with_f else with_f) != without:
                pivotal_pairs.add(pair)
                break
    return [r for r in relevant if (r.floor[i], r.cap[i]) in pivotal_pairs]


from .lesion_decision import LesionDecision  # noqa: E402  (a lesion's decision is built of the models above)
from .plan import Plan  # noqa: E402

Decision.model_rebuild()
