/*
 * test_cmd_keyspace.c - INFO's keyspace_hits / keyspace_misses as the
 * handlers count them through exec_find_read (exec.h): read lookups count
 * (Redis' lookupKeyRead), lookups made to change a key do not
 * (lookupKeyWrite).  The expected counts are redis-server 7.0's for the
 * same commands (tests/e2e/test_newuser.py checks both servers).
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "../../common/resp.h"
#include "../../dataplane/commands/cmd.h"
#include "cu_main.h"

#include "exec_harness.h"

static uint64_t hits, misses;

/* The harness's exec_slices with the counters wired in, as dispatch.c's
 * exec_ctx_init does (counted false: as a context that counts nothing). */
static void run_counted(const char *line, bool counted)
{
    static char buf[4096];
    struct hp_slice argv[MAX_ARGS];
    int argc = split_line(line, buf, sizeof(buf), argv);
    const struct cmd_spec *spec = cmd_lookup(argv[0].ptr, argv[0].len);
    CU_ASSERT_FATAL(spec != NULL && spec->exec != NULL);
    count_hits = counted ? &hits : NULL;
    count_misses = counted ? &misses : NULL;
    exec_slices(spec->exec, argc, argv);
    count_hits = count_misses = NULL;
    CU_ASSERT(out.len > 0 && !out.overflow);
}

static const struct {
    const char *cmd;
    unsigned hits, misses;
} sequence[] = {
    {"SET a 1", 0, 0},
    {"SET b 2", 0, 0},
    {"GET a", 1, 0},
    {"GET nx", 0, 1},
    {"MGET a b nx ny", 2, 2},
    {"EXISTS a nx a", 2, 1},
    {"TYPE a", 1, 0},
    {"TTL nx", 0, 1},
    {"PTTL a", 1, 0},
    {"STRLEN a", 1, 0},
    {"GETRANGE nx 0 1", 0, 1},
    {"INCR c", 0, 0},
    {"INCRBYFLOAT c 1.5", 0, 0},
    {"SETNX a 5", 0, 0},
    {"MSETNX a 1 nq 2", 0, 0},
    {"APPEND a x", 0, 0},
    {"SETRANGE a 1 y", 0, 0},
    {"SET a 3 GET", 1, 0},
    {"SET d 1 NX", 0, 0},
    {"SET nz 1 XX GET", 0, 1},
    {"GETSET d 2", 1, 0},
    {"GETDEL b", 1, 0},
    {"GETEX nx", 0, 1},
    {"TOUCH a nx", 1, 1},
    {"EXPIRE a 100", 0, 0},
    {"PERSIST a", 0, 0},
    {"RENAME a e", 0, 0},
    {"DEL e nx", 0, 0},
    {"GET e", 0, 1},
};

static void test_redis_counts(void)
{
    reset();
    hits = misses = 0;
    uint64_t want_h = 0, want_m = 0;
    for (size_t i = 0; i < HP_ARRAY_LEN(sequence); i++) {
        run_counted(sequence[i].cmd, true);
        want_h += sequence[i].hits;
        want_m += sequence[i].misses;
        if (hits != want_h || misses != want_m)
            fprintf(stderr, "\n  after %s: hits %llu (want %llu), misses %llu (want %llu)\n",
                    sequence[i].cmd, (unsigned long long)hits, (unsigned long long)want_h,
                    (unsigned long long)misses, (unsigned long long)want_m);
        CU_ASSERT_EQUAL(hits, want_h);
        CU_ASSERT_EQUAL(misses, want_m);
    }
    CU_ASSERT(want_h > 0 && want_m > 0);
}

/* An expired key is a miss, as in Redis (it is deleted on the lookup). */
static void test_expired_is_miss(void)
{
    reset();
    hits = misses = 0;
    run_counted("SET t v PX 10", true);
    run_counted("GET t", true);
    now_ms += 11;
    run_counted("GET t", true);
    CU_ASSERT_EQUAL(hits, 1);
    CU_ASSERT_EQUAL(misses, 1);
}

static exec_fn exec_of(const char *name)
{
    const struct cmd_spec *spec = cmd_lookup((const uint8_t *)name, strlen(name));
    CU_ASSERT_FATAL(spec != NULL && spec->exec != NULL);
    return spec->exec;
}

/* No counters (the harness's own context, as a context without a worker):
 * nothing is counted, nothing crashes, the replies are the same. */
static void test_uncounted_context(void)
{
    reset();
    hits = misses = 0;
    run_counted("SET a 1", false);
    EXPECT(exec_of("get"), "GET a", "$1\r\n1\r\n");
    EXPECT(exec_of("get"), "GET nx", "$-1\r\n");
    CU_ASSERT_EQUAL(hits, 0);
    CU_ASSERT_EQUAL(misses, 0);
}

/* One MGET over keys of every shard counts each key once. */
static void test_mget_across_shards(void)
{
    reset();
    hits = misses = 0;
    char k0[32], k1[32], k2[32], line[160];
    key_on(0, "a", k0, sizeof(k0));
    key_on(1, "b", k1, sizeof(k1));
    key_on(2, "c", k2, sizeof(k2));
    snprintf(line, sizeof(line), "SET %s x", k1);
    run_counted(line, true);
    snprintf(line, sizeof(line), "MGET %s %s %s %s", k0, k1, k2, k1);
    run_counted(line, true);
    check_out(__LINE__, line, "*4\r\n$-1\r\n$1\r\nx\r\n$-1\r\n$1\r\nx\r\n", 28);
    CU_ASSERT_EQUAL(hits, 2);
    CU_ASSERT_EQUAL(misses, 2);
}

static CU_TestInfo keyspace_tests[] = {
    {"hits and misses as redis-server counts them", test_redis_counts},
    {"an expired key is a miss", test_expired_is_miss},
    {"a context without counters", test_uncounted_context},
    {"MGET across shards", test_mget_across_shards},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"keyspace hits/misses", suite_init, suite_clean, NULL, NULL, keyspace_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
