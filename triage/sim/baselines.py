"""The two baselines: send every frame raw, or losslessly compressed (CCSDS 121.0-B).

A baseline satellite has no triage: each frame becomes one product (the whole
frame, every band, full resolution) held in mass memory and sent oldest first.
That memory is not limited here (a satellite that downlinks whole frames carries a
recorder for them), whereas triage's products live in the firmware's store (7 MB of
the board's PSRAM by default) and can be dropped or evicted when it is full: the
comparison favours the baselines on that point.
The product is sized exactly as the wire format would carry it (a 140-byte
product header and the band streams, segments of 1024 bytes, 38 bytes of packet
overhead each); the compressed baseline codes every band with libaec (the
reference CCSDS 121.0-B implementation, through ``imagecodecs``) with the block
size, reference sample interval and predictor the firmware uses for its pixel
products (the neighbour predictor, aec_flags bit 1, so that triage's crops are
not compared against a weaker coder), and, like the firmware, codes the
instrument's numbers where the frame declares a dn scale (see FRAME_META in
triage/WIRE_FORMAT.md).

The passes, budgets, loss model and ground behaviour are the triage run's: the
store directory goes first, then the held products in order; the ground asks,
in the next pass, for the segments it missed. A frame counts as delivered when
every one of its segments reached the ground.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from triage.contract.coding import AEC_BLOCK_SIZE, AEC_RSI
from triage.contract.packets import segment_count, segments_bytes
from triage.contract.predictor import dn_from_samples, neighbour_residuals, samples_from_dn
from triage.contract.records import PRODUCT_HEADER
from triage.contract.records import directory_bytes as directory_product_bytes
from triage.sim.channel import PassLink, PhysicalChannel, packet_frames
from triage.sim.link import LossChannel, Pass, packet_time

PREDICTORS = ("neighbour", "unit-delay")
AEC_PREDICTOR = "neighbour"

RAW = "raw"
COMPRESSED = "compressed"
BASELINES = (RAW, COMPRESSED)
BASELINE_TITLES = {
    RAW: "send every frame raw",
    COMPRESSED: "send every frame losslessly compressed (CCSDS 121.0-B)",
}
FIRST_PASS_RULE = (
    "a frame counts as delivered only when every one of its segments reached the ground, "
    "so its ships count in the pass that completes it, not in a pass that sent part of it"
)
BASELINE_RULES = {
    RAW: (
        "every frame sent whole (all bands, 16-bit samples as captured, 140-byte product "
        "header, 1024-byte segments), oldest first, from an unlimited recorder; after the "
        "store directory each pass sends what it can; lost segments are asked for again in "
        "the next pass; " + FIRST_PASS_RULE
    ),
    COMPRESSED: (
        "as raw, but every band coded losslessly with CCSDS 121.0-B (libaec, the firmware's "
        "block size, reference interval and neighbour predictor; instrument numbers where "
        "the frame declares a dn scale); " + FIRST_PASS_RULE
    ),
}


def raw_product_bytes(frame: np.ndarray) -> int:
    """Bytes of a frame sent raw: product header + every sample."""
    return PRODUCT_HEADER.size + frame.size * frame.itemsize


def compressed_product_bytes(
    frame: np.ndarray,
    block_size: int = AEC_BLOCK_SIZE,
    rsi: int = AEC_RSI,
    predictor: str = AEC_PREDICTOR,
    dn_scale: tuple[int, int] | None = None,
) -> int:
    """Bytes of a frame sent compressed: product header + one libaec stream per band.

    ``predictor``: "neighbour" (the sender maps the residuals of
    :func:`triage.contract.predictor.neighbour_residuals`, libaec codes them with flags 0) or
    "unit-delay" (libaec's own preprocessor). With ``dn_scale`` the frame is coded as
    the firmware codes its products: as instrument numbers when every sample lies on the
    lattice (else as it is).
    """
    import imagecodecs

    if predictor not in PREDICTORS:
        raise ValueError(f"predictor {predictor!r}: one of {PREDICTORS}")
    bits = 8 * frame.itemsize
    total = PRODUCT_HEADER.size
    if dn_scale is not None:
        dn = dn_from_samples(frame, *dn_scale)
        if np.array_equal(samples_from_dn(dn, *dn_scale), frame):
            frame = dn.astype(frame.dtype)
    bands = np.moveaxis(frame, 2, 0)
    if predictor == "neighbour":
        kept = np.ones(frame.shape[:2], dtype=bool)
        bands = [m.astype(frame.dtype) for m in neighbour_residuals(bands, kept, bits)]
    for band in bands:
        stream = imagecodecs.aec_encode(
            np.ascontiguousarray(band),
            bitspersample=bits,
            blocksize=block_size,
            rsi=rsi,
            flags=imagecodecs.AEC.FLAG.DATA_PREPROCESS if predictor == "unit-delay" else 0,
        )
        total += len(stream)
    return total


def segment_packet_sizes(product_bytes: int) -> np.ndarray:
    """Packet sizes (bytes) of each segment of a product."""
    n = segment_count(product_bytes)
    return np.array([segments_bytes(product_bytes, i, i) for i in range(n)], dtype=np.int64)


def directory_bytes(entries: int) -> int:
    """Packet bytes of a STORE_DIRECTORY product listing ``entries`` products."""
    product = directory_product_bytes(entries)
    return int(segment_packet_sizes(product).sum())


@dataclass
class _Held:
    frame_id: int
    capture_time: datetime
    product_bytes: int
    packet_sizes: np.ndarray
    missing: np.ndarray  # bool per segment: not yet on the ground


@dataclass
class BaselinePassResult:
    pass_index: int
    budget_bytes: int
    sent_bytes: int = 0
    packets_sent: int = 0
    packets_lost: int = 0
    completed: list[tuple[int, datetime]] = field(default_factory=list)
    link: PassLink | None = None  # the physical channel's figures


class BaselineDownlink:
    """A baseline satellite and its ground, pass after pass.

    With ``physical`` (the ``link_budget`` channel) its packets are laid in transfer
    frames back to back from the start of the pass and each frame is lost with the code's
    failure probability at its moment (:meth:`PhysicalChannel.lost_frames`); a packet is
    lost when one of its frames is."""

    def __init__(
        self,
        name: str,
        loss: LossChannel,
        rate_bps: int,
        physical: PhysicalChannel | None = None,
    ):
        self.name = name
        self.loss = loss
        self.rate_bps = rate_bps
        self.physical = physical
        self.held: list[_Held] = []
        self.delivered: dict[int, datetime] = {}
        self._frames = np.zeros(0, dtype=bool)
        self._link: PassLink | None = None

    def _lost(self, p: Pass, start: int, sizes: np.ndarray) -> np.ndarray:
        """Which of the packets of ``sizes`` sent from byte ``start`` of the pass are lost."""
        if self.physical is None or self._link is None:
            return self.loss.lost(len(sizes))
        first, last = packet_frames(sizes, start)
        have, need = len(self._frames), int(last[-1]) + 1
        if need > have:
            more = self.physical.lost_frames(p, have, need - have, self._link)
            self._frames = np.concatenate([self._frames, more])
        bad = np.concatenate([[0], np.cumsum(self._frames)])
        return bad[last + 1] - bad[first] > 0

    def capture(self, frame_id: int, capture_time: datetime, product_bytes: int) -> None:
        sizes = segment_packet_sizes(product_bytes)
        self.held.append(
            _Held(frame_id, capture_time, product_bytes, sizes, np.ones(len(sizes), dtype=bool))
        )

    def run_pass(self, p: Pass) -> BaselinePassResult:
        res = BaselinePassResult(p.index, p.budget_bytes)
        if self.physical is not None:
            self._frames = np.zeros(0, dtype=bool)
            self._link = res.link = PassLink()
        used = 0
        d = directory_bytes(len(self.held))
        if d <= p.budget_bytes:
            used = d
            lost = self._lost(
                p,
                0,
                segment_packet_sizes(directory_product_bytes(len(self.held))),
            )
            res.packets_sent += len(lost)
            res.packets_lost += int(lost.sum())
        for h in self.held:
            idx = np.flatnonzero(h.missing)  # requested at the start of this pass
            if len(idx) == 0:
                continue
            sizes = h.packet_sizes[idx]
            ends = used + np.cumsum(sizes)
            fit = int(np.searchsorted(ends, p.budget_bytes, side="right"))
            if fit == 0:
                break
            idx, ends = idx[:fit], ends[:fit]
            lost = self._lost(p, used, sizes[:fit])
            h.missing[idx[~lost]] = False
            res.packets_sent += fit
            res.packets_lost += int(lost.sum())
            used = int(ends[-1])
            if not h.missing.any():
                last_needed = int(ends[~lost][-1])
                when = packet_time(p, last_needed, self.rate_bps)
                self.delivered[h.frame_id] = when
                res.completed.append((h.frame_id, when))
            if fit < len(sizes):
                break
        res.sent_bytes = used
        # products complete on the ground are released on board
        self.held = [h for h in self.held if h.missing.any()]
        return res
