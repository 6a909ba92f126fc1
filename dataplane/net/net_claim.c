/*
 * net_claim.c - make a second server on a port already in use fail at
 * start-up, as redis-server does, although the workers' listeners use
 * SO_REUSEPORT (which lets any process of the same user join the group and
 * take a share of the connections into its own, separate keyspace).
 *
 * Two checks, before the EAL and the workers start:
 *
 * 1. A probe per bind address: a socket with SO_REUSEADDR but without
 *    SO_REUSEPORT is bound and closed again.  The kernel refuses the bind
 *    (EADDRINUSE) while anything listens on that address and port - an
 *    older hotpathd's SO_REUSEPORT group, a redis-server - but not for
 *    connections left in TIME_WAIT.
 * 2. A claim of the port for the life of the process: an abstract Unix
 *    socket named "hotpath-tcp-<port>", which the kernel lets only one
 *    process bind and frees when the process exits, however it exits.
 *    It closes the window in which two servers starting together both
 *    pass the probe.  Abstract names live in the network namespace, like
 *    the TCP port itself.  The claim is per port, whatever the address.
 */
#include "net_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../common/log.h"

#define CLAIM_NAME_FMT "hotpath-tcp-%d"

/* Shared with the listeners of net_epoll.c; here so that this file links
 * without the backends (and their net_cb_* callbacks). */
int net_listen_parse_addr(const char *addr, int port, struct sockaddr_storage *ss,
                          socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (strcmp(addr, "*") == 0 || inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
        if (strcmp(addr, "*") == 0)
            a4->sin_addr.s_addr = htonl(INADDR_ANY);
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof(*a4);
        return 0;
    }
    if (strcmp(addr, "::*") == 0 || inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
        if (strcmp(addr, "::*") == 0)
            a6->sin6_addr = in6addr_any;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a6);
        return 0;
    }
    return -1;
}

/* Who holds the claim: the listener's pid, from SO_PEERCRED of a
 * connection to it (queued, never accepted); 0 if it cannot be learnt. */
static pid_t claim_holder(const struct sockaddr_un *sa, socklen_t len)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    pid_t pid = 0;
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    if (connect(fd, (const struct sockaddr *)sa, len) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
        pid = cred.pid;
    if (close(fd) != 0)
        log_debug("closing a claim probe: %s", strerror(errno));
    return pid;
}

static int claim_take(int port, int *claim_fd, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    /* sun_path[0] = '\0': an abstract name, no file. */
    int n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, CLAIM_NAME_FMT, port);
    HP_ASSERT(n > 0 && (size_t)n < sizeof(sa.sun_path) - 1);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "Could not claim port %d: socket: %s", port, strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, len) != 0 || listen(fd, 1) != 0) {
        int e = errno;
        if (close(fd) != 0)
            log_debug("closing a claim socket: %s", strerror(errno));
        if (e != EADDRINUSE) {
            snprintf(err, errlen, "Could not claim port %d: %s", port, strerror(e));
            return -1;
        }
        pid_t pid = claim_holder(&sa, len);
        char who[48] = "";
        if (pid > 0)
            snprintf(who, sizeof(who), " (pid %d)", (int)pid);
        snprintf(err, errlen,
                 "Could not create server TCP listening socket *:%d: bind: %s: another "
                 "hotpathd%s serves port %d",
                 port, strerror(EADDRINUSE), who, port);
        return -1;
    }
    *claim_fd = fd;
    return 0;
}

static int probe_one(const char *addr, int port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (net_listen_parse_addr(addr, port, &ss, &sslen) != 0) {
        snprintf(err, errlen, "bad bind address '%s': not an IPv4 or IPv6 address", addr);
        return -EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "Could not create server TCP listening socket %s:%d: socket: %s",
                 addr, port, strerror(e));
        return -e;
    }
    int one = 1;
    int rc = 0;
    const char *step = "setsockopt";
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (ss.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0))
        rc = -errno;
    if (rc == 0) {
        step = "bind";
        if (bind(fd, (struct sockaddr *)&ss, sslen) != 0)
            rc = -errno;
    }
    if (close(fd) != 0)
        log_debug("closing a port probe: %s", strerror(errno));
    if (rc != 0)
        snprintf(err, errlen, "Could not create server TCP listening socket %s:%d: %s: %s",
                 addr, port, step, strerror(-rc));
    return rc;
}

int net_port_claim(const struct hp_config *cfg, int *claim_fd, char *err, size_t errlen)
{
    static const char *const default_bind[] = {"*", "-::*"};
    *claim_fd = -1;
    if (cfg->port == 0)
        return 0; /* no TCP listener */
    if (cfg->port < 0 || cfg->port > 65535 || cfg->nbind < 0 || cfg->nbind > CONFIG_MAX_BIND) {
        snprintf(err, errlen, "bad port %d or bind count %d", cfg->port, cfg->nbind);
        return -1;
    }
    int naddr = cfg->nbind > 0 ? cfg->nbind : (int)HP_ARRAY_LEN(default_bind);
    for (int i = 0; i < naddr; i++) {
        const char *addr = cfg->nbind > 0 ? cfg->bind[i] : default_bind[i];
        bool optional = addr[0] == '-';
        if (optional)
            addr++;
        int rc = probe_one(addr, cfg->port, err, errlen);
        /* '-': an address this machine lacks is skipped, as when listening. */
        if (rc != 0 && !(optional && (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT)))
            return -1;
    }
    err[0] = '\0';
    return claim_take(cfg->port, claim_fd, err, errlen);
}

void net_port_release(int claim_fd)
{
    if (claim_fd >= 0 && close(claim_fd) != 0)
        log_debug("releasing the port claim: %s", strerror(errno));
}
