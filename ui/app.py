"""spinemets front end: `streamlit run ui/app.py` (or `make run`). Pages live in ui/views/."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import streamlit as st
from PIL import Image, ImageDraw
from spinemets import RulebookError
from spinemets.ui import case_state, drafts, keyboard, labels, resources
from spinemets.ui.text import md

VIEWS = Path(__file__).resolve().parent / "views"


@lru_cache(maxsize=1)
def _icon() -> Image.Image:
    """The page icon, drawn here: a Material or emoji icon would be fetched from an outside server on each load."""
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((4, 4, 60, 60), radius=12, fill=(21, 128, 61, 255))
    for top in (12, 27, 42):  # three vertebrae
        draw.rounded_rectangle((20, top, 44, top + 11), radius=4, fill=(255, 255, 255, 255))
    return image


st.set_page_config(page_title="spinemets", page_icon=_icon(), layout="wide")
# Streamlit draws captions at 60% opacity, a grey of about 3.8:1 on the sidebar, below WCAG AA's 4.5:1 for text:
# full opacity and this grey make 7:1 on white and on the sidebar.
st.markdown("<style>[data-testid='stCaptionContainer']{opacity:1;color:#4b5563}"
            "[data-testid='stCaptionContainer'] *{color:#4b5563}</style>", unsafe_allow_html=True)
state = st.session_state
case_state.keep(state)

pages = st.navigation([
    st.Page(VIEWS / "board.py", title="Case and decision", icon=":material/groups:", default=True),
    st.Page(VIEWS / "session.py", title="Board session", icon=":material/event_note:"),
    st.Page(VIEWS / "whatif.py", title="What-if", icon=":material/compare_arrows:"),
    st.Page(VIEWS / "trainee.py", title="Vignettes (trainees)", icon=":material/school:"),
    st.Page(VIEWS / "rule_base.py", title="Rule base", icon=":material/menu_book:"),
    st.Page(VIEWS / "concordance.py", title="Concordance", icon=":material/fact_check:"),
    st.Page(VIEWS / "evidence.py", title="Evidence", icon=":material/monitoring:"),
])

with st.sidebar:
    st.warning(labels.DISCLAIMER, icon=":material/info:")
st.caption(":material/info: **Decision support, not a medical device.** It does not replace the judgement of the "
           "clinicians responsible for the patient.")

try:
    engine = resources.engine()
except RulebookError as err:
    # A rule base being edited can fail to load; say where, and show no advice rather than stale advice.
    details = "\n".join(f"- {md(p)}" for p in err.problems[:30]) or md(err.summary)
    st.error("The rule base does not load, so no decision can be shown:\n\n" + details)
    st.stop()

with st.sidebar:
    st.caption(f"Rule base {md(engine.rulebook.manifest.name)} {md(engine.rulebook.version)}  \n"
               f"sha256 `{engine.sha256[:16]}…`  \n{len(engine.rulebook.active_rules)} active rules")
    # This tab's token, so that the work in progress comes back after a reload (see ui/drafts.py).
    keyboard.install()
    if drafts.restore_once(state, drafts.tab_token()):
        st.toast("The case and agenda of this tab were restored after the reload.", icon=":material/restore:")

try:
    pages.run()
finally:
    drafts.save(state)
