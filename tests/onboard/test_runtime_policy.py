"""The instance's runtime decision thresholds (tri_onboard_set_policy) and its store fill,
with the test rule classifier: the grid against the Python rule + the same policy."""

from __future__ import annotations

import numpy as np
import pytest

from triage.contract.policy import Policy, load_policy
from triage.onboard import FrameMeta, Onboard, OnboardInputError

from .helpers import expected_grid, synthetic_frame

FRAME = dict(ships=[(20, 30), (70, 90)], land=(0, 100, 40, 160), cloud=(80, 0, 128, 60))


def _policy(**changes) -> Policy:
    return Policy.model_validate({**load_policy().model_dump(), **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {},  # the build's policy, set explicitly
        # the rule's ship output is 100 (p = 0.89): a 0.95 crop threshold crops nothing
        {"ship_crop_min_prob": 0.95},
        # sea and cloud (output 120, p = 0.97) never discarded, ships always cropped
        {"discard_min_prob": {"cloud": None, "sea": None}, "ship_crop_min_prob": 0.0},
    ],
)
def test_grid_follows_the_runtime_policy(lib, changes):
    frame = synthetic_frame(128, 160, seed=4, **FRAME)
    policy = _policy(**changes)
    ob = Onboard(2 << 20, classifier="rule")
    ob.set_policy(policy.discard_min_q(), policy.ship_crop_min_q, policy.cloud_call_min_q)
    rep = ob.process_frame(frame, FrameMeta.for_frame(frame, 1))
    cls, _, act = expected_grid(frame, 0, policy)
    if changes:  # the frame tells the policies apart
        assert not np.array_equal(act, expected_grid(frame, 0, load_policy())[2])
    assert np.array_equal(rep.classes, cls)
    assert np.array_equal(rep.actions, act)
    # None restores the build's policy
    ob.set_policy(None)
    rep2 = ob.process_frame(frame, FrameMeta.for_frame(frame, 2))
    assert np.array_equal(rep2.actions, expected_grid(frame, 0, load_policy())[2])


def test_out_of_range_thresholds_change_nothing(lib):
    frame = synthetic_frame(64, 64, seed=5, ships=[(20, 20)])
    ob = Onboard(1 << 20, classifier="rule")
    for bad in ([0, 0, 0, 129], [-129, 0, 0, 0]):
        with pytest.raises(OnboardInputError):
            ob.set_policy(bad, 0)
    with pytest.raises(OnboardInputError):
        ob.set_policy([0, 0, 0, 0], 200)
    with pytest.raises(OnboardInputError):
        ob.set_policy([0, 0, 0, 0], 0, -129)
    rep = ob.process_frame(frame, FrameMeta.for_frame(frame, 1))
    assert np.array_equal(rep.actions, expected_grid(frame, 0, load_policy())[2])


def test_store_use_is_the_reports_store_words(lib):
    ob = Onboard(2 << 20, classifier="rule")
    assert ob.store_use()["products"] == 0 and ob.store_use()["bytes_used"] == 0
    frame = synthetic_frame(96, 96, seed=6, ships=[(40, 40)])
    rep = ob.process_frame(frame, FrameMeta.for_frame(frame, 1))
    use = ob.store_use()
    assert use["products"] == rep["store_products"]
    assert use["bytes_used"] == rep["store_bytes_used"]
    assert use["bytes_total"] == rep["store_bytes_used"] + rep["store_bytes_free"]
