"""A picture of the spine, C1 to S5, drawn here as inline SVG (no image file, no font or script from elsewhere).

Each involved level is filled with the colour of the option advised there (ui/labels.py's option colours, the ones
the charts and the option cards use) and named in words beside it: the level, the advice and its status, and a
fracture or a compression each with a symbol *and* a word, so nothing is told by colour alone. The level in focus
(the one whose findings and decision are open) has a thick outline and an arrow. A level with no decision yet (the
case does not read, or nothing was evaluated) is marked as involved without a colour of advice.

The picture is a lateral view, front (vertebral bodies) on the left and the canal on the right, so a compression
is drawn where it is: a wedge from the body into the canal.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape

from spinemets.case import VERTEBRAE

# Body height per region, in SVG units: vertebrae grow from the neck to the lumbar spine; the sacral segments are
# drawn small (they are fused).
_HEIGHT = {"C": 12, "T": 14, "L": 18, "S": 9}
_WIDTH = {"C": 34, "T": 40, "L": 50, "S": 38}
_GAP = 2
_CALLOUT = 30     # the height of one level's two lines of words
_TOP = 26
_LABEL_X = 40         # level names end here
_BODY_X = 48          # left edge of the bodies
_CANAL_X = 104        # the canal's front wall
_TEXT_X = 150         # the words of an involved level
_VIEW_WIDTH = 480
_NEUTRAL_FILL, _NEUTRAL_LINE = "#e5e7eb", "#6b7280"
_INVOLVED = "#93c5fd"  # involved, no advice yet: a light blue, named in words as "no decision yet"
_INK = "#111827"       # every word on white: over 15:1
_MUTED = "#374151"     # level names of the uninvolved vertebrae: 10:1 on white


@dataclass(frozen=True)
class Mark:
    """What the picture shows at one involved level.

    `advice` is the option code advised there (None: no decision yet), `advice_words` the option in words
    ("Percutaneous vertebroplasty"), `status_words` its status ("recommended"), `colour` the option's colour;
    `fracture` and `compression` are three-valued (None: unknown, said so in words)."""

    advice: str | None = None
    advice_words: str = ""
    colour: str = _INVOLVED
    status: str | None = None
    status_words: str = ""
    fracture: bool | None = None
    compression: bool | None = None
    provisional: bool = False


def _finding_words(mark: Mark) -> list[str]:
    words = []
    if mark.fracture is True:
        words.append("fracture")
    elif mark.fracture is None:
        words.append("fracture unknown")
    if mark.compression is True:
        words.append("compression")
    elif mark.compression is None:
        words.append("compression unknown")
    return words


def _advice(mark: Mark) -> str:
    if not mark.advice_words:
        return "no decision yet"
    return mark.advice_words + (f", {mark.status_words}" if mark.status_words else "") + (
        " (provisional)" if mark.provisional else "")


def describe(level: str, mark: Mark) -> str:
    """One involved level in words, as the picture's description and its caption say it."""
    findings = _finding_words(mark)
    return f"{level}: {_advice(mark)}" + (f"; {', '.join(findings)}" if findings else "")


def svg(marks: Mapping[str, Mark], *, focus: str | None = None, ident: str = "spine") -> str:
    """The whole spine as one `<svg>` element; `marks` maps an involved level ("T11") to what is shown there,
    `focus` names the level to highlight, `ident` keeps the element ids unique on the page."""
    unknown = sorted(set(marks) - set(VERTEBRAE))
    if unknown:
        raise ValueError(f"not a vertebra: {', '.join(unknown)}")
    involved = [v for v in VERTEBRAE if v in marks]
    places: dict[str, tuple[int, int]] = {}
    y = _TOP
    for level in VERTEBRAE:
        places[level] = (y, _HEIGHT[level[0]])
        y += _HEIGHT[level[0]] + _GAP
    bottom = y
    # Each involved level's words (two lines) stand to the right, level with their vertebra where there is room,
    # else just below the words above, joined to the vertebra by a leader line.
    callouts: dict[str, float] = {}
    below = 0.0
    for level in involved:
        top, height = places[level]
        callouts[level] = max(top + height / 2 - 6, below)
        below = callouts[level] + _CALLOUT
    total = int(max(bottom, below) + 12)
    parts = [_vertebra(level, marks.get(level), *places[level], level == focus, callouts.get(level))
             for level in VERTEBRAE]
    canal = (f"<path d='M{_CANAL_X + 6} {_TOP - 6} L{_CANAL_X + 6} {bottom - 2}' stroke='#9ca3af' stroke-width='10' "
             "stroke-linecap='round' fill='none' opacity='.45'/>")
    title = (f"Spine C1 to S5: {len(involved)} level{'s' if len(involved) != 1 else ''} involved"
             + (f" ({', '.join(involved)})" if involved else "") + (f"; {focus} in focus" if focus in marks else ""))
    desc = ". ".join(describe(level, marks[level]) for level in involved) or "No level described."
    head = (f"<text x='{_LABEL_X}' y='16' font-size='11' text-anchor='end' fill='{_INK}' font-weight='700'>"
            f"front</text><text x='{_CANAL_X + 6}' y='16' font-size='11' text-anchor='middle' fill='{_INK}' "
            f"font-weight='700'>canal</text>")
    return (f"<svg xmlns='http://www.w3.org/2000/svg' class='sm-spine' data-spine='1' role='img' "
            f"viewBox='0 0 {_VIEW_WIDTH} {total}' width='100%' style='max-width:{_VIEW_WIDTH}px;height:auto' "
            f"aria-labelledby='{ident}-title {ident}-desc' font-family='sans-serif'>"
            f"<title id='{ident}-title'>{escape(title)}</title><desc id='{ident}-desc'>{escape(desc)}</desc>"
            f"{head}{canal}{''.join(parts)}</svg>")


def _vertebra(level: str, mark: Mark | None, y: int, height: int, focused: bool, callout: float | None) -> str:
    width = _WIDTH[level[0]]
    x = _BODY_X + (50 - width) // 2
    if mark is None:
        return (f"<g data-level='{level}'><rect x='{x}' y='{y}' width='{width}' height='{height}' rx='3' "
                f"fill='{_NEUTRAL_FILL}' stroke='{_NEUTRAL_LINE}' stroke-width='1'/>"
                f"<text x='{_LABEL_X}' y='{y + height - 3}' font-size='9' text-anchor='end' fill='{_MUTED}'>"
                f"{level}</text></g>")
    attrs = (f"data-level='{level}' data-involved='true' data-option='{escape(mark.advice or '')}' "
             f"data-status='{escape(mark.status or '')}' data-fracture='{_tri(mark.fracture)}' "
             f"data-compression='{_tri(mark.compression)}'" + (" data-focus='true'" if focused else ""))
    outline = (f"stroke='{_INK}' stroke-width='3.5'" if focused else f"stroke='{_INK}' stroke-width='1.2'")
    body = (f"<rect x='{x}' y='{y}' width='{width}' height='{height}' rx='3' fill='{escape(mark.colour)}' "
            f"{outline}/>")
    symbols = ""
    if mark.fracture:
        # a zig-zag across the body: the fracture line, drawn white over black so it shows on any fill
        step = width / 6
        points = " ".join(f"{x + i * step:.1f},{y + height / 2 + (-3 if i % 2 else 3):.1f}" for i in range(7))
        symbols += (f"<polyline points='{points}' fill='none' stroke='#000' stroke-width='3.2'/>"
                    f"<polyline points='{points}' fill='none' stroke='#fff' stroke-width='1.4' "
                    "data-symbol='fracture'/>")
    if mark.compression:
        # a wedge from the back of the body into the canal
        mid = y + height / 2
        symbols += (f"<path d='M{x + width} {mid - 5} L{_CANAL_X + 12} {mid} L{x + width} {mid + 5} Z' fill='#b91c1c' "
                    f"stroke='#000' stroke-width='1' data-symbol='compression'/>")
    pointer = (f"<path d='M{_LABEL_X - 30} {y + height / 2} l-8 -6 v12 Z' fill='{_INK}' data-symbol='focus'/>"
               if focused else "")
    label = (f"<text x='{_LABEL_X}' y='{y + height - 3}' font-size='{11 if focused else 10}' text-anchor='end' "
             f"font-weight='700' fill='{_INK}'>{level}</text>")
    first, second = _label_lines(level, mark)
    at = callout if callout is not None else y + height / 2 - 6
    weight = " font-weight='700'" if focused else ""
    text = (f"<text x='{_TEXT_X}' y='{at + 4:.1f}' font-size='12' fill='{_INK}'{weight}>"
            f"<tspan font-weight='700'>{escape(first)}</tspan>"
            f"<tspan x='{_TEXT_X}' dy='14'>{escape(second)}</tspan></text>")
    leader = (f"<polyline points='{_CANAL_X + 16},{y + height / 2:.1f} {_TEXT_X - 16},{at:.1f} {_TEXT_X - 4},{at:.1f}' "
              f"fill='none' stroke='{_NEUTRAL_LINE}' stroke-width='1' stroke-dasharray='2 2'/>")
    return f"<g {attrs}>{body}{symbols}{pointer}{label}{leader}{text}</g>"


def _label_lines(level: str, mark: Mark) -> tuple[str, str]:
    """'T11 · Percutaneous vertebroplasty' over 'recommended * · ⚡ fracture · ▶ compression'."""
    findings = []
    if mark.fracture:
        findings.append("⚡ fracture")
    if mark.compression:
        findings.append("▶ compression")
    if not mark.advice_words:
        return f"{level} · no decision yet", " · ".join(findings)
    status = mark.status_words + (" *" if mark.provisional else "")
    return f"{level} · {mark.advice_words}", " · ".join(part for part in (status, *findings) if part)


def _tri(value: bool | None) -> str:
    return "unknown" if value is None else "true" if value else "false"
