/*
 * persist_log.c - the append step: records of one execution built from what
 * it changed (persist_log_changes), grouped when more than one, appended to
 * the shard's ring or queued in front of it (overflow, see persist.c).
 */
#include "persist_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/log.h"
#include "../../storage/shard.h"
#include "../../storage/types.h"
#include "../core/runtime.h"

/* ---- overflow queue --------------------------------------------------------- */

static void ovf_push(struct px_overflow *o, uint16_t db, int64_t ts, uint32_t argc,
                     const struct hp_slice *argv, const struct aof_group *g)
{
    size_t need = PX_OVF_HDR;
    for (uint32_t i = 0; i < argc; i++)
        need += 4 + argv[i].len;
    if (o->off > 0 && o->off == o->len)
        o->off = o->len = 0;
    if (o->len + need > o->cap) {
        size_t ncap = o->cap ? o->cap : 4096;
        while (ncap < o->len + need)
            ncap *= 2;
        uint8_t *nb = realloc(o->buf, ncap);
        /* The write is applied already: without memory for its record it
         * could not be made durable.  Crashing keeps the promise (it was
         * not acknowledged; restart recovers every acknowledged write). */
        HP_ASSERT(nb != NULL);
        o->buf = nb;
        o->cap = ncap;
    }
    uint8_t *p = o->buf + o->len;
    aof_store32(p, (uint32_t)need);
    p[4] = (uint8_t)db;
    p[5] = (uint8_t)(db >> 8);
    p[6] = p[7] = 0;
    aof_store64(p + 8, (uint64_t)ts);
    aof_store32(p + 16, argc);
    aof_store64(p + 20, g != NULL ? g->id : 0);
    aof_store32(p + 28, g != NULL ? g->count : 0);
    aof_store32(p + 32, g != NULL ? g->index : 0);
    p += PX_OVF_HDR;
    for (uint32_t i = 0; i < argc; i++) {
        aof_store32(p, (uint32_t)argv[i].len);
        if (argv[i].len)
            memcpy(p + 4, argv[i].ptr, argv[i].len);
        p += 4 + argv[i].len;
    }
    o->len += need;
    o->n++;
}

/* Move queued records into the ring; true when the queue is empty. */
bool ovf_drain(struct persist *p, uint32_t shard)
{
    struct px_overflow *o = &p->ovf[shard];
    struct hp_slice argv[PX_OVF_ARGV_MAX];
    while (o->n > 0) {
        const uint8_t *r = o->buf + o->off;
        uint32_t total = aof_load32(r);
        uint16_t db = (uint16_t)(r[4] | r[5] << 8);
        int64_t ts = (int64_t)aof_load64(r + 8);
        uint32_t argc = aof_load32(r + 16);
        struct aof_group g = {
            .id = aof_load64(r + 20), .count = aof_load32(r + 28), .index = aof_load32(r + 32),
        };
        HP_ASSERT(argc >= 1 && argc <= HP_ARRAY_LEN(argv));
        const uint8_t *a = r + PX_OVF_HDR;
        for (uint32_t i = 0; i < argc; i++) {
            uint32_t len = aof_load32(a);
            argv[i] = hp_slice_make(a + 4, len);
            a += 4 + len;
        }
        enum aof_append rc = g.id != 0
                                 ? aof_log_append_grouped(p->log, shard, db, ts, argc, argv, &g, NULL)
                                 : aof_log_append(p->log, shard, db, ts, argc, argv, NULL);
        if (rc == AOF_APPEND_BUSY)
            return false;
        HP_ASSERT(rc == AOF_APPEND_OK); /* sizes were checked at admission */
        o->off += total;
        o->n--;
    }
    o->off = o->len = 0;
    return true;
}

/* ---- logging what an execution changed ------------------------------------------ */

void px_append(struct persist *p, uint32_t shard, uint32_t db, int64_t ts, uint32_t argc,
                      const struct hp_slice *argv, const struct aof_group *g,
                      struct persist_wait *wt)
{
    struct px_overflow *o = &p->ovf[shard];
    uint64_t lsn = 0;
    if (o->n == 0) {
        enum aof_append rc =
            g != NULL ? aof_log_append_grouped(p->log, shard, (uint16_t)db, ts, argc, argv, g, &lsn)
                      : aof_log_append(p->log, shard, (uint16_t)db, ts, argc, argv, &lsn);
        HP_ASSERT(rc == AOF_APPEND_OK || rc == AOF_APPEND_BUSY);
        if (rc == AOF_APPEND_BUSY)
            lsn = 0;
    }
    if (lsn == 0) {
        ovf_push(o, (uint16_t)db, ts, argc, argv, g);
        lsn = aof_log_last_lsn(p->log, shard) + o->n;
    }
    wt->mask |= 1ull << shard;
    wt->lsn[shard] = lsn;
}

/*
 * The records of one execution go out in two passes over the same changed
 * list: the first counts them (a group needs its member count up front),
 * the second appends them.  Nothing changes in between: the execution
 * still holds every shard involved.
 */
struct px_emit {
    struct persist *p;
    uint32_t shard, db;
    int64_t ts;
    bool counting;
    uint32_t count;            /* records (first pass), or appended so far */
    uint32_t total;            /* second pass: records of the execution */
    struct aof_group group;    /* id 0: ungrouped */
    struct persist_wait *wt;
};

/* HP_PERSIST_DEBUG_GROUP_CRASH (tests only): stop the process the moment
 * the first member of a group is durable, leaving a group cut by a "crash"
 * exactly where replay must drop it whole. */
static void px_debug_group_crash(struct persist *p, const struct px_emit *em)
{
    if (!p->debug_group_crash || em->total < 2 || em->count != 1)
        return;
    HP_ASSERT(p->ovf[em->shard].n == 0); /* the test writes far below ring size */
    uint64_t lsn = em->wt->lsn[em->shard];
    while (aof_log_durable_lsn(p->log, em->shard) < lsn) {
        aof_log_kick(p->log);
        usleep(1000);
    }
    log_warning("AOF: HP_PERSIST_DEBUG_GROUP_CRASH: stopping after record 1 of %u (group %llu)",
                em->total, (unsigned long long)em->group.id);
    _exit(3);
}

static int px_emit_rec(void *arg, uint32_t argc, const struct hp_slice *argv)
{
    struct px_emit *em = arg;
    if (argc > PX_OVF_ARGV_MAX)
        return PX_EMIT_TOO_WIDE;
    if (em->counting) {
        em->count++;
        return 0;
    }
    struct aof_group *g = NULL;
    if (em->group.id != 0) {
        HP_ASSERT(em->count < em->group.count);
        em->group.index = em->count;
        g = &em->group;
    }
    px_append(em->p, em->shard, em->db, em->ts, argc, argv, g, em->wt);
    em->count++;
    px_debug_group_crash(em->p, em);
    return 0;
}

/* The records that give `key` its state now: its entry's records (any
 * type), or DEL when it is gone. */
static void px_emit_key(struct px_emit *em, struct exec_ctx *x, uint32_t db, struct hp_slice key)
{
    em->shard = x->nshards == 1 ? 0 : exec_shard_id_of(x, key);
    em->db = db;
    struct entry *e = shard_find(exec_shard(x, key), db, key, x->now_ms);
    if (e == NULL) {
        struct hp_slice argv[2] = {hp_slice_make("DEL", 3), key};
        (void)px_emit_rec(em, 2, argv); /* 2 arguments: never too wide */
        return;
    }
    int rc = entry_state_records(e, px_emit_rec, em);
    if (rc != 0 && em->counting)
        log_warning("AOF: key of type %s cannot be logged (%s); its change is not durable",
                    entry_type_name(e),
                    rc == ENTRY_STATE_UNSUPPORTED ? "the type has no log records"
                    : rc == PX_EMIT_TOO_WIDE      ? "a record with too many arguments"
                                                  : "a bad record");
}

/* FLUSHDB / FLUSHALL as such, on every shard the execution holds. */
static void px_emit_flushes(struct px_emit *em, const struct exec_ctx *x)
{
    const struct exec_changes *c = x->chg;
    for (uint32_t s = 0; s < x->nshards; s++) {
        if (!(x->held_mask & (1ull << s)))
            continue;
        em->shard = s;
        em->db = x->db;
        if (c->flushed_all) {
            struct hp_slice w = hp_slice_make("FLUSHALL", 8);
            (void)px_emit_rec(em, 1, &w);
            continue;
        }
        for (uint32_t db = 0; db < HP_NUM_DBS; db++) {
            if (!(c->flushed_dbs & (1u << db)))
                continue;
            struct hp_slice w = hp_slice_make("FLUSHDB", 7);
            em->db = db;
            (void)px_emit_rec(em, 1, &w);
        }
    }
}

/*
 * Operation records are reported by handlers but NOT yet written: the log
 * writes states until replay can take them safely (docs/AOF.md,
 * "Operation records").  Two things are missing:
 *   - compaction keeps whole segments, so records of a shard from before
 *     its rewrite cut survive and replay on an empty start; states are
 *     harmless there (the snapshot overwrites them), operations are not
 *     (LSET on a missing key is an error reply, which fails recovery).
 *     The MANIFEST must carry each shard's cut and snapshot end, replay
 *     skip what precedes the cut and accept error replies before the end;
 *   - replay runs at the recovery clock, so an operation after a
 *     PEXPIREAT that has passed since would recreate the key: replay must
 *     run each record at its own timestamp (aof_rec.ts_ms).
 */
#define PX_OP_RECORDS 0

/* The handler's operation records (exec.h), each on its key's shard.  A
 * record too wide for a log record (PX_OVF_ARGV_MAX) cannot happen:
 * EXEC_RECORD_ARGC_MAX is not above it (asserted at compile time). */
static void px_emit_records(struct px_emit *em, struct exec_ctx *x)
{
    const struct exec_changes *c = x->chg;
    for (uint32_t i = 0; i < c->nrec; i++) {
        const struct exec_record *r = &c->recs[i];
        HP_ASSERT(r->argc >= 2);
        em->shard = x->nshards == 1 ? 0 : exec_shard_id_of(x, r->argv[1]);
        HP_ASSERT(x->held_mask & (1ull << em->shard));
        em->db = r->db;
        int rc = px_emit_rec(em, r->argc, r->argv);
        HP_ASSERT(rc == 0);
    }
}
_Static_assert(EXEC_RECORD_ARGC_MAX <= PX_OVF_ARGV_MAX, "an operation record fits a log record");

/* One pass over everything the execution changed.  Past the list's limit
 * every key the command names stands in for it (exec.h). */
static void px_emit_all(struct px_emit *em, const struct cmd_spec *spec, struct exec_ctx *x)
{
    const struct exec_changes *c = x->chg;
    if (c->flushed_all || c->flushed_dbs != 0)
        px_emit_flushes(em, x);
    if (PX_OP_RECORDS && exec_changes_use_records(c)) {
        px_emit_records(em, x);
        return;
    }
    if (!c->overflow) {
        for (uint32_t i = 0; i < c->n; i++)
            px_emit_key(em, x, c->keys[i].db, c->keys[i].key);
        return;
    }
    struct cmd_key_ranges kr;
    enum cmd_keys_rc rc = cmd_keys_find(spec, x->argc, x->argv, false, &kr);
    /* The handler found its keys with the same specs before changing them. */
    HP_ASSERT(rc == CMD_KEYS_OK);
    for (int j = 0; j < kr.n; j++)
        for (int i = kr.r[j].first; i <= kr.r[j].last; i += kr.r[j].step)
            px_emit_key(em, x, x->db, x->argv[i]);
}

void persist_log_changes(struct persist *p, const struct cmd_spec *spec, struct exec_ctx *x,
                         struct persist_wait *wt)
{
    HP_ASSERT(x->chg != NULL);
    wt->mask = 0;
    struct px_emit em = {.p = p, .ts = x->now_ms, .counting = true, .wt = wt};
    px_emit_all(&em, spec, x);
    if (em.count == 0)
        return;
    uint32_t total = em.count;
    em.counting = false;
    em.count = 0;
    em.total = total;
    /* More than one record: a crash must not keep some and lose others
     * (docs/AOF.md section 16), also on one shard (a ring can be cut
     * between two records). */
    if (total > 1 && total <= AOF_GROUP_MAX) {
        em.group.id = aof_log_group_id(p->log);
        em.group.count = total;
    }
    px_emit_all(&em, spec, x);
    /* The state cannot change between the passes: same records. */
    HP_ASSERT(em.count == total);
}

