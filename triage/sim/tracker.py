"""The simulator's own packet tracker: which products are complete on the ground, and when.

It reads only the space-packet headers of what reached the ground (the wire format's
primary and secondary headers), never the ground station's catalogue, so it is an
independent check of the catalogue (the runner notes any disagreement on complete
ship crops), and it gives the scoring the time each product was completed: when its
last missing segment arrived.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from triage.contract.enums import PRODUCT_BY_NAME
from triage.contract.packets import PRIMARY_HEADER, SECONDARY_HEADER
from triage.sim.scoring import Delivery

SHIP_CROP_APID = PRODUCT_BY_NAME["SHIP_CROP"].apid


@dataclass
class ProductTrack:
    """The ground's view of one product, rebuilt from the packets that arrived."""

    apid: int
    segment_count: int
    region: tuple[int, int, int, int]  # row0, col0, rows, cols in the frame
    received: set[int] = field(default_factory=set)
    completed_at: datetime | None = None


class PacketTracker:
    """Products seen on the ground, by (frame id, product id), from their packets."""

    def __init__(self) -> None:
        self.products: dict[tuple[int, int], ProductTrack] = {}

    def add(self, packet: bytes, when: datetime) -> bool:
        """Record a packet that arrived at ``when``; True when it completed its product."""
        prim = PRIMARY_HEADER.unpack(packet)
        if prim["type"] != 0 or not prim["sec_hdr_flag"]:
            return False
        sec = SECONDARY_HEADER.unpack(packet, PRIMARY_HEADER.size)
        key = (sec["frame_id"], sec["product_id"])
        tr = self.products.get(key)
        if tr is None:
            tr = ProductTrack(
                prim["apid"],
                sec["segment_count"],
                (sec["region_row0"], sec["region_col0"], sec["region_rows"], sec["region_cols"]),
            )
            self.products[key] = tr
        if tr.completed_at is not None:
            return False
        tr.received.add(sec["segment_index"])
        if len(tr.received) == tr.segment_count:
            tr.completed_at = when
            return True
        return False

    def complete(self) -> set[tuple[int, int]]:
        """(frame id, product id) of every complete product."""
        return {k for k, t in self.products.items() if t.completed_at is not None}

    def complete_ship_crops(self) -> set[tuple[int, int]]:
        """(frame id, product id) of every complete ship crop."""
        return {
            k
            for k, t in self.products.items()
            if t.completed_at is not None and t.apid == SHIP_CROP_APID
        }

    def ship_deliveries(self, kept: dict[tuple[int, int], np.ndarray]) -> list[Delivery]:
        """Complete ship crops, each with its kept-pixel mask from ``kept`` (by frame and
        product id: the ground's decoded pixels); a crop without one keeps no pixel."""
        out = []
        for key, tr in self.products.items():
            if tr.apid != SHIP_CROP_APID or tr.completed_at is None:
                continue
            mask = kept.get(key)
            if mask is None or mask.shape != (tr.region[2], tr.region[3]):
                mask = np.zeros((tr.region[2], tr.region[3]), dtype=bool)
            out.append(Delivery(key[0], *tr.region, time=tr.completed_at, kept=mask))
        return out
