"""The downlink: passes, their byte budgets, packet timing and a seeded loss model.

Contact windows and budgets are the ground station's (``ground_station.passes``,
through :mod:`triage.sim.ground`); this module turns a manifest's orbit into a list
of :class:`Pass` (from the TLE and stations, or the manifest's explicit list), each
holding its :class:`~ground_station.passes.ContactWindow` (the very object the
ground plans the pass with), splits a packet stream into packets, decides which
packets the channel loses (:class:`LossChannel`; the physical channel, bit errors
through the real decoder, is :mod:`triage.sim.channel`), and says when each packet reaches
the ground (the link sends CCSDS CADUs, so packet bytes travel at
``rate x CADU_DATA_BYTES / CADU_BYTES`` after the acquisition time):
:func:`transmit` puts packets on the air and gives a :class:`Transmission`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from triage.sim.errors import OrbitError
from triage.sim.ground import (
    ACQUISITION_S,
    CADU_BYTES,
    CADU_DATA_BYTES,
    ContactWindow,
    GroundStationError,
    Station,
    contact_windows,
    pass_budget_bytes,
)
from triage.sim.manifest import Manifest, PacketLoss


@dataclass(frozen=True)
class Pass:
    """One pass of the simulated window: its contact window and its byte budget.

    ``elevation_known`` is False for a manifest's explicit pass (no orbit, so no
    elevation: its window carries 0.0, which :attr:`max_elevation_deg` reports as None).
    """

    index: int
    window: ContactWindow
    budget_bytes: int
    elevation_known: bool = True

    @property
    def station(self) -> str:
        return self.window.station

    @property
    def aos(self) -> datetime:
        return self.window.aos

    @property
    def los(self) -> datetime:
        return self.window.los

    @property
    def duration_s(self) -> float:
        return self.window.duration_s

    @property
    def max_elevation_deg(self) -> float | None:
        return self.window.max_elevation_deg if self.elevation_known else None


def plan_passes(manifest: Manifest) -> list[Pass]:
    """The passes of the simulated window, in time order, with their byte budgets.

    :class:`OrbitError` when the TLE does not parse or no pass carries any byte.
    """
    start, end = manifest.window_start_utc, manifest.window_end_utc
    windows: list[ContactWindow]
    if manifest.orbit.tle is not None:
        stations = [
            Station(
                name=s.name,
                lat_deg=s.latitude_deg,
                lon_deg=s.longitude_deg,
                alt_m=s.altitude_m,
                min_elevation_deg=s.min_elevation_deg,
            )
            for s in manifest.stations
        ]
        try:
            windows = contact_windows(manifest.orbit.tle.text, stations, start, end)
        except GroundStationError as exc:
            raise OrbitError(f"orbit.tle ({manifest.orbit.tle.name}): {exc}") from None
    else:
        assert manifest.orbit.passes is not None
        windows = [
            ContactWindow(station=p.station, aos=p.start_utc, los=p.end_utc, max_elevation_deg=0.0)
            for p in sorted(manifest.orbit.passes, key=lambda p: p.start_utc)
            if p.end_utc > start and p.start_utc < end
        ]
    passes = []
    for w in windows:
        budget = pass_budget_bytes(w, manifest.link.rate_bps)
        if budget <= 0:
            continue
        passes.append(
            Pass(
                index=len(passes),
                window=w,
                budget_bytes=budget,
                elevation_known=manifest.orbit.tle is not None,
            )
        )
    if not passes:
        where = ", ".join(s.name for s in manifest.stations) or "the listed passes"
        raise OrbitError(
            f"no pass in the window {start.isoformat()} .. {end.isoformat()} over {where} "
            f"carries any byte at {manifest.link.rate_bps} bit/s"
        )
    return passes


def packet_seconds_per_byte(rate_bps: int) -> float:
    """Air time of one space-packet byte (CADU framing and Reed-Solomon included)."""
    return 8.0 * CADU_BYTES / CADU_DATA_BYTES / rate_bps


def packet_time(p: Pass, bytes_before_end: int, rate_bps: int) -> datetime:
    """When a packet whose last byte is ``bytes_before_end`` into the pass reaches the ground."""
    return p.aos + timedelta(
        seconds=ACQUISITION_S + bytes_before_end * packet_seconds_per_byte(rate_bps)
    )


@dataclass(frozen=True)
class Transmission:
    """Packets put on the air back to back in one pass, and what the channel did to them."""

    packets: list[bytes]
    lost: np.ndarray  # bool per packet: True = the channel lost it
    ends: np.ndarray  # per packet: bytes of the pass's budget used once it is sent
    arrival_s: np.ndarray | None = None
    """Per packet, seconds after AOS at which its last byte reaches the ground, when the
    channel says (the physical channel: the end of the CADU holding it)."""

    @property
    def end(self) -> int:
        """Bytes of the pass's budget used once the last packet is sent."""
        return int(self.ends[-1])

    @property
    def packets_lost(self) -> int:
        return int(self.lost.sum())

    def arrived(self, p: Pass, rate_bps: int) -> list[tuple[bytes, datetime]]:
        """The packets that reached the ground, each with the time its last byte did."""
        if self.arrival_s is not None:
            return [
                (pk, p.aos + timedelta(seconds=float(t)))
                for pk, gone, t in zip(self.packets, self.lost, self.arrival_s, strict=True)
                if not gone
            ]
        return [
            (pk, packet_time(p, int(end), rate_bps))
            for pk, gone, end in zip(self.packets, self.lost, self.ends, strict=True)
            if not gone
        ]


def transmit(packets: list[bytes], start: int, channel: LossChannel) -> Transmission:
    """Send non-empty ``packets`` from byte ``start`` of a pass's budget through ``channel``."""
    ends = start + np.cumsum([len(x) for x in packets])
    return Transmission(packets, channel.lost(len(packets)), ends)


class LossChannel:
    """A seeded packet-loss process; each simulated mode gets its own stream."""

    def __init__(self, cfg: PacketLoss, stream: str):
        self.cfg = cfg
        seed = [cfg.seed, zlib.crc32(stream.encode())]
        self.rng = np.random.default_rng(seed)
        self.bad = False
        self.sent = 0
        self.lost_count = 0

    def lost(self, n: int) -> np.ndarray:
        """Loss decisions (True = lost) for the next ``n`` packets."""
        cfg = self.cfg
        out = np.zeros(n, dtype=bool)
        if n == 0 or cfg.model in ("none", "link_budget"):  # link_budget: triage.sim.channel
            self.sent += n
            return out
        u = self.rng.random(n)
        if cfg.model == "bernoulli":
            out = u < cfg.loss_probability
        else:
            v = self.rng.random(n)
            bad = self.bad
            for i in range(n):
                bad = (v[i] >= cfg.p_bad_to_good) if bad else (v[i] < cfg.p_good_to_bad)
                out[i] = u[i] < (cfg.loss_in_bad if bad else cfg.loss_in_good)
            self.bad = bad
        self.sent += n
        self.lost_count += int(out.sum())
        return out
