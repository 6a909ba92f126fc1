/*
 * test_config_runtime.c - dataplane/config/config.c at run time: CONFIG GET
 * glob matching and rendering, CONFIG SET (runtime, immutable, bad values,
 * several pairs, concurrent with GET), docs/CONFIG.md coverage.  Helpers in
 * config_harness.h.
 */
#include "config_harness.h"

/* ---- CONFIG GET --------------------------------------------------------------- */

static bool has_name(const struct get_result *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->names[i], name) == 0)
            return true;
    return false;
}

static void test_config_get_glob(void)
{
    struct hp_config cfg;
    struct get_result r;
    char err[ERR_MAX];
    config_init(&cfg);
    config_get(&cfg, "*", &r);
    CU_ASSERT_EQUAL(r.n, 34);
    CU_ASSERT_TRUE(has_name(&r, "port") && has_name(&r, "idle-sleep-us"));

    config_get(&cfg, "*max*", &r);
    CU_ASSERT_EQUAL(r.n, 2);
    CU_ASSERT_TRUE(has_name(&r, "maxclients") && has_name(&r, "proto-max-bulk-len"));

    config_get(&cfg, "MAX*", &r); /* case-insensitive; canonical names reported */
    CU_ASSERT_EQUAL(r.n, 1);
    CU_ASSERT_STRING_EQUAL(r.names[0], "maxclients");
    CU_ASSERT_STRING_EQUAL(r.values[0], "10000");

    config_get(&cfg, "h?", &r);
    CU_ASSERT_EQUAL(r.n, 1);
    CU_ASSERT_STRING_EQUAL(r.names[0], "hz");

    config_get(&cfg, "[pt]*", &r);
    CU_ASSERT_EQUAL(r.n, 5); /* port poll-mode proto-max-bulk-len tcp-backlog timeout */
    CU_ASSERT_TRUE(has_name(&r, "port") && has_name(&r, "tcp-backlog") && has_name(&r, "timeout"));

    config_get(&cfg, "client-*-limit", &r);
    CU_ASSERT_EQUAL(r.n, 2);

    /* A plain name: looked up directly, answered with the caller's spelling
     * (Redis 7.0 does the same). */
    config_get(&cfg, "HZ", &r);
    CU_ASSERT_EQUAL(r.n, 1);
    CU_ASSERT_STRING_EQUAL(r.names[0], "HZ");
    CU_ASSERT_STRING_EQUAL(r.values[0], "10");

    config_get(&cfg, "nosuch", &r);
    CU_ASSERT_EQUAL(r.n, 0);
    config_get(&cfg, "nosuch*", &r);
    CU_ASSERT_EQUAL(r.n, 0);
    config_get(&cfg, "", &r);
    CU_ASSERT_EQUAL(r.n, 0);

    /* Rendering as redis-server renders. */
    CU_ASSERT_EQUAL(apply1(&cfg, "bind", "127.0.0.1 ::1", err), 0);
    CU_ASSERT_STRING_EQUAL(get_value(&cfg, "bind"), "127.0.0.1 ::1");
    CU_ASSERT_STRING_EQUAL(get_value(&cfg, "proto-max-bulk-len"), "536870912");
    CU_ASSERT_STRING_EQUAL(get_value(&cfg, "client-query-buffer-limit"), "1073741824");
    CU_ASSERT_STRING_EQUAL(get_value(&cfg, "client-output-buffer-limit"), "normal 1073741824 0 0");
    CU_ASSERT_STRING_EQUAL(get_value(&cfg, "loglevel"), "notice");
    CU_ASSERT_STRING_EQUAL(get_value(&cfg, "databases"), "16");
    CU_ASSERT_STRING_EQUAL(get_value(&cfg, "eal-args"), "");
    CU_ASSERT_STRING_EQUAL(get_value(&cfg, "poll-mode"), "adaptive");
}

/* ---- CONFIG SET ------------------------------------------------------------------ */

static void test_config_set_runtime(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    config_init(&cfg);
    CU_ASSERT_EQUAL(set1(&cfg, "hz", "20", err), 0);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, hz), 20);
    CU_ASSERT_EQUAL(set1(&cfg, "HZ", "0", err), 0);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, hz), 1);
    CU_ASSERT_EQUAL(set1(&cfg, "maxclients", "50", err), 0);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, maxclients), 50);
    CU_ASSERT_EQUAL(set1(&cfg, "proto-max-bulk-len", "1mb", err), 0);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, proto_max_bulk_len), 1048576);
    CU_ASSERT_EQUAL(set1(&cfg, "client-query-buffer-limit", "2gb", err), 0);
    CU_ASSERT_EQUAL(set1(&cfg, "client-output-buffer-limit", "normal 2mb 0 0", err), 0);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, client_output_buffer_limit), 2097152);
    CU_ASSERT_EQUAL(set1(&cfg, "timeout", "60", err), 0);
    CU_ASSERT_EQUAL(set1(&cfg, "active-expire-budget", "50", err), 0);
    CU_ASSERT_EQUAL(set1(&cfg, "idle-sleep-us", "0", err), 0);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, timeout), 60);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, active_expire_budget), 50);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, idle_sleep_us), 0);
    /* Several words given as several values are one CONFIG SET value. */
    const char *words[] = {"normal", "3mb", "0", "0"};
    CU_ASSERT_EQUAL(config_apply(&cfg, "client-output-buffer-limit", 4, words, true, err,
                                 sizeof(err)), 0);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, client_output_buffer_limit), 3 * 1048576);
}

static void test_config_set_errors(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    config_init(&cfg);
    static const char *const immutable[] = {"port", "bind", "tcp-backlog", "workers", "poll-mode",
                                            "io-backend", "eal-args", "file-prefix",
                                            "eal-memory-mb", "loglevel", "databases"};
    for (size_t i = 0; i < sizeof(immutable) / sizeof(immutable[0]); i++) {
        char want[256];
        CU_ASSERT_EQUAL(set1(&cfg, immutable[i], "1", err), -1);
        snprintf(want, sizeof(want),
                 "ERR CONFIG SET failed (possibly related to argument '%s') - can't set "
                 "immutable config",
                 immutable[i]);
        CU_ASSERT_STRING_EQUAL(err, want);
    }
    CU_ASSERT_EQUAL(cfg.port, 6379);
    /* The name as the client spelled it, as Redis. */
    CU_ASSERT_EQUAL(set1(&cfg, "Port", "7000", err), -1);
    CU_ASSERT_STRING_EQUAL(err, "ERR CONFIG SET failed (possibly related to argument 'Port') - "
                                "can't set immutable config");
    CU_ASSERT_EQUAL(set1(&cfg, "hz", "abc", err), -1);
    CU_ASSERT_STRING_EQUAL(err, "ERR CONFIG SET failed (possibly related to argument 'hz') - "
                                "argument couldn't be parsed into an integer");
    CU_ASSERT_EQUAL(set1(&cfg, "HZ", "-5", err), -1);
    CU_ASSERT_STRING_EQUAL(err, "ERR CONFIG SET failed (possibly related to argument 'hz') - "
                                "argument must be between 0 and 2147483647 inclusive");
    CU_ASSERT_EQUAL(set1(&cfg, "maxclients", "0", err), -1);
    CU_ASSERT_STRING_EQUAL(err, "ERR CONFIG SET failed (possibly related to argument "
                                "'maxclients') - argument must be between 1 and 4294967295 "
                                "inclusive");
    CU_ASSERT_EQUAL(set1(&cfg, "proto-max-bulk-len", "1x", err), -1);
    CU_ASSERT_STRING_EQUAL(err, "ERR CONFIG SET failed (possibly related to argument "
                                "'proto-max-bulk-len') - argument must be a memory value");
    CU_ASSERT_EQUAL(set1(&cfg, "proto-max-bulk-len", "10", err), -1);
    CU_ASSERT_STRING_EQUAL(err, "ERR CONFIG SET failed (possibly related to argument "
                                "'proto-max-bulk-len') - " MB_RANGE);
    CU_ASSERT_EQUAL(set1(&cfg, "client-output-buffer-limit", "normal 1 2", err), -1);
    CU_ASSERT_STRING_EQUAL(err, "ERR CONFIG SET failed (possibly related to argument "
                                "'client-output-buffer-limit') - Wrong number of arguments in "
                                "buffer limit configuration.");
    CU_ASSERT_EQUAL(set1(&cfg, "hz", "10 ", err), -1); /* strict: no spaces */
    CU_ASSERT_EQUAL(set1(&cfg, "foo", "bar", err), -1);
    CU_ASSERT_STRING_EQUAL(err, "ERR Unknown option or number of arguments for CONFIG SET - 'foo'");
    CU_ASSERT_EQUAL(config_apply(&cfg, "hz", 0, NULL, true, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "ERR wrong number of arguments for 'config|set' command");
    /* Nothing changed. */
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, hz), 10);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, maxclients), 10000);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, proto_max_bulk_len), 512 * 1048576LL);
}

static void test_config_set_pairs(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    config_init(&cfg);
    const char *ok[] = {"hz", "25", "timeout", "30", "maxclients", "77"};
    CU_ASSERT_EQUAL(config_set_pairs(&cfg, 6, ok, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, hz), 25);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, timeout), 30);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, maxclients), 77);
    /* One bad value: nothing changes. */
    const char *bad[] = {"hz", "40", "maxclients", "abc"};
    CU_ASSERT_EQUAL(config_set_pairs(&cfg, 4, bad, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "ERR CONFIG SET failed (possibly related to argument "
                                "'maxclients') - argument couldn't be parsed into an integer");
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, hz), 25);
    /* Immutable is reported before an earlier pair's bad value (Redis' order). */
    const char *imm[] = {"hz", "abc", "port", "1"};
    CU_ASSERT_EQUAL(config_set_pairs(&cfg, 4, imm, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "ERR CONFIG SET failed (possibly related to argument 'port') - "
                                "can't set immutable config");
    const char *dup[] = {"hz", "10", "HZ", "11"};
    CU_ASSERT_EQUAL(config_set_pairs(&cfg, 4, dup, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "ERR CONFIG SET failed (possibly related to argument 'HZ') - "
                                "duplicate parameter");
    const char *unknown[] = {"hz", "5", "foo", "1"};
    CU_ASSERT_EQUAL(config_set_pairs(&cfg, 4, unknown, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "ERR Unknown option or number of arguments for CONFIG SET - 'foo'");
    const char *odd[] = {"hz", "10", "timeout"};
    CU_ASSERT_EQUAL(config_set_pairs(&cfg, 3, odd, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "ERR wrong number of arguments for 'config|set' command");
    CU_ASSERT_EQUAL(config_set_pairs(&cfg, 0, odd, err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, hz), 25);
    /* Every runtime setting in one call (the most distinct pairs there are). */
    const char *all[] = {"maxclients", "1", "proto-max-bulk-len", "2mb",
                         "client-query-buffer-limit", "3mb", "client-output-buffer-limit", "4mb",
                         "timeout", "5", "hz", "6", "active-expire-budget", "7",
                         "idle-sleep-us", "8"};
    CU_ASSERT_EQUAL(config_set_pairs(&cfg, 16, all, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, client_output_buffer_limit), 4 * 1048576);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, idle_sleep_us), 8);
}

/* CONFIG GET on one thread while CONFIG SET runs on another: every read
 * sees one of the two values written. */
struct race {
    struct hp_config *cfg;
    int bad;
};

static void race_cb(void *arg, const char *name, const char *value)
{
    struct race *r = arg;
    (void)name;
    if (strcmp(value, "11") != 0 && strcmp(value, "22") != 0)
        r->bad++;
}

static void *race_setter(void *arg)
{
    struct hp_config *cfg = arg;
    char err[ERR_MAX];
    for (int i = 0; i < 20000; i++)
        if (set1(cfg, "hz", (i & 1) ? "11" : "22", err) != 0)
            return (void *)1;
    return NULL;
}

static void test_concurrent_get_set(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    struct race r = {&cfg, 0};
    pthread_t t;
    config_init(&cfg);
    CU_ASSERT_EQUAL(set1(&cfg, "hz", "11", err), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, race_setter, &cfg), 0);
    for (int i = 0; i < 20000; i++)
        config_foreach_match(&cfg, "hz", race_cb, &r);
    void *rc = NULL;
    CU_ASSERT_EQUAL(pthread_join(t, &rc), 0);
    CU_ASSERT_PTR_NULL(rc);
    CU_ASSERT_EQUAL(r.bad, 0);
}

/* ---- docs/CONFIG.md lists every directive ---------------------------------------- */

static FILE *open_docs(void)
{
    char exe[PATH_MAX];
    char path[PATH_MAX + 64];
    FILE *f = fopen("docs/CONFIG.md", "r"); /* run from the repository root */
    if (f)
        return f;
    /* Run from the build tree: <repo>/<build>/tests/unit/test_config. */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    snprintf(path, sizeof(path), "%s/../../../docs/CONFIG.md", dirname(exe));
    return fopen(path, "r");
}

static void test_docs_list_every_directive(void)
{
    static char doc[65536];
    FILE *f = open_docs();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t n = fread(doc, 1, sizeof(doc) - 1, f);
    doc[n] = '\0';
    fclose(f);
    struct hp_config cfg;
    struct get_result all;
    config_init(&cfg);
    config_get(&cfg, "*", &all);
    for (int i = 0; i < all.n; i++) {
        char needle[96];
        snprintf(needle, sizeof(needle), "| `%s` |", all.names[i]);
        if (strstr(doc, needle) == NULL)
            fprintf(stderr, "\n  docs/CONFIG.md has no table row for %s\n", all.names[i]);
        CU_ASSERT_PTR_NOT_NULL(strstr(doc, needle));
    }
}

static CU_TestInfo tests_runtime[] = {
    {"CONFIG GET glob and rendering", test_config_get_glob},
    {"CONFIG SET runtime settings", test_config_set_runtime},
    {"CONFIG SET errors", test_config_set_errors},
    {"CONFIG SET several pairs", test_config_set_pairs},
    {"CONFIG GET during CONFIG SET", test_concurrent_get_set},
    {"docs/CONFIG.md lists every directive", test_docs_list_every_directive},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"CONFIG GET/SET", NULL, NULL, NULL, NULL, tests_runtime},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
