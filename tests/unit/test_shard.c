/*
 * test_shard.c - every shard.h call: strings, TTLs (lazy and bounded active
 * expiry), rename, detach/adopt across shards, flush, random, scan, stats,
 * exact memory accounting against jemalloc, allocation failures, and the
 * measured per-key overhead (HP_STORAGE_MEM_KEYS=N sets the key count of
 * that measurement; default 200000).
 */
#include "cu_main.h"

#include "../../storage/shard.h"
#include "../../storage/slab.h"

#include <jemalloc/jemalloc.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000000LL

static struct hp_slice sl(const char *s)
{
    return hp_slice_make(s, strlen(s));
}

static int set_plain(struct shard *s, uint32_t db, const char *k, const char *v)
{
    return shard_set_str(s, db, sl(k), sl(v), SHARD_NO_EXPIRE, NOW);
}

static bool value_is(struct shard *s, uint32_t db, const char *k, const void *v, size_t len,
                     int64_t now)
{
    struct entry *e = shard_find(s, db, sl(k), now);
    if (e == NULL)
        return false;
    struct hp_slice got = entry_str(e);
    return got.len == len && memcmp(got.ptr, v, len) == 0;
}

#define VALUE_IS(s, db, k, v) value_is((s), (db), (k), (v), strlen(v), NOW)

static struct shard_stats stats_of(const struct shard *s)
{
    struct shard_stats st;
    shard_get_stats(s, &st);
    return st;
}

/* "key:%012zu": 16 bytes, NUL-terminated in buf[17] */
static size_t key16(char *buf, size_t i)
{
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "key:%012zu", (size_t)(i % 1000000000000ull));
    memcpy(buf, tmp, 17);
    return 16;
}

/* allocated bytes jemalloc reports == what the shard accounted + its struct */
static void assert_accounting_exact(struct shard *s)
{
    struct shard_arena_stats as;
    CU_ASSERT_EQUAL_FATAL(shard_arena_stats(s, &as), 0);
    CU_ASSERT_EQUAL(as.allocated, stats_of(s).mem_used + sallocx(s, 0));
}

/* ---- lifecycle and strings ---------------------------------------------- */

static void test_lifecycle(void)
{
    struct shard *a = shard_create(3), *b = shard_create(4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(shard_id(a), 3);
    CU_ASSERT_EQUAL(shard_id(b), 4);
    struct shard_stats st = stats_of(a);
    CU_ASSERT_EQUAL(st.mem_used, 0);
    CU_ASSERT_EQUAL(st.keys, 0);
    CU_ASSERT_EQUAL(shard_db_size(a, 15), 0);
    CU_ASSERT_PTR_NULL(shard_find(a, 0, sl("x"), NOW));
    assert_accounting_exact(a);
    shard_destroy(a);
    shard_destroy(b);
    shard_destroy(NULL);
}

static void test_set_find_delete(void)
{
    struct shard *s = shard_create(0);
    CU_ASSERT_EQUAL(set_plain(s, 0, "k1", "v1"), 0);
    CU_ASSERT_EQUAL(set_plain(s, 15, "k1", "other db"), 0);
    struct entry *e = shard_find(s, 0, sl("k1"), NOW);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(entry_type(e), OBJ_STRING);
    CU_ASSERT_EQUAL(entry_expire_ms(e), SHARD_NO_EXPIRE);
    CU_ASSERT(entry_key(e).len == 2 && memcmp(entry_key(e).ptr, "k1", 2) == 0);
    CU_ASSERT(VALUE_IS(s, 0, "k1", "v1"));
    CU_ASSERT(VALUE_IS(s, 15, "k1", "other db"));
    CU_ASSERT_PTR_NULL(shard_find(s, 1, sl("k1"), NOW));
    /* overwrite: same size class (in place), then bigger, then smaller */
    CU_ASSERT_EQUAL(set_plain(s, 0, "k1", "v2"), 0);
    CU_ASSERT(VALUE_IS(s, 0, "k1", "v2"));
    CU_ASSERT_EQUAL(set_plain(s, 0, "k1", "a much longer value than before, 64+ bytes, ........."), 0);
    CU_ASSERT(VALUE_IS(s, 0, "k1", "a much longer value than before, 64+ bytes, ........."));
    CU_ASSERT_EQUAL(set_plain(s, 0, "k1", ""), 0);
    CU_ASSERT(VALUE_IS(s, 0, "k1", ""));
    CU_ASSERT_EQUAL(shard_db_size(s, 0), 1);
    CU_ASSERT_EQUAL(stats_of(s).keys, 2);
    CU_ASSERT_EQUAL(shard_delete(s, 0, sl("k1"), NOW), 1);
    CU_ASSERT_EQUAL(shard_delete(s, 0, sl("k1"), NOW), 0);
    CU_ASSERT_PTR_NULL(shard_find(s, 0, sl("k1"), NOW));
    CU_ASSERT(VALUE_IS(s, 15, "k1", "other db"));
    CU_ASSERT_EQUAL(shard_delete(s, 15, sl("k1"), NOW), 1);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    shard_destroy(s);
}

/* Header layout boundaries: key 255/256 and value 65535/65536 switch the
 * narrow header to the wide one; binary bytes everywhere. */
static void test_sizes_and_binary(void)
{
    struct shard *s = shard_create(0);
    static uint8_t buf[70016];   /* values start at buf + 3 */
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 31);
    size_t klens[] = {0, 1, 255, 256, 1000};
    size_t vlens[] = {0, 1, 65535, 65536, 70000};
    for (size_t ki = 0; ki < HP_ARRAY_LEN(klens); ki++) {
        for (size_t vi = 0; vi < HP_ARRAY_LEN(vlens); vi++) {
            struct hp_slice key = hp_slice_make(buf + 7, klens[ki]);
            struct hp_slice val = hp_slice_make(buf + 3, vlens[vi]);
            CU_ASSERT_EQUAL_FATAL(shard_set_str(s, 2, key, val, NOW + 5000, NOW), 0);
            struct entry *e = shard_find(s, 2, key, NOW);
            CU_ASSERT_PTR_NOT_NULL_FATAL(e);
            CU_ASSERT(entry_key(e).len == key.len && memcmp(entry_key(e).ptr, key.ptr, key.len) == 0);
            CU_ASSERT(entry_str(e).len == val.len && memcmp(entry_str(e).ptr, val.ptr, val.len) == 0);
            CU_ASSERT_EQUAL(entry_expire_ms(e), NOW + 5000);
            CU_ASSERT_EQUAL(shard_delete(s, 2, key, NOW), 1);
        }
    }
    /* limits: rejected before anything is read or allocated */
    CU_ASSERT_EQUAL(shard_set_str(s, 0, sl("k"), hp_slice_make(buf, SHARD_MAX_STR_LEN + 1),
                                  SHARD_NO_EXPIRE, NOW), -1);
    CU_ASSERT_EQUAL(shard_set_str(s, 0, hp_slice_make(buf, SHARD_MAX_KEY_LEN + 1), sl("v"),
                                  SHARD_NO_EXPIRE, NOW), -1);
    CU_ASSERT_PTR_NULL(shard_str_writable(s, 0, sl("k"), SHARD_MAX_STR_LEN + 1, NOW));
    CU_ASSERT_PTR_NULL(shard_find(s, 0, hp_slice_make(buf, SHARD_MAX_KEY_LEN + 1), NOW));
    CU_ASSERT_EQUAL(stats_of(s).keys, 0);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    /* the largest string there is */
    uint8_t *p = shard_str_writable(s, 0, sl("big"), SHARD_MAX_STR_LEN, NOW);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(p[0] == 0 && p[SHARD_MAX_STR_LEN - 1] == 0);
    p[SHARD_MAX_STR_LEN - 1] = 'z';
    struct entry *e = shard_find(s, 0, sl("big"), NOW);
    CU_ASSERT_EQUAL(entry_str(e).len, SHARD_MAX_STR_LEN);
    CU_ASSERT_EQUAL(entry_str(e).ptr[SHARD_MAX_STR_LEN - 1], 'z');
    CU_ASSERT(stats_of(s).mem_used >= SHARD_MAX_STR_LEN);
    assert_accounting_exact(s);
    CU_ASSERT_EQUAL(shard_delete(s, 0, sl("big"), NOW), 1);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    shard_destroy(s);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* A value grown byte by byte crosses every slab class, then the slab ->
 * jemalloc boundary (SLAB_MAX_ITEM) and the narrow -> wide header; shrunk
 * back it returns to the slab.  Content and TTL survive every move, and the
 * accounting stays exact. */
static void test_slab_boundaries(void)
{
    struct shard *s = shard_create(0);
    char want[700];
    for (size_t i = 0; i < sizeof(want); i++)
        want[i] = (char)('a' + i % 26);
    CU_ASSERT_EQUAL(shard_set_str(s, 0, sl("g"), hp_slice_make(want, 1), NOW + 100000, NOW), 0);
    for (size_t len = 2; len <= sizeof(want); len++) {
        uint8_t *p = shard_str_writable(s, 0, sl("g"), len, NOW);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        CU_ASSERT_EQUAL(p[len - 1], 0);   /* growth is zero-filled */
        p[len - 1] = (uint8_t)want[len - 1];
    }
    CU_ASSERT(value_is(s, 0, "g", want, sizeof(want), NOW));
    CU_ASSERT_EQUAL(stats_of(s).mem_slab, 0);   /* a 700-byte entry is jemalloc's */
    assert_accounting_exact(s);
    for (size_t len = sizeof(want) - 1; len >= 1; len--)
        CU_ASSERT_PTR_NOT_NULL_FATAL(shard_str_writable(s, 0, sl("g"), len, NOW));
    CU_ASSERT(value_is(s, 0, "g", want, 1, NOW));
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl("g"), NOW)), NOW + 100000);
    CU_ASSERT_EQUAL(shard_db_expires(s, 0), 1);
    CU_ASSERT_EQUAL(stats_of(s).mem_slab_items, 20);   /* 16 header + 1 key + 1 value */
    assert_accounting_exact(s);
    /* PERSIST keeps the slot, EXPIRE then fits again in place */
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl("g"), SHARD_NO_EXPIRE, NOW), 1);
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl("g"), NOW + 5, NOW), 1);
    CU_ASSERT_EQUAL(stats_of(s).mem_slab_items, 20);
    /* the 16/32 case: 52 bytes without TTL, a TTL moves it to the 64 class */
    CU_ASSERT_EQUAL(set_plain(s, 0, "sixteen-byte-key", "0123456789abcdef0123456789abcdef"), 0);
    CU_ASSERT_EQUAL(stats_of(s).mem_slab_items, 20 + 52);
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl("sixteen-byte-key"), NOW + 5, NOW), 1);
    CU_ASSERT_EQUAL(stats_of(s).mem_slab_items, 20 + 64);
    CU_ASSERT(VALUE_IS(s, 0, "sixteen-byte-key", "0123456789abcdef0123456789abcdef"));
    CU_ASSERT_EQUAL(shard_db_expires(s, 0), 2);
    assert_accounting_exact(s);
    shard_flush_db(s, 0);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    CU_ASSERT_EQUAL(stats_of(s).mem_slab, 0);
    shard_destroy(s);
}

static void test_str_writable(void)
{
    struct shard *s = shard_create(0);
    uint8_t *p = shard_str_writable(s, 0, sl("w"), 8, NOW);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(all_zero(p, 8));
    memcpy(p, "hello", 5);
    CU_ASSERT(value_is(s, 0, "w", "hello\0\0\0", 8, NOW));
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl("w"), NOW + 1000, NOW), 1);
    /* grow: prefix kept, growth zeroed, TTL kept */
    p = shard_str_writable(s, 0, sl("w"), 12, NOW);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(value_is(s, 0, "w", "hello\0\0\0\0\0\0\0", 12, NOW));
    /* shrink */
    p = shard_str_writable(s, 0, sl("w"), 3, NOW);
    CU_ASSERT(value_is(s, 0, "w", "hel", 3, NOW));
    /* across the narrow/wide header boundary, both ways, and a big move */
    p = shard_str_writable(s, 0, sl("w"), 70000, NOW);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(memcmp(p, "hel", 3) == 0 && all_zero(p + 3, 70000 - 3));
    p[69999] = 'x';
    p = shard_str_writable(s, 0, sl("w"), 1 << 20, NOW);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(memcmp(p, "hel", 3) == 0 && p[69999] == 'x' && all_zero(p + 70000, (1 << 20) - 70000));
    p = shard_str_writable(s, 0, sl("w"), 2, NOW);
    CU_ASSERT(value_is(s, 0, "w", "he", 2, NOW));
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl("w"), NOW)), NOW + 1000);
    CU_ASSERT_EQUAL(shard_db_expires(s, 0), 1);
    /* zero length */
    p = shard_str_writable(s, 0, sl("w"), 0, NOW);
    CU_ASSERT_PTR_NOT_NULL(p);
    CU_ASSERT(value_is(s, 0, "w", "", 0, NOW));
    /* an expired key is not "existing": fresh zeros and no TTL */
    p = shard_str_writable(s, 0, sl("w"), 4, NOW + 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(all_zero(p, 4));
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl("w"), NOW)), SHARD_NO_EXPIRE);
    CU_ASSERT_EQUAL(stats_of(s).expired_keys, 1);
    CU_ASSERT_EQUAL(shard_db_expires(s, 0), 0);
    assert_accounting_exact(s);
    shard_flush_db(s, 0);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    shard_destroy(s);
}

/* ---- TTLs --------------------------------------------------------------- */

static void test_set_with_ttl_and_lazy_expiry(void)
{
    struct shard *s = shard_create(0);
    CU_ASSERT_EQUAL(shard_set_str(s, 0, sl("t"), sl("v"), NOW + 100, NOW), 0);
    CU_ASSERT_EQUAL(shard_db_expires(s, 0), 1);
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl("t"), NOW)), NOW + 100);
    CU_ASSERT_EQUAL(shard_set_str(s, 0, sl("t"), sl("v2"), NOW + 200, NOW), 0);
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl("t"), NOW)), NOW + 200);
    CU_ASSERT_EQUAL(shard_db_expires(s, 0), 1);
    /* SET without a TTL clears it */
    CU_ASSERT_EQUAL(set_plain(s, 0, "t", "v3"), 0);
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl("t"), NOW)), SHARD_NO_EXPIRE);
    CU_ASSERT_EQUAL(shard_db_expires(s, 0), 0);
    /* lazy expiry: visible until expire_ms - 1, gone at expire_ms */
    CU_ASSERT_EQUAL(shard_set_str(s, 0, sl("t"), sl("v4"), NOW + 50, NOW), 0);
    CU_ASSERT_PTR_NOT_NULL(shard_find(s, 0, sl("t"), NOW + 49));
    CU_ASSERT_EQUAL(shard_db_size(s, 0), 1);
    CU_ASSERT_PTR_NULL(shard_find(s, 0, sl("t"), NOW + 50));
    CU_ASSERT_EQUAL(shard_db_size(s, 0), 0);
    CU_ASSERT_EQUAL(shard_db_expires(s, 0), 0);
    CU_ASSERT_EQUAL(stats_of(s).expired_keys, 1);
    /* DEL of an expired key reports 0 and counts as expired */
    CU_ASSERT_EQUAL(shard_set_str(s, 0, sl("t"), sl("v5"), NOW + 10, NOW), 0);
    CU_ASSERT_EQUAL(shard_delete(s, 0, sl("t"), NOW + 10), 0);
    CU_ASSERT_EQUAL(stats_of(s).expired_keys, 2);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    shard_destroy(s);
}

static void test_set_expire(void)
{
    struct shard *s = shard_create(0);
    char k[17];
    key16(k, 1);
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl("nokey"), NOW + 5, NOW), 0);
    /* 16-byte key, 32-byte value: 52 bytes in a 64-byte class, TTL in place */
    CU_ASSERT_EQUAL(set_plain(s, 0, k, "0123456789abcdef0123456789abcdef"), 0);
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl(k), NOW + 5, NOW), 1);
    CU_ASSERT(VALUE_IS(s, 0, k, "0123456789abcdef0123456789abcdef"));
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl(k), NOW)), NOW + 5);
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl(k), NOW + 7, NOW), 1);
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl(k), NOW)), NOW + 7);
    /* PERSIST */
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl(k), SHARD_NO_EXPIRE, NOW), 1);
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl(k), NOW)), SHARD_NO_EXPIRE);
    CU_ASSERT(VALUE_IS(s, 0, k, "0123456789abcdef0123456789abcdef"));
    CU_ASSERT_EQUAL(shard_db_expires(s, 0), 0);
    /* 4 + 16 + 44 = 64 bytes exactly: adding a TTL needs a new entry */
    const char *v44 = "0123456789abcdef0123456789abcdef0123456789ab";
    CU_ASSERT_EQUAL(set_plain(s, 0, "sixteen-byte-key", v44), 0);
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl("sixteen-byte-key"), NOW + 9, NOW), 1);
    CU_ASSERT(VALUE_IS(s, 0, "sixteen-byte-key", v44));
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl("sixteen-byte-key"), NOW)), NOW + 9);
    CU_ASSERT_EQUAL(shard_db_expires(s, 0), 1);
    /* a time in the past deletes (a command deletion, not an expiry) */
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl(k), NOW, NOW), 1);
    CU_ASSERT_PTR_NULL(shard_find(s, 0, sl(k), NOW));
    CU_ASSERT_EQUAL(stats_of(s).expired_keys, 0);
    /* an expired key does not exist */
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl("sixteen-byte-key"), NOW + 100, NOW + 9), 0);
    CU_ASSERT_EQUAL(stats_of(s).expired_keys, 1);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    shard_destroy(s);
}

/* A million keys expiring together must cost each cycle only its budget. */
static void test_active_expiry_budget(void)
{
    enum { TTL_KEYS = 100000, PLAIN = 1000, OTHER_DB = 1000, BUDGET = 1000 };
    struct shard *s = shard_create(0);
    char k[17];
    for (size_t i = 0; i < TTL_KEYS; i++) {
        key16(k, i);
        CU_ASSERT_EQUAL_FATAL(shard_set_str(s, 0, sl(k), sl("v"), NOW + 10, NOW), 0);
    }
    for (size_t i = 0; i < PLAIN; i++) {
        key16(k, TTL_KEYS + i);
        CU_ASSERT_EQUAL_FATAL(set_plain(s, 0, k, "v"), 0);
    }
    for (size_t i = 0; i < OTHER_DB; i++) {
        key16(k, i);
        CU_ASSERT_EQUAL_FATAL(shard_set_str(s, 3, sl(k), sl("v"), NOW + 10, NOW), 0);
    }
    CU_ASSERT_EQUAL(stats_of(s).expires, TTL_KEYS + OTHER_DB);
    CU_ASSERT_EQUAL(shard_expire_cycle(s, NOW + 9, BUDGET), 0);
    CU_ASSERT_EQUAL(shard_expire_cycle(s, NOW + 10, 0), 0);
    size_t calls = 0, total = 0, deleted;
    while ((deleted = shard_expire_cycle(s, NOW + 10, BUDGET)) > 0) {
        CU_ASSERT_FATAL(deleted <= BUDGET);
        total += deleted;
        calls++;
    }
    CU_ASSERT_EQUAL(total, TTL_KEYS + OTHER_DB);
    CU_ASSERT(calls >= (TTL_KEYS + OTHER_DB) / BUDGET && calls <= (TTL_KEYS + OTHER_DB) / BUDGET + 2);
    CU_ASSERT_EQUAL(shard_db_size(s, 0), PLAIN);
    CU_ASSERT_EQUAL(shard_db_size(s, 3), 0);
    CU_ASSERT_EQUAL(stats_of(s).expires, 0);
    CU_ASSERT_EQUAL(stats_of(s).expired_keys, TTL_KEYS + OTHER_DB);
    /* half expired, half not: the live half survives, budget still holds */
    for (size_t i = 0; i < 2000; i++) {
        key16(k, i);
        CU_ASSERT_EQUAL_FATAL(shard_set_str(s, 1, sl(k), sl("v"), NOW + ((i & 1) ? 10 : 99999), NOW), 0);
    }
    total = 0;
    for (int c = 0; c < 400; c++) {
        deleted = shard_expire_cycle(s, NOW + 20, 10);
        CU_ASSERT_FATAL(deleted <= 10);
        total += deleted;
    }
    CU_ASSERT_EQUAL(total, 1000);
    CU_ASSERT_EQUAL(shard_db_size(s, 1), 1000);
    CU_ASSERT_EQUAL(shard_db_expires(s, 1), 1000);
    assert_accounting_exact(s);
    shard_destroy(s);
}

/* ---- rename, detach, adopt ---------------------------------------------- */

static void test_rename(void)
{
    struct shard *s = shard_create(0);
    CU_ASSERT_EQUAL(shard_rename(s, 0, sl("a"), sl("b"), NOW), 0);
    CU_ASSERT_EQUAL(shard_set_str(s, 0, sl("a"), sl("va"), NOW + 100, NOW), 0);
    CU_ASSERT_EQUAL(shard_rename(s, 0, sl("a"), sl("a"), NOW), 1);
    CU_ASSERT(VALUE_IS(s, 0, "a", "va"));
    CU_ASSERT_EQUAL(shard_rename(s, 0, sl("a"), sl("b"), NOW), 1);
    CU_ASSERT_PTR_NULL(shard_find(s, 0, sl("a"), NOW));
    CU_ASSERT(VALUE_IS(s, 0, "b", "va"));
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl("b"), NOW)), NOW + 100);
    CU_ASSERT_EQUAL(shard_db_expires(s, 0), 1);
    /* dst replaced: src without TTL over dst with TTL */
    CU_ASSERT_EQUAL(set_plain(s, 0, "c", "vc"), 0);
    CU_ASSERT_EQUAL(shard_rename(s, 0, sl("c"), sl("b"), NOW), 1);
    CU_ASSERT(VALUE_IS(s, 0, "b", "vc"));
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl("b"), NOW)), SHARD_NO_EXPIRE);
    CU_ASSERT_EQUAL(shard_db_expires(s, 0), 0);
    CU_ASSERT_EQUAL(shard_db_size(s, 0), 1);
    /* to a long (wide-header) name and back */
    char longname[400];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    CU_ASSERT_EQUAL(shard_rename(s, 0, sl("b"), sl(longname), NOW), 1);
    CU_ASSERT(VALUE_IS(s, 0, longname, "vc"));
    CU_ASSERT_EQUAL(shard_rename(s, 0, sl(longname), sl("z"), NOW), 1);
    CU_ASSERT(VALUE_IS(s, 0, "z", "vc"));
    /* an expired src does not exist */
    CU_ASSERT_EQUAL(shard_set_str(s, 0, sl("e"), sl("ve"), NOW + 1, NOW), 0);
    CU_ASSERT_EQUAL(shard_rename(s, 0, sl("e"), sl("f"), NOW + 1), 0);
    CU_ASSERT_EQUAL(shard_db_size(s, 0), 1);
    assert_accounting_exact(s);
    shard_destroy(s);
}

static void test_detach_adopt(void)
{
    struct shard *a = shard_create(1), *b = shard_create(2);
    CU_ASSERT_PTR_NULL(shard_detach(a, 0, sl("k"), NOW));
    CU_ASSERT_EQUAL(shard_set_str(a, 0, sl("k"), sl("value"), NOW + 500, NOW), 0);
    uint64_t a_mem = stats_of(a).mem_used;
    struct entry *e = shard_detach(a, 0, sl("k"), NOW);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(shard_db_size(a, 0), 0);
    CU_ASSERT_EQUAL(shard_db_expires(a, 0), 0);
    CU_ASSERT_PTR_NULL(shard_find(a, 0, sl("k"), NOW));
    CU_ASSERT(stats_of(a).mem_used > 0 && stats_of(a).mem_used <= a_mem);
    /* adopt under a new name in another shard and db, replacing a key */
    CU_ASSERT_EQUAL(set_plain(b, 4, "k2", "old"), 0);
    CU_ASSERT_EQUAL(shard_adopt_copy(b, 4, sl("k2"), e, NOW), 0);
    CU_ASSERT(VALUE_IS(b, 4, "k2", "value"));
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(b, 4, sl("k2"), NOW)), NOW + 500);
    CU_ASSERT_EQUAL(shard_db_size(b, 4), 1);
    CU_ASSERT_EQUAL(shard_db_expires(b, 4), 1);
    shard_entry_free(a, e);
    CU_ASSERT_EQUAL(stats_of(a).mem_used, 0);
    assert_accounting_exact(a);
    assert_accounting_exact(b);
    CU_ASSERT_EQUAL(shard_delete(b, 4, sl("k2"), NOW), 1);
    CU_ASSERT_EQUAL(stats_of(b).mem_used, 0);
    shard_destroy(a);
    shard_destroy(b);
}

/* ---- allocation failures: nothing changes -------------------------------- */

static void test_alloc_failures(void)
{
    struct shard *s = shard_create(0), *b = shard_create(1);
    CU_ASSERT_EQUAL(set_plain(s, 0, "keep", "original"), 0);
    CU_ASSERT_EQUAL(set_plain(s, 0, "sixteen-byte-key", "0123456789abcdef0123456789abcdef0123456789ab"), 0);
    struct shard_stats before = stats_of(s);
    shard_debug_fail_allocs(s, 0);
    CU_ASSERT_EQUAL(set_plain(s, 0, "new", "v"), -1);
    CU_ASSERT_EQUAL(set_plain(s, 0, "keep", "a different size class value ......................."), -1);
    CU_ASSERT_EQUAL(shard_set_str(s, 0, sl("ttl"), sl("v"), NOW + 5, NOW), -1);
    CU_ASSERT_PTR_NULL(shard_str_writable(s, 0, sl("keep"), 5000, NOW));
    CU_ASSERT_PTR_NULL(shard_str_writable(s, 0, sl("fresh"), 5, NOW));
    CU_ASSERT_EQUAL(shard_set_expire(s, 0, sl("sixteen-byte-key"), NOW + 5, NOW), -1);
    CU_ASSERT_EQUAL(shard_rename(s, 0, sl("keep"), sl("moved"), NOW), -1);
    struct shard_stats after = stats_of(s);
    CU_ASSERT_EQUAL(after.mem_used, before.mem_used);
    CU_ASSERT_EQUAL(after.keys, 2);
    CU_ASSERT_EQUAL(after.expires, 0);
    CU_ASSERT(VALUE_IS(s, 0, "keep", "original"));
    CU_ASSERT_EQUAL(entry_expire_ms(shard_find(s, 0, sl("sixteen-byte-key"), NOW)), SHARD_NO_EXPIRE);
    CU_ASSERT_PTR_NULL(shard_find(s, 0, sl("moved"), NOW));
    /* same size class: no allocation needed, so it succeeds */
    CU_ASSERT_EQUAL(set_plain(s, 0, "keep", "ORIGINAL"), 0);
    CU_ASSERT(VALUE_IS(s, 0, "keep", "ORIGINAL"));
    /* adopt into a shard that cannot allocate */
    struct entry *e = shard_detach(s, 0, sl("keep"), NOW);
    shard_debug_fail_allocs(b, 0);
    CU_ASSERT_EQUAL(shard_adopt_copy(b, 0, sl("keep"), e, NOW), -1);
    CU_ASSERT_EQUAL(stats_of(b).mem_used, 0);
    shard_debug_fail_allocs(b, UINT64_MAX);
    CU_ASSERT_EQUAL(shard_adopt_copy(b, 0, sl("keep"), e, NOW), 0);
    shard_entry_free(s, e);
    /* the TTL vector cannot grow: a SET with TTL fails, nothing changes */
    shard_debug_fail_allocs(s, UINT64_MAX);
    char k[17];
    for (size_t i = 0; i < 16; i++) {
        key16(k, i);
        CU_ASSERT_EQUAL(shard_set_str(s, 2, sl(k), sl("v"), NOW + 5, NOW), 0);
    }
    before = stats_of(s);
    shard_debug_fail_allocs(s, 0);
    key16(k, 16);
    CU_ASSERT_EQUAL(shard_set_str(s, 2, sl(k), sl("v"), NOW + 5, NOW), -1);
    CU_ASSERT_EQUAL(shard_set_expire(s, 2, sl(k), NOW + 5, NOW), 0);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, before.mem_used);
    CU_ASSERT_EQUAL(shard_db_expires(s, 2), 16);
    shard_debug_fail_allocs(s, UINT64_MAX);
    CU_ASSERT_EQUAL(shard_set_str(s, 2, sl(k), sl("v"), NOW + 5, NOW), 0);
    CU_ASSERT_EQUAL(shard_db_expires(s, 2), 17);
    assert_accounting_exact(s);
    shard_destroy(s);
    shard_destroy(b);
}

/* ---- whole database ----------------------------------------------------- */

static void test_flush(void)
{
    struct shard *s = shard_create(0);
    char k[17];
    for (size_t i = 0; i < 5000; i++) {
        key16(k, i);
        CU_ASSERT_EQUAL_FATAL(shard_set_str(s, 0, sl(k), sl("v"), (i & 1) ? NOW + 50 : SHARD_NO_EXPIRE, NOW), 0);
        CU_ASSERT_EQUAL_FATAL(set_plain(s, 1, k, "w"), 0);
    }
    uint64_t both = stats_of(s).mem_used;
    shard_flush_db(s, 0);
    CU_ASSERT_EQUAL(shard_db_size(s, 0), 0);
    CU_ASSERT_EQUAL(shard_db_expires(s, 0), 0);
    CU_ASSERT_EQUAL(shard_db_size(s, 1), 5000);
    CU_ASSERT(stats_of(s).mem_used < both);
    CU_ASSERT(VALUE_IS(s, 1, "key:000000000007", "w"));
    CU_ASSERT_PTR_NULL(shard_find(s, 0, sl("key:000000000007"), NOW));
    shard_flush_db(s, 0);   /* flushing an empty db is fine */
    shard_flush_db(s, 1);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    CU_ASSERT_EQUAL(stats_of(s).mem_index, 0);
    CU_ASSERT_EQUAL(set_plain(s, 0, "again", "ok"), 0);   /* usable after */
    CU_ASSERT(VALUE_IS(s, 0, "again", "ok"));
    shard_destroy(s);
}

static void test_random(void)
{
    struct shard *s = shard_create(0);
    CU_ASSERT_PTR_NULL(shard_random(s, 0, NOW, 1));
    char k[17];
    for (size_t i = 0; i < 100; i++) {
        key16(k, i);
        CU_ASSERT_EQUAL(set_plain(s, 0, k, "v"), 0);
    }
    bool seen[100] = {false};
    for (uint64_t r = 0; r < 3000; r++) {
        struct entry *e = shard_random(s, 0, NOW, r * 0x2545f4914f6cdd1dull);
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        size_t i = (size_t)strtoul((const char *)entry_key(e).ptr + 4, NULL, 10);
        CU_ASSERT_FATAL(i < 100);
        seen[i] = true;
    }
    size_t unseen = 0;
    for (size_t i = 0; i < 100; i++)
        unseen += !seen[i];
    CU_ASSERT_EQUAL(unseen, 0);
    /* live keys among expired ones: never returns an expired key */
    for (size_t i = 0; i < 300; i++) {
        key16(k, 1000 + i);
        CU_ASSERT_EQUAL(shard_set_str(s, 0, sl(k), sl("x"), NOW + 1, NOW), 0);
    }
    for (uint64_t r = 0; r < 200; r++) {
        struct entry *e = shard_random(s, 0, NOW + 1, r);
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_EQUAL(entry_expire_ms(e), SHARD_NO_EXPIRE);
    }
    /* only expired keys: bounded work, then NULL */
    shard_flush_db(s, 0);
    for (size_t i = 0; i < 1000; i++) {
        key16(k, i);
        CU_ASSERT_EQUAL(shard_set_str(s, 0, sl(k), sl("x"), NOW + 1, NOW), 0);
    }
    CU_ASSERT_PTR_NULL(shard_random(s, 0, NOW + 1, 42));
    CU_ASSERT_EQUAL(shard_db_size(s, 0), 1000 - SHARD_RANDOM_TRIES);
    shard_destroy(s);
}

struct scan_out {
    unsigned *times;
    size_t calls;
};

static void scan_collect(void *arg, const struct entry *e)
{
    struct scan_out *o = arg;
    size_t i = (size_t)strtoul((const char *)entry_key(e).ptr + 4, NULL, 10);
    o->times[i]++;
    o->calls++;
}

static void test_scan(void)
{
    enum { N = 20000 };
    struct shard *s = shard_create(0);
    struct scan_out out = {calloc(N, sizeof(unsigned)), 0};
    CU_ASSERT_EQUAL(shard_scan(s, 0, 0, 10, NOW, scan_collect, &out), 0);
    char k[17];
    for (size_t i = 0; i < N; i++) {
        key16(k, i);
        CU_ASSERT_EQUAL_FATAL(shard_set_str(s, 0, sl(k), sl("v"), (i % 10 == 0) ? NOW + 5 : SHARD_NO_EXPIRE, NOW), 0);
    }
    while (shard_rehash_step(s, 1000) > 0) {
    }
    uint64_t cursor = 0;
    size_t calls = 0;
    do {
        size_t before = out.calls;
        cursor = shard_scan(s, 0, cursor, 100, NOW + 5, scan_collect, &out);
        CU_ASSERT(cursor < ((uint64_t)1 << 48));
        CU_ASSERT(cursor == 0 || out.calls - before >= 100);
        calls++;
    } while (cursor != 0);
    size_t wrong = 0;
    for (size_t i = 0; i < N; i++)
        wrong += out.times[i] != ((i % 10 == 0) ? 0u : 1u);
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT(calls < N / 100 + 10);
    /* expired keys met by the scan were reclaimed */
    CU_ASSERT_EQUAL(shard_db_size(s, 0), N - N / 10);
    CU_ASSERT_EQUAL(stats_of(s).expired_keys, N / 10);
    free(out.times);
    shard_destroy(s);
}

/* ---- accounting --------------------------------------------------------- */

static void fill16(struct shard *s, uint32_t db, size_t from, size_t to, bool ttl)
{
    char k[17];
    static const char v32[] = "0123456789abcdef0123456789abcdef";
    for (size_t i = from; i < to; i++) {
        key16(k, i);
        int rc = shard_set_str(s, db, hp_slice_make(k, 16), hp_slice_make(v32, 32),
                               ttl ? NOW + 1000000 : SHARD_NO_EXPIRE, NOW);
        HP_ASSERT(rc == 0);
    }
}

static void delete16(struct shard *s, uint32_t db, size_t from, size_t to, size_t step)
{
    char k[17];
    for (size_t i = from; i < to; i += step) {
        key16(k, i);
        HP_ASSERT(shard_delete(s, db, hp_slice_make(k, 16), NOW) == 1);
    }
}

static void test_mem_back_to_baseline(void)
{
    struct shard *s = shard_create(0);
    CU_ASSERT_EQUAL(stats_of(s).mem_used, 0);
    fill16(s, 0, 0, 100000, false);
    fill16(s, 5, 0, 50000, true);
    struct shard_stats st = stats_of(s);
    CU_ASSERT(st.mem_used > 150000 * 64);
    CU_ASSERT(st.mem_index > 0 && st.mem_index < st.mem_used);
    CU_ASSERT_EQUAL(st.keys, 150000);
    CU_ASSERT_EQUAL(st.expires, 50000);
    assert_accounting_exact(s);
    delete16(s, 0, 0, 100000, 1);
    delete16(s, 5, 0, 50000, 1);
    st = stats_of(s);
    CU_ASSERT_EQUAL(st.mem_used, 0);
    CU_ASSERT_EQUAL(st.mem_index, 0);
    CU_ASSERT_EQUAL(st.keys, 0);
    CU_ASSERT_EQUAL(st.expires, 0);
    assert_accounting_exact(s);
    shard_destroy(s);
}

static void test_rehash_step_api(void)
{
    struct shard *s = shard_create(0);
    CU_ASSERT_EQUAL(shard_rehash_step(s, 10), 0);
    size_t n = 0;
    while (!stats_of(s).rehashing || n < 10000) {
        fill16(s, 0, n, n + 1, false);
        n++;
    }
    size_t steps = 0;
    while (shard_rehash_step(s, 1) > 0)
        steps++;
    CU_ASSERT(steps > 0);
    CU_ASSERT_EQUAL(stats_of(s).rehashing, 0);
    char k[17];
    size_t missing = 0;
    for (size_t i = 0; i < n; i++) {
        key16(k, i);
        missing += shard_find(s, 0, hp_slice_make(k, 16), NOW) == NULL;
    }
    CU_ASSERT_EQUAL(missing, 0);
    shard_destroy(s);
}

/*
 * Accounted bytes vs what jemalloc holds: allocated matches exactly; active
 * (whole pages of slabs and extents) stays close when the memory is dense,
 * and after deleting the newest half (their slabs empty out).  Deleting
 * every other key instead leaves half-used slabs: that is fragmentation,
 * reported but bounded loosely.
 */
static void test_arena_vs_accounted(void)
{
    enum { N = 200000 };
    struct shard *s = shard_create(0);
    struct shard_arena_stats as;
    fill16(s, 0, 0, N, false);
    while (shard_rehash_step(s, 100000) > 0) {
    }
    CU_ASSERT_EQUAL_FATAL(shard_arena_stats(s, &as), 0);
    uint64_t used = stats_of(s).mem_used;
    CU_ASSERT_EQUAL(as.allocated, used + sallocx(s, 0));
    CU_ASSERT(as.active >= as.allocated);
    /* jemalloc pads every large extent with one page (cache-oblivious
     * placement) that the slab never touches: active, never resident */
    uint64_t pad = stats_of(s).mem_slab / SLAB_BYTES * 4096;
    CU_ASSERT(as.active <= as.allocated + as.allocated / 50 + pad + (256 << 10));
    CU_ASSERT(as.resident >= as.active);
    printf("\n  arena after %d keys: accounted %llu, allocated %llu, active %llu, resident %llu\n",
           N, (unsigned long long)used, (unsigned long long)as.allocated,
           (unsigned long long)as.active, (unsigned long long)as.resident);

    delete16(s, 0, N / 2, N, 1);
    CU_ASSERT_EQUAL_FATAL(shard_arena_stats(s, &as), 0);
    used = stats_of(s).mem_used;
    CU_ASSERT_EQUAL(as.allocated, used + sallocx(s, 0));
    CU_ASSERT(as.active >= as.allocated);
    pad = stats_of(s).mem_slab / SLAB_BYTES * 4096;
    CU_ASSERT(as.active <= as.allocated + as.allocated / 20 + pad + (256 << 10));
    printf("  after deleting the newest half: accounted %llu, active %llu (%.1f%% over)\n",
           (unsigned long long)used, (unsigned long long)as.active,
           100.0 * ((double)as.active - (double)used) / (double)used);

    delete16(s, 0, 0, N / 2, 2);
    CU_ASSERT_EQUAL_FATAL(shard_arena_stats(s, &as), 0);
    used = stats_of(s).mem_used;
    CU_ASSERT_EQUAL(as.allocated, used + sallocx(s, 0));
    CU_ASSERT(as.active <= 3 * as.allocated);
    printf("  after deleting every other remaining key: accounted %llu, active %llu "
           "(slab fragmentation %.1f%%)\n",
           (unsigned long long)used, (unsigned long long)as.active,
           100.0 * ((double)as.active - (double)used) / (double)used);
    shard_destroy(s);
}

/* The per-key overhead docs/STORAGE.md quotes: 16-byte keys, 32-byte values. */
static void measure_per_key(size_t n, bool ttl)
{
    struct shard *s = shard_create(0);
    struct shard_arena_stats as0, as;
    CU_ASSERT_EQUAL_FATAL(shard_arena_stats(s, &as0), 0);
    fill16(s, 0, 0, n, ttl);
    while (shard_rehash_step(s, 1 << 20) > 0) {
    }
    CU_ASSERT_EQUAL_FATAL(shard_arena_stats(s, &as), 0);
    struct shard_stats st = stats_of(s);
    /* entries live in slabs of 4-byte classes: 52 bytes, 64 with a TTL */
    size_t entry_usable = ttl ? 64 : 52;
    CU_ASSERT_EQUAL(st.mem_slab_items, (uint64_t)n * entry_usable);
    CU_ASSERT_EQUAL(st.mem_used - st.mem_index, st.mem_slab);
    uint64_t per_slab = (SLAB_BYTES - SLAB_HDR) / entry_usable;
    CU_ASSERT_EQUAL(st.mem_slab, (n + per_slab - 1) / per_slab * SLAB_BYTES);
    double per_key = (double)st.mem_used / (double)n;
    double index_per_key = (double)st.mem_index / (double)n;
    double active_per_key = (double)(as.active - as0.active) / (double)n;
    CU_ASSERT(index_per_key < 40.0);
    printf("\n  MEMORY %zu keys 16B/32B%s: entry %zu B (header %s + 48 payload; %.2f B/key "
           "with slab headers), index %.2f B/key, accounted %.2f B/key, jemalloc active "
           "%.2f B/key, resident %.2f B/key\n",
           n, ttl ? " +TTL" : "", entry_usable, ttl ? "16" : "4",
           (double)st.mem_slab / (double)n, index_per_key, per_key,
           active_per_key, (double)(as.resident - as0.resident) / (double)n);
    shard_destroy(s);
}

static void test_bytes_per_key(void)
{
    const char *env = getenv("HP_STORAGE_MEM_KEYS");
    size_t n = env != NULL ? (size_t)strtoull(env, NULL, 10) : 200000;
    if (n < 1000)
        n = 1000;
    measure_per_key(n, false);
    measure_per_key(n, true);
}

static CU_TestInfo shard_tests[] = {
    {"lifecycle", test_lifecycle},
    {"set find delete", test_set_find_delete},
    {"sizes, limits, binary", test_sizes_and_binary},
    {"str_writable", test_str_writable},
    {"slab classes and boundaries", test_slab_boundaries},
    {"set with TTL, lazy expiry", test_set_with_ttl_and_lazy_expiry},
    {"set_expire", test_set_expire},
    {"active expiry budget", test_active_expiry_budget},
    {"rename", test_rename},
    {"detach and adopt across shards", test_detach_adopt},
    {"allocation failures change nothing", test_alloc_failures},
    {"flush", test_flush},
    {"random", test_random},
    {"scan", test_scan},
    {"memory back to baseline", test_mem_back_to_baseline},
    {"rehash step", test_rehash_step_api},
    {"arena vs accounted", test_arena_vs_accounted},
    {"bytes per key", test_bytes_per_key},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"shard", NULL, NULL, NULL, NULL, shard_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
