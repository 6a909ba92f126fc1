/*
 * shard_db.c - whole-database operations of a shard: key and TTL counts,
 * flush, SCAN, RANDOMKEY (both reclaim expired keys they meet) and the
 * bounded active expiry cycle.  Contracts in shard.h.
 */
#include "shard_internal.h"

#include <string.h>

#define SCAN_EXPIRED_MAX 64u   /* expired keys one scan step reclaims */

/* ---- whole database ----------------------------------------------------- */

uint64_t shard_db_size(const struct shard *s, uint32_t db)
{
    HP_ASSERT(db < HP_NUM_DBS);
    return idx_count(&s->db[db].ix);
}

uint64_t shard_db_expires(const struct shard *s, uint32_t db)
{
    HP_ASSERT(db < HP_NUM_DBS);
    return s->db[db].ttl_len;
}

static void flush_one(void *arg, void *item)
{
    entry_free(arg, item);
}

void shard_flush_db(struct shard *s, uint32_t db)
{
    struct shard_db *d = db_of(s, db);
    idx_release(&d->ix, flush_one, s);
    shard_ttl_free(s, d);
}

struct scan_ctx {
    int64_t now_ms;
    shard_scan_fn fn;
    void *arg;
    size_t emitted;
    size_t n_expired;
    struct entry *expired[SCAN_EXPIRED_MAX];
};

static void scan_visit(void *arg, void *item)
{
    struct scan_ctx *c = arg;
    struct entry *e = item;
    if (entry_expired(e, c->now_ms)) {
        if (c->n_expired < SCAN_EXPIRED_MAX)
            c->expired[c->n_expired++] = e;
        return;
    }
    c->fn(c->arg, e);
    c->emitted++;
}

uint64_t shard_scan(struct shard *s, uint32_t db, uint64_t cursor, size_t count, int64_t now_ms,
                    shard_scan_fn fn, void *arg)
{
    struct shard_db *d = db_of(s, db);
    struct scan_ctx c = {.now_ms = now_ms, .fn = fn, .arg = arg};
    count = HP_MAX(count, (size_t)1);
    /* Like Redis: at most 10 home buckets per requested key, so a sparse
     * table cannot make one call walk far. */
    size_t steps = count > SIZE_MAX / 10 ? SIZE_MAX : count * 10;
    do {
        cursor = idx_scan(&d->ix, cursor, scan_visit, &c);
        for (size_t i = 0; i < c.n_expired; i++)   /* fn is done with the step */
            shard_expire_entry(s, d, entry_hash(d, c.expired[i]), c.expired[i]);
        c.n_expired = 0;
    } while (cursor != 0 && c.emitted < count && --steps > 0);
    return cursor;
}

struct entry *shard_random(struct shard *s, uint32_t db, int64_t now_ms, uint64_t random_bits)
{
    struct shard_db *d = db_of(s, db);
    for (uint64_t tries = 0; tries < SHARD_RANDOM_TRIES; tries++) {
        struct entry *e = idx_random(&d->ix, random_bits + tries * 0x9e3779b97f4a7c15ull);
        if (e == NULL || !entry_expired(e, now_ms))
            return e;
        shard_expire_entry(s, d, entry_hash(d, e), e);
    }
    return NULL;
}

/* Examines up to budget TTL entries of one db, at most one lap of its
 * vector.  A deletion moves the last entry into the cursor's place, which
 * is examined next. */
static size_t db_expire_walk(struct shard *s, struct shard_db *d, int64_t now_ms,
                             size_t budget, size_t *deleted)
{
    size_t examined = 0, lap = d->ttl_len;
    while (examined < budget && examined < lap && d->ttl_len > 0) {
        if (d->ttl_cursor >= d->ttl_len)
            d->ttl_cursor = 0;
        if (d->ttl_cursor + 8 < d->ttl_len)
            __builtin_prefetch(d->ttl[d->ttl_cursor + 8]);
        struct entry *e = d->ttl[d->ttl_cursor];
        examined++;
        if (rd64s(entry_ttl_ext_c(e)) <= now_ms) {
            shard_expire_entry(s, d, entry_hash(d, e), e);
            (*deleted)++;
        } else {
            d->ttl_cursor++;
        }
    }
    return examined;
}

size_t shard_expire_cycle(struct shard *s, int64_t now_ms, size_t budget)
{
    size_t deleted = 0;
    for (uint32_t n = 0; n < HP_NUM_DBS && budget > 0; n++) {
        budget -= db_expire_walk(s, &s->db[s->expire_db], now_ms, budget, &deleted);
        if (budget > 0)   /* this db's lap is done */
            s->expire_db = (s->expire_db + 1) % HP_NUM_DBS;
    }
    return deleted;
}
