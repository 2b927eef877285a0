"""The rule base: every rule with its condition, effects and citations, and the vignettes where it shows."""
from __future__ import annotations

import streamlit as st
from spinemets.rulebook import Rule, effect_key
from spinemets.ui import citations, labels, resources, rule_words
from spinemets.ui.text import md

engine = resources.engine()
rulebook = engine.rulebook
fired_in = resources.vignettes_by_rule(engine)
manifest = rulebook.manifest

st.title("Rule base")
st.markdown(f"**{md(manifest.title)}**  \n{md(manifest.name)} {md(manifest.version)}, sha256 `{rulebook.sha256}`")
rules_tab, sources_tab, checks_tab = st.tabs(["Rules", "Sources", "Scores, scales and consistency checks"])
GROUPS = {"indicate": "Indications", "contraindicate": "Contraindications", "advise_against": "Advice against an "
          "option", "prefer": "Preferences between options", "conflict": "Where the sources disagree",
          "adjunct": "Adjuncts", "derive": "Derived facts"}


def _rule(rule: Rule) -> None:
    status = "" if rule.status == "active" else f" · *{rule.status}*"
    st.markdown(f"##### {md(rule.title)}{status}\n`{rule.id}` · evidence level {rule.evidence_level} "
                f"· version {rule.version}")
    st.markdown(md(rule.text))
    when = "\n".join(rule_words.condition_lines(rulebook, rule.when))
    st.markdown(f"**When**\n\n{when}\n\n**Then** "
                + "; ".join(rule_words.effect_words(rulebook, e) for e in rule.then))
    if rule.notes:
        st.caption(md(rule.notes))
    vignettes = fired_in.get(rule.id, ())
    if vignettes:
        st.markdown("Shows in vignettes: " + ", ".join(f"`{v}`" for v in vignettes))
    elif any(effect_key(e) == "derive" for e in rule.then):
        st.caption("Derives a fact other rules test; it shows through them.")
    else:
        st.caption("Shows in no vignette yet.")
    citations.render_all(rulebook, rule.citations)
    st.divider()


with rules_tab:
    search = st.text_input("Search", key="rules.search",
                           placeholder="words in the id, title, text, cited passage, a field's title or an option")
    c1, c2, c3, c4 = st.columns(4)
    options = c1.multiselect("Option", rulebook.option_order, key="rules.options",
                             format_func=lambda code: labels.option_label(rulebook, code))
    effects = c2.multiselect("Effect", list(labels.EFFECT_KEYS), key="rules.effects",
                             format_func=lambda key: labels.EFFECT_KEYS[key])
    sources = c3.multiselect("Source", sorted(rulebook.sources), key="rules.sources",
                             format_func=lambda s: citations.short_name(rulebook, s))
    statuses = c4.multiselect("Status", ["active", "draft", "retired"], default=["active"], key="rules.status")

    words = search.lower().split()
    shown = [r for r in rulebook.rules
             if (not statuses or r.status in statuses)
             and (not options or rule_words.options_of(r) & set(options))
             and (not effects or rule_words.effects_of(r) & set(effects))
             and (not sources or rule_words.sources_of(r) & set(sources))
             and all(w in rule_words.haystack(r) + " " + rule_words.field_words(rulebook, r) for w in words)]
    st.caption(f"{len(shown)} of {len(rulebook.rules)} rules")
    # Grouped by what a rule does first, each group folded unless a search or filter is on: the whole list drawn
    # open was a page over 40,000 px tall.
    filtering = bool(words or options or effects or sources or statuses != ["active"])
    groups: dict[str, list[Rule]] = {}
    for rule in shown:
        groups.setdefault(effect_key(rule.then[0]) if rule.then else "derive", []).append(rule)
    for key in [k for k in labels.EFFECT_KEYS if k in groups] + [k for k in groups if k not in labels.EFFECT_KEYS]:
        members = groups[key]
        with st.expander(f"{GROUPS.get(key, key)} ({len(members)})", expanded=filtering):
            for rule in members:
                _rule(rule)

with sources_tab:
    for source_id, source in sorted(rulebook.sources.items(), key=lambda kv: (kv[1].kind, kv[0])):
        cited = sum(1 for r in rulebook.rules if source_id in rule_words.sources_of(r))
        with st.container(border=True):
            st.markdown(f"**{md(citations.short_name(rulebook, source_id))}** ({source.kind}, `{source_id}`) - "
                        f"cited by {cited} rule{'s' if cited != 1 else ''}")
            st.markdown(md(citations.reference(rulebook, source_id)))
            st.caption(md(source.design) + (f" · evidence level {source.evidence_level}" if source.evidence_level
                                            else ""))
            found = citations.links(source)
            if found:
                st.markdown(" · ".join(f"[{label}]({url})" for label, url in found))

with checks_tab:
    for score in rulebook.scores:
        st.markdown(f"#### {md(score.title)}")
        st.markdown(md(score.description))
        rows = [{"component": c.title, "field": c.input,
                 "points": ", ".join(f"{labels.code_label(k)} {v}" for k, v in c.points.items())
                 or ", ".join(f"{r.min:g}-{r.max:g}: {r.points}" for r in c.ranges)} for c in score.components]
        st.dataframe(rows, hide_index=True)
        st.markdown("Bands: " + "; ".join(f"{b.min}-{b.max} {md(b.title)}" for b in score.bands))
        citations.render_all(rulebook, score.citations)
    for scale in getattr(rulebook, "scales", ()):
        st.markdown(f"#### {md(scale.title)}")
        st.dataframe([{"code": g.code, "grade": g.title, "meaning": g.description} for g in scale.grades],
                     hide_index=True)
        citations.render_all(rulebook, scale.citations)
    st.markdown("#### Consistency checks")
    st.caption("Combinations of values that cannot be true of one patient; the case form refuses them with this "
               "message next to the fields.")
    for check in rulebook.constraints:
        st.markdown(md(check.message) + "\n\n" + "\n".join(rule_words.condition_lines(rulebook, check.when, 1)))
