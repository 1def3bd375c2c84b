"""The network: a small depthwise-separable CNN with global max pooling.

Only operators the firmware engine implements appear after conversion:
CONV_2D, DEPTHWISE_CONV_2D, REDUCE_MAX (global max pooling), FULLY_CONNECTED,
SOFTMAX (batch normalisation is folded into the convolutions, ReLU fused).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from triage_models.tile_spec import tile_spec


class ArchConfig(BaseModel):
    """Layer widths; ``stem_stride`` applies to the first full 3x3 convolution."""

    model_config = ConfigDict(extra="forbid")
    stem_channels: int = 8
    stem_stride: int = 2
    blocks: list[tuple[int, int]] = [(24, 2), (32, 1), (48, 2)]  # (pointwise out, dw stride)
    dropout: float = 0.1


def build_model(cfg: ArchConfig | None = None):
    """A float Keras model: input ``[S, S, C]`` in 0..1, output softmax over the classes."""
    import keras
    from keras import layers

    cfg = cfg or ArchConfig()
    spec = tile_spec()
    s = spec.thumb_px
    inp = keras.Input((s, s, spec.n_bands), name="thumb")
    x = layers.Conv2D(
        cfg.stem_channels, 3, strides=cfg.stem_stride, padding="same", use_bias=False
    )(inp)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    for out_ch, stride in cfg.blocks:
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(out_ch, 1, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.GlobalMaxPooling2D()(x)
    if cfg.dropout:
        x = layers.Dropout(cfg.dropout)(x)
    x = layers.Dense(spec.n_classes)(x)
    out = layers.Softmax(name="probs")(x)
    return keras.Model(inp, out, name="triage_classifier")
