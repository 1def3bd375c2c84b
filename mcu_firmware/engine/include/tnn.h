/*
 * tnn.h - the int8 inference engine's public API (prefix tnn_).
 *
 * A model is compiled ahead of time: triage.engine.export turns a .tflite
 * into C sources (<name>_model.c / <name>_model.h) holding the weights, the
 * precomputed requantisation multipliers and the call sequence with every
 * tensor's offset in one arena. No flatbuffer is parsed and nothing is
 * allocated on board.
 *
 * Use, for each tile (the caller owns all memory):
 *
 *     #include "classifier_model.h"
 *     static uint32_t arena[TNN_ARENA_WORDS(CLASSIFIER_ARENA_BYTES)];
 *     static tnn_ctx_t ctx;
 *
 *     st = tnn_bind(&ctx, &classifier_model, arena, sizeof arena);  // once
 *     in = tnn_input(&ctx, &n);          // n == CLASSIFIER_INPUT_BYTES
 *     ...fill in[0..n-1] with int8 [H][W][C]...
 *     st = tnn_invoke(&ctx);
 *     out = tnn_output(&ctx, &n);        // n == CLASSIFIER_OUTPUT_BYTES
 *
 * The input tensor lives inside the arena and is overwritten while the
 * model runs (its memory is reused): fill it again before every invoke.
 * The output stays valid until the next invoke.
 *
 * Every fallible entry point returns a tri_status_t. tnn_bind validates the
 * model (version, every step's shapes and parameters, tensor extents) and
 * the arena once; tnn_invoke then runs the kernels without further checks.
 */
#ifndef TNN_H
#define TNN_H

#include <stddef.h>
#include <stdint.h>

#include "tri_status.h"

/* Required alignment of the arena, in bytes. */
#define TNN_ARENA_ALIGN 4u

/* Number of uint32_t words that hold `bytes` bytes: declare an arena as
 * `static uint32_t arena[TNN_ARENA_WORDS(n)];` to get the alignment. */
#define TNN_ARENA_WORDS(bytes) (((size_t)(bytes) + 3u) / 4u)

/* An exported model (defined in tnn_model.h; the generated <name>_model.h
 * declares `extern const tnn_model_t <name>_model;`). */
typedef struct tnn_model tnn_model_t;

/* Arena sizes reported by tnn_bind, on success and on failure. */
typedef struct {
    size_t asked;     /* bytes the model needs (tnn_arena_size) */
    size_t available; /* bytes the caller gave */
    size_t missing;   /* asked - available when too small, else 0 */
} tnn_arena_sizes_t;

/* Step index meaning "no step" in tnn_ctx_t.failed_step. */
#define TNN_NO_STEP 0xFFFFu

/* A model bound to an arena. Zero-initialise or just pass to tnn_bind; the
 * fields are readable (sizes, failed_step), not to be written. */
typedef struct {
    const tnn_model_t *model; /* NULL until a successful tnn_bind */
    int8_t *arena;
    size_t arena_bytes;
    tnn_arena_sizes_t sizes; /* filled by every tnn_bind call */
    uint16_t failed_step;    /* step rejected by tnn_bind, else TNN_NO_STEP */
} tnn_ctx_t;

/* Bytes of arena the model needs (0 when model is NULL or malformed). */
size_t tnn_arena_size(const tnn_model_t *model);

/*
 * Validates `model` and binds it to `arena` (arena_bytes long).
 * Returns TRI_OK, or:
 *   TRI_ERR_ARG     ctx, model or arena is NULL (ctx->sizes still filled
 *                   when ctx is not NULL)
 *   TRI_ERR_ALIGN   arena not aligned to TNN_ARENA_ALIGN
 *   TRI_ERR_SIZE    arena_bytes < tnn_arena_size(model): see ctx->sizes
 *   TRI_ERR_FORMAT  model built for another engine version, or malformed
 *   TRI_ERR_SHAPE / TRI_ERR_NO_IMPL  a step failed its check: ctx->failed_step
 * On failure ctx is left unbound (tnn_invoke refuses it).
 */
tri_status_t tnn_bind(tnn_ctx_t *ctx, const tnn_model_t *model, void *arena, size_t arena_bytes);

/* The input tensor (int8, [H][W][C]) inside the arena and its size in
 * bytes (bytes may be NULL). NULL when ctx is not bound. */
int8_t *tnn_input(const tnn_ctx_t *ctx, size_t *bytes);

/* Runs the model on the current input. TRI_ERR_ARG when ctx is not bound. */
tri_status_t tnn_invoke(tnn_ctx_t *ctx);

/* The output tensor (int8) inside the arena and its size in bytes (bytes
 * may be NULL). NULL when ctx is not bound. */
const int8_t *tnn_output(const tnn_ctx_t *ctx, size_t *bytes);

#endif /* TNN_H */
