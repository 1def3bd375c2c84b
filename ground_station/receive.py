"""What a receiver hands over, into ingest: input formats, their detection, live sockets.

Formats (``groundstation ingest --format``):

- ``packets``: bare space packets (the deframer's input, as before);
- ``cadu``: a CADU stream (sync marker, randomised Reed-Solomon codeblocks);
- ``frames``: TM transfer frames back to back;
- ``kiss``: KISS data frames each holding one transfer frame (gr-satellites' output);
- ``auto``: decided from the first :data:`DETECT_BYTES` bytes of each stream by
  :func:`detect_format`, with rules that random data or another format passes with a
  probability below 1e-5: two sync markers one CADU apart (cadu); a KISS data frame
  holding a frame with a valid FECF (kiss); two frames back to back with version 0 and
  valid FECFs, or one that is the whole stream (frames); else packets. A stream that
  matches none is read as packets, so that garbage gets the deframer's "no valid packet".

:func:`link_chunks` turns a stream of any link format into chunks of whole packets for
:class:`~ground_station.ingest.Ingestor`; :func:`socket_chunks` reads a live UDP or TCP
input on a local address, for a bounded time.
"""

from __future__ import annotations

import binascii
import contextlib
import itertools
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import urlsplit

import numpy as np

from ground_station.errors import InputError
from ground_station.frames import (
    ASM_MAX_BIT_ERRORS,
    FEND,
    FORMATS,
    KissReader,
    LinkStats,
    Receiver,
    _asm_errors,
)
from triage.contract.frames import (
    ASM_BYTES,
    CADU_BYTES,
    DEFAULT_SPACECRAFT_ID,
    FRAME_BYTES,
    FRAME_VERSION,
)
from triage.contract.records import CRC16_INIT

INPUT_FORMATS = ("auto", "packets", *FORMATS)
DETECT_BYTES = 64 * 1024


def _is_frame(buf: bytes, pos: int) -> bool:
    cand = buf[pos : pos + FRAME_BYTES]
    return (
        len(cand) == FRAME_BYTES
        and cand[0] >> 6 == FRAME_VERSION
        and binascii.crc_hqx(cand, CRC16_INIT) == 0
    )


def detect_format(head: bytes) -> str:
    """The format of a stream from its first bytes (see the module docstring)."""
    if len(head) >= CADU_BYTES + ASM_BYTES:
        a = np.frombuffer(head, dtype=np.uint8)
        m = len(a) - CADU_BYTES - ASM_BYTES + 1
        rows = np.stack([a[k : k + m] for k in range(ASM_BYTES)], axis=1)
        nxt = np.stack([a[CADU_BYTES + k : CADU_BYTES + k + m] for k in range(ASM_BYTES)], axis=1)
        e, ei = _asm_errors(rows)
        e2, ei2 = _asm_errors(nxt)
        t = ASM_MAX_BIT_ERRORS
        if np.any(((e <= t) & (e2 <= t)) | ((ei <= t) & (ei2 <= t))):
            return "cadu"
    if head[:1] == bytes([FEND]):
        frames = KissReader().feed(head[: 2 * (FRAME_BYTES + 2) + 64])
        if frames and _is_frame(frames[0], 0):
            return "kiss"
    if _is_frame(head, 0) and (len(head) == FRAME_BYTES or _is_frame(head, FRAME_BYTES)):
        return "frames"
    return "packets"


def _peek(chunks: Iterable[bytes], need: int) -> tuple[bytes, Iterator[bytes]]:
    it = iter(chunks)
    got: list[bytes] = []
    size = 0
    for chunk in it:
        got.append(bytes(chunk))
        size += len(chunk)
        if size >= need:
            break
    return b"".join(got), itertools.chain(got, it)


def link_chunks(
    fmt: str,
    chunks: Iterable[bytes],
    spacecraft_id: int = DEFAULT_SPACECRAFT_ID,
    progress: Callable[[int], None] | None = None,
) -> tuple[str, Iterator[bytes], LinkStats | None]:
    """``(format, packet chunks, link statistics)`` of one stream in ``fmt`` (``auto``:
    detected). For ``packets`` the chunks pass through and the statistics are None.
    ``progress(n)`` is called with the input bytes of every chunk as it is read."""
    if fmt not in INPUT_FORMATS:
        raise InputError(f"input format must be one of {', '.join(INPUT_FORMATS)}, not {fmt!r}")
    if progress is not None:
        chunks = _counting(chunks, progress)
    if fmt == "auto":
        head, chunks = _peek(chunks, DETECT_BYTES)
        fmt = detect_format(head)
    if fmt == "packets":
        return fmt, iter(chunks), None
    rx = Receiver(fmt, spacecraft_id)
    return fmt, _ahead(rx.packets(chunks)), rx.stats


def _ahead(chunks: Iterator[bytes], depth: int = 2) -> Iterator[bytes]:
    """The chunks, produced one step ahead in a worker thread: reading and link decoding
    (Reed-Solomon runs without the GIL) overlap the ingest of the previous chunk. Order
    and content are unchanged; an error in the worker is raised here."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work() -> None:
        try:
            for c in chunks:
                while not stop.is_set():
                    try:
                        q.put(c, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    t = threading.Thread(target=work, name="link-decode", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        t.join(timeout=5)


def _counting(chunks: Iterable[bytes], progress: Callable[[int], None]) -> Iterator[bytes]:
    for chunk in chunks:
        progress(len(chunk))
        yield chunk


# ---------------------------------------------------------------- live input


def parse_address(address: str) -> tuple[str, str, int]:
    """``udp://HOST:PORT`` or ``tcp://HOST:PORT`` -> (protocol, host, port)."""
    u = urlsplit(address)
    if u.scheme not in ("udp", "tcp") or not u.hostname or u.port is None:
        raise InputError(f"live input must be udp://HOST:PORT or tcp://HOST:PORT, not {address!r}")
    return u.scheme, u.hostname, u.port


def socket_chunks(
    address: str,
    *,
    idle_timeout_s: float = 10.0,
    max_seconds: float | None = None,
    batch_bytes: int = 1 << 20,
    batch_seconds: float = 0.5,
    ready: Callable[[tuple[str, int]], None] | None = None,
) -> Iterator[bytes]:
    """Bytes received on a local address, in batches of at most ``batch_bytes`` or
    ``batch_seconds``: UDP datagrams (each appended as it comes), or one TCP connection's
    stream. Stops after ``idle_timeout_s`` without data (once data has come, or from the
    start), at the end of a TCP connection, or after ``max_seconds``. ``ready(addr)`` is
    called once the socket listens (with the bound address: port 0 picks a free one)."""
    proto, host, port = parse_address(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    start = time.monotonic()

    def left(deadline: float) -> float:
        now = time.monotonic()
        stop = deadline if max_seconds is None else min(deadline, start + max_seconds)
        return stop - now

    with socket.socket(family, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise InputError(f"cannot listen on {address}: {exc.strerror}") from None
        conn = sock
        if proto == "tcp":
            sock.listen(1)
            if ready is not None:
                ready(sock.getsockname()[:2])
            sock.settimeout(max(0.01, left(time.monotonic() + idle_timeout_s)))
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                return
        elif ready is not None:
            ready(sock.getsockname()[:2])
        with conn if conn is not sock else contextlib.nullcontext():
            batch = bytearray()
            flush_at = time.monotonic() + batch_seconds
            idle_until = time.monotonic() + idle_timeout_s
            while True:
                wait = min(left(idle_until), max(0.0, flush_at - time.monotonic()) or batch_seconds)
                if wait <= 0 and left(idle_until) <= 0:
                    break
                conn.settimeout(max(0.01, wait))
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    data = None
                if data == b"" and proto == "tcp":
                    break  # the sender closed the connection
                if data:
                    batch += data
                    idle_until = time.monotonic() + idle_timeout_s
                if batch and (len(batch) >= batch_bytes or time.monotonic() >= flush_at):
                    yield bytes(batch)
                    batch.clear()
                if time.monotonic() >= flush_at:
                    flush_at = time.monotonic() + batch_seconds
                if left(idle_until) <= 0:
                    break
            if batch:
                yield bytes(batch)
