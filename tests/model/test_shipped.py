"""The shipped cell classifier: the firmware's contract (a streaming chain the exporter
accepts, int8 in and out with the tile spec's quantisation, one output per cell), its budget,
and the records that say what it is."""

from __future__ import annotations

import json

import numpy as np
import pytest
from triage_models import paths

from triage.contract.policy import load_policy
from triage.contract.tile_spec import tile_spec
from triage.engine.stream import compile_stream

SHIPPED = paths.shipped_dir()
# The streaming plan's constants (weights, biases, requantisation records) live in flash
# beside the firmware; the linker script enforces the whole image's 128 KB, this keeps the
# model's share bounded so the application keeps room.
MODEL_CONST_BUDGET_BYTES = 48 * 1024


@pytest.fixture(scope="module")
def tflite() -> bytes:
    path = SHIPPED / "classifier.tflite"
    if not path.exists():
        pytest.fail(f"{path} missing: the classifier is a shipped artifact")
    return path.read_bytes()


def test_streaming_chain_with_one_output_per_cell(tflite):
    spec = tile_spec()
    c = compile_stream(tflite)
    assert c.in_c == spec.n_bands and c.out_c == spec.n_classes
    assert c.multiple == (spec.cell_px, spec.cell_px)
    assert c.output_shape(1024, 1000) == (64, 63, spec.n_classes)  # ceil(1000 / 16) = 63


def test_quantisation_read_independently(tflite):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite)
    (inp,), (out,) = it.get_input_details(), it.get_output_details()
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    spec = tile_spec()
    iq, oq = spec.input_quantization, spec.output_quantization
    assert inp["quantization"][1] == iq.zero_point
    assert abs(inp["quantization"][0] - iq.scale_num / iq.scale_den) < 1e-9
    assert out["quantization"][1] == oq.zero_point
    assert abs(out["quantization"][0] - oq.scale_num / oq.scale_den) < 1e-9


def test_model_constants_within_budget(tflite):
    # Hand count: an int8 weight per multiply of a conv or depthwise output pixel, plus an
    # int32 bias and two int32 requantisation words per output channel.
    c = compile_stream(tflite)
    weights = sum(lay.macs_per_output() + 12 * lay.out_c for lay in c.layers)
    assert weights <= MODEL_CONST_BUDGET_BYTES


def test_records_say_what_the_model_is(tflite):
    policy = load_policy()
    training = SHIPPED / "training.json"
    if policy.provisional:
        # A stand-in: no training record may describe it, and the policy says so.
        assert not training.exists()
        assert "PROVISIONAL" in json.loads((SHIPPED / "policy.json").read_text())["about"]
        return
    info = json.loads(training.read_text())
    assert info["model_tflite_bytes"] == len(tflite)
    ev = json.loads((SHIPPED / "evaluation.json").read_text())
    assert ev["model_tflite_bytes"] == len(tflite)
    assert ev["shipped_policy"]["ship_crop_min_prob"] == policy.ship_crop_min_prob


def test_the_recipe_is_the_one_the_shipped_model_was_trained_with():
    # `triage model train` trains cellship.RECIPE: it must be what the shipped model's record
    # says it was trained with, or the repository could not reproduce its own classifier.
    from triage_models.cellship import RECIPE

    training = SHIPPED / "training.json"
    if not training.exists():
        pytest.skip("no trained model shipped")
    recorded = json.loads(training.read_text())["config"]
    # every recorded setting is the recipe's; options added to the trainer since the record
    # was written are absent from it and must be at their defaults (which train as before)
    now = json.loads(RECIPE.model_dump_json())
    assert {k: now[k] for k in recorded} == recorded
    assert type(RECIPE).model_validate(recorded) == RECIPE


def test_model_card_numbers_are_the_recorded_ones():
    from triage_models.card import render_cell_results

    if not (SHIPPED / "evaluation.json").exists():
        pytest.skip("no evaluation recorded")
    ev = json.loads((SHIPPED / "evaluation.json").read_text())
    training = json.loads((SHIPPED / "training.json").read_text())
    card = (paths.models_dir() / "MODEL_CARD.md").read_text()
    assert render_cell_results(ev, training) in card
    assert "Contains modified Copernicus Sentinel data" in card and "CC-BY-4.0" in card


def test_the_recall_trade_starts_at_the_policys_own_target():
    """The trade's first row is the policy's own target: its figures are the report's."""
    from triage_models.harness import CROP_TARGET_RECALL

    if not (SHIPPED / "evaluation.json").exists():
        pytest.skip("no evaluation recorded")
    ev = json.loads((SHIPPED / "evaluation.json").read_text())
    first = ev["recall_target_trade"][0]
    assert first["target"] == CROP_TARGET_RECALL
    assert (first["ships"], first["missed_ships"]) == (ev["ships"], ev["missed_ships"])
    assert first["crop_area_fraction"] == ev["crop_area_fraction"]
    assert first["haze_ship_recall"] == ev["haze"]["ship_recall"]
    assert first["per_fold_ship_crop_min_prob"] == [
        p["ship_crop_min_prob"] for p in ev["per_fold_policy"]
    ]


def test_fold_models_carry_the_policy_the_evaluation_chose_without_their_ports():
    # A fold model in the simulator decides with the thresholds the evaluation scored it
    # with (chosen on the other four folds), so that a port frame is decided out of sample
    # too: the registry names each fold's policy file, the file holds evaluation.json's
    # per_fold_policy, and none of the ports it was chosen on is the fold's own.
    from triage_models.cellship import CELL_POLICY_KEYS
    from triage_models.folds import FOLDS

    ev = json.loads((SHIPPED / "evaluation.json").read_text())
    reg = json.loads((paths.models_dir() / "classifiers.json").read_text())
    entries = {c["name"]: c for c in reg["classifiers"]}
    assert len(ev["per_fold_policy"]) == len(FOLDS)
    for k, (chosen, fold) in enumerate(zip(ev["per_fold_policy"], FOLDS, strict=True)):
        entry = entries[f"fold{k + 1}"]
        assert entry["policy"] == f"folds/policy_{k + 1}.json"
        path = paths.models_dir() / entry["policy"]
        pol = load_policy(path)
        got = json.loads(path.read_text())
        assert {key: got[key] for key in CELL_POLICY_KEYS} == {
            key: chosen[key] for key in CELL_POLICY_KEYS
        }
        assert pol.ship_crop_min_prob == chosen["ship_crop_min_prob"]
        assert not set(got["chosen_on_ports"]) & set(fold.ports)
        assert sorted(got["chosen_on_ports"]) == sorted(
            p for j, f in enumerate(FOLDS) if j != k for p in f.ports
        )


def test_the_fold_models_are_the_ones_the_evaluation_scored():
    # The simulator puts models/folds/cellfold_<k>.tflite on board as the model that never
    # saw fold k's ports; the evaluation records the SHA-256 of each model it scored.
    import hashlib

    ev = json.loads((SHIPPED / "evaluation.json").read_text())
    on_disk = [
        hashlib.sha256(
            (paths.models_dir() / "folds" / f"cellfold_{k}.tflite").read_bytes()
        ).hexdigest()
        for k in range(1, len(ev["fold_model_sha256"]) + 1)
    ]
    assert len(on_disk) == 5
    assert on_disk == ev["fold_model_sha256"]
