"""The numbers of ``MODEL_CARD.md``, rendered from ``evaluation.json`` and ``training.json``.

The card's prose is written by hand; the block between the ``BEGIN``/``END``
markers is generated (``triage model evaluate --write`` refreshes it), so the
card never disagrees with the recorded evaluation.
"""

from __future__ import annotations

from pathlib import Path

BEGIN = "<!-- BEGIN GENERATED: results (triage model evaluate --write) -->"
END = "<!-- END GENERATED: results -->"

HEADLINE = (
    ("ship_recall", "ships whose box centre a full-resolution crop keeps", "≥ 0.95"),
    ("ship_kept", "ships whose tile is not discarded", ""),
    ("discard_ship_rate", "discarded tiles that hold a ship", "≤ 0.005"),
    ("discard_fraction", "share of tiles discarded", ""),
    ("crop_fraction", "share of tiles cropped at full resolution", ""),
    ("crop_area_fraction", "share of the scenes' pixels sent at full resolution", ""),
    ("second_opinion_fraction", "share of tiles classified four times (second opinion)", ""),
    ("land_drop_fraction", "share of tiles dropped as land (land_policy drop)", ""),
    ("land_dropped_ship_tiles", "tiles holding a ship centre dropped as land", ""),
    ("ship_sent", "ships with a tile neither discarded nor dropped", ""),
)


def _f(v, digits: int = 4) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def render_results(ev: dict, training: dict) -> str:
    base = ev["baseline"]
    model_vals = ev
    lines = [
        BEGIN,
        "",
        f"Leave-ports-out over {ev['ships']} ships and {ev['tiles']} tiles of the nine scenes; "
        "each fold's thresholds chosen on the other two folds (see Evaluation).",
        "",
        "| metric | meaning | network (int8, TFLM) | baseline rule | target |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for key, meaning, target in HEADLINE:
        lines.append(
            f"| `{key}` | {meaning} | {_f(model_vals.get(key))} | {_f(base.get(key))} | {target} |"
        )
    lines += [
        f"| `int8_float_agreement` | top-1 agreement of int8 and float, port tiles | "
        f"{_f(ev['int8_float_agreement'])} | – | ≥ 0.99 |",
        f"| `model_tflite_bytes` | int8 flatbuffer | {ev['model_tflite_bytes']} | – | ≤ 20480 |",
        f"| `tflm_arena_bytes` | TFLM arena (tflite-micro) | {ev['tflm_arena_bytes']} | – "
        "| ≤ 32768 |",
        f"| `macs_per_tile` | multiply-accumulates per tile | {ev['macs_per_tile']} | – | |",
        f"| accuracy | labelled tiles, ports and cloud images | {_f(ev['accuracy'])} | "
        f"{_f(base['accuracy'])} | |",
        "",
        "Per class (network, top-1 of the int8 output, leave-ports-out):",
        "",
        "| class | precision | recall | support | baseline precision | baseline recall |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c, m in ev["per_class"].items():
        b = base["per_class"][c]
        lines.append(
            f"| {c} | {_f(m['precision'])} | {_f(m['recall'])} | {m['support']} | "
            f"{_f(b['precision'])} | {_f(b['recall'])} |"
        )
    classes = ev["confusion"]["rows_true_cols_pred"]
    lines += [
        "",
        "Confusion matrix (rows: label, columns: network's top class):",
        "",
        "| label \\ predicted | " + " | ".join(classes) + " |",
        "| --- |" + " ---: |" * len(classes),
    ]
    for c, row in zip(classes, ev["confusion"]["matrix"], strict=True):
        lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
    lines += [
        "",
        "Per port (each scored by the fold model that never saw it):",
        "",
        "| port | ships | ship_recall | ship_kept | discard_ship_rate | discard_fraction "
        "| crop_fraction | crop_area_fraction |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p, m in ev["per_port"].items():
        lines.append(
            f"| {p} | {m['ships']} | {_f(m['ship_recall'])} | {_f(m['ship_kept'])} | "
            f"{_f(m['discard_ship_rate'])} | {_f(m['discard_fraction'])} | "
            f"{_f(m['crop_fraction'])} | {_f(m['crop_area_fraction'])} |"
        )
    sp = ev["shipped_policy"]
    on_all = ev["shipped_policy_on_all_folds"]
    lines += [
        "",
        f"Shipped policy (chosen on all leave-ports-out outputs for a recall of "
        f"{ev['crop_target_recall']}): second opinion when p(ship) ≥ "
        f"{sp['second_opinion_min_prob']:.4f}; crop when the (mean) p(ship) ≥ "
        f"{sp['ship_crop_min_prob']:.4f}, keeping the tile's central cell widened by "
        f"{sp['crop_margin_px']} px; discard sea when p ≥ {sp['discard_min_prob']['sea']}, "
        f"cloud when p ≥ {sp['discard_min_prob']['cloud']}; land: {sp['land_policy']}. "
        f"On the same outputs (in-sample for the thresholds): ship_recall "
        f"{_f(on_all['ship_recall'])}, ship_kept {_f(on_all['ship_kept'])}, discard_ship_rate "
        f"{_f(on_all['discard_ship_rate'])}, discard_fraction {_f(on_all['discard_fraction'])}, "
        f"crop_area_fraction {_f(on_all['crop_area_fraction'])}.",
        "",
        f"Training of the shipped model: {training['train_seconds']} s on "
        f"{training['cpu_count']} cores (seed {training['seed']}); each fold model "
        + ", ".join(f"{s:.0f} s" for s in ev["fold_train_seconds"])
        + (
            f"; the three folds (training and scoring) took {ev['folds_run_seconds']:.0f} s."
            if ev.get("folds_run_seconds")
            else "."
        ),
        "",
        END,
    ]
    return "\n".join(lines)


def update_card(card: Path, ev: dict, training: dict) -> None:
    """Replace the generated block of the card (the card must hold both markers)."""
    text = card.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{card}: generated-block markers missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    card.write_text(head + render_results(ev, training) + tail)


# ---- the cell network (the shipped classifier) ----------------------------------------------

CELL_HEADLINE = (
    ("ship_recall", "ships whose centre cell is cropped at full resolution", "≥ 0.97"),
    ("crop_area_fraction", "share of the scenes' pixels sent at full resolution", "≤ 0.035"),
    ("crop_cell_precision", "cropped cells that hold a labelled ship centre", ""),
    ("crop_region_precision", "crop regions that hold a labelled ship centre", ""),
    ("discard_ship_rate", "discarded cells that hold a ship", "≤ 0.002"),
    ("discard_fraction", "share of cells discarded (sea, cloud)", ""),
    ("land_drop_fraction", "share of cells dropped as land", ""),
    ("int8_float_agreement", "top-1 agreement of int8 and float, port cells", "≥ 0.99"),
)


def _trade_lines(ev: dict) -> list[str]:
    """The recall-target trade (:func:`triage_models.lpo.recall_target_trade`), if measured."""
    rows = ev.get("recall_target_trade")
    if not rows:
        return []
    lines = [
        "Recall against crop area: each fold's crop threshold chosen on the other folds for a "
        "higher recall target than the policy's (the figures above use the first row):",
        "",
        "| policy's recall target | ship recall | lowest port | crop area | haze recall |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['target']} | {_f(r['ship_recall'])} ({r['ships'] - r['missed_ships']}/"
            f"{r['ships']}) | {r['lowest_port']} {_f(r['lowest_port_recall'], 2)} | "
            f"{_f(r['crop_area_fraction'])} | {_f(r['haze_ship_recall'])} |"
        )
    return [*lines, ""]


def render_cell_results(ev: dict, training: dict) -> str:
    """The generated block of the card for the cell network's evaluation."""
    lines = [
        BEGIN,
        "",
        f"Leave-ports-out over the ten ports ({ev['ships']} ships, {ev['units']} cells), five "
        "folds by port, the cloud images and chips held out across folds; int8 under TFLM; "
        "each fold's thresholds chosen on the other four folds. Every figure is out of sample.",
        "",
        "| metric | meaning | cell network | target |",
        "| --- | --- | ---: | ---: |",
    ]
    for key, meaning, target in CELL_HEADLINE:
        lines.append(f"| `{key}` | {meaning} | {_f(ev.get(key))} | {target} |")
    lines += [
        f"| `macs_per_megapixel` | multiply-accumulates per megapixel | "
        f"{ev['macs_per_megapixel']:.0f} | |",
        f"| `model_tflite_bytes` | int8 flatbuffer | {ev['model_tflite_bytes']} | |",
        "",
        "Per port (each scored by the fold model that never saw it):",
        "",
        "| port | fold | ships | ship_recall | crop_area_fraction | crop_cell_precision "
        "| discard_fraction |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p, m in ev["per_port"].items():
        lines.append(
            f"| {p} | {m.get('fold', '–')} | {m['ships']} | {_f(m['ship_recall'])} | "
            f"{_f(m['crop_area_fraction'])} | {_f(m.get('crop_cell_precision'))} | "
            f"{_f(m['discard_fraction'])} |"
        )
    lines += [
        "",
        "Ship recall by slice:",
        "",
        "| slice | ships | recall |",
        "| --- | ---: | ---: |",
    ]
    for name, m in ev["slices"].items():
        lines.append(f"| {name} | {m['ships']} | {_f(m['recall'])} |")
    cl, s2, disc = (
        ev["cloud_on_cloud_images"],
        ev["cloud_on_sentinel2_chips"],
        ev["cloud_discard_on_cloud_images"],
    )
    t32, s32 = ev["cloud_on_cloud_images_32px_tiles"], ev.get("cloud_on_sentinel2_32px_tiles")
    hz = ev["haze"]
    lines += [
        "",
        "Cloud on the held-out cloud images, as the decision calls it (cloud when p(cloud) "
        "reaches the fold policy's cloud call, chosen on the other folds' Sentinel-2 images; "
        "else the top class). At the issue's tile level (32-px tiles every 16 px, a tile cloud "
        "when half of it lies in cells called cloud): precision "
        f"{_f(t32['precision'])}, recall {_f(t32['recall'])} on all seven images"
        + (
            f", {_f(s32['precision'])} / {_f(s32['recall'])} on the four Sentinel-2 ones"
            if s32
            else ""
        )
        + " (target ≥ 0.95 / 0.95). Per cell: "
        f"{_f(cl['precision'])} / {_f(cl['recall'])}; Sentinel-2 images and chips only: "
        f"{_f(s2['precision'])} / {_f(s2['recall'])}; cloud discarded by the policy: "
        f"{_f(disc['precision'])} / {_f(disc['recall'])}. Per image recall (cells): "
        + ", ".join(f"{k} {_f(v['recall'], 2)}" for k, v in cl["per_image"].items())
        + ".",
        "",
        f"Haze (every held-out port again under real cloud laid at opacity 0.2-0.5): ship recall "
        f"{_f(hz['ship_recall'])} (target ≥ 0.90), {_f(hz['ship_recall_under_alpha_0.1'])} for "
        f"the {hz['ships_under_alpha_0.1']} ships under opacity ≥ 0.1; crop area "
        f"{_f(hz['crop_area_fraction'])}.",
        "",
        "Coastal chips (unlabelled; false-alarm measure): "
        + "; ".join(
            f"{k}: cropped {_f(v['crop'], 3)}, discarded {_f(v['discard'], 3)}, dropped as land "
            f"{_f(v['land_drop'], 3)}, water cells cropped {_f(v['water_units_cropped'], 3)}"
            for k, v in ev["coastal"].items()
        )
        + ".",
        "",
        *_trade_lines(ev),
        "Per class (the class the decision calls, leave-ports-out):",
        "",
        "| class | precision | recall | support |",
        "| --- | ---: | ---: | ---: |",
    ]
    for c, m in ev["per_class"].items():
        lines.append(f"| {c} | {_f(m['precision'])} | {_f(m['recall'])} | {m['support']} |")
    conf = ev["confusion"]
    classes = conf["rows_true_cols_pred"] if isinstance(conf, dict) else list(ev["per_class"])
    matrix = conf["matrix"] if isinstance(conf, dict) else conf
    lines += [
        "",
        "Confusion matrix (cells; rows: label, columns: the class called):",
        "",
        "| label \\ predicted | " + " | ".join(classes) + " |",
        "| --- |" + " ---: |" * len(classes),
    ]
    for c, row in zip(classes, matrix, strict=True):
        lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
    sp = ev["shipped_policy"]
    lines += [
        "",
        f"Shipped policy (chosen on all five folds' held-out outputs): crop when p(ship) ≥ "
        f"{sp['ship_crop_min_prob']:.4f}, margin {sp['crop_margin_px']} px; discard sea when "
        f"p ≥ {sp['discard_min_prob']['sea']}, cloud when p ≥ {sp['discard_min_prob']['cloud']}; "
        + (
            f"a cell is called cloud when p(cloud) ≥ {sp['cloud_call_min_prob']}; "
            if sp.get("cloud_call_min_prob") is not None
            else ""
        )
        + f"land: {sp['land_policy']}; no second opinion.",
        "",
        f"Training of the shipped model: {training['train_seconds']} s on "
        f"{training['cpu_count']} cores (seed {training['seed']}).",
        "",
        END,
    ]
    return "\n".join(lines)
