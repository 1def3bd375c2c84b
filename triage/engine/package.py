"""The model packager: a trained streaming ``.tflite`` and its policy become one model package
(:mod:`triage.contract.model_package`), the binary the ground signs and uplinks.

    pkg = package_model(tflite_bytes, model_id=7, policy=load_policy(path))
    Path("model-7.tmpk").write_bytes(pkg.data)

What goes in: the engine plan (:func:`triage.engine.stream.plan_bytes`, the streaming
executor's model as data, the same bytes an image would compile in), the tile spec and the
decision policy (MODEL_SPEC), the scratch of its rings at the widest frame the firmware
streams, and golden vectors: seeded frames with the outputs TFLM (the ``tflite-micro``
package, the oracle of every engine test) gives for them, which the satellite runs before the
package may go on trial. :func:`render_factory_c` renders a package as the C an image links
as its factory default (``factory_package.c``/``.h``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from triage import __version__
from triage.contract import model_package as mp
from triage.contract import paths as contract_paths
from triage.contract.errors import PackageError
from triage.contract.policy import Policy, load_policy
from triage.contract.tile_spec import TileSpec, file_sha256, tile_spec
from triage.engine import oracle, stream

GOLDEN_COUNT = 3
GOLDEN_HW = (32, 32)
"""Three golden frames of 32 x 32 px (2 x 2 cells of the cell network): 12 KB of a package,
a few hundred thousand instructions each on the Cortex-M4."""
SCRATCH_COLS = 1024
"""The frame width the package states its scratch for (TRI_MODEL_FRAME_COLS)."""
GOLDEN_SEED = 20261207


def golden_frames(in_c: int, hw: tuple[int, int], count: int, seed: int) -> list[np.ndarray]:
    """Seeded int8 frames ``[h, w, in_c]`` that exercise a network: smooth multi-band fields
    with noise and edges, then uniform noise over the whole int8 range (the extremes the
    requantisation clamps), alternating."""
    h, w = hw
    rng = np.random.default_rng([seed, h, w, in_c])
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    out = []
    for k in range(count):
        if k % 2:
            out.append(rng.integers(-128, 128, (h, w, in_c)).astype(np.int8))
            continue
        f = np.empty((h, w, in_c))
        for b in range(in_c):
            fx, fy = rng.uniform(0.5, 4.0, 2)
            f[..., b] = 0.3 + 0.25 * np.sin(2 * np.pi * fx * xx + b) * np.cos(2 * np.pi * fy * yy)
        f += rng.normal(0.0, 0.04, f.shape)
        f[h // 3 : h // 3 + 3, :, 0] = 0.95  # a bright line, an edge in every layer
        out.append(np.clip(np.round(f * 255 - 128), -128, 127).astype(np.int8))
    return out


def package_model(
    tflite_bytes: bytes,
    *,
    model_id: int,
    policy: Policy | None = None,
    policy_path: Path | None = None,
    spec: TileSpec | None = None,
    spec_path: Path | None = None,
    created_s: int | None = None,
    golden_count: int = GOLDEN_COUNT,
    golden_hw: tuple[int, int] = GOLDEN_HW,
    golden_seed: int = GOLDEN_SEED,
    golden_outputs: Sequence[bytes] | None = None,
    abi: int | None = None,
) -> mp.Package:
    """Packages a streaming ``.tflite`` (raises :class:`~triage.engine.errors.ModelError` when
    it is not a streaming chain, :class:`PackageError` when the package would not hold).

    ``golden_outputs`` replaces TFLM's outputs (tests build a package whose vectors fail);
    ``abi`` the plan's ABI (tests build a package for another engine)."""
    spec_path = Path(spec_path or contract_paths.tile_spec_path())
    policy_path = Path(policy_path or contract_paths.policy_path())
    spec = spec or tile_spec()
    policy = policy or load_policy(policy_path)
    compiled = stream.compile_stream(tflite_bytes)
    plan = bytearray(stream.plan_bytes(compiled))
    if abi is not None:
        at = mp.PLAN_HEADER.field("abi").offset
        plan[at : at + 2] = int(abi).to_bytes(2, "big")
    frames = golden_frames(compiled.in_c, golden_hw, golden_count, golden_seed)
    vectors = []
    for k, frame in enumerate(frames):
        if golden_outputs is not None:
            out = golden_outputs[k]
        else:
            hp, wp = compiled.extended(*golden_hw)
            q = np.full((hp, wp, compiled.in_c), compiled.in_zero_point, np.int8)
            q[: golden_hw[0], : golden_hw[1]] = frame
            out = oracle.tflm_frame(tflite_bytes, q).tobytes()
        vectors.append(mp.GoldenVector(frame.tobytes(), bytes(out)))
    rings = sum(stream._align8(n) for n in compiled.ring_bytes(SCRATCH_COLS, "dsp"))
    record = mp.spec_record(
        spec,
        policy,
        tile_spec_sha256=bytes.fromhex(file_sha256(spec_path)),
        policy_sha256=bytes.fromhex(file_sha256(policy_path)),
    )
    data = mp.build_package(
        model_id=model_id,
        created_s=int(time.time()) if created_s is None else created_s,
        model_sha256=hashlib.sha256(tflite_bytes).digest(),
        plan=bytes(plan),
        spec=record,
        vectors=vectors,
        vector_hw=golden_hw,
        scratch_bytes=rings + compiled.staging_bytes(SCRATCH_COLS),
        scratch_cols=SCRATCH_COLS,
    )
    return mp.parse_package(data)


def render_factory_c(pkg: mp.Package, name: str = "factory") -> tuple[str, str]:
    """``<name>_package.c`` and ``.h``: a package an image links as its factory default
    (8-byte aligned, in the image's read-only flash)."""
    if not name.isidentifier() or not name.islower():
        raise PackageError(f"package name {name!r} must be a lower-case C identifier")
    up = name.upper()
    d = pkg.describe()
    line = (
        f"/* Generated by triage.engine.package (orbital-triage {__version__}): model"
        f" {d['model_id']}, package sha256={d['package_sha256']}: do not edit. */"
    )
    src = [
        line,
        f'#include "{name}_package.h"',
        "",
        "static const union {",
        "    uint64_t align; /* WF_PACKAGE_ALIGN */",
        f"    uint8_t bytes[{len(pkg.data)}];",
        "} package = {.bytes = {",
    ]
    for k in range(0, len(pkg.data), 16):
        src.append("    " + ", ".join(f"0x{b:02x}" for b in pkg.data[k : k + 16]) + ",")
    src += ["}};", "", f"const uint8_t *const {name}_package = package.bytes;", ""]
    hdr = [
        line,
        f"/* The {name} model package (triage/WIRE_FORMAT.md, 'Model package'): model id"
        f" {d['model_id']},",
        f" * .tflite sha256={d['model_sha256']}. */",
        f"#ifndef {up}_PACKAGE_H",
        f"#define {up}_PACKAGE_H",
        "",
        "#include <stdint.h>",
        "",
        f"#define {up}_PACKAGE_BYTES {len(pkg.data)}u",
        f"#define {up}_PACKAGE_MODEL_ID {d['model_id']}u",
        "",
        f"extern const uint8_t *const {name}_package;",
        "",
        f"#endif /* {up}_PACKAGE_H */",
        "",
    ]
    return "\n".join(src), "\n".join(hdr)


def write_factory_c(pkg: mp.Package, out_dir: Path, name: str = "factory") -> list[Path]:
    src, hdr = render_factory_c(pkg, name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / f"{name}_package.c", out / f"{name}_package.h"]
    for path, text in zip(files, (src, hdr), strict=True):
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return files
