"""The contract's wire format: every generated file is fresh, layouts round-trip, and
the packet header agrees with an independent implementation (the `spacepackets`
package)."""

from __future__ import annotations

import random

import pytest
from spacepackets.ccsds.spacepacket import PacketType, SequenceFlags, SpacePacketHeader

from triage import generate
from triage.contract.enums import AEC_FLAG_PREPROCESS, aec_decode_flags
from triage.contract.errors import LayoutError
from triage.contract.generate import LAYOUTS
from triage.contract.packets import PRIMARY_HEADER, SECONDARY_HEADER, packetize_product
from triage.contract.records import CRC16_CHECK, crc16


def test_every_generated_file_is_fresh():
    assert generate.stale(generate.all_texts()) == [], "run `make generate` and commit"


def test_crc16_check_value():
    # The catalogued check value of CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF).
    assert crc16(b"123456789") == 0x29B1 == CRC16_CHECK


def test_primary_header_matches_spacepackets():
    rng = random.Random(20261125)
    for _ in range(500):
        apid = rng.randrange(0, 2048)
        flags = rng.randrange(0, 4)
        count = rng.randrange(0, 16384)
        length = rng.randrange(0, 65536)
        ours = PRIMARY_HEADER.pack(
            {
                "version": 0,
                "type": 0,
                "sec_hdr_flag": 1,
                "apid": apid,
                "seq_flags": flags,
                "seq_count": count,
                "data_length": length,
            }
        )
        ref = SpacePacketHeader(
            packet_type=PacketType.TM,
            apid=apid,
            seq_flags=SequenceFlags(flags),
            seq_count=count,
            data_len=length,
            sec_header_flag=True,
        ).pack()
        assert ours == bytes(ref)
        parsed = SpacePacketHeader.unpack(ours)
        assert (parsed.apid, parsed.seq_count, parsed.data_len) == (apid, count, length)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda x: x.name)
def test_layouts_round_trip(layout):
    rng = random.Random(layout.size)
    values = {}
    for f in layout.fields:
        if f.kind == "f64":
            v = tuple(rng.uniform(-1e7, 1e7) for _ in range(f.count))
            values[f.name] = v if f.count > 1 else v[0]
        elif f.count > 1:
            values[f.name] = tuple(rng.randrange(0, f.mask + 1) for _ in range(f.count))
        else:
            values[f.name] = rng.randrange(0, f.mask + 1)
    packed = layout.pack(values)
    assert len(packed) == layout.size
    assert layout.unpack(packed) == values
    if all(f.bits is None for f in layout.fields):
        # the one-call unpacker: the same dict, keys in the same order, at an offset too
        fast = layout.unpack_fast(b"xyz" + packed + b"!", 3)
        assert fast == values and list(fast) == list(layout.unpack(packed))


def test_pack_rejects_values_that_do_not_fit():
    with pytest.raises(LayoutError, match="apid"):
        PRIMARY_HEADER.pack(
            {
                "version": 0,
                "type": 0,
                "sec_hdr_flag": 1,
                "apid": 2048,
                "seq_flags": 0,
                "seq_count": 0,
                "data_length": 0,
            }
        )
    with pytest.raises(LayoutError, match="need 30 bytes"):
        SECONDARY_HEADER.unpack(b"\x00" * 29)


def test_packetize_product_segments_and_crcs():
    product = bytes(range(256)) * 9  # 2304 bytes: 3 segments
    sec = {
        "frame_id": 7,
        "product_id": 3,
        "region_row0": 1,
        "region_col0": 2,
        "region_rows": 3,
        "region_cols": 4,
        "class_id": 2,
        "confidence": 200,
        "time_s": 1_700_000_000,
        "time_sub": 0x8000,
    }
    packets = packetize_product(product, 0x101, sec, first_seq_count=16383)
    # 6 primary + 30 secondary + segment + 2 CRC
    assert [len(p) for p in packets] == [1062, 1062, 38 + 256]
    reassembled = b""
    for i, p in enumerate(packets):
        hdr = SpacePacketHeader.unpack(p)
        assert hdr.apid == 0x101
        assert hdr.seq_count == (16383 + i) % 16384
        assert (
            hdr.seq_flags
            == [
                SequenceFlags.FIRST_SEGMENT,
                SequenceFlags.CONTINUATION_SEGMENT,
                SequenceFlags.LAST_SEGMENT,
            ][i]
        )
        assert len(p) == 6 + hdr.data_len + 1
        assert crc16(p[:-2]) == int.from_bytes(p[-2:], "big")
        s = SECONDARY_HEADER.unpack(p, 6)
        assert (s["segment_index"], s["segment_count"]) == (i, 3)
        # wire format 5: the spacecraft id (0x1A7 unless told) ends the secondary header
        assert p[6 + 28 : 6 + 30] == b"\x01\xa7"
        reassembled += p[6 + 30 : -2]
    assert reassembled == product
    single = packetize_product(b"x", 0x102, sec, 0)
    assert SpacePacketHeader.unpack(single[0]).seq_flags == SequenceFlags.UNSEGMENTED


def test_aec_flags_map_to_libaec():
    import imagecodecs

    assert aec_decode_flags(AEC_FLAG_PREPROCESS) == imagecodecs.AEC.FLAG.DATA_PREPROCESS
    assert aec_decode_flags(0) == 0


def test_the_freshness_check_names_a_stale_file(tmp_path):
    """The check can fail: a generated file that differs from what renders is named, and a
    write replaces exactly it."""
    path = tmp_path / "wire_format.h"
    texts = {path: "new\n", tmp_path / "same.h": "same\n"}
    (tmp_path / "same.h").write_text("same\n")
    path.write_text("old\n")
    assert generate.stale(texts) == [path]
    assert generate.write(texts) == [path]
    assert path.read_text() == "new\n" and generate.stale(texts) == []


def test_model_export_refuses_a_missing_model_and_writes_nothing(tmp_path):
    from triage.contract.errors import GeneratedFileError

    with pytest.raises(GeneratedFileError, match="model not readable"):
        generate.model_texts(tmp_path, tmp_path / "nothing.tflite")
    assert list(tmp_path.iterdir()) == []
