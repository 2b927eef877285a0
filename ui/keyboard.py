"""Keyboard use that Streamlit's widgets do not give by themselves, added by a small script in the page.

- The help mark (?) of every field is not a tab stop of its own: a form of forty fields had forty extra stops
  between the choices. Its text is still read on hover.
- The form's group switcher ("Findings") is one tab stop, on the selected group (a roving tab index, as the WAI-ARIA
  radio group pattern has it): Shift+Tab back into it lands on the group that is open, arrow keys move within it.
- Opening the board's decision popover moves the focus into it, on its first field (it took 55 Tabs before).

A Streamlit v2 component runs its script in the page itself (drafts.py uses one too); it sends nothing back.
"""
from __future__ import annotations

import streamlit as st

_JS = """
export default function() {
  if (window.__spinemetsKeyboard) { return; }
  window.__spinemetsKeyboard = true;
  const fix = () => {
    document.querySelectorAll("[data-testid='stTooltipIcon'] button").forEach((el) => {
      if (el.tabIndex !== -1) { el.tabIndex = -1; }
    });
    document.querySelectorAll("[role='radiogroup'][aria-label='Findings']").forEach((group) => {
      const radios = Array.from(group.querySelectorAll("[role='radio']"));
      const chosen = radios.find((r) => r.getAttribute("aria-checked") === "true") || radios[0];
      radios.forEach((r) => { const want = r === chosen ? 0 : -1; if (r.tabIndex !== want) { r.tabIndex = want; } });
    });
  };
  // The popover's fields are drawn by a rerun after it opens: focus the first one once it is there.
  let focused = null;
  new MutationObserver(() => {
    fix();
    const body = document.querySelector("[data-testid='stPopoverBody']");
    if (!body) { focused = null; return; }
    if (focused === body) { return; }
    const first = body.querySelector("input:not([type='hidden']), textarea, [role='combobox']");
    if (first) {
      focused = body;
      if (!body.contains(document.activeElement)) { first.focus(); }
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ["aria-checked"]});
  fix();
}
"""
_component = st.components.v2.component("spinemets.keyboard", js=_JS)


def install() -> None:
    """Once per page run, in the sidebar (height 0); the script installs itself once per browser tab."""
    _component(key="keyboard.helper", height=0)
