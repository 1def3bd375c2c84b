/*
 * triage_fw.c - the flight image: the on-board triage application on the
 * Cortex-M4, driven by a script of operations in one boot, so that a whole
 * sequence can be compared byte for byte with the host build
 * (triage.onboard.qemu_runner).
 *
 * Command line (QEMU -append; semihosting puts the image path first):
 *     SCRIPT
 * SCRIPT is a host text file, one operation per line (words and numbers as
 * cmdline.h reads them; a line that is not one of these is a bad line):
 *     init STORE_BYTES CLASSIFIER       first line, optional (default: the
 *                                       largest store, "model"); CLASSIFIER
 *                                       is model, rule (tests) or none
 *     frame META PIXELS OUT             process the frame in file PIXELS
 *                                       (frame memory) with the FRAME_META in
 *                                       file META; the frame record to OUT
 *     directory OUT                     STORE_DIRECTORY packets to OUT
 *     downlink BUDGET OUT [REQUEST]     a pass of BUDGET bytes, following the
 *                                       DOWNLINK_REQUEST in file REQUEST if
 *                                       given; its packets to OUT
 *     counters OUT                      the lifetime counters (big-endian u32)
 *     link MODE SCID                    what directories and passes send from
 *                                       now on (tri_onboard_set_link: WF_LINK_*
 *                                       code, spacecraft id)
 *     psram DIR                         before the first other operation: the
 *                                       staging buffer and the model scratch from
 *                                       DIR/staging.bin and scratch.bin (what PSRAM
 *                                       kept over a reset: see fault)
 *     fault K MODE DUMPDIR              before the first other operation: flash
 *                                       operation K of the model manager (1: the
 *                                       first, the boot's included) is cut (MODE
 *                                       tear or after), then the image resets: it
 *                                       saves the model flash, the staging buffer
 *                                       and the model scratch to DUMPDIR/flash.bin,
 *                                       staging.bin, scratch.bin, prints "reset op
 *                                       K stage NAME" and exits with 9
 *     tc PACKETS OUT                    each telecommand packet of file PACKETS
 *                                       (MODEL_UPLOAD, MODEL_COMMAND) to the model
 *                                       manager; OUT: its status per packet
 *                                       (big-endian i32)
 *     endpass OUT                       the pass is over (an open upload is cut)
 *     model_status OUT                  a MODEL_STATUS product's packet to OUT
 *     model_run FRAME H W OUT           the active model over the int8 frame
 *                                       [H][W][C] in file FRAME; its output rows
 *                                       to OUT; then a line "model_run INDEX begin
 *                                       B run R source S sink K" (instructions)
 *     flash OUT                         the model flash, as it is, to OUT
 *     load FLASH                        a simulation's step, not a flight
 *                                       operation: the model flash becomes the
 *                                       bytes of file FLASH (as a bench
 *                                       programmer writes it), the model manager
 *                                       boots on it again and the pipeline binds
 *                                       its active model (the compiled-in one
 *                                       when no package is active); the store
 *                                       stays. A run whose frames use several
 *                                       models (the simulator's leave-ports-out
 *                                       folds) switches this way in one boot.
 * The model manager boots before the first operation but fault (every boot
 * is a reset: the model flash persists, QEMU's loader puts it back).
 * For each operation UART0 gets one line
 *     op INDEX KIND status STATUS bytes BYTES insns INSNS
 * (INSNS: instructions the operation took, frame reading excluded), then
 *     prof INDEX STAGE INSNS STAGE INSNS ...
 * (the operation's instructions by stage of tri_profile.h), and at the end
 * "stack_peak N of M". Exit code 0, or 2 + the failing port step
 * (script unreadable, bad line, file I/O).
 *
 * Memory: frame memory (8 MiB), the product store (up to
 * TRIAGE_FW_STORE_MAX bytes), the work area, the model staging buffer and
 * the model scratch live in external PSRAM (.extmem), as do the streaming
 * classifier's rings; internal RAM holds the application state, the model
 * manager and the stack; the model flash is its own region (link.ld:
 * MODELFLASH). At boot UART0 gets
 *     memories flash ADDR BYTES staging ADDR BYTES scratch ADDR BYTES
 *     models boot STATUS active SLOT model ID boot_count N
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "cmdline.h"
#include "semihost.h"
#include "tnn_stream.h"
#include "tri_models.h"
#include "tri_onboard.h"

#if defined(__has_include)
#if __has_include("factory_package.h")
#include "factory_package.h"
#define HAVE_FACTORY 1
#endif
#endif
#ifndef HAVE_FACTORY
#define HAVE_FACTORY 0
#endif

#if defined(__has_include)
#if __has_include("classifier_stream.h")
#include "classifier_stream.h"
#define HAVE_MODEL 1
#endif
#endif
#ifndef HAVE_MODEL
#define HAVE_MODEL 0
#endif

#define EXTMEM __attribute__((section(".extmem"), aligned(8)))
#define TRIAGE_FW_STORE_MAX (7u * 1024u * 1024u)
/* the script (QEMU test harness): 192 KB, about 1,000 lines of frame operations */
#define SCRIPT_MAX (192u * 1024u)
#define REQUEST_MAX (WF_PRIMARY_HEADER_SIZE + 65536u)
#define META_MAX 256u

static uint8_t frame_mem[TRI_FRAME_MAX_BYTES] EXTMEM;
static uint64_t store_mem[TRIAGE_FW_STORE_MAX / 8u] EXTMEM;
static uint64_t work_mem[TRI_ONBOARD_WORK_BYTES / 8u] EXTMEM;
static char script[SCRIPT_MAX + 1u] EXTMEM;
/* a downlink line's DOWNLINK_REQUEST, a tc line's packet (at most 65,542
 * bytes), or a model_run's outputs */
static uint8_t request[REQUEST_MAX] EXTMEM;
static tri_rule_classifier_t rule EXTMEM;
static uint64_t model_staging[(TRI_MODEL_STAGING_BYTES + 7u) / 8u] EXTMEM;
/* The streaming classifier's rings for frames up to TRI_FRAME_MAX_COLS wide
 * (tri_classifier_stream checks that they fit at init); the model manager's
 * golden-vector runs use the same memory between frames. */
static uint64_t model_scratch[TRI_MODEL_SCRATCH_BYTES / 8u] EXTMEM;
extern uint8_t __modelflash_start[];
extern uint8_t __modelflash_end[];

static tri_models_t models;
static char dump_dir[256];

static tri_onboard_t ob;
static uint8_t meta[META_MAX];
static char cmdline[512];
static tri_stream_classifier_t stream;

enum { EXIT_SCRIPT = 2, EXIT_LINE = 3, EXIT_IO = 4, EXIT_INIT = 5, EXIT_RESET = 9 };

static const char *const stage_names[TRI_MSTAGE_COUNT] = {
    "idle", "boot", "consume", "invalidate", "erase", "program", "switch", "command"};

/* Reads a whole host file into buf (at most cap bytes); its length, or -1
 * (-2 when longer than cap: nothing read). */
static int32_t read_file(const char *path, void *buf, uint32_t cap, uint32_t *file_len)
{
    int32_t h = sh_open(path, SH_MODE_RB);
    int32_t len;
    int32_t got;
    if (h < 0) {
        return -1;
    }
    len = sh_flen(h);
    if (file_len != NULL) {
        *file_len = len < 0 ? 0u : (uint32_t)len;
    }
    if (len < 0) {
        (void)sh_close(h);
        return -1;
    }
    if ((uint32_t)len > cap) {
        (void)sh_close(h);
        return -2;
    }
    got = len > 0 ? sh_read(h, buf, (size_t)len) : 0;
    (void)sh_close(h);
    return got == len ? len : -1;
}

typedef struct {
    int32_t handle;
    uint32_t bytes;
} file_sink_t;

static tri_status_t file_write(void *ctx, const uint8_t *data, size_t len)
{
    file_sink_t *f = (file_sink_t *)ctx;
    if (sh_write(f->handle, data, len) != 0) {
        return TRI_ERR_IO;
    }
    f->bytes += (uint32_t)len;
    return TRI_OK;
}

/* The profile's clock: instructions, modulo 2^32. */
static uint32_t insn_clock(void)
{
    return (uint32_t)board_insn_count();
}

/* The operation's instructions by stage, then cleared for the next one. */
static void report_profile(int index)
{
    uint32_t i;
    board_puts("prof ");
    board_put_u32((uint32_t)index);
    for (i = 0; i < (uint32_t)TRI_STAGE_COUNT; i++) {
        board_puts(" ");
        board_puts(tri_profile_stage(i));
        board_puts(" ");
        board_put_u64(ob.profile.total[i]);
        ob.profile.total[i] = 0u;
    }
    board_puts("\n");
}

static void report_op(int index, const char *kind, tri_status_t st, uint32_t bytes, uint64_t insns)
{
    board_puts("op ");
    board_put_u32((uint32_t)index);
    board_puts(" ");
    board_puts(kind);
    board_puts(" status ");
    board_put_i32((int32_t)st);
    board_puts(" bytes ");
    board_put_u32(bytes);
    board_puts(" insns ");
    board_put_u64(insns);
    board_puts("\n");
    report_profile(index);
}

/* Writes n bytes at p to DIR/name (the fault's dump). */
static void dump(const char *name, const void *p, uint32_t n)
{
    char path[300];
    int32_t h;
    size_t k = strlen(dump_dir);
    memcpy(path, dump_dir, k);
    path[k] = '/';
    memcpy(path + k + 1u, name, strlen(name) + 1u);
    h = sh_open(path, SH_MODE_WB);
    if (h >= 0) {
        (void)sh_write(h, p, n);
        (void)sh_close(h);
    }
}

/* The injected fault fired: the memories a reset keeps, then the reset. */
static void on_fault(void *ctx)
{
    const tri_flash_t *f = (const tri_flash_t *)ctx;
    dump("flash.bin", __modelflash_start, WF_MODEL_FLASH_BYTES);
    dump("staging.bin", model_staging, sizeof model_staging);
    dump("scratch.bin", model_scratch, sizeof model_scratch);
    board_puts("reset op ");
    board_put_u32(f->ops);
    board_puts(" stage ");
    board_puts(f->fault_stage < TRI_MSTAGE_COUNT ? stage_names[f->fault_stage] : "?");
    board_puts("\n");
    board_exit(EXIT_RESET);
}

static void put_hex(const char *label, uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    char buf[11];
    int i;
    buf[0] = '0';
    buf[1] = 'x';
    for (i = 0; i < 8; i++) {
        buf[2 + i] = digits[(v >> (28 - 4 * i)) & 0xFu];
    }
    buf[10] = '\0';
    board_puts(label);
    board_puts(buf);
}

/* A reset keeps PSRAM: the staging buffer and the model scratch as the
 * fault's dump saved them (DIR/staging.bin, DIR/scratch.bin). */
static int restore_psram(const char *dir)
{
    static const char *const names[2] = {"staging.bin", "scratch.bin"};
    void *const bufs[2] = {model_staging, model_scratch};
    const uint32_t caps[2] = {sizeof model_staging, sizeof model_scratch};
    char path[300];
    size_t k = strlen(dir);
    int i;
    if (k + 13u > sizeof path) {
        return EXIT_LINE;
    }
    for (i = 0; i < 2; i++) {
        memcpy(path, dir, k);
        path[k] = '/';
        memcpy(path + k + 1u, names[i], strlen(names[i]) + 1u);
        if (read_file(path, bufs[i], caps[i], NULL) < 0) {
            return EXIT_IO;
        }
    }
    return 0;
}

/* The model manager: init, the armed fault if any, boot. */
static int boot_models(uint32_t fault_at, uint32_t fault_mode)
{
    const uint8_t *factory = NULL;
    uint32_t factory_bytes = 0u;
    tri_status_t st;
#if HAVE_FACTORY
    factory = factory_package;
    factory_bytes = FACTORY_PACKAGE_BYTES;
#endif
    st = tri_models_init(&models, __modelflash_start,
                         (uint32_t)(__modelflash_end - __modelflash_start), factory,
                         factory_bytes, (uint8_t *)model_staging, sizeof model_staging,
                         model_scratch, sizeof model_scratch, TRI_MODEL_FRAME_COLS);
    if (st != TRI_OK) {
        board_puts("models init failed\n");
        return EXIT_INIT;
    }
    models.flash.on_fault = on_fault;
    models.flash.fault_ctx = &models.flash;
    models.flash.fail_at = fault_at;
    models.flash.fail_mode = (uint8_t)fault_mode;
    put_hex("memories flash ", (uint32_t)(uintptr_t)__modelflash_start);
    board_puts(" ");
    board_put_u32(WF_MODEL_FLASH_BYTES);
    put_hex(" staging ", (uint32_t)(uintptr_t)model_staging);
    board_puts(" ");
    board_put_u32(sizeof model_staging);
    put_hex(" scratch ", (uint32_t)(uintptr_t)model_scratch);
    board_puts(" ");
    board_put_u32(sizeof model_scratch);
    board_puts("\n");
    st = tri_models_boot(&models);
    board_puts("models boot ");
    board_put_i32((int32_t)st);
    board_puts(" active ");
    board_put_u32(models.rec.active);
    board_puts(" model ");
    board_put_u32(models.active.model_id);
    board_puts(" boot_count ");
    board_put_u32(models.rec.boot_count);
    board_puts("\n");
    return 0;
}

/* The classifier of the frame pipeline: the model manager's active package
 * when there is one (its plan bound where it sits, its id and hash in the
 * summaries), else the compiled-in cell network (model id 0);
 * TRI_ERR_NO_IMPL when there is neither. */
static int classify_with_model;
static const uint8_t *bound_package; /* the package bound (its bytes), or NULL */
static uint32_t bound_model_id;

static tri_status_t model_classifier(tri_classifier_t *cls)
{
    const tri_package_t *pkg = tri_models_active(&models);
    tri_status_t st;
    bound_package = pkg != NULL ? pkg->data : NULL;
    bound_model_id = pkg != NULL ? pkg->model_id : 0u;
    if (pkg != NULL) {
        st = tri_classifier_stream(cls, &stream, &pkg->plan, model_scratch, sizeof model_scratch);
        if (st == TRI_OK) {
            cls->model_id = pkg->model_id;
            memcpy(cls->model_sha256, pkg->model_sha256, sizeof cls->model_sha256);
        }
        return st;
    }
#if HAVE_MODEL
    st = tri_classifier_stream(cls, &stream, &classifier_stream, model_scratch,
                               sizeof model_scratch);
    if (st == TRI_OK) {
        st = tri_classifier_identity_hex(cls, 0u, CLASSIFIER_STREAM_SHA256);
    }
    return st;
#else
    return TRI_ERR_NO_IMPL;
#endif
}

/* After telecommands: the pipeline follows the model manager's switches, each
 * model with its own decision policy (the package's, or the build's for the
 * compiled-in model). */
static void follow_models(void)
{
    tri_classifier_t cls;
    const tri_package_t *pkg = tri_models_active(&models);
    if (classify_with_model == 0 ||
        ((pkg != NULL ? pkg->data : NULL) == bound_package &&
         (pkg != NULL ? pkg->model_id : 0u) == bound_model_id)) {
        return;
    }
    if (model_classifier(&cls) == TRI_OK) {
        (void)tri_onboard_set_model(&ob, &cls, pkg);
    }
}

static int init_onboard(uint32_t store_bytes, const char *kind)
{
    tri_classifier_t cls;
    const tri_classifier_t *use = NULL;
    tri_status_t st = TRI_OK;
    if (store_bytes > sizeof store_mem) {
        store_bytes = sizeof store_mem;
    }
    if (strcmp(kind, "model") == 0) {
        st = model_classifier(&cls);
        use = st == TRI_OK ? &cls : NULL;
        if (st == TRI_ERR_NO_IMPL) {
            st = TRI_OK; /* no model in this build: frames are refused (TRI_ERR_NO_IMPL) */
        }
        classify_with_model = 1;
    } else if (strcmp(kind, "rule") == 0) {
        st = tri_classifier_rule(&cls, &rule);
        use = &cls;
    } else if (strcmp(kind, "none") != 0) {
        return EXIT_LINE;
    }
    if (st == TRI_OK) {
        st = tri_onboard_init(&ob, store_mem, store_bytes, work_mem, sizeof work_mem, use, NULL);
    }
    if (st == TRI_OK && use != NULL && strcmp(kind, "model") == 0) {
        /* the bound model's decision policy (a package's own) */
        st = tri_onboard_set_model(&ob, use, tri_models_active(&models));
    }
    if (st == TRI_OK) {
        st = tri_onboard_set_clock(&ob, insn_clock);
    }
    /* the directories' boot count is the model manager's (it persists in
     * the model flash) once that flash is provisioned (a valid key store);
     * a blank one has no persistent count: 0, as the host build's default */
    if (st == TRI_OK && models.key_count > 0u) {
        st = tri_onboard_set_boot_count(&ob, tri_models_boot_count(&models) & 0xFFFFu);
    }
    if (st != TRI_OK) {
        board_puts("init failed: ");
        board_puts(tri_status_str(st));
        board_puts("\n");
        return EXIT_INIT;
    }
    return 0;
}

static int open_out(const char *path, file_sink_t *f, tri_sink_t *sink)
{
    f->handle = sh_open(path, SH_MODE_WB);
    f->bytes = 0u;
    sink->ctx = f;
    sink->write = file_write;
    return f->handle < 0 ? EXIT_IO : 0;
}

/* model_run: rows from frame memory, output rows to request. */
typedef struct {
    size_t row_bytes;
    size_t written;
} run_io_t;

static tnn_stream_profile_t profile;

static tri_status_t run_source(void *user, uint32_t y, int8_t *row)
{
    const run_io_t *io = (const run_io_t *)user;
    memcpy(row, frame_mem + (size_t)y * io->row_bytes, io->row_bytes);
    return TRI_OK;
}

static tri_status_t run_sink(void *user, uint32_t r, const int8_t *row, size_t bytes)
{
    run_io_t *io = (run_io_t *)user;
    (void)r;
    if (io->written + bytes > sizeof request) {
        return TRI_ERR_SIZE;
    }
    memcpy(request + io->written, row, bytes);
    io->written += bytes;
    return TRI_OK;
}

static int run_line(int index, char **w, int n)
{
    file_sink_t f;
    tri_sink_t sink;
    tri_status_t st;
    uint64_t t0;
    size_t len = 0;
    int rc;
    if (strcmp(w[0], "frame") == 0 && n == 4) {
        tri_frame_report_t rep;
        uint32_t meta_len = 0;
        uint32_t frame_len = 0;
        int32_t r = read_file(w[1], meta, META_MAX, &meta_len);
        if (r == -1) {
            return EXIT_IO;
        }
        if (r == -2) {
            meta_len = META_MAX + 1u; /* too long to be a FRAME_META: refused by size */
        }
        r = read_file(w[2], frame_mem, sizeof frame_mem, &frame_len);
        if (r == -1) {
            return EXIT_IO;
        }
        /* A file larger than frame memory is not read: its size alone gets
         * the frame refused, before any pixel is touched. */
        rc = open_out(w[3], &f, &sink);
        if (rc != 0) {
            return rc;
        }
        t0 = board_insn_count();
        st = tri_onboard_process_frame(&ob, meta, meta_len <= META_MAX ? meta_len : 0u,
                                       frame_mem, frame_len, &rep);
        t0 = board_insn_count() - t0;
        if (tri_onboard_frame_record(&ob, &rep, &sink) != TRI_OK) {
            return EXIT_IO;
        }
        (void)sh_close(f.handle);
        report_op(index, "frame", st, f.bytes, t0);
        return 0;
    }
    if (strcmp(w[0], "directory") == 0 && n == 2) {
        rc = open_out(w[1], &f, &sink);
        if (rc != 0) {
            return rc;
        }
        t0 = board_insn_count();
        st = tri_onboard_directory(&ob, &sink, &len);
        t0 = board_insn_count() - t0;
        (void)sh_close(f.handle);
        report_op(index, "directory", st, f.bytes, t0);
        return st == TRI_ERR_IO ? EXIT_IO : 0;
    }
    if (strcmp(w[0], "downlink") == 0 && (n == 3 || n == 4)) {
        uint32_t req_len = 0;
        uint32_t budget;
        if (cmdline_u32(w[1], &budget) != 0) {
            return EXIT_LINE;
        }
        if (n == 4) {
            int32_t r = read_file(w[3], request, REQUEST_MAX, &req_len);
            if (r == -1) {
                return EXIT_IO;
            }
            if (r == -2) {
                req_len = REQUEST_MAX; /* longer than any request: refused by its length */
            }
        }
        rc = open_out(w[2], &f, &sink);
        if (rc != 0) {
            return rc;
        }
        t0 = board_insn_count();
        st = tri_onboard_downlink(&ob, budget, n == 4 ? request : NULL, req_len, &sink, &len);
        t0 = board_insn_count() - t0;
        (void)sh_close(f.handle);
        report_op(index, "downlink", st, f.bytes, t0);
        return st == TRI_ERR_IO ? EXIT_IO : 0;
    }
    if (strcmp(w[0], "link") == 0 && n == 3) {
        uint32_t mode;
        uint32_t scid;
        if (cmdline_u32(w[1], &mode) != 0 || cmdline_u32(w[2], &scid) != 0) {
            return EXIT_LINE;
        }
        st = tri_onboard_set_link(&ob, mode, scid);
        report_op(index, "link", st, 0u, 0u);
        return 0;
    }
    if (strcmp(w[0], "tc") == 0 && n == 3) {
        /* one packet at a time, as the radio hands them over */
        uint32_t pos = 0;
        int32_t flen;
        tri_status_t last = TRI_OK;
        int32_t h = sh_open(w[1], SH_MODE_RB);
        if (h < 0) {
            return EXIT_IO;
        }
        flen = sh_flen(h);
        rc = flen < 0 ? EXIT_IO : open_out(w[2], &f, &sink);
        if (rc != 0) {
            (void)sh_close(h);
            return rc;
        }
        t0 = 0u;
        while (pos + WF_PRIMARY_HEADER_SIZE <= (uint32_t)flen) {
            uint8_t be[4];
            uint64_t t1;
            uint32_t plen;
            if (sh_read(h, request, WF_PRIMARY_HEADER_SIZE) != (int32_t)WF_PRIMARY_HEADER_SIZE) {
                return EXIT_IO;
            }
            plen = ((uint32_t)request[4] << 8 | request[5]) + 1u + WF_PRIMARY_HEADER_SIZE;
            plen = plen > (uint32_t)flen - pos ? (uint32_t)flen - pos : plen;
            if (sh_read(h, request + WF_PRIMARY_HEADER_SIZE, plen - WF_PRIMARY_HEADER_SIZE) !=
                (int32_t)(plen - WF_PRIMARY_HEADER_SIZE)) {
                return EXIT_IO;
            }
            t1 = board_insn_count();
            last = tri_models_telecommand(&models, request, plen);
            t0 += board_insn_count() - t1;
            be[0] = (uint8_t)((uint32_t)last >> 24);
            be[1] = (uint8_t)((uint32_t)last >> 16);
            be[2] = (uint8_t)((uint32_t)last >> 8);
            be[3] = (uint8_t)last;
            if (file_write(&f, be, 4u) != TRI_OK) {
                return EXIT_IO;
            }
            pos += plen;
        }
        (void)sh_close(h);
        (void)sh_close(f.handle);
        follow_models();
        report_op(index, "tc", last, f.bytes, t0);
        return 0;
    }
    if (strcmp(w[0], "endpass") == 0 && n == 2) {
        rc = open_out(w[1], &f, &sink);
        if (rc != 0) {
            return rc;
        }
        st = tri_models_end_of_pass(&models);
        (void)sh_close(f.handle);
        report_op(index, "endpass", st, 0u, 0u);
        return 0;
    }
    if (strcmp(w[0], "model_status") == 0 && n == 2) {
        rc = open_out(w[1], &f, &sink);
        if (rc != 0) {
            return rc;
        }
        t0 = board_insn_count();
        st = tri_onboard_model_status(&ob, &models, &sink, &len);
        t0 = board_insn_count() - t0;
        (void)sh_close(f.handle);
        report_op(index, "model_status", st, f.bytes, t0);
        return st == TRI_ERR_IO ? EXIT_IO : 0;
    }
    if (strcmp(w[0], "model_run") == 0 && n == 5) {
        uint32_t h;
        uint32_t wd;
        uint32_t flen = 0;
        uint64_t t_begin = 0u;
        run_io_t io;
        tnn_stream_ctx_t ctx;
        const tri_package_t *pkg = tri_models_active(&models);
        if (cmdline_u32(w[2], &h) != 0 || cmdline_u32(w[3], &wd) != 0) {
            return EXIT_LINE;
        }
        if (read_file(w[1], frame_mem, sizeof frame_mem, &flen) < 0) {
            return EXIT_IO;
        }
        rc = open_out(w[4], &f, &sink);
        if (rc != 0) {
            return rc;
        }
        profile.clock = board_insn_count;
        profile.source = 0u;
        profile.sink = 0u;
        io.written = 0u;
        io.row_bytes = 0u;
        st = TRI_ERR_NO_IMPL;
        t0 = 0u;
        if (pkg != NULL) {
            t_begin = board_insn_count();
            st = tnn_stream_begin(&ctx, &pkg->plan, h, wd, model_scratch, sizeof model_scratch);
            t_begin = board_insn_count() - t_begin;
            io.row_bytes = (size_t)wd * ctx.in_c;
            if (st == TRI_OK && (uint64_t)h * io.row_bytes > flen) {
                st = TRI_ERR_SIZE;
            }
            /* timed as a whole, then run again with the executor's accounting
             * for the source's and the sink's share (as stream_run.c does) */
            if (st == TRI_OK) {
                t0 = board_insn_count();
                st = tnn_stream_run(&ctx, run_source, run_sink, &io);
                t0 = board_insn_count() - t0;
            }
            if (st == TRI_OK) {
                st = tnn_stream_begin(&ctx, &pkg->plan, h, wd, model_scratch,
                                      sizeof model_scratch);
            }
            if (st == TRI_OK) {
                const size_t written = io.written;
                io.written = 0u;
                ctx.profile = &profile;
                st = tnn_stream_run(&ctx, run_source, run_sink, &io);
                io.written = written;
            }
            if (st == TRI_OK) {
                st = file_write(&f, request, (uint32_t)io.written);
            }
        }
        (void)sh_close(f.handle);
        report_op(index, "model_run", st, f.bytes, t0);
        board_puts("model_run ");
        board_put_u32((uint32_t)index);
        board_puts(" begin ");
        board_put_u64(t_begin);
        board_puts(" run ");
        board_put_u64(t0);
        board_puts(" source ");
        board_put_u64(profile.source);
        board_puts(" sink ");
        board_put_u64(profile.sink);
        board_puts("\n");
        return 0;
    }
    if (strcmp(w[0], "flash") == 0 && n == 2) {
        rc = open_out(w[1], &f, &sink);
        if (rc != 0) {
            return rc;
        }
        st = file_write(&f, __modelflash_start, WF_MODEL_FLASH_BYTES);
        (void)sh_close(f.handle);
        report_op(index, "flash", st, f.bytes, 0u);
        return st == TRI_OK ? 0 : EXIT_IO;
    }
    if (strcmp(w[0], "load") == 0 && n == 2) {
        uint32_t flen = 0u;
        uint32_t cap = (uint32_t)(__modelflash_end - __modelflash_start);
        if (read_file(w[1], __modelflash_start, cap, &flen) < 0 || flen != cap) {
            return EXIT_IO;
        }
        rc = boot_models(0u, 0u);
        if (rc != 0) {
            return rc;
        }
        follow_models();
        report_op(index, "load", TRI_OK, 0u, 0u);
        return 0;
    }
    if (strcmp(w[0], "counters") == 0 && n == 2) {
        uint8_t buf[sizeof(tri_onboard_counters_t)];
        rc = open_out(w[1], &f, &sink);
        if (rc != 0) {
            return rc;
        }
        tri_onboard_counters_pack(&ob.counters, buf);
        st = file_write(&f, buf, 4u * tri_onboard_counter_words());
        (void)sh_close(f.handle);
        report_op(index, "counters", st, f.bytes, 0u);
        return st == TRI_OK ? 0 : EXIT_IO;
    }
    return EXIT_LINE;
}

int main(void)
{
    char *words[8];
    char *line;
    char *next;
    int n;
    int index = 0;
    int rc;
    int booted = 0;
    uint32_t arm_at = 0u;
    uint32_t arm_mode = TRI_FLASH_TEAR;
    int32_t len;

    if (sh_get_cmdline(cmdline, sizeof cmdline) != 0) {
        return EXIT_SCRIPT;
    }
    n = cmdline_split(cmdline, words, 8);
    if (n < 2) {
        board_puts("usage: triage_fw SCRIPT\n");
        return EXIT_SCRIPT;
    }
    len = read_file(words[1], script, SCRIPT_MAX, NULL);
    if (len == -2) {
        board_puts("script longer than ");
        board_put_u32(SCRIPT_MAX);
        board_puts(" bytes: split the operations over several boots\n");
        return EXIT_SCRIPT;
    }
    if (len < 0) {
        board_puts("script unreadable\n");
        return EXIT_SCRIPT;
    }
    script[len] = '\0';

    line = script;
    rc = 0;
    while (line != NULL && rc == 0) {
        uint32_t store_bytes;
        uint32_t fault_at;
        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        n = cmdline_split(line, words, 8);
        if (n == 0) {
            line = next;
            continue;
        }
        if (n < 0) {
            rc = EXIT_LINE;
        } else if (strcmp(words[0], "psram") == 0 && n == 2 && !booted) {
            rc = restore_psram(words[1]);
            index--;
        } else if (strcmp(words[0], "fault") == 0 && n == 4 && !booted &&
                   cmdline_u32(words[1], &fault_at) == 0 &&
                   (strcmp(words[2], "tear") == 0 || strcmp(words[2], "after") == 0) &&
                   strlen(words[3]) < sizeof dump_dir) {
            arm_at = fault_at;
            arm_mode = strcmp(words[2], "tear") == 0 ? TRI_FLASH_TEAR : TRI_FLASH_AFTER;
            memcpy(dump_dir, words[3], strlen(words[3]) + 1u);
            index--; /* a set-up line: operations count from the next one */
        } else if (strcmp(words[0], "init") == 0 && n == 3 && index == 0) {
            rc = boot_models(arm_at, arm_mode);
            booted = 1;
            if (rc == 0) {
                rc = cmdline_u32(words[1], &store_bytes) == 0 ? init_onboard(store_bytes, words[2])
                                                              : EXIT_LINE;
            }
        } else {
            if (index == 0) {
                rc = boot_models(arm_at, arm_mode);
                booted = 1;
                if (rc == 0) {
                    rc = init_onboard(TRIAGE_FW_STORE_MAX, "model");
                }
            }
            if (rc == 0) {
                rc = run_line(index, words, n);
            }
        }
        if (rc == EXIT_LINE) {
            board_puts("bad script line\n");
        }
        index++;
        line = next;
    }
    board_puts("stack_peak ");
    board_put_u32((uint32_t)board_stack_peak());
    board_puts(" of ");
    board_put_u32((uint32_t)board_stack_size());
    board_puts("\n");
    return rc;
}
