/*
 * tri_link.h - the link layer on board: space packets into CCSDS TM transfer
 * frames (132.0-B), and frames into CADUs (131.0-B: attached sync marker,
 * Reed-Solomon (255,223) interleaved to depth 5 in the dual basis, the
 * pseudo-randomiser). triage/WIRE_FORMAT.md, "The link", is the
 * specification; triage/contract/frames.py the reference in Python.
 *
 *   packets   tri_link_put (whole packets, on a virtual channel)
 *     |       packets fill the frame's data field back to back; one that
 *     v       does not fit continues in the next frame (first header pointer)
 *   frame     header (SCID, VC, master and VC frame counts, FHP), FECF
 *     |       tri_link_flush fills the frame in progress with idle packets
 *     v
 *   sink      WF_LINK_FRAMES: the WF_FRAME_BYTES frame
 *             WF_LINK_CADU:   ASM + randomised codeblock, WF_CADU_BYTES
 *
 * One frame is in progress at a time, built in place in a buffer of
 * WF_CADU_BYTES that the caller owns (the application's work area); frame
 * counts persist for the life of the instance. No heap, no recursion.
 */
#ifndef TRI_LINK_H
#define TRI_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "tri_sink.h"
#include "tri_status.h"
#include "wire_format.h"

typedef struct {
    uint8_t *buf;      /* WF_CADU_BYTES: the frame at buf + WF_ASM_BYTES */
    uint32_t mode;     /* WF_LINK_* */
    uint16_t scid;     /* spacecraft id, 0..WF_MAX_SPACECRAFT_ID */
    uint16_t fill;     /* data-field bytes of the frame in progress (0: none) */
    uint16_t fhp;      /* its first header pointer (WF_FHP_NO_PACKET: none yet) */
    uint8_t vcid;      /* its virtual channel */
    uint8_t mc_count;  /* the next frame's master channel frame count */
    uint8_t vc_count[WF_VC_COUNT];
    uint32_t frames_sent;
    uint32_t idle_bytes; /* bytes of idle packets sent as fill */
    uint32_t bytes_out;  /* bytes handed to sinks (frames or CADUs), modulo 2^32 */
} tri_link_t;

/* Sets up a link: buf (WF_CADU_BYTES, caller-owned), mode WF_LINK_*, spacecraft
 * id; frame counts start at 0. TRI_ERR_ARG for a NULL buf, an unknown mode or
 * an id above WF_MAX_SPACECRAFT_ID. */
tri_status_t tri_link_init(tri_link_t *link, uint8_t *buf, uint32_t mode, uint32_t scid);

/* Bytes on the link per frame: WF_CADU_BYTES, WF_FRAME_BYTES, or 0 in packet mode. */
uint32_t tri_link_unit_bytes(const tri_link_t *link);

/* Packet bytes that fit a pass of link_bytes (whole frames, and room for the
 * last frame's idle fill: WIRE_FORMAT.md); link_bytes itself in packet mode. */
uint32_t tri_link_packet_budget(const tri_link_t *link, uint32_t link_bytes);

/*
 * Adds one whole packet (len bytes, as tri_packet_seal makes them) on virtual
 * channel vcid; every frame it completes goes to the sink. TRI_ERR_ARG when len
 * is not 7..WF_MAX_PACKET_BYTES or not what the packet's data length field
 * says (the ground cuts packets out of frames by that field). A frame in
 * progress on another VC is flushed first. On a sink error the frame is
 * dropped (the counts still advance) and the status returned.
 */
tri_status_t tri_link_put(tri_link_t *link, uint32_t vcid, const uint8_t *packet, size_t len,
                          const tri_sink_t *sink);

/* Fills the frame in progress with idle packets and sends it (and the one
 * after it when the fill needs it); nothing without a frame in progress. */
tri_status_t tri_link_flush(tri_link_t *link, const tri_sink_t *sink);

/* Drops the frame in progress (after a failed operation). */
void tri_link_abort(tri_link_t *link);

#endif /* TRI_LINK_H */
