/*
 * shard_internal.h - shared by the files of one shard (shard.c: entries,
 * memory, TTL vector, db primitives, lifecycle, keys, stats; shard_payload.c:
 * the payload allocator of typed values; shard_db.c: whole-database
 * operations and the active expiry cycle).  Storage-internal, like entry.h.
 */
#ifndef HP_SHARD_INTERNAL_H
#define HP_SHARD_INTERNAL_H

#include "shard.h"

#include "entry.h"
#include "index.h"
#include "slab.h"
#include "types.h"

#include <jemalloc/jemalloc.h>

struct shard_db {
    struct index ix;
    struct entry **ttl;     /* dense vector of this db's entries with a TTL */
    uint32_t ttl_len;
    uint32_t ttl_cap;
    uint32_t ttl_cursor;    /* expire cycle's round-robin position */
};

struct shard {
    uint32_t id;
    unsigned arena;
    int mflags;             /* MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE */
    uint32_t expire_db;     /* expire cycle's round-robin db */
    uint64_t mem_used;
    uint64_t mem_index;
    uint64_t mem_payload;   /* of mem_used: type payloads (shard_alloc) */
    uint64_t expired_keys;
    uint64_t allocs_left;   /* test hook: allocations before failing */
    struct idx_ops ops;
    struct slab_ops slab_ops;
    struct slab_pool slab;  /* entries up to SLAB_MAX_ITEM bytes */
    struct shard_db db[HP_NUM_DBS];
};

/* Bytes an entry really occupies: its slab class, or its jemalloc class. */
static inline size_t entry_usable(const struct entry *e)
{
    return (e->meta & ENTRY_SLAB) ? slab_item_bytes(e) : sallocx(e, 0);
}

static inline struct shard_db *db_of(struct shard *s, uint32_t db)
{
    HP_ASSERT(db < HP_NUM_DBS);
    return &s->db[db];
}

static inline uint64_t key_hash(const struct shard_db *d, struct hp_slice key)
{
    return idx_hash(&d->ix, key.ptr, key.len);
}

static inline uint64_t entry_hash(const struct shard_db *d, const struct entry *e)
{
    return key_hash(d, entry_key(e));
}

/* shard.c */
void *shard_mallocx(struct shard *s, size_t size, int flags);
void *shard_rallocx(struct shard *s, void *p, size_t size);
void entry_free(struct shard *s, struct entry *e);
void shard_ttl_free(struct shard *s, struct shard_db *d);
void shard_expire_entry(struct shard *s, struct shard_db *d, uint64_t h, struct entry *e);

#endif
