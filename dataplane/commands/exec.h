/*
 * exec.h - the context a keyed command executes in.
 *
 * A keyed command (GET, SET, DEL, RENAME, MGET...) is a pure function of the
 * shards that own its keys and its arguments: it reads argv, operates on the
 * shard(s), and appends exactly one RESP reply to `out`.  It never sees a
 * connection or a socket, so the same handler runs
 *   - on the connection's own worker when that worker owns the key,
 *   - on the owning worker when the request crossed a ring to it, and
 *   - on the coordinating worker for a multi-shard command, after every
 *     shard involved was parked (handed over) to it.
 * Handlers find the shard of a key with exec_shard(); that asserts the shard
 * is one this execution may touch.
 *
 * Arity has been checked against the command table before a handler runs.
 */
#ifndef HP_EXEC_H
#define HP_EXEC_H

#include "../../common/hp_common.h"
#include "../../common/rbuf.h"
#include "../../storage/shard.h"
#include "../../storage/slot.h"

/*
 * What an execution changed, reported by the handlers (exec_key_changed,
 * exec_db_flushed) and read by the one execution path (core/call.c) after
 * the handler returns: the log records, and everything else that follows a
 * write, are built from this list, never from the reply.  Bounded: past
 * EXEC_CHANGED_MAX keys `overflow` is set and the rest are not stored; the
 * caller then falls back to every key the command's key specs name (a
 * superset: a handler only ever changes keys its arguments name).
 */
#define EXEC_CHANGED_MAX 128
_Static_assert(HP_NUM_DBS <= 32, "exec_changes.flushed_dbs is 32 bits");

struct exec_change {
    uint32_t db;
    struct hp_slice key;            /* points into argv: valid for the execution */
};

/*
 * Operation records (docs/AOF.md, "Operation records").  By default the log
 * writes, for each changed key, the records of its whole state
 * (entry_state_records): right for a string, far too much for one HSET on
 * a million-field hash.  A handler that can say what it did as commands
 * with already-resolved arguments (HSET as received; SPOP as the SREM of
 * what it popped; SMOVE across shards as SREM on one and SADD on the other)
 * adds them with exec_log_record / exec_log_argv, and the log writes those
 * instead of the states.  The contract:
 *   - every changed key is still reported with exec_key_changed (observers
 *     and the state fallback need the list);
 *   - each record's argv[1] is a key, and every key the record names lives
 *     on argv[1]'s shard (one shard's log holds it; replay runs it through
 *     the same handler on that shard alone);
 *   - replaying the records, in order, on the state the command started
 *     from gives exactly the state it left (deterministic: no randomness,
 *     no clock but absolute times);
 *   - a handler that fails part-way (out of memory) calls exec_log_states:
 *     replaying its full argv would do more than it did.
 * Not written yet: the log still writes the states (persist_log.c,
 * PX_OP_RECORDS, says what replay lacks); handlers report records now so
 * that switching them on needs no handler change.
 * Bounded: EXEC_RECORDS_MAX records of at most EXEC_RECORD_ARGC_MAX
 * arguments each, EXEC_RECORD_ARGS arguments in all and
 * EXEC_RECORD_BYTES copied bytes; past any of them `rec_overflow` is set
 * and the log falls back to the states of the changed keys (correct, only
 * bigger).
 */
#define EXEC_RECORDS_MAX 16
/* Arguments of one record, the command word included: a wider command
 * (HSET with 100 pairs) is split by its handler into several records,
 * else exec_log_argv falls back to the states. */
#define EXEC_RECORD_ARGC_MAX 64
#define EXEC_RECORD_ARGS 1024
#define EXEC_RECORD_BYTES (64u * 1024u)

struct exec_record {
    uint32_t db;
    uint32_t argc;
    const struct hp_slice *argv;    /* into rec_args, or the command's own argv */
};

struct exec_changes {
    uint32_t n;
    bool overflow;                  /* more than EXEC_CHANGED_MAX keys were reported */
    bool flushed_all;               /* FLUSHALL: every db of every held shard */
    uint32_t flushed_dbs;           /* FLUSHDB: bit per db (HP_NUM_DBS <= 32) */
    struct exec_change keys[EXEC_CHANGED_MAX];
    /* operation records (above) */
    uint32_t nrec;
    bool rec_overflow;              /* a limit was hit: log states instead */
    bool rec_states;                /* exec_log_states: log states instead */
    uint32_t rec_nargs;             /* used entries of rec_args */
    uint32_t rec_nbytes;            /* used bytes of rec_bytes */
    struct exec_record recs[EXEC_RECORDS_MAX];
    struct hp_slice rec_args[EXEC_RECORD_ARGS];
    char rec_bytes[EXEC_RECORD_BYTES];
};

struct exec_ctx {
    struct shard *const *shards;   /* every shard, by id; read-only table */
    const uint16_t *slot_to_shard; /* HP_NUM_SLOTS entries */
    uint32_t nshards;
    uint32_t home;                 /* the shard this execution runs on */
    uint64_t held_mask;            /* shards this execution may touch (bit per id) */
    uint32_t db;
    uint8_t proto;                 /* 2 or 3 */
    int64_t now_ms;
    int64_t max_bulk;              /* proto-max-bulk-len, for APPEND/SETRANGE */
    int argc;
    const struct hp_slice *argv;
    struct rbuf *out;
    struct exec_changes *chg;      /* NULL: nobody tracks changes (reads, tests) */
    /* INFO keyspace_hits / keyspace_misses of the executing worker (its
     * own counters, written only by its thread); NULL: not counted. */
    uint64_t *keyspace_hits, *keyspace_misses;
};

/* The handler changed (or may have changed: an attempt that failed
 * half-way counts too) `key` in `db`.  Reporting a key that did not change
 * costs a redundant record, never a wrong one: records are states. */
static inline void exec_key_changed(struct exec_ctx *x, uint32_t db, struct hp_slice key)
{
    struct exec_changes *c = x->chg;
    if (c == NULL)
        return;
    if (c->n == EXEC_CHANGED_MAX) {
        c->overflow = true;
        return;
    }
    c->keys[c->n].db = db;
    c->keys[c->n].key = key;
    c->n++;
}

/* The handler emptied `db` on every shard it holds. */
static inline void exec_db_flushed(struct exec_ctx *x, uint32_t db)
{
    HP_ASSERT(db < HP_NUM_DBS);
    if (x->chg != NULL)
        x->chg->flushed_dbs |= 1u << db;
}

/* The handler emptied every db on every shard it holds. */
static inline void exec_all_flushed(struct exec_ctx *x)
{
    if (x->chg != NULL)
        x->chg->flushed_all = true;
}

static inline void exec_changes_reset(struct exec_changes *c)
{
    c->n = 0;
    c->overflow = false;
    c->flushed_all = false;
    c->flushed_dbs = 0;
    c->nrec = 0;
    c->rec_overflow = false;
    c->rec_states = false;
    c->rec_nargs = 0;
    c->rec_nbytes = 0;
}

/* Whether the log writes the operation records (else the states). */
static inline bool exec_changes_use_records(const struct exec_changes *c)
{
    return c->nrec > 0 && !c->rec_overflow && !c->rec_states;
}

/* Adds the record argv[0..argc) for db, copying the bytes (they may point
 * into a value the command is about to free).  2 <= argc <=
 * EXEC_RECORD_ARGC_MAX (wider: a caller bug, asserted), argv[1] the key
 * whose shard holds the record (see above).  Past a limit the records are
 * dropped for the states (rec_overflow). */
void exec_log_record(struct exec_ctx *x, uint32_t db, uint32_t argc,
                     const struct hp_slice *argv);
/* Adds the command itself, as received, as the record (no copy: argv
 * lives for the execution); wider than EXEC_RECORD_ARGC_MAX: the states.  Only for commands whose keys all live on one
 * shard, which a single-key command always does. */
void exec_log_argv(struct exec_ctx *x);
/* Drops the records: the log writes the states of the changed keys (a
 * handler that failed part-way). */
static inline void exec_log_states(struct exec_ctx *x)
{
    if (x->chg != NULL)
        x->chg->rec_states = true;
}

static inline uint32_t exec_shard_id_of(const struct exec_ctx *x, struct hp_slice key)
{
    return x->slot_to_shard[slot_of_key(key.ptr, key.len)];
}

/* The shard owning `key`; asserts this execution holds it. */
static inline struct shard *exec_shard(const struct exec_ctx *x, struct hp_slice key)
{
    /* One shard owns every slot: skip the CRC16 (a measurable share of a
     * pipelined GET). */
    if (x->nshards == 1) {
        HP_ASSERT(x->held_mask & 1u);
        return x->shards[0];
    }
    uint32_t id = exec_shard_id_of(x, key);
    HP_ASSERT(id < x->nshards);
    HP_ASSERT(x->held_mask & (1ull << id));
    return x->shards[id];
}

/*
 * A read lookup, like Redis' lookupKeyRead: counts a keyspace hit or miss.
 * Commands that look a key up to change it (SETNX, INCR, APPEND, EXPIRE,
 * RENAME...) use shard_find, which counts nothing, as lookupKeyWrite.
 */
static inline struct entry *exec_find_read(struct exec_ctx *x, struct shard *s,
                                           struct hp_slice key)
{
    struct entry *e = shard_find(s, x->db, key, x->now_ms);
    uint64_t *counter = e != NULL ? x->keyspace_hits : x->keyspace_misses;
    if (counter != NULL)
        (*counter)++;
    return e;
}

typedef void (*exec_fn)(struct exec_ctx *x);

#endif
