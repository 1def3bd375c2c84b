"""The physical downlink: a link budget along each pass, bit errors, the real decoder.

With ``packet_loss.model = "link_budget"`` the simulator no longer draws packet losses:
the satellite's packets go through the firmware's own link layer
(:func:`triage.onboard.host.link_encode`: transfer frames, Reed-Solomon (255,223) at
depth 5, the randomiser, 1279-byte CADUs), every CADU gets the bit errors of the channel
at the moment it is on the air, and the ground station ingests the damaged CADU stream
with its own receiver (sync search, derandomisation, Reed-Solomon decoding, frame
checks, packets across frames). Frames are lost exactly where the code cannot correct
them.

The channel of a CADU (:class:`LinkBudget` in the manifest, ``link.budget``):

- **slant range** from the satellite to the station at the CADU's time, by SGP4 from the
  manifest's TLE (skyfield), sampled along the pass and interpolated;
- **free-space path loss** ``20 log10(4 pi d f / c)``;
- **Eb/N0** per channel bit ``= EIRP + G/T - FSPL - losses - 10 log10(k) - 10 log10(R)``
  (dB; k Boltzmann's constant, R the channel bit rate ``link.rate_bps``: every bit on
  the air, sync marker and parity included);
- **bit error rate** of coherent BPSK (QPSK with Gray coding has the same per bit):
  ``0.5 erfc(sqrt(Eb/N0))``; the coding is the Reed-Solomon code alone (no
  convolutional code), so this is the error rate the RS decoder sees;
- **bit errors**: each of the CADU's 10,232 bits flips independently with that
  probability (a binomial count, positions uniform), seeded per mode and pass.

What the channel did is also worked out from the error pattern alone, independently of
the ground's decoder (:func:`cadu_outcome`): a codeword of RS(255,223) is corrected when
at most 16 of its 255 bytes are wrong, and the byte errors are exactly the symbols the
decoder must correct; a CADU's frame survives when its five codewords do. The simulator
hands the tracker the packets whose every frame survived and compares the ground's
counts with these.

The baselines (no real bits: :mod:`triage.sim.baselines` sizes their products) see the
same channel through the same budget: each frame they would send is lost with the
probability that one of its five codewords has more than 16 byte errors at that
moment's bit error rate (:func:`frame_loss_probability`).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from triage.contract.frames import (
    ASM_BYTES,
    CADU_BYTES,
    DATA_FIELD_BYTES,
    RS_E,
    RS_INTERLEAVE,
    RS_N,
)
from triage.sim.errors import OrbitError
from triage.sim.ground import ACQUISITION_S
from triage.sim.manifest import LinkBudget, Manifest, Tle
from triage.sim.orbit import satellite

SPEED_OF_LIGHT_M_S = 299_792_458.0
BOLTZMANN_DBW_PER_K_HZ = 10.0 * math.log10(1.380649e-23)  # -228.599 dB(W/K/Hz)
CADU_BITS = 8 * CADU_BYTES
RANGE_STEP_S = 2.0
"""Spacing of the slant-range samples along a pass (interpolated in between)."""


def free_space_loss_db(range_km: np.ndarray | float, frequency_hz: float) -> np.ndarray:
    """Free-space path loss (dB) over ``range_km`` at ``frequency_hz``."""
    d = np.asarray(range_km, dtype=np.float64) * 1000.0
    return 20.0 * np.log10(4.0 * math.pi * d * frequency_hz / SPEED_OF_LIGHT_M_S)


def ebn0_db(budget: LinkBudget, range_km: np.ndarray | float, rate_bps: int) -> np.ndarray:
    """Eb/N0 per channel bit (dB) at ``range_km`` for ``rate_bps`` on the air."""
    return (
        budget.eirp_dbw
        + budget.g_over_t_db_k
        - free_space_loss_db(range_km, budget.frequency_hz)
        - budget.losses_db
        - BOLTZMANN_DBW_PER_K_HZ
        - 10.0 * math.log10(rate_bps)
    )


def bpsk_ber(ebn0: np.ndarray | float) -> np.ndarray:
    """Bit error rate of coherent BPSK at Eb/N0 given in dB."""
    lin = np.power(10.0, np.asarray(ebn0, dtype=np.float64) / 10.0)
    erfc = np.vectorize(math.erfc, otypes=[np.float64])
    return 0.5 * erfc(np.sqrt(lin))


_K = np.arange(RS_N + 1)
_LOG_BINOM = np.array(
    [math.lgamma(RS_N + 1) - math.lgamma(k + 1) - math.lgamma(RS_N - k + 1) for k in _K]
)


def codeword_failure_probability(ber: np.ndarray | float) -> np.ndarray:
    """Probability that an RS(255,223) codeword has more than E = 16 wrong bytes when
    each bit is wrong independently with probability ``ber``."""
    ber = np.clip(np.atleast_1d(np.asarray(ber, dtype=np.float64)), 1e-300, 0.5)
    p = -np.expm1(8.0 * np.log1p(-ber))  # a byte has at least one bit wrong
    logpmf = (
        _LOG_BINOM[None, :]
        + _K[None, :] * np.log(p)[:, None]
        + (RS_N - _K)[None, :] * np.log1p(-p)[:, None]
    )
    return np.minimum(1.0, np.exp(logpmf[:, RS_E + 1 :]).sum(axis=1))


def frame_loss_probability(ber: np.ndarray | float) -> np.ndarray:
    """Probability that a CADU's frame is lost: one of its codewords is uncorrectable."""
    return -np.expm1(RS_INTERLEAVE * np.log1p(-codeword_failure_probability(ber)))


@dataclass(frozen=True)
class CaduOutcome:
    """What bit errors did to CADUs, from the error pattern alone."""

    survived: np.ndarray  # bool per CADU: every codeword has at most E byte errors
    symbol_errors: np.ndarray  # [n, RS_INTERLEAVE] wrong bytes per codeword
    asm_bit_errors: np.ndarray  # per CADU, in the 32-bit sync marker

    @property
    def symbols_corrected(self) -> int:
        """Symbols a correct decoder corrects: the byte errors of the surviving CADUs."""
        return int(self.symbol_errors[self.survived].sum())

    @property
    def lost(self) -> int:
        return int(np.count_nonzero(~self.survived))


_POP = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


def cadu_outcome(sent: bytes, received: bytes) -> CaduOutcome:
    """Which CADUs of ``sent`` the code can restore from ``received`` (same length)."""
    a = np.frombuffer(sent, dtype=np.uint8).reshape(-1, CADU_BYTES)
    b = np.frombuffer(received, dtype=np.uint8).reshape(-1, CADU_BYTES)
    diff = a ^ b
    wrong = diff[:, ASM_BYTES:] != 0  # codeblock byte i belongs to codeword i % depth
    per_word = wrong.reshape(len(a), RS_N, RS_INTERLEAVE).sum(axis=1)
    return CaduOutcome(
        survived=(per_word <= RS_E).all(axis=1),
        symbol_errors=per_word,
        asm_bit_errors=_POP[diff[:, :ASM_BYTES]].sum(axis=1),
    )


def flip_bits(cadus: bytes, ber: np.ndarray, rng: np.random.Generator) -> bytes:
    """``cadus`` with each bit of CADU ``i`` flipped independently with ``ber[i]``."""
    n = len(cadus) // CADU_BYTES
    counts = rng.binomial(CADU_BITS, np.asarray(ber, dtype=np.float64))
    base = np.repeat(np.arange(n, dtype=np.int64) * CADU_BITS, counts)
    pos = np.unique(base + rng.integers(0, CADU_BITS, int(counts.sum())))
    data = np.frombuffer(cadus, dtype=np.uint8).copy()
    np.bitwise_xor.at(data, pos // 8, (0x80 >> (pos % 8)).astype(np.uint8))
    return data.tobytes()


@dataclass
class PassLink:
    """One pass of one mode on the physical channel: what was sent and what arrived."""

    cadus_sent: int = 0
    ebn0_min_db: float | None = None
    ebn0_max_db: float | None = None
    bit_errors: int = 0
    frames_lost_expected: int = 0  # from the error pattern (or the draw, for baselines)
    symbols_corrected_expected: int = 0
    # the ground station's receiver (not for the baselines)
    symbols_corrected: int | None = None
    codeblocks_uncorrectable: int | None = None
    frames_received: int | None = None

    @property
    def frames_lost(self) -> int:
        """Frames sent that the ground did not get (the expectation for the baselines)."""
        if self.frames_received is None:
            return self.frames_lost_expected
        return self.cadus_sent - self.frames_received

    def see(self, ebn0: np.ndarray) -> None:
        if len(ebn0):
            lo, hi = float(ebn0.min()), float(ebn0.max())
            self.ebn0_min_db = lo if self.ebn0_min_db is None else min(self.ebn0_min_db, lo)
            self.ebn0_max_db = hi if self.ebn0_max_db is None else max(self.ebn0_max_db, hi)

    def as_dict(self) -> dict:
        d = {
            k: v
            for k, v in self.__dict__.items()
            if not k.startswith("_") and not isinstance(v, np.ndarray)
        }
        for k in ("ebn0_min_db", "ebn0_max_db"):
            if d[k] is not None:
                d[k] = round(d[k], 2)
        d["frames_lost"] = self.frames_lost
        return d


@dataclass
class _Geometry:
    t_s: np.ndarray  # seconds after AOS
    range_km: np.ndarray


@dataclass
class PhysicalChannel:
    """The link budget of ``manifest`` along the passes of one satellite (``tle``: its
    orbit, the manifest's by default; a constellation's others from
    :func:`~triage.sim.constellation.constellation_tles`), for one mode (seeded by name)."""

    manifest: Manifest
    stream: str
    tle: Tle | None = None
    _geom: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        m = self.manifest
        if m.link.budget is None or m.orbit.tle is None:
            raise OrbitError("the link_budget channel needs link.budget and orbit.tle")
        self.tle = self.tle or m.orbit.tle
        self.budget = m.link.budget
        self.rate_bps = m.link.rate_bps
        self.rng = np.random.default_rng([m.packet_loss.seed, zlib.crc32(self.stream.encode())])
        self.cadu_s = CADU_BITS / self.rate_bps

    # -- geometry
    def range_km(self, p, seconds_after_aos: np.ndarray) -> np.ndarray:
        """Slant range (km) from the pass's station at these times (interpolated)."""
        g = self._geom.get(p.index)
        if g is None:
            g = self._geom[p.index] = self._sample(p)
        return np.interp(seconds_after_aos, g.t_s, g.range_km)

    def _sample(self, p) -> _Geometry:
        from skyfield.api import load, wgs84

        st = {s.name: s for s in self.manifest.stations}.get(p.station)
        if st is None:
            raise OrbitError(f"pass {p.index}: station {p.station!r} is not in the manifest")
        sat = satellite(self.tle)
        where = wgs84.latlon(st.latitude_deg, st.longitude_deg, elevation_m=st.altitude_m)
        n = max(2, math.ceil(p.duration_s / RANGE_STEP_S) + 1)
        t = np.linspace(0.0, p.duration_s, n)
        ts = load.timescale(builtin=True)
        times = ts.from_datetimes([p.aos + timedelta(seconds=float(s)) for s in t])
        _, _, dist = (sat - where).at(times).altaz()
        return _Geometry(t, np.asarray(dist.km, dtype=np.float64))

    def cadu_times(self, first: int, n: int) -> np.ndarray:
        """Seconds after AOS at which CADUs ``first .. first + n - 1`` of a pass end."""
        return ACQUISITION_S + (first + 1 + np.arange(n)) * self.cadu_s

    def ebn0(self, p, first: int, n: int) -> np.ndarray:
        return ebn0_db(self.budget, self.range_km(p, self.cadu_times(first, n)), self.rate_bps)

    # -- triage: real CADUs
    def send_cadus(self, p, first: int, cadus: bytes, link: PassLink) -> tuple[bytes, CaduOutcome]:
        """The CADUs as received (bit errors of their moment in the pass) and what the
        errors did to them; counts into ``link``."""
        n = len(cadus) // CADU_BYTES
        e = self.ebn0(p, first, n)
        received = flip_bits(cadus, bpsk_ber(e), self.rng)
        out = cadu_outcome(cadus, received)
        link.see(e)
        link.cadus_sent += n
        diff = np.frombuffer(cadus, np.uint8) ^ np.frombuffer(received, np.uint8)
        link.bit_errors += int(_POP[diff].sum())
        link.frames_lost_expected += out.lost
        link.symbols_corrected_expected += out.symbols_corrected
        return received, out

    # -- the baselines: a draw per frame with the code's failure probability
    def lost_frames(self, p, first: int, n: int, link: PassLink) -> np.ndarray:
        """Frames ``first ..`` of a pass lost (True), drawn from their loss probability."""
        e = self.ebn0(p, first, n)
        lost = self.rng.random(n) < frame_loss_probability(bpsk_ber(e))
        link.see(e)
        link.cadus_sent += n
        link.frames_lost_expected += int(lost.sum())
        return lost


def packet_frames(sizes: np.ndarray, first_byte: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """First and last frame of each packet laid back to back in frames' data fields from
    byte ``first_byte`` of the first one (TM 132.0-B: packets fill the data fields in
    order, spanning frames)."""
    ends = first_byte + np.cumsum(np.asarray(sizes, dtype=np.int64))
    starts = ends - np.asarray(sizes, dtype=np.int64)
    return starts // DATA_FIELD_BYTES, (ends - 1) // DATA_FIELD_BYTES


def packets_survived(sizes: np.ndarray, frame_ok: np.ndarray) -> np.ndarray:
    """Per packet: every frame it touches arrived."""
    first, last = packet_frames(sizes)
    bad = np.concatenate([[0], np.cumsum(~np.asarray(frame_ok, dtype=bool))])
    return bad[last + 1] - bad[first] == 0
