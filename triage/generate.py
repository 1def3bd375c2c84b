"""Every generated file of the repository, under one convention.

    make generate            # triage generate: write every generated file
    make check-generated     # triage generate --check: exit 1 naming each stale file

Two generators feed it: the contract's (:mod:`triage.contract.generate`: the wire
format's C header, records and spec, the enums, the status codes,
``triage_config.h``) and the engine's exporter (:mod:`triage.engine.export`: the
shipped cell network's streaming model ``classifier_stream.{c,h}`` from
``classifier.tflite``).
Every file is rendered in memory first; ``--check`` compares each byte for byte
with the file on disk, and a write replaces only the files that changed, each
through a temporary file renamed into place, after every text was rendered (so a
model that does not export leaves all of them as they were).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from triage.contract import generate as contract_generate
from triage.contract import paths as contract_paths
from triage.contract.errors import ContractError, GeneratedFileError
from triage.engine.errors import ModelError
from triage.engine.stream import compile_stream, render_stream_c

MODEL_NAME = "classifier"
TFLITE_NAME = f"{MODEL_NAME}.tflite"


def model_texts(out_dir: Path | None = None, tflite: Path | None = None) -> dict[Path, str]:
    """``triage_config.h`` and the engine's ``classifier_stream.{c,h}`` for a model folder
    (``models/shipped`` by default: its ``classifier.tflite`` and ``policy.json``), all
    rendered; :class:`GeneratedFileError` when the model is missing or unreadable."""
    out = Path(out_dir or contract_paths.shipped_dir())
    tflite = Path(tflite or out / TFLITE_NAME)
    try:
        model = tflite.read_bytes()
    except OSError as exc:
        raise GeneratedFileError(f"model not readable: {tflite} ({exc.strerror})") from None
    policy = out / "policy.json"
    texts = {
        out / "triage_config.h": contract_generate.triage_config_text(
            policy_path=policy if policy.exists() else None, tflite=tflite
        )
    }
    src, hdr = render_stream_c(compile_stream(model), MODEL_NAME)
    texts[out / f"{MODEL_NAME}_stream.c"] = src
    texts[out / f"{MODEL_NAME}_stream.h"] = hdr
    return texts


def all_texts() -> dict[Path, str]:
    """Every generated file of the repository with its text."""
    texts = {path: render() for path, render in contract_generate.generated().items()}
    texts.update(model_texts())
    return texts


def stale(texts: dict[Path, str]) -> list[Path]:
    """The files whose content differs from ``texts``."""
    return [p for p, t in texts.items() if not p.exists() or p.read_text() != t]


def write(texts: dict[Path, str]) -> list[Path]:
    """Write the stale files of ``texts`` (each to a temporary file, then renamed into
    place); returns them."""
    changed = stale(texts)
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(texts[path])
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="triage generate", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    root = contract_paths.repo_root()
    try:
        texts = all_texts()
    except (ContractError, ModelError) as exc:
        print(f"triage generate: error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        old = stale(texts)
        for path in old:
            print(f"stale: {path.relative_to(root)}", file=sys.stderr)
        if old:
            print("run `make generate` and commit the result", file=sys.stderr)
        return 1 if old else 0
    for path in write(texts):
        print(f"wrote: {path.relative_to(root)}")
    return 0
