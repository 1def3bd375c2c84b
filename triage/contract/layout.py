"""Fixed-size big-endian records: the machinery every layout of the contract is built on.

A :class:`Layout` names its fields (offset, storage type, bit fields, arrays,
defaults) once; Python packs and unpacks with it, and the code generator
(:mod:`triage.contract.generate`) renders the C offsets, masks, structs and
pack/unpack functions and the byte diagrams of ``WIRE_FORMAT.md`` from it.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from triage.contract.errors import LayoutError

_KINDS = {"u8": ("B", 1), "u16": ("H", 2), "u32": ("I", 4), "f64": ("d", 8)}


@dataclass(frozen=True)
class Field:
    """One field of a layout.

    ``kind`` is the storage type (``u8``, ``u16``, ``u32``, ``f64``); ``count``
    makes it an array. A bit field (``bits`` set) occupies ``bits`` bits of the
    ``kind`` word at ``offset``, ``shift`` bits up from its least significant
    bit; several bit fields share one word. ``default``: the value :meth:`Layout.pack`
    writes when none is given (None: the field must be given).
    """

    name: str
    offset: int
    kind: str
    doc: str
    count: int = 1
    bits: int | None = None
    shift: int = 0
    default: int | None = None

    @property
    def size(self) -> int:
        return _KINDS[self.kind][1] * self.count

    @property
    def mask(self) -> int:
        width = self.bits if self.bits is not None else 8 * _KINDS[self.kind][1]
        return (1 << width) - 1


@dataclass(frozen=True)
class Layout:
    """A fixed-size, big-endian record."""

    name: str
    size: int
    doc: str
    fields: tuple[Field, ...]

    def __post_init__(self) -> None:
        covered = [False] * self.size
        words: dict[int, Field] = {}
        for f in self.fields:
            if f.offset + f.size > self.size:
                raise AssertionError(f"{self.name}.{f.name} runs past the end")
            if f.bits is not None:
                prev = words.setdefault(f.offset, f)
                if prev.kind != f.kind:
                    raise AssertionError(f"{self.name}.{f.name}: bit fields disagree on word type")
            for i in range(f.offset, f.offset + f.size):
                if covered[i] and f.bits is None:
                    raise AssertionError(f"{self.name}.{f.name} overlaps byte {i}")
                covered[i] = True
        if not all(covered):
            raise AssertionError(f"{self.name}: bytes {covered.index(False)}.. not described")

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    def unpack(self, buf: bytes | bytearray | memoryview, offset: int = 0) -> dict:
        """Decode a record; raises :class:`LayoutError` when ``buf`` is too short."""
        if len(buf) - offset < self.size:
            raise LayoutError(
                f"{self.name}: need {self.size} bytes at offset {offset}, "
                f"have {max(0, len(buf) - offset)}"
            )
        out: dict = {}
        for f in self.fields:
            code, _ = _KINDS[f.kind]
            if f.count > 1:
                out[f.name] = struct.unpack_from(f">{f.count}{code}", buf, offset + f.offset)
                continue
            (word,) = struct.unpack_from(">" + code, buf, offset + f.offset)
            if f.bits is not None:
                word = (word >> f.shift) & f.mask
            out[f.name] = word
        return out

    def pack(self, values: Mapping[str, object]) -> bytes:
        """Encode a record; every field must be given (reserved fields default to 0, fields
        with a ``default`` to it)."""
        unknown = set(values) - {f.name for f in self.fields}
        if unknown:
            raise LayoutError(f"{self.name}: unknown fields {sorted(unknown)}")
        buf = bytearray(self.size)
        for f in self.fields:
            if f.name not in values:
                if f.name.startswith("reserved") or f.name == "spare":
                    continue
                if f.default is None:
                    raise LayoutError(f"{self.name}: field {f.name!r} missing")
            value = values.get(f.name, f.default)
            code, _ = _KINDS[f.kind]
            if f.count > 1:
                seq = tuple(value)  # type: ignore[arg-type]
                if len(seq) != f.count:
                    raise LayoutError(f"{self.name}.{f.name}: need {f.count} values")
                struct.pack_into(f">{f.count}{code}", buf, f.offset, *seq)
                continue
            if f.kind == "f64":
                struct.pack_into(">d", buf, f.offset, float(value))  # type: ignore[arg-type]
                continue
            ivalue = int(value)  # type: ignore[call-overload]
            if not 0 <= ivalue <= f.mask:
                raise LayoutError(
                    f"{self.name}.{f.name}={ivalue} does not fit {f.mask.bit_length()} bits"
                )
            if f.bits is not None:
                (word,) = struct.unpack_from(">" + code, buf, f.offset)
                word |= ivalue << f.shift
                struct.pack_into(">" + code, buf, f.offset, word)
            else:
                struct.pack_into(">" + code, buf, f.offset, ivalue)
        return bytes(buf)

    @cached_property
    def unpack_fast(self):
        """A one-call unpacker giving the same dicts as :meth:`unpack`, for hot paths (a
        layout without bit fields; the buffer must hold the record, no length message)."""
        fields = sorted(self.fields, key=lambda f: f.offset)
        if any(f.bits is not None for f in fields):
            raise LayoutError(f"{self.name} has bit fields: use unpack")
        fmt = struct.Struct(">" + "".join(f"{f.count}{_KINDS[f.kind][0]}" for f in fields))
        spans = []
        k = 0
        for f in fields:
            spans.append((f.name, k, f.count))
            k += f.count

        # one dict display, written out once per layout: a comprehension over the fields
        # would cost a loop per record
        items = ", ".join(
            f"{name!r}: v[{i}]" if n == 1 else f"{name!r}: v[{i}:{i + n}]" for name, i, n in spans
        )
        source = "def unpack(buf, offset=0):\n    v = unpack_from(buf, offset)\n"
        source += f"    return {{{items}}}\n"
        scope = {"unpack_from": fmt.unpack_from}
        exec(compile(source, f"<{self.name}.unpack_fast>", "exec"), scope)
        return scope["unpack"]


KIND_BYTES = {kind: size for kind, (_, size) in _KINDS.items()}
"""Bytes of each storage type."""
