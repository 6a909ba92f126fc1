/*
 * test_cmd_keyspec.c - key positions from Redis 7 key specs (cmd_keyspec.c):
 * the command table's specs, and local spec tables for shapes hotpath has
 * no command for yet (EVAL's numkeys, XREAD's STREAMS keyword, MIGRATE's
 * backward KEYS search, SORT's unknown spec, a NOT_KEY spec).  Expected
 * positions and legacy ranges are what redis-server 7.0.15 answers for
 * COMMAND GETKEYS / COMMAND INFO of the real commands.
 *
 * Like test_cmd_keys, this links the server library and registers the
 * client part of the table (server_cmds_register) as hotpathd's main does.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "../../dataplane/commands/cmd.h"
#include "../../dataplane/commands/cmd_docs.h"
#include "../../dataplane/server/server.h"
#include "cu_main.h"

#define MAX_ARGS 64

static char line_buf[4096];
static struct hp_slice line_argv[MAX_ARGS];

/* "a b c" -> argv; "" stands for an empty argument. */
static int split(const char *line)
{
    size_t n = strlen(line);
    HP_ASSERT(n < sizeof(line_buf));
    memcpy(line_buf, line, n + 1);
    int argc = 0;
    char *save = NULL;
    for (char *t = strtok_r(line_buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        HP_ASSERT(argc < MAX_ARGS);
        line_argv[argc++] = strcmp(t, "\"\"") == 0 ? hp_slice_make("", 0)
                                                   : hp_slice_make(t, strlen(t));
    }
    return argc;
}

/* The keys of `line` under `s`, space separated, into `got`. */
static enum cmd_keys_rc keys_of(const struct cmd_spec *s, const char *line, bool not_keys,
                                char *got, size_t cap, uint32_t *flags0)
{
    int argc = split(line);
    struct cmd_key_ranges kr;
    enum cmd_keys_rc rc = cmd_keys_find(s, argc, line_argv, not_keys, &kr);
    size_t used = 0, count = 0;
    got[0] = '\0';
    for (int j = 0; j < kr.n; j++) {
        if (j == 0 && flags0 != NULL)
            *flags0 = kr.r[j].flags;
        for (int i = kr.r[j].first; i <= kr.r[j].last; i += kr.r[j].step) {
            CU_ASSERT_FATAL(i >= 1 && i < argc);
            int w = snprintf(got + used, cap - used, "%s%.*s", count ? " " : "",
                             (int)line_argv[i].len, (const char *)line_argv[i].ptr);
            HP_ASSERT(w >= 0);
            HP_ASSERT((size_t)w < cap - used);
            used += (size_t)w;
            count++;
        }
    }
    CU_ASSERT_EQUAL(count, kr.nkeys);
    return rc;
}

static void expect_keys(int line, const struct cmd_spec *s, const char *cmd, bool not_keys,
                        enum cmd_keys_rc want_rc, const char *want)
{
    char got[1024];
    enum cmd_keys_rc rc = keys_of(s, cmd, not_keys, got, sizeof(got), NULL);
    bool ok = rc == want_rc && strcmp(got, want) == 0;
    if (!ok)
        fprintf(stderr, "\n  line %d: %s: want rc %d [%s], got rc %d [%s]\n", line, cmd,
                want_rc, want, rc, got);
    CU_assertImplementation(ok, (unsigned)line, cmd, __FILE__, "", CU_FALSE);
}

#define KEYS_OK(s, cmd, want) expect_keys(__LINE__, s, cmd, false, CMD_KEYS_OK, want)
#define KEYS_ERR(s, cmd, rc) expect_keys(__LINE__, s, cmd, false, rc, "")

static const struct cmd_spec *lookup(const char *name)
{
    const struct cmd_spec *s = cmd_lookup((const uint8_t *)name, strlen(name));
    CU_ASSERT_FATAL(s != NULL);
    return s;
}

static void expect_legacy(const struct cmd_spec *s, int first, int last, int step, bool movable)
{
    int f, l, st;
    bool m = cmd_legacy_range(s, &f, &l, &st);
    CU_ASSERT_EQUAL(f, first);
    CU_ASSERT_EQUAL(l, last);
    CU_ASSERT_EQUAL(st, step);
    CU_ASSERT_EQUAL(m, movable);
}

/* ---- the command table ---------------------------------------------------------- */

/* Keyed commands have specs and nothing else does, only keyed commands
 * have a legacy key range, a command is movable exactly when a spec counts
 * its keys (keynum: LMPOP, SINTERCARD; those have no legacy range, as in
 * Redis), and every spec is well formed. */
static void test_table_specs_consistent(void)
{
    size_t n;
    const struct cmd_spec *t = cmd_table(&n);
    for (size_t i = 0; i < n; i++) {
        const struct cmd_spec *s = &t[i];
        int f, l, st;
        bool keynum = false;
        for (int j = 0; j < s->nkey_specs; j++)
            keynum |= s->key_specs[j].find == CMD_KS_FIND_KEYNUM;
        CU_ASSERT_EQUAL(cmd_legacy_range(s, &f, &l, &st), keynum);
        CU_ASSERT_EQUAL(f > 0, s->kind == CMD_KIND_KEYED && !keynum);
        CU_ASSERT_EQUAL(s->kind == CMD_KIND_KEYED, s->nkey_specs > 0);
        CU_ASSERT_EQUAL(cmd_has_keys(s), s->nkey_specs > 0);
        CU_ASSERT_PTR_NOT_NULL(s->acl);
        CU_ASSERT((s->flags & CMD_MOVABLE_KEYS) == 0);
        CU_ASSERT((s->info_flags & CMD_MOVABLE_KEYS) == 0);
        for (int j = 0; j < s->nkey_specs; j++) {
            const struct cmd_key_spec *ks = &s->key_specs[j];
            CU_ASSERT_EQUAL(ks->begin, CMD_KS_BEGIN_INDEX);
            CU_ASSERT(ks->find == CMD_KS_FIND_RANGE || ks->find == CMD_KS_FIND_KEYNUM);
            if (ks->find == CMD_KS_FIND_RANGE)
                CU_ASSERT(ks->fk.range.keystep >= 1);
            if (ks->find == CMD_KS_FIND_KEYNUM)
                CU_ASSERT(ks->fk.keynum.keystep >= 1);
            /* exactly one of RO/RW/OW/RM, as Redis requires */
            uint32_t rw = ks->flags & (CMD_KEY_RO | CMD_KEY_RW | CMD_KEY_OW | CMD_KEY_RM);
            CU_ASSERT(rw != 0 && (rw & (rw - 1)) == 0);
            CU_ASSERT_EQUAL((ks->flags & CMD_KEY_VARIABLE_FLAGS) != 0, s->key_flags != NULL);
        }
    }
    expect_legacy(lookup("rename"), 1, 2, 1, false);
    expect_legacy(lookup("mset"), 1, -1, 2, false);
    expect_legacy(lookup("lmove"), 1, 2, 1, false);
    expect_legacy(lookup("lmpop"), 0, 0, 0, true);
    expect_legacy(lookup("get"), 1, 1, 1, false);
    expect_legacy(lookup("keys"), 0, 0, 0, false);
}

static void test_table_positions(void)
{
    KEYS_OK(lookup("get"), "GET k", "k");
    KEYS_OK(lookup("mget"), "MGET a b c", "a b c");
    KEYS_OK(lookup("mset"), "MSET a 1 b 2", "a b");
    KEYS_OK(lookup("mset"), "MSET a 1 b", "a b"); /* Redis' answer too */
    KEYS_OK(lookup("rename"), "RENAME a b", "a b");
    KEYS_OK(lookup("del"), "DEL x", "x");
    KEYS_OK(lookup("expire"), "EXPIRE k 10 NX", "k");
    KEYS_OK(lookup("setex"), "SETEX k 10 v", "k");
    KEYS_OK(lookup("keys"), "KEYS *", "");

    /* RENAME: the source is read and deleted, the target overwritten. */
    int argc = split("RENAME a b");
    struct cmd_key_ranges kr;
    CU_ASSERT_EQUAL(cmd_keys_find(lookup("rename"), argc, line_argv, false, &kr), CMD_KEYS_OK);
    CU_ASSERT_EQUAL_FATAL(kr.n, 2);
    CU_ASSERT_EQUAL(kr.r[0].flags, CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_DELETE);
    CU_ASSERT_EQUAL(kr.r[1].flags, CMD_KEY_OW | CMD_KEY_UPDATE);

    /* SET's flags depend on GET (exact word, any case, NUL ends it). */
    static const struct {
        const char *line;
        uint32_t flags;
    } set_cases[] = {
        {"SET k v", CMD_KEY_OW | CMD_KEY_UPDATE},
        {"SET k v GET", CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_UPDATE},
        {"SET k v EX 10 get", CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_UPDATE},
        {"SET k v GETX", CMD_KEY_OW | CMD_KEY_UPDATE},
        {"SET k GET", CMD_KEY_OW | CMD_KEY_UPDATE}, /* argv[2] is the value */
        {"SET k v GE", CMD_KEY_OW | CMD_KEY_UPDATE},
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(set_cases); i++) {
        char got[64];
        uint32_t fl = 0;
        CU_ASSERT_EQUAL(keys_of(lookup("set"), set_cases[i].line, false, got, sizeof(got), &fl),
                        CMD_KEYS_OK);
        CU_ASSERT_STRING_EQUAL(got, "k");
        CU_ASSERT_EQUAL(fl, set_cases[i].flags);
    }
    struct hp_slice nul[4] = {hp_slice_make("SET", 3), hp_slice_make("k", 1),
                              hp_slice_make("v", 1), hp_slice_make("get\0x", 5)};
    CU_ASSERT_EQUAL(cmd_keys_find(lookup("set"), 4, nul, false, &kr), CMD_KEYS_OK);
    CU_ASSERT_EQUAL(kr.r[0].flags, CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_UPDATE);
}

/* Every KEY argument names a key spec the command has; only KEY
 * arguments do; ONEOF/BLOCK and only they have sub-arguments. */
static void check_args(const struct cmd_spec *s, const struct cmd_arg *a, size_t n, int depth)
{
    CU_ASSERT_FATAL(depth < 8);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_PTR_NOT_NULL(a[i].name);
        if (a[i].type == CMD_ARG_KEY) {
            CU_ASSERT(a[i].key_spec_index >= 0 && a[i].key_spec_index < s->nkey_specs);
        } else {
            CU_ASSERT_EQUAL(a[i].key_spec_index, -1);
        }
        bool nested = a[i].type == CMD_ARG_ONEOF || a[i].type == CMD_ARG_BLOCK;
        CU_ASSERT_EQUAL(nested, a[i].nargs > 0);
        CU_ASSERT((a[i].flags & ~(uint32_t)(CMD_ARG_OPTIONAL | CMD_ARG_MULTIPLE |
                                            CMD_ARG_MULTIPLE_TOKEN)) == 0);
        check_args(s, a[i].args, a[i].nargs, depth + 1);
    }
}

static void test_docs_table(void)
{
    size_t n, nd;
    const struct cmd_spec *t = cmd_table(&n);
    const struct cmd_doc *d = cmd_docs_table(&nd);
    for (size_t i = 0; i < n; i++) {
        const struct cmd_doc *doc = cmd_doc_find(t[i].name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
        CU_ASSERT_PTR_NOT_NULL(doc->complexity);
        check_args(&t[i], doc->args, doc->nargs, 0);
    }
    /* The rest are "container|sub" entries, each of a known container. */
    size_t subs = 0;
    for (size_t i = 0; i < nd; i++) {
        const char *bar = strchr(d[i].name, '|');
        if (bar == NULL)
            continue;
        subs++;
        const struct cmd_spec *parent =
            cmd_lookup((const uint8_t *)d[i].name, (size_t)(bar - d[i].name));
        CU_ASSERT_PTR_NOT_NULL(parent);
        CU_ASSERT_PTR_EQUAL(cmd_doc_find(d[i].name), &d[i]);
    }
    CU_ASSERT_EQUAL(nd, n + subs);
    CU_ASSERT_PTR_NULL(cmd_doc_find("nosuch"));
    CU_ASSERT_PTR_NULL(cmd_doc_find("client|nosuch"));
}

/* ---- local spec tables ------------------------------------------------------------ */

/* EVAL script numkeys key... arg...: Redis 7.0's spec. */
static const struct cmd_spec eval_spec = {
    .name = "eval",
    .arity = -3,
    .info_flags = CMD_NO_MANDATORY_KEYS,
    .nkey_specs = 1,
    .key_specs = {{.flags = CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_UPDATE,
                   .begin = CMD_KS_BEGIN_INDEX, .bs = {.index = 2},
                   .find = CMD_KS_FIND_KEYNUM, .fk = {.keynum = {0, 1, 1}}}},
};

/* XREAD [COUNT n] [BLOCK ms] STREAMS key... id...: Redis 7.0's spec. */
static const struct cmd_spec xread_spec = {
    .name = "xread",
    .arity = -4,
    .nkey_specs = 1,
    .key_specs = {{.flags = CMD_KEY_RO | CMD_KEY_ACCESS, .begin = CMD_KS_BEGIN_KEYWORD,
                   .bs = {.keyword = {"STREAMS", 1}}, .find = CMD_KS_FIND_RANGE,
                   .fk = {.range = {-1, 1, 2}}}},
};

/* MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH ..] [KEYS key...]. */
static const struct cmd_spec migrate_spec = {
    .name = "migrate",
    .arity = -6,
    .nkey_specs = 2,
    .key_specs = {{.flags = CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_DELETE,
                   .begin = CMD_KS_BEGIN_INDEX, .bs = {.index = 3}, .find = CMD_KS_FIND_RANGE,
                   .fk = {.range = {0, 1, 0}}},
                  {.flags = CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_DELETE | CMD_KEY_INCOMPLETE,
                   .begin = CMD_KS_BEGIN_KEYWORD, .bs = {.keyword = {"KEYS", -2}},
                   .find = CMD_KS_FIND_RANGE, .fk = {.range = {-1, 1, 0}}}},
};

/* SORT key [BY ..] [GET ..] [STORE dst]: the STORE key needs SORT's parser. */
static const struct cmd_spec sort_spec = {
    .name = "sort",
    .arity = -2,
    .nkey_specs = 2,
    .key_specs = {{.flags = CMD_KEY_RO | CMD_KEY_ACCESS, .begin = CMD_KS_BEGIN_INDEX,
                   .bs = {.index = 1}, .find = CMD_KS_FIND_RANGE, .fk = {.range = {0, 1, 0}}},
                  {.flags = CMD_KEY_OW | CMD_KEY_UPDATE, .begin = CMD_KS_BEGIN_UNKNOWN,
                   .find = CMD_KS_FIND_UNKNOWN}},
};

/* A channel that routes like a key but is none (SPUBLISH-like). */
static const struct cmd_spec notkey_spec = {
    .name = "spublish",
    .arity = 3,
    .nkey_specs = 1,
    .key_specs = {{.flags = CMD_KEY_NOT_KEY, .begin = CMD_KS_BEGIN_INDEX, .bs = {.index = 1},
                   .find = CMD_KS_FIND_RANGE, .fk = {.range = {0, 1, 0}}}},
};

static void test_keynum(void)
{
    const struct cmd_spec *s = &eval_spec;
    KEYS_OK(s, "EVAL s 2 a b c", "a b");
    KEYS_OK(s, "EVAL s 1 a", "a");
    KEYS_OK(s, "EVAL s 3 a b c", "a b c");
    KEYS_OK(s, "EVAL s 0", "");
    KEYS_OK(s, "EVAL s 0 x y", "");
    KEYS_ERR(s, "EVAL s 4 a b c", CMD_KEYS_ERR_NUMKEYS_TOO_MANY);
    KEYS_ERR(s, "EVAL s 1", CMD_KEYS_ERR_NUMKEYS_TOO_MANY);
    KEYS_ERR(s, "EVAL s 2147483648 a", CMD_KEYS_ERR_NUMKEYS_TOO_MANY);
    KEYS_ERR(s, "EVAL s 9223372036854775807 a", CMD_KEYS_ERR_NUMKEYS_TOO_MANY);
    KEYS_ERR(s, "EVAL s -1 a", CMD_KEYS_ERR_NUMKEYS_NEGATIVE);
    KEYS_ERR(s, "EVAL s -9223372036854775808", CMD_KEYS_ERR_NUMKEYS_NEGATIVE);
    KEYS_ERR(s, "EVAL s x a", CMD_KEYS_ERR_NUMKEYS_NOT_INT);
    KEYS_ERR(s, "EVAL s 01 a", CMD_KEYS_ERR_NUMKEYS_NOT_INT);
    KEYS_ERR(s, "EVAL s +1 a", CMD_KEYS_ERR_NUMKEYS_NOT_INT);
    KEYS_ERR(s, "EVAL s \"\" a", CMD_KEYS_ERR_NUMKEYS_NOT_INT);
    KEYS_ERR(s, "EVAL s 9223372036854775808 a", CMD_KEYS_ERR_NUMKEYS_NOT_INT);
    KEYS_ERR(s, "EVAL s 99999999999999999999999 a", CMD_KEYS_ERR_NUMKEYS_NOT_INT);
    /* numkeys itself missing (arity not checked here): a range error. */
    KEYS_ERR(s, "EVAL s", CMD_KEYS_ERR_RANGE);
    CU_ASSERT_STRING_EQUAL(cmd_keys_strerror(CMD_KEYS_ERR_NUMKEYS_TOO_MANY),
                           "ERR Number of keys can't be greater than number of args");
    CU_ASSERT_STRING_EQUAL(cmd_keys_strerror(CMD_KEYS_ERR_NUMKEYS_NEGATIVE),
                           "ERR Number of keys can't be negative");
    CU_ASSERT_STRING_EQUAL(cmd_keys_strerror(CMD_KEYS_ERR_NUMKEYS_NOT_INT),
                           "ERR value is not an integer or out of range");
    CU_ASSERT_PTR_NULL(cmd_keys_strerror(CMD_KEYS_OK));
    for (int rc = CMD_KEYS_ERR_NUMKEYS_NOT_INT; rc <= CMD_KEYS_ERR_CAPACITY; rc++)
        CU_ASSERT(strncmp(cmd_keys_strerror((enum cmd_keys_rc)rc), "ERR ", 4) == 0);
    /* COMMAND INFO shows EVAL as 0 0 0 movablekeys. */
    expect_legacy(s, 0, 0, 0, true);
}

static void test_keyword(void)
{
    const struct cmd_spec *s = &xread_spec;
    KEYS_OK(s, "XREAD STREAMS k1 k2 id1 id2", "k1 k2");
    KEYS_OK(s, "XREAD COUNT 2 BLOCK 0 streams k1 id1", "k1");
    KEYS_OK(s, "xread count 2 StReAmS a b c 1 2 3", "a b c");
    /* An odd count: the keys are the first half, rounded down. */
    KEYS_OK(s, "XREAD STREAMS k1 k2 id1", "k1");
    /* No keyword: nothing, and not an error (Redis skips the spec). */
    KEYS_OK(s, "XREAD COUNT 2 BLOCK 0", "");
    /* A keyword in the last argument is not searched. */
    KEYS_OK(s, "XREAD COUNT 2 STREAMS", "");
    /* The first STREAMS wins, even when it is an option's value. */
    KEYS_OK(s, "XREAD COUNT STREAMS STREAMS a 1", "STREAMS");
    expect_legacy(s, 0, 0, 0, true);

    /* Backward search from argc-2 (MIGRATE ... KEYS k...). */
    s = &migrate_spec;
    KEYS_OK(s, "MIGRATE h 6379 k 0 5000", "k");
    KEYS_OK(s, "MIGRATE h 6379 \"\" 0 5000 KEYS a b", " a b");
    KEYS_OK(s, "MIGRATE h 6379 \"\" 0 5000 COPY REPLACE keys a", " a");
    /* KEYS as the very last argument is not found (Redis too). */
    KEYS_OK(s, "MIGRATE h 6379 k 0 5000 KEYS", "k");
    expect_legacy(s, 3, 3, 1, true);
}

static void test_unknown_and_not_key(void)
{
    KEYS_ERR(&sort_spec, "SORT k STORE d", CMD_KEYS_ERR_UNKNOWN_SPEC);
    expect_legacy(&sort_spec, 1, 1, 1, true);
    /* NOT_KEY specs: routing asks for them, GETKEYS does not. */
    KEYS_OK(&notkey_spec, "SPUBLISH ch msg", "");
    expect_keys(__LINE__, &notkey_spec, "SPUBLISH ch msg", true, CMD_KEYS_OK, "ch");
    CU_ASSERT(!cmd_has_keys(&notkey_spec));
    CU_ASSERT(cmd_has_keys(&eval_spec));
    expect_legacy(&notkey_spec, 1, 1, 1, false);
}

static void test_range_errors_and_capacity(void)
{
    /* Arity is the caller's check; without it, out-of-range keys are an
     * error, never a read past argv. */
    KEYS_ERR(lookup("get"), "GET", CMD_KEYS_ERR_RANGE);
    KEYS_ERR(lookup("rename"), "RENAME a", CMD_KEYS_ERR_RANGE);
    KEYS_ERR(lookup("mset"), "MSET", CMD_KEYS_ERR_RANGE);

    struct cmd_key_ref refs[4];
    size_t n = 99;
    int argc = split("MSET a 1 b 2 c 3");
    CU_ASSERT_EQUAL(cmd_keys_get(lookup("mset"), argc, line_argv, refs, 2, &n),
                    CMD_KEYS_ERR_CAPACITY);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_EQUAL(cmd_keys_get(lookup("mset"), argc, line_argv, refs, 3, &n), CMD_KEYS_OK);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_EQUAL(refs[0].pos, 1);
    CU_ASSERT_EQUAL(refs[1].pos, 3);
    CU_ASSERT_EQUAL(refs[2].pos, 5);
    CU_ASSERT_EQUAL(refs[2].flags, CMD_KEY_OW | CMD_KEY_UPDATE);
    argc = split("EVAL s 5 a");
    CU_ASSERT_EQUAL(cmd_keys_get(&eval_spec, argc, line_argv, refs, 4, &n),
                    CMD_KEYS_ERR_NUMKEYS_TOO_MANY);
    CU_ASSERT_EQUAL(n, 0);
}

/* cmd_keys_single (the dispatcher's fast path) answers exactly what
 * cmd_keys_find answers, for every command of the table and every argc. */
static void test_single_fast_path(void)
{
    size_t n = 0;
    const struct cmd_spec *t = cmd_table(&n);
    struct hp_slice argv[8];
    for (int i = 0; i < 8; i++)
        argv[i] = hp_slice_make("k", 1);
    size_t fast = 0;
    for (size_t i = 0; i < n; i++) {
        for (int argc = 1; argc <= 8; argc++) {
            int k = cmd_keys_single(&t[i], argc);
            if (k == 0)
                continue;
            fast++;
            struct cmd_key_ranges kr;
            CU_ASSERT_EQUAL_FATAL(cmd_keys_find(&t[i], argc, argv, true, &kr), CMD_KEYS_OK);
            CU_ASSERT_EQUAL(kr.n, 1);
            CU_ASSERT_EQUAL(kr.nkeys, 1);
            CU_ASSERT_EQUAL(kr.r[0].first, k);
            CU_ASSERT_EQUAL(kr.r[0].last, k);
        }
    }
    /* GET, SET, INCR... take it: the test is not vacuous. */
    CU_ASSERT(fast > 20);
    CU_ASSERT_EQUAL(cmd_keys_single(lookup("get"), 2), 1);
    CU_ASSERT_EQUAL(cmd_keys_single(lookup("mset"), 3), 0);
    CU_ASSERT_EQUAL(cmd_keys_single(lookup("ping"), 1), 0);
}

/* The client part of the table (PING, COMMAND, ...) is registered once,
 * before any test looks a command up. */
static int keyspec_suite_init(void)
{
    return server_cmds_register() == 0 ? 0 : 1;
}

static CU_TestInfo keyspec_tests[] = {
    {"cmd_keys_single agrees with cmd_keys_find", test_single_fast_path},
    {"table specs match the legacy ranges", test_table_specs_consistent},
    {"table key positions and flags", test_table_positions},
    {"docs: every command, key args name key specs", test_docs_table},
    {"keynum spec (EVAL)", test_keynum},
    {"keyword specs (XREAD, MIGRATE)", test_keyword},
    {"unknown and NOT_KEY specs", test_unknown_and_not_key},
    {"range errors and output capacity", test_range_errors_and_capacity},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"cmd_keyspec", keyspec_suite_init, NULL, NULL, NULL, keyspec_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
