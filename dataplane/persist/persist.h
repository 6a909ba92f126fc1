/*
 * persist.h - the append-only log wired into the runtime (docs/AOF.md,
 * section "Runtime integration"): recovery at start-up, one record per key a
 * write changed, durable acknowledgement (appendfsync always), and write
 * refusal while the disk fails (MISCONF).
 *
 * Records are the resulting STATE of each key a write touched, never the
 * client's argv:
 *     SET key value [PXAT abs-ms]      the key exists afterwards
 *     DEL key                          it does not
 *     FLUSHDB / FLUSHALL               per shard, in the record's db
 * so INCR, INCRBYFLOAT, APPEND, SETRANGE, GETEX, RENAME, relative expiries
 * all replay deterministically, and replaying a key's records in order
 * converges on its last state whatever came before.
 *
 * Threading: struct persist is built by main before the workers start; the
 * per-shard part (the overflow queue, below) follows the shard's ownership
 * like the log ring itself (only the shard's current holder touches it);
 * the per-worker part (held replies) is touched only by its worker.
 */
#ifndef HP_PERSIST_H
#define HP_PERSIST_H

#include "../../common/hp_common.h"
#include "../commands/cmd.h"
#include "../commands/exec.h"
#include "../core/call.h"

struct runtime;
struct worker;
struct conn;
struct reply_slot;
struct xmsg;
struct persist;

/* Start-up, main thread, before any worker runs: recover the log in
 * cfg->dir into rt->shards (shards in parallel) and open it for appending.
 * No-op (0) when appendonly is off.  -1: refuse to start (logged). */
int persist_start(struct runtime *rt);
/* Shutdown, after the workers stopped: write and sync everything, close. */
void persist_stop(struct runtime *rt);

/* ---- the steps core/call.c runs a write through -------------------------- */
/* (Registered with the core as rt->call_log: struct call_log_ops.) */
/* Before a write runs on the shards x holds: can its records be logged?
 * Sizes come from px_record_bound (an upper bound before running). */
enum call_admit persist_admit(struct worker *w, const struct cmd_spec *spec,
                                struct exec_ctx *x, uint32_t flags, char *err, size_t cap);
/* Room for a write on every shard in held_mask (UDP checks a datagram). */
bool persist_room(struct worker *w, uint64_t held_mask);
/* After the handler ran: append the records that give every key it
 * reported changed (x->chg) its state now, FLUSHDB/FLUSHALL as such; more
 * than one record go out as one group (replay applies all or none).
 * *wt: the LSNs to wait for (mask 0 when nothing was logged). */
void persist_log_changes(struct persist *p, const struct cmd_spec *spec, struct exec_ctx *x,
                         struct persist_wait *wt);
/* Hold a reply slot / a remote write's message until *wt is durable
 * (room reserved with persist_reserve before the write ran). */
void persist_hold_slot(struct worker *w, struct conn *c, struct reply_slot *slot,
                       const struct persist_wait *wt);
void persist_hold_msg(struct worker *w, struct xmsg *m, const struct persist_wait *wt);

/* BGREWRITEAOF: a client command (its table entry: server/cmd_table_client.c). */
void cmd_bgrewriteaof(struct client_ctx *c);

/* True when write replies are held until durable (appendfsync always). */
bool persist_holds_replies(const struct runtime *rt);
/* Room for `n` more held replies on this worker, reserved before a write
 * runs.  False: no memory (a UDP datagram is refused as BUSY, a local
 * request stalls, a remote one gets the OOM error). */
bool persist_reserve(struct worker *w, uint32_t n);
/* Hold a UDP reply until *acc is durable: 1 queued (udp_held_release runs
 * then, in FIFO order with this worker's other held replies), 0 nothing to
 * wait for (send now), -1 no room (persist_reserve was not honoured). */
int persist_hold_udp(struct worker *w, const struct persist_wait *acc);

/* Each loop iteration: release held replies whose records are durable and
 * push overflowed records into the log.  Returns the work done. */
unsigned persist_poll(struct worker *w);
/* End of a worker loop iteration: wake the log thread for what the
 * iteration appended (one commit per batch). */
void persist_kick(struct worker *w);
/* Cap a worker's idle sleep while records of its shard wait for ring room
 * (nothing signals room). */
int64_t persist_sleep_cap(struct worker *w, int64_t timeout_us);
/* Called by a worker after announcing it sleeps (w->sleeping set): true if
 * a held reply can be released now, so it must not sleep.  Otherwise the
 * log thread wakes it (worker_wake) when a durable LSN advances. */
bool persist_wake_pending(struct worker *w);
/* Replies held by this worker (shutdown drains them first). */
uint32_t persist_held(const struct worker *w);

/* INFO persistence-style numbers, for tests and operators. */
struct persist_info {
    bool enabled;
    int error;                 /* 0 or the errno refusing writes */
    uint64_t records;          /* appended by this process */
    uint64_t loaded_records;   /* replayed at start-up */
    uint64_t fsyncs;
    uint64_t bytes_written;
    bool rewrite_in_progress;
    bool last_rewrite_ok;      /* the last finished rewrite updated the manifest */
    uint64_t rewrites;         /* finished since start */
    uint64_t current_size;     /* valid bytes of all listed segments */
    uint64_t base_size;        /* current_size after start-up / the last rewrite */
};
void persist_get_info(const struct runtime *rt, struct persist_info *out);


#endif
