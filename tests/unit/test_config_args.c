/*
 * test_config_args.c - dataplane/config/config_args.c: the command line
 * (after the file, redis-server style forms, errors), --help/--version.
 * Helpers in config_harness.h.
 */
#include "config_harness.h"

/* ---- command line ----------------------------------------------------------- */

static void test_cmdline_overrides_file(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    char path[64];
    bool exit_now = true;
    write_temp(path, sizeof(path), "port 7000\nhz 20\nbind 10.0.0.1\n", 30);
    const char *argv[] = {"hotpathd", path, "--port", "7001", "--bind", "127.0.0.1", "::1",
                          "--eal-args", "--no-huge", "--hz", "30"};
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_argv(&cfg, 11, argv, &exit_now, err), 0);
    CU_ASSERT_STRING_EQUAL(err, "");
    CU_ASSERT_FALSE(exit_now);
    CU_ASSERT_STRING_EQUAL(cfg.config_file, path);
    CU_ASSERT_EQUAL(cfg.port, 7001);
    CU_ASSERT_EQUAL(cfg.nbind, 2);
    CU_ASSERT_STRING_EQUAL(cfg.bind[0], "127.0.0.1");
    CU_ASSERT_STRING_EQUAL(cfg.bind[1], "::1");
    /* The first argument after a bare --name is its value even if it starts with --. */
    CU_ASSERT_STRING_EQUAL(cfg.eal_args, "--no-huge");
    CU_ASSERT_EQUAL(CONFIG_RT_GET(&cfg, hz), 30);
    unlink(path);
}

static void test_cmdline_forms(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    bool exit_now;
    /* No config file; "--name value" in one argument; a quoted multi-word value. */
    const char *argv[] = {"hotpathd", "--port 7005", "--eal-args", "--no-huge -m 128",
                          "--WORKERS", "2", "--loglevel", "debug"};
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_argv(&cfg, 8, argv, &exit_now, err), 0);
    CU_ASSERT_STRING_EQUAL(cfg.config_file, "");
    CU_ASSERT_EQUAL(cfg.port, 7005);
    CU_ASSERT_STRING_EQUAL(cfg.eal_args, "--no-huge -m 128");
    CU_ASSERT_EQUAL(cfg.workers, 2);
    CU_ASSERT_EQUAL(cfg.log_level, LOG_DEBUG);
    /* Several words after a bare --eal-args: joined. */
    const char *argv2[] = {"hotpathd", "--eal-args", "--no-huge", "-m", "64", "--port", "1"};
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_argv(&cfg, 7, argv2, &exit_now, err), 0);
    CU_ASSERT_STRING_EQUAL(cfg.eal_args, "--no-huge -m 64");
    CU_ASSERT_EQUAL(cfg.port, 1);
    /* Nothing at all: defaults. */
    const char *argv3[] = {"hotpathd"};
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_argv(&cfg, 1, argv3, &exit_now, err), 0);
    CU_ASSERT_EQUAL(cfg.port, 6379);
    CU_ASSERT_FALSE(exit_now);
}

static void test_cmdline_errors(void)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    bool exit_now;
    const char *unknown[] = {"hotpathd", "--port", "7000", "--foo", "1"};
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_argv(&cfg, 5, unknown, &exit_now, err), -1);
    CU_ASSERT_STRING_EQUAL(err, "unknown directive '--foo'");
    const char *bad[] = {"hotpathd", "--port", "70000"};
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_argv(&cfg, 3, bad, &exit_now, err), -1);
    CU_ASSERT_STRING_EQUAL(err, "--port '70000': " RANGE_0_65535);
    const char *missing[] = {"hotpathd", "--hz", "5", "--port"};
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_argv(&cfg, 4, missing, &exit_now, err), -1);
    CU_ASSERT_STRING_EQUAL(err, "--port: wrong number of arguments");
    const char *extra[] = {"hotpathd", "--port", "7000", "7001"};
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_argv(&cfg, 4, extra, &exit_now, err), -1);
    CU_ASSERT_STRING_EQUAL(err, "--port '7000 7001': wrong number of arguments");
    const char *stray[] = {"hotpathd", "/tmp/a.conf", "b.conf"};
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_argv(&cfg, 3, stray, &exit_now, err), -1);
    CU_ASSERT_STRING_EQUAL(err, "unexpected argument 'b.conf' (directives on the command line "
                                "start with --)");
    const char *dash[] = {"hotpathd", "-p", "7000"};
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_argv(&cfg, 3, dash, &exit_now, err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unexpected argument '-p'"));
    const char *empty[] = {"hotpathd", "--", "x"};
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_argv(&cfg, 3, empty, &exit_now, err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no directive name"));
    /* An error in the file stops before the command line is applied. */
    char path[64];
    write_temp(path, sizeof(path), "port x\n", 7);
    const char *both[] = {"hotpathd", path, "--port", "7000"};
    config_init(&cfg);
    CU_ASSERT_EQUAL(parse_argv(&cfg, 4, both, &exit_now, err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, ":1: port 'x': " NOT_INT));
    CU_ASSERT_EQUAL(cfg.port, 6379);
    unlink(path);
}

static void test_help_and_version(void)
{
    static char out[16384];
    bool exit_now = false;
    const char *help[] = {"hotpathd", "--help"};
    CU_ASSERT_EQUAL(parse_capture(2, help, &exit_now, out, sizeof(out)), 0);
    CU_ASSERT_TRUE(exit_now);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Usage: hotpathd"));
    /* Every directive is listed with its default. */
    struct hp_config cfg;
    struct get_result all;
    config_init(&cfg);
    config_get(&cfg, "*", &all);
    CU_ASSERT_EQUAL(all.n, 34); /* 28 + 6 AOF directives */
    for (int i = 0; i < all.n; i++) {
        char needle[96];
        snprintf(needle, sizeof(needle), "\n  %s ", all.names[i]);
        if (strstr(out, needle) == NULL)
            fprintf(stderr, "\n  --help lacks %s\n", all.names[i]);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, needle));
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "512mb"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "adaptive|busy"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "0..65535"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "hz *")); /* runtime marker */

    exit_now = false;
    const char *version[] = {"hotpathd", "--version"};
    CU_ASSERT_EQUAL(parse_capture(2, version, &exit_now, out, sizeof(out)), 0);
    CU_ASSERT_TRUE(exit_now);
    CU_ASSERT_STRING_EQUAL(out, "hotpathd v" HOTPATHD_VERSION "\n");

    exit_now = false;
    const char *v[] = {"hotpathd", "-v"};
    CU_ASSERT_EQUAL(parse_capture(2, v, &exit_now, out, sizeof(out)), 0);
    CU_ASSERT_TRUE(exit_now);
    CU_ASSERT_STRING_EQUAL(out, "hotpathd v0.1.0\n");

    exit_now = false;
    const char *h[] = {"hotpathd", "-h"};
    CU_ASSERT_EQUAL(parse_capture(2, h, &exit_now, out, sizeof(out)), 0);
    CU_ASSERT_TRUE(exit_now);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Usage: hotpathd"));

    /* --help after a config file and other flags: help, file not read. */
    exit_now = false;
    const char *late[] = {"hotpathd", "/nonexistent.conf", "--port", "1", "--help"};
    CU_ASSERT_EQUAL(parse_capture(5, late, &exit_now, out, sizeof(out)), 0);
    CU_ASSERT_TRUE(exit_now);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Usage: hotpathd"));

    /* No help or version: nothing printed, exit_now cleared. */
    exit_now = true;
    const char *none[] = {"hotpathd", "--port", "7000"};
    CU_ASSERT_EQUAL(parse_capture(3, none, &exit_now, out, sizeof(out)), 0);
    CU_ASSERT_FALSE(exit_now);
    CU_ASSERT_STRING_EQUAL(out, "");
}

static CU_TestInfo tests_cmdline[] = {
    {"command line overrides the file", test_cmdline_overrides_file},
    {"command line forms", test_cmdline_forms},
    {"command line errors", test_cmdline_errors},
    {"--help and --version", test_help_and_version},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"command line", NULL, NULL, NULL, NULL, tests_cmdline},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
