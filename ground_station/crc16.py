"""The wire format's CRC-16 over many packets or frames at once, compiled with numba.

The CRC is the contract's (:data:`~triage.contract.records.CRC16_POLY`, initial value
:data:`~triage.contract.records.CRC16_INIT`, no reflection, no final XOR); binascii's
``crc_hqx`` is the same CRC one buffer per call. Here it runs eight bytes per step
("slicing by 8"): table ``k`` holds the CRC effect of one byte followed by ``k`` zero
bytes, built from the polynomial, so eight table rows XORed together replace eight
byte steps. The register is folded into the first two bytes of each step (no
reflection: its high byte meets the first byte). The tests hold it to ``crc_hqx`` and
to the published check value.
"""

from __future__ import annotations

from functools import cache

import numba
import numpy as np

from triage.contract.records import CRC16_CHECK, CRC16_INIT, CRC16_POLY


@cache
def tables() -> np.ndarray:
    """``[8, 256]`` uint16: row ``k``, column ``v`` is the CRC (from a zero register) of
    byte ``v`` followed by ``k`` zero bytes."""
    t = np.zeros((8, 256), dtype=np.int64)
    for v in range(256):
        c = v << 8
        for _ in range(8):
            c = ((c << 1) ^ CRC16_POLY) if c & 0x8000 else c << 1
        t[0, v] = c & 0xFFFF
    for k in range(1, 8):
        prev = t[k - 1]
        t[k] = ((prev << 8) & 0xFFFF) ^ t[0, prev >> 8]
    return t.astype(np.uint16)


@numba.njit(cache=True, nogil=True)
def crc16_span(buf, start, end, init, t):
    """CRC of ``buf[start:end]`` (uint8) from register ``init``, with :func:`tables` ``t``."""
    c = np.uint32(init)
    i = start
    while i + 8 <= end:
        b0 = np.uint32(buf[i]) ^ (c >> np.uint32(8))
        b1 = np.uint32(buf[i + 1]) ^ (c & np.uint32(0xFF))
        c = (
            np.uint32(t[7, b0])
            ^ np.uint32(t[6, b1])
            ^ np.uint32(t[5, buf[i + 2]])
            ^ np.uint32(t[4, buf[i + 3]])
            ^ np.uint32(t[3, buf[i + 4]])
            ^ np.uint32(t[2, buf[i + 5]])
            ^ np.uint32(t[1, buf[i + 6]])
            ^ np.uint32(t[0, buf[i + 7]])
        )
        i += 8
    while i < end:
        c = ((c << np.uint32(8)) & np.uint32(0xFFFF)) ^ np.uint32(
            t[0, (c >> np.uint32(8)) ^ np.uint32(buf[i])]
        )
        i += 1
    return c


@numba.njit(cache=True, nogil=True)
def _rows_nb(rows, init, t, out):
    for r in range(rows.shape[0]):
        out[r] = crc16_span(rows[r], 0, rows.shape[1], init, t)


def crc16(data: bytes | bytearray | memoryview | np.ndarray, init: int = CRC16_INIT) -> int:
    """The CRC of one buffer (as :func:`triage.contract.records.crc16`)."""
    ready()
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    return int(crc16_span(buf, 0, len(buf), init, tables()))


def crc16_rows(rows: np.ndarray, init: int = CRC16_INIT) -> np.ndarray:
    """The CRC of every row of ``rows`` ``[n, length]`` uint8 (e.g. transfer frames,
    their FECF included: 0 where it is right)."""
    rows = np.ascontiguousarray(rows, dtype=np.uint8)
    out = np.zeros(len(rows), dtype=np.uint32)
    if rows.ndim != 2:
        raise ValueError(f"rows must be [n, length], got {rows.shape}")
    ready()
    _rows_nb(rows, init, tables(), out)
    return out


@cache
def ready() -> None:
    """Once per process, on first use: load the compiled functions (numba's cache) and check
    the CRC against the wire format's published check value."""
    buf = np.frombuffer(b"123456789", dtype=np.uint8)
    if int(crc16_span(buf, 0, len(buf), CRC16_INIT, tables())) != CRC16_CHECK:
        raise AssertionError("the compiled CRC-16 does not give the wire format's check value")
    _rows_nb(np.zeros((1, 8), dtype=np.uint8), CRC16_INIT, tables(), np.zeros(1, np.uint32))
