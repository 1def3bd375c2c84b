"""Child process of test_stream_m4_san.py: runs streaming models of the ASan/UBSan build.

Usage: python stream_san_runner.py LIB IN.npz OUT.npz. IN.npz maps ``<model>|<key>`` to
int8 frames [H, W, C]; OUT.npz gets the outputs under the same keys, or the status
(int) when the run fails. Started with libasan and libubsan preloaded; it imports
neither TensorFlow nor TFLM.
"""

from __future__ import annotations

import sys

import numpy as np

from triage.engine.runtime import EngineLib, StreamModel


def main() -> int:
    lib = EngineLib(sys.argv[1])
    ins = np.load(sys.argv[2])
    outs = {}
    models: dict[str, StreamModel] = {}
    for key in ins.files:
        name = key.split("|")[0]
        sm = models.setdefault(name, StreamModel(lib, name))
        res = sm.run(ins[key])
        outs[key] = res.out if res.status == 0 else np.array(res.status)
        # one byte of scratch too few: refused before anything is touched
        short = sm.run(ins[key], scratch_bytes=sm.scratch_bytes(ins[key].shape[1]) - 1)
        outs[key + "|short"] = np.array(short.status)
    np.savez(sys.argv[3], **outs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
