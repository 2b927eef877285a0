"""Board session: the agenda (case files, a folder, a registry, or cases typed in), who is present, whether the
board's decisions are recorded and where, and the minutes."""
from __future__ import annotations

import datetime as dt
import sqlite3

import streamlit as st
from spinemets import InputError, minutes
from spinemets.board_log import BoardLog, probe
from spinemets.ui import evaluation, imports, labels, resources, session
from spinemets.ui.text import md

engine = resources.engine()
rulebook = engine.rulebook
specs = evaluation.input_specs(engine)
state = st.session_state

st.title("Board session")
st.caption("Everything on this page lives in this browser tab's session, in the server's memory. Nothing is written "
           "to disk unless you turn recording on below or download the minutes.")


def _import(key: str) -> None:
    uploads = state.get(key) or []
    found: list[imports.Imported] = []
    for upload in uploads:
        # a registry is read no further than the agenda can hold (and one row more, to know it held more)
        found += imports.read_file(upload.name, upload.getvalue(), limit=session.AGENDA_LIMIT + 1)
    added = session.add(state, specs, found)
    bad = [i for i in added if i.values is None]
    state["agenda.message"] = (f"{len(added) - len(bad)} patient{'s' if len(added) - len(bad) != 1 else ''} added to "
                               f"the agenda" + (f"; {len(bad)} did not read (listed below)" if bad else "") + ".")
    if state.get(session.LEFT_OUT):
        state["agenda.message"] += (f" The agenda holds at most {session.AGENDA_LIMIT} patients: the rest were left "
                                    "out. Evaluate a whole registry with `spinemets batch`.")


def _open(key: str) -> None:
    session.open_item(state, specs, key)
    state["agenda.go"] = True


def _remove(key: str) -> None:
    session.remove(state, key)


st.header("Agenda")
files, folder = st.columns(2)
with files:
    st.file_uploader("Case files (YAML, JSON) or a registry (CSV, JSON Lines)", key="upload.agenda_files",
                     type=["yaml", "yml", "json", "csv", "jsonl", "ndjson"], accept_multiple_files=True,
                     on_change=_import, args=("upload.agenda_files",),
                     help="Several files at once; a registry adds one patient per row. Read in memory only.")
with folder:
    st.file_uploader("A folder of case files", key="upload.agenda_folder", accept_multiple_files="directory",
                     type=["yaml", "yml", "json"], on_change=_import, args=("upload.agenda_folder",),
                     help="Every .yaml, .yml and .json file in the folder, in name order.")
st.caption("To type a case in, enter it on the *Case and decision* page and press *Add this case to the agenda*.")
if state.get("agenda.message"):
    st.info(state["agenda.message"], icon=":material/playlist_add_check:")
if state.pop("agenda.go", False):
    st.switch_page("views/board.py")

items = session.agenda(state)
decided = session.decisions(state)
if not items:
    st.caption("The agenda is empty.")
for number, item in enumerate(items, start=1):
    with st.container(border=True):
        text, open_col, remove_col = st.columns([6, 1.3, 1], vertical_alignment="center")
        if item.values is None:
            text.markdown(f"**{number}. {md(item.source)}** - does not read")
            text.caption(md(item.error or ""))
        else:
            # the record that stands for the patient (a correction replaces, a void withdraws)
            stands = session.standing_for(state, item.case_id) if item.decided else None
            done = [stands[1].decision] if stands is not None else []
            status = ("decided: " + "; ".join(labels.options_in_words(rulebook, d.chosen)
                                              + ("" if d.follows_top else " (overrides the top suggestion)")
                                              for d in done)) if done else \
                "decision withdrawn" if item.decided else "not decided yet"
            mark = " · open now" if state.get(session.CURRENT) == item.key else ""
            where = f" · {len(item.levels)} level{'s' if len(item.levels) != 1 else ''}: {', '.join(item.levels)}" \
                if item.levels else ""
            text.markdown(f"**{number}. {md(item.label)}**{mark}  \n:gray[{md(item.source)} · {md(status)}{md(where)}]")
            open_col.button("Open", key=f"open.{item.key}", on_click=_open, args=(item.key,),
                            icon=":material/open_in_new:", width="stretch")
        remove_col.button("Remove", key=f"remove.{item.key}", on_click=_remove, args=(item.key,),
                          icon=":material/delete:", width="stretch")

st.header("The meeting")
when, who = st.columns([1, 3])
if not isinstance(state.get(session.MEETING_DATE), dt.date):
    state[session.MEETING_DATE] = dt.date.today()
# persist_state: these settings hold while the board works on the case page, where they are not drawn.
when.date_input("Meeting date", key=session.MEETING_DATE, format="YYYY-MM-DD", persist_state="session")
who.multiselect("Attendees, by role (no names)", list(labels.BOARD_ROLES), key=session.ATTENDEES,
                accept_new_options=True, placeholder="choose or type the roles present", persist_state="session")

st.header("Recording")
if session.DB_PATH not in state:
    state[session.DB_PATH] = str(session.log_path(state))
st.toggle("Record the board's decisions in the board log", key=session.RECORDING, persist_state="session",
          help="Off by default. When on, each decision recorded on the case page is appended to a local SQLite file, "
               "hash-chained so that an edited record is detected (`spinemets board verify-log`).")
st.text_input("Board log file", key=session.DB_PATH, disabled=session.recording(state), persist_state="session",
              help="From SPINEMETS_BOARD_DB when set; otherwise in your data folder. Change it before turning "
                   "recording on.")
path = session.log_path(state)
if session.recording(state):
    st.success(f"Recording is on: decisions go to `{md(path)}`, with the case, the decision, the rule base's version "
               "and sha256, and the previous record's hash.", icon=":material/database:")
else:
    st.info("Recording is off: decisions are kept in memory for this meeting's minutes only.",
            icon=":material/database_off:")
# Only once recording is on is the path looked at, and then only a board log is opened (read-only here): a path
# typed while recording is off opens nothing, and no message tells whether some other file exists.
if session.recording(state) and probe(path) == "log":
    try:
        with BoardLog(path, create=False) as log:
            result = log.verify()
    except (InputError, sqlite3.Error):  # an unreadable file must not take the page down
        st.error(f"`{md(path)}` cannot be read as a board log.", icon=":material/error:")
    else:
        if result.ok:
            st.caption(f"The log holds {result.count} records and its chain holds; head hash `{result.head}`.")
        else:
            st.error(f"The log's chain does not hold at record {result.bad_seq}: {md(result.reason)}.",
                     icon=":material/gpp_bad:")

st.header("Minutes")
titles: dict[str, str] = {o.code: o.title for o in rulebook.manifest.options}
# one entry per patient: the record that stands, with the records it corrected or voided
entries = minutes.standing_entries((n, r.record, r.decision) for n, r in session.numbered(state))
pin = minutes.pin_of_session([r.record for r in decided])
if not entries:
    st.caption("No decision recorded in this meeting yet.")
else:
    st.caption(f"{len(entries)} decision{'s' if len(entries) != 1 else ''} in this meeting; the minutes put each "
               "board decision beside the engine's top suggestion.")
    stem = f"spinemets-minutes-{session.meeting_date(state):%Y-%m-%d}"
    md_col, pdf_col, json_col = st.columns(3)
    md_col.download_button("Minutes (Markdown)", lambda: minutes.markdown(entries, titles, pin=pin).encode(),
                           file_name=f"{stem}.md", mime="text/markdown", icon=":material/description:",
                           on_click="ignore", width="stretch", key="download.minutes_md")
    pdf_col.download_button("Minutes (PDF)", lambda: minutes.pdf(entries, titles, pin=pin),
                            file_name=f"{stem}.pdf", mime="application/pdf", icon=":material/picture_as_pdf:",
                            on_click="ignore", width="stretch", key="download.minutes_pdf")
    json_col.download_button("Minutes (JSON)", lambda: minutes.to_json(entries, pin=pin).encode(),
                             file_name=f"{stem}.json", mime="application/json", icon=":material/data_object:",
                             on_click="ignore", width="stretch", key="download.minutes_json")
