/* hist.c - see hist.h for the bucket layout and its error bound. */
#include "hist.h"

#include <string.h>

void hist_reset(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

uint32_t hist_bucket_of(uint64_t v)
{
    if (v < 2ull * HIST_SUB)
        return (uint32_t)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);        /* >= HIST_SUB_BITS + 1 */
    unsigned shift = e - HIST_SUB_BITS;
    uint32_t sub = (uint32_t)(v >> shift);                  /* HIST_SUB .. 2*HIST_SUB-1 */
    uint32_t b = shift * HIST_SUB + sub;
    HP_ASSERT(b < HIST_BUCKETS);
    return b;
}

uint64_t hist_bucket_lo(uint32_t b)
{
    HP_ASSERT(b < HIST_BUCKETS);
    if (b < 2 * HIST_SUB)
        return b;
    unsigned shift = b / HIST_SUB - 1;
    uint64_t sub = b % HIST_SUB + HIST_SUB;
    return sub << shift;
}

uint64_t hist_bucket_hi(uint32_t b)
{
    HP_ASSERT(b < HIST_BUCKETS);
    if (b < 2 * HIST_SUB)
        return b;
    unsigned shift = b / HIST_SUB - 1;
    return hist_bucket_lo(b) + ((1ull << shift) - 1);
}

void hist_record_n(struct hist *h, uint64_t v, uint64_t n)
{
    if (n == 0)
        return;
    h->bucket[hist_bucket_of(v)] += n;
    h->count += n;
    h->sum += (long double)v * (long double)n;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void hist_record(struct hist *h, uint64_t v)
{
    hist_record_n(h, v, 1);
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    if (src->count == 0)
        return;
    for (uint32_t b = 0; b < HIST_BUCKETS; b++)
        dst->bucket[b] += src->bucket[b];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p >= 100.0)
        return h->max;
    if (p <= 0.0)
        return h->min;
    /* rank = ceil(p% of count), at least 1; computed in long double so
     * 99.999 % of 10^12 values does not round to the wrong rank. */
    long double exact = (long double)p / 100.0L * (long double)h->count;
    uint64_t rank = (uint64_t)exact;
    if ((long double)rank < exact)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (uint32_t b = 0; b < HIST_BUCKETS; b++) {
        seen += h->bucket[b];
        if (seen >= rank) {
            uint64_t lo = hist_bucket_lo(b), hi = hist_bucket_hi(b);
            uint64_t mid = lo + (hi - lo) / 2;
            if (mid < h->min)
                mid = h->min;
            if (mid > h->max)
                mid = h->max;
            return mid;
        }
    }
    HP_ASSERT(!"hist: bucket counts disagree with count");
    return h->max;
}

double hist_mean(const struct hist *h)
{
    return h->count ? (double)(h->sum / (long double)h->count) : 0.0;
}
