/*
 * test_set.c - storage/set/: both encodings (intset: sorted, canonical
 * integers only; hashtable), every conversion (non-integer member, past
 * SET_MAX_INTSET_ENTRIES), remove and shrink, iteration order, random pick,
 * the SSCAN cursor (complete under growth), copy to another shard, the
 * state records (and that replaying them rebuilds the same encoding),
 * out of memory at every allocation leaving the set unchanged, and exact
 * memory accounting back to zero.
 */
#include "cu_main.h"

#include "../../storage/set/set.h"
#include "../../common/strutil.h"

#include <stdio.h>
#include <string.h>

static struct shard *sh, *sh2;

static struct hp_slice sl(const char *s)
{
    return hp_slice_make(s, strlen(s));
}

static uint64_t used(struct shard *s)
{
    struct shard_stats st;
    shard_get_stats(s, &st);
    return st.mem_used;
}

static int init(void)
{
    sh = shard_create(0);
    sh2 = shard_create(1);
    return sh && sh2 && set_type_register() == 0 && set_type_register() == 0 ? 0 : 1;
}

static int clean(void)
{
    shard_destroy(sh);
    shard_destroy(sh2);
    return 0;
}

static struct hp_slice num(char *buf, long v)
{
    return hp_slice_make(buf, (size_t)snprintf(buf, 32, "%ld", v));
}

static void test_intset(void)
{
    uint64_t base = used(sh);
    struct set *st = set_new_for(sh, sl("5"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_STRING_EQUAL(set_encoding(st), "intset");
    CU_ASSERT_EQUAL(set_add(sh, st, sl("5")), 1);
    CU_ASSERT_EQUAL(set_add(sh, st, sl("-3")), 1);
    CU_ASSERT_EQUAL(set_add(sh, st, sl("9223372036854775807")), 1);
    CU_ASSERT_EQUAL(set_add(sh, st, sl("-9223372036854775808")), 1);
    CU_ASSERT_EQUAL(set_add(sh, st, sl("5")), 0);
    CU_ASSERT_EQUAL(set_size(st), 4);
    CU_ASSERT(set_contains(st, sl("-3")));
    CU_ASSERT(!set_contains(st, sl("-03")));
    CU_ASSERT(!set_contains(st, sl("abc")));
    CU_ASSERT_STRING_EQUAL(set_encoding(st), "intset");
    /* ascending iteration */
    const char *want[] = {"-9223372036854775808", "-3", "5", "9223372036854775807"};
    struct set_iter it;
    struct hp_slice m;
    int i = 0;
    set_iter_init(&it, st);
    while (set_iter_next(&it, &m)) {
        CU_ASSERT_FATAL(i < 4);
        CU_ASSERT(m.len == strlen(want[i]) && memcmp(m.ptr, want[i], m.len) == 0);
        i++;
    }
    CU_ASSERT_EQUAL(i, 4);
    CU_ASSERT(set_check(st));
    CU_ASSERT_EQUAL(set_remove(sh, st, sl("-3")), 1);
    CU_ASSERT_EQUAL(set_remove(sh, st, sl("-3")), 0);
    CU_ASSERT_EQUAL(set_remove(sh, st, sl("x")), 0);
    CU_ASSERT_EQUAL(set_size(st), 3);
    /* non-canonical integers are strings: conversion */
    CU_ASSERT_EQUAL(set_add(sh, st, sl("007")), 1);
    CU_ASSERT_STRING_EQUAL(set_encoding(st), "hashtable");
    CU_ASSERT(set_contains(st, sl("5")));
    CU_ASSERT(set_contains(st, sl("007")));
    CU_ASSERT_EQUAL(set_size(st), 4);
    CU_ASSERT(set_check(st));
    /* never back to intset */
    CU_ASSERT_EQUAL(set_remove(sh, st, sl("007")), 1);
    CU_ASSERT_STRING_EQUAL(set_encoding(st), "hashtable");
    set_free(sh, st);
    CU_ASSERT_EQUAL(used(sh), base);
}

static void test_convert_by_size(void)
{
    uint64_t base = used(sh);
    struct set *st = set_new(sh, SET_ENC_INTSET);
    char b[32];
    for (long v = SET_MAX_INTSET_ENTRIES; v > 0; v--)
        CU_ASSERT_EQUAL(set_add(sh, st, num(b, v * 3)), 1);
    CU_ASSERT_STRING_EQUAL(set_encoding(st), "intset");
    CU_ASSERT(set_check(st));
    CU_ASSERT_EQUAL(set_add(sh, st, num(b, 3)), 0);
    CU_ASSERT_STRING_EQUAL(set_encoding(st), "intset");
    CU_ASSERT_EQUAL(set_add(sh, st, num(b, 1)), 1);
    CU_ASSERT_STRING_EQUAL(set_encoding(st), "hashtable");
    CU_ASSERT_EQUAL(set_size(st), SET_MAX_INTSET_ENTRIES + 1);
    CU_ASSERT(set_check(st));
    for (long v = 1; v <= SET_MAX_INTSET_ENTRIES; v++)
        CU_ASSERT(set_contains(st, num(b, v * 3)));
    /* shrink as members go */
    for (long v = 1; v <= SET_MAX_INTSET_ENTRIES; v++)
        CU_ASSERT_EQUAL(set_remove(sh, st, num(b, v * 3)), 1);
    CU_ASSERT_EQUAL(set_size(st), 1);
    CU_ASSERT(st->nbk <= 8);
    CU_ASSERT(set_check(st));
    set_free(sh, st);
    CU_ASSERT_EQUAL(used(sh), base);
}

struct seen {
    char names[4096][8];
    int hits[4096];
};

static void on_member(void *arg, struct hp_slice m)
{
    struct seen *s = arg;
    int64_t v;
    CU_ASSERT_FATAL(str_to_i64(m.ptr + 1, m.len - 1, &v) == 0);
    CU_ASSERT_FATAL(v >= 0 && v < 4096);
    s->hits[v]++;
}

static void test_scan_under_growth(void)
{
    static struct seen seen;
    memset(&seen, 0, sizeof(seen));
    struct set *st = set_new(sh, SET_ENC_HT);
    char b[32];
    for (int i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(set_add(sh, st, hp_slice_make(b, (size_t)snprintf(b, 32, "m%d", i))), 1);
    uint64_t cur = 0;
    int steps = 0, next = 100;
    do {
        cur = set_scan(st, cur, on_member, &seen);
        /* grow the table while scanning */
        for (int k = 0; k < 20 && next < 4096; k++, next++)
            CU_ASSERT_EQUAL(set_add(sh, st, hp_slice_make(b, (size_t)snprintf(b, 32, "m%d", next))),
                            1);
        steps++;
    } while (cur != 0 && steps < 100000);
    CU_ASSERT_EQUAL(cur, 0);
    for (int i = 0; i < 100; i++)
        CU_ASSERT(seen.hits[i] >= 1); /* present throughout: returned */
    set_free(sh, st);
}

static void test_random(void)
{
    struct set *st = set_new(sh, SET_ENC_HT);
    char b[32];
    int hits[10] = {0};
    for (int i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(set_add(sh, st, num(b, i)), 1);
    uint64_t rng = 12345;
    for (int i = 0; i < 2000; i++) {
        char buf[SET_INT_BUF];
        struct hp_slice m = set_random(st, &rng, buf);
        int64_t v;
        CU_ASSERT_FATAL(str_to_i64(m.ptr, m.len, &v) == 0 && v >= 0 && v < 10);
        hits[v]++;
    }
    for (int i = 0; i < 10; i++)
        CU_ASSERT(hits[i] > 50);
    set_free(sh, st);
}

/* replays records into a fresh set as the SADD/SREM handlers would */
struct replay {
    struct set *st;
    int records;
};

static int replay_emit(void *arg, uint32_t argc, const struct hp_slice *argv)
{
    struct replay *r = arg;
    r->records++;
    CU_ASSERT_FATAL(argc >= 2 && argc <= 64);
    if (argv[0].len == 3) { /* DEL */
        set_free(sh2, r->st);
        r->st = NULL;
        return 0;
    }
    bool add = memcmp(argv[0].ptr, "SADD", 4) == 0;
    if (add && r->st == NULL)
        r->st = set_new_for(sh2, argv[2]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->st);
    for (uint32_t i = 2; i < argc; i++) {
        int rc = add ? set_add(sh2, r->st, argv[i]) : set_remove(sh2, r->st, argv[i]);
        CU_ASSERT(rc >= 0);
    }
    return 0;
}

static void check_replay(const struct set *st, int want_records)
{
    struct replay r = {0};
    CU_ASSERT_EQUAL(set_state_records(st, sl("k"), replay_emit, &r), 0);
    if (want_records >= 0)
        CU_ASSERT_EQUAL(r.records, want_records);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.st);
    CU_ASSERT_STRING_EQUAL(set_encoding(r.st), set_encoding(st));
    CU_ASSERT_EQUAL(set_size(r.st), set_size(st));
    struct set_iter it;
    struct hp_slice m;
    set_iter_init(&it, st);
    while (set_iter_next(&it, &m))
        CU_ASSERT(set_contains(r.st, m));
    set_free(sh2, r.st);
}

static void test_state_records(void)
{
    char b[32];
    struct set *st = set_new(sh, SET_ENC_INTSET);
    for (long v = 0; v < 200; v++)
        CU_ASSERT_EQUAL(set_add(sh, st, num(b, v)), 1);
    check_replay(st, 1 + 4); /* DEL + ceil(200 / 62) */
    /* a hashtable of integers only: replay must not make an intset */
    CU_ASSERT_EQUAL(set_add(sh, st, sl("x")), 1);
    CU_ASSERT_EQUAL(set_remove(sh, st, sl("x")), 1);
    CU_ASSERT_STRING_EQUAL(set_encoding(st), "hashtable");
    check_replay(st, -1);
    CU_ASSERT_EQUAL(set_add(sh, st, sl("")), 1); /* the empty member itself */
    check_replay(st, -1);
    set_free(sh, st);
}

static void test_copy(void)
{
    uint64_t base2 = used(sh2);
    char b[32];
    for (int enc = 0; enc < 2; enc++) {
        struct set *st = set_new(sh, (enum set_enc)enc);
        for (long v = 0; v < 100; v++)
            CU_ASSERT_EQUAL(set_add(sh, st, num(b, v)), 1);
        struct set *c = set_copy(sh2, st);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT(set_check(c));
        CU_ASSERT_EQUAL(set_size(c), 100);
        CU_ASSERT_STRING_EQUAL(set_encoding(c), set_encoding(st));
        CU_ASSERT(set_contains(c, sl("99")));
        CU_ASSERT_EQUAL(set_mem_usage(c) > 0, 1);
        set_free(sh2, c);
        /* every failing allocation of the copy: NULL and nothing left */
        for (uint64_t k = 0; k < 200; k++) {
            shard_debug_fail_allocs(sh2, k);
            c = set_copy(sh2, st);
            shard_debug_fail_allocs(sh2, UINT64_MAX);
            if (c == NULL) {
                CU_ASSERT_EQUAL(used(sh2), base2);
            } else {
                set_free(sh2, c);
                break;
            }
        }
        set_free(sh, st);
    }
    CU_ASSERT_EQUAL(used(sh2), base2);
}

static void test_oom(void)
{
    char b[32];
    /* at every allocation count: add fails with -1, the set unchanged */
    for (uint64_t k = 0; k < 20; k++) {
        struct set *st = set_new(sh, SET_ENC_INTSET);
        CU_ASSERT_PTR_NOT_NULL_FATAL(st);
        for (long v = 0; v < SET_MAX_INTSET_ENTRIES; v++)
            CU_ASSERT_FATAL(set_add(sh, st, num(b, v)) == 1);
        uint64_t before = used(sh);
        shard_debug_fail_allocs(sh, k);
        int rc = set_add(sh, st, sl("not-an-int"));
        shard_debug_fail_allocs(sh, UINT64_MAX);
        if (rc < 0) {
            CU_ASSERT_EQUAL(used(sh), before);
            CU_ASSERT_STRING_EQUAL(set_encoding(st), "intset");
            CU_ASSERT_EQUAL(set_size(st), SET_MAX_INTSET_ENTRIES);
            CU_ASSERT(set_check(st));
        } else {
            CU_ASSERT_EQUAL(rc, 1);
            CU_ASSERT_STRING_EQUAL(set_encoding(st), "hashtable");
        }
        set_free(sh, st);
    }
}

static CU_TestInfo tests[] = {
    {"intset and conversion by member", test_intset},
    {"conversion by size, shrink", test_convert_by_size},
    {"sscan cursor under growth", test_scan_under_growth},
    {"random member", test_random},
    {"state records replay", test_state_records},
    {"copy to another shard", test_copy},
    {"out of memory", test_oom},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"set", init, clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
