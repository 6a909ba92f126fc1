/*
 * test_exec_changes.c - handlers report what they changed (exec.h
 * exec_key_changed / exec_db_flushed): the log, and everything else that
 * follows a write (core/call.c), is built from that list alone, so a key
 * whose state changed but is not in the list would be lost on restart.
 *
 * The main check is a differential one: for each write below, the state of
 * every key of a small universe (exists, value, TTL) is taken before and
 * after; every key whose state differs must be in the list.  Also: reads
 * report nothing, the list's limit (overflow), flushes, OOM part-way.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "../../common/resp.h"
#include "../../dataplane/commands/cmd.h"
#include "cu_main.h"

#include "exec_harness.h"

static struct exec_changes changes;

#define NKEYS 6
static const char *const universe[NKEYS] = {"a", "b", "c", "{a}x", "n", "f"};

struct kstate {
    bool exists;
    char val[64];
    size_t len;
    int64_t exp;
};

static void snapshot(struct kstate *st)
{
    for (int i = 0; i < NKEYS; i++) {
        struct hp_slice k = hp_slice_make(universe[i], strlen(universe[i]));
        struct entry *e = shard_find(shards[slot_map[slot_of_key(k.ptr, k.len)]], db, k, now_ms);
        memset(&st[i], 0, sizeof(st[i]));
        if (e == NULL)
            continue;
        st[i].exists = true;
        struct hp_slice v = entry_str(e);
        st[i].len = v.len;
        memcpy(st[i].val, v.ptr, HP_MIN(v.len, sizeof(st[i].val)));
        st[i].exp = entry_expire_ms(e);
    }
}

static bool reported(const char *key)
{
    for (uint32_t i = 0; i < changes.n; i++)
        if (changes.keys[i].db == db && changes.keys[i].key.len == strlen(key) &&
            memcmp(changes.keys[i].key.ptr, key, changes.keys[i].key.len) == 0)
            return true;
    return false;
}

/* Run `line`; every key of the universe that changed must be reported. */
static void check_reports(exec_fn fn, const char *line)
{
    struct kstate before[NKEYS], after[NKEYS];
    snapshot(before);
    exec_line(fn, line);
    snapshot(after);
    CU_ASSERT_FALSE(changes.overflow);
    for (int i = 0; i < NKEYS; i++) {
        bool changed = memcmp(&before[i], &after[i], sizeof(before[i])) != 0;
        if (changed && !reported(universe[i])) {
            fprintf(stderr, "\n  %s: key %s changed but was not reported\n", line, universe[i]);
            CU_FAIL("a changed key was not reported");
        }
    }
}

static void populate(void)
{
    reset();
    track = NULL;
    exec_line(cmd_mset, "mset a 1 b 2 c 3 {a}x 4 n 10 f 1.5");
    exec_line(cmd_pexpire, "pexpire c 100000");
    track = &changes;
}

static void test_every_write_reports_what_it_changed(void)
{
    static const struct {
        exec_fn fn;
        const char *line;
    } writes[] = {
        {cmd_set, "set a v"},          {cmd_set, "set a v px 500"},   {cmd_set, "set c v keepttl"},
        {cmd_set, "set a v get"},      {cmd_set, "set zz v nx"},      {cmd_setnx, "setnx a v"},
        {cmd_setnx, "setnx zz v"},     {cmd_setex, "setex a 10 v"},   {cmd_psetex, "psetex b 10 v"},
        {cmd_getset, "getset a v"},    {cmd_getdel, "getdel b"},      {cmd_getex, "getex c persist"},
        {cmd_getex, "getex a px 5"},   {cmd_mset, "mset a 9 b 8 c 7"}, {cmd_msetnx, "msetnx q 1 r 2"},
        {cmd_append, "append a xyz"},  {cmd_append, "append q xyz"},  {cmd_setrange, "setrange b 3 zz"},
        {cmd_incr, "incr n"},          {cmd_decr, "decr n"},          {cmd_incrby, "incrby n 5"},
        {cmd_decrby, "decrby n 5"},    {cmd_incrbyfloat, "incrbyfloat f 1"},
        {cmd_del, "del a b zz"},       {cmd_unlink, "unlink c"},      {cmd_rename, "rename a {a}x"},
        {cmd_rename, "rename a zz"},   {cmd_renamenx, "renamenx b {a}x"},
        {cmd_renamenx, "renamenx b q"}, {cmd_expire, "expire a 100"}, {cmd_pexpire, "pexpire a -1"},
        {cmd_expireat, "expireat b 1"}, {cmd_pexpireat, "pexpireat b 1800000000000"},
        {cmd_persist, "persist c"},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(writes); i++) {
        populate();
        check_reports(writes[i].fn, writes[i].line);
    }
    track = NULL;
}

/* RENAME onto another shard: both keys (copy there, delete here). */
static void test_rename_across_shards(void)
{
    populate();
    char dst[32], line[64];
    key_on((shard_of("a") + 1) % NSHARDS, "r", dst, sizeof(dst));
    snprintf(line, sizeof(line), "rename a %s", dst);
    EXPECT(cmd_rename, line, "+OK\r\n");
    CU_ASSERT_TRUE(reported("a"));
    CU_ASSERT_TRUE(reported(dst));
    track = NULL;
}

static void test_reads_report_nothing(void)
{
    populate();
    static const struct {
        exec_fn fn;
        const char *line;
    } reads[] = {
        {cmd_get, "get a"}, {cmd_mget, "mget a b c"}, {cmd_exists, "exists a b"},
        {cmd_ttl, "ttl c"}, {cmd_strlen, "strlen a"}, {cmd_getrange, "getrange a 0 1"},
        {cmd_type, "type a"}, {cmd_dbsize, "dbsize"},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(reads); i++) {
        exec_line(reads[i].fn, reads[i].line);
        CU_ASSERT_EQUAL(changes.n, 0);
        CU_ASSERT_FALSE(changes.overflow);
        CU_ASSERT_EQUAL(changes.flushed_dbs, 0);
        CU_ASSERT_FALSE(changes.flushed_all);
    }
    track = NULL;
}

/* Past EXEC_CHANGED_MAX keys the list says so (the caller then logs every
 * key the key specs name) instead of dropping keys silently. */
static void test_list_limit(void)
{
    populate();
    enum { N = EXEC_CHANGED_MAX + 10 };
    static char names[N][16];
    struct hp_slice argv[N + 1];
    argv[0] = hp_slice_make("del", 3);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "k%d", i);
        argv[i + 1] = hp_slice_make(names[i], strlen(names[i]));
    }
    exec_slices(cmd_del, N + 1, argv);
    CU_ASSERT_EQUAL(changes.n, EXEC_CHANGED_MAX);
    CU_ASSERT_TRUE(changes.overflow);
    exec_slices(cmd_del, EXEC_CHANGED_MAX + 1, argv);
    CU_ASSERT_EQUAL(changes.n, EXEC_CHANGED_MAX);
    CU_ASSERT_FALSE(changes.overflow);
    track = NULL;
}

static void test_flushes(void)
{
    populate();
    db = 3;
    EXPECT(cmd_flushdb, "flushdb", "+OK\r\n");
    CU_ASSERT_EQUAL(changes.flushed_dbs, 1u << 3);
    CU_ASSERT_FALSE(changes.flushed_all);
    exec_line(cmd_flushall, "flushall");
    CU_ASSERT_TRUE(changes.flushed_all);
    exec_line(cmd_flushdb, "flushdb bogus");
    CU_ASSERT_EQUAL(changes.flushed_dbs, 0); /* a syntax error flushes nothing */
    track = NULL;
}

/* MSET out of memory part-way: the pairs it set are reported although the
 * reply is the OOM error (they stay set and must be logged). */
static void test_oom_part_way_reports_the_set_pairs(void)
{
    populate();
    fail_allocs(2);
    exec_line(cmd_mset, "mset p1 1 p2 2 p3 3 p4 4");
    CU_ASSERT(out.len > 4 && memcmp(out.data, "-OOM", 4) == 0);
    fail_allocs(UINT64_MAX);
    static const char *const keys[] = {"p1", "p2", "p3", "p4"};
    int set = 0;
    for (int i = 0; i < 4; i++) {
        struct hp_slice k = hp_slice_make(keys[i], 2);
        bool exists = shard_find(shards[slot_map[slot_of_key(k.ptr, k.len)]], db, k, now_ms);
        set += exists;
        if (exists)
            CU_ASSERT_TRUE(reported(keys[i]));
    }
    CU_ASSERT(set > 0 && set < 4);
    track = NULL;
}

/* ---- operation records (exec_log_record / exec_log_argv / exec_log_states) ---- */

static void record_ctx(struct exec_ctx *x, int argc, const struct hp_slice *argv)
{
    memset(x, 0, sizeof(*x));
    x->db = 2;
    x->argc = argc;
    x->argv = argv;
    x->chg = &changes;
    exec_changes_reset(&changes);
}

/* A record's bytes are copied: the value it came from may be freed by the
 * command right after (SPOP pops what it logs). */
static void test_record_copies_its_bytes(void)
{
    struct exec_ctx x;
    record_ctx(&x, 0, NULL);
    char member[8] = "m1";
    struct hp_slice argv[3] = {hp_slice_make("SREM", 4), hp_slice_make("s", 1),
                               hp_slice_make(member, 2)};
    exec_log_record(&x, 5, 3, argv);
    memcpy(member, "XX", 2);
    CU_ASSERT_TRUE(exec_changes_use_records(&changes));
    CU_ASSERT_EQUAL(changes.nrec, 1);
    CU_ASSERT_EQUAL(changes.recs[0].db, 5);
    CU_ASSERT_EQUAL(changes.recs[0].argc, 3);
    CU_ASSERT_EQUAL(changes.recs[0].argv[2].len, 2);
    CU_ASSERT_EQUAL(memcmp(changes.recs[0].argv[2].ptr, "m1", 2), 0);
    CU_ASSERT_EQUAL(changes.rec_nbytes, 4 + 1 + 2);
}

/* The command as received: no copy, its own db, and a command wider than
 * one record falls back to the states instead of being cut. */
static void test_record_argv(void)
{
    struct hp_slice argv[EXEC_RECORD_ARGC_MAX + 1];
    for (int i = 0; i <= EXEC_RECORD_ARGC_MAX; i++)
        argv[i] = hp_slice_make("f", 1);
    struct exec_ctx x;
    record_ctx(&x, 3, argv);
    exec_log_argv(&x);
    CU_ASSERT_TRUE(exec_changes_use_records(&changes));
    CU_ASSERT_PTR_EQUAL(changes.recs[0].argv, argv);
    CU_ASSERT_EQUAL(changes.recs[0].db, 2);
    record_ctx(&x, EXEC_RECORD_ARGC_MAX, argv);
    exec_log_argv(&x);
    CU_ASSERT_TRUE(exec_changes_use_records(&changes));
    record_ctx(&x, EXEC_RECORD_ARGC_MAX + 1, argv);
    exec_log_argv(&x);
    CU_ASSERT_TRUE(changes.rec_overflow);
    CU_ASSERT_FALSE(exec_changes_use_records(&changes));
}

/* Every limit (records, arguments in all, bytes) ends in the state
 * fallback, never in a record cut short; and nothing is added after. */
static void test_record_limits(void)
{
    struct exec_ctx x;
    struct hp_slice two[2] = {hp_slice_make("DEL", 3), hp_slice_make("k", 1)};
    record_ctx(&x, 0, NULL);
    for (int i = 0; i < EXEC_RECORDS_MAX; i++)
        exec_log_record(&x, 0, 2, two);
    CU_ASSERT_TRUE(exec_changes_use_records(&changes));
    exec_log_record(&x, 0, 2, two);
    CU_ASSERT_TRUE(changes.rec_overflow);
    CU_ASSERT_EQUAL(changes.nrec, EXEC_RECORDS_MAX);

    static char big[EXEC_RECORD_BYTES];
    struct hp_slice wide[3] = {hp_slice_make("SET", 3), hp_slice_make("k", 1),
                               hp_slice_make(big, EXEC_RECORD_BYTES - 4)};
    record_ctx(&x, 0, NULL);
    exec_log_record(&x, 0, 3, wide); /* exactly fills the bytes */
    CU_ASSERT_TRUE(exec_changes_use_records(&changes));
    CU_ASSERT_EQUAL(changes.rec_nbytes, EXEC_RECORD_BYTES);
    exec_log_record(&x, 0, 2, two);
    CU_ASSERT_TRUE(changes.rec_overflow);
    CU_ASSERT_EQUAL(changes.nrec, 1);

    struct hp_slice many[EXEC_RECORD_ARGC_MAX];
    for (int i = 0; i < EXEC_RECORD_ARGC_MAX; i++)
        many[i] = hp_slice_make("a", 1);
    record_ctx(&x, 0, NULL);
    int fit = EXEC_RECORD_ARGS / EXEC_RECORD_ARGC_MAX;
    for (int i = 0; i < fit && i < EXEC_RECORDS_MAX; i++)
        exec_log_record(&x, 0, EXEC_RECORD_ARGC_MAX, many);
    CU_ASSERT_TRUE(exec_changes_use_records(&changes));
    if (fit < EXEC_RECORDS_MAX) {
        exec_log_record(&x, 0, EXEC_RECORD_ARGC_MAX, many);
        CU_ASSERT_TRUE(changes.rec_overflow);
    }
}

/* A handler that failed part-way drops its records for the states; reset
 * clears everything for the next command; no change list, no records. */
static void test_record_states_and_reset(void)
{
    struct exec_ctx x;
    struct hp_slice two[2] = {hp_slice_make("DEL", 3), hp_slice_make("k", 1)};
    record_ctx(&x, 0, NULL);
    exec_log_record(&x, 0, 2, two);
    exec_log_states(&x);
    CU_ASSERT_FALSE(exec_changes_use_records(&changes));
    exec_changes_reset(&changes);
    CU_ASSERT_EQUAL(changes.nrec, 0);
    CU_ASSERT_FALSE(changes.rec_states);
    CU_ASSERT_FALSE(exec_changes_use_records(&changes)); /* no record: states */
    x.chg = NULL;
    exec_log_record(&x, 0, 2, two);
    exec_log_states(&x);
    CU_ASSERT_EQUAL(changes.nrec, 0);
}

static CU_TestInfo change_tests[] = {
    {"every write reports what it changed", test_every_write_reports_what_it_changed},
    {"rename across shards", test_rename_across_shards},
    {"reads report nothing", test_reads_report_nothing},
    {"list limit", test_list_limit},
    {"flushes", test_flushes},
    {"OOM part-way reports the set pairs", test_oom_part_way_reports_the_set_pairs},
    {"record copies its bytes", test_record_copies_its_bytes},
    {"record argv", test_record_argv},
    {"record limits", test_record_limits},
    {"record states and reset", test_record_states_and_reset},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"exec_changes", suite_init, suite_clean, NULL, NULL, change_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
