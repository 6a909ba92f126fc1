/*
 * test_types.c - storage/types.h: the payload allocator's exact accounting,
 * the type registry, typed keys (create, typed lookup and WRONGTYPE,
 * overwrite by any type, TTLs, lazy and active expiry, FLUSHDB, destroy,
 * rename, copy to another shard, detach, allocation failures: every path
 * that drops a typed key frees its payload, back to the byte), names and
 * encodings, and entry_state_records for strings and typed values.
 *
 * The types are test-only: "counter" (an int64 and a history array grown
 * with shard_realloc, so a payload owns two allocations), "opaque" (only
 * the required ops) and "badrec" (emits whatever records a test asks for).
 */
#include "cu_main.h"

#include "../../storage/shard.h"
#include "../../storage/slab.h"
#include "../../storage/types.h"
#include "../../common/strutil.h"

#include <jemalloc/jemalloc.h>
#include <stdio.h>
#include <string.h>

#define NOW 1700000000000LL

/* Unassigned tags (shard.h): the test's own types. */
#define OBJ_COUNTER ((enum obj_type)14)
#define OBJ_OPAQUE ((enum obj_type)13)
#define OBJ_BADREC ((enum obj_type)12)

static struct hp_slice sl(const char *s)
{
    return hp_slice_make(s, strlen(s));
}

static struct shard_stats stats_of(const struct shard *s)
{
    struct shard_stats st;
    shard_get_stats(s, &st);
    return st;
}

/* allocated bytes jemalloc reports == what the shard accounted + its struct */
static void assert_accounting_exact(struct shard *s)
{
    struct shard_arena_stats as;
    CU_ASSERT_EQUAL_FATAL(shard_arena_stats(s, &as), 0);
    CU_ASSERT_EQUAL(as.allocated, stats_of(s).mem_used + sallocx(s, 0));
}

/* ---- the test types ------------------------------------------------------- */

struct counter {
    int64_t n;
    uint32_t hist_len;
    int64_t *hist;     /* NULL while empty */
};

static unsigned counter_frees, counter_copies, opaque_frees;

static void counter_free(struct shard *s, void *p)
{
    struct counter *c = p;
    shard_free(s, c->hist);
    shard_free(s, c);
    counter_frees++;
}

static struct counter *counter_new(struct shard *s, int64_t n)
{
    struct counter *c = shard_zalloc(s, sizeof(*c));
    if (c != NULL)
        c->n = n;
    return c;
}

/* Appends v to the history (and adds it to n).  -1: out of memory, unchanged. */
static int counter_push(struct shard *s, struct counter *c, int64_t v)
{
    int64_t *h = shard_realloc(s, c->hist, (c->hist_len + 1) * sizeof(*h));
    if (h == NULL)
        return -1;
    h[c->hist_len++] = v;
    c->hist = h;
    c->n += v;
    return 0;
}

static void *counter_copy(struct shard *dst, const void *p)
{
    const struct counter *c = p;
    struct counter *n = counter_new(dst, c->n);
    if (n == NULL)
        return NULL;
    if (c->hist_len > 0) {
        n->hist = shard_alloc(dst, c->hist_len * sizeof(*c->hist));
        if (n->hist == NULL) {
            shard_free(dst, n);
            return NULL;
        }
        memcpy(n->hist, c->hist, c->hist_len * sizeof(*c->hist));
        n->hist_len = c->hist_len;
    }
    counter_copies++;
    return n;
}

static size_t counter_mem(const void *p)
{
    const struct counter *c = p;
    return shard_alloc_size(c) + (c->hist != NULL ? shard_alloc_size(c->hist) : 0);
}

static const char *counter_encoding(const void *p)
{
    return ((const struct counter *)p)->hist_len > 2 ? "history" : "compact";
}

static int counter_records(const void *p, struct hp_slice key, entry_emit_fn emit, void *arg)
{
    char num[24];
    struct hp_slice argv[3] = {
        sl("COUNTER.SET"), key, hp_slice_make(num, i64_to_str(num, ((const struct counter *)p)->n)),
    };
    return emit(arg, 3, argv);
}

static const struct type_ops counter_ops = {
    .name = "counter",
    .free = counter_free,
    .copy = counter_copy,
    .mem_usage = counter_mem,
    .encoding = counter_encoding,
    .state_records = counter_records,
};

/* "opaque": a payload of one allocation, only the required ops. */
static void opaque_free(struct shard *s, void *p)
{
    shard_free(s, p);
    opaque_frees++;
}

static void *opaque_copy(struct shard *dst, const void *p)
{
    void *n = shard_alloc(dst, shard_alloc_size(p));
    if (n != NULL)
        memcpy(n, p, shard_alloc_size(p));
    return n;
}

static const struct type_ops opaque_ops = {
    .name = "opaque", .free = opaque_free, .copy = opaque_copy,
};

/* "badrec": state_records emits what badrec_mode says. */
enum { BAD_NONE, BAD_ARGC1, BAD_OTHER_KEY, BAD_AFTER_GOOD, BAD_IGNORED };
static int badrec_mode;

static int badrec_records(const void *p, struct hp_slice key, entry_emit_fn emit, void *arg)
{
    struct hp_slice good[3] = {sl("DEL"), key};
    struct hp_slice other[2] = {sl("DEL"), sl("not-the-key")};
    int rc;
    switch (badrec_mode) {
    case BAD_ARGC1:
        return emit(arg, 1, good);
    case BAD_OTHER_KEY:
        return emit(arg, 2, other);
    case BAD_AFTER_GOOD:
        rc = emit(arg, 2, good);
        return rc != 0 ? rc : emit(arg, 1, good);
    case BAD_IGNORED:   /* a type that ignores emit's refusal */
        (void)emit(arg, 2, good);
        (void)emit(arg, 2, other);
        return 0;
    default:
        return 0;
    }
}

static const struct type_ops badrec_ops = {
    .name = "badrec", .free = opaque_free, .copy = opaque_copy,
    .state_records = badrec_records,
};

static int register_types(void)
{
    if (obj_type_register(OBJ_COUNTER, &counter_ops) != 0 ||
        obj_type_register(OBJ_OPAQUE, &opaque_ops) != 0 ||
        obj_type_register(OBJ_BADREC, &badrec_ops) != 0)
        return 1;
    return 0;
}

/* A key holding a new counter(n); the counter, or NULL. */
static struct counter *put_counter(struct shard *s, uint32_t db, const char *key, int64_t n,
                                   int64_t expire_ms)
{
    struct counter *c = counter_new(s, n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL_FATAL(shard_obj_set(s, db, sl(key), OBJ_COUNTER, c, expire_ms, NOW), 0);
    return c;
}

static struct counter *get_counter(struct shard *s, uint32_t db, const char *key, int64_t now)
{
    struct entry *e;
    if (shard_find_typed(s, db, sl(key), OBJ_COUNTER, now, &e) != SHARD_LOOKUP_FOUND)
        return NULL;
    return entry_obj(e);
}

/* ---- allocator ------------------------------------------------------------ */

static void test_alloc_accounting(void)
{
    struct shard *s = shard_create(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    uint8_t *p = shard_alloc(s, 100);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(shard_alloc_size(p) >= 100);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, shard_alloc_size(p));
    CU_ASSERT_EQUAL(stats_of(s).mem_payload, shard_alloc_size(p));
    assert_accounting_exact(s);
    memset(p, 0xab, 100);

    uint8_t *z = shard_zalloc(s, 5000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(z);
    size_t zeros = 0;
    for (size_t i = 0; i < 5000; i++)
        zeros += z[i] == 0;
    CU_ASSERT_EQUAL(zeros, 5000);
    assert_accounting_exact(s);

    p = shard_realloc(s, p, 100000);   /* small -> large: moves */
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(p[0] == 0xab && p[99] == 0xab);
    CU_ASSERT_EQUAL(stats_of(s).mem_payload, shard_alloc_size(p) + shard_alloc_size(z));
    CU_ASSERT_EQUAL(stats_of(s).mem_used, stats_of(s).mem_payload);
    assert_accounting_exact(s);
    p = shard_realloc(s, p, 24);       /* and back */
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(p[0] == 0xab && p[23] == 0xab);
    assert_accounting_exact(s);
    void *q = shard_realloc(s, NULL, 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    assert_accounting_exact(s);

    /* limits: NULL with nothing changed */
    struct shard_stats before = stats_of(s);
    CU_ASSERT_PTR_NULL(shard_alloc(s, 0));
    CU_ASSERT_PTR_NULL(shard_zalloc(s, 0));
    CU_ASSERT_PTR_NULL(shard_alloc(s, SHARD_ALLOC_MAX + 1));
    CU_ASSERT_PTR_NULL(shard_zalloc(s, SHARD_ALLOC_MAX + 1));
    CU_ASSERT_PTR_NULL(shard_realloc(s, p, 0));
    CU_ASSERT_PTR_NULL(shard_realloc(s, p, SHARD_ALLOC_MAX + 1));
    CU_ASSERT_PTR_NULL(shard_realloc(s, NULL, 0));
    CU_ASSERT(p[0] == 0xab && p[23] == 0xab);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, before.mem_used);

    /* injected failures: NULL, p intact, accounting unchanged */
    shard_debug_fail_allocs(s, 0);
    CU_ASSERT_PTR_NULL(shard_alloc(s, 64));
    CU_ASSERT_PTR_NULL(shard_zalloc(s, 64));
    CU_ASSERT_PTR_NULL(shard_realloc(s, p, 200000));
    shard_debug_fail_allocs(s, UINT64_MAX);
    CU_ASSERT(p[0] == 0xab && p[23] == 0xab);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, before.mem_used);
    CU_ASSERT_EQUAL(stats_of(s).mem_payload, before.mem_payload);
    assert_accounting_exact(s);

    shard_free(s, p);
    shard_free(s, z);
    shard_free(s, q);
    shard_free(s, NULL);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    CU_ASSERT_EQUAL(stats_of(s).mem_payload, 0);
    assert_accounting_exact(s);
    shard_destroy(s);
}

/* ---- registry and names --------------------------------------------------- */

static void test_registry(void)
{
    struct type_ops no_free = counter_ops, no_copy = counter_ops, no_name = counter_ops;
    no_free.free = NULL;
    no_copy.copy = NULL;
    no_name.name = NULL;
    CU_ASSERT_EQUAL(obj_type_register(OBJ_STRING, &counter_ops), -1);
    CU_ASSERT_EQUAL(obj_type_register((enum obj_type)OBJ_TYPE_MAX, &counter_ops), -1);
    CU_ASSERT_EQUAL(obj_type_register((enum obj_type)11, NULL), -1);
    CU_ASSERT_EQUAL(obj_type_register((enum obj_type)11, &no_free), -1);
    CU_ASSERT_EQUAL(obj_type_register((enum obj_type)11, &no_copy), -1);
    CU_ASSERT_EQUAL(obj_type_register((enum obj_type)11, &no_name), -1);
    CU_ASSERT_PTR_NULL(obj_type_ops((enum obj_type)11));
    /* the same ops again are fine, other ops on a taken tag are not */
    CU_ASSERT_EQUAL(obj_type_register(OBJ_COUNTER, &counter_ops), 0);
    CU_ASSERT_EQUAL(obj_type_register(OBJ_COUNTER, &opaque_ops), -1);
    CU_ASSERT_PTR_EQUAL(obj_type_ops(OBJ_COUNTER), &counter_ops);

    CU_ASSERT_STRING_EQUAL(obj_type_name(OBJ_STRING), "string");
    CU_ASSERT_PTR_NULL(obj_type_ops(OBJ_STRING)->free);
    CU_ASSERT_STRING_EQUAL(obj_type_name(OBJ_COUNTER), "counter");
    CU_ASSERT_PTR_NULL(obj_type_name(OBJ_HASH));   /* reserved, not implemented */
    CU_ASSERT_PTR_NULL(obj_type_name((enum obj_type)99));
    CU_ASSERT_PTR_NULL(obj_type_ops((enum obj_type)99));
}

static void test_string_names(void)
{
    static const struct {
        const char *v, *enc;
    } cases[] = {
        /* checked against redis-server 7.0's OBJECT ENCODING after SET */
        {"", "embstr"}, {"012", "embstr"}, {"-0", "embstr"}, {"+1", "embstr"},
        {"-5", "int"}, {"123", "int"}, {"12345678901234567890", "embstr"},
        {"9223372036854775807", "int"}, {"-9223372036854775808", "int"}, {"1 ", "embstr"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "embstr"},    /* 44 */
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "raw"},      /* 45 */
    };
    struct shard *s = shard_create(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CU_ASSERT_EQUAL_FATAL(shard_set_str(s, 0, sl("k"), sl(cases[i].v), SHARD_NO_EXPIRE, NOW), 0);
        struct entry *e = shard_find(s, 0, sl("k"), NOW);
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_STRING_EQUAL(entry_type_name(e), "string");
        CU_ASSERT_STRING_EQUAL(entry_encoding(e), cases[i].enc);
    }
    shard_destroy(s);
}

/* ---- typed keys ------------------------------------------------------------- */

static void test_typed_lookup(void)
{
    struct shard *s = shard_create(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    unsigned frees = counter_frees;
    struct counter *c = put_counter(s, 0, "cnt", 7, SHARD_NO_EXPIRE);
    CU_ASSERT_EQUAL_FATAL(shard_set_str(s, 0, sl("str"), sl("v"), SHARD_NO_EXPIRE, NOW), 0);

    struct entry *e = NULL;
    CU_ASSERT_EQUAL(shard_find_typed(s, 0, sl("cnt"), OBJ_COUNTER, NOW, &e), SHARD_LOOKUP_FOUND);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_PTR_EQUAL(entry_obj(e), c);
    CU_ASSERT_EQUAL(entry_type(e), OBJ_COUNTER);
    CU_ASSERT_STRING_EQUAL(entry_type_name(e), "counter");
    CU_ASSERT_STRING_EQUAL(entry_encoding(e), "compact");
    CU_ASSERT_EQUAL(entry_expire_ms(e), SHARD_NO_EXPIRE);
    CU_ASSERT(entry_key(e).len == 3 && memcmp(entry_key(e).ptr, "cnt", 3) == 0);
    /* wrong type either way round, and a missing key, are told apart */
    CU_ASSERT_EQUAL(shard_find_typed(s, 0, sl("cnt"), OBJ_STRING, NOW, &e), SHARD_LOOKUP_WRONGTYPE);
    CU_ASSERT_PTR_NULL(e);
    CU_ASSERT_EQUAL(shard_find_typed(s, 0, sl("cnt"), OBJ_OPAQUE, NOW, &e), SHARD_LOOKUP_WRONGTYPE);
    CU_ASSERT_EQUAL(shard_find_typed(s, 0, sl("str"), OBJ_COUNTER, NOW, &e), SHARD_LOOKUP_WRONGTYPE);
    CU_ASSERT_PTR_NULL(e);
    CU_ASSERT_EQUAL(shard_find_typed(s, 0, sl("str"), OBJ_STRING, NOW, &e), SHARD_LOOKUP_FOUND);
    CU_ASSERT_PTR_NOT_NULL(e);
    CU_ASSERT_EQUAL(shard_find_typed(s, 0, sl("nope"), OBJ_COUNTER, NOW, &e), SHARD_LOOKUP_NONE);
    CU_ASSERT_PTR_NULL(e);
    CU_ASSERT_EQUAL(shard_find_typed(s, 1, sl("cnt"), OBJ_COUNTER, NOW, &e), SHARD_LOOKUP_NONE);
    CU_ASSERT_EQUAL(stats_of(s).keys, 2);
    assert_accounting_exact(s);

    /* the payload grows (the history array) and its root moves */
    for (int i = 1; i <= 10; i++)
        CU_ASSERT_EQUAL_FATAL(counter_push(s, c, i), 0);
    struct counter *moved = shard_realloc(s, c, 4096);
    CU_ASSERT_PTR_NOT_NULL_FATAL(moved);
    CU_ASSERT_NOT_EQUAL(moved, c);   /* 24 B -> 4 KiB changes size class */
    e = shard_find(s, 0, sl("cnt"), NOW);
    entry_obj_set(e, moved);
    c = get_counter(s, 0, "cnt", NOW);
    CU_ASSERT_PTR_EQUAL(c, moved);
    CU_ASSERT_EQUAL(c->n, 7 + 55);
    CU_ASSERT_STRING_EQUAL(entry_encoding(shard_find(s, 0, sl("cnt"), NOW)), "history");
    CU_ASSERT_EQUAL(stats_of(s).mem_payload, counter_mem(c));
    /* 4-byte header + 3-byte key + the 8-byte pointer, a slab item */
    CU_ASSERT_EQUAL(entry_mem_usage(shard_find(s, 0, sl("cnt"), NOW)),
                    slab_class_bytes(4 + 3 + 8) + counter_mem(c));
    CU_ASSERT_EQUAL(entry_mem_usage(shard_find(s, 0, sl("str"), NOW)), slab_class_bytes(4 + 3 + 1));
    assert_accounting_exact(s);

    CU_ASSERT_EQUAL(shard_delete(s, 0, sl("cnt"), NOW), 1);
    CU_ASSERT_EQUAL(counter_frees, frees + 1);
    CU_ASSERT_EQUAL(stats_of(s).mem_payload, 0);
    CU_ASSERT_EQUAL(shard_delete(s, 0, sl("str"), NOW), 1);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    assert_accounting_exact(s);
    shard_destroy(s);
}

struct scan_seen {
    unsigned counters, strings;
};

static void scan_count(void *arg, const struct entry *e)
{
    struct scan_seen *seen = arg;
    if (entry_type(e) == OBJ_COUNTER)
        seen->counters++;
    else if (entry_type(e) == OBJ_STRING)
        seen->strings++;
}

/* A key over 255 bytes takes the wide header; SCAN and RANDOMKEY see typed
 * keys like any other. */
static void test_typed_wide_scan(void)
{
    struct shard *s = shard_create(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    unsigned frees = counter_frees;
    char wide[301];
    memset(wide, 'w', 300);
    wide[300] = 0;
    struct counter *c = put_counter(s, 0, wide, 300, NOW + 1000);
    CU_ASSERT_PTR_EQUAL(get_counter(s, 0, wide, NOW), c);
    CU_ASSERT_EQUAL(entry_key(shard_find(s, 0, sl(wide), NOW)).len, 300);
    CU_ASSERT_EQUAL(entry_mem_usage(shard_find(s, 0, sl(wide), NOW)),
                    nallocx(12 + 12 + 300 + 8, 0) + counter_mem(c));
    CU_ASSERT_EQUAL(shard_rename(s, 0, sl(wide), sl("narrow"), NOW), 1);
    CU_ASSERT_PTR_EQUAL(get_counter(s, 0, "narrow", NOW), c);
    CU_ASSERT_EQUAL(shard_rename(s, 0, sl("narrow"), sl(wide), NOW), 1);
    CU_ASSERT_PTR_EQUAL(get_counter(s, 0, wide, NOW), c);
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl(wide), NOW)), NOW + 1000);
    assert_accounting_exact(s);

    char key[32];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "c:%d", i);
        put_counter(s, 0, key, i, SHARD_NO_EXPIRE);
        snprintf(key, sizeof(key), "s:%d", i);
        CU_ASSERT_EQUAL_FATAL(shard_set_str(s, 0, sl(key), sl("v"), SHARD_NO_EXPIRE, NOW), 0);
    }
    struct scan_seen seen = {0};
    uint64_t cursor = 0;
    do {
        cursor = shard_scan(s, 0, cursor, 10, NOW, scan_count, &seen);
    } while (cursor != 0);
    CU_ASSERT_EQUAL(seen.counters, 51);
    CU_ASSERT_EQUAL(seen.strings, 50);
    struct entry *r = shard_random(s, 0, NOW, 12345);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT(entry_type(r) == OBJ_COUNTER || entry_type(r) == OBJ_STRING);
    /* the wide key expires during a scan: deleted, payload freed */
    seen = (struct scan_seen){0};
    cursor = 0;
    do {
        cursor = shard_scan(s, 0, cursor, 10, NOW + 1000, scan_count, &seen);
    } while (cursor != 0);
    CU_ASSERT_EQUAL(seen.counters, 50);
    CU_ASSERT_EQUAL(counter_frees, frees + 1);
    shard_flush_db(s, 0);
    CU_ASSERT_EQUAL(counter_frees, frees + 51);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    assert_accounting_exact(s);
    shard_destroy(s);
}

static void test_typed_overwrite(void)
{
    struct shard *s = shard_create(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    unsigned frees = counter_frees, ofrees = opaque_frees;
    put_counter(s, 0, "k", 1, SHARD_NO_EXPIRE);
    /* same shape: the entry stays, the old payload goes */
    struct entry *e0 = shard_find(s, 0, sl("k"), NOW);
    struct counter *c2 = put_counter(s, 0, "k", 2, SHARD_NO_EXPIRE);
    CU_ASSERT_EQUAL(counter_frees, frees + 1);
    CU_ASSERT_PTR_EQUAL(shard_find(s, 0, sl("k"), NOW), e0);
    CU_ASSERT_PTR_EQUAL(get_counter(s, 0, "k", NOW), c2);
    CU_ASSERT_EQUAL(stats_of(s).mem_payload, counter_mem(c2));
    assert_accounting_exact(s);
    /* another shape (a TTL now): a new entry, the old payload goes */
    struct counter *c3 = put_counter(s, 0, "k", 3, NOW + 5000);
    CU_ASSERT_EQUAL(counter_frees, frees + 2);
    CU_ASSERT_PTR_EQUAL(get_counter(s, 0, "k", NOW), c3);
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl("k"), NOW)), NOW + 5000);
    CU_ASSERT_EQUAL(stats_of(s).expires, 1);
    assert_accounting_exact(s);
    /* and without it again */
    put_counter(s, 0, "k", 4, SHARD_NO_EXPIRE);
    CU_ASSERT_EQUAL(counter_frees, frees + 3);
    CU_ASSERT_EQUAL(stats_of(s).expires, 0);
    /* a string over the counter */
    CU_ASSERT_EQUAL(shard_set_str(s, 0, sl("k"), sl("str"), SHARD_NO_EXPIRE, NOW), 0);
    CU_ASSERT_EQUAL(counter_frees, frees + 4);
    CU_ASSERT_EQUAL(stats_of(s).mem_payload, 0);
    CU_ASSERT_EQUAL(entry_type(shard_find(s, 0, sl("k"), NOW)), OBJ_STRING);
    /* a counter over the string */
    put_counter(s, 0, "k", 5, SHARD_NO_EXPIRE);
    CU_ASSERT_EQUAL(get_counter(s, 0, "k", NOW)->n, 5);
    /* shard_str_writable over the counter (APPEND/SETRANGE's path) */
    uint8_t *w = shard_str_writable(s, 0, sl("k"), 3, NOW);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_EQUAL(counter_frees, frees + 5);
    CU_ASSERT_EQUAL(stats_of(s).mem_payload, 0);
    /* another type over a counter */
    put_counter(s, 0, "k", 6, SHARD_NO_EXPIRE);
    void *o = shard_alloc(s, 40);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(shard_obj_set(s, 0, sl("k"), OBJ_OPAQUE, o, SHARD_NO_EXPIRE, NOW), 0);
    CU_ASSERT_EQUAL(counter_frees, frees + 6);
    CU_ASSERT_STRING_EQUAL(entry_type_name(shard_find(s, 0, sl("k"), NOW)), "opaque");
    CU_ASSERT_PTR_NULL(entry_encoding(shard_find(s, 0, sl("k"), NOW)));   /* no encoding op */
    CU_ASSERT_EQUAL(entry_mem_usage(shard_find(s, 0, sl("k"), NOW)), slab_class_bytes(4 + 1 + 8));
    assert_accounting_exact(s);
    CU_ASSERT_EQUAL(shard_delete(s, 0, sl("k"), NOW), 1);
    CU_ASSERT_EQUAL(opaque_frees, ofrees + 1);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    assert_accounting_exact(s);
    shard_destroy(s);
}

static void test_typed_expiry(void)
{
    struct shard *s = shard_create(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    unsigned frees = counter_frees;
    /* lazy */
    put_counter(s, 0, "lazy", 1, NOW + 100);
    CU_ASSERT_PTR_NOT_NULL(get_counter(s, 0, "lazy", NOW + 99));
    CU_ASSERT_PTR_NULL(get_counter(s, 0, "lazy", NOW + 100));
    CU_ASSERT_EQUAL(counter_frees, frees + 1);
    CU_ASSERT_EQUAL(stats_of(s).expired_keys, 1);
    /* a TTL added later (the entry grows: the payload moves, not freed) */
    struct counter *c = put_counter(s, 0, "active", 2, SHARD_NO_EXPIRE);
    CU_ASSERT_EQUAL_FATAL(counter_push(s, c, 40), 0);
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl("active"), NOW + 200, NOW), 1);
    CU_ASSERT_EQUAL(counter_frees, frees + 1);
    CU_ASSERT_PTR_EQUAL(get_counter(s, 0, "active", NOW), c);
    CU_ASSERT_EQUAL(c->n, 42);
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl("active"), NOW)), NOW + 200);
    /* PERSIST keeps it, a new TTL again */
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl("active"), SHARD_NO_EXPIRE, NOW), 1);
    CU_ASSERT_PTR_EQUAL(get_counter(s, 0, "active", NOW + 500), c);
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl("active"), NOW + 200, NOW), 1);
    assert_accounting_exact(s);
    /* active expiry */
    CU_ASSERT_EQUAL(shard_expire_cycle(s, NOW + 1000, 100), 1);
    CU_ASSERT_EQUAL(counter_frees, frees + 2);
    CU_ASSERT_EQUAL(stats_of(s).keys, 0);
    /* an expire time in the past deletes */
    put_counter(s, 0, "past", 3, SHARD_NO_EXPIRE);
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl("past"), NOW - 1, NOW), 1);
    CU_ASSERT_EQUAL(counter_frees, frees + 3);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    CU_ASSERT_EQUAL(stats_of(s).mem_payload, 0);
    assert_accounting_exact(s);
    shard_destroy(s);
}

static void test_typed_flush_destroy(void)
{
    struct shard *s = shard_create(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    unsigned frees = counter_frees;
    char key[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "c:%d", i);
        struct counter *c = put_counter(s, 3, key, i, i % 2 ? NOW + 100000 : SHARD_NO_EXPIRE);
        CU_ASSERT_EQUAL_FATAL(counter_push(s, c, i), 0);
        snprintf(key, sizeof(key), "s:%d", i);
        CU_ASSERT_EQUAL_FATAL(shard_set_str(s, 0, sl(key), sl("v"), SHARD_NO_EXPIRE, NOW), 0);
    }
    assert_accounting_exact(s);
    uint64_t strings_only = 0;
    shard_flush_db(s, 3);
    CU_ASSERT_EQUAL(counter_frees, frees + 2000);
    CU_ASSERT_EQUAL(stats_of(s).mem_payload, 0);
    CU_ASSERT_EQUAL(shard_db_size(s, 3), 0);
    CU_ASSERT_EQUAL(shard_db_size(s, 0), 2000);
    strings_only = stats_of(s).mem_used;
    CU_ASSERT(strings_only > 0);
    assert_accounting_exact(s);
    shard_flush_db(s, 0);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    assert_accounting_exact(s);
    /* shard_destroy frees the payloads it still holds */
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "d:%d", i);
        put_counter(s, (uint32_t)i % HP_NUM_DBS, key, i, SHARD_NO_EXPIRE);
    }
    shard_destroy(s);
    CU_ASSERT_EQUAL(counter_frees, frees + 2100);
}

static void test_typed_rename_copy(void)
{
    struct shard *s = shard_create(1), *t = shard_create(2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    unsigned frees = counter_frees, copies = counter_copies;
    struct counter *a = put_counter(s, 0, "a", 1, NOW + 9000);
    CU_ASSERT_EQUAL_FATAL(counter_push(s, a, 10), 0);
    put_counter(s, 0, "dst", 2, SHARD_NO_EXPIRE);
    /* within a shard the payload moves; the replaced dst's goes */
    CU_ASSERT_EQUAL(shard_rename(s, 0, sl("a"), sl("b"), NOW), 1);
    CU_ASSERT_EQUAL(counter_frees, frees);
    CU_ASSERT_PTR_EQUAL(get_counter(s, 0, "b", NOW), a);
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl("b"), NOW)), NOW + 9000);
    CU_ASSERT_PTR_NULL(shard_find(s, 0, sl("a"), NOW));
    CU_ASSERT_EQUAL(shard_rename(s, 0, sl("b"), sl("dst"), NOW), 1);
    CU_ASSERT_EQUAL(counter_frees, frees + 1);
    CU_ASSERT_PTR_EQUAL(get_counter(s, 0, "dst", NOW), a);
    CU_ASSERT_EQUAL(counter_copies, copies);
    assert_accounting_exact(s);

    /* to another shard: a deep copy in its arena, each frees its own */
    struct entry *e = shard_find(s, 0, sl("dst"), NOW);
    CU_ASSERT_EQUAL(shard_adopt_copy(t, 5, sl("x"), e, NOW), 0);
    CU_ASSERT_EQUAL(counter_copies, copies + 1);
    struct counter *x = get_counter(t, 5, "x", NOW);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    CU_ASSERT_PTR_NOT_EQUAL(x, a);
    CU_ASSERT(x->n == 11 && x->hist_len == 1 && x->hist[0] == 10);
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(t, 5, sl("x"), NOW)), NOW + 9000);
    CU_ASSERT_EQUAL(stats_of(t).mem_payload, counter_mem(x));
    CU_ASSERT_EQUAL(stats_of(s).mem_payload, counter_mem(a));
    assert_accounting_exact(s);
    assert_accounting_exact(t);
    CU_ASSERT_EQUAL(shard_delete(s, 0, sl("dst"), NOW), 1);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    CU_ASSERT_EQUAL(get_counter(t, 5, "x", NOW)->n, 11);

    /* a copy that runs out of memory half way leaves nothing behind: fail
     * the entry (after 0 allocations), the counter (1), its history (2),
     * the TTL vector slot (3, after the whole copy was made) */
    e = shard_find(t, 5, sl("x"), NOW);
    for (uint64_t after = 0; after < 4; after++) {
        shard_debug_fail_allocs(s, after);
        CU_ASSERT_EQUAL(shard_adopt_copy(s, 0, sl("y"), e, NOW), -1);
        shard_debug_fail_allocs(s, UINT64_MAX);
        CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
        CU_ASSERT_EQUAL(stats_of(s).keys, 0);
        assert_accounting_exact(s);
    }

    /* detach + shard_entry_free frees the payload into its own arena */
    unsigned before = counter_frees;
    struct entry *d = shard_detach(t, 5, sl("x"), NOW);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    shard_entry_free(t, d);
    CU_ASSERT_EQUAL(counter_frees, before + 1);
    CU_ASSERT_EQUAL(stats_of(t).mem_used, 0);
    assert_accounting_exact(t);
    shard_destroy(s);
    shard_destroy(t);
}

static void test_typed_alloc_failure(void)
{
    struct shard *s = shard_create(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    unsigned frees = counter_frees;
    struct counter *c = counter_new(s, 9);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    uint64_t payload = stats_of(s).mem_used;
    shard_debug_fail_allocs(s, 0);
    CU_ASSERT_EQUAL(shard_obj_set(s, 0, sl("k"), OBJ_COUNTER, c, SHARD_NO_EXPIRE, NOW), -1);
    CU_ASSERT_EQUAL(shard_obj_set(s, 0, sl("k"), OBJ_COUNTER, c, NOW + 10, NOW), -1);
    shard_debug_fail_allocs(s, UINT64_MAX);
    CU_ASSERT_PTR_NULL(shard_find(s, 0, sl("k"), NOW));
    CU_ASSERT_EQUAL(stats_of(s).mem_used, payload);   /* still the caller's */
    CU_ASSERT_EQUAL(counter_frees, frees);
    /* an existing key that needs a bigger entry for the TTL: unchanged */
    CU_ASSERT_EQUAL_FATAL(shard_obj_set(s, 0, sl("k"), OBJ_COUNTER, c, SHARD_NO_EXPIRE, NOW), 0);
    struct counter *c2 = counter_new(s, 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
    shard_debug_fail_allocs(s, 0);
    CU_ASSERT_EQUAL(shard_obj_set(s, 0, sl("k"), OBJ_COUNTER, c2, NOW + 10, NOW), -1);
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl("k"), NOW + 10, NOW), -1);
    shard_debug_fail_allocs(s, UINT64_MAX);
    CU_ASSERT_PTR_EQUAL(get_counter(s, 0, "k", NOW), c);
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl("k"), NOW)), SHARD_NO_EXPIRE);
    CU_ASSERT_EQUAL(counter_frees, frees);
    counter_free(s, c2);
    CU_ASSERT_EQUAL(shard_delete(s, 0, sl("k"), NOW), 1);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    assert_accounting_exact(s);
    shard_destroy(s);
}

/* ---- state as log records ---------------------------------------------------- */

#define REC_MAX 8
struct rec_log {
    unsigned n;
    unsigned stop_at;   /* return 5 from the record with this index; 0: never */
    char rec[REC_MAX][160];
};

/* Records each record as its arguments joined by '|'. */
static int rec_emit(void *arg, uint32_t argc, const struct hp_slice *argv)
{
    struct rec_log *l = arg;
    CU_ASSERT_FATAL(l->n < REC_MAX);
    char *p = l->rec[l->n], *end = p + sizeof(l->rec[0]);
    for (uint32_t i = 0; i < argc && p < end; i++)
        p += snprintf(p, (size_t)(end - p), "%s%.*s", i ? "|" : "", (int)argv[i].len,
                      (const char *)argv[i].ptr);
    l->n++;
    return l->stop_at != 0 && l->n == l->stop_at ? 5 : 0;
}

static int records_of(struct shard *s, const char *key, struct rec_log *l)
{
    memset(l->rec, 0, sizeof(l->rec));
    l->n = 0;
    struct entry *e = shard_find(s, 0, sl(key), NOW);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    return entry_state_records(e, rec_emit, l);
}

static void test_state_records(void)
{
    struct shard *s = shard_create(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    struct rec_log l = {0};
    CU_ASSERT_EQUAL_FATAL(shard_set_str(s, 0, sl("s"), sl("v1"), SHARD_NO_EXPIRE, NOW), 0);
    CU_ASSERT_EQUAL_FATAL(shard_set_str(s, 0, sl("st"), sl("v2"), NOW + 5000, NOW), 0);
    CU_ASSERT_EQUAL(records_of(s, "s", &l), 0);
    CU_ASSERT_EQUAL(l.n, 1);
    CU_ASSERT_STRING_EQUAL(l.rec[0], "SET|s|v1");
    CU_ASSERT_EQUAL(records_of(s, "st", &l), 0);
    CU_ASSERT_EQUAL(l.n, 1);
    CU_ASSERT_STRING_EQUAL(l.rec[0], "SET|st|v2|PXAT|1700000005000");

    put_counter(s, 0, "c", 42, SHARD_NO_EXPIRE);
    put_counter(s, 0, "ct", -7, NOW + 9000);
    CU_ASSERT_EQUAL(records_of(s, "c", &l), 0);
    CU_ASSERT_EQUAL(l.n, 1);
    CU_ASSERT_STRING_EQUAL(l.rec[0], "COUNTER.SET|c|42");
    CU_ASSERT_EQUAL(records_of(s, "ct", &l), 0);
    CU_ASSERT_EQUAL(l.n, 2);
    CU_ASSERT_STRING_EQUAL(l.rec[0], "COUNTER.SET|ct|-7");
    CU_ASSERT_STRING_EQUAL(l.rec[1], "PEXPIREAT|ct|1700000009000");
    /* emit's non-zero return stops and is returned */
    l.stop_at = 1;
    CU_ASSERT_EQUAL(records_of(s, "ct", &l), 5);
    CU_ASSERT_EQUAL(l.n, 1);
    CU_ASSERT_EQUAL(records_of(s, "st", &l), 5);
    l.stop_at = 0;

    /* a type without state_records: a clear error, nothing emitted */
    void *o = shard_alloc(s, 16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL_FATAL(shard_obj_set(s, 0, sl("o"), OBJ_OPAQUE, o, SHARD_NO_EXPIRE, NOW), 0);
    CU_ASSERT_EQUAL(records_of(s, "o", &l), ENTRY_STATE_UNSUPPORTED);
    CU_ASSERT_EQUAL(l.n, 0);

    /* records the log or the replay could not take are refused */
    void *b = shard_alloc(s, 16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL_FATAL(shard_obj_set(s, 0, sl("b"), OBJ_BADREC, b, NOW + 1, NOW), 0);
    static const int modes[] = {BAD_NONE, BAD_ARGC1, BAD_OTHER_KEY};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        badrec_mode = modes[i];
        CU_ASSERT_EQUAL(records_of(s, "b", &l), ENTRY_STATE_BAD_RECORD);
        CU_ASSERT_EQUAL(l.n, 0);   /* not even the PEXPIREAT */
    }
    badrec_mode = BAD_AFTER_GOOD;
    CU_ASSERT_EQUAL(records_of(s, "b", &l), ENTRY_STATE_BAD_RECORD);
    CU_ASSERT_EQUAL(l.n, 1);
    CU_ASSERT_STRING_EQUAL(l.rec[0], "DEL|b");
    badrec_mode = BAD_IGNORED;
    CU_ASSERT_EQUAL(records_of(s, "b", &l), ENTRY_STATE_BAD_RECORD);
    CU_ASSERT_EQUAL(l.n, 1);   /* and no PEXPIREAT after it */
    shard_destroy(s);
}

static CU_TestInfo types_tests[] = {
    {"payload allocator: exact accounting, limits, failures", test_alloc_accounting},
    {"type registry and names", test_registry},
    {"string TYPE and OBJECT ENCODING names", test_string_names},
    {"typed lookup, WRONGTYPE, payload growth, delete", test_typed_lookup},
    {"wide keys, SCAN and RANDOMKEY over typed keys", test_typed_wide_scan},
    {"overwrite by any type frees the payload", test_typed_overwrite},
    {"TTLs, lazy and active expiry of typed keys", test_typed_expiry},
    {"FLUSHDB and shard_destroy free payloads", test_typed_flush_destroy},
    {"rename moves, copy to another shard, detach", test_typed_rename_copy},
    {"allocation failures leave typed keys unchanged", test_typed_alloc_failure},
    {"entry_state_records: strings, types, errors", test_state_records},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"types", register_types, NULL, NULL, NULL, types_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
