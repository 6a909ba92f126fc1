/*
 * test_cmd_set.c - the set handlers (cmd_set.c, cmd_set_multi.c) through
 * exec_harness.h: replies byte for byte (Redis 7.0's, RESP2 and RESP3),
 * WRONGTYPE, keys on different shards (SMOVE, the STORE forms), the
 * operation records each write reports (SADD/SREM as received, SPOP as the
 * SREM of what it popped, SMOVE as one record per shard), and out of
 * memory leaving the keyspace unchanged.
 */
#include "cu_main.h"

#include "../../dataplane/commands/cmd.h"
#include "../../storage/set/set.h"
#include "../../common/resp.h"
#include "exec_harness.h"
#include "../../storage/types.h"
#include "../../common/strutil.h"

static struct exec_changes changes;

static int init(void)
{
    return set_type_register() == 0 ? suite_init() : 1;
}

static void test_basic(void)
{
    reset();
    EXPECT(cmd_sadd, "SADD s 3 1 2 1", ":3\r\n");
    EXPECT(cmd_smembers, "SMEMBERS s", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
    EXPECT(cmd_scard, "SCARD s", ":3\r\n");
    EXPECT(cmd_sismember, "SISMEMBER s 2", ":1\r\n");
    EXPECT(cmd_sismember, "SISMEMBER s 02", ":0\r\n");
    EXPECT(cmd_smismember, "SMISMEMBER s 1 x 3", "*3\r\n:1\r\n:0\r\n:1\r\n");
    EXPECT(cmd_smismember, "SMISMEMBER nokey 1", "*1\r\n:0\r\n");
    EXPECT(cmd_srem, "SREM s 1 9 2", ":2\r\n");
    EXPECT(cmd_srem, "SREM s 3", ":1\r\n");
    EXPECT(cmd_scard, "SCARD s", ":0\r\n");
    EXPECT(cmd_smembers, "SMEMBERS s", "*0\r\n");
    proto = 3;
    EXPECT(cmd_smembers, "SMEMBERS s", "~0\r\n");
    EXPECT(cmd_sadd, "SADD s b", ":1\r\n");
    EXPECT(cmd_smembers, "SMEMBERS s", "~1\r\n$1\r\nb\r\n");
    EXPECT(cmd_spop, "SPOP nokey", "_\r\n");
    EXPECT(cmd_spop, "SPOP nokey 2", "~0\r\n");
    EXPECT(cmd_srandmember, "SRANDMEMBER nokey 2", "*0\r\n");
}

static void test_errors(void)
{
    reset();
    EXPECT(cmd_set, "SET str v", "+OK\r\n");
    const char *wt = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    const char *cmds[] = {"SADD str a", "SREM str a", "SISMEMBER str a", "SMISMEMBER str a",
                          "SCARD str", "SMEMBERS str", "SPOP str", "SRANDMEMBER str",
                          "SSCAN str 0", "SINTER str", "SUNION str", "SDIFF str",
                          "SINTERSTORE d str"};
    exec_fn fns[] = {cmd_sadd, cmd_srem, cmd_sismember, cmd_smismember, cmd_scard,
                     cmd_smembers, cmd_spop, cmd_srandmember, cmd_sscan, cmd_sinter,
                     cmd_sunion, cmd_sdiff, cmd_sinterstore};
    for (size_t i = 0; i < HP_ARRAY_LEN(cmds); i++) {
        exec_line(fns[i], cmds[i]);
        check_out(__LINE__, cmds[i], wt, strlen(wt));
    }
    EXPECT(cmd_sadd, "SADD s 1", ":1\r\n");
    EXPECT(cmd_spop, "SPOP s -1", "-ERR value is out of range, must be positive\r\n");
    EXPECT(cmd_spop, "SPOP s 1 2", "-ERR syntax error\r\n");
    EXPECT(cmd_srandmember, "SRANDMEMBER s x", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_srandmember, "SRANDMEMBER s -9223372036854775808",
           "-ERR value is out of range, value must between -9223372036854775807 and "
           "9223372036854775807\r\n");
    EXPECT(cmd_sintercard, "SINTERCARD 0 s", "-ERR numkeys should be greater than 0\r\n");
    EXPECT(cmd_sintercard, "SINTERCARD 2 s",
           "-ERR Number of keys can't be greater than number of args\r\n");
    EXPECT(cmd_sintercard, "SINTERCARD 1 s LIMIT -1", "-ERR LIMIT can't be negative\r\n");
    EXPECT(cmd_sintercard, "SINTERCARD 1 s FOO", "-ERR syntax error\r\n");
    EXPECT(cmd_sscan, "SSCAN s x", "-ERR invalid cursor\r\n");
    EXPECT(cmd_sscan, "SSCAN s 0 COUNT 0", "-ERR syntax error\r\n");
    EXPECT(cmd_sscan, "SSCAN nokey 0 COUNT 0", "*2\r\n$1\r\n0\r\n*0\r\n");
    EXPECT(cmd_sscan, "SSCAN s -1", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\n1\r\n");
    EXPECT(cmd_smove, "SMOVE nokey str a", ":0\r\n");
    exec_line(cmd_smove, "SMOVE s str 1");
    check_out(__LINE__, "SMOVE s str 1", wt, strlen(wt));
}

static void test_algebra(void)
{
    reset();
    char a[32], b[32];
    /* on different shards: the handlers hold every shard (ALL_HELD) */
    key_on(1, "a", a, sizeof(a));
    key_on(2, "b", b, sizeof(b));
    char line[256];
    snprintf(line, sizeof(line), "SADD %s 5 1 3 x", a);
    EXPECT(cmd_sadd, line, ":4\r\n");
    snprintf(line, sizeof(line), "SADD %s 3 5 7", b);
    EXPECT(cmd_sadd, line, ":3\r\n");
    snprintf(line, sizeof(line), "SINTER %s %s", b, a); /* smallest (intset) first: sorted */
    EXPECT(cmd_sinter, line, "*2\r\n$1\r\n3\r\n$1\r\n5\r\n");
    snprintf(line, sizeof(line), "SINTERCARD 2 %s %s LIMIT 1", a, b);
    EXPECT(cmd_sintercard, line, ":1\r\n");
    snprintf(line, sizeof(line), "SINTER %s nokey", a);
    EXPECT(cmd_sinter, line, "*0\r\n");
    snprintf(line, sizeof(line), "SDIFF %s %s", b, a);
    EXPECT(cmd_sdiff, line, "*1\r\n$1\r\n7\r\n");
    snprintf(line, sizeof(line), "SDIFF %s %s", b, b);
    EXPECT(cmd_sdiff, line, "*0\r\n");
    snprintf(line, sizeof(line), "SUNIONSTORE d %s %s", a, b);
    EXPECT(cmd_sunionstore, line, ":5\r\n");
    snprintf(line, sizeof(line), "SINTERSTORE d2 %s %s", a, b);
    EXPECT(cmd_sinterstore, line, ":2\r\n");
    EXPECT(cmd_smembers, "SMEMBERS d2", "*2\r\n$1\r\n3\r\n$1\r\n5\r\n");
    snprintf(line, sizeof(line), "SDIFFSTORE d2 nokey %s", a);
    EXPECT(cmd_sdiffstore, line, ":0\r\n");
    EXPECT(cmd_scard, "SCARD d2", ":0\r\n");
    /* a STORE replaces a string and its TTL */
    EXPECT(cmd_set, "SET d3 v EX 100", "+OK\r\n");
    snprintf(line, sizeof(line), "SUNIONSTORE d3 %s", b);
    EXPECT(cmd_sunionstore, line, ":3\r\n");
    EXPECT(cmd_ttl, "TTL d3", ":-1\r\n");
    EXPECT(cmd_smembers, "SMEMBERS d3", "*3\r\n$1\r\n3\r\n$1\r\n5\r\n$1\r\n7\r\n");
}

static void test_records(void)
{
    reset();
    track = &changes;
    char a[32], b[32], line[256];
    key_on(0, "a", a, sizeof(a));
    key_on(1, "b", b, sizeof(b));
    snprintf(line, sizeof(line), "SADD %s 1 2 3", a);
    EXPECT(cmd_sadd, line, ":3\r\n");
    CU_ASSERT_EQUAL(changes.n, 1);
    CU_ASSERT(exec_changes_use_records(&changes));
    CU_ASSERT_EQUAL(changes.recs[0].argc, 5);
    snprintf(line, sizeof(line), "SADD %s 1", a);
    EXPECT(cmd_sadd, line, ":0\r\n");
    CU_ASSERT_EQUAL(changes.n, 0); /* nothing changed: nothing logged */
    snprintf(line, sizeof(line), "SMOVE %s %s 2", a, b);
    EXPECT(cmd_smove, line, ":1\r\n");
    CU_ASSERT_EQUAL(changes.n, 2);
    CU_ASSERT_EQUAL_FATAL(changes.nrec, 2);
    CU_ASSERT(changes.recs[0].argv[1].len == strlen(a) &&
              memcmp(changes.recs[0].argv[0].ptr, "SREM", 4) == 0);
    CU_ASSERT(changes.recs[1].argv[1].len == strlen(b) &&
              memcmp(changes.recs[1].argv[0].ptr, "SADD", 4) == 0);
    snprintf(line, sizeof(line), "SPOP %s", a);
    exec_line(cmd_spop, line);
    CU_ASSERT_EQUAL_FATAL(changes.nrec, 1);
    CU_ASSERT_EQUAL(changes.recs[0].argc, 3);
    struct hp_slice popped = changes.recs[0].argv[2];
    CU_ASSERT(popped.len == 1 && (popped.ptr[0] == '1' || popped.ptr[0] == '3'));
    /* the reply is the popped member */
    CU_ASSERT(out.len == 7 && out.data[4] == popped.ptr[0]);
    /* SPOP with count: SREM of the popped ones, the set deleted at the end */
    snprintf(line, sizeof(line), "SADD %s 4 5 6 7", a);
    EXPECT(cmd_sadd, line, ":4\r\n");
    snprintf(line, sizeof(line), "SPOP %s 2", a);
    exec_line(cmd_spop, line);
    CU_ASSERT_EQUAL_FATAL(changes.nrec, 1);
    CU_ASSERT_EQUAL(changes.recs[0].argc, 4);
    snprintf(line, sizeof(line), "SPOP %s 10", a);
    exec_line(cmd_spop, line);
    CU_ASSERT_EQUAL_FATAL(changes.nrec, 1);
    CU_ASSERT_EQUAL(changes.recs[0].argc, 2); /* DEL */
    snprintf(line, sizeof(line), "SCARD %s", a);
    EXPECT(cmd_scard, line, ":0\r\n");
    track = NULL;
}

static void test_oom(void)
{
    reset();
    EXPECT(cmd_sadd, "SADD s 1 2", ":2\r\n");
    const char *oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
    fail_allocs(0);
    exec_line(cmd_sadd, "SADD n a");
    check_out(__LINE__, "SADD n a", oom, strlen(oom));
    exec_line(cmd_sunionstore, "SUNIONSTORE s2 s");
    check_out(__LINE__, "SUNIONSTORE", oom, strlen(oom));
    exec_line(cmd_smove, "SMOVE s n 1");
    check_out(__LINE__, "SMOVE", oom, strlen(oom));
    fail_allocs(UINT64_MAX);
    EXPECT(cmd_scard, "SCARD n", ":0\r\n");
    EXPECT(cmd_scard, "SCARD s2", ":0\r\n");
    EXPECT(cmd_smembers, "SMEMBERS s", "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
}

static const char *encoding_of(const char *key)
{
    struct hp_slice k = hp_slice_make(key, strlen(key));
    struct shard *s = shards[shard_of(key)];
    struct entry *e = NULL;
    if (shard_find_typed(s, db, k, OBJ_SET, now_ms, &e) != SHARD_LOOKUP_FOUND)
        return "none";
    return entry_encoding(e);
}

/* Redis 7.0's encodings after SPOP's case 3 and SDIFF's algorithm 2. */
static void test_encodings(void)
{
    reset();
    EXPECT(cmd_sadd, "SADD h a 1 2 3 4 5 6 7 8 9 10", ":11\r\n");
    CU_ASSERT_STRING_EQUAL(encoding_of("h"), "hashtable");
    exec_line(cmd_spop, "SPOP h 10"); /* 1 stays, 1 * 5 <= 10: rebuilt */
    CU_ASSERT_EQUAL(out.data[0], '*');
    EXPECT(cmd_scard, "SCARD h", ":1\r\n");
    int64_t v;
    struct hp_slice one = {0};
    exec_line(cmd_srandmember, "SRANDMEMBER h");
    one = hp_slice_make(out.data + 4, out.len - 6);
    CU_ASSERT_STRING_EQUAL(encoding_of("h"), str_to_i64(one.ptr, one.len, &v) == 0 ? "intset"
                                                                                 : "hashtable");
    EXPECT(cmd_sadd, "SADD g a 1 2 3 4 5 6 7 8 9 10 11", ":12\r\n");
    exec_line(cmd_spop, "SPOP g 2"); /* one by one: stays a hashtable */
    CU_ASSERT_STRING_EQUAL(encoding_of("g"), "hashtable");

    /* SDIFF: a 600-integer first set and four sets of 100 to subtract:
     * Redis' algorithm 2 (600 * 5 / 2 > 600 + 400) adds the first set
     * (a hashtable past 512), so 200 integers stay a hashtable; with one
     * set to subtract it is algorithm 1, and the result an intset. */
    static struct hp_slice argv[700];
    static char nums[700][8];
    argv[0] = hp_slice_make("SADD", 4);
    argv[1] = hp_slice_make("big", 3);
    for (int i = 0; i < 600; i++)
        argv[2 + i] = hp_slice_make(nums[i], (size_t)snprintf(nums[i], 8, "%d", i));
    exec_slices(cmd_sadd, 602, argv);
    const char *subs[] = {"o1", "o2", "o3", "o4"};
    for (int k = 0; k < 4; k++) {
        argv[1] = hp_slice_make(subs[k], 2);
        for (int i = 0; i < 100; i++)
            argv[2 + i] = hp_slice_make(nums[k * 100 + i], strlen(nums[k * 100 + i]));
        exec_slices(cmd_sadd, 102, argv);
    }
    EXPECT(cmd_sdiffstore, "SDIFFSTORE d big o1 o2 o3 o4", ":200\r\n");
    CU_ASSERT_STRING_EQUAL(encoding_of("d"), "hashtable");
    EXPECT(cmd_sdiffstore, "SDIFFSTORE d big big", ":0\r\n");
    EXPECT(cmd_sadd, "SADD most 0", ":1\r\n");
    for (int i = 1; i < 590; i++) {
        argv[0] = hp_slice_make("SADD", 4);
        argv[1] = hp_slice_make("most", 4);
        argv[2] = hp_slice_make(nums[i], strlen(nums[i]));
        exec_slices(cmd_sadd, 3, argv);
    }
    EXPECT(cmd_sdiffstore, "SDIFFSTORE d big most", ":10\r\n");
    CU_ASSERT_STRING_EQUAL(encoding_of("d"), "intset");
    EXPECT(cmd_sunionstore, "SUNIONSTORE u o1 o2", ":200\r\n");
    CU_ASSERT_STRING_EQUAL(encoding_of("u"), "intset");
    EXPECT(cmd_sunionstore, "SUNIONSTORE u big", ":600\r\n");
    CU_ASSERT_STRING_EQUAL(encoding_of("u"), "hashtable");
}

static CU_TestInfo tests[] = {
    {"encodings (SPOP rebuild, SDIFF algorithms)", test_encodings},
    {"basic", test_basic},
    {"errors", test_errors},
    {"algebra across shards", test_algebra},
    {"operation records", test_records},
    {"out of memory", test_oom},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"cmd_set", init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
