/*
 * call.h - the one execution path: every keyed or all-shard command, from
 * every place one runs (the connection's own shard, a remote owner, a
 * multi-shard hand-over, requests batched under a hand-over, UDP, and
 * recovery replay), runs through call_exec, which
 *   1. admits it (the append-only log must be able to take its records;
 *      if not, nothing runs and the caller waits through its loop),
 *   2. runs the handler on the shards the caller holds,
 *   3. logs what the handler reported it changed (exec.h), whatever the
 *      reply (an error part-way still changed what it changed),
 *   4. tells the runtime's observers which keys changed,
 *   5. counts the call for INFO commandstats.
 * Named after Redis' call() (server.c), which does 3-5 for the same reason.
 */
#ifndef HP_CALL_H
#define HP_CALL_H

#include "../../common/hp_common.h"
#include "../commands/cmd.h"
#include "../commands/exec.h"

struct worker;
struct runtime;
struct conn;
struct xmsg;
struct reply_slot;

/* What one write must wait for: the newest LSN of each shard it logged to
 * (filled by persist.c, which owns the log). */
struct persist_wait {
    uint64_t mask;
    uint64_t lsn[HP_MAX_SHARDS];
};

/* acc |= wt, keeping the newest LSN per shard. */
void call_wait_merge(struct persist_wait *acc, const struct persist_wait *wt);

/*
 * What the execution path asks of the log.  persist/ fills it in and sets
 * rt->call_log in persist_start (NULL while appendonly is off): the core
 * may not include persist/ (tests/layout_rules), so the log registers its
 * steps here, like the loop hooks.
 */
enum call_admit {
    CALL_ADMIT_GO = 0,
    CALL_ADMIT_REFUSE, /* never loggable now (MISCONF, too large): err says why */
    CALL_ADMIT_WAIT,   /* records of earlier writes still wait for ring room */
};
enum { CALL_ADMIT_NO_WAIT = 1u << 0 }; /* room was checked for a whole datagram */
struct call_log_ops {
    /* Before a write runs on the shards x holds: can its records be logged? */
    enum call_admit (*admit)(struct worker *w, const struct cmd_spec *spec, struct exec_ctx *x,
                             uint32_t flags, char *err, size_t cap);
    /* After it ran: log what it changed (x->chg); *wt: the LSNs to wait for. */
    void (*log_changes)(struct worker *w, const struct cmd_spec *spec, struct exec_ctx *x,
                        struct persist_wait *wt);
    /* appendfsync always: write replies wait until durable. */
    bool (*holds_replies)(const struct runtime *rt);
    /* Room for n more held replies on this worker, reserved before running. */
    bool (*reserve)(struct worker *w, uint32_t n);
    /* Hold a reply slot / a remote write's message until *wt is durable. */
    void (*hold_slot)(struct worker *w, struct conn *c, struct reply_slot *slot,
                      const struct persist_wait *wt);
    void (*hold_msg)(struct worker *w, struct xmsg *m, const struct persist_wait *wt);
};

enum call_rc {
    CALL_DONE = 0, /* ran (or was refused with an error reply) */
    CALL_WAIT,     /* the log has no room: nothing ran; retry through the loop */
};

enum {
    CALL_REPLAY = 1u << 0, /* recovery: no admission, no log, no stats */
    CALL_UDP = 1u << 1,    /* a datagram that cannot wait half-way (admitted as a whole) */
};

/* INFO commandstats, Redis 7.0's fields; per worker, summed by INFO.
 * Time is sampled: one call in CALL_TIME_EVERY of each command is timed
 * (the first one included), in TSC cycles, and INFO scales the timed
 * cycles by calls / timed_calls into Redis' usec.  Why: reading the clock
 * around every command (two rte_rdtsc) cost 10-15% of the UDP dataplane's
 * GET rate (docs/BENCHMARKS.md, issue 12); two clock_gettime, more. */
#define CALL_TIME_EVERY 16
struct cmdstat {
    uint64_t calls;
    uint64_t cycles;         /* of the timed calls */
    uint64_t timed_calls;
    uint64_t rejected_calls; /* refused before running (arity, MISCONF, too large, backlog) */
    uint64_t failed_calls;   /* ran and replied an error */
};

/* Observers of changed keys (WATCH, keyspace notifications, blocked
 * clients, replication... hang here later).  Called on the executing
 * worker, with the shards still held, after the records are logged. */
typedef void (*call_observer_fn)(void *arg, struct worker *w, const struct cmd_spec *spec,
                                 const struct exec_ctx *x);
#define CALL_OBSERVERS_MAX 8
struct call_observers {
    uint32_t n;
    struct {
        call_observer_fn fn;
        void *arg;
    } o[CALL_OBSERVERS_MAX];
};
/* Start-up only, before any worker runs (the list is read-only after):
 * 0, or -1 when CALL_OBSERVERS_MAX are registered already. */
int call_observer_add(struct runtime *rt, call_observer_fn fn, void *arg);

/* Remote requests parked while the log has no room: at most one ring
 * burst per peer can be taken in before draining stops, so the FIFO is
 * bounded by CALL_PARKED_MAX (asserted). */
#define CALL_PARKED_MAX (HP_MAX_SHARDS * 64)

/* Per-worker state of the execution path (w->call). */
struct call_env {
    struct worker *w;          /* NULL for recovery */
    struct cmdstat *stats;     /* [nstats], by index in cmd_table(); NULL: not counted */
    const struct cmd_spec *table; /* cmd_table()'s base (fixed; the client part fills in later) */
    size_t nstats;
    struct exec_changes *chg;  /* the running execution's changes; NULL for recovery
                                * (replay tracks nothing: it logs nothing) */
    struct xmsg *parked_head, *parked_tail;
    uint32_t nparked;
};

/* worker_create / worker_destroy. */
struct call_env *call_env_new(struct worker *w);
void call_env_free(struct call_env *env);

/*
 * Run spec on x (whose held_mask the caller holds).  The reply goes to
 * x->out.  *wt: what the reply must wait for to be durable (mask 0: nothing).
 */
enum call_rc call_exec(struct call_env *env, const struct cmd_spec *spec, struct exec_ctx *x,
                       uint32_t flags, struct persist_wait *wt);
/* Count a call refused before it reached call_exec (arity). */
void call_count_rejected(struct call_env *env, const struct cmd_spec *spec);
/* Count a command around its handler (call_exec does; dispatch.c for the
 * client commands): start before it runs, stop after (failed: it replied
 * an error).  Times one call in CALL_TIME_EVERY. */
struct call_timer {
    struct cmdstat *st;  /* NULL: not counted */
    uint64_t t0;         /* 0: this call is not timed */
};
struct call_timer call_timer_start(struct call_env *env, const struct cmd_spec *spec);
void call_timer_stop(const struct call_timer *t, bool failed);

/* ---- the sites -------------------------------------------------------------- */
/* The connection's own shard (dispatch.c).  True: stall, nothing ran. */
bool call_local(struct conn *c, const struct cmd_spec *spec, int argc,
                const struct hp_slice *argv);
/* A request that crossed a ring to its owner (xshard.c); replies now, once
 * durable, or after waiting parked for log room. */
void call_remote(struct worker *w, struct xmsg *m);
/* The multi-shard op's command, all shards held (xshard.c xop_finish).
 * CALL_WAIT: nothing ran, keep the shards and retry (call_poll does).
 * *held: the slot is held until durable (persist completes it). */
enum call_rc call_op(struct worker *w, const struct cmd_spec *spec, struct exec_ctx *x,
                     struct conn *c, struct reply_slot *slot, bool *held);
/* A request of `c` batched under someone's hand-over (dispatch_held): reads
 * only while the log is on (writes take the normal path). */
void call_held(struct conn *c, const struct cmd_spec *spec, struct exec_ctx *x);
/* One command of a UDP datagram; LSNs merged into *acc. */
void call_udp(struct worker *w, const struct cmd_spec *spec, struct exec_ctx *x,
              struct persist_wait *acc);

/* Each loop iteration: retry parked remote requests and a waiting op. */
unsigned call_poll(struct worker *w);
/* True while remote requests are parked: stop taking new ones in. */
bool call_backlogged(const struct worker *w);

/* INFO commandstats, every worker's counters summed (any worker may ask:
 * the counters are relaxed atomics), one line per command called or
 * refused, Redis 7.0's format:
 * "cmdstat_<name>:calls=..,usec=..,usec_per_call=..,rejected_calls=..,failed_calls=.." */
struct rbuf;
void call_info_commandstats(const struct runtime *rt, struct rbuf *b);

#endif
