"""The tumor board summary as a PDF for the minutes, built in memory, in DejaVu Sans embedded from ui/fonts/.

The font ships with the package (its licence allows it: ui/fonts/LICENSE-DejaVu.txt), so the PDF is the same on
every machine whatever fonts the system has, and prints Łódź, ≥, 10⁻³, Greek and Cyrillic as written. A character
DejaVu Sans has no glyph for (CJK, emoji) is printed as its compatibility
decomposition when the font has that, else as '?'.
"""
from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from .report_content import OptionLine, Summary

FONTS = Path(__file__).resolve().parent / "fonts"
FAMILY = "DejaVu"
_FACES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}


@cache
def _covered() -> frozenset[int]:
    """Code points every face of the embedded font can draw."""
    pdf = FPDF()
    for style, name in _FACES.items():
        pdf.add_font(FAMILY, style, FONTS / name)
    return frozenset.intersection(*(frozenset(getattr(font, "cmap", ())) for font in pdf.fonts.values()))


def printable(text: str) -> str:
    """Text the embedded font can draw: every character it has as is; the rest by their compatibility
    decomposition (fullwidth Ａ, mathematical 𝐀 -> A; accents dropped) when the font has that, else '?'."""
    covered = _covered()
    out = []
    for char in str(text):
        if ord(char) in covered or char in "\n\t":
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        out.append(base if base and all(ord(c) in covered for c in base) else "?")
    return "".join(out)


class _Pdf(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(format="A4", unit="mm")
        for style, name in _FACES.items():
            self.add_font(FAMILY, style, FONTS / name)
        self._footer_text = footer_text
        self.set_margins(14, 12, 14)
        self.set_auto_page_break(auto=True, margin=14)
        self.set_creator("spinemets")
        self.set_title("Tumor board summary")

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(FAMILY, "I", 7)
        self.set_text_color(90, 90, 90)
        self.cell(0, 4, printable(f"{self._footer_text} - page {self.page_no()}/{{nb}}"), align="C")


def render(s: Summary) -> bytes:
    pdf = _Pdf(f"{s.rulebook}, sha256 {s.sha256[:16]}... - decision support, not a medical device")
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.epw

    def text(body: str, size: float = 8.5, style: str = "", gap: float = 0.6, colour: tuple[int, int, int] = (0, 0, 0),
             indent: float = 0) -> None:
        pdf.set_font(FAMILY, style, size)
        pdf.set_text_color(*colour)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(width - indent, size * 0.45, printable(body), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    def heading(body: str) -> None:
        pdf.ln(1.2)
        text(body, 10.5, "B", 0.4)

    text(f"Tumor board summary: {s.case_title or s.case_id}", 14, "B", 1)
    pdf.set_fill_color(253, 243, 227)
    pdf.set_font(FAMILY, "B", 8)
    pdf.multi_cell(width, 3.8, printable(s.disclaimer), border=1, fill=True, align="L", new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)
    pdf.ln(1)
    text(f"Case {s.case_id} - generated {s.generated} - rule base {s.rulebook}", 8)
    text(f"Rule base sha256 {s.sha256}", 7, colour=(80, 80, 80))

    if s.presentation:
        heading("Presentation")
        text(s.presentation.strip(), 8)
    heading("Case")
    for group, items in s.findings:
        text(f"{group}: " + "; ".join(f"{t}: {v}" for t, v in items), 8, gap=0.3)
    for level in s.levels:
        text(f"{level.level}: " + ("; ".join(f"{t}: {v}" for t, v in level.findings) or "no finding entered"), 8,
             gap=0.3)
    text(f"{s.unknown_count} fields not assessed (unknown).", 7.5, "I", colour=(80, 80, 80))

    def options(found: list[OptionLine]) -> None:
        for o in found:
            rank = f"{o.rank}. " if o.rank else "   "
            flag = " (provisional)" if o.provisional else ""
            text(f"{rank}{o.code} - {o.title}: {o.status}{flag}", 9, "B", 0.2)
            for r in o.reasons:
                refs = " [" + ", ".join(map(str, r.refs)) + "]" if r.refs else ""
                text(f"{r.effect}: {r.text}{refs}" + "".join(f"; rests on {fact}" for fact in r.rests_on), 8,
                     gap=0.2, indent=5)
            pdf.ln(0.6)

    if s.plan or s.plan_reasons:
        heading("Plan for the patient")
        for line in s.plan:
            text(line, 8.5, gap=0.2)
        for n in s.plan_reasons:
            text(f"{n.heading}: {n.text} [" + ", ".join(map(str, n.refs)) + "]", 8, gap=0.2)
    for level in s.levels:
        heading(f"Decision at {level.level} - top suggestion: {level.top}")
        options(level.options)
    heading(f"Top suggestion: {s.top}")
    if s.levels:
        text("For the patient: each option at the best status it reaches at any level.", 8, "I")
    options(s.options)
    if s.conflicts:
        heading("Conflicts between papers")
        for n in s.conflicts:
            text(f"{n.heading}: {n.text} [" + ", ".join(map(str, n.refs)) + "]", 8)
    if s.adjuncts:
        heading("Adjuncts")
        for n in s.adjuncts:
            text(f"{n.heading}: {n.text} [" + ", ".join(map(str, n.refs)) + "]", 8)
    heading("Missing data")
    if s.missing:
        text("Unknown, and could change the advice once known: "
             + "; ".join(f"{title} ({affects})" for title, affects in s.missing) + ".", 8)
    else:
        text("No unknown field could change this advice.", 8)
    if s.scores:
        heading("Scores")
        for line in s.scores:
            text(line, 8, gap=0.2)
    heading("References")
    for ref in s.references:
        stance = f" ({ref.stance})" if ref.stance else ""
        text(f"[{ref.number}] {ref.source}, {ref.section}{stance}: {ref.passage}", 7, gap=0.2)
    heading("Sources")
    for short, bibliography in s.sources:
        text(f"{short}: {bibliography}", 7, gap=0.2)
    return bytes(pdf.output())
