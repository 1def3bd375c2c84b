#!/usr/bin/env python3
"""Coverage-guided fuzzing of the ground's decoders with atheris (libFuzzer for Python).

Targets, chosen by the first input byte (modulo 6), fed the rest:

0. CADU streams (:class:`~ground_station.frames.Receiver` ``cadu``), in chunks whose size
   the second byte sets;
1. bare transfer-frame streams (``frames``); 2. KISS files (``kiss``);
3. the frame reader on the input cut into 1115-byte frames whose FECF is made valid (so
   that the header, counts, pointers and packet extraction see fuzzed values);
4. the packet deframer, held to the obvious reference deframer;
5. the product decoder (the contract's codec).

Invariants: nothing but the documented errors is raised (a product that does not decode
raises ProductError); what the link layer hands on is whole packets (their lengths
chain exactly, 7..1062 bytes each) and, for target 3, bytes that were in the frames'
data fields; the fast deframer equals the reference.

    .venv/bin/python -m tests.link.atheris_fuzz -atheris_runs=100000 tests/link/atheris_corpus

(libFuzzer options as usual; new inputs join the corpus folder given; add
``--seed-corpus`` to write the seeds first.) Merging a corpus re-runs this file as a
program, so run it by path with the virtual environment first on PATH::

    PATH=.venv/bin:$PATH tests/link/atheris_fuzz.py -merge=1 NEW_DIR tests/link/atheris_corpus

The RSS of an atheris process grows with its executions (the fuzzer's bookkeeping: the
target's own stays flat), so long campaigns run as several with ``-rss_limit_mb``. The
suite replays the corpus through :func:`one_input` without atheris.
"""

from __future__ import annotations

import binascii
import contextlib
import sys
from pathlib import Path

CORPUS = Path(__file__).with_name("atheris_corpus")


def _imports():
    from ground_station import deframe, frames
    from triage.contract import codec
    from triage.contract.errors import ContractError
    from triage.contract.frames import FRAME_BYTES
    from triage.contract.packets import MAX_PACKET_BYTES, PRIMARY_HEADER
    from triage.contract.records import CRC16_INIT

    return (
        deframe,
        frames,
        codec,
        ContractError,
        FRAME_BYTES,
        MAX_PACKET_BYTES,
        PRIMARY_HEADER,
        CRC16_INIT,
    )


def _whole_packets(out: bytes, max_packet: int) -> None:
    pos = 0
    while pos < len(out):
        assert len(out) - pos >= 7, "a packet shorter than 7 bytes handed on"
        size = (out[pos + 4] << 8 | out[pos + 5]) + 7
        assert 7 <= size <= max_packet, f"a packet of {size} bytes handed on"
        pos += size
    assert pos == len(out), "packets handed on do not chain to the end"


def one_input(data: bytes) -> None:
    """Run one input through its target, checking the invariants."""
    deframe, frames, codec, contract_error, frame_bytes, max_packet, _, crc_init = _MODS
    if not data:
        return
    target, body = data[0] % 6, data[1:]
    if target in (0, 1, 2):
        fmt = ("cadu", "frames", "kiss")[target]
        step = 1 + (body[0] if body else 0) * 37
        rx = frames.Receiver(fmt)
        out = b"".join(rx.packets(body[k : k + step] for k in range(0, len(body), step)))
        _whole_packets(out, max_packet)
        assert all(v >= 0 for v in rx.stats.as_dict().values() if isinstance(v, int))
    elif target == 3:
        fields = []
        batch = []
        for k in range(0, len(body) - frame_bytes + 1, frame_bytes):
            f = bytearray(body[k : k + frame_bytes])
            f[-2:] = binascii.crc_hqx(bytes(f[:-2]), crc_init).to_bytes(2, "big")
            batch.append(bytes(f))
            fields.append(bytes(f[6:-2]))
        reader = frames.FrameReader(
            spacecraft_id=(body[0] << 2 | body[1] >> 6) if len(body) > 1 else 0
        )
        out = reader.frames(batch)
        _whole_packets(out, max_packet)
        joined = b"".join(fields)
        for p in _split(out):
            assert p in joined, "a packet that was in no frame"
    elif target == 4:
        fast, fst = deframe.deframe(body)
        ref, rst = deframe.reference_deframe(body)
        assert fast == ref and fst.as_dict() == rst.as_dict(), "deframer differs from reference"
    else:
        with contextlib.suppress(contract_error):
            codec.decode_product(body)


def _split(out: bytes) -> list[bytes]:
    pos, got = 0, []
    while pos < len(out):
        size = (out[pos + 4] << 8 | out[pos + 5]) + 7
        got.append(out[pos : pos + size])
        pos += size
    return got


_MODS = None


def setup(instrument: bool = False) -> None:
    global _MODS
    if instrument:
        import atheris

        # The modules holding numba kernels are imported uninstrumented: numba compiles a
        # kernel from its bytecode, which instrumentation would fill with calls into
        # atheris that it cannot compile (the compiled code is opaque to coverage anyway).
        # deframe.py holds the packet scan kernel, so its pure-Python reference deframer
        # is not instrumented either; the harness still compares the two on every input.
        import ground_station.crc16
        import ground_station.deframe
        import ground_station.packets
        import ground_station.rs  # noqa: F401

        with atheris.instrument_imports(include=["ground_station", "triage.contract"]):
            _MODS = _imports()
    else:
        _MODS = _imports()


def seed_corpus() -> int:
    """Seeds from the firmware's traffic: a few CADUs, frames, a KISS file, packets, a
    product."""
    import hashlib

    from ground_station.frames import kiss_encode
    from ground_station.packets import HEADER_BYTES
    from triage.contract.frames import CADU_BYTES, FRAME_BYTES
    from triage.contract.packets import MAX_SEGMENT_BYTES

    from .streams import firmware_pass

    cadu = firmware_pass("cadu")
    fr = firmware_pass("frames")
    pk = firmware_pass("packets")
    seeds = [
        b"\x00\x05" + cadu[: 3 * CADU_BYTES],
        b"\x00\x00" + bytes(300) + cadu[CADU_BYTES : 2 * CADU_BYTES],
        b"\x01\x02" + fr[: 3 * FRAME_BYTES],
        b"\x02\x01" + kiss_encode([fr[:FRAME_BYTES], fr[FRAME_BYTES : 2 * FRAME_BYTES]]),
        b"\x03" + fr[: 3 * FRAME_BYTES],
        b"\x04" + pk[:3000],
        b"\x05" + pk[HEADER_BYTES : HEADER_BYTES + MAX_SEGMENT_BYTES],  # a product's first bytes
    ]
    CORPUS.mkdir(exist_ok=True)
    for s in seeds:
        (CORPUS / f"seed-{hashlib.sha1(s).hexdigest()[:16]}").write_bytes(s)
    return len(seeds)


def main() -> None:
    import atheris

    setup(instrument=True)  # before anything imports the modules to instrument
    if "--seed-corpus" in sys.argv:
        sys.argv.remove("--seed-corpus")
        print(f"{seed_corpus()} seeds written")
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
