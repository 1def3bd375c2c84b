"""Child process of test_engine_san.py: runs models of the ASan/UBSan build.

Usage: python san_runner.py LIB IN.npz OUT.npz. IN.npz maps model names to
int8 input batches; OUT.npz gets the outputs under the same names. Started
with libasan and libubsan preloaded; it imports neither TensorFlow nor TFLM.
"""

from __future__ import annotations

import sys

import numpy as np

from triage.engine.runtime import EngineLib


def main() -> int:
    lib = EngineLib(sys.argv[1])
    ins = np.load(sys.argv[2])
    outs = {name: lib.model(name).run(ins[name]) for name in ins.files}
    np.savez(sys.argv[3], **outs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
