"""The contract layer: every fact the satellite, the ground and the model builder share.

It sits at the bottom of the repository and imports nothing else from it;
``ground_station`` and ``triage_models`` import only it from ``triage`` (a test
holds these rules). Modules, one concern each:

- :mod:`~triage.contract.enums`: tile actions, land policies, status codes,
  product types with their APIDs, packet and compression codes;
- :mod:`~triage.contract.layout`: the record machinery;
- :mod:`~triage.contract.records`: product header, frame metadata, frame summary,
  store and request entries, kept rectangles, the product CRC;
- :mod:`~triage.contract.packets`: space packet headers, segmentation, the
  reference packetiser, the DOWNLINK_REQUEST telecommand;
- :mod:`~triage.contract.predictor`: the neighbour predictor and the dn scale;
- :mod:`~triage.contract.coding`: the on-board coding parameters;
- :mod:`~triage.contract.codec`: the one reference product codec;
- :mod:`~triage.contract.tile_spec`: the tile spec and the integer preprocessing;
- :mod:`~triage.contract.policy`: the decision policy and decision function;
- :mod:`~triage.contract.sen2ships`, :mod:`~triage.contract.paths`: where the
  shared files and the imagery are, and the one reader of the port scenes;
- :mod:`~triage.contract.generate`: the one code generator (C headers and sources,
  ``triage_config.h``, ``WIRE_FORMAT.md``).
"""
