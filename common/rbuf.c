/* rbuf.c - see rbuf.h. */
#include "rbuf.h"

#include <string.h>

/* First allocation: big enough for a typical reply batch, small enough that
 * thousands of idle connections cost little. */
#define RBUF_MIN_CAP 256

void rbuf_init(struct rbuf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
    b->overflow = false;
}

void rbuf_free(struct rbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->overflow = false;
}

void rbuf_reset(struct rbuf *b)
{
    b->len = 0;
    b->overflow = false;
}

static void rbuf_set_overflow(struct rbuf *b)
{
    b->overflow = true;
}

/* Slow path of rbuf_reserve: the bytes do not fit in the current allocation. */
static uint8_t *rbuf_grow(struct rbuf *b, size_t n)
{
    size_t need = b->len + n; /* no wrap: n <= limit - len was checked */
    size_t ncap = b->cap ? b->cap : RBUF_MIN_CAP;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            ncap = need;
            break;
        }
        ncap *= 2;
    }
    /* Never allocate more than the limit allows us to use. */
    if (ncap > b->limit)
        ncap = b->limit;
    if (ncap == 0) /* reserve(0) on a zero-limit buffer: valid, empty */
        ncap = 1;
    HP_ASSERT(ncap >= need);
    uint8_t *nd = realloc(b->data, ncap);
    if (nd == NULL) {
        rbuf_set_overflow(b);
        return NULL;
    }
    b->data = nd;
    b->cap = ncap;
    return b->data + b->len;
}

uint8_t *rbuf_reserve(struct rbuf *b, size_t n)
{
    if (HP_UNLIKELY(b->overflow))
        return NULL;
    if (HP_LIKELY(b->cap - b->len >= n && b->data != NULL))
        return b->data + b->len;
    if (n > b->limit || b->len > b->limit - n) {
        rbuf_set_overflow(b);
        return NULL;
    }
    return rbuf_grow(b, n);
}

void rbuf_append(struct rbuf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    uint8_t *dst = rbuf_reserve(b, n);
    if (dst == NULL)
        return;
    memcpy(dst, p, n);
    b->len += n;
}

void rbuf_consume(struct rbuf *b, size_t n)
{
    HP_ASSERT(n <= b->len);
    /* The common case (everything was sent) costs nothing.  A partial
     * consume must move the tail: the struct has no read offset, so this is
     * O(remaining) per call. */
    if (n == b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
