"""The engine's decision as CDS Hooks cards: summary, indicator, graded options with cited reasons, source,
links, suggestions that replace a contraindicated order, and the reasons a clinician may give to override."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any, Literal

from ..board_log import OVERRIDE_REASONS
from ..decision import Decision, OptionDecision
from ..errors import Problem
from ..fhir import load
from ..fhir.mapping import AugmentationOrders, field_title
from ..record import RecordReading
from ..rulebook import Rulebook
from ..rulebook.models import Contraindicate
from ..vocabulary import STATUS_RANK
from .levels import LevelStatus, OrderAtLevels, order_at_levels, ordered_levels, plan_summary
from .models import Action, Card, Coding, Link, Source, Suggestion

SUMMARY_MAX = 139  # the CDS Hooks card summary is "<140 characters"
DISCLAIMER = "Decision support for a multidisciplinary tumor board, not a medical device."
MAX_PAPER_LINKS = 4
MAX_NOTES = 25  # of each kind in a card's detail; the rest is counted


@dataclass(frozen=True)
class DraftOrder:
    """A drafted order the hooks recognise as one of the six options."""

    reference: str   # e.g. ServiceRequest/123
    option: str
    resource: dict[str, Any]
    by_text: bool = False  # recognised from the words of its code, not from a code the mapping lists
    levels: tuple[str, ...] = ()  # the vertebrae its bodySite names, cranio-caudal
    # the options the order could be (an ICD-10-PCS cement code, "vertebral augmentation"): `option` is the least
    # favourable of them for the patient, set by `graded` once the decision is known
    could_be: tuple[str, ...] = ()


def graded(decision: Decision, draft: DraftOrder) -> DraftOrder:
    """The order as the option it is graded as: itself, or for an order that could be several options, the least
    favourable of them at the levels it names (at every lesion when it names none), the first listed on a tie.

    Grading an unspecified cement order by its worse reading means a contraindication of either procedure is never
    hidden behind the other's advice."""
    if not draft.could_be:
        return draft

    def standing(option: str) -> int:
        if not decision.lesions:
            return STATUS_RANK[decision.option(option).status]
        statuses = [LevelStatus(lesion.level, lesion.option(option).status) for lesion in decision.lesions]
        at = order_at_levels(statuses, draft.levels)
        return min(STATUS_RANK[s.status] for s in statuses if s.level in at.concerned)

    worst = min(draft.could_be, key=standing)  # min keeps the first listed on a tie
    return replace(draft, option=worst)


@dataclass(frozen=True)
class IssuedCard:
    """What the service remembers of a card it issued, for the feedback on it (no patient data)."""

    service: str
    hook: str
    top: str | None
    ordered: str | None
    indicator: str
    rulebook_version: str
    rulebook_sha256: str
    suggestions: tuple[str, ...] = ()  # the uuids of its suggestions: feedback may accept only these


def _fit(text: str, limit: int = SUMMARY_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


class CardMaker:
    """Builds cards for one rule base; `app_url` is where the front end runs."""

    def __init__(self, rulebook: Rulebook, app_url: str | None) -> None:
        self.rulebook = rulebook
        self.app_url = app_url
        self.titles: dict[str, str] = {o.code: o.title for o in rulebook.manifest.options}
        project = load().project
        self.override_reasons = [Coding(system=project, code=f"override:{code}", display=text)
                                 for code, text in OVERRIDE_REASONS.items()]
        self.topic = Coding(system=project, code="spinal-metastases-treatment",
                            display="Treatment of painful spinal metastases")

    # --- the parts every card shares ---------------------------------------------------------------------

    def source(self) -> Source:
        label = f"spinemets rule base {self.rulebook.manifest.name} {self.rulebook.version}, " \
                f"sha256 {self.rulebook.sha256}"
        return Source(label=label, url=self.app_url or None, topic=self.topic)

    def links(self, decision: Decision, options: list[str]) -> list[Link]:
        out: list[Link] = []
        if self.app_url:
            out.append(Link(label="Open spinemets (enter or load the case there)", url=self.app_url, type="absolute"))
        seen: set[str] = set()
        cited = [c for o in options for r in decision.option(o).reasons for c in r.citations]
        cited += [c for conflict in decision.conflicts for c in conflict.citations]
        for citation in cited:
            source = self.rulebook.sources.get(citation.source)
            if source is None or citation.source in seen or len(seen) >= MAX_PAPER_LINKS:
                continue
            url = f"https://doi.org/{source.doi}" if source.doi else \
                f"https://pubmed.ncbi.nlm.nih.gov/{source.pmid}/" if source.pmid else None
            if url is None:
                continue
            seen.add(citation.source)
            out.append(Link(label=_fit(f"Paper: {self.source_name(citation.source)}", 100), url=url, type="absolute"))
        return out

    def source_name(self, source_id: str) -> str:
        return self.rulebook.source_name(source_id)

    def extension(self, decision: Decision, ordered: str | None = None,
                  reading: RecordReading | None = None) -> dict[str, Any]:
        """Machine-readable: the top option, ranking and statuses, and where each field was read."""
        data: dict[str, Any] = {
            "top": decision.ranking[0] if decision.ranking else None,
            "ranking": list(decision.ranking),
            "statuses": decision.statuses(),
            "provisional": [o.option for o in decision.options if o.provisional],
            "ranges": {o.option: {"best": o.range.best, "worst": o.range.worst} for o in decision.options if o.range},
            "missing": [m.field for m in decision.missing],
            "rulebook": {"name": decision.rulebook.name, "version": decision.rulebook.version,
                         "sha256": decision.rulebook.sha256},
        }
        if ordered:
            data["ordered"] = ordered
        if decision.lesions:
            data["lesions"] = [{"level": lesion.level, "top": lesion.ranking[0] if lesion.ranking else None,
                                "statuses": lesion.statuses()} for lesion in decision.lesions]
        if reading is not None:
            data["record"] = reading.model_dump(mode="json")
        return {"spinemets": data}

    # --- detail (Markdown) -------------------------------------------------------------------------------

    def _citation(self, citation: Any) -> str:
        text = f"{self.source_name(citation.source)}, {citation.section}"
        stance = getattr(citation, "stance", None)
        if stance:
            text += f" ({stance})"
        attributed = getattr(citation, "attributed_to", None)
        if attributed:
            text += f", attributed to {attributed}"
        return text

    def _reasons(self, option: OptionDecision) -> list[str]:
        lines = []
        explained: set[str] = set()
        for reason in option.reasons:
            detail = f" {reason.detail}" if reason.detail else ""
            if reason.rule in explained:  # one rule both indicating and preferring: its text once is enough
                lines.append(f"- *{reason.effect}{detail}* (as above)")
                continue
            explained.add(reason.rule)
            cited = "; ".join(self._citation(c) for c in reason.citations)
            lines.append(f"- *{reason.effect}{detail}*: {_md(reason.text)}" + (f" ({_md(cited)})" if cited else ""))
        return lines

    def detail(self, decision: Decision, first: str | None = None, reading: RecordReading | None = None) -> str:
        out = [f"**Graded options** (rule base {decision.rulebook.name} {decision.rulebook.version}):", "",
               "| | option | status | |", "|---|---|---|---|"]
        for rank, option in enumerate(decision.options, start=1):
            number = str(rank) if option.option in decision.ranking else "-"
            flag = (f"provisional: {_word(option.range.best)} at best, {_word(option.range.worst)} at worst"
                    if option.range else "")
            out.append(f"| {number} | {self.titles[option.option]} (`{option.option}`) | {option.status} | {flag} |")
        out += self._levels(decision, first)
        order = [first] if first else []
        order += [o.option for o in decision.options if o.option not in order]
        for code in order:
            option = decision.option(code)
            if not option.reasons:
                continue
            out += ["", f"**{self.titles[code]} (`{code}`): {option.status}**", *self._reasons(option)]
        if decision.conflicts:
            out += ["", "**Where the sources disagree**"]
            for conflict in decision.conflicts:
                cited = "; ".join(self._citation(c) for c in conflict.citations)
                out.append(f"- {', '.join(conflict.options)}: {_md(conflict.text)} ({_md(cited)})")
        specs = self.rulebook.catalog.specs

        def titles(fields: tuple[str, ...]) -> str:
            return ", ".join(specs[f].title if f in specs else f for f in fields)
        if decision.missing:
            out += ["", "**Unknown in the record, and could change the advice:** " + titles(
                tuple(m.field for m in decision.missing))]
        ranged = [(o.option, o.range) for o in decision.options if o.range is not None]
        if ranged:
            out += ["", "**What the unknown fields could still make of each provisional option**"]
            for code, span in ranged:
                moves = [f"{label}: {titles(fields)}" for label, fields in
                         (("could lift it", span.toward_best), ("could lower it", span.toward_worst)) if fields]
                out.append(f"- {self.titles[code]} (`{code}`): {_word(span.best)} at best, {_word(span.worst)} at worst"
                           + "".join(f"; {m}" for m in moves))
        if reading is not None:
            out += self._record(reading)
        out += ["", f"_{DISCLAIMER}_"]
        return "\n".join(out)

    def _levels(self, decision: Decision, first: str | None) -> list[str]:
        """For a patient with lesions: each level's top option (and the ordered option's status there), then the
        plan. The graded options above are the patient's: each at the best status it reaches at any level."""
        if not decision.lesions:
            return []
        head = "| level | top option | status |" + (f" {self.titles[first]} (`{first}`) |" if first else "")
        out = ["", "**Per level** (each lesion's own decision; the table above gives each option's best level):", "",
               head, "|---|---|---|" + ("---|" if first else "")]
        for lesion in decision.lesions:
            top = lesion.option(lesion.ranking[0]) if lesion.ranking else None
            row = f"| {lesion.level} | {self.titles[top.option] if top else '-'} | " \
                  f"{(top.status + (', provisional' if top.provisional else '')) if top else '-'} |"
            if first:
                row += f" {lesion.option(first).status} |"
            out.append(row)
        plan = decision.plan
        if plan is None:
            return out
        out += ["", "**Plan for the patient:** " + _md(plan_summary(plan.levels))]
        for procedure in plan.procedures:
            sessions = "; ".join(", ".join(session) for session in procedure.sessions)
            out.append(f"- {self.titles[procedure.option]} (`{procedure.option}`) at {', '.join(procedure.levels)}"
                       + (f", sessions: {sessions}" if sessions else ""))
        if plan.radiotherapy:
            out.append(f"- radiotherapy or local tumour control: {', '.join(plan.radiotherapy)}")
        if plan.weigh:
            out.append(f"- for the board to weigh (advice at caution or below): {', '.join(plan.weigh)}")
        for reason in plan.reasons:
            cited = "; ".join(self._citation(c) for c in reason.citations)
            flag = " (provisional)" if reason.provisional else ""
            where = f" ({', '.join(reason.levels)})" if reason.levels else ""
            out.append(f"- {_md(reason.text)}{flag}{where}" + (f" ({_md(cited)})" if cited else ""))
        return out

    def _record(self, reading: RecordReading) -> list[str]:
        """Questions and voided values first (they bear on the advice), then provenance, then what was not read."""
        out: list[str] = []
        asked = reading.of("question") + reading.of("voided")
        if asked:
            out += ["", "**Questions for the board from the record:**"]
            out += [f"- {_md(n.message)}" for n in asked[:MAX_NOTES]]
        if reading.provenance:
            read = [f"{f} ({p.resource}{', ' + p.date[:10] if p.date else ''})" for f, p in reading.provenance.items()]
            out += ["", "**Read from the record:** " + _md("; ".join(read))]
        ignored = reading.of("ignored")
        if ignored:
            out += ["", f"**Not read ({len(ignored)}):**"]
            out += [f"- {_md(n.message)}" for n in ignored[:MAX_NOTES]]
            if len(ignored) > MAX_NOTES:
                out.append(f"- and {len(ignored) - MAX_NOTES} more (`spinemets fhir import --explain`)")
        return out

    def has_spinal_metastasis(self, reading: RecordReading | None) -> bool:
        """Whether the record speaks of a spinal metastasis: its levels (or its lesions') were read, or a
        bone-metastasis Condition was found whose vertebrae could not be read or that was invalid (a card, not
        silence)."""
        if reading is None:
            return True
        return "levels" in reading.provenance or any(f.startswith("lesions.") for f in reading.provenance) \
            or any(n.field == "levels" and n.kind in ("question", "voided") for n in reading.notes)

    def _title(self, name: str) -> str:
        specs = self.rulebook.catalog.specs
        return specs[name].title if name in specs else field_title(name)

    def unknown_absolute(self, decision: Decision, option: str, levels: tuple[str, ...] = ()) -> list[str]:
        """Fields whose unknown value leaves open an absolute contraindication of the option (at the given
        levels' own decisions, for a patient with lesions)."""
        rules = self.rulebook.rule_by_id
        fields: list[str] = []
        gathered = [m for lesion in decision.lesions or () if lesion.level in levels for m in lesion.missing] \
            if levels else list(decision.missing)
        for missing in gathered:
            if missing.field in fields:
                continue
            if option not in missing.affects:
                continue
            for rule_id in missing.rules:
                rule = rules.get(rule_id)
                if rule is not None and any(isinstance(e, Contraindicate) and e.severity == "absolute"
                                            and option in e.contraindicate for e in rule.then):
                    fields.append(missing.field)
                    break
        return fields

    # --- cards ---------------------------------------------------------------------------------------------

    def patient_view(self, decision: Decision, reading: RecordReading | None = None) -> Card:
        top = decision.option(decision.ranking[0])
        flag = ", provisional" if top.provisional else ""
        summary = f"spinemets: {self.titles[top.option]} ({top.option}) {_word(top.status)}{flag}"
        if decision.plan is not None:  # a patient with lesions: the plan's advice, level by level
            summary = f"spinemets plan: {plan_summary(decision.plan.levels)}"
        voided = reading is not None and bool(reading.of("voided"))  # the record needs correcting
        return Card(uuid=str(uuid.uuid4()), summary=_fit(summary),
                    indicator="warning" if decision.conflicts or voided else "info",
                    detail=self.detail(decision, reading=reading), source=self.source(),
                    overrideReasons=self.override_reasons, links=self.links(decision, [top.option]),
                    extension=self.extension(decision, reading=reading))

    def order(self, decision: Decision, draft: DraftOrder, patient_id: str,
              reading: RecordReading | None = None) -> Card:
        draft = graded(decision, draft)
        ordered = decision.option(draft.option)
        name = self.titles[draft.option]
        if draft.could_be:  # the code does not say which procedure: the summary says what it was graded as
            name = f"Cement augmentation (graded as {name.lower()})"
        top = decision.option(decision.ranking[0])
        contraindicated = ordered.status == "contraindicated"
        indicator: Literal["info", "warning", "critical"]
        at = self.at_levels(decision, draft)
        if at is not None:
            contraindicated = at.everywhere
            top = self.top_at(decision, at.concerned) or top
        unknown = [] if contraindicated else \
            self.unknown_absolute(decision, draft.option, at.concerned if at is not None else ())
        if contraindicated:
            where = f" at {', '.join(at.concerned)}" if at is not None else ""
            summary = f"{name} is contraindicated{where}; spinemets' top option: " \
                      f"{self.titles[top.option]} ({_word(top.status)})"
            indicator = "critical"
        elif at is not None and at.contraindicated:
            # contraindicated at a level the order names, or (naming none) could be meant for: the level is
            # said first, and no replacement is offered for the levels where it is advised
            unnamed = " (the order names no level)" if at.unnamed else ""
            summary = f"{name}: {at.contraindicated_first}{unnamed}"
            indicator = "critical"
        elif unknown:
            # an absolute contraindication the record leaves open: the card names the question, those the
            # record raised (a lab, a drug, a diagnosis) first
            asked = {n.field for n in reading.notes if n.kind in ("question", "voided")} if reading else set()
            unknown.sort(key=lambda f: f not in asked)
            names = ", ".join(self._title(f) + (" (see the record)" if f in asked else "") for f in unknown)
            summary = f"{name}: rule out first: {names}"
            indicator = "warning"
        elif at is not None:
            summary = f"{name} ordered: {at.phrase}"
            conflicts = [c for c in decision.conflicts if c.levels is None or set(c.levels) & set(at.concerned)]
            indicator = "warning" if conflicts else "info"
        else:
            same = " (the top option)" if top.option == draft.option else \
                f"; top: {self.titles[top.option]} ({_word(top.status)})"
            summary = f"{name} ordered: {_word(ordered.status)}{same}"
            indicator = "warning" if decision.conflicts else "info"
        if at is not None and at.elsewhere:  # ordered at a vertebra the record holds no lesion at
            summary = f"{summary}; no lesion recorded at {', '.join(at.elsewhere)}"
            indicator = "warning" if indicator == "info" else indicator
        if draft.by_text:  # the order's code is not one the mapping lists: say how it was recognised
            summary = f"{summary} (order recognised from its text)" if len(summary) < 100 else \
                f"(by its text) {summary}"
            indicator = "warning" if indicator == "info" else indicator
        detail = self.detail(decision, first=draft.option, reading=reading)
        if draft.could_be:
            detail = self.could_be_note(decision, draft) + "\n\n" + detail
            if len({decision.option(o).status for o in draft.could_be}) > 1:  # which one is meant changes the advice
                indicator = "warning" if indicator == "info" else indicator
        suggestions = self.replacement(draft, top.option, patient_id) if contraindicated else None
        return Card(uuid=str(uuid.uuid4()), summary=_fit(summary), indicator=indicator,
                    detail=detail, source=self.source(),
                    suggestions=suggestions, selectionBehavior="at-most-one" if suggestions else None,
                    overrideReasons=self.override_reasons, links=self.links(decision, [draft.option, top.option]),
                    extension=self.extension(decision, ordered=draft.option, reading=reading))

    def could_be_note(self, decision: Decision, draft: DraftOrder) -> str:
        """Why a cement order is graded as one procedure: its code or text does not say which it is."""
        graded_as = self.titles[draft.option].lower()
        each = "; ".join(f"{self.titles[o].lower()}: {_word(decision.option(o).status)}" for o in draft.could_be)
        return (f"**The order does not say which procedure it is** (its code or text names cement in a vertebra, as "
                f"an ICD-10-PCS code does, not the technique): it is graded as {graded_as}, the least favourable of "
                f"them for this patient ({each}). Name the procedure on the order to grade it as itself.")

    @staticmethod
    def top_at(decision: Decision, levels: tuple[str, ...]) -> OptionDecision | None:
        """The top option the levels share (graded at the level when there is one); None when they differ."""
        lesions = [lesion for lesion in decision.lesions or () if lesion.level in levels and lesion.ranking]
        tops = {lesion.ranking[0] for lesion in lesions}
        if len(tops) != 1:
            return None
        code = tops.pop()
        return lesions[0].option(code) if len(lesions) == 1 else decision.option(code)

    @staticmethod
    def at_levels(decision: Decision, draft: DraftOrder) -> OrderAtLevels | None:
        """The ordered option level by level, for a patient with lesions (None for a flat case)."""
        if not decision.lesions:
            return None
        statuses = [LevelStatus(lesion.level, lesion.option(draft.option).status) for lesion in decision.lesions]
        return order_at_levels(statuses, draft.levels)

    def replacement(self, draft: DraftOrder, top: str, patient_id: str) -> list[Suggestion]:
        remove = Action(type="delete", description=f"Withdraw the draft order for {self.titles[draft.option]}",
                        resourceId=draft.reference)
        if top in ("CONSERVATIVE", draft.option):
            return [Suggestion(label=_fit(f"Withdraw the {draft.option} order (top option: conservative care)", 80),
                               uuid=str(uuid.uuid4()), isRecommended=True, actions=[remove])]
        codes = load().orders[top]
        order = {"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal",
                 "code": {"coding": [c.coding() for c in codes], "text": self.titles[top]},
                 "subject": {"reference": f"Patient/{patient_id}"}}
        create = Action(type="create", description=f"Propose {self.titles[top]} instead", resource=order)
        return [Suggestion(label=_fit(f"Replace with {self.titles[top]}", 80), uuid=str(uuid.uuid4()),
                           isRecommended=True, actions=[remove, create])]

    def unreadable(self, problems: list[Problem], hook_title: str) -> Card:
        """A card saying the record cannot be graded as it stands (contradictions, impossible values)."""
        lines = [f"- {_md(p.message)}" + (f" (`{p.field}`)" if p.field else "") for p in problems[:20]]
        detail = "\n".join(["**spinemets cannot grade the options from this record:**", *lines, "",
                            "Correct the record (or answer the fields in the spinemets app) and open the card again.",
                            "", f"_{DISCLAIMER}_"])
        summary = f"spinemets cannot advise on {hook_title}: the record has {len(problems)} problem(s) to correct"
        return Card(uuid=str(uuid.uuid4()), summary=_fit(summary), indicator="warning", detail=detail,
                    source=self.source(), overrideReasons=None, links=None)


def _word(status: str) -> str:
    """A status as words for a summary (not_recommended -> not recommended)."""
    return status.replace("_", " ")


def _md(text: str) -> str:
    """Text that Markdown shows as written (no stray emphasis or table breaks)."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_").replace("|", "\\|").replace("\n", " ")


def recognised_orders(draft_orders: dict[str, Any], selections: list[str] | None = None) -> list[DraftOrder]:
    """The drafted ServiceRequests whose code is one of the options' order codes (mapping.yaml `orders`)."""
    mapping = load()
    by_code = {(c.system, c.code): option for option, codes in mapping.orders.items() for c in codes}
    augmentation = mapping.augmentation
    unspecified = {(c.system, c.code) for c in augmentation.codes}
    found: list[DraftOrder] = []
    for entry in draft_orders.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "ServiceRequest":
            continue
        reference = f"ServiceRequest/{resource.get('id')}"
        if selections and reference not in selections:
            continue
        code = resource.get("code")
        codings = code.get("coding") if isinstance(code, dict) else None
        options = [by_code.get((str(c.get("system")), str(c.get("code")))) for c in codings or []
                   if isinstance(c, dict)] if isinstance(codings, list) else []
        option = next((o for o in options if o is not None), None)
        levels = ordered_levels(resource)
        if option is not None:
            found.append(DraftOrder(reference, option, resource, levels=levels))
            continue
        if isinstance(codings, list) and any(isinstance(c, dict) and (str(c.get("system")), str(c.get("code")))
                                             in unspecified for c in codings):
            found.append(DraftOrder(reference, augmentation.options[0], resource, levels=levels,
                                    could_be=augmentation.options))
            continue
        worded = _options_from_words(code, mapping.order_words, augmentation)
        if len(worded) == 1:
            found.append(DraftOrder(reference, worded[0], resource, by_text=True, levels=levels))
        elif worded and set(worded) <= set(augmentation.options):
            found.append(DraftOrder(reference, augmentation.options[0], resource, by_text=True, levels=levels,
                                    could_be=augmentation.options))
    return found


def _options_from_words(code: Any, words: dict[str, tuple[str, ...]], augmentation: AugmentationOrders) -> list[str]:
    """The options the code's text or displays name: one when it names one procedure, several when it names
    several, and the augmentation options when it names cement augmentation in general and no procedure."""
    if not isinstance(code, dict):
        return []
    texts = [code.get("text")] + [c.get("display") for c in code.get("coding") or [] if isinstance(c, dict)]
    text = " ".join(t for t in texts if isinstance(t, str)).lower()
    named = [option for option, listed in words.items() if any(w in text for w in listed)]
    if not named and any(w in text for w in augmentation.words):
        return list(augmentation.options)
    return named
