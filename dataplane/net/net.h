/*
 * net.h - a worker's kernel-TCP backend: io_uring (net_uring.c) with a
 * fallback to epoll (net_epoll.c) where io_uring is missing or forbidden
 * (old kernels, seccomp profiles, kernel.io_uring_disabled).
 *
 * One instance per worker, used only by that worker's thread.  The backend
 * owns the sockets: it listens (one SO_REUSEPORT listener per bind address
 * per worker, so the kernel spreads connections across workers), accepts,
 * receives, sends and closes, and reports events through the net_cb_*
 * callbacks, which the runtime (conn.c / worker.c) implements.
 *
 * Receive: data handed to net_cb_received() is valid only during the call
 * (with io_uring it is a kernel-provided buffer that is recycled right
 * after), so the runtime parses it in place and copies only an incomplete
 * request tail.  A connection can be paused (stop receiving: backpressure)
 * and resumed.
 *
 * Send: at most one send per connection is in flight.  net_send() hands the
 * kernel `len` bytes that the caller keeps unchanged until net_cb_sent()
 * reports how many went out (it may be fewer; the caller sends the rest).
 *
 * Close: net_close() stops everything for the connection and closes its fd
 * once no operation on it is in flight; then net_cb_closed() says the conn
 * may be freed.  No callback for that conn follows net_cb_closed().
 */
#ifndef HP_NET_H
#define HP_NET_H

#include "../../common/hp_common.h"
#include "../config/config.h"

struct conn;
struct worker;
struct net;

/* ---- implemented by the runtime --------------------------------------- */
/* A new connection on fd (non-blocking, TCP_NODELAY set).  Returns the conn
 * to track it, or NULL to refuse it (the backend then closes fd). */
struct conn *net_cb_accepted(struct worker *w, int fd);
void net_cb_received(struct conn *c, const uint8_t *data, size_t len);
/* The in-flight send finished; n bytes were written (0 < n <= len). */
void net_cb_sent(struct conn *c, size_t n);
/*
 * err = 0: EOF, the peer shut down its sending side (shutdown(SHUT_WR) or
 * close).  Nothing more is received, but the conn stays usable for sends:
 * the runtime sends the replies it still owes, then calls net_close.  An
 * error may still follow (err != 0), e.g. when those sends fail.
 * err != 0 (an errno): the connection is dead; nothing more is reported
 * but net_cb_closed, and the runtime will call net_close.
 * Each kind is reported at most once per connection.
 */
void net_cb_failed(struct conn *c, int err);
/* The conn's fd is closed and no operation references it any more. */
void net_cb_closed(struct conn *c);
/* The worker's wake-up eventfd fired (another worker queued work for it). */
void net_cb_woken(struct worker *w);

/* ---- process-wide, before any worker listens (net_claim.c) ------------ */
/*
 * Fail when cfg->port is already served on any of cfg->bind (a listener
 * of another process: redis-server, another hotpathd), like redis-server's
 * "Could not create server TCP listening socket ...: bind: Address already
 * in use"; else claim the port for this process until net_port_release (or
 * exit), so that no second hotpathd joins the workers' SO_REUSEPORT group.
 * *claim_fd is -1 when there is nothing to claim (port 0).  Returns 0, or
 * -1 with the reason in err.
 */
int net_port_claim(const struct hp_config *cfg, int *claim_fd, char *err, size_t errlen);
void net_port_release(int claim_fd);

/* ---- implemented by the backends -------------------------------------- */
/*
 * Create the backend for worker `w`: listeners on cfg->bind[] x cfg->port
 * (none when port is 0), and a read armed on wake_fd.  cfg->io_backend picks
 * the backend; AUTO tries io_uring and falls back to epoll with a log line
 * naming the reason.  Returns NULL with a message in err on failure.
 */
struct net *net_create(struct worker *w, const struct hp_config *cfg, int wake_fd,
                       char *err, size_t errlen);
void net_destroy(struct net *n);          /* closes everything still open */
const char *net_backend_name(const struct net *n);   /* "io_uring" / "epoll" */
/* Stop accepting new connections (shutdown). */
void net_stop_listening(struct net *n);
int net_send(struct net *n, struct conn *c, const uint8_t *p, size_t len);
void net_pause_recv(struct net *n, struct conn *c);
void net_resume_recv(struct net *n, struct conn *c);
void net_close(struct net *n, struct conn *c);
/*
 * Submit queued operations and process completions, invoking the callbacks.
 * Waits up to timeout_us for at least one event when nothing is ready
 * (0 = never wait).  Returns the number of events processed, or -errno.
 */
int net_poll(struct net *n, int64_t timeout_us);
/*
 * Also end a net_poll wait when `fd` (owned by the caller, e.g. an epoll fd
 * of NIC RX queue interrupts) becomes readable; `ready` is then called from
 * net_poll and must make fd unreadable again (drain it), since the fd is
 * watched level-triggered.  One such fd per backend.  Returns 0 or -errno.
 */
int net_watch_fd(struct net *n, int fd, void (*ready)(struct worker *w));

#endif
