"""Charts of the papers' outcome figures: a line per study arm over follow-up, a bar per arm for proportions."""
from __future__ import annotations

import altair as alt
import pandas as pd

from .evidence_data import Point


def frame(points: list[Point]) -> pd.DataFrame:
    return pd.DataFrame([{
        "study": p.study, "option": p.option, "arm": p.arm, "series": p.series, "time": p.time or "-",
        "months": p.months, "value": round(p.value, 2), "statistic": p.statistic, "sd": p.sd, "low": p.low,
        "high": p.high, "n": p.n, "events": p.events, "total": p.total, "per": p.per,
        "reported %": p.reported_percent, "unit": p.unit} for p in points])


def over_time(points: list[Point], y_title: str) -> alt.LayerChart | alt.FacetChart:
    data = frame(points)
    # Nominal months put the papers' differently worded follow-ups on one axis; without them, keep the order given.
    if data["months"].notna().all():
        x = alt.X("months:Q", title="months after treatment (nominal)")
    else:
        x = alt.X("time:N", sort=list(dict.fromkeys(data["time"])), title="follow-up")
    base = alt.Chart(data).encode(
        x=x, color=alt.Color("option:N", title="option"),
        tooltip=["study", "arm", "time", "value", "statistic", "sd", "n", "unit"])
    lines = base.mark_line(point=True).encode(
        y=alt.Y("value:Q", title=y_title), detail="series:N",
        strokeDash=alt.StrokeDash("study:N", title="study"))
    layers = [lines]
    if data["sd"].notna().any():
        layers.append(base.mark_errorbar(opacity=0.45).encode(y=alt.Y("low:Q", title=y_title), y2="high:Q",
                                                              detail="series:N"))
    return alt.layer(*layers).properties(height=340)


def proportions(points: list[Point], x_title: str) -> alt.Chart:
    data = frame(points)
    data["label"] = data["study"] + " · " + data["arm"]
    data["events of total"] = data.apply(
        lambda r: f"{r['events']:g} of {r['total']:g} {r['per']}".strip(), axis=1)
    chart: alt.Chart = alt.Chart(data).mark_bar().encode(
        x=alt.X("value:Q", title=x_title, scale=alt.Scale(domain=[0, 100])),
        y=alt.Y("label:N", title=None, sort=None),
        color=alt.Color("option:N", title="option"),
        tooltip=["study", "arm", "value", "events of total", "reported %", "unit"],
    ).properties(height=max(90, 34 * len(data)))
    return chart


def chart_for(points: list[Point]) -> alt.Chart | alt.LayerChart | alt.FacetChart:
    """Points of one measure: lines for series over time, bars for proportions."""
    unit = next((p.unit for p in points if p.unit), "")
    if all(p.kind == "series" for p in points):
        return over_time(points, unit or "value")
    return proportions([p for p in points if p.kind == "proportion"], unit or "%")
