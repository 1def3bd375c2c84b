"""The firmware's SHA-256 and HMAC-SHA-256 (tri_sha256.c, tri_hmac.c) against independent
references: the digests FIPS 180-4's examples and NIST's additional SHA-256 examples give
(typed from those documents), the HMAC values of RFC 4231's test cases 1-7, and Python's
hashlib / hmac on seeded messages of every length up to two blocks, long messages and every
way of splitting a message over update calls."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pytest

from triage.onboard import _lib

# FIPS 180-4 / NIST CSRC "SHA256.pdf" and "SHA2_Additional.pdf" examples
FIPS_VECTORS = [
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ),
    (
        b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
        b"hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
    ),
]
MILLION_A = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
# NIST's "extremely long message": this 64-byte pattern 16,777,216 times (1 GiB)
LONG_PATTERN = b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
LONG_DIGEST = "50e72a0e26442fe2552dc3938ac58658228c0cbfb1d2ca872ae435266fcd055e"

# RFC 4231 section 4: (key, data, HMAC-SHA-256; case 5 truncated to 128 bits)
RFC4231 = [
    (b"\x0b" * 20, b"Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\x0c" * 20, b"Test With Truncation", "a3b6167473100ee06e0c796c2955552b"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131,
     b"This is a test using a larger than block-size key and a larger than block-size data."
     b" The key needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
]  # fmt: skip


def sha256(data: bytes, chunks: list[int] | None = None) -> bytes:
    s = _lib.Sha256()
    pos = 0
    for n in chunks or [len(data)]:
        s.update(data[pos : pos + n])
        pos += n
    s.update(data[pos:])
    return s.digest()


@pytest.fixture(scope="module", autouse=True)
def _built(lib):
    if not hasattr(lib, "tri_sha256_init"):
        pytest.fail("the host library has no tri_sha256: rebuild the firmware")


@pytest.mark.parametrize("message,digest", FIPS_VECTORS)
def test_fips_examples(message: bytes, digest: str):
    assert sha256(message).hex() == digest
    assert hashlib.sha256(message).hexdigest() == digest  # the reference agrees


def test_one_million_a():
    data = b"a" * 1_000_000
    assert sha256(data, [1, 63, 64, 65, 999_000]).hex() == MILLION_A


def test_the_extremely_long_message():
    """1 GiB through the incremental interface: the 64-bit length in the padding."""
    chunk = LONG_PATTERN * (1 << 20)  # 64 MiB
    s = _lib.Sha256()
    for _ in range(16):
        s.update(chunk)
    assert s.digest().hex() == LONG_DIGEST


def test_every_length_and_split_against_hashlib():
    rng = np.random.default_rng(180_4)
    for n in range(0, 200):
        msg = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        want = hashlib.sha256(msg).digest()
        assert sha256(msg) == want, n
        cuts = sorted(rng.integers(0, n + 1, 3).tolist())
        chunks = [b - a for a, b in zip([0, *cuts[:-1]], cuts, strict=True)]
        assert sha256(msg, chunks) == want, (n, cuts)
    for n in (4095, 4096, 65_535, 131_071, 200_003):  # package-sized messages
        msg = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert sha256(msg, [7, 992, 992, 4096]) == hashlib.sha256(msg).digest(), n


@pytest.mark.parametrize("case", range(len(RFC4231)), ids=[f"rfc4231-{k + 1}" for k in range(7)])
def test_rfc4231(case: int):
    key, data, want = RFC4231[case]
    m = _lib.HmacSha256(key)
    m.update(data)
    got = m.digest().hex()
    assert got[: len(want)] == want
    assert got == hmac.new(key, data, hashlib.sha256).hexdigest()


def test_hmac_against_the_hmac_module():
    """Keys of every length around the block size, messages split over updates."""
    rng = np.random.default_rng(2104)
    for klen in (0, 1, 31, 32, 33, 63, 64, 65, 127, 128, 200):
        key = rng.integers(0, 256, klen, dtype=np.uint8).tobytes()
        msg = rng.integers(0, 256, int(rng.integers(0, 3000)), dtype=np.uint8).tobytes()
        m = _lib.HmacSha256(key)
        for k in range(0, len(msg), 777):
            m.update(msg[k : k + 777])
        assert m.digest() == hmac.new(key, msg, hashlib.sha256).digest(), klen


def test_digest_equal():
    a = bytes(range(32))
    assert _lib.digest_equal(a, a)
    for i in (0, 17, 31):
        b = bytearray(a)
        b[i] ^= 0x01
        assert not _lib.digest_equal(a, bytes(b))
