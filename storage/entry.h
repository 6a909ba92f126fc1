/*
 * entry.h - storage-internal: the layout of one key's entry (shard.c and its
 * tests only; everyone else uses the accessors in shard.h).
 *
 * An entry is ONE allocation: header, optional TTL extension, key bytes,
 * value bytes.  Up to SLAB_MAX_ITEM bytes it is an item of the shard's slab
 * pool (storage/slab.h: 4-byte classes, so a 52-byte entry costs 52 bytes,
 * not jemalloc's 64); larger, a jemalloc allocation of its own.  The header is 4 bytes when the key is at most 255
 * bytes and the value at most 65535 (nearly every cache key), else 12:
 *
 *   narrow: [meta][klen:u8][vlen:u16]            4 bytes
 *   wide:   [meta][0][0][0][klen:u32][vlen:u32]  12 bytes
 *   + TTL:  [expire_ms:i64][ttl_pos:u32]         12 bytes, only with a TTL
 *   then key bytes, then value bytes (strings inline; later types store a
 *   pointer or an inline encoding as their value bytes).
 *
 * meta = type (low 4 bits) | ENTRY_TTL | ENTRY_WIDE | ENTRY_SLAB (where the
 * memory came from; not part of the layout, so shape comparisons mask it).  ttl_pos is the entry's
 * index in its db's TTL vector, so removing a TTL is O(1).
 */
#ifndef HP_STORAGE_ENTRY_H
#define HP_STORAGE_ENTRY_H

#include "shard.h"

#include <string.h>

#define ENTRY_TYPE_MASK 0x0fu
#define ENTRY_TTL 0x10u
#define ENTRY_WIDE 0x20u
#define ENTRY_SLAB 0x40u   /* lives in the shard's slab pool, not a jemalloc allocation */
#define NARROW_MAX_KEY 255u
#define NARROW_MAX_VAL 65535u
#define NARROW_HDR 4u
#define WIDE_HDR 12u
#define TTL_EXT 12u

struct entry {
    uint8_t meta;
    uint8_t rest[];
};

static inline uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline int64_t rd64s(const uint8_t *p) { int64_t v; memcpy(&v, p, 8); return v; }
static inline void wr16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void wr64s(uint8_t *p, int64_t v) { memcpy(p, &v, 8); }

/* Header size by (meta >> 4) & 3: bit 0 = TTL, bit 1 = wide. */
static const uint8_t entry_hdr_size[4] = {
    NARROW_HDR, NARROW_HDR + TTL_EXT, WIDE_HDR, WIDE_HDR + TTL_EXT,
};

/* Byte `off` (>= 1) of the entry; offsets count from meta, which is byte 0. */
static inline const uint8_t *entry_at_c(const struct entry *e, size_t off) { return e->rest + (off - 1); }
static inline uint8_t *entry_at(struct entry *e, size_t off) { return e->rest + (off - 1); }
static inline bool entry_has_ttl(const struct entry *e) { return (e->meta & ENTRY_TTL) != 0; }
static inline size_t entry_hdr(const struct entry *e) { return entry_hdr_size[(e->meta >> 4) & 3u]; }

static inline uint32_t entry_klen(const struct entry *e)
{
    return (e->meta & ENTRY_WIDE) ? rd32(entry_at_c(e, 4)) : *entry_at_c(e, 1);
}

static inline uint32_t entry_vlen(const struct entry *e)
{
    return (e->meta & ENTRY_WIDE) ? rd32(entry_at_c(e, 8)) : rd16(entry_at_c(e, 2));
}

static inline uint8_t *entry_ttl_ext(struct entry *e)
{
    return entry_at(e, (e->meta & ENTRY_WIDE) ? WIDE_HDR : NARROW_HDR);
}

static inline const uint8_t *entry_ttl_ext_c(const struct entry *e)
{
    return entry_at_c(e, (e->meta & ENTRY_WIDE) ? WIDE_HDR : NARROW_HDR);
}

static inline uint8_t *entry_val(struct entry *e)
{
    return entry_at(e, entry_hdr(e) + entry_klen(e));
}

static inline const uint8_t *entry_val_c(const struct entry *e)
{
    return entry_at_c(e, entry_hdr(e) + entry_klen(e));
}

static inline size_t entry_size(const struct entry *e)
{
    return entry_hdr(e) + entry_klen(e) + entry_vlen(e);
}

static inline uint32_t entry_ttl_pos(const struct entry *e)
{
    return rd32(entry_ttl_ext_c(e) + 8);
}

static inline void entry_set_ttl_pos(struct entry *e, uint32_t pos)
{
    wr32(entry_ttl_ext(e) + 8, pos);
}

static inline void entry_set_expire(struct entry *e, int64_t ms)
{
    wr64s(entry_ttl_ext(e), ms);
}

static inline void entry_set_vlen(struct entry *e, uint32_t vlen)
{
    if (e->meta & ENTRY_WIDE)
        wr32(entry_at(e, 8), vlen);
    else
        wr16(entry_at(e, 2), (uint16_t)vlen);
}

static inline bool entry_expired(const struct entry *e, int64_t now_ms)
{
    return entry_has_ttl(e) && rd64s(entry_ttl_ext_c(e)) <= now_ms;
}

/* The layout an entry will have, computed before allocating it. */
struct entry_shape {
    uint8_t meta;
    uint32_t klen;
    uint32_t vlen;
    size_t size;
};

static inline bool shape_make(struct entry_shape *sh, enum obj_type type, size_t klen,
                              size_t vlen, bool ttl)
{
    if (klen > SHARD_MAX_KEY_LEN || vlen > SHARD_MAX_STR_LEN)
        return false;
    bool wide = klen > NARROW_MAX_KEY || vlen > NARROW_MAX_VAL;
    sh->meta = (uint8_t)((unsigned)type | (ttl ? ENTRY_TTL : 0) | (wide ? ENTRY_WIDE : 0));
    sh->klen = (uint32_t)klen;
    sh->vlen = (uint32_t)vlen;
    sh->size = entry_hdr_size[(sh->meta >> 4) & 3u] + klen + vlen;
    return true;
}

static inline void entry_write_header(struct entry *e, const struct entry_shape *sh)
{
    e->meta = sh->meta;
    if (sh->meta & ENTRY_WIDE) {
        memset(entry_at(e, 1), 0, 3);
        wr32(entry_at(e, 4), sh->klen);
        wr32(entry_at(e, 8), sh->vlen);
    } else {
        *entry_at(e, 1) = (uint8_t)sh->klen;
        wr16(entry_at(e, 2), (uint16_t)sh->vlen);
    }
}

#endif
