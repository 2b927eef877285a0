"""Charts of the papers' outcome figures: a line per study arm over follow-up, a bar per arm for proportions.

Readable at 1280 and 1920 px: every axis titled, studies by their reader's names (never internal ids), one colour
per line with a legend that draws lines, bars tall enough for their labels, each bar labelled with its value.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from .evidence_data import Point

BAR_PX = 34          # per bar: room for a two-line label
SERIES_HEIGHT = 360
INSIDE_FROM = 45     # % from which a bar's label fits inside it
# Eight colours distinguishable by colour-blind readers (Okabe-Ito), so two studies' arms never share one.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def frame(points: list[Point], studies: dict[str, str], options: dict[str, str]) -> pd.DataFrame:
    data = pd.DataFrame([{
        "study": studies.get(p.study, p.study), "option": options.get(p.option, p.option), "arm": p.arm,
        "time": p.time or "-", "months": p.months, "value": round(p.value, 2), "statistic": p.statistic, "sd": p.sd,
        "low": p.low, "high": p.high, "n": p.n, "events": p.events, "total": p.total, "per": p.per,
        "reported %": p.reported_percent, "unit": p.unit} for p in points])
    # A line's name: the study and the option; the paper's own arm label only where one study has two arms of
    # the same option.
    data["line"] = data["study"] + ": " + data["option"]
    twins = data.groupby("line")["arm"].transform("nunique") > 1
    data.loc[twins, "line"] = data["line"] + " (" + data["arm"] + ")"
    return data


def over_time(points: list[Point], y_title: str, studies: dict[str, str], options: dict[str, str]) -> alt.LayerChart:
    data = frame(points, studies, options)
    lines = list(dict.fromkeys(data["line"]))
    colour = alt.Color("line:N", title="study: option", sort=lines,
                       scale=alt.Scale(domain=lines, range=PALETTE[:len(lines)] or PALETTE),
                       legend=alt.Legend(orient="bottom", direction="vertical", symbolType="stroke",
                                         symbolStrokeWidth=3, labelLimit=600, titleLimit=600))
    # Nominal months put the papers' differently worded follow-ups on one axis; without them, keep the order given.
    if data["months"].notna().all():
        x = alt.X("months:Q", title="Months after treatment (nominal)", axis=alt.Axis(tickMinStep=1))
    else:
        x = alt.X("time:N", sort=list(dict.fromkeys(data["time"])), title="Follow-up")
    base = alt.Chart(data).encode(x=x, color=colour,
                                  tooltip=["study", "option", "arm", "time", "value", "statistic", "sd", "n", "unit"])
    layers = [base.mark_line(point=True, strokeWidth=2.5).encode(y=alt.Y("value:Q", title=y_title))]
    if data["sd"].notna().any():
        layers.append(base.mark_errorbar(opacity=0.5).encode(y=alt.Y("low:Q", title=y_title), y2="high:Q"))
    # The legend sits under the plot, inside the chart's height: make room for its rows.
    return alt.LayerChart(layer=layers, height=SERIES_HEIGHT + 22 * len(lines) + 30)


def proportions(points: list[Point], x_title: str, studies: dict[str, str], options: dict[str, str]) -> alt.LayerChart:
    data = frame(points, studies, options)
    data["label"] = data["line"]
    data["events of total"] = data.apply(
        lambda r: f"{r['events']:g} of {r['total']:g} {r['per']}".strip() if pd.notna(r["events"]) else "", axis=1)
    data["text"] = data.apply(lambda r: f"{r['value']:.0f}%" + (f" ({r['events of total']})" if r["events of total"]
                                                                 else ""), axis=1)
    order = list(data["label"])
    y = alt.Y("label:N", title=None, sort=order, axis=alt.Axis(labelLimit=420, labelFontSize=12))
    base = alt.Chart(data).encode(y=y, tooltip=["study", "option", "arm", "value", "events of total", "reported %",
                                                "unit"])
    bars = base.mark_bar(height=BAR_PX - 12).encode(
        x=alt.X("value:Q", title=x_title, scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("option:N", title="option", legend=alt.Legend(orient="bottom", labelLimit=600)))
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
