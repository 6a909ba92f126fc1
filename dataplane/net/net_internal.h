/*
 * net_internal.h - what the two kernel-TCP backends (net_uring*.c,
 * net_epoll.c) and net.c share: the dispatch table behind the public net_* API, the
 * listening sockets, the set-up of accepted sockets and the policy for
 * accept() failures.  Nothing outside net_*.c includes this.
 *
 * net.c owns net_create() and the public entry points (they pick the
 * backend and forward through `ops`); net_epoll.c owns the socket helpers
 * below, which need nothing from io_uring.
 */
#ifndef HP_NET_INTERNAL_H
#define HP_NET_INTERNAL_H

#include "net.h"

#include <sys/socket.h>

#define NET_MAX_LISTENERS (CONFIG_MAX_BIND * 2) /* "*" may expand to IPv4 + IPv6 */
#define NET_DEFAULT_BACKLOG 511
/* accept() out of descriptors or memory: stop accepting this long instead
 * of retrying in a tight loop (the pending connection stays queued). */
#define NET_ACCEPT_BACKOFF_US 100000
/* At most one "accept failed" warning per worker per this interval. */
#define NET_ACCEPT_LOG_INTERVAL_US 5000000

struct net_ops {
    const char *name;
    void (*destroy)(struct net *n);
    void (*stop_listening)(struct net *n);
    int (*send)(struct net *n, struct conn *c, const uint8_t *p, size_t len);
    void (*pause_recv)(struct net *n, struct conn *c);
    void (*resume_recv)(struct net *n, struct conn *c);
    void (*close)(struct net *n, struct conn *c);
    int (*poll)(struct net *n, int64_t timeout_us);
    int (*watch)(struct net *n, int fd);
};

/* The head of every backend's state (each backend struct embeds it first). */
struct net {
    const struct net_ops *ops;
    struct worker *w;
    int wake_fd;                    /* -1: no wake-up source */
    int watch_fd;                   /* net_watch_fd's fd, valid while watch_ready is set */
    void (*watch_ready)(struct worker *w);
    int64_t accept_log_us;          /* last accept warning (monotonic) */
    uint64_t accept_log_suppressed; /* warnings skipped since then */
};

/* Monotonic microseconds, for back-off deadlines. */
int64_t net_now_us(void);

/*
 * Open one non-blocking SO_REUSEPORT listener per address in cfg->bind on
 * cfg->port (none when the port is 0).  An address may be an IPv4 or IPv6
 * literal, "*" (0.0.0.0) or "::*" (::), optionally prefixed by '-' (skip it
 * when the machine lacks that address, as in redis.conf).  No bind address
 * means "* -::*" like Redis.  On failure closes what it opened, writes the
 * reason into err and returns -1.
 */
int net_listen_open(const struct hp_config *cfg, int *fds, int max, int *count,
                    char *err, size_t errlen);
void net_listen_close(int *fds, int count);
/* Parse one bind address (without the '-' prefix) and port into ss.
 * Returns 0, or -1 when it is no address of the forms above. */
int net_listen_parse_addr(const char *addr, int port, struct sockaddr_storage *ss,
                          socklen_t *len);
/* A freshly accepted socket (accepted with SOCK_NONBLOCK | SOCK_CLOEXEC):
 * sets TCP_NODELAY.  Returns 0 or -errno. */
int net_conn_setup(int fd);
/* accept() errors that mean "this one connection went away": retry now.
 * Anything else (EMFILE, ENFILE, ENOBUFS, ENOMEM, ...) backs off. */
bool net_accept_error_transient(int err);
/* Rate-limited warning for a failed accept that triggers the back-off. */
void net_accept_error_log(struct net *n, int err);

/* net_uring_setup.c: the io_uring backend, or NULL with the reason in why;
 * *unavailable says whether io_uring itself is missing (AUTO then falls
 * back to epoll). */
struct net *net_uring_create(struct worker *w, int wake_fd, int *listen_fds, int nlisten,
                             char *why, size_t cap, bool *unavailable);
struct net *net_epoll_create(struct worker *w, int wake_fd, int *listen_fds, int nlisten,
                             char *err, size_t errlen);

#endif
