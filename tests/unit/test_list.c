/*
 * test_list.c - storage/list's quicklist against a plain array model:
 * every operation at both ends and in the middle, node bounds and
 * splits (elements smaller than, equal to and bigger than a node), both
 * iteration directions, copy to another shard, exact memory accounting,
 * the type ops (encoding, state records), and allocation failures that
 * leave the elements unchanged.
 */
#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

#include "cu_main.h"
#include "../../storage/list/quicklist.h"

#define MODEL_MAX 20000

struct model {
    uint32_t n;
    struct hp_slice v[MODEL_MAX]; /* malloc'ed copies */
};

static struct model m;
static struct shard *s, *s2;

static struct hp_slice dup_slice(struct hp_slice v)
{
    uint8_t *p = malloc(v.len + 1);
    HP_ASSERT(p != NULL);
    memcpy(p, v.ptr, v.len);
    return hp_slice_make(p, v.len);
}

static void model_insert(uint32_t ix, struct hp_slice v)
{
    HP_ASSERT(m.n < MODEL_MAX);
    memmove(&m.v[ix + 1], &m.v[ix], (m.n - ix) * sizeof(m.v[0]));
    m.v[ix] = dup_slice(v);
    m.n++;
}

static void model_delete(uint32_t ix, uint32_t count)
{
    for (uint32_t i = ix; i < ix + count; i++)
        free((void *)m.v[i].ptr);
    memmove(&m.v[ix], &m.v[ix + count], (m.n - ix - count) * sizeof(m.v[0]));
    m.n -= count;
}

static void model_clear(void)
{
    model_delete(0, m.n);
}

static bool slice_same(struct hp_slice a, struct hp_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* The list equals the model, read forwards and backwards. */
static void expect_model(const struct quicklist *ql)
{
    CU_ASSERT_FATAL(ql_check(ql));
    CU_ASSERT_EQUAL_FATAL(ql_len(ql), m.n);
    if (m.n == 0)
        return;
    struct ql_iter it;
    struct hp_slice v;
    ql_iter_at(ql, 0, true, &it);
    for (uint32_t i = 0; i < m.n; i++) {
        CU_ASSERT_FATAL(ql_iter_get(&it, &v));
        CU_ASSERT_FATAL(slice_same(v, m.v[i]));
        ql_iter_next(&it);
    }
    CU_ASSERT(!ql_iter_get(&it, &v));
    ql_iter_at(ql, m.n - 1, false, &it);
    for (uint32_t i = m.n; i-- > 0;) {
        CU_ASSERT_FATAL(ql_iter_get(&it, &v));
        CU_ASSERT_FATAL(slice_same(v, m.v[i]));
        ql_iter_next(&it);
    }
    CU_ASSERT(!ql_iter_get(&it, &v));
}

static uint8_t valbuf[20000];

static struct hp_slice rand_value(unsigned *seed)
{
    unsigned r = (unsigned)rand_r(seed) % 100;
    size_t len = r < 60 ? (size_t)(rand_r(seed) % 12)
                 : r < 90 ? (size_t)(rand_r(seed) % 400)
                 : r < 97 ? 3000 : (r < 99 ? QL_NODE_MAX_BYTES - QL_ENTRY_OVERHEAD : 9000);
    memset(valbuf, 'a' + rand_r(seed) % 4, len);
    if (len > 0)
        valbuf[0] = (uint8_t)('0' + rand_r(seed) % 10);
    return hp_slice_make(valbuf, len);
}

static size_t payload_bytes(struct shard *sh)
{
    struct shard_stats st;
    shard_get_stats(sh, &st);
    return st.mem_payload;
}

static int suite_init(void)
{
    s = shard_create(0);
    s2 = shard_create(1);
    return s == NULL || s2 == NULL || list_type_register() != 0 || list_type_register() != 0;
}

static int suite_clean(void)
{
    model_clear();
    shard_destroy(s);
    shard_destroy(s2);
    return 0;
}

static void test_push_pop_ends(void)
{
    struct quicklist *ql = ql_create(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ql);
    char b[32];
    for (int i = 0; i < 3000; i++) {
        struct hp_slice v = hp_slice_make(b, (size_t)snprintf(b, sizeof(b), "v%d", i));
        bool head = i % 3 == 0;
        CU_ASSERT_EQUAL_FATAL(ql_push(s, ql, head, v), 0);
        model_insert(head ? 0 : m.n, v);
    }
    expect_model(ql);
    CU_ASSERT(ql->nodes > 1);   /* 3000 small elements do not fit one 8 KiB node */
    CU_ASSERT_EQUAL(ql_mem_usage(ql), payload_bytes(s));
    struct hp_slice v0 = ql_index(ql, 0), vl = ql_index(ql, m.n - 1);
    CU_ASSERT(slice_same(v0, m.v[0]));
    CU_ASSERT(slice_same(vl, m.v[m.n - 1]));
    ql_delete_range(s, ql, 0, 10);
    model_delete(0, 10);
    ql_delete_range(s, ql, m.n - 10, 10);
    model_delete(m.n - 10, 10);
    expect_model(ql);
    ql_delete_range(s, ql, 0, m.n);
    model_clear();
    expect_model(ql);
    CU_ASSERT_EQUAL(ql->nodes, 0);
    CU_ASSERT_EQUAL(ql_mem_usage(ql), payload_bytes(s));
    ql_free(s, ql);
    CU_ASSERT_EQUAL(payload_bytes(s), 0);
}

static void test_random_against_model(void)
{
    unsigned seed = 12345;
    struct quicklist *ql = ql_create(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ql);
    for (int step = 0; step < 20000; step++) {
        unsigned op = (unsigned)rand_r(&seed) % 100;
        if (op < 35 || m.n == 0) {
            struct hp_slice v = rand_value(&seed);
            uint32_t ix = m.n == 0 ? 0 : (uint32_t)rand_r(&seed) % (m.n + 1);
            if (op % 4 == 0)
                ix = 0;
            else if (op % 4 == 1)
                ix = m.n;
            if (m.n >= MODEL_MAX - 1)
                continue;
            CU_ASSERT_EQUAL_FATAL(ql_insert(s, ql, ix, v), 0);
            model_insert(ix, v);
        } else if (op < 50) {
            uint32_t ix = (uint32_t)rand_r(&seed) % m.n;
            struct hp_slice v = rand_value(&seed);
            CU_ASSERT_EQUAL_FATAL(ql_replace(s, ql, ix, v), 0);
            model_delete(ix, 1);
            model_insert(ix, v);
        } else if (op < 65) {
            uint32_t ix = (uint32_t)rand_r(&seed) % m.n;
            uint32_t cnt = (uint32_t)rand_r(&seed) % (HP_MIN(m.n - ix, 50u) + 1);
            ql_delete_range(s, ql, ix, cnt);
            model_delete(ix, cnt);
        } else if (op < 75) {
            struct hp_slice v = m.v[(uint32_t)rand_r(&seed) % m.n];
            struct hp_slice key = dup_slice(v);
            uint64_t limit = (uint64_t)rand_r(&seed) % 4;
            bool tail = rand_r(&seed) % 2;
            uint64_t got = ql_remove(s, ql, key, limit, tail);
            uint64_t want = 0;
            for (uint32_t k = 0; k < m.n && (limit == 0 || want < limit); k++) {
                uint32_t i = tail ? m.n - 1 - k : k;
                if (slice_same(m.v[i], key)) {
                    model_delete(i, 1);
                    want++;
                    k--; /* the next candidate took this place (or this count) */
                }
            }
            CU_ASSERT_EQUAL_FATAL(got, want);
            free((void *)key.ptr);
        } else {
            uint32_t ix = (uint32_t)rand_r(&seed) % m.n;
            CU_ASSERT_FATAL(slice_same(ql_index(ql, ix), m.v[ix]));
        }
        if (step % 500 == 0) {
            expect_model(ql);
            CU_ASSERT_EQUAL(ql_mem_usage(ql), payload_bytes(s));
        }
    }
    expect_model(ql);
    /* A copy in another shard's arena is equal and accounted there. */
    struct quicklist *c = ql_copy(s2, ql);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    expect_model(c);
    CU_ASSERT_EQUAL(ql_mem_usage(c), payload_bytes(s2));
    ql_free(s2, c);
    CU_ASSERT_EQUAL(payload_bytes(s2), 0);
    ql_free(s, ql);
    model_clear();
    CU_ASSERT_EQUAL(payload_bytes(s), 0);
}

static void test_node_bounds(void)
{
    struct quicklist *ql = ql_create(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ql);
    static uint8_t big[20000];
    memset(big, 'x', sizeof(big));
    /* One element exactly a node, one over: each a node of its own. */
    struct hp_slice exact = hp_slice_make(big, QL_NODE_MAX_BYTES - QL_ENTRY_OVERHEAD);
    struct hp_slice over = hp_slice_make(big, sizeof(big));
    CU_ASSERT_EQUAL(ql_push(s, ql, false, exact), 0);
    model_insert(m.n, exact);
    CU_ASSERT_EQUAL(ql_push(s, ql, false, over), 0);
    model_insert(m.n, over);
    CU_ASSERT_EQUAL(ql->nodes, 2);
    CU_ASSERT_EQUAL(ql_push(s, ql, false, hp_slice_make("a", 1)), 0);
    model_insert(m.n, hp_slice_make("a", 1));
    CU_ASSERT_EQUAL(ql->nodes, 3);
    /* In the middle of a full node: a split. */
    CU_ASSERT_EQUAL(ql_insert(s, ql, 1, hp_slice_make("mid", 3)), 0);
    model_insert(1, hp_slice_make("mid", 3));
    expect_model(ql);
    /* An empty element. */
    CU_ASSERT_EQUAL(ql_insert(s, ql, 2, hp_slice_make("", 0)), 0);
    model_insert(2, hp_slice_make("", 0));
    expect_model(ql);
    ql_free(s, ql);
    model_clear();
}

static void test_alloc_failures(void)
{
    struct quicklist *ql = ql_create(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ql);
    char b[64];
    for (int i = 0; i < 2000; i++) {
        struct hp_slice v = hp_slice_make(b, (size_t)snprintf(b, sizeof(b), "element-%d", i));
        CU_ASSERT_EQUAL_FATAL(ql_push(s, ql, false, v), 0);
        model_insert(m.n, v);
    }
    unsigned seed = 7;
    int failures = 0;
    for (int i = 0; i < 300; i++) {
        struct hp_slice v = rand_value(&seed);
        uint32_t ix = (uint32_t)rand_r(&seed) % (m.n + 1);
        shard_debug_fail_allocs(s, (uint64_t)(i % 3));
        int rc = i % 2 ? ql_insert(s, ql, ix, v) : ql_replace(s, ql, ix % m.n, v);
        shard_debug_fail_allocs(s, UINT64_MAX);
        if (rc != 0) {
            failures++;
        } else if (i % 2) {
            model_insert(ix, v);
        } else {
            model_delete(ix % m.n, 1);
            model_insert(ix % m.n, v);
        }
        CU_ASSERT_FATAL(ql_check(ql));
    }
    CU_ASSERT(failures > 0);
    expect_model(ql);
    shard_debug_fail_allocs(s, 0);
    CU_ASSERT_PTR_NULL(ql_create(s));
    CU_ASSERT_PTR_NULL(ql_copy(s, ql));
    shard_debug_fail_allocs(s, 3);
    CU_ASSERT_PTR_NULL(ql_copy(s, ql));  /* part-way: nothing of the copy left */
    shard_debug_fail_allocs(s, UINT64_MAX);
    ql_free(s, ql);
    model_clear();
    CU_ASSERT_EQUAL(payload_bytes(s), 0);
}

struct recs {
    int n;
    uint32_t values;
    bool ok;
};

static int count_emit(void *arg, uint32_t argc, const struct hp_slice *argv)
{
    struct recs *r = arg;
    if (r->n == 0)
        r->ok = argc == 2 && slice_same(argv[0], hp_slice_make("DEL", 3));
    else
        r->ok = r->ok && argc > 2 && argc <= 64 && slice_same(argv[0], hp_slice_make("RPUSH", 5));
    if (r->n > 0)
        r->values += argc - 2;
    r->n++;
    return 0;
}

static void test_type_ops(void)
{
    const struct type_ops *ops = obj_type_ops(OBJ_LIST);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ops);
    CU_ASSERT_STRING_EQUAL(ops->name, "list");
    struct quicklist *ql = ql_create(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ql);
    for (int i = 0; i < 130; i++)
        CU_ASSERT_EQUAL(ql_push(s, ql, false, hp_slice_make("x", 1)), 0);
    /* Redis 7.0 answers "quicklist" for every list, small or not. */
    CU_ASSERT_STRING_EQUAL(ops->encoding(ql), "quicklist");
    CU_ASSERT_EQUAL(ops->mem_usage(ql), ql_mem_usage(ql));
    struct recs r = {0};
    CU_ASSERT_EQUAL(ops->state_records(ql, hp_slice_make("k", 1), count_emit, &r), 0);
    CU_ASSERT(r.ok);
    CU_ASSERT_EQUAL(r.n, 1 + 3);     /* DEL, then 62 + 62 + 6 values */
    CU_ASSERT_EQUAL(r.values, 130);
    /* Through a key: TYPE, encoding, state records with the TTL. */
    CU_ASSERT_EQUAL(shard_obj_set(s, 0, hp_slice_make("k", 1), OBJ_LIST, ql, SHARD_NO_EXPIRE,
                                  1000), 0);
    struct entry *e = NULL;
    CU_ASSERT_EQUAL(shard_find_typed(s, 0, hp_slice_make("k", 1), OBJ_LIST, 1000, &e),
                    SHARD_LOOKUP_FOUND);
    CU_ASSERT_STRING_EQUAL(entry_type_name(e), "list");
    CU_ASSERT_STRING_EQUAL(entry_encoding(e), "quicklist");
    shard_flush_db(s, 0);
    CU_ASSERT_EQUAL(payload_bytes(s), 0);
}

/* Deletes leave no chain of near-empty nodes: neighbours merge. */
static void test_merge_after_deletes(void)
{
    struct quicklist *ql = ql_create(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ql);
    for (int i = 0; i < 6000; i++) {
        struct hp_slice v = i % 50 == 0 ? hp_slice_make("keep", 4) : hp_slice_make("dropme", 6);
        CU_ASSERT_EQUAL_FATAL(ql_push(s, ql, false, v), 0);
        model_insert(m.n, v);
    }
    uint64_t nodes = ql->nodes;
    CU_ASSERT(nodes > 10);
    CU_ASSERT_EQUAL(ql_remove(s, ql, hp_slice_make("dropme", 6), 0, false), 5880);
    for (uint32_t i = m.n; i-- > 0;)
        if (m.v[i].len == 6)
            model_delete(i, 1);
    expect_model(ql);
    CU_ASSERT(ql->nodes <= 2);     /* 120 small elements fit one node */
    CU_ASSERT_EQUAL(ql_mem_usage(ql), payload_bytes(s));
    for (int i = 0; i < 6000; i++) {
        CU_ASSERT_EQUAL_FATAL(ql_push(s, ql, i % 2, hp_slice_make("fill", 4)), 0);
        model_insert(i % 2 ? 0 : m.n, hp_slice_make("fill", 4));
    }
    ql_delete_range(s, ql, 5, m.n - 10);
    model_delete(5, m.n - 10);
    expect_model(ql);
    CU_ASSERT_EQUAL(ql->nodes, 1);
    CU_ASSERT_EQUAL(ql_mem_usage(ql), payload_bytes(s));
    ql_free(s, ql);
    model_clear();
}

static CU_TestInfo list_tests[] = {
    {"deletes merge neighbouring nodes", test_merge_after_deletes},
    {"push at both ends, index, delete ranges, accounting", test_push_pop_ends},
    {"random operations against an array model", test_random_against_model},
    {"node bounds: exact, oversize, split, empty element", test_node_bounds},
    {"allocation failures leave the elements unchanged", test_alloc_failures},
    {"type ops: name, encoding, memory, state records", test_type_ops},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"list", suite_init, suite_clean, NULL, NULL, list_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
