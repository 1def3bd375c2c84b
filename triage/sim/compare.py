"""Runs side by side: one self-contained HTML page from the ``metrics.json`` of two or
more simulation runs (e.g. the same image set over UHF and over S-band).

``triage compare RUN_DIR RUN_DIR... --out FILE`` and ``triage demo`` write it. It
shows, per run: the headline figures of triage and of each baseline (with the
baselines' rules), the targets (met in green, missed in red), whether the figures
are in-sample, ships delivered over time, and the per-scene reduction, recall and
crop precision, each run in its own column.
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from pathlib import Path

from triage.sim.baselines import BASELINE_RULES, FIRST_PASS_RULE
from triage.sim.errors import OutputError
from triage.sim.report import CSS, MODE_COLOURS, MODE_LABELS, Raw, _legend_outside, _png, _table

RUN_STYLES = ("-", "--", ":", "-.")


def load_run(folder: Path) -> dict:
    """A run's ``metrics.json``; :class:`OutputError` naming the folder when absent."""
    path = Path(folder) / "metrics.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise OutputError(f"{folder} holds no metrics.json (not a simulation run)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise OutputError(f"{path} cannot be read: {exc}") from None


def _label(m: dict) -> str:
    return m["link"]["name"]


def _modes(m: dict) -> dict[str, dict]:
    return {"triage": m, **m.get("baselines", {})}


KEYS = [
    ("sent_bytes", "bytes sent"),
    ("reduction_factor", "reduction factor (raw / sent)"),
    ("ships_delivered", "ships delivered"),
    ("ship_recall", "ship recall"),
    ("ship_recall_visible", "ship recall, visible ships"),
    ("ship_recall_out_of_sample", "ship recall, out-of-sample ships"),
    ("ship_recall_in_sample", "ship recall, in-sample ships"),
    ("crop_precision", "crop precision"),
    ("first_pass_ships", "first-pass ships"),
    ("latency_s_mean", "mean latency (s)"),
    ("latency_s_max", "max latency (s)"),
    ("budget_utilization", "budget use (share)"),
    ("packet_loss_rate", "packet loss rate (measured)"),
]


def _kpi_table(runs: list[dict]) -> str:
    headers = ["metric"]
    cols = []
    for m in runs:
        for name, mm in _modes(m).items():
            headers.append(f"{_label(m)}: {MODE_LABELS.get(name, name)}")
            cols.append(mm)
    rows = [[label, *(c.get(k) for c in cols)] for k, label in KEYS]
    rows.insert(
        0,
        [
            "passes; budget (bytes)",
            *(f"{m['passes']}; {m['budget_bytes']:,}" for m in runs for _ in _modes(m)),
        ],
    )
    return _table(headers, rows)


def _targets(runs: list[dict]) -> str:
    names = list(dict.fromkeys(k for m in runs for k in m["targets"]))
    rows = []
    for n in names:
        row: list = [n.replace("_", " ")]
        for m in runs:
            t = m["targets"].get(n)
            if t is None:
                row.append(None)
                continue
            v = json.dumps(t["value"]) if isinstance(t["value"], list) else t["value"]
            cls = "met" if t["met"] else "missed"
            word = "met" if t["met"] else "MISSED"
            row.append(Raw(f'{html.escape(str(v))} <span class="{cls}">{word}</span>'))
        rows.append(row)
    return _table(["target", *(_label(m) for m in runs)], rows)


def _scenes(runs: list[dict]) -> str:
    scenes = list(dict.fromkeys(r["scene"] for m in runs for r in m.get("per_scene", [])))
    headers = ["scene", "sample"]
    for m in runs:
        headers += [f"{_label(m)}: recall", f"{_label(m)}: crop precision"]
    headers.append("reduction on board (any link)")
    rows = []
    for sc in scenes:
        rs = [next((r for r in m.get("per_scene", []) if r["scene"] == sc), None) for m in runs]
        first = next(r for r in rs if r is not None)
        row = [sc, first["sample"]]
        for r in rs:
            row += [None, None] if r is None else [r["ship_recall"], r["crop_precision"]]
        row.append(first["onboard_reduction"])
        rows.append(row)
    return _table(headers, rows)


def _plot_ships(runs: list[dict]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 3.8))
    t0 = min(datetime.fromisoformat(m["window_start_utc"]) for m in runs)
    for i, m in enumerate(runs):
        style = RUN_STYLES[i % len(RUN_STYLES)]
        for mode in _modes(m):
            xs, ys, total = [0.0], [0], 0
            for p in m.get("pass_timeline", []):
                n = p.get("ships_delivered", {}).get(mode, 0)
                if n:
                    h = (datetime.fromisoformat(p["aos_utc"]) - t0).total_seconds() / 3600
                    total += n
                    xs.append(h)
                    ys.append(total)
            end = (datetime.fromisoformat(m["window_end_utc"]) - t0).total_seconds() / 3600
            xs.append(end)
            ys.append(total)
            ax.step(
                xs,
                ys,
                where="post",
                ls=style,
                color=MODE_COLOURS.get(mode),
                label=f"{_label(m)}: {MODE_LABELS.get(mode, mode)}",
            )
    ax.set_xlabel(
        f"hours since {t0:%Y-%m-%d %H:%M} UTC (ships counted at the opening of the pass "
        "that delivered them)"
    )
    ax.set_ylabel("ships delivered (cumulative)")
    ax.set_title("Ships delivered at full resolution over time, per link")
    _legend_outside(ax)
    return _png(fig)


def write_comparison(run_dirs: list[Path], out: Path) -> Path:
    """One HTML page comparing the runs in ``run_dirs`` (two or more)."""
    import matplotlib

    matplotlib.use("Agg")
    if len(run_dirs) < 2:
        raise OutputError("compare needs at least two runs")
    runs = [load_run(d) for d in run_dirs]
    samples = {m["classifiers"]["sample"] for m in runs if "classifiers" in m}
    sample_txt = ", ".join(sorted(samples)) or "unknown"
    rules = "".join(
        f"<li><b>{html.escape(MODE_LABELS.get(k, k))}</b>: {html.escape(v)}</li>"
        for k, v in BASELINE_RULES.items()
    )
    credits = sorted({a for m in runs for a in m.get("attribution", [])})
    run_list = "".join(
        f"<li>{html.escape(_label(m))}: {html.escape(str(d))}</li>"
        for m, d in zip(runs, run_dirs, strict=True)
    )
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Triage: runs side by side</title>
<style>{CSS}</style></head><body>
<h1>Runs side by side: {html.escape(" vs ".join(_label(m) for m in runs))}</h1>
<p>Image set: {html.escape("; ".join(dict.fromkeys(m["manifest"] for m in runs)))}.
Figures are <b>{html.escape(sample_txt)}</b> (see each run's report for the classifier of every
frame).</p>
<h2>Targets</h2>{_targets(runs)}
<h2>Triage and the baselines</h2>{_kpi_table(runs)}
<p>Baseline rules:</p><ul>{rules}</ul>
<p>First-pass rule: {html.escape(FIRST_PASS_RULE)}.</p>
<h2>Ships over time</h2><img src="{_plot_ships(runs)}" alt="ships over time">
<h2>Per scene</h2>{_scenes(runs)}
<h2>Runs</h2><ul>{run_list}</ul>
<h2>Credits</h2><ul class="credit">{"".join(f"<li>{html.escape(c)}</li>" for c in credits)}</ul>
</body></html>
"""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    tmp.write_text(doc, encoding="utf-8")
    tmp.replace(out)
    return out
