"""The run's report: ``metrics.json`` and a self-contained ``report.html``.

The HTML is one file a designer can take to a review: plots are embedded PNGs (data
URIs), nothing is fetched. In order:

- a banner saying whether the figures are out of sample (every frame classified by a
  model that never saw its imagery) or not, and the headline figures, each labelled;
- the targets, met in green and missed in red, each with its rule;
- which classifier classified which frames, and why that is in- or out-of-sample;
- a per-scene table (reduction, recall, crop precision, cloud cover, sample);
- a map: the frames' footprints and the ground stations on longitude/latitude axes,
  then per scene the ground's georeferenced quicklook mosaic with the frames'
  outlines, the delivered ship crops and the labelled ships (delivered or missed,
  under cloud or visible);
- the pass timeline: per pass, its budget, the bytes triage sent by product type,
  the baselines' bytes, and the on-board store's fill;
- ships delivered over time, latency, cells by class, bytes by product type;
- the metrics of triage and of each baseline, every baseline's rule beside its
  numbers; the loss model as a table; passes, frames and ships as tables;
- definitions, notes and imagery credits (the Copernicus attribution wherever
  Sentinel-2 pixels are shown).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path

import numpy as np

from triage.sim import results as results_module
from triage.sim.baselines import BASELINE_RULES, FIRST_PASS_RULE
from triage.sim.results import TRIAGE, SimResult

MODE_COLOURS = {TRIAGE: "#1b7837", "compressed": "#2166ac", "raw": "#b2182b"}
MODE_ORDER = (TRIAGE, "compressed", "raw")
MODE_LABELS = {
    TRIAGE: "on-board triage",
    "compressed": "baseline: every frame CCSDS 121",
    "raw": "baseline: every frame raw",
}
TRIAGE_RULE = (
    "the firmware's products (ship crops first, then quicklook, class map, land, summary) "
    "wait in its on-board store; at each pass the ground reads the store directory and "
    "plans within the pass budget; a ship counts when a full-resolution crop complete on "
    "the ground keeps its box centre"
)
PRODUCT_COLOURS = {
    "SHIP_CROP": "#1b7837",
    "QUICKLOOK": "#80cdc1",
    "CLASS_MAP": "#dfc27d",
    "LAND": "#bf812d",
    "FRAME_SUMMARY": "#8c510a",
    "STORE_DIRECTORY": "#999999",
}
SAMPLE_COLOURS = {"out-of-sample": "#1b7837", "in-sample": "#d95f02", "unknown": "#7570b3"}
LOSS_MEANINGS = {
    "model": "none; bernoulli (each packet lost independently); gilbert_elliott (two-state "
    "Markov chain stepped once per packet: bursty fades)",
    "loss_probability": "bernoulli: probability a packet is lost",
    "p_good_to_bad": "gilbert_elliott: per packet, probability of entering the bad state",
    "p_bad_to_good": "gilbert_elliott: per packet, probability of leaving the bad state",
    "loss_in_good": "gilbert_elliott: loss probability in the good state",
    "loss_in_bad": "gilbert_elliott: loss probability in the bad state",
    "seed": "seed of the loss streams (one per mode, one for the uplink)",
}


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _modes(res: SimResult) -> list[str]:
    return [m for m in MODE_ORDER if m in res.modes]


def _legend_outside(ax, **kw) -> None:
    """The legend to the right of the axes, never on the data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize=9, **kw)


def _mb(b: float | None) -> float | None:
    return None if b is None else b / 1e6


def plot_pass_timeline(res: SimResult) -> str:
    """Per pass: triage's bytes by product type stacked against the budget, the baselines'
    bytes, and the store's fill."""
    import matplotlib.pyplot as plt

    n = len(res.passes)
    fig, (ax, ax2) = plt.subplots(
        2, 1, figsize=(11, 5.8), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    x = np.arange(n)
    tri = res.modes[TRIAGE].traffic
    names = [k for k in PRODUCT_COLOURS if any(k in t.bytes_by_product for t in tri)]
    names += sorted({k for t in tri for k in t.bytes_by_product} - set(names))
    bottom = np.zeros(n)
    width = 0.8 if n < 60 else 1.0
    for k in names:
        v = np.array([t.bytes_by_product.get(k, 0) for t in tri], dtype=float) / 1e3
        ax.bar(x, v, bottom=bottom, width=width, color=PRODUCT_COLOURS.get(k), label=f"triage: {k}")
        bottom += v
    budget = np.array([p.budget_bytes for p in res.passes], dtype=float) / 1e3
    ax.step(x, budget, where="mid", color="k", lw=1.0, label="pass budget")
    styles = {"raw": ("--", 2.6), "compressed": (":", 1.6)}
    for m in ("raw", "compressed"):
        if m in res.modes:
            v = np.array([t.sent_bytes for t in res.modes[m].traffic], dtype=float) / 1e3
            ls, lw = styles[m]
            ax.step(x, v, where="mid", ls=ls, lw=lw, color=MODE_COLOURS[m], label=MODE_LABELS[m])
    ax.set_ylim(bottom=0)
    ax.set_ylabel("bytes sent in the pass (kB)")
    ax.set_title(
        "Per pass: what triage sent, by product type, against the budget and the baselines "
        "(baselines fill their budget in most passes)"
    )
    _legend_outside(ax)
    before = [t.store_bytes_before for t in tri]
    after = [t.store_bytes_after for t in tri]
    cap = res.onboard.get("store_bytes")
    if any(v is not None for v in before):
        ax2.plot(
            x,
            [(v or 0) / 1e6 for v in before],
            "o-",
            ms=3,
            color="#762a83",
            label="store fill as the pass opens",
        )
        ax2.plot(
            x,
            [(v or 0) / 1e6 for v in after],
            "s-",
            ms=3,
            color="#c2a5cf",
            label="store fill once it closed",
        )
    if cap:
        ax2.axhline(cap / 1e6, color="k", ls=":", lw=1, label=f"store size ({cap / 1e6:.1f} MB)")
    ax2.set_ylabel("on-board store (MB)")
    ax2.set_xlabel("pass (index, in time order; see the passes table for stations and times)")
    ax2.set_ylim(bottom=0)
    if ax2.get_legend_handles_labels()[0]:
        _legend_outside(ax2)
    else:  # a run whose metrics hold neither the store's fill nor its size
        ax2.text(
            0.5,
            0.5,
            "store fill and size not recorded in this run",
            transform=ax2.transAxes,
            ha="center",
            va="center",
            color="0.4",
        )
    return _png(fig)


def plot_budget_use(res: SimResult) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 2.8))
    x = np.arange(len(res.passes))
    styles = {TRIAGE: ("-", 1.4, "o"), "compressed": (":", 1.6, None), "raw": ("--", 2.6, None)}
    for m in reversed(_modes(res)):
        use = [
            100.0 * t.sent_bytes / p.budget_bytes if p.budget_bytes else 0.0
            for t, p in zip(res.modes[m].traffic, res.passes, strict=True)
        ]
        ls, lw, mk = styles.get(m, ("-", 1, None))
        ax.plot(
            x,
            use,
            ls=ls,
            lw=lw,
            marker=mk,
            ms=3,
            color=MODE_COLOURS.get(m),
            label=MODE_LABELS.get(m, m),
        )
    ax.set_ylim(-2, 105)
    ax.set_xlabel("pass (index)")
    ax.set_ylabel("budget used (%)")
    ax.set_title("Share of each pass's budget used")
    _legend_outside(ax)
    return _png(fig)


def plot_ships_over_time(res: SimResult) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 3.6))
    t0 = res.window_start
    hours_end = (res.window_end - t0).total_seconds() / 3600
    labelled = 0
    for p in res.passes:
        ax.axvspan(
            (p.aos - t0).total_seconds() / 3600,
            (p.los - t0).total_seconds() / 3600,
            color="#dddddd",
            lw=0,
        )
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
        ax.step(xs, ys, where="post", label=MODE_LABELS.get(m, m), color=MODE_COLOURS.get(m))
    caps = sorted((f.capture_time - t0).total_seconds() / 3600 for f in res.frames)
    ax.plot(caps, np.zeros(len(caps)), "k|", ms=12, label="frame captures")
    ax.axhline(labelled, color="k", ls=":", lw=0.8, label=f"labelled ships ({labelled})")
    ax.plot([], [], color="#dddddd", lw=6, label="passes (contact windows)")
    ax.set_xlim(0, hours_end)
    ax.set_xlabel(f"hours since {t0:%Y-%m-%d %H:%M} UTC")
    ax.set_ylabel("ships delivered (cumulative)")
    ax.set_title("Ships delivered at full resolution over time")
    _legend_outside(ax)
    return _png(fig)


def plot_latency(res: SimResult) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 2.8))
    data, labels = [], []
    for m in _modes(res):
        lat = [o.latency_s / 3600 for o in res.modes[m].outcomes if o.latency_s is not None]
        if lat:
            data.append(lat)
            labels.append(f"{MODE_LABELS.get(m, m)} (n = {len(lat)})")
    if data:
        ax.boxplot(data, orientation="horizontal", tick_labels=labels)
    else:
        ax.text(0.5, 0.5, "no ship delivered", ha="center", transform=ax.transAxes)
    ax.set_xlabel("capture to ground (hours)")
    ax.set_title("Capture-to-ground latency of the delivered ships (box: quartiles)")
    return _png(fig)


def plot_discards(res: SimResult) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.0))
    n = len(res.classes)
    total = np.zeros(n, dtype=np.int64)
    disc = np.zeros(n, dtype=np.int64)
    for f in res.frames:
        total[: len(f.cells_by_class)] += np.array(f.cells_by_class, dtype=np.int64)
        disc[: len(f.cells_discarded_by_class)] += np.array(
            f.cells_discarded_by_class, dtype=np.int64
        )
    x = np.arange(n)
    ax.bar(x, disc, color="#999999", label="discarded or dropped on board")
    ax.bar(x, total - disc, bottom=disc, color="#1b7837", label="kept (crop or low resolution)")
    top = max(int(total.max()), 1) if n else 1
    for i in range(n):
        ax.text(
            i,
            total[i] + 0.01 * top,
            f"{disc[i]:,} of {total[i]:,}",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylim(0, top * 1.15)
    ax.set_xticks(x, res.classes)
    ax.set_xlabel("top class of the cell (the classifier's)")
    ax.set_ylabel("cells")
    ax.set_title("Cells by class: discarded on board vs kept")
    _legend_outside(ax)
    return _png(fig)


def plot_bytes_by_product(res: SimResult) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 2.8))
    totals: dict[str, int] = {}
    for t in res.modes[TRIAGE].traffic:
        for k, v in t.bytes_by_product.items():
            totals[k] = totals.get(k, 0) + v
    names = sorted(totals, key=lambda k: -totals[k])
    vals = [totals[k] / 1e6 for k in names]
    ax.barh(names, vals, color=[PRODUCT_COLOURS.get(k, "#555555") for k in names])
    whole = sum(totals.values()) or 1
    for i, k in enumerate(names):
        ax.text(
            vals[i],
            i,
            f" {totals[k] / 1e6:.3f} MB ({100 * totals[k] / whole:.1f} %)",
            va="center",
            fontsize=8,
        )
    ax.invert_yaxis()
    ax.set_xlabel("MB sent (space packets, retransmissions included)")
    ax.set_title("Triage: what the bytes carried, by product type")
    ax.set_xlim(0, max(vals, default=1) * 1.45)
    return _png(fig)


def _scene_centres(res: SimResult) -> dict[str, tuple[float, float, str]]:
    out = {}
    for scene in dict.fromkeys(f.scene for f in res.frames):
        pts = [
            p
            for f in res.frames
            if f.scene == scene
            for p in res.frame_footprints.get(f.frame_id, [])
        ]
        if not pts:
            continue
        lon = float(np.mean([p[0] for p in pts]))
        lat = float(np.mean([p[1] for p in pts]))
        kinds = {f.sample for f in res.frames if f.scene == scene}
        out[scene] = (lon, lat, next(iter(kinds)) if len(kinds) == 1 else "mixed")
    return out


def plot_overview_map(res: SimResult) -> str | None:
    """The scenes and the ground stations on longitude/latitude axes."""
    import matplotlib.pyplot as plt

    centres = _scene_centres(res)
    if not centres:
        return None
    fig, ax = plt.subplots(figsize=(11, 5.2))
    for lat in (-66.56, -23.44, 0.0, 23.44, 66.56):
        ax.axhline(lat, color="#dddddd", lw=0.8, zorder=0)
    for scene, (lon, lat, kind) in centres.items():
        ax.plot(lon, lat, "s", ms=7, color=SAMPLE_COLOURS.get(kind, "#444444"))
        ax.annotate(scene, (lon, lat), xytext=(4, 4), textcoords="offset points", fontsize=8)
    for st in res.stations:
        ax.plot(st["lon"], st["lat"], "^", ms=9, color="k")
        ax.annotate(
            st["name"],
            (st["lon"], st["lat"]),
            xytext=(4, -10),
            textcoords="offset points",
            fontsize=8,
        )
    for kind, colour in SAMPLE_COLOURS.items():
        ax.plot([], [], "s", color=colour, label=f"scene, {kind}")
    ax.plot([], [], "^", color="k", label="ground station")
    ax.set_xlim(-180, 180)
    ax.set_ylim(-80, 85)
    ax.set_xticks(range(-180, 181, 30))
    ax.set_yticks(range(-60, 81, 20))
    ax.grid(True, color="#eeeeee")
    ax.set_xlabel("longitude (degrees, WGS84)")
    ax.set_ylabel("latitude (degrees, WGS84)")
    ax.set_title("Where the frames are, and the ground stations (grey: tropics, polar circles)")
    _legend_outside(ax)
    return _png(fig)


def _reprojected_rgb(path: str, rgb_bands: list[int]):
    """A mosaic GeoTIFF's RGB reprojected to WGS84: (image 0..1, extent lon0, lon1, lat0, lat1)."""
    import rasterio
    from rasterio.crs import CRS
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    with rasterio.open(path) as ds:
        bands = rgb_bands if ds.count >= max(rgb_bands) else [1, 1, 1]
        dst_crs = CRS.from_epsg(4326)
        tf, w, h = calculate_default_transform(ds.crs, dst_crs, ds.width, ds.height, *ds.bounds)
        scale = max(1.0, max(w, h) / 1400.0)  # at most about 1400 px across
        w2, h2 = max(1, int(w / scale)), max(1, int(h / scale))
        tf2 = tf @ tf.scale(w / w2, h / h2)
        out = np.zeros((3, h2, w2), dtype=np.float64)
        for i, b in enumerate(bands):
            dst = np.zeros((h2, w2), dtype=np.float64)
            reproject(
                rasterio.band(ds, b),
                dst,
                dst_transform=tf2,
                dst_crs=dst_crs,
                resampling=Resampling.nearest,
                src_nodata=ds.nodata or 0,
                dst_nodata=0,
            )
            out[i] = dst
    img = _stretch(np.moveaxis(out, 0, -1))
    lon0, lat1 = tf2 @ (0, 0)
    lon1, lat0 = tf2 @ (w2, h2)
    return img, (lon0, lon1, lat0, lat1)


def _stretch(rgb: np.ndarray) -> np.ndarray:
    """Bands to a displayable RGBA image (2-98 % stretch of the valid pixels; no-data
    transparent)."""
    valid = rgb.sum(axis=-1) > 0
    out = np.zeros((*rgb.shape[:2], 4), dtype=np.float64)
    for b in range(3):
        band = rgb[..., b]
        if valid.any():
            lo, hi = np.percentile(band[valid], [2, 98])
            out[..., b] = np.clip((band - lo) / max(hi - lo, 1e-9), 0, 1)
    out[..., 3] = valid
    return out


def plot_scene_map(mosaic: dict, res: SimResult) -> str:
    """A scene's ground mosaic on lon/lat axes with the frames, the delivered ship crops and
    the labelled ships."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    scene = mosaic["scene"]
    img, extent = _reprojected_rgb(mosaic["path"], mosaic.get("rgb_bands", [3, 2, 1]))
    aspect = 1.0 / max(math.cos(math.radians((extent[2] + extent[3]) / 2)), 0.05)
    w_deg, h_deg = extent[1] - extent[0], extent[3] - extent[2]
    fig_w = 8.5
    fig_h = min(10.0, max(3.0, fig_w * 0.8 * h_deg * aspect / max(w_deg, 1e-9)))
    fig, ax = plt.subplots(figsize=(fig_w + 2.5, fig_h))
    ax.set_facecolor("#f4f4f4")
    ax.imshow(img, extent=extent, interpolation="nearest", aspect=aspect)
    frames = [f for f in res.frames if f.scene == scene]
    for f in frames:
        pts = res.frame_footprints.get(f.frame_id)
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], color="#ffd92f", lw=0.9)
    ids = {f.frame_id for f in frames}
    tri = res.modes[TRIAGE]
    n_crops = 0
    if tri.crop_outlines is not None and tri.crop_hits is not None:
        for d, (outline, hit) in enumerate(zip(tri.crop_outlines, tri.crop_hits, strict=True)):
            if not outline or tri.crop_frames is None or tri.crop_frames[d] not in ids:
                continue
            n_crops += 1
            ax.plot(
                [p[0] for p in outline],
                [p[1] for p in outline],
                lw=0.9,
                color="#00e5ff" if hit else "#ff00ff",
            )
    for o, ll in zip(tri.outcomes, res.ship_lonlat, strict=False):
        if o.ship.scene != scene or ll is None:
            continue
        ok = o.delivered_at is not None
        ax.plot(
            ll[0],
            ll[1],
            "o",
            ms=8,
            mew=1.4,
            mfc="none" if o.ship.visible else "#ffffff80",
            mec="#00ff66" if ok else "#ff3030",
        )
    handles = [
        Line2D([], [], color="#ffd92f", lw=1, label="frame footprint"),
        Line2D([], [], color="#00e5ff", lw=1, label="ship crop holding a labelled ship"),
        Line2D([], [], color="#ff00ff", lw=1, label="ship crop without one (false alarm)"),
        Line2D(
            [], [], ls="", marker="o", mfc="none", mec="#00ff66", label="labelled ship, delivered"
        ),
        Line2D([], [], ls="", marker="o", mfc="none", mec="#ff3030", label="labelled ship, missed"),
    ]
    if any(not o.ship.visible for o in tri.outcomes if o.ship.scene == scene):
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                mfc="#ffffff80",
                mec="#555555",
                label="filled: under laid cloud",
            )
        )
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_xlabel("longitude (degrees)")
    ax.set_ylabel("latitude (degrees)")
    kinds = sorted({f.sample for f in frames})
    ax.set_title(
        f"{scene}: the ground's quicklook mosaic with the delivered full-resolution crops "
        f"({n_crops}); {', '.join(kinds)}",
        fontsize=9,
    )
    ax.ticklabel_format(useOffset=False)
    return _png(fig)


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != 0 and abs(v) < 0.001:
            return f"{v:.2e}"
        return f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, list | tuple):
        return html.escape(", ".join(str(x) for x in v))
    return html.escape(str(v))


def _table(headers: list[str], rows: list[list], cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class Raw(str):
    """A table cell already in HTML."""


def _cell(v) -> str:
    if isinstance(v, Raw):
        return f"<td>{v}</td>"
    return f"<td>{_fmt(v)}</td>"


def _sample_tag(kind: str) -> Raw:
    return Raw(f'<span class="tag {html.escape(kind)}">{html.escape(kind)}</span>')


CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1180px;color:#222;line-height:1.4}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.82em;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right;vertical-align:top}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
table.rules td:last-child{text-align:left;max-width:38em}
.credit{font-size:.8em;color:#555} img{max-width:100%}
.kpi{display:inline-block;margin:0 1.6em 1em 0;vertical-align:top}
.kpi b{font-size:1.4em;display:block} .kpi small{color:#666;display:block}
.banner{padding:.6em 1em;border-radius:4px;margin:1em 0;font-weight:600}
.banner.out-of-sample{background:#e5f5e0;border:1px solid #1b7837}
.banner.in-sample,.banner.mixed{background:#fee6ce;border:1px solid #d95f02}
.banner.unknown{background:#efedf5;border:1px solid #7570b3}
.met{background:#d9f0d3;color:#0b4d1c;font-weight:600}
.missed{background:#f8d0d0;color:#8b0000;font-weight:600}
.tag{padding:0 .4em;border-radius:3px;font-size:.9em;white-space:nowrap}
.tag.out-of-sample{background:#d9f0d3} .tag.in-sample{background:#fdd0a2}
.tag.unknown,.tag.mixed{background:#dadaeb}
"""


def _banner(res: SimResult) -> str:
    s = res.classifier_summary()
    n = len(res.frames)
    kind = s["sample"]
    if kind == "out-of-sample":
        text = (
            f"Out of sample: all {n} frames were classified by a model that never saw their "
            "imagery."
        )
    elif kind == "in-sample":
        text = (
            f"IN-SAMPLE: all {n} frames were classified by a model trained on their imagery; "
            "recall, precision and reduction here flatter the model. No figure of this run "
            "counts towards an out-of-sample target."
        )
    elif kind == "mixed":
        text = (
            f"MIXED: {s['frames_in_sample']} of {n} frames in-sample (classified by a model "
            f"trained on their imagery), {s['frames_out_of_sample']} out-of-sample, "
            f"{s['frames_unknown']} unknown. The totals mix both; the per-scene table and the "
            "recall by sample below keep them apart."
        )
    else:
        text = "Unknown: the frames do not say where their pixels come from."
    return f'<div class="banner {html.escape(kind)}">{html.escape(text)}</div>'


def _kpis(res: SimResult, m: dict) -> str:
    kind = res.sample()

    def kpi(label: str, value, note: str = "") -> str:
        return (
            f'<div class="kpi">{html.escape(label)}<b>{_fmt(value)}</b>'
            f"<small>{html.escape(note)}</small></div>"
        )

    lat = m["latency_s_mean"]
    out = [
        kpi("reduction factor", m["reduction_factor"], f"raw bytes / bytes sent; {kind}"),
        kpi(
            "ship recall",
            m["ship_recall"],
            f"{m['ships_delivered']} of {m['ships_labelled']} labelled ships; {kind}",
        ),
    ]
    if res.clouds_laid:
        by = m.get("ships_by_cloud")
        split = (
            f" (clear sky {by['clear']['delivered']} of {by['clear']['ships']}, thin cloud "
            f"{by['thin_cloud']['delivered']} of {by['thin_cloud']['ships']})"
            if by
            else ""
        )
        out.append(
            kpi(
                "recall, visible ships",
                m["ship_recall_visible"],
                f"{m['ships_visible_delivered']} of {m['ships_visible']} not under cloud{split}",
            )
        )
    out += [
        kpi(
            "recall out of sample",
            m["ship_recall_out_of_sample"],
            f"{m['ships_out_of_sample']} ships whose frames' model never saw them",
        ),
        kpi(
            "recall in-sample",
            m["ship_recall_in_sample"],
            f"{m['ships_in_sample']} ships the model was trained on",
        ),
        kpi(
            "crop precision",
            m["crop_precision"],
            f"of {m['ship_crops_delivered'] or 0} ship crops on the ground, share holding a ship",
        ),
        kpi(
            "first-pass ships (triage / raw / CCSDS 121)",
            _first_pass_kpi(m),
            "ships delivered in the first pass after the first capture",
        ),
        kpi("mean latency (h)", None if lat is None else lat / 3600, "capture to ground"),
        kpi("budget use", m["budget_utilization"], "bytes sent / all passes' budgets"),
    ]
    return "".join(out)


def _first_pass_kpi(m: dict) -> str:
    b = m.get("baselines", {})
    parts = [str(m["first_pass_ships"])]
    parts += [str(b[k]["first_pass_ships"]) for k in ("raw", "compressed") if k in b]
    return " / ".join(parts)


def _targets_table(metrics: dict) -> str:
    rows = []
    for name, t in metrics["targets"].items():
        met = t["met"]
        status = Raw(
            f'<span class="{"met" if met else "missed"}">{"met" if met else "MISSED"}</span>'
        )
        rows.append([name.replace("_", " "), _target_value(t["value"]), status, t.get("rule", "")])
    return _table(["target", "value", "status", "rule"], rows, "rules")


def _target_value(v):
    return json.dumps(v) if isinstance(v, list) else v


def _classifier_table(res: SimResult) -> str:
    groups: dict[tuple[str, str, str], list[int]] = {}
    for f in res.frames:
        groups.setdefault((f.model, f.sample, f.sample_reason), []).append(f.frame_id)
    rows = [
        [model, _sample_tag(kind), len(ids), _id_list(ids), reason]
        for (model, kind, reason), ids in sorted(groups.items())
    ]
    return _table(["classifier", "sample", "frames", "frame ids", "why"], rows, "rules")


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def _model_update_section(res: SimResult) -> str:
    """The model-update scenario: the uplink, its cost, and recall and bytes before and after
    the switch (triage.sim.model_update)."""
    mu = res.model_update
    if mu is None:
        return ""
    up, lm, nm = mu["uplink"], mu["launch_model"], mu["uplinked_model"]
    sides = [
        [
            k,
            s["model"],
            ", ".join(s["sample"]),
            s["frames"],
            f"{s['ships_delivered']} / {s['ships_imaged']}",
            _pct(s["recall"]),
            f"{s['product_bytes']:,}",
            s["passes"],
            s["passes_with_products"],
            "–"
            if s["bytes_per_pass_with_products"] is None
            else f"{s['bytes_per_pass_with_products']:,.0f}",
        ]
        for k, s in (("before the switch", mu["before"]), ("after", mu["after"]))
    ]
    passes = [
        [
            q["pass"],
            q["station"],
            q["aos_utc"][:16].replace("T", " "),
            q["active_model"],
            ", ".join(q["frames_classified_by"]) or "–",
            f"{q['ships_delivered']} / {q['ships_imaged']}" if q["ships_imaged"] else "–",
            f"{q['bytes_sent']:,}",
            f"{q['uplink_seconds']:.1f}" if q["uplink_seconds"] else "",
            (
                "lost"
                if q["model_status_received"] is None
                else f"model {q['model_status_received']['active_model_id']}, trial "
                f"{q['model_status_received']['trial']}, accepted "
                f"{q['model_status_received']['accepted']}, refusals "
                f"{sum(q['model_status_received']['refusals'].values())}"
            ),
        ]
        for q in mu["passes"]
        if q["frames_captured_before"] or q["product_bytes_sent"] or q["uplink_seconds"]
        or abs(q["pass"] - up["pass"]) <= 2
    ]  # fmt: skip
    events = "".join(f"<li>{html.escape(json.dumps(e))}</li>" for e in mu["events"])
    assumptions = "".join(f"<li>{html.escape(a)}</li>" for a in mu["assumptions"])
    return f"""<h2>Model update</h2>
<p>Launch model <b>{html.escape(lm['name'])}</b> (id {lm['model_id']}, .tflite SHA-256
<code>{lm['model_sha256'][:16]}…</code>); uplinked <b>{html.escape(nm['name'])}</b> (id
{nm['model_id']}, package {nm['package_bytes']:,} B, SHA-256
<code>{nm['package_sha256'][:16]}…</code>) in pass {up['pass']} ({html.escape(up['station'])}):
{up['packets']} telecommands, {up['link_bytes']:,} link bytes, <b>{up['seconds']:.1f} s</b>
at {up['rate_bps']:,.0f} bit/s, {100 * up['share_of_pass']:.1f} % of the pass's
{up['pass_seconds']:.0f} s; downlink bytes displaced: {up['downlink_bytes_displaced']:,}.
Switched: <b>{'yes' if up['switched'] else 'no'}</b>.</p>
{_table(["frames", "model", "sample", "frames", "ships delivered / imaged", "recall",
         "product bytes", "passes", "passes with products",
         "bytes sent per pass with products"], sides)}
<p>Per pass (passes with frames before them, products sent or the uplink, and the two
passes either side of the uplink; every pass also sends the directory and MODEL_STATUS):
the model active as the pass opened, the model(s) that classified the frames captured since
the pass before, their ships delivered by the end of the run, the bytes sent in the pass,
and the MODEL_STATUS the ground received after the directory.</p>
{_table(["pass", "station", "AOS (UTC)", "active", "frames classified by",
         "ships delivered / imaged", "bytes sent", "uplink s", "MODEL_STATUS received"],
        passes)}
<p>Events:</p><ul>{events}</ul>
<p>Assumptions:</p><ul>{assumptions}</ul>"""  # fmt: skip


def _id_list(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:12])) + (f" … ({len(ids)})" if len(ids) > 12 else "")


def _satellite_section(res: SimResult) -> str:
    """With several satellites: what each one imaged, sent and delivered."""
    rows = [
        [
            r["satellite"] + 1,
            f"0x{r['spacecraft_id']:03X}",
            r["frames"],
            r["scenes"],
            f"{r['passes_with_data']} of {r['passes']}",
            _mb(r["raw_bytes"]),
            _mb(r["sent_bytes"]),
            r["reduction_factor"],
            r["ships_labelled"],
            r["ships_delivered"],
            r["ship_recall"],
        ]
        for r in res.per_satellite()
    ]
    if not rows:
        return ""
    headers = [
        "satellite",
        "spacecraft id",
        "frames",
        "scenes",
        "passes with data",
        "raw (MB)",
        "triage sent (MB)",
        "reduction",
        "ships",
        "ships delivered",
        "recall",
    ]
    return (
        "<h2>Per satellite</h2>\n<p>Each satellite images the scenes it passes over first in "
        "daylight, keeps its own store and sends in its own passes under its own spacecraft "
        "id, to its own ground catalogue. Reduction: raw bytes of its frames / bytes triage "
        "sent in its passes.</p>\n" + _table(headers, rows)
    )


def _scene_table(res: SimResult) -> str:
    rows = []
    for r in res.per_scene():
        rows.append(
            [
                r["scene"],
                _sample_tag(r["sample"]),
                ", ".join(r["models"]),
                r["frames"],
                None if r["cloud_fraction_mean"] is None else 100 * r["cloud_fraction_mean"],
                _mb(r["raw_bytes"]),
                _mb(r["product_bytes"]),
                r["onboard_reduction"],
                r["ships_labelled"],
                r["ships_delivered"],
                r["ship_recall"],
                r["ship_recall_visible"] if res.clouds_laid else None,
                r["ship_crops_made"],
                r["ship_crops_delivered"],
                r["crop_precision"],
            ]
        )
    headers = [
        "scene",
        "sample",
        "classifier",
        "frames",
        "cloud (%)",
        "raw (MB)",
        "products on board (MB)",
        "reduction on board",
        "ships",
        "delivered",
        "recall",
        "recall, visible",
        "crops made",
        "crops on ground",
        "crop precision",
    ]
    return _table(headers, rows)


def _metrics_table(res: SimResult) -> str:
    modes = _modes(res)
    per_mode = {m: res.mode_metrics(res.modes[m]) for m in modes}
    skip = {"title", "sent_bytes_by_product"}
    keys = [k for k in per_mode[TRIAGE] if k not in skip]
    units = {
        "raw_bytes": " (bytes)",
        "sent_bytes": " (bytes)",
        "latency_s_mean": " (s)",
        "latency_s_max": " (s)",
        "budget_utilization": " (share)",
        "packet_loss_rate": " (share)",
    }
    rows = [[k + units.get(k, ""), *(per_mode[m][k] for m in modes)] for k in keys]
    rules = ["rule", *(Raw(html.escape(_rule(m))) for m in modes)]
    return _table(["metric", *(MODE_LABELS.get(m, m) for m in modes)], [rules, *rows], "rules")


def _rule(mode: str) -> str:
    return TRIAGE_RULE if mode == TRIAGE else BASELINE_RULES.get(mode, "")


def _loss_table(res: SimResult) -> str:
    rows = [[k, v, LOSS_MEANINGS.get(k, "")] for k, v in res.loss_model.items()]
    lm = res.loss_model
    if lm.get("model") == "gilbert_elliott":
        pgb, pbg = lm.get("p_good_to_bad", 0.0), lm.get("p_bad_to_good", 1.0)
        share = pgb / (pgb + pbg) if pgb + pbg else 0.0
        mean = share * lm.get("loss_in_bad", 1.0) + (1 - share) * lm.get("loss_in_good", 0.0)
        rows.append(["(derived) share of packets in the bad state", share, "p_gb / (p_gb + p_bg)"])
        rows.append(["(derived) mean loss rate", mean, "stationary mix of the two states"])
    for m in _modes(res):
        mm = res.mode_metrics(res.modes[m])
        rows.append(
            [
                f"(measured) {MODE_LABELS.get(m, m)}",
                mm["packet_loss_rate"],
                f"{mm['packets_lost']:,} of {mm['packets_sent']:,} packets lost",
            ]
        )
    rows.append(
        [
            "uplink",
            "reliable" if res.uplink_reliable else "lossy",
            "DOWNLINK_REQUEST telecommands always arrive"
            if res.uplink_reliable
            else "a request is lost with the downlink's model; the satellite then sends its "
            "store in priority order and, half way through the pass, its directory again, "
            "from which the ground plans and uplinks the rest of the pass",
        ]
    )
    return _table(["parameter", "value", "meaning"], rows, "rules")


def _pass_table(res: SimResult) -> str:
    modes = _modes(res)
    multi = any(p.satellite for p in res.passes)
    by_pass = {m: res.modes[m].ships_by_pass(res.passes) for m in modes}
    # the physical channel (packet_loss.model link_budget): triage's link figures per pass
    physical = all(t.link is not None for t in res.modes[TRIAGE].traffic) and bool(res.passes)
    rows = []
    for p in res.passes:
        t = res.modes[TRIAGE].traffic[p.index]
        row = [
            p.index,
            *([p.satellite + 1] if multi else []),
            p.station,
            p.aos.strftime("%Y-%m-%d %H:%M:%S"),
            round(p.duration_s, 1),
            None if p.max_elevation_deg is None else round(p.max_elevation_deg, 1),
            p.budget_bytes,
            _mb(t.store_bytes_before),
            _mb(t.store_bytes_after),
        ]
        for m in modes:
            tm = res.modes[m].traffic[p.index]
            row += [tm.sent_bytes, tm.packets_lost, by_pass[m][p.index]]
            if physical and m == TRIAGE:
                k = tm.link
                row += [
                    "" if k.ebn0_min_db is None else f"{k.ebn0_min_db:.1f} .. {k.ebn0_max_db:.1f}",
                    k.cadus_sent,
                    k.symbols_corrected,
                    k.frames_lost,
                ]
        rows.append(row)
    headers = [
        "pass",
        *(["satellite"] if multi else []),
        "station",
        "AOS (UTC)",
        "duration (s)",
        "max elevation (deg)",
        "budget (bytes)",
        "store before (MB)",
        "store after (MB)",
    ]
    for m in modes:
        headers += [f"{m}: sent (bytes)", f"{m}: packets lost", f"{m}: ships"]
        if physical and m == TRIAGE:
            headers += ["Eb/N0 dB", "CADUs", "RS symbols corrected", "frames lost"]
    return _table(headers, rows)


def _frame_table(res: SimResult) -> str:
    cls = "/".join(res.classes)
    rows = [
        [
            f.frame_id,
            f.scene,
            _sample_tag(f.sample),
            f.model,
            f"{f.row0},{f.col0} {f.rows}x{f.cols}",
            f.capture_time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            None if f.cloud_fraction is None else round(100 * f.cloud_fraction, 1),
            f.raw_bytes,
            f.compressed_bytes,
            f.product_bytes,
            " / ".join(str(v) for v in f.cells_by_class),
            " / ".join(str(v) for v in f.cells_discarded_by_class),
            f.ships_labelled,
            f.ship_crops_made,
            f.crops_delivered,
            None if not f.crops_delivered else round(f.crops_with_ship / f.crops_delivered, 3),
            round(f.process_s, 3),
            f.m4_insns,
        ]
        for f in res.frames
    ]
    headers = [
        "frame",
        "scene",
        "sample",
        "classifier",
        "window (row0,col0 rows x cols px)",
        "capture (UTC)",
        "cloud (%)",
        "raw (bytes)",
        "CCSDS 121 (bytes)",
        "triage products (bytes)",
        f"cells by class ({cls})",
        f"discarded ({cls})",
        "ships",
        "crops made",
        "crops on ground",
        "crop precision",
        "host firmware (s)",
        "M4 instructions",
    ]
    return _table(headers, rows)


def _ship_table(res: SimResult) -> str:
    modes = _modes(res)
    outcomes = {m: res.modes[m].outcomes for m in modes}
    rows = []
    for i, o in enumerate(outcomes[TRIAGE]):
        ll = res.ship_lonlat[i] if i < len(res.ship_lonlat) else None
        r, c = o.ship.centre
        row = [
            o.ship.scene,
            o.ship.label_id,
            None if ll is None else f"{ll[1]:.5f}, {ll[0]:.5f}",
            f"{r:.1f}, {c:.1f}",
            "under cloud" if o.ship.under_cloud else "visible",
            res.ship_samples[i] if i < len(res.ship_samples) else None,
        ]
        for m in modes:
            om = outcomes[m][i]
            row += [
                om.delivered_at.strftime("%m-%d %H:%M:%S") if om.delivered_at else None,
                round(om.latency_s / 3600, 2) if om.latency_s is not None else None,
            ]
        rows.append(row)
    headers = [
        "scene",
        "label",
        "centre (lat, lon)",
        "centre (row, col in scene px)",
        "visibility",
        "sample",
    ]
    for m in modes:
        headers += [f"{m}: delivered (UTC)", f"{m}: latency (h)"]
    return _table(headers, rows)


def _maps(res: SimResult) -> str:
    parts = []
    try:
        over = plot_overview_map(res)
    except Exception as exc:  # a plot that cannot be drawn must not lose the report
        over = None
        parts.append(f"<p>overview map not drawn: {html.escape(str(exc))}</p>")
    if over:
        parts.append(f'<img src="{over}" alt="scenes and stations">')
    for mo in res.mosaics:
        try:
            src = plot_scene_map(mo, res)
        except Exception as exc:
            parts.append(
                f"<p>map of {html.escape(mo['scene'])} not drawn: {html.escape(str(exc))}</p>"
            )
            continue
        credit = mo.get("attribution") or ""
        parts.append(
            f'<figure><img src="{src}" alt="map of {html.escape(mo["scene"])}">'
            f'<figcaption class="credit">{html.escape(mo["scene"])}: the ground station\'s '
            f"own products (quicklooks and decoded crops), reprojected to WGS84 — "
            f"{html.escape(credit)}</figcaption></figure>"
        )
    if not res.mosaics:
        parts.append("<p>No quicklook reached the ground: no scene map.</p>")
    return "".join(parts)


def write_report(res: SimResult, out_dir: Path, *, with_html: bool = True) -> tuple[Path, Path]:
    """Write ``metrics.json`` and (unless ``with_html`` is False) ``report.html`` into ``out_dir``;
    return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir = Path(out_dir)
    metrics = res.metrics()
    mpath = out_dir / "metrics.json"
    mpath.write_text(json.dumps(metrics, indent=1) + "\n")
    hpath = out_dir / "report.html"
    if not with_html:
        return mpath, hpath
    hpath.write_text(render(res, metrics), encoding="utf-8")
    return mpath, hpath


def render(res: SimResult, metrics: dict) -> str:
    """The report's HTML."""
    m = metrics
    credits = "".join(f"<li>{html.escape(a)}</li>" for a in res.attribution)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in res.notes)
    definitions = html.escape((results_module.__doc__ or "").split("Metric definitions")[-1])
    scen = res.scenario
    scen_txt = ", ".join(f"{k} {v}" for k, v in scen.items() if k != "kind" and v is not None)
    scen_txt = f": {html.escape(scen_txt)}" if scen_txt else ""
    policy = (
        f" Decision thresholds overridden: {html.escape(json.dumps(res.policy))}."
        if res.policy
        else ""
    )
    missed = res.targets_missed()
    missed_txt = (
        f"{len(missed)} target(s) missed: {html.escape(', '.join(missed))}."
        if missed
        else "All targets met."
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Triage simulation: {html.escape(res.manifest_name)}</title><style>{CSS}</style></head>
<body>
<h1>What the downlink budget bought: {html.escape(res.manifest_name)}</h1>
<p>Scenario <b>{html.escape(res.scenario_kind)}</b>{scen_txt}.
{len(res.frames)} frames ({res.raw_bytes / 1e6:,.1f} MB raw), {len(res.passes)} passes,
link {html.escape(res.link_name)} ({res.rate_bps:,} bit/s), firmware target
<b>{html.escape(res.target)}</b>, classifier choice <b>{html.escape(res.model_choice)}</b>,
window {res.window_start:%Y-%m-%d %H:%M} – {res.window_end:%Y-%m-%d %H:%M} UTC.{policy}
Run took {res.runtime_s:.1f} s.</p>
{_banner(res)}
{_kpis(res, m)}
<h2>Targets</h2>
<p>{missed_txt}
(<code>triage simulate --check-targets</code> exits non-zero when one is missed.)</p>
{_targets_table(m)}
{_model_update_section(res)}
<h2>Classifiers: in-sample or out-of-sample</h2>
<p>A frame is out-of-sample when the classifier that classified it was never trained on any of
its imagery (<code>models/classifiers.json</code> lists what each was trained on).</p>
{_classifier_table(res)}
<h2>Per scene</h2>
<p>Reduction on board: raw bytes of the scene's frames / bytes of the products the firmware
made of them (before the link). Crop precision: ship crops complete on the ground holding a
labelled ship's box centre on a kept pixel / ship crops complete on the ground.</p>
{_scene_table(res)}
{_satellite_section(res)}
<h2>Map</h2>{_maps(res)}
<h2>Pass timeline</h2><img src="{plot_pass_timeline(res)}" alt="pass timeline">
<img src="{plot_budget_use(res)}" alt="budget use">
<h2>Ships delivered over time</h2><img src="{plot_ships_over_time(res)}" alt="ships over time">
<h2>Capture-to-ground latency</h2><img src="{plot_latency(res)}" alt="latency">
<h2>Cells by class</h2><img src="{plot_discards(res)}" alt="cells by class">
<h2>Triage bytes by product type</h2><img src="{plot_bytes_by_product(res)}" alt="bytes by product">
<h2>Metrics, with each mode's rule</h2>
<p>First-pass rule for the baselines: {html.escape(FIRST_PASS_RULE)}.</p>
{_metrics_table(res)}
<h2>Packet loss model</h2>{_loss_table(res)}
<h2>Passes</h2>{_pass_table(res)}
<h2>Frames</h2>{_frame_table(res)}
<h2>Labelled ships</h2>{_ship_table(res)}
<h2>On board</h2>{_table(["counter", "value"], [[k, v] for k, v in res.onboard.items()])}
<h2>Ground station</h2>{_table(["counter", "value"], [[k, v] for k, v in res.ground.items()])}
<h2>Definitions</h2><pre style="white-space:pre-wrap;font-size:.8em">{definitions}</pre>
<h2>Notes</h2><ul>{notes or "<li>none</li>"}</ul>
<h2>Credits</h2><ul class="credit">{credits}</ul>
</body></html>
"""
