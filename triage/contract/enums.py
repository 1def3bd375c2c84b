"""The enumerations both sides of the contract use, each defined once.

- :class:`Action`: what the on-board decision does with a cell (the codes the
  firmware's cell grid holds, ``TRI_ACTION_*``);
- :class:`LandPolicy`: what becomes of land cells (``TRI_LAND_*``);
- :class:`Status`: the firmware's status codes (``tri_status_t``), which cross
  the host bindings;
- product types with their APIDs, packet types and sequence flags, compression
  and predictor codes, downlink-request actions.

The class list is not here: it is part of the tile spec
(:mod:`triage.contract.tile_spec`, ``models/tile_spec.json``), because the
network's outputs define it. The generator renders every enum here into C
(``tri_contract.h``, ``tri_status.h``, ``wire_format.h``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class DocIntEnum(IntEnum):
    """An IntEnum whose members carry a one-line description (``Member.doc``)."""

    def __new__(cls, value: int, doc: str = ""):
        obj = int.__new__(cls, value)
        obj._value_ = value
        obj.doc = doc
        return obj


class Action(DocIntEnum):
    """Per-cell decisions, by the code the on-board cell grid holds."""

    NODATA = 0, "more than half of the cell is no-data: not decided"
    DISCARD = 1, "the top class reached its discard threshold: counted, nothing sent"
    CROP = 2, "the ship output reached the crop threshold: full-resolution crop"
    LOWRES = 3, "kept as a low-resolution product"
    LAND_DROP = 4, "land under the drop policy: counted, nothing sent"

    @property
    def label(self) -> str:
        """The lower-case name used in reports and JSON (``land_drop``)."""
        return self.name.lower()


class LandPolicy(DocIntEnum):
    """What becomes of cells whose top class is land (neither cropped nor discarded)."""

    DROP = 0, "dropped (counted): the quicklook and class map carry the context"
    LOWRES = 1, "kept as a low-resolution product"

    @property
    def label(self) -> str:
        return self.name.lower()


class Status(DocIntEnum):
    """The one status type of the firmware (``tri_status_t``): 0 success, errors negative.

    Codes are stable: they cross the host bindings and appear in logs and tests."""

    OK = 0, "success"
    ERR_ARG = -1, "null pointer or argument out of its legal range"
    ERR_NO_IMPL = -2, "operator, type or feature not implemented"
    ERR_ALIGN = -3, "buffer not aligned as required"
    ERR_SIZE = -4, "buffer, arena or store too small"
    ERR_SHAPE = -5, "tensor or frame geometry inconsistent"
    ERR_FORMAT = -6, "malformed model, metadata, header or packet"
    ERR_CRC = -7, "checksum mismatch"
    ERR_FULL = -8, "product store full (lowest priority evicted)"
    ERR_IO = -9, "port-level input/output failure"
    ERR_NODATA = -10, "frame holds no valid data (every cell no-data)"
    ERR_AUTH = -11, "telecommand not authenticated (key, MAC or anti-replay sequence)"
    ERR_STATE = -12, "not allowed in the current state (e.g. an upload while a model is on trial)"


STATUS_LABELS = {
    Status.OK: "ok",
    Status.ERR_ARG: "argument error",
    Status.ERR_NO_IMPL: "not implemented",
    Status.ERR_ALIGN: "misaligned buffer",
    Status.ERR_SIZE: "buffer too small",
    Status.ERR_SHAPE: "inconsistent shape",
    Status.ERR_FORMAT: "malformed input",
    Status.ERR_CRC: "CRC mismatch",
    Status.ERR_FULL: "store full",
    Status.ERR_IO: "I/O error",
    Status.ERR_NODATA: "no valid data",
    Status.ERR_AUTH: "not authenticated",
    Status.ERR_STATE: "wrong state",
}
"""The short constant name ``tri_status_str`` gives each status."""

INPUT_STATUSES = frozenset(
    {Status.ERR_ARG, Status.ERR_SIZE, Status.ERR_SHAPE, Status.ERR_FORMAT, Status.ERR_CRC}
)
"""Statuses that blame the caller's input (a bad frame or record), not the firmware."""


# ---------------------------------------------------------------- packets (CCSDS 133.0-B)

PACKET_VERSION = 0  # CCSDS 133.0-B: version 1 is encoded as 0b000
PACKET_TYPE_TM = 0
PACKET_TYPE_TC = 1

SEQ_CONTINUATION = 0b00
SEQ_FIRST = 0b01
SEQ_LAST = 0b10
SEQ_UNSEGMENTED = 0b11
SEQ_COUNT_MODULO = 1 << 14

APID_IDLE = 0x7FF  # CCSDS idle packets: skipped by the ground
APID_DOWNLINK_REQUEST = 0x110
"""Telecommand (packet type 1) from the ground: DOWNLINK_REQUEST records."""
APID_MODEL_UPLOAD = 0x111
"""Telecommand: one segment of an authenticated model upload (UPLOAD_SEGMENT header)."""
APID_MODEL_COMMAND = 0x112
"""Telecommand: an authenticated MODEL_COMMAND (commit, roll back, factory default)."""


class RequestAction(DocIntEnum):
    """The ``action`` of a DOWNLINK_REQUEST record."""

    SEND = 1, "send segments first..last of the product, in request order"
    RELEASE = 2, "the ground holds the whole product; free it on board"
    REST = 3, "then every segment never sent, in priority order (ids and segments 0)"


class ModelAction(DocIntEnum):
    """The ``action`` of a MODEL_COMMAND telecommand."""

    COMMIT = 1, "the model on trial (model_id) becomes the committed one"
    ROLLBACK = 2, "back to the previous model (the one before model_id)"
    FACTORY = 3, "back to the factory default compiled into the image"


class Slot(DocIntEnum):
    """Where a model lives on board (BOOT_RECORD ``active``/``previous``, MODEL_STATUS)."""

    FACTORY = 0, "the factory default package compiled into the image (read-only)"
    A = 1, "model slot A (model flash)"
    B = 2, "model slot B (model flash)"
    NONE = 0xFF, "no model"


class Refusal(DocIntEnum):
    """Why the model manager refused a telecommand, an upload or a model, or fell back: each
    reason has its counter in MODEL_STATUS (``refusals[code - 1]``). The previous model keeps
    running in every case."""

    PACKET = 1, "a model telecommand packet failed its checks (CRC-16, header, length)"
    ORDER = 2, "an upload segment out of order (index, upload, or a continuation with no upload)"
    TRUNCATED = 3, "an upload cut short: another began, or its last segment came early"
    TOO_LARGE = 4, "an upload larger than the staging buffer or a model slot"
    KEY = 5, "a key id (SPI) this spacecraft has no key for"
    MAC = 6, "the HMAC-SHA-256 does not verify (tampered bytes or another key)"
    SEQUENCE = 7, "an anti-replay sequence number not above the last accepted (replay)"
    FORMAT = 8, "a package header, section or length that does not parse"
    CRC = 9, "the package's CRC-32 does not match"
    ABI = 10, "a package for another engine ABI (plan format)"
    KERNEL = 11, "a plan that needs a kernel this image lacks"
    ARENA = 12, "a plan whose scratch at the image's frame width does not fit its memory"
    SPEC = 13, "a tile spec this image does not process (bands, gains, quantisation, classes, cell)"
    PLAN = 14, "a plan the engine refuses at bind (tnn_stream_begin)"
    GOLDEN = 15, "the package's golden vectors fail on board"
    FLASH = 16, "programming or reading back a model slot failed"
    TRIAL_RESET = 17, "a reset while a model was on trial: back to the previous one"
    CORRUPT = 18, "the active slot failed its integrity check at boot: back to the previous one"
    COMMAND = 19, "a MODEL_COMMAND that does not apply (unknown action, wrong model id, no trial)"
    BUSY = 20, "an upload while a model is on trial (its fallback slot must be kept)"


# ---------------------------------------------------------------- products


@dataclass(frozen=True)
class ProductType:
    """A kind of downlink product, with the APID its packets carry."""

    code: int
    apid: int
    name: str
    doc: str


PRODUCT_TYPES: tuple[ProductType, ...] = (
    ProductType(
        1,
        0x101,
        "SHIP_CROP",
        "full-resolution pixels of every band of merged ship cells (the kept rectangles: "
        "KEPT_RECT)",
    ),
    ProductType(2, 0x102, "QUICKLOOK", "the whole frame, area-averaged down by an integer factor"),
    ProductType(
        3, 0x103, "CLASS_MAP", "per-cell class and confidence on the cell grid (2 bands, u8)"
    ),
    ProductType(4, 0x104, "LAND", "land regions kept at reduced resolution (policy-dependent)"),
    ProductType(5, 0x105, "FRAME_SUMMARY", "per-frame triage counters (layout FRAME_SUMMARY)"),
    ProductType(
        6,
        0x106,
        "STORE_DIRECTORY",
        "what the on-board product store holds (a DIRECTORY_HEADER, then STORE_ENTRY "
        "records); sent first in every pass",
    ),
    ProductType(
        7,
        0x107,
        "MODEL_STATUS",
        "the model manager's state: slots, active model, trial, refusals by reason "
        "(layout MODEL_STATUS)",
    ),
)
PRODUCT_BY_CODE = {p.code: p for p in PRODUCT_TYPES}
PRODUCT_BY_APID = {p.apid: p for p in PRODUCT_TYPES}
PRODUCT_BY_NAME = {p.name: p for p in PRODUCT_TYPES}

PLATFORM_PRODUCTS = frozenset({"STORE_DIRECTORY", "MODEL_STATUS"})
"""Product types about the platform, not a frame: their ``frame_id`` is DIRECTORY_FRAME_ID +
the boot count, their ``product_id`` from one counter (unique after a reset too)."""

IMAGE_PRODUCTS = frozenset({"SHIP_CROP", "QUICKLOOK", "CLASS_MAP", "LAND"})
"""Product types whose body is band streams (the others carry records)."""

CLASS_NONE = 0xFF
"""Class id of products that describe a whole frame (quicklook, class map), and of
no-data cells in the class map."""

COMPRESSION_NONE = 0
COMPRESSION_CCSDS121 = 1

AEC_BLOCK_SIZES = (8, 16, 32, 64)
AEC_FLAG_PREPROCESS = 0x01
"""aec_flags bit: unit-delay predictor with the standard's mapping (CCSDS 121
preprocessor) applied before the adaptive entropy coder."""
AEC_FLAG_NEIGHBOUR = 0x02
"""aec_flags bit: the neighbour predictor (:mod:`triage.contract.predictor`) with the
standard's mapping, applied by the sender; the adaptive entropy coder then runs
without its own preprocessor (libaec decodes the mapped residuals with flags 0).
CCSDS 121.0-B leaves the predictor to the application; this one predicts a
pixel from its west, north and north-west neighbours (median edge detector,
as in JPEG-LS) on the difference to the previous band. Never with bit 0."""
AEC_FLAGS_KNOWN = (0, AEC_FLAG_PREPROCESS, AEC_FLAG_NEIGHBOUR)


def aec_decode_flags(aec_flags: int) -> int:
    """libaec flag bits for a header's ``aec_flags``.

    libaec's values: AEC_DATA_SIGNED 1, AEC_DATA_3BYTE 2, AEC_DATA_MSB 4,
    AEC_DATA_PREPROCESS 8, AEC_RESTRICTED 16, AEC_PAD_RSI 32. Samples are
    unsigned and the stream is not padded at reference sample intervals. The
    coded stream does not depend on how samples sit in memory: decoders
    return them in their own byte order. A stream holds whole blocks: give
    the decoder an output buffer of whole blocks (imagecodecs' size guess can
    be too small for highly compressible streams) and drop the samples past
    ``rows * cols``.
    """
    return 8 if aec_flags & AEC_FLAG_PREPROCESS else 0
