/*
 * types.h - keys holding values other than strings (hashes, lists, sets,
 * sorted sets, streams): the typed-key API of the shard, the allocator
 * their payloads use, the per-type ops table, and an entry's state as log
 * records.  Design: docs/STORAGE.md ("Typed values").
 *
 * A typed key is an ordinary entry (key inline, TTL, slab pool) whose value
 * bytes are one pointer, the PAYLOAD: an opaque structure that the type
 * module builds in the shard's arena with shard_alloc()/shard_realloc() and
 * that the key owns from shard_obj_set() on.  The shard frees it through
 * the type's ops->free whenever the key goes (DEL, overwrite by any type,
 * lazy or active expiry, FLUSHDB, shard_destroy, shard_entry_free), moves
 * it on RENAME and copies it through ops->copy into another shard's arena
 * (shard_adopt_copy).  Strings are untouched: inline bytes, no ops call.
 *
 * Same threading and pointer-stability rules as shard.h.  Implemented in
 * shard.c (keys, allocator) and types.c (type registry, names, records).
 */
#ifndef HP_STORAGE_TYPES_H
#define HP_STORAGE_TYPES_H

#include "shard.h"

/* ---- log records ---------------------------------------------------------- */
/* Receives one log record, argv[0] the command, argv[1] the key.  Returns 0
 * to go on; any other value stops entry_state_records, which returns it
 * (use positive values: the negative ones below are storage's). */
typedef int (*entry_emit_fn)(void *arg, uint32_t argc, const struct hp_slice *argv);

#define ENTRY_STATE_UNSUPPORTED (-1)  /* the type has no state_records: not implemented */
#define ENTRY_STATE_BAD_RECORD (-2)   /* the type emitted no record, or one outside the limits */

/* ---- types ---------------------------------------------------------------- */
struct type_ops {
    /* TYPE's reply ("hash", "list", ...).  Required. */
    const char *name;
    /* Frees the payload and everything it owns, with shard_free(s, ...) on
     * the shard holding the key.  Required. */
    void (*free)(struct shard *s, void *payload);
    /* A deep copy of payload built in shard dst's arena, or NULL when dst
     * is out of memory (nothing of the copy left).  Required: a key must be
     * able to move between shards (RENAME, MOVE). */
    void *(*copy)(struct shard *dst, const void *payload);
    /* Bytes the payload holds in the arena (MEMORY USAGE).  Optional:
     * NULL counts the payload as 0 bytes. */
    size_t (*mem_usage)(const void *payload);
    /* OBJECT ENCODING's reply.  Optional: NULL makes entry_encoding()
     * return NULL. */
    const char *(*encoding)(const void *payload);
    /* Emits the records that rebuild this value under `key` from any prior
     * state: the first one must replace or delete what the key holds (e.g.
     * "DEL key", then "HSET key f v ..." in bounded batches).  Each record
     * names `key` as argv[1] and has at most HP_MAX_ARGC arguments.  The
     * TTL is not the type's business: entry_state_records adds it.
     * Returns 0, or emit's non-zero return.  Optional: NULL makes
     * entry_state_records return ENTRY_STATE_UNSUPPORTED. */
    int (*state_records)(const void *payload, struct hp_slice key, entry_emit_fn emit,
                         void *arg);
};

/* Registers the ops of tag t (not OBJ_STRING, < OBJ_TYPE_MAX).  Call at
 * start-up, before any shard is used: the table is process-wide and read
 * without locks.  Returns 0 (also when the same ops are registered again),
 * -1 for a bad tag, a missing required op, or a tag taken by other ops. */
int obj_type_register(enum obj_type t, const struct type_ops *ops);
/* The ops of tag t, NULL when none are registered (strings have built-in
 * ops with only a name). */
const struct type_ops *obj_type_ops(enum obj_type t);
/* TYPE's reply for tag t ("string", a registered type's name), or NULL for
 * an unregistered tag. */
const char *obj_type_name(enum obj_type t);

/* ---- entries -------------------------------------------------------------- */
/* TYPE's reply for a live entry. */
const char *entry_type_name(const struct entry *e);
/* OBJECT ENCODING's reply: for strings Redis 7.0's rule for a value as SET
 * stores it ("int": an integer of at most 20 characters in canonical form;
 * "embstr": up to 44 bytes; "raw"); for other types ops->encoding, NULL
 * when the type has none. */
const char *entry_encoding(const struct entry *e);
/* The payload of a typed entry (asserts it is not a string). */
void *entry_obj(const struct entry *e);
/* Points a typed entry at `payload` after the type module moved its root
 * (shard_realloc); the previous pointer is not freed. */
void entry_obj_set(struct entry *e, void *payload);
/* Bytes the key costs: its entry's size class plus, for a typed value,
 * ops->mem_usage of the payload. */
size_t entry_mem_usage(const struct entry *e);

/*
 * The entry's state as log records, each passed to emit(arg, argc, argv):
 * a string gives one "SET key value" or "SET key value PXAT ms"; another
 * type gives its ops->state_records, then "PEXPIREAT key ms" when the key
 * has a TTL.  Replaying the records on any prior state of the key rebuilds
 * it.  Returns 0; ENTRY_STATE_UNSUPPORTED when the type cannot be written
 * as records (nothing emitted); ENTRY_STATE_BAD_RECORD when the type
 * emitted no record or one without argv[1] == key or with more than
 * HP_MAX_ARGC arguments (emission stops before that record); or emit's
 * non-zero return.  The argv slices are valid only during the emit call.
 */
int entry_state_records(const struct entry *e, entry_emit_fn emit, void *arg);

/* ---- typed keys ------------------------------------------------------------- */
enum shard_lookup {
    SHARD_LOOKUP_NONE = 0,       /* no such key (or it had expired) */
    SHARD_LOOKUP_FOUND = 1,      /* the key holds a value of the wanted type */
    SHARD_LOOKUP_WRONGTYPE = 2,  /* the key holds another type: Redis' WRONGTYPE */
};
/* Looks key up as `type` (OBJ_STRING too): *out is the entry when FOUND,
 * else NULL.  Lazy expiry as shard_find. */
enum shard_lookup shard_find_typed(struct shard *s, uint32_t db, struct hp_slice key,
                                   enum obj_type type, int64_t now_ms, struct entry **out);

/*
 * Makes `key` hold a value of `type` (registered, not OBJ_STRING) whose
 * payload is `payload` (not NULL, not the payload the key holds now), with
 * TTL expire_ms (SHARD_NO_EXPIRE: none), replacing what the key held (its
 * value is freed).  From then on the key owns the payload.  Returns 0, or
 * -1 when memory cannot be allocated or the key is too long: nothing
 * changed, the payload is still the caller's.
 */
int shard_obj_set(struct shard *s, uint32_t db, struct hp_slice key, enum obj_type type,
                  void *payload, int64_t expire_ms, int64_t now_ms);

/* ---- payload memory ------------------------------------------------------- */
/* Largest single payload allocation; bigger structures are made of several. */
#define SHARD_ALLOC_MAX ((size_t)1 << 32)

/* `size` bytes (1..SHARD_ALLOC_MAX) in the shard's arena, counted in
 * mem_used and mem_payload; NULL when size is 0 or too big or memory runs
 * out (shard_debug_fail_allocs counts these allocations too). */
void *shard_alloc(struct shard *s, size_t size);
/* The same, zero-filled. */
void *shard_zalloc(struct shard *s, size_t size);
/* Resizes p (NULL: allocates) to `size` (1..SHARD_ALLOC_MAX) bytes,
 * keeping the first min(old, size) bytes; may move it.  NULL on failure,
 * p then unchanged and still valid. */
void *shard_realloc(struct shard *s, void *p, size_t size);
/* Frees p (NULL: nothing) from shard s, the shard that allocated it. */
void shard_free(struct shard *s, void *p);
/* The usable bytes of p (>= the size asked; what the accounting counts). */
size_t shard_alloc_size(const void *p);

#endif
