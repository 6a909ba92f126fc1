/*
 * log.h - leveled logging to stderr, one line per event, Redis-like format:
 *   <pid>:<role> 24 Nov 2026 23:50:25.123 * message
 * The level is set once at start-up (log_set_level) before workers start and
 * only read afterwards, so reading it from any thread needs no locking.
 */
#ifndef HP_LOG_H
#define HP_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Returns 0 and sets *out for "debug|verbose|notice|warning", else -1. */
int log_parse_level(const char *name, enum log_level *out);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_verbose(...) log_msg(LOG_VERBOSE, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)

#endif
