/*
 * call.c - the one execution path (see call.h): admission, the handler,
 * logging by what changed, observers, stats; and the sites that use it.
 *
 * Waiting for log room never sleeps holding a shard: a request that finds
 * no room does not run, and waits where its kind of request waits anyway
 *   - a local request: the connection stalls (stops reading) and re-parses,
 *   - a remote request: parked here in a FIFO; the worker stops taking
 *     requests off its rings until the FIFO is empty (backpressure),
 *   - a multi-shard op: its round keeps its shards, the op marked
 *     log_wait (w->xop_paused); call_poll resumes the round (xop_resume),
 *   - a UDP datagram: checked as a whole before it runs and parked in
 *     udp.c's deferred queue (BUSY past its limit).
 */
#include "call.h"

#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>

#include "../../common/clock.h"
#include "../../common/resp.h"
#include "runtime.h"

static const char err_oom[] = "OOM command not allowed when used memory > 'maxmemory'.";

/* ---- set-up ------------------------------------------------------------------- */

int call_observer_add(struct runtime *rt, call_observer_fn fn, void *arg)
{
    struct call_observers *o = &rt->observers;
    if (o->n == CALL_OBSERVERS_MAX)
        return -1;
    o->o[o->n].fn = fn;
    o->o[o->n].arg = arg;
    o->n++;
    return 0;
}

struct call_env *call_env_new(struct worker *w)
{
    struct call_env *env = calloc(1, sizeof(*env));
    if (env == NULL)
        return NULL;
    size_t n = 0;
    env->table = cmd_table(&n);
    /* The client part of the table may still be registered later: room
     * for all of it. */
    n += CMD_CLIENT_MAX;
    env->stats = calloc(n, sizeof(*env->stats));
    if (env->stats == NULL) {
        free(env);
        return NULL;
    }
    env->nstats = n;
    /* ~90 KiB with the operation records' scratch: apart, so an env of
     * recovery (no changes tracked) stays small on the stack. */
    env->chg = malloc(sizeof(*env->chg));
    if (env->chg == NULL) {
        free(env->stats);
        free(env);
        return NULL;
    }
    exec_changes_reset(env->chg);
    env->w = w;
    return env;
}

void call_env_free(struct call_env *env)
{
    if (env == NULL)
        return;
    HP_ASSERT(env->nparked == 0);
    free(env->chg);
    free(env->stats);
    free(env);
}

/* ---- stats -------------------------------------------------------------------- */

static inline struct cmdstat *call_stat(struct call_env *env, const struct cmd_spec *spec)
{
    if (env == NULL || env->stats == NULL)
        return NULL;
    HP_ASSERT(spec >= env->table);
    size_t ix = (size_t)(spec - env->table);
    HP_ASSERT(ix < env->nstats);
    return &env->stats[ix];
}

/* Single writer (the worker), read by INFO on any worker: relaxed atomic
 * load + store, which compile to plain moves (no locked add). */
static inline void stat_add(uint64_t *cell, uint64_t v)
{
    __atomic_store_n(cell, __atomic_load_n(cell, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

void call_count_rejected(struct call_env *env, const struct cmd_spec *spec)
{
    struct cmdstat *st = call_stat(env, spec);
    if (st != NULL)
        stat_add(&st->rejected_calls, 1);
}

static inline struct call_timer timer_start(struct call_env *env, const struct cmd_spec *spec)
{
    struct call_timer t = {.st = call_stat(env, spec), .t0 = 0};
    /* Only this worker writes st->calls: a plain read is its value. */
    if (t.st != NULL && t.st->calls % CALL_TIME_EVERY == 0)
        t.t0 = rte_rdtsc();
    return t;
}

static inline void timer_stop(const struct call_timer *t, bool failed)
{
    struct cmdstat *st = t->st;
    if (st == NULL)
        return;
    if (t->t0 != 0) {
        stat_add(&st->cycles, rte_rdtsc() - t->t0);
        stat_add(&st->timed_calls, 1);
    }
    stat_add(&st->calls, 1);
    stat_add(&st->failed_calls, failed);
}

struct call_timer call_timer_start(struct call_env *env, const struct cmd_spec *spec)
{
    return timer_start(env, spec);
}

void call_timer_stop(const struct call_timer *t, bool failed) { timer_stop(t, failed); }

void call_info_commandstats(const struct runtime *rt, struct rbuf *b)
{
    size_t n = 0;
    const struct cmd_spec *t = cmd_table(&n);
    rbuf_append(b, "# Commandstats\r\n", 16);
    for (size_t i = 0; i < n; i++) {
        struct cmdstat sum = {0};
        for (uint32_t k = 0; k < rt->nworkers; k++) {
            const struct call_env *env = rt->workers[k]->call;
            HP_ASSERT(i < env->nstats);
            const struct cmdstat *st = &env->stats[i];
            sum.calls += __atomic_load_n(&st->calls, __ATOMIC_RELAXED);
            sum.cycles += __atomic_load_n(&st->cycles, __ATOMIC_RELAXED);
            sum.timed_calls += __atomic_load_n(&st->timed_calls, __ATOMIC_RELAXED);
            sum.rejected_calls += __atomic_load_n(&st->rejected_calls, __ATOMIC_RELAXED);
            sum.failed_calls += __atomic_load_n(&st->failed_calls, __ATOMIC_RELAXED);
        }
        /* Redis lists a command once it was called or refused. */
        if (sum.calls == 0 && sum.rejected_calls == 0 && sum.failed_calls == 0)
            continue;
        /* The timed calls stand for all of them (one in CALL_TIME_EVERY). */
        double usec = sum.timed_calls == 0 ? 0.0
                      : (double)sum.cycles * 1e6 / (double)rte_get_tsc_hz() *
                            (double)sum.calls / (double)sum.timed_calls;
        char line[256];
        int len = snprintf(line, sizeof(line),
                           "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,"
                           "rejected_calls=%llu,failed_calls=%llu\r\n",
                           t[i].name, (unsigned long long)sum.calls,
                           (unsigned long long)usec,
                           sum.calls ? usec / (double)sum.calls : 0.0,
                           (unsigned long long)sum.rejected_calls,
                           (unsigned long long)sum.failed_calls);
        HP_ASSERT(len > 0 && (size_t)len < sizeof(line));
        rbuf_append(b, line, (size_t)len);
    }
}

/* ---- the execution ------------------------------------------------------------ */

void call_wait_merge(struct persist_wait *acc, const struct persist_wait *wt)
{
    for (uint64_t m = wt->mask; m; m &= m - 1) {
        uint32_t s = (uint32_t)__builtin_ctzll(m);
        /* LSNs grow per shard: the newest covers the older ones. */
        if (!(acc->mask & (1ull << s)) || acc->lsn[s] < wt->lsn[s])
            acc->lsn[s] = wt->lsn[s];
    }
    acc->mask |= wt->mask;
}

/* Write replies wait until durable (appendfsync always). */
static bool log_holds_replies(const struct runtime *rt)
{
    return rt->call_log != NULL && rt->call_log->holds_replies(rt);
}

static bool reply_is_error(const struct rbuf *out, size_t before)
{
    return out->len > before && out->data[before] == '-';
}

/* A read: nothing to admit, log, report or observe; only counted.  The hot
 * path of every GET, kept apart from the write path so that it pays for
 * none of its frame (call_exec below). */
static inline enum call_rc call_exec_read(struct call_env *env, const struct cmd_spec *spec,
                                          struct exec_ctx *x, struct persist_wait *wt)
{
    wt->mask = 0;
    x->chg = NULL;
    size_t before = x->out->len;
    struct call_timer t = timer_start(env, spec);
    spec->exec(x);
    timer_stop(&t, reply_is_error(x->out, before));
    return CALL_DONE;
}

static __attribute__((noinline)) enum call_rc
call_exec_write(struct call_env *env, const struct cmd_spec *spec, struct exec_ctx *x,
                uint32_t flags, struct persist_wait *wt)
{
    struct worker *w = env->w;
    bool write = (spec->flags & CMD_WRITE) != 0;
    bool replay = (flags & CALL_REPLAY) != 0;
    HP_ASSERT(replay || w != NULL);
    bool log = !replay && write && w->rt->call_log != NULL;
    wt->mask = 0;
    size_t before = x->out->len;
    if (log) {
        char err[256];
        uint32_t af = (flags & CALL_UDP) ? CALL_ADMIT_NO_WAIT : 0;
        enum call_admit a = w->rt->call_log->admit(w, spec, x, af, err, sizeof(err));
        if (a == CALL_ADMIT_WAIT)
            return CALL_WAIT;
        if (a == CALL_ADMIT_REFUSE) {
            resp_add_error(x->out, err);
            call_count_rejected(env, spec);
            return CALL_DONE;
        }
    }
    /* Reads report nothing, and neither does replay (nothing follows a
     * replayed write): x->chg NULL. */
    struct exec_changes *chg = write && !replay ? env->chg : NULL;
    HP_ASSERT(replay || !write || chg != NULL);
    if (chg != NULL)
        exec_changes_reset(chg);
    x->chg = chg;
    struct call_timer t = {0};
    if (!replay)
        t = timer_start(env, spec);
    spec->exec(x);
    /* Logged by what changed, also when the reply is an error: an MSET
     * out of memory part-way keeps the pairs it set. */
    if (log)
        w->rt->call_log->log_changes(w, spec, x, wt);
    if (!replay) {
        const struct call_observers *o = &w->rt->observers;
        if (chg != NULL && (chg->n > 0 || chg->overflow || chg->flushed_all || chg->flushed_dbs))
            for (uint32_t i = 0; i < o->n; i++)
                o->o[i].fn(o->o[i].arg, w, spec, x);
        timer_stop(&t, reply_is_error(x->out, before));
    }
    x->chg = NULL;
    return CALL_DONE;
}

enum call_rc call_exec(struct call_env *env, const struct cmd_spec *spec, struct exec_ctx *x,
                       uint32_t flags, struct persist_wait *wt)
{
    HP_ASSERT((flags & CALL_REPLAY) || env->w != NULL);
    if (!(spec->flags & CMD_WRITE) && !(flags & CALL_REPLAY))
        return call_exec_read(env, spec, x, wt);
    return call_exec_write(env, spec, x, flags, wt);
}

/* ---- local -------------------------------------------------------------------- */

bool call_local(struct conn *c, const struct cmd_spec *spec, int argc,
                const struct hp_slice *argv)
{
    struct worker *w = c->worker;
    struct exec_ctx x;
    struct persist_wait wt;
    bool hold = (spec->flags & CMD_WRITE) && log_holds_replies(w->rt);
    exec_ctx_init(&x, w, w->id, 1ull << w->id, c->db, c->proto, argc, argv,
                  conn_reply_target(c));
    if (!hold)
        return call_exec(w->call, spec, &x, 0, &wt) == CALL_WAIT;
    /* The reply may wait for the disk: it goes into a slot of its own,
     * reserved (with its held-queue entry) before anything runs. */
    if (!w->rt->call_log->reserve(w, 1))
        return true;
    struct reply_slot *slot = conn_slot_reserve(c);
    if (slot == NULL)
        return true;
    x.out = &slot->buf;
    if (call_exec(w->call, spec, &x, 0, &wt) == CALL_WAIT) {
        conn_slot_complete(c, slot); /* empty: adds nothing to the stream */
        return true;
    }
    if (wt.mask == 0)
        conn_slot_complete(c, slot);
    else
        w->rt->call_log->hold_slot(w, c, slot, &wt);
    return false;
}

/* ---- remote ------------------------------------------------------------------- */

/* Run a request of another worker on our shard.  CALL_WAIT: nothing ran. */
static enum call_rc call_remote_run(struct worker *w, struct xmsg *m)
{
    struct exec_ctx x;
    struct persist_wait wt;
    exec_ctx_init(&x, w, w->id, 1ull << w->id, m->db, m->proto, m->argc, m->argv, &m->reply);
    bool hold = (m->spec->flags & CMD_WRITE) && log_holds_replies(w->rt);
    if (hold && !w->rt->call_log->reserve(w, 1)) {
        resp_add_error(&m->reply, err_oom);
        xshard_return(w, m);
        return CALL_DONE;
    }
    if (call_exec(w->call, m->spec, &x, 0, &wt) == CALL_WAIT)
        return CALL_WAIT;
    if (hold && wt.mask != 0)
        w->rt->call_log->hold_msg(w, m, &wt);
    else
        xshard_return(w, m);
    return CALL_DONE;
}

static void call_park(struct call_env *env, struct xmsg *m)
{
    /* call_backlogged stops the ring drain, so only the rest of one burst
     * per peer can arrive behind the first parked request. */
    HP_ASSERT(env->nparked < CALL_PARKED_MAX);
    m->next_free = NULL; /* unused while the message is out: our link */
    if (env->parked_tail != NULL)
        env->parked_tail->next_free = m;
    else
        env->parked_head = m;
    env->parked_tail = m;
    env->nparked++;
}

void call_remote(struct worker *w, struct xmsg *m)
{
    struct call_env *env = w->call;
    /* Behind a parked request, every request waits (reads too): a client's
     * read must see its own earlier write. */
    if (env->nparked > 0 || call_remote_run(w, m) == CALL_WAIT)
        call_park(env, m);
}

bool call_backlogged(const struct worker *w)
{
    return w->call->nparked > 0;
}

static unsigned call_unpark(struct worker *w)
{
    struct call_env *env = w->call;
    unsigned n = 0;
    /* The shard may be handed over meanwhile: run only while we hold it. */
    while (env->nparked > 0 && worker_shard_free(w)) {
        struct xmsg *m = env->parked_head;
        struct xmsg *next = m->next_free;
        if (call_remote_run(w, m) == CALL_WAIT)
            break;
        env->parked_head = next;
        if (next == NULL)
            env->parked_tail = NULL;
        env->nparked--;
        n++;
    }
    return n;
}

/* ---- hand-over ---------------------------------------------------------------- */

enum call_rc call_op(struct worker *w, const struct cmd_spec *spec, struct exec_ctx *x,
                     struct conn *c, struct reply_slot *slot, bool *held)
{
    struct persist_wait wt;
    *held = false;
    bool hold = (spec->flags & CMD_WRITE) && log_holds_replies(w->rt);
    if (hold && !w->rt->call_log->reserve(w, 1)) {
        resp_add_error(x->out, err_oom);
        return CALL_DONE;
    }
    if (call_exec(w->call, spec, x, 0, &wt) == CALL_WAIT)
        return CALL_WAIT;
    if (hold && wt.mask != 0) {
        w->rt->call_log->hold_slot(w, c, slot, &wt);
        *held = true;
    }
    return CALL_DONE;
}

void call_held(struct conn *c, const struct cmd_spec *spec, struct exec_ctx *x)
{
    struct worker *w = c->worker;
    struct persist_wait wt;
    /* dispatch_held leaves writes to the normal path while the log is on:
     * nothing here can wait or be held. */
    HP_ASSERT(w->rt->persist == NULL || !(spec->flags & CMD_WRITE));
    enum call_rc rc = call_exec(w->call, spec, x, 0, &wt);
    HP_ASSERT(rc == CALL_DONE);
    HP_ASSERT(wt.mask == 0);
}

/* ---- UDP ---------------------------------------------------------------------- */

void call_udp(struct worker *w, const struct cmd_spec *spec, struct exec_ctx *x,
              struct persist_wait *acc)
{
    struct persist_wait wt;
    /* udp.c checked log room for the whole datagram before running it
     * (persist_room): its commands cannot wait one by one. */
    enum call_rc rc = call_exec(w->call, spec, x, CALL_UDP, &wt);
    HP_ASSERT(rc == CALL_DONE);
    call_wait_merge(acc, &wt);
}

/* ---- the loop ----------------------------------------------------------------- */

unsigned call_poll(struct worker *w)
{
    if (w->rt->persist == NULL)
        return 0;
    unsigned n = call_unpark(w);
    if (w->xop_paused != NULL) {
        xop_resume(w);
        n++;
    }
    return n;
}
