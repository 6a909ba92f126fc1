/*
 * set.h - the set value (OBJ_SET): Redis 7.0's two encodings and the
 * conversion between them.
 *
 *  - intset: sorted int64 array, used while every member is an integer in
 *    Redis' canonical form (string2ll: "12", "-3", not "012" or "+1") and
 *    there are at most SET_MAX_INTSET_ENTRIES members (set-max-intset-
 *    entries, Redis' default 512; a constant here, see docs/COMPATIBILITY.md).
 *    Iteration is in ascending order, as Redis' is.
 *  - hashtable: chained buckets, power-of-two table, members as byte strings.
 *    Never converted back to intset (Redis 7.0 does not either).
 *
 * A set's root (struct set) never moves once created, so the key's payload
 * pointer stays valid across adds/removes/conversions; only the arrays it
 * points at are reallocated.  Everything lives in the shard's arena
 * (shard_alloc); on out of memory an operation returns -1 and the set is
 * exactly as before.
 *
 * Same threading rules as shard.h: one thread at a time.
 */
#ifndef HP_STORAGE_SET_H
#define HP_STORAGE_SET_H

#include "../types.h"

/* Redis 7.0's default set-max-intset-entries. */
#define SET_MAX_INTSET_ENTRIES 512u
/* Most members one set holds (its bucket array then takes 2 GiB, below
 * SHARD_ALLOC_MAX); an add past it fails as out of memory. */
#define SET_MAX_MEMBERS ((uint64_t)1 << 28)
/* Longest member: a RESP bulk string's limit. */
#define SET_MEMBER_MAX_LEN SHARD_MAX_STR_LEN
/* Room set_iter_next / set_random need to format an intset member. */
#define SET_INT_BUF 24

enum set_enc {
    SET_ENC_INTSET = 0,
    SET_ENC_HT = 1,
};

struct set_node {
    struct set_node *next;
    uint64_t hash;
    uint32_t len;
    uint8_t data[];
};

struct set {
    uint8_t enc;              /* enum set_enc */
    uint64_t count;           /* members */
    /* intset: iv[0..count) ascending, icap slots */
    int64_t *iv;
    uint64_t icap;
    /* hashtable: nbk buckets (power of two, >= 4), 0 and NULL when none */
    struct set_node **bk;
    uint64_t nbk;
};

/* An empty set of encoding `enc` (Redis' createIntsetObject /
 * createSetObject), or NULL out of memory. */
struct set *set_new(struct shard *s, enum set_enc enc);
/* The set Redis' setTypeCreate makes for a first member: intset when it
 * is an integer, else hashtable.  NULL out of memory. */
struct set *set_new_for(struct shard *s, struct hp_slice first);
void set_free(struct shard *s, struct set *st);
/* A deep copy in shard dst's arena, NULL out of memory (nothing left). */
struct set *set_copy(struct shard *dst, const struct set *src);

/* 1 added, 0 already a member, -1 out of memory / SET_MAX_MEMBERS (the set
 * unchanged).  Converts intset -> hashtable for a non-integer member or
 * past SET_MAX_INTSET_ENTRIES. */
int set_add(struct shard *s, struct set *st, struct hp_slice m);
/* 1 removed, 0 not a member.  May shrink the table (a failed shrink keeps
 * the bigger one). */
int set_remove(struct shard *s, struct set *st, struct hp_slice m);
bool set_contains(const struct set *st, struct hp_slice m);
static inline uint64_t set_size(const struct set *st)
{
    return st->count;
}
/* OBJECT ENCODING: "intset" or "hashtable". */
const char *set_encoding(const struct set *st);
/* Bytes held in the arena (MEMORY USAGE). */
size_t set_mem_usage(const struct set *st);

/* Whether m is an integer an intset stores (Redis string2ll). */
bool set_member_is_int(struct hp_slice m, int64_t *out);

/* Iteration: intset ascending, hashtable bucket order.  The set must not
 * change while iterating. */
struct set_iter {
    const struct set *st;
    uint64_t pos;                 /* intset index or next bucket */
    const struct set_node *node;  /* next node in the current chain */
    char buf[SET_INT_BUF];
};
void set_iter_init(struct set_iter *it, const struct set *st);
/* The next member (valid until the next call or a change), false at the end. */
bool set_iter_next(struct set_iter *it, struct hp_slice *out);

/* xorshift64* step: the randomness SPOP/SRANDMEMBER draw from (*state != 0). */
uint64_t set_rng_next(uint64_t *state);
/* A uniformly-ish random member of a non-empty set (Redis' picks a random
 * non-empty bucket, then a random node of its chain); buf holds an intset
 * member's text.  The slice is valid until the set changes. */
struct hp_slice set_random(const struct set *st, uint64_t *rng, char buf[SET_INT_BUF]);

/* SSCAN over a hashtable: calls fn for every member of the bucket(s) at
 * `cursor` and returns the next cursor (0: done), Redis' reverse-binary
 * order, so a member present for the whole scan is returned at least once
 * even when the table grows or shrinks in between.  Not for intsets
 * (SSCAN returns an intset whole). */
typedef void (*set_scan_fn)(void *arg, struct hp_slice m);
uint64_t set_scan(const struct set *st, uint64_t cursor, set_scan_fn fn, void *arg);

/* The state as log records: "DEL key", then "SADD key m..." batches of at
 * most HP_MAX_ARGC arguments; a hashtable whose members would all fit an
 * intset is rebuilt as a hashtable (a non-integer member added first and
 * removed last), so replay gives the same encoding. */
int set_state_records(const struct set *st, struct hp_slice key, entry_emit_fn emit, void *arg);

/* Registers OBJ_SET's type_ops; idempotent.  0, or -1. */
int set_type_register(void);

/* Invariant check for the tests: sorted unique intset, hashes and counts
 * right.  true when consistent. */
bool set_check(const struct set *st);

#endif
