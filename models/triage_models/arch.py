"""The network: a small depthwise-separable CNN with global max pooling over the tile's centre.

Only operators the firmware engine implements appear after conversion:
CONV_2D, DEPTHWISE_CONV_2D, REDUCE_MAX (global max pooling), FULLY_CONNECTED,
SOFTMAX (batch normalisation is folded into the convolutions, ReLU fused).

With ``centre_head`` a 3x3 depthwise convolution without padding turns the
last 4x4 feature map into 2x2 before the pooling: every pooled value is
centred on one of the four middle cells of the map, which see the tile's
central 16x16 pixels, so the network can tell a ship in the tile's central
cell (the on-board crop's unit) from one at the tile's border (the business
of a neighbouring tile). Layers have short names: they end up in the
flatbuffer's tensor names, and every byte counts against the model budget.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from triage_models.tiles import tile_spec


class ArchConfig(BaseModel):
    """Layer widths; ``stem_stride`` applies to the first full 3x3 convolution."""

    model_config = ConfigDict(extra="forbid")
    stem_channels: int = 8
    stem_stride: int = 2
    blocks: list[tuple[int, int]] = [(24, 2), (32, 1), (48, 2)]  # (pointwise out, dw stride)
    centre_head: bool = True
    dropout: float = 0.1


def build_model(cfg: ArchConfig | None = None):
    """A float Keras model: input ``[S, S, C]`` in 0..1, output softmax over the classes."""
    import keras
    from keras import layers

    cfg = cfg or ArchConfig()
    spec = tile_spec()
    s = spec.thumb_px
    names = iter(f"l{i}" for i in range(1000))

    def bn_relu(x):
        x = layers.BatchNormalization(name=next(names))(x)
        return layers.ReLU(name=next(names))(x)

    inp = keras.Input((s, s, spec.n_bands), name="thumb")
    x = layers.Conv2D(
        cfg.stem_channels,
        3,
        strides=cfg.stem_stride,
        padding="same",
        use_bias=False,
        name=next(names),
    )(inp)
    x = bn_relu(x)
    for out_ch, stride in cfg.blocks:
        x = layers.DepthwiseConv2D(
            3, strides=stride, padding="same", use_bias=False, name=next(names)
        )(x)
        x = bn_relu(x)
        x = layers.Conv2D(out_ch, 1, use_bias=False, name=next(names))(x)
        x = bn_relu(x)
    if cfg.centre_head:
        x = layers.DepthwiseConv2D(3, padding="valid", use_bias=False, name=next(names))(x)
        x = bn_relu(x)
    x = layers.GlobalMaxPooling2D(name=next(names))(x)
    if cfg.dropout:
        x = layers.Dropout(cfg.dropout, name=next(names))(x)
    x = layers.Dense(spec.n_classes, name=next(names))(x)
    out = layers.Softmax(name="probs")(x)
    return keras.Model(inp, out, name="tc")
