"""Small classifier-shaped test models written as ``.tflite`` without TensorFlow, and a
classifier registry around them, for the tests of the per-frame classifier mechanism.

The model takes the on-board input (int8 ``[1, 32, 32, 4]``, scale 1/255, zero point
-128: ``isqrt`` of the canonical reflectance scale), averages it over the tile (MEAN),
mixes the four band means into four logits (FULLY_CONNECTED) and ends in the on-board
output quantisation (SOFTMAX, scale 1/256, zero point -128). Its weights are chosen to
call bright white tiles cloud, dark ones sea, NIR-bright ones land and tiles brighter in
NIR than in red over dark water ship; exactly what it says does not matter: TFLM runs
the same bytes as the reference.
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


def classifier_tflite(kind: str = "brightness") -> bytes:
    """A classifier-shaped model (see the module docstring)."""
    spec = tile_spec()
    s, c = spec.thumb_px, spec.n_bands
    in_scale, in_zp = 1.0 / 255.0, -128
    mb = ModelBuilder()
    x = mb.tensor((1, s, s, c), scale=in_scale, zero_point=in_zp, name="input")
    axes = mb.tensor((2,), "int32", data=np.asarray([1, 2], dtype=np.int32))
    m = mb.tensor((1, c), scale=in_scale, zero_point=in_zp, name="band_means")
    mb.op(tfl.MEAN, [x, axes], [m], keep_dims=False)
    w = np.asarray(WEIGHTS[kind], dtype=np.int8)
    w_scale = 1.0 / 64.0
    wt = mb.tensor(w.shape, data=w, scale=[w_scale], zero_point=[0])
    bias = mb.tensor(
        (4,), "int32", data=np.zeros(4, np.int32), scale=[in_scale * w_scale], zero_point=[0]
    )
    logits = mb.tensor((1, 4), scale=0.05, zero_point=0, name="logits")
    mb.op(tfl.FULLY_CONNECTED, [m, wt, bias], [logits], activation=0)
    y = mb.tensor((1, 4), scale=1.0 / 256.0, zero_point=-128, name="output")
    mb.op(tfl.SOFTMAX, [logits], [y], beta=1.0)
    return mb.build([x], [y], description=f"test classifier ({kind})")


def write_registry(folder: Path, extra: list[dict], shipped_sources: list[str] | None = None):
    """A registry in ``folder``: the real compiled-in entry (its training sources replaced
    when ``shipped_sources`` is given) and ``extra`` entries, each
    ``{"name", "kind", "training_sources"}`` whose model is written beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    shipped = load_classifiers().shipped.model_dump()
    if shipped_sources is not None:
        shipped["training_sources"] = shipped_sources
    entries = [shipped]
    for e in extra:
        data = classifier_tflite(e.get("kind", "brightness"))
        path = folder / f"{e['name']}.tflite"
        path.write_bytes(data)
        entries.append(
            {
                "name": e["name"],
                "tflite": path.name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "training_sources": e.get("training_sources", []),
            }
        )
    reg = folder / "classifiers.json"
    doc = {"format": "triage-classifiers", "version": 1, "classifiers": entries}
    reg.write_text(json.dumps(doc))
    return reg
