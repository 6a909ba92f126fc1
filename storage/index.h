/*
 * index.h - storage-internal hash index: key -> item pointer.
 *
 * Built for the shard keyspace (see docs/STORAGE.md for the full argument):
 *
 *  - Buckets are one 64-byte cache line: 7 one-byte hash tags, a control
 *    byte and 7 item pointers.  A lookup touches the home bucket line, finds
 *    candidate slots with one SSE2 byte compare, and dereferences only items
 *    whose tag matches (1 in 255 false positives per occupied slot).
 *  - A full bucket chains a separately allocated overflow bucket of the same
 *    shape through its last pointer slot.  A key always lives in its home
 *    bucket (hash & mask) or that bucket's chain; keys never spill into
 *    neighbours.  That is what makes Redis' reverse-binary SCAN cursor keep
 *    its guarantee across resizes.
 *  - Resizing is incremental, Redis-dict style: two tables, home buckets
 *    moved a bounded number at a time by writes and by idx_rehash_step().
 *
 * The index does not know what an item is: ops->key_of() gives an item's
 * key, and all memory comes from ops->alloc/free (the shard's arena).
 * It is used by one thread at a time.
 */
#ifndef HP_STORAGE_INDEX_H
#define HP_STORAGE_INDEX_H

#include "../common/hp_common.h"

#include <string.h>

#define IDX_BUCKET_SLOTS 7     /* pointers per bucket line */
#define IDX_BUCKET_BYTES 64
#define IDX_MAX_LOG2 30        /* at most 2^30 home buckets (64 GiB) */
/* Grow when the average chain holds more than this many items (5 of 7
 * slots: ~13% of buckets chain at that load, 1.08 lines per hit). */
#define IDX_GROW_LOAD 5
/* Shrink when the load drops below IDX_GROW_LOAD / IDX_SHRINK_DIV. */
#define IDX_SHRINK_DIV 8
/* Empty home buckets one rehash step may skip per bucket it is asked to
 * move, so a step on a sparse table is bounded too (Redis uses 10). */
#define IDX_EMPTY_VISITS 10

#define IDX_CTL_CHAINED 0x01   /* slot[6] is the next bucket, not an item */

struct idx_bucket {
    uint8_t tag[IDX_BUCKET_SLOTS];  /* 0 = empty slot */
    uint8_t ctl;
    void *slot[IDX_BUCKET_SLOTS];
} __attribute__((aligned(IDX_BUCKET_BYTES)));

_Static_assert(sizeof(struct idx_bucket) == IDX_BUCKET_BYTES, "bucket is one line");

struct idx_ops {
    /* The key an item is stored under (must not change while indexed). */
    struct hp_slice (*key_of)(const void *item);
    /* Zeroed memory aligned to 64 bytes, or NULL.  The index never asks for
     * more than 2^IDX_MAX_LOG2 * 64 bytes at once. */
    void *(*alloc)(void *ctx, size_t size);
    void (*free)(void *ctx, void *p, size_t size);
    void *ctx;
};

struct idx_table {
    struct idx_bucket *b;   /* NULL when unallocated */
    uint64_t mask;          /* buckets - 1 */
    uint32_t log2;
};

struct index {
    struct idx_table t[2];  /* t[1] is used only while rehashing */
    int64_t rehash_idx;     /* next t[0] home bucket to move; -1 if idle */
    uint64_t count;         /* items */
    uint64_t overflow;      /* overflow buckets allocated, both tables */
    uint64_t bytes;         /* requested bytes: tables + overflow buckets */
    uint64_t seed;
    uint64_t resize_wait;   /* after a failed table allocation: ops until retry */
    const struct idx_ops *ops;
    /* Test hooks: every hash is ANDed with hash_mask (0 forces one chain
     * for all keys), and tables never exceed 2^max_log2 buckets. */
    uint64_t hash_mask;
    uint32_t max_log2;
};

typedef void (*idx_item_fn)(void *arg, void *item);

/* Allocates nothing: the first table appears with the first insert, and
 * removing the last item frees every table again. */
void idx_init(struct index *ix, const struct idx_ops *ops, uint64_t seed);
/* Frees every table and overflow bucket; calls fn(arg, item) for each item
 * first when fn is not NULL.  The index is empty and reusable afterwards. */
void idx_release(struct index *ix, idx_item_fn fn, void *arg);

/* The hash every other call takes: seeded, 64 bits, any length. */
uint64_t idx_hash_bytes(uint64_t seed, const uint8_t *p, size_t len);
static inline uint64_t idx_hash(const struct index *ix, const uint8_t *key, size_t len)
{
    return idx_hash_bytes(ix->seed, key, len) & ix->hash_mask;
}

void *idx_find(const struct index *ix, uint64_t h, const uint8_t *key, size_t len);
/* Cache hints for a coming idx_find(h): stage 0 prefetches the home bucket;
 * stage 1 (later, once that line had time to arrive) reads it and
 * prefetches the items whose tag matches.  No effect while rehashing. */
void idx_prefetch(const struct index *ix, uint64_t h, int stage);
/* The key of item must not be present.  0, or -1 when an overflow bucket
 * cannot be allocated (nothing changed then). */
int idx_insert(struct index *ix, uint64_t h, void *item);
/* Removes and returns the item stored under key, or NULL. */
void *idx_remove(struct index *ix, uint64_t h, const uint8_t *key, size_t len);
/* Removes exactly this item (compared by address); false if not indexed. */
bool idx_remove_item(struct index *ix, uint64_t h, const void *item);
/* Puts new_item (same key) where old_item is; false if old is not indexed. */
bool idx_replace_item(struct index *ix, uint64_t h, const void *old_item, void *new_item);

/*
 * One SCAN step: calls fn for every item of the home bucket(s) the cursor
 * names and returns the next cursor (0 when the scan is complete).  Cursors
 * are below 2^IDX_MAX_LOG2.  fn must not modify the index.
 */
uint64_t idx_scan(const struct index *ix, uint64_t cursor, idx_item_fn fn, void *arg);

/* A random item (uniform bucket, then uniform within it), NULL if empty. */
void *idx_random(const struct index *ix, uint64_t random_bits);

/* Moves up to n home buckets to the new table (skipping at most
 * IDX_EMPTY_VISITS * n empty ones).  Returns buckets visited, 0 if idle. */
size_t idx_rehash_step(struct index *ix, size_t n);

static inline bool idx_rehashing(const struct index *ix) { return ix->rehash_idx >= 0; }
static inline uint64_t idx_count(const struct index *ix) { return ix->count; }
/* Home buckets of the main table (0 before the first insert). */
static inline uint64_t idx_buckets(const struct index *ix)
{
    return ix->t[0].b ? ix->t[0].mask + 1 : 0;
}

#endif
