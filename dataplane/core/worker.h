/*
 * worker.h - a worker core: one pinned DPDK lcore that owns one shard, one
 * network backend instance (io_uring or epoll) with its own SO_REUSEPORT
 * listener, its connections, and its ends of the cross-shard rings.
 *
 * Everything in struct worker is touched only by its own thread, except
 * `pub` (statistics published for INFO, read by others with atomic loads)
 * and the ring/wake-up fields documented in xshard.h.
 */
#ifndef HP_WORKER_H
#define HP_WORKER_H

#include "../../common/hp_common.h"
#include "../../common/rbuf.h"
#include "../commands/cmd.h"

struct conn;
struct shard;
struct worker;

/* Counters a worker keeps for INFO.  Written by the owner only. */
struct worker_stats {
    uint64_t connected_clients;
    uint64_t total_connections_received;
    uint64_t rejected_connections;
    uint64_t total_commands_processed;
    uint64_t net_input_bytes;
    uint64_t net_output_bytes;
    uint64_t keyspace_hits;
    uint64_t keyspace_misses;
    uint64_t remote_requests;     /* commands shipped to another shard */
    uint64_t parked_ops;          /* multi-shard commands coordinated */
    uint64_t xops_in_flight_peak; /* most hand-over ops in flight at once */
    uint64_t broadcasts_in_flight_peak;
    uint64_t loop_iterations;
    uint64_t idle_sleeps;
};

uint32_t worker_id(const struct worker *w);
struct shard *worker_shard(struct worker *w);
const struct worker_stats *worker_stats(const struct worker *w);
uint32_t worker_count(const struct worker *w);   /* workers in this process */
int64_t worker_start_ms(const struct worker *w); /* process start, Unix ms (uptime) */
const char *worker_backend_name(const struct worker *w); /* "io_uring" or "epoll" */
/* The process configuration; the _mut form is for CONFIG SET, which changes
 * only runtime settings, with atomic stores (see config.h). */
struct hp_config;
const struct hp_config *worker_config(const struct worker *w);
struct hp_config *worker_config_mut(struct worker *w);

/* Visit every open connection of this worker. */
void worker_conn_foreach(struct worker *w, void (*fn)(struct conn *c, void *arg), void *arg);
/* Close a connection of this worker as soon as possible (CLIENT KILL). */
void worker_conn_kill(struct worker *w, struct conn *c);
/* Ask the whole process to shut down gracefully (SHUTDOWN, signals). */
void worker_request_shutdown(struct worker *w);

/*
 * Broadcast for client commands that need every worker (INFO, CLIENT LIST,
 * CLIENT KILL): `part` runs on each worker in its own thread and appends
 * that worker's part; `done` runs on the requesting worker once all parts are
 * in and writes the one reply.  The handler calling client_broadcast must not
 * write to c->out itself.  argv is copied, so the request may outlive the
 * input buffer.  `req->self_conn_id` lets CLIENT KILL SKIPME skip the caller.
 */
struct bcast_req {
    uint64_t self_conn_id;
    uint8_t proto;
    int argc;
    struct hp_slice *argv;     /* copies, valid until done returns */
    int64_t now_ms;
};
typedef void (*bcast_part_fn)(struct worker *w, const struct bcast_req *req, struct rbuf *part);
typedef void (*bcast_done_fn)(const struct bcast_req *req, struct rbuf *parts,
                              uint32_t nparts, struct rbuf *out);
void client_broadcast(struct client_ctx *c, bcast_part_fn part, bcast_done_fn done);

#endif
