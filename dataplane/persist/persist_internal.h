/*
 * persist_internal.h - what the files of dataplane/persist/ share: struct
 * persist and its per-shard / per-worker parts, the overflow queue and the
 * append step (persist_log.c).  Nothing outside this folder includes it.
 */
#ifndef HP_PERSIST_INTERNAL_H
#define HP_PERSIST_INTERNAL_H

#include "persist.h"

#include "../../storage/aof/aof_log.h"

#define PX_LAYOUT_NAME "hotpath-shards"
#define PX_STOP_LIMIT_MS 5000      /* shutdown: overflowed records waiting for the ring */
#define PX_RW_KEYS 32              /* keys a rewrite snapshots per worker loop iteration */
#define PX_AUTO_CHECK_MS 100       /* automatic rewrite check period */
#define PX_OVF_SLEEP_US 50         /* idle sleep cap while records wait for ring room */
/* Log sizes: the largest record is min(ring / 2, staging - 4 KiB,
 * segment - 4 KiB) = 16 MiB, so values up to about 16 MiB can be logged.
 * Segments stay small because recovery reads the active one whole,
 * preallocated zeros included: smaller segments, faster restarts. */
#define PX_RING_BYTES ((size_t)32 << 20)
#define PX_STAGING_BYTES (((size_t)16 << 20) + 4096)
#define PX_SEGMENT_BYTES (((uint64_t)16 << 20) + 8192)
#define PX_REC_SLACK 160           /* record header + SET/PXAT words + lengths */
/* Arguments of one logged record (an overflow entry is decoded into an
 * array this long); wider records are not logged (warned). */
#define PX_OVF_ARGV_MAX 64
#define PX_EMIT_TOO_WIDE 1         /* entry_emit_fn's own stop code (types.h) */
#define PX_HELD_MAX                                                                      \
    ((uint32_t)SLOT_POOL_MAX + (uint32_t)XMSG_POOL_MAX * HP_MAX_SHARDS + UDP_HELD_MAX + 16)

/* One queued record: u32 total, u16 db, u16 zero, i64 ts, u32 argc,
 * u64 group id (0: ungrouped), u32 group count, u32 group index, then
 * argc x {u32 len, bytes}.  A grouped record keeps its group in the queue
 * so that ovf_drain appends it as the member it is. */
#define PX_OVF_HDR 36u

struct px_overflow {
    uint8_t *buf;
    size_t off, len, cap;
    uint32_t n;                    /* records queued */
};

/* SLOT: a TCP reply slot; MSG: a remote write's message; UDP: a datagram
 * reply udp.c keeps in its own FIFO (released in the same order). */
enum px_held_kind { PX_HELD_SLOT = 1, PX_HELD_MSG, PX_HELD_UDP };

struct px_held {
    uint8_t kind;
    uint32_t shard;                /* single-shard wait, when multi == NULL */
    uint64_t lsn;
    uint64_t *multi;               /* [HP_MAX_SHARDS] LSN per shard (0: none) */
    struct conn *c;
    struct reply_slot *slot;
    struct xmsg *m;
};

struct px_worker {
    struct px_held *q;             /* FIFO ring, cap a power of two */
    uint32_t head, n, cap;
    /* Set by the worker before it sleeps holding replies; the log thread
     * clears it and wakes the worker when a durable LSN advances. */
    uint32_t wants_wake;           /* __atomic builtins only */
};

/* A shard's part of the running rewrite (follows shard ownership). */
struct px_rwshard {
    uint64_t gen;                  /* last rewrite this shard finished */
    bool active;
    uint32_t db;
    uint64_t cursor;
};

struct persist {
    struct aof_log *log;
    struct runtime *rt;
    /* rewrite: rw_gen, rw_left, rw_starting, base_bytes via __atomic builtins */
    uint64_t rw_gen;               /* rewrites started; running while != log's done count */
    uint32_t rw_left;              /* shards still snapshotting the current one */
    uint32_t rw_starting;
    uint64_t rw_end[HP_MAX_SHARDS];/* each shard's last snapshot LSN */
    struct px_rwshard rws[HP_MAX_SHARDS];
    uint64_t base_bytes;           /* log size after start-up / the last rewrite */
    uint64_t auto_pct, auto_min_bytes;
    int64_t auto_next_ms;          /* worker 0 only */
    uint64_t auto_seen_done;       /* worker 0 only */
    enum aof_fsync_policy fsync;
    size_t max_record;
    uint64_t loaded_records;
    struct px_overflow ovf[HP_MAX_SHARDS];  /* follows shard ownership */
    /* Test hooks, from the environment at start-up (docs/AOF.md). */
    bool debug_group_crash;        /* HP_PERSIST_DEBUG_GROUP_CRASH */
    int64_t debug_ring_full_ms;    /* HP_PERSIST_DEBUG_RING_FULL_MS */
    int64_t debug_ring_until;      /* __atomic: end of the forced-full window, 0 unset */
    struct px_worker workers[HP_MAX_SHARDS]; /* one per worker, its own */
};


/* persist_log.c: move queued records into the ring; true when empty. */
bool ovf_drain(struct persist *p, uint32_t shard);
/* persist_log.c: append one record of `shard` (to the ring, or queued
 * behind what waits already); wt gets its LSN.  g NULL: ungrouped. */
void px_append(struct persist *p, uint32_t shard, uint32_t db, int64_t ts, uint32_t argc,
               const struct hp_slice *argv, const struct aof_group *g, struct persist_wait *wt);

#endif
