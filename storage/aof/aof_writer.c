/*
 * aof_writer.c - the persistence thread: its loop, the policy step
 * (always / everysec / no), error state and the idle wait.
 * See aof_log_internal.h and docs/AOF.md.
 */
#include "aof_log_internal.h"

#include <poll.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* persistence thread                                                       */

/* One round of writing/syncing/rotating as the policy asks.  0 or -errno. */
static int writer_step(struct aof_log *l, bool stopping)
{
    bool unwritten = l->stage_written < l->stage_len;
    bool unsynced = l->stage_synced < l->stage_len;
    int rc = 0;
    switch (l->cfg.fsync) {
    case AOF_FSYNC_ALWAYS:
        if (aof_pipe_on(l) && !l->need_rotate && !stopping) {
            rc = aof_pipe_step(l);
            break;
        }
        rc = aof_pipe_settle(l);
        if (rc == 0 && l->stage_synced < l->stage_len)
            rc = aof_stage_flush(l, true);
        break;
    case AOF_FSYNC_EVERYSEC: {
        bool due = mono_ms() - l->last_sync_ms >= AOF_EVERYSEC_MS;
        bool must = l->stage_full || l->need_rotate || stopping || due;
        if (unsynced && must)
            rc = aof_stage_flush(l, true);
        else if (unwritten)
            rc = aof_stage_flush(l, false);
        break;
    }
    case AOF_FSYNC_NO:
        if (unwritten)
            rc = aof_stage_flush(l, false);
        if (rc == 0) {
            /* The kernel decides when it is durable: keep nothing for a rewrite. */
            l->stage_synced = l->stage_written;
            aof_stage_compact(l, l->stage_synced);
            if ((l->need_rotate || stopping) && l->file_dirty) {
                rc = aof_io_sync(l);
                if (rc == 0) {
                    atomic_fetch_add_explicit(&l->st_fsyncs, 1, memory_order_relaxed);
                    l->file_dirty = false;
                    aof_stage_publish_durable(l);
                }
            }
        }
        break;
    }
    if (rc == 0 && l->need_rotate)
        rc = aof_segment_rotate(l);
    if (rc == 0)
        rc = aof_rewrite_step(l);
    return rc;
}

static void enter_error(struct aof_log *l, int rc)
{
    int e = -rc;
    atomic_fetch_add_explicit(&l->st_errors, 1, memory_order_relaxed);
    if (atomic_load_explicit(&l->error, memory_order_relaxed) != e) {
        char name[64];
        aof_segment_name(l->seg_id, name, sizeof(name));
        log_warning("AOF: writing %s at offset %llu failed: %s; writes are refused until "
                    "the disk recovers (retrying every %u ms)",
                    name, (unsigned long long)(l->stage_off + l->stage_written), strerror(e),
                    l->cfg.retry_ms);
    }
    atomic_store_explicit(&l->error, e, memory_order_release);
    l->retry_at_ms = mono_ms() + l->cfg.retry_ms;
}

static void leave_error(struct aof_log *l)
{
    if (atomic_load_explicit(&l->error, memory_order_relaxed) == 0)
        return;
    atomic_store_explicit(&l->error, 0, memory_order_release);
    log_notice("AOF: disk writes succeed again; accepting writes");
}

/* How long the idle thread may block: until the next everysec sync is due,
 * at most idle_sleep_max_us.  0: do not block. */
static uint64_t writer_wait_us(const struct aof_log *l)
{
    uint64_t us = l->cfg.idle_sleep_max_us;
    if (l->stage_synced < l->stage_len) {
        if (l->cfg.fsync != AOF_FSYNC_EVERYSEC)
            return l->pipe_n > 0 ? us : 0; /* always: only a running sync leaves bytes unsynced */
        uint64_t since = mono_ms() - l->last_sync_ms;
        if (since >= AOF_EVERYSEC_MS)
            return 0;
        us = HP_MIN(us, (AOF_EVERYSEC_MS - since) * 1000u);
    }
    return us;
}

/* Anything published that the thread has not acted on yet (after the
 * sleeping flag is set: the other half of writer_nudge's handshake). */
static bool writer_has_news(struct aof_log *l)
{
    return !aof_stage_rings_empty(l) || atomic_load_explicit(&l->stop, memory_order_acquire) ||
           (atomic_load_explicit(&l->rw_req, memory_order_acquire) != 0 && !l->rw_seen);
}

/*
 * Idle: block on the eventfd (and on the io_uring fd while pipelined syncs
 * run, so a completion ends the wait at once) instead of polling the rings:
 * on few CPUs every poll wake-up takes a core from the workers.  The
 * announce / fence / re-check order pairs with writer_nudge, so an append
 * racing with the announcement is never missed.
 */
static void writer_wait(struct aof_log *l)
{
    uint64_t us = writer_wait_us(l);
    if (us == 0)
        return;
    if (l->stage_full && l->pipe_n > 0) {
        /* Staging is full of bytes running syncs cover: only a completion
         * frees room, new appends would only spin us. */
        aof_pipe_reap(l, (uint32_t)HP_MIN(us, 1000000u));
        return;
    }
    IDLE_DELAY(l);
    /* Counted before it is announced: a waker can claim the announcement
     * (and count a wake-up) even when the re-check below then finds news
     * and we never block, so counting only real blocks would let wake-ups
     * outnumber sleeps.  Pairs with the release in writer_wake. */
    atomic_fetch_add_explicit(&l->st_sleeps, 1, memory_order_relaxed);
    atomic_store_explicit(&l->sleeping, 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
    if (writer_has_news(l)) {
        atomic_store_explicit(&l->sleeping, 0, memory_order_relaxed);
        return;
    }
    struct pollfd pf[2] = {{.fd = l->wake_fd, .events = POLLIN},
                           {.fd = l->uring_ok ? l->uring.ring_fd : -1, .events = POLLIN}};
    nfds_t n = l->pipe_n > 0 && l->uring_ok ? 2 : 1;
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000u),
                          .tv_nsec = (long)(us % 1000000u) * 1000};
    int rc = ppoll(pf, n, &ts, NULL);
    atomic_store_explicit(&l->sleeping, 0, memory_order_relaxed);
    if (rc < 0 && errno != EINTR) {
        log_warning("AOF: ppoll on the wake-up fd failed: %s", strerror(errno));
        sleep_us((uint32_t)HP_MIN(us, 1000u)); /* no busy loop; the rings are looked at anyway */
        return;
    }
    if (rc > 0 && (pf[0].revents & POLLIN) != 0) {
        uint64_t cnt;
        ssize_t r = read(l->wake_fd, &cnt, sizeof(cnt));
        HP_ASSERT(r == (ssize_t)sizeof(cnt) || errno == EAGAIN);
    }
}

void *aof_writer_main(void *arg)
{
    struct aof_log *l = arg;
    for (;;) {
        bool stopping = atomic_load_explicit(&l->stop, memory_order_acquire);
        bool failing = atomic_load_explicit(&l->error, memory_order_relaxed) != 0;
        if (failing && !stopping && mono_ms() < l->retry_at_ms) {
            aof_stage_gather(l);
            sleep_us(HP_MIN(l->cfg.idle_sleep_max_us, 1000u));
            continue;
        }
        bool moved = aof_stage_gather(l);
        int rc = writer_step(l, stopping);
        if (rc < 0) {
            enter_error(l, rc);
            if (stopping) {
                l->final_error = rc;
                break;
            }
            continue;
        }
        leave_error(l);
        if (stopping && aof_stage_rings_empty(l) && l->stage_synced == l->stage_len && !l->need_rotate)
            break;
        if (moved || l->stage_written < l->stage_len)
            continue;
        writer_wait(l);
    }
    return NULL;
}
