/*
 * conn.h - one client connection (TCP today; the UDP dataplane later keeps
 * its own per-request state instead).
 *
 * A connection belongs to the worker that accepted it and is only ever
 * touched by that worker's thread.  Fields under "client-visible state" may
 * be read and written by client handlers (server/cmd_*.c); the rest belongs to
 * the runtime (conn.c, dispatch.c, net_*.c).
 *
 * Reply order: every parsed command reserves its place in the reply stream.
 * Replies that are ready while nothing earlier is outstanding go straight to
 * `out`; otherwise they wait in `slots` (a FIFO) until every earlier reply -
 * e.g. one from a remote shard - has arrived.  So a pipeline mixing local
 * and remote keys is answered in request order.
 */
#ifndef HP_CONN_H
#define HP_CONN_H

#include "../../common/hp_common.h"
#include "../../common/rbuf.h"
#include "../../common/resp.h"

struct worker;
struct reply_slot;

#define CONN_NAME_MAX 256

enum {
    CONN_CLOSE_AFTER_REPLY = 1u << 0, /* QUIT, protocol error: close once flushed */
    CONN_CLOSE_ASAP = 1u << 1,        /* CLIENT KILL, output limit: close now */
    CONN_CLOSED = 1u << 2,            /* socket gone; waiting for outstanding replies */
    CONN_PEER_EOF = 1u << 3,          /* peer half-closed: finish what it sent, reply, close */
};

struct conn {
    /* ---- client-visible state ---------------------------------------- */
    uint64_t id;                 /* process-unique, CLIENT ID */
    uint32_t db;                 /* SELECT */
    uint8_t proto;               /* 2 or 3 (HELLO) */
    char name[CONN_NAME_MAX];    /* CLIENT SETNAME; "" = none */
    char addr[64];               /* peer "ip:port" */
    char laddr[64];              /* local "ip:port" */
    int fd;
    int64_t ctime_ms;            /* accepted at (Unix ms) */
    int64_t last_ms;             /* last command at (Unix ms) */
    uint64_t ncmds;
    const char *last_cmd;        /* name of the last command, static string */
    uint32_t flags;

    /* ---- runtime state ------------------------------------------------ */
    struct worker *worker;
    struct conn *next, *prev;    /* worker's connection list */
    struct resp_parser parser;
    uint8_t *in;                 /* unparsed bytes; in[in_off] starts a request */
    size_t in_off, in_len, in_cap;
    struct rbuf out;             /* replies ready to send, in order */
    struct rbuf sendbuf;         /* bytes handed to the kernel; never touched while in flight */
    size_t send_off;             /* sendbuf bytes already sent */
    bool sending;                /* a send is in flight */
    struct reply_slot *slots_head, *slots_tail; /* replies waiting for earlier ones */
    uint32_t pending;            /* replies owed by other shards */
    uint32_t net_flags;          /* backend-private */
    void *net_priv;              /* backend-private */
    bool stalled;                /* on the worker's stalled list */
    uint16_t xops;               /* its hand-over ops in flight (core/xshard_op.c) */
    uint16_t bcasts;             /* its broadcasts in flight */
    bool dirty;                  /* on the worker's dirty list */
    bool recv_paused;
    bool net_closed;             /* net_cb_closed seen */
    uint64_t bytes_in, bytes_out;
};

/* Bytes buffered on input / output, for CLIENT LIST qbuf= and omem=. */
size_t conn_qbuf_len(const struct conn *c);
size_t conn_obuf_len(const struct conn *c);

#endif
