/*
 * tnn_stream.h - the streaming executor's public API (prefix tnn_stream_):
 * a chain of convolutional layers run over a whole frame, row by row, each
 * layer computed once per output pixel.
 *
 * A streaming model is a chain of CONV_2D, DEPTHWISE_CONV_2D (depth
 * multiplier 1), MAX_POOL_2D and SOFTMAX layers, SAME or VALID padding,
 * dilation 1, open in height and width, held as an engine plan: bytes
 * without pointers (tnn_stream_model.h, tnn_plan.h) that triage.engine.stream
 * exports into <name>_stream.c/.h and a model package carries. The frame (H x W pixels of C int8 channels, e.g. the preprocessed
 * bands) is extended to Hp = ceil(H / m) * m rows and Wp columns (likewise)
 * with the input zero point, m the model's total stride along that axis (16
 * for the cell network); then each layer runs over its input
 * with TensorFlow's padding rule for those sizes, exactly as TFLM runs the
 * same .tflite with its shapes set to Hp x Wp (bit for bit).
 *
 * Each layer keeps a ring of the input rows its window needs (k_h rows);
 * an output row is computed as soon as its input rows are in, and handed to
 * the next layer (or, for the last layer, to the caller's sink). Rows come
 * from the caller's source, one frame row at a time.
 *
 * Use (the caller owns all memory; no heap, no float):
 *
 *     #include "cellnet_stream.h"
 *     static tnn_stream_ctx_t ctx;
 *     size_t need = tnn_stream_scratch_bytes(&cellnet_stream, width);
 *     ...scratch of `need` bytes, TNN_STREAM_ALIGN-aligned (e.g. in PSRAM)...
 *     st = tnn_stream_begin(&ctx, &cellnet_stream, height, width, scratch, need);
 *     st = tnn_stream_run(&ctx, my_source, my_sink, my_state);
 *
 * tnn_stream_begin validates everything once (the model, every layer's
 * parameters at this frame size, the scratch); tnn_stream_run then runs the
 * kernels without further checks. The scratch holds, per layer, its
 * parameters at this frame size and its ring, plus one staging row; what the
 * rings hold depends on the kernel set linked (int8 rows for the reference
 * kernels, rows widened to int16 for the DSP kernels: about twice as many
 * bytes).
 */
#ifndef TNN_STREAM_H
#define TNN_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "tnn_plan.h"
#include "tri_status.h"

/* Required alignment of the scratch, in bytes (it holds pointers), and of a
 * plan (TNN_PLAN_ALIGN). */
#define TNN_STREAM_ALIGN 8u

/* Layer index meaning "no layer" in tnn_stream_ctx_t.failed_layer. */
#define TNN_STREAM_NO_LAYER 0xFFFFu

/* A streaming model: the bytes of its engine plan, wherever they sit
 * (TNN_PLAN_ALIGN-aligned). The exporter's <name>_stream.c defines one for a
 * plan it links; an application makes one for a plan in a model slot. */
typedef struct tnn_stream_model {
    const uint8_t *plan;
    uint32_t plan_bytes;
} tnn_stream_model_t;

/* What a plan's header says (tnn_stream_info). */
typedef struct {
    uint32_t abi;
    uint32_t n_layers;
    uint32_t in_c, out_c;           /* channels of a frame pixel, of an output pixel */
    uint32_t multiple_h, multiple_w; /* the frame is extended to multiples of these */
    uint32_t min_h, min_w;          /* smallest frame accepted */
    int32_t in_zero_point, out_zero_point;
    uint32_t kernels;               /* bit kind - 1 per layer kind used */
} tnn_stream_info_t;

/*
 * The caller's source: writes frame row y (0 <= y < height, in increasing
 * order, each once) as int8 [width][channels] into row. Returns TRI_OK, or
 * an error that stops the run (tnn_stream_run returns it).
 */
typedef tri_status_t (*tnn_stream_source_t)(void *user, uint32_t y, int8_t *row);

/*
 * The caller's sink: receives output row r (0 <= r < out_h, in increasing
 * order) as int8 [out_w][out_c], `bytes` long, valid during the call only.
 * Returns TRI_OK, or an error that stops the run.
 */
typedef tri_status_t (*tnn_stream_sink_t)(void *user, uint32_t r, const int8_t *row, size_t bytes);

/* Optional instruction (or cycle) accounting: when ctx->profile is set, the
 * executor adds the clock's advance over each layer's work (pushing a row
 * into its ring and computing its output rows) to layer[i], and over the
 * source and sink calls to source and sink. */
typedef struct {
    uint64_t (*clock)(void);
    uint64_t layer[TNN_STREAM_MAX_LAYERS];
    uint64_t source;
    uint64_t sink;
} tnn_stream_profile_t;

/* Scratch sizes reported by tnn_stream_begin, on success and on failure. */
typedef struct {
    size_t asked;     /* bytes this frame width needs (tnn_stream_scratch_bytes) */
    size_t available; /* bytes the caller gave */
    size_t missing;   /* asked - available when too small, else 0 */
} tnn_stream_sizes_t;

/* A model begun on one frame. Zero-initialise or just pass to
 * tnn_stream_begin; fields are readable, not to be written (but profile,
 * which the caller may set after begin). */
typedef struct {
    const tnn_stream_model_t *model; /* NULL until a successful begin */
    void *scratch;
    uint32_t frame_h, frame_w;       /* the frame as the source gives it */
    uint32_t in_h, in_w;             /* extended to multiples of the model's multiple */
    uint32_t out_h, out_w, out_c;    /* what the sink receives: out_h rows of out_w * out_c */
    uint32_t rows_in;                /* frame rows taken from the source so far */
    uint32_t rows_out;               /* rows handed to the sink so far */
    uint8_t done;                    /* 1 once the frame has been run (or failed) */
    tnn_stream_sizes_t sizes;        /* filled by every begin */
    uint16_t failed_layer;           /* layer refused by begin, else TNN_STREAM_NO_LAYER */
    tnn_stream_profile_t *profile;   /* NULL: no accounting */
    uint32_t n_layers, in_c;         /* from the plan, once begun */
    int32_t in_zero_point;
} tnn_stream_ctx_t;

/*
 * The header of a plan, checked (magic, this engine's ABI, its size, layer
 * count, channels, multiples; not the layers): TRI_OK, TRI_ERR_ARG (NULL),
 * TRI_ERR_ALIGN (plan not TNN_PLAN_ALIGN-aligned), TRI_ERR_FORMAT (a plan of
 * another ABI or malformed), TRI_ERR_NO_IMPL (it names a kernel this engine
 * lacks, or the machine is not little-endian).
 */
tri_status_t tnn_stream_info(const tnn_stream_model_t *model, tnn_stream_info_t *info);

/*
 * Scratch bytes a frame `width` pixels wide needs with the linked kernel
 * set (independent of the height). 0 when the model is NULL or malformed,
 * or the width gives a layer no output.
 */
size_t tnn_stream_scratch_bytes(const tnn_stream_model_t *model, uint32_t width);

/*
 * Validates `model` for a frame of height x width pixels and lays its
 * per-layer state and rings out in `scratch`. Returns TRI_OK, or:
 *   TRI_ERR_ARG     ctx, model or scratch NULL (ctx->sizes still filled
 *                   when ctx is not NULL)
 *   TRI_ERR_FORMAT  a plan of another ABI, or malformed (an array outside
 *                   the plan or misaligned, channels that do not chain, bad
 *                   parameters or packed data): ctx->failed_layer names the
 *                   layer when one is
 *   TRI_ERR_NO_IMPL a layer of a kind this engine does not run (or a plan
 *                   naming one in its kernels)
 *   TRI_ERR_SHAPE   height or width below the model's minimum, above 65535
 *                   once extended, or leaving a layer without output
 *   TRI_ERR_ALIGN   scratch or plan not aligned to TNN_STREAM_ALIGN
 *   TRI_ERR_SIZE    scratch_bytes < tnn_stream_scratch_bytes(model, width):
 *                   see ctx->sizes
 * On failure ctx is left unbegun (tnn_stream_run refuses it).
 */
tri_status_t tnn_stream_begin(tnn_stream_ctx_t *ctx, const tnn_stream_model_t *model,
                              uint32_t height, uint32_t width, void *scratch,
                              size_t scratch_bytes);

/*
 * Runs the begun frame: takes its `height` rows from `source`, hands the
 * out_h output rows to `sink`. Returns TRI_OK, TRI_ERR_ARG (ctx not begun,
 * already run, or source/sink NULL), or the first error the source or sink
 * returned (the run stops there; begin again to restart the frame).
 */
tri_status_t tnn_stream_run(tnn_stream_ctx_t *ctx, tnn_stream_source_t source,
                            tnn_stream_sink_t sink, void *user);

#endif /* TNN_STREAM_H */
