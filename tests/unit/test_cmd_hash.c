/*
 * test_cmd_hash.c - the hash handlers (dataplane/commands/cmd_hash.c) in
 * the exec harness: replies, WRONGTYPE, empty hashes deleted, operation
 * records (as received, split when wide, HINCRBYFLOAT as HSET of the
 * result, states after a failure), and out of memory.
 */
#include "cu_main.h"

#include "exec_harness.h"

#include "../../storage/hash/hash.h"

static int hash_suite_init(void)
{
    (void)key_on;   /* the harness's helper, unused here */
    if (hash_type_register() != 0)
        return 1;
    return suite_init();
}

static void test_basic(void)
{
    reset();
    EXPECT(cmd_hset, "hset h a 1 b 2", ":2\r\n");
    EXPECT(cmd_hset, "hset h a 3 c 4", ":1\r\n");
    EXPECT(cmd_hset, "hset h a", "-ERR wrong number of arguments for 'hset' command\r\n");
    EXPECT(cmd_hget, "hget h a", "$1\r\n3\r\n");
    EXPECT(cmd_hget, "hget h zz", "$-1\r\n");
    EXPECT(cmd_hget, "hget nokey a", "$-1\r\n");
    EXPECT(cmd_hlen, "hlen h", ":3\r\n");
    EXPECT(cmd_hgetall, "hgetall h",
           "*6\r\n$1\r\na\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n4\r\n");
    EXPECT(cmd_hkeys, "hkeys h", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    EXPECT(cmd_hvals, "hvals h", "*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n4\r\n");
    EXPECT(cmd_hmget, "hmget h a zz", "*2\r\n$1\r\n3\r\n$-1\r\n");
    EXPECT(cmd_hexists, "hexists h b", ":1\r\n");
    EXPECT(cmd_hstrlen, "hstrlen h a", ":1\r\n");
    EXPECT(cmd_hsetnx, "hsetnx h a 9", ":0\r\n");
    EXPECT(cmd_hsetnx, "hsetnx h d 9", ":1\r\n");
    EXPECT(cmd_hmset, "hmset h e 5", "+OK\r\n");
    EXPECT(cmd_hincrby, "hincrby h a 10", ":13\r\n");
    EXPECT(cmd_hincrby, "hincrby h a x", "-ERR value is not an integer or out of range\r\n");
    EXPECT(cmd_hincrbyfloat, "hincrbyfloat h a 0.5", "$4\r\n13.5\r\n");
    EXPECT(cmd_hincrby, "hincrby h a 1", "-ERR hash value is not an integer\r\n");
    EXPECT(cmd_hdel, "hdel h a b c d e zz", ":5\r\n");
    EXPECT(cmd_hlen, "hlen h", ":0\r\n");
    EXPECT(cmd_type, "type h", "+none\r\n");   /* emptied: deleted */
    EXPECT(cmd_set, "set s v", "+OK\r\n");
    EXPECT(cmd_hget, "hget s a",
           "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    EXPECT(cmd_hset, "hset s a 1",
           "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    EXPECT(cmd_hset, "hset h2 a 1", ":1\r\n");
    EXPECT(cmd_type, "type h2", "+hash\r\n");
    EXPECT(cmd_hrandfield, "hrandfield h2", "$1\r\na\r\n");
    EXPECT(cmd_hrandfield, "hrandfield h2 -2", "*2\r\n$1\r\na\r\n$1\r\na\r\n");
    EXPECT(cmd_hrandfield, "hrandfield h2 5 withvalues", "*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    EXPECT(cmd_hscan, "hscan h2 0", "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    proto = 3;
    EXPECT(cmd_hgetall, "hgetall h2", "%1\r\n$1\r\na\r\n$1\r\n1\r\n");
    EXPECT(cmd_hrandfield, "hrandfield h2 1 withvalues", "*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
}

static void test_records(void)
{
    reset();
    static struct exec_changes chg;
    track = &chg;
    exec_line(cmd_hset, "hset r a 1");
    CU_ASSERT_EQUAL(chg.n, 1);
    CU_ASSERT(exec_changes_use_records(&chg));
    CU_ASSERT_EQUAL(chg.nrec, 1);
    CU_ASSERT_EQUAL(chg.recs[0].argc, 4);
    exec_line(cmd_hincrbyfloat, "hincrbyfloat r a 1.5");
    CU_ASSERT_EQUAL(chg.nrec, 1);
    CU_ASSERT_EQUAL_FATAL(chg.recs[0].argc, 4);
    CU_ASSERT(chg.recs[0].argv[0].len == 4 && memcmp(chg.recs[0].argv[0].ptr, "HSET", 4) == 0);
    CU_ASSERT(chg.recs[0].argv[3].len == 3 && memcmp(chg.recs[0].argv[3].ptr, "2.5", 3) == 0);
    /* a wide HSET: split into records of at most 64 arguments */
    struct hp_slice argv[2 + 2 * 100];
    static char names[100][8];
    argv[0] = hp_slice_make("hset", 4);
    argv[1] = hp_slice_make("r", 1);
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof(names[i]), "w%d", i);
        argv[2 + 2 * i] = hp_slice_make(names[i], strlen(names[i]));
        argv[3 + 2 * i] = argv[2 + 2 * i];
    }
    exec_slices(cmd_hset, 202, argv);
    CU_ASSERT(exec_changes_use_records(&chg));
    CU_ASSERT_EQUAL(chg.nrec, 4);   /* 31 + 31 + 31 + 7 pairs */
    for (uint32_t i = 0; i < chg.nrec; i++)
        CU_ASSERT(chg.recs[i].argc <= EXEC_RECORD_ARGC_MAX);
    /* nothing changed: nothing reported */
    exec_line(cmd_hdel, "hdel r nosuch");
    CU_ASSERT_EQUAL(chg.n, 0);
    CU_ASSERT_EQUAL(chg.nrec, 0);
    exec_line(cmd_hsetnx, "hsetnx r a 1");
    CU_ASSERT_EQUAL(chg.n, 0);
    track = NULL;
}

static void test_oom(void)
{
    reset();
    /* a new key: not created */
    fail_allocs(0);
    EXPECT(cmd_hset, "hset o a 1", "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    fail_allocs(UINT64_MAX);
    EXPECT(cmd_type, "type o", "+none\r\n");
    /* an existing one changed part-way: logged by state */
    static struct exec_changes chg;
    EXPECT(cmd_hset, "hset o a 1", ":1\r\n");
    track = &chg;
    char line[4096] = "hset o";
    for (int i = 0; i < 14; i++) {
        char p[64];
        snprintf(p, sizeof(p), " f%d vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv%d", i, i);
        strcat(line, p);
    }
    for (uint64_t after = 0; after < 4; after++) {
        fail_allocs(after);
        exec_line(cmd_hset, line);
        fail_allocs(UINT64_MAX);
        CU_ASSERT_EQUAL(chg.n, 1);
        CU_ASSERT(!exec_changes_use_records(&chg) || out.data[0] == ':');
    }
    track = NULL;
    EXPECT(cmd_hget, "hget o a", "$1\r\n1\r\n");
}

static CU_TestInfo cmd_hash_tests[] = {
    {"replies", test_basic},
    {"operation records", test_records},
    {"out of memory", test_oom},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"cmd_hash", hash_suite_init, suite_clean, NULL, NULL, cmd_hash_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
