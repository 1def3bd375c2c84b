"""Bad input: the exporter stops with a message naming the operator or
tensor; tnn_bind answers a null, misaligned or too-small arena with a status
code and the sizes asked, available and missing. Nothing crashes."""

from __future__ import annotations

import ctypes
import subprocess

import numpy as np
import pytest

from triage.engine import export
from triage.engine import tflite as tfl
from triage.engine.errors import (
    ArenaBudgetError,
    ModelError,
    ModelFormatError,
    UnsupportedModelError,
)
from triage.engine.tflite_write import ModelBuilder
from triage.errors import TriageError

TRI_OK, TRI_ERR_ARG, TRI_ERR_ALIGN, TRI_ERR_SIZE, TRI_ERR_FORMAT = 0, -1, -3, -4, -6


def _conv_model(
    *,
    dtype: str = "int8",
    per_channel: bool = True,
    cout: int = 4,
    size: int = 8,
    op: int = tfl.CONV_2D,
) -> bytes:
    rng = np.random.default_rng(0)
    mb = ModelBuilder()
    q = {} if dtype == "float32" else {"scale": 0.05, "zero_point": 3}
    x = mb.tensor((1, size, size, 2), dtype, name="image", **q)
    w = rng.integers(-127, 128, (cout, 3, 3, 2), dtype=np.int8)
    scales = [0.01 * (k + 1) for k in range(cout)] if per_channel else [0.01]
    wt = mb.tensor((cout, 3, 3, 2), data=w, scale=scales, name="weights")
    y = mb.tensor((1, size, size, cout), dtype, name="features", **q)
    if op == tfl.CONV_2D:
        mb.op(tfl.CONV_2D, [x, wt], [y], padding=0, stride_w=1, stride_h=1)
    else:
        mb.op(op, [x, wt], [y])
    return mb.build([x], [y])


def test_exporter_errors_derive_from_the_package_root() -> None:
    assert issubclass(UnsupportedModelError, ModelError)
    assert issubclass(ModelError, TriageError)
    assert issubclass(ModelError, ValueError)


def test_unsupported_operator_is_named(tmp_path) -> None:
    with pytest.raises(UnsupportedModelError, match=r"operator 0 \(MUL\) is not supported"):
        export.export_model(_conv_model(op=18), tmp_path)
    assert not list(tmp_path.iterdir())  # nothing written


def test_unsupported_type_names_the_tensor(tmp_path) -> None:
    with pytest.raises(UnsupportedModelError, match=r"tensor 0 'image' \(int16"):
        export.export_model(_conv_model(dtype="int16"), tmp_path)


def test_float_tensors_are_refused_by_name(tmp_path) -> None:
    with pytest.raises(UnsupportedModelError, match=r"'image' \(float32.*int8"):
        export.export_model(_conv_model(dtype="float32"), tmp_path)


def test_per_tensor_conv_weights_are_refused(tmp_path) -> None:
    with pytest.raises(
        UnsupportedModelError,
        match=r"operator 0 \(CONV_2D\): filter tensor 1 'weights'.*per-tensor quantisation",
    ):
        export.export_model(_conv_model(per_channel=False), tmp_path)


def test_arena_over_budget_is_refused_with_the_sizes(tmp_path) -> None:
    c = export.compile_model(_conv_model(size=16))
    need = c.plan.arena_bytes
    with pytest.raises(
        ArenaBudgetError, match=rf"needs {need} bytes.*budget of {need - 1}.*1 missing"
    ):
        export.export_model(_conv_model(size=16), tmp_path, arena_budget_bytes=need - 1)
    rep = export.export_model(_conv_model(size=16), tmp_path, arena_budget_bytes=need)
    assert rep.arena_bytes == need


def test_default_budget_refuses_an_arena_the_board_cannot_hold(tmp_path) -> None:
    with pytest.raises(ArenaBudgetError, match=r"budget of 49152 bytes.*tensor \d+ '\w+'"):
        export.export_model(_conv_model(size=128), tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short"),
        (b"\x00" * 64, "not a TensorFlow Lite model"),
        (b"\x10\x00\x00\x00TFL3" + b"\xff" * 8, "outside"),
    ],
)
def test_malformed_files_give_a_format_error(data: bytes, message: str, tmp_path) -> None:
    with pytest.raises(ModelFormatError, match=message):
        export.export_model(data, tmp_path)


def test_truncated_and_corrupted_models_never_crash_the_exporter(tmp_path) -> None:
    good = _conv_model()
    rng = np.random.default_rng(7)
    outcomes = {"ok": 0, "error": 0}
    for cut in range(0, len(good), 37):
        with pytest.raises(ModelError):
            export.compile_model(good[:cut])
    for _ in range(300):
        b = bytearray(good)
        for pos in rng.integers(0, len(b), size=int(rng.integers(1, 6))):
            b[pos] = int(rng.integers(0, 256))
        try:
            export.compile_model(bytes(b))
            outcomes["ok"] += 1
        except ModelError:
            outcomes["error"] += 1
    assert outcomes["error"] > 0


def test_hostile_tensor_names_cannot_escape_the_generated_comments(tmp_path) -> None:
    from triage import paths

    rng = np.random.default_rng(1)
    mb = ModelBuilder()
    x = mb.tensor((1, 4, 4, 2), scale=0.05, zero_point=0, name="in */ int oops; /*")
    wt = mb.tensor((2, 1, 1, 2), data=rng.integers(-9, 9, (2, 1, 1, 2), dtype=np.int8),
                   scale=[0.01, 0.02])  # fmt: skip
    y = mb.tensor((1, 4, 4, 2), scale=0.05, zero_point=0, name="out\n#error x */")
    mb.op(tfl.CONV_2D, [x, wt], [y], padding=1, stride_w=1, stride_h=1)
    rep = export.export_model(mb.build([x], [y]), tmp_path, name="hostile")
    src = rep.files[0].read_text()
    assert "#error x */" not in src
    fw = paths.repo_root() / "mcu_firmware"
    proc = subprocess.run(
        ["gcc", "-std=c99", "-Wall", "-Werror", "-fsyntax-only", f"-I{fw}/common/include",
         f"-I{fw}/engine/include", f"-I{tmp_path}", str(rep.files[0])],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_bad_model_names_are_refused(tmp_path) -> None:
    with pytest.raises(ModelError, match="C identifier"):
        export.export_model(_conv_model(), tmp_path, name="Bad-Name")


# ---- tnn_bind through the host library ---------------------------------------


@pytest.fixture(scope="module")
def model(repcnn):
    return repcnn.host


def _fresh_ctx():
    from triage.engine.runtime import Ctx

    return Ctx()


def test_bind_null_arena(model) -> None:
    res = model.bind(None, 100000, _fresh_ctx())
    assert res.status == TRI_ERR_ARG
    assert (res.asked, res.available, res.missing) == (model.arena_bytes, 0, model.arena_bytes)


def test_bind_misaligned_arena(model) -> None:
    buf = np.zeros(model.arena_bytes + 8, dtype=np.uint8)
    res = model.bind(buf.ctypes.data + 1, model.arena_bytes, _fresh_ctx())
    assert res.status == TRI_ERR_ALIGN
    assert res.asked == model.arena_bytes and res.missing == 0


def test_bind_too_small_arena_reports_the_sizes(model) -> None:
    buf = np.zeros(model.arena_bytes, dtype=np.uint8)
    ctx = _fresh_ctx()
    res = model.bind(buf.ctypes.data, model.arena_bytes - 1, ctx)
    assert res.status == TRI_ERR_SIZE
    assert (res.asked, res.available, res.missing) == (
        model.arena_bytes,
        model.arena_bytes - 1,
        1,
    )
    # the context stays unbound: invoke and the tensors refuse it
    lib = model.lib.lib
    assert lib.tnn_invoke(ctypes.byref(ctx)) == TRI_ERR_ARG
    n = ctypes.c_size_t(99)
    assert lib.tnn_input(ctypes.byref(ctx), ctypes.byref(n)) is None and n.value == 0
    assert lib.tnn_output(ctypes.byref(ctx), None) is None
    ok = model.bind(buf.ctypes.data, model.arena_bytes, ctx)
    assert ok.status == TRI_OK and ok.missing == 0


def test_bind_null_model_and_context(model) -> None:
    buf = np.zeros(model.arena_bytes, dtype=np.uint8)
    lib = model.lib.lib
    ctx = _fresh_ctx()
    assert lib.tnn_bind(ctypes.byref(ctx), None, buf.ctypes.data, buf.nbytes) == TRI_ERR_ARG
    assert lib.tnn_bind(None, model.address, buf.ctypes.data, buf.nbytes) == TRI_ERR_ARG
    assert lib.tnn_invoke(None) == TRI_ERR_ARG
    assert lib.tnn_arena_size(None) == 0


def test_bind_refuses_a_model_of_another_version(model) -> None:
    """A stale export (other TNN_MODEL_VERSION) is refused, not run."""
    raw = (ctypes.c_uint8 * 64).from_address(model.address)
    copy = (ctypes.c_uint8 * 64)()
    ctypes.memmove(copy, raw, 64)
    copy[4] ^= 0xFF  # version field follows the magic
    buf = np.zeros(model.arena_bytes, dtype=np.uint8)
    ctx = _fresh_ctx()
    st = model.lib.lib.tnn_bind(
        ctypes.byref(ctx), ctypes.addressof(copy), buf.ctypes.data, buf.nbytes
    )
    assert st == TRI_ERR_FORMAT
