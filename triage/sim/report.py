"""The run's report: ``metrics.json`` and a self-contained ``report.html``.

The HTML embeds its plots as PNG (base64 data URIs), so the one file can be
mailed or archived: bytes per pass (raw, compressed, triaged), budget use per
pass, tiles discarded by class, ships delivered over time, capture-to-ground
latency, the ground station's mosaics with the delivered crops and the labelled
ships, and tables of every number. Imagery credits (the Copernicus attribution
for Sentinel-2) are printed under every image and in the footer.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from triage.sim import results as results_module
from triage.sim.results import TRIAGE, SimResult

MODE_COLOURS = {TRIAGE: "#1b7837", "compressed": "#2166ac", "raw": "#b2182b"}
MODE_ORDER = ("raw", "compressed", TRIAGE)


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _modes(res: SimResult) -> list[str]:
    return [m for m in MODE_ORDER if m in res.modes]


def plot_bytes_per_pass(res: SimResult) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.6))
    x = np.arange(len(res.passes))
    ax.fill_between(
        x, [p.budget_bytes for p in res.passes], step="mid", color="#eeeeee", label="budget"
    )
    for m in _modes(res):
        ys = [max(t.sent_bytes, 1) for t in res.modes[m].traffic]
        ax.step(x, ys, where="mid", label=m, color=MODE_COLOURS.get(m), lw=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("pass")
    ax.set_ylabel("bytes sent")
    ax.set_title("Bytes per pass (raw, compressed, triaged) against the pass budget")
    ax.legend(fontsize=8, ncol=4)
    return _png(fig)


def plot_budget_use(res: SimResult) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.0))
    x = np.arange(len(res.passes))
    for m in _modes(res):
        use = [
            t.sent_bytes / p.budget_bytes if p.budget_bytes else 0.0
            for t, p in zip(res.modes[m].traffic, res.passes, strict=True)
        ]
        ax.plot(x, np.array(use) * 100, marker=".", label=m, color=MODE_COLOURS.get(m))
    ax.set_ylim(-2, 105)
    ax.set_xlabel("pass")
    ax.set_ylabel("% of pass budget")
    ax.set_title("Budget use per pass")
    ax.legend(fontsize=8)
    return _png(fig)


def plot_bytes_by_product(res: SimResult) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.0))
    totals: dict[str, int] = {}
    for t in res.modes[TRIAGE].traffic:
        for k, v in t.bytes_by_product.items():
            totals[k] = totals.get(k, 0) + v
    names = sorted(totals, key=lambda k: -totals[k])
    vals = [totals[k] for k in names]
    ax.barh(names, vals, color="#1b7837")
    for i, v in enumerate(vals):
        ax.text(v, i, f" {v:,}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("bytes sent (packets, retransmissions included)")
    ax.set_title("Triage: what the bytes carried")
    ax.set_xlim(0, max(vals, default=1) * 1.3)
    return _png(fig)


def plot_discards(res: SimResult) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    n = len(res.classes)
    total = np.zeros(n, dtype=np.int64)
    disc = np.zeros(n, dtype=np.int64)
    for f in res.frames:
        total[: len(f.tiles_by_class)] += np.array(f.tiles_by_class, dtype=np.int64)
        disc[: len(f.tiles_discarded_by_class)] += np.array(
            f.tiles_discarded_by_class, dtype=np.int64
        )
    x = np.arange(n)
    ax.bar(x, disc, color="#999999", label="discarded on board")
    ax.bar(x, total - disc, bottom=disc, color="#1b7837", label="kept")
    for i in range(n):
        ax.text(i, total[i], f"{disc[i]}/{total[i]}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, res.classes)
    ax.set_ylabel("tiles (top class)")
    ax.set_title("Tiles by class: discarded on board vs kept")
    ax.legend(fontsize=8)
    return _png(fig)


def plot_ships_over_time(res: SimResult) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.6))
    t0 = res.window_start
    hours_end = (res.window_end - t0).total_seconds() / 3600
    labelled = 0
    for m in _modes(res):
        run = res.modes[m]
        labelled = len(run.outcomes)
        ts = sorted(
            (o.delivered_at - t0).total_seconds() / 3600
            for o in run.outcomes
            if o.delivered_at is not None
        )
        xs = [0.0, *ts, hours_end]
        ys = [0, *range(1, len(ts) + 1), len(ts)]
        ax.step(xs, ys, where="post", label=m, color=MODE_COLOURS.get(m))
    caps = sorted((f.capture_time - t0).total_seconds() / 3600 for f in res.frames)
    ax.plot(caps, np.zeros(len(caps)), "k|", ms=12, label="captures")
    for p in res.passes:
        ax.axvspan(
            (p.aos - t0).total_seconds() / 3600,
            (p.los - t0).total_seconds() / 3600,
            color="#dddddd",
            lw=0,
        )
    ax.axhline(labelled, color="k", ls=":", lw=0.8, label="labelled")
    ax.set_xlim(0, hours_end)
    ax.set_xlabel("hours since window start (grey: passes)")
    ax.set_ylabel("ships delivered")
    ax.set_title("Ships delivered over time")
    ax.legend(fontsize=8, loc="upper left")
    return _png(fig)


def plot_latency(res: SimResult) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    data, labels = [], []
    for m in _modes(res):
        lat = [o.latency_s / 3600 for o in res.modes[m].outcomes if o.latency_s is not None]
        if lat:
            data.append(lat)
            labels.append(f"{m} (n={len(lat)})")
    if data:
        ax.boxplot(data, orientation="horizontal", tick_labels=labels)
    else:
        ax.text(0.5, 0.5, "no ship delivered", ha="center", transform=ax.transAxes)
    ax.set_xlabel("capture to ground (hours)")
    ax.set_title("Capture-to-ground latency of delivered ships")
    return _png(fig)


def _stretch(rgb: np.ndarray) -> np.ndarray:
    """uint16 reflectance-like bands to a displayable 0..1 image (2-98 % stretch)."""
    out = np.zeros(rgb.shape, dtype=np.float64)
    valid = rgb.sum(axis=-1) > 0
    for b in range(rgb.shape[-1]):
        band = rgb[..., b].astype(np.float64)
        if valid.any():
            lo, hi = np.percentile(band[valid], [2, 98])
            out[..., b] = np.clip((band - lo) / max(hi - lo, 1.0), 0, 1)
    return out


def plot_mosaic(mosaic: dict, res: SimResult) -> str:
    """A ground mosaic (GeoTIFF) with the delivered crops and labelled ships on top."""
    import matplotlib.pyplot as plt
    import rasterio

    with rasterio.open(mosaic["path"]) as ds:
        bands = mosaic.get("rgb_bands", [3, 2, 1])
        if ds.count < max(bands):
            bands = [1] * 3
        img = np.stack([ds.read(b) for b in bands], axis=-1)
        inv = ~ds.transform
        scene_tf = mosaic.get("scene_transform")  # GDAL order, scene grid
    fig, ax = plt.subplots(figsize=(7, 7 * img.shape[0] / max(img.shape[1], 1)))
    ax.imshow(_stretch(img), interpolation="nearest")

    def to_px(row: float, col: float) -> tuple[float, float]:
        if scene_tf is None:
            return col, row
        x0, dx, rx, y0, ry, dy = scene_tf
        x = x0 + col * dx + row * rx
        y = y0 + col * ry + row * dy
        c, r = inv @ (x, y)
        return c, r

    run = res.modes[TRIAGE]
    for o in run.outcomes:
        if o.ship.scene != mosaic["scene"]:
            continue
        r, c = o.ship.centre
        px, py = to_px(r, c)
        ok = o.delivered_at is not None
        ax.plot(
            px, py, "o", mfc="none", mec="#00ff66" if ok else "#ff3030", ms=9 if ok else 11, mew=1.3
        )
    ax.set_axis_off()
    ax.set_title(
        f"{mosaic['scene']}: ground mosaic (quicklook + delivered full-resolution crops); "
        "green = labelled ship delivered, red = missed",
        fontsize=8,
    )
    return _png(fig)


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return html.escape(str(v))


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.8em;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right} th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
.credit{font-size:.8em;color:#555} img{max-width:100%}
.kpi{display:inline-block;margin:0 1.5em 1em 0} .kpi b{font-size:1.4em;display:block}
"""


def write_report(res: SimResult, out_dir: Path) -> tuple[Path, Path]:
    """Write ``metrics.json`` and ``report.html`` into ``out_dir``; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir = Path(out_dir)
    metrics = res.metrics()
    mpath = out_dir / "metrics.json"
    mpath.write_text(json.dumps(metrics, indent=1) + "\n")

    modes = _modes(res)
    per_mode = {m: res.mode_metrics(res.modes[m]) for m in modes}
    keys = [k for k in per_mode[TRIAGE] if k not in ("title", "sent_bytes_by_product")]
    metrics_rows = [[k, *(per_mode[m][k] for m in modes)] for k in keys]
    by_pass = {m: res.modes[m].ships_by_pass(res.passes) for m in modes}
    pass_rows = []
    physical = all(t.link is not None for t in res.modes[TRIAGE].traffic) and bool(res.passes)
    for p in res.passes:
        row = [
            p.index,
            p.station,
            p.aos.strftime("%Y-%m-%d %H:%M:%S"),
            round(p.duration_s, 1),
            p.max_elevation_deg if p.max_elevation_deg is None else round(p.max_elevation_deg, 1),
            p.budget_bytes,
        ]
        for m in modes:
            t = res.modes[m].traffic[p.index]
            row += [t.sent_bytes, t.packets_lost, by_pass[m][p.index]]
            if physical and m == TRIAGE:
                k = t.link
                row += [
                    "" if k.ebn0_min_db is None else f"{k.ebn0_min_db:.1f} .. {k.ebn0_max_db:.1f}",
                    k.cadus_sent,
                    k.symbols_corrected,
                    k.frames_lost,
                ]
        pass_rows.append(row)
    pass_headers = ["pass", "station", "AOS (UTC)", "s", "max elev", "budget B"]
    for m in modes:
        pass_headers += [f"{m} sent B", f"{m} lost pk", f"{m} ships"]
        if physical and m == TRIAGE:
            pass_headers += ["Eb/N0 dB", "CADUs", "RS symbols corrected", "frames lost"]
    frame_rows = [
        [
            f.frame_id,
            f.scene,
            f"{f.row0},{f.col0} {f.rows}x{f.cols}",
            f.capture_time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            f.raw_bytes,
            f.compressed_bytes,
            f.product_bytes,
            f.tiles_total,
            " / ".join(str(v) for v in f.tiles_by_class),
            " / ".join(str(v) for v in f.tiles_discarded_by_class),
            f.ship_regions,
            f.products,
            round(f.process_s, 3),
            f.m4_insns,
        ]
        for f in res.frames
    ]
    cls = "/".join(res.classes)
    frame_headers = [
        "frame",
        "scene",
        "window (r0,c0 rows x cols)",
        "capture (UTC)",
        "raw B",
        "CCSDS 121 B",
        "triage products B",
        "tiles",
        f"tiles by class ({cls})",
        f"discarded ({cls})",
        "ship regions",
        "products",
        "host firmware s",
        "M4 instructions",
    ]
    ship_rows = []
    outcomes = {m: res.modes[m].outcomes for m in modes}
    for i, o in enumerate(outcomes[TRIAGE]):
        r, c = o.ship.centre
        row = [o.ship.scene, o.ship.label_id, f"{r:.1f},{c:.1f}"]
        for m in modes:
            om = outcomes[m][i]
            row += [
                om.delivered_at.strftime("%m-%d %H:%M:%S") if om.delivered_at else None,
                round(om.latency_s / 3600, 2) if om.latency_s is not None else None,
            ]
        ship_rows.append(row)
    ship_headers = ["scene", "label", "centre (row,col)"]
    for m in modes:
        ship_headers += [f"{m} delivered (UTC)", f"{m} latency h"]

    m = metrics
    kpis = "".join(
        f'<div class="kpi">{html.escape(label)}<b>{_fmt(val)}</b></div>'
        for label, val in (
            ("reduction factor", m["reduction_factor"]),
            ("ship recall", m["ship_recall"]),
            ("ships delivered", f"{m['ships_delivered']} / {m['ships_labelled']}"),
            ("first-pass ships (triage / raw / compressed)", _first_pass_kpi(m)),
            (
                "mean latency (h)",
                None if m["latency_s_mean"] is None else m["latency_s_mean"] / 3600,
            ),
            ("budget use", m["budget_utilization"]),
        )
    )
    credits = "".join(f"<li>{html.escape(a)}</li>" for a in res.attribution)
    mosaic_html = ""
    for mo in res.mosaics:
        try:
            src = plot_mosaic(mo, res)
        except Exception as exc:  # a mosaic that cannot be drawn must not lose the report
            mosaic_html += f"<p>mosaic of {html.escape(mo['scene'])} not drawn: {exc}</p>"
            continue
        credit = mo.get("attribution") or ""
        mosaic_html += (
            f'<figure><img src="{src}" alt="mosaic {html.escape(mo["scene"])}">'
            f'<figcaption class="credit">{html.escape(mo["scene"])} — '
            f"{html.escape(credit)}</figcaption></figure>"
        )
    if not mosaic_html:
        mosaic_html = "<p>No mosaic: the ground received no frame quicklook.</p>"
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in res.notes)
    target_rows = [
        [name, json.dumps(t["value"]), "yes" if t["met"] else "NO"]
        for name, t in metrics["targets"].items()
    ]
    definitions = html.escape((results_module.__doc__ or "").split("Metric definitions")[-1])
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Triage simulation: {html.escape(res.manifest_name)}</title><style>{CSS}</style></head>
<body>
<h1>What the downlink budget bought: {html.escape(res.manifest_name)}</h1>
<p>{len(res.frames)} frames, {len(res.passes)} passes, link {html.escape(res.link_name)}
({res.rate_bps:,} bit/s), firmware target <b>{html.escape(res.target)}</b>,
window {res.window_start:%Y-%m-%d %H:%M} – {res.window_end:%Y-%m-%d %H:%M} UTC,
packet loss {html.escape(json.dumps(res.loss_model))}. Run took {res.runtime_s:.1f} s.</p>
{kpis}
<h2>Targets</h2>{_table(["target", "value (triage; raw, compressed)", "met"], target_rows)}
<h2>Bytes per pass</h2><img src="{plot_bytes_per_pass(res)}" alt="bytes per pass">
<h2>Budget use per pass</h2><img src="{plot_budget_use(res)}" alt="budget use">
<h2>Ships delivered over time</h2><img src="{plot_ships_over_time(res)}" alt="ships over time">
<h2>Capture-to-ground latency</h2><img src="{plot_latency(res)}" alt="latency">
<h2>Discards by class</h2><img src="{plot_discards(res)}" alt="discards by class">
<h2>Triage bytes by product type</h2><img src="{plot_bytes_by_product(res)}" alt="bytes by product">
<h2>Mosaics (ground station products)</h2>{mosaic_html}
<h2>Metrics</h2>{_table(["metric", *modes], metrics_rows)}
<h2>Passes</h2>{_table(pass_headers, pass_rows)}
<h2>Frames</h2>{_table(frame_headers, frame_rows)}
<h2>Labelled ships</h2>{_table(ship_headers, ship_rows)}
<h2>On board</h2>{_table(["counter", "value"], [[k, v] for k, v in res.onboard.items()])}
<h2>Ground station</h2>{_table(["counter", "value"], [[k, v] for k, v in res.ground.items()])}
<h2>Definitions</h2><pre style="white-space:pre-wrap;font-size:.8em">{definitions}</pre>
<h2>Notes</h2><ul>{notes or "<li>none</li>"}</ul>
<h2>Credits</h2><ul class="credit">{credits}</ul>
</body></html>
"""
    hpath = out_dir / "report.html"
    hpath.write_text(doc, encoding="utf-8")
    return mpath, hpath


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 3600


def _first_pass_kpi(m: dict) -> str:
    b = m.get("baselines", {})
    parts = [str(m["first_pass_ships"])]
    parts += [str(b[k]["first_pass_ships"]) for k in ("raw", "compressed") if k in b]
    return " / ".join(parts)
