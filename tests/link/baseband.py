"""A baseband recording of CADUs: BPSK, root-raised-cosine pulses, complex float IQ.

Each bit becomes one symbol, 1 -> +1 and 0 -> -1 (NRZ-L on the in-phase axis, the
sense in which gr-satellites slices soft symbols), shaped by
a root-raised-cosine filter of roll-off 0.35 spanning 8 symbols, at ``sps`` samples per
symbol; white Gaussian noise at the stated Eb/N0 is added (seeded). Written as
interleaved float32 I/Q (what ``gr_satellites --rawfile FILE --iq`` reads).
"""

from __future__ import annotations

import numpy as np

BAUD = 9600
SAMP_RATE = 48000
ROLLOFF = 0.35


def rrc_taps(sps: int, span: int = 8, beta: float = ROLLOFF) -> np.ndarray:
    """Root-raised-cosine impulse response, unit energy, ``span`` symbols long."""
    t = (np.arange(span * sps + 1) - span * sps / 2) / sps
    h = np.empty_like(t)
    for k, x in enumerate(t):
        if x == 0:
            h[k] = 1 - beta + 4 * beta / np.pi
        elif abs(abs(x) - 1 / (4 * beta)) < 1e-9:
            h[k] = (beta / np.sqrt(2)) * (
                (1 + 2 / np.pi) * np.sin(np.pi / (4 * beta))
                + (1 - 2 / np.pi) * np.cos(np.pi / (4 * beta))
            )
        else:
            h[k] = (
                np.sin(np.pi * x * (1 - beta)) + 4 * beta * x * np.cos(np.pi * x * (1 + beta))
            ) / (np.pi * x * (1 - (4 * beta * x) ** 2))
    return h / np.sqrt(np.sum(h**2))


def bpsk_iq(data: bytes, ebn0_db: float, seed: int, sps: int = SAMP_RATE // BAUD) -> np.ndarray:
    """Complex64 baseband samples of ``data`` (see the module docstring)."""
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    symbols = 2.0 * bits - 1.0
    up = np.zeros(len(symbols) * sps)
    up[::sps] = symbols
    taps = rrc_taps(sps)
    sig = np.convolve(up, taps)
    # each symbol carries unit energy after the filter; noise per complex sample
    n0 = 10 ** (-ebn0_db / 10)
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, np.sqrt(n0 / 2), (2, len(sig)))
    iq = (sig + noise[0]) + 1j * noise[1]
    return (0.5 * iq).astype(np.complex64)


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.link.baseband CADU_FILE OUT.cf32 [--ebn0 DB] [--seed N]``."""
    import argparse
    from pathlib import Path

    ap = argparse.ArgumentParser(description="BPSK baseband recording of a CADU stream")
    ap.add_argument("cadus", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--ebn0", type=float, default=8.0, help="Eb/N0 in dB")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    preamble = bytes(range(256)) * 2  # for the receiver's loops to settle
    iq = bpsk_iq(preamble + args.cadus.read_bytes() + preamble * 5, args.ebn0, args.seed)
    iq.tofile(args.out)
    print(f"{args.out}: {len(iq)} samples at {SAMP_RATE} Hz, BPSK {BAUD} baud")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
