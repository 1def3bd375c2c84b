"""Small classifier-shaped test models written as ``.tflite`` without TensorFlow, and a
classifier registry around them, for the tests of the per-frame classifier mechanism.

The model is a cell network as the firmware streams it (:mod:`triage.engine.stream`):
it takes the on-board input (int8 ``[1, H, W, 4]``, scale 1/255, zero point -128:
``isqrt`` of the canonical reflectance scale), and one CONV_2D of a 16 x 16 kernel at
stride 16 (one output per cell, VALID) mixes each cell's four band means into four
logits, ending in the on-board output quantisation (SOFTMAX, scale 1/256, zero point
-128). Its weights are chosen to call bright white cells cloud, dark ones sea,
NIR-bright ones land and cells brighter in NIR than in red over dark water ship;
exactly what it says does not matter: TFLM runs the same bytes as the reference.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from triage.contract.tile_spec import tile_spec
from triage.engine import tflite as tfl
from triage.engine.tflite_write import ModelBuilder
from triage.sim.classifiers import load_classifiers

# rows: cloud, sea, ship, land; columns: blue, green, red, nir band means (int8 domain)
WEIGHTS = {
    "brightness": [[60, 40, 20, 10], [-60, -40, -30, -50], [-20, -10, -60, 90], [-30, 0, 40, 60]],
    "inverted": [[-60, -40, -20, -10], [60, 40, 30, 50], [20, 10, 60, -90], [30, 0, -40, -60]],
}


def classifier_tflite(kind: str = "brightness", stride: int | None = None) -> bytes:
    """A cell-network-shaped model (see the module docstring), at the reference size of
    one cell (the exporter and TFLM's shape rewriter take any multiple); ``stride``: its
    kernel and stride when not the cell's (a model the firmware must refuse). ``"wide"``:
    the brightness mix computed 16 times over (64 channels) and summed by a 1 x 1 layer, a
    model whose package (the first layer's widened data: 16 blocks of 2,064 words, 132 kB)
    no 128 kB model slot holds."""
    spec = tile_spec()
    cell, c = stride or spec.cell_px, spec.n_bands
    wide = 16 if kind == "wide" else 1
    in_scale, in_zp = 1.0 / 255.0, -128
    mb = ModelBuilder()
    x = mb.tensor((1, cell, cell, c), scale=in_scale, zero_point=in_zp, name="input")
    # each weight repeated over the cell and divided by its pixels: the band means' mix
    mix = np.asarray(WEIGHTS["brightness" if kind == "wide" else kind], np.int8)
    mix = np.tile(mix, (wide, 1))
    n = len(mix)
    w = np.broadcast_to(mix[:, None, None, :], (n, cell, cell, c))
    w_scale = 1.0 / 64.0 / (cell * cell)
    wt = mb.tensor(w.shape, data=np.ascontiguousarray(w), scale=[w_scale] * n,
                   zero_point=[0] * n, qdim=0)  # fmt: skip
    bias = mb.tensor((n,), "int32", data=np.zeros(n, np.int32), scale=[in_scale * w_scale] * n,
                     zero_point=[0] * n)  # fmt: skip
    logits = mb.tensor((1, 1, 1, n), scale=0.05, zero_point=0, name="logits")
    mb.op(tfl.CONV_2D, [x, wt, bias], [logits], padding=tfl.PADDING_VALID, stride_w=cell,
          stride_h=cell, activation=0)  # fmt: skip
    if wide > 1:  # the 16 copies of each logit summed (weights 1/16 of the scale's unit)
        w2 = np.zeros((4, 1, 1, n), np.int8)
        for k in range(n):
            w2[k % 4, 0, 0, k] = 1
        wt2 = mb.tensor(w2.shape, data=w2, scale=[1.0 / wide] * 4, zero_point=[0] * 4, qdim=0)
        b2 = mb.tensor((4,), "int32", data=np.zeros(4, np.int32),
                       scale=[0.05 / wide] * 4, zero_point=[0] * 4)  # fmt: skip
        summed = mb.tensor((1, 1, 1, 4), scale=0.05, zero_point=0, name="summed")
        mb.op(tfl.CONV_2D, [logits, wt2, b2], [summed], padding=tfl.PADDING_VALID, stride_w=1,
              stride_h=1, activation=0)  # fmt: skip
        logits = summed
    y = mb.tensor((1, 1, 1, 4), scale=1.0 / 256.0, zero_point=-128, name="output")
    mb.op(tfl.SOFTMAX, [logits], [y], beta=1.0)
    return mb.build([x], [y], description=f"test cell classifier ({kind})")


def write_registry(folder: Path, extra: list[dict], shipped_sources: list[str] | None = None):
    """A registry in ``folder``: the real compiled-in entry (its training sources replaced
    when ``shipped_sources`` is given) and ``extra`` entries, each
    ``{"name", "kind", "training_sources"[, "stride", "auto", "policy"]}`` whose model is
    written beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    shipped = load_classifiers().shipped.model_dump()
    if shipped_sources is not None:
        shipped["training_sources"] = shipped_sources
    entries = [shipped]
    for e in extra:
        data = classifier_tflite(e.get("kind", "brightness"), e.get("stride"))
        path = folder / f"{e['name']}.tflite"
        path.write_bytes(data)
        entries.append(
            {
                "name": e["name"],
                "tflite": path.name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "training_sources": e.get("training_sources", []),
                **{k: e[k] for k in ("auto", "policy") if k in e},
            }
        )
    reg = folder / "classifiers.json"
    doc = {"format": "triage-classifiers", "version": 1, "classifiers": entries}
    reg.write_text(json.dumps(doc))
    return reg
