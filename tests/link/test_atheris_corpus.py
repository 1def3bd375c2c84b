"""The atheris corpus of the ground's decoders (CADU, frame and KISS receivers, the frame
reader, the packet deframer, the product decoder: tests/link/atheris_fuzz.py) replayed
through the same target and invariants, without atheris. The corpus came from seeds of
the firmware's traffic and campaigns of that target."""

from __future__ import annotations

import pytest

from . import atheris_fuzz

FILES = sorted(atheris_fuzz.CORPUS.iterdir())


def test_corpus_is_there():
    assert len(FILES) >= 20, "the kept corpus is missing"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name[:16])
def test_corpus_input_replays_clean(path):
    atheris_fuzz.setup()
    atheris_fuzz.one_input(path.read_bytes())
