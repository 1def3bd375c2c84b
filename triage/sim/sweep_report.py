"""The sweep's report (``report.html``, self-contained): the trade-offs a designer asks
for, from the points' rows (:mod:`triage.sim.sweep`).

- **Pareto front**: ships delivered against bytes sent. A point is on the front when no
  other point delivers at least as many ships with at most as many bytes (and is better
  in one). The **knee** is the front's point farthest from the straight line joining
  its two ends, both axes scaled to 0..1: where more bytes stop buying many more ships.
- first-pass ships against bytes sent (the baselines' first-pass rule: a frame counts
  only when every segment arrived);
- mean latency against the link rate;
- laid cloud cover against the reduction factor;
- the table of every point, the failed ones named, and the timing.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from triage.sim.report import CSS, Raw, _legend_outside, _png, _table

SAMPLE_MARKERS = {"out-of-sample": "o", "in-sample": "s", "mixed": "D", "unknown": "x"}


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points of (cost, value) pairs: no other point has a
    cost at most as high and a value at least as high, one of them strictly; sorted by
    cost."""
    out = []
    for i, (c, v) in enumerate(points):
        dominated = any(
            (c2 <= c and v2 >= v) and (c2 < c or v2 > v)
            for j, (c2, v2) in enumerate(points)
            if j != i
        )
        if not dominated:
            out.append(i)
    # equal points: keep the first
    seen, front = set(), []
    for i in sorted(out, key=lambda i: (points[i][0], -points[i][1], i)):
        if points[i] not in seen:
            seen.add(points[i])
            front.append(i)
    return front


def knee(points: list[tuple[float, float]], front: list[int]) -> int | None:
    """The front's point farthest from the chord joining its ends (axes scaled to 0..1)."""
    if len(front) < 3:
        return front[-1] if front else None
    c = np.array([points[i][0] for i in front], dtype=float)
    v = np.array([points[i][1] for i in front], dtype=float)
    cs = (c - c.min()) / ((c.max() - c.min()) or 1.0)
    vs = (v - v.min()) / ((v.max() - v.min()) or 1.0)
    x0, y0, x1, y1 = cs[0], vs[0], cs[-1], vs[-1]
    d = np.abs((y1 - y0) * cs - (x1 - x0) * vs + x1 * y0 - y1 * x0) / np.hypot(x1 - x0, y1 - y0)
    return front[int(np.argmax(d))]


def _ok(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["status"] == "ok" and r.get("sent_bytes") is not None]


def _label(r: dict, axes: list[str]) -> str:
    return ", ".join(f"{a}={r.get(a)}" for a in axes)


def plot_pareto(rows: list[dict], axes: list[str], value: str, title: str) -> tuple[str, dict]:
    import matplotlib.pyplot as plt

    ok = _ok(rows)
    pts = [(float(r["sent_bytes"]), float(r[value] or 0)) for r in ok]
    front = pareto_front(pts)
    k = knee(pts, front)
    fig, ax = plt.subplots(figsize=(10, 4.6))
    for kind, mk in SAMPLE_MARKERS.items():
        sel = [i for i, r in enumerate(ok) if r.get("sample") == kind]
        if sel:
            ax.scatter(
                [pts[i][0] / 1e6 for i in sel],
                [pts[i][1] for i in sel],
                marker=mk,
                color="#888888",
                s=22,
                label=f"point ({kind})",
            )
    if front:
        ax.plot(
            [pts[i][0] / 1e6 for i in front],
            [pts[i][1] for i in front],
            "-o",
            color="#1b7837",
            ms=5,
            label="Pareto front",
        )
    if k is not None:
        ax.plot(pts[k][0] / 1e6, pts[k][1], "*", ms=16, color="#d95f02", label="knee")
    ax.set_xscale("log")
    ax.set_xlabel("bytes triage sent over the window (MB, log scale)")
    ax.set_ylabel(value.replace("_", " "))
    ax.set_title(title)
    _legend_outside(ax)
    info = {
        "front": [ok[i]["point"] for i in front],
        "knee": ok[k]["point"] if k is not None else None,
        "knee_label": _label(ok[k], axes) if k is not None else None,
    }
    return _png(fig), info


def plot_by(
    rows: list[dict], x: str, y: str, xlabel: str, ylabel: str, title: str, logx: bool = False
) -> str | None:
    """y against x: every point (grey), and the median and range over the other axes."""
    import matplotlib.pyplot as plt

    ok = [r for r in _ok(rows) if r.get(x) is not None and r.get(y) is not None]
    xs = sorted({float(r[x]) for r in ok})
    if len(xs) < 2:
        return None
    fig, ax = plt.subplots(figsize=(10, 4.0))
    ax.scatter(
        [float(r[x]) for r in ok],
        [float(r[y]) for r in ok],
        s=14,
        color="#999999",
        label=f"a point ({len(ok)})",
    )
    med, lo, hi = [], [], []
    for v in xs:
        ys = [float(r[y]) for r in ok if float(r[x]) == v]
        med.append(float(np.median(ys)))
        lo.append(min(ys))
        hi.append(max(ys))
    ax.fill_between(
        xs, lo, hi, color="#1b7837", alpha=0.15, lw=0, label="range over the other axes"
    )
    ax.plot(xs, med, "-o", color="#1b7837", label="median over the other axes")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    _legend_outside(ax)
    return _png(fig)


def write_sweep_report(path: Path, spec, rows: list[dict], summary: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    axes = [a for a in spec.axes.values()]

    parts = []
    ok = _ok(rows)
    if ok:
        src, info = plot_pareto(rows, axes, "ships_delivered", "Ships delivered against bytes sent")
        parts.append(
            f"<h2>Pareto front: ships delivered against bytes sent</h2>"
            f'<img src="{src}" alt="pareto"><p>Front: {html.escape(", ".join(info["front"]))}. '
            f"<b>Knee</b>: {html.escape(str(info['knee']))} "
            f"({html.escape(str(info['knee_label']))}).</p>"
        )
        src2, info2 = plot_pareto(
            rows, axes, "first_pass_ships", "First-pass ships against bytes sent"
        )
        parts.append(
            f'<h2>First-pass ships against bytes sent</h2><img src="{src2}" alt="first pass">'
            f"<p>Front: {html.escape(', '.join(info2['front']))}; "
            f"knee {html.escape(str(info2['knee']))}."
            " Baselines: a frame counts only when every one of its segments arrived.</p>"
        )
        lat = plot_by(
            rows,
            "link_rate_bps",
            "latency_s_mean",
            "link rate (bit/s, log scale)",
            "mean capture-to-ground latency (s)",
            "Latency against link rate",
            logx=True,
        )
        if lat:
            parts.append(f'<h2>Latency against link rate</h2><img src="{lat}" alt="latency">')
        cl = plot_by(
            rows,
            "cloud_fraction_mean",
            "reduction_factor",
            "laid cloud cover (mean fraction of the frames' pixels)",
            "reduction factor (raw bytes / bytes sent)",
            "Cloud cover against reduction",
        )
        if cl:
            parts.append(f'<h2>Cloud cover against reduction</h2><img src="{cl}" alt="clouds">')
        for x, xlabel, what in (
            ("min_elevation_deg", "stations' elevation mask (deg)", "Elevation mask"),
            ("satellites", "satellites in the orbital plane", "Satellites"),
        ):
            for y, ylabel, short in (
                ("ships_delivered", "ships delivered at full resolution", "ships delivered"),
                ("reduction_factor", "reduction factor (raw bytes / bytes sent)", "reduction"),
                ("latency_s_mean", "mean capture-to-ground latency (s)", "latency"),
            ):
                src = plot_by(rows, x, y, xlabel, ylabel, f"{what} against {short}")
                if src:
                    parts.append(f'<h2>{what} against {short}</h2><img src="{src}" alt="{x} {y}">')
    failed = summary["failed"]
    fail_html = (
        "<p>Every point finished.</p>"
        if not failed
        else "<ul>"
        + "".join(
            f"<li><b>{html.escape(f['point'])}</b>: {html.escape(str(f['error']))}</li>"
            for f in failed
        )
        + "</ul>"
    )
    cols = [
        "point",
        "status",
        *axes,
        "sample",
        "sent_bytes",
        "reduction_factor",
        "ships_delivered",
        "ships_labelled",
        "ship_recall",
        "ship_recall_visible",
        "crop_precision",
        "first_pass_ships",
        "latency_s_mean",
        "cloud_fraction_mean",
        "targets_missed",
        "runtime_s",
    ]
    table = _table(
        cols,
        [
            [Raw(html.escape(str(r.get(c)))) if c == "status" else r.get(c) for c in cols]
            for r in rows
        ],
    )
    samples = sorted({r.get("sample") for r in ok if r.get("sample")})
    spec_json = html.escape(json.dumps(spec.model_dump(), indent=1))
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sweep: {html.escape(spec.name)}</title>
<style>{CSS}</style></head><body>
<h1>Trade study: {html.escape(spec.name)}</h1>
<p>{summary["points"]} points ({len(failed)} failed) over the axes
{html.escape(", ".join(axes))}; base manifest <code>{html.escape(spec.base)}</code>;
classifier choice {html.escape(spec.model)}. Figures are {html.escape(", ".join(samples) or "–")}
(each point's metrics say per frame). Ran {summary["wall_s"]} s, {summary["points_per_minute"]}
points per minute ({html.escape(summary["mode"])}).</p>
{"".join(parts)}
<h2>Failed points</h2>{fail_html}
<h2>All points</h2>{table}
<h2>Spec</h2><pre style="font-size:.8em">{spec_json}</pre>
</body></html>
"""
    Path(path).write_text(doc, encoding="utf-8")
