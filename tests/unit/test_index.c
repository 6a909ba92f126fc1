/*
 * test_index.c - the storage hash index: hashing, chains, incremental
 * resize, the SCAN guarantee, random picks and every allocation failure.
 * A structural checker walks the tables after mutations and verifies the
 * chain invariant and that every item sits in its home chain.
 */
#include "cu_main.h"

#include "../../storage/index.h"

#include <stdlib.h>
#include <string.h>

/* ---- fixture ------------------------------------------------------------ */

struct titem {
    uint32_t len;
    uint8_t key[28];
};

struct talloc {
    uint64_t live_bytes;
    uint64_t fail_after;   /* successful allocations left; UINT64_MAX = never fail */
    size_t fail_min_size;  /* only allocations at least this big can fail */
};

struct fx {
    struct index ix;
    struct idx_ops ops;
    struct talloc al;
    struct titem *items;
    size_t n;
    uint64_t rng;
};

static struct hp_slice titem_key(const void *item)
{
    const struct titem *t = item;
    return hp_slice_make(t->key, t->len);
}

static void *talloc_alloc(void *ctx, size_t size)
{
    struct talloc *a = ctx;
    if (size >= a->fail_min_size && a->fail_after != UINT64_MAX) {
        if (a->fail_after == 0)
            return NULL;
        a->fail_after--;
    }
    void *p = aligned_alloc(64, (size + 63) & ~(size_t)63);
    if (p == NULL)
        return NULL;
    memset(p, 0, size);
    a->live_bytes += size;
    return p;
}

static void talloc_free(void *ctx, void *p, size_t size)
{
    struct talloc *a = ctx;
    a->live_bytes -= size;
    free(p);
}

/* The fixture whose items the scan callbacks index into. */
static struct fx *scan_fx;

static void collect_mark(void *arg, void *item)
{
    bool *seen = arg;
    seen[(const struct titem *)item - scan_fx->items] = true;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void fx_init(struct fx *f, size_t n, uint64_t seed)
{
    memset(f, 0, sizeof(*f));
    f->ops.key_of = titem_key;
    f->ops.alloc = talloc_alloc;
    f->ops.free = talloc_free;
    f->ops.ctx = &f->al;
    f->al.fail_after = UINT64_MAX;
    f->rng = seed | 1;
    f->n = n;
    f->items = calloc(n, sizeof(*f->items));
    HP_ASSERT(f->items != NULL);
    for (size_t i = 0; i < n; i++)
        f->items[i].len = (uint32_t)snprintf((char *)f->items[i].key, sizeof(f->items[i].key),
                                             "key:%zu", i);
    idx_init(&f->ix, &f->ops, seed);
}

static void fx_fini(struct fx *f)
{
    idx_release(&f->ix, NULL, NULL);
    CU_ASSERT_EQUAL(f->al.live_bytes, 0);
    CU_ASSERT_EQUAL(f->ix.bytes, 0);
    free(f->items);
}

static uint64_t fx_hash(const struct fx *f, size_t i)
{
    return idx_hash(&f->ix, f->items[i].key, f->items[i].len);
}

static int fx_insert(struct fx *f, size_t i)
{
    return idx_insert(&f->ix, fx_hash(f, i), &f->items[i]);
}

static void *fx_find(const struct fx *f, size_t i)
{
    return idx_find(&f->ix, fx_hash(f, i), f->items[i].key, f->items[i].len);
}

static void *fx_remove(struct fx *f, size_t i)
{
    return idx_remove(&f->ix, fx_hash(f, i), f->items[i].key, f->items[i].len);
}

/* ---- structural checker ------------------------------------------------- */

static uint8_t expected_tag(uint64_t h)
{
    uint8_t t = (uint8_t)(h >> 56);
    return t ? t : 1;
}

static const struct idx_bucket *next_of(const struct idx_bucket *b)
{
    return (b->ctl & IDX_CTL_CHAINED) ? b->slot[IDX_BUCKET_SLOTS - 1] : NULL;
}

static int check_errors;

/* Checks one home chain; returns its item count, adds overflow buckets. */
static uint64_t check_chain(const struct fx *f, const struct idx_table *t, uint64_t home,
                            uint64_t *overflow)
{
    uint64_t items = 0;
    for (const struct idx_bucket *b = &t->b[home]; b != NULL; b = next_of(b)) {
        bool chained = (b->ctl & IDX_CTL_CHAINED) != 0;
        unsigned used = 0, nslots = chained ? IDX_BUCKET_SLOTS - 1 : IDX_BUCKET_SLOTS;
        if (b != &t->b[home])
            (*overflow)++;
        for (unsigned i = 0; i < nslots; i++) {
            if (b->tag[i] == 0) {
                check_errors += b->slot[i] != NULL;
                continue;
            }
            used++;
            const struct titem *it = b->slot[i];
            uint64_t h = idx_hash(&f->ix, it->key, it->len);
            check_errors += (h & t->mask) != home;
            check_errors += b->tag[i] != expected_tag(h);
        }
        if (chained) {
            check_errors += b->tag[IDX_BUCKET_SLOTS - 1] != 0;
            check_errors += used != IDX_BUCKET_SLOTS - 1;   /* non-tail buckets are full */
        } else if (b != &t->b[home]) {
            check_errors += used < 2;                       /* overflow tails hold >= 2 */
        }
        items += used;
    }
    return items;
}

static void check_index(const struct fx *f)
{
    const struct index *ix = &f->ix;
    uint64_t items = 0, overflow = 0;
    check_errors = 0;
    for (int ti = 0; ti < 2; ti++) {
        const struct idx_table *t = &ix->t[ti];
        if (t->b == NULL)
            continue;
        for (uint64_t i = 0; i <= t->mask; i++) {
            uint64_t n = check_chain(f, t, i, &overflow);
            if (ti == 0 && ix->rehash_idx >= 0 && (int64_t)i < ix->rehash_idx)
                check_errors += n != 0;   /* moved buckets are empty */
            items += n;
        }
    }
    CU_ASSERT_EQUAL(check_errors, 0);
    CU_ASSERT_EQUAL(items, ix->count);
    CU_ASSERT_EQUAL(overflow, ix->overflow);
    CU_ASSERT_EQUAL(ix->bytes, f->al.live_bytes);
    CU_ASSERT(ix->t[1].b != NULL || ix->rehash_idx < 0);
}

/* Every key: present ones found as exactly their item, absent ones not. */
static void verify_all(const struct fx *f, const bool *present)
{
    size_t wrong = 0;
    for (size_t i = 0; i < f->n; i++) {
        void *got = fx_find(f, i);
        wrong += present[i] ? got != &f->items[i] : got != NULL;
    }
    CU_ASSERT_EQUAL(wrong, 0);
}

/* ---- hash --------------------------------------------------------------- */

static void test_hash_basics(void)
{
    const uint8_t zeros[80] = {0};
    uint64_t seen[81];
    for (size_t len = 0; len <= 80; len++) {
        seen[len] = idx_hash_bytes(42, zeros, len);
        CU_ASSERT_EQUAL(seen[len], idx_hash_bytes(42, zeros, len));
        CU_ASSERT_NOT_EQUAL(seen[len], idx_hash_bytes(43, zeros, len));
        for (size_t j = 0; j < len; j++)
            CU_ASSERT_NOT_EQUAL(seen[j], seen[len]);   /* length is mixed in */
    }
}

static void test_hash_avalanche(void)
{
    uint8_t key[40];
    for (size_t len = 1; len <= sizeof(key); len += 3) {
        for (size_t i = 0; i < len; i++)
            key[i] = (uint8_t)(i * 37 + 11);
        uint64_t base = idx_hash_bytes(7, key, len);
        unsigned total = 0, bits = (unsigned)len * 8;
        for (unsigned b = 0; b < bits; b++) {
            key[b / 8] ^= (uint8_t)(1u << (b % 8));
            total += (unsigned)__builtin_popcountll(base ^ idx_hash_bytes(7, key, len));
            key[b / 8] ^= (uint8_t)(1u << (b % 8));
        }
        double avg = (double)total / bits;
        CU_ASSERT(avg > 26.0 && avg < 38.0);
    }
}

/* Sequential keys spread evenly over low bits (home) and the top byte (tag). */
static void test_hash_distribution(void)
{
    enum { KEYS = 1 << 16, BINS = 256 };
    unsigned low[BINS] = {0}, top[BINS] = {0};
    char key[32];
    for (unsigned i = 0; i < KEYS; i++) {
        int len = snprintf(key, sizeof(key), "user:%u", i);
        uint64_t h = idx_hash_bytes(12345, (const uint8_t *)key, (size_t)len);
        low[h & (BINS - 1)]++;
        top[h >> 56]++;
    }
    unsigned expect = KEYS / BINS, worst = 0;   /* sigma = 16 */
    for (unsigned b = 0; b < BINS; b++) {
        worst = HP_MAX(worst, (unsigned)abs((int)low[b] - (int)expect));
        worst = HP_MAX(worst, (unsigned)abs((int)top[b] - (int)expect));
    }
    CU_ASSERT(worst < 90);
}

/* ---- basic operations --------------------------------------------------- */

static void count_item(void *arg, void *item)
{
    (void)item;
    (*(size_t *)arg)++;
}

static void test_basic(void)
{
    struct fx f;
    fx_init(&f, 2000, 99);
    CU_ASSERT_EQUAL(idx_buckets(&f.ix), 0);
    CU_ASSERT_PTR_NULL(fx_find(&f, 0));
    CU_ASSERT_PTR_NULL(fx_remove(&f, 0));
    for (size_t i = 0; i < 1000; i++)
        CU_ASSERT_EQUAL(fx_insert(&f, i), 0);
    CU_ASSERT_EQUAL(idx_count(&f.ix), 1000);
    for (size_t i = 0; i < 2000; i++)
        CU_ASSERT_PTR_EQUAL(fx_find(&f, i), i < 1000 ? &f.items[i] : NULL);
    for (size_t i = 0; i < 1000; i += 2)
        CU_ASSERT_PTR_EQUAL(fx_remove(&f, i), &f.items[i]);
    CU_ASSERT_PTR_NULL(fx_remove(&f, 0));
    CU_ASSERT_EQUAL(idx_count(&f.ix), 500);
    for (size_t i = 0; i < 1000; i++)
        CU_ASSERT_PTR_EQUAL(fx_find(&f, i), (i & 1) ? &f.items[i] : NULL);
    check_index(&f);

    /* remove by identity, replace by identity */
    struct titem twin = f.items[1];
    CU_ASSERT_FALSE(idx_remove_item(&f.ix, fx_hash(&f, 1), &twin));
    CU_ASSERT_TRUE(idx_replace_item(&f.ix, fx_hash(&f, 1), &f.items[1], &twin));
    CU_ASSERT_PTR_EQUAL(fx_find(&f, 1), &twin);
    CU_ASSERT_FALSE(idx_replace_item(&f.ix, fx_hash(&f, 1), &f.items[1], &twin));
    CU_ASSERT_TRUE(idx_remove_item(&f.ix, fx_hash(&f, 1), &twin));
    CU_ASSERT_PTR_NULL(fx_find(&f, 1));

    size_t visited = 0;
    idx_release(&f.ix, count_item, &visited);
    CU_ASSERT_EQUAL(visited, 499);
    CU_ASSERT_EQUAL(idx_count(&f.ix), 0);
    CU_ASSERT_EQUAL(f.al.live_bytes, 0);
    CU_ASSERT_EQUAL(fx_insert(&f, 3), 0);   /* reusable after release */
    CU_ASSERT_PTR_EQUAL(fx_find(&f, 3), &f.items[3]);
    fx_fini(&f);
}

static void test_empty_frees_memory(void)
{
    struct fx f;
    fx_init(&f, 100, 5);
    for (size_t i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(fx_insert(&f, i), 0);
    CU_ASSERT(f.al.live_bytes > 0);
    for (size_t i = 0; i < 100; i++)
        CU_ASSERT_PTR_NOT_NULL(fx_remove(&f, i));
    CU_ASSERT_EQUAL(f.al.live_bytes, 0);
    CU_ASSERT_EQUAL(idx_buckets(&f.ix), 0);
    CU_ASSERT_EQUAL(idx_scan(&f.ix, 0, count_item, NULL), 0);
    fx_fini(&f);
}

/* hash_mask selects which hash bits survive: 0 puts every key in one chain
 * with one tag (every probe compares keys); the top byte alone gives one
 * chain with varied tags. */
static void collide(uint64_t mask)
{
    struct fx f;
    fx_init(&f, 300, 17);
    f.ix.hash_mask = mask;
    bool present[300] = {false};
    for (size_t i = 0; i < 300; i++) {
        CU_ASSERT_EQUAL(fx_insert(&f, i), 0);
        present[i] = true;
    }
    check_index(&f);
    CU_ASSERT(f.ix.overflow >= 300 / 6 - 1);
    verify_all(&f, present);
    /* remove in a scrambled order, checking the structure as chains fold */
    for (size_t k = 0; k < 300; k++) {
        size_t i = (k * 7919) % 300;
        CU_ASSERT_PTR_EQUAL(fx_remove(&f, i), &f.items[i]);
        present[i] = false;
        if (k % 7 == 0) {
            check_index(&f);
            verify_all(&f, present);
        }
    }
    CU_ASSERT_EQUAL(f.ix.overflow, 0);
    CU_ASSERT_EQUAL(f.al.live_bytes, 0);
    fx_fini(&f);
}

static void test_collisions_same_tag(void) { collide(0); }
static void test_collisions_varied_tags(void) { collide(0xff00000000000000ull); }

/* Inserting and removing inside one long chain: every position of the
 * hole (home, middle, tail) and every fold. */
static void test_chain_positions(void)
{
    struct fx f;
    fx_init(&f, 40, 3);
    f.ix.hash_mask = 0;
    f.ix.max_log2 = 0;
    for (size_t n = 1; n <= 40; n++) {
        for (size_t pos = 0; pos < n; pos++) {
            for (size_t i = 0; i < n; i++)
                CU_ASSERT_EQUAL(fx_insert(&f, i), 0);
            CU_ASSERT_PTR_EQUAL(fx_remove(&f, pos), &f.items[pos]);
            check_index(&f);
            for (size_t i = 0; i < n; i++)
                CU_ASSERT_PTR_EQUAL(fx_find(&f, i), i == pos ? NULL : &f.items[i]);
            idx_release(&f.ix, NULL, NULL);
        }
    }
    fx_fini(&f);
}

/* ---- resize ------------------------------------------------------------- */

static void test_resize_under_load(void)
{
    enum { N = 40000 };
    struct fx f;
    fx_init(&f, N, 2024);
    bool *present = calloc(N, sizeof(bool));
    uint64_t max_buckets = 0, shrunk_from = 0, rehash_seen = 0;
    size_t live = 0;
    for (int phase = 0; phase < 4; phase++) {
        /* phases alternate insert-heavy and delete-heavy */
        unsigned insert_pct = (phase % 2 == 0) ? 80 : 10;
        for (unsigned op = 0; op < 60000; op++) {
            size_t i = rng_next(&f.rng) % N;
            unsigned dice = (unsigned)(rng_next(&f.rng) % 100);
            if (dice < insert_pct && !present[i]) {
                CU_ASSERT_EQUAL_FATAL(fx_insert(&f, i), 0);
                present[i] = true;
                live++;
            } else if (dice >= insert_pct && dice < 95 && present[i]) {
                CU_ASSERT_PTR_EQUAL_FATAL(fx_remove(&f, i), &f.items[i]);
                present[i] = false;
                live--;
            } else {
                /* The burst hints are harmless in every state (rehashing,
                 * chained, absent keys): the lookup still finds the same. */
                idx_prefetch(&f.ix, fx_hash(&f, i), 0);
                idx_prefetch(&f.ix, fx_hash(&f, i), 1);
                CU_ASSERT_PTR_EQUAL(fx_find(&f, i), present[i] ? &f.items[i] : NULL);
            }
            rehash_seen += idx_rehashing(&f.ix);
            if (idx_buckets(&f.ix) > max_buckets)
                max_buckets = idx_buckets(&f.ix);
            if (idx_buckets(&f.ix) < max_buckets / 2)
                shrunk_from = max_buckets;
            if (op % 15000 == 0) {
                check_index(&f);
                verify_all(&f, present);
            }
        }
        CU_ASSERT_EQUAL(idx_count(&f.ix), live);
        check_index(&f);
        verify_all(&f, present);
    }
    /* then drain to a few hundred keys: the table must shrink a lot */
    for (size_t i = 0; i < N && live > 300; i++) {
        if (present[i]) {
            CU_ASSERT_PTR_EQUAL_FATAL(fx_remove(&f, i), &f.items[i]);
            present[i] = false;
            live--;
            if (idx_buckets(&f.ix) < max_buckets / 2)
                shrunk_from = max_buckets;
        }
        if (i % 5000 == 0)
            verify_all(&f, present);
    }
    while (idx_rehash_step(&f.ix, 100) > 0) {
    }
    check_index(&f);
    verify_all(&f, present);
    CU_ASSERT(idx_buckets(&f.ix) <= 128);
    CU_ASSERT(max_buckets >= 4096);
    CU_ASSERT(shrunk_from > 0);
    CU_ASSERT(rehash_seen > 0);
    /* load stays within the policy once resizes settle */
    while (idx_rehash_step(&f.ix, 100) > 0) {
    }
    CU_ASSERT(idx_count(&f.ix) <= idx_buckets(&f.ix) * IDX_GROW_LOAD);
    free(present);
    fx_fini(&f);
}

/* Hints on an index that has no table yet read nothing. */
static void test_prefetch_empty(void)
{
    struct fx f;
    fx_init(&f, 4, 7);
    idx_prefetch(&f.ix, fx_hash(&f, 0), 0);
    idx_prefetch(&f.ix, fx_hash(&f, 0), 1);
    CU_ASSERT_PTR_NULL(fx_find(&f, 0));
    CU_ASSERT_EQUAL(f.al.live_bytes, 0);
    fx_fini(&f);
}

static void test_rehash_step_bounds(void)
{
    struct fx f;
    fx_init(&f, 5000, 77);
    size_t i = 0;
    while (!idx_rehashing(&f.ix) || idx_buckets(&f.ix) < 256)
        CU_ASSERT_EQUAL_FATAL(fx_insert(&f, i++), 0);
    CU_ASSERT_EQUAL(idx_rehash_step(&f.ix, 0), 0);
    size_t steps = 0, visited;
    while ((visited = idx_rehash_step(&f.ix, 1)) > 0) {
        CU_ASSERT(visited <= 1 + IDX_EMPTY_VISITS);
        steps++;
        check_index(&f);
    }
    CU_ASSERT(steps > 1);
    CU_ASSERT_FALSE(idx_rehashing(&f.ix));
    CU_ASSERT_EQUAL(idx_rehash_step(&f.ix, 10), 0);
    for (size_t k = 0; k < i; k++)
        CU_ASSERT_PTR_EQUAL(fx_find(&f, k), &f.items[k]);
    fx_fini(&f);
}

static void test_max_table_size(void)
{
    struct fx f;
    fx_init(&f, 3000, 8);
    f.ix.max_log2 = 2;
    for (size_t i = 0; i < 3000; i++)
        CU_ASSERT_EQUAL_FATAL(fx_insert(&f, i), 0);
    CU_ASSERT_EQUAL(idx_buckets(&f.ix), 4);
    CU_ASSERT_FALSE(idx_rehashing(&f.ix));
    check_index(&f);
    for (size_t i = 0; i < 3000; i++)
        CU_ASSERT_PTR_EQUAL(fx_find(&f, i), &f.items[i]);
    fx_fini(&f);
}

/* ---- allocation failures ------------------------------------------------ */

static void test_alloc_first_table(void)
{
    struct fx f;
    fx_init(&f, 10, 1);
    f.al.fail_after = 0;
    CU_ASSERT_EQUAL(fx_insert(&f, 0), -1);
    CU_ASSERT_EQUAL(idx_count(&f.ix), 0);
    CU_ASSERT_PTR_NULL(fx_find(&f, 0));
    f.al.fail_after = UINT64_MAX;
    CU_ASSERT_EQUAL(fx_insert(&f, 0), 0);
    CU_ASSERT_PTR_EQUAL(fx_find(&f, 0), &f.items[0]);
    fx_fini(&f);
}

static void test_alloc_overflow_bucket(void)
{
    struct fx f;
    fx_init(&f, 20, 2);
    f.ix.hash_mask = 0;
    f.ix.max_log2 = 0;
    for (size_t i = 0; i < 7; i++)
        CU_ASSERT_EQUAL(fx_insert(&f, i), 0);
    uint64_t bytes = f.al.live_bytes;
    f.al.fail_after = 0;
    CU_ASSERT_EQUAL(fx_insert(&f, 7), -1);   /* an 8th needs an overflow bucket */
    CU_ASSERT_EQUAL(idx_count(&f.ix), 7);
    CU_ASSERT_EQUAL(f.al.live_bytes, bytes);
    CU_ASSERT_PTR_NULL(fx_find(&f, 7));
    for (size_t i = 0; i < 7; i++)
        CU_ASSERT_PTR_EQUAL(fx_find(&f, i), &f.items[i]);
    check_index(&f);
    f.al.fail_after = UINT64_MAX;
    for (size_t i = 7; i < 20; i++)
        CU_ASSERT_EQUAL(fx_insert(&f, i), 0);
    check_index(&f);
    fx_fini(&f);
}

/* Tables cannot grow: the index keeps working with longer chains, then
 * grows once memory is back. */
static void test_alloc_grow_fails(void)
{
    struct fx f;
    fx_init(&f, 600, 4);
    f.al.fail_min_size = 2 * IDX_BUCKET_BYTES;
    f.al.fail_after = 0;
    for (size_t i = 0; i < 500; i++)
        CU_ASSERT_EQUAL_FATAL(fx_insert(&f, i), 0);
    CU_ASSERT_EQUAL(idx_buckets(&f.ix), 1);
    check_index(&f);
    for (size_t i = 0; i < 500; i++)
        CU_ASSERT_PTR_EQUAL(fx_find(&f, i), &f.items[i]);
    f.al.fail_after = UINT64_MAX;
    for (size_t i = 500; i < 600; i++)
        CU_ASSERT_EQUAL_FATAL(fx_insert(&f, i), 0);
    while (idx_rehash_step(&f.ix, 64) > 0) {
    }
    CU_ASSERT(idx_buckets(&f.ix) >= 64);
    check_index(&f);
    for (size_t i = 0; i < 600; i++)
        CU_ASSERT_PTR_EQUAL(fx_find(&f, i), &f.items[i]);
    fx_fini(&f);
}


/* A rehash whose overflow allocations fail stops mid-bucket; every key
 * stays findable and scannable, and the rehash completes later. */
static void test_alloc_fails_mid_rehash(void)
{
    enum { N = 400 };
    struct fx f;
    fx_init(&f, N, 6);
    scan_fx = &f;
    f.ix.hash_mask = 0xff00000000000001ull;   /* two home chains in every table */
    bool present[N] = {false};
    size_t n = 0;
    while (!idx_rehashing(&f.ix) || idx_buckets(&f.ix) < 8) {
        CU_ASSERT_EQUAL_FATAL(fx_insert(&f, n), 0);
        present[n++] = true;
    }
    f.al.fail_after = 0;
    int64_t before = f.ix.rehash_idx;
    (void)idx_rehash_step(&f.ix, 4);
    (void)idx_rehash_step(&f.ix, 4);
    CU_ASSERT(idx_rehashing(&f.ix));
    CU_ASSERT(f.ix.rehash_idx <= before + 1);   /* stuck on a non-empty home */
    int failed = 0;
    for (size_t k = 0; k < 60; k++, n++) {
        int rc = fx_insert(&f, n);
        failed += rc != 0;
        present[n] = rc == 0;
    }
    CU_ASSERT(failed > 0);
    check_index(&f);
    verify_all(&f, present);
    bool seen[N] = {false};
    uint64_t cursor = 0;
    do {
        cursor = idx_scan(&f.ix, cursor, collect_mark, seen);
    } while (cursor != 0);
    size_t missing = 0;
    for (size_t k = 0; k < n; k++)
        missing += present[k] && !seen[k];
    CU_ASSERT_EQUAL(missing, 0);
    f.al.fail_after = UINT64_MAX;
    while (idx_rehash_step(&f.ix, 8) > 0) {
    }
    CU_ASSERT_FALSE(idx_rehashing(&f.ix));
    check_index(&f);
    verify_all(&f, present);
    fx_fini(&f);
}

/* ---- scan --------------------------------------------------------------- */

static void collect_count(void *arg, void *item)
{
    unsigned *times = arg;
    times[(const struct titem *)item - scan_fx->items]++;
}

static void test_scan_exactly_once(void)
{
    enum { N = 10000 };
    struct fx f;
    fx_init(&f, N, 31);
    scan_fx = &f;
    for (size_t i = 0; i < N; i++)
        CU_ASSERT_EQUAL_FATAL(fx_insert(&f, i), 0);
    while (idx_rehash_step(&f.ix, 1000) > 0) {
    }
    unsigned *times = calloc(N, sizeof(unsigned));
    uint64_t cursor = 0;
    size_t calls = 0;
    do {
        cursor = idx_scan(&f.ix, cursor, collect_count, times);
        CU_ASSERT(cursor < ((uint64_t)1 << 48));
        calls++;
    } while (cursor != 0);
    CU_ASSERT_EQUAL(calls, idx_buckets(&f.ix));
    size_t wrong = 0;
    for (size_t i = 0; i < N; i++)
        wrong += times[i] != 1;
    CU_ASSERT_EQUAL(wrong, 0);
    /* a garbage cursor is harmless */
    (void)idx_scan(&f.ix, ~(uint64_t)0, collect_count, times);
    free(times);
    fx_fini(&f);
}

/*
 * The SCAN guarantee: `stable` keys are present for the whole scan and
 * must all be returned, while `churn` keys are inserted (growing the table
 * through several rehashes) or removed (shrinking it) between steps.
 * rehash_per_step varies how far each resize gets between scan calls.
 */
static void scan_under_churn(bool grow, size_t rehash_per_step, uint64_t seed)
{
    enum { STABLE = 1500, CHURN = 60000 };
    struct fx f;
    fx_init(&f, STABLE + CHURN, seed);
    scan_fx = &f;
    bool *seen = calloc(STABLE + CHURN, sizeof(bool));
    for (size_t i = 0; i < STABLE; i++)
        CU_ASSERT_EQUAL_FATAL(fx_insert(&f, i), 0);
    size_t next = STABLE, removed = STABLE;
    if (!grow) {
        for (; next < STABLE + CHURN; next++)
            CU_ASSERT_EQUAL_FATAL(fx_insert(&f, next), 0);
        while (idx_rehash_step(&f.ix, 1000) > 0) {
        }
    }
    uint64_t start_buckets = idx_buckets(&f.ix), cursor = 0;
    size_t resizes = 0;
    bool was_rehashing = false;
    do {
        cursor = idx_scan(&f.ix, cursor, collect_mark, seen);
        for (int k = 0; k < 40; k++) {
            if (grow && next < STABLE + CHURN) {
                CU_ASSERT_EQUAL_FATAL(fx_insert(&f, next++), 0);
            } else if (!grow && removed < STABLE + CHURN) {
                CU_ASSERT_PTR_NOT_NULL_FATAL(fx_remove(&f, removed++));
            }
        }
        (void)idx_rehash_step(&f.ix, rehash_per_step);
        resizes += idx_rehashing(&f.ix) && !was_rehashing;
        was_rehashing = idx_rehashing(&f.ix);
    } while (cursor != 0);
    size_t missing = 0;
    for (size_t i = 0; i < STABLE; i++)
        missing += !seen[i];
    CU_ASSERT_EQUAL(missing, 0);
    CU_ASSERT(resizes >= 1);
    CU_ASSERT(grow ? idx_buckets(&f.ix) > start_buckets : idx_buckets(&f.ix) < start_buckets);
    check_index(&f);
    free(seen);
    fx_fini(&f);
}

static void test_scan_guarantee_grow(void)
{
    scan_under_churn(true, 0, 1);
    scan_under_churn(true, 1, 2);
    scan_under_churn(true, 50, 3);
}

static void test_scan_guarantee_shrink(void)
{
    scan_under_churn(false, 0, 4);
    scan_under_churn(false, 1, 5);
    scan_under_churn(false, 50, 6);
}

/* ---- random ------------------------------------------------------------- */

static void test_random(void)
{
    enum { N = 10000 };
    struct fx f;
    fx_init(&f, N, 55);
    CU_ASSERT_PTR_NULL(idx_random(&f.ix, 1));
    for (size_t i = 0; i < 50; i++)
        CU_ASSERT_EQUAL(fx_insert(&f, i), 0);
    bool seen[50] = {false};
    for (uint64_t r = 0; r < 5000; r++) {
        const struct titem *it = idx_random(&f.ix, r * 0x9e3779b97f4a7c15ull);
        CU_ASSERT_FATAL(it >= f.items && it < f.items + 50);
        seen[it - f.items] = true;
    }
    size_t unseen = 0;
    for (size_t i = 0; i < 50; i++)
        unseen += !seen[i];
    CU_ASSERT_EQUAL(unseen, 0);
    /* sparse table (removals outpace the shrink) and mid-rehash */
    for (size_t i = 50; i < N; i++)
        CU_ASSERT_EQUAL_FATAL(fx_insert(&f, i), 0);
    for (size_t i = 1; i < N; i++)
        CU_ASSERT_PTR_NOT_NULL_FATAL(fx_remove(&f, i));
    for (uint64_t r = 0; r < 200; r++)
        CU_ASSERT_PTR_EQUAL(idx_random(&f.ix, r), &f.items[0]);
    fx_fini(&f);
}

static CU_TestInfo index_tests[] = {
    {"hash basics", test_hash_basics},
    {"hash avalanche", test_hash_avalanche},
    {"hash distribution", test_hash_distribution},
    {"insert find remove", test_basic},
    {"empty index frees memory", test_empty_frees_memory},
    {"collisions, one tag", test_collisions_same_tag},
    {"collisions, varied tags", test_collisions_varied_tags},
    {"chain hole positions", test_chain_positions},
    {"resize under load", test_resize_under_load},
    {"rehash step bounds", test_rehash_step_bounds},
    {"max table size", test_max_table_size},
    {"alloc fails: first table", test_alloc_first_table},
    {"alloc fails: overflow bucket", test_alloc_overflow_bucket},
    {"alloc fails: grow", test_alloc_grow_fails},
    {"alloc fails: mid rehash", test_alloc_fails_mid_rehash},
    {"scan exactly once", test_scan_exactly_once},
    {"scan guarantee while growing", test_scan_guarantee_grow},
    {"scan guarantee while shrinking", test_scan_guarantee_shrink},
    {"random", test_random},
    {"prefetch hints on an empty index", test_prefetch_empty},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"index", NULL, NULL, NULL, NULL, index_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
