/*
 * test_config_file.c - dataplane/config/config_file.c: the config file
 * (comments, quotes and escapes, errors with line numbers, limits,
 * unreadable files).  Helpers in config_harness.h.
 */
#include "config_harness.h"

/* ---- config file ---------------------------------------------------------- */

static void test_file_basic(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    char path[64];
    config_init(&cfg);
    const char *text = "# hotpath.conf\n"
                       "\n"
                       "   # indented comment\n"
                       "port 7100\n"
                       "BIND 127.0.0.1 ::1\r\n"
                       "\t workers   4  \n"
                       "eal-args \"--no-huge -m 512\"\n"
                       "file-prefix 'hp-test'\n"
                       "loglevel warning\n"
                       "proto-max-bulk-len 64mb\n"
                       "client-output-buffer-limit normal 16mb 0 0\n"
                       "hz 50\n"
                       "port 7101"; /* last line without newline; later line wins */
    CU_ASSERT_EQUAL(parse_file(&cfg, text, path, sizeof(path), err), 0);
    CU_ASSERT_STRING_EQUAL(err, "");
    CU_ASSERT_STRING_EQUAL(cfg.config_file, path);
    CU_ASSERT_EQUAL(cfg.port, 7101);
    CU_ASSERT_EQUAL(cfg.nbind, 2);
    CU_ASSERT_STRING_EQUAL(cfg.bind[1], "::1");
    CU_ASSERT_EQUAL(cfg.workers, 4);
    CU_ASSERT_STRING_EQUAL(cfg.eal_args, "--no-huge -m 512");
    CU_ASSERT_STRING_EQUAL(cfg.file_prefix, "hp-test");
    CU_ASSERT_EQUAL(cfg.log_level, LOG_WARNING);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, proto_max_bulk_len), 64 * 1024 * 1024);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, client_output_buffer_limit), 16 * 1024 * 1024);
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, hz), 50);
    unlink(path);
}

static void test_file_quotes(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    char path[64];
    config_init(&cfg);
    /* Double quotes take escapes (\x41 = 'A', \" ), single quotes take \'. */
    const char *text = "eal-args \"-a \\x41\\\"b\\\\c\"\n"
                       "file-prefix 'it\\'s'x\n";
    CU_ASSERT_EQUAL(parse_file(&cfg, text, path, sizeof(path), err), -1);
    /* Line 2's closing quote is followed by 'x': refused, naming line 2. */
    char want[128];
    snprintf(want, sizeof(want), "%s:2: closing quote must be followed by a space", path);
    CU_ASSERT_STRING_EQUAL(err, want);
    CU_ASSERT_STRING_EQUAL(cfg.eal_args, "-a A\"b\\c"); /* line 1 was applied */
    unlink(path);

    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_file(&cfg, "eal-args '--a \\'b\\'' \"\" c\n", path, sizeof(path), err),
                    0);
    CU_ASSERT_STRING_EQUAL(cfg.eal_args, "--a 'b'  c");
    unlink(path);

    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_file(&cfg, "bind \"127.0.0.1 ::1\"\n", path, sizeof(path), err), 0);
    CU_ASSERT_EQUAL(cfg.nbind, 2);
    unlink(path);

    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_file(&cfg, "\n\nport \"6380\n", path, sizeof(path), err), -1);
    snprintf(want, sizeof(want), "%s:3: unbalanced quotes", path);
    CU_ASSERT_STRING_EQUAL(err, want);
    unlink(path);

    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_file(&cfg, "eal-args \"a\\x00b\"\n", path, sizeof(path), err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, ":1: NUL bytes (\\x00) are not allowed"));
    unlink(path);
}

static void test_file_errors_name_lines(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    char path[64];
    char want[256];
    config_init(&cfg);
    const char *text = "# comment\n"
                       "port 7000\n"
                       "\n"
                       "hz 20\n"
                       "foo bar\n";
    CU_ASSERT_EQUAL(parse_file(&cfg, text, path, sizeof(path), err), -1);
    snprintf(want, sizeof(want), "%s:5: unknown directive 'foo'", path);
    CU_ASSERT_STRING_EQUAL(err, want);
    unlink(path);

    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_file(&cfg, "port 7000\nport 70000\n", path, sizeof(path), err), -1);
    snprintf(want, sizeof(want), "%s:2: port '70000': " RANGE_0_65535, path);
    CU_ASSERT_STRING_EQUAL(err, want);
    unlink(path);

    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_file(&cfg, "port 7000 # trailing comment\n", path, sizeof(path), err),
                    -1);
    snprintf(want, sizeof(want), "%s:1: port '7000 # trailing comment': wrong number of arguments",
             path);
    CU_ASSERT_STRING_EQUAL(err, want);
    unlink(path);

    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_file(&cfg, "port\n", path, sizeof(path), err), -1);
    snprintf(want, sizeof(want), "%s:1: port: wrong number of arguments", path);
    CU_ASSERT_STRING_EQUAL(err, want);
    unlink(path);

    static const char with_nul[] = "hz 1\nport 1\0port 2\n";
    write_temp(path, sizeof(path), with_nul, sizeof(with_nul) - 1);
    const char *argv[] = {"hotpathd", path};
    bool exit_now;
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_argv(&cfg, 2, argv, &exit_now, err), -1);
    snprintf(want, sizeof(want), "%s:2: contains a NUL byte", path);
    CU_ASSERT_STRING_EQUAL(err, want);
    unlink(path);
}

static void test_file_limits(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    char path[64];
    char want[256];
    static char text[2 * CONFIG_LINE_MAX];
    /* A line of exactly CONFIG_LINE_MAX bytes is fine; one more is not. */
    memset(text, 'x', CONFIG_LINE_MAX);
    text[0] = '#';
    memcpy(text + CONFIG_LINE_MAX, "\nport 7002\n", 12);
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_file(&cfg, text, path, sizeof(path), err), 0);
    CU_ASSERT_EQUAL(cfg.port, 7002);
    unlink(path);
    memset(text, 'x', CONFIG_LINE_MAX + 1);
    memcpy(text, "port 1\n#", 8);
    memcpy(text + CONFIG_LINE_MAX + 8, "\n", 2);
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_file(&cfg, text, path, sizeof(path), err), -1);
    snprintf(want, sizeof(want), "%s:2: line too long (more than %d bytes)", path, CONFIG_LINE_MAX);
    CU_ASSERT_STRING_EQUAL(err, want);
    unlink(path);

    /* CONFIG_VALUES_MAX values parse (then bind refuses 64 addresses);
     * one more is refused by the reader. */
    size_t off = (size_t)snprintf(text, sizeof(text), "eal-args");
    for (int i = 0; i < CONFIG_VALUES_MAX; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, " v%d", i);
    snprintf(text + off, sizeof(text) - off, "\n");
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_file(&cfg, text, path, sizeof(path), err), 0);
    CU_ASSERT_EQUAL(strncmp(cfg.eal_args, "v0 v1 v2", 8), 0);
    unlink(path);
    snprintf(text + off, sizeof(text) - off, " one-more\n");
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_file(&cfg, text, path, sizeof(path), err), -1);
    snprintf(want, sizeof(want), "%s:1: too many values (at most %d)", path, CONFIG_VALUES_MAX);
    CU_ASSERT_STRING_EQUAL(err, want);
    unlink(path);
}

static void test_file_unreadable(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    bool exit_now;
    config_init(&cfg);
    const char *missing[] = {"hotpathd", "/tmp/hp_test_config_does_not_exist.conf"};
    CU_ASSERT_EQUAL(parse_argv(&cfg, 2, missing, &exit_now, err), -1);
    CU_ASSERT_STRING_EQUAL(err, "cannot open config file "
                                "'/tmp/hp_test_config_does_not_exist.conf': "
                                "No such file or directory");
    const char *dir[] = {"hotpathd", "/tmp"};
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_argv(&cfg, 2, dir, &exit_now, err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/tmp: cannot read: Is a directory"));
}

static CU_TestInfo tests_file[] = {
    {"file: comments, blank lines, later wins", test_file_basic},
    {"file: quotes and escapes", test_file_quotes},
    {"file: errors name the line", test_file_errors_name_lines},
    {"file: line length and value count limits", test_file_limits},
    {"file: unreadable", test_file_unreadable},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"config file", NULL, NULL, NULL, NULL, tests_file},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
