/*
 * aof_rewrite.c - rewrite (compaction) support: the producer-side cut
 * mark and finish request, and the persistence thread's completion
 * (dropping the covered segments).
 * See aof_log_internal.h and docs/AOF.md.
 */
#include "aof_log_internal.h"

#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* rewrite requests (workers)                                               */

void aof_log_rewrite_mark(struct aof_log *l, uint32_t shard, uint64_t first_lsn)
{
    HP_ASSERT(shard < l->cfg.nshards && first_lsn == l->rings[shard].last_lsn + 1);
    /* Relaxed is enough: the record with this LSN is published later by the
     * release store of the ring tail, which the drainer acquires. */
    atomic_store_explicit(&l->rings[shard].cut_lsn, first_lsn, memory_order_relaxed);
}

bool aof_log_rewrite_finish(struct aof_log *l, const uint64_t end_lsn[HP_MAX_SHARDS])
{
    if (atomic_load_explicit(&l->rw_req, memory_order_acquire) != 0)
        return false;
    memcpy(l->rw_end, end_lsn, sizeof(l->rw_end));
    atomic_store_explicit(&l->rw_req, 1, memory_order_release);
    aof_writer_nudge(l);
    return true;
}

uint64_t aof_log_rewrites_done(const struct aof_log *l, int *last_status)
{
    uint64_t n = atomic_load_explicit(&l->rw_done, memory_order_acquire);
    if (last_status != NULL)
        *last_status = atomic_load_explicit(&l->rw_status, memory_order_relaxed);
    return n;
}

/* ------------------------------------------------------------------------ */
/* rewrite completion (persistence thread)                                  */

/* Drop the sealed segments before `keep` from the MANIFEST, then delete them. */
static int rewrite_drop_before(struct aof_log *l, uint64_t keep)
{
    uint32_t k = 0;
    uint64_t bytes = 0;
    while (k < l->man.n && l->man.ids[k] < keep && l->man.lens[k] != AOF_SEG_ACTIVE)
        bytes += l->man.lens[k++];
    if (k == 0)
        return 0;
    uint64_t first_id = l->man.ids[0], last_id = l->man.ids[k - 1];
    struct aof_manifest nm = {.n = l->man.n - k, .ids = l->man.ids + k, .lens = l->man.lens + k};
    bool renamed = false;
    int rc = aof_manifest_write_at(l->dirfd, &nm, &renamed);
    if (rc != 0 && !renamed)
        return rc;
    /* Renamed (maybe without the directory sync): the new list may be the
     * one on disk, so the dropped segments stay dropped in memory too. */
    for (uint32_t i = 0; i < k; i++) {
        char name[64];
        aof_segment_name(l->man.ids[i], name, sizeof(name));
        if (unlinkat(l->dirfd, name, 0) != 0 && errno != ENOENT)
            log_warning("AOF: cannot remove %s: %s (removed at next start)", name,
                        strerror(errno));
    }
    memmove(l->man.ids, l->man.ids + k, nm.n * sizeof(*l->man.ids));
    memmove(l->man.lens, l->man.lens + k, nm.n * sizeof(*l->man.lens));
    l->man.n = nm.n;
    atomic_fetch_sub_explicit(&l->st_sealed, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&l->st_removed, k, memory_order_relaxed);
    if (rc == 0 && aof_fsync_dirfd(l->dirfd) != 0)
        rc = -errno;
    log_notice("AOF: rewrite removed %u segment(s) (%016llx..%016llx, %.1f MB)", k,
               (unsigned long long)first_id, (unsigned long long)last_id, (double)bytes / 1e6);
    return rc;
}

/*
 * A finish request is pending: once every snapshot record is durable, the
 * oldest segments holding only records older than their shard's cut go.
 * Returns 0 (done, or not possible yet) or -errno from a sync.
 */
int aof_rewrite_step(struct aof_log *l)
{
    if (atomic_load_explicit(&l->rw_req, memory_order_acquire) == 0)
        return 0;
    l->rw_seen = true;
    bool durable = true;
    for (uint32_t s = 0; s < l->cfg.nshards; s++)
        durable &= atomic_load_explicit(&l->rings[s].durable_lsn, memory_order_relaxed) >=
                   l->rw_end[s];
    if (!durable) {
        /* always: the next commits get there.  everysec / no: sync what is
         * staged now (the rest of the snapshot is still being drained). */
        if (l->cfg.fsync == AOF_FSYNC_EVERYSEC && l->stage_synced < l->stage_len)
            return aof_stage_flush(l, true);
        if (l->cfg.fsync == AOF_FSYNC_NO && l->file_dirty) {
            int rc = aof_io_sync(l);
            if (rc == 0) {
                atomic_fetch_add_explicit(&l->st_fsyncs, 1, memory_order_relaxed);
                l->file_dirty = false;
                aof_stage_publish_durable(l);
            }
            return rc;
        }
        return 0;
    }
    uint64_t keep = l->seg_id;
    for (uint32_t s = 0; s < l->cfg.nshards; s++) {
        struct aof_ring *r = &l->rings[s];
        if (r->keep_seg != 0 && r->keep_seg < keep)
            keep = r->keep_seg;
    }
    int rc = rewrite_drop_before(l, aof_gtrack_keep(&l->gtrack, keep));
    if (rc != 0)
        log_warning("AOF: rewrite could not update the manifest: %s (the old log stays valid)",
                    strerror(-rc));
    for (uint32_t s = 0; s < l->cfg.nshards; s++) {
        atomic_store_explicit(&l->rings[s].cut_lsn, 0, memory_order_relaxed);
        l->rings[s].keep_seg = 0;
    }
    atomic_store_explicit(&l->rw_status, rc, memory_order_relaxed);
    l->rw_seen = false;
    atomic_store_explicit(&l->rw_req, 0, memory_order_release);
    atomic_fetch_add_explicit(&l->rw_done, 1, memory_order_release);
    return 0;
}
