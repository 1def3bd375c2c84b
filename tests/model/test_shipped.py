"""The shipped model: budgets, the firmware contract, and the recorded evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from triage_models import paths
from triage_models.arch import ArchConfig
from triage_models.dataset import load_or_build
from triage_models.evaluate import policy_metrics
from triage_models.quantize import (
    ALLOWED_OPS,
    litert_predict,
    macs_per_tile,
    model_ops,
    tflm_arena_bytes,
    tflm_predict,
    validate_tflite,
)

from triage.contract.policy import load_policy, second_opinion, turned_outputs
from triage.contract.tile_spec import preprocess_tiles, tile_spec

MODEL_BUDGET_BYTES = 20 * 1024
ARENA_BUDGET_BYTES = 32 * 1024
SHIPPED = paths.shipped_dir()


@pytest.fixture(scope="module")
def tflite() -> bytes:
    path = SHIPPED / "classifier.tflite"
    if not path.exists():
        pytest.fail(f"{path} missing: the trained model is a shipped artifact")
    return path.read_bytes()


@pytest.fixture(scope="module")
def training() -> dict:
    return json.loads((SHIPPED / "training.json").read_text())


def test_model_within_budget(tflite):
    assert len(tflite) <= MODEL_BUDGET_BYTES


def test_tflm_arena_within_budget(tflite):
    assert tflm_arena_bytes(tflite) <= ARENA_BUDGET_BYTES


def test_contract_and_operators(tflite):
    validate_tflite(tflite)
    assert set(model_ops(tflite)) <= ALLOWED_OPS


def test_input_output_quantization_read_independently(tflite):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite)
    (inp,), (out,) = it.get_input_details(), it.get_output_details()
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    assert inp["quantization"][1] == -128 and abs(inp["quantization"][0] - 1 / 255) < 1e-9
    assert out["quantization"][1] == -128 and abs(out["quantization"][0] - 1 / 256) < 1e-9


def _expected_macs(arch: ArchConfig) -> int:
    # Hand count: 3x3 stem conv, then per block a 3x3 depthwise and a 1x1 conv, then the
    # centre head (a 3x3 depthwise without padding: side - 2 squared outputs), then the dense.
    spec = tile_spec()
    side = spec.thumb_px // arch.stem_stride
    ch = arch.stem_channels
    macs = side * side * ch * 9 * spec.n_bands
    for out_ch, stride in arch.blocks:
        side //= stride
        macs += side * side * ch * 9 + side * side * ch * out_ch
        ch = out_ch
    if arch.centre_head:
        macs += (side - 2) * (side - 2) * ch * 9
    return macs + ch * spec.n_classes


def test_macs_match_the_architecture(tflite, training):
    arch = ArchConfig.model_validate(training["config"]["arch"])
    assert macs_per_tile(tflite) == _expected_macs(arch) == training["macs_per_tile"]


def test_records_match_the_shipped_model(tflite, training):
    assert training["model_tflite_bytes"] == len(tflite)
    ev = SHIPPED / "evaluation.json"
    if not ev.exists():
        pytest.fail(f"{ev} missing: run `triage model evaluate --json --write`")
    result = json.loads(ev.read_text())
    assert result["model_tflite_bytes"] == len(tflite)
    policy = load_policy()
    assert not policy.provisional
    sp = result["shipped_policy"]
    assert policy.ship_crop_min_prob == sp["ship_crop_min_prob"]
    assert policy.discard_min_prob == sp["discard_min_prob"]
    assert policy.crop_margin_px == sp["crop_margin_px"]
    assert policy.second_opinion_min_prob == sp["second_opinion_min_prob"]


def test_tflm_matches_litert_on_random_inputs(tflite):
    rng = np.random.default_rng(20240605)
    s, c = tile_spec().thumb_px, tile_spec().n_bands
    q = rng.integers(-128, 128, (64, s, s, c), dtype=np.int8)
    assert np.array_equal(tflm_predict(tflite, q), litert_predict(tflite, q))


@pytest.mark.realdata
@pytest.mark.slow
def test_shipped_chain_on_a_real_port(tflite, data_dir):
    # Whole chain on one real port: integer preprocessing, TFLM inference, shipped policy.
    # The shipped model was trained on every port, so this is a sanity check of the chain
    # (the honest, leave-ports-out numbers are in evaluation.json).
    ds, _ = load_or_build(data_dir)
    f = ds.frame_index("casablanca")
    idx = np.flatnonzero(ds.tile_frame == f)
    x = preprocess_tiles(ds.tiles(idx))
    policy = load_policy()
    turned = turned_outputs(lambda v: tflm_predict(tflite, v), x)
    q = second_opinion(tflm_predict(tflite, x), turned, policy)
    m = policy_metrics(ds, idx, q, policy)
    assert m["ships"] == 15
    assert m["ship_recall"] >= 0.9
    assert m["discard_fraction"] > 0.1


def test_model_card_numbers_are_the_recorded_ones(training):
    from triage_models.card import render_results

    ev = json.loads((SHIPPED / "evaluation.json").read_text())
    card = (paths.models_dir() / "MODEL_CARD.md").read_text()
    assert render_results(ev, training) in card
    assert "Contains modified Copernicus Sentinel data 2022–2023" in card
