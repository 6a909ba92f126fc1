/*
 * runtime.h - internal structures of the worker runtime, shared by conn.c,
 * dispatch.c, xshard.c, worker.c and main.c.  Nothing outside dataplane/
 * includes this; command handlers see only exec.h / cmd.h / worker.h.
 *
 * Threading model
 * ---------------
 * struct runtime is built by the main lcore before any worker starts and is
 * read-only afterwards, except the fields marked "atomic".  Each struct
 * worker is touched only by its own lcore, except `sleeping` (wake-up
 * handshake, atomic) and `stats` (read by nobody else: INFO gathers through
 * a broadcast message, so no cross-thread reads of plain fields exist).
 *
 * Cross-shard messages (struct xmsg) travel on DPDK single-producer /
 * single-consumer rings, three per ordered pair of workers (o -> t):
 *   req[o][t]   EXEC and BCAST requests from o to t's shard;
 *   ctl[o][t]   PARK and RELEASE (shard hand-over) from o to t;
 *   resp[t][o]  every message t returns to o (replies, PARKED, acks).
 * A message always returns to the worker that allocated it, so each pool is
 * single-threaded.  Each worker has at most XMSG_POOL_MAX messages out, plus
 * one PARK/RELEASE message per remote shard (w->park, outside the pool),
 * and every ring holds more than that, so an enqueue can never fail
 * (asserted).
 */
#ifndef HP_RUNTIME_H
#define HP_RUNTIME_H

#include <rte_ring.h>

#include "../../common/hp_common.h"
#include "../../common/rbuf.h"
#include "../commands/cmd.h"
#include "../config/config.h"
#include "../net/conn.h"
#include "../net/net.h"
#include "call.h"
#include "worker.h"
#include "xgrant.h"

#define XMSG_POOL_MAX 8192          /* messages one worker may have in flight */
#define XSHARD_RING_SIZE 16384      /* > XMSG_POOL_MAX: enqueue never fails */
#define XSHARD_BURST 64             /* messages moved per ring operation */
#define XMSG_INLINE_ARGV 8
#define XMSG_INLINE_ARGBYTES 192
#define XMSG_REPLY_KEEP (16 * 1024) /* reply buffers larger than this are freed on reuse */
#define SLOT_POOL_MAX (64 * 1024)   /* reply slots per worker */
#define OUT_PAUSE_BYTES (4u << 20)  /* stop reading a client whose replies pile up */
#define IN_CHUNK 16384
#define CONN_HELD_BATCH 512         /* requests run per hand-over for other conns */

enum xmsg_kind {
    XMSG_EXEC = 1,   /* run spec->exec on the target's shard */
    XMSG_BCAST,      /* run a bcast part function on the target worker */
    XMSG_PARK,       /* hand the target's shard over to the origin */
    XMSG_RELEASE,    /* give a parked shard back */
    XMSG_UDP,        /* a UDP request (mbuf) for the target's shard; it replies itself */
};

struct reply_slot {
    struct reply_slot *next;
    bool ready;
    struct rbuf buf;
};

struct xop;

struct xmsg {
    struct xmsg *next_free;
    uint8_t kind;
    uint8_t proto;
    uint32_t origin;               /* allocating worker */
    uint32_t target;               /* worker/shard it went to */
    uint32_t db;
    const struct cmd_spec *spec;
    struct conn *conn;             /* origin side only */
    struct reply_slot *slot;       /* origin side only */
    struct bcast *bcast;           /* BCAST: the gather state (origin side) */
    struct rte_mbuf *udp_mbuf;     /* UDP: the request; consumed by the target */
    int argc;
    struct hp_slice *argv;
    uint8_t *argbuf;               /* argument bytes; inline or heap */
    size_t argbuf_cap;
    struct rbuf reply;             /* filled by the target */
    struct hp_slice argv_inline[XMSG_INLINE_ARGV];
    uint8_t arg_inline[XMSG_INLINE_ARGBYTES];
};

/*
 * A hand-over op: a body to run once this worker holds every shard in
 * `need` (xshard.c; the order of acquisition: xgrant.h).  The plain
 * multi-shard command is one body (xop_body_command); a UDP datagram is
 * another (udp.c); MULTI/EXEC and Lua are to be more.  The body runs on
 * the coordinating worker with `held` (a superset of need) handed over, and
 * says whether it answered or the log holds the reply (XOP_REPLY_HELD).
 * All per-op state lives here; XOP_MAX ops per worker are in flight.
 */
enum xop_rc {
    XOP_REPLIED = 0,
    XOP_REPLY_HELD = 1, /* the log completes the reply once durable */
    XOP_WAIT = 2,       /* the log has no room: nothing ran; run it again later */
};
typedef enum xop_rc (*xop_body_fn)(struct worker *w, struct xop *op, uint64_t held, void *arg);

struct xop {
    bool active;
    uint32_t id;                   /* index in w->ops */
    xop_body_fn body;
    void *arg;
    uint64_t need;                 /* shards to hold */
    /* The command body's state (unused by other bodies). */
    struct conn *conn;             /* NULL: nobody to answer through a slot */
    struct reply_slot *slot;
    const struct cmd_spec *spec;
    uint32_t db;
    uint8_t proto;
    struct xmsg *args;             /* argument copy (a message used as storage) */
    bool reply_held;               /* the log completes slot once durable */
    bool solo;                     /* a round of its own (xgrant.h); set before submit */
    /* The log had no room when the round reached it: nothing ran; the
     * round keeps its shards and runs it again (call_poll, xop_resume). */
    bool log_wait;
};

/* Broadcasts (INFO, CLIENT LIST/KILL, CONFIG RESETSTAT) one worker has in
 * flight; the next one waits (its connection stalls) until one finishes. */
#define BCAST_MAX 16

/* Broadcast gather state; each in flight has its own. */
struct bcast {
    struct conn *conn;
    struct reply_slot *slot;
    bcast_part_fn part;
    bcast_done_fn done;
    struct bcast_req req;
    struct xmsg *args;
    uint32_t outstanding;
    struct rbuf parts[HP_MAX_SHARDS];
};

/* Who holds this worker's shard. */
#define SHARD_FREE UINT32_MAX
#define SHARD_WAITERS_MAX (HP_MAX_SHARDS + 1)

struct worker {
    uint32_t id;
    unsigned lcore;
    struct runtime *rt;
    struct shard *shard;
    struct net *net;
    int wake_fd;
    uint32_t sleeping;             /* atomic: 1 while blocked in net_poll */

    /* connections */
    struct conn *conns;            /* all open conns (list) */
    struct conn **dirty;           /* conns with output to send this iteration */
    uint32_t ndirty, dirty_cap;
    struct conn **stalled;         /* conns waiting for a resource */
    uint32_t nstalled, stalled_cap;
    uint64_t nconns;

    /* cross-shard messaging */
    struct xmsg *free_msgs;
    uint32_t msgs_allocated;
    uint32_t msgs_out;             /* allocated and not yet returned */
    struct xmsg *outq[HP_MAX_SHARDS][XSHARD_BURST]; /* per-target request batch */
    uint32_t outq_n[HP_MAX_SHARDS];
    struct xmsg *ctlq[HP_MAX_SHARDS][XSHARD_BURST];
    uint32_t ctlq_n[HP_MAX_SHARDS];
    struct xmsg *respq[HP_MAX_SHARDS][XSHARD_BURST];
    uint32_t respq_n[HP_MAX_SHARDS];
    uint64_t wake_targets;         /* workers to wake after this flush */

    /* shard hand-over */
    uint32_t shard_holder;         /* SHARD_FREE, own id (own op) or a remote id */
    struct xmsg *waiters[SHARD_WAITERS_MAX]; /* PARK requests waiting; NULL = own op */
    uint32_t waiters_head, waiters_n;
    struct xop ops[XOP_MAX];       /* hand-over ops (free: !active) */
    uint32_t xops_n;               /* active ops */
    struct xgrant grant;           /* their order of acquisition (xgrant.h) */
    bool xop_running;              /* a round's bodies run (no re-entry) */
    /* The round's op that waited for log room (XOP_WAIT): the round keeps
     * its shards and resumes from it (xop_resume); NULL when none. */
    struct xop *xop_paused;
    /* One PARK/RELEASE message per remote shard, outside the pool, so a
     * round can always ask; home while not travelling. */
    struct xmsg *park[HP_MAX_SHARDS];
    uint64_t park_home;
    uint32_t nbcasts;              /* broadcasts in flight (<= BCAST_MAX) */

    /* reply slots */
    struct reply_slot *free_slots;
    uint32_t slots_allocated;

    /* timing */
    int64_t now_ms;
    int64_t next_tick_ms;
    bool expire_backlog;
    uint32_t idle_loops;
    bool quiesced;
    bool stopping;
    struct rbuf discard;           /* replies with nowhere to go (see conn_reply_target) */

    struct worker_stats stats;
    struct udp_worker *udp;        /* UDP dataplane state (udp.c); NULL when off */
    struct call_env *call;         /* the execution path's state (call.c) */
};

/*
 * A layer above the core that every worker's loop drives (the UDP
 * dataplane, the log).  The core may not include those layers
 * (tests/layout_rules): each registers its hooks with
 * runtime_loop_hooks_add() at start-up, before any worker runs, and the
 * list is read-only from then on.  Hooks run in registration order; any
 * member may be NULL.
 */
struct worker_loop_hooks {
    const char *name;
    unsigned (*poll)(struct worker *w);          /* loop step 2: units of work done */
    void (*before_send)(struct worker *w);       /* step 4, before replies go out */
    /* Right before sleeping: the longest sleep allowed (0: don't sleep). */
    int64_t (*sleep_cap)(struct worker *w, int64_t timeout_us);
    /* After the worker announced it sleeps: true if it must not. */
    bool (*wake_pending)(struct worker *w);
    uint32_t (*owed)(const struct worker *w);    /* replies still held: not drained */
};
#define RT_LOOP_HOOKS_MAX 4   /* udp, persist, and room for two more layers */

/*
 * What the core and the log ask of the UDP dataplane (udp.c fills it in
 * udp_rt_create; NULL when the dataplane is off, and then no datagram
 * exists for these to be called on).  An interface the higher layer
 * registers, so that core/ and persist/ need not include udp/.
 */
/* Replies a worker's UDP dataplane holds until their writes are durable
 * (appendfsync always); a write datagram beyond that gets BUSY.  Here, not
 * in udp.h, because the log sizes its own held-reply queue by it. */
#define UDP_HELD_MAX 4096

struct udp_upcalls {
    /* xshard.c: a datagram another worker received for our shard. */
    void (*on_forward)(struct worker *w, struct rte_mbuf *m);
    /* persist.c: the oldest held reply is durable: send it. */
    void (*held_release)(struct worker *w);
    /* persist.c: push released replies out of the TX bursts. */
    void (*tx_flush)(struct worker *w);
};

struct runtime {
    struct hp_config *cfg;
    uint32_t nworkers;
    struct worker *workers[HP_MAX_SHARDS];
    struct shard *shards[HP_MAX_SHARDS];
    uint16_t slot_to_shard[HP_NUM_SLOTS];
    struct rte_ring *req[HP_MAX_SHARDS][HP_MAX_SHARDS];
    struct rte_ring *ctl[HP_MAX_SHARDS][HP_MAX_SHARDS];
    struct rte_ring *resp[HP_MAX_SHARDS][HP_MAX_SHARDS];
    int64_t start_ms;
    char executable[256];
    struct udp_rt *udp;            /* UDP dataplane ports (udp.c); NULL when off */
    struct persist *persist;       /* append-only log (persist.c); NULL when off */
    const struct worker_loop_hooks *loop_hooks[RT_LOOP_HOOKS_MAX];  /* set at start-up */
    uint32_t nloop_hooks;
    const struct udp_upcalls *udp_up;  /* set by udp_rt_create; NULL when off */
    struct call_observers observers; /* changed-key observers (call.c); set at start-up */
    const struct call_log_ops *call_log; /* the log's steps (persist_start); NULL when off */
    /* atomic */
    uint32_t stop;                 /* 1: shut down gracefully */
    uint32_t ready;                /* workers that finished start-up */
    uint32_t failed;               /* workers that failed start-up */
    uint32_t quiesced;             /* workers done flushing at shutdown */
    uint64_t next_conn_id;
    uint64_t nclients;
    uint64_t mem_peak;             /* highest used_memory INFO has seen */
};

/* ---- worker.c ------------------------------------------------------------ */
/* Start-up only (before workers launch).  -1: RT_LOOP_HOOKS_MAX reached. */
int runtime_loop_hooks_add(struct runtime *rt, const struct worker_loop_hooks *h);

/* ---- xshard.c ------------------------------------------------------------ */
int xshard_rings_create(struct runtime *rt);
void xshard_rings_free(struct runtime *rt);
int xshard_pool_init(struct worker *w);
uint32_t xmsg_available(const struct worker *w);
struct xmsg *xmsg_alloc(struct worker *w);       /* NULL: pool exhausted */
void xmsg_free(struct worker *w, struct xmsg *m);
int xmsg_copy_args(struct xmsg *m, int argc, const struct hp_slice *argv);
void xshard_send(struct worker *w, uint32_t target, struct xmsg *m);   /* batched */
void xshard_flush(struct worker *w);
/* Send a request message back to its origin (batched); persist.c calls it
 * for a remote write held until durable. */
void xshard_return(struct worker *w, struct xmsg *m);
unsigned xshard_poll(struct worker *w);          /* drain incoming rings */
bool xshard_pending_input(struct worker *w);     /* anything queued for w? */
/* Hand-over ops: alloc (NULL when XOP_MAX are in flight: the caller waits
 * through the loop and retries), fill the body's fields, submit. */
struct xop *xop_alloc(struct worker *w);
void xop_submit(struct worker *w, struct xop *op, uint64_t need, xop_body_fn body, void *arg);
bool xop_room(const struct worker *w);
/* Continue acquiring / run a ready round (after a grant or a returned PARK). */
void xop_advance(struct worker *w);
/* Each loop iteration: begin the next round if ops wait.  Returns work. */
unsigned xop_poll(struct worker *w);
/* The multi-shard command body: runs op->spec over op->args. */
enum xop_rc xop_body_command(struct worker *w, struct xop *op, uint64_t held, void *arg);
/* Broadcasts: alloc (NULL when BCAST_MAX are in flight or no memory). */
struct bcast *bcast_alloc(struct worker *w);
/* Run the round again from the op that waited for log room (call_poll). */
void xop_resume(struct worker *w);
void bcast_start(struct worker *w, struct bcast *b);
void bcast_abandon(struct worker *w, struct bcast *b); /* not started: undo alloc */
bool xshard_idle(const struct worker *w);        /* no op, broadcast or PARK out */
/* xshard.c <-> xshard_op.c: the hand-over's message handlers. */
void xshard_reply(struct worker *w, struct xmsg *m);  /* back to its origin */
int xshard_park_init(struct worker *w);
void xshard_park_free(struct worker *w);
void xop_on_park_request(struct worker *w, struct xmsg *m);   /* owner side */
void xop_on_release_request(struct worker *w, struct xmsg *m);
void xop_on_parked(struct worker *w, struct xmsg *m);         /* coordinator side */
void xop_on_released(struct worker *w, struct xmsg *m);
void bcast_on_part(struct worker *w, struct xmsg *m);
void xshard_free_pools(struct worker *w);

/* ---- conn.c -------------------------------------------------------------- */
struct rbuf *conn_reply_target(struct conn *c);
struct reply_slot *conn_slot_reserve(struct conn *c);   /* NULL: pool exhausted */
void conn_slot_complete(struct conn *c, struct reply_slot *s);
void conn_mark_dirty(struct conn *c);
void conn_flush_dirty(struct worker *w);
void conn_stall(struct conn *c);
void conn_retry_stalled(struct worker *w);
void conn_close(struct conn *c);
void conn_maybe_free(struct conn *c);
/* Has ops or broadcasts in flight (holds pointers to it). */
bool conn_ops_active(const struct conn *c);
/* Run stalled connections' requests that need only the shards in `held`. */
void conn_run_held_all(struct worker *w, uint64_t held);
void conn_free_all(struct worker *w);
bool conn_all_flushed(struct worker *w);
void conn_shutdown_reading(struct worker *w);

/* ---- dispatch.c ---------------------------------------------------------- */
enum dispatch_rc { DISPATCH_DONE = 0, DISPATCH_STALL = 1 };
enum dispatch_rc dispatch_command(struct conn *c, int argc, const struct hp_slice *argv);
bool dispatch_held(struct conn *c, int argc, const struct hp_slice *argv, uint64_t held);
void exec_ctx_init(struct exec_ctx *x, struct worker *w, uint32_t home, uint64_t held_mask,
                   uint32_t db, uint8_t proto, int argc, const struct hp_slice *argv,
                   struct rbuf *out);
/* Shards a keyed command touches (bit mask). */
uint64_t dispatch_key_mask(struct worker *w, const struct cmd_spec *spec, int argc,
                           const struct hp_slice *argv);

/* ---- worker.c ------------------------------------------------------------ */
int worker_main(void *arg);
struct worker *worker_create(struct runtime *rt, uint32_t id, unsigned lcore);
void worker_destroy(struct worker *w);
void worker_wake(struct worker *w);
bool worker_shard_free(const struct worker *w);
void worker_shard_grant(struct worker *w);       /* hand the shard to the next waiter */

#endif
