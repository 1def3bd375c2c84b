"""FRAME_META: the record that comes with each frame into the firmware.

Packed and unpacked from the single definition in :mod:`triage.contract.records`
(layout ``FRAME_META``, CRC-16 over bytes 0..85).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from triage.contract.errors import LayoutError
from triage.contract.predictor import check_dn_scale
from triage.contract.records import FORMAT_VERSION, FRAME_META, FRAME_META_MAGIC, crc16
from triage.onboard.errors import OnboardInputError

IDENTITY_GEOTRANSFORM = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)


def time_fields(t: datetime | float | int) -> tuple[int, int]:
    """CUC-style (seconds, 1/65536 s) since 1970-01-01T00:00:00Z of a UTC time."""
    if isinstance(t, datetime):
        if t.tzinfo is None:
            raise OnboardInputError("capture time must be timezone-aware (UTC)")
        t = t.astimezone(UTC).timestamp()
    sec = math.floor(t)
    sub = min(round((t - sec) * 65536), 65535)
    if not 0 <= sec <= 0xFFFFFFFF:
        raise OnboardInputError(f"capture time {t} outside the 32-bit seconds range")
    return int(sec), int(sub)


@dataclass(frozen=True)
class FrameMeta:
    """What the payload computer (or the simulator) tells the firmware about a frame.

    ``geotransform`` is GDAL-ordered (x0, dx, rx, y0, ry, dy) in the CRS
    ``crs_epsg``; the firmware only copies it into every product header.
    ``dn_scale`` (``(dn_num, dn_den)``, ``(0, 0)`` for none) declares the frame's
    quantisation lattice: every sample is ``round(d * dn_num / dn_den)`` of an
    instrument number ``d`` (sen2ships: ``(65535, 10000)``); the firmware then
    codes ``d``, checking per product that the ground restores every sample.
    """

    frame_id: int
    rows: int
    cols: int
    bands: int
    sample_bits: int = 16
    nodata: int = 0
    time_s: int = 0
    time_sub: int = 0
    crs_epsg: int = 0
    geotransform: tuple[float, ...] = field(default=IDENTITY_GEOTRANSFORM)
    dn_scale: tuple[int, int] = (0, 0)

    @classmethod
    def for_frame(cls, frame: np.ndarray, frame_id: int, **kwargs) -> FrameMeta:
        """Metadata matching an array ``[rows, cols, bands]`` of uint8 or uint16."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.dtype not in (np.uint8, np.uint16):
            raise OnboardInputError(
                f"frame must be [rows, cols, bands] uint8/uint16, got {frame.shape} {frame.dtype}"
            )
        r, c, b = frame.shape
        bits = 8 * frame.dtype.itemsize
        return cls(frame_id=frame_id, rows=r, cols=c, bands=b, sample_bits=bits, **kwargs)

    def with_time(self, t: datetime | float | int) -> FrameMeta:
        s, sub = time_fields(t)
        return replace(self, time_s=s, time_sub=sub)

    def pack(self) -> bytes:
        """The 88-byte record, CRC included."""
        try:
            check_dn_scale(*self.dn_scale)
            body = FRAME_META.pack(
                {
                    "magic": FRAME_META_MAGIC,
                    "version": FORMAT_VERSION,
                    "sample_bits": self.sample_bits,
                    "bands": self.bands,
                    "rows": self.rows,
                    "cols": self.cols,
                    "nodata": self.nodata,
                    "frame_id": self.frame_id,
                    "time_s": self.time_s,
                    "time_sub": self.time_sub,
                    "crs_epsg": self.crs_epsg,
                    "geotransform": tuple(float(v) for v in self.geotransform),
                    "dn_num": self.dn_scale[0],
                    "dn_den": self.dn_scale[1],
                    "crc": 0,
                }
            )
        except LayoutError as exc:
            raise OnboardInputError(f"FRAME_META: {exc}") from exc
        crc_at = FRAME_META.field("crc").offset
        return body[:crc_at] + crc16(body[:crc_at]).to_bytes(2, "big")

    @classmethod
    def unpack(cls, buf: bytes) -> FrameMeta:
        """Decode and check a record (CRC, magic, version)."""
        if len(buf) != FRAME_META.size:
            raise OnboardInputError(f"FRAME_META is {FRAME_META.size} bytes, got {len(buf)}")
        d = FRAME_META.unpack(buf)
        crc_at = FRAME_META.field("crc").offset
        if crc16(buf[:crc_at]) != d["crc"]:
            raise OnboardInputError("FRAME_META: CRC mismatch")
        if d["magic"] != FRAME_META_MAGIC or d["version"] != FORMAT_VERSION:
            raise OnboardInputError("FRAME_META: bad magic or version")
        return cls(
            frame_id=d["frame_id"],
            rows=d["rows"],
            cols=d["cols"],
            bands=d["bands"],
            sample_bits=d["sample_bits"],
            nodata=d["nodata"],
            time_s=d["time_s"],
            time_sub=d["time_sub"],
            crs_epsg=d["crs_epsg"],
            geotransform=tuple(d["geotransform"]),
            dn_scale=(d["dn_num"], d["dn_den"]),
        )
