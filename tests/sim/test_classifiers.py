"""The per-frame classifier mechanism: the registry, the out-of-sample rule (expected
assignments derived by hand from the training sources), and frames run through a named
model on the host, checked against TFLM on the reference preprocessing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from triage.contract import tile_spec as ts
from triage.contract.policy import called_class, decide, load_policy
from triage.engine.oracle import tflm_frame
from triage.onboard import FrameMeta, Onboard, OnboardError
from triage.sim.classifiers import (
    Assignment,
    assign,
    check_compiled_in,
    compiled_model,
    frame_sources,
    load_classifiers,
    thresholds,
)
from triage.sim.errors import ClassifierError
from triage.sim.manifest import BandSource, Frame, PixelWindow, load_manifest
from triage.sim.runner import run_simulation

from .testmodels import classifier_tflite, write_registry

T = "2024-06-01T10:00:00Z"


def _frame(fid: int, sources: list[str] | None = None, model: str | None = None, band=None):
    bands = {b: BandSource(path=band or f"x/{b}.tif") for b in ("blue", "green", "red", "nir")}
    return Frame(
        frame_id=fid,
        scene="s",
        bands=bands,
        window=PixelWindow(row0=0, col0=0, rows=64, cols=64),
        capture_time_utc=T,
        sources=sources,
        model=model,
    )


@pytest.fixture(scope="module")
def abc_registry(tmp_path_factory):
    """shipped trained on A, B, C; fold1 on B, C (held out A); fold2 on A, C (held out B)."""
    return load_classifiers(
        write_registry(
            tmp_path_factory.mktemp("abc"),
            [
                {"name": "fold1", "training_sources": ["B", "C"]},
                {"name": "fold2", "training_sources": ["A", "C"]},
            ],
            shipped_sources=["A", "B", "C"],
        )
    )


def test_out_of_sample_rule(abc_registry):
    cs = abc_registry
    got = {k: assign(_frame(1, src), cs) for k, src in {
        "A": ["A"], "B": ["B"], "C": ["C"], "D": ["D"], "AB": ["A", "B"],
        "none": None, "synthetic": [],
    }.items()}  # fmt: skip
    # A: the shipped model saw it, fold1 never did
    assert (got["A"].model, got["A"].sample) == ("fold1", "out-of-sample")
    assert (got["B"].model, got["B"].sample) == ("fold2", "out-of-sample")
    # C: every classifier saw it: the shipped one, labelled in-sample with the reason
    assert (got["C"].model, got["C"].sample) == ("shipped", "in-sample")
    assert "no listed classifier" in got["C"].reason
    # D: outside every training set: the shipped model (it never saw it either)
    assert (got["D"].model, got["D"].sample) == ("shipped", "out-of-sample")
    # A and B together: fold1 saw B, fold2 saw A
    assert (got["AB"].model, got["AB"].sample) == ("shipped", "in-sample")
    assert got["none"] == Assignment("shipped", "unknown", got["none"].reason)
    assert (got["synthetic"].model, got["synthetic"].sample) == ("shipped", "out-of-sample")
    # --model shipped: every frame on the shipped model, each still labelled
    assert assign(_frame(1, ["A"]), cs, "shipped").sample == "in-sample"
    assert assign(_frame(1, ["D"]), cs, "shipped").sample == "out-of-sample"
    # a frame naming its model keeps it under auto, not under a forced choice
    assert assign(_frame(1, ["A"], model="fold2"), cs) == Assignment(
        "fold2", "in-sample", "fold2 was trained on A"
    )
    assert assign(_frame(1, ["A"], model="fold2"), cs, "fold1").model == "fold1"
    with pytest.raises(ClassifierError, match="no classifier named 'fold9'"):
        assign(_frame(1, ["A"], model="fold9"), cs)


def test_a_classifier_marked_not_auto_is_chosen_only_by_name(tmp_path):
    # fold0 (listed first, held out A) is marked auto: false; fold1 also held out A
    reg = write_registry(
        tmp_path,
        [
            {"name": "fold0", "training_sources": ["B", "C"], "auto": False},
            {"name": "fold1", "training_sources": ["B", "C"]},
        ],
        shipped_sources=["A", "B", "C"],
    )
    cs = load_classifiers(reg)
    assert [c.name for c in cs.auto_choices] == ["fold1"]
    assert assign(_frame(1, ["A"]), cs).model == "fold1"
    assert assign(_frame(1, ["A"]), cs, "fold0") == Assignment(
        "fold0", "out-of-sample", assign(_frame(1, ["A"]), cs, "fold0").reason
    )
    assert assign(_frame(1, ["A"], model="fold0"), cs).model == "fold0"
    doc = json.loads(reg.read_text())
    doc["classifiers"][0]["auto"] = False  # the compiled-in one is the fallback
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ClassifierError, match=r"compiled-in classifier.*auto: false"):
        load_classifiers(bad)


def test_frame_sources():
    assert frame_sources(_frame(1, band="data:sen2ships/athens/B02.tif")) == ["sen2ships/athens"]
    assert frame_sources(_frame(1, band="data:coastal/accra.tif")) == ["coastal/accra"]
    assert frame_sources(_frame(1, band="/elsewhere/B02.tif")) is None
    assert frame_sources(_frame(1, ["sen2ships/athens"], band="/x.tif")) == ["sen2ships/athens"]


def test_registry_errors(tmp_path):
    good = load_classifiers().shipped.model_dump()

    def write(entries, name="r.json"):
        p = tmp_path / name
        p.write_text(json.dumps({"format": "triage-classifiers", "version": 1,
                                 "classifiers": entries}))  # fmt: skip
        return p

    with pytest.raises(ClassifierError, match="appear twice: shipped"):
        load_classifiers(write([good, good], "dup.json"))
    with pytest.raises(ClassifierError, match="exactly one classifier"):
        load_classifiers(write([{**good, "compiled_in": False}], "none.json"))
    with pytest.raises(ClassifierError, match="sha256"):
        load_classifiers(write([{**good, "sha256": "abc"}], "sha.json"))
    with pytest.raises(ClassifierError, match="not found"):
        load_classifiers(tmp_path / "missing.json")
    cs = load_classifiers()
    with pytest.raises(ClassifierError, match="describes 'shipped'"):
        check_compiled_in(cs, "0" * 64)


def test_the_registry_describes_the_compiled_in_model():
    from triage.onboard import has_model, model_sha256

    if not has_model():
        pytest.skip("the build has no classifier model")
    cs = load_classifiers()
    data = Path(cs.shipped.tflite).read_bytes()
    assert hashlib.sha256(data).hexdigest() == cs.shipped.sha256 == model_sha256()


def _oracle_grid(tflite: bytes, frame: np.ndarray):
    """(classes, actions) of the cell network ``tflite`` on every cell of ``frame`` under
    the build's policy: TFLM on the whole frame's reference preprocessing."""
    spec = ts.tile_spec()
    q = tflm_frame(tflite, ts.preprocess_frame(frame)).reshape(-1, spec.n_classes)
    policy = load_policy()
    return called_class(q, policy, spec), decide(q, policy, spec)


def _sea_frame(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = rng.integers(600, 1600, (96, 128, 4)).astype(np.uint16)
    f[10:40, 60:120] = rng.integers(30000, 60000, (30, 60, 4))  # a bright, cloud-like patch
    f[60:90, 0:50, 3] = rng.integers(9000, 20000, (30, 50))  # NIR-bright land
    f[70:73, 80:85, 3] = 40000  # a small NIR-bright object on the water
    return f


def test_frames_through_a_named_model_match_tflm(tmp_path):
    reg = load_classifiers(write_registry(tmp_path, [{"name": "fold_t"}]))
    loaded = compiled_model(reg.get("fold_t"))
    tflite = classifier_tflite()
    ob = Onboard(4 << 20)
    shipped = Onboard(4 << 20)
    frames = [_sea_frame(1), _sea_frame(2)]
    metas = [FrameMeta.for_frame(f, i + 1) for i, f in enumerate(frames)]

    ob.bind_model(loaded.address)
    rep = ob.process_frame(frames[0], metas[0])
    assert rep.ok, rep.status_name
    cls, act = _oracle_grid(tflite, frames[0])
    assert np.array_equal(rep.classes.ravel(), cls)
    assert np.array_equal(rep.actions.ravel(), act)

    # back to the compiled-in model: the same grid as an instance that never switched
    ob.bind_model(None)
    rep2 = ob.process_frame(frames[1], metas[1])
    ref = shipped.process_frame(frames[1], metas[1])
    assert np.array_equal(rep2.classes, ref.classes)
    assert np.array_equal(rep2.actions, ref.actions)
    # the store kept the first frame's products across the switch
    assert ob.store_use()["products"] == rep["products_added"] + rep2["products_added"]


def test_a_failed_bind_leaves_no_classifier_and_frames_then_fail(tmp_path):
    # a network of 8-px cells: the firmware decides on 16-px cells and refuses it
    reg = load_classifiers(write_registry(tmp_path, [{"name": "fold_8", "stride": 8}]))
    loaded = compiled_model(reg.get("fold_8"))
    ob = Onboard(1 << 20)
    with pytest.raises(OnboardError, match="bind model"):
        ob.bind_model(loaded.address)
    f = _sea_frame(3)
    assert not ob.process_frame(f, FrameMeta.for_frame(f, 1)).ok  # no half-bound classifier


def test_simulation_labels_each_frame_with_its_classifier(tiny_set, tmp_path):
    # fold_t never saw anything; the synthetic frames say sources []: out-of-sample for
    # both, so "auto" keeps the shipped model, and --model fold_t puts fold_t on board
    reg = write_registry(tmp_path / "reg", [{"name": "fold_t", "training_sources": []}])
    m = load_manifest(tiny_set)
    res = run_simulation(tiny_set, tmp_path / "run", classifiers=reg, model="fold_t")
    met = res.metrics()
    assert {f["model"] for f in met["per_frame"]} == {"fold_t"}
    assert met["classifiers"]["frames_out_of_sample"] == len(m.frames)
    assert met["targets"]["measured_out_of_sample"]["met"] is True
    # the firmware's per-class cell counts of the first frame = TFLM on that frame
    from triage.sim.frames import check_frame, read_frame

    f0 = m.frames_in_capture_order()[0]
    px = read_frame(check_frame(f0, tiny_set.parent), f0)
    cls, _ = _oracle_grid(classifier_tflite(), px)
    rec = next(r for r in res.frames if r.frame_id == f0.frame_id)
    assert rec.cells_by_class == [int((cls == k).sum()) for k in range(4)]


def test_qemu_refuses_a_model_too_large_for_a_slot(tiny_set, tmp_path):
    # the wide test network's package (its first layer's data alone 132 kB) exceeds a 128 KB
    # model slot: the host binds it from its engine library, the Cortex-M4 image cannot hold it
    reg = write_registry(tmp_path / "reg", [{"name": "fold_t", "kind": "wide"}])
    with pytest.raises(ClassifierError, match=r"fold_t.*cannot hold.*a slot holds"):
        run_simulation(tiny_set, tmp_path / "q", classifiers=reg, model="fold_t", target="qemu")
    assert not (tmp_path / "q").exists()


@pytest.mark.realdata
def test_the_ports_with_todays_registry(data_dir):
    """The registry lists the shipped cell network (trained on all ten ports) and the five
    leave-ports-out fold models of its recipe: every port frame is classified out of sample
    by the fold model whose fold holds that port (triage_models.folds.FOLDS, the folds the
    evaluation used), never by the shipped one."""
    import sys

    from triage.contract import paths
    from triage.sim.build import build_real_manifest

    sys.path.insert(0, str(paths.models_dir()))
    from triage_models.folds import FOLDS

    fold_of = {p: f"fold{k + 1}" for k, f in enumerate(FOLDS) for p in f.frames}
    m, _ = build_real_manifest(data_dir, ports=("athens", "valencia", "busan"))
    cs = load_classifiers()
    got = {(f.scene, assign(f, cs).sample, assign(f, cs).model) for f in m.frames}
    assert got == {(p, "out-of-sample", fold_of[p]) for p in ("athens", "valencia", "busan")}


def _policy_file(folder: Path, **changes) -> Path:
    doc = json.loads(load_policy().model_dump_json()) | changes
    path = folder / "policy.json"
    path.write_text(json.dumps(doc))
    return path


def test_a_registry_model_is_decided_with_its_own_policy(tmp_path):
    # p = (q + 128) / 256 (the tile spec's output quantisation): p_ship >= 0.25 first holds at
    # q = -64; sea discarded from p >= 0.5, q = 0; cloud never (NEVER_Q, one past int8)
    pol = _policy_file(
        tmp_path,
        ship_crop_min_prob=0.25,
        discard_min_prob={"cloud": None, "sea": 0.5, "ship": None, "land": None},
    )
    reg = write_registry(tmp_path, [{"name": "fold_t", "policy": pol.name}])

    th = thresholds(load_classifiers(reg).get("fold_t"), None)
    spec = ts.tile_spec()
    assert th.ship_crop_min_q == -64
    assert th.discard_min_q[spec.class_id("sea")] == 0
    assert th.discard_min_q[spec.class_id("cloud")] == 128


def test_a_registry_policy_with_another_crop_margin_is_refused(tmp_path):
    margin = load_policy().crop_margin_px + 2
    pol = _policy_file(tmp_path, crop_margin_px=margin)
    reg = write_registry(tmp_path, [{"name": "fold_t", "policy": pol.name}])

    with pytest.raises(ClassifierError, match=f"fold_t.*crop margin.*{margin} px"):
        thresholds(load_classifiers(reg).get("fold_t"), None)
