/*
 * main.c - hotpathd start-up and shutdown, on the DPDK main lcore.
 *
 * Start-up: parse the configuration, initialise the EAL (embedded default:
 * --no-shconf --no-huge --no-pci, so it runs on any box), create one shard
 * and one worker per worker lcore, the cross-shard rings, and launch the
 * workers.  The main lcore then only waits for SIGTERM/SIGINT (through a
 * signalfd, so no handler and no global flag) or a SHUTDOWN command, and
 * joins the workers, which flush in-flight replies before they exit.
 */
#include <errno.h>
#include <poll.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "../storage/shard.h"
#include "../storage/set/set.h"
#include "config/config.h"
#include "core/runtime.h"
#include "net/net.h"
#include "persist/persist.h"
#include "udp/udp.h"
#include "server/server.h"
#include "../storage/list/quicklist.h"

#define EAL_ARGV_MAX 64
#define STARTUP_TIMEOUT_MS 20000

struct eal_args {
    int argc;
    char *argv[EAL_ARGV_MAX];
    char storage[4096];
    size_t used;
};

static int eal_push(struct eal_args *a, const char *s)
{
    size_t n = strlen(s) + 1;
    if (a->argc >= EAL_ARGV_MAX - 1 || a->used + n > sizeof(a->storage))
        return -1;
    memcpy(a->storage + a->used, s, n);
    a->argv[a->argc++] = a->storage + a->used;
    a->argv[a->argc] = NULL;
    a->used += n;
    return 0;
}

static bool eal_has(const struct eal_args *a, const char *const *names)
{
    for (int i = 1; i < a->argc; i++)
        for (const char *const *n = names; *n; n++)
            if (strncmp(a->argv[i], *n, strlen(*n)) == 0)
                return true;
    return false;
}

/* CPUs we may run on, in order. */
static int usable_cpus(int *cpus, int max)
{
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++)
        if (CPU_ISSET(c, &set))
            cpus[n++] = c;
    return n;
}

/*
 * EAL arguments: the operator's eal-args verbatim (a production deployment
 * names its NIC and hugepage memory there), or the embedded default.  We add
 * the lcore map (main lcore + one per worker, pinned round-robin over the
 * usable CPUs) and a file prefix unless the operator gave their own.
 */
static int build_eal_args(const struct hp_config *cfg, int workers, struct eal_args *a,
                          char *err, size_t errlen)
{
    static const char *const lcore_opts[] = {"-l", "-c", "--lcores", NULL};
    static const char *const prefix_opts[] = {"--file-prefix", NULL};
    char tmp[CONFIG_STR_MAX];
    if (eal_push(a, "hotpathd") != 0)
        return -1;
    if (cfg->eal_args[0] == '\0') {
        char mem[32];
        snprintf(mem, sizeof(mem), "%d", cfg->eal_memory_mb);
        if (eal_push(a, "--no-shconf") || eal_push(a, "--no-huge") || eal_push(a, "--no-pci") ||
            eal_push(a, "-m") || eal_push(a, mem))
            return -1;
    } else {
        snprintf(tmp, sizeof(tmp), "%s", cfg->eal_args);
        for (char *save = NULL, *tok = strtok_r(tmp, " \t", &save); tok;
             tok = strtok_r(NULL, " \t", &save)) {
            if (eal_push(a, tok) != 0) {
                snprintf(err, errlen, "eal-args: too many arguments");
                return -1;
            }
        }
    }
    if (!eal_has(a, lcore_opts)) {
        int cpus[CPU_SETSIZE];
        int ncpu = usable_cpus(cpus, CPU_SETSIZE);
        if (ncpu < 1) {
            snprintf(err, errlen, "cannot read the CPU affinity mask");
            return -1;
        }
        size_t off = 0;
        for (int l = 0; l <= workers; l++) {
            int cpu = cpus[l % ncpu];
            off += (size_t)snprintf(tmp + off, sizeof(tmp) - off, "%s%d@%d", l ? "," : "", l, cpu);
            if (off >= sizeof(tmp)) {
                snprintf(err, errlen, "too many workers for the lcore map");
                return -1;
            }
        }
        if (eal_push(a, "--lcores") || eal_push(a, tmp))
            return -1;
    }
    if (!eal_has(a, prefix_opts)) {
        if (cfg->file_prefix[0])
            snprintf(tmp, sizeof(tmp), "--file-prefix=%s", cfg->file_prefix);
        else
            snprintf(tmp, sizeof(tmp), "--file-prefix=hotpath-%d", cfg->port);
        if (eal_push(a, tmp))
            return -1;
    }
    /* The telemetry library announces on stdout, at every start, that it
     * made no legacy socket; hotpath never uses one.  Only its errors are
     * worth a line (the telemetry socket itself stays).  It goes before
     * "*:warning": otherwise that one decides the level of the telemetry
     * log type, which is registered late (tested: tests/e2e/test_newuser.py). */
    static const char *const telemetry_opts[] = {"--log-level=lib.telemetry", "--no-telemetry",
                                                 "--telemetry", NULL};
    if (!eal_has(a, telemetry_opts) && eal_push(a, "--log-level=lib.telemetry:error"))
        return -1;
    if (cfg->log_level > LOG_VERBOSE && eal_push(a, "--log-level=*:warning"))
        return -1;
    return 0;
}

static int resolve_workers(const struct hp_config *cfg, char *err, size_t errlen)
{
    int cpus[CPU_SETSIZE];
    int n = cfg->workers;
    if (n == 0) {
        int ncpu = usable_cpus(cpus, CPU_SETSIZE);
        n = ncpu > 1 ? ncpu - 1 : 1;
    }
    if (n > HP_MAX_SHARDS) {
        snprintf(err, errlen, "workers: at most %d", HP_MAX_SHARDS);
        return -1;
    }
    return n > HP_MAX_SHARDS ? HP_MAX_SHARDS : n;
}

static void runtime_free(struct runtime *rt)
{
    udp_rt_free(rt);
    for (uint32_t i = 0; i < HP_MAX_SHARDS; i++) {
        worker_destroy(rt->workers[i]);
        if (rt->shards[i])
            shard_destroy(rt->shards[i]);
    }
    xshard_rings_free(rt);
    free(rt);
}

static struct runtime *runtime_create(struct hp_config *cfg, uint32_t nworkers)
{
    struct runtime *rt = calloc(1, sizeof(*rt));
    if (rt == NULL)
        return NULL;
    rt->cfg = cfg;
    rt->nworkers = nworkers;
    rt->start_ms = clock_unix_ms();
    /* Contiguous slot ranges per shard, like a cluster's slot allocation. */
    for (uint32_t s = 0; s < HP_NUM_SLOTS; s++)
        rt->slot_to_shard[s] = (uint16_t)((uint64_t)s * nworkers / HP_NUM_SLOTS);
    for (uint32_t i = 0; i < nworkers; i++) {
        rt->shards[i] = shard_create(i);
        if (rt->shards[i] == NULL) {
            runtime_free(rt);
            return NULL;
        }
    }
    if (xshard_rings_create(rt) != 0) {
        runtime_free(rt);
        return NULL;
    }
    unsigned lcore = rte_get_next_lcore(-1, 1, 0);
    for (uint32_t i = 0; i < nworkers; i++, lcore = rte_get_next_lcore(lcore, 1, 0)) {
        HP_ASSERT(lcore < RTE_MAX_LCORE);
        rt->workers[i] = worker_create(rt, i, lcore);
        if (rt->workers[i] == NULL) {
            runtime_free(rt);
            return NULL;
        }
    }
    return rt;
}

/* Wait for SIGTERM/SIGINT or a SHUTDOWN command; returns the signal or 0. */
static int main_wait(struct runtime *rt, int sfd)
{
    for (;;) {
        if (__atomic_load_n(&rt->stop, __ATOMIC_ACQUIRE))
            return 0;
        if (__atomic_load_n(&rt->failed, __ATOMIC_ACQUIRE))
            return -1;
        struct pollfd p = {.fd = sfd, .events = POLLIN};
        int rc = poll(&p, 1, 100);
        if (rc > 0) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                return (int)si.ssi_signo;
        } else if (rc < 0 && errno != EINTR) {
            log_warning("poll on signalfd: %s", strerror(errno));
            return -1;
        }
    }
}

static int wait_ready(struct runtime *rt)
{
    int64_t until = clock_unix_ms() + STARTUP_TIMEOUT_MS;
    while (clock_unix_ms() < until) {
        uint32_t ready = __atomic_load_n(&rt->ready, __ATOMIC_ACQUIRE);
        uint32_t failed = __atomic_load_n(&rt->failed, __ATOMIC_ACQUIRE);
        if (failed)
            return -1;
        if (ready == rt->nworkers)
            return 0;
        usleep(1000);
    }
    log_warning("workers did not start within %d ms", STARTUP_TIMEOUT_MS);
    return -1;
}

static int run(struct hp_config *cfg, int nworkers, int sfd)
{
    if ((int)rte_lcore_count() < nworkers + 1) {
        log_warning("EAL gave %u lcores; %d workers need %d (main + workers)", rte_lcore_count(),
                    nworkers, nworkers + 1);
        return 1;
    }
    struct runtime *rt = runtime_create(cfg, (uint32_t)nworkers);
    if (rt == NULL) {
        log_warning("cannot allocate the shards, rings or workers");
        return 1;
    }
    char err[512] = "";
    if (udp_rt_create(rt, err, sizeof(err)) != 0) {
        log_warning("UDP dataplane: %s", err);
        runtime_free(rt);
        return 1;
    }
    /* Recover the append-only log into the shards before anyone serves. */
    if (persist_start(rt) != 0) {
        runtime_free(rt);
        return 1;
    }
    for (uint32_t i = 0; i < rt->nworkers; i++) {
        int rc = rte_eal_remote_launch(worker_main, rt->workers[i], rt->workers[i]->lcore);
        if (rc != 0) {
            log_warning("cannot launch worker %u on lcore %u: %s", i, rt->workers[i]->lcore,
                        strerror(-rc));
            __atomic_add_fetch(&rt->failed, 1, __ATOMIC_SEQ_CST);
        }
    }
    int status = 0;
    if (wait_ready(rt) == 0) {
        log_notice("hotpathd %s: %u workers (%s), port %d", HOTPATHD_VERSION, rt->nworkers,
                   worker_backend_name(rt->workers[0]), cfg->port);
        log_notice("Ready to accept connections");
        int sig = main_wait(rt, sfd);
        if (sig > 0)
            log_notice("Received %s, scheduling shutdown...", sig == SIGINT ? "SIGINT" : "SIGTERM");
        else if (sig < 0)
            status = 1;
        else
            log_notice("User requested shutdown...");
    } else {
        status = 1;
    }
    __atomic_store_n(&rt->stop, 1, __ATOMIC_SEQ_CST);
    rte_eal_mp_wait_lcore();
    persist_stop(rt);
    runtime_free(rt);
    if (status == 0)
        log_notice("hotpathd is now ready to exit, bye bye...");
    return status;
}

int main(int argc, char **argv)
{
    static struct hp_config cfg; /* large; lives for the whole process */
    char err[512] = "";
    bool exit_now = false;
    /* Before anything looks a command up (the log replay included). */
    if (server_cmds_register() != 0) {
        fprintf(stderr, "hotpathd: the client command table was registered twice\n");
        return 1;
    }
    /* Typed values, before the log replay can create one (hashes register
     * with the server's commands, server_cmds_register). */
    if (list_type_register() != 0) {
        fprintf(stderr, "hotpathd: the list type could not be registered\n");
        return 1;
    }
    if (set_type_register() != 0) {
        fprintf(stderr, "hotpathd: the set type could not be registered\n");
        return 1;
    }
    config_init(&cfg);
    if (config_parse_args(&cfg, argc, argv, &exit_now, err, sizeof(err)) != 0) {
        fprintf(stderr, "hotpathd: %s\n", err);
        return 1;
    }
    if (exit_now)
        return 0;
    log_set_level((enum log_level)cfg.log_level);
    int nworkers = resolve_workers(&cfg, err, sizeof(err));
    if (nworkers < 0) {
        fprintf(stderr, "hotpathd: %s\n", err);
        return 1;
    }
    /* Block the stop signals before the EAL starts threads, so they all
     * inherit the mask and the signals queue on our signalfd. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0) {
        fprintf(stderr, "hotpathd: cannot block signals\n");
        return 1;
    }
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (sfd < 0) {
        fprintf(stderr, "hotpathd: signalfd: %s\n", strerror(errno));
        return 1;
    }
    /* Before the EAL: a port in use is the commonest start-up failure and
     * must read like redis-server's, not like a worker error. */
    int claim_fd = -1;
    if (net_port_claim(&cfg, &claim_fd, err, sizeof(err)) != 0) {
        fprintf(stderr, "hotpathd: %s\n", err);
        fprintf(stderr, "hotpathd: Failed listening on port %d (tcp), aborting.\n", cfg.port);
        return 1;
    }
    struct eal_args ea = {0};
    if (build_eal_args(&cfg, nworkers, &ea, err, sizeof(err)) != 0) {
        fprintf(stderr, "hotpathd: %s\n", err[0] ? err : "EAL arguments too long");
        net_port_release(claim_fd);
        return 1;
    }
    if (rte_eal_init(ea.argc, ea.argv) < 0) {
        fprintf(stderr, "hotpathd: DPDK EAL initialisation failed: %s\n", rte_strerror(rte_errno));
        net_port_release(claim_fd);
        return 1;
    }
    int status = run(&cfg, nworkers, sfd);
    close(sfd);
    rte_eal_cleanup();
    net_port_release(claim_fd);
    return status;
}
