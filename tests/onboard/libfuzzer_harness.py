"""Build and drive the libFuzzer target of the firmware's link layer and parsers
(tests/onboard/libfuzzer/fuzz_link.c): clang with -fsanitize=fuzzer,address,undefined
(Debian's clang and libclang-rt-14-dev). The kept corpus, seeded from the firmware's own
frames and requests, lives in tests/onboard/libfuzzer/corpus and is replayed by the test
suite. A campaign (new inputs join the corpus; then it is merged to the smallest set that
keeps the coverage)::

    .venv/bin/python -m tests.onboard.libfuzzer_harness --runs 200000 --seed 1
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "libfuzzer" / "fuzz_link.c"
CORPUS = HERE / "libfuzzer" / "corpus"
ROOT = HERE.parent.parent
FW = ROOT / "mcu_firmware"
CLANG = "clang"
FLAGS = [
    "-std=c99",
    "-O1",
    "-g",
    "-fsanitize=fuzzer,address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
]


def available() -> str | None:
    """Why the harness cannot be built here (None when it can)."""
    if shutil.which(CLANG) is None:
        return "clang is not installed (apt-get install clang libclang-rt-14-dev)"
    probe = subprocess.run(
        [CLANG, "-fsanitize=fuzzer", "-x", "c", "-", "-o", os.devnull],
        input="int LLVMFuzzerTestOneInput(const char *d, long n){return 0;}",
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return "clang has no libFuzzer runtime (apt-get install libclang-rt-14-dev)"
    return None


def _sources() -> list[Path]:
    srcs = []
    for d in ("common/src", "app/src", "engine/src", "engine/kernels"):
        srcs += sorted((FW / d).glob("*.c"))
    return srcs


def build(out_dir: Path, model_dir: Path | None = None) -> Path:
    """Compile the target into out_dir (reused while the sources are unchanged)."""
    model_dir = Path(model_dir or ROOT / "models" / "shipped")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    srcs = [*_sources(), SRC]
    h = hashlib.sha256()
    for p in [*srcs, *sorted(FW.glob("*/include/*.h")), model_dir / "triage_config.h"]:
        h.update(p.read_bytes() if p.exists() else b"")
    exe = out_dir / f"fuzz_link-{h.hexdigest()[:12]}"
    if exe.exists():
        return exe
    inc = [f"-I{FW / d}" for d in ("common/include", "engine/include", "app/include")]
    tmp = out_dir / f"{exe.name}.{os.getpid()}"
    subprocess.run(
        [CLANG, *FLAGS, *inc, f"-I{model_dir}", *map(str, srcs), "-o", str(tmp)], check=True
    )
    os.replace(tmp, exe)
    return exe


def replay(exe: Path, files: list[Path], timeout_s: float = 600) -> subprocess.CompletedProcess:
    """Run each input once (libFuzzer runs the files given as arguments)."""
    return subprocess.run(
        [str(exe), *map(str, files)], capture_output=True, text=True, timeout=timeout_s, check=False
    )


def campaign(exe: Path, runs: int, seed: int, timeout_s: float = 36000):
    """Fuzz from the corpus (new inputs are written to it), then merge it."""
    res = subprocess.run(
        [
            str(exe),
            f"-runs={runs}",
            f"-seed={seed}",
            "-max_len=4096",
            "-max_total_time=3000",
            str(CORPUS),
        ],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if res.returncode == 0:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [str(exe), "-merge=1", tmp, str(CORPUS)], capture_output=True, check=True
            )
            for p in CORPUS.iterdir():
                p.unlink()
            for p in Path(tmp).iterdir():
                shutil.copy(p, CORPUS / p.name)
    return res


def seed_corpus() -> int:
    """Seeds from the firmware's own traffic (host build): packet scripts for the frame
    encoder, real DOWNLINK_REQUESTs (and damaged ones), real and damaged FRAME_METAs."""
    import numpy as np

    from triage.contract.packets import encode_request, request_entry, split_packets
    from triage.onboard import FrameMeta, Onboard

    from .helpers import synthetic_frame

    CORPUS.mkdir(parents=True, exist_ok=True)
    f = synthetic_frame(96, 128, seed=3, ships=[(20, 30)])
    ob = Onboard(500_000, classifier="rule")
    ob.process_frame(f, FrameMeta.for_frame(f, 7))
    packets = split_packets(ob.directory() + ob.downlink(1 << 20))
    seeds = []
    for mode in (0, 1):
        script = bytearray([0, mode, 0x69])
        for k, p in enumerate(packets[:12]):
            script += bytes([k % 3, len(p) >> 8, len(p) & 0xFF]) + p[:64]
            if k == 5:
                script += b"\x80\x00\x00"
        seeds.append(bytes(script))
    req = encode_request([request_entry(7, 0, "send", 0, 3), request_entry(7, 1, "release")])
    seeds += [b"\x01" + req, b"\x01" + req[:-1] + bytes([req[-1] ^ 1]), b"\x01" + req[:9]]
    meta = FrameMeta.for_frame(f, 7).pack()
    seeds += [
        b"\x02" + meta,
        b"\x02" + meta[:-3],
        b"\x02" + bytes(np.frombuffer(meta, np.uint8) ^ 1),
    ]
    for s in seeds:
        (CORPUS / f"seed-{hashlib.sha1(s).hexdigest()[:16]}").write_bytes(s)
    return len(seeds)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--build-dir", type=Path, default=ROOT / "build" / "libfuzzer")
    ap.add_argument("--seed-corpus", action="store_true", help="(re)write the seed inputs first")
    args = ap.parse_args(argv)
    why = available()
    if why:
        print(why, file=sys.stderr)
        return 2
    if args.seed_corpus:
        print(f"{seed_corpus()} seeds written")
    exe = build(args.build_dir)
    res = campaign(exe, args.runs, args.seed)
    sys.stdout.write(res.stdout[-3000:])
    sys.stderr.write(res.stderr[-6000:])
    print(f"corpus: {len(list(CORPUS.iterdir()))} inputs")
    return res.returncode


if __name__ == "__main__":
    sys.exit(main())
