"""Code that builds the on-board classifier (imported as ``triage_models``).

The folder above holds what it ships: the int8 ``.tflite``, the C sources
the firmware compiles in, the decision policy and the model card.
"""
