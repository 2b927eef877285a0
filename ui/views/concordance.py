"""Concordance: how often boards followed the top suggestion, by option and by the rules that fired, and why not.

Read from the board log (the file set on the Board session page, else SPINEMETS_BOARD_DB); the page only reads it.
This is the feedback a rule author needs: rules that fire in decisions the boards override come first.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable

import streamlit as st
from spinemets import InputError
from spinemets.board_log import OVERRIDE_REASONS, BoardLog, probe, standing
from spinemets.concordance import Tally, concordance, percent
from spinemets.ui import labels, resources, session
from spinemets.ui.text import md

engine = resources.engine()
rulebook = engine.rulebook
state = st.session_state

st.title("Concordance")
path = session.log_path(state)
st.caption(f"From the board log `{md(path)}` (set on the Board session page). Read only.")
# Only a board log is opened (read-only), and whatever else is at the path, the page says the same: it does not
# tell whether some other file exists there.
if probe(path) != "log":
    st.info("No board log at this path yet: decisions appear here once a board records them with recording on "
            "(Board session page), or with `spinemets board record`.", icon=":material/database_off:")
    st.stop()
try:
    with BoardLog(path, create=False) as log:
        chain = log.verify()
        # each case's standing record only: a corrected decision counts once, a voided one not at all
        resolved = standing((record.seq, decision) for record, decision in log.decisions())
        result = concordance(s.decision for s in resolved if not s.voided)
except (InputError, sqlite3.Error):
    st.error(f"`{md(path)}` cannot be read as a board log.", icon=":material/error:")
    st.stop()

if not chain.ok:
    st.error(f"The log's chain does not hold at record {chain.bad_seq}: {md(chain.reason)}. The counts below "
             "include records that may have been edited.", icon=":material/gpp_bad:")
overall = result.overall
if not overall.decisions:
    st.info("The log holds no board decision yet.", icon=":material/hourglass_empty:")
    st.stop()

a, b, c = st.columns(3)
a.metric("Board decisions", overall.decisions)
b.metric("Followed the top suggestion", f"{overall.followed} ({percent(overall.rate)})")
c.metric("Overridden", overall.overridden)


def _rows(tallies: dict[str, Tally], name: str, words: Callable[[str], str]) -> list[dict[str, object]]:
    return [{name: words(k), "decisions": t.decisions, "followed": t.followed, "followed %": percent(t.rate),
             "why not": "; ".join(f"{OVERRIDE_REASONS.get(r, r)} ({n})" for r, n in t.reasons.most_common())}
            for k, t in sorted(tallies.items(), key=lambda kv: -kv[1].decisions)]


def _option(code: str) -> str:
    return labels.option_title(rulebook, code) if code != "none" else "no suggestion"


left, right = st.columns(2)
with left:
    st.subheader("By the engine's top suggestion")
    st.dataframe(_rows(result.by_top, "top suggestion", _option), hide_index=True)
with right:
    st.subheader("By the board's first choice")
    st.dataframe(_rows(result.by_chosen, "board's choice", _option), hide_index=True)

st.subheader("Why boards did not follow it")
if overall.reasons:
    st.dataframe([{"reason": OVERRIDE_REASONS.get(k, k), "decisions": n,
                   "share of overrides": percent(n / overall.overridden)} for k, n in overall.reasons.most_common()],
                 hide_index=True)
else:
    st.caption("Every decision followed the top suggestion.")

st.subheader("By the rules that fired")
st.caption("Each rule that fired in a decision, with how often the board followed the top suggestion when it did: "
           "the least followed first. A rule that fires in many overridden decisions is where the rule base and "
           "the boards part ways.")
st.dataframe([{"rule": labels.rule_title(rulebook, rule), "id": rule, "decisions": t.decisions,
               "followed": t.followed, "followed %": percent(t.rate),
               "why not": "; ".join(f"{OVERRIDE_REASONS.get(r, r)} ({n})" for r, n in t.reasons.most_common())}
              for rule, t in result.rules_by_disagreement()], hide_index=True)

if result.overrides:
    st.subheader("Overrides, with the board's comments")
    st.dataframe([{"case": o.case_id, "top suggestion": _option(o.top or "none"),
                   "board chose": labels.options_in_words(rulebook, o.chosen),
                   "why": OVERRIDE_REASONS.get(o.reason or "", "no reason recorded"), "comment": o.comment or ""}
                  for o in result.overrides], hide_index=True)
replaced = [(s, n) for s in resolved for n, _ in s.history]
if replaced:
    st.subheader("Corrected and voided records")
    st.caption("Records the board corrected or withdrew later: they stay in the log (it is append-only) and are "
               "not counted above.")
    st.dataframe([{"case": s.decision.case_id, "record": n, "replaced by record": s.number,
                   "how": "voided" if s.voided else "corrected"} for s, n in replaced], hide_index=True)
if len(result.rulebooks) > 1:
    st.caption("Decisions were made under more than one rule base: "
               + "; ".join(f"{md(name)} ({n})" for name, n in result.rulebooks.most_common()))
