/*
 * tnn_stream_model.h - what a streaming model is made of: an engine plan,
 * the streaming model as data (tnn_plan.h, generated from the contract;
 * triage/WIRE_FORMAT.md has its byte diagrams).
 *
 * A plan is a PLAN_HEADER, one PLAN_LAYER record per layer in chain order,
 * then the layers' constant arrays (weights, biases, per-channel multipliers
 * and shifts, the DSP kernels' packed data) at offsets from the plan's first
 * byte: no pointer anywhere, so the same bytes run wherever they sit - linked
 * into the image by the exporter (<name>_stream.c), or in a model slot of
 * flash or PSRAM where a model package put them. tnn_stream_begin validates
 * the plan at every bind (bounds and alignment of every array, every layer's
 * parameters at the frame's size, the kernels it names) and resolves the
 * offsets into the per-layer state it keeps in the scratch, so that a run
 * reads the same kernel parameters from either.
 *
 * Included by the generated <name>_stream.c and by the executor.
 */
#ifndef TNN_STREAM_MODEL_H
#define TNN_STREAM_MODEL_H

#include <stdint.h>

#include "tnn_kernels.h"
#include "tnn_plan.h"
#include "tnn_stream.h"

/* The layer kinds this engine runs (bit kind - 1), every kind of the ABI. */
#define TNN_STREAM_KERNELS TNN_PLAN_ALL_KERNELS

#endif /* TNN_STREAM_MODEL_H */
