/*
 * rbuf.h - a growable byte buffer with a hard limit, used for replies.
 *
 * Replies are built straight into an rbuf.  Growth is geometric; a buffer
 * never grows past `limit` bytes: an append that would cross it (or whose
 * allocation fails) sets `overflow`, drops the bytes, and every later append
 * is a no-op.  The owner checks `overflow` once per batch and applies the
 * defined outcome (a client connection is closed, like Redis' client output
 * buffer limit).  This keeps every append infallible for the caller.
 */
#ifndef HP_RBUF_H
#define HP_RBUF_H

#include "hp_common.h"

struct rbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t limit;
    bool overflow;
};

void rbuf_init(struct rbuf *b, size_t limit);
void rbuf_free(struct rbuf *b);
/* Forget the contents but keep the allocation (and clear overflow). */
void rbuf_reset(struct rbuf *b);
/* Make room for `n` more bytes; returns a pointer to write them or NULL
 * (overflow set).  Call rbuf_commit(b, n) after writing. */
uint8_t *rbuf_reserve(struct rbuf *b, size_t n);
static inline void rbuf_commit(struct rbuf *b, size_t n)
{
    HP_ASSERT(b->len + n <= b->cap);
    b->len += n;
}
void rbuf_append(struct rbuf *b, const void *p, size_t n);
/* Drop the first n bytes (after they were sent). */
void rbuf_consume(struct rbuf *b, size_t n);

#endif
