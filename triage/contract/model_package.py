"""The model package: what the ground uplinks to change the on-board classifier, and the
engine plan it carries.

A package is one binary file, big-endian records like the rest of the wire format::

    +----------------+------------+------------+----------------+----------+
    | PACKAGE_HEADER | plan       | MODEL_SPEC | golden vectors | CRC-32   |
    | 96 bytes       | (8-aligned)| 120 bytes  | (8-aligned)    | 4 bytes  |
    +----------------+------------+------------+----------------+----------+

- the **plan** is the streaming executor's model (``mcu_firmware/engine/include/tnn_stream.h``)
  as data: a PLAN_HEADER, one PLAN_LAYER per layer, then the layers' constant arrays
  (weights, biases, per-channel multipliers and shifts, the DSP kernels' packed data).
  Records are big-endian; the arrays are the kernels' operands and stay in the byte order
  the Cortex-M4 reads them (little-endian), at offsets from the plan's first byte, aligned
  for the loads the kernels make. The same bytes are the compiled-in model an image links
  (``<name>_stream.c``): ``tnn_stream_begin`` validates either wherever it sits (flash, a
  model slot, PSRAM);
- **MODEL_SPEC**: the tile spec and decision policy the model was trained and tuned with;
- **golden vectors**: ``vector_count`` frames of ``vector_rows`` x ``vector_cols`` pixels
  (int8, ``[rows][cols][in_c]``), each followed by the outputs TFLM gives for it
  (``[out_h][out_w][out_c]`` at the frame extended as the executor extends it); the
  satellite runs them before a package may go on trial;
- **CRC-32** (zlib's) of every byte before it.

The package's SHA-256 (all its bytes) is its integrity in the boot record; the model's
identity in telemetry is ``model_id`` with ``model_sha256``, the SHA-256 of the ``.tflite``.
Uplinked, a package travels inside an authenticated unit (:mod:`triage.contract.uplink`).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from triage.contract.enums import DocIntEnum, LandPolicy
from triage.contract.errors import PackageError
from triage.contract.layout import Field, Layout
from triage.contract.records import MAX_BANDS, MODEL_HASH_BYTES

# ---------------------------------------------------------------- the engine plan

ENGINE_ABI = 2
"""Version of the plan format (``TNN_STREAM_ABI``): an image runs plans of its own ABI only
(1 was the pointer-based table of the first streaming exporter)."""
PLAN_MAGIC = 0x544E5350  # "TNSP"
PLAN_ALIGN = 8
"""A plan's first byte must be 8-byte aligned (its arrays are aligned from it)."""
MAX_LAYERS = 32
MAX_KERNEL = 16
MAX_CLASSES = 8


class LayerKind(DocIntEnum):
    """Kinds of streaming layer (``tnn_layer_kind_t``); bit ``kind - 1`` of a plan's
    ``kernels`` says the plan needs that kind's row kernels."""

    CONV2D = 1, "CONV_2D rows (tnn_conv_rows_s8): filter [out_c][k_h][k_w][in_c]"
    DWCONV2D = 2, "DEPTHWISE_CONV_2D rows, depth multiplier 1: filter [k_h][k_w][out_c]"
    MAX_POOL2D = 3, "MAX_POOL_2D rows (tnn_max_pool_rows_s8): no arrays"
    SOFTMAX = 4, "SOFTMAX over each pixel's channels, from a table of exponentials: no arrays"

    @property
    def op_name(self) -> str:
        """The TFLite operator the kind runs."""
        return {1: "CONV_2D", 2: "DEPTHWISE_CONV_2D", 3: "MAX_POOL_2D", 4: "SOFTMAX"}[self]

    @property
    def bit(self) -> int:
        """Its bit in a plan's ``kernels``."""
        return 1 << (self - 1)


class PadRule(DocIntEnum):
    """TensorFlow's padding rules (``tnn_pad_rule_t``)."""

    SAME = 0, "pads (out - 1) * stride + kernel - in in total, half (rounded down) before"
    VALID = 1, "pads nothing"


ALL_KERNELS = sum(k.bit for k in LayerKind)
"""The ``kernels`` bits of every kind this contract defines."""


def axis(n: int, k: int, s: int, rule: int) -> tuple[int, int]:
    """Output size and padding before, along one axis, of a layer over ``n`` inputs
    (TensorFlow's rules: SAME pads ``(out - 1) * s + k - n`` in total, half rounded down
    before; VALID pads nothing)."""
    if rule == PadRule.SAME:
        o = -(-n // s)
        return o, max((o - 1) * s + k - n, 0) // 2
    return (n - k) // s + 1, 0


PLAN_HEADER = Layout(
    "PLAN_HEADER",
    32,
    "The first record of an engine plan (the streaming model as data).",
    (
        Field("magic", 0, "u32", 'PLAN_MAGIC ("TNSP")'),
        Field("abi", 4, "u16", "engine ABI the plan is written for (ENGINE_ABI)"),
        Field("layers", 6, "u16", "PLAN_LAYER records that follow (1..32), in chain order"),
        Field("plan_bytes", 8, "u32", "bytes of the whole plan: header, layers, arrays"),
        Field("in_c", 12, "u16", "channels of a frame pixel"),
        Field("out_c", 14, "u16", "channels of an output pixel"),
        Field("multiple_h", 16, "u16", "the frame is extended to multiples of these (>= 1)"),
        Field("multiple_w", 18, "u16", "with the input zero point: the total strides"),
        Field("min_h", 20, "u16", "smallest frame height accepted"),
        Field("min_w", 22, "u16", "smallest frame width accepted"),
        Field("in_zero_point", 24, "u8", "input zero point, int8 two's complement"),
        Field("out_zero_point", 25, "u8", "output zero point, int8 two's complement"),
        Field(
            "kernels",
            26,
            "u16",
            "bit k - 1 set for every layer kind k the plan uses: the image refuses a plan "
            "naming a kernel it lacks",
        ),
        Field("reserved", 28, "u32", "0"),
    ),
)

PLAN_LAYER = Layout(
    "PLAN_LAYER",
    56,
    "One layer of a plan. Array fields are offsets from the plan's first byte (0: none); "
    "their lengths follow from the layer: filter in_c x k_h x k_w x out_c int8 (CONV_2D) or "
    "k_h x k_w x out_c (DEPTHWISE_CONV_2D), bias, mult out_c int32 (4-aligned), shift "
    "out_c int8, pdata pdata_words uint32 (4-aligned); arrays little-endian.",
    (
        Field("kind", 0, "u8", "layer kind (LayerKind)"),
        Field("pad", 1, "u8", "padding rule: 0 SAME, 1 VALID"),
        Field("in_c", 2, "u16", "input channels"),
        Field("out_c", 4, "u16", "output channels"),
        Field("kernel_h", 6, "u8", "window height (1..16)"),
        Field("kernel_w", 7, "u8", "window width"),
        Field("stride_h", 8, "u8", "stride along the height"),
        Field("stride_w", 9, "u8", "stride along the width"),
        Field("act_min", 10, "u8", "fused activation's lower bound, int8 two's complement"),
        Field("act_max", 11, "u8", "its upper bound"),
        Field("in_offset", 12, "u16", "convolutions: -input zero point, int16 two's complement"),
        Field("out_offset", 14, "u16", "convolutions: output zero point, int16"),
        Field("pack_method", 16, "u8", "DSP kernels' packed data: method (0: portable loop)"),
        Field("pack_flags", 17, "u8", "their flags (tnn_kernels.h: TNN_PACK_*)"),
        Field("pack_groups", 18, "u16", "their groups of four channels"),
        Field("filter", 20, "u32", "offset of the weights (convolutions)"),
        Field("bias", 24, "u32", "offset of the int32 biases (0: none)"),
        Field("mult", 28, "u32", "offset of the int32 per-channel multipliers"),
        Field("shift", 32, "u32", "offset of the int8 per-channel shifts"),
        Field("pdata", 36, "u32", "offset of the packed data (0: none)"),
        Field("pdata_words", 40, "u32", "32-bit words of packed data"),
        Field("softmax_input_mult", 44, "u32", "SOFTMAX: input multiplier (int32)"),
        Field("softmax_diff_min", 48, "u32", "SOFTMAX: smallest difference kept (int32, <= 0)"),
        Field("softmax_left_shift", 52, "u8", "SOFTMAX: input left shift (0..30)"),
        Field("reserved", 53, "u8", "0"),
        Field("reserved2", 54, "u16", "0"),
    ),
)


def u8(v: int) -> int:
    """An int8 as its two's complement byte."""
    return int(v) & 0xFF


def u16(v: int) -> int:
    return int(v) & 0xFFFF


def u32(v: int) -> int:
    return int(v) & 0xFFFFFFFF


def s8(v: int) -> int:
    v = int(v) & 0xFF
    return v - 0x100 if v & 0x80 else v


def s16(v: int) -> int:
    v = int(v) & 0xFFFF
    return v - 0x10000 if v & 0x8000 else v


def s32(v: int) -> int:
    v = int(v) & 0xFFFFFFFF
    return v - 0x100000000 if v & 0x80000000 else v


@dataclass(frozen=True)
class PlanInfo:
    """A plan's header and layers, decoded (ints signed where the fields are)."""

    header: dict
    layers: list[dict]

    @property
    def in_c(self) -> int:
        return self.header["in_c"]

    @property
    def out_c(self) -> int:
        return self.header["out_c"]

    def output_shape(self, h: int, w: int) -> tuple[int, int, int]:
        """The output ``(out_h, out_w, out_c)`` of an ``h`` x ``w`` frame (extended first)."""
        mh, mw = self.header["multiple_h"], self.header["multiple_w"]
        h, w = -(-h // mh) * mh, -(-w // mw) * mw
        for lay in self.layers:
            h = axis(h, lay["kernel_h"], lay["stride_h"], lay["pad"])[0]
            w = axis(w, lay["kernel_w"], lay["stride_w"], lay["pad"])[0]
        return h, w, self.out_c


def parse_plan(plan: bytes | bytearray | memoryview) -> PlanInfo:
    """A plan's header and layer records (the structure only: the engine validates the rest
    at bind); :class:`PackageError` naming the defect."""
    if len(plan) < PLAN_HEADER.size:
        raise PackageError(f"plan of {len(plan)} bytes is shorter than its header")
    h = PLAN_HEADER.unpack(plan)
    if h["magic"] != PLAN_MAGIC:
        raise PackageError(f"plan magic 0x{h['magic']:08X}, expected 0x{PLAN_MAGIC:08X}")
    if not 1 <= h["layers"] <= MAX_LAYERS:
        raise PackageError(f"plan of {h['layers']} layers (1..{MAX_LAYERS})")
    if h["plan_bytes"] != len(plan):
        raise PackageError(f"plan says {h['plan_bytes']} bytes, has {len(plan)}")
    end = PLAN_HEADER.size + h["layers"] * PLAN_LAYER.size
    if end > len(plan):
        raise PackageError("plan too short for its layer table")
    h["in_zero_point"] = s8(h["in_zero_point"])
    h["out_zero_point"] = s8(h["out_zero_point"])
    layers = []
    for i in range(h["layers"]):
        lay = PLAN_LAYER.unpack(plan, PLAN_HEADER.size + i * PLAN_LAYER.size)
        for name in ("act_min", "act_max"):
            lay[name] = s8(lay[name])
        for name in ("in_offset", "out_offset"):
            lay[name] = s16(lay[name])
        lay["softmax_input_mult"] = s32(lay["softmax_input_mult"])
        lay["softmax_diff_min"] = s32(lay["softmax_diff_min"])
        layers.append(lay)
    return PlanInfo(h, layers)


# ---------------------------------------------------------------- the package

PACKAGE_MAGIC = 0x544D504B  # "TMPK"
PACKAGE_VERSION = 3
"""2: MODEL_SPEC carries ``cloud_call_min_q`` (offset 22, reserved in version 1). 3: a
ringed layer's packed data hold only the ring rotations that occur (the multiples of
gcd(stride, kernel height)): a 4x4 or 2x2 stride-2 layer's data changed length."""
PACKAGE_ALIGN = 8
"""Sections start at multiples of 8 bytes from the package's first byte."""
CRC_BYTES = 4
MAX_PACKAGE_BYTES = 128 * 1024 - 64
"""Largest package a model slot holds (a slot is 128 KB; the rest is headroom)."""
MAX_GOLDEN_VECTORS = 8
MAX_GOLDEN_PIXELS = 64 * 64
"""Golden frames are small (a few cells): the self-test is a few hundred thousand
instructions per vector on the Cortex-M4."""

PACKAGE_HEADER = Layout(
    "PACKAGE_HEADER",
    96,
    "The first record of a model package; sections follow in this order, each 8-aligned.",
    (
        Field("magic", 0, "u32", 'PACKAGE_MAGIC ("TMPK")'),
        Field("version", 4, "u8", "package format version (PACKAGE_VERSION)"),
        Field("reserved", 5, "u8", "0"),
        Field("engine_abi", 6, "u16", "engine ABI of the plan (its PLAN_HEADER.abi)"),
        Field("model_id", 8, "u32", "the model's id, >= 1 (0 is the compiled-in cell classifier)"),
        Field("created_s", 12, "u32", "creation time, seconds since TIME_EPOCH"),
        Field("package_bytes", 16, "u32", "bytes of the package, its CRC-32 included"),
        Field("plan_offset", 20, "u32", "offset of the plan (8-aligned)"),
        Field("plan_bytes", 24, "u32", "its bytes"),
        Field("spec_offset", 28, "u32", "offset of the MODEL_SPEC record (8-aligned)"),
        Field("spec_bytes", 32, "u32", "its bytes (MODEL_SPEC size)"),
        Field("vectors_offset", 36, "u32", "offset of the golden vectors (8-aligned)"),
        Field("vectors_bytes", 40, "u32", "their bytes: vector_count x (input + output)"),
        Field("vector_count", 44, "u16", "golden vectors (1..8)"),
        Field("vector_rows", 46, "u16", "rows of a golden frame"),
        Field("vector_cols", 48, "u16", "columns of a golden frame (rows x cols <= 4096)"),
        Field("reserved2", 50, "u16", "0"),
        Field(
            "scratch_bytes",
            52,
            "u32",
            "scratch of the plan's rings and staging row at scratch_cols with the DSP kernels "
            "(the packager's figure, without the per-layer states the executor adds on its "
            "target; the satellite computes the whole at its widest frame)",
        ),
        Field("scratch_cols", 56, "u16", "frame width of that figure"),
        Field("reserved3", 58, "u16", "0"),
        Field(
            "model_sha256",
            60,
            "u8",
            "SHA-256 of the .tflite the plan was exported from: the model's identity",
            count=MODEL_HASH_BYTES,
        ),
        Field("reserved4", 92, "u32", "0"),
    ),
)

MODEL_SPEC = Layout(
    "MODEL_SPEC",
    120,
    "What the model sees and how its outputs are decided (models/tile_spec.json and the "
    "policy it was tuned with). Thresholds are int8 outputs as int16 two's complement "
    "(128: never).",
    (
        Field("bands", 0, "u8", "bands of a frame pixel (= the plan's in_c)"),
        Field("classes", 1, "u8", "classes (= the plan's out_c, at most 8)"),
        Field("ship_class", 2, "u8", "class id of ship"),
        Field("land_policy", 3, "u8", "0 drop land, 1 keep it at low resolution"),
        Field("input_zero_point", 4, "u8", "input quantisation: zero point (int8)"),
        Field("output_zero_point", 5, "u8", "output quantisation: zero point (int8)"),
        Field("reserved", 6, "u16", "0"),
        Field("input_scale_den", 8, "u16", "input scale 1 / this"),
        Field("output_scale_den", 10, "u16", "output scale 1 / this"),
        Field(
            "cell_px",
            12,
            "u16",
            "the cell: one output per cell_px x cell_px pixels (the plan's total stride)",
        ),
        Field("reserved2", 14, "u16", "0"),
        Field("reserved3", 16, "u16", "0"),
        Field("crop_margin_px", 18, "u16", "crop margin around a kept cell"),
        Field("ship_crop_min_q", 20, "u16", "crop when the ship output reaches this"),
        Field(
            "cloud_call_min_q",
            22,
            "u16",
            "the cell is called cloud when its cloud output reaches this, whatever its top "
            "class (128: the top class)",
        ),
        Field(
            "discard_min_q",
            24,
            "u16",
            "per class: discard a cell of this class (step 0 of the decision) reaching this",
            count=MAX_CLASSES,
        ),
        Field("gain_q8", 40, "u16", "per band: Q8 gain to the canonical scale", count=MAX_BANDS),
        Field("tile_spec_sha256", 56, "u8", "SHA-256 of tile_spec.json", count=32),
        Field("policy_sha256", 88, "u8", "SHA-256 of the policy JSON", count=32),
    ),
)

PACKAGE_LAYOUTS: tuple[Layout, ...] = (PACKAGE_HEADER, MODEL_SPEC, PLAN_HEADER, PLAN_LAYER)


def _align(n: int) -> int:
    return -(-n // PACKAGE_ALIGN) * PACKAGE_ALIGN


def spec_record(
    spec,
    policy,
    *,
    tile_spec_sha256: bytes,
    policy_sha256: bytes,
) -> bytes:
    """The MODEL_SPEC record of a tile spec (:class:`~triage.contract.tile_spec.TileSpec`) and
    a policy (:class:`~triage.contract.policy.Policy`)."""
    if spec.n_classes > MAX_CLASSES or spec.n_bands > MAX_BANDS:
        raise PackageError(
            f"{spec.n_classes} classes and {spec.n_bands} bands: a package holds at most "
            f"{MAX_CLASSES} and {MAX_BANDS}"
        )
    dmin = list(policy.discard_min_q(spec)) + [128] * (MAX_CLASSES - spec.n_classes)
    gains = [int(g) for g in spec.gains()] + [0] * (MAX_BANDS - spec.n_bands)
    iq, oq = spec.input_quantization, spec.output_quantization
    if iq.scale_num != 1 or oq.scale_num != 1:
        raise PackageError("a package states quantisation scales as 1 / den")
    return MODEL_SPEC.pack(
        {
            "bands": spec.n_bands,
            "classes": spec.n_classes,
            "ship_class": spec.class_id("ship"),
            "land_policy": int(LandPolicy(policy.land_policy_id)),
            "input_zero_point": u8(iq.zero_point),
            "output_zero_point": u8(oq.zero_point),
            "input_scale_den": iq.scale_den,
            "output_scale_den": oq.scale_den,
            "cell_px": spec.cell_px,
            "crop_margin_px": policy.check_margin(spec),
            "ship_crop_min_q": u16(policy.ship_crop_min_q),
            "cloud_call_min_q": u16(policy.cloud_call_min_q),
            "discard_min_q": tuple(u16(v) for v in dmin),
            "gain_q8": tuple(gains),
            "tile_spec_sha256": tuple(tile_spec_sha256),
            "policy_sha256": tuple(policy_sha256),
        }
    )


@dataclass(frozen=True)
class GoldenVector:
    """One golden frame and TFLM's output for it (int8 bytes)."""

    frame: bytes
    output: bytes


def build_package(
    *,
    model_id: int,
    created_s: int,
    model_sha256: bytes,
    plan: bytes,
    spec: bytes,
    vectors: Sequence[GoldenVector],
    vector_hw: tuple[int, int],
    scratch_bytes: int,
    scratch_cols: int,
) -> bytes:
    """Assembles a package (sections in order, 8-aligned, zero padding, the CRC-32 last) and
    checks it by parsing it back."""
    if not 1 <= model_id <= 0xFFFFFFFF:
        raise PackageError(f"model id {model_id} not in 1..4294967295 (0 is the tile model)")
    if len(model_sha256) != MODEL_HASH_BYTES:
        raise PackageError("model_sha256 must be 32 bytes")
    if not 1 <= len(vectors) <= MAX_GOLDEN_VECTORS:
        raise PackageError(f"{len(vectors)} golden vectors (1..{MAX_GOLDEN_VECTORS})")
    info = parse_plan(plan)
    rows, cols = vector_hw
    blob = b"".join(v.frame + v.output for v in vectors)
    plan_off = PACKAGE_HEADER.size
    spec_off = _align(plan_off + len(plan))
    vec_off = _align(spec_off + len(spec))
    end = _align(vec_off + len(blob))
    total = end + CRC_BYTES
    header = PACKAGE_HEADER.pack(
        {
            "magic": PACKAGE_MAGIC,
            "version": PACKAGE_VERSION,
            "engine_abi": info.header["abi"],
            "model_id": model_id,
            "created_s": created_s,
            "package_bytes": total,
            "plan_offset": plan_off,
            "plan_bytes": len(plan),
            "spec_offset": spec_off,
            "spec_bytes": len(spec),
            "vectors_offset": vec_off,
            "vectors_bytes": len(blob),
            "vector_count": len(vectors),
            "vector_rows": rows,
            "vector_cols": cols,
            "scratch_bytes": scratch_bytes,
            "scratch_cols": scratch_cols,
            "model_sha256": tuple(model_sha256),
        }
    )
    body = bytearray(end)
    body[: len(header)] = header
    body[plan_off : plan_off + len(plan)] = plan
    body[spec_off : spec_off + len(spec)] = spec
    body[vec_off : vec_off + len(blob)] = blob
    out = bytes(body) + zlib.crc32(body).to_bytes(CRC_BYTES, "big")
    parse_package(out)
    return out


@dataclass(frozen=True)
class Package:
    """A parsed package."""

    data: bytes
    header: dict
    plan: bytes
    plan_info: PlanInfo
    spec: dict
    vectors: list[GoldenVector]

    @property
    def model_id(self) -> int:
        return self.header["model_id"]

    @property
    def model_sha256(self) -> bytes:
        return bytes(self.header["model_sha256"])

    @property
    def sha256(self) -> bytes:
        """SHA-256 of the package's bytes (its integrity on board)."""
        return hashlib.sha256(self.data).digest()

    def describe(self) -> Mapping[str, object]:
        h = self.header
        return {
            "model_id": h["model_id"],
            "model_sha256": self.model_sha256.hex(),
            "package_sha256": self.sha256.hex(),
            "package_bytes": h["package_bytes"],
            "engine_abi": h["engine_abi"],
            "created_s": h["created_s"],
            "layers": self.plan_info.header["layers"],
            "kernels": [k.op_name for k in LayerKind if self.plan_info.header["kernels"] & k.bit],
            "plan_bytes": h["plan_bytes"],
            "golden_vectors": h["vector_count"],
            "golden_frame": [h["vector_rows"], h["vector_cols"]],
            "scratch_bytes": h["scratch_bytes"],
            "scratch_cols": h["scratch_cols"],
        }


def _section(h: dict, name: str, start: int, end: int) -> tuple[int, int]:
    off, size = h[f"{name}_offset"], h[f"{name}_bytes"]
    if off % PACKAGE_ALIGN or off < start or off + size > end or size == 0:
        raise PackageError(
            f"{name} section at {off}, {size} bytes: not 8-aligned in bytes {start}..{end}"
        )
    return off, off + size


def parse_package(data: bytes | bytearray | memoryview) -> Package:
    """Checks and splits a package (the checks the satellite makes before it trusts one, but
    those of the engine and the image: ABI, kernels, scratch, golden vectors on board);
    :class:`PackageError` naming the defect."""
    data = bytes(data)
    n = len(data)
    if n < PACKAGE_HEADER.size + CRC_BYTES:
        raise PackageError(f"package of {n} bytes is shorter than its header and CRC")
    h = PACKAGE_HEADER.unpack(data)
    if h["magic"] != PACKAGE_MAGIC:
        raise PackageError(f"package magic 0x{h['magic']:08X}, expected 0x{PACKAGE_MAGIC:08X}")
    if h["version"] != PACKAGE_VERSION:
        raise PackageError(f"package format {h['version']}, expected {PACKAGE_VERSION}")
    if h["package_bytes"] != n:
        raise PackageError(f"package says {h['package_bytes']} bytes, has {n}")
    if n > MAX_PACKAGE_BYTES:
        raise PackageError(f"package of {n} bytes, a slot holds {MAX_PACKAGE_BYTES}")
    crc = zlib.crc32(data[: n - CRC_BYTES])
    if crc != int.from_bytes(data[n - CRC_BYTES :], "big"):
        raise PackageError("package CRC-32 mismatch")
    if h["model_id"] == 0:
        raise PackageError("model id 0 is reserved for the compiled-in cell classifier")
    p0, p1 = _section(h, "plan", PACKAGE_HEADER.size, n - CRC_BYTES)
    s0, s1 = _section(h, "spec", p1, n - CRC_BYTES)
    v0, v1 = _section(h, "vectors", s1, n - CRC_BYTES)
    if h["spec_bytes"] != MODEL_SPEC.size:
        raise PackageError(
            f"spec section of {h['spec_bytes']} bytes, MODEL_SPEC is {MODEL_SPEC.size}"
        )
    plan = data[p0:p1]
    info = parse_plan(plan)
    if info.header["abi"] != h["engine_abi"]:
        raise PackageError(
            f"package says engine ABI {h['engine_abi']}, its plan {info.header['abi']}"
        )
    spec = MODEL_SPEC.unpack(data, s0)
    if spec["bands"] != info.in_c or spec["classes"] != info.out_c:
        raise PackageError(
            f"spec of {spec['bands']} bands and {spec['classes']} classes, plan of "
            f"{info.in_c} -> {info.out_c} channels"
        )
    count, rows, cols = h["vector_count"], h["vector_rows"], h["vector_cols"]
    if not 1 <= count <= MAX_GOLDEN_VECTORS or not 1 <= rows * cols <= MAX_GOLDEN_PIXELS:
        raise PackageError(f"{count} golden vectors of {rows} x {cols} px")
    oh, ow, oc = info.output_shape(rows, cols)
    ins, outs = rows * cols * info.in_c, oh * ow * oc
    if h["vectors_bytes"] != count * (ins + outs):
        raise PackageError(
            f"golden vectors of {h['vectors_bytes']} bytes, {count} x ({ins} + {outs}) expected"
        )
    vectors = []
    for k in range(count):
        a = v0 + k * (ins + outs)
        vectors.append(GoldenVector(data[a : a + ins], data[a + ins : a + ins + outs]))
    del v1
    return Package(data, h, plan, info, spec, vectors)


def package_sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
