"""The int8 inference engine's Python side.

- :mod:`triage.engine.tflite` reads and validates a ``.tflite`` flatbuffer;
- :mod:`triage.engine.lower` turns it into engine steps with TFLM-exact
  precomputed parameters (:mod:`triage.engine.quant`);
- :mod:`triage.engine.planner` lays the tensors out in one arena;
- :mod:`triage.engine.export` writes the C sources the firmware compiles in;
- :mod:`triage.engine.runtime` runs an exported model in the host build
  through ctypes; :mod:`triage.engine.oracle` runs the same ``.tflite`` in
  TensorFlow Lite Micro, the reference.
"""
