/*
 * shard.c - one shard's keyspace: entries, per-db index, TTLs, accounting.
 * Contracts in shard.h; design and measured overheads in docs/STORAGE.md.
 *
 * The entry layout (one allocation per key) is in entry.h.  The payload
 * allocator of typed values is in shard_payload.c, whole-database operations
 * (flush, SCAN, RANDOMKEY, active expiry) in shard_db.c.
 */
#include "shard_internal.h"

#include "../common/log.h"

#include <jemalloc/jemalloc.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define TTL_VEC_MIN 16u
#define INDEX_ALIGN 64

/* ---- entries (layout in entry.h) ------------------------------------- */

struct hp_slice entry_key(const struct entry *e)
{
    return hp_slice_make(entry_at_c(e, entry_hdr(e)), entry_klen(e));
}

enum obj_type entry_type(const struct entry *e)
{
    return (enum obj_type)(e->meta & ENTRY_TYPE_MASK);
}

struct hp_slice entry_str(const struct entry *e)
{
    HP_ASSERT(entry_type(e) == OBJ_STRING);
    return hp_slice_make(entry_at_c(e, entry_hdr(e) + entry_klen(e)), entry_vlen(e));
}

int64_t entry_expire_ms(const struct entry *e)
{
    return entry_has_ttl(e) ? rd64s(entry_ttl_ext_c(e)) : SHARD_NO_EXPIRE;
}

/* ---- memory ------------------------------------------------------------- */

/* Every allocation of the shard goes through here (entries, index, TTL
 * vectors), so the test hook can fail any of them. */
static bool shard_alloc_allowed(struct shard *s)
{
    if (HP_UNLIKELY(s->allocs_left != UINT64_MAX)) {
        if (s->allocs_left == 0)
            return false;
        s->allocs_left--;
    }
    return true;
}

void *shard_mallocx(struct shard *s, size_t size, int flags)
{
    return shard_alloc_allowed(s) ? mallocx(size, s->mflags | flags) : NULL;
}

void *shard_rallocx(struct shard *s, void *p, size_t size)
{
    if (HP_UNLIKELY(s->allocs_left != UINT64_MAX)) {
        if (s->allocs_left == 0)
            return NULL;
        s->allocs_left--;
    }
    return rallocx(p, size, s->mflags);
}

void shard_debug_fail_allocs(struct shard *s, uint64_t after)
{
    s->allocs_left = after;
}

/* Bytes a new entry of `size` would occupy (entry_mem_alloc's choice). */
static inline size_t entry_class_bytes(const struct shard *s, size_t size)
{
    return slab_fits(size) ? slab_class_bytes(size) : nallocx(size, s->mflags);
}

/* Memory for an entry of `size` bytes; *slab_bit says where it came from
 * (the caller puts it into meta).  Small entries go to the slab pool, whose
 * slabs are accounted in mem_used when they are allocated. */
static struct entry *entry_mem_alloc(struct shard *s, size_t size, uint8_t *slab_bit)
{
    if (slab_fits(size)) {
        /* The test hook counts the entry as one allocation, as when it was
         * a jemalloc allocation of its own; the slab it may need is not
         * counted again (slab_mem_alloc bypasses the hook). */
        *slab_bit = ENTRY_SLAB;
        return shard_alloc_allowed(s) ? slab_alloc(&s->slab, size) : NULL;
    }
    *slab_bit = 0;
    struct entry *e = shard_mallocx(s, size, 0);
    if (e != NULL)
        s->mem_used += sallocx(e, 0);
    return e;
}

static struct entry *entry_alloc(struct shard *s, const struct entry_shape *sh,
                                 struct hp_slice key)
{
    uint8_t slab_bit;
    struct entry *e = entry_mem_alloc(s, sh->size, &slab_bit);
    if (e == NULL)
        return NULL;
    entry_write_header(e, sh);
    e->meta |= slab_bit;
    memcpy(entry_at(e, entry_hdr(e)), key.ptr, key.len);
    return e;
}

/* Releases what a value owns outside the entry: nothing for a string (the
 * one test on the string path), the payload for any other type. */
static void entry_value_release(struct shard *s, struct entry *e)
{
    if (HP_LIKELY(entry_type(e) == OBJ_STRING))
        return;
    const struct type_ops *ops = obj_type_ops(entry_type(e));
    HP_ASSERT(ops != NULL);
    ops->free(s, entry_obj(e));
}

/* Frees the allocation only (the value, if it owns anything, moved on). */
static void entry_dealloc(struct shard *s, struct entry *e)
{
    if (e->meta & ENTRY_SLAB) {
        slab_free(&s->slab, e);
        return;
    }
    size_t usable = sallocx(e, 0);
    HP_ASSERT(s->mem_used >= usable);
    s->mem_used -= usable;
    sdallocx(e, usable, s->mflags);
}

void entry_free(struct shard *s, struct entry *e)
{
    entry_value_release(s, e);
    entry_dealloc(s, e);
}

static void *index_mem_alloc(void *ctx, size_t size)
{
    struct shard *s = ctx;
    void *p = shard_mallocx(s, size, MALLOCX_ALIGN(INDEX_ALIGN) | MALLOCX_ZERO);
    if (p == NULL)
        return NULL;
    size_t usable = sallocx(p, 0);
    s->mem_used += usable;
    s->mem_index += usable;
    return p;
}

static void index_mem_free(void *ctx, void *p, size_t size)
{
    struct shard *s = ctx;
    size_t usable = sallocx(p, 0);
    HP_ASSERT(usable >= size && s->mem_index >= usable && s->mem_used >= usable);
    s->mem_used -= usable;
    s->mem_index -= usable;
    sdallocx(p, usable, s->mflags | MALLOCX_ALIGN(INDEX_ALIGN));
}

static struct hp_slice index_key_of(const void *item)
{
    return entry_key(item);
}

/* Slabs are aligned to their size so an item finds its slab by masking. */
static void *slab_mem_alloc(void *ctx, size_t size)
{
    struct shard *s = ctx;
    void *p = mallocx(size, s->mflags | MALLOCX_ALIGN(SLAB_BYTES));
    if (p != NULL)
        s->mem_used += sallocx(p, 0);
    return p;
}

static void slab_mem_free(void *ctx, void *p, size_t size)
{
    struct shard *s = ctx;
    size_t usable = sallocx(p, 0);
    HP_ASSERT(usable >= size && s->mem_used >= usable);
    s->mem_used -= usable;
    sdallocx(p, usable, s->mflags | MALLOCX_ALIGN(SLAB_BYTES));
}

/* ---- TTL vector --------------------------------------------------------- */

static int ttl_resize(struct shard *s, struct shard_db *d, uint32_t cap)
{
    size_t bytes = (size_t)cap * sizeof(d->ttl[0]);
    size_t old_usable = d->ttl != NULL ? sallocx(d->ttl, 0) : 0;
    void *p = d->ttl != NULL ? shard_rallocx(s, d->ttl, bytes) : shard_mallocx(s, bytes, 0);
    if (p == NULL)
        return -1;
    size_t usable = sallocx(p, 0);
    s->mem_used = s->mem_used - old_usable + usable;
    s->mem_index = s->mem_index - old_usable + usable;
    d->ttl = p;
    /* use the whole size class jemalloc rounded the request up to */
    d->ttl_cap = (uint32_t)HP_MIN(usable / sizeof(d->ttl[0]), (size_t)SHARD_MAX_TTL_KEYS);
    HP_ASSERT(d->ttl_cap >= cap);
    return 0;
}

void shard_ttl_free(struct shard *s, struct shard_db *d)
{
    if (d->ttl == NULL)
        return;
    size_t usable = sallocx(d->ttl, 0);
    s->mem_used -= usable;
    s->mem_index -= usable;
    sdallocx(d->ttl, usable, s->mflags);
    d->ttl = NULL;
    d->ttl_len = d->ttl_cap = d->ttl_cursor = 0;
}

/* Room for one more TTL entry; called before anything changes. */
static int ttl_reserve(struct shard *s, struct shard_db *d)
{
    if (d->ttl_len < d->ttl_cap)
        return 0;
    if (d->ttl_cap >= SHARD_MAX_TTL_KEYS)
        return -1;
    /* x1.5, not x2: the vector costs 8 bytes per TTL key, and the slack of
     * the last growth step is paid by every key of a large db. */
    uint64_t cap = d->ttl_cap == 0 ? TTL_VEC_MIN : (uint64_t)d->ttl_cap + d->ttl_cap / 2;
    return ttl_resize(s, d, (uint32_t)HP_MIN(cap, (uint64_t)SHARD_MAX_TTL_KEYS));
}

static void ttl_add(struct shard_db *d, struct entry *e)
{
    HP_ASSERT(d->ttl_len < d->ttl_cap && entry_has_ttl(e));
    d->ttl[d->ttl_len] = e;
    entry_set_ttl_pos(e, d->ttl_len);
    d->ttl_len++;
}

static void ttl_remove(struct shard *s, struct shard_db *d, struct entry *e)
{
    uint32_t pos = entry_ttl_pos(e);
    HP_ASSERT(pos < d->ttl_len && d->ttl[pos] == e);
    struct entry *last = d->ttl[--d->ttl_len];
    d->ttl[pos] = last;
    entry_set_ttl_pos(last, pos);
    /* Give memory back when 3/4 empty; halving keeps a margin so an
     * add/remove pair at the boundary cannot reallocate every time. */
    if (d->ttl_len == 0)
        shard_ttl_free(s, d);
    else if (d->ttl_cap > TTL_VEC_MIN * 4 && d->ttl_len < d->ttl_cap / 4)
        (void)ttl_resize(s, d, d->ttl_cap / 2);   /* failure: keep the bigger one */
}

/* ---- db primitives ------------------------------------------------------ */

/* Checked before hashing: an over-long key cannot exist, so a lookup of one
 * finds nothing without reading it. */
static inline bool key_ok(struct hp_slice key)
{
    return key.len <= SHARD_MAX_KEY_LEN;
}

static void db_unlink(struct shard *s, struct shard_db *d, uint64_t h, struct entry *e)
{
    bool removed = idx_remove_item(&d->ix, h, e);
    HP_ASSERT(removed);
    if (entry_has_ttl(e))
        ttl_remove(s, d, e);
}

static void db_delete(struct shard *s, struct shard_db *d, uint64_t h, struct entry *e)
{
    db_unlink(s, d, h, e);
    entry_free(s, e);
}

void shard_expire_entry(struct shard *s, struct shard_db *d, uint64_t h, struct entry *e)
{
    db_delete(s, d, h, e);
    s->expired_keys++;
}

/* The live entry for key; an expired one is deleted (lazy expiry). */
static struct entry *db_lookup(struct shard *s, struct shard_db *d, uint64_t h,
                               struct hp_slice key, int64_t now_ms)
{
    struct entry *e = idx_find(&d->ix, h, key.ptr, key.len);
    if (e != NULL && HP_UNLIKELY(entry_expired(e, now_ms))) {
        shard_expire_entry(s, d, h, e);
        return NULL;
    }
    return e;
}

/* Adds a new entry; a TTL slot must have been reserved.  -1: nothing changed. */
static int db_insert(struct shard_db *d, uint64_t h, struct entry *e)
{
    if (idx_insert(&d->ix, h, e) != 0)
        return -1;
    if (entry_has_ttl(e))
        ttl_add(d, e);
    return 0;
}

/* Puts e where old was (same key) and frees old.  A TTL slot must have been
 * reserved when e has a TTL and old has not; nothing here can fail. */
static void db_replace(struct shard *s, struct shard_db *d, uint64_t h,
                       struct entry *old, struct entry *e)
{
    bool replaced = idx_replace_item(&d->ix, h, old, e);
    HP_ASSERT(replaced);
    if (entry_has_ttl(old) && entry_has_ttl(e)) {
        uint32_t pos = entry_ttl_pos(old);
        d->ttl[pos] = e;
        entry_set_ttl_pos(e, pos);
    } else if (entry_has_ttl(old)) {
        ttl_remove(s, d, old);
    } else if (entry_has_ttl(e)) {
        ttl_add(d, e);
    }
    entry_free(s, old);
}

/* After an entry moved in memory (rallocx): point the index and TTL vector
 * at its new address.  Compares the old address only, never reads it. */
static void db_repoint(struct shard_db *d, uint64_t h, const struct entry *old, struct entry *e)
{
    bool replaced = idx_replace_item(&d->ix, h, old, e);
    HP_ASSERT(replaced);
    if (entry_has_ttl(e))
        d->ttl[entry_ttl_pos(e)] = e;
}

/* Reserve a TTL slot when an entry with a TTL will join (old lacks one). */
static int ttl_reserve_for(struct shard *s, struct shard_db *d, bool new_ttl,
                           const struct entry *old)
{
    if (!new_ttl || (old != NULL && entry_has_ttl(old)))
        return 0;
    return ttl_reserve(s, d);
}

/* ---- lifecycle ---------------------------------------------------------- */

static uint64_t seed_from_os(const void *salt)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
        return seed;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ((uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull) ^ (uint64_t)(uintptr_t)salt ^
           (uint64_t)ts.tv_sec;
}

static void arena_destroy(unsigned arena)
{
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.destroy", arena);
    if (mallctl(name, NULL, NULL, NULL, 0) != 0)
        log_warning("shard: cannot destroy jemalloc arena %u", arena);
}

struct shard *shard_create(uint32_t id)
{
    unsigned arena;
    size_t len = sizeof(arena);
    if (mallctl("arenas.create", &arena, &len, NULL, 0) != 0) {
        log_warning("shard %u: cannot create a jemalloc arena", id);
        return NULL;
    }
    int mflags = MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE;
    struct shard *s = mallocx(sizeof(*s), mflags | MALLOCX_ZERO | MALLOCX_ALIGN(64));
    if (s == NULL) {
        log_warning("shard %u: out of memory", id);
        arena_destroy(arena);
        return NULL;
    }
    s->id = id;
    s->arena = arena;
    s->mflags = mflags;
    s->ops.key_of = index_key_of;
    s->ops.alloc = index_mem_alloc;
    s->ops.free = index_mem_free;
    s->ops.ctx = s;
    s->slab_ops.alloc = slab_mem_alloc;
    s->slab_ops.free = slab_mem_free;
    s->slab_ops.ctx = s;
    slab_pool_init(&s->slab, &s->slab_ops);
    s->allocs_left = UINT64_MAX;
    uint64_t seed = seed_from_os(s);
    for (uint32_t i = 0; i < HP_NUM_DBS; i++)
        idx_init(&s->db[i].ix, &s->ops, seed);
    return s;
}

void shard_destroy(struct shard *s)
{
    if (s == NULL)
        return;
    for (uint32_t i = 0; i < HP_NUM_DBS; i++)
        shard_flush_db(s, i);
    if (s->mem_used != 0)   /* detached entries never freed; the arena goes anyway */
        log_warning("shard %u: %llu bytes still allocated at destroy", s->id,
                    (unsigned long long)s->mem_used);
    unsigned arena = s->arena;
    dallocx(s, s->mflags);
    arena_destroy(arena);
}

uint32_t shard_id(const struct shard *s)
{
    return s->id;
}

/* ---- keys --------------------------------------------------------------- */

struct entry *shard_find(struct shard *s, uint32_t db, struct hp_slice key, int64_t now_ms)
{
    struct shard_db *d = db_of(s, db);
    if (HP_UNLIKELY(!key_ok(key)))
        return NULL;
    return db_lookup(s, d, key_hash(d, key), key, now_ms);
}

uint64_t shard_prefetch_bucket(struct shard *s, uint32_t db, struct hp_slice key)
{
    if (HP_UNLIKELY(!key_ok(key)))
        return 0;
    struct shard_db *d = db_of(s, db);
    uint64_t h = key_hash(d, key);
    idx_prefetch(&d->ix, h, 0);
    return h;
}

void shard_prefetch_entry(struct shard *s, uint32_t db, uint64_t h)
{
    idx_prefetch(&db_of(s, db)->ix, h, 1);
}

/* The live entry for key and where it lives (db, hash), for the calls that
 * go on to change it; NULL (with *d, *h still set) when absent. */
static struct entry *db_find_hashed(struct shard *s, uint32_t db, struct hp_slice key,
                                    int64_t now_ms, struct shard_db **d, uint64_t *h)
{
    *d = db_of(s, db);
    *h = 0;
    if (!key_ok(key))
        return NULL;
    *h = key_hash(*d, key);
    return db_lookup(s, *d, *h, key, now_ms);
}

/* Same layout and same jemalloc size class: overwrite without allocating. */
static bool fits_in_place(const struct shard *s, const struct entry *e,
                          const struct entry_shape *sh)
{
    return (e->meta & (uint8_t)~ENTRY_SLAB) == sh->meta &&
           entry_class_bytes(s, sh->size) == entry_usable(e);
}

int shard_set_str(struct shard *s, uint32_t db, struct hp_slice key, struct hp_slice val,
                  int64_t expire_ms, int64_t now_ms)
{
    struct shard_db *d = db_of(s, db);
    struct entry_shape sh;
    bool ttl = expire_ms != SHARD_NO_EXPIRE;
    if (!shape_make(&sh, OBJ_STRING, key.len, val.len, ttl))
        return -1;
    uint64_t h = key_hash(d, key);
    struct entry *old = db_lookup(s, d, h, key, now_ms);
    if (old != NULL && fits_in_place(s, old, &sh)) {
        entry_set_vlen(old, sh.vlen);
        memmove(entry_val(old), val.ptr, val.len);   /* val may point into old */
        if (ttl)
            entry_set_expire(old, expire_ms);
        return 0;
    }
    if (ttl_reserve_for(s, d, ttl, old) != 0)
        return -1;
    struct entry *e = entry_alloc(s, &sh, key);
    if (e == NULL)
        return -1;
    memcpy(entry_val(e), val.ptr, val.len);
    if (ttl)
        entry_set_expire(e, expire_ms);
    if (old != NULL) {
        db_replace(s, d, h, old, e);
    } else if (db_insert(d, h, e) != 0) {
        entry_dealloc(s, e);
        return -1;
    }
    return 0;
}

int shard_obj_set(struct shard *s, uint32_t db, struct hp_slice key, enum obj_type type,
                  void *payload, int64_t expire_ms, int64_t now_ms)
{
    HP_ASSERT(type != OBJ_STRING);
    HP_ASSERT(obj_type_ops(type) != NULL);   /* registered before its first key */
    HP_ASSERT(payload != NULL);
    struct shard_db *d = db_of(s, db);
    struct entry_shape sh;
    bool ttl = expire_ms != SHARD_NO_EXPIRE;
    if (!shape_make(&sh, type, key.len, sizeof(payload), ttl))
        return -1;
    uint64_t h = key_hash(d, key);
    struct entry *old = db_lookup(s, d, h, key, now_ms);
    /* Giving a key its own payload again would free it below. */
    HP_ASSERT(old == NULL || entry_type(old) == OBJ_STRING || entry_obj(old) != payload);
    if (old != NULL && fits_in_place(s, old, &sh)) {
        void *prev = entry_obj(old);
        entry_obj_set(old, payload);
        if (ttl)
            entry_set_expire(old, expire_ms);
        obj_type_ops(type)->free(s, prev);
        return 0;
    }
    if (ttl_reserve_for(s, d, ttl, old) != 0)
        return -1;
    struct entry *e = entry_alloc(s, &sh, key);
    if (e == NULL)
        return -1;
    entry_obj_set(e, payload);
    if (ttl)
        entry_set_expire(e, expire_ms);
    if (old != NULL) {
        db_replace(s, d, h, old, e);   /* frees old's value */
    } else if (db_insert(d, h, e) != 0) {
        entry_dealloc(s, e);   /* the payload stays the caller's */
        return -1;
    }
    return 0;
}

static uint8_t *str_create(struct shard *s, struct shard_db *d, uint64_t h,
                           struct hp_slice key, size_t len)
{
    struct entry_shape sh;
    if (!shape_make(&sh, OBJ_STRING, key.len, len, false))
        return NULL;
    struct entry *e = entry_alloc(s, &sh, key);
    if (e == NULL)
        return NULL;
    memset(entry_val(e), 0, len);
    if (db_insert(d, h, e) != 0) {
        entry_dealloc(s, e);
        return NULL;
    }
    return entry_val(e);
}

/* New entry of shape sh for old's key: TTL copied, the first `keep` value
 * bytes copied from old, the rest zero; replaces old. */
static uint8_t *str_rebuild(struct shard *s, struct shard_db *d, uint64_t h,
                            struct entry *old, const struct entry_shape *sh, size_t keep)
{
    struct entry *e = entry_alloc(s, sh, entry_key(old));
    if (e == NULL)
        return NULL;
    if (entry_has_ttl(e))
        entry_set_expire(e, entry_expire_ms(old));
    memcpy(entry_val(e), entry_val(old), keep);
    memset(entry_val(e) + keep, 0, sh->vlen - keep);
    db_replace(s, d, h, old, e);   /* same TTL state: cannot fail */
    return entry_val(e);
}

/* The same entry bytes in an allocation of `size` (the first min(old,
 * size) bytes kept): in place within the class, jemalloc's rallocx between
 * two jemalloc entries (in place when it can, often for large values), else
 * a new allocation, copy and free (slab <-> jemalloc or another slab class).
 * NULL: nothing changed. */
static struct entry *entry_mem_resize(struct shard *s, struct entry *old, size_t size)
{
    if (entry_class_bytes(s, size) == entry_usable(old) &&
        ((old->meta & ENTRY_SLAB) != 0) == slab_fits(size))
        return old;
    if (!(old->meta & ENTRY_SLAB) && !slab_fits(size)) {
        size_t old_usable = sallocx(old, 0);
        struct entry *e = shard_rallocx(s, old, size);
        if (e != NULL)
            s->mem_used = s->mem_used - old_usable + sallocx(e, 0);
        return e;
    }
    uint8_t slab_bit;
    struct entry *e = entry_mem_alloc(s, size, &slab_bit);
    if (e == NULL)
        return NULL;
    memcpy(e, old, HP_MIN(entry_size(old), size));
    e->meta = (uint8_t)((old->meta & (uint8_t)~ENTRY_SLAB) | slab_bit);
    entry_dealloc(s, old);
    return e;
}

static uint8_t *str_resize(struct shard *s, struct shard_db *d, uint64_t h,
                           struct entry *old, size_t len)
{
    struct entry_shape sh;
    if (!shape_make(&sh, OBJ_STRING, entry_klen(old), len, entry_has_ttl(old)))
        return NULL;
    size_t old_len = entry_vlen(old);
    if (sh.meta != (old->meta & (uint8_t)~ENTRY_SLAB))   /* narrow <-> wide: the key moves */
        return str_rebuild(s, d, h, old, &sh, HP_MIN(old_len, len));
    struct entry *e = entry_mem_resize(s, old, sh.size);
    if (e == NULL)
        return NULL;
    entry_set_vlen(e, (uint32_t)len);
    if (len > old_len)
        memset(entry_val(e) + old_len, 0, len - old_len);
    if (e != old)
        db_repoint(d, h, old, e);
    return entry_val(e);
}

uint8_t *shard_str_writable(struct shard *s, uint32_t db, struct hp_slice key, size_t len,
                            int64_t now_ms)
{
    struct shard_db *d = db_of(s, db);
    if (key.len > SHARD_MAX_KEY_LEN || len > SHARD_MAX_STR_LEN)
        return NULL;
    uint64_t h = key_hash(d, key);
    struct entry *old = db_lookup(s, d, h, key, now_ms);
    if (old == NULL)
        return str_create(s, d, h, key, len);
    if (entry_type(old) == OBJ_STRING)
        return str_resize(s, d, h, old, len);
    struct entry_shape sh;   /* another type: replaced, TTL kept */
    if (!shape_make(&sh, OBJ_STRING, entry_klen(old), len, entry_has_ttl(old)))
        return NULL;
    return str_rebuild(s, d, h, old, &sh, 0);
}

int shard_delete(struct shard *s, uint32_t db, struct hp_slice key, int64_t now_ms)
{
    struct shard_db *d;
    uint64_t h;
    struct entry *e = db_find_hashed(s, db, key, now_ms, &d, &h);
    if (e == NULL)
        return 0;
    db_delete(s, d, h, e);
    return 1;
}

static void entry_drop_ttl(struct shard *s, struct shard_db *d, struct entry *e)
{
    ttl_remove(s, d, e);
    uint8_t *ext = entry_ttl_ext(e);
    memmove(ext, ext + TTL_EXT, entry_klen(e) + (size_t)entry_vlen(e));
    e->meta &= (uint8_t)~ENTRY_TTL;   /* the allocation keeps its size class */
}

/* Adds a TTL: in place when the size class has 12 spare bytes (a 16-byte
 * key with a 32-byte value does: 52 bytes live in a 64-byte class). */
static int entry_add_ttl(struct shard *s, struct shard_db *d, uint64_t h, struct entry *e,
                         int64_t expire_ms)
{
    if (ttl_reserve(s, d) != 0)
        return -1;
    size_t size = entry_size(e);
    if (entry_usable(e) >= size + TTL_EXT) {
        uint8_t *ext = entry_ttl_ext(e);
        memmove(ext + TTL_EXT, ext, size - entry_hdr(e));
        e->meta |= ENTRY_TTL;
        entry_set_expire(e, expire_ms);
        ttl_add(d, e);
        return 0;
    }
    struct entry_shape sh;
    if (!shape_make(&sh, entry_type(e), entry_klen(e), entry_vlen(e), true))
        return -1;
    struct entry *n = entry_alloc(s, &sh, entry_key(e));
    if (n == NULL)
        return -1;
    memcpy(entry_val(n), entry_val(e), entry_vlen(e));
    entry_set_expire(n, expire_ms);
    bool replaced = idx_replace_item(&d->ix, h, e, n);
    HP_ASSERT(replaced);
    ttl_add(d, n);
    entry_dealloc(s, e);   /* the value (if it owns anything) moved to n */
    return 0;
}

int shard_set_expire(struct shard *s, uint32_t db, struct hp_slice key, int64_t expire_ms,
                     int64_t now_ms)
{
    struct shard_db *d;
    uint64_t h;
    struct entry *e = db_find_hashed(s, db, key, now_ms, &d, &h);
    if (e == NULL)
        return 0;
    if (expire_ms == SHARD_NO_EXPIRE) {
        if (entry_has_ttl(e))
            entry_drop_ttl(s, d, e);
        return 1;
    }
    if (expire_ms <= now_ms) {
        db_delete(s, d, h, e);   /* a deletion by command, not an expiry */
        return 1;
    }
    if (entry_has_ttl(e)) {
        entry_set_expire(e, expire_ms);
        return 1;
    }
    return entry_add_ttl(s, d, h, e, expire_ms) == 0 ? 1 : -1;
}

/* New entry named key holding e's type, value bytes and TTL.  A typed
 * value's bytes are its payload pointer: n and e then share the payload,
 * and the caller decides which keeps it (entry_dealloc of the other). */
static struct entry *entry_clone_as(struct shard *s, const struct entry *e, struct hp_slice key)
{
    struct entry_shape sh;
    if (!shape_make(&sh, entry_type(e), key.len, entry_vlen(e), entry_has_ttl(e)))
        return NULL;
    struct entry *n = entry_alloc(s, &sh, key);
    if (n == NULL)
        return NULL;
    memcpy(entry_val(n), entry_val_c(e), entry_vlen(e));
    if (entry_has_ttl(e))
        entry_set_expire(n, entry_expire_ms(e));
    return n;
}

/* entry_clone_as into shard s when e belongs to another shard: a typed
 * payload is deep-copied into s's arena, so each shard frees its own. */
static struct entry *entry_copy_as(struct shard *s, const struct entry *e, struct hp_slice key)
{
    struct entry *n = entry_clone_as(s, e, key);
    if (n == NULL || entry_type(e) == OBJ_STRING)
        return n;
    const struct type_ops *ops = obj_type_ops(entry_type(e));
    HP_ASSERT(ops != NULL);
    void *copy = ops->copy(s, entry_obj(e));
    if (copy == NULL) {
        entry_dealloc(s, n);   /* its pointer is e's payload: not freed */
        return NULL;
    }
    entry_obj_set(n, copy);
    return n;
}

/* Stores n under its key, replacing a live key of that name.  -1: nothing
 * changed (n is then still the caller's). */
static int db_store(struct shard *s, struct shard_db *d, struct entry *n, int64_t now_ms)
{
    struct hp_slice key = entry_key(n);
    uint64_t h = key_hash(d, key);
    struct entry *old = db_lookup(s, d, h, key, now_ms);
    if (ttl_reserve_for(s, d, entry_has_ttl(n), old) != 0)
        return -1;
    if (old != NULL) {
        db_replace(s, d, h, old, n);
        return 0;
    }
    return db_insert(d, h, n);
}

int shard_rename(struct shard *s, uint32_t db, struct hp_slice src, struct hp_slice dst,
                 int64_t now_ms)
{
    struct shard_db *d;
    uint64_t h;
    struct entry *e = db_find_hashed(s, db, src, now_ms, &d, &h);
    if (e == NULL)
        return 0;
    if (src.len == dst.len && memcmp(src.ptr, dst.ptr, src.len) == 0)
        return 1;
    struct entry *n = entry_clone_as(s, e, dst);
    if (n == NULL)
        return -1;
    if (db_store(s, d, n, now_ms) != 0) {
        entry_dealloc(s, n);
        return -1;
    }
    db_unlink(s, d, h, e);
    entry_dealloc(s, e);   /* its value (inline bytes or payload pointer) is n's now */
    return 1;
}

struct entry *shard_detach(struct shard *s, uint32_t db, struct hp_slice key, int64_t now_ms)
{
    struct shard_db *d;
    uint64_t h;
    struct entry *e = db_find_hashed(s, db, key, now_ms, &d, &h);
    if (e != NULL)
        db_unlink(s, d, h, e);
    return e;
}

int shard_adopt_copy(struct shard *s, uint32_t db, struct hp_slice key, const struct entry *e,
                     int64_t now_ms)
{
    struct shard_db *d = db_of(s, db);
    struct entry *n = entry_copy_as(s, e, key);
    if (n == NULL)
        return -1;
    if (db_store(s, d, n, now_ms) != 0) {
        entry_free(s, n);   /* with its copy of a payload */
        return -1;
    }
    return 0;
}

void shard_entry_free(struct shard *owner, struct entry *e)
{
    entry_free(owner, e);
}

/* ---- accounting and housekeeping ---------------------------------------- */

void shard_get_stats(const struct shard *s, struct shard_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->mem_used = s->mem_used;
    out->mem_index = s->mem_index;
    out->expired_keys = s->expired_keys;
    out->mem_slab = s->slab.slabs * SLAB_BYTES;
    out->mem_slab_items = s->slab.item_bytes;
    out->mem_payload = s->mem_payload;
    for (uint32_t i = 0; i < HP_NUM_DBS; i++) {
        out->keys += idx_count(&s->db[i].ix);
        out->expires += s->db[i].ttl_len;
        out->rehashing |= idx_rehashing(&s->db[i].ix);
    }
}

static int arena_stat(unsigned arena, const char *what, size_t *out)
{
    char name[96];
    size_t len = sizeof(*out);
    snprintf(name, sizeof(name), "stats.arenas.%u.%s", arena, what);
    return mallctl(name, out, &len, NULL, 0);
}

int shard_arena_stats(struct shard *s, struct shard_arena_stats *out)
{
    uint64_t epoch = 1;
    size_t len = sizeof(epoch);
    size_t page = 0, plen = sizeof(page);
    size_t small = 0, large = 0, pactive = 0, resident = 0, mapped = 0;
    memset(out, 0, sizeof(*out));
    if (mallctl("epoch", &epoch, &len, &epoch, len) != 0 ||
        mallctl("arenas.page", &page, &plen, NULL, 0) != 0 ||
        arena_stat(s->arena, "small.allocated", &small) != 0 ||
        arena_stat(s->arena, "large.allocated", &large) != 0 ||
        arena_stat(s->arena, "pactive", &pactive) != 0 ||
        arena_stat(s->arena, "resident", &resident) != 0 ||
        arena_stat(s->arena, "mapped", &mapped) != 0)
        return -1;
    out->allocated = small + large;
    out->active = (uint64_t)pactive * page;
    out->resident = resident;
    out->mapped = mapped;
    return 0;
}

size_t shard_rehash_step(struct shard *s, size_t budget)
{
    size_t done = 0;
    for (uint32_t i = 0; i < HP_NUM_DBS && done < budget; i++)
        done += idx_rehash_step(&s->db[i].ix, budget - done);
    return done;
}
