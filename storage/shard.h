/*
 * shard.h - one shard: the keyspace slice owned by exactly one worker core.
 *
 * Threading: a shard is used by one thread at a time and has no locks.  Its
 * worker owns it; another worker may operate on it only while the owner has
 * handed it over ("parked", see dataplane/xshard.h), with the hand-over
 * message providing the memory barrier.  Allocation goes to the shard's own
 * jemalloc arena with no thread cache, so memory freed by whichever thread
 * holds the shard returns to the same arena and the accounting stays exact.
 *
 * Keys live in HP_NUM_DBS logical databases (SELECT).  Each key maps to one
 * `struct entry` holding key, type, expiry and (for strings) the value bytes.
 *
 * Pointer stability: an entry pointer is valid only until the next call that
 * may modify the same database of this shard (set, writable, delete, expire
 * cycle, lookup that lazily expires, flush).  Never keep one across calls.
 *
 * Time: every call that may observe expiry takes now_ms (Unix ms).  An entry
 * whose expire time is <= now_ms is logically absent: lookups delete it
 * (lazy expiry) and shard_expire_cycle() reclaims the rest in bounded steps.
 */
#ifndef HP_SHARD_H
#define HP_SHARD_H

#include "../common/hp_common.h"

/* The type tag of an entry (4 bits of its header, so at most OBJ_TYPE_MAX
 * tags).  Strings are built in; every other type is a module that
 * registers its struct type_ops (storage/types.h) for its tag before any
 * key of it exists.  Tags not named here are unassigned (unit tests
 * register their own types there). */
enum obj_type {
    OBJ_STRING = 0,
    OBJ_HASH = 1,       /* tags reserved for the type modules to come */
    OBJ_LIST = 2,
    OBJ_SET = 3,
    OBJ_ZSET = 4,
    OBJ_STREAM = 5,
};
#define OBJ_TYPE_MAX 16u

#define SHARD_NO_EXPIRE (-1)   /* entry has no TTL */

/* Hard limits; beyond them writes fail like an allocation failure and
 * lookups find nothing. */
#define SHARD_MAX_KEY_LEN ((size_t)512 * 1024 * 1024)      /* Redis' key limit */
#define SHARD_MAX_STR_LEN ((size_t)512 * 1024 * 1024 + 1)  /* string value */
#define SHARD_MAX_TTL_KEYS ((uint32_t)1 << 31)              /* keys with TTL per db */

struct entry;
struct shard;

/* --- entries (read-only accessors) ------------------------------------ */
struct hp_slice entry_key(const struct entry *e);
enum obj_type entry_type(const struct entry *e);
/* OBJ_STRING value bytes (asserts the type: others use types.h). */
struct hp_slice entry_str(const struct entry *e);
/* Absolute Unix ms, or SHARD_NO_EXPIRE. */
int64_t entry_expire_ms(const struct entry *e);

/* --- lifecycle --------------------------------------------------------- */
/* Creates shard `id` with its own jemalloc arena.  NULL on failure (logged). */
struct shard *shard_create(uint32_t id);
void shard_destroy(struct shard *s);
uint32_t shard_id(const struct shard *s);

/* --- keys ---------------------------------------------------------------- */
/* Batched lookups (a burst of requests): hint the key's index line now
 * (stage 0, returns the hash to pass back), its entry later (stage 1), so
 * the misses of a burst overlap instead of queueing one by one. */
uint64_t shard_prefetch_bucket(struct shard *s, uint32_t db, struct hp_slice key);
void shard_prefetch_entry(struct shard *s, uint32_t db, uint64_t h);
/* The live entry for key, or NULL.  Deletes it first if expired. */
struct entry *shard_find(struct shard *s, uint32_t db, struct hp_slice key,
                         int64_t now_ms);

/*
 * Make `key` a string of exactly `len` bytes and return a pointer to its
 * value bytes for the caller to fill.  If the key exists as a string, its
 * first min(old_len, len) bytes are preserved and growth is zero-filled;
 * if it exists with another type it is replaced.  The TTL is kept when the
 * key existed (callers that must clear or set it call shard_set_expire).
 * Returns NULL if memory cannot be allocated (nothing changed then).
 * `len` is at most 512 MiB plus one (callers enforce proto-max-bulk-len).
 */
uint8_t *shard_str_writable(struct shard *s, uint32_t db, struct hp_slice key,
                            size_t len, int64_t now_ms);

/* SET semantics in one call: value = val, TTL = expire_ms (SHARD_NO_EXPIRE
 * clears it).  Returns 0, or -1 on allocation failure (nothing changed). */
int shard_set_str(struct shard *s, uint32_t db, struct hp_slice key,
                  struct hp_slice val, int64_t expire_ms, int64_t now_ms);

/* 1 if the key existed (and is now gone), 0 if it did not exist. */
int shard_delete(struct shard *s, uint32_t db, struct hp_slice key, int64_t now_ms);

/* Set (expire_ms >= 0) or clear (SHARD_NO_EXPIRE) the TTL of an existing
 * key.  Returns 1 if the key exists, 0 if not.  An expire_ms <= now_ms
 * deletes the key (as Redis does for EXPIRE with a past time).
 * Returns -1 if memory cannot be allocated (nothing changed then): adding a
 * TTL to a key may have to grow its entry. */
int shard_set_expire(struct shard *s, uint32_t db, struct hp_slice key,
                     int64_t expire_ms, int64_t now_ms);

/* Move src to dst inside this shard (dst replaced if it exists; TTL moves
 * with the value).  Returns 1 on success, 0 if src does not exist, -1 if
 * memory cannot be allocated (nothing changed then): the entry stores its
 * key inline, so a rename builds a new entry (a typed value's payload moves
 * to it, not copied). */
int shard_rename(struct shard *s, uint32_t db, struct hp_slice src,
                 struct hp_slice dst, int64_t now_ms);

/* Detach the entry for key from the index without freeing it (for moving a
 * key to another shard): returns it or NULL.  The caller must hand it to
 * shard_adopt() of the destination shard or free it with shard_entry_free. */
struct entry *shard_detach(struct shard *s, uint32_t db, struct hp_slice key,
                           int64_t now_ms);
/* Copy a detached entry into this shard under name `key` (replacing an
 * existing key), keeping type, value and TTL; a typed value is deep-copied
 * into this shard's arena by its type's ops->copy.  Returns 0 or -1 (OOM,
 * nothing changed). */
int shard_adopt_copy(struct shard *s, uint32_t db, struct hp_slice key,
                     const struct entry *e, int64_t now_ms);
void shard_entry_free(struct shard *owner, struct entry *e);

/* --- whole database ------------------------------------------------------ */
/* Number of keys (may include expired keys not yet reclaimed, like Redis' DBSIZE). */
uint64_t shard_db_size(const struct shard *s, uint32_t db);
/* Keys with a TTL (INFO keyspace "expires="). */
uint64_t shard_db_expires(const struct shard *s, uint32_t db);
void shard_flush_db(struct shard *s, uint32_t db);

/*
 * Incremental scan with Redis' guarantees: every key present for the whole
 * scan is returned at least once, even if the index resizes in between.
 * Visits up to about `count` slots' worth of entries, calling fn for each
 * live entry; returns the next cursor, 0 when the scan is complete.
 * Cursors are < 2^48 (the dataplane puts the shard number above them).
 */
typedef void (*shard_scan_fn)(void *arg, const struct entry *e);
uint64_t shard_scan(struct shard *s, uint32_t db, uint64_t cursor, size_t count,
                    int64_t now_ms, shard_scan_fn fn, void *arg);

/* A uniformly-ish random live entry, or NULL if the db is empty.  Expired
 * keys it draws are deleted; after SHARD_RANDOM_TRIES of them in one call it
 * gives up and returns NULL (only when nearly every key is expired but not
 * yet reclaimed), so the call stays bounded. */
#define SHARD_RANDOM_TRIES 100
struct entry *shard_random(struct shard *s, uint32_t db, int64_t now_ms,
                           uint64_t random_bits);

/*
 * Active expiry: examine at most `budget` TTL-carrying keys across all dbs,
 * deleting expired ones.  Bounded work per call, so a million keys expiring in
 * the same second cost each worker loop iteration only `budget` steps.
 * Returns the number of keys deleted.
 */
size_t shard_expire_cycle(struct shard *s, int64_t now_ms, size_t budget);

/* --- accounting ---------------------------------------------------------- */
struct shard_stats {
    uint64_t mem_used;          /* bytes allocated for keys, values, index */
    uint64_t mem_index;         /* of which: index tables */
    uint64_t keys;              /* all dbs */
    uint64_t expires;           /* keys with TTL, all dbs */
    uint64_t expired_keys;      /* reclaimed by expiry since start */
    uint64_t rehashing;         /* 1 while an incremental resize is running */
    uint64_t mem_slab;          /* of mem_used: slabs holding small entries */
    uint64_t mem_slab_items;    /* of mem_slab: bytes of live entries (size classes) */
    uint64_t mem_payload;       /* of mem_used: type payloads (shard_alloc, types.h) */
};
void shard_get_stats(const struct shard *s, struct shard_stats *out);

/*
 * What jemalloc really holds for this shard's arena (refreshes jemalloc's
 * stats epoch, so call it from INFO or tests, not per command):
 * allocated = usable bytes of live allocations (mem_used plus the shard's
 * own struct), active = pages backing them (includes slab fragmentation),
 * resident = pages physically mapped (includes dirty pages not yet purged).
 * Returns 0, or -1 if jemalloc stats are unavailable.
 */
struct shard_arena_stats {
    uint64_t allocated;
    uint64_t active;
    uint64_t resident;
    uint64_t mapped;
};
int shard_arena_stats(struct shard *s, struct shard_arena_stats *out);

/* --- housekeeping -------------------------------------------------------- */
/*
 * Advance incremental index resizes by up to `budget` home buckets in total
 * (empty ones are cheaper and bounded separately).  Writes advance a resize
 * by one bucket each; the worker calls this from its tick or idle loop so a
 * read-only workload also finishes resizing.  Returns buckets visited, 0 when
 * no resize is running.
 */
size_t shard_rehash_step(struct shard *s, size_t budget);

/* Test hook: after `after` more successful allocations every allocation of
 * this shard fails, until called again with UINT64_MAX (the default).  An
 * entry counts as one allocation whether it takes a free item of a slab or
 * needs a new slab. */
void shard_debug_fail_allocs(struct shard *s, uint64_t after);

#endif
