"""A representative small CNN, generated from a recorded seed with TensorFlow.

Used by the engine's whole-model tests and benchmark until the shipped
classifier exists (and alongside it afterwards). It has the operator mix the
converter emits for the triage classifier: 3x3 convolutions with stride 1 and
2, SAME and VALID padding, fused ReLU and ReLU6, a depthwise convolution, 1x1
convolutions, a residual ADD, global average and global max pooling
(MEAN, REDUCE_MAX) joined by a CONCATENATION, FULLY_CONNECTED and SOFTMAX to
4 classes. Input 32x32x4 int8 (scale 1/255, zero point -128: calibration
data spans [0, 1]), about 17 KB of int8 weights and 240 K MACs.

The weights are random (seeded), not trained: bit-exactness does not care,
and calibration on seeded synthetic tiles gives every layer a realistic
int8 range. Converting takes seconds, so callers cache the bytes
(:func:`cached_representative_tflite`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

SEED = 4242
INPUT_SHAPE = (1, 32, 32, 4)


def _calibration(seed: int, n: int = 64) -> np.ndarray:
    """Smooth random multi-band fields in [0, 1] (like reflectance tiles)."""
    rng = np.random.default_rng([seed, 1])
    out = np.empty((n, 32, 32, 4), dtype=np.float32)
    yy, xx = np.mgrid[0:32, 0:32] / 32.0
    for i in range(n):
        for b in range(4):
            f = rng.uniform(0.5, 4.0, size=2)
            ph = rng.uniform(0, 2 * np.pi, size=2)
            base = rng.uniform(0.05, 0.6)
            amp = rng.uniform(0.0, 0.4)
            field = base + amp * np.sin(2 * np.pi * f[0] * xx + ph[0]) * np.cos(
                2 * np.pi * f[1] * yy + ph[1]
            )
            field += rng.normal(0.0, 0.03, size=field.shape)
            out[i, :, :, b] = np.clip(field, 0.0, 1.0)
    out[0] = 0.0
    out[1] = 1.0
    return out


def build_representative_tflite(seed: int = SEED) -> bytes:
    """Builds, calibrates and converts the CNN to a full-int8 ``.tflite``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.keras.backend.clear_session()  # layer names (kept in the file) restart from zero
    tf.keras.utils.set_random_seed(seed)
    layers = tf.keras.layers
    inp = tf.keras.Input(INPUT_SHAPE[1:], name="tile")
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)  # 16x16x8
    x = layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6")(x)  # 8x8x8
    x = layers.Conv2D(32, 1, activation="relu")(x)  # 8x8x32
    x = layers.Conv2D(48, 3, strides=2, padding="valid", activation="relu")(x)  # 3x3x48
    y = layers.Conv2D(48, 1)(x)  # 3x3x48, linear
    x = layers.Add()([x, y])
    a = layers.GlobalAveragePooling2D()(x)
    m = layers.GlobalMaxPooling2D()(x)
    x = layers.Concatenate()([a, m])
    x = layers.Dense(4)(x)
    out = layers.Softmax()(x)
    model = tf.keras.Model(inp, out)
    calib = _calibration(seed)

    def representative():
        for i in range(len(calib)):
            yield [calib[i : i + 1]]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    # the converter prints progress on stdout; keep stdout for the caller's output
    with contextlib.redirect_stdout(sys.stderr):
        return bytes(conv.convert())


def cache_key(seed: int = SEED) -> str:
    """Changes whenever this generator, its seed or TensorFlow's version change."""
    import importlib.metadata as md

    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(str(seed).encode())
    h.update(md.version("tensorflow-cpu").encode())
    return h.hexdigest()[:16]


def cached_representative_tflite(cache_dir: Path, seed: int = SEED) -> bytes:
    """The CNN's bytes from ``cache_dir`` (built once, under a file lock)."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"repcnn-{cache_key(seed)}.tflite"
    with open(cache_dir / ".repcnn.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            data = build_representative_tflite(seed)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
    return path.read_bytes()
