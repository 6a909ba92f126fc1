/*
 * hash.h - the value of a Redis hash key: a payload built in the key's
 * shard arena (storage/types.h), in one of two encodings, as Redis 7.0:
 *
 *  - listpack: ONE allocation, a small header then field/value pairs, each
 *    string a varint length and its bytes; no per-element pointers.  Order
 *    is insertion order (an update keeps the position, a delete closes the
 *    gap), exactly as Redis' listpack, so HGETALL replies match Redis' byte
 *    for byte while a hash is small.
 *  - hashtable: chained buckets (power of two), one node per field holding
 *    field and value bytes inline.  Once converted a hash never goes back
 *    (Redis does not either).
 *
 * Conversion listpack -> hashtable happens when a set would make the hash
 * hold more than HASH_LP_MAX_ENTRIES fields, or a field or value is longer
 * than HASH_LP_MAX_VALUE bytes (Redis 7.0's built-in defaults of
 * hash-max-listpack-entries and hash-max-listpack-value; not configurable
 * in hotpath yet).
 *
 * Functions that change a hash take `struct hash **`: the root may move
 * (shard_realloc); the caller then repoints the entry (entry_obj_set).
 * Every failure to allocate leaves the hash exactly as it was.
 */
#ifndef HP_STORAGE_HASH_H
#define HP_STORAGE_HASH_H

#include "../types.h"

/* 512, not redis.conf's 128: Redis 7.0's built-in default (config.c), which
 * a redis-server started without a config file (the reference) uses. */
#define HASH_LP_MAX_ENTRIES 512
#define HASH_LP_MAX_VALUE 64
/* Fields of one hash, and bytes of one field or value (Redis' 512 MiB). */
#define HASH_MAX_FIELDS ((uint32_t)1 << 31)
#define HASH_MAX_STR ((size_t)512 * 1024 * 1024)

enum hash_enc { HASH_ENC_LISTPACK = 1, HASH_ENC_HT = 2 };

struct hash;

/* An empty listpack hash, NULL when out of memory. */
struct hash *hash_new(struct shard *s);
void hash_free(struct shard *s, struct hash *h);
struct hash *hash_copy(struct shard *dst, const struct hash *h);
size_t hash_len(const struct hash *h);
enum hash_enc hash_encoding(const struct hash *h);
/* Bytes the payload holds in the arena. */
size_t hash_mem(const struct hash *h);

/* true and *v (valid until the next change) when field f exists. */
bool hash_get(const struct hash *h, struct hp_slice f, struct hp_slice *v);
/* Sets f to v: 1 when f is new, 0 when it was updated, -1 out of memory or
 * over a limit (nothing changed). */
int hash_set(struct shard *s, struct hash **h, struct hp_slice f, struct hp_slice v);
/* 1 when f was deleted, 0 when absent.  Never allocates (listpacks only
 * shrink in place). */
int hash_del(struct shard *s, struct hash **h, struct hp_slice f);
/* Converts a listpack to a hashtable (tests; hash_set does it itself).
 * 0, or -1 out of memory (unchanged). */
int hash_convert(struct shard *s, struct hash **h);

/* Iteration in storage order; the hash must not change meanwhile. */
struct hash_iter {
    const struct hash *h;
    size_t pos;          /* listpack: byte offset; hashtable: bucket */
    const void *node;    /* hashtable: next node in bucket pos */
};
void hash_iter_init(struct hash_iter *it, const struct hash *h);
bool hash_iter_next(struct hash_iter *it, struct hp_slice *f, struct hp_slice *v);

/* A random field (h not empty), from 64 random bits. */
void hash_random(const struct hash *h, uint64_t rnd, struct hp_slice *f, struct hp_slice *v);

/* HSCAN: calls fn for the fields of about `count` buckets from cursor and
 * returns the next cursor (0: done).  A listpack is returned whole with
 * cursor 0, as Redis does.  Reverse-binary cursor: every field present for
 * the whole scan is returned at least once even if the table grows. */
typedef void (*hash_scan_fn)(void *arg, struct hp_slice f, struct hp_slice v);
uint64_t hash_scan(const struct hash *h, uint64_t cursor, size_t count, hash_scan_fn fn,
                   void *arg);

/* Registers OBJ_HASH's type_ops (idempotent).  0 or -1. */
int hash_type_register(void);

#endif
