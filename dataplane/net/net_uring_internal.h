/*
 * net_uring_internal.h - the io_uring backend's state, shared by its two
 * files (net_uring.c: operations and completions; net_uring_setup.c: the
 * ring's and the buffer ring's set-up).  Nothing else includes this; what
 * both backends share is in net_internal.h.
 */
#ifndef HP_NET_URING_INTERNAL_H
#define HP_NET_URING_INTERNAL_H

#include "net_internal.h"

#include <liburing.h>

#define UR_SQ_ENTRIES 256
#define UR_CQ_ENTRIES 4096
#define UR_NBUFS 1024                /* provided receive buffers per worker */
#define UR_BUF_SIZE (16u * 1024)
#define UR_BGID 0
#define UR_SEND_MAX (1u << 30)       /* one SQE's length is 32 bits; larger sends go out partially */
#define UR_BACKLOG_MAX (1u << 20)    /* SQEs waiting for SQ space; see uring_push */
#define UR_DESTROY_DRAIN_US 1000000  /* at most this long to let cancels complete */

struct ur_conn {
    struct conn *c;
    int fd;
    uint32_t flags;
    uint32_t inflight;           /* SQEs whose completion references us */
    const uint8_t *send_p;
    size_t send_len;
    uint8_t *rbuf;               /* only without a buffer ring */
    struct ur_conn *prev, *next; /* all conns of this backend */
    struct ur_conn *finish_next;
};

struct ur_listener {
    int fd;                      /* -1 once closed */
    bool armed;                  /* an accept is in flight */
    bool stopping;               /* net_stop_listening: close once unarmed */
    int64_t retry_us;            /* back-off: re-arm at this time (0 = none) */
};

struct net_uring {
    struct net base;
    struct io_uring ring;
    unsigned setup_flags;
    bool accept_multishot, accept_multishot_seen;
    bool recv_multishot, recv_multishot_seen;
    bool no_buf_ring;            /* test override, see uring_test_overrides */
    bool wake_armed;
    bool watch_armed;
    /* user_data object of the net_watch_fd poll (the backend itself is
     * that of the wake-up poll; both use UR_OP_WAKE). */
    struct { uint64_t unused; } watch_tag __attribute__((aligned(8)));
    bool destroying;             /* no callbacks, no re-arming */
    struct io_uring_buf_ring *br; /* NULL: per-connection buffers */
    uint8_t *bufs;
    struct ur_listener listeners[NET_MAX_LISTENERS];
    int nlisteners;
    struct ur_conn *conns;
    struct ur_conn *finish_head;
    struct io_uring_sqe *backlog;
    uint32_t backlog_head, backlog_len, backlog_cap;
};

/* net_uring.c */
extern const struct net_ops net_uring_ops;
void net_uring_listener_arm(struct net_uring *n, struct ur_listener *l);
void net_uring_wake_arm(struct net_uring *n);

/* net_uring_setup.c */
void net_uring_free_bufs(struct net_uring *n);

#endif
