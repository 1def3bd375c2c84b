"""An independent receiver decodes our downlink: gr-satellites (Debian package
``gr-satellites``, with GNU Radio) demodulates a BPSK recording of the firmware's CADUs
(9,600 baud, root-raised-cosine, complex float IQ at 48 kHz, Eb/N0 8 dB: some symbol
errors for the codes to correct), finds the sync markers, derandomises, Reed-Solomon
decodes in the dual basis at interleaving depth 5, as ``ground_station/satyaml/TRIAGE.yml``
describes - and its frames are exactly the transfer frames the firmware made; our frame
reader then gives exactly the packets packet mode sends.

``make test`` installs gr-satellites and GNU Radio (``make test-packages``); run on its own
elsewhere, the test skips with the reason when gr-satellites cannot run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ground_station.frames import FrameReader, KissReader
from triage.contract.frames import ASM_BYTES, CADU_BYTES, FRAME_BYTES, randomise
from triage.contract.paths import repo_root

from .baseband import BAUD, SAMP_RATE, bpsk_iq
from .streams import firmware_pass

SATYAML = repo_root() / "ground_station" / "satyaml" / "TRIAGE.yml"
COMPAT = Path(__file__).with_name("gr_satellites_compat.py")
SYSTEM_PYTHON = "/usr/bin/python3"


def _why_not() -> str | None:
    if shutil.which("gr_satellites") is None or not Path(SYSTEM_PYTHON).exists():
        return "gr-satellites is not installed"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gnuradio.blocks, satellites"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"gr-satellites cannot run: {probe.stderr.strip().splitlines()[-1:]}"
    return None


@pytest.mark.slow
def test_gr_satellites_decodes_our_recording(lib, tmp_path):
    why = _why_not()
    if why:
        pytest.skip(f"{why}: apt-get install --no-install-recommends gr-satellites gnuradio")
    cadus = firmware_pass("cadu")
    frames = firmware_pass("frames")
    ours = [frames[k : k + FRAME_BYTES] for k in range(0, len(frames), FRAME_BYTES)]
    # half a second of signal before (for the receiver's loops to settle) and two after
    # (a file that ends right after the last CADU can end the flowgraph before it is out)
    preamble = bytes(range(256)) * 2
    rec = tmp_path / "pass.cf32"
    bpsk_iq(preamble + cadus + preamble * 5, ebn0_db=8.0, seed=18).tofile(rec)
    kiss = tmp_path / "frames.kiss"
    cmd = [SYSTEM_PYTHON, str(COMPAT), str(SATYAML), "--rawfile", str(rec), "--iq"]
    res = subprocess.run(
        [*cmd, "--samp_rate", str(SAMP_RATE), "--kiss_out", str(kiss), "--hexdump"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    # the frames from gr-satellites' KISS file (its --hexdump text, printed by several
    # threads, can interleave with its log lines: it only tells how much RS corrected)
    got = KissReader().feed(kiss.read_bytes(), final=True)
    assert got == ours, f"{len(got)} frames decoded of {len(ours)}"
    corrected = sum(int(n) for n in re.findall(r"rs_errors \. (\d+)", res.stdout))
    assert corrected > 0  # the noise was real: Reed-Solomon had work to do
    reader = FrameReader()
    assert reader.frames(got) == firmware_pass("packets")
    assert BAUD == 9600


def test_gr_satellites_encoder_makes_our_codeblocks(lib):
    """gr-satellites' own CCSDS Reed-Solomon encoder (libfec's, with the standard's basis
    tables: an implementation independent of ours and of reedsolo) on the firmware's
    transfer frames gives exactly the codeblocks inside the firmware's CADUs."""
    why = _why_not()
    if why:
        pytest.skip(f"{why}: apt-get install --no-install-recommends gr-satellites gnuradio")
    frames, cadus = firmware_pass("frames"), firmware_pass("cadu")
    res = subprocess.run(
        [SYSTEM_PYTHON, str(Path(__file__).with_name("gr_satellites_encode.py"))],
        input=frames,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    ours = b"".join(
        randomise(cadus[k + ASM_BYTES : k + CADU_BYTES]) for k in range(0, len(cadus), CADU_BYTES)
    )
    assert len(res.stdout) == len(ours) > 0
    assert res.stdout == ours
