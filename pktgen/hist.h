/*
 * hist.h - log-linear latency histogram (HDR-histogram style).
 *
 * Values are unsigned 64-bit (pktgen records nanoseconds).  Values below
 * 2^(HIST_SUB_BITS+1) have a bucket each (exact); above that every power of
 * two [2^e, 2^(e+1)) is split into 2^HIST_SUB_BITS equal sub-buckets, so a
 * bucket is at most 1/128 of its lower bound wide.  A value is reported as
 * its bucket's midpoint, hence the relative error of any reported value is
 * below 1/256 (0.4 %), well inside the 1 % the issue asks for.
 *
 * The whole range of uint64_t fits in HIST_BUCKETS counters (59 KiB): no
 * value is ever out of range, so recording cannot fail.  Min, max, count
 * and sum are kept exactly.
 */
#ifndef HP_PKTGEN_HIST_H
#define HP_PKTGEN_HIST_H

#include "hp_common.h"

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)                    /* 128 */
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB) /* 7424 */

struct hist {
    uint64_t count;
    uint64_t min, max;              /* exact; min = UINT64_MAX when empty */
    long double sum;                /* exact enough for a mean over 2^64 ns */
    uint64_t bucket[HIST_BUCKETS];
};

void hist_reset(struct hist *h);
void hist_record(struct hist *h, uint64_t v);
void hist_record_n(struct hist *h, uint64_t v, uint64_t n);
/* dst += src. */
void hist_merge(struct hist *dst, const struct hist *src);

/* Bucket of a value, and the value range [lo, hi] a bucket stands for. */
uint32_t hist_bucket_of(uint64_t v);
uint64_t hist_bucket_lo(uint32_t b);
uint64_t hist_bucket_hi(uint32_t b);

/* Value at percentile p (0 < p <= 100): the smallest recorded value such
 * that at least p % of the values are <= it, reported as its bucket's
 * midpoint clamped to [min, max].  p = 100 returns max exactly; an empty
 * histogram returns 0. */
uint64_t hist_percentile(const struct hist *h, double p);
double hist_mean(const struct hist *h);

#endif
