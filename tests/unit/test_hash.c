/*
 * test_hash.c - storage/hash/: both encodings, every conversion between
 * them (entry count, long field, long value, on copy), update and delete
 * in place, iteration order, random pick, the HSCAN cursor across a grow,
 * state records, memory accounting and out of memory.
 */
#include "cu_main.h"

#include "../../storage/hash/hash.h"
#include "../../storage/shard.h"
#include "../../storage/types.h"

#include <stdio.h>
#include <string.h>

static struct hp_slice sl(const char *s)
{
    return hp_slice_make(s, strlen(s));
}

static struct shard *mk(void)
{
    CU_ASSERT_EQUAL_FATAL(hash_type_register(), 0);
    CU_ASSERT_EQUAL_FATAL(hash_type_register(), 0);   /* idempotent */
    struct shard *s = shard_create(0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    return s;
}

static bool has(const struct hash *h, const char *f, const char *v)
{
    struct hp_slice got;
    if (!hash_get(h, sl(f), &got))
        return v == NULL;
    return v != NULL && got.len == strlen(v) && memcmp(got.ptr, v, got.len) == 0;
}

static void test_listpack_basic(void)
{
    struct shard *s = mk();
    struct hash *h = hash_new(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CU_ASSERT_EQUAL(hash_encoding(h), HASH_ENC_LISTPACK);
    CU_ASSERT_EQUAL(hash_set(s, &h, sl("a"), sl("1")), 1);
    CU_ASSERT_EQUAL(hash_set(s, &h, sl("b"), sl("2")), 1);
    CU_ASSERT_EQUAL(hash_set(s, &h, sl(""), sl("")), 1);
    CU_ASSERT_EQUAL(hash_set(s, &h, sl("a"), sl("longer value")), 0);  /* grow in place */
    CU_ASSERT_EQUAL(hash_set(s, &h, sl("b"), sl("")), 0);              /* shrink */
    CU_ASSERT_EQUAL(hash_len(h), 3);
    CU_ASSERT(has(h, "a", "longer value"));
    CU_ASSERT(has(h, "b", ""));
    CU_ASSERT(has(h, "", ""));
    CU_ASSERT(has(h, "zz", NULL));
    /* insertion order kept across updates */
    struct hash_iter it;
    struct hp_slice f, v;
    hash_iter_init(&it, h);
    CU_ASSERT(hash_iter_next(&it, &f, &v) && f.len == 1 && f.ptr[0] == 'a');
    CU_ASSERT(hash_iter_next(&it, &f, &v) && f.len == 1 && f.ptr[0] == 'b');
    CU_ASSERT(hash_iter_next(&it, &f, &v) && f.len == 0);
    CU_ASSERT(!hash_iter_next(&it, &f, &v));
    CU_ASSERT_EQUAL(hash_del(s, &h, sl("b")), 1);
    CU_ASSERT_EQUAL(hash_del(s, &h, sl("b")), 0);
    CU_ASSERT_EQUAL(hash_len(h), 2);
    CU_ASSERT(has(h, "a", "longer value"));
    /* a value taken from the hash itself (HINCRBYFLOAT-like self copy) */
    struct hp_slice self;
    CU_ASSERT_FATAL(hash_get(h, sl("a"), &self));
    CU_ASSERT_EQUAL(hash_set(s, &h, sl(""), self), 0);
    CU_ASSERT(has(h, "", "longer value"));
    CU_ASSERT_EQUAL(hash_encoding(h), HASH_ENC_LISTPACK);
    hash_free(s, h);
    struct shard_stats st;
    shard_get_stats(s, &st);
    CU_ASSERT_EQUAL(st.mem_payload, 0);
    shard_destroy(s);
}

static void test_convert_on_count(void)
{
    struct shard *s = mk();
    struct hash *h = hash_new(s);
    char f[32], v[32];
    for (int i = 0; i < HASH_LP_MAX_ENTRIES; i++) {
        snprintf(f, sizeof(f), "f%d", i);
        snprintf(v, sizeof(v), "%d", i);
        CU_ASSERT_EQUAL(hash_set(s, &h, sl(f), sl(v)), 1);
    }
    CU_ASSERT_EQUAL(hash_encoding(h), HASH_ENC_LISTPACK);
    /* updating at the limit does not convert */
    CU_ASSERT_EQUAL(hash_set(s, &h, sl("f0"), sl("x")), 0);
    CU_ASSERT_EQUAL(hash_encoding(h), HASH_ENC_LISTPACK);
    CU_ASSERT_EQUAL(hash_set(s, &h, sl("one more"), sl("y")), 1);
    CU_ASSERT_EQUAL(hash_encoding(h), HASH_ENC_HT);
    CU_ASSERT_EQUAL(hash_len(h), HASH_LP_MAX_ENTRIES + 1);
    for (int i = 1; i < HASH_LP_MAX_ENTRIES; i++) {
        snprintf(f, sizeof(f), "f%d", i);
        snprintf(v, sizeof(v), "%d", i);
        CU_ASSERT(has(h, f, v));
    }
    CU_ASSERT(has(h, "f0", "x"));
    /* grow the table through several doublings, delete half */
    for (int i = 0; i < 5000; i++) {
        snprintf(f, sizeof(f), "g%d", i);
        CU_ASSERT_EQUAL(hash_set(s, &h, sl(f), sl(f)), 1);
    }
    for (int i = 0; i < 5000; i += 2) {
        snprintf(f, sizeof(f), "g%d", i);
        CU_ASSERT_EQUAL(hash_del(s, &h, sl(f)), 1);
    }
    CU_ASSERT_EQUAL(hash_len(h), HASH_LP_MAX_ENTRIES + 1 + 2500);
    /* never converts back */
    CU_ASSERT_EQUAL(hash_encoding(h), HASH_ENC_HT);
    /* iteration sees every field once */
    struct hash_iter it;
    struct hp_slice a, b;
    size_t n = 0;
    hash_iter_init(&it, h);
    while (hash_iter_next(&it, &a, &b))
        n++;
    CU_ASSERT_EQUAL(n, hash_len(h));
    /* updates: bigger value (node moves), smaller (in place) */
    CU_ASSERT_EQUAL(hash_set(s, &h, sl("g1"), sl("a much longer value than before, really")), 0);
    CU_ASSERT(has(h, "g1", "a much longer value than before, really"));
    CU_ASSERT_EQUAL(hash_set(s, &h, sl("g1"), sl("s")), 0);
    CU_ASSERT(has(h, "g1", "s"));
    struct shard_stats st;
    shard_get_stats(s, &st);
    CU_ASSERT_EQUAL(st.mem_payload, hash_mem(h));
    hash_free(s, h);
    shard_get_stats(s, &st);
    CU_ASSERT_EQUAL(st.mem_payload, 0);
    shard_destroy(s);
}

static void test_convert_on_length(void)
{
    struct shard *s = mk();
    char big[HASH_LP_MAX_VALUE + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    big[HASH_LP_MAX_VALUE] = 0;   /* exactly the limit: stays */
    struct hash *h = hash_new(s);
    CU_ASSERT_EQUAL(hash_set(s, &h, sl(big), sl(big)), 1);
    CU_ASSERT_EQUAL(hash_encoding(h), HASH_ENC_LISTPACK);
    big[HASH_LP_MAX_VALUE] = 'x';  /* one over: a long value converts */
    CU_ASSERT_EQUAL(hash_set(s, &h, sl("k"), sl(big)), 1);
    CU_ASSERT_EQUAL(hash_encoding(h), HASH_ENC_HT);
    CU_ASSERT(has(h, "k", big));
    hash_free(s, h);
    h = hash_new(s);               /* a long field converts too */
    CU_ASSERT_EQUAL(hash_set(s, &h, sl("a"), sl("1")), 1);
    CU_ASSERT_EQUAL(hash_set(s, &h, sl(big), sl("1")), 1);
    CU_ASSERT_EQUAL(hash_encoding(h), HASH_ENC_HT);
    CU_ASSERT(has(h, "a", "1"));
    /* a copy keeps the encoding and the fields */
    struct shard *s2 = shard_create(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s2);
    struct hash *c = hash_copy(s2, h);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(hash_encoding(c), HASH_ENC_HT);
    CU_ASSERT_EQUAL(hash_len(c), 2);
    CU_ASSERT(has(c, big, "1"));
    hash_free(s2, c);
    shard_destroy(s2);
    hash_free(s, h);
    shard_destroy(s);
}

static void scan_count(void *arg, struct hp_slice f, struct hp_slice v)
{
    (void)v;
    int *seen = arg;
    int i = -1;
    CU_ASSERT_FATAL(f.len > 1 && f.len < 10);
    char buf[12];
    memcpy(buf, f.ptr + 1, f.len - 1);
    buf[f.len - 1] = 0;
    CU_ASSERT_EQUAL(sscanf(buf, "%d", &i), 1);
    if (i >= 0 && i < 3000)
        seen[i]++;
}

static void test_scan_and_random(void)
{
    struct shard *s = mk();
    struct hash *h = hash_new(s);
    char f[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(f, sizeof(f), "s%d", i);
        CU_ASSERT_EQUAL(hash_set(s, &h, sl(f), sl("v")), 1);
    }
    static int seen[3000];
    memset(seen, 0, sizeof(seen));
    uint64_t c = 0;
    int calls = 0;
    do {
        c = hash_scan(h, c, 10, scan_count, seen);
        calls++;
        if (calls == 20) {   /* the table doubles mid-scan */
            for (int i = 1000; i < 3000; i++) {
                snprintf(f, sizeof(f), "s%d", i);
                CU_ASSERT_EQUAL(hash_set(s, &h, sl(f), sl("v")), 1);
            }
        }
    } while (c != 0 && calls < 100000);
    CU_ASSERT_EQUAL(c, 0);
    for (int i = 0; i < 1000; i++)
        CU_ASSERT(seen[i] >= 1);   /* present for the whole scan: seen */
    /* random picks land on existing fields, and on many of them */
    int hit = 0;
    memset(seen, 0, sizeof(seen));
    for (uint64_t r = 0; r < 20000; r++) {
        struct hp_slice rf, rv;
        hash_random(h, r * 0x9e3779b97f4a7c15ull, &rf, &rv);
        scan_count(seen, rf, rv);
    }
    for (int i = 0; i < 3000; i++)
        hit += seen[i] > 0;
    CU_ASSERT(hit > 2000);
    hash_free(s, h);
    /* listpack: one call, cursor 0 */
    h = hash_new(s);
    CU_ASSERT_EQUAL(hash_set(s, &h, sl("s1"), sl("v")), 1);
    memset(seen, 0, sizeof(seen));
    CU_ASSERT_EQUAL(hash_scan(h, 0, 1, scan_count, seen), 0);
    CU_ASSERT_EQUAL(seen[1], 1);
    hash_free(s, h);
    shard_destroy(s);
}

struct recs {
    int n, pairs;
    bool del_first;
};

static int emit(void *arg, uint32_t argc, const struct hp_slice *argv)
{
    struct recs *r = arg;
    CU_ASSERT(argc <= 64);
    if (r->n == 0)
        r->del_first = argc == 2 && argv[0].len == 3 && memcmp(argv[0].ptr, "DEL", 3) == 0;
    else
        r->pairs += (int)(argc - 2) / 2;
    r->n++;
    return 0;
}

static void test_state_records_and_type(void)
{
    struct shard *s = mk();
    struct hash *h = hash_new(s);
    char f[32];
    for (int i = 0; i < 100; i++) {
        snprintf(f, sizeof(f), "r%d", i);
        CU_ASSERT_EQUAL(hash_set(s, &h, sl(f), sl("v")), 1);
    }
    CU_ASSERT_EQUAL_FATAL(shard_obj_set(s, 0, sl("key"), OBJ_HASH, h, SHARD_NO_EXPIRE, 1), 0);
    struct entry *e = NULL;
    CU_ASSERT_EQUAL(shard_find_typed(s, 0, sl("key"), OBJ_HASH, 1, &e), SHARD_LOOKUP_FOUND);
    CU_ASSERT_STRING_EQUAL(entry_type_name(e), "hash");
    CU_ASSERT_STRING_EQUAL(entry_encoding(e), "listpack");
    struct recs r = {0};
    CU_ASSERT_EQUAL(entry_state_records(e, emit, &r), 0);
    CU_ASSERT(r.del_first);
    CU_ASSERT_EQUAL(r.pairs, 100);
    CU_ASSERT_EQUAL(r.n, 1 + 4);   /* 31 + 31 + 31 + 7 */
    CU_ASSERT_EQUAL(shard_delete(s, 0, sl("key"), 1), 1);
    struct shard_stats st;
    shard_get_stats(s, &st);
    CU_ASSERT_EQUAL(st.mem_payload, 0);
    shard_destroy(s);
}

static void test_oom(void)
{
    struct shard *s = mk();
    for (uint64_t after = 0; after < 40; after++) {
        struct hash *h = hash_new(s);
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        char f[32];
        for (int i = 0; i < 20; i++) {
            snprintf(f, sizeof(f), "o%d", i);
            CU_ASSERT_EQUAL(hash_set(s, &h, sl(f), sl("v")), 1);
        }
        shard_debug_fail_allocs(s, after);
        int ok = 0;
        for (int i = 20; i < HASH_LP_MAX_ENTRIES + 50; i++) {
            snprintf(f, sizeof(f), "o%d", i);
            size_t before = hash_len(h);
            int rc = hash_set(s, &h, sl(f), sl("v"));
            if (rc < 0) {
                /* unchanged (maybe converted): same count, field absent */
                CU_ASSERT_EQUAL(hash_len(h), before);
                CU_ASSERT(has(h, f, NULL));
                break;
            }
            ok++;
        }
        shard_debug_fail_allocs(s, UINT64_MAX);
        for (int i = 0; i < 20 + ok; i++) {
            snprintf(f, sizeof(f), "o%d", i);
            CU_ASSERT(has(h, f, "v"));
        }
        hash_free(s, h);
        struct shard_stats st;
        shard_get_stats(s, &st);
        CU_ASSERT_EQUAL(st.mem_payload, 0);
    }
    shard_destroy(s);
}

static CU_TestInfo hash_tests[] = {
    {"listpack basic", test_listpack_basic},
    {"convert on count", test_convert_on_count},
    {"convert on length, copy", test_convert_on_length},
    {"scan and random", test_scan_and_random},
    {"state records and type ops", test_state_records_and_type},
    {"out of memory", test_oom},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"hash", NULL, NULL, NULL, NULL, hash_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
