"""Classification with the shipped model through the engine, inside the
application, against TensorFlow Lite Micro (the `tflite-micro` package) on
the reference preprocessing: every tile's class, confidence and decision on
real Sentinel-2 frames, the policy's second opinion (the tile turned by 90,
180 and 270 degrees, outputs averaged) included."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from triage_models import tile_spec as ts
from triage_models.policy import ACTIONS, decide, load_policy, second_opinion, turned_outputs

from triage import paths
from triage.engine.oracle import tflm_run
from triage.onboard import FrameMeta, Onboard, has_model, model_sha256
from triage.onboard.host import ACTIONS as APP_ACTIONS

from .helpers import real_frame

pytestmark = pytest.mark.realdata

# app codes (TRI_ACTION_*, tri_actions.h) of the policy's actions (triage_models.policy.ACTIONS)
APP_ACTION = {name: APP_ACTIONS.index(name) for name in ACTIONS}


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


@pytest.mark.parametrize(("port", "r0", "c0"), [("marseille", 300, 200), ("busan", 0, 0)])
def test_grid_matches_tflm(tflite, data_dir, port, r0, c0):
    spec = ts.tile_spec()
    frame, gt, epsg = real_frame(data_dir, port, r0, c0, 192, 256)
    rep = Onboard(2 << 20).process_frame(
        frame, FrameMeta.for_frame(frame, 1, crs_epsg=epsg, geotransform=gt)
    )
    assert rep.ok, rep.status_name
    _, tiles = ts.frame_tiles(frame, spec)
    s = spec.thumb_px
    x = ts.preprocess_tiles(tiles)
    q = tflm_run(tflite, x, (1, s, s, spec.n_bands))
    assert q.shape == (len(tiles), spec.n_classes)
    policy = load_policy()
    cand = q[:, spec.class_id("ship")].astype(int) >= policy.second_opinion_min_q
    assert rep["tiles_second_opinion"] == int(cand.sum())
    if cand.any():
        turned = np.zeros((3, *q.shape), np.int8)
        turned[:, cand] = turned_outputs(
            lambda v: tflm_run(tflite, v, (1, s, s, spec.n_bands)), x[cand]
        )
        q = second_opinion(q, turned, policy)
    top = np.argmax(q, axis=1)
    want_cls = top.reshape(rep.classes.shape)
    want_conf = (q[np.arange(len(q)), top].astype(int) + 128).reshape(rep.classes.shape)
    acts = decide(q, policy, spec)
    want_act = np.array([APP_ACTION[ACTIONS[a]] for a in acts]).reshape(rep.classes.shape)
    assert np.array_equal(rep.classes, want_cls)
    assert np.array_equal(rep.confidences, want_conf)
    assert np.array_equal(rep.actions, want_act)
