/*
 * aof_log.c - the log's public side: fsync policy names, appends from
 * the workers (the per-shard rings), LSNs, errors and statistics, open and close.
 * See aof_log_internal.h and docs/AOF.md.
 */
#include "aof_log_internal.h"

#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* fsync policy names                                                       */

const char *aof_fsync_policy_name(enum aof_fsync_policy p)
{
    switch (p) {
    case AOF_FSYNC_ALWAYS: return "always";
    case AOF_FSYNC_EVERYSEC: return "everysec";
    case AOF_FSYNC_NO: return "no";
    }
    return "?";
}

int aof_fsync_policy_parse(const char *name, enum aof_fsync_policy *out)
{
    static const enum aof_fsync_policy all[] = {AOF_FSYNC_ALWAYS, AOF_FSYNC_EVERYSEC,
                                                AOF_FSYNC_NO};
    for (size_t i = 0; i < HP_ARRAY_LEN(all); i++) {
        if (strcasecmp(name, aof_fsync_policy_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* producer side                                                            */

/* Ring the persistence thread's eventfd, if it still sleeps.  The exchange
 * makes one waker out of any number of racing appends and closers. */
static void writer_wake(struct aof_log *l)
{
    if (atomic_exchange_explicit(&l->sleeping, 0, memory_order_seq_cst) == 0)
        return;
    atomic_fetch_add_explicit(&l->st_wakeups, 1, memory_order_release);
    uint64_t one = 1;
    ssize_t n = write(l->wake_fd, &one, sizeof(one));
    /* EAGAIN: the counter is saturated, a wake-up is pending anyway. */
    HP_ASSERT(n == (ssize_t)sizeof(one) || errno == EAGAIN);
}

/* After publishing something the thread must act on.  Pairs with the
 * store of `sleeping`, fence, re-check in writer_wait: either the thread
 * sees what we published, or we see it sleeping and wake it. */
void aof_writer_nudge(struct aof_log *l)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&l->sleeping, memory_order_relaxed) != 0)
        writer_wake(l);
}

/* Bytes an append of `size` needs at tail t (a wrap wastes the rest of
 * the buffer), and whether they are free. */
static bool ring_fits(struct aof_log *l, struct aof_ring *r, uint64_t t, size_t size,
                      size_t *waste_out)
{
    size_t cap = l->ring_mask + 1;
    size_t contig = cap - (size_t)(t & l->ring_mask);
    size_t waste = contig < size ? contig : 0;
    uint64_t need = waste + size;
    *waste_out = waste;
    if (t + need - r->cached_head <= cap)
        return true;
    r->cached_head = atomic_load_explicit(&r->head, memory_order_acquire);
    return t + need - r->cached_head <= cap;
}

bool aof_log_has_room(struct aof_log *l, uint32_t shard, size_t rec_bytes)
{
    HP_ASSERT(shard < l->cfg.nshards);
    if (rec_bytes > l->max_record)
        return false;
    struct aof_ring *r = &l->rings[shard];
    size_t waste;
    return ring_fits(l, r, atomic_load_explicit(&r->tail, memory_order_relaxed), rec_bytes,
                     &waste);
}

/* The append path of both record kinds.  Inlined with a constant g into
 * each entry point, so the ungrouped append compiles to what it was before
 * groups existed. */
__attribute__((always_inline)) static inline enum aof_append
log_append(struct aof_log *l, uint32_t shard, uint16_t db, int64_t ts_ms, uint32_t argc,
           const struct hp_slice *argv, const struct aof_group *g, uint64_t *lsn)
{
    if (shard >= l->cfg.nshards || db >= HP_NUM_DBS || argc == 0 || argc > AOF_REC_MAX_ARGC)
        return AOF_APPEND_INVALID;
    size_t size = g == NULL ? aof_record_size(argc, argv) : aof_record_size_grouped(argc, argv);
    if (size == 0 || size > l->max_record)
        return AOF_APPEND_TOO_LARGE;
    struct aof_ring *r = &l->rings[shard];
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t waste;
    if (!ring_fits(l, r, t, size, &waste))
        return AOF_APPEND_BUSY;
    if (waste > 0) {
        if (waste >= 4)
            aof_store32(r->buf + (size_t)(t & l->ring_mask), RING_WRAP_MARK);
        t += waste;
    }
    uint64_t next = r->last_lsn + 1;
    uint8_t *at = r->buf + (size_t)(t & l->ring_mask);
    size_t n = g == NULL
                   ? aof_record_encode(at, size, (uint16_t)shard, db, next, ts_ms, argc, argv)
                   : aof_record_encode_grouped(at, size, (uint16_t)shard, db, next, ts_ms, argc,
                                               argv, g);
    HP_ASSERT(n == size);
    r->last_lsn = next;
    atomic_store_explicit(&r->tail, t + size, memory_order_release);
    if (!l->cfg.wake_on_kick)
        aof_writer_nudge(l);
    else if (atomic_load_explicit(&l->kick_pending, memory_order_relaxed) == 0)
        atomic_store_explicit(&l->kick_pending, 1, memory_order_release);
    if (lsn != NULL)
        *lsn = next;
    return AOF_APPEND_OK;
}

enum aof_append aof_log_append(struct aof_log *l, uint32_t shard, uint16_t db,
                               int64_t ts_ms, uint32_t argc, const struct hp_slice *argv,
                               uint64_t *lsn)
{
    return log_append(l, shard, db, ts_ms, argc, argv, NULL, lsn);
}

enum aof_append aof_log_append_grouped(struct aof_log *l, uint32_t shard, uint16_t db,
                                       int64_t ts_ms, uint32_t argc,
                                       const struct hp_slice *argv,
                                       const struct aof_group *g, uint64_t *lsn)
{
    if (g == NULL || !aof_group_valid(g))
        return AOF_APPEND_INVALID;
    return log_append(l, shard, db, ts_ms, argc, argv, g, lsn);
}

uint64_t aof_log_group_id(struct aof_log *l)
{
    return atomic_fetch_add_explicit(&l->group_id, 1, memory_order_relaxed) + 1;
}

void aof_log_kick(struct aof_log *l)
{
    if (atomic_load_explicit(&l->kick_pending, memory_order_acquire) == 0)
        return;
    /* Cleared before the nudge: an append racing with us either sets it
     * again (its producer kicks later) or was published before the nudge
     * (the woken thread sees it). */
    atomic_store_explicit(&l->kick_pending, 0, memory_order_relaxed);
    aof_writer_nudge(l);
}

size_t aof_log_max_record(const struct aof_log *l) { return l->max_record; }

uint64_t aof_log_durable_lsn(const struct aof_log *l, uint32_t shard)
{
    HP_ASSERT(shard < l->cfg.nshards);
    return atomic_load_explicit(&l->rings[shard].durable_lsn, memory_order_acquire);
}

uint64_t aof_log_written_lsn(const struct aof_log *l, uint32_t shard)
{
    HP_ASSERT(shard < l->cfg.nshards);
    return atomic_load_explicit(&l->rings[shard].written_lsn, memory_order_acquire);
}

uint64_t aof_log_last_lsn(const struct aof_log *l, uint32_t shard)
{
    HP_ASSERT(shard < l->cfg.nshards);
    return l->rings[shard].last_lsn;
}

int aof_log_error(const struct aof_log *l)
{
    return atomic_load_explicit(&l->error, memory_order_acquire);
}

void aof_log_error_text(const struct aof_log *l, char *buf, size_t cap)
{
    int e = aof_log_error(l);
    char tmp[128];
    const char *msg = e == 0 ? "no error" : strerror_r(e, tmp, sizeof(tmp));
    snprintf(buf, cap, "MISCONF Errors writing to the AOF file: %s", msg);
}

void aof_log_get_stats(const struct aof_log *l, struct aof_log_stats *out)
{
    out->bytes_written = atomic_load_explicit(&l->st_bytes, memory_order_relaxed);
    out->records_written = atomic_load_explicit(&l->st_records, memory_order_relaxed);
    out->fsyncs = atomic_load_explicit(&l->st_fsyncs, memory_order_relaxed);
    out->rotations = atomic_load_explicit(&l->st_rotations, memory_order_relaxed);
    out->write_errors = atomic_load_explicit(&l->st_errors, memory_order_relaxed);
    out->current_segment = atomic_load_explicit(&l->st_seg, memory_order_relaxed);
    out->current_offset = atomic_load_explicit(&l->st_off, memory_order_relaxed);
    out->log_bytes = atomic_load_explicit(&l->st_sealed, memory_order_relaxed) +
                     out->current_offset;
    out->removed_segments = atomic_load_explicit(&l->st_removed, memory_order_relaxed);
    /* Wake-ups first, with acquire: every wake-up seen claimed a sleep
     * announcement counted before it, so the pair keeps wakeups <= sleeps
     * even while the thread runs. */
    out->thread_wakeups = atomic_load_explicit(&l->st_wakeups, memory_order_acquire);
    out->thread_sleeps = atomic_load_explicit(&l->st_sleeps, memory_order_relaxed);
}

/* ------------------------------------------------------------------------ */
/* open / close                                                             */

void aof_log_config_init(struct aof_log_config *cfg, const char *dir)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->dir = dir;
    cfg->nshards = 1;
    cfg->ring_bytes = (size_t)16 << 20;
    cfg->staging_bytes = (size_t)4 << 20;
    cfg->segment_bytes = (uint64_t)64 << 20;
    cfg->fsync = AOF_FSYNC_EVERYSEC;
    cfg->sync_method = AOF_SYNC_PWRITEV2_DSYNC; /* fastest end to end, docs/AOF.md section 8 */
    cfg->direct_io = false;
    cfg->preallocate = true;
    cfg->retry_ms = 1000;
    cfg->idle_sleep_max_us = AOF_IDLE_WAIT_DEFAULT_US;
    cfg->sync_depth = AOF_SYNC_DEPTH_DEFAULT;
    cfg->sync_pipeline_min_us = AOF_SYNC_PIPELINE_MIN_US;
}

static const char *config_problem(const struct aof_log_config *c)
{
    if (c->dir == NULL || c->dir[0] == '\0')
        return "no directory";
    if (c->nshards == 0 || c->nshards > HP_MAX_SHARDS)
        return "shard count out of range";
    if (c->ring_bytes < AOF_RING_MIN_BYTES || c->ring_bytes > AOF_RING_MAX_BYTES ||
        (c->ring_bytes & (c->ring_bytes - 1)) != 0)
        return "ring size must be a power of two in [4 KiB, 1 GiB]";
    if (c->staging_bytes < AOF_STAGING_MIN_BYTES || c->staging_bytes > AOF_STAGING_MAX_BYTES ||
        c->staging_bytes % AOF_BLOCK != 0)
        return "staging size must be a multiple of 4 KiB in [8 KiB, 1 GiB]";
    if (c->segment_bytes < AOF_SEG_MIN_BYTES || c->segment_bytes > AOF_SEG_MAX_BYTES)
        return "segment size out of range [64 KiB, 1 GiB]";
    if ((unsigned)c->fsync > AOF_FSYNC_NO || (unsigned)c->sync_method > AOF_SYNC_PWRITEV2_DSYNC)
        return "unknown fsync policy or method";
    if (c->sync_depth > AOF_SYNC_DEPTH_MAX)
        return "sync depth out of range [1, 8]";
    return NULL;
}

static void setup_uring(struct aof_log *l)
{
    int rc = io_uring_queue_init(URING_DEPTH, &l->uring, 0);
    if (rc < 0) {
        log_notice("AOF: io_uring unavailable (%s); using pwritev2/fdatasync", strerror(-rc));
        return;
    }
    l->uring_ok = true;
    struct iovec iov = {.iov_base = l->stage, .iov_len = l->cfg.staging_bytes};
    rc = io_uring_register_buffers(&l->uring, &iov, 1);
    if (rc == 0)
        l->bufs_registered = true;
    else
        log_verbose("AOF: staging buffer not registered with io_uring: %s", strerror(-rc));
    int fd = l->seg_fd;
    rc = io_uring_register_files(&l->uring, &fd, 1);
    if (rc == 0)
        l->files_registered = true;
    else
        log_verbose("AOF: segment file not registered with io_uring: %s", strerror(-rc));
}

static void log_free(struct aof_log *l)
{
    if (l->uring_ok)
        io_uring_queue_exit(&l->uring);
    if (l->seg_fd >= 0)
        close(l->seg_fd);
    if (l->dirfd >= 0)
        close(l->dirfd);
    if (l->wake_fd >= 0)
        close(l->wake_fd);
    if (l->rings != NULL)
        for (uint32_t s = 0; s < l->cfg.nshards; s++)
            free(l->rings[s].buf);
    free(l->rings);
    free(l->stage);
    free(l->hdr_block);
    aof_manifest_free(&l->man);
    aof_gtrack_free(&l->gtrack);
    free(l);
}

static int open_alloc(struct aof_log *l)
{
    const struct aof_log_config *c = &l->cfg;
    l->rings = aligned_alloc(64, sizeof(struct aof_ring) * c->nshards);
    l->stage = aligned_alloc(AOF_BLOCK, c->staging_bytes);
    l->hdr_block = aligned_alloc(AOF_BLOCK, AOF_BLOCK);
    if (l->rings == NULL || l->stage == NULL || l->hdr_block == NULL)
        return -ENOMEM;
    memset(l->rings, 0, sizeof(struct aof_ring) * c->nshards);
    memset(l->stage, 0, c->staging_bytes);
    for (uint32_t s = 0; s < c->nshards; s++) {
        l->rings[s].buf = malloc(c->ring_bytes);
        if (l->rings[s].buf == NULL)
            return -ENOMEM;
    }
    return 0;
}

/* A crash between a rewrite's manifest switch and its deletions leaves
 * segments older than the first listed one: they are covered, delete them. */
static void remove_stale_segments(struct aof_log *l)
{
    int fd = dup(l->dirfd);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    uint64_t first = l->man.ids[0];
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        unsigned long long id;
        char tail[8];
        if (strlen(de->d_name) != 26 || sscanf(de->d_name, "seg-%16llx.%6s", &id, tail) != 2 ||
            strcmp(tail, "hpaof") != 0 || id >= first)
            continue;
        if (unlinkat(l->dirfd, de->d_name, 0) == 0)
            log_notice("AOF: removed %s, left over from an interrupted rewrite", de->d_name);
    }
    closedir(d);
}

/* Build the manifest from the resume data (or empty), add the new active segment. */
static int open_segments(struct aof_log *l, const struct aof_log_resume *res)
{
    struct aof_manifest old;
    char why[160] = "";
    int rc = aof_manifest_read(l->cfg.dir, &old, why, sizeof(why));
    if (rc == 0)
        aof_manifest_free(&old);
    if (res == NULL && rc != -ENOENT) {
        log_warning("AOF: %s/%s exists; recover the log before opening it for writing",
                    l->cfg.dir, AOF_MANIFEST_NAME);
        return rc == 0 ? -EEXIST : rc;
    }
    uint64_t next_id = 1;
    if (res != NULL) {
        for (uint32_t i = 0; i < res->nsegments; i++) {
            HP_ASSERT(i == 0 || res->segment_ids[i] > res->segment_ids[i - 1]);
            rc = aof_manifest_push(l, res->segment_ids[i], res->segment_lens[i]);
            if (rc != 0)
                return rc;
            atomic_fetch_add(&l->st_sealed, res->segment_lens[i]);
        }
        if (res->nsegments > 0)
            next_id = res->segment_ids[res->nsegments - 1] + 1;
        for (uint32_t s = 0; s < l->cfg.nshards; s++) {
            struct aof_ring *r = &l->rings[s];
            r->last_lsn = r->staged_lsn = res->last_lsn[s];
            atomic_store(&r->durable_lsn, res->last_lsn[s]);
            atomic_store(&r->written_lsn, res->last_lsn[s]);
        }
        atomic_store(&l->group_id, res->last_group_id);
    }
    /* The session flag tells recovery that groups begun before it are over. */
    l->seg_fd = aof_segment_create(l, next_id, AOF_SEGF_SESSION);
    if (l->seg_fd < 0)
        return l->seg_fd;
    l->seg_id = next_id;
    rc = aof_manifest_push(l, next_id, AOF_SEG_ACTIVE);
    if (rc == 0) {
        bool renamed;
        rc = aof_manifest_write_at(l->dirfd, &l->man, &renamed);
    }
    if (rc != 0)
        return rc;
    l->listed_max_id = next_id;
    /* The previous last segment may hold a torn tail or preallocated zeros
     * past its valid length; the manifest now bounds it, trimming is tidy. */
    if (res != NULL && res->nsegments > 0) {
        char name[64];
        uint32_t last = res->nsegments - 1;
        aof_segment_name(res->segment_ids[last], name, sizeof(name));
        int fd = openat(l->dirfd, name, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            aof_segment_trim(l, fd, res->segment_ids[last], res->segment_lens[last]);
            close(fd);
        }
    }
    l->stage_off = AOF_BLOCK;
    atomic_store(&l->st_seg, next_id);
    atomic_store(&l->st_off, AOF_BLOCK);
    remove_stale_segments(l);
    return 0;
}

struct aof_log *aof_log_open(const struct aof_log_config *cfg, int *err)
{
    const char *problem = config_problem(cfg);
    if (problem != NULL) {
        log_warning("AOF: bad configuration: %s", problem);
        *err = -EINVAL;
        return NULL;
    }
    struct aof_log *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    l->cfg = *cfg;
    if (l->cfg.retry_ms == 0)
        l->cfg.retry_ms = 1000;
    if (l->cfg.idle_sleep_max_us == 0)
        l->cfg.idle_sleep_max_us = AOF_IDLE_WAIT_DEFAULT_US;
    l->cfg.resume = NULL; /* not kept: the caller owns it */
    l->wake_fd = -1;
    l->pipe_depth = l->cfg.sync_depth == 0 ? AOF_SYNC_DEPTH_DEFAULT : l->cfg.sync_depth;
    l->seg_fd = -1;
    l->ring_mask = cfg->ring_bytes - 1;
    l->max_record = HP_MIN(HP_MIN(cfg->ring_bytes / 2, cfg->staging_bytes - AOF_BLOCK),
                           HP_MIN(cfg->segment_bytes - AOF_BLOCK, (uint64_t)AOF_REC_MAX_LEN));
    l->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = l->dirfd < 0 ? -errno : open_alloc(l);
    if (rc == 0) {
        l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        rc = l->wake_fd < 0 ? -errno : 0;
    }
    if (rc == 0)
        rc = open_segments(l, cfg->resume);
    if (rc == 0) {
        setup_uring(l);
        l->last_sync_ms = mono_ms();
        rc = -pthread_create(&l->thread, NULL, aof_writer_main, l);
        l->thread_started = rc == 0;
    }
    if (rc != 0) {
        log_warning("AOF: cannot open the log in %s: %s", cfg->dir, strerror(-rc));
        log_free(l);
        *err = rc;
        return NULL;
    }
    log_notice("AOF: writing segment %016llx in %s (appendfsync %s%s)",
               (unsigned long long)l->seg_id, cfg->dir, aof_fsync_policy_name(cfg->fsync),
               cfg->direct_io ? ", O_DIRECT" : "");
    *err = 0;
    return l;
}

int aof_log_close(struct aof_log *l)
{
    if (l == NULL)
        return 0;
    int rc = 0;
    if (l->thread_started) {
        atomic_store_explicit(&l->stop, true, memory_order_release);
        aof_writer_nudge(l);
        int jr = pthread_join(l->thread, NULL);
        HP_ASSERT(jr == 0);
        rc = l->final_error;
    }
    log_free(l);
    return rc;
}
