/* log.c - see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Written once before any worker starts (see log.h), then read-only. */
static enum log_level log_threshold = LOG_NOTICE;

void log_set_level(enum log_level level) { log_threshold = level; }
enum log_level log_get_level(void) { return log_threshold; }

int log_parse_level(const char *name, enum log_level *out)
{
    static const char *const names[] = {"debug", "verbose", "notice", "warning"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < log_threshold)
        return;
    static const char marks[] = ".-*#";
    char line[1024];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int off = snprintf(line, sizeof(line), "%d:M ", (int)getpid());
    off += (int)strftime(line + off, sizeof(line) - (size_t)off, "%d %b %Y %H:%M:%S", &tm);
    off += snprintf(line + off, sizeof(line) - (size_t)off, ".%03d %c ",
                    (int)(tv.tv_usec / 1000), marks[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + off, sizeof(line) - (size_t)off, fmt, ap);
    va_end(ap);
    /* One write(2) per line so lines from several threads never interleave. */
    size_t n = strlen(line);
    if (n < sizeof(line) - 1)
        line[n++] = '\n';
    ssize_t rc = write(STDERR_FILENO, line, n);
    (void)rc; /* nowhere left to report a failed log write */
}
