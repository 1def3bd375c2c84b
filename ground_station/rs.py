"""Reed-Solomon (255,223) decoding of CCSDS codeblocks on the ground.

The code is the contract's (:mod:`triage.contract.frames`): GF(2^8) with the field
polynomial 0x187, generator roots beta^(112 + j), j = 0..31, beta = alpha^11, symbols
in the dual basis on the wire, interleaving depth 5. Per codeword:

1. **Syndromes** S_j = c(beta^(112 + j)). Each symbol's contribution to all 32 of them
   is one row of a table ``[position, symbol value] -> 32 bytes`` (2 MB, built once from
   the field tables), so a codeword's syndromes are 255 table rows XORed together (the
   fast decoder indexes a copy of it by the symbols' dual-basis values, as they are on
   the wire, and takes the five codewords of a block in one pass over it). A clean
   codeword (all syndromes zero) is done: every codeword is checked, none is skipped.
2. Otherwise **Berlekamp-Massey** gives the error locator Lambda(x), a **Chien search**
   its roots (an error at degree d has locator X = beta^d, a root of Lambda at X^-1),
   and **Forney's formula** the error values, e = X^(1 - 112) Omega(X^-1) /
   Lambda'(X^-1) with Omega(x) = S(x) Lambda(x) mod x^32. Up to E = 16 symbol errors
   are corrected; a codeword is declared uncorrectable (never guessed) when Lambda's
   degree exceeds 16 or differs from its number of roots, or the corrected word still
   has a non-zero syndrome.

:func:`decode_codeblocks` runs both steps over a batch of codeblocks, compiled with
numba (the per-symbol loops are the hot path of CADU ingest). :func:`syndromes` and
:func:`decode_word` are the same mathematics in plain numpy and Python, slow, for
tests and for reading; the tests hold the two to the same results, and both to the
``reedsolo`` package.
"""

from __future__ import annotations

from functools import cache

import numba
import numpy as np

from triage.contract.frames import (
    CODEBLOCK_BYTES,
    FRAME_BYTES,
    RS_E,
    RS_FIRST_ROOT,
    RS_INTERLEAVE,
    RS_K,
    RS_N,
    RS_PARITY,
    RS_ROOT_STEP,
    dual_basis_tables,
    gf_tables,
)

_EXP, _LOG = gf_tables()
EXP = np.asarray(_EXP, dtype=np.int64)
LOG = np.asarray(_LOG, dtype=np.int64)
_TO_DUAL, _FROM_DUAL = dual_basis_tables()
TO_DUAL = np.asarray(_TO_DUAL, dtype=np.uint8)
FROM_DUAL = np.asarray(_FROM_DUAL, dtype=np.uint8)
UNCORRECTABLE = -1


def _root_log(j: int) -> int:
    """log_alpha of the j-th generator root beta^(112 + j)."""
    return (RS_ROOT_STEP * (RS_FIRST_ROOT + j)) % 255


@cache
def syndrome_table() -> np.ndarray:
    """``[255 * 256, 4]`` uint64: row ``i * 256 + v`` holds, as 32 bytes (S_0 first), the
    syndromes of a word whose only non-zero symbol is v (conventional) at index i."""
    i = np.arange(RS_N)
    e = (
        np.asarray([_root_log(k) for k in range(RS_PARITY)])[None, :] * (RS_N - 1 - i)[:, None]
    ) % 255
    v = np.arange(256)
    logs = (LOG[v][None, :, None] + e[:, None, :]) % 255  # [255, 256, 32]
    t = EXP[logs].astype(np.uint8)
    t[:, 0, :] = 0
    return np.ascontiguousarray(t).view(np.uint64).reshape(RS_N * 256, 4)


@cache
def dual_syndrome_table() -> np.ndarray:
    """:func:`syndrome_table` indexed by symbols as they are on the wire (dual basis): row
    ``i * 256 + u`` is row ``i * 256 + v`` of it, v the conventional value of u."""
    rows = (np.arange(RS_N)[:, None] * 256 + FROM_DUAL[None, :].astype(np.int64)).ravel()
    return np.ascontiguousarray(syndrome_table()[rows])


# ---------------------------------------------------------------- reference (slow)


def syndromes(words: np.ndarray) -> np.ndarray:
    """Syndromes ``[N, 32]`` uint8 of codewords ``[N, 255]`` uint8 (conventional)."""
    words = np.asarray(words, dtype=np.uint8)
    n = len(words)
    table = syndrome_table()
    acc = np.zeros((n, 4), dtype=np.uint64)
    cols = np.ascontiguousarray(words.T).astype(np.int64)
    for i in range(RS_N):
        acc ^= table[cols[i] + i * 256]
    return acc.view(np.uint8).reshape(n, RS_PARITY)


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    return 0 if a == 0 else _EXP[(_LOG[a] - _LOG[b]) % 255]


def _locator(s: list[int]) -> list[int]:
    """Berlekamp-Massey: Lambda(x), lowest power first (Lambda[0] = 1)."""
    lam = [1] + [0] * RS_PARITY
    prev = [1] + [0] * RS_PARITY
    length, shift, b = 0, 1, 1
    for r in range(RS_PARITY):
        d = s[r]
        for i in range(1, length + 1):
            d ^= _mul(lam[i], s[r - i])
        if d == 0:
            shift += 1
            continue
        coef = _div(d, b)
        new = lam[:]
        for i in range(RS_PARITY + 1 - shift):
            new[i + shift] ^= _mul(coef, prev[i])
        if 2 * length <= r:
            prev, length, b, shift = lam, r + 1 - length, d, 1
        else:
            shift += 1
        lam = new
    return lam[: length + 1]


def decode_word(word: np.ndarray) -> tuple[np.ndarray, int] | None:
    """One codeword ``[255]`` uint8 (conventional): ``(corrected word, symbols corrected)``,
    or None when it cannot be corrected."""
    s = [int(x) for x in syndromes(np.asarray(word)[None, :])[0]]
    if not any(s):
        return np.array(word, dtype=np.uint8), 0
    lam = _locator(s)
    nerr = len(lam) - 1
    if nerr == 0 or nerr > RS_E:
        return None
    roots = [
        d
        for d in range(RS_N)
        if not _poly_at(lam, (-RS_ROOT_STEP * d) % 255)  # Lambda(beta^-d)
    ]
    if len(roots) != nerr:
        return None
    omega = [0] * RS_PARITY
    for i, si in enumerate(s):
        for m, c in enumerate(lam):
            if i + m < RS_PARITY:
                omega[i + m] ^= _mul(si, c)
    out = np.array(word, dtype=np.uint8, copy=True)
    for d in roots:
        xlog = (RS_ROOT_STEP * d) % 255
        num = _poly_at(omega, (-xlog) % 255)
        den = _poly_at([lam[m] if m % 2 == 1 else 0 for m in range(len(lam))][1:], (-xlog) % 255)
        if den == 0:
            return None
        out[RS_N - 1 - d] ^= _mul(_EXP[((1 - RS_FIRST_ROOT) * xlog) % 255], _div(num, den))
    if syndromes(out[None, :]).any():
        return None
    return out, nerr


def _poly_at(p: list[int], xlog: int) -> int:
    """p(x) at x = alpha^xlog (p lowest power first)."""
    v = 0
    for m, c in enumerate(p):
        if c:
            v ^= _EXP[(_LOG[c] + xlog * m) % 255]
    return v


# ---------------------------------------------------------------- fast (numba)


@numba.njit(cache=True, nogil=True)
def _gmul(a, b, exp, log):
    if a == 0 or b == 0:
        return 0
    return exp[log[a] + log[b]]


@numba.njit(cache=True, nogil=True)
def _gdiv(a, b, exp, log):
    if a == 0:
        return 0
    return exp[(log[a] - log[b]) % 255]


@numba.njit(cache=True, nogil=True)
def _decode_nb(word, synd, exp, log):
    """Corrects word (conventional, in place) from its non-zero syndromes; the number of
    symbols corrected, or -1 (word left as it was)."""
    npar = 32
    lam = np.zeros(npar + 1, np.int64)
    prev = np.zeros(npar + 1, np.int64)
    new = np.zeros(npar + 1, np.int64)
    lam[0] = 1
    prev[0] = 1
    length = 0
    shift = 1
    b = 1
    for r in range(npar):
        d = np.int64(synd[r])
        for i in range(1, length + 1):
            d ^= _gmul(lam[i], np.int64(synd[r - i]), exp, log)
        if d == 0:
            shift += 1
            continue
        coef = _gdiv(d, b, exp, log)
        new[:] = lam
        for i in range(npar + 1 - shift):
            new[i + shift] ^= _gmul(coef, prev[i], exp, log)
        if 2 * length <= r:
            prev[:] = lam
            length = r + 1 - length
            b = d
            shift = 1
        else:
            shift += 1
        lam[:] = new
    nerr = length
    if nerr == 0 or nerr > npar // 2:
        return -1
    roots = np.zeros(npar, np.int64)
    nroots = 0
    for dg in range(255):
        xinv = (-11 * dg) % 255
        v = 0
        for m in range(nerr + 1):
            if lam[m] != 0:
                v ^= exp[(log[lam[m]] + xinv * m) % 255]
        if v == 0:
            if nroots == npar:
                return -1
            roots[nroots] = dg
            nroots += 1
    if nroots != nerr:
        return -1
    omega = np.zeros(npar, np.int64)
    for i in range(npar):
        si = np.int64(synd[i])
        if si != 0:
            for m in range(nerr + 1):
                if i + m < npar:
                    omega[i + m] ^= _gmul(si, lam[m], exp, log)
    values = np.zeros(npar, np.int64)
    for k in range(nroots):
        dg = roots[k]
        xlog = (11 * dg) % 255
        xinv = (-xlog) % 255
        num = 0
        for i in range(npar):
            if omega[i] != 0:
                num ^= exp[(log[omega[i]] + xinv * i) % 255]
        den = 0
        for m in range(1, nerr + 1, 2):
            if lam[m] != 0:
                den ^= exp[(log[lam[m]] + xinv * (m - 1)) % 255]
        if den == 0:
            return -1
        values[k] = _gmul(exp[((1 - 112) * xlog) % 255], _gdiv(num, den, exp, log), exp, log)
    for k in range(nroots):
        word[254 - roots[k]] ^= values[k]
    return nerr


@numba.njit(cache=True, nogil=True)
def _codeblocks_nb(
    blocks, table, dual_table, exp, log, from_dual, to_dual, frames, corrected, words_fixed
):
    n = blocks.shape[0]
    word = np.zeros(255, np.uint8)
    save = np.zeros(255, np.uint8)
    acc = np.zeros((5, 4), np.uint64)
    check = np.zeros(4, np.uint64)
    synd = np.zeros(32, np.uint8)
    for b in range(n):
        # the syndromes of the five interleaved codewords in one pass over the block, from
        # its symbols as they are on the wire (the dual-basis table)
        for j in range(5):
            for q in range(4):
                acc[j, q] = 0
        for i in range(255):
            base = i * 256
            for j in range(5):
                row = base + blocks[b, 5 * i + j]
                for q in range(4):
                    acc[j, q] ^= dual_table[row, q]
        total = 0
        for j in range(5):
            if acc[j, 0] == 0 and acc[j, 1] == 0 and acc[j, 2] == 0 and acc[j, 3] == 0:
                continue
            for i in range(255):
                word[i] = from_dual[blocks[b, j + 5 * i]]
            for q in range(4):
                v = acc[j, q]
                for k in range(8):
                    synd[8 * q + k] = np.uint8((v >> np.uint64(8 * k)) & np.uint64(255))
            save[:] = word
            fixed = _decode_nb(word, synd, exp, log)
            if fixed > 0:  # check: the corrected word must be a codeword
                for q in range(4):
                    check[q] = 0
                for i in range(255):
                    row = i * 256 + word[i]
                    for q in range(4):
                        check[q] ^= table[row, q]
                if check[0] != 0 or check[1] != 0 or check[2] != 0 or check[3] != 0:
                    fixed = -1
            if fixed < 0:
                total = -1
                break
            words_fixed[0] += 1
            total += fixed
            for i in range(223):
                if word[i] != save[i]:
                    blocks[b, j + 5 * i] = to_dual[word[i]]
        corrected[b] = total
        if total >= 0:
            for i in range(1115):
                frames[b, i] = blocks[b, i]


def decode_codeblocks(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Decode derandomised codeblocks ``[n, 1275]`` uint8 (dual basis, as on the wire).

    Returns ``(frames [n, 1115] uint8, corrected [n] int64, codewords corrected)``:
    ``corrected[i]`` is the number of symbols corrected in block i, or
    :data:`UNCORRECTABLE` when one of its codewords could not be corrected (its frame
    row is then left zero and must be dropped). ``blocks`` is not changed."""
    blocks = np.array(blocks, dtype=np.uint8, copy=True, order="C")
    if blocks.ndim != 2 or blocks.shape[1] != CODEBLOCK_BYTES:
        raise ValueError(f"codeblocks must be [n, {CODEBLOCK_BYTES}], got {blocks.shape}")
    n = len(blocks)
    frames = np.zeros((n, FRAME_BYTES), dtype=np.uint8)
    corrected = np.zeros(n, dtype=np.int64)
    words = np.zeros(1, dtype=np.int64)
    ready()
    _codeblocks_nb(blocks, *_tables(), frames, corrected, words)
    return frames, corrected, int(words[0])


def _tables() -> tuple[np.ndarray, ...]:
    """The decoder's tables, in its argument order."""
    return syndrome_table(), dual_syndrome_table(), EXP, LOG, FROM_DUAL, TO_DUAL


if RS_K * RS_INTERLEAVE != FRAME_BYTES or RS_PARITY != 2 * RS_E:
    raise AssertionError("the decoder is written for RS(255,223), E = 16, depth 5")


@cache
def ready() -> None:
    """Once per process, on first use: load the compiled decoder (numba's cache) and check it
    on the all-zero codeblock, a codeword decoded with nothing to correct."""
    frames = np.zeros((1, FRAME_BYTES), dtype=np.uint8)
    corrected = np.zeros(1, dtype=np.int64)
    zero = np.zeros((1, CODEBLOCK_BYTES), dtype=np.uint8)
    _codeblocks_nb(zero, *_tables(), frames, corrected, np.zeros(1, dtype=np.int64))
    if corrected[0] != 0 or frames.any():
        raise AssertionError("the compiled Reed-Solomon decoder fails on the zero codeblock")
