"""One seeded fault trial of each fault of the rotation (``tests/ground/fault_trials.py``):
the firmware's host build makes the products and answers the ground's requests, the link
spoils every pass, and at the end nothing the ground holds or exports differs from the
satellite's products, nothing was lost while its clean copy was on board, nothing raised.
``python -m tests.ground.fault_trials --trials 117`` runs the full set."""

from __future__ import annotations

import pytest

from .fault_trials import FAULTS, run_trial


@pytest.fixture(scope="module", autouse=True)
def _host_build(build_dir):
    if not (build_dir / "host" / "libtrifw.so").exists():
        pytest.fail("the host build is missing: `make firmware` must run before the tests")


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_trial_loses_and_corrupts_nothing(fault, tmp_path):
    res = run_trial(1000 + FAULTS.index(fault), fault, tmp_path)
    assert res["tracebacks"] == [], res["tracebacks"][0]
    assert res["corrupted"] == res["exported_corrupted"] == res["lost"] == [], res
    assert res["pending"] == [], f"{res['passes']} passes did not bring everything: {res}"
