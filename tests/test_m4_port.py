"""The Cortex-M4 port under QEMU: console, semihosting, exit codes,
the deterministic instruction counter, stack painting, and the linker
script's enforcement of the RAM and flash budgets."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from triage import paths, qemu

pytestmark = pytest.mark.qemu


def test_exit_code_reaches_host(m4_image):
    res = qemu.run_image(m4_image("selftest"), ["exit", "7"], timeout_s=60)
    assert res.returncode == 7, res
    assert "selftest: uart ok" in res.stdout


def test_command_line_words_and_numbers(m4_image):
    """The images read their command line with ports/cortex_m4/cmdline.c: a tab separates
    words, and a number that is not a u32 is refused (before, it wrapped or stopped)."""
    res = qemu.run_image(m4_image("selftest"), ["exit\t5"], timeout_s=60)
    assert res.returncode == 5, res
    for bad in ("4294967296", "5x", "-5"):
        res = qemu.run_image(m4_image("selftest"), ["exit", bad], timeout_s=60)
        assert res.returncode == 1, (bad, res)
        assert "selftest: not a number" in res.stdout + res.stderr, (bad, res)


@pytest.mark.parametrize(
    ("script", "rc"),
    [
        ("init 1048576 none\r\ncounters {out}\r\n", 0),  # CR LF lines
        ("init\t1048576\tnone\ncounters {out}\n", 0),  # tabs
        ("init 1048576 none\ndownlink 4294967296 {out}\n", 3),  # budget past u32
        ("init 1048576 none\ndownlink 12x {out}\n", 3),  # not a number
        ("init 10485760000 none\ncounters {out}\n", 3),  # store bytes past u32
        ("init 1048576 none\ncounters {out} a b c d e f g\n", 3),  # more than 8 words
    ],
)
def test_flight_image_script_lines(m4_image, tmp_path, script, rc):
    out = tmp_path / "out.bin"
    path = tmp_path / "script.txt"
    path.write_bytes(script.format(out=out).encode())
    res = qemu.run_image(m4_image("triage_fw"), [str(path)], timeout_s=120)
    assert res.returncode == rc, res
    if rc == 0:
        assert out.exists() and out.stat().st_size > 0
    else:
        assert "bad script line" in res.stdout, res


def test_semihosting_files(m4_image, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("payload from the host\n")
    out = tmp_path / "out.txt"
    res = qemu.run_image(m4_image("selftest"), ["echo", str(src), "write", str(out)], timeout_s=60)
    assert res.returncode == 0, res
    assert "payload from the host" in res.stdout
    assert out.read_text() == "semihosting write ok\n"


def _loop_insns(m4_image, n: int) -> int:
    res = qemu.run_image(m4_image("selftest"), ["loop", str(n)], timeout_s=120)
    assert res.returncode == 0, res
    line = next(x for x in res.stdout.splitlines() if x.startswith("loop insns "))
    return int(line.split()[-1])


def test_instruction_count_is_deterministic_and_linear(m4_image):
    a = _loop_insns(m4_image, 10_000)
    assert a == _loop_insns(m4_image, 10_000)
    b = _loop_insns(m4_image, 20_000)
    # The loop body is a fixed handful of instructions: the count doubles
    # (to the counter's 40-instruction resolution), and is not zero.
    per_iter = (b - a) / 10_000
    assert 2 <= per_iter <= 8, (a, b)
    assert abs(b - 2 * a) <= 2 * 40 + 400, (a, b)


def test_instruction_count_survives_systick_wrap(m4_image):
    # 2**24 ticks * 40 = 671M instructions per SysTick wrap.
    a = _loop_insns(m4_image, 1_000_000)
    b = _loop_insns(m4_image, 2_000_000)
    big = _loop_insns(m4_image, 250_000_000)
    assert big > 671_088_640
    predicted = a + (b - a) * 249
    assert abs(big - predicted) <= 250 * 80, (a, b, big)


def test_stack_painting_measures_use(m4_image):
    res = qemu.run_image(m4_image("selftest"), ["stack", "4000"], timeout_s=60)
    assert res.returncode == 0, res
    line = next(x for x in res.stdout.splitlines() if x.startswith("stack peak "))
    peak, size = int(line.split()[2]), int(line.split()[4])
    assert 4096 <= peak < size


@pytest.mark.parametrize(
    ("decl", "message"),
    [
        (
            "unsigned char big[70 * 1024];\n"
            "int touch(void) { big[5] = 1; return big[1] + big[70000]; }",
            "RAM",
        ),
        (
            "const unsigned char big[130 * 1024] = {1}; int touch(void) { return big[1]; }",
            "FLASH",
        ),
    ],
)
def test_linker_script_enforces_budgets(tmp_path, decl, message):
    fw = paths.repo_root() / "mcu_firmware"
    port = fw / "ports" / "cortex_m4"
    src = tmp_path / "big.c"
    src.write_text(
        "int touch(void);\n" + decl + "\nint main(void);\nint main(void) { return touch(); }\n"
    )
    cmd = [
        "arm-none-eabi-gcc",
        "-mcpu=cortex-m4",
        "-mthumb",
        "-mfloat-abi=hard",
        "-mfpu=fpv4-sp-d16",
        "-O1",
        "-nostartfiles",
        "--specs=nano.specs",
        "-Wl,--no-warn-rwx-segments",
        f"-T{port / 'link.ld'}",
        f"-I{port}",
        str(src),
        str(port / "startup.c"),
        str(port / "board.c"),
        str(port / "semihost.c"),
        "-o",
        str(tmp_path / "big.elf"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode != 0, "an image over budget must not link"
    assert message in proc.stderr, proc.stderr
    assert not Path(tmp_path / "big.elf").exists()
