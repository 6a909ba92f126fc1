/*
 * config_harness.h - shared by the dataplane/config suites
 * (test_config_values.c, test_config_file.c, test_config_args.c,
 * test_config_runtime.c): applying and CONFIG SET of one value, CONFIG GET
 * into a buffer, temporary config files, parsing a command line (with its
 * stdout captured).
 */
#ifndef HP_CONFIG_HARNESS_H
#define HP_CONFIG_HARNESS_H

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

static inline int apply1(struct hp_config *cfg, const char *name, const char *value, char *err)
{
    const char *vals[1] = {value};
    err[0] = '\0';
    return config_apply(cfg, name, 1, vals, false, err, ERR_MAX);
}

static inline int set1(struct hp_config *cfg, const char *name, const char *value, char *err)
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

static inline void get_cb(void *arg, const char *name, const char *value)
{
    struct get_result *r = arg;
    CU_ASSERT_FATAL(r->n < 48);
    snprintf(r->names[r->n], sizeof(r->names[r->n]), "%s", name);
    snprintf(r->values[r->n], sizeof(r->values[r->n]), "%s", value);
    r->n++;
}

static inline void config_get(const struct hp_config *cfg, const char *pattern, struct get_result *r)
{
    memset(r, 0, sizeof(*r));
    config_foreach_match(cfg, pattern, get_cb, r);
}

/* The value CONFIG GET shows for exactly one directive. */
static inline const char *get_value(const struct hp_config *cfg, const char *name)
{
    static struct get_result r; /* test-only scratch */
    config_get(cfg, name, &r);
    CU_ASSERT_EQUAL(r.n, 1);
    return r.n == 1 ? r.values[0] : "";
}

/* Writes text to a fresh temporary file; path gets its name. */
static inline void write_temp(char *path, size_t pathlen, const char *text, size_t len)
{
    snprintf(path, pathlen, "/tmp/hp_test_config_XXXXXX");
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, text, len) == (ssize_t)len);
    CU_ASSERT_FATAL(close(fd) == 0);
}

static inline int parse_argv(struct hp_config *cfg, int argc, const char **argv, bool *exit_now,
                      char *err)
{
    err[0] = '\0';
    return config_parse_args(cfg, argc, (char **)argv, exit_now, err, ERR_MAX);
}

/* Parses a config file with the given text. */
static inline int parse_file(struct hp_config *cfg, const char *text, char *path, size_t pathlen,
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
static inline int parse_capture(int argc, const char **argv, bool *exit_now, char *out, size_t outlen)
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

/* Error texts several suites expect (Redis 7 wording). */
#define RANGE_0_65535 "argument must be between 0 and 65535 inclusive"
#define NOT_INT "argument couldn't be parsed into an integer"
#define NOT_MEM "argument must be a memory value"
#define MB_RANGE "argument must be between 1048576 and 9223372036854775807 inclusive"

#endif
