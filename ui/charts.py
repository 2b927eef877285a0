"""Charts of the papers' outcome figures: a line per study arm over follow-up, a bar per arm for proportions.

Readable at 1366 and 1920 px: every axis titled (a long title wrapped, never cut), labels in dark type of 13 px,
studies by their reader's names (never internal ids), bars tall enough for their labels, each bar labelled with
its value. One colour per option on every chart (labels.OPTION_COLOURS, as on the option cards' code badge), the
study told by the line's dash; legends stacked in one column, so none drops an entry on a narrow screen.
"""
from __future__ import annotations

import textwrap
from typing import Any

import altair as alt
import pandas as pd

from .evidence_data import Point
from .labels import OPTION_COLOURS

BAR_PX = 34          # per bar: room for a two-line label
SERIES_HEIGHT = 360
INSIDE_FROM = 45     # % from which a bar's label fits inside it
PALETTE = list(OPTION_COLOURS)
_TEXT: dict[str, Any] = {"labelFontSize": 13, "labelColor": "#1f2937", "titleFontSize": 14, "titleColor": "#111827"}
DASHES = [[1, 0], [6, 3], [2, 2], [8, 3, 2, 3], [12, 4], [3, 5]]


def _wrapped(title: str) -> str | list[str]:
    """A long axis title on two or three lines: Vega cuts a title longer than its axis."""
    lines = textwrap.wrap(title, 30)
    return lines if len(lines) > 1 else title


def option_scale(options: dict[str, str]) -> alt.Scale:
    """Every option of the rule base, in its order, with its own colour: the same option, the same colour."""
    titles = list(options.values())
    return alt.Scale(domain=titles, range=[OPTION_COLOURS[i % len(OPTION_COLOURS)] for i in range(len(titles))])


def frame(points: list[Point], studies: dict[str, str], options: dict[str, str]) -> pd.DataFrame:
    data = pd.DataFrame([{
        "study": studies.get(p.study, p.study), "option": options.get(p.option, p.option), "arm": p.arm,
        "time": p.time or "-", "months": p.months, "value": round(p.value, 2), "statistic": p.statistic, "sd": p.sd,
        "low": p.low, "high": p.high, "n": p.n, "events": p.events, "total": p.total, "per": p.per,
        "reported %": p.reported_percent, "unit": p.unit} for p in points])
    # A line's name: the study and the option; the paper's own arm label only where one study has two arms of
    # the same option.
    data["line"] = data["study"] + ": " + data["option"]
    data["series"] = data["study"]
    twins = data.groupby("line")["arm"].transform("nunique") > 1
    data.loc[twins, "line"] = data["line"] + " (" + data["arm"] + ")"
    data.loc[twins, "series"] = data["study"] + " (" + data["arm"] + ")"
    return data


def over_time(points: list[Point], y_title: str, studies: dict[str, str], options: dict[str, str]) -> alt.LayerChart:
    data = frame(points, studies, options)
    series = list(dict.fromkeys(data["series"]))
    legend: dict[str, Any] = {"orient": "bottom", "direction": "vertical", "labelLimit": 600, "titleLimit": 600,
                              **_TEXT}
    shown = [o for o in options.values() if o in set(data["option"])]
    colour = alt.Color("option:N", title="option", scale=option_scale(options),
                       legend=alt.Legend(symbolType="stroke", symbolStrokeWidth=3, values=shown, **legend))
    dash = alt.StrokeDash("series:N", title="study", sort=series,
                          scale=alt.Scale(domain=series, range=DASHES[:len(series)] or DASHES),
                          legend=alt.Legend(symbolType="stroke", symbolStrokeWidth=3, symbolStrokeColor="#1f2937",
                                            **legend))
    # Nominal months put the papers' differently worded follow-ups on one axis; without them, keep the order given.
    if data["months"].notna().all():
        x = alt.X("months:Q", title="Months after treatment (nominal)", axis=alt.Axis(tickMinStep=1, **_TEXT))
    else:
        x = alt.X("time:N", sort=list(dict.fromkeys(data["time"])), title="Follow-up", axis=alt.Axis(**_TEXT))
    y_axis = alt.Axis(titleLimit=SERIES_HEIGHT, **_TEXT)
    base = alt.Chart(data).encode(x=x, color=colour, detail="line:N",
                                  tooltip=["study", "option", "arm", "time", "value", "statistic", "sd", "n", "unit"])
    layers = [base.mark_line(point=True, strokeWidth=2.5).encode(
        y=alt.Y("value:Q", title=_wrapped(y_title), axis=y_axis), strokeDash=dash)]
    if data["sd"].notna().any():
        layers.append(base.mark_errorbar(opacity=0.5).encode(y=alt.Y("low:Q", title=_wrapped(y_title), axis=y_axis),
                                                             y2="high:Q"))
    # The legends sit under the plot, inside the chart's height: make room for their rows.
    return alt.LayerChart(layer=layers, height=SERIES_HEIGHT + 24 * (len(shown) + len(series)) + 60)


def proportions(points: list[Point], x_title: str, studies: dict[str, str], options: dict[str, str]) -> alt.LayerChart:
    data = frame(points, studies, options)
    data["label"] = data["line"]
    data["events of total"] = data.apply(
        lambda r: f"{r['events']:g} of {r['total']:g} {r['per']}".strip() if pd.notna(r["events"]) else "", axis=1)
    data["text"] = data.apply(lambda r: f"{r['value']:.0f}%" + (f" ({r['events of total']})" if r["events of total"]
                                                                 else ""), axis=1)
    order = list(data["label"])
    # Study and option on two lines (BAR_PX leaves room): on one line a long pair was cut at the label limit.
    y = alt.Y("label:N", title=None, sort=order,
              axis=alt.Axis(labelLimit=420, labelExpr="split(datum.label, ': ')", **_TEXT))
    base = alt.Chart(data).encode(y=y, tooltip=["study", "option", "arm", "value", "events of total", "reported %",
                                                "unit"])
    shown = [o for o in options.values() if o in set(data["option"])]
    bars = base.mark_bar(height=BAR_PX - 12).encode(
        x=alt.X("value:Q", title=_wrapped(x_title) if len(x_title) > 60 else x_title,
                scale=alt.Scale(domain=[0, 100]), axis=alt.Axis(titleLimit=900, **_TEXT)),
        color=alt.Color("option:N", title="option", scale=option_scale(options),
                        legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=600, values=shown,
                                          **_TEXT)))
    # A long bar carries its label inside, a short one just after it: no label runs past the axis.
    inside = base.transform_filter(alt.datum.value >= INSIDE_FROM).mark_text(
        align="right", dx=-6, fontSize=12, color="white", fontWeight="bold").encode(x="value:Q", text="text:N")
    outside = base.transform_filter(alt.datum.value < INSIDE_FROM).mark_text(
        align="left", dx=4, fontSize=12).encode(x="value:Q", text="text:N")
    return alt.LayerChart(layer=[bars, inside, outside], height=alt.Step(BAR_PX))


def chart_for(points: list[Point], studies: dict[str, str], options: dict[str, str]) -> alt.LayerChart:
    """Points of one measure: lines for series over time, bars for proportions."""
    unit = next((p.unit for p in points if p.unit), "")
    if all(p.kind == "series" for p in points):
        return over_time(points, unit or "value", studies, options)
    return proportions([p for p in points if p.kind == "proportion"], unit or "% of patients", studies, options)
