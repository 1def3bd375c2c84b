"""Build and drive the gcc mutation fuzzers: the on-board application's entry points
(tests/onboard/fuzz/fuzz_onboard.c) and the model package and uplink
(tests/uplink/fuzz/fuzz_package.c), both on the shared fuzzer (fuzz/fuzz_core.c).

The firmware's sources are compiled with ASan + UBSan and
``-fsanitize-coverage=trace-pc`` (edge coverage for the fuzzer), the harness
and the fuzzer with the sanitizers only. The kept corpus lives in tests/onboard/fuzz/corpus
and is replayed by the test suite. A campaign (new corpus entries go to
the corpus folder)::

    .venv/bin/python -m tests.onboard.fuzz_harness --iterations 200000 --seed 1 [--target package]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FUZZ_DIR = HERE / "fuzz"
CORPUS = FUZZ_DIR / "corpus"
ROOT = HERE.parent.parent
FW = ROOT / "mcu_firmware"
SAN = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
CFLAGS = ["-std=c99", "-O1", "-g", "-Wall", "-Wextra", *SAN]


def _sources() -> list[Path]:
    srcs = []
    for d in ("common/src", "app/src", "engine/src", "engine/kernels"):
        srcs += sorted((FW / d).glob("*.c"))
    return srcs


def _includes(model_dir: Path) -> list[str]:
    return [f"-I{FW / d}" for d in ("common/include", "engine/include", "app/include")] + [
        f"-I{model_dir}"
    ]


def build(out_dir: Path, model_dir: Path | None = None, harness: Path | None = None) -> Path:
    """Compile a harness (default: fuzz_onboard.c) into out_dir (reused while the sources
    are unchanged)."""
    model_dir = Path(model_dir or ROOT / "models" / "shipped")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    srcs = _sources()
    harness = Path(harness or FUZZ_DIR / "fuzz_onboard.c").resolve()
    core = [FUZZ_DIR / "fuzz_core.c", FUZZ_DIR / "fuzz_core.h"]
    h = hashlib.sha256()
    for p in [*srcs, harness, *core, *sorted(FW.glob("*/src/*.h")),
              *sorted(FW.glob("*/include/*.h")), model_dir / "triage_config.h"]:  # fmt: skip
        h.update(p.read_bytes() if p.exists() else b"")
    exe = out_dir / f"{harness.stem}-{h.hexdigest()[:12]}"
    if exe.exists():
        return exe
    # per-process objects and an atomic rename: parallel test workers may build at once
    obj = out_dir / f"obj-{os.getpid()}"
    obj.mkdir(exist_ok=True)
    inc = _includes(model_dir)
    subprocess.run(
        ["gcc", *CFLAGS, "-fsanitize-coverage=trace-pc", *inc, "-c", *map(str, srcs)],
        cwd=obj,
        check=True,
    )
    inc_h = [*inc, f"-I{FUZZ_DIR}", f"-I{FW / 'app' / 'src'}"]
    subprocess.run(["gcc", *CFLAGS, *inc_h, "-c", str(harness), str(core[0])], cwd=obj,
                   check=True)  # fmt: skip
    objs = sorted(str(p) for p in obj.glob("*.o"))
    tmp = out_dir / f"{exe.name}.{os.getpid()}"
    subprocess.run(["gcc", *SAN, "-o", str(tmp), *objs], check=True)
    os.replace(tmp, exe)
    shutil.rmtree(obj, ignore_errors=True)
    return exe


def replay(exe: Path, files: list[Path], timeout_s: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(exe), "replay", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def campaign(exe: Path, iterations: int, seed: int, out: Path, timeout_s: float = 36000,
             corpus: Path = CORPUS):  # fmt: skip
    seeds = sorted(Path(corpus).glob("*.bin"))
    return subprocess.run(
        [str(exe), "run", str(iterations), str(seed), str(out), *map(str, seeds)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def minimise(exe: Path, files: list[Path]) -> list[Path]:
    """The files (smallest first) that add coverage over the ones kept before them."""
    files = sorted(files, key=lambda p: (p.stat().st_size, p.name))
    res = subprocess.run(
        [str(exe), "cmin", *map(str, files)], capture_output=True, text=True, check=True
    )
    return [Path(line) for line in res.stdout.splitlines() if line]


TARGETS = {
    "onboard": (FUZZ_DIR / "fuzz_onboard.c", CORPUS),
    "package": (ROOT / "tests" / "uplink" / "fuzz" / "fuzz_package.c",
                ROOT / "tests" / "uplink" / "fuzz" / "corpus"),
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--build-dir", type=Path, default=ROOT / "build" / "fuzz")
    ap.add_argument("--target", choices=sorted(TARGETS), default="onboard")
    args = ap.parse_args(argv)
    harness, corpus = TARGETS[args.target]
    exe = build(args.build_dir, harness=harness)
    res = campaign(exe, args.iterations, args.seed, corpus, corpus=corpus)
    sys.stdout.write(res.stdout)
    sys.stderr.write(res.stderr[-5000:])
    if res.returncode == 0:  # keep the corpus small: drop what adds no coverage
        everything = sorted(corpus.glob("*.bin"))
        keep = set(minimise(exe, everything))
        for p in everything:
            if p not in keep:
                p.unlink()
        print(f"corpus: {len(keep)} of {len(everything)} inputs kept")
    return res.returncode


if __name__ == "__main__":
    sys.exit(main())
