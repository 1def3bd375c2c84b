"""The Cortex-M4 image under QEMU against the host build: the same sequence of
operations gives byte-identical frame records, packet streams and counters -
including refused frames, a full store with evictions, budgets, requests
(one of them damaged), and (when the build has a model) the shipped
classifier on real imagery."""

from __future__ import annotations

import numpy as np
import pytest

from triage.onboard import FrameMeta, has_model, run_on_host, run_on_qemu
from triage.onboard.products import decode_stream

from .helpers import real_frame, synthetic_frame

pytestmark = pytest.mark.qemu


def _compare(ops, **kw):
    q = run_on_qemu(ops, **kw)
    h = run_on_host(ops, **kw)
    assert len(q.results) == len(h) == len(ops)
    for i, (a, b) in enumerate(zip(q.results, h, strict=True)):
        assert (a.kind, a.status) == (b.kind, b.status), i
        assert a.data == b.data, f"operation {i} ({a.kind}) differs"
    assert 0 < q.stack_peak_bytes < q.stack_size_bytes // 2
    return q, h


def test_sequence_is_byte_identical(m4_image, lib):
    frames = [
        synthetic_frame(160, 224, seed=60, ships=[(20, 30), (100, 150)], land=(120, 0, 160, 80)),
        synthetic_frame(97, 33, seed=61, ships=[(60, 10)]),
        synthetic_frame(
            128,
            256,
            seed=62,
            ships=[(20, 20), (80, 200)],
            land=(0, 100, 128, 256),
            cloud=(0, 0, 40, 60),
        ),
    ]
    u8 = (synthetic_frame(64, 96, seed=63, ships=[(30, 40)]) >> 8).astype(np.uint8)
    bad_meta = bytearray(FrameMeta.for_frame(frames[0], 99).pack())
    bad_meta[10] ^= 4
    nodata = np.zeros((64, 64, 4), np.uint16)
    ops = [
        ("frame", frames[0], FrameMeta.for_frame(frames[0], 1, time_s=5, crs_epsg=3857)),
        ("frame", frames[0], bytes(bad_meta)),
        ("frame", frames[1], FrameMeta.for_frame(frames[1], 2)),
        ("frame", nodata, FrameMeta.for_frame(nodata, 3)),
        ("frame", frames[1][:20], FrameMeta.for_frame(frames[1][:20], 4)),
        ("frame", u8, FrameMeta.for_frame(u8, 5, nodata=0)),
        ("directory",),
        ("downlink", 7000),
        ("frame", frames[2], FrameMeta.for_frame(frames[2], 6)),  # store fills: evictions
        ("downlink", 3000, [(1, 2, "send", 1, 3), (2, 0, "release"), (77, 1, "send", 0, 0)]),
        ("downlink", 5000, b"\x11\x10\xc0\x00\x00\x01\xde\xad"),  # damaged request
        ("directory",),
        ("downlink", 1 << 24),
        ("counters",),
    ]
    q, h = _compare(ops, classifier="rule", store_bytes=100_000)  # full at frame 6
    statuses = [r.status for r in h]
    assert statuses[:6] == [0, -7, 0, -10, -5, 0]
    assert statuses[10] == -7
    assert q.results[8].report["products_evicted"] + q.results[8].report["products_dropped"] > 0
    assert decode_stream(q.results[12].data)  # decodes with libaec
    assert all(r.insns > 0 for r in q.results[:6])


def test_frame_and_cadu_links_are_byte_identical(m4_image, lib):
    """The link layer (frames, Reed-Solomon, randomiser) on the Cortex-M4: the same bytes."""
    f = synthetic_frame(160, 224, seed=60, ships=[(20, 30), (100, 150)], land=(120, 0, 160, 80))
    ops = [
        ("frame", f, FrameMeta.for_frame(f, 1)),
        ("link", "cadu", 0x2C5),
        ("directory",),
        ("downlink", 7 * 1279 + 5),
        ("link", "frames", 17),
        ("downlink", 1 << 24),
        ("link", "cadu", 1024),  # refused: spacecraft ids are 10 bits
        ("counters",),
    ]
    q, h = _compare(ops, classifier="rule", store_bytes=200_000)
    assert [r.status for r in h] == [0, 0, 0, 0, 0, 0, -1, 0]
    assert q.results[2].data[:4] == bytes.fromhex("1ACFFC1D")
    assert len(q.results[3].data) == 7 * 1279
    assert len(q.results[5].data) % 1115 == 0 and len(q.results[5].data) > 0
    assert q.results[3].insns > 0


def test_frame_larger_than_frame_memory_is_refused_unread(m4_image, lib):
    big = np.zeros((1025, 1024, 4), np.uint16)
    ops = [("frame", big, FrameMeta.for_frame(big, 1)), ("counters",)]
    _, h = _compare(ops, classifier="rule", store_bytes=1 << 20)
    assert h[0].status == -4


@pytest.mark.realdata
def test_shipped_model_on_real_frame(m4_image, lib, data_dir):
    if not has_model():
        pytest.skip("the build has no classifier model (models/shipped)")
    f, gt, epsg = real_frame(data_dir, "marseille", 300, 200, 192, 256)
    meta = FrameMeta.for_frame(f, 42, crs_epsg=epsg, geotransform=gt, time_s=1_690_000_000)
    ops = [("frame", f, meta), ("directory",), ("downlink", 1 << 24)]
    q, _ = _compare(ops, classifier="model")
    assert q.results[0].status == 0
    assert q.results[0].insns > 0


def test_flight_image_within_budgets(m4_image):
    """The linker script enforces the budgets; this records the figures."""
    from triage.onboard.bench import image_figures

    fig = image_figures(m4_image("triage_fw"))
    assert fig["ram_bytes"] <= 64 * 1024  # .data + .bss + stack, engine arena included
    assert fig["flash_bytes"] <= 128 * 1024  # code + model + constants
    assert fig["extmem_bytes"] <= 16 * 1024 * 1024  # frame memory + store + work area


def test_profile_splits_each_operation_by_stage(m4_image, lib):
    """The image reports every operation's instructions by stage of tri_profile.h: every
    stage named once, and the stages add up to the operation's count but for the call's
    own entry and exit (a few dozen instructions)."""
    import ctypes

    lib.tri_profile_stage.restype = ctypes.c_char_p
    lib.tri_profile_stage.argtypes = [ctypes.c_uint32]
    names = []
    while (name := lib.tri_profile_stage(len(names))) is not None:
        names.append(name.decode())
    assert names[:3] == ["checks", "preprocess", "inference"] and "downlink" in names
    frame = synthetic_frame(96, 128, seed=64, ships=[(30, 40)], land=(60, 0, 96, 50))
    ops = [("frame", frame, FrameMeta.for_frame(frame, 1)), ("directory",), ("downlink", 9000)]
    q = run_on_qemu(ops, classifier="rule")
    for r in q.results:
        assert list(r.stages) == names
        assert r.insns - 400 <= sum(r.stages.values()) <= r.insns, r.kind
    frame_stages, directory_stages = q.results[0].stages, q.results[1].stages
    assert all(frame_stages[s] > 0 for s in ("checks", "preprocess", "inference", "products"))
    assert frame_stages["downlink"] == 0
    assert directory_stages["downlink"] == sum(directory_stages.values())
