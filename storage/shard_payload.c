/*
 * shard_payload.c - the payload allocator of typed values (types.h:
 * shard_alloc, shard_zalloc, shard_realloc, shard_free; accounted in the
 * shard's mem_used and mem_payload) and an entry's memory usage.
 * Contracts in shard.h and types.h.
 */
#include "shard_internal.h"

/* ---- payload memory (types.h) ------------------------------------------- */

static void *payload_account(struct shard *s, void *p)
{
    if (p != NULL) {
        size_t usable = sallocx(p, 0);
        s->mem_used += usable;
        s->mem_payload += usable;
    }
    return p;
}

static void payload_unaccount(struct shard *s, size_t usable)
{
    HP_ASSERT(s->mem_payload >= usable);
    HP_ASSERT(s->mem_used >= usable);
    s->mem_payload -= usable;
    s->mem_used -= usable;
}

void *shard_alloc(struct shard *s, size_t size)
{
    if (size == 0 || size > SHARD_ALLOC_MAX)
        return NULL;
    return payload_account(s, shard_mallocx(s, size, 0));
}

void *shard_zalloc(struct shard *s, size_t size)
{
    if (size == 0 || size > SHARD_ALLOC_MAX)
        return NULL;
    return payload_account(s, shard_mallocx(s, size, MALLOCX_ZERO));
}

void *shard_realloc(struct shard *s, void *p, size_t size)
{
    if (p == NULL)
        return shard_alloc(s, size);
    if (size == 0 || size > SHARD_ALLOC_MAX)
        return NULL;
    size_t old_usable = sallocx(p, 0);
    void *n = shard_rallocx(s, p, size);
    if (n == NULL)
        return NULL;
    payload_unaccount(s, old_usable);
    return payload_account(s, n);
}

void shard_free(struct shard *s, void *p)
{
    if (p == NULL)
        return;
    size_t usable = sallocx(p, 0);
    payload_unaccount(s, usable);
    sdallocx(p, usable, s->mflags);
}

size_t shard_alloc_size(const void *p)
{
    return sallocx(p, 0);
}

size_t entry_mem_usage(const struct entry *e)
{
    size_t bytes = entry_usable(e);
    if (entry_type(e) != OBJ_STRING) {
        const struct type_ops *ops = obj_type_ops(entry_type(e));
        HP_ASSERT(ops != NULL);
        if (ops->mem_usage != NULL)
            bytes += ops->mem_usage(entry_obj(e));
    }
    return bytes;
}
