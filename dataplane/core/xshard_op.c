/*
 * xshard_op.c - shard hand-over and broadcasts: the owner's side (PARK,
 * RELEASE, its FIFO of waiters) and the coordinator's side (ops with a
 * body, several in flight, acquired in rounds: xgrant.h).
 *
 * Hand-over protocol.  An op whose shards are not all this worker's own is
 * run by the worker that received it (the coordinator) after every shard
 * involved was handed over to it.  A coordinator acquires the shards of its
 * current round one at a time in ascending id order, the classic total
 * order that rules out deadlock: it holds only shards below the one it
 * waits for, so no cycle of waits can form.  Each owner grants its shard in
 * FIFO order of the PARKs it received (its own rounds queue there too), and
 * a coordinator has at most one round, hence at most one PARK per owner,
 * so the FIFO is bounded by the number of workers and nobody starves.
 * A worker whose shard is held by someone (itself included) runs nothing
 * on that shard - it stops draining its request rings and stalls its own
 * clients that need it - but keeps draining control and response rings, so
 * hand-over traffic always moves.  The ring transfer (release / acquire
 * semantics of rte_ring) orders every write the owner made before PARKED
 * ahead of the coordinator's reads, and the coordinator's writes ahead of
 * RELEASE; that is the only synchronisation the shards need.
 */
#include "runtime.h"

#include <stdlib.h>
#include <string.h>

/* ---- PARK messages -------------------------------------------------------- */

int xshard_park_init(struct worker *w)
{
    xgrant_init(&w->grant);
    for (uint32_t s = 0; s < w->rt->nworkers; s++) {
        if (s == w->id)
            continue;
        struct xmsg *m = calloc(1, sizeof(*m));
        if (m == NULL)
            return -1;
        m->origin = w->id;
        m->argv = m->argv_inline;
        m->argbuf = m->arg_inline;
        m->kind = XMSG_PARK;
        w->park[s] = m;
        w->park_home |= 1ull << s;
    }
    return 0;
}

void xshard_park_free(struct worker *w)
{
    for (uint32_t s = 0; s < HP_MAX_SHARDS; s++) {
        free(w->park[s]);
        w->park[s] = NULL;
    }
    w->park_home = 0;
}

static uint64_t remote_mask(const struct worker *w)
{
    uint32_t n = w->rt->nworkers;
    uint64_t all = n == 64 ? ~0ull : (1ull << n) - 1;
    return all & ~(1ull << w->id);
}

bool xshard_idle(const struct worker *w)
{
    return w->xops_n == 0 && w->nbcasts == 0 && w->park_home == remote_mask(w);
}

/* ---- owner side ----------------------------------------------------------- */

static void waiter_push(struct worker *w, struct xmsg *m)
{
    /* One entry per coordinator at most (one round each, one PARK per
     * owner per round), and one for our own round (NULL). */
    HP_ASSERT(w->waiters_n < SHARD_WAITERS_MAX);
    w->waiters[(w->waiters_head + w->waiters_n) % SHARD_WAITERS_MAX] = m;
    w->waiters_n++;
}

void xop_on_park_request(struct worker *w, struct xmsg *m)
{
    HP_ASSERT(m->origin != w->id);
    if (w->shard_holder == SHARD_FREE) {
        w->shard_holder = m->origin;
        xshard_reply(w, m);
        return;
    }
    HP_ASSERT(w->shard_holder != m->origin);
    waiter_push(w, m);
}

/* Give the shard to the next waiter, or mark it free. */
void worker_shard_grant(struct worker *w)
{
    w->shard_holder = SHARD_FREE;
    if (w->waiters_n == 0)
        return;
    struct xmsg *m = w->waiters[w->waiters_head];
    w->waiters_head = (w->waiters_head + 1) % SHARD_WAITERS_MAX;
    w->waiters_n--;
    if (m == NULL) {
        /* Our own round waited for our own shard. */
        w->shard_holder = w->id;
        xgrant_granted(&w->grant, w->id);
        xop_advance(w);
        return;
    }
    w->shard_holder = m->origin;
    xshard_reply(w, m);
}

void xop_on_release_request(struct worker *w, struct xmsg *m)
{
    HP_ASSERT(w->shard_holder == m->origin);
    xshard_reply(w, m);
    worker_shard_grant(w);
}

/* ---- coordinator side ----------------------------------------------------- */

bool xop_room(const struct worker *w) { return w->xops_n < XOP_MAX; }

struct xop *xop_alloc(struct worker *w)
{
    if (!xop_room(w))
        return NULL;
    for (uint32_t i = 0; i < XOP_MAX; i++) {
        struct xop *op = &w->ops[i];
        if (op->active)
            continue;
        memset(op, 0, sizeof(*op));
        op->id = i;
        op->active = true;
        w->xops_n++;
        if (w->xops_n > w->stats.xops_in_flight_peak)
            w->stats.xops_in_flight_peak = w->xops_n;
        return op;
    }
    HP_ASSERT(!"xops_n disagrees with the active ops");
    return NULL;
}

void xop_submit(struct worker *w, struct xop *op, uint64_t need, xop_body_fn body, void *arg)
{
    HP_ASSERT(op->active && op == &w->ops[op->id]);
    HP_ASSERT(need != 0);
    HP_ASSERT(body != NULL);
    op->need = need;
    op->body = body;
    op->arg = arg;
    xgrant_push(&w->grant, op->id, need, op->solo);
    /* Everything this worker queued for those shards goes first. */
    xshard_flush(w);
    if (!w->xop_running)
        xop_advance(w);
}

/* After its body ran: answer, free, and let the connection go on. */
static void xop_complete(struct worker *w, struct xop *op)
{
    struct conn *c = op->conn;
    if (op->args != NULL)
        xmsg_free(w, op->args);
    if (c != NULL) {
        if (!op->reply_held)
            conn_slot_complete(c, op->slot);
        HP_ASSERT(c->xops > 0);
        c->xops--;
        conn_maybe_free(c);
    }
    op->active = false;
    HP_ASSERT(w->xops_n > 0);
    w->xops_n--;
}

static void xop_run_round(struct worker *w)
{
    struct xgrant *g = &w->grant;
    uint64_t held = g->held;
    w->xop_running = true;
    /* A round paused for log room goes on from the op that waited. */
    struct xop *paused = w->xop_paused;
    w->xop_paused = NULL;
    for (uint32_t id = paused ? paused->id : xgrant_pop(g); id != XG_NONE; id = xgrant_pop(g)) {
        struct xop *op = &w->ops[id];
        HP_ASSERT(op->active);
        HP_ASSERT((op->need & ~held) == 0);
        enum xop_rc rc = op->body(w, op, held, op->arg);
        if (rc == XOP_WAIT) {
            /* Nothing of it ran.  The round keeps every shard (the ops
             * behind it must not overtake it) and call_poll resumes it
             * when the log has room: waiting through the loop, never
             * sleeping on a held shard. */
            op->log_wait = true;
            w->xop_paused = op;
            w->xop_running = false;
            return;
        }
        op->log_wait = false;
        op->reply_held = rc == XOP_REPLY_HELD;
        w->stats.parked_ops++;
        xop_complete(w, op);
    }
    /* While every shard of the round is held, serve the other requests
     * waiting on this worker for the same shards (conn.c). */
    conn_run_held_all(w, held);
    w->xop_running = false;
    uint64_t release = xgrant_end(g);
    /* Release in any order: nobody waits on a release. */
    for (uint64_t r = release & ~(1ull << w->id); r; r &= r - 1) {
        uint32_t s = (uint32_t)__builtin_ctzll(r);
        struct xmsg *m = w->park[s];
        HP_ASSERT(!(w->park_home & (1ull << s)));
        m->kind = XMSG_RELEASE;
        xshard_send(w, s, m);
    }
    if (release & (1ull << w->id)) {
        HP_ASSERT(w->shard_holder == w->id);
        worker_shard_grant(w);
    }
}

/* Ask for shard s; true when granted on the spot (our own, free). */
static bool xop_ask(struct worker *w, uint32_t s)
{
    struct xgrant *g = &w->grant;
    if (s == w->id) {
        xgrant_ask(g, s);
        if (w->shard_holder == SHARD_FREE) {
            w->shard_holder = w->id;
            xgrant_granted(g, s);
            return true;
        }
        HP_ASSERT(w->shard_holder != w->id);
        waiter_push(w, NULL); /* worker_shard_grant continues */
        return false;
    }
    /* The message is travelling back from the last round's RELEASE: wait
     * for it (xop_on_released continues). */
    if (!(w->park_home & (1ull << s)))
        return false;
    xgrant_ask(g, s);
    struct xmsg *m = w->park[s];
    w->park_home &= ~(1ull << s);
    m->kind = XMSG_PARK;
    xshard_send(w, s, m);
    xshard_flush(w);
    return false;
}

void xop_advance(struct worker *w)
{
    struct xgrant *g = &w->grant;
    HP_ASSERT(!w->xop_running);
    for (;;) {
        if (!xgrant_in_round(g) && !xgrant_begin(g))
            return;
        if (g->asked != XG_NONE)
            return; /* a grant is on its way */
        uint32_t s = xgrant_next(g);
        if (s == XG_NONE) {
            /* The next round begins on the next loop iteration
             * (xop_poll), after the stalled connections had their turn:
             * a stream of ops must not keep our own shard from them. */
            xop_run_round(w);
            return;
        }
        if (!xop_ask(w, s))
            return;
    }
}

void xop_resume(struct worker *w)
{
    HP_ASSERT(w->xop_paused != NULL);
    HP_ASSERT(w->xop_paused->log_wait);
    HP_ASSERT(!w->xop_running);
    HP_ASSERT(xgrant_in_round(&w->grant));
    /* The round's shards are still held; an op that joined meanwhile may
     * still need one more: xop_advance asks for it, or runs the round from
     * the paused op. */
    xop_advance(w);
}

unsigned xop_poll(struct worker *w)
{
    struct xgrant *g = &w->grant;
    if (xgrant_in_round(g) || xgrant_queued(g) == 0)
        return 0;
    xop_advance(w);
    return 1;
}

void xop_on_parked(struct worker *w, struct xmsg *m)
{
    HP_ASSERT(m == w->park[m->target]);
    xgrant_granted(&w->grant, m->target);
    xop_advance(w);
}

void xop_on_released(struct worker *w, struct xmsg *m)
{
    HP_ASSERT(m == w->park[m->target]);
    HP_ASSERT(!(w->park_home & (1ull << m->target)));
    w->park_home |= 1ull << m->target;
    m->kind = XMSG_PARK;
    if (!w->xop_running)
        xop_advance(w); /* a round may wait for this message */
}

/* ---- broadcasts ---------------------------------------------------------- */

struct bcast *bcast_alloc(struct worker *w)
{
    if (w->nbcasts >= BCAST_MAX)
        return NULL;
    struct bcast *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    w->nbcasts++;
    if (w->nbcasts > w->stats.broadcasts_in_flight_peak)
        w->stats.broadcasts_in_flight_peak = w->nbcasts;
    return b;
}

static void bcast_free(struct worker *w, struct bcast *b)
{
    HP_ASSERT(w->nbcasts > 0);
    w->nbcasts--;
    free(b);
}

static void bcast_finish(struct worker *w, struct bcast *b)
{
    struct conn *c = b->conn;
    b->done(&b->req, b->parts, w->rt->nworkers, &b->slot->buf);
    conn_slot_complete(c, b->slot);
    for (uint32_t i = 0; i < w->rt->nworkers; i++)
        rbuf_free(&b->parts[i]);
    xmsg_free(w, b->args);
    bcast_free(w, b);
    HP_ASSERT(c->bcasts > 0);
    c->bcasts--;
    conn_maybe_free(c);
}

/* An allocation failed before start: undo bcast_alloc. */
void bcast_abandon(struct worker *w, struct bcast *b) { bcast_free(w, b); }

void bcast_start(struct worker *w, struct bcast *b)
{
    struct runtime *rt = w->rt;
    b->outstanding = rt->nworkers;
    for (uint32_t t = 0; t < rt->nworkers; t++) {
        if (t == w->id) {
            b->part(w, &b->req, &b->parts[t]);
            b->outstanding--;
            continue;
        }
        struct xmsg *m = xmsg_alloc(w);
        HP_ASSERT(m != NULL); /* reserved by the caller (dispatch) */
        m->kind = XMSG_BCAST;
        m->bcast = b;
        xshard_send(w, t, m);
    }
    if (b->outstanding == 0)
        bcast_finish(w, b);
}

void bcast_on_part(struct worker *w, struct xmsg *m)
{
    struct bcast *b = m->bcast;
    struct rbuf tmp = b->parts[m->target];
    b->parts[m->target] = m->reply;
    m->reply = tmp;
    xmsg_free(w, m);
    HP_ASSERT(b->outstanding > 0);
    if (--b->outstanding == 0)
        bcast_finish(w, b);
}
