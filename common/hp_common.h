/*
 * hp_common.h - small definitions every hotpath module shares.
 *
 * Assertions are always compiled in (TIGER_STYLE): an invariant that does not
 * hold means memory is already wrong, and continuing would risk serving or
 * persisting corrupt data.  HP_ASSERT aborts with file and line.
 */
#ifndef HP_COMMON_H
#define HP_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define HP_LIKELY(x) __builtin_expect(!!(x), 1)
#define HP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define HP_MIN(a, b) ((a) < (b) ? (a) : (b))
#define HP_MAX(a, b) ((a) > (b) ? (a) : (b))
#define HP_UNUSED __attribute__((unused))

/* Always-on assertion; see the file comment. */
#define HP_ASSERT(cond)                                                        \
    do {                                                                       \
        if (HP_UNLIKELY(!(cond))) {                                            \
            fprintf(stderr, "hotpath: assertion failed: %s (%s:%d)\n", #cond,  \
                    __FILE__, __LINE__);                                       \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* A borrowed run of bytes: never owns memory, never NUL-terminated. */
struct hp_slice {
    const uint8_t *ptr;
    size_t len;
};

static inline struct hp_slice hp_slice_make(const void *p, size_t len)
{
    struct hp_slice s = {(const uint8_t *)p, len};
    return s;
}

/* Hard limits shared by every module.  Each one has a tested outcome. */
#define HP_MAX_SHARDS 64           /* workers == shards; see dataplane/core/worker.h */
#define HP_NUM_SLOTS 16384         /* Redis Cluster hash slots */
#define HP_NUM_DBS 16              /* SELECT 0..15, as Redis' default */
/* Redis 7.0's multibulk count limit (INT_MAX; "*2147483648" is a protocol
 * error).  The memory a request takes is bounded by client-query-buffer-limit,
 * which counts the argument table as well as the bytes (core/conn.c). */
#define HP_MAX_ARGC INT32_MAX

#endif
