/*
 * aof_log_internal.h - what the files of the log (aof_log.c, aof_io.c,
 * aof_stage.c, aof_pipe.c, aof_segment.c, aof_manifest.c, aof_rewrite.c,
 * aof_writer.c, aof_fault.c) share: the log's structure and their calls
 * into each other.  Not for use outside storage/aof/.
 *
 * Rings.  Each shard's ring is a power-of-two byte buffer with free-running
 * 64-bit head (consumer) and tail (producer) positions.  Records are stored
 * contiguously, already encoded exactly as they go to disk, so the
 * persistence thread only memcpy()s them into staging.  When a record does
 * not fit before the end of the buffer the producer skips to the start,
 * leaving a wrap marker (or nothing, when fewer than 4 bytes remain).  A
 * record may take at most half the ring, so it always fits once the ring
 * has drained, wherever the positions stand.
 *
 * Staging.  One aligned buffer whose byte 0 sits at file offset stage_off
 * of the current segment.  Three marks in it: synced <= written <= len.
 * Bytes up to `synced` are durable; [synced, len) stay in memory until an
 * fsync covers them (appendfsync no drops them once written), so a failed
 * fsync can be answered by writing them again
 * (after a failed fsync the kernel may have dropped the dirty pages; the
 * page cache cannot be trusted to still hold them).  With O_DIRECT every
 * write is whole blocks: the partial last block stays in staging and is
 * written again, with the bytes that follow it, by the next write.
 *
 * Durability.  Only this thread writes, syncs and publishes, one step at a
 * time, so after an fsync that followed a write of everything staged, every
 * record staged so far is durable: durable_lsn[s] = staged_lsn[s], stored
 * with release semantics.  That is group commit: whatever the workers
 * appended while the previous fsync ran goes out in the next write.
 */
#ifndef HP_AOF_LOG_INTERNAL_H
#define HP_AOF_LOG_INTERNAL_H

#include "aof_log.h"

#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "aof_gtrack.h"

#define RING_WRAP_MARK 0xffffffffu    /* cannot be a record magic */
#define URING_DEPTH 16             /* write + linked sync + AOF_SYNC_DEPTH_MAX pipelined syncs */
#define UD_WRITE 1u
#define UD_SYNC 2u
#define UD_PIPE_BASE 16u           /* + slot: a pipelined sync */

struct aof_ring {
    /* producer line */
    _Alignas(64) _Atomic uint64_t tail;
    uint64_t cached_head;
    uint64_t last_lsn;
    /* consumer line */
    _Alignas(64) _Atomic uint64_t head;
    uint64_t staged_lsn;
    /* published line, read by workers */
    _Alignas(64) _Atomic uint64_t durable_lsn;
    _Atomic uint64_t written_lsn;
    uint8_t *buf;
    /* rewrite: first snapshot LSN (set by the producer before it appends
     * that record; 0 = none) and, persistence thread only, the first
     * segment that got a record with LSN >= cut_lsn (0 = none yet) */
    _Atomic uint64_t cut_lsn;
    uint64_t keep_seg;
};

struct aof_log {
    struct aof_log_config cfg;
    struct aof_ring *rings;        /* [cfg.nshards] */
    size_t ring_mask;
    size_t max_record;

    pthread_t thread;
    bool thread_started;
    _Atomic bool stop;
    /* Idle wait: the thread sets `sleeping` before it blocks on wake_fd;
     * an append that sees it set clears it and writes wake_fd.  Own line:
     * every append reads it. */
    int wake_fd;
    _Alignas(64) _Atomic uint32_t sleeping;
    /* wake_on_kick: appends since the last aof_log_kick.  Own line: every
     * producer writes it. */
    _Alignas(64) _Atomic uint32_t kick_pending;
    _Atomic uint64_t st_sleeps, st_wakeups;
    /* Last group id handed out (aof_log_group_id).  Own line: coordinators
     * of multi-shard writes on any worker take ids. */
    _Alignas(64) _Atomic uint64_t group_id;

    /* ---- persistence thread only (after open) ---- */
    int dirfd;
    int seg_fd;
    uint64_t seg_id;
    uint64_t listed_max_id;        /* highest segment a MANIFEST on disk may name */
    struct io_uring uring;
    bool uring_ok;
    bool files_registered;
    bool bufs_registered;
    uint8_t *hdr_block;            /* AOF_BLOCK, aligned: segment header writes */
    uint8_t *stage;
    uint64_t stage_off;            /* file offset of stage[0] */
    size_t stage_len, stage_written, stage_synced;
    size_t stage_counted;          /* bytes already counted in the stats */
    bool file_dirty;               /* written since the last completed sync */
    bool stage_full;               /* last gather stopped for lack of staging room */
    bool need_rotate;              /* last gather stopped at the segment limit */
    uint32_t rr;                   /* ring to drain first (fairness) */
    uint64_t last_sync_ms;
    uint64_t retry_at_ms;
    struct aof_manifest man;
    uint32_t man_cap;
    int final_error;
    bool rw_seen;                  /* aof_rewrite_step has looked at the pending request */
    struct aof_gtrack gtrack;      /* groups staged: a rewrite must not split one */
    /* commit pipeline (appendfsync always): syncs in flight, FIFO in
     * submission order; slot i covers file offsets < pipe_end[i] of the
     * current segment and the LSNs pipe_lsn[i][s] */
    uint32_t pipe_depth;
    uint32_t pipe_head, pipe_n;
    uint64_t pipe_sub_off;         /* end covered by the newest submitted sync */
    uint64_t pipe_t0[AOF_SYNC_DEPTH_MAX]; /* submission time of each (ns) */
    uint64_t sync_avg_ns;          /* moving average of a sync's duration */
    uint64_t pipe_end[AOF_SYNC_DEPTH_MAX];
    int pipe_res[AOF_SYNC_DEPTH_MAX];   /* 1 running, 0 done, < 0 failed (-errno) */
    uint64_t pipe_lsn[AOF_SYNC_DEPTH_MAX][HP_MAX_SHARDS];

    /* ---- shared ---- */
    _Atomic int error;             /* positive errno, 0 = healthy */
    _Atomic uint64_t st_bytes, st_records, st_fsyncs, st_rotations, st_errors;
    _Atomic uint64_t st_seg, st_off;
    _Atomic uint64_t st_sealed;    /* valid bytes of the sealed listed segments */
    _Atomic uint64_t st_removed;
    /* rewrite finish request: rw_end is written before rw_req (release) */
    _Atomic int rw_req;
    uint64_t rw_end[HP_MAX_SHARDS];
    _Atomic uint64_t rw_done;
    _Atomic int rw_status;
#ifdef HP_AOF_FAULT_INJECTION
    _Atomic uint32_t fault_count[AOF_FAULT_NOPS];
    _Atomic int fault_err[AOF_FAULT_NOPS];
    _Atomic uint32_t idle_delay_us;
#endif
};

/* ------------------------------------------------------------------------ */
/* small helpers                                                            */

static inline uint64_t mono_ms(void) { return clock_mono_ns() / 1000000u; }

static inline size_t align_down(size_t v) { return v & ~((size_t)AOF_BLOCK - 1); }
static inline size_t align_up(size_t v) { return (v + AOF_BLOCK - 1) & ~((size_t)AOF_BLOCK - 1); }

static inline void sleep_us(uint32_t us)
{
    struct timespec ts = {.tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

#ifdef HP_AOF_FAULT_INJECTION
/* aof_fault.c */
int aof_fault_hit(struct aof_log *l, enum aof_fault_op op);
void aof_fault_idle_delay(struct aof_log *l);
#define FAULT(l, op) aof_fault_hit((l), (op))
#define IDLE_DELAY(l) aof_fault_idle_delay(l)
#else
#define FAULT(l, op) 0
#define IDLE_DELAY(l) ((void)0)
#endif

/* aof_log.c */
void aof_writer_nudge(struct aof_log *l);

/* aof_io.c: every write and sync goes through here (and the fault hook) */
int aof_io_uring_fail(struct aof_log *l, int rc);
void aof_io_prep_sync(struct aof_log *l, struct io_uring_sqe *sqe);
bool aof_io_use_syscalls(const struct aof_log *l);
ssize_t aof_io_write_once(struct aof_log *l, const uint8_t *p, size_t n, uint64_t off,
                          bool dsync, bool then_sync, bool *synced);
int aof_io_sync(struct aof_log *l);

/* aof_stage.c */
bool aof_stage_gather(struct aof_log *l);
bool aof_stage_rings_empty(struct aof_log *l);
void aof_stage_publish_lsns(struct aof_log *l, const uint64_t *lsn);
void aof_stage_publish_durable(struct aof_log *l);
void aof_stage_compact(struct aof_log *l, size_t upto);
int aof_stage_flush(struct aof_log *l, bool sync);

/* aof_pipe.c */
bool aof_pipe_on(const struct aof_log *l);
void aof_pipe_sync_time(struct aof_log *l, uint64_t t0);
void aof_pipe_complete(struct aof_log *l, uint32_t slot, int res);
void aof_pipe_reap(struct aof_log *l, uint32_t wait_us);
int aof_pipe_step(struct aof_log *l);
int aof_pipe_settle(struct aof_log *l);

/* aof_segment.c */
int aof_segment_create(struct aof_log *l, uint64_t id, uint32_t flags);
int aof_manifest_push(struct aof_log *l, uint64_t id, uint64_t len);
void aof_segment_trim(struct aof_log *l, int fd, uint64_t id, uint64_t len);
int aof_segment_rotate(struct aof_log *l);

/* aof_manifest.c */
int aof_fsync_dirfd(int dirfd);
int aof_manifest_write_at(int dirfd, const struct aof_manifest *m, bool *renamed);

/* aof_rewrite.c */
int aof_rewrite_step(struct aof_log *l);

/* aof_writer.c */
void *aof_writer_main(void *arg);

#endif
