"""The ground segment: ingest, reassembly, decoding, catalogue, georeferenced
products and pass planning, with the ``groundstation`` CLI."""

__version__ = "0.1.0"
