"""The link layer's definitions against independent references: the randomiser against
its defining recurrence and the standard's first bytes, the dual basis against the
standard's printed transformation matrices, Reed-Solomon codewords against the
`reedsolo` package (a conventional-basis codec set up with the CCSDS field and
generator: the basis conversion is the standard's), and the frame header against a
hand-packed one."""

from __future__ import annotations

import random

import pytest
import reedsolo

from triage.contract import frames as fr
from triage.contract.errors import LayoutError
from triage.contract.packets import MAX_PACKET_BYTES, split_packets
from triage.contract.records import crc16

# CCSDS 131.0-B-2 4.3.9: [z0..z7] = [u7..u0] x T_al and [u7..u0] = [z0..z7] x T_la, rows as
# printed (row i of T_al: the dual-basis bits of alpha^(7-i); row i of T_la: the
# conventional bits u7..u0 of l_i).
T_AL = [
    "10001101",
    "11101111",
    "11101100",
    "10000110",
    "11111010",
    "10011001",
    "10101111",
    "01111011",
]
T_LA = [
    "11000101",
    "01000010",
    "00101110",
    "11111101",
    "11110000",
    "01111001",
    "10101100",
    "11001100",
]


def _matmul_gf2(bits: int, rows: list[str]) -> int:
    out = 0
    for i, row in enumerate(rows):
        if bits >> (7 - i) & 1:
            out ^= int(row, 2)
    return out


def test_dual_basis_is_the_standards_matrices():
    to_dual, from_dual = fr.dual_basis_tables()
    for u in range(256):
        assert to_dual[u] == _matmul_gf2(u, T_AL), u
        assert from_dual[to_dual[u]] == u
        assert from_dual[u] == _matmul_gf2(u, T_LA), u


def test_randomiser_is_its_definition():
    pn = fr.randomiser()
    # the first bytes the standard lists for the sequence (131.0-B 10.4)
    assert pn[:5] == bytes([0xFF, 0x48, 0x0E, 0xC0, 0x9A])
    # an independent form: a Galois register of h(x) = x^8 + x^7 + x^5 + x^3 + 1
    # clocked bit by bit, the output the register's top bit
    state = [1] * 8  # s_n .. s_(n+7)
    out = []
    for _ in range(8 * 255):
        out.append(state[0])
        state = [*state[1:], state[7] ^ state[5] ^ state[3] ^ state[0]]
    ref = bytes(int("".join(map(str, out[8 * k : 8 * k + 8])), 2) for k in range(255))
    assert pn == ref
    # maximal length: the bit sequence has period 255 and no shorter one
    bits = out * 2
    assert all(bits[p : p + 255] != bits[:255] for p in range(1, 255))
    assert fr.randomise(fr.randomise(b"\x12" * 600)) == b"\x12" * 600


@pytest.fixture(scope="module")
def rsc():
    exp, _ = fr.gf_tables()
    # reedsolo's generator is the field element whose powers are the roots: alpha^11
    return reedsolo.RSCodec(
        nsym=32, nsize=255, fcr=112, prim=fr.RS_FIELD_POLY, generator=exp[11], c_exp=8
    )


def test_rs_codewords_match_reedsolo(rsc):
    to_dual, from_dual = fr.dual_basis_tables()
    rng = random.Random(131)
    for _ in range(40):
        info = bytes(rng.randrange(256) for _ in range(223))
        ours = fr.rs_encode_dual(info)
        ref = rsc.encode(bytes(from_dual[b] for b in info))
        assert ours == bytes(to_dual[b] for b in ref)


def test_reedsolo_decodes_our_codeblocks(rsc):
    to_dual, from_dual = fr.dual_basis_tables()
    rng = random.Random(132)
    frame = bytes(rng.randrange(256) for _ in range(fr.FRAME_BYTES))
    block = bytearray(fr.encode_codeblock(frame))
    for j in range(fr.RS_INTERLEAVE):
        word = bytearray(block[j :: fr.RS_INTERLEAVE])
        for pos in rng.sample(range(255), 16):  # as many errors as the code corrects
            word[pos] ^= rng.randrange(1, 256)
        decoded, _, errata = rsc.decode(bytes(from_dual[b] for b in word))
        assert bytes(to_dual[b] for b in decoded) == frame[j :: fr.RS_INTERLEAVE]
        assert len(errata) == 16


def test_frame_header_hand_packed():
    # scid 0x1A7, VC 1, OCF 0: 00 0110100111 001 0 = 0x1A72; counts 5, 3;
    # no secondary header, sync 0, order 0, segment length id 11, FHP 0x7FF: 0x1FFF
    frame = fr.encode_frame(0x1A7, 1, 5, 3, 0x7FF, bytes(fr.DATA_FIELD_BYTES))
    assert frame[:6] == bytes([0x1A, 0x72, 0x05, 0x03, 0x1F, 0xFF])
    assert len(frame) == 1115 and crc16(frame) == 0
    h = fr.TM_FRAME_HEADER.unpack(frame)
    assert (h["spacecraft_id"], h["vcid"], h["first_header_pointer"]) == (0x1A7, 1, 0x7FF)


def test_codeblock_and_cadu_geometry():
    assert (fr.FRAME_BYTES, fr.DATA_FIELD_BYTES, fr.CADU_BYTES) == (1115, 1107, 1279)
    frame = bytes(range(256)) * 4 + bytes(91)
    cadu = fr.encode_cadu(frame)
    assert cadu[:4] == bytes.fromhex("1ACFFC1D")
    block = fr.randomise(cadu[4:])
    assert block[: fr.FRAME_BYTES] == frame  # systematic: the frame goes out unchanged


@pytest.mark.parametrize("fill", [0, 1, 50, 1099, 1100, 1106, 1107 - 1060, 1107 - 1061])
def test_idle_fill_sizes(fill):
    remainder = fr.DATA_FIELD_BYTES - fill
    if remainder == 0:
        with pytest.raises(LayoutError):
            fr.idle_fill_sizes(remainder)
        return
    sizes = fr.idle_fill_sizes(remainder)
    assert all(fr.IDLE_MIN_BYTES <= s <= MAX_PACKET_BYTES for s in sizes)
    assert sum(sizes) in (remainder, remainder + fr.DATA_FIELD_BYTES)
    assert sum(sizes) == remainder or remainder < fr.IDLE_MIN_BYTES


def test_frame_encoder_pointers_and_counts():
    rng = random.Random(7)
    packets = [fr.idle_packet(rng.randrange(8, 1061)) for _ in range(30)]
    enc = fr.FrameEncoder(0x3FF)
    frames = enc.frames(2, packets)
    fields = [f[6:-2] for f in frames]
    stream = b"".join(fields)
    everything = split_packets(stream)  # the packets, then the idle fill, to the last byte
    assert everything[: len(packets)] == packets
    starts, pos = [], 0
    for p in everything:
        starts.append(pos)
        pos += len(p)
    for k, frame in enumerate(frames):
        h = fr.TM_FRAME_HEADER.unpack(frame)
        assert (h["spacecraft_id"], h["vcid"], h["mc_count"], h["vc_count"]) == (0x3FF, 2, k, k)
        assert crc16(frame) == 0
        lo = k * fr.DATA_FIELD_BYTES
        inside = [s - lo for s in starts if lo <= s < lo + fr.DATA_FIELD_BYTES]
        assert h["first_header_pointer"] == (inside[0] if inside else fr.FHP_NO_PACKET)
