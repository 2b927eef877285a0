"""How often boards followed the engine's top suggestion: overall, by option, by the rules that fired, and why not.

This is the feedback a rule author needs: a rule that fires in many decisions the boards override is where the
rule base and the boards part ways. Computed from the board log's decisions; nothing here writes anything.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .board_log import OVERRIDE_REASONS, BoardDecision


@dataclass
class Tally:
    """Decisions counted, how many followed the top suggestion, and the override reasons of the rest."""

    decisions: int = 0
    followed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, record: BoardDecision) -> None:
        self.decisions += 1
        if record.follows_top:
            self.followed += 1
        elif record.override_reason:
            self.reasons[record.override_reason] += 1

    @property
    def overridden(self) -> int:
        return self.decisions - self.followed

    @property
    def rate(self) -> float | None:
        """The share that followed, or None when nothing was counted (no rate is not a rate of 0)."""
        return self.followed / self.decisions if self.decisions else None

    def to_json(self) -> dict[str, Any]:
        return {"decisions": self.decisions, "followed": self.followed, "overridden": self.overridden,
                "rate": None if self.rate is None else round(self.rate, 4), "reasons": dict(self.reasons)}


@dataclass(frozen=True)
class Override:
    """One decision that did not follow the top suggestion, as the minutes and a rule author read it."""

    case_id: str
    top: str | None
    chosen: tuple[str, ...]
    reason: str | None
    comment: str | None


@dataclass
class Concordance:
    overall: Tally = field(default_factory=Tally)
    by_top: dict[str, Tally] = field(default_factory=dict)       # the engine's top suggestion
    by_chosen: dict[str, Tally] = field(default_factory=dict)    # the board's first choice
    by_rule: dict[str, Tally] = field(default_factory=dict)      # every rule that fired in the decision
    overrides: list[Override] = field(default_factory=list)
    rulebooks: Counter[str] = field(default_factory=Counter)     # "version sha256[:12]" -> decisions
    records: int | None = None                                   # every record of the log, when read from one
    skipped: list[tuple[int, str]] = field(default_factory=list)  # records not counted: (number, why)
    holds: bool = True                                           # whether the log's chain held when read

    def rules_by_disagreement(self, minimum: int = 1) -> list[tuple[str, Tally]]:
        """Rules that fired in at least `minimum` decisions, the most often overridden share first."""
        found = [(rule, t) for rule, t in self.by_rule.items() if t.decisions >= minimum]
        return sorted(found, key=lambda kv: (kv[1].rate if kv[1].rate is not None else 1.0, -kv[1].decisions, kv[0]))

    def to_json(self) -> dict[str, Any]:
        return {
            "overall": self.overall.to_json(),
            "by_top": {k: v.to_json() for k, v in self.by_top.items()},
            "by_chosen": {k: v.to_json() for k, v in self.by_chosen.items()},
            "by_rule": {k: v.to_json() for k, v in sorted(self.by_rule.items())},
            "override_reasons": dict(self.overall.reasons),
            "overrides": [o.__dict__ for o in self.overrides],
            "rulebooks": dict(self.rulebooks),
            "log": {"records": self.records, "chain_holds": self.holds,
                    "not_counted": [{"record": seq, "why": why} for seq, why in self.skipped]},
        }


def concordance(decisions: Iterable[BoardDecision], *, records: int | None = None,
                skipped: Iterable[tuple[int, str]] = (), holds: bool = True) -> Concordance:
    """Count the decisions; the engine's top and fired rules come from the decision stored with each.

    Read from a log, `records` is how many it holds and `skipped` the ones not counted with why (filled while
    `decisions` is consumed), so that the report accounts for every record."""
    result = Concordance(records=records, holds=holds)
    for record in decisions:
        result.overall.add(record)
        result.by_top.setdefault(record.top or "none", Tally()).add(record)
        result.by_chosen.setdefault(record.chosen[0], Tally()).add(record)
        for rule in dict.fromkeys(record.decision.get("fired") or ()):
            result.by_rule.setdefault(str(rule), Tally()).add(record)
        if not record.follows_top:
            result.overrides.append(Override(record.case_id, record.top, record.chosen, record.override_reason,
                                             record.comment))
        result.rulebooks[f"{record.rulebook_version} {record.rulebook_sha256[:12]}"] += 1
    result.skipped = list(skipped)
    return result


def percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.0f}%"


def render(result: Concordance, option_titles: dict[str, str], rule_titles: dict[str, str]) -> str:
    """A plain-text report for the terminal, in words (option and rule titles from the current rule base)."""
    def option(code: str) -> str:
        return option_titles.get(code, code)

    overall = result.overall
    lines = [f"Board decisions: {overall.decisions}, followed the top suggestion: {overall.followed} "
             f"({percent(overall.rate)}), overridden: {overall.overridden}"]
    if not result.holds:
        lines.insert(0, "WARNING: the log's chain does not hold (read with --allow-broken): these counts may include "
                        "edited records and miss removed ones")
    if result.records is not None:
        lines.append(f"Log records: {result.records}; counted as board decisions: {overall.decisions}; not counted: "
                     f"{len(result.skipped)}")
        lines += [f"  record {seq}: {why}" for seq, why in result.skipped[:50]]
        if len(result.skipped) > 50:
            lines.append(f"  ... and {len(result.skipped) - 50} more (--json lists every one)")
    if not overall.decisions:
        return "\n".join(lines) + "\n"
    lines += ["", "By the engine's top suggestion (followed / decisions):"]
    for code, tally in sorted(result.by_top.items(), key=lambda kv: -kv[1].decisions):
        lines.append(f"  {option(code):<52} {tally.followed:>4} / {tally.decisions:<4} {percent(tally.rate):>5}")
    lines += ["", "By the board's first choice:"]
    for code, tally in sorted(result.by_chosen.items(), key=lambda kv: -kv[1].decisions):
        lines.append(f"  {option(code):<52} {tally.followed:>4} / {tally.decisions:<4} {percent(tally.rate):>5}")
    if overall.reasons:
        lines += ["", "Why boards did not follow it:"]
        for code, count in overall.reasons.most_common():
            lines.append(f"  {OVERRIDE_REASONS.get(code, code):<52} {count:>4}")
    disputed = [(rule, t) for rule, t in result.rules_by_disagreement() if t.overridden]
    if disputed:
        lines += ["", "Rules that fired in overridden decisions (least followed first):"]
        for rule, tally in disputed:
            title = rule_titles.get(rule, "")
            lines.append(f"  {rule:<48} {tally.followed:>4} / {tally.decisions:<4} {percent(tally.rate):>5}  {title}")
    if result.overrides:
        lines += ["", "Overrides:"]
        for o in result.overrides:
            reason = OVERRIDE_REASONS.get(o.reason or "", o.reason or "no reason recorded")
            chosen = ", ".join(option(c) for c in o.chosen)
            lines.append(f"  {o.case_id}: top {option(o.top or '-')}; board chose {chosen}; {reason}"
                         + (f" - {o.comment}" if o.comment else ""))
    if len(result.rulebooks) > 1:
        lines += ["", "Rule bases (decisions were made under more than one):"]
        lines += [f"  {name}: {count}" for name, count in result.rulebooks.most_common()]
    return "\n".join(lines) + "\n"
