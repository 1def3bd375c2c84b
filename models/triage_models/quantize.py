"""Full-integer int8 conversion, its validation against the firmware contract, and measurements.

The converter gets a representative dataset that starts with an all-0 and an
all-1 input, so the input range is exactly 0..1 and the input quantization
exactly scale 1/255, zero point -128 (what the integer preprocessing yields);
:func:`validate_tflite` fails loudly when anything differs.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import warnings
from collections.abc import Iterable

import numpy as np

from triage_models.errors import QuantizationError
from triage_models.tiles import tile_spec

ALLOWED_OPS = frozenset(
    {
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "FULLY_CONNECTED",
        "AVERAGE_POOL_2D",
        "MAX_POOL_2D",
        "MEAN",
        "ADD",
        "RESHAPE",
        "SOFTMAX",
        "QUANTIZE",
        "REDUCE_MAX",
    }
)
ARENA_PROBE_BYTES = 256 * 1024


def convert_int8(model, representative: np.ndarray) -> bytes:
    """Convert a float Keras model to a full-integer int8 flatbuffer."""
    spec = tile_spec()
    return int8_flatbuffer(
        model,
        (spec.thumb_px, spec.n_bands),
        (x[None].astype(np.float32) for x in representative),
    )


def int8_flatbuffer(model, window: tuple[int, int], samples: Iterable[np.ndarray]) -> bytes:
    """Full-integer int8 flatbuffer of ``model`` (int8 input and output): the float
    representative ``samples`` (``[1, S, S, C]`` each) are preceded by an all-0 and an all-1
    window of ``window = (S, C)``, so the input quantization is exactly scale 1/255, zero
    point -128."""
    import tensorflow as tf

    s, c = window

    def rep() -> Iterable[list[np.ndarray]]:
        yield [np.zeros((1, s, s, c), np.float32)]
        yield [np.ones((1, s, s, c), np.float32)]
        for x in samples:
            yield [x]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bytes(conv.convert())


def _interpreter(tflite: bytes):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(
        model_content=tflite,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    it.allocate_tensors()
    return it


def model_ops(tflite: bytes) -> list[str]:
    return [op["op_name"] for op in _interpreter(tflite)._get_ops_details()]


def validate_tflite(tflite: bytes) -> None:
    """Raise :class:`QuantizationError` unless the model meets the firmware contract."""
    spec = tile_spec()
    it = _interpreter(tflite)
    ops = {op["op_name"] for op in it._get_ops_details()}
    bad = ops - ALLOWED_OPS
    if bad:
        raise QuantizationError(f"operators the engine lacks: {sorted(bad)}")
    (inp,) = it.get_input_details()
    (out,) = it.get_output_details()
    s, c = spec.thumb_px, spec.n_bands
    if inp["dtype"] != np.int8 or tuple(inp["shape"]) != (1, s, s, c):
        raise QuantizationError(
            f"input must be int8 [1,{s},{s},{c}], got {inp['dtype']} {inp['shape']}"
        )
    scale, zp = inp["quantization"]
    iq = spec.input_quantization
    if zp != iq.zero_point or not np.isclose(scale, iq.scale, rtol=1e-6, atol=0):
        raise QuantizationError(
            f"input quantization is scale {scale}, zero point {zp}; the preprocessing needs "
            f"scale 1/{iq.scale_den}, zero point {iq.zero_point}"
        )
    oq = spec.output_quantization
    oscale, ozp = out["quantization"]
    if out["dtype"] != np.int8 or ozp != oq.zero_point or not np.isclose(oscale, oq.scale):
        raise QuantizationError(
            f"output must be int8 scale 1/{oq.scale_den} zero point {oq.zero_point}, "
            f"got {out['dtype']} scale {oscale} zero point {ozp}"
        )
    if tuple(out["shape"]) != (1, spec.n_classes):
        raise QuantizationError(f"output shape {out['shape']} is not [1, {spec.n_classes}]")
    for t in it.get_tensor_details():
        qp = t["quantization_parameters"]
        if t["dtype"] == np.float32:
            raise QuantizationError(f"float tensor left in the model: {t['name']}")
        if t["dtype"] == np.int8 and t["name"] and len(qp["scales"]) == 0:
            raise QuantizationError(f"int8 tensor without quantization: {t['name']}")


def macs_per_tile(tflite: bytes) -> int:
    """Multiply-accumulates of one inference, from the model's own tensor shapes."""
    it = _interpreter(tflite)
    shapes = {t["index"]: tuple(t["shape"]) for t in it.get_tensor_details()}
    total = 0
    for op in it._get_ops_details():
        name, ins, outs = op["op_name"], op["inputs"], op["outputs"]
        o = shapes[outs[0]]
        if name == "CONV_2D":
            w = shapes[ins[1]]  # [out_c, kh, kw, in_c]
            total += int(np.prod(o)) * w[1] * w[2] * w[3]
        elif name == "DEPTHWISE_CONV_2D":
            w = shapes[ins[1]]  # [1, kh, kw, c]
            total += int(np.prod(o)) * w[1] * w[2]
        elif name == "FULLY_CONNECTED":
            w = shapes[ins[1]]  # [out, in]
            total += int(np.prod(o)) * w[1]
    return int(total)


def tflm_interpreter(tflite: bytes, arena_size: int):
    from tflite_micro import runtime

    return runtime.Interpreter.from_bytes(tflite, arena_size=arena_size)


def tflm_arena_bytes(tflite: bytes) -> int:
    """Arena the TFLM interpreter allocates for the model (from ``print_allocations``)."""
    it = tflm_interpreter(tflite, ARENA_PROBE_BYTES)
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            it.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode(errors="replace")
    m = re.search(r"Arena allocation total (\d+) bytes", text)
    if not m:
        raise QuantizationError(f"could not read the TFLM arena use from: {text[:200]!r}")
    return int(m.group(1))


def tflm_predict(tflite: bytes, q_inputs: np.ndarray, arena_size: int = 64 * 1024) -> np.ndarray:
    """int8 outputs ``[N, classes]`` of the model under TFLM for int8 inputs ``[N, S, S, C]``."""
    it = tflm_interpreter(tflite, arena_size)
    out = np.empty((len(q_inputs), tile_spec().n_classes), np.int8)
    for i, x in enumerate(q_inputs):
        it.set_input(x[None], 0)
        it.invoke()
        out[i] = it.get_output(0)[0]
    return out


def litert_predict(tflite: bytes, q_inputs: np.ndarray, batch: int = 256) -> np.ndarray:
    """The same with the LiteRT reference interpreter (batched; used for quick checks)."""
    it = _interpreter(tflite)
    inp = it.get_input_details()[0]["index"]
    outi = it.get_output_details()[0]["index"]
    out = np.empty((len(q_inputs), tile_spec().n_classes), np.int8)
    s = q_inputs.shape[1:]
    it.resize_tensor_input(inp, (batch, *s))
    it.allocate_tensors()
    for i in range(0, len(q_inputs), batch):
        chunk = q_inputs[i : i + batch]
        n = len(chunk)
        if n < batch:
            chunk = np.concatenate([chunk, np.zeros((batch - n, *s), np.int8)])
        it.set_tensor(inp, chunk)
        it.invoke()
        out[i : i + n] = it.get_tensor(outi)[:n]
    return out
