"""Classification with the shipped cell network through the streaming engine,
inside the application, against TensorFlow Lite Micro (the `tflite-micro`
package) running the same model at the frame's size on the reference
preprocessing: every cell's class, confidence and decision on real Sentinel-2
frames, sizes that are and are not multiples of the cell included."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from triage import paths
from triage.contract import tile_spec as ts
from triage.contract.policy import called_class, decide, load_policy
from triage.engine.oracle import tflm_frame
from triage.onboard import FrameMeta, Onboard, has_model, model_sha256

from .helpers import real_frame

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def tflite(lib):
    if not has_model():
        pytest.skip("the build has no classifier model (models/shipped)")
    path = paths.repo_root() / "models" / "shipped" / "classifier.tflite"
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == model_sha256(), (
        "models/shipped/classifier.tflite is not the model compiled into the firmware"
    )
    return data


@pytest.mark.parametrize(
    ("port", "r0", "c0", "rows", "cols"),
    [("marseille", 300, 200, 192, 256), ("busan", 0, 0, 150, 203)],
)
def test_grid_matches_tflm(tflite, data_dir, port, r0, c0, rows, cols):
    spec = ts.tile_spec()
    frame, gt, epsg = real_frame(data_dir, port, r0, c0, rows, cols)
    rep = Onboard(2 << 20).process_frame(
        frame, FrameMeta.for_frame(frame, 1, crs_epsg=epsg, geotransform=gt)
    )
    assert rep.ok, rep.status_name
    q = tflm_frame(tflite, ts.preprocess_frame(frame))
    assert q.shape == (ts.cell_count(rows), ts.cell_count(cols), spec.n_classes)
    q = q.reshape(-1, spec.n_classes)
    policy = load_policy()
    top = called_class(q, policy, spec)
    want_cls = top.reshape(rep.classes.shape)
    zero = spec.output_quantization.zero_point
    want_conf = (q[np.arange(len(q)), top].astype(int) - zero).reshape(rep.classes.shape)
    want_act = decide(q, policy, spec).reshape(rep.classes.shape)
    assert np.array_equal(rep.classes, want_cls)
    assert np.array_equal(rep.confidences, want_conf)
    assert np.array_equal(rep.actions, want_act)
