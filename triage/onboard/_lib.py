"""Loading the host build of the firmware (``build/host/libtrifw.so``) with ctypes.

Only this module touches ctypes signatures; the rest of :mod:`triage.onboard`
calls the small wrappers here.
"""

from __future__ import annotations

import ctypes
from functools import cache
from pathlib import Path

import numpy as np

from triage import paths
from triage.contract.enums import INPUT_STATUSES, Status
from triage.contract.records import CRC16_INIT
from triage.onboard.errors import OnboardError, OnboardInputError

LIB_RELATIVE = "host/libtrifw.so"

_c_size = ctypes.c_size_t
_u8p = ctypes.POINTER(ctypes.c_uint8)
_vp = ctypes.c_void_p
SINK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
"""tri_sink_t.write: (ctx, data, len) -> tri_status_t."""


def library_path(build_dir: Path | None = None) -> Path:
    """Where the host library is (``$TRIAGE_BUILD_DIR/host/libtrifw.so`` by default)."""
    if build_dir is not None:
        return Path(build_dir) / LIB_RELATIVE
    return paths.require_built(LIB_RELATIVE)


@cache
def load(path: str | None = None) -> ctypes.CDLL:
    """The host library with every signature this package uses declared."""
    where = str(path or library_path())
    lib = ctypes.CDLL(where)
    try:
        _declare(lib)
    except AttributeError as exc:  # a symbol this checkout's sources define is missing
        raise OnboardError(
            f"{where} was built from other firmware sources than this checkout's ({exc}): "
            "rebuild it with `make firmware` (or `make setup`)"
        ) from None
    return lib


def _declare(lib: ctypes.CDLL) -> None:
    lib.tri_status_str.restype = ctypes.c_char_p
    lib.tri_status_str.argtypes = [ctypes.c_int]
    lib.tri_aec_encode_u16.restype = ctypes.c_int
    lib.tri_aec_encode_u16.argtypes = [
        _vp,
        _c_size,
        ctypes.c_uint32,
        ctypes.c_uint32,
        ctypes.c_uint32,
        ctypes.c_uint32,
        _vp,
        _c_size,
        ctypes.POINTER(_c_size),
    ]
    lib.tri_crc16.restype = ctypes.c_uint16
    lib.tri_crc16.argtypes = [ctypes.c_uint16, _vp, _c_size]
    if hasattr(lib, "tri_sha256_init"):
        lib.tri_sha256_init.restype = None
        lib.tri_sha256_init.argtypes = [_vp]
        lib.tri_sha256_update.restype = None
        lib.tri_sha256_update.argtypes = [_vp, _vp, _c_size]
        lib.tri_sha256_final.restype = None
        lib.tri_sha256_final.argtypes = [_vp, _vp]
        lib.tri_hmac_sha256_init.restype = None
        lib.tri_hmac_sha256_init.argtypes = [_vp, _vp, _c_size]
        lib.tri_hmac_sha256_update.restype = None
        lib.tri_hmac_sha256_update.argtypes = [_vp, _vp, _c_size]
        lib.tri_hmac_sha256_final.restype = None
        lib.tri_hmac_sha256_final.argtypes = [_vp, _vp]
        lib.tri_digest_equal.restype = ctypes.c_int
        lib.tri_digest_equal.argtypes = [_vp, _vp, _c_size]
    _declare_app(lib)


def _declare_app(lib: ctypes.CDLL) -> None:
    """Signatures of the on-board application's host glue (ports/host/app_host.c)."""
    if not hasattr(lib, "tri_host_onboard_bytes"):
        return
    u32 = ctypes.c_uint32
    sizep = ctypes.POINTER(_c_size)
    lib.tri_host_onboard_bytes.restype = _c_size
    lib.tri_host_onboard_bytes.argtypes = []
    lib.tri_host_work_bytes.restype = _c_size
    lib.tri_host_work_bytes.argtypes = []
    lib.tri_host_has_model.restype = ctypes.c_int
    lib.tri_host_has_model.argtypes = []
    lib.tri_host_model_sha256.restype = ctypes.c_char_p
    lib.tri_host_model_sha256.argtypes = []
    lib.tri_host_init.restype = ctypes.c_int
    lib.tri_host_init.argtypes = [_vp, _vp, _c_size, _vp, _c_size, _vp, _c_size, ctypes.c_int, _vp]
    lib.tri_host_scratch_bytes.restype = _c_size
    lib.tri_host_scratch_bytes.argtypes = []
    lib.tri_host_process_frame.restype = ctypes.c_int
    lib.tri_host_process_frame.argtypes = [_vp, _vp, _c_size, _vp, _c_size, SINK, _vp]
    lib.tri_host_directory.restype = ctypes.c_int
    lib.tri_host_directory.argtypes = [_vp, SINK, _vp, sizep]
    lib.tri_host_downlink.restype = ctypes.c_int
    lib.tri_host_downlink.argtypes = [_vp, u32, _vp, _c_size, SINK, _vp, sizep]
    lib.tri_host_counters.restype = ctypes.c_int
    lib.tri_host_counters.argtypes = [_vp, ctypes.POINTER(u32), _c_size]
    lib.tri_host_store_check.restype = ctypes.c_int
    lib.tri_host_store_check.argtypes = [_vp]
    lib.tri_host_store_use.restype = ctypes.c_int
    lib.tri_host_store_use.argtypes = [_vp, ctypes.POINTER(u32)]
    lib.tri_host_set_land_policy.restype = ctypes.c_int
    lib.tri_host_set_land_policy.argtypes = [_vp, ctypes.c_uint32]
    lib.tri_host_set_boot_count.restype = ctypes.c_int
    lib.tri_host_set_boot_count.argtypes = [_vp, ctypes.c_uint32]
    lib.tri_host_set_policy.restype = ctypes.c_int
    lib.tri_host_set_policy.argtypes = [_vp, _vp, ctypes.c_int32, ctypes.c_int32]
    lib.tri_host_bind_model.restype = ctypes.c_int
    lib.tri_host_bind_model.argtypes = [_vp, _vp, _vp, _c_size]
    lib.tri_host_bind_active.restype = ctypes.c_int
    lib.tri_host_bind_active.argtypes = [_vp, _vp, _vp, _c_size]
    lib.tri_host_stream_scratch_bytes.restype = _c_size
    lib.tri_host_stream_scratch_bytes.argtypes = [_vp]
    lib.tri_host_set_link.restype = ctypes.c_int
    lib.tri_host_set_link.argtypes = [_vp, ctypes.c_uint32, ctypes.c_uint32]
    lib.tri_host_link_encode.restype = ctypes.c_int
    lib.tri_host_link_encode.argtypes = [u32, u32, u32, _vp, _c_size, SINK, _vp]
    lib.tri_host_preprocess_row.restype = ctypes.c_int
    lib.tri_host_preprocess_row.argtypes = [_vp, u32, u32, u32, u32, _vp, _vp, _vp, _vp]
    lib.tri_host_decide.restype = ctypes.c_int
    lib.tri_host_decide.argtypes = [
        _vp,
        _c_size,
        _vp,
        ctypes.c_int32,
        ctypes.c_int32,
        u32,
        _vp,
        _vp,
    ]
    lib.tri_frame_report_field.restype = ctypes.c_char_p
    lib.tri_frame_report_field.argtypes = [u32, ctypes.POINTER(ctypes.c_int32)]


def status_name(status: int) -> str:
    """The firmware's own short name of a status code."""
    return load().tri_status_str(int(status)).decode()


def check(status: int, what: str) -> None:
    """Raise the matching error for a non-zero status."""
    if status == Status.OK:
        return
    msg = f"{what}: {status_name(status)} (status {status})"
    if status in INPUT_STATUSES:
        raise OnboardInputError(msg, status)
    raise OnboardError(msg, status)


def ptr(buf) -> int:
    """Address of a writable/readable contiguous buffer (numpy array or ctypes buffer)."""
    if isinstance(buf, np.ndarray):
        if not buf.flags["C_CONTIGUOUS"]:
            raise ValueError("array must be C-contiguous")
        return buf.ctypes.data
    return ctypes.addressof(buf)


def aec_encode(
    samples: np.ndarray, bits: int, block_size: int, rsi: int, preprocess: bool = True
) -> bytes:
    """The firmware's CCSDS 121.0-B encoder on a 1-D array of unsigned samples."""
    lib = load()
    a = np.ascontiguousarray(samples, dtype=np.uint16).ravel()
    blocks = -(-len(a) // block_size)
    cap = (blocks * (block_size * bits + 8)) // 8 + 16
    out = ctypes.create_string_buffer(cap)
    n = _c_size(0)
    st = lib.tri_aec_encode_u16(
        a.ctypes.data if len(a) else None,
        len(a),
        bits,
        block_size,
        rsi,
        1 if preprocess else 0,
        out,
        cap,
        ctypes.byref(n),
    )
    check(st, "tri_aec_encode_u16")
    return out.raw[: n.value]


def crc16(data: bytes) -> int:
    """The firmware's CRC-16."""
    buf = ctypes.create_string_buffer(bytes(data), len(data) or 1)
    return int(load().tri_crc16(CRC16_INIT, buf, len(data)))


SHA256_STATE_BYTES = 256
"""Room for tri_sha256_t (108 bytes) or tri_hmac_sha256_t (216 bytes), rounded up."""


class Sha256:
    """The firmware's SHA-256 (tri_sha256.h), incremental, as hashlib's interface."""

    def __init__(self) -> None:
        self._lib = load()
        self._state = ctypes.create_string_buffer(SHA256_STATE_BYTES)
        self._lib.tri_sha256_init(self._state)

    def update(self, data: bytes | memoryview) -> None:
        buf = (ctypes.c_char * len(data)).from_buffer_copy(data) if len(data) else None
        self._lib.tri_sha256_update(self._state, buf, len(data))

    def digest(self) -> bytes:
        out = ctypes.create_string_buffer(32)
        self._lib.tri_sha256_final(self._state, out)
        return out.raw


class HmacSha256:
    """The firmware's HMAC-SHA-256 (tri_hmac.h), incremental."""

    def __init__(self, key: bytes) -> None:
        self._lib = load()
        self._state = ctypes.create_string_buffer(SHA256_STATE_BYTES)
        kbuf = ctypes.create_string_buffer(bytes(key), max(1, len(key)))
        self._lib.tri_hmac_sha256_init(self._state, kbuf, len(key))

    def update(self, data: bytes) -> None:
        buf = ctypes.create_string_buffer(bytes(data), max(1, len(data)))
        self._lib.tri_hmac_sha256_update(self._state, buf, len(data))

    def digest(self) -> bytes:
        out = ctypes.create_string_buffer(32)
        self._lib.tri_hmac_sha256_final(self._state, out)
        return out.raw


def digest_equal(a: bytes, b: bytes) -> bool:
    """tri_digest_equal on two byte strings of the same length."""
    if len(a) != len(b):
        raise ValueError("digests of different lengths")
    ba = ctypes.create_string_buffer(bytes(a), max(1, len(a)))
    bb = ctypes.create_string_buffer(bytes(b), max(1, len(b)))
    return bool(load().tri_digest_equal(ba, bb, len(a)))


def report_field(index: int) -> tuple[str, int] | None:
    """Report word ``index``: its field name and, for a per-class field, the class id of the
    word (-1 for the others); ``None`` past the last word (tri_frame_report_field)."""
    class_id = ctypes.c_int32(-1)
    name = load().tri_frame_report_field(index, ctypes.byref(class_id))
    return None if name is None else (name.decode(), class_id.value)
