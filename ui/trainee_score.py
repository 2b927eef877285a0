"""How a trainee's choice is scored: the board's option in full, an option the engine also grades appropriate or
better in part, with the reason the top differs; anything else no credit, with what limits it."""
from __future__ import annotations

from dataclasses import dataclass

from spinemets import Board, Decision, Rulebook

from . import labels

FULL, PARTIAL = 1.0, 0.5
_GOOD = ("recommended", "appropriate")
_LIMITS = ("contraindicates", "advises_against", "limits", "conflict")


@dataclass(frozen=True)
class Credit:
    points: float
    verdict: str        # "right" | "partial" | "wrong"
    why: str            # in words, for the trainee


def _status(decision: Decision, option: str) -> str:
    return decision.option(option).status


def why_top_differs(rulebook: Rulebook, decision: Decision, top: str, answer: str) -> str:
    """Why `top` comes before `answer` for this case, from the engine's grading and reasons."""
    top_status, answer_status = _status(decision, top), _status(decision, answer)
    top_name, answer_name = labels.option_title(rulebook, top), labels.option_title(rulebook, answer)
    if top_status != answer_status:
        lift = next((r for r in decision.option(top).reasons if r.effect == "indicates"), None)
        limit = next((r for r in decision.option(answer).reasons if r.effect in _LIMITS), None)
        text = (f"{top_name} is graded {labels.status_label(top_status).lower()}, {answer_name} "
                f"{labels.status_label(answer_status).lower()}.")
        if lift is not None:
            text += f" For {top_name}: {lift.text}"
        if limit is not None:
            text += f" Against {answer_name}: {limit.text}"
        return text
    preferred = next((r for r in decision.option(top).reasons if r.effect == "prefers" and answer in (r.detail or "")),
                     None)
    if preferred is not None:
        return f"Both are {labels.status_label(top_status).lower()}; {top_name} is preferred: {preferred.text}"
    return (f"Both are {labels.status_label(top_status).lower()}; with nothing to prefer one, the rule base's order "
            f"breaks the tie (least invasive first), which puts {top_name} first.")


def credit(rulebook: Rulebook, board: Board, decision: Decision, answer: str) -> Credit:
    if answer == board.top:
        return Credit(FULL, "right", "")
    status = _status(decision, answer)
    if status in _GOOD:
        return Credit(PARTIAL, "partial", why_top_differs(rulebook, decision, board.top, answer))
    limit = next((r for r in decision.option(answer).reasons if r.effect in _LIMITS), None)
    name = labels.option_title(rulebook, answer)
    reason = f" {limit.text}" if limit is not None else " No rule indicates it for this patient."
    return Credit(0.0, "wrong", f"{name} is graded {labels.status_label(status).lower()} for this patient.{reason}")


def score(points: list[float]) -> str:
    total = sum(points)
    return f"{total:g} of {len(points)}"
