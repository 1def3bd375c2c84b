"""Fixtures of the model uplink's tests: the host library, the models and packages they
uplink, test keys (generated here: never a real spacecraft's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.uplink.tiny_net import tiny_cell_tflite
from triage.contract import model_package as mp
from triage.engine import cellref, oracle, package, stream
from triage.onboard import _lib

KEY_ID = 7
CREATED_S = 1_000_000


@pytest.fixture(scope="session")
def lib(build_dir):
    path = build_dir / _lib.LIB_RELATIVE
    if not path.exists():
        pytest.fail(f"{path} not built: `make firmware` must run before the tests")
    return _lib.load(str(path))


@pytest.fixture(scope="session")
def cellref_tflite(build_dir: Path) -> bytes:
    """The representative cell network (TensorFlow builds it once; cached like the engine
    tests' copy)."""
    return cellref.cached_cellref_tflite(build_dir / "engine-tests" / "cache")


@pytest.fixture(scope="session")
def test_key() -> bytes:
    """A test key: seeded bytes, clearly not a spacecraft's."""
    return np.random.default_rng(4231).integers(0, 256, 32, dtype=np.uint8).tobytes()


@pytest.fixture(scope="session")
def other_key() -> bytes:
    return np.random.default_rng(4232).integers(0, 256, 32, dtype=np.uint8).tobytes()


@pytest.fixture(scope="session")
def models(cellref_tflite: bytes) -> dict[str, bytes]:
    """The .tflite of each model the tests package: the representative cell network (the
    factory default), and two tiny cell networks (uplinked)."""
    return {
        "cellref": cellref_tflite,
        "tiny1": tiny_cell_tflite(1),
        "tiny2": tiny_cell_tflite(2),
    }


@pytest.fixture(scope="session")
def packages(models: dict[str, bytes]) -> dict[str, mp.Package]:
    ids = {"cellref": 1, "tiny1": 2, "tiny2": 3}
    return {
        name: package.package_model(tfl, model_id=ids[name], created_s=CREATED_S)
        for name, tfl in models.items()
    }


def tflm_on(tflite: bytes, frame: np.ndarray) -> np.ndarray:
    """TFLM's output on a frame extended as the executor extends it."""
    c = stream.compile_stream(tflite)
    h, w = frame.shape[:2]
    hp, wp = c.extended(h, w)
    q = np.full((hp, wp, frame.shape[2]), c.in_zero_point, np.int8)
    q[:h, :w] = frame
    return oracle.tflm_frame(tflite, q)


@pytest.fixture(scope="session")
def probe_frame() -> np.ndarray:
    """A frame the tests run the active model on (not a multiple of the cell: the executor
    extends it)."""
    rng = np.random.default_rng(99)
    return rng.integers(-128, 128, (72, 88, 4)).astype(np.int8)


@pytest.fixture(scope="session")
def probe_outputs(models: dict[str, bytes], probe_frame: np.ndarray) -> dict[int, np.ndarray]:
    """TFLM's output on the probe frame, by model id."""
    ids = {"cellref": 1, "tiny1": 2, "tiny2": 3}
    return {ids[n]: tflm_on(t, probe_frame) for n, t in models.items()}
