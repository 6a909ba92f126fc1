/*
 * net.c - net_create() (picks the backend: io_uring, falling back to epoll
 * under AUTO) and the public net_* entry points, which forward through the
 * backend's ops (net_internal.h).
 */
#include "net_internal.h"

#include <errno.h>
#include <stdio.h>

#include "../../common/log.h"

/* One warning per process when AUTO falls back, not one per worker: every
 * worker hits the same cause.  Written once with an atomic exchange. */
static int net_uring_fallback_warned;

/* ---- public API ------------------------------------------------------------------- */

struct net *net_create(struct worker *w, const struct hp_config *cfg, int wake_fd,
                       char *err, size_t errlen)
{
    int fds[NET_MAX_LISTENERS];
    int nfds = 0;
    if (cfg->io_backend != IO_BACKEND_AUTO && cfg->io_backend != IO_BACKEND_IO_URING &&
        cfg->io_backend != IO_BACKEND_EPOLL) {
        snprintf(err, errlen, "unknown io backend %d", (int)cfg->io_backend);
        return NULL;
    }
    if (net_listen_open(cfg, fds, NET_MAX_LISTENERS, &nfds, err, errlen) != 0)
        return NULL;
    struct net *n = NULL;
    if (cfg->io_backend != IO_BACKEND_EPOLL) {
        char why[192] = "";
        bool unavailable = false;
        n = net_uring_create(w, wake_fd, fds, nfds, why, sizeof(why), &unavailable);
        if (n == NULL && (cfg->io_backend == IO_BACKEND_IO_URING || !unavailable)) {
            snprintf(err, errlen, "io_uring backend: %s", why);
            net_listen_close(fds, nfds);
            return NULL;
        }
        if (n == NULL && __atomic_exchange_n(&net_uring_fallback_warned, 1, __ATOMIC_RELAXED) == 0)
            log_warning("io_uring unavailable: %s; using epoll", why);
    }
    if (n == NULL)
        n = net_epoll_create(w, wake_fd, fds, nfds, err, errlen);
    if (n == NULL)
        net_listen_close(fds, nfds);
    return n;
}

void net_destroy(struct net *n)
{
    if (n != NULL)
        n->ops->destroy(n);
}

const char *net_backend_name(const struct net *n) { return n->ops->name; }
void net_stop_listening(struct net *n) { n->ops->stop_listening(n); }

int net_send(struct net *n, struct conn *c, const uint8_t *p, size_t len)
{
    return n->ops->send(n, c, p, len);
}

void net_pause_recv(struct net *n, struct conn *c) { n->ops->pause_recv(n, c); }
void net_resume_recv(struct net *n, struct conn *c) { n->ops->resume_recv(n, c); }
void net_close(struct net *n, struct conn *c) { n->ops->close(n, c); }
int net_poll(struct net *n, int64_t timeout_us) { return n->ops->poll(n, timeout_us); }

int net_watch_fd(struct net *n, int fd, void (*ready)(struct worker *w))
{
    HP_ASSERT(fd >= 0 && ready != NULL);
    if (n->watch_ready != NULL)
        return -EBUSY;
    n->watch_fd = fd;
    n->watch_ready = ready;
    int rc = n->ops->watch(n, fd);
    if (rc != 0)
        n->watch_ready = NULL;
    return rc;
}
