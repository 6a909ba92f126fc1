/*
 * worker.c - the poll-mode loop of a worker core.
 *
 * One iteration, in the spirit of DPDK's l2fwd main loop:
 *   1. drain cross-shard rings (hand-over control, replies, requests);
 *   2. poll the network backend without waiting (parses and runs requests);
 *   3. retry connections that were waiting for a resource;
 *   4. send every connection's batched replies, flush outgoing ring batches;
 *   5. housekeeping on the hz tick (active expiry in bounded steps).
 * An idle worker backs off (poll-mode adaptive): after IDLE_SPIN_LOOPS empty
 * iterations it blocks in the backend for up to idle-sleep-us, or until the
 * next tick, after announcing it is asleep so that other workers that queue
 * messages for it wake it through its eventfd.  poll-mode busy never blocks.
 */
#include "runtime.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "../../storage/shard.h"

#define IDLE_SPIN_LOOPS 256        /* empty iterations before sleeping */
#define EXPIRE_BACKLOG_BUDGET 64   /* keys examined per iteration while behind */
#define REHASH_IDLE_BUDGET 64      /* index buckets moved per idle iteration */
#define REHASH_TICK_BUDGET 256     /* ... and per tick, so busy read-only shards finish too */
#define SHUTDOWN_DEADLINE_MS 5000  /* max time to flush replies at shutdown */

uint32_t worker_id(const struct worker *w) { return w->id; }
struct shard *worker_shard(struct worker *w) { return w->shard; }
const struct worker_stats *worker_stats(const struct worker *w) { return &w->stats; }
uint32_t worker_count(const struct worker *w) { return w->rt->nworkers; }
const char *worker_backend_name(const struct worker *w)
{
    return w->net ? net_backend_name(w->net) : "none";
}
const struct hp_config *worker_config(const struct worker *w) { return w->rt->cfg; }
struct hp_config *worker_config_mut(struct worker *w) { return w->rt->cfg; }
int64_t worker_start_ms(const struct worker *w) { return w->rt->start_ms; }

bool worker_shard_free(const struct worker *w) { return w->shard_holder == SHARD_FREE; }

void worker_request_shutdown(struct worker *w)
{
    __atomic_store_n(&w->rt->stop, 1, __ATOMIC_SEQ_CST);
}

void worker_wake(struct worker *w)
{
    /* Pairs with the store + check in worker_sleep: either the sleeper sees
     * our message, or we see it asleep and ring its eventfd. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_exchange_n(&w->sleeping, 0, __ATOMIC_SEQ_CST) == 0)
        return;
    uint64_t one = 1;
    ssize_t n = write(w->wake_fd, &one, sizeof(one));
    /* EAGAIN means the counter is saturated: a wake-up is pending anyway. */
    HP_ASSERT(n == (ssize_t)sizeof(one) || errno == EAGAIN);
}

struct worker *worker_create(struct runtime *rt, uint32_t id, unsigned lcore)
{
    struct worker *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->id = id;
    w->lcore = lcore;
    w->rt = rt;
    w->shard = rt->shards[id];
    w->shard_holder = SHARD_FREE;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    rbuf_init(&w->discard, 1 << 20);
    w->call = call_env_new(w);
    if (w->wake_fd < 0 || w->call == NULL || xshard_pool_init(w) != 0) {
        log_warning("worker %u: cannot allocate its wake-up fd, message pool or call state", id);
        worker_destroy(w);
        return NULL;
    }
    return w;
}

void worker_destroy(struct worker *w)
{
    if (w == NULL)
        return;
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    xshard_free_pools(w);
    while (w->free_slots) {
        struct reply_slot *s = w->free_slots;
        w->free_slots = s->next;
        rbuf_free(&s->buf);
        free(s);
    }
    rbuf_free(&w->discard);
    call_env_free(w->call);
    free(w->dirty);
    free(w->stalled);
    free(w);
}

/* Close clients idle for more than `timeout` seconds (0 = never), like
 * Redis' clientsCronHandleTimeout.  Clients waiting on a reply are busy,
 * not idle. */
static void worker_close_idle(struct worker *w)
{
    int64_t timeout = CONFIG_RT_GET(w->rt->cfg, timeout);
    if (timeout <= 0)
        return;
    for (struct conn *c = w->conns; c; c = c->next) {
        if ((c->flags & CONN_CLOSED) || c->pending || conn_ops_active(c))
            continue;
        if (w->now_ms - c->last_ms > timeout * 1000) {
            log_verbose("closing idle client %s", c->addr);
            worker_conn_kill(w, c);
        }
    }
}

static void worker_tick(struct worker *w)
{
    int64_t hz = CONFIG_RT_GET(w->rt->cfg, hz);
    if (hz < 1)
        hz = 1;
    w->next_tick_ms = w->now_ms + 1000 / hz;
    worker_close_idle(w);
    if (!worker_shard_free(w))
        return;
    (void)shard_rehash_step(w->shard, REHASH_TICK_BUDGET);
    size_t budget = (size_t)CONFIG_RT_GET(w->rt->cfg, active_expire_budget);
    size_t deleted = shard_expire_cycle(w->shard, w->now_ms, budget);
    /* More than a quarter expired: likely many more; keep reclaiming a
     * little every iteration instead of one long stall (like Redis' fast
     * expire cycle, but bounded per loop iteration). */
    w->expire_backlog = deleted * 4 >= budget;
}

int runtime_loop_hooks_add(struct runtime *rt, const struct worker_loop_hooks *h)
{
    HP_ASSERT(h != NULL);
    HP_ASSERT(__atomic_load_n(&rt->ready, __ATOMIC_SEQ_CST) == 0); /* before launch */
    if (rt->nloop_hooks == RT_LOOP_HOOKS_MAX)
        return -1;
    rt->loop_hooks[rt->nloop_hooks++] = h;
    return 0;
}

static unsigned hooks_poll(struct worker *w)
{
    unsigned work = 0;
    for (uint32_t i = 0; i < w->rt->nloop_hooks; i++)
        if (w->rt->loop_hooks[i]->poll)
            work += w->rt->loop_hooks[i]->poll(w);
    return work;
}

static void hooks_before_send(struct worker *w)
{
    for (uint32_t i = 0; i < w->rt->nloop_hooks; i++)
        if (w->rt->loop_hooks[i]->before_send)
            w->rt->loop_hooks[i]->before_send(w);
}

static int64_t hooks_sleep_cap(struct worker *w, int64_t timeout_us)
{
    for (uint32_t i = 0; i < w->rt->nloop_hooks && timeout_us > 0; i++)
        if (w->rt->loop_hooks[i]->sleep_cap)
            timeout_us = w->rt->loop_hooks[i]->sleep_cap(w, timeout_us);
    return timeout_us;
}

static bool hooks_wake_pending(struct worker *w)
{
    for (uint32_t i = 0; i < w->rt->nloop_hooks; i++)
        if (w->rt->loop_hooks[i]->wake_pending && w->rt->loop_hooks[i]->wake_pending(w))
            return true;
    return false;
}

static uint32_t hooks_owed(const struct worker *w)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < w->rt->nloop_hooks; i++)
        if (w->rt->loop_hooks[i]->owed)
            n += w->rt->loop_hooks[i]->owed(w);
    return n;
}

static void worker_sleep(struct worker *w)
{
    int64_t timeout_us = CONFIG_RT_GET(w->rt->cfg, idle_sleep_us);
    int64_t to_tick = (w->next_tick_ms - w->now_ms) * 1000;
    if (to_tick < timeout_us)
        timeout_us = to_tick;
    /* NIC queues raise no wake-up (udp), nothing signals log ring room
     * (persist): the layers cap the back-off. */
    timeout_us = hooks_sleep_cap(w, timeout_us);
    if (timeout_us <= 0)
        return;
    __atomic_store_n(&w->sleeping, 1, __ATOMIC_SEQ_CST);
    /* Held durable replies: the log thread wakes us once we announced. */
    if (xshard_pending_input(w) || hooks_wake_pending(w)) {
        __atomic_store_n(&w->sleeping, 0, __ATOMIC_SEQ_CST);
        return;
    }
    int rc = net_poll(w->net, timeout_us);
    __atomic_store_n(&w->sleeping, 0, __ATOMIC_SEQ_CST);
    if (rc < 0 && rc != -EINTR && rc != -ETIME)
        log_warning("worker %u: net_poll: %s", w->id, strerror(-rc));
    w->stats.idle_sleeps++;
}

/* At shutdown: every client's replies sent and nothing owed to anyone. */
static bool worker_drained(struct worker *w)
{
    return w->msgs_out == 0 && xshard_idle(w) && w->nstalled == 0 && !call_backlogged(w) &&
           hooks_owed(w) == 0 && conn_all_flushed(w);
}

static void worker_loop(struct worker *w)
{
    struct runtime *rt = w->rt;
    bool busy = rt->cfg->poll_mode == POLL_BUSY;
    int64_t deadline = 0;
    /* Whether an idle iteration should try to advance an index resize.
     * shard_rehash_step visits every db of the shard to find out there is
     * nothing to do; after it said so once, only work (a write, a tick's
     * expiry, another worker holding our shard) can start a resize, so idle
     * iterations skip it until then. */
    bool rehash_idle = true;
    w->now_ms = clock_unix_ms();
    w->next_tick_ms = w->now_ms;
    for (;;) {
        w->now_ms = clock_unix_ms();
        w->stats.loop_iterations++;
        if (!w->stopping && __atomic_load_n(&rt->stop, __ATOMIC_ACQUIRE)) {
            w->stopping = true;
            deadline = w->now_ms + SHUTDOWN_DEADLINE_MS;
            net_stop_listening(w->net);
            conn_shutdown_reading(w);
        }
        unsigned work = xshard_poll(w);
        int ev = net_poll(w->net, 0);
        if (ev > 0)
            work += (unsigned)ev;
        work += hooks_poll(w);   /* udp, then persist */
        if (rt->persist)
            work += call_poll(w);   /* parked remote writes, an op waiting for log room */
        if (w->nstalled)
            conn_retry_stalled(w);
        work += xop_poll(w);
        hooks_before_send(w);   /* persist's kick: the disk goes before the sends */
        conn_flush_dirty(w);
        xshard_flush(w);
        if (w->now_ms >= w->next_tick_ms) {
            worker_tick(w);
            rehash_idle = true;
        } else if (w->expire_backlog && worker_shard_free(w)) {
            w->expire_backlog = shard_expire_cycle(w->shard, w->now_ms, EXPIRE_BACKLOG_BUDGET) *
                                    4 >= EXPIRE_BACKLOG_BUDGET;
            rehash_idle = true;
        }
        if (w->stopping) {
            if (!w->quiesced && worker_drained(w)) {
                w->quiesced = true;
                __atomic_add_fetch(&rt->quiesced, 1, __ATOMIC_SEQ_CST);
            }
            /* Keep serving other workers' rings until all are done. */
            if (__atomic_load_n(&rt->quiesced, __ATOMIC_SEQ_CST) == rt->nworkers ||
                w->now_ms > deadline)
                break;
        }
        if (work) {
            w->idle_loops = 0;
            rehash_idle = true;
        } else if (rehash_idle && worker_shard_free(w) &&
                   shard_rehash_step(w->shard, REHASH_IDLE_BUDGET) > 0) {
            /* Idle time finishes an index resize before we sleep, so writes
             * later find it done instead of paying for it. */
            w->idle_loops = 0;
        } else {
            if (worker_shard_free(w))
                rehash_idle = false;   /* nothing to resize (or not tried: see above) */
            if (!busy && ++w->idle_loops > IDLE_SPIN_LOOPS)
                worker_sleep(w);
        }
    }
}

int worker_main(void *arg)
{
    struct worker *w = arg;
    struct runtime *rt = w->rt;
    char err[256] = "";
    /* The backend is created on the worker's own thread: an io_uring set up
     * with SINGLE_ISSUER/DEFER_TASKRUN may only be driven by its creator. */
    w->net = net_create(w, rt->cfg, w->wake_fd, err, sizeof(err));
    if (w->net == NULL) {
        log_warning("worker %u: %s", w->id, err);
        __atomic_add_fetch(&rt->failed, 1, __ATOMIC_SEQ_CST);
        return -1;
    }
    __atomic_add_fetch(&rt->ready, 1, __ATOMIC_SEQ_CST);
    /* Start serving only when every worker is up, or all give up together. */
    while (__atomic_load_n(&rt->ready, __ATOMIC_SEQ_CST) +
               __atomic_load_n(&rt->failed, __ATOMIC_SEQ_CST) < rt->nworkers)
        usleep(1000);
    if (__atomic_load_n(&rt->failed, __ATOMIC_SEQ_CST) == 0)
        worker_loop(w);
    conn_free_all(w);
    /* Let the backend report the closes so every conn is freed. */
    for (int i = 0; i < 100 && w->conns; i++)
        net_poll(w->net, 1000);
    net_destroy(w->net);
    w->net = NULL;
    return 0;
}
