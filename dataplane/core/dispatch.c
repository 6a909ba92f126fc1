/*
 * dispatch.c - routes one parsed command: look it up, check arity, find the
 * shards it touches, then run it here, ship it to the owning worker, or
 * coordinate a multi-shard execution.  See xshard_op.c for the hand-over
 * protocol and conn.c for how replies keep request order.
 *
 * A command returns DISPATCH_STALL, without any effect, when a resource it
 * needs is busy (our shard is handed over, the message pool is empty, all
 * XOP_MAX ops or BCAST_MAX broadcasts of this worker are in flight, or the
 * command must not overtake this connection's ops still in flight); the
 * connection then re-parses the same request later.  Nothing here blocks.
 */
#include "runtime.h"

#include <errno.h>
#include <string.h>

#include "../../common/clock.h"
#include "../../common/resp.h"
#include "../../common/strutil.h"

void exec_ctx_init(struct exec_ctx *x, struct worker *w, uint32_t home, uint64_t held_mask,
                   uint32_t db, uint8_t proto, int argc, const struct hp_slice *argv,
                   struct rbuf *out)
{
    struct runtime *rt = w->rt;
    x->shards = rt->shards;
    x->slot_to_shard = rt->slot_to_shard;
    x->nshards = rt->nworkers;
    x->home = home;
    x->held_mask = held_mask;
    x->db = db;
    x->proto = proto;
    x->now_ms = w->now_ms;
    x->max_bulk = CONFIG_RT_GET(rt->cfg, proto_max_bulk_len);
    x->argc = argc;
    x->argv = argv;
    x->out = out;
    x->chg = NULL;
    x->keyspace_hits = &w->stats.keyspace_hits;
    x->keyspace_misses = &w->stats.keyspace_misses;
}

uint64_t dispatch_key_mask(struct worker *w, const struct cmd_spec *spec, int argc,
                           const struct hp_slice *argv)
{
    /* A malformed key count or key range is the command's own syntax
     * error: no keys, so it runs on the connection's worker and its
     * handler replies the error (Redis Cluster routes such a command the
     * same way).  NOT_KEY specs name what routes like a key. */
    const uint16_t *map = w->rt->slot_to_shard;
    /* Most commands name one key at a fixed position (GET, SET, INCR...):
     * the same answer as cmd_keys_find, without walking the spec. */
    int k = cmd_keys_single(spec, argc);
    if (k > 0)
        return w->rt->nworkers == 1 ? 1 : 1ull << map[slot_of_key(argv[k].ptr, argv[k].len)];
    struct cmd_key_ranges kr;
    if (cmd_keys_find(spec, argc, argv, true, &kr) != CMD_KEYS_OK || kr.nkeys == 0)
        return 0;
    if (w->rt->nworkers == 1)
        return 1; /* the only shard; no slot to compute */
    uint64_t mask = 0;
    for (int j = 0; j < kr.n; j++)
        for (int i = kr.r[j].first; i <= kr.r[j].last; i += kr.r[j].step)
            mask |= 1ull << map[slot_of_key(argv[i].ptr, argv[i].len)];
    return mask;
}

static uint64_t all_shards_mask(const struct worker *w)
{
    uint32_t n = w->rt->nworkers;
    return n == 64 ? ~0ull : (1ull << n) - 1;
}

static void count_command(struct conn *c, const struct cmd_spec *spec)
{
    struct worker *w = c->worker;
    w->stats.total_commands_processed++;
    c->ncmds++;
    c->last_cmd = spec->name;
    c->last_ms = w->now_ms;
}

static enum dispatch_rc run_local(struct conn *c, const struct cmd_spec *spec, int argc,
                                  const struct hp_slice *argv)
{
    struct worker *w = c->worker;
    if (!worker_shard_free(w))
        return DISPATCH_STALL;
    return call_local(c, spec, argc, argv) ? DISPATCH_STALL : DISPATCH_DONE;
}

static void reply_oom(struct conn *c)
{
    resp_add_error(conn_reply_target(c), "OOM command not allowed when used memory > 'maxmemory'.");
}

static enum dispatch_rc run_remote(struct conn *c, const struct cmd_spec *spec, uint32_t target,
                                   int argc, const struct hp_slice *argv)
{
    struct worker *w = c->worker;
    if (xmsg_available(w) == 0)
        return DISPATCH_STALL;
    struct xmsg *m = xmsg_alloc(w);
    HP_ASSERT(m != NULL);
    if (xmsg_copy_args(m, argc, argv) != 0) {
        xmsg_free(w, m);
        reply_oom(c);
        return DISPATCH_DONE;
    }
    struct reply_slot *slot = conn_slot_reserve(c);
    if (slot == NULL) {
        xmsg_free(w, m);
        return DISPATCH_STALL;
    }
    m->kind = XMSG_EXEC;
    m->spec = spec;
    m->db = c->db;
    m->proto = c->proto;
    m->conn = c;
    m->slot = slot;
    c->pending++;
    w->stats.remote_requests++;
    xshard_send(w, target, m);
    return DISPATCH_DONE;
}

/*
 * A multi-shard command becomes a hand-over op with the command body.
 * Several of one connection may be in flight (a pipeline of DBSIZE or
 * cross-shard MSET does not wait a round trip each): the worker runs its
 * ops in arrival order, and the connection's reply slots keep the replies
 * in request order.  Any other command of the connection waits until they
 * are done (route), so nothing overtakes them.
 */
static enum dispatch_rc run_multi(struct conn *c, const struct cmd_spec *spec, uint64_t mask,
                                  int argc, const struct hp_slice *argv)
{
    struct worker *w = c->worker;
    /* Wait for this client's earlier remote commands, so the multi-shard
     * command observes them (they travel on rings the hand-over does not
     * order against); and for its broadcasts, likewise. */
    if (c->pending > 0 || c->bcasts > 0 || !xop_room(w) || xmsg_available(w) == 0)
        return DISPATCH_STALL;
    struct xmsg *args = xmsg_alloc(w);
    HP_ASSERT(args != NULL);
    if (xmsg_copy_args(args, argc, argv) != 0) {
        xmsg_free(w, args);
        reply_oom(c);
        return DISPATCH_DONE;
    }
    struct reply_slot *slot = conn_slot_reserve(c);
    if (slot == NULL) {
        xmsg_free(w, args);
        return DISPATCH_STALL;
    }
    struct xop *op = xop_alloc(w);
    HP_ASSERT(op != NULL); /* xop_room above */
    op->conn = c;
    op->slot = slot;
    op->spec = spec;
    op->db = c->db;
    op->proto = c->proto;
    op->args = args;
    c->xops++;
    xop_submit(w, op, mask, xop_body_command, NULL);
    return DISPATCH_DONE;
}

static enum dispatch_rc route(struct conn *c, const struct cmd_spec *spec, uint64_t mask,
                              int argc, const struct hp_slice *argv)
{
    struct worker *w = c->worker;
    if (mask == 0)
        mask = 1ull << w->id;
    if ((mask & (mask - 1)) == 0) {
        /* After this connection's ops: they have not run yet. */
        if (conn_ops_active(c))
            return DISPATCH_STALL;
        uint32_t target = (uint32_t)__builtin_ctzll(mask);
        if (target == w->id)
            return run_local(c, spec, argc, argv);
        return run_remote(c, spec, target, argc, argv);
    }
    return run_multi(c, spec, mask, argc, argv);
}

/* SCAN runs on the shard its cursor names (top 16 bits). */
static enum dispatch_rc dispatch_scan(struct conn *c, const struct cmd_spec *spec, int argc,
                                      const struct hp_slice *argv)
{
    struct worker *w = c->worker;
    char buf[32];
    uint64_t cursor = 0;
    bool ok = argv[1].len > 0 && argv[1].len < sizeof(buf);
    if (ok) {
        memcpy(buf, argv[1].ptr, argv[1].len);
        buf[argv[1].len] = '\0';
        char *end = NULL;
        errno = 0;
        cursor = strtoull(buf, &end, 10);
        ok = errno == 0 && end == buf + argv[1].len && buf[0] != '-';
    }
    if (!ok) {
        resp_add_error(conn_reply_target(c), "ERR invalid cursor");
        return DISPATCH_DONE;
    }
    uint64_t shard = cursor >> CMD_SCAN_SHARD_SHIFT;
    if (shard >= w->rt->nworkers) {
        /* Not a cursor we handed out: the iteration is over. */
        struct rbuf *out = conn_reply_target(c);
        resp_add_array(out, 2);
        resp_add_bulk(out, "0", 1);
        resp_add_array(out, 0);
        return DISPATCH_DONE;
    }
    return route(c, spec, 1ull << shard, argc, argv);
}

static enum dispatch_rc dispatch_client(struct conn *c, const struct cmd_spec *spec, int argc,
                                        const struct hp_slice *argv)
{
    struct worker *w = c->worker;
    /* A client command may broadcast (INFO, CLIENT LIST/KILL): make sure it
     * can before running it, since a handler cannot stall half-way. */
    if (w->nbcasts >= BCAST_MAX || xmsg_available(w) < w->rt->nworkers)
        return DISPATCH_STALL;
    /* After this connection's hand-over ops: they have not run yet.  Its
     * broadcasts may be in flight: their parts travel in order on the same
     * rings, and their replies keep their slots. */
    if (c->xops > 0)
        return DISPATCH_STALL;
    /* A broadcast runs our own part right here; while another worker holds
     * our shard that part could not read it (INFO keyspace, memory).  Holds
     * last one multi-shard command, so waiting is short. */
    if (!worker_shard_free(w) && w->shard_holder != w->id)
        return DISPATCH_STALL;
    struct client_ctx cc = {
        .conn = c,
        .worker = w,
        .argc = argc,
        .argv = argv,
        .out = conn_reply_target(c),
        .now_ms = w->now_ms,
    };
    size_t before = cc.out->len;
    struct call_timer t = call_timer_start(w->call, spec);
    spec->client(&cc);
    /* A broadcast's reply comes later, in its own slot: not an error here. */
    bool failed = cc.out->len > before && cc.out->data[before] == '-';
    call_timer_stop(&t, failed);
    return DISPATCH_DONE;
}

enum dispatch_rc dispatch_command(struct conn *c, int argc, const struct hp_slice *argv)
{
    struct worker *w = c->worker;
    HP_ASSERT(argc > 0);
    const struct cmd_spec *spec = cmd_lookup(argv[0].ptr, argv[0].len);
    if (spec == NULL) {
        cmd_reply_unknown(conn_reply_target(c), argc, argv);
        return DISPATCH_DONE;
    }
    if (!cmd_arity_ok(spec, argc)) {
        cmd_reply_arity(conn_reply_target(c), spec);
        call_count_rejected(w->call, spec);
        return DISPATCH_DONE;
    }
    enum dispatch_rc rc;
    switch (spec->kind) {
    case CMD_KIND_CLIENT:
        rc = dispatch_client(c, spec, argc, argv);
        break;
    case CMD_KIND_SCAN:
        rc = dispatch_scan(c, spec, argc, argv);
        break;
    case CMD_KIND_ALLSHARDS:
        rc = route(c, spec, all_shards_mask(w), argc, argv);
        break;
    case CMD_KIND_KEYED:
        rc = route(c, spec, dispatch_key_mask(w, spec, argc, argv), argc, argv);
        break;
    default:
        HP_ASSERT(!"unknown command kind");
        return DISPATCH_DONE;
    }
    if (rc == DISPATCH_DONE)
        count_command(c, spec);
    return rc;
}

void client_broadcast(struct client_ctx *cc, bcast_part_fn part, bcast_done_fn done)
{
    struct conn *c = cc->conn;
    struct worker *w = cc->worker;
    /* dispatch_client checked both before running the handler. */
    HP_ASSERT(w->nbcasts < BCAST_MAX);
    HP_ASSERT(xmsg_available(w) >= w->rt->nworkers);
    struct bcast *b = bcast_alloc(w);
    struct xmsg *args = xmsg_alloc(w);
    struct reply_slot *slot = b ? conn_slot_reserve(c) : NULL;
    if (b == NULL || slot == NULL || xmsg_copy_args(args, cc->argc, cc->argv) != 0) {
        if (slot)
            conn_slot_complete(c, slot);
        if (b)
            bcast_abandon(w, b);
        xmsg_free(w, args);
        reply_oom(c);
        return;
    }
    size_t limit = (size_t)CONFIG_RT_GET(w->rt->cfg, client_output_buffer_limit);
    for (uint32_t i = 0; i < w->rt->nworkers; i++)
        rbuf_init(&b->parts[i], limit);
    b->conn = c;
    b->slot = slot;
    b->part = part;
    b->done = done;
    b->args = args;
    b->req.self_conn_id = c->id;
    b->req.proto = c->proto;
    b->req.argc = args->argc;
    b->req.argv = args->argv;
    b->req.now_ms = w->now_ms;
    c->bcasts++;
    bcast_start(w, b);
}

/*
 * Execute a request of `c` on shards this worker already holds for another
 * multi-shard command (see conn_run_held).  Only keyed commands whose keys
 * all live on `held` qualify; anything else returns false untouched and runs
 * through dispatch_command later.  With the append-only log on, writes are
 * left to the normal path, which logs them and may hold their replies.
 */
bool dispatch_held(struct conn *c, int argc, const struct hp_slice *argv, uint64_t held)
{
    struct worker *w = c->worker;
    const struct cmd_spec *spec = cmd_lookup(argv[0].ptr, argv[0].len);
    if (spec == NULL || spec->kind != CMD_KIND_KEYED || !cmd_arity_ok(spec, argc))
        return false;
    if (w->rt->persist != NULL && (spec->flags & CMD_WRITE))
        return false;
    uint64_t mask = dispatch_key_mask(w, spec, argc, argv);
    if (mask == 0 || (mask & ~held) != 0)
        return false;
    struct exec_ctx x;
    exec_ctx_init(&x, w, w->id, held, c->db, c->proto, argc, argv, conn_reply_target(c));
    call_held(c, spec, &x);
    count_command(c, spec);
    return true;
}
