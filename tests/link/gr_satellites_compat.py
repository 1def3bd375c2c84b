"""Runs /usr/bin/gr_satellites with its arguments under Debian's /usr/bin/python3.

Debian 12 packages gr-satellites 4.4.0 with GNU Radio 3.10.5, whose ``gnuradio.blocks``
no longer has ``byte_t`` (3.10 moved it to ``gr.types``); several gr-satellites blocks
still name ``blocks.byte_t``. This adds the alias when it is missing and runs the program
unchanged. Where gr-satellites runs as it is, call ``gr_satellites`` directly.
"""

import runpy
import sys

from gnuradio import blocks, gr

if not hasattr(blocks, "byte_t"):
    blocks.byte_t = gr.types.byte_t
sys.argv[0] = "gr_satellites"
runpy.run_path("/usr/bin/gr_satellites", run_name="__main__")
