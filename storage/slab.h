/*
 * slab.h - storage-internal allocator for small entries, 4-byte size classes.
 *
 * Why: jemalloc's small classes around a typical cache entry are 48, 64, 80
 * bytes, so a 52-byte entry (4-byte header, 16-byte key, 32-byte value)
 * wastes 12 bytes in a 64-byte slot.  This pool carves items of any multiple
 * of SLAB_GRAIN bytes (8..SLAB_MAX_ITEM) out of SLAB_BYTES slabs that it
 * gets from ops->alloc (the shard's arena), so the same entry costs 52 bytes.
 *
 *  - A slab is SLAB_BYTES, aligned to SLAB_BYTES: the slab of an item is its
 *    address with the low bits cleared, so an item carries no back pointer.
 *  - One class per slab.  Items come from the slab's free list, else from
 *    its never-used tail (pages are touched only as they are used).
 *  - Slabs with a free item are on their class's list.  A slab whose last
 *    item is freed goes back to ops->free, except that each class keeps ONE
 *    such empty slab as a spare while it has other slabs: an insert/delete
 *    pair at a slab boundary would otherwise allocate and free a whole slab
 *    every time.  A class with no items holds no slab, so an empty pool
 *    holds no memory; fragmentation is bounded as jemalloc's own (partly
 *    used slabs) plus at most one spare slab per class.
 *
 * Items are only 4-byte aligned and may straddle cache lines.  Accounting:
 * `slabs * SLAB_BYTES` is what the pool took from ops->alloc; `item_bytes`
 * is what it handed out (class sizes).  One thread at a time.
 */
#ifndef HP_STORAGE_SLAB_H
#define HP_STORAGE_SLAB_H

#include "../common/hp_common.h"

#define SLAB_BYTES ((size_t)64 * 1024)
#define SLAB_HDR 64u               /* header at the start of each slab */
#define SLAB_GRAIN 4u              /* class step */
#define SLAB_MIN_ITEM 8u           /* a free item holds the free-list link */
#define SLAB_MAX_ITEM 256u         /* bigger items belong to jemalloc */
#define SLAB_CLASSES (SLAB_MAX_ITEM / SLAB_GRAIN + 1)   /* indexed by bytes / grain */

struct slab;

struct slab_ops {
    /* SLAB_BYTES bytes aligned to SLAB_BYTES (contents undefined), or NULL. */
    void *(*alloc)(void *ctx, size_t size);
    void (*free)(void *ctx, void *p, size_t size);
    void *ctx;
};

struct slab_pool {
    struct slab *avail[SLAB_CLASSES];   /* per class: slabs with a free item */
    struct slab *spare[SLAB_CLASSES];   /* per class: one empty slab kept, or NULL */
    uint32_t held[SLAB_CLASSES];        /* per class: slabs, spare included */
    const struct slab_ops *ops;
    uint64_t slabs;                     /* slabs held */
    uint64_t item_bytes;                /* class bytes of live items */
};

void slab_pool_init(struct slab_pool *p, const struct slab_ops *ops);

static inline bool slab_fits(size_t size)
{
    return size <= SLAB_MAX_ITEM;
}

/* The bytes an item of `size` (<= SLAB_MAX_ITEM) really gets. */
static inline size_t slab_class_bytes(size_t size)
{
    size_t b = (size + SLAB_GRAIN - 1) & ~(size_t)(SLAB_GRAIN - 1);
    return b < SLAB_MIN_ITEM ? SLAB_MIN_ITEM : b;
}

/* An item of slab_class_bytes(size) bytes, or NULL when no slab can be
 * allocated.  size <= SLAB_MAX_ITEM. */
void *slab_alloc(struct slab_pool *p, size_t size);
/* Returns an item of this pool; frees its slab when it was the last one. */
void slab_free(struct slab_pool *p, void *item);
/* Class bytes of a live item. */
size_t slab_item_bytes(const void *item);

#endif
