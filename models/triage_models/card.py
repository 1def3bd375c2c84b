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
