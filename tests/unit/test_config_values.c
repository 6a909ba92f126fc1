/*
 * test_config_values.c - dataplane/config/config.c: defaults, every directive's
 * valid and invalid values, value counts and length limits, unknown
 * directives, CONFIG GET values read back.  Helpers in config_harness.h.
 */
#include "config_harness.h"

/* ---- defaults ----------------------------------------------------------- */

static void test_defaults(void)
{
    struct hp_config cfg;
    config_init(&cfg);
    CU_ASSERT_EQUAL(cfg.port, 6379);
    CU_ASSERT_EQUAL(cfg.nbind, 1);
    CU_ASSERT_STRING_EQUAL(cfg.bind[0], "127.0.0.1");
    CU_ASSERT_EQUAL(cfg.tcp_backlog, 511);
    CU_ASSERT_EQUAL(cfg.workers, 0);
    CU_ASSERT_EQUAL(cfg.poll_mode, POLL_ADAPTIVE);
    CU_ASSERT_EQUAL(cfg.io_backend, IO_BACKEND_AUTO);
    CU_ASSERT_STRING_EQUAL(cfg.eal_args, "");
    CU_ASSERT_STRING_EQUAL(cfg.file_prefix, "");
    CU_ASSERT_EQUAL(cfg.eal_memory_mb, 256);
    CU_ASSERT_EQUAL(cfg.log_level, LOG_NOTICE);
    CU_ASSERT_STRING_EQUAL(cfg.config_file, "");
    CU_ASSERT_EQUAL(cfg.databases, 16);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, maxclients), 10000);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, proto_max_bulk_len), 512LL * 1024 * 1024);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, client_query_buffer_limit), 1024LL * 1024 * 1024);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, client_output_buffer_limit), 1024LL * 1024 * 1024);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, timeout), 0);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, hz), 10);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, active_expire_budget), 200);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, idle_sleep_us), 100000);
}

/* ---- every directive: valid and invalid values --------------------------- */

struct value_case {
    const char *name;
    const char *value;
    const char *shown; /* CONFIG GET afterwards (valid), or a substring of the error */
    bool ok;
};

static const struct value_case value_cases[] = {
    {"port", "0", "0", true},
    {"port", "65535", "65535", true},
    {"port", "65536", RANGE_0_65535, false},
    {"port", "-1", RANGE_0_65535, false},
    {"port", "abc", NOT_INT, false},
    {"port", "6379x", NOT_INT, false},
    {"port", "06379", NOT_INT, false},
    {"port", " 6379", NOT_INT, false},
    {"port", "", NOT_INT, false},
    {"port", "99999999999999999999", NOT_INT, false},
    {"bind", "10.1.2.3", "10.1.2.3", true},
    {"bind", "127.0.0.1 ::1", "127.0.0.1 ::1", true},
    {"bind", "0.0.0.0", "0.0.0.0", true},
    {"bind", "localhost", "'localhost' is not a numeric IPv4 or IPv6 address", false},
    {"bind", "127.0.0.256", "is not a numeric IPv4 or IPv6 address", false},
    {"bind", "*", "is not a numeric IPv4 or IPv6 address", false},
    {"bind", "::1 0:0::1", "address '0:0::1' is given twice", false},
    {"bind", "", "argument must be 1 to 16 addresses", false},
    {"tcp-backlog", "1", "1", true},
    {"tcp-backlog", "65535", "65535", true},
    {"tcp-backlog", "0", "between 1 and 65535 inclusive", false},
    {"workers", "0", "0", true},
    {"workers", "64", "64", true},
    {"workers", "65", "argument must be between 0 and 64 inclusive", false},
    {"workers", "-1", "between 0 and 64", false},
    {"poll-mode", "busy", "busy", true},
    {"poll-mode", "ADAPTIVE", "adaptive", true},
    {"poll-mode", "spin", "argument(s) must be one of the following: adaptive, busy", false},
    {"io-backend", "io_uring", "io_uring", true},
    {"io-backend", "Epoll", "epoll", true},
    {"io-backend", "auto", "auto", true},
    {"io-backend", "uring", "one of the following: auto, io_uring, epoll", false},
    {"eal-args", "--no-huge -m 512 -l 0-3", "--no-huge -m 512 -l 0-3", true},
    {"eal-args", "", "", true},
    {"eal-args", "-m\n512", "argument must not contain control characters", false},
    {"file-prefix", "hp-1.test_x", "hp-1.test_x", true},
    {"file-prefix", "", "", true},
    {"file-prefix", "a/b", "argument may contain only letters, digits, '.', '_' and '-'", false},
    {"file-prefix", "a b", "argument may contain only", false},
    {"eal-memory-mb", "16", "16", true},
    {"eal-memory-mb", "1048576", "1048576", true},
    {"eal-memory-mb", "15", "between 16 and 1048576 inclusive", false},
    {"eal-memory-mb", "1gb", NOT_INT, false},
    {"loglevel", "debug", "debug", true},
    {"loglevel", "verbose", "verbose", true},
    {"loglevel", "WARNING", "warning", true},
    {"loglevel", "notice", "notice", true},
    {"loglevel", "loud",
     "argument(s) must be one of the following: debug, verbose, notice, warning", false},
    {"databases", "16", "16", true},
    {"databases", "4", "argument must be 16 (the only supported value)", false},
    {"databases", "x", NOT_INT, false},
    {"maxclients", "1", "1", true},
    {"maxclients", "4294967295", "4294967295", true},
    {"maxclients", "0", "argument must be between 1 and 4294967295 inclusive", false},
    {"maxclients", "4294967296", "between 1 and 4294967295", false},
    {"proto-max-bulk-len", "1mb", "1048576", true},
    {"proto-max-bulk-len", "1MB", "1048576", true},
    {"proto-max-bulk-len", "2Mb", "2097152", true},
    {"proto-max-bulk-len", "1gb", "1073741824", true},
    {"proto-max-bulk-len", "1GB", "1073741824", true},
    {"proto-max-bulk-len", "1g", "1000000000", true},
    {"proto-max-bulk-len", "2m", "2000000", true},
    {"proto-max-bulk-len", "2000k", "2000000", true},
    {"proto-max-bulk-len", "2048kb", "2097152", true},
    {"proto-max-bulk-len", "2097152", "2097152", true},
    {"proto-max-bulk-len", "2097152b", "2097152", true},
    {"proto-max-bulk-len", "02097152", "2097152", true},
    {"proto-max-bulk-len", "9223372036854775807", "9223372036854775807", true},
    {"proto-max-bulk-len", "9223372036854775808", MB_RANGE, false},
    {"proto-max-bulk-len", "99999999999999999999999gb", MB_RANGE, false},
    {"proto-max-bulk-len", "1m", MB_RANGE, false},
    {"proto-max-bulk-len", "1048575", MB_RANGE, false},
    {"proto-max-bulk-len", "1kb", MB_RANGE, false},
    {"proto-max-bulk-len", "1.5mb", NOT_MEM, false},
    {"proto-max-bulk-len", "+2mb", NOT_MEM, false},
    {"proto-max-bulk-len", "-1", NOT_MEM, false},
    {"proto-max-bulk-len", "2mbx", NOT_MEM, false},
    {"proto-max-bulk-len", "1t", NOT_MEM, false},
    {"proto-max-bulk-len", "mb", NOT_MEM, false},
    {"proto-max-bulk-len", "", NOT_MEM, false},
    {"client-query-buffer-limit", "1mb", "1048576", true},
    {"client-query-buffer-limit", "2gb", "2147483648", true},
    {"client-query-buffer-limit", "10", MB_RANGE, false},
    {"client-query-buffer-limit", "lots", NOT_MEM, false},
    {"client-output-buffer-limit", "2mb", "normal 2097152 0 0", true},
    {"client-output-buffer-limit", "0", "normal 1073741824 0 0", true},
    {"client-output-buffer-limit", "normal 0 0 0", "normal 1073741824 0 0", true},
    {"client-output-buffer-limit", "normal 4mb 0 0", "normal 4194304 0 0", true},
    {"client-output-buffer-limit", "NORMAL 4mb 0 0 normal 8mb 0 0", "normal 8388608 0 0", true},
    {"client-output-buffer-limit", "normal 1 2",
     "Wrong number of arguments in buffer limit configuration.", false},
    {"client-output-buffer-limit", "normal 4mb 1mb 60",
     "soft limits are not supported (soft and soft_seconds must be 0)", false},
    {"client-output-buffer-limit", "pubsub 0 0 0", "only the normal client class is supported",
     false},
    {"client-output-buffer-limit", "replica 0 0 0", "only the normal client class", false},
    {"client-output-buffer-limit", "foo 0 0 0",
     "Invalid client class specified in buffer limit configuration.", false},
    {"client-output-buffer-limit", "normal abc 0 0",
     "Error in hard, soft or soft_seconds setting in buffer limit configuration.", false},
    {"client-output-buffer-limit", "normal 0 0 -1", "Error in hard, soft or soft_seconds", false},
    {"client-output-buffer-limit", "normal 1k 0 0", MB_RANGE, false},
    {"client-output-buffer-limit", "1kb", MB_RANGE, false},
    {"client-output-buffer-limit", "abc", NOT_MEM, false},
    {"timeout", "0", "0", true},
    {"timeout", "300", "300", true},
    {"timeout", "2147483647", "2147483647", true},
    {"timeout", "2147483648", "argument must be between 0 and 2147483647 inclusive", false},
    {"timeout", "-1", "argument must be between 0 and 2147483647 inclusive", false},
    {"hz", "100", "100", true},
    {"hz", "0", "1", true},      /* clamped, as Redis */
    {"hz", "1000", "500", true}, /* clamped, as Redis */
    {"hz", "-5", "argument must be between 0 and 2147483647 inclusive", false},
    {"hz", "10.5", NOT_INT, false},
    {"active-expire-budget", "1", "1", true},
    {"active-expire-budget", "1000000", "1000000", true},
    {"active-expire-budget", "0", "between 1 and 1000000 inclusive", false},
    {"idle-sleep-us", "0", "0", true},
    {"idle-sleep-us", "1000000", "1000000", true},
    {"idle-sleep-us", "1000001", "between 0 and 1000000 inclusive", false},
};

static void test_every_directive_values(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
        const struct value_case *c = &value_cases[i];
        config_init(&cfg);
        int rc = apply1(&cfg, c->name, c->value, err);
        if (c->ok) {
            if (rc != 0)
                fprintf(stderr, "\n  %s '%s' refused: %s\n", c->name, c->value, err);
            CU_ASSERT_EQUAL(rc, 0);
            const char *got = get_value(&cfg, c->name);
            if (strcmp(got, c->shown) != 0)
                fprintf(stderr, "\n  %s '%s' shows '%s'\n", c->name, c->value, got);
            CU_ASSERT_STRING_EQUAL(got, c->shown);
        } else {
            CU_ASSERT_EQUAL(rc, -1);
            /* The error names the directive and the value, then why. */
            char head[256];
            snprintf(head, sizeof(head), "%s '%s': ", c->name, c->value);
            if (strchr(c->value, '\n') == NULL && strncmp(err, head, strlen(head)) != 0)
                fprintf(stderr, "\n  error '%s' does not start with '%s'\n", err, head);
            CU_ASSERT(strchr(c->value, '\n') != NULL || strncmp(err, head, strlen(head)) == 0);
            bool named = strstr(err, c->shown) != NULL;
            if (!named)
                fprintf(stderr, "\n  %s: error '%s' lacks '%s'\n", c->name, err, c->shown);
            CU_ASSERT_TRUE(named);
        }
    }
}

/* A refused value leaves the setting as it was. */
static void test_bad_value_changes_nothing(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    config_init(&cfg);
    CU_ASSERT_EQUAL(apply1(&cfg, "port", "7000", err), 0);
    CU_ASSERT_EQUAL(apply1(&cfg, "port", "70000", err), -1);
    CU_ASSERT_EQUAL(cfg.port, 7000);
    CU_ASSERT_EQUAL(apply1(&cfg, "bind", "10.0.0.1 bogus", err), -1);
    CU_ASSERT_EQUAL(cfg.nbind, 1);
    CU_ASSERT_STRING_EQUAL(cfg.bind[0], "127.0.0.1");
}

static void test_wrong_number_of_values(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    config_init(&cfg);
    const char *two[] = {"1", "2"};
    CU_ASSERT_EQUAL(config_apply(&cfg, "port", 2, two, false, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "port '1 2': wrong number of arguments");
    CU_ASSERT_EQUAL(config_apply(&cfg, "hz", 0, two, false, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "hz: wrong number of arguments");
    CU_ASSERT_EQUAL(config_apply(&cfg, "eal-args", 0, two, false, err, sizeof(err)), -1);
    /* Several values where a directive takes several. */
    const char *addrs[] = {"127.0.0.1", "::1", "10.0.0.7"};
    CU_ASSERT_EQUAL(config_apply(&cfg, "bind", 3, addrs, false, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(cfg.nbind, 3);
    CU_ASSERT_STRING_EQUAL(cfg.bind[2], "10.0.0.7");
    const char *eal[] = {"--no-huge", "-m", "64"};
    CU_ASSERT_EQUAL(config_apply(&cfg, "eal-args", 3, eal, false, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(cfg.eal_args, "--no-huge -m 64");
    const char *obuf[] = {"normal", "3mb", "0", "0"};
    CU_ASSERT_EQUAL(config_apply(&cfg, "client-output-buffer-limit", 4, obuf, false, err,
                                 sizeof(err)), 0);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, client_output_buffer_limit), 3 * 1024 * 1024);
}

static void test_bind_limit(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    char list[1024];
    size_t off = 0;
    config_init(&cfg);
    for (int i = 1; i <= CONFIG_MAX_BIND; i++)
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s10.0.0.%d", i > 1 ? " " : "", i);
    CU_ASSERT_EQUAL(apply1(&cfg, "bind", list, err), 0);
    CU_ASSERT_EQUAL(cfg.nbind, CONFIG_MAX_BIND);
    CU_ASSERT_STRING_EQUAL(cfg.bind[CONFIG_MAX_BIND - 1], "10.0.0.16");
    snprintf(list + off, sizeof(list) - off, " 10.0.0.17");
    CU_ASSERT_EQUAL(apply1(&cfg, "bind", list, err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "argument must be 1 to 16 addresses"));
    CU_ASSERT_EQUAL(cfg.nbind, CONFIG_MAX_BIND);
}

static void test_text_length_limits(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    char text[CONFIG_STR_MAX + 1];
    config_init(&cfg);
    memset(text, 'a', sizeof(text));
    text[sizeof(cfg.file_prefix) - 1] = '\0'; /* 63 bytes: fits */
    CU_ASSERT_EQUAL(apply1(&cfg, "file-prefix", text, err), 0);
    CU_ASSERT_EQUAL(strlen(cfg.file_prefix), sizeof(cfg.file_prefix) - 1);
    text[sizeof(cfg.file_prefix) - 1] = 'a';
    text[sizeof(cfg.file_prefix)] = '\0';
    CU_ASSERT_EQUAL(apply1(&cfg, "file-prefix", text, err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "argument must be at most 63 bytes long"));
    memset(text, 'a', sizeof(text));
    text[CONFIG_STR_MAX - 1] = '\0';
    CU_ASSERT_EQUAL(apply1(&cfg, "eal-args", text, err), 0);
    text[CONFIG_STR_MAX - 1] = 'a';
    text[CONFIG_STR_MAX] = '\0';
    CU_ASSERT_EQUAL(apply1(&cfg, "eal-args", text, err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "at most 1023 bytes long"));
    /* The quoted value in the error is cut short. */
    CU_ASSERT(strlen(err) < 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "...'"));
}

static void test_unknown_directive(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    config_init(&cfg);
    CU_ASSERT_EQUAL(apply1(&cfg, "foo", "1", err), -1);
    CU_ASSERT_STRING_EQUAL(err, "unknown directive 'foo'");
    CU_ASSERT_EQUAL(apply1(&cfg, "PORT", "7001", err), 0); /* names are case-insensitive */
    CU_ASSERT_EQUAL(cfg.port, 7001);
    /* Non-printable bytes in a name are escaped in the message. */
    CU_ASSERT_EQUAL(apply1(&cfg, "a\x01z", "1", err), -1);
    CU_ASSERT_STRING_EQUAL(err, "unknown directive 'a\\x01z'");
}

/* Every value CONFIG GET shows reads back as itself. */
static void rendered_cb(void *arg, const char *name, const char *value)
{
    struct hp_config *cfg = arg;
    struct hp_config copy;
    char err[ERR_MAX];
    char before[1200];
    config_init(&copy);
    snprintf(before, sizeof(before), "%s", value);
    int rc = apply1(&copy, name, value, err);
    if (rc != 0)
        fprintf(stderr, "\n  %s '%s' does not read back: %s\n", name, value, err);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(get_value(&copy, name), before);
    (void)cfg;
}

static void test_render_round_trip(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    config_init(&cfg);
    config_foreach_match(&cfg, "*", rendered_cb, &cfg);
    CU_ASSERT_EQUAL(apply1(&cfg, "bind", "10.0.0.1 ::1", err), 0);
    CU_ASSERT_EQUAL(apply1(&cfg, "eal-args", "--no-huge -m 64", err), 0);
    CU_ASSERT_EQUAL(apply1(&cfg, "client-output-buffer-limit", "5mb", err), 0);
    CU_ASSERT_EQUAL(apply1(&cfg, "loglevel", "debug", err), 0);
    config_foreach_match(&cfg, "*", rendered_cb, &cfg);
}

static CU_TestInfo tests_values[] = {
    {"defaults", test_defaults},
    {"every directive: valid and invalid values", test_every_directive_values},
    {"a refused value changes nothing", test_bad_value_changes_nothing},
    {"wrong number of values", test_wrong_number_of_values},
    {"bind: at most CONFIG_MAX_BIND", test_bind_limit},
    {"text length limits", test_text_length_limits},
    {"unknown directive", test_unknown_directive},
    {"CONFIG GET values read back", test_render_round_trip},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"config values", NULL, NULL, NULL, NULL, tests_values},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
