/*
 * udp.c - docs/PROTOCOL.md over kernel UDP, one hpclient session per flow.
 *
 * hpclient does the protocol work (cookies, retransmission with the same
 * request id, reassembly); this file only keeps the window full and maps
 * finished requests back to their slots by tag.  Replies complete out of
 * order, so a flow's slots are a pool here, not a ring.
 *
 * Steering (--steer): hotpathd serves shard N on UDP port base + N, so
 * each flow has one session per shard port and a request goes to the port
 * of the shard that owns its keys; without steering every request goes to
 * the base port and the receiving worker hands it to the owner.
 *
 * Timing: the latency is taken when hpc_recv hands the request back, which
 * the loop polls without sleeping while requests are outstanding; the
 * polling adds at most one loop pass (microseconds) to a latency.
 */
#include "transport.h"

#include "hpclient.h"

#include <string.h>
#include <time.h>

struct udp_ctx {
    struct pg_engine *e;
    uint32_t nports;             /* sessions per flow: shards when steering, else 1 */
    struct hpc_client **cli;     /* flows x nports */
    struct pgw_reply elems[WL_MAX_MGET];
};

struct udp_emit_ctx {
    struct udp_ctx *u;
    uint32_t flow;
    struct pg_slot *slot;
};

static struct hpc_client *client_of(struct udp_ctx *u, uint32_t flow, uint32_t sub)
{
    return u->cli[(size_t)flow * u->nports + sub];
}

static uint32_t flow_outstanding(struct udp_ctx *u, uint32_t flow)
{
    uint32_t n = 0;
    for (uint32_t p = 0; p < u->nports; p++)
        n += hpc_outstanding(client_of(u, flow, p));
    return n;
}

/* The engine fixes the slot's shard before it emits the first command,
 * so the session (port) can be chosen here. */
static bool udp_emit(void *ctx, int argc, const char *const *argv, const size_t *argvlen)
{
    struct udp_emit_ctx *x = ctx;
    struct pg_slot *s = x->slot;
    s->client = (uint16_t)(x->u->nports > 1 && s->shard != PG_SHARD_ANY ? s->shard : 0);
    return hpc_append(client_of(x->u, x->flow, s->client), argc, argv, argvlen) == HPC_OK;
}

static struct pg_slot *free_slot(struct pg_engine *e, struct pg_flow *f)
{
    for (uint32_t w = 0; w < e->o.window; w++)
        if (!f->slots[w].busy)
            return &f->slots[w];
    return NULL;
}

static struct pg_slot *slot_of_tag(struct pg_engine *e, struct pg_flow *f, uint32_t sub,
                                   uint64_t tag)
{
    for (uint32_t w = 0; w < e->o.window; w++)
        if (f->slots[w].busy && f->slots[w].tag == tag && f->slots[w].client == sub)
            return &f->slots[w];
    return NULL;
}

/* hpclient's parsed reply as the engine's flat form; false if it is an
 * aggregate pktgen never asks for. */
static bool convert(const struct hpc_reply *h, struct pgw_reply *r)
{
    memset(r, 0, sizeof(*r));
    switch (h->type) {
    case HPC_REPLY_STRING: r->type = PGW_STATUS; break;
    case HPC_REPLY_ERROR: r->type = PGW_ERROR; break;
    case HPC_REPLY_INTEGER: r->type = PGW_INT; r->integer = h->integer; return true;
    case HPC_REPLY_BULK: r->type = PGW_BULK; break;
    case HPC_REPLY_NIL: r->type = PGW_NIL; return true;
    default: return false;
    }
    r->str = h->str;
    r->len = h->len;
    return true;
}

static void udp_finished(struct udp_ctx *u, uint32_t i, uint32_t sub, struct hpc_result *res,
                         uint64_t now)
{
    struct pg_engine *e = u->e;
    struct pg_slot *s = slot_of_tag(e, &e->flows[i], sub, res->tag);
    HP_ASSERT(s != NULL);
    if (res->status != HPC_OK) {
        char why[96];
        snprintf(why, sizeof(why), "%s%s%s", hpc_strerror(res->status),
                 res->status == HPC_E_SERVER ? " " : "",
                 res->status == HPC_E_SERVER ? hpproto_status_name(res->server_status) : "");
        if (res->status != HPC_E_TIMEOUT)
            e->total.proto_errors++;
        pg_lost(e, s, why);
        return;
    }
    HP_ASSERT(res->nreplies == s->ncmds);
    for (uint32_t k = 0; k < s->ncmds; k++) {
        const struct hpc_reply *h = &res->replies[k];
        struct pgw_reply r;
        bool ok = true;
        if (h->type == HPC_REPLY_ARRAY) {
            memset(&r, 0, sizeof(r));
            r.type = PGW_ARRAY;
            r.nelem = (uint32_t)h->nelem;
            ok = h->nelem <= WL_MAX_MGET;
            for (size_t j = 0; ok && j < h->nelem; j++)
                ok = convert(&h->elem[j], &u->elems[j]);
        } else {
            ok = convert(h, &r);
        }
        if (!ok) {
            memset(&r, 0, sizeof(r));
            r.type = PGW_STATUS;     /* an unexpected type for every op */
            r.str = "unexpected reply type";
            r.len = strlen(r.str);
        }
        pg_check(e, s, k, &r, u->elems);
    }
    pg_complete(e, s, now);
}

static void udp_fill(struct udp_ctx *u, uint32_t i, uint64_t now)
{
    struct pg_engine *e = u->e;
    struct pg_flow *f = &e->flows[i];
    uint64_t intended;
    while (flow_outstanding(u, i) < e->o.window && pg_may_send(e, f, now, &intended)) {
        struct pg_slot *s = free_slot(e, f);
        HP_ASSERT(s != NULL);
        struct udp_emit_ctx x = {u, i, s};
        if (!pg_build(e, f, s, intended, now, udp_emit, &x))
            break;
        enum hpc_err err = hpc_send(client_of(u, i, s->client), &s->tag);
        if (err != HPC_OK) {
            pg_lost(e, s, hpc_strerror(err));
            e->total.proto_errors++;
            break;
        }
    }
}

static bool udp_idle(struct udp_ctx *u)
{
    for (uint32_t i = 0; i < u->e->o.flows; i++)
        if (flow_outstanding(u, i))
            return false;
    return true;
}

static void udp_phase(struct udp_ctx *u, enum pg_phase ph)
{
    struct pg_engine *e = u->e;
    if (!pg_phase_begin(e, ph, pg_now_ns()))
        return;
    for (;;) {
        uint64_t now = pg_now_ns();
        bool sending = !pg_phase_sending_done(e, now);
        if (sending)
            for (uint32_t i = 0; i < e->o.flows; i++)
                udp_fill(u, i, now);
        if (!sending && udp_idle(u))
            break;
        bool got = false;
        for (uint32_t i = 0; i < e->o.flows; i++) {
            for (uint32_t p = 0; p < u->nports; p++) {
                struct hpc_result res;
                while (hpc_recv(client_of(u, i, p), 0, &res) == HPC_OK) {
                    udp_finished(u, i, p, &res, pg_now_ns());
                    hpc_result_free(&res);
                    got = true;
                }
            }
        }
        if (!got && e->o.rate == 0 && e->o.flows == 1 && u->nports == 1 &&
            hpc_outstanding(u->cli[0])) {
            /* Closed loop, one session: nothing to do until a reply. */
            struct hpc_result res;
            if (hpc_recv(u->cli[0], 10, &res) == HPC_OK) {
                udp_finished(u, 0, 0, &res, pg_now_ns());
                hpc_result_free(&res);
            }
        }
        pg_progress(e, pg_now_ns());
    }
    pg_phase_end(e, pg_now_ns());
}

int pg_udp_run(struct pg_engine *e)
{
    struct udp_ctx u = {.e = e};
    int rc = -1;
    u.nports = e->o.steer ? e->o.shards : 1;
    size_t nclients = (size_t)e->o.flows * u.nports;
    u.cli = calloc(nclients, sizeof(*u.cli));
    if (!u.cli) {
        snprintf(e->fatal, sizeof(e->fatal), "out of memory");
        return -1;
    }
    struct hpc_config cfg;
    hpc_config_defaults(&cfg);
    cfg.host = e->o.host;
    cfg.max_outstanding = e->o.window;
    /* Spread the retry budget over the loss timeout: 100 ms first, doubling. */
    cfg.timeout_ms = HP_MIN(100u, e->o.timeout_ms);
    if (pg_max_request_bytes(e) + HPPROTO_HDR_LEN > cfg.max_datagram) {
        snprintf(e->fatal, sizeof(e->fatal),
                 "a request of %u commands can reach %zu bytes, more than a %u-byte datagram: "
                 "lower --cmds, --mget-batch or --value-size", e->o.cmds,
                 pg_max_request_bytes(e) + HPPROTO_HDR_LEN, cfg.max_datagram);
        goto out;
    }
    if ((uint32_t)e->o.port + u.nports - 1 > 65535) {
        snprintf(e->fatal, sizeof(e->fatal), "port + shards exceeds 65535");
        goto out;
    }
    for (uint32_t i = 0; i < e->o.flows; i++) {
        for (uint32_t p = 0; p < u.nports; p++) {
            cfg.port = (uint16_t)(e->o.port + p);
            u.cli[(size_t)i * u.nports + p] = hpc_open(&cfg, e->fatal, sizeof(e->fatal));
            if (!u.cli[(size_t)i * u.nports + p])
                goto out;
        }
    }
    for (int ph = 0; ph < PG_PHASE_COUNT; ph++)
        udp_phase(&u, (enum pg_phase)ph);
    rc = 0;
out:
    for (size_t k = 0; k < nclients; k++) {
        if (!u.cli[k])
            continue;
        const struct hpc_stats *st = hpc_get_stats(u.cli[k]);
        e->total.retries += st->retransmits;
        hpc_close(u.cli[k]);
    }
    free(u.cli);
    return rc;
}
