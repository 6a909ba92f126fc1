/*
 * xshard.c - cross-shard messaging: message pools, batched ring transfer,
 * remote execution, shard hand-over ("parking") for multi-shard commands,
 * and broadcasts.  See runtime.h for the ring layout.
 *
 * The hand-over itself (PARK/RELEASE, ops with a body, broadcasts) lives
 * in xshard_op.c, its order of acquisition in xshard_grant.c.
 */
#include "runtime.h"

#include <errno.h>
#include <rte_errno.h>
#include <string.h>
#include <unistd.h>

#include "../../common/log.h"
#include "../../common/resp.h"

/* ---- rings ---------------------------------------------------------------- */

static struct rte_ring *ring_make(const char *kind, uint32_t from, uint32_t to)
{
    char name[RTE_RING_NAMESIZE];
    snprintf(name, sizeof(name), "hp_%s_%u_%u", kind, from, to);
    struct rte_ring *r = rte_ring_create(name, XSHARD_RING_SIZE, SOCKET_ID_ANY,
                                         RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (r == NULL)
        log_warning("cannot create ring %s: %s", name, rte_strerror(rte_errno));
    return r;
}

int xshard_rings_create(struct runtime *rt)
{
    for (uint32_t o = 0; o < rt->nworkers; o++) {
        for (uint32_t t = 0; t < rt->nworkers; t++) {
            if (o == t)
                continue;
            rt->req[o][t] = ring_make("rq", o, t);
            rt->ctl[o][t] = ring_make("ct", o, t);
            rt->resp[t][o] = ring_make("rs", t, o);
            if (!rt->req[o][t] || !rt->ctl[o][t] || !rt->resp[t][o])
                return -1;
        }
    }
    return 0;
}

void xshard_rings_free(struct runtime *rt)
{
    for (uint32_t o = 0; o < rt->nworkers; o++) {
        for (uint32_t t = 0; t < rt->nworkers; t++) {
            rte_ring_free(rt->req[o][t]);
            rte_ring_free(rt->ctl[o][t]);
            rte_ring_free(rt->resp[o][t]);
            rt->req[o][t] = rt->ctl[o][t] = rt->resp[o][t] = NULL;
        }
    }
}

/* ---- message pool --------------------------------------------------------- */

struct xmsg *xmsg_alloc(struct worker *w)
{
    struct xmsg *m = w->free_msgs;
    /* The whole pool is allocated at start-up (xshard_pool_init), so an
     * empty free list means XMSG_POOL_MAX messages are out. */
    if (m == NULL)
        return NULL;
    w->free_msgs = m->next_free;
    m->next_free = NULL;
    m->kind = 0;
    m->origin = w->id;
    m->argc = 0;
    m->argv = m->argv_inline;
    m->argbuf = m->arg_inline;
    m->argbuf_cap = sizeof(m->arg_inline);
    m->conn = NULL;
    m->slot = NULL;
    m->bcast = NULL;
    m->udp_mbuf = NULL;
    m->spec = NULL;
    rbuf_reset(&m->reply);
    w->msgs_out++;
    return m;
}

void xmsg_free(struct worker *w, struct xmsg *m)
{
    HP_ASSERT(m->origin == w->id);
    HP_ASSERT(w->msgs_out > 0);
    if (m->argv != m->argv_inline)
        free(m->argv);
    if (m->argbuf != m->arg_inline)
        free(m->argbuf);
    m->argv = m->argv_inline;
    m->argbuf = m->arg_inline;
    /* Keep small reply buffers for reuse; give big ones back. */
    if (m->reply.cap > XMSG_REPLY_KEEP) {
        size_t limit = m->reply.limit;
        rbuf_free(&m->reply);
        rbuf_init(&m->reply, limit);
    }
    m->next_free = w->free_msgs;
    w->free_msgs = m;
    w->msgs_out--;
}

int xshard_pool_init(struct worker *w)
{
    size_t limit = (size_t)CONFIG_RT_GET(w->rt->cfg, client_output_buffer_limit);
    for (uint32_t i = 0; i < XMSG_POOL_MAX; i++) {
        struct xmsg *m = calloc(1, sizeof(*m));
        if (m == NULL)
            return -1;
        rbuf_init(&m->reply, limit);
        m->origin = w->id;
        m->next_free = w->free_msgs;
        w->free_msgs = m;
        w->msgs_allocated++;
    }
    return xshard_park_init(w);
}

uint32_t xmsg_available(const struct worker *w)
{
    return XMSG_POOL_MAX - w->msgs_out;
}

void xshard_free_pools(struct worker *w)
{
    xshard_park_free(w);
    while (w->free_msgs) {
        struct xmsg *m = w->free_msgs;
        w->free_msgs = m->next_free;
        rbuf_free(&m->reply);
        free(m);
    }
}

/* Copy argv into the message so it outlives the client's input buffer. */
int xmsg_copy_args(struct xmsg *m, int argc, const struct hp_slice *argv)
{
    size_t total = 0;
    for (int i = 0; i < argc; i++)
        total += argv[i].len;
    if (argc > XMSG_INLINE_ARGV) {
        m->argv = malloc(sizeof(*m->argv) * (size_t)argc);
        if (m->argv == NULL) {
            m->argv = m->argv_inline;
            return -1;
        }
    }
    if (total > sizeof(m->arg_inline)) {
        m->argbuf = malloc(total);
        if (m->argbuf == NULL) {
            m->argbuf = m->arg_inline;
            return -1;
        }
        m->argbuf_cap = total;
    }
    size_t off = 0;
    for (int i = 0; i < argc; i++) {
        if (argv[i].len)
            memcpy(m->argbuf + off, argv[i].ptr, argv[i].len);
        m->argv[i] = hp_slice_make(m->argbuf + off, argv[i].len);
        off += argv[i].len;
    }
    m->argc = argc;
    return 0;
}

/* ---- sending -------------------------------------------------------------- */

static void ring_put(struct rte_ring *r, struct xmsg **v, uint32_t n)
{
    if (n == 0)
        return;
    unsigned done = rte_ring_sp_enqueue_burst(r, (void **)v, n, NULL);
    /* Rings are larger than all messages that can exist (runtime.h). */
    HP_ASSERT(done == n);
}

static void queue_push(struct worker *w, struct xmsg *(*q)[XSHARD_BURST], uint32_t *qn,
                       struct rte_ring *ring, uint32_t target, struct xmsg *m)
{
    if (qn[target] == XSHARD_BURST) {
        ring_put(ring, q[target], qn[target]);
        qn[target] = 0;
        w->wake_targets |= 1ull << target;
    }
    q[target][qn[target]++] = m;
}

void xshard_send(struct worker *w, uint32_t target, struct xmsg *m)
{
    HP_ASSERT(target != w->id && target < w->rt->nworkers);
    m->target = target;
    if (m->kind == XMSG_PARK || m->kind == XMSG_RELEASE)
        queue_push(w, w->ctlq, w->ctlq_n, w->rt->ctl[w->id][target], target, m);
    else
        queue_push(w, w->outq, w->outq_n, w->rt->req[w->id][target], target, m);
}

/* Return a message to its origin (after executing it, or to acknowledge). */
void xshard_reply(struct worker *w, struct xmsg *m)
{
    queue_push(w, w->respq, w->respq_n, w->rt->resp[w->id][m->origin], m->origin, m);
}

/* persist.c returns a write's message once its records are durable. */
void xshard_return(struct worker *w, struct xmsg *m) { xshard_reply(w, m); }

void xshard_flush(struct worker *w)
{
    struct runtime *rt = w->rt;
    for (uint32_t t = 0; t < rt->nworkers; t++) {
        if (t == w->id)
            continue;
        if (w->ctlq_n[t] | w->outq_n[t] | w->respq_n[t])
            w->wake_targets |= 1ull << t;
        ring_put(rt->ctl[w->id][t], w->ctlq[t], w->ctlq_n[t]);
        ring_put(rt->req[w->id][t], w->outq[t], w->outq_n[t]);
        ring_put(rt->resp[w->id][t], w->respq[t], w->respq_n[t]);
        w->ctlq_n[t] = w->outq_n[t] = w->respq_n[t] = 0;
    }
    while (w->wake_targets) {
        uint32_t t = (uint32_t)__builtin_ctzll(w->wake_targets);
        w->wake_targets &= w->wake_targets - 1;
        worker_wake(rt->workers[t]);
    }
}

bool xshard_pending_input(struct worker *w)
{
    struct runtime *rt = w->rt;
    for (uint32_t o = 0; o < rt->nworkers; o++) {
        if (o == w->id)
            continue;
        if (!rte_ring_empty(rt->ctl[o][w->id]) || !rte_ring_empty(rt->resp[o][w->id]))
            return true;
        if (worker_shard_free(w) && !rte_ring_empty(rt->req[o][w->id]))
            return true;
    }
    return false;
}

/* ---- executing on this worker (target side) --------------------------------- */

/* ---- the command body of a hand-over op (xshard_op.c runs it) ------------- */

enum xop_rc xop_body_command(struct worker *w, struct xop *op, uint64_t held, void *arg)
{
    (void)arg;
    HP_ASSERT((op->need & ~held) == 0);
    HP_ASSERT(op->conn != NULL);
    HP_ASSERT(op->slot != NULL);
    HP_ASSERT(op->args != NULL);
    struct xmsg *a = op->args;
    struct exec_ctx x;
    /* The command sees the shards it asked for, not the whole round's
     * (FLUSHALL logs per shard of held_mask, admission checks them). */
    exec_ctx_init(&x, w, w->id, op->need, op->db, op->proto, a->argc, a->argv, &op->slot->buf);
    /* With the append-only log a write's reply may be held until durable
     * (persist.c completes the slot then), or the log has no room yet:
     * nothing ran, the round keeps its shards and runs it again. */
    bool held_reply = false;
    if (call_op(w, op->spec, &x, op->conn, op->slot, &held_reply) == CALL_WAIT)
        return XOP_WAIT;
    return held_reply ? XOP_REPLY_HELD : XOP_REPLIED;
}

static void bcast_part_remote(struct worker *w, struct xmsg *m)
{
    struct bcast *b = m->bcast;
    /* The bcast state lives on the origin; only its immutable request part
     * and our own parts[] entry are touched here (rt->workers are fixed). */
    b->part(w, &b->req, &m->reply);
}

/* ---- draining ------------------------------------------------------------- */

static void on_response(struct worker *w, struct xmsg *m)
{
    switch (m->kind) {
    case XMSG_EXEC: {
        struct reply_slot *slot = m->slot;
        struct conn *c = m->conn;
        if (m->reply.overflow) {
            c->flags |= CONN_CLOSE_ASAP;
        } else if (slot->buf.len == 0 && !slot->buf.overflow) {
            /* Steal the reply buffer instead of copying it. */
            struct rbuf tmp = slot->buf;
            slot->buf = m->reply;
            m->reply = tmp;
        } else {
            rbuf_append(&slot->buf, m->reply.data, m->reply.len);
        }
        HP_ASSERT(c->pending > 0);
        c->pending--;
        xmsg_free(w, m);
        conn_slot_complete(c, slot);
        conn_maybe_free(c);
        break;
    }
    case XMSG_BCAST:
        bcast_on_part(w, m);
        break;
    case XMSG_PARK:
        xop_on_parked(w, m);
        break;
    case XMSG_RELEASE:
        xop_on_released(w, m);
        break;
    case XMSG_UDP:
        xmsg_free(w, m);
        break;
    default:
        HP_ASSERT(!"unknown message kind");
    }
}

static void on_request(struct worker *w, struct xmsg *m)
{
    switch (m->kind) {
    case XMSG_EXEC:
        call_remote(w, m); /* replies now, once durable, or after waiting for log room */
        break;
    case XMSG_BCAST:
        bcast_part_remote(w, m);
        xshard_reply(w, m);
        break;
    case XMSG_PARK:
        xop_on_park_request(w, m);
        break;
    case XMSG_RELEASE:
        xop_on_release_request(w, m);
        break;
    case XMSG_UDP:
        /* The target replies on its own TX queue; the message only goes
         * back so that the origin's pool stays single-threaded. */
        HP_ASSERT(w->rt->udp_up != NULL);
        w->rt->udp_up->on_forward(w, m->udp_mbuf);
        m->udp_mbuf = NULL;
        xshard_reply(w, m);
        break;
    default:
        HP_ASSERT(!"unknown message kind");
    }
}

static unsigned drain(struct worker *w, struct rte_ring *r, bool request)
{
    struct xmsg *v[XSHARD_BURST];
    unsigned n = rte_ring_sc_dequeue_burst(r, (void **)v, XSHARD_BURST, NULL);
    for (unsigned i = 0; i < n; i++) {
        if (request)
            on_request(w, v[i]);
        else
            on_response(w, v[i]);
    }
    return n;
}

unsigned xshard_poll(struct worker *w)
{
    struct runtime *rt = w->rt;
    unsigned n = 0;
    for (uint32_t o = 0; o < rt->nworkers; o++) {
        if (o == w->id)
            continue;
        n += drain(w, rt->ctl[o][w->id], true);
        n += drain(w, rt->resp[o][w->id], false);
        /* Requests run on our shard only while nobody holds it; a holder
         * may be writing to it from its own thread right now. */
        if (worker_shard_free(w) && !call_backlogged(w))
            n += drain(w, rt->req[o][w->id], true);
    }
    return n;
}
