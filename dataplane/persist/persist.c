/*
 * persist.c - the append-only log in the runtime; see persist.h and
 * docs/AOF.md ("Runtime integration", "Records written by hotpathd").
 *
 * A write runs in three steps wherever it executes (own shard, a remote
 * owner, a coordinator holding several shards, UDP), driven by the one
 * execution path (core/call.c call_exec):
 *   1. admit (persist_admit): refuse it while the log is failing (MISCONF)
 *      or when its records could never be logged (too large); make it wait
 *      (nothing runs; the caller retries through its loop) while an
 *      earlier write's records are still queued in front of the ring;
 *   2. run the handler, then append the records that give each key it
 *      reported changed its state now (persist_log.c: entry_state_records,
 *      or DEL; FLUSHDB/FLUSHALL as such), one group when more than one;
 *   3. with appendfsync always, hold the reply until every shard's durable
 *      LSN covers the records (group commit happens in the log thread).
 *
 * Overflow.  We cannot know before running a handler exactly how large its
 * records will be (APPEND, SETRANGE), so a record that does not fit the
 * shard's ring goes into a per-shard overflow queue (bounded: the next write
 * on that shard waits until the queue is empty again) and is pushed into
 * the ring as soon as it drains.  LSNs are consecutive per shard, so a
 * queued record's LSN is known in advance: last appended + its position.
 */
#include "persist.h"
#include "persist_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <rte_lcore.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "../../common/resp.h"
#include "../../common/strutil.h"
#include "../../storage/aof/aof_log.h"
#include "../../storage/aof/aof_recover.h"
#include "../../storage/shard.h"
#include "../../storage/types.h"
#include "../core/runtime.h"
#include "persist_replay.h"

/* HP_PERSIST_DEBUG_RING_FULL_MS (tests only): the log reports "no room"
 * for that long from the first write it admits, so the parking paths run
 * without a slow disk. */
static bool px_debug_ring_full(struct persist *p, int64_t now_ms)
{
    if (p->debug_ring_full_ms <= 0)
        return false;
    int64_t until = __atomic_load_n(&p->debug_ring_until, __ATOMIC_RELAXED);
    if (until == 0) {
        int64_t want = now_ms + p->debug_ring_full_ms;
        if (!__atomic_compare_exchange_n(&p->debug_ring_until, &until, want, false,
                                         __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            HP_ASSERT(until != 0); /* another worker set it first */
        else
            until = want;
    }
    return now_ms < until;
}

/* ---- admission -------------------------------------------------------------------- */

static bool spec_is(const struct cmd_spec *spec, exec_fn fn) { return spec->exec == fn; }

/*
 * Upper bound of the largest key + value one record of this write can hold.
 * A record's value is one argument (SET, MSET, GETSET...), an existing value
 * (EXPIRE, RENAME...: bounded already, every value got in through this
 * check or recovery), a number (INCR...), or grows an existing value
 * (APPEND, SETRANGE: computed).  *handler_refuses: the handler itself
 * rejects the growth (proto-max-bulk-len), so its error must win.
 */
static uint64_t px_record_bound(const struct cmd_spec *spec, struct exec_ctx *x,
                                bool *handler_refuses)
{
    /* key + value <= the two longest arguments together */
    uint64_t top1 = 0, top2 = 0;
    for (int i = 1; i < x->argc; i++) {
        uint64_t len = x->argv[i].len;
        if (len > top1) {
            top2 = top1;
            top1 = len;
        } else if (len > top2) {
            top2 = len;
        }
    }
    *handler_refuses = false;
    bool append = spec_is(spec, cmd_append) && x->argc == 3;
    bool setrange = spec_is(spec, cmd_setrange) && x->argc == 4;
    if (!append && !setrange)
        return top1 + top2;
    struct entry *e = shard_find(exec_shard(x, x->argv[1]), x->db, x->argv[1], x->now_ms);
    /* Another type: the handler replies WRONGTYPE and changes nothing. */
    if (e != NULL && entry_type(e) != OBJ_STRING) {
        *handler_refuses = true;
        return 0;
    }
    uint64_t cur = e != NULL ? entry_str(e).len : 0;
    uint64_t key = x->argv[1].len;
    uint64_t grown;
    if (append) {
        grown = cur + x->argv[2].len;
    } else {
        int64_t off = 0;
        if (str_to_i64(x->argv[2].ptr, x->argv[2].len, &off) != 0 || off < 0) {
            *handler_refuses = true; /* "ERR offset is out of range" / not an integer */
            return 0;
        }
        grown = x->argv[3].len == 0 ? cur : HP_MAX(cur, (uint64_t)off + x->argv[3].len);
    }
    if (grown > (uint64_t)x->max_bulk)
        *handler_refuses = true;
    return key + grown;
}

enum call_admit persist_admit(struct worker *w, const struct cmd_spec *spec,
                                struct exec_ctx *x, uint32_t flags, char *err, size_t cap)
{
    struct persist *p = w->rt->persist;
    if (aof_log_error(p->log) != 0) {
        aof_log_error_text(p->log, err, cap);
        return CALL_ADMIT_REFUSE;
    }
    bool handler_refuses = false;
    uint64_t bound = px_record_bound(spec, x, &handler_refuses);
    if (!handler_refuses && bound + PX_REC_SLACK + AOF_REC_GRP_EXTRA > p->max_record) {
        snprintf(err, cap,
                 "ERR write too large for the append-only log (records are limited to %zu bytes)",
                 p->max_record);
        return CALL_ADMIT_REFUSE;
    }
    if (flags & CALL_ADMIT_NO_WAIT)
        return CALL_ADMIT_GO;
    if (px_debug_ring_full(p, w->now_ms))
        return CALL_ADMIT_WAIT;
    for (uint32_t s = 0; s < x->nshards; s++)
        if ((x->held_mask & (1ull << s)) && !ovf_drain(p, s))
            return CALL_ADMIT_WAIT;
    return CALL_ADMIT_GO;
}

bool persist_room(struct worker *w, uint64_t held_mask)
{
    struct persist *p = w->rt->persist;
    if (px_debug_ring_full(p, w->now_ms))
        return false;
    for (uint32_t s = 0; s < w->rt->nworkers; s++)
        if ((held_mask & (1ull << s)) && !ovf_drain(p, s))
            return false;
    return true;
}

/* ---- held replies ---------------------------------------------------------------- */

/* Room for `more` entries: the queue grows (doubling) up to PX_HELD_MAX. */
static bool held_room(struct px_worker *pw, uint32_t more)
{
    if (pw->cap - pw->n >= more)
        return true;
    uint32_t ncap = pw->cap ? pw->cap : 256;
    while (ncap - pw->n < more) {
        if (ncap >= PX_HELD_MAX)
            return false;
        ncap *= 2;
    }
    struct px_held *nq = malloc(sizeof(*nq) * ncap);
    if (nq == NULL)
        return false;
    for (uint32_t i = 0; i < pw->n; i++)
        nq[i] = pw->q[(pw->head + i) & (pw->cap - 1)];
    free(pw->q);
    pw->q = nq;
    pw->head = 0;
    pw->cap = ncap;
    return true;
}

static bool held_reserve(struct px_worker *pw) { return held_room(pw, 1); }

/* held_reserve() succeeded before. */
static void held_push(struct px_worker *pw, const struct px_held *h, const struct persist_wait *wt)
{
    HP_ASSERT(pw->n < pw->cap);
    struct px_held *d = &pw->q[(pw->head + pw->n) & (pw->cap - 1)];
    *d = *h;
    d->multi = NULL;
    if ((wt->mask & (wt->mask - 1)) == 0) {
        d->shard = (uint32_t)__builtin_ctzll(wt->mask);
        d->lsn = wt->lsn[d->shard];
    } else {
        d->multi = calloc(HP_MAX_SHARDS, sizeof(uint64_t));
        HP_ASSERT(d->multi != NULL); /* tiny; the write is applied already */
        for (uint64_t m = wt->mask; m; m &= m - 1) {
            uint32_t s = (uint32_t)__builtin_ctzll(m);
            d->multi[s] = wt->lsn[s];
        }
    }
    pw->n++;
}

static bool held_durable(const struct persist *p, const struct px_held *h)
{
    if (h->multi == NULL)
        return aof_log_durable_lsn(p->log, h->shard) >= h->lsn;
    for (uint32_t s = 0; s < HP_MAX_SHARDS; s++)
        if (h->multi[s] && aof_log_durable_lsn(p->log, s) < h->multi[s])
            return false;
    return true;
}

static void held_release(struct worker *w, struct px_held *h)
{
    free(h->multi);
    h->multi = NULL;
    if (h->kind == PX_HELD_MSG) {
        xshard_return(w, h->m);
        return;
    }
    if (h->kind == PX_HELD_UDP) {
        HP_ASSERT(w->rt->udp_up != NULL);   /* only udp holds UDP replies */
        w->rt->udp_up->held_release(w);
        return;
    }
    struct conn *c = h->c;
    HP_ASSERT(c->pending > 0);
    c->pending--;
    conn_slot_complete(c, h->slot);
    conn_maybe_free(c);
}

/* ---- log rewrite (BGREWRITEAOF, docs/AOF.md section 15) -------------------------- */

/* Log one live key of the shard being snapshotted with the same records a
 * write logs for it (entry_state_records: any type). */
struct px_rw_ctx {
    struct persist *p;
    uint32_t shard, db;
    int64_t now_ms;
};

static int px_rw_rec(void *arg, uint32_t argc, const struct hp_slice *argv)
{
    struct px_rw_ctx *cx = arg;
    if (argc > PX_OVF_ARGV_MAX)
        return PX_EMIT_TOO_WIDE;
    struct persist_wait wt = {0};
    /* Ungrouped: a rewrite's records count only once it finished whole. */
    px_append(cx->p, cx->shard, cx->db, cx->now_ms, argc, argv, NULL, &wt);
    return 0;
}

static void px_rw_entry(void *arg, const struct entry *e)
{
    int rc = entry_state_records(e, px_rw_rec, arg);
    if (rc != 0)
        log_warning("AOF: rewrite: a key of type %s cannot be logged (%d); it is left out",
                    entry_type_name(e), rc);
}

/*
 * One bounded slice of this worker's shard snapshot: at most PX_RW_KEYS keys
 * per loop iteration, only while the worker holds its shard and nothing
 * waits in the overflow queue (so LSNs are exact and the ring has drained).
 */
static unsigned px_rewrite_step(struct persist *p, struct worker *w)
{
    uint32_t id = w->id;
    struct px_rwshard *r = &p->rws[id];
    uint64_t gen = __atomic_load_n(&p->rw_gen, __ATOMIC_ACQUIRE);
    if (r->gen == gen || p->ovf[id].n > 0)
        return 0;
    if (!r->active) {
        aof_log_rewrite_mark(p->log, id, aof_log_last_lsn(p->log, id) + 1);
        r->active = true;
        r->db = 0;
        r->cursor = 0;
    }
    struct shard *sh = w->rt->shards[id];
    struct px_rw_ctx cx = {.p = p, .shard = id, .now_ms = w->now_ms};
    while (r->db < HP_NUM_DBS && r->cursor == 0 && shard_db_size(sh, r->db) == 0)
        r->db++; /* empty databases cost nothing */
    if (r->db < HP_NUM_DBS) {
        cx.db = r->db;
        r->cursor = shard_scan(sh, r->db, r->cursor, PX_RW_KEYS, w->now_ms, px_rw_entry, &cx);
        if (r->cursor == 0)
            r->db++;
        if (r->db < HP_NUM_DBS)
            return 1;
    }
    /* Done: the last snapshot LSN includes records still queued. */
    p->rw_end[id] = aof_log_last_lsn(p->log, id) + p->ovf[id].n;
    r->active = false;
    r->gen = gen;
    if (__atomic_sub_fetch(&p->rw_left, 1, __ATOMIC_ACQ_REL) == 0) {
        bool ok = aof_log_rewrite_finish(p->log, p->rw_end);
        HP_ASSERT(ok); /* a new rewrite starts only after the last one finished */
    }
    return 1;
}

static bool px_rewrite_running(const struct persist *p)
{
    return __atomic_load_n(&p->rw_gen, __ATOMIC_ACQUIRE) != aof_log_rewrites_done(p->log, NULL);
}

/* Start a rewrite: 0, -EBUSY if one runs.  Any worker (the command) or
 * worker 0 (the automatic trigger); the compare-and-swap picks one. */
static int px_rewrite_start(struct persist *p)
{
    uint64_t gen = __atomic_load_n(&p->rw_gen, __ATOMIC_ACQUIRE);
    if (gen != aof_log_rewrites_done(p->log, NULL) ||
        !__atomic_compare_exchange_n(&p->rw_starting, &(uint32_t){0}, 1, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return -EBUSY;
    if (__atomic_load_n(&p->rw_gen, __ATOMIC_ACQUIRE) != gen) { /* raced: lost */
        __atomic_store_n(&p->rw_starting, 0, __ATOMIC_RELEASE);
        return -EBUSY;
    }
    __atomic_store_n(&p->rw_left, p->rt->nworkers, __ATOMIC_RELAXED);
    __atomic_store_n(&p->rw_gen, gen + 1, __ATOMIC_RELEASE);
    __atomic_store_n(&p->rw_starting, 0, __ATOMIC_RELEASE);
    log_notice("AOF: background log rewrite started");
    return 0;
}

/* Worker 0, a few times a second: the automatic trigger (Redis' rule: the
 * log grew by auto-aof-rewrite-percentage over its size after the last
 * rewrite, and is at least auto-aof-rewrite-min-size). */
static void px_rewrite_auto(struct persist *p, struct worker *w)
{
    if (w->now_ms < p->auto_next_ms)
        return;
    p->auto_next_ms = w->now_ms + PX_AUTO_CHECK_MS;
    uint64_t done = aof_log_rewrites_done(p->log, NULL);
    struct aof_log_stats st;
    aof_log_get_stats(p->log, &st);
    if (done != p->auto_seen_done) { /* a rewrite finished: new base */
        p->auto_seen_done = done;
        __atomic_store_n(&p->base_bytes, st.log_bytes, __ATOMIC_RELAXED);
    }
    uint64_t base = __atomic_load_n(&p->base_bytes, __ATOMIC_RELAXED);
    if (p->auto_pct == 0 || st.log_bytes < p->auto_min_bytes || px_rewrite_running(p))
        return;
    if (base == 0 || st.log_bytes * 100 > base * (100 + p->auto_pct))
        px_rewrite_start(p);
}

void cmd_bgrewriteaof(struct client_ctx *c)
{
    struct persist *p = c->worker->rt->persist;
    if (p == NULL) {
        resp_add_error(c->out, "ERR Background append only file rewriting needs "
                               "appendonly yes (no log to rewrite)");
        return;
    }
    if (px_rewrite_start(p) != 0) {
        resp_add_error(c->out, "ERR Background append only file rewriting already in progress");
        return;
    }
    resp_add_simple(c->out, "Background append only file rewriting started");
}

/* ---- holding replies (core/call.c runs the writes) ------------------------------ */

bool persist_holds_replies(const struct runtime *rt)
{
    return rt->persist != NULL && rt->persist->fsync == AOF_FSYNC_ALWAYS;
}

void persist_hold_slot(struct worker *w, struct conn *c, struct reply_slot *slot,
                       const struct persist_wait *wt)
{
    struct px_worker *pw = &w->rt->persist->workers[w->id];
    HP_ASSERT(wt->mask != 0);
    struct px_held h = {.kind = PX_HELD_SLOT, .c = c, .slot = slot};
    held_push(pw, &h, wt); /* asserts the room persist_reserve gave */
    c->pending++;
}

void persist_hold_msg(struct worker *w, struct xmsg *m, const struct persist_wait *wt)
{
    struct px_worker *pw = &w->rt->persist->workers[w->id];
    HP_ASSERT(wt->mask != 0);
    struct px_held h = {.kind = PX_HELD_MSG, .m = m};
    held_push(pw, &h, wt);
}

bool persist_reserve(struct worker *w, uint32_t n)
{
    return held_room(&w->rt->persist->workers[w->id], n);
}

int persist_hold_udp(struct worker *w, const struct persist_wait *acc)
{
    struct persist *p = w->rt->persist;
    if (p == NULL || p->fsync != AOF_FSYNC_ALWAYS || acc->mask == 0)
        return 0;
    struct px_worker *pw = &p->workers[w->id];
    if (!held_reserve(pw))
        return -1;
    struct px_held h = {.kind = PX_HELD_UDP};
    held_push(pw, &h, acc);
    return 1;
}

unsigned persist_poll(struct worker *w)
{
    struct persist *p = w->rt->persist;
    struct px_worker *pw = &p->workers[w->id];
    unsigned work = 0;
    if (p->ovf[w->id].n > 0 && worker_shard_free(w) && ovf_drain(p, w->id))
        work++;
    if (worker_shard_free(w))
        work += px_rewrite_step(p, w);
    if (w->id == 0)
        px_rewrite_auto(p, w);
    /* FIFO: a reply is released no earlier than its records are durable;
     * one fsync covers all shards, so head-of-line waits are short. */
    while (pw->n > 0) {
        struct px_held *h = &pw->q[pw->head];
        if (!held_durable(p, h))
            break;
        pw->head = (pw->head + 1) & (pw->cap - 1);
        pw->n--;
        held_release(w, h);
        work++;
    }
    /* Released UDP replies sit in TX bursts; the worker may sleep next. */
    if (work > 0 && w->udp != NULL)
        w->rt->udp_up->tx_flush(w);
    return work;
}

void persist_kick(struct worker *w)
{
    aof_log_kick(w->rt->persist->log);
}

int64_t persist_sleep_cap(struct worker *w, int64_t timeout_us)
{
    const struct persist *p = w->rt->persist;
    if (p == NULL)
        return timeout_us;
    /* The overflow queue belongs to whoever holds the shard: look only
     * while we do.  Nothing signals ring room, so poll (rare: the ring is
     * full only when the disk is far behind). */
    bool ovf = worker_shard_free(w) && p->ovf[w->id].n > 0;
    /* Requests parked for room (call.c) and the forced-full test window
     * are retried by polling too. */
    bool waiting = call_backlogged(w) || (w->xop_paused != NULL) ||
                   px_debug_ring_full(w->rt->persist, w->now_ms);
    if ((ovf || waiting) && timeout_us > PX_OVF_SLEEP_US)
        return PX_OVF_SLEEP_US;
    return timeout_us;
}

bool persist_wake_pending(struct worker *w)
{
    struct persist *p = w->rt->persist;
    if (p == NULL)
        return false;
    struct px_worker *pw = &p->workers[w->id];
    if (pw->n == 0)
        return false;
    /* Announce first, then look (pairs with px_on_durable: either we see
     * the new durable LSN here or the log thread sees the flag and wakes
     * us; w->sleeping is already set, so worker_wake rings the eventfd). */
    __atomic_store_n(&pw->wants_wake, 1, __ATOMIC_SEQ_CST);
    return held_durable(p, &pw->q[pw->head]);
}

/* Log thread: a sync made records durable; wake workers sleeping on them. */
static void px_on_durable(void *arg, uint64_t shard_mask)
{
    struct persist *p = arg;
    struct runtime *rt = p->rt;
    (void)shard_mask; /* replies wait on any shard: wake every waiting worker */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (uint32_t i = 0; i < rt->nworkers; i++) {
        if (__atomic_load_n(&p->workers[i].wants_wake, __ATOMIC_RELAXED) == 0 ||
            __atomic_exchange_n(&p->workers[i].wants_wake, 0, __ATOMIC_SEQ_CST) == 0)
            continue;
        if (rt->workers[i] != NULL)
            worker_wake(rt->workers[i]);
    }
}

uint32_t persist_held(const struct worker *w)
{
    const struct persist *p = w->rt->persist;
    return p ? p->workers[w->id].n : 0;
}

void persist_get_info(const struct runtime *rt, struct persist_info *out)
{
    memset(out, 0, sizeof(*out));
    out->last_rewrite_ok = true;
    const struct persist *p = rt->persist;
    if (p == NULL)
        return;
    struct aof_log_stats st;
    aof_log_get_stats(p->log, &st);
    out->enabled = true;
    out->error = aof_log_error(p->log);
    out->records = st.records_written;
    out->loaded_records = p->loaded_records;
    out->fsyncs = st.fsyncs;
    out->bytes_written = st.bytes_written;
    int last = 0;
    uint64_t done = aof_log_rewrites_done(p->log, &last);
    out->rewrite_in_progress = px_rewrite_running(p);
    out->rewrites = done;
    out->last_rewrite_ok = last == 0;
    out->current_size = st.log_bytes;
    out->base_size = __atomic_load_n(&p->base_bytes, __ATOMIC_RELAXED);
}

/* ---- recovery (replay: persist_replay.c) ---------------------------------------- */

/* The layout file: the shard count every record in the log was written
 * with (a missing file is tolerated: replay then checks each record's key
 * against its shard id and refuses on a mismatch). */
static long px_layout_read(const char *dir)
{
    char path[CONFIG_STR_MAX + 64], buf[32];
    snprintf(path, sizeof(path), "%s/%s", dir, PX_LAYOUT_NAME);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *end = NULL;
    long v = strtol(buf, &end, 10);
    if (end == buf || *end != '\n' || v < 0 || v > HP_MAX_SHARDS)
        return -1;
    return v;
}

static int px_layout_write(const char *dir, long v)
{
    char path[CONFIG_STR_MAX + 64], tmp[CONFIG_STR_MAX + 64], buf[32];
    snprintf(path, sizeof(path), "%s/%s", dir, PX_LAYOUT_NAME);
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, PX_LAYOUT_NAME);
    int len = snprintf(buf, sizeof(buf), "%ld\n", v);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (write(fd, buf, (size_t)len) != len || fsync(fd) != 0)
        rc = -(errno ? errno : EIO);
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc == 0) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            if (fsync(dfd) != 0)
                rc = -errno;
            close(dfd);
        }
    }
    return rc;
}

static int px_prepare_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            log_warning("AOF: dir %s is not a directory", dir);
            return -1;
        }
        return 0;
    }
    if (errno != ENOENT || mkdir(dir, 0755) != 0) {
        log_warning("AOF: cannot use dir %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Threads inherit their creator's CPU mask, and the EAL pinned the main
 * thread to the main lcore's CPU: replay threads created from it would all
 * share that one CPU.  While recovering (before the workers run) let them
 * use the workers' CPUs too.  The log thread is created after the mask is
 * restored, so it shares the main lcore's CPU, which otherwise only sleeps.
 */
static bool px_widen_affinity(const struct runtime *rt, cpu_set_t *saved)
{
    if (pthread_getaffinity_np(pthread_self(), sizeof(*saved), saved) != 0)
        return false;
    cpu_set_t wide = *saved;
    for (uint32_t i = 0; i < rt->nworkers; i++) {
        rte_cpuset_t cs = rte_lcore_cpuset(rt->workers[i]->lcore);
        CPU_OR(&wide, &wide, &cs);
    }
    return pthread_setaffinity_np(pthread_self(), sizeof(wide), &wide) == 0;
}

/* Test hooks from the environment, read once at start-up (docs/AOF.md). */
static void px_debug_hooks(struct persist *p)
{
    const char *v = getenv("HP_PERSIST_DEBUG_GROUP_CRASH");
    p->debug_group_crash = v != NULL && strcmp(v, "1") == 0;
    v = getenv("HP_PERSIST_DEBUG_RING_FULL_MS");
    p->debug_ring_full_ms = v != NULL ? strtoll(v, NULL, 10) : 0;
    /* After recovery, so replay itself is unaffected: every shard fails
     * allocations once this many more succeeded (an OOM part-way). */
    v = getenv("HP_PERSIST_DEBUG_FAIL_ALLOCS_AFTER");
    if (v != NULL)
        for (uint32_t i = 0; i < p->rt->nworkers; i++)
            shard_debug_fail_allocs(p->rt->shards[i], strtoull(v, NULL, 10));
    if (p->debug_group_crash || p->debug_ring_full_ms > 0 || v != NULL)
        log_warning("AOF: test hooks on (HP_PERSIST_DEBUG_*): not for production");
}

static void persist_free(struct persist *p)
{
    for (uint32_t i = 0; i < HP_MAX_SHARDS; i++) {
        free(p->ovf[i].buf);
        struct px_worker *pw = &p->workers[i];
        for (uint32_t k = 0; k < pw->n; k++)
            free(pw->q[(pw->head + k) & (pw->cap - 1)].multi);
        free(pw->q);
    }
    free(p);
}

static void px_log_changes(struct worker *w, const struct cmd_spec *spec, struct exec_ctx *x,
                           struct persist_wait *wt)
{
    persist_log_changes(w->rt->persist, spec, x, wt);
}

/* The execution path's log steps (core/call.c calls them through
 * rt->call_log: the core may not include persist/). */
static const struct call_log_ops px_call_log = {
    .admit = persist_admit, .log_changes = px_log_changes,
    .holds_replies = persist_holds_replies, .reserve = persist_reserve,
    .hold_slot = persist_hold_slot, .hold_msg = persist_hold_msg,
};

int persist_start(struct runtime *rt)
{
    const struct hp_config *cfg = rt->cfg;
    if (!cfg->appendonly)
        return 0;
    /* The worker loop drives the log through its hooks (the core may not
     * call up into persist/): poll releases held replies, before_send
     * kicks the log thread once per iteration (group commit).  Registered
     * first, so a failure leaves nothing to undo; a failed start ends
     * hotpathd before any worker runs. */
    static const struct worker_loop_hooks px_loop_hooks = {
        .name = "persist", .poll = persist_poll, .before_send = persist_kick,
        .sleep_cap = persist_sleep_cap, .wake_pending = persist_wake_pending,
        .owed = persist_held,
    };
    if (runtime_loop_hooks_add(rt, &px_loop_hooks) != 0) {
        log_warning("AOF: too many worker loop hooks");
        return -1;
    }
    const char *dir = cfg->dir;
    if (px_prepare_dir(dir) != 0)
        return -1;
    struct persist *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -1;
    /* Records carry the writer's shard ids and are replayed per shard in
     * parallel; FLUSHDB records only make sense in the writer's layout.
     * Changing the worker count needs a log rewrite (not implemented). */
    long layout = px_layout_read(dir);
    if (layout > 0 && layout != (long)rt->nworkers) {
        log_warning("AOF: the log in %s was written with %ld workers; start with --workers %ld "
                    "(changing the worker count of a logged dataset is not supported yet)",
                    dir, layout, layout);
        free(p);
        return -1;
    }
    struct px_replay rp = {
        .rt = rt, .now_ms = clock_unix_ms(), .same_layout = true, .layout_name = PX_LAYOUT_NAME,
    };
    struct aof_progress_logger pl = {0};
    struct aof_recover_opts ro = {
        .dir = dir,
        .threads = rp.same_layout ? rt->nworkers : 1,
        .allow_corrupt = cfg->aof_load_corrupt != 0,
        .replay = px_replay_rec,
        .replay_arg = &rp,
        .progress = aof_recover_log_progress,
        .progress_arg = &pl,
    };
    struct aof_recover_result rr;
    uint64_t t0 = clock_mono_ns();
    cpu_set_t saved;
    bool widened = px_widen_affinity(rt, &saved);
    int rrc = aof_recover(&ro, &rr);
    int arc = widened ? pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved) : 0;
    if (arc != 0)
        log_warning("AOF: cannot restore the main thread's CPU mask: %s", strerror(arc));
    if (rrc != 0) {
        log_warning("AOF: cannot load the append-only log in %s: %s", dir, rr.error);
        if (!cfg->aof_load_corrupt)
            log_warning("AOF: to start anyway, skipping the damaged data, set "
                        "aof-load-corrupt yes (the damaged records are lost)");
        free(p);
        return -1;
    }
    if (!rr.fresh)
        log_notice("AOF: loaded %llu records (%.1f MB, %u segments) in %.3f s%s",
                   (unsigned long long)rr.records, (double)rr.bytes / 1e6, rr.segments,
                   (double)(clock_mono_ns() - t0) / 1e9,
                   rr.truncated_bytes ? " after cutting a torn tail" : "");
    p->loaded_records = rr.records;
    int rc = px_layout_write(dir, (long)rt->nworkers);
    if (rc != 0) {
        log_warning("AOF: cannot write %s/%s: %s", dir, PX_LAYOUT_NAME, strerror(-rc));
        aof_recover_result_free(&rr);
        free(p);
        return -1;
    }
    struct aof_log_config lc;
    aof_log_config_init(&lc, dir);
    lc.nshards = rt->nworkers;
    lc.segment_bytes = PX_SEGMENT_BYTES;
    lc.ring_bytes = PX_RING_BYTES;
    lc.staging_bytes = PX_STAGING_BYTES;
    p->fsync = (enum aof_fsync_policy)cfg->appendfsync;
    lc.fsync = p->fsync;
    /* The idle log thread blocks until an append wakes it (no polling
     * ceiling to set), docs/AOF.md section 7. */
    p->rt = rt;
    lc.on_durable = px_on_durable;
    /* Workers kick the log thread once per loop iteration (persist_kick),
     * so a commit covers every write of the iteration, not just its first. */
    lc.wake_on_kick = true;
    lc.on_durable_arg = p;
    lc.resume = rr.fresh ? NULL : &rr.resume;
    int err = 0;
    p->log = aof_log_open(&lc, &err);
    aof_recover_result_free(&rr);
    if (p->log == NULL) {
        log_warning("AOF: cannot open the append-only log in %s: %s", dir, strerror(-err));
        free(p);
        return -1;
    }
    p->max_record = aof_log_max_record(p->log);
    px_debug_hooks(p);
    p->auto_pct = (uint64_t)cfg->auto_aof_rewrite_percentage;
    p->auto_min_bytes = (uint64_t)cfg->auto_aof_rewrite_min_size;
    struct aof_log_stats st;
    aof_log_get_stats(p->log, &st);
    p->base_bytes = st.log_bytes;
    rt->persist = p;
    rt->call_log = &px_call_log;
    log_notice("AOF: appendonly yes, appendfsync %s, dir %s", aof_fsync_policy_name(p->fsync), dir);
    return 0;
}

void persist_stop(struct runtime *rt)
{
    struct persist *p = rt->persist;
    if (p == NULL)
        return;
    /* Records still queued in front of a ring (the disk was slow at the
     * end): push them in; the log thread is still draining. */
    int64_t until = clock_unix_ms() + PX_STOP_LIMIT_MS;
    for (uint32_t s = 0; s < rt->nworkers; s++)
        while (!ovf_drain(p, s) && clock_unix_ms() < until)
            usleep(100);
    struct aof_log_stats st;
    aof_log_get_stats(p->log, &st);
    int rc = aof_log_close(p->log);
    log_notice("AOF: closed: %llu records, %.1f MB, %llu syncs (%.1f records per sync), "
               "%llu rotations",
               (unsigned long long)st.records_written, (double)st.bytes_written / 1e6,
               (unsigned long long)st.fsyncs,
               st.fsyncs ? (double)st.records_written / (double)st.fsyncs : 0.0,
               (unsigned long long)st.rotations);
    if (rc != 0)
        log_warning("AOF: closing the log: %s (writes since the last successful sync may be lost)",
                    strerror(-rc));
    rt->persist = NULL;
    rt->call_log = NULL;
    persist_free(p);
}
