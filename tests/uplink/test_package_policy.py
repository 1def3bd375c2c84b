"""The bound package's decision policy (issue 19): after a switch the satellite decides with
the policy the active package carries (its MODEL_SPEC), not the thresholds compiled into the
image; with no package it decides with the build's own policy (triage_config.h, generated
from models/shipped/policy.json).

The shipped cell network is packaged twice: with the shipped policy, and with a stricter one
(crop only from p_ship >= 0.5, discard sea and cloud from p >= 0.75, no cloud call: the top
class). On a real Sentinel-2
window each package, uplinked and switched to, must give exactly the actions an independent
rendering of the decision rule (written here, from the probabilities) gives on TFLM's
outputs; the two policies must differ on that window, so the test can fail."""

from __future__ import annotations

import hashlib
import json
import math
from fractions import Fraction

import numpy as np
import pytest

from tests.onboard.helpers import real_frame
from tests.uplink.conftest import KEY_ID
from triage.contract import paths
from triage.contract import tile_spec as ts
from triage.contract import uplink as ul
from triage.engine import package
from triage.engine.oracle import tflm_frame
from triage.onboard import FrameMeta, Onboard, has_model
from triage.onboard.host import FrameReport
from triage.onboard.models import ModelFlash, ModelManager, run_models_on_qemu
from triage.onboard.products import decode_stream

pytestmark = pytest.mark.realdata

SHIPPED_PROBS = {"cloud": 0.27734375, "sea": 0.95}  # models/shipped/policy.json, read below too
SHIPPED_CLOUD_CALL = 0.27734375  # the same
STRICT = {
    "discard_min_prob": {"cloud": 0.75, "sea": 0.75},
    "ship_crop_min_prob": 0.5,
    "cloud_call_min_prob": None,
}
WINDOW = ("marseille", 300, 200, 192, 256)
# Action codes of the wire format (triage/WIRE_FORMAT.md, "Actions").
DISCARD, CROP, LOWRES, LAND_DROP = 1, 2, 3, 4


def min_q(p: float | None) -> int:
    """The smallest int8 output whose probability (q + 128) / 256 reaches p (128: never)."""
    if p is None:
        return 128
    return max(-128, min(128, math.ceil(Fraction(p) * 256) - 128))


def reference_actions(
    q: np.ndarray, discard: dict, ship_crop: float, cloud_call: float | None
) -> np.ndarray:
    """The decision rule of issue 9, cell by cell in plain Python: the cell's class is cloud
    when the cloud output reaches the cloud call, else the top class (first on ties); crop
    when the ship output reaches its threshold; else discard the class when its output
    reaches its discard threshold; else land dropped; else low resolution."""
    classes = ["cloud", "sea", "ship", "land"]
    out = []
    for row in q.reshape(-1, 4).tolist():
        top = max(range(4), key=lambda k: (row[k], -k))
        if row[0] >= min_q(cloud_call):
            top = 0
        if row[2] >= min_q(ship_crop):
            out.append(CROP)
        elif row[top] >= min_q(discard.get(classes[top])):
            out.append(DISCARD)
        elif classes[top] == "land":
            out.append(LAND_DROP)
        else:
            out.append(LOWRES)
    return np.array(out, np.uint8).reshape(q.shape[:2])


@pytest.fixture(scope="module")
def shipped_tflite(lib) -> bytes:
    if not has_model():
        pytest.skip("the build has no classifier model (models/shipped)")
    return (paths.repo_root() / "models" / "shipped" / "classifier.tflite").read_bytes()


@pytest.fixture(scope="module")
def window(data_dir):
    return real_frame(data_dir, *WINDOW)


def _switched(tflite: bytes, policy_path, model_id: int, key: bytes) -> ModelManager:
    pkg = package.package_model(tflite, model_id=model_id, created_s=1, policy_path=policy_path)
    mm = ModelManager(ModelFlash.provisioned({KEY_ID: key}), factory=None)
    unit = ul.seal_unit(pkg.data, key=key, key_id=KEY_ID, arsn=1)
    assert all(st == 0 for st in mm.send(ul.upload_packets(unit)))
    s = mm.status()
    assert (s["active_model_id"], s["trial"]) == (model_id, 1), s
    assert s["active_model_sha256"] == hashlib.sha256(tflite).hexdigest()
    return mm


def _process(ob: Onboard, frame, gt, epsg, frame_id: int = 1):
    meta = FrameMeta.for_frame(frame, frame_id, crs_epsg=epsg, geotransform=gt)
    rep = ob.process_frame(frame, meta)
    assert rep.ok, rep.status_name
    return rep


def summary_model(stream: bytes, frame_id: int) -> tuple[int, str]:
    """The model id and hash of a frame's FRAME_SUMMARY in a downlinked stream."""
    (s,) = [p.summary for p in decode_stream(stream).values() if p.summary is not None
            and p.frame_id == frame_id]  # fmt: skip
    return s["model_id"], s["model_sha256"]


def test_the_bound_package_policy_decides(shipped_tflite, window, test_key, tmp_path):
    frame, gt, epsg = window
    q = tflm_frame(shipped_tflite, ts.preprocess_frame(frame))  # TFLM, the oracle
    shipped = json.loads(paths.policy_path().read_text())
    assert {k: v for k, v in shipped["discard_min_prob"].items() if v is not None} == (
        SHIPPED_PROBS
    )
    assert shipped["cloud_call_min_prob"] == SHIPPED_CLOUD_CALL
    want_shipped = reference_actions(
        q, SHIPPED_PROBS, shipped["ship_crop_min_prob"], SHIPPED_CLOUD_CALL
    )
    want_strict = reference_actions(
        q, STRICT["discard_min_prob"], STRICT["ship_crop_min_prob"], None
    )
    # the window tells the two policies apart: fewer crops, more discards
    assert (want_strict == CROP).sum() < (want_shipped == CROP).sum()
    assert (want_strict == DISCARD).sum() > (want_shipped == DISCARD).sum()

    strict_path = tmp_path / "strict_policy.json"
    strict_path.write_text(json.dumps({**shipped, **STRICT}))
    cases = [
        (paths.policy_path(), 11, want_shipped),
        (strict_path, 12, want_strict),
    ]
    for policy_path, model_id, want in cases:
        mm = _switched(shipped_tflite, policy_path, model_id, test_key)
        ob = Onboard(4 << 20)
        ob.bind_active(mm)
        rep = _process(ob, frame, gt, epsg)
        assert np.array_equal(rep.actions, want), policy_path.name
        got = summary_model(ob.downlink(1 << 24), 1)
        assert got == (model_id, hashlib.sha256(shipped_tflite).hexdigest())
        # an override set after the switch still applies (the simulator's onboard.policy)
        ob.set_policy([min_q(None)] * 4, min_q(0.0))
        rep = _process(ob, frame, gt, epsg, 2)
        assert set(np.unique(rep.actions)) <= {CROP}


def test_factory_default_decides_with_the_build_policy(shipped_tflite, window, test_key):
    """No package active (a blank model flash): the compiled-in model with the build's policy,
    byte for byte what an instance that never bound gives."""
    frame, gt, epsg = window
    q = tflm_frame(shipped_tflite, ts.preprocess_frame(frame))
    shipped = json.loads(paths.policy_path().read_text())
    want = reference_actions(q, SHIPPED_PROBS, shipped["ship_crop_min_prob"], SHIPPED_CLOUD_CALL)
    mm = ModelManager(ModelFlash.provisioned({KEY_ID: test_key}), factory=None)
    assert mm.status()["active_model_id"] == 0
    outs = []
    for bind in (False, True):
        ob = Onboard(4 << 20)
        if bind:
            # a package's policy first, then back to the compiled-in model: the build's policy
            ob.bind_active(_switched(shipped_tflite, None, 12, test_key))
            ob.set_policy([min_q(None)] * 4, min_q(0.0))
            ob.bind_active(mm)
        rep = _process(ob, frame, gt, epsg)
        assert np.array_equal(rep.actions, want)
        stream = ob.directory() + ob.downlink(1 << 24)
        assert summary_model(stream, 1) == (0, hashlib.sha256(shipped_tflite).hexdigest())
        outs.append(rep.record + stream)
    assert outs[0] == outs[1]


@pytest.mark.qemu
def test_the_bound_package_policy_decides_on_m4(
    m4_image, shipped_tflite, window, test_key, tmp_path
):
    """The Cortex-M4 image under QEMU: the stricter package, uplinked, decides the window
    with its own policy; frame before (compiled-in model, the build's policy) and after, and
    the downlinked summaries, are the host build's bytes."""
    frame, gt, epsg = window
    q = tflm_frame(shipped_tflite, ts.preprocess_frame(frame))
    shipped = json.loads(paths.policy_path().read_text())
    strict_path = tmp_path / "strict_policy.json"
    strict_path.write_text(json.dumps({**shipped, **STRICT}))
    pkg = package.package_model(shipped_tflite, model_id=12, created_s=1, policy_path=strict_path)
    packets = ul.upload_packets(ul.seal_unit(pkg.data, key=test_key, key_id=KEY_ID, arsn=1))
    metas = [FrameMeta.for_frame(frame, k, crs_epsg=epsg, geotransform=gt) for k in (1, 2)]
    run = run_models_on_qemu(
        [("frame", frame, metas[0]), ("tc", packets), ("frame", frame, metas[1]),
         ("downlink", 1 << 24)],
        ul.model_flash_image({KEY_ID: test_key}),
        workdir=tmp_path / "qemu",
        elf=m4_image("triage_fw"),
    )  # fmt: skip
    assert set(run.results[1]) == {0}
    before = FrameReport.from_record(run.results[0]["data"])
    after = FrameReport.from_record(run.results[2]["data"])
    assert np.array_equal(
        before.actions,
        reference_actions(q, SHIPPED_PROBS, shipped["ship_crop_min_prob"], SHIPPED_CLOUD_CALL),
    )
    assert np.array_equal(
        after.actions,
        reference_actions(q, STRICT["discard_min_prob"], STRICT["ship_crop_min_prob"], None),
    )
    # the host build, through the same telecommands, gives the same bytes
    mm = ModelManager(ModelFlash.provisioned({KEY_ID: test_key}), factory=None)
    ob = Onboard()
    ob.bind_active(mm)
    host_before = ob.process_frame(frame, metas[0]).record
    assert all(st == 0 for st in mm.send(packets))
    ob.bind_active(mm)
    host_after = ob.process_frame(frame, metas[1]).record
    assert (host_before, host_after) == (run.results[0]["data"], run.results[2]["data"])
    stream = run.results[3]["data"]
    assert summary_model(stream, 2) == (12, hashlib.sha256(shipped_tflite).hexdigest())
    assert stream == ob.downlink(1 << 24)
