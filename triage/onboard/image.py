"""Where the Cortex-M4 flight image is, and where its model flash sits in its memory map:
what the QEMU runner and the model manager's QEMU checks both need."""

from __future__ import annotations

from pathlib import Path

from triage import paths

IMAGE = "triage_fw"
MODEL_FLASH_BASE = 0x00020000
"""Where the Cortex-M4 image's model flash sits (link.ld: MODELFLASH)."""


def image_path(build_dir: Path | None = None) -> Path:
    """The flight image (``$TRIAGE_BUILD_DIR/m4/triage_fw.elf``)."""
    rel = f"m4/{IMAGE}.elf"
    return Path(build_dir) / rel if build_dir is not None else paths.require_built(rel)
