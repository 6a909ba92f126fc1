/*
 * slab.c - small-item pool with 4-byte size classes.  Contracts in slab.h;
 * measured effect in docs/STORAGE.md ("Entries").
 */
#include "slab.h"

#include <string.h>

struct slab {
    struct slab *prev;      /* links on the class's avail list */
    struct slab *next;
    uint8_t *free_list;     /* freed items, linked through their first 8 bytes */
    uint32_t item;          /* bytes per item (class bytes) */
    uint32_t cap;           /* items the slab holds */
    uint32_t used;          /* live items */
    uint32_t carved;        /* items ever handed out from the tail */
};

_Static_assert(sizeof(struct slab) <= SLAB_HDR, "slab header fits");
_Static_assert((SLAB_BYTES & (SLAB_BYTES - 1)) == 0, "slab size is a power of two");

static inline struct slab *slab_of(const void *item)
{
    return (struct slab *)((uintptr_t)item & ~(uintptr_t)(SLAB_BYTES - 1));
}

void slab_pool_init(struct slab_pool *p, const struct slab_ops *ops)
{
    memset(p, 0, sizeof(*p));
    p->ops = ops;
}

static void avail_push(struct slab_pool *p, size_t cls, struct slab *sl)
{
    sl->prev = NULL;
    sl->next = p->avail[cls];
    if (sl->next != NULL)
        sl->next->prev = sl;
    p->avail[cls] = sl;
}

static void avail_unlink(struct slab_pool *p, size_t cls, struct slab *sl)
{
    if (sl->prev != NULL)
        sl->prev->next = sl->next;
    else
        p->avail[cls] = sl->next;
    if (sl->next != NULL)
        sl->next->prev = sl->prev;
    sl->prev = sl->next = NULL;
}

static struct slab *slab_new(struct slab_pool *p, size_t cls, uint32_t item)
{
    struct slab *sl = p->ops->alloc(p->ops->ctx, SLAB_BYTES);
    if (sl == NULL)
        return NULL;
    HP_ASSERT(((uintptr_t)sl & (SLAB_BYTES - 1)) == 0);
    memset(sl, 0, sizeof(*sl));
    sl->item = item;
    sl->cap = (uint32_t)((SLAB_BYTES - SLAB_HDR) / item);
    p->slabs++;
    p->held[cls]++;
    avail_push(p, cls, sl);
    return sl;
}

static void slab_release(struct slab_pool *p, size_t cls, struct slab *sl)
{
    HP_ASSERT(p->slabs > 0 && p->held[cls] > 0 && sl->used == 0);
    p->slabs--;
    p->held[cls]--;
    p->ops->free(p->ops->ctx, sl, SLAB_BYTES);
}

/* A slab of class cls just lost its last item (and left the avail list). */
static void slab_emptied(struct slab_pool *p, size_t cls, struct slab *sl)
{
    if (p->spare[cls] == NULL && p->held[cls] > 1) {
        p->spare[cls] = sl;
        return;
    }
    slab_release(p, cls, sl);
    if (p->spare[cls] != NULL && p->held[cls] == 1) {   /* the spare is all that is left */
        slab_release(p, cls, p->spare[cls]);
        p->spare[cls] = NULL;
    }
}

void *slab_alloc(struct slab_pool *p, size_t size)
{
    HP_ASSERT(slab_fits(size));
    uint32_t item = (uint32_t)slab_class_bytes(size);
    size_t cls = item / SLAB_GRAIN;
    struct slab *sl = p->avail[cls];
    if (HP_UNLIKELY(sl == NULL)) {
        sl = p->spare[cls];
        if (sl != NULL) {
            p->spare[cls] = NULL;
            avail_push(p, cls, sl);
        } else if ((sl = slab_new(p, cls, item)) == NULL) {
            return NULL;
        }
    }
    HP_ASSERT(sl->used < sl->cap && sl->item == item);
    uint8_t *it = sl->free_list;
    if (it != NULL) {
        memcpy(&sl->free_list, it, sizeof(sl->free_list));
    } else {
        HP_ASSERT(sl->carved < sl->cap);
        it = (uint8_t *)sl + SLAB_HDR + (size_t)sl->carved * item;
        sl->carved++;
    }
    if (++sl->used == sl->cap)
        avail_unlink(p, cls, sl);
    p->item_bytes += item;
    return it;
}

void slab_free(struct slab_pool *p, void *item)
{
    struct slab *sl = slab_of(item);
    size_t off = (size_t)((uint8_t *)item - (uint8_t *)sl);
    HP_ASSERT(off >= SLAB_HDR && (off - SLAB_HDR) % sl->item == 0 &&
              (off - SLAB_HDR) / sl->item < sl->carved && sl->used > 0);
    size_t cls = sl->item / SLAB_GRAIN;
    HP_ASSERT(p->item_bytes >= sl->item);
    p->item_bytes -= sl->item;
    if (sl->used == sl->cap)
        avail_push(p, cls, sl);
    memcpy(item, &sl->free_list, sizeof(sl->free_list));
    sl->free_list = item;
    if (--sl->used == 0) {
        avail_unlink(p, cls, sl);
        slab_emptied(p, cls, sl);
    }
}

size_t slab_item_bytes(const void *item)
{
    return slab_of(item)->item;
}
