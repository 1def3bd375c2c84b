"""Arena planning: where each activation tensor lives in the one arena.

Tensors whose lifetimes overlap get disjoint memory, with one exception
that saves most of the memory of a CNN: an operator may write its output
over an input that dies at that operator, provided the output starts at
least the operator's *gap* below the input (its kernel writes in an order
that never overtakes what it still has to read; see ``lower.row_gap`` and
the write-order contracts in ``tnn_kernels.h``). Elementwise operators get
gap 0 (in place), convolutions and pools a few rows.

A kernel's scratch buffer (the optimised kernels' ring of widened rows) is
planned as a tensor that lives during its step only, so it shares memory
with every tensor not live at that step and with other steps' scratch.

Placement is greedy (each tensor at the lowest legal offset), tried in
several heuristic orders and a fixed set of seeded random ones; the
smallest arena wins (ties: the first found), so a plan is reproducible.
The engine re-verifies the result at bind time (no tensor overwritten while
it is still needed).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from triage.engine.lower import Lowered

ALIGN = 4  # TNN_ARENA_ALIGN: every tensor starts on a 4-byte boundary
RANDOM_ORDERS = 200  # extra placement orders tried (deterministic: PLAN_SEED)
PLAN_SEED = 1
# Scratch buffers of kernels are planned like tensors that live during their
# step only (ids from here; tensor indices are below 2^24).
SCRATCH_ID_BASE = 1 << 30


@dataclass
class Interval:
    tensor: int
    nbytes: int
    first: int  # step that writes it (-1: the model input, written before invoke)
    last: int  # last step that reads it (n_steps: the model output, read after)


@dataclass
class Plan:
    offsets: dict[int, int]
    arena_bytes: int
    lower_bound: int  # most bytes live at once, were every tensor disjoint
    intervals: dict[int, Interval]
    overlaps: dict[tuple[int, int], int]  # (input, output) -> gap, where overlap is legal
    order: str


def scratch_id(step: int) -> int:
    """The planner's id of a step's scratch buffer (never a tensor index)."""
    return SCRATCH_ID_BASE + step


def _align_up(x: int) -> int:
    return (x + ALIGN - 1) // ALIGN * ALIGN


def _align_down(x: int) -> int:
    return x // ALIGN * ALIGN


def lifetimes(low: Lowered) -> tuple[dict[int, Interval], dict[tuple[int, int], int]]:
    n = len(low.steps)
    iv: dict[int, Interval] = {}

    def touch(t: int, step: int, write: bool) -> None:
        nbytes = low.tensors[t].nbytes
        if t not in iv:
            iv[t] = Interval(t, nbytes, step, step)
        elif write:
            iv[t].first = min(iv[t].first, step)
        iv[t].last = max(iv[t].last, step)

    touch(low.input, -1, True)
    for i, s in enumerate(low.steps):
        touch(s.output, i, True)
        for t in s.inputs:
            touch(t, i, False)
    touch(low.output, n, False)
    for i, s in enumerate(low.steps):
        if s.scratch_bytes:
            t = scratch_id(i)
            iv[t] = Interval(t, s.scratch_bytes, i, i)
    overlaps: dict[tuple[int, int], int] = {}
    for i, s in enumerate(low.steps):
        for t, gap in zip(s.inputs, s.gaps, strict=True):
            if gap is None or t == s.output:
                continue
            if iv[t].last != i:
                continue  # still needed later: no overlap
            # an input given twice (x + x) must allow the overlap for both uses
            allowed = all(g is not None for u, g in zip(s.inputs, s.gaps, strict=True) if u == t)
            if allowed:
                overlaps[(t, s.output)] = max(gap, overlaps.get((t, s.output), gap))
    return iv, overlaps


def _live_together(a: Interval, b: Interval) -> bool:
    return max(a.first, b.first) <= min(a.last, b.last)


def _fits(
    x: int,
    t: Interval,
    placed: dict[int, int],
    iv: dict[int, Interval],
    overlaps: dict[tuple[int, int], int],
) -> bool:
    for u, ou in placed.items():
        b = iv[u]
        if not _live_together(t, b):
            continue
        if x + t.nbytes <= ou or ou + b.nbytes <= x:
            continue
        if (u, t.tensor) in overlaps and x + overlaps[(u, t.tensor)] <= ou:
            continue  # t is u's output, far enough below
        if (t.tensor, u) in overlaps and ou + overlaps[(t.tensor, u)] <= x:
            continue  # u is t's output, far enough below
        return False
    return True


def _place(order: list[int], iv: dict[int, Interval], overlaps: dict) -> dict[int, int]:
    placed: dict[int, int] = {}
    for t in order:
        ti = iv[t]
        cands = {0}
        for u, ou in placed.items():
            if not _live_together(ti, iv[u]):
                continue
            cands.add(_align_up(ou + iv[u].nbytes))
            if (u, t) in overlaps:
                x = _align_down(ou - overlaps[(u, t)])
                if x >= 0:
                    cands.add(x)
            if (t, u) in overlaps:
                cands.add(_align_up(max(0, ou + overlaps[(t, u)])))
        for x in sorted(cands):
            if _fits(x, ti, placed, iv, overlaps):
                placed[t] = x
                break
        else:  # pragma: no cover - the end of everything placed always fits
            raise AssertionError("no offset found")
    return placed


def plan_arena(low: Lowered) -> Plan:
    """Plans the arena of a lowered model; the smallest of several greedy orders."""
    iv, overlaps = lifetimes(low)
    n = len(low.steps)
    lower_bound = max(
        sum(v.nbytes for v in iv.values() if v.first <= s <= v.last) for s in range(-1, n + 1)
    )
    tensors = list(iv)
    orders = {
        "size": sorted(tensors, key=lambda t: (-iv[t].nbytes, iv[t].first)),
        "first": sorted(tensors, key=lambda t: (iv[t].first, -iv[t].nbytes)),
        "last": sorted(tensors, key=lambda t: (-iv[t].last, -iv[t].nbytes)),
        "span": sorted(tensors, key=lambda t: (-(iv[t].last - iv[t].first), -iv[t].nbytes)),
        "area": sorted(tensors, key=lambda t: -iv[t].nbytes * (iv[t].last - iv[t].first + 1)),
        # later tensors first: an output is placed before the input it may
        # overlap, so that the input can go above it
        "reverse": sorted(tensors, key=lambda t: (-iv[t].first, -iv[t].nbytes)),
    }
    rng = random.Random(PLAN_SEED)
    # placement is quadratic in the tensor count: fewer random tries for big graphs
    for i in range(RANDOM_ORDERS if len(tensors) <= 48 else RANDOM_ORDERS // 10):
        order = list(tensors)
        rng.shuffle(order)
        orders[f"random{i}"] = order
    best: Plan | None = None
    for name, order in orders.items():
        placed = _place(order, iv, overlaps)
        size = max(placed[t] + iv[t].nbytes for t in placed)
        if best is None or size < best.arena_bytes:
            best = Plan(placed, _align_up(size), lower_bound, iv, overlaps, name)
    assert best is not None
    verify(best)
    return best


def verify(plan: Plan) -> None:
    """Re-checks a plan pairwise (independent of how it was found)."""
    items = list(plan.intervals.values())
    for i, a in enumerate(items):
        oa = plan.offsets[a.tensor]
        if oa % ALIGN or oa + a.nbytes > plan.arena_bytes:
            raise AssertionError(f"tensor {a.tensor} misplaced")
        for b in items[i + 1 :]:
            ob = plan.offsets[b.tensor]
            if not _live_together(a, b) or oa + a.nbytes <= ob or ob + b.nbytes <= oa:
                continue
            g = plan.overlaps.get((a.tensor, b.tensor))
            if g is not None and ob + g <= oa:
                continue
            g = plan.overlaps.get((b.tensor, a.tensor))
            if g is not None and oa + g <= ob:
                continue
            raise AssertionError(f"tensors {a.tensor} and {b.tensor} collide")
