/*
 * test_cmd_list.c - the list handlers through exec_harness.h: exact RESP2
 * and RESP3 replies, WRONGTYPE, LMOVE/LMPOP across shards, the changed
 * keys and operation records each write reports (replaying the records on
 * the state before a command gives the state after it), and out of memory
 * leaving the keyspace unchanged or logged as states.
 */
#include <stdlib.h>

#include "cu_main.h"
#include "exec_harness.h"
#include "../../storage/list/quicklist.h"
#include "../../storage/types.h"

static struct exec_changes changes;

static int list_suite_init(void)
{
    return suite_init() != 0 || list_type_register() != 0;
}

static void test_push_pop_replies(void)
{
    reset();
    EXPECT(cmd_lpop, "LPOP nokey", "$-1\r\n");
    EXPECT(cmd_lpop, "LPOP nokey 2", "*-1\r\n");
    EXPECT(cmd_lpop, "LPOP nokey -1", "-ERR value is out of range, must be positive\r\n");
    EXPECT(cmd_rpush, "RPUSH l a b c", ":3\r\n");
    EXPECT(cmd_lpush, "LPUSH l z", ":4\r\n");
    EXPECT(cmd_lrange, "LRANGE l 0 -1", "*4\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    EXPECT(cmd_lpop, "LPOP l 0", "*0\r\n");
    EXPECT(cmd_rpop, "RPOP l 2", "*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
    EXPECT(cmd_lpop, "LPOP l", "$1\r\nz\r\n");
    EXPECT(cmd_lpop, "LPOP l 5", "*1\r\n$1\r\na\r\n");
    EXPECT(cmd_llen, "LLEN l", ":0\r\n");     /* the empty list went */
    EXPECT(cmd_lpushx, "LPUSHX l a", ":0\r\n");
    proto = 3;
    EXPECT(cmd_lpop, "LPOP nokey", "_\r\n");
    EXPECT(cmd_lpop, "LPOP nokey 1", "_\r\n");
    EXPECT(cmd_lindex, "LINDEX nokey 0", "_\r\n");
    EXPECT(cmd_lmpop, "LMPOP 1 nokey LEFT", "_\r\n");
}

static void test_read_and_edit_replies(void)
{
    reset();
    EXPECT(cmd_rpush, "RPUSH l a b c a b a", ":6\r\n");
    EXPECT(cmd_lindex, "LINDEX l -1", "$1\r\na\r\n");
    EXPECT(cmd_lindex, "LINDEX l 6", "$-1\r\n");
    EXPECT(cmd_lindex, "LINDEX l x", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_lset, "LSET l 1 B", "+OK\r\n");
    EXPECT(cmd_lset, "LSET l 9 B", "-ERR index out of range\r\n");
    EXPECT(cmd_lset, "LSET nokey 0 B", "-ERR no such key\r\n");
    EXPECT(cmd_linsert, "LINSERT l BEFORE c C", ":7\r\n");
    EXPECT(cmd_linsert, "LINSERT l AFTER nope C", ":-1\r\n");
    EXPECT(cmd_linsert, "LINSERT l MIDDLE c C", "-ERR syntax error\r\n");
    EXPECT(cmd_lpos, "LPOS l a RANK -1", ":6\r\n");
    EXPECT(cmd_lpos, "LPOS l a COUNT 0", "*3\r\n:0\r\n:4\r\n:6\r\n");
    EXPECT(cmd_lpos, "LPOS l a RANK 2 COUNT 1", "*1\r\n:4\r\n");
    EXPECT(cmd_lpos, "LPOS l a MAXLEN 1 COUNT 0", "*1\r\n:0\r\n");
    EXPECT(cmd_lpos, "LPOS l a COUNT -1", "-ERR COUNT can't be negative\r\n");
    EXPECT(cmd_lpos, "LPOS l a BOGUS", "-ERR syntax error\r\n");
    EXPECT(cmd_lrem, "LREM l -2 a", ":2\r\n");
    EXPECT(cmd_lrange, "LRANGE l 0 -1", "*5\r\n$1\r\na\r\n$1\r\nB\r\n$1\r\nC\r\n$1\r\nc\r\n$1\r\nb\r\n");
    EXPECT(cmd_ltrim, "LTRIM l 1 -2", "+OK\r\n");
    EXPECT(cmd_lrange, "LRANGE l 0 -1", "*3\r\n$1\r\nB\r\n$1\r\nC\r\n$1\r\nc\r\n");
    EXPECT(cmd_ltrim, "LTRIM l 5 1", "+OK\r\n");
    EXPECT(cmd_llen, "LLEN l", ":0\r\n");
    exec_line(cmd_set, "SET s v");
    EXPECT(cmd_llen, "LLEN s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    EXPECT(cmd_lpush, "LPUSH s a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    EXPECT(cmd_lrange, "LRANGE s x 1", "-ERR value is not an integer or out of range\r\n");
}

static void test_move_across_shards(void)
{
    reset();
    char a[32], b[32], line[128];
    key_on(0, "src", a, sizeof(a));
    key_on(1, "dst", b, sizeof(b));
    snprintf(line, sizeof(line), "RPUSH %s x y", a);
    exec_line(cmd_rpush, line);
    track = &changes;
    snprintf(line, sizeof(line), "LMOVE %s %s RIGHT LEFT", a, b);
    EXPECT(cmd_lmove, line, "$1\r\ny\r\n");
    /* One record per shard, each naming only its own key. */
    CU_ASSERT_EQUAL(changes.nrec, 2);
    CU_ASSERT_EQUAL(changes.recs[0].argc, 2);
    CU_ASSERT_EQUAL(memcmp(changes.recs[0].argv[0].ptr, "RPOP", 4), 0);
    CU_ASSERT_EQUAL(memcmp(changes.recs[0].argv[1].ptr, a, strlen(a)), 0);
    CU_ASSERT_EQUAL(changes.recs[1].argc, 3);
    CU_ASSERT_EQUAL(memcmp(changes.recs[1].argv[0].ptr, "LPUSH", 5), 0);
    CU_ASSERT_EQUAL(memcmp(changes.recs[1].argv[1].ptr, b, strlen(b)), 0);
    CU_ASSERT_EQUAL(changes.n, 2);
    snprintf(line, sizeof(line), "RPOPLPUSH %s %s", a, b);
    EXPECT(cmd_rpoplpush, line, "$1\r\nx\r\n");
    snprintf(line, sizeof(line), "LRANGE %s 0 -1", b);
    EXPECT(cmd_lrange, line, "*2\r\n$1\r\nx\r\n$1\r\ny\r\n");
    snprintf(line, sizeof(line), "LLEN %s", a);
    EXPECT(cmd_llen, line, ":0\r\n");
    snprintf(line, sizeof(line), "LMPOP 2 %s %s RIGHT COUNT 5", a, b);
    exec_line(cmd_lmpop, line);
    char want[128];
    int wl = snprintf(want, sizeof(want), "*2\r\n$%zu\r\n%s\r\n*2\r\n$1\r\ny\r\n$1\r\nx\r\n",
                      strlen(b), b);
    check_out(__LINE__, line, want, (size_t)wl);
    /* LMPOP's record: the count it popped, on the popped key's shard. */
    track = NULL;
}

/* ---- records replay to the same state ---------------------------------------- */

#define RKEYS 4
static char rkeys[RKEYS][32];

/* A key's list as a malloc'ed array (NULL, 0 when absent). */
struct saved {
    uint32_t n;
    struct hp_slice *v;
    bool exists;
};

static void save_key(const char *k, struct saved *sv)
{
    struct hp_slice key = hp_slice_make(k, strlen(k));
    struct shard *s = shards[shard_of(k)];
    struct entry *e = NULL;
    memset(sv, 0, sizeof(*sv));
    if (shard_find_typed(s, 0, key, OBJ_LIST, now_ms, &e) != SHARD_LOOKUP_FOUND)
        return;
    const struct quicklist *ql = entry_obj(e);
    sv->exists = true;
    sv->n = (uint32_t)ql_len(ql);
    sv->v = calloc(sv->n + 1, sizeof(*sv->v));
    HP_ASSERT(sv->v != NULL);
    for (uint32_t i = 0; i < sv->n; i++) {
        struct hp_slice v = ql_index(ql, i);
        uint8_t *p = malloc(v.len + 1);
        HP_ASSERT(p != NULL);
        memcpy(p, v.ptr, v.len);
        sv->v[i] = hp_slice_make(p, v.len);
    }
}

static void restore_key(const char *k, const struct saved *sv)
{
    struct hp_slice key = hp_slice_make(k, strlen(k));
    struct shard *s = shards[shard_of(k)];
    shard_delete(s, 0, key, now_ms);
    if (!sv->exists)
        return;
    struct quicklist *ql = ql_create(s);
    HP_ASSERT(ql != NULL);
    for (uint32_t i = 0; i < sv->n; i++)
        HP_ASSERT(ql_push(s, ql, false, sv->v[i]) == 0);
    HP_ASSERT(shard_obj_set(s, 0, key, OBJ_LIST, ql, SHARD_NO_EXPIRE, now_ms) == 0);
}

static bool same_saved(const struct saved *a, const struct saved *b)
{
    if (a->exists != b->exists || a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++)
        if (a->v[i].len != b->v[i].len || memcmp(a->v[i].ptr, b->v[i].ptr, a->v[i].len) != 0)
            return false;
    return true;
}

static void free_saved(struct saved *sv)
{
    for (uint32_t i = 0; i < sv->n; i++)
        free((void *)sv->v[i].ptr);
    free(sv->v);
}

static const char *vals[] = {"a", "b", "c", "d"};

static int rand_cmd(unsigned *seed, char *line, size_t cap)
{
    const char *k = rkeys[rand_r(seed) % RKEYS], *k2 = rkeys[rand_r(seed) % RKEYS];
    const char *v = vals[rand_r(seed) % 4];
    int n = rand_r(seed) % 5 - 2;
    switch (rand_r(seed) % 12) {
    case 0: snprintf(line, cap, "RPUSH %s %s %s %s", k, v, vals[rand_r(seed) % 4], v); return 0;
    case 1: snprintf(line, cap, "LPUSH %s %s", k, v); return 1;
    case 2: snprintf(line, cap, "LPOP %s %d", k, n < 0 ? -n : n); return 2;
    case 3: snprintf(line, cap, "RPOP %s", k); return 3;
    case 4: snprintf(line, cap, "LSET %s %d %s", k, n, v); return 4;
    case 5: snprintf(line, cap, "LINSERT %s %s %s %s", k, n > 0 ? "AFTER" : "BEFORE", v, v); return 5;
    case 6: snprintf(line, cap, "LREM %s %d %s", k, n, v); return 6;
    case 7: snprintf(line, cap, "LTRIM %s %d %d", k, n, n + rand_r(seed) % 4); return 7;
    case 8: snprintf(line, cap, "LMOVE %s %s %s %s", k, k2, n > 0 ? "LEFT" : "RIGHT",
                     rand_r(seed) % 2 ? "LEFT" : "RIGHT"); return 8;
    case 9: snprintf(line, cap, "RPOPLPUSH %s %s", k, k2); return 9;
    case 10: snprintf(line, cap, "LMPOP 2 %s %s %s COUNT %d", k, k2, n > 0 ? "LEFT" : "RIGHT",
                      1 + rand_r(seed) % 3); return 10;
    default: snprintf(line, cap, "RPUSHX %s %s", k, v); return 11;
    }
}

static const exec_fn rand_fns[] = {cmd_rpush, cmd_lpush, cmd_lpop, cmd_rpop, cmd_lset,
                                   cmd_linsert, cmd_lrem, cmd_ltrim, cmd_lmove, cmd_rpoplpush,
                                   cmd_lmpop, cmd_rpushx};

static void test_records_replay(void)
{
    reset();
    key_on(0, "ra", rkeys[0], sizeof(rkeys[0]));
    key_on(0, "rb", rkeys[1], sizeof(rkeys[1]));
    key_on(1, "rc", rkeys[2], sizeof(rkeys[2]));
    key_on(2, "rd", rkeys[3], sizeof(rkeys[3]));
    unsigned seed = 99;
    int replayed = 0;
    for (int step = 0; step < 3000; step++) {
        char line[256];
        int which = rand_cmd(&seed, line, sizeof(line));
        struct saved before[RKEYS], after[RKEYS], again[RKEYS];
        for (int i = 0; i < RKEYS; i++)
            save_key(rkeys[i], &before[i]);
        /* argv outlives the call: exec_log_argv's record points at it. */
        static char lbuf[256];
        struct hp_slice largv[MAX_ARGS];
        int largc = split_line(line, lbuf, sizeof(lbuf), largv);
        track = &changes;
        exec_slices(rand_fns[which], largc, largv);
        track = NULL;
        for (int i = 0; i < RKEYS; i++)
            save_key(rkeys[i], &after[i]);
        CU_ASSERT_FATAL(!changes.rec_overflow && !changes.rec_states);
        /* A write with changes has records; one without has none. */
        CU_ASSERT_EQUAL(changes.nrec > 0, changes.n > 0);
        if (changes.nrec > 0) {
            /* Copy the records: replaying them resets the change list. */
            static char buf[EXEC_RECORDS_MAX][4096];
            static struct hp_slice args[EXEC_RECORDS_MAX][64];
            uint32_t nrec = changes.nrec, argc[EXEC_RECORDS_MAX];
            for (uint32_t r = 0; r < nrec; r++) {
                size_t off = 0;
                argc[r] = changes.recs[r].argc;
                for (uint32_t j = 0; j < argc[r]; j++) {
                    struct hp_slice a = changes.recs[r].argv[j];
                    memcpy(buf[r] + off, a.ptr, a.len);
                    args[r][j] = hp_slice_make(buf[r] + off, a.len);
                    off += a.len;
                }
            }
            for (int i = 0; i < RKEYS; i++)
                restore_key(rkeys[i], &before[i]);
            for (uint32_t r = 0; r < nrec; r++) {
                const struct cmd_spec *spec = cmd_lookup(args[r][0].ptr, args[r][0].len);
                CU_ASSERT_PTR_NOT_NULL_FATAL(spec);
                exec_slices(spec->exec, (int)argc[r], args[r]);
                CU_ASSERT(out.len > 0 && out.data[0] != '-');
            }
            for (int i = 0; i < RKEYS; i++) {
                save_key(rkeys[i], &again[i]);
                CU_ASSERT(same_saved(&after[i], &again[i]));
                free_saved(&again[i]);
            }
            replayed++;
        }
        for (int i = 0; i < RKEYS; i++) {
            free_saved(&before[i]);
            free_saved(&after[i]);
        }
    }
    CU_ASSERT(replayed > 1000);
}

static void test_wide_push_records(void)
{
    reset();
    struct hp_slice argv[200];
    char vb[200][8];
    argv[0] = hp_slice_make("RPUSH", 5);
    argv[1] = hp_slice_make("w", 1);
    for (int i = 2; i < 200; i++)
        argv[i] = hp_slice_make(vb[i], (size_t)snprintf(vb[i], sizeof(vb[i]), "%d", i));
    track = &changes;
    exec_slices(cmd_rpush, 200, argv);
    track = NULL;
    CU_ASSERT_EQUAL(out.len, 6);           /* ":198\r\n" */
    /* 198 values in records of at most 62: 4 records, values in order. */
    CU_ASSERT_EQUAL(changes.nrec, 4);
    uint32_t total = 0;
    for (uint32_t r = 0; r < changes.nrec; r++) {
        CU_ASSERT(changes.recs[r].argc <= EXEC_RECORD_ARGC_MAX);
        CU_ASSERT_EQUAL(memcmp(changes.recs[r].argv[2].ptr, vb[2 + total],
                               changes.recs[r].argv[2].len), 0);
        total += changes.recs[r].argc - 2;
    }
    CU_ASSERT_EQUAL(total, 198);
}

static void test_out_of_memory(void)
{
    reset();
    fail_allocs(0);
    EXPECT(cmd_rpush, "RPUSH l a b", "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    fail_allocs(UINT64_MAX);
    EXPECT(cmd_llen, "LLEN l", ":0\r\n");
    EXPECT(cmd_rpush, "RPUSH l a b", ":2\r\n");
    /* A push that fails part-way: the reply is OOM, the log takes states. */
    static char big[6000];
    memset(big, 'x', sizeof(big) - 1);
    struct hp_slice argv[5] = {hp_slice_make("RPUSH", 5), hp_slice_make("l", 1),
                               hp_slice_make(big, 5000), hp_slice_make(big, 5000),
                               hp_slice_make(big, 5000)};
    track = &changes;
    fail_allocs(1);
    exec_slices(cmd_rpush, 5, argv);
    fail_allocs(UINT64_MAX);
    CU_ASSERT(out.len > 0 && out.data[0] == '-');
    CU_ASSERT(changes.rec_states);
    CU_ASSERT_EQUAL(changes.n, 1);
    /* LSET, LINSERT, LMOVE out of memory: nothing changed. */
    exec_line(cmd_lrange, "LRANGE l 0 -1");
    char before[65536];
    size_t blen = out.len;
    memcpy(before, out.data, blen);
    fail_allocs(0);
    exec_slices(cmd_lset, 4, (struct hp_slice[]){hp_slice_make("LSET", 4), hp_slice_make("l", 1),
                                                 hp_slice_make("0", 1), hp_slice_make(big, 5990)});
    CU_ASSERT(out.data[0] == '-');
    exec_line(cmd_lmove, "LMOVE l newkey LEFT LEFT");
    CU_ASSERT(out.data[0] == '-');
    fail_allocs(UINT64_MAX);
    track = NULL;
    exec_line(cmd_lrange, "LRANGE l 0 -1");
    CU_ASSERT(out.len == blen && memcmp(out.data, before, blen) == 0);
    EXPECT(cmd_llen, "LLEN newkey", ":0\r\n");
}

static CU_TestInfo list_cmd_tests[] = {
    {"LPUSH/RPUSH/LPOP/RPOP replies, RESP2 and RESP3", test_push_pop_replies},
    {"LINDEX/LSET/LINSERT/LPOS/LREM/LTRIM replies, WRONGTYPE", test_read_and_edit_replies},
    {"LMOVE/RPOPLPUSH/LMPOP across shards, one record per shard", test_move_across_shards},
    {"records replayed on the prior state give the same lists", test_records_replay},
    {"a wide push is logged as records of at most 64 arguments", test_wide_push_records},
    {"out of memory: unchanged, or states logged", test_out_of_memory},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"cmd_list", list_suite_init, suite_clean, NULL, NULL, list_cmd_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
