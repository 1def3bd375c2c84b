"""Reed-Solomon codeblocks of transfer frames by gr-satellites' own CCSDS encoder
(``satellites.encode_rs``: dual basis, interleaving depth 5, a PDU block), run under
Debian's /usr/bin/python3: frames (1115 bytes each, back to back) on stdin, codeblocks
(1275 bytes each) on stdout."""

import sys
import time

import pmt
import satellites
from gnuradio import blocks, gr

FRAME, INTERLEAVE = 1115, 5
data = sys.stdin.buffer.read()
frames = [data[k : k + FRAME] for k in range(0, len(data), FRAME)]
tb = gr.top_block()
enc = satellites.encode_rs(True, INTERLEAVE)
dbg = blocks.message_debug()
tb.msg_connect((enc, "out"), (dbg, "store"))
tb.start()
for f in frames:
    enc.to_basic_block()._post(
        pmt.intern("in"), pmt.cons(pmt.PMT_NIL, pmt.init_u8vector(len(f), list(f)))
    )
deadline = time.monotonic() + 60
while dbg.num_messages() < len(frames) and time.monotonic() < deadline:
    time.sleep(0.01)
tb.stop()
tb.wait()
out = b"".join(
    bytes(pmt.u8vector_elements(pmt.cdr(dbg.get_message(i)))) for i in range(dbg.num_messages())
)
sys.stdout.buffer.write(out)
