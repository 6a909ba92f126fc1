/*
 * aof_pipe.c - the commit pipeline for appendfsync always: syncs in
 * flight through io_uring, retired in submission order.
 * See aof_log_internal.h and docs/AOF.md.
 */
#include "aof_log_internal.h"

/* ------------------------------------------------------------------------ */
/* commit pipeline (appendfsync always)                                     */

/*
 * Serial group commit (write, sync, publish, repeat) leaves the disk idle
 * while records pile up and workers idle while the disk syncs.  Here the
 * thread writes staged records into the page cache at once and submits an
 * IORING_OP_FSYNC(DATASYNC) for them without waiting, up to pipe_depth in
 * flight.  A sync covers every byte written before it was submitted, but a
 * failed sync may have dropped dirty pages that a later successful one no
 * longer covers, so syncs are retired strictly in submission order and the
 * durable LSN advances only over that completed prefix.  Writes stay
 * synchronous (a page-cache copy), so a sync never runs under a buffer that
 * staging compaction moves.  Rotation and close settle the pipeline first.
 */
/* The pipeline runs only while syncs take at least sync_pipeline_min_us
 * (moving average): on a disk that syncs faster, overlapping syncs cost
 * more CPU (io_uring workers, a write and a sync per commit) than they
 * save, and the serial write+sync was faster there (docs/BENCHMARKS.md). */
bool aof_pipe_on(const struct aof_log *l)
{
    return l->pipe_depth > 1 && l->uring_ok && !l->cfg.direct_io &&
           l->cfg.fsync == AOF_FSYNC_ALWAYS &&
           l->sync_avg_ns >= (uint64_t)l->cfg.sync_pipeline_min_us * 1000u;
}

void aof_pipe_sync_time(struct aof_log *l, uint64_t t0)
{
    uint64_t d = clock_mono_ns() - t0;
    l->sync_avg_ns = l->sync_avg_ns == 0 ? d : (l->sync_avg_ns * 7 + d) / 8;
}

void aof_pipe_complete(struct aof_log *l, uint32_t slot, int res)
{
    HP_ASSERT(slot < AOF_SYNC_DEPTH_MAX && l->pipe_res[slot] == 1);
    if (res >= 0)
        res = FAULT(l, AOF_FAULT_SYNC);
    l->pipe_res[slot] = res < 0 ? res : 0;
    aof_pipe_sync_time(l, l->pipe_t0[slot]);
}

/* Take finished syncs off the completion queue, waiting up to wait_us for
 * the first one (0: do not wait). */
void aof_pipe_reap(struct aof_log *l, uint32_t wait_us)
{
    if (!l->uring_ok || l->pipe_n == 0)
        return;
    struct io_uring_cqe *cqe;
    if (wait_us > 0) {
        struct __kernel_timespec ts = {.tv_sec = wait_us / 1000000u,
                                       .tv_nsec = (long long)(wait_us % 1000000u) * 1000};
        int rc = io_uring_wait_cqe_timeout(&l->uring, &cqe, &ts);
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN) {
            aof_io_uring_fail(l, rc);
            return;
        }
    }
    while (io_uring_peek_cqe(&l->uring, &cqe) == 0) {
        uint64_t ud = io_uring_cqe_get_data64(cqe);
        HP_ASSERT(ud >= UD_PIPE_BASE); /* nothing else is in flight between steps */
        aof_pipe_complete(l, (uint32_t)(ud - UD_PIPE_BASE), cqe->res);
        io_uring_cqe_seen(&l->uring, cqe);
    }
}

/* Wait until no sync is running (their results are kept for retiring). */
static void pipe_wait_all(struct aof_log *l)
{
    for (;;) {
        bool running = false;
        for (uint32_t i = 0; i < l->pipe_n; i++)
            running |= l->pipe_res[(l->pipe_head + i) % AOF_SYNC_DEPTH_MAX] == 1;
        if (!running || !l->uring_ok)
            return;
        aof_pipe_reap(l, 1000);
    }
}

/* Retire finished syncs in submission order.  0, or the first failure: then
 * every sync is waited for and dropped, and writing restarts at the last
 * durable byte (section 9: after a failed sync the page cache cannot be
 * trusted to still hold what was written). */
static int pipe_retire(struct aof_log *l)
{
    bool advanced = false;
    while (l->pipe_n > 0) {
        uint32_t slot = l->pipe_head;
        int res = l->pipe_res[slot];
        if (res == 1)
            break;
        if (res < 0) {
            pipe_wait_all(l);
            l->pipe_n = 0;
            l->stage_written = HP_MIN(l->stage_written, l->stage_synced);
            l->pipe_sub_off = l->stage_off + l->stage_written;
            return res;
        }
        HP_ASSERT(l->pipe_end[slot] >= l->stage_off + l->stage_synced);
        l->stage_synced = (size_t)(l->pipe_end[slot] - l->stage_off);
        aof_stage_publish_lsns(l, l->pipe_lsn[slot]);
        atomic_fetch_add_explicit(&l->st_fsyncs, 1, memory_order_relaxed);
        l->pipe_head = (slot + 1) % AOF_SYNC_DEPTH_MAX;
        l->pipe_n--;
        advanced = true;
    }
    if (advanced) {
        l->file_dirty = l->stage_synced < l->stage_written;
        l->last_sync_ms = mono_ms();
        aof_stage_compact(l, l->stage_synced);
    }
    return 0;
}

/* Submit a sync covering everything written so far (all of staging). */
static int pipe_submit(struct aof_log *l)
{
    HP_ASSERT(l->pipe_n < l->pipe_depth && l->stage_written == l->stage_len);
    uint32_t slot = (l->pipe_head + l->pipe_n) % AOF_SYNC_DEPTH_MAX;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->uring);
    HP_ASSERT(sqe != NULL); /* URING_DEPTH covers every sqe that can be pending */
    aof_io_prep_sync(l, sqe);
    io_uring_sqe_set_data64(sqe, UD_PIPE_BASE + slot);
    l->pipe_end[slot] = l->stage_off + l->stage_written;
    l->pipe_res[slot] = 1;
    for (uint32_t s = 0; s < l->cfg.nshards; s++)
        l->pipe_lsn[slot][s] = l->rings[s].staged_lsn;
    l->pipe_n++;
    l->pipe_sub_off = l->pipe_end[slot];
    l->pipe_t0[slot] = clock_mono_ns();
    int rc = FAULT(l, AOF_FAULT_URING);
    if (rc == 0) {
        do {
            rc = io_uring_submit(&l->uring);
        } while (rc == -EINTR);
    }
    return rc < 0 ? aof_io_uring_fail(l, rc) : 0;
}

/* One non-blocking round: retire, write what is staged, start a sync. */
int aof_pipe_step(struct aof_log *l)
{
    aof_pipe_reap(l, 0);
    int rc = pipe_retire(l);
    if (rc == 0 && l->stage_written < l->stage_len)
        rc = aof_stage_flush(l, false);
    /* While syncs run, pipe_sub_off is in this segment (rotation settles). */
    uint64_t covered = l->pipe_n > 0 ? l->pipe_sub_off : l->stage_off + l->stage_synced;
    if (rc == 0 && l->stage_written == l->stage_len &&
        l->stage_off + l->stage_written > covered && l->pipe_n < l->pipe_depth)
        rc = pipe_submit(l);
    /* Syncs that finished while the write waited: publish them now rather
     * than after the next idle wait. */
    if (rc == 0)
        rc = pipe_retire(l);
    return rc;
}

/* Wait for and retire every sync in flight (before rotation or close, and
 * when io_uring failed under them). */
int aof_pipe_settle(struct aof_log *l)
{
    if (l->pipe_n == 0)
        return 0;
    pipe_wait_all(l);
    return pipe_retire(l);
}
