/*
 * aof_stage.c - staging: draining the rings into the staging buffer,
 * writing and syncing it (serial group commit), publishing LSNs.
 * See aof_log_internal.h and docs/AOF.md.
 */
#include "aof_log_internal.h"

/* ------------------------------------------------------------------------ */
/* staging                                                                  */

/* Drain one ring into staging.  Stops at the staging or segment limit. */
static bool drain_ring(struct aof_log *l, struct aof_ring *r)
{
    size_t cap = l->ring_mask + 1;
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
    bool moved = false;
    while (h != t) {
        size_t idx = (size_t)(h & l->ring_mask);
        size_t contig = cap - idx;
        if (contig < 4 || aof_load32(r->buf + idx) == RING_WRAP_MARK) {
            HP_ASSERT(t - h >= contig);
            h += contig;
            moved = true;
            continue;
        }
        const uint8_t *rec = r->buf + idx;
        HP_ASSERT(contig >= AOF_REC_HDR_LEN);
        HP_ASSERT(aof_load32(rec) == AOF_REC_MAGIC || aof_load32(rec) == AOF_REC_MAGIC_GRP);
        size_t len = aof_load32(rec + 8);
        HP_ASSERT(len >= AOF_REC_HDR_LEN && len <= contig && len <= t - h);
        if (l->stage_off + l->stage_len + len > l->cfg.segment_bytes) {
            l->need_rotate = true;
            break;
        }
        if (l->stage_len + len > l->cfg.staging_bytes) {
            l->stage_full = true;
            break;
        }
        memcpy(l->stage + l->stage_len, rec, len);
        l->stage_len += len;
        if (aof_load32(rec) == AOF_REC_MAGIC_GRP)
            aof_gtrack_member(&l->gtrack, aof_load64(rec + 40), aof_load32(rec + 48), l->seg_id);
        r->staged_lsn = aof_load64(rec + 16);
        if (r->keep_seg == 0) {
            uint64_t cut = atomic_load_explicit(&r->cut_lsn, memory_order_relaxed);
            if (cut != 0 && r->staged_lsn >= cut)
                r->keep_seg = l->seg_id;
        }
        h += len;
        moved = true;
    }
    if (moved)
        atomic_store_explicit(&r->head, h, memory_order_release);
    return moved;
}

bool aof_stage_gather(struct aof_log *l)
{
    bool moved = false;
    l->stage_full = false;
    if (l->need_rotate)
        return false;
    uint32_t n = l->cfg.nshards;
    for (uint32_t k = 0; k < n && !l->stage_full && !l->need_rotate; k++)
        moved |= drain_ring(l, &l->rings[(l->rr + k) % n]);
    l->rr = (l->rr + 1) % n;
    return moved;
}

bool aof_stage_rings_empty(struct aof_log *l)
{
    for (uint32_t s = 0; s < l->cfg.nshards; s++) {
        struct aof_ring *r = &l->rings[s];
        if (atomic_load_explicit(&r->head, memory_order_relaxed) !=
            atomic_load_explicit(&r->tail, memory_order_acquire))
            return false;
    }
    return true;
}

static void publish_written(struct aof_log *l)
{
    for (uint32_t s = 0; s < l->cfg.nshards; s++)
        atomic_store_explicit(&l->rings[s].written_lsn, l->rings[s].staged_lsn,
                              memory_order_release);
}

/* Durable LSNs advance to lsn[] (never back); the runtime hears which. */
void aof_stage_publish_lsns(struct aof_log *l, const uint64_t *lsn)
{
    uint64_t mask = 0;
    for (uint32_t s = 0; s < l->cfg.nshards; s++) {
        struct aof_ring *r = &l->rings[s];
        if (lsn[s] <= atomic_load_explicit(&r->durable_lsn, memory_order_relaxed))
            continue;
        atomic_store_explicit(&r->durable_lsn, lsn[s], memory_order_release);
        mask |= (uint64_t)1 << s;
    }
    if (mask != 0 && l->cfg.on_durable != NULL)
        l->cfg.on_durable(l->cfg.on_durable_arg, mask);
}

void aof_stage_publish_durable(struct aof_log *l)
{
    HP_ASSERT(l->stage_written == l->stage_len);
    uint64_t lsn[HP_MAX_SHARDS];
    for (uint32_t s = 0; s < l->cfg.nshards; s++)
        lsn[s] = l->rings[s].staged_lsn;
    aof_stage_publish_lsns(l, lsn);
}

/* Drop staged bytes up to `upto` (keeping the partial block with O_DIRECT). */
void aof_stage_compact(struct aof_log *l, size_t upto)
{
    size_t keep = l->cfg.direct_io ? align_down(upto) : upto;
    if (keep == 0)
        return;
    memmove(l->stage, l->stage + keep, l->stage_len - keep);
    l->stage_off += keep;
    l->stage_len -= keep;
    l->stage_written -= keep;
    l->stage_counted -= keep;
    l->stage_synced = l->stage_synced > keep ? l->stage_synced - keep : 0;
}

static void count_written(struct aof_log *l, size_t from, size_t to)
{
    /* Records are counted by walking the newly written bytes' headers. */
    uint64_t recs = 0;
    size_t off = from;
    while (off < to) {
        size_t len = aof_load32(l->stage + off + 8);
        HP_ASSERT(len >= AOF_REC_HDR_LEN && off + len <= to);
        off += len;
        recs++;
    }
    atomic_fetch_add_explicit(&l->st_bytes, to - from, memory_order_relaxed);
    atomic_fetch_add_explicit(&l->st_records, recs, memory_order_relaxed);
    atomic_store_explicit(&l->st_off, l->stage_off + to, memory_order_relaxed);
}

/*
 * Write everything staged but not written; with `sync` make it durable too.
 * Returns 0 or a negative errno.  On a sync failure `written` falls back to
 * `synced`, so the retry writes those bytes again.
 */

int aof_stage_flush(struct aof_log *l, bool sync)
{
    uint64_t t0 = sync ? clock_mono_ns() : 0;
    bool sys = aof_io_use_syscalls(l);
    bool dsync = sync && (l->cfg.sync_method == AOF_SYNC_PWRITEV2_DSYNC ||
                          (!sys && l->cfg.sync_method == AOF_SYNC_DSYNC_WRITE));
    bool linked = sync && !sys && l->cfg.sync_method == AOF_SYNC_URING_FSYNC;
    bool synced = false;
    /* RWF_DSYNC covers only its own write; bytes written earlier without it
     * still need an fdatasync (a linked fsync covers the whole file). */
    bool prior_unsynced = l->stage_synced < l->stage_written;
    bool wrote = false;
    while (l->stage_written < l->stage_len) {
        size_t from = l->stage_written, to = l->stage_len;
        if (l->cfg.direct_io) {
            from = align_down(from);
            to = align_up(to);
            memset(l->stage + l->stage_len, 0, to - l->stage_len);
        }
        ssize_t w = aof_io_write_once(l, l->stage + from, to - from, l->stage_off + from, dsync,
                                  linked, &synced);
        if (w > 0 && (dsync || synced)) {
            int sf = FAULT(l, AOF_FAULT_SYNC); /* the write carried the sync */
            if (sf != 0)
                w = sf;
        }
        if (w < 0) {
            if (sync)
                l->stage_written = HP_MIN(l->stage_written, l->stage_synced);
            return (int)w;
        }
        if (l->cfg.direct_io && (size_t)w % AOF_BLOCK != 0 && from + (size_t)w < l->stage_len)
            return -EIO; /* a short O_DIRECT write not on a block boundary */
        l->stage_written = HP_MIN(from + (size_t)w, l->stage_len);
        l->file_dirty = true;
        wrote = true;
        if (l->stage_written < l->stage_len)
            synced = false; /* a short write: the linked sync did not cover it all */
    }
    if (l->stage_written > l->stage_counted) {
        count_written(l, l->stage_counted, l->stage_written);
        l->stage_counted = l->stage_written;
        publish_written(l);
    }
    if (!sync)
        return 0;
    if (!synced && !(dsync && wrote && !prior_unsynced)) {
        int rc = aof_io_sync(l);
        if (rc < 0) {
            l->stage_written = l->stage_synced;
            return rc;
        }
    }
    atomic_fetch_add_explicit(&l->st_fsyncs, 1, memory_order_relaxed);
    aof_pipe_sync_time(l, t0);
    l->file_dirty = false;
    l->stage_synced = l->stage_written;
    l->last_sync_ms = mono_ms();
    aof_stage_publish_durable(l);
    aof_stage_compact(l, l->stage_synced);
    return 0;
}
