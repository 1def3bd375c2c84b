"""The ground's link layer (ground_station.frames, .rs, .receive) on the firmware's own
CADUs, frames and KISS files: the packets that come out are exactly the ones packet mode
sends; bit errors up to what Reed-Solomon corrects change nothing; every failure mode of
sync, coding and framing is counted, and nothing corrupted is handed on; other
spacecraft are refused; the formats are detected; a live UDP and TCP input on loopback."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import reedsolo

from ground_station import rs
from ground_station.frames import (
    CaduSync,
    FrameReader,
    Receiver,
    kiss_encode,
)
from ground_station.ingest import ingest_bytes, ingest_chunks
from ground_station.receive import detect_format, socket_chunks
from triage.contract import frames as fr
from triage.contract.packets import split_packets

from .streams import firmware_pass, flip_bits

C = fr.CADU_BYTES


def _receive(fmt: str, data: bytes, chunk: int = 4096, **kw) -> tuple[bytes, Receiver]:
    rx = Receiver(fmt, **kw)
    out = b"".join(rx.packets(data[k : k + chunk] for k in range(0, len(data), chunk)))
    return out, rx


@pytest.mark.parametrize("fmt", ["cadu", "frames", "kiss"])
def test_link_formats_give_the_packets_packet_mode_sends(lib, fmt):
    want = firmware_pass("packets")
    if fmt == "kiss":
        f = firmware_pass("frames")
        data = kiss_encode(f[k : k + fr.FRAME_BYTES] for k in range(0, len(f), fr.FRAME_BYTES))
    else:
        data = firmware_pass(fmt)
    for chunk in (1, 1000, 1 << 20) if fmt != "kiss" else (333, 1 << 20):
        if chunk == 1 and len(data) > 30_000:
            data_small = data[: 8 * (C if fmt == "cadu" else fr.FRAME_BYTES)]
            got, rx = _receive(fmt, data_small, chunk)
            assert split_packets(want).__len__() >= rx.stats.packets > 0
            assert want.startswith(got)
            continue
        got, rx = _receive(fmt, data, chunk)
        assert got == want, chunk
        assert rx.stats.fecf_errors == rx.stats.codeblocks_uncorrectable == 0
        assert rx.stats.idle_packets >= 1  # the fill of the last frame of each operation


@pytest.mark.parametrize("ber,seed", [(1e-4, 1), (1e-3, 2), (3e-3, 3)])
def test_bit_errors_within_the_codes_power_change_nothing(lib, ber, seed):
    want = firmware_pass("packets")
    noisy = flip_bits(firmware_pass("cadu"), ber, seed)
    got, rx = _receive("cadu", noisy)
    s = rx.stats
    assert s.symbols_corrected > 0
    # a codeblock of 5 x 255 symbols at these rates never has 17 errors in one codeword
    assert s.codeblocks_uncorrectable == 0 and got == want


def test_heavy_errors_drop_codeblocks_but_hand_on_nothing_corrupted(lib):
    want = split_packets(firmware_pass("packets"))
    noisy = flip_bits(firmware_pass("cadu"), 2e-2, 9)
    got, rx = _receive("cadu", noisy)
    s = rx.stats
    assert s.codeblocks_uncorrectable > 0
    assert set(split_packets(got)) <= set(want)  # only whole, true packets
    assert s.fecf_errors == 0


def test_sync_tolerates_four_marker_bit_errors_and_recovers(lib):
    data = bytearray(firmware_pass("cadu"))
    n = len(data) // C
    data[0] ^= 0b1111_0000  # 4 bit errors in the first marker: still found
    data[3 * C] ^= 0xFF  # 8 in the fourth: forgiven in lock (the next is right)
    for k in (6 * C, 7 * C):  # two bad markers in a row: lock lost, then found again
        data[k : k + 4] = b"\x00\x00\x00\x00"
    _got, rx = _receive("cadu", bytes(data))
    s = rx.stats
    assert s.flywheel_cadus == 1 and s.sync_losses == 1
    assert s.cadus == n - 2  # the 7th and 8th are lost with their markers; the 9th is found
    assert s.asm_bit_errors >= 4
    assert s.vc_gaps == {0: 1} and s.vc_frames_lost == {0: 2}


def test_garbage_inversion_truncation_and_a_lone_cadu(lib):
    rng = random.Random(4)
    cadu = firmware_pass("cadu")
    garbage = bytes(rng.randrange(256) for _ in range(5000))
    inverted = (np.frombuffer(cadu, np.uint8) ^ 0xFF).tobytes()
    got, rx = _receive("cadu", garbage + inverted + garbage[:700])
    assert got == firmware_pass("packets")
    assert rx.stats.inverted_cadus == len(cadu) // C
    assert rx.stats.bytes_skipped == 5700
    # a lone CADU among garbage is taken because its codeblock decodes
    lone = garbage + cadu[:C] + garbage
    sync = CaduSync()
    frames = np.concatenate([sync.feed(lone), sync.finish()])
    assert len(frames) == 1
    assert bytes(frames[0]) == fr.randomise(cadu[4:C])[: fr.FRAME_BYTES]


def test_frame_checks_and_pointer_resynchronisation(lib):
    enc = fr.FrameEncoder(fr.DEFAULT_SPACECRAFT_ID)
    packets = split_packets(firmware_pass("packets"))[:6]
    frames = enc.frames(fr.VC_PRODUCTS, packets)
    assert len(frames) >= 4
    bad = bytearray(frames[1])
    bad[100] ^= 1  # FECF error: frame dropped, the packets it carried lost
    foreign = fr.encode_frame(0x2A, 0, 0, 0, 0, bytes(fr.DATA_FIELD_BYTES))
    idle = fr.encode_frame(fr.DEFAULT_SPACECRAFT_ID, fr.VC_IDLE, 0, 0, fr.FHP_IDLE, bytes(1107))
    reader = FrameReader()
    out = reader.frames([frames[0], bytes(bad), foreign, idle, *frames[2:]])
    s = reader.stats
    assert s.fecf_errors == 1 and s.foreign_frames == {0x2A: 1} and s.idle_frames == 1
    assert s.vc_gaps == {0: 1} and s.vc_frames_lost == {0: 1}
    got = split_packets(out)
    assert set(got) < set(packets) and got == [p for p in packets if p in got]
    assert len(got) < len(packets)


def test_decoder_corrects_what_reedsolo_encodes_and_agrees_with_it():
    exp, _ = fr.gf_tables()
    rsc = reedsolo.RSCodec(nsym=32, nsize=255, fcr=112, prim=0x187, generator=exp[11], c_exp=8)
    rng = random.Random(255)
    for trial in range(30):
        # a codeblock of five reedsolo codewords, in the dual basis, interleaved
        block = bytearray(fr.CODEBLOCK_BYTES)
        infos = []
        for j in range(fr.RS_INTERLEAVE):
            info = bytes(rng.randrange(256) for _ in range(223))
            word = rsc.encode(bytes(rs.FROM_DUAL[b] for b in info))
            block[j :: fr.RS_INTERLEAVE] = bytes(rs.TO_DUAL[b] for b in word)
            infos.append(info)
        clean = bytes(block)
        nerr = [rng.randrange(0, 17) for _ in range(fr.RS_INTERLEAVE)]
        for j, k in enumerate(nerr):
            for i in rng.sample(range(255), k):
                block[j + 5 * i] ^= rng.randrange(1, 256)
        frames, corrected, _ = rs.decode_codeblocks(np.frombuffer(bytes(block), np.uint8)[None])
        assert corrected[0] == sum(nerr), trial
        assert bytes(frames[0]) == clean[: fr.FRAME_BYTES]
        # the slow reference agrees codeword by codeword, and reedsolo too
        for j in range(fr.RS_INTERLEAVE):
            conv = rs.FROM_DUAL[np.frombuffer(bytes(block[j::5]), np.uint8)]
            ref = rs.decode_word(conv)
            assert ref is not None and ref[1] == nerr[j]
            dec, _, errata = rsc.decode(bytes(conv))
            assert bytes(rs.TO_DUAL[np.frombuffer(bytes(dec), np.uint8)]) == infos[j]
            assert len(errata) == nerr[j]


def test_beyond_16_errors_is_uncorrectable_never_a_guess():
    rng = random.Random(17)
    frame = bytes(rng.randrange(256) for _ in range(fr.FRAME_BYTES))
    good = np.frombuffer(fr.encode_codeblock(frame), np.uint8)
    for trial in range(20):
        block = good.copy()
        for i in rng.sample(range(255), 17 + trial % 10):
            block[2 + 5 * i] ^= rng.randrange(1, 256)
        _frames, corrected, _ = rs.decode_codeblocks(block[None])
        assert corrected[0] == rs.UNCORRECTABLE
        conv = rs.FROM_DUAL[block[2::5]]
        assert rs.decode_word(conv) is None


def test_formats_are_detected(lib):
    f = firmware_pass("frames")
    kiss = kiss_encode(f[k : k + fr.FRAME_BYTES] for k in range(0, len(f), fr.FRAME_BYTES))
    assert detect_format(firmware_pass("cadu")[:65536]) == "cadu"
    assert detect_format(b"\x55" * 3000 + firmware_pass("cadu")[:65536]) == "cadu"
    assert detect_format(f[:65536]) == "frames"
    assert detect_format(kiss[:65536]) == "kiss"
    assert detect_format(firmware_pass("packets")[:65536]) == "packets"
    assert detect_format(bytes(random.Random(1).randrange(256) for _ in range(65536))) == "packets"


def test_ingest_each_format_and_refuse_other_spacecraft(lib, tmp_path):
    ref = ingest_bytes(tmp_path / "p.sqlite", firmware_pass("packets"))
    for fmt in ("cadu", "frames"):
        st = ingest_bytes(tmp_path / f"{fmt}.sqlite", firmware_pass(fmt), input_format="auto")
        assert st.formats == {"<bytes>": fmt}
        assert (st.products_completed, st.new_segments) == (
            ref.products_completed,
            ref.new_segments,
        )
    st = ingest_bytes(tmp_path / "x.sqlite", firmware_pass("cadu", 0x3A0), input_format="cadu")
    assert st.valid_packets == 0 and st.link["foreign_frames"] == {
        "928": len(firmware_pass("cadu", 0x3A0)) // C
    }


def _send_later(proto: str, data: bytes, addr_box: list, ready: threading.Event):
    ready.wait(10)
    host, port = addr_box[0]
    if proto == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for k in range(0, len(data), C):
                s.sendto(data[k : k + C], (host, port))
    else:
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(data)


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_live_input_on_loopback(lib, tmp_path, proto):
    data = firmware_pass("cadu")
    addr_box: list = []
    ready = threading.Event()

    def on_ready(addr):
        addr_box.append(addr)
        ready.set()

    t = threading.Thread(target=_send_later, args=(proto, data, addr_box, ready), daemon=True)
    t.start()
    chunks = socket_chunks(
        f"{proto}://127.0.0.1:0", idle_timeout_s=1.0, max_seconds=20, ready=on_ready
    )
    st = ingest_chunks(tmp_path / "live.sqlite", proto, chunks, input_format="cadu")
    t.join(10)
    ref = ingest_bytes(tmp_path / "ref.sqlite", firmware_pass("packets"))
    assert st.products_completed == ref.products_completed
    assert st.link["cadus"] == len(data) // C


def _cli(*args):
    exe = Path(sys.executable).with_name("groundstation")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300)


def test_cli_ingests_cadus_and_says_which_spacecraft_it_refused(lib, tmp_path):
    own, other = tmp_path / "own.cadu", tmp_path / "other.cadu"
    own.write_bytes(firmware_pass("cadu"))
    other.write_bytes(firmware_pass("cadu", 0x155))
    ok = _cli("ingest", str(own), "--db", str(tmp_path / "a.sqlite"))
    assert ok.returncode == 0, ok.stderr
    assert "link: 30 CADUs" in ok.stdout and "0 codeblocks uncorrectable" in ok.stdout
    bad = _cli("ingest", str(other), "--db", str(tmp_path / "b.sqlite"), "--format", "cadu")
    assert bad.returncode == 3
    assert "spacecraft 0x155, not 0x1A7" in bad.stderr and "Traceback" not in bad.stderr
    mine = _cli("ingest", str(other), "--db", str(tmp_path / "c.sqlite"), "--spacecraft-id", "341")
    assert mine.returncode == 0, mine.stderr
    usage = _cli("ingest", str(own), "--db", str(tmp_path / "d.sqlite"), "--format", "turbo")
    assert usage.returncode == 2 and "--format" in usage.stderr
