/*
 * config_args.c - the command line: an optional config file, then
 * "--directive value..." groups (redis-server style), --help and --version.
 * See config.h and docs/CONFIG.md.
 */
#include "config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- command line ------------------------------------------------------- */

/* One "--directive value..." group of argv. */
struct config_group {
    int next;      /* argv index after the group */
    int nwords;    /* words[0] is the name */
    char *words[CONFIG_VALUES_MAX + 1];
    char store[CONFIG_LINE_MAX + 1];
};

static bool config_is_flag(const char *s) { return s[0] == '-' && s[1] == '-'; }

/*
 * Reads the group starting at argv[j], redis-server style: "--name" then its
 * values, up to the next argument starting with "--".  The first argument
 * after a bare "--name" is always a value, so "--eal-args --no-huge" works;
 * "--port 7000" given as one argument is split like a config-file line.
 */
static int config_next_group(int argc, char **argv, int j, struct config_group *g, char *err,
                             size_t errlen)
{
    const char *reason = NULL;
    if (!config_is_flag(argv[j])) {
        char shown[CONFIG_SHOW_MAX + 16];
        const char *arg = argv[j];
        config_show_values(1, &arg, shown, sizeof(shown));
        snprintf(err, errlen,
                 "unexpected argument '%s' (directives on the command line start with --)", shown);
        return -1;
    }
    if (strlen(argv[j] + 2) > CONFIG_LINE_MAX) {
        snprintf(err, errlen, "argument %d is too long (more than %d bytes)", j, CONFIG_LINE_MAX);
        return -1;
    }
    g->nwords = config_split_line(argv[j] + 2, g->store, g->words, CONFIG_VALUES_MAX + 1, &reason);
    if (g->nwords < 0 || g->nwords == 0) {
        snprintf(err, errlen, "'%.64s': %s", argv[j], g->nwords == 0 ? "no directive name" : reason);
        return -1;
    }
    bool take_next = g->nwords == 1;
    for (j++; j < argc && (take_next || !config_is_flag(argv[j])); j++) {
        if (g->nwords == CONFIG_VALUES_MAX + 1) {
            snprintf(err, errlen, "--%.64s: too many values (at most %d)", g->words[0],
                     CONFIG_VALUES_MAX);
            return -1;
        }
        g->words[g->nwords++] = argv[j];
        take_next = false;
    }
    g->next = j;
    return 0;
}

static bool config_is_help(const char *name) { return strcmp(name, "help") == 0; }
static bool config_is_version(const char *name) { return strcmp(name, "version") == 0; }

static void config_write_version(FILE *out) { fprintf(out, "hotpathd v%s\n", HOTPATHD_VERSION); }

/* Scans the directive groups without applying them: structure errors, and
 * whether --help or --version was asked for. */
static int config_scan_args(int argc, char **argv, int first, bool *help, bool *version,
                            char *err, size_t errlen)
{
    struct config_group g;
    for (int j = first; j < argc; j = g.next) {
        if (config_next_group(argc, argv, j, &g, err, errlen) != 0)
            return -1;
        *help = *help || config_is_help(g.words[0]);
        *version = *version || config_is_version(g.words[0]);
    }
    return 0;
}

int config_parse_args(struct hp_config *cfg, int argc, char **argv, bool *exit_now, char *err,
                      size_t errlen)
{
    struct config_group g;
    bool help = false, version = false;
    int first = 1;
    *exit_now = false;
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "-v") == 0)) {
        help = argv[1][1] == 'h';
        version = !help;
        first = argc; /* like redis-server: the rest is not looked at */
    } else if (argc >= 2 && argv[1][0] != '-') {
        if (strlen(argv[1]) >= sizeof(cfg->config_file)) {
            snprintf(err, errlen, "config file name too long (at most %zu bytes)",
                     sizeof(cfg->config_file) - 1);
            return -1;
        }
        first = 2;
    }
    if (config_scan_args(argc, argv, first, &help, &version, err, errlen) != 0)
        return -1;
    if (help || version) {
        if (help)
            config_write_help(stdout);
        else
            config_write_version(stdout);
        *exit_now = true;
        if (fflush(stdout) != 0) {
            snprintf(err, errlen, "cannot write to stdout: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    if (first == 2) {
        snprintf(cfg->config_file, sizeof(cfg->config_file), "%s", argv[1]);
        if (config_load_file(cfg, argv[1], err, errlen) != 0)
            return -1;
    }
    struct config_origin o = {NULL, 0, true};
    for (int j = first; j < argc; j = g.next) {
        int rc = config_next_group(argc, argv, j, &g, err, errlen);
        HP_ASSERT(rc == 0); /* config_scan_args read the same groups */
        if (config_apply_from(cfg, &o, g.words[0], g.nwords - 1, (const char *const *)g.words + 1,
                              err, errlen) != 0)
            return -1;
    }
    return 0;
}
