/*
 * config_file.c - the config file: redis.conf-style lines split into words
 * (quotes and escapes), read line by line with limits, each applied as a
 * directive.  See config.h and docs/CONFIG.md.
 */
#include "config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- config file -------------------------------------------------------- */

static int config_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static const char config_too_many_values[] = "too many values";

/*
 * Splits one line into words as redis.conf does: whitespace separates words;
 * "..." takes the escapes \n \r \t \b \a \xHH and \<any>; '...' takes \'; a
 * closing quote must end the word.  Words go into store (NUL-terminated;
 * never longer than the line).  Returns the word count, or -1 with reason.
 */
int config_split_line(const char *line, char *store, char **words, int maxwords,
                      const char **reason)
{
    const char *p = line;
    char *out = store;
    int n = 0;
    for (;;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            return n;
        if (n == maxwords) {
            *reason = config_too_many_values;
            return -1;
        }
        words[n++] = out;
        char quote = 0;
        for (;;) {
            char c = *p;
            if (quote == 0) {
                if (c == '\0' || isspace((unsigned char)c))
                    break;
                if (c == '"' || c == '\'')
                    quote = c;
                else
                    *out++ = c;
                p++;
                continue;
            }
            if (c == '\0') {
                *reason = "unbalanced quotes";
                return -1;
            }
            if (c == quote) {
                p++;
                if (*p && !isspace((unsigned char)*p)) {
                    *reason = "closing quote must be followed by a space";
                    return -1;
                }
                quote = 0;
                break;
            }
            if (c == '\\' && quote == '\'' && p[1] == '\'') {
                *out++ = '\'';
                p += 2;
            } else if (c == '\\' && quote == '"' && p[1] != '\0') {
                int hi = p[1] == 'x' ? config_hex((unsigned char)p[2]) : -1;
                int lo = hi >= 0 ? config_hex((unsigned char)p[3]) : -1;
                if (lo >= 0) {
                    if (hi == 0 && lo == 0) {
                        *reason = "NUL bytes (\\x00) are not allowed";
                        return -1;
                    }
                    *out++ = (char)(hi * 16 + lo);
                    p += 4;
                    continue;
                }
                switch (p[1]) {
                case 'n': *out++ = '\n'; break;
                case 'r': *out++ = '\r'; break;
                case 't': *out++ = '\t'; break;
                case 'b': *out++ = '\b'; break;
                case 'a': *out++ = '\a'; break;
                default: *out++ = p[1]; break;
                }
                p += 2;
            } else {
                *out++ = c;
                p++;
            }
        }
        *out++ = '\0';
    }
}

/* Applies one config-file line (no newline).  Blank and '#' lines are skipped. */
static int config_apply_line(struct hp_config *cfg, const struct config_origin *o,
                             const char *line, char *err, size_t errlen)
{
    char store[CONFIG_LINE_MAX + 1];
    char *words[CONFIG_VALUES_MAX + 1];
    const char *reason = NULL;
    const char *p = line;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0' || *p == '#')
        return 0;
    HP_ASSERT(strlen(line) <= CONFIG_LINE_MAX);
    int n = config_split_line(line, store, words, CONFIG_VALUES_MAX + 1, &reason);
    if (n < 0) {
        if (reason == config_too_many_values)
            snprintf(err, errlen, "%s:%d: too many values (at most %d)", o->file, o->line,
                     CONFIG_VALUES_MAX);
        else
            snprintf(err, errlen, "%s:%d: %s", o->file, o->line, reason);
        return -1;
    }
    HP_ASSERT(n >= 1);
    return config_apply_from(cfg, o, words[0], n - 1, (const char *const *)words + 1, err, errlen);
}

/* Reads the next line into line (up to CONFIG_LINE_MAX bytes).  Returns 1 for
 * a line, 0 at end of file, -1 with err set. */
static int config_read_line(FILE *f, const struct config_origin *o, char *line, char *err,
                            size_t errlen)
{
    size_t len = 0;
    int c;
    while ((c = getc(f)) != EOF && c != '\n') {
        if (c == '\0') {
            snprintf(err, errlen, "%s:%d: contains a NUL byte", o->file, o->line);
            return -1;
        }
        if (len == CONFIG_LINE_MAX) {
            snprintf(err, errlen, "%s:%d: line too long (more than %d bytes)", o->file, o->line,
                     CONFIG_LINE_MAX);
            return -1;
        }
        line[len++] = (char)c;
    }
    line[len] = '\0';
    if (ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", o->file, strerror(errno));
        return -1;
    }
    return (c == EOF && len == 0) ? 0 : 1;
}

int config_load_file(struct hp_config *cfg, const char *path, char *err, size_t errlen)
{
    char line[CONFIG_LINE_MAX + 1];
    struct config_origin o = {path, 0, false};
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open config file '%s': %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (;;) {
        o.line++;
        if (o.line > CONFIG_FILE_LINES_MAX) {
            snprintf(err, errlen, "%s: too many lines (at most %d)", path, CONFIG_FILE_LINES_MAX);
            rc = -1;
            break;
        }
        int got = config_read_line(f, &o, line, err, errlen);
        if (got <= 0) {
            rc = got;
            break;
        }
        if (config_apply_line(cfg, &o, line, err, errlen) != 0) {
            rc = -1;
            break;
        }
    }
    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        rc = -1;
    }
    return rc;
}
