/*
 * engine.h - the transport-independent half of pktgen: flows, request
 * slots, the open-loop schedule, request contents, reply checking and
 * statistics.  The transports (tcp.c, udp.c) move bytes and call in here.
 *
 * A request is `cmds` commands sent together (one TCP write, one UDP
 * datagram); its latency runs from its INTENDED send time to the arrival
 * of the last reply.  Closed loop: the intended time is the moment a
 * window slot became free and the request was built.  Open loop: intended
 * times follow the flow's schedule (constant or Poisson inter-arrival)
 * whether or not the window lets the request out then, so a stalled
 * server shows up in the latency (no coordinated omission).
 *
 * Phases run one after the other over the same flows:
 *   FLUSH   one FLUSHALL (correctness mode, so old data cannot confuse the model)
 *   LOAD    SET every key once (version 1), pipelined, closed loop
 *   RUN     the workload, timed: warm-up, then the measured interval
 *   VERIFY  GET every key the run touched, compared exactly with the model
 */
#ifndef HP_PKTGEN_ENGINE_H
#define HP_PKTGEN_ENGINE_H

#include "hist.h"
#include "model.h"
#include "wire.h"
#include "workload.h"

#define PG_MAX_FLOWS 4096
#define PG_MAX_WINDOW 1024
#define PG_MAX_CMDS 64
#define PG_MAX_KEY_RECORDS (32u << 20)    /* flows x window x keys per request */
#define PG_MAX_RATE 1e9

enum pg_mode { PG_MODE_TCP = 0, PG_MODE_UDP, PG_MODE_DPDK };
enum pg_phase { PG_PHASE_FLUSH = 0, PG_PHASE_LOAD, PG_PHASE_RUN, PG_PHASE_VERIFY, PG_PHASE_COUNT };

/* Extra operations for the FLUSH and VERIFY phases, after enum wl_op. */
#define PG_OP_FLUSH WL_OP_COUNT
#define PG_OP_VERIFY_STR (WL_OP_COUNT + 1)
#define PG_OP_VERIFY_CTR (WL_OP_COUNT + 2)

struct pg_opts {
    struct wl_config wl;
    enum pg_mode mode;
    const char *host;
    uint16_t port;
    uint32_t flows;              /* connections / sessions */
    uint32_t window;             /* requests outstanding per flow */
    uint32_t cmds;               /* commands per request */
    double duration_s;           /* measured interval */
    double warmup_s;
    double rate;                 /* requests/s over all flows; 0 = closed loop */
    bool poisson;
    bool check;                  /* correctness mode */
    bool load;                   /* LOAD phase before the run */
    bool flush;                  /* FLUSH phase (default on with check) */
    bool verify;                 /* VERIFY phase (default on with check) */
    uint32_t timeout_ms;         /* a request unanswered this long is lost */
    uint32_t shards;             /* server shards; > 1: every request's keys on one shard */
    bool steer;                  /* udp/dpdk: send each request to port + its shard */
    int32_t fixed_shard;         /* >= 0: every request on this shard (dpdk lcore per shard) */
    bool progress;               /* a line per second on stderr */
    const char *json_path;
    const char *label;
};

struct pg_key {
    uint64_t id;
    uint32_t snap;               /* model snapshot, or the SET version */
};

struct pg_cmd {
    uint8_t op;                  /* enum wl_op or PG_OP_* */
    uint8_t nkeys;
    uint32_t key_first;          /* into the slot's keys */
};

#define PG_SHARD_ANY 0xFFFFu
#define PG_SHARD_TRIES 4096      /* redraws for a same-shard key before giving up */

struct pg_slot {
    bool busy;
    uint16_t shard;              /* shard of the request's keys, or PG_SHARD_ANY */
    uint16_t client;             /* transport's sub-flow (udp: the shard port's session) */
    uint64_t tag;                /* transport's id (UDP client tag) */
    uint64_t intended_ns, sent_ns;
    uint32_t ncmds;
    struct pg_cmd *cmd;          /* opts.cmds of them */
    struct pg_key *keys;         /* keys_per_req of them */
};

struct pg_flow {
    uint32_t index;
    struct wl_gen gen;
    struct wl_rng sched;
    uint64_t next_intended_ns;   /* open loop */
    double interval_ns;          /* mean gap between this flow's requests */
    struct pg_slot *slots;       /* window of them; a FIFO ring for TCP */
    uint32_t head, count;        /* ring: oldest outstanding, how many */
};

struct pg_counters {
    uint64_t sent, done, cmds_done, keys_done;
    uint64_t server_errors;      /* "-ERR ..." replies */
    uint64_t mismatches;         /* model disagreements (check mode) */
    uint64_t lost;               /* unanswered at the end / after timeout */
    uint64_t retries;            /* retransmissions (UDP) */
    uint64_t proto_errors;       /* undecodable replies, dropped connections */
    uint64_t unsent;             /* open loop: intended but never sent by the end */
};

/* Where a tail can come from the generator itself: a pass of a
 * transport's poll loop that took longer than PG_STALL_NS (the thread was
 * descheduled, or an interrupt, or our own work ran long) delays every
 * request intended during it.  Counted in the measured interval only. */
#define PG_STALL_NS 50000ull

struct pg_stalls {
    uint64_t count;              /* poll-loop passes longer than PG_STALL_NS */
    uint64_t total_ns, max_ns;
    uint64_t preempted;          /* involuntary context switches of the polling threads, RUN */
    bool measured;               /* the transport reports these (dpdk mode) */
};

struct pg_engine {
    struct pg_opts o;
    uint32_t keys_per_req;
    struct pg_flow *flows;
    struct model model;
    bool have_model;
    enum pg_phase phase;
    uint64_t cursor;             /* LOAD / VERIFY: next id (VERIFY: 2 per id) */
    bool flush_sent;
    uint64_t phase_start_ns, measure_start_ns, measure_end_ns, phase_end_ns;
    bool stop_sending;
    struct pg_counters run;      /* measured interval of RUN */
    struct pg_counters total;    /* every phase */
    struct hist lat;             /* RUN, measured interval, ns */
    struct hist interval;        /* since the last progress line */
    uint64_t interval_done, interval_errors, last_progress_ns;
    struct pg_stalls stalls;
    double load_s, verify_s;
    uint64_t loaded, verified;
    char fatal[256];             /* transport failure that ended the run */
};

void pg_opts_defaults(struct pg_opts *o);
int pg_opts_check(const struct pg_opts *o, char *err, size_t cap);

int pg_engine_init(struct pg_engine *e, const struct pg_opts *o, char *err, size_t cap);
void pg_engine_free(struct pg_engine *e);

/* Starts a phase; returns false if it has nothing to do (skipped). */
bool pg_phase_begin(struct pg_engine *e, enum pg_phase ph, uint64_t now_ns);
/* Whether the phase is over for sending (time up or source exhausted). */
bool pg_phase_sending_done(const struct pg_engine *e, uint64_t now_ns);
void pg_phase_end(struct pg_engine *e, uint64_t now_ns);

/* May flow f start a request now?  If yes, *intended_ns is its intended
 * send time and the schedule advances. */
bool pg_may_send(struct pg_engine *e, struct pg_flow *f, uint64_t now_ns,
                 uint64_t *intended_ns);

typedef bool (*pg_emit_fn)(void *ctx, int argc, const char *const *argv, const size_t *argvlen);

/* Fills slot s with a new request and emits its commands.  Returns false
 * (slot untouched) when the phase's source is exhausted. */
bool pg_build(struct pg_engine *e, struct pg_flow *f, struct pg_slot *s, uint64_t intended_ns,
              uint64_t now_ns, pg_emit_fn emit, void *ctx);
/* Largest encoded request (bytes), and largest reply to one. */
size_t pg_max_request_bytes(const struct pg_engine *e);
size_t pg_max_reply_bytes(const struct pg_engine *e);

/* Checks command i of s against its reply (elems for arrays). */
void pg_check(struct pg_engine *e, struct pg_slot *s, uint32_t i, const struct pgw_reply *r,
              const struct pgw_reply *elems);
/* The request got all its replies. */
void pg_complete(struct pg_engine *e, struct pg_slot *s, uint64_t now_ns);
/* The request will never get (all) its replies. */
void pg_lost(struct pg_engine *e, struct pg_slot *s, const char *why);

/* A poll-loop pass ran from prev_ns to now_ns: counts it as a stall when
 * it was long and fell in the measured interval. */
void pg_loop_pass(struct pg_engine *e, uint64_t prev_ns, uint64_t now_ns);

/* Prints the progress line when a second has passed. */
void pg_progress(struct pg_engine *e, uint64_t now_ns);

/* Shard of a pktgen key (kind 'k' or 'c'), for opts.shards shards. */
uint16_t pg_key_shard(const struct pg_engine *e, char kind, uint64_t id);

/* Shared by the transports: one nanosecond clock. */
uint64_t pg_now_ns(void);

#endif
