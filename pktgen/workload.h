/*
 * workload.h - what pktgen asks: a seeded RNG, key popularity (uniform,
 * Zipf, hot set), the operation mix, and the byte form of keys and values.
 *
 * Keys.  Key ids are 0 .. keys-1.  A key is its kind letter ('k' for string
 * keys that GET/SET/MGET use, 'c' for the counters INCR uses, so an INCR
 * never meets a non-integer value) followed by the id in decimal, zero
 * padded to exactly key_size bytes.
 *
 * Values.  A value is derived from (key id, version): "<version, 8 hex>:
 * <id, 12 hex>:" then filler letters computed from both, value_size bytes
 * in all.  So a reply can be checked without storing values: the reader
 * recovers id and version and re-derives every byte (wl_value_parse).
 *
 * Popularity.  Draws give a rank (0 = most popular); ranks are scattered
 * over ids by a bijection (multiplication by a prime modulo keys), so the
 * hot keys of a Zipf or hot-set workload land on all shards rather than on
 * the first few ids.  Zipf uses rejection-inversion sampling (Hormann and
 * Derflinger 1996): O(1) memory and expected O(1) time for any key count.
 */
#ifndef HP_PKTGEN_WORKLOAD_H
#define HP_PKTGEN_WORKLOAD_H

#include "hp_common.h"

#define WL_MAX_KEYS (1ull << 32)       /* ids fit the scatter prime's range */
#define WL_MAX_KEY_SIZE 250
#define WL_MAX_VALUE_SIZE (1u << 20)
#define WL_VALUE_HDR_LEN 22            /* "vvvvvvvv:iiiiiiiiiiii:" */
#define WL_MAX_MGET 64
#define WL_ZIPF_MAX_S 10.0

/* xoshiro256** (Blackman and Vigna): fast, 256-bit state, seeded through
 * splitmix64 so any seed (0 included) gives a good state. */
struct wl_rng {
    uint64_t s[4];
};

void wl_rng_seed(struct wl_rng *r, uint64_t seed);
uint64_t wl_rng_next(struct wl_rng *r);
double wl_rng_double(struct wl_rng *r);                 /* [0, 1) */
uint64_t wl_rng_below(struct wl_rng *r, uint64_t n);    /* [0, n), n >= 1, unbiased */

struct wl_zipf {
    uint64_t n;
    double s;
    double h_x1, h_n, s_const;
};

/* n >= 1, 0 < s <= WL_ZIPF_MAX_S.  Returns 0, or -1 for bad parameters. */
int wl_zipf_init(struct wl_zipf *z, uint64_t n, double s);
/* Rank 1..n with P(k) proportional to k^-s. */
uint64_t wl_zipf_sample(const struct wl_zipf *z, struct wl_rng *r);

enum wl_dist { WL_DIST_UNIFORM = 0, WL_DIST_ZIPF, WL_DIST_HOTSET };
enum wl_op { WL_OP_GET = 0, WL_OP_SET, WL_OP_INCR, WL_OP_MGET, WL_OP_COUNT };

struct wl_config {
    uint64_t keys;
    uint32_t key_size;
    uint32_t value_size;
    enum wl_dist dist;
    double zipf_s;                 /* WL_DIST_ZIPF */
    double hot_fraction;           /* WL_DIST_HOTSET: share of keys that are hot, (0, 1] */
    double hot_probability;        /* share of accesses going to them, [0, 1] */
    uint32_t mix[WL_OP_COUNT];     /* percentages, summing to 100 */
    uint32_t mget_batch;           /* keys per MGET, 1..WL_MAX_MGET */
    uint64_t seed;
};

void wl_config_defaults(struct wl_config *c);
/* Returns 0, or -1 with a message naming the bad setting. */
int wl_config_check(const struct wl_config *c, char *err, size_t cap);
/* "uniform", "zipf:S", "hotset:FRACTION:PROBABILITY". */
int wl_parse_dist(struct wl_config *c, const char *s, char *err, size_t cap);
/* "get=90,set=10" (also incr=, mget=); unnamed operations get 0. */
int wl_parse_mix(struct wl_config *c, const char *s, char *err, size_t cap);
const char *wl_op_name(enum wl_op op);
const char *wl_dist_name(enum wl_dist d);

/* One stream of requests; give every flow its own stream number so flows
 * draw independent sequences from one seed. */
struct wl_gen {
    const struct wl_config *cfg;
    struct wl_rng rng;
    struct wl_zipf zipf;
    uint64_t hot_n;
    uint64_t scatter;              /* the prime, reduced mod keys */
};

void wl_gen_init(struct wl_gen *g, const struct wl_config *cfg, uint64_t stream);
enum wl_op wl_gen_op(struct wl_gen *g);
uint64_t wl_gen_rank(struct wl_gen *g);                 /* 0..keys-1, 0 most popular */
uint64_t wl_gen_key(struct wl_gen *g);                  /* an id: rank scattered */
uint64_t wl_rank_to_id(const struct wl_gen *g, uint64_t rank);

/* Decimal digits needed for ids below `keys`. */
uint32_t wl_id_digits(uint64_t keys);
/* Writes exactly cfg->key_size bytes (no NUL). */
void wl_key_format(const struct wl_config *c, char kind, uint64_t id, char *out);
/* Writes exactly cfg->value_size bytes (no NUL); a value shorter than
 * WL_VALUE_HDR_LEN is the prefix of the long form. */
void wl_value_format(const struct wl_config *c, uint64_t id, uint32_t version, char *out);
/* Recovers (id, version) from a value and checks every byte.  Returns 0,
 * or -1 if the value is not one wl_value_format could have written
 * (wrong length, bad header, bad filler).  Needs value_size >= WL_VALUE_HDR_LEN. */
int wl_value_parse(const struct wl_config *c, const char *v, size_t len, uint64_t *id,
                   uint32_t *version);

/* Redis Cluster hash slot of a key: CRC16 (XMODEM) mod 16384, honouring
 * {hash tags}; the same rule as storage/slot.c (pktgen does not link
 * storage/), checked against the same known values in the unit suite. */
uint16_t wl_key_slot(const char *key, size_t len);
/* hotpathd's slot -> shard map: contiguous ranges, slot * nshards / 16384. */
static inline uint16_t wl_slot_shard(uint16_t slot, uint32_t nshards)
{
    return (uint16_t)((uint64_t)slot * nshards / 16384);
}

#endif
