"""Fixtures of the engine's tests: the kernel plan's models compiled into one
host library, the representative CNN (and the shipped classifier when it
exists) exported and built, the TFLM references.

Every build exists once per kernel set (``kernel_set``: the reference
kernels, and the Cortex-M4 DSP kernels with their portable emulation of the
intrinsics on the host), so each test that runs the engine runs against
both; the exported models are shared (one model file serves both sets).

Builds go to ``<build_dir>/engine-tests`` and are shared by the pytest-xdist
workers under a file lock; make and the exporter only redo what changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from triage import paths
from triage.engine import build, cellref, export, oracle, refmodel, runtime, stream
from triage.engine.errors import ModelError

from . import kernel_plan

SHIPPED_TFLITE = paths.repo_root() / "models" / "shipped" / "classifier.tflite"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def engine_root(build_dir: Path) -> Path:
    root = build_dir / "engine-tests"
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="session")
def kernel_cases() -> list[kernel_plan.Case]:
    return kernel_plan.build_plan()


@pytest.fixture(scope="session")
def kernel_models_dir(engine_root: Path, kernel_cases) -> Path:
    """Every plan case exported (as ``<case name>_model.c``) into one folder."""
    d = engine_root / f"kernels-{kernel_plan.plan_digest(kernel_cases)[:12]}"
    with locked(engine_root / "kernels.lock"):
        models = d / "models"
        for c in kernel_cases:
            export.export_model(c.tflite, models, name=c.name, alias_reshape=c.alias_reshape)
    return d


@pytest.fixture(scope="session", params=sorted(build.KERNEL_SETS))
def kernel_set(request) -> str:
    """The engine's kernel set a test runs with ("dsp", "ref")."""
    return request.param


@pytest.fixture(scope="session")
def kernel_lib(engine_root: Path, kernel_models_dir: Path, kernel_set: str) -> runtime.EngineLib:
    with locked(engine_root / "kernels.lock"):
        so = build.engine_lib(
            kernel_models_dir / "models", kernel_models_dir / f"build-{kernel_set}",
            kernel_set=kernel_set,
        )  # fmt: skip
    return runtime.EngineLib(so)


@pytest.fixture(scope="session")
def repcnn_tflite(engine_root: Path) -> bytes:
    return refmodel.cached_representative_tflite(engine_root / "cache")


@pytest.fixture(scope="session")
def shipped_tflite() -> bytes:
    if not SHIPPED_TFLITE.exists():
        pytest.skip(f"no shipped classifier yet ({SHIPPED_TFLITE} absent)")
    return SHIPPED_TFLITE.read_bytes()


class BuiltModel:
    """An exported model in its own folder, with its host library for one kernel set."""

    def __init__(self, name: str, tflite: bytes, root: Path, kernel_set: str) -> None:
        self.name = name
        self.tflite = tflite
        self.root = root
        self.kernel_set = kernel_set
        self.models = root / "models"
        self.build = root / f"build-{kernel_set}"
        with locked(root / "build.lock"):
            self.report = export.export_model(tflite, self.models, name=name)
            so = build.engine_lib(self.models, self.build, kernel_set=kernel_set)
        self.lib = runtime.EngineLib(so)
        self.host = self.lib.model(name)
        self.input_shape = self.report.input_shape

    def tflm(self, x: np.ndarray) -> np.ndarray:
        return oracle.tflm_run(self.tflite, x, self.input_shape)


def _built(engine_root: Path, name: str, tflite: bytes, kernel_set: str) -> BuiltModel:
    sha = export.compile_model(tflite).sha256[:12]
    return BuiltModel(name, tflite, engine_root / f"{name}-{sha}", kernel_set)


@pytest.fixture(scope="session")
def repcnn(engine_root: Path, repcnn_tflite: bytes, kernel_set: str) -> BuiltModel:
    return _built(engine_root, "repcnn", repcnn_tflite, kernel_set)


@pytest.fixture(scope="session")
def shipped(engine_root: Path, shipped_tflite: bytes, kernel_set: str) -> BuiltModel:
    return _built(engine_root, "classifier", shipped_tflite, kernel_set)


@pytest.fixture(params=["repcnn", "classifier"])
def whole_model(request, kernel_set: str) -> BuiltModel:
    """The representative CNN, and the shipped classifier once it exists (built
    with the test's kernel set, requested here so that tests are parametrised
    over it)."""
    assert kernel_set in build.KERNEL_SETS
    return request.getfixturevalue("repcnn" if request.param == "repcnn" else "shipped")


def assert_same_int8(ours: np.ndarray, ref: np.ndarray, what: str) -> None:
    """Exact equality, with the first mismatches in the message."""
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    bad = np.argwhere(ours != ref)
    if len(bad):
        rows = sorted({int(r) for r in bad[:, 0]})
        first = ", ".join(
            f"input {r} index {c}: ours {int(ours[r, c])} TFLM {int(ref[r, c])}" for r, c in bad[:8]
        )
        raise AssertionError(
            f"{what}: {len(bad)} mismatching values in {len(rows)} of {len(ref)} inputs; {first}"
        )


# ---- streaming models (tnn_stream.h) -------------------------------------------------


@pytest.fixture(scope="session")
def cellref_tflite(engine_root: Path) -> bytes:
    return cellref.cached_cellref_tflite(engine_root / "cache")


def stream_plan_cases(cases: list[kernel_plan.Case]) -> list[kernel_plan.Case]:
    """The kernel plan's cases the streaming exporter takes (single CONV_2D,
    DEPTHWISE_CONV_2D, MAX_POOL_2D and SOFTMAX layers of [1, H, W, C] models, dilation 1,
    depth multiplier 1) whose frame is at least one cell."""
    out = []
    for c in cases:
        try:
            sc = stream.compile_stream(c.tflite)
        except ModelError:
            continue
        if c.input_shape[1] >= sc.min_size[0] and c.input_shape[2] >= sc.min_size[1]:
            out.append(c)
    return out


class StreamBuilt:
    """The representative cell network and the plan's streamable cases exported as
    streaming models into one folder, with its host library for one kernel set."""

    def __init__(self, root: Path, models: dict[str, bytes], kernel_set: str) -> None:
        self.root = root
        self.kernel_set = kernel_set
        self.models = root / "models"
        self.build = root / f"build-{kernel_set}"
        self.compiled: dict[str, stream.StreamCompiled] = {}
        with locked(root / "build.lock"):
            for name, tfl_bytes in models.items():
                self.compiled[name] = stream.export_stream(tfl_bytes, self.models, name).compiled
            so = build.engine_lib(self.models, self.build, kernel_set=kernel_set)
        self.lib = runtime.EngineLib(so)
        self.tflite = models

    def model(self, name: str) -> runtime.StreamModel:
        return runtime.StreamModel(self.lib, name)

    def san_lib(self) -> Path:
        with locked(self.root / "build.lock"):
            return build.engine_lib(self.models, self.build, sanitized=True,
                                    kernel_set=self.kernel_set)  # fmt: skip

    def m4_image(self, name: str) -> Path:
        with locked(self.root / "build.lock"):
            return build.engine_stream_m4(self.models, self.build, name,
                                          kernel_set=self.kernel_set)  # fmt: skip

    def tflm(self, name: str, frame: np.ndarray) -> np.ndarray:
        """TFLM on the frame extended as the executor extends it (the input zero point)."""
        c = self.compiled[name]
        h, w = frame.shape[:2]
        hp, wp = c.extended(h, w)
        q = np.full((hp, wp, frame.shape[2]), c.in_zero_point, np.int8)
        q[:h, :w] = frame
        return oracle.tflm_frame(self.tflite[name], q)


@pytest.fixture(scope="session")
def stream_models(cellref_tflite: bytes, kernel_cases) -> dict[str, bytes]:
    models = {"cellref": cellref_tflite}
    for c in stream_plan_cases(kernel_cases):
        models[f"s_{c.name}"] = c.tflite
    return models


@pytest.fixture(scope="session")
def streamed(engine_root: Path, stream_models: dict[str, bytes], kernel_set: str) -> StreamBuilt:
    h = hashlib.sha256()
    for name, b in sorted(stream_models.items()):
        h.update(name.encode())
        h.update(b)
    return StreamBuilt(engine_root / f"stream-{h.hexdigest()[:12]}", stream_models, kernel_set)
