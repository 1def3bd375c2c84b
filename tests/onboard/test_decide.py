"""The firmware's decision policy (``tri_decide``, mcu_firmware/app/src/tri_decide.c, through
the host library) against the Python policy on every output vector of a declared set.

All 2^32 vectors of four int8 outputs are too many for the suite. The set, for each policy
of :func:`policies` (the shipped one, with the other land policy and with a crop margin of 4,
one where every class has a discard threshold, one where nothing is ever discarded nor
cropped, one where everything is, one that calls cloud from a quarter and discards it from
there):

* **threshold grid**: every vector whose components each take a value of
  ``V = {-128, 127} | {t - 1, t, t + 1 for every threshold t of the policy}`` (int8 values
  only), so every comparison is tried just below, at and just above its threshold, with the
  extremes and every tie between those values (|V|^4 vectors: 16 to 28,561 per policy;
  ``GRID_VECTORS`` over the seven);
* **softmax-reachable**: every vector an int8 softmax over four classes can produce, with
  margin: the outputs are ``q = round(256 p) - 128`` (TFLM's fixed point, within a unit,
  clamped to 127), so ``sum(q + 128)`` lies within 4 of 256; all 25,767,341 vectors with
  that sum in [252, 260] (``SOFTMAX_VECTORS``), under every policy.

That is 25,767,341 x 7 + ``GRID_VECTORS`` vectors, each decided by both sides and
compared (action and the cell's class) with the policy passed as thresholds; the shipped policy's
vectors are also decided by the policy compiled into the library (``triage_config.h``), so
the generated header is checked against ``policy.json`` too.
"""

from __future__ import annotations

import numpy as np
import pytest

from triage.contract import tile_spec as ts
from triage.contract.enums import Action
from triage.contract.policy import Policy, called_class, load_policy
from triage.contract.policy import decide as py_decide
from triage.onboard.host import decide

SOFTMAX_SUM_RANGE = (252, 260)
SOFTMAX_VECTORS = 25_767_341
GRID_VECTORS = 87_222


def python_decide(q: np.ndarray, policy) -> np.ndarray:
    """The contract's Python policy's actions (:class:`Action` codes, the firmware's too) for
    int8 outputs ``[N, classes]``."""
    return py_decide(q, policy).astype(np.uint8)


def policies() -> dict:
    """Name -> (policy, compare with the policy compiled into the library too)."""
    classes = ts.tile_spec().classes
    shipped = load_policy()
    ladder = [round(0.5 + 0.49 * k / max(1, len(classes) - 1), 4) for k in range(len(classes))]
    return {
        "shipped": (shipped, True),
        "shipped, land lowres": (shipped.model_copy(update={"land_policy": "lowres"}), False),
        "shipped, crop margin 4": (shipped.model_copy(update={"crop_margin_px": 4}), False),
        "every class discards": (
            Policy(
                discard_min_prob=dict(zip(classes, ladder, strict=True)),
                ship_crop_min_prob=0.5,
                land_policy="lowres",
            ),
            False,
        ),
        "never discard nor crop": (
            Policy(
                discard_min_prob=dict.fromkeys(classes),
                ship_crop_min_prob=1.0,
                land_policy="drop",
            ),
            False,
        ),
        "always discard and crop": (
            Policy(
                discard_min_prob=dict.fromkeys(classes, 0.0),
                ship_crop_min_prob=0.0,
                land_policy="lowres",
            ),
            False,
        ),
        "cloud called and discarded from a quarter": (
            Policy(
                discard_min_prob=dict.fromkeys(classes) | {"cloud": 0.25, "sea": 0.9},
                ship_crop_min_prob=0.2,
                land_policy="drop",
                cloud_call_min_prob=0.25,
            ),
            False,
        ),
    }


def thresholds(policy) -> tuple[list[int], int, int]:
    return policy.discard_min_q(ts.tile_spec()), policy.ship_crop_min_q, policy.cloud_call_min_q


def grid_vectors(policy) -> np.ndarray:
    """The threshold grid of the policy: ``V^classes``."""
    dmin, crop, call = thresholds(policy)
    values = {-128, 127}
    for t in [*dmin, crop, call]:
        values |= {v for v in (t - 1, t, t + 1) if -128 <= v <= 127}
    v = np.array(sorted(values), np.int8)
    n = ts.tile_spec().n_classes
    return np.stack(np.meshgrid(*[v] * n, indexing="ij"), axis=-1).reshape(-1, n)


def softmax_chunks():
    """Every four-class int8 vector with ``sum(q + 128)`` in SOFTMAX_SUM_RANGE, one chunk
    per sum."""
    a = np.arange(256, dtype=np.int16)
    first3 = a[:, None, None] + a[None, :, None] + a[None, None, :]
    for s in range(SOFTMAX_SUM_RANGE[0], SOFTMAX_SUM_RANGE[1] + 1):
        i, j, k = np.nonzero((first3 >= s - 255) & (first3 <= s))
        last = s - first3[i, j, k]
        yield (np.stack([i, j, k, last], axis=1) - 128).astype(np.int8)


def check_same(q: np.ndarray, policy, name: str, compiled: bool) -> None:
    dmin, crop, call = thresholds(policy)
    expect = python_decide(q, policy)
    runs = [decide(q, policy.land_policy, dmin, crop, call)]
    if compiled:
        runs.append(decide(q, policy.land_policy))
    for actions, tops in runs:
        bad = np.nonzero(actions != expect)[0]
        assert len(bad) == 0, (
            f"{name}: {len(bad)} of {len(q)} decisions differ, first {q[bad[0]].tolist()}: "
            f"firmware {Action(actions[bad[0]]).label}, Python {Action(expect[bad[0]]).label}"
        )
        assert np.array_equal(tops, called_class(q, policy)), f"{name}: the cells' classes differ"


def test_the_declared_counts_hold():
    assert ts.tile_spec().n_classes == 4, "the softmax set below enumerates four classes"
    assert sum(len(grid_vectors(p)) for p, _ in policies().values()) == GRID_VECTORS
    assert sum(len(c) for c in softmax_chunks()) == SOFTMAX_VECTORS


@pytest.mark.parametrize("name", list(policies()))
def test_decide_matches_python_on_the_threshold_grid(lib, name):
    policy, compiled = policies()[name]
    check_same(grid_vectors(policy), policy, name, compiled)


def test_decide_matches_python_on_every_softmax_vector(lib):
    cases = policies()
    for q in softmax_chunks():
        for name, (policy, compiled) in cases.items():
            check_same(q, policy, name, compiled)


def test_a_cloud_call_below_one_half_decides_by_hand(lib):
    """Hand-derived: cloud p = (q + 128) / 256, called from p 0.25 (q -64), discarded from
    there; land drops; ship crops from p 0.2 (q -76), before any class."""
    pol = policies()["cloud called and discarded from a quarter"][0]
    dmin, crop, call = thresholds(pol)
    assert (call, crop, dmin[ts.tile_spec().class_id("cloud")]) == (-64, -76, -64)
    q = np.array(
        [
            [-64, -128, -128, 60],  # cloud 0.25 under land 0.73: called cloud, discarded
            [-65, -128, -128, 61],  # cloud just under the call: land, dropped
            [-64, -128, -76, 40],  # called cloud, but the ship output crops first
            [-64, 60, -128, -128],  # cloud 0.25 under sea: called cloud, discarded
        ],
        np.int8,
    )
    actions, tops = decide(q, pol.land_policy, dmin, crop, call)
    assert [Action(a) for a in actions] == [
        Action.DISCARD,
        Action.LAND_DROP,
        Action.CROP,
        Action.DISCARD,
    ]
    assert tops.tolist() == [0, 3, 0, 0]


def test_decide_refuses_bad_policies(lib):
    from triage.onboard.errors import OnboardInputError

    q = np.zeros((1, 4), np.int8)
    with pytest.raises(OnboardInputError):
        decide(q, "keep")
    with pytest.raises(OnboardInputError):
        decide(q, "drop", [0, 0, 0, 129], 0)
    with pytest.raises(OnboardInputError):
        decide(q, "drop", [0, 0, 0, 0], -129)
    with pytest.raises(OnboardInputError):
        decide(q, "drop", [0, 0, 0, 0], 0, 129)
    with pytest.raises(OnboardInputError):
        decide(np.zeros((1, 3), np.int8), "drop")
