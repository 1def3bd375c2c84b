"""A representative cell network, generated from a recorded seed with TensorFlow.

The streaming executor's tests and benchmark run it. It belongs to the family of the
fully-convolutional cell network (one pass per pixel over the whole frame, one
decision per 16 x 16 cell): a 3x3 stride-2 stem CONV_2D (4 bands to 8 channels, ReLU),
blocks of a 3x3 DEPTHWISE_CONV_2D (stride 2 or 1, ReLU) and a 1x1 CONV_2D (ReLU), a
MAX_POOL_2D, a 3x3 depthwise "head" at the cell stride, 1x1 layers to 64 channels and to
the 4 classes, and SOFTMAX per cell; every layer with TensorFlow's SAME padding, widths
8 / 24 / 32 / 48 / 64, total stride 16 (:data:`LAYERS`). About 193 multiply-accumulates
per frame pixel.

The spatial size is left open (``[-1, -1, -1, 4]``): :func:`triage.engine.shapes.static_shape`
fixes it for TFLM. Weights and biases start random (seeded) and get a short fit to a toy
target on seeded smooth multi-band fields, so that the outputs vary from cell to cell (a
comparison of outputs is only as strong as they are varied); calibration on such fields
(with an all-0 and an all-1 window first, so that the input quantisation is exactly the
tile spec's) gives every layer a realistic int8 range. Building takes about half a
minute, so callers cache the bytes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

from triage.contract.tile_spec import tile_spec

SEED = 1615
CALIBRATION_PX = 64
# (kind, kernel, stride, output channels); "conv" layers are ReLU but the last (linear).
LAYERS: tuple[tuple[str, int, int, int], ...] = (
    ("conv", 3, 2, 8),
    ("dw", 3, 2, 8),
    ("conv", 1, 1, 24),
    ("dw", 3, 1, 24),
    ("conv", 1, 1, 32),
    ("dw", 3, 2, 32),
    ("conv", 1, 1, 48),
    ("maxpool", 2, 2, 48),
    ("dw", 3, 1, 48),
    ("conv", 1, 1, 64),
    ("conv", 1, 1, 0),  # 0: the classes
)


def _calibration(seed: int, n: int = 48, size: int = CALIBRATION_PX) -> np.ndarray:
    """Smooth random multi-band fields in [0, 1] with noise, lines and blobs."""
    rng = np.random.default_rng([seed, 1])
    bands = tile_spec().n_bands
    out = np.empty((n, size, size, bands), dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        for b in range(bands):
            f = rng.uniform(0.5, 6.0, size=2)
            ph = rng.uniform(0, 2 * np.pi, size=2)
            field = rng.uniform(0.02, 0.6) + rng.uniform(0.0, 0.4) * np.sin(
                2 * np.pi * f[0] * xx + ph[0]
            ) * np.cos(2 * np.pi * f[1] * yy + ph[1])
            field += rng.normal(0.0, rng.uniform(0.005, 0.05), size=field.shape)
            out[i, :, :, b] = np.clip(field, 0.0, 1.0)
    out[0] = 0.0
    out[1] = 1.0
    return out


def build_cellref_tflite(seed: int = SEED) -> bytes:
    """Builds, calibrates and converts the network to a full-int8 ``.tflite`` (open size)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(seed)
    layers = tf.keras.layers
    spec = tile_spec()
    bias = tf.keras.initializers.RandomNormal(0.0, 0.2, seed=seed)
    # ReLU-preserving weights, and logits of a few units at the end, so that activations
    # stay alive and the softmax outputs spread over the int8 range (a test that compares
    # outputs is only as strong as they are varied)
    kernel = tf.keras.initializers.HeNormal(seed=seed + 1)
    logits = tf.keras.initializers.RandomNormal(0.0, 0.6, seed=seed + 2)
    inp = tf.keras.Input((None, None, spec.n_bands), name="frame")
    x = inp
    for i, (kind, k, s, c) in enumerate(LAYERS):
        last = i == len(LAYERS) - 1
        if kind == "conv":
            x = layers.Conv2D(
                c or spec.n_classes, k, strides=s, padding="same",
                activation=None if last else "relu", bias_initializer=bias,
                kernel_initializer=logits if last else kernel,
            )(x)  # fmt: skip
        elif kind == "dw":
            x = layers.DepthwiseConv2D(
                k, strides=s, padding="same", activation="relu", bias_initializer=bias,
                depthwise_initializer=kernel,
            )(x)  # fmt: skip
        else:
            x = layers.MaxPooling2D(k, strides=s, padding="same")(x)
    out = layers.Softmax()(x)
    model = tf.keras.Model(inp, out)
    calib = _calibration(seed)
    # a short fit to a toy target (per cell, the band with the highest mean) so that the
    # network carries spatial detail to its outputs: random deep weights alone give nearly
    # the same probabilities everywhere
    fields = _calibration(seed + 1, n=192)
    cells = fields.reshape(len(fields), CALIBRATION_PX // 16, 16, CALIBRATION_PX // 16, 16, -1)
    target = cells.mean(axis=(2, 4)).argmax(axis=-1)
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3),
                  loss="sparse_categorical_crossentropy")  # fmt: skip
    model.fit(fields, target, batch_size=16, epochs=24, verbose=0, shuffle=False)

    def representative():
        for i in range(len(calib)):
            yield [calib[i : i + 1]]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    with contextlib.redirect_stdout(sys.stderr):
        return bytes(conv.convert())


def cache_key(seed: int = SEED) -> str:
    """Changes whenever this generator, its seed or TensorFlow's version change."""
    import importlib.metadata as md

    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(str(seed).encode())
    h.update(md.version("tensorflow-cpu").encode())
    return h.hexdigest()[:16]


def cached_cellref_tflite(cache_dir: Path, seed: int = SEED) -> bytes:
    """The network's bytes from ``cache_dir`` (built once, under a file lock)."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"cellref-{cache_key(seed)}.tflite"
    with open(cache_dir / ".cellref.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            data = build_cellref_tflite(seed)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
    return path.read_bytes()
