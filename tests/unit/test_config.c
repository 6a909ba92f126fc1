/*
 * test_config.c - dataplane/config/config.c: defaults, every directive's valid and
 * invalid values, the config file (comments, quotes, errors with line
 * numbers, limits), the command line (after the file, redis-server style),
 * --help/--version, CONFIG GET glob matching and rendering, CONFIG SET
 * (runtime, immutable, bad values, several pairs), docs/CONFIG.md coverage.
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/log.h"
#include "../../dataplane/config/config.h"
#include "cu_main.h"

#define ERR_MAX 512

/* ---- helpers ------------------------------------------------------------ */

static int apply1(struct hp_config *cfg, const char *name, const char *value, char *err)
{
    const char *vals[1] = {value};
    err[0] = '\0';
    return config_apply(cfg, name, 1, vals, false, err, ERR_MAX);
}

static int set1(struct hp_config *cfg, const char *name, const char *value, char *err)
{
    const char *vals[1] = {value};
    err[0] = '\0';
    return config_apply(cfg, name, 1, vals, true, err, ERR_MAX);
}

struct get_result {
    int n;
    char names[48][64];
    char values[48][1200];
};

static void get_cb(void *arg, const char *name, const char *value)
{
    struct get_result *r = arg;
    CU_ASSERT_FATAL(r->n < 48);
    snprintf(r->names[r->n], sizeof(r->names[r->n]), "%s", name);
    snprintf(r->values[r->n], sizeof(r->values[r->n]), "%s", value);
    r->n++;
}

static void config_get(const struct hp_config *cfg, const char *pattern, struct get_result *r)
{
    memset(r, 0, sizeof(*r));
    config_foreach_match(cfg, pattern, get_cb, r);
}

/* The value CONFIG GET shows for exactly one directive. */
static const char *get_value(const struct hp_config *cfg, const char *name)
{
    static struct get_result r; /* test-only scratch */
    config_get(cfg, name, &r);
    CU_ASSERT_EQUAL(r.n, 1);
    return r.n == 1 ? r.values[0] : "";
}

/* Writes text to a fresh temporary file; path gets its name. */
static void write_temp(char *path, size_t pathlen, const char *text, size_t len)
{
    snprintf(path, pathlen, "/tmp/hp_test_config_XXXXXX");
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, text, len) == (ssize_t)len);
    CU_ASSERT_FATAL(close(fd) == 0);
}

static int parse_argv(struct hp_config *cfg, int argc, const char **argv, bool *exit_now,
                      char *err)
{
    err[0] = '\0';
    return config_parse_args(cfg, argc, (char **)argv, exit_now, err, ERR_MAX);
}

/* Parses a config file with the given text. */
static int parse_file(struct hp_config *cfg, const char *text, char *path, size_t pathlen,
                      char *err)
{
    bool exit_now = false;
    write_temp(path, pathlen, text, strlen(text));
    const char *argv[] = {"hotpathd", path};
    int rc = parse_argv(cfg, 2, argv, &exit_now, err);
    CU_ASSERT_FALSE(exit_now);
    return rc;
}

/* Runs config_parse_args with stdout captured into out. */
static int parse_capture(int argc, const char **argv, bool *exit_now, char *out, size_t outlen)
{
    struct hp_config cfg;
    char err[ERR_MAX];
    char path[64];
    config_init(&cfg);
    write_temp(path, sizeof(path), "", 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(path, O_WRONLY | O_TRUNC);
    CU_ASSERT_FATAL(saved >= 0 && fd >= 0);
    CU_ASSERT_FATAL(dup2(fd, STDOUT_FILENO) >= 0);
    int rc = parse_argv(&cfg, argc, argv, exit_now, err);
    fflush(stdout);
    CU_ASSERT_FATAL(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    close(fd);
    FILE *f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    size_t n = fread(out, 1, outlen - 1, f);
    out[n] = '\0';
    fclose(f);
    unlink(path);
    return rc;
}

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

#define RANGE_0_65535 "argument must be between 0 and 65535 inclusive"
#define NOT_INT "argument couldn't be parsed into an integer"
#define NOT_MEM "argument must be a memory value"
#define MB_RANGE "argument must be between 1048576 and 9223372036854775807 inclusive"

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

static CU_TestInfo tests_file[] = {
    {"file: comments, blank lines, later wins", test_file_basic},
    {"file: quotes and escapes", test_file_quotes},
    {"file: errors name the line", test_file_errors_name_lines},
    {"file: line length and value count limits", test_file_limits},
    {"file: unreadable", test_file_unreadable},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo tests_cmdline[] = {
    {"command line overrides the file", test_cmdline_overrides_file},
    {"command line forms", test_cmdline_forms},
    {"command line errors", test_cmdline_errors},
    {"--help and --version", test_help_and_version},
    CU_TEST_INFO_NULL,
};

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
    {"config values", NULL, NULL, NULL, NULL, tests_values},
    {"config file", NULL, NULL, NULL, NULL, tests_file},
    {"command line", NULL, NULL, NULL, NULL, tests_cmdline},
    {"CONFIG GET/SET", NULL, NULL, NULL, NULL, tests_runtime},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
