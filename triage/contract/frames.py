"""The link layer: CCSDS TM transfer frames (132.0-B) and their synchronisation and
channel coding (131.0-B), the one definition both the firmware and the ground read.

Space packets travel in fixed-length **TM transfer frames** of :data:`FRAME_BYTES`
bytes: a 6-byte primary header (:data:`TM_FRAME_HEADER`: spacecraft id, virtual
channel, master and virtual-channel frame counts, first header pointer), a data field
of :data:`DATA_FIELD_BYTES` bytes holding packets back to back (a packet may start in
one frame and end in the next), and the frame error control field (FECF: the wire
format's CRC-16-CCITT over the rest of the frame). No secondary header, no operational
control field.

Each frame then becomes one **CADU** of :data:`CADU_BYTES` bytes: the attached sync
marker :data:`ASM`, then the Reed-Solomon codeblock: the frame and 2E x I check
symbols of RS(255,223), E = 16, interleaved to depth I = 5, in the standard's dual
basis, the whole codeblock XORed with the CCSDS pseudo-randomiser.

This module holds the constants, the field and code tables (derived here from the
standard's definitions: the generator generates them into C), and a reference encoder
in Python (frames, idle fill, codeblocks, CADUs) for tools and tests; the firmware has
its own in C (``tri_link.c``, ``tri_rs.c``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from triage.contract.enums import (
    APID_IDLE,
    PACKET_TYPE_TM,
    PACKET_VERSION,
    SEQ_UNSEGMENTED,
    DocIntEnum,
)
from triage.contract.errors import LayoutError
from triage.contract.layout import Field, Layout
from triage.contract.packets import (
    CRC_SIZE,
    DEFAULT_SPACECRAFT_ID,
    MAX_PACKET_BYTES,
    MAX_SPACECRAFT_ID,
    PRIMARY_HEADER,
)
from triage.contract.records import crc16

# ---------------------------------------------------------------- transfer frames


class LinkMode(DocIntEnum):
    """What the firmware's downlink writes to its sink (``tri_onboard_set_link``)."""

    PACKETS = 0, "bare space packets, one per write"
    FRAMES = 1, "TM transfer frames of FRAME_BYTES, no sync marker, no coding"
    CADU = 2, "CADUs of CADU_BYTES: sync marker, then the randomised RS codeblock"

    @property
    def label(self) -> str:
        return self.name.lower()


TM_FRAME_HEADER = Layout(
    "TM_FRAME_HEADER",
    6,
    "CCSDS 132.0-B TM transfer frame primary header (no secondary header, no OCF).",
    (
        Field(
            "version", 0, "u16", "transfer frame version number: 00", bits=2, shift=14, default=0
        ),
        Field("spacecraft_id", 0, "u16", "spacecraft identifier (SCID)", bits=10, shift=4),
        Field("vcid", 0, "u16", "virtual channel id (VC_*)", bits=3, shift=1),
        Field("ocf_flag", 0, "u16", "operational control field present: 0", bits=1, default=0),
        Field("mc_count", 2, "u8", "master channel frame count, modulo 256"),
        Field("vc_count", 3, "u8", "virtual channel frame count, modulo 256 per VC"),
        Field("sec_hdr_flag", 4, "u16", "secondary header present: 0", bits=1, shift=15, default=0),
        Field(
            "sync_flag", 4, "u16", "0: the data field holds packets", bits=1, shift=14, default=0
        ),
        Field("packet_order", 4, "u16", "packet order flag: 0", bits=1, shift=13, default=0),
        Field(
            "segment_length_id",
            4,
            "u16",
            "segment length identifier: 11 (sync flag 0)",
            bits=2,
            shift=11,
            default=3,
        ),
        Field(
            "first_header_pointer",
            4,
            "u16",
            "offset in the data field of the first packet that starts there; "
            "FHP_NO_PACKET: none starts, FHP_IDLE: idle data only",
            bits=11,
            shift=0,
        ),
    ),
)

FRAME_VERSION = 0
FRAME_BYTES = 1115
"""Transfer frame length: 5 x 223, the information part of an RS codeblock of depth 5."""
FECF_BYTES = 2
DATA_FIELD_BYTES = FRAME_BYTES - TM_FRAME_HEADER.size - FECF_BYTES
"""1107: the data field (packets and idle fill)."""
FHP_NO_PACKET = 0x7FF
"""First header pointer when no packet starts in the frame (the data field continues one)."""
FHP_IDLE = 0x7FE
"""First header pointer of a frame holding only idle data (OID frame)."""
SEGMENT_LENGTH_ID = 3

VC_PRODUCTS = 0
"""Virtual channel of the products a pass sends (tri_onboard_downlink)."""
VC_DIRECTORY = 1
"""Virtual channel of the STORE_DIRECTORY (and housekeeping)."""
VC_IDLE = 7
"""Virtual channel of frames of idle data only (FHP_IDLE)."""
VC_COUNT = 8


IDLE_FILL_BYTE = 0x55
"""The data of idle packets (the randomiser, not this pattern, keeps the bits moving)."""
IDLE_MIN_BYTES = PRIMARY_HEADER.size + CRC_SIZE
"""The smallest idle packet: a primary header and the CRC-16 (8 bytes)."""

# ---------------------------------------------------------------- sync and coding

ASM = 0x1ACFFC1D
"""Attached sync marker (131.0-B), sent before every codeblock."""
ASM_BYTES = 4
RS_N = 255
RS_K = 223
RS_E = 16
"""Symbol errors one codeword corrects."""
RS_PARITY = 2 * RS_E
RS_INTERLEAVE = 5
RS_FIELD_POLY = 0x187
"""GF(2^8) field generator F(x) = x^8 + x^7 + x^2 + x + 1; alpha is a root of F."""
RS_FIRST_ROOT = 112
"""The code generator g(x) = prod_{j=112}^{143} (x - alpha^(11 j))."""
RS_ROOT_STEP = 11
RS_DUAL_BETA = 117
"""The dual basis (l_0..l_7) is dual to (1, beta, .., beta^7), beta = alpha^117."""
CODEBLOCK_BYTES = RS_N * RS_INTERLEAVE
"""1275: an interleaved codeblock (the frame, then 160 check symbols)."""
CHECK_BYTES = RS_PARITY * RS_INTERLEAVE
CADU_BYTES = ASM_BYTES + CODEBLOCK_BYTES
"""1279: what the link carries per frame."""
RANDOMISER_PERIOD = 255
"""The randomiser's sequence repeats every 255 bytes (its bit period is 255)."""

if RS_K * RS_INTERLEAVE != FRAME_BYTES:
    raise AssertionError("the frame must fill the codeblock's information part")


def packet_budget(link_bytes: int, unit_bytes: int) -> int:
    """Packet bytes a pass of ``link_bytes`` may send when frames of ``unit_bytes`` on the
    link (:data:`CADU_BYTES`, or :data:`FRAME_BYTES` for bare frames) carry them: whole
    frames only, and :data:`IDLE_MIN_BYTES` kept back so that the idle fill of the last
    frame never needs a frame more (see :func:`idle_fill_sizes`)."""
    frames = max(0, int(link_bytes)) // unit_bytes
    return max(0, frames * DATA_FIELD_BYTES - IDLE_MIN_BYTES)


def idle_fill_sizes(remainder: int) -> list[int]:
    """Sizes of the idle packets that fill a frame whose data field has ``remainder``
    bytes left (0 < remainder <= DATA_FIELD_BYTES).

    Idle packets are at least :data:`IDLE_MIN_BYTES` and at most ``MAX_PACKET_BYTES``
    long; a remainder shorter than the smallest one is filled together with one more
    frame. The fill is split in as few packets as possible, of near-equal sizes
    (the first ones take the smaller share)."""
    if not 0 < remainder <= DATA_FIELD_BYTES:
        raise LayoutError(f"idle fill of {remainder} bytes")
    total = remainder if remainder >= IDLE_MIN_BYTES else remainder + DATA_FIELD_BYTES
    n = -(-total // MAX_PACKET_BYTES)
    base = total // n
    return [base] * (n - 1) + [total - base * (n - 1)]


def idle_packet(size: int) -> bytes:
    """An idle packet of ``size`` bytes: APID 0x7FF, no secondary header, unsegmented,
    sequence count 0, data :data:`IDLE_FILL_BYTE`, CRC-16 like every packet."""
    if not IDLE_MIN_BYTES <= size <= MAX_PACKET_BYTES:
        raise LayoutError(f"idle packet of {size} bytes")
    head = PRIMARY_HEADER.pack(
        {
            "version": PACKET_VERSION,
            "type": PACKET_TYPE_TM,
            "sec_hdr_flag": 0,
            "apid": APID_IDLE,
            "seq_flags": SEQ_UNSEGMENTED,
            "seq_count": 0,
            "data_length": size - PRIMARY_HEADER.size - 1,
        }
    )
    body = head + bytes([IDLE_FILL_BYTE]) * (size - IDLE_MIN_BYTES)
    return body + crc16(body).to_bytes(CRC_SIZE, "big")


def encode_frame(
    spacecraft_id: int, vcid: int, mc_count: int, vc_count: int, fhp: int, data_field: bytes
) -> bytes:
    """One transfer frame: header, data field (exactly :data:`DATA_FIELD_BYTES`), FECF."""
    if len(data_field) != DATA_FIELD_BYTES:
        raise LayoutError(f"data field of {len(data_field)} bytes, need {DATA_FIELD_BYTES}")
    head = TM_FRAME_HEADER.pack(
        {
            "spacecraft_id": spacecraft_id,
            "vcid": vcid,
            "mc_count": mc_count % 256,
            "vc_count": vc_count % 256,
            "first_header_pointer": fhp,
        }
    )
    frame = head + bytes(data_field)
    return frame + crc16(frame).to_bytes(FECF_BYTES, "big")


class FrameEncoder:
    """The reference framer: packets in, transfer frames out (the firmware's rules).

    Packets go to one virtual channel at a time; :meth:`flush` fills the frame in
    progress with idle packets (:func:`idle_fill_sizes`) and sends it. Frame counts run
    on across calls: master channel per frame, virtual channel per VC."""

    def __init__(self, spacecraft_id: int = DEFAULT_SPACECRAFT_ID) -> None:
        if not 0 <= spacecraft_id <= MAX_SPACECRAFT_ID:
            raise LayoutError(f"spacecraft id {spacecraft_id} not in 0..{MAX_SPACECRAFT_ID}")
        self.spacecraft_id = spacecraft_id
        self.mc_count = 0
        self.vc_counts = [0] * VC_COUNT
        self._vcid = 0
        self._data = bytearray()
        self._fhp = FHP_NO_PACKET

    def _emit(self) -> bytes:
        frame = encode_frame(
            self.spacecraft_id,
            self._vcid,
            self.mc_count,
            self.vc_counts[self._vcid],
            self._fhp,
            bytes(self._data),
        )
        self.mc_count = (self.mc_count + 1) % 256
        self.vc_counts[self._vcid] = (self.vc_counts[self._vcid] + 1) % 256
        self._data.clear()
        self._fhp = FHP_NO_PACKET
        return frame

    def put(self, vcid: int, packet: bytes) -> list[bytes]:
        """Add one whole packet on ``vcid``; the frames it completed."""
        if not 0 <= vcid < VC_COUNT:
            raise LayoutError(f"virtual channel {vcid}")
        out = []
        if self._data and vcid != self._vcid:
            out += self.flush()
        self._vcid = vcid
        pos = 0
        while pos < len(packet):
            if pos == 0 and self._fhp == FHP_NO_PACKET:
                self._fhp = len(self._data)
            take = min(DATA_FIELD_BYTES - len(self._data), len(packet) - pos)
            self._data += packet[pos : pos + take]
            pos += take
            if len(self._data) == DATA_FIELD_BYTES:
                out.append(self._emit())
        return out

    def flush(self) -> list[bytes]:
        """Fill the frame in progress with idle packets and send it (nothing if empty)."""
        if not self._data:
            return []
        vcid = self._vcid
        out = []
        for size in idle_fill_sizes(DATA_FIELD_BYTES - len(self._data)):
            out += self.put(vcid, idle_packet(size))
        return out

    def frames(self, vcid: int, packets: Iterable[bytes]) -> list[bytes]:
        """Every frame of ``packets`` on ``vcid``, the last one filled."""
        out = []
        for p in packets:
            out += self.put(vcid, p)
        return out + self.flush()


# ---------------------------------------------------------------- GF(2^8), dual basis


@cache
def gf_tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(exp, log) of GF(2^8) with :data:`RS_FIELD_POLY`, conventional representation
    (bit i: the coefficient of alpha^i). ``exp`` has 510 entries (no modulo needed for a
    sum of two logs); ``log[0]`` is unused (0)."""
    exp = [0] * 510
    log = [0] * 256
    x = 1
    for i in range(255):
        exp[i] = exp[i + 255] = x
        log[x] = i
        x <<= 1
        if x & 0x100:
            x ^= RS_FIELD_POLY
    if len(set(exp[:255])) != 255:
        raise AssertionError("the field polynomial is not primitive")
    return tuple(exp), tuple(log)


def gf_mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    exp, log = gf_tables()
    return exp[log[a] + log[b]]


def gf_pow(a: int, n: int) -> int:
    if a == 0:
        return 0
    exp, log = gf_tables()
    return exp[(log[a] * n) % 255]


def _trace(z: int) -> int:
    """Tr(z) = z + z^2 + z^4 + ... + z^128, which is 0 or 1."""
    t = 0
    for _ in range(8):
        t ^= z
        z = gf_mul(z, z)
    if t not in (0, 1):
        raise AssertionError("trace outside GF(2)")
    return t


@cache
def dual_basis_tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(TO_DUAL, FROM_DUAL): a symbol's conventional byte to its dual-basis byte, and back.

    131.0-B 4.3.9: with beta = alpha^117 and (l_0..l_7) the dual basis of
    (1, beta, .., beta^7) (Tr(l_i beta^j) = 1 if i = j, else 0), a symbol
    x = z_0 l_0 + .. + z_7 l_7 has z_k = Tr(x beta^k). The byte on the wire is
    z_0..z_7, z_0 first (the most significant bit)."""
    beta = gf_pow(2, RS_DUAL_BETA)
    powers = [gf_pow(beta, k) for k in range(8)]
    to_dual = []
    for x in range(256):
        z = 0
        for k in range(8):
            z |= _trace(gf_mul(x, powers[k])) << (7 - k)
        to_dual.append(z)
    from_dual = [0] * 256
    for x, z in enumerate(to_dual):
        from_dual[z] = x
    if sorted(to_dual) != list(range(256)):
        raise AssertionError("the dual basis map is not one to one")
    return tuple(to_dual), tuple(from_dual)


@cache
def rs_generator() -> tuple[int, ...]:
    """g(x) = prod_{j=112}^{143} (x - alpha^(11 j)), conventional coefficients, highest power
    first: ``g[0]`` = 1 (x^32), ``g[32]`` the constant term."""
    g = [1]
    for j in range(RS_FIRST_ROOT, RS_FIRST_ROOT + RS_PARITY):
        root = gf_pow(2, RS_ROOT_STEP * j)
        # (x - r) g(x), highest power first: coefficient i is g[i] + r g[i - 1]
        nxt = [g[0]] + [g[i] ^ gf_mul(root, g[i - 1]) for i in range(1, len(g))]
        nxt.append(gf_mul(root, g[-1]))
        g = nxt
    return tuple(g)


def rs_parity_conventional(info: Sequence[int]) -> list[int]:
    """The 32 check symbols of 223 information symbols, conventional representation: the
    remainder of info(x) x^32 divided by g(x) (the first symbol the highest power)."""
    if len(info) != RS_K:
        raise LayoutError(f"RS information of {len(info)} symbols, need {RS_K}")
    g = rs_generator()
    rem = [0] * RS_PARITY
    for s in info:
        fb = s ^ rem[0]
        rem = [*rem[1:], 0]
        if fb:
            for i in range(RS_PARITY):
                rem[i] ^= gf_mul(fb, g[i + 1])
    return rem


def rs_encode_dual(info: bytes) -> bytes:
    """One CCSDS codeword in the dual basis: the 223 information bytes as given (dual-basis
    symbols), then their 32 check symbols (the reference; slow)."""
    to_dual, from_dual = dual_basis_tables()
    parity = rs_parity_conventional([from_dual[b] for b in info])
    return bytes(info) + bytes(to_dual[p] for p in parity)


@cache
def randomiser() -> bytes:
    """The CCSDS pseudo-randomiser's first :data:`RANDOMISER_PERIOD` bytes (131.0-B 10.4):
    h(x) = x^8 + x^7 + x^5 + x^3 + 1, all ones at the start of each codeblock; the
    sequence s_{n+8} = s_{n+7} + s_{n+5} + s_{n+3} + s_n, s_0..s_7 = 1, first bit the
    most significant. It repeats every 255 bytes."""
    bits = [1] * 8
    while len(bits) < 8 * RANDOMISER_PERIOD:
        n = len(bits) - 8
        bits.append(bits[n + 7] ^ bits[n + 5] ^ bits[n + 3] ^ bits[n])
    return bytes(
        sum(bits[8 * k + i] << (7 - i) for i in range(8)) for k in range(RANDOMISER_PERIOD)
    )


def randomise(block: bytes) -> bytes:
    """XOR with the randomiser from its start (it is its own inverse)."""
    pn = randomiser()
    return bytes(b ^ pn[i % RANDOMISER_PERIOD] for i, b in enumerate(block))


def encode_codeblock(frame: bytes) -> bytes:
    """A frame and its check symbols, interleaved to depth 5: codeword j holds bytes j,
    j + 5, j + 10, .. of the frame, and its 32 check symbols go to the same positions of
    the last 160 bytes."""
    if len(frame) != FRAME_BYTES:
        raise LayoutError(f"frame of {len(frame)} bytes, need {FRAME_BYTES}")
    block = bytearray(frame) + bytearray(CHECK_BYTES)
    for j in range(RS_INTERLEAVE):
        word = rs_encode_dual(bytes(frame[j::RS_INTERLEAVE]))
        block[FRAME_BYTES + j :: RS_INTERLEAVE] = word[RS_K:]
    return bytes(block)


def encode_cadu(frame: bytes) -> bytes:
    """ASM, then the randomised codeblock of the frame."""
    return ASM.to_bytes(ASM_BYTES, "big") + randomise(encode_codeblock(frame))
