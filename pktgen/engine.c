/* engine.c - see engine.h. */
#include "engine.h"

#include "clock.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

uint64_t pg_now_ns(void)
{
    /* CLOCK_MONOTONIC is read through the vDSO from the TSC on x86: a
     * couple of dozen ns, no system call, and comparable across cores. */
    return clock_mono_ns();
}

void pg_opts_defaults(struct pg_opts *o)
{
    memset(o, 0, sizeof(*o));
    wl_config_defaults(&o->wl);
    o->mode = PG_MODE_TCP;
    o->host = "127.0.0.1";
    o->port = 6379;
    o->flows = 4;
    o->window = 16;
    o->cmds = 1;
    o->duration_s = 5;
    o->warmup_s = 1;
    o->timeout_ms = 2000;
    o->progress = true;
    o->fixed_shard = -1;
}

static uint32_t keys_per_cmd(const struct pg_opts *o)
{
    return o->wl.mix[WL_OP_MGET] ? o->wl.mget_batch : 1;
}

int pg_opts_check(const struct pg_opts *o, char *err, size_t cap)
{
    if (wl_config_check(&o->wl, err, cap) != 0)
        return -1;
    if (o->flows < 1 || o->flows > PG_MAX_FLOWS) {
        snprintf(err, cap, "flows must be 1..%d", PG_MAX_FLOWS);
        return -1;
    }
    if (o->window < 1 || o->window > PG_MAX_WINDOW) {
        snprintf(err, cap, "window must be 1..%d", PG_MAX_WINDOW);
        return -1;
    }
    if (o->cmds < 1 || o->cmds > PG_MAX_CMDS) {
        snprintf(err, cap, "commands per request must be 1..%d", PG_MAX_CMDS);
        return -1;
    }
    if (!(o->duration_s > 0 && o->duration_s <= 1e6) || !(o->warmup_s >= 0 && o->warmup_s <= 1e6)) {
        snprintf(err, cap, "duration must be in (0, 1e6] s and warm-up in [0, 1e6] s");
        return -1;
    }
    if (!(o->rate == 0 || (o->rate >= 1 && o->rate <= PG_MAX_RATE))) {
        snprintf(err, cap, "rate must be 0 (closed loop) or 1..%g requests/s", PG_MAX_RATE);
        return -1;
    }
    if (o->timeout_ms < 1 || o->timeout_ms > 600000) {
        snprintf(err, cap, "timeout must be 1..600000 ms");
        return -1;
    }
    uint64_t recs = (uint64_t)o->flows * o->window * o->cmds * keys_per_cmd(o);
    if (recs > PG_MAX_KEY_RECORDS) {
        snprintf(err, cap, "flows x window x commands x keys per command = %" PRIu64
                 " exceeds %u request records", recs, PG_MAX_KEY_RECORDS);
        return -1;
    }
    if (o->shards > HP_MAX_SHARDS || (o->steer && (o->shards < 2 || o->mode == PG_MODE_TCP)) ||
        o->fixed_shard >= (int32_t)HP_MAX(o->shards, 1u)) {
        snprintf(err, cap, "shards must be 0..%d; steering needs udp or dpdk mode and shards >= 2",
                 HP_MAX_SHARDS);
        return -1;
    }
    if (o->mode != PG_MODE_TCP && o->shards > 1 && o->flush) {
        snprintf(err, cap, "udp with several shards cannot FLUSHALL (it needs every shard): "
                 "flush over TCP first and pass --no-flush");
        return -1;
    }
    if ((o->flush || o->verify) && !o->check) {
        snprintf(err, cap, "--flush and --verify belong to correctness mode (--check)");
        return -1;
    }
    return 0;
}

int pg_engine_init(struct pg_engine *e, const struct pg_opts *o, char *err, size_t cap)
{
    memset(e, 0, sizeof(*e));
    if (pg_opts_check(o, err, cap) != 0)
        return -1;
    e->o = *o;
    e->keys_per_req = o->cmds * keys_per_cmd(o);
    if (o->check) {
        if (model_init(&e->model, &e->o.wl, err, cap) != 0)
            return -1;
        e->have_model = true;
    }
    e->flows = calloc(o->flows, sizeof(*e->flows));
    if (!e->flows)
        goto nomem;
    for (uint32_t i = 0; i < o->flows; i++) {
        struct pg_flow *f = &e->flows[i];
        f->index = i;
        wl_gen_init(&f->gen, &e->o.wl, i + 1);
        wl_rng_seed(&f->sched, o->wl.seed * 31 + i + 0x5EED);
        if (o->rate > 0)
            f->interval_ns = 1e9 * o->flows / o->rate;
        f->slots = calloc(o->window, sizeof(*f->slots));
        if (!f->slots)
            goto nomem;
        for (uint32_t w = 0; w < o->window; w++) {
            f->slots[w].cmd = calloc(o->cmds, sizeof(struct pg_cmd));
            f->slots[w].keys = calloc(e->keys_per_req, sizeof(struct pg_key));
            if (!f->slots[w].cmd || !f->slots[w].keys)
                goto nomem;
        }
    }
    hist_reset(&e->lat);
    hist_reset(&e->interval);
    return 0;
nomem:
    pg_engine_free(e);
    snprintf(err, cap, "out of memory for %u flows x %u requests", o->flows, o->window);
    return -1;
}

void pg_engine_free(struct pg_engine *e)
{
    if (e->flows) {
        for (uint32_t i = 0; i < e->o.flows; i++) {
            struct pg_flow *f = &e->flows[i];
            for (uint32_t w = 0; f->slots && w < e->o.window; w++) {
                free(f->slots[w].cmd);
                free(f->slots[w].keys);
            }
            free(f->slots);
        }
        free(e->flows);
        e->flows = NULL;
    }
    if (e->have_model)
        model_free(&e->model);
    e->have_model = false;
}

/* ---- phases ------------------------------------------------------------------ */

bool pg_phase_begin(struct pg_engine *e, enum pg_phase ph, uint64_t now_ns)
{
    e->phase = ph;
    e->cursor = 0;
    e->stop_sending = false;
    e->phase_start_ns = now_ns;
    switch (ph) {
    case PG_PHASE_FLUSH:
        e->flush_sent = false;
        return e->o.flush;
    case PG_PHASE_LOAD:
        return e->o.load;
    case PG_PHASE_RUN:
        e->measure_start_ns = now_ns + (uint64_t)(e->o.warmup_s * 1e9);
        e->measure_end_ns = e->measure_start_ns + (uint64_t)(e->o.duration_s * 1e9);
        e->last_progress_ns = now_ns;
        for (uint32_t i = 0; i < e->o.flows; i++)
            e->flows[i].next_intended_ns = now_ns;
        return true;
    case PG_PHASE_VERIFY:
        return e->o.verify && e->have_model;
    case PG_PHASE_COUNT:
        break;
    }
    HP_ASSERT(!"bad phase");
    return false;
}

bool pg_phase_sending_done(const struct pg_engine *e, uint64_t now_ns)
{
    if (e->stop_sending)
        return true;
    switch (e->phase) {
    case PG_PHASE_FLUSH: return e->flush_sent;
    case PG_PHASE_LOAD: return e->cursor >= e->o.wl.keys;
    case PG_PHASE_RUN: return now_ns >= e->measure_end_ns;
    case PG_PHASE_VERIFY: return e->cursor >= 2 * e->o.wl.keys;
    case PG_PHASE_COUNT: break;
    }
    return true;
}

void pg_phase_end(struct pg_engine *e, uint64_t now_ns)
{
    double secs = (double)(now_ns - e->phase_start_ns) / 1e9;
    if (e->phase == PG_PHASE_LOAD) {
        e->load_s = secs;   /* the model tracked every SET of the load itself */
    } else if (e->phase == PG_PHASE_VERIFY) {
        e->verify_s = secs;
    } else if (e->phase == PG_PHASE_RUN && e->o.rate > 0) {
        for (uint32_t i = 0; i < e->o.flows; i++) {
            const struct pg_flow *f = &e->flows[i];
            if (f->next_intended_ns < e->measure_end_ns)
                e->run.unsent +=
                    (uint64_t)((double)(e->measure_end_ns - f->next_intended_ns) / f->interval_ns);
        }
    }
    e->phase_end_ns = now_ns;
}

bool pg_may_send(struct pg_engine *e, struct pg_flow *f, uint64_t now_ns, uint64_t *intended_ns)
{
    if (pg_phase_sending_done(e, now_ns))
        return false;
    if (e->phase == PG_PHASE_FLUSH && f->index != 0)
        return false;
    if (e->phase != PG_PHASE_RUN || e->o.rate == 0) {
        *intended_ns = now_ns;
        return true;
    }
    if (f->next_intended_ns > now_ns)
        return false;
    *intended_ns = f->next_intended_ns;
    double gap = f->interval_ns;
    if (e->o.poisson)
        gap = -log(1.0 - wl_rng_double(&f->sched)) * f->interval_ns;
    f->next_intended_ns += (uint64_t)gap > 0 ? (uint64_t)gap : 1;
    return true;
}

/* ---- building requests ------------------------------------------------------------ */

struct pg_scratch {
    char key[WL_MAX_MGET][WL_MAX_KEY_SIZE];
    const char *argv[WL_MAX_MGET + 1];
    size_t len[WL_MAX_MGET + 1];
};

static _Thread_local struct pg_scratch scratch;
static _Thread_local char *value_buf;
static _Thread_local size_t value_cap;

static const char *value_bytes(const struct pg_engine *e, uint64_t id, uint32_t version)
{
    if (value_cap < e->o.wl.value_size) {
        free(value_buf);
        value_buf = malloc(e->o.wl.value_size);
        HP_ASSERT(value_buf != NULL);
        value_cap = e->o.wl.value_size;
    }
    wl_value_format(&e->o.wl, id, version, value_buf);
    return value_buf;
}

static struct pg_cmd *add_cmd(struct pg_slot *s, uint8_t op, uint32_t *kused)
{
    struct pg_cmd *c = &s->cmd[s->ncmds++];
    c->op = op;
    c->nkeys = 0;
    c->key_first = *kused;
    return c;
}

static void add_key(struct pg_slot *s, struct pg_cmd *c, uint32_t *kused, uint64_t id,
                    uint32_t snap)
{
    s->keys[*kused].id = id;
    s->keys[*kused].snap = snap;
    (*kused)++;
    c->nkeys++;
}

static bool emit_set(struct pg_engine *e, struct pg_slot *s, uint32_t *kused, uint64_t id,
                     uint32_t version, pg_emit_fn emit, void *ctx)
{
    struct pg_cmd *c = add_cmd(s, WL_OP_SET, kused);
    add_key(s, c, kused, id, version);
    wl_key_format(&e->o.wl, 'k', id, scratch.key[0]);
    const char *argv[3] = {"SET", scratch.key[0], value_bytes(e, id, version)};
    size_t len[3] = {3, e->o.wl.key_size, e->o.wl.value_size};
    return emit(ctx, 3, argv, len);
}

static bool emit_get(struct pg_engine *e, struct pg_slot *s, uint32_t *kused, uint8_t op,
                     char kind, uint64_t id, uint32_t snap, pg_emit_fn emit, void *ctx)
{
    struct pg_cmd *c = add_cmd(s, op, kused);
    add_key(s, c, kused, id, snap);
    wl_key_format(&e->o.wl, kind, id, scratch.key[0]);
    const char *argv[2] = {op == WL_OP_INCR ? "INCR" : "GET", scratch.key[0]};
    size_t len[2] = {op == WL_OP_INCR ? 4 : 3, e->o.wl.key_size};
    return emit(ctx, 2, argv, len);
}

uint16_t pg_key_shard(const struct pg_engine *e, char kind, uint64_t id)
{
    char key[WL_MAX_KEY_SIZE];
    wl_key_format(&e->o.wl, kind, id, key);
    return wl_slot_shard(wl_key_slot(key, e->o.wl.key_size), e->o.shards);
}

/* A key for slot s; with several shards, one on the shard of the
 * request's first key (requests run on one shard, docs/PROTOCOL.md). */
static uint64_t draw_key(struct pg_engine *e, struct pg_flow *f, struct pg_slot *s, char kind)
{
    uint64_t id = wl_gen_key(&f->gen);
    if (e->o.shards <= 1)
        return id;
    for (uint32_t tries = 0;; tries++) {
        uint16_t sh = pg_key_shard(e, kind, id);
        if (s->shard == PG_SHARD_ANY)
            s->shard = sh;
        if (sh == s->shard || tries >= PG_SHARD_TRIES)
            return id;    /* after the tries: a shard with (almost) no keys */
        id = wl_gen_key(&f->gen);
    }
}

/* Cursor phases: may key (kind, id) join slot s?  Sets the shard. */
static bool cursor_key_fits(struct pg_engine *e, struct pg_slot *s, char kind, uint64_t id)
{
    if (e->o.shards <= 1)
        return true;
    uint16_t sh = pg_key_shard(e, kind, id);
    if (s->shard == PG_SHARD_ANY)
        s->shard = sh;
    return sh == s->shard;
}

static bool build_run_cmd(struct pg_engine *e, struct pg_flow *f, struct pg_slot *s,
                          uint32_t *kused, pg_emit_fn emit, void *ctx)
{
    enum wl_op op = wl_gen_op(&f->gen);
    struct model *m = e->have_model ? &e->model : NULL;
    if (op == WL_OP_MGET) {
        struct pg_cmd *c = add_cmd(s, WL_OP_MGET, kused);
        uint32_t n = e->o.wl.mget_batch;
        scratch.argv[0] = "MGET";
        scratch.len[0] = 4;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t id = draw_key(e, f, s, 'k');
            add_key(s, c, kused, id, m ? model_get_begin(m, id) : 0);
            wl_key_format(&e->o.wl, 'k', id, scratch.key[i]);
            scratch.argv[i + 1] = scratch.key[i];
            scratch.len[i + 1] = e->o.wl.key_size;
        }
        return emit(ctx, (int)n + 1, scratch.argv, scratch.len);
    }
    uint64_t id = draw_key(e, f, s, op == WL_OP_INCR ? 'c' : 'k');
    if (op == WL_OP_SET) {
        uint32_t version = m ? model_set_begin(m, id) : 1;
        if (version != 0)
            return emit_set(e, s, kused, id, version, emit, ctx);
        op = WL_OP_GET;     /* a SET of this key is in flight: see model.h */
    }
    if (op == WL_OP_INCR)
        return emit_get(e, s, kused, WL_OP_INCR, 'c', id, m ? model_incr_begin(m, id) : 0, emit,
                        ctx);
    return emit_get(e, s, kused, WL_OP_GET, 'k', id, m ? model_get_begin(m, id) : 0, emit, ctx);
}

/* Next command of the LOAD / VERIFY / FLUSH phases; false when exhausted. */
static bool build_cursor_cmd(struct pg_engine *e, struct pg_slot *s, uint32_t *kused,
                             pg_emit_fn emit, void *ctx, bool *emitted)
{
    *emitted = false;
    if (e->phase == PG_PHASE_FLUSH) {
        if (e->flush_sent)
            return false;
        e->flush_sent = true;
        add_cmd(s, PG_OP_FLUSH, kused);
        const char *argv[1] = {"FLUSHALL"};
        size_t len[1] = {8};
        *emitted = emit(ctx, 1, argv, len);
        return true;
    }
    if (e->phase == PG_PHASE_LOAD) {
        while (e->o.fixed_shard >= 0 && e->cursor < e->o.wl.keys &&
               pg_key_shard(e, 'k', e->cursor) != (uint16_t)e->o.fixed_shard)
            e->cursor++;      /* another lcore loads that shard */
        if (e->cursor >= e->o.wl.keys || !cursor_key_fits(e, s, 'k', e->cursor))
            return false;
        uint64_t id = e->cursor++;
        uint32_t version = e->have_model ? model_set_begin(&e->model, id) : 1;
        HP_ASSERT(version != 0);
        *emitted = emit_set(e, s, kused, id, version, emit, ctx);
        return true;
    }
    HP_ASSERT(e->phase == PG_PHASE_VERIFY);
    while (e->cursor < 2 * e->o.wl.keys) {
        uint64_t id = e->cursor / 2;
        bool ctr = e->cursor % 2;
        if (ctr ? !model_ctr_touched(&e->model, id) : !model_str_touched(&e->model, id)) {
            e->cursor++;
            continue;
        }
        if (!cursor_key_fits(e, s, ctr ? 'c' : 'k', id))
            return false;     /* next request */
        e->cursor++;
        *emitted = emit_get(e, s, kused, ctr ? PG_OP_VERIFY_CTR : PG_OP_VERIFY_STR,
                            ctr ? 'c' : 'k', id, 0, emit, ctx);
        return true;
    }
    return false;
}

bool pg_build(struct pg_engine *e, struct pg_flow *f, struct pg_slot *s, uint64_t intended_ns,
              uint64_t now_ns, pg_emit_fn emit, void *ctx)
{
    HP_ASSERT(!s->busy);
    s->ncmds = 0;
    s->shard = e->o.fixed_shard >= 0 ? (uint16_t)e->o.fixed_shard : PG_SHARD_ANY;
    uint32_t kused = 0;
    for (uint32_t i = 0; i < e->o.cmds; i++) {
        bool ok;
        if (e->phase == PG_PHASE_RUN) {
            ok = build_run_cmd(e, f, s, &kused, emit, ctx);
        } else {
            bool emitted;
            if (!build_cursor_cmd(e, s, &kused, emit, ctx, &emitted))
                break;
            ok = emitted;
        }
        /* The transport sized its buffers with pg_max_request_bytes. */
        HP_ASSERT(ok);
    }
    if (s->ncmds == 0)
        return false;
    s->busy = true;
    s->intended_ns = intended_ns;
    s->sent_ns = now_ns;
    e->total.sent++;
    if (e->phase == PG_PHASE_RUN && intended_ns >= e->measure_start_ns)
        e->run.sent++;
    return true;
}

size_t pg_max_request_bytes(const struct pg_engine *e)
{
    const struct wl_config *w = &e->o.wl;
    size_t lens[WL_MAX_MGET + 1];
    lens[0] = 8;                      /* FLUSHALL, the longest verb */
    for (uint32_t i = 1; i <= WL_MAX_MGET; i++)
        lens[i] = w->key_size;
    size_t set_lens[3] = {3, w->key_size, w->value_size};
    size_t one = HP_MAX(pgw_command_len(3, set_lens),
                        pgw_command_len((int)keys_per_cmd(&e->o) + 1, lens));
    return one * e->o.cmds;
}

size_t pg_max_reply_bytes(const struct pg_engine *e)
{
    /* Values we never wrote could be anything; a value of another size
     * is a mismatch, so size the buffer for ours plus generous slack. */
    size_t bulk = 16 + (size_t)e->o.wl.value_size + 64;
    return (16 + bulk * keys_per_cmd(&e->o)) * e->o.cmds + 4096;
}

/* ---- replies ------------------------------------------------------------------ */

static bool is_ok(const struct pgw_reply *r)
{
    return r->type == PGW_STATUS && r->len == 2 && memcmp(r->str, "OK", 2) == 0;
}

static void unexpected(struct pg_engine *e, const struct pg_cmd *c, const struct pg_key *k,
                       const struct pgw_reply *r)
{
    static const char *const names[] = {"GET", "SET", "INCR", "MGET", "FLUSHALL", "final GET",
                                        "final GET counter"};
    if (r->type == PGW_ERROR) {
        e->total.server_errors++;
        if (e->phase == PG_PHASE_RUN)
            e->run.server_errors++;
    }
    if (e->have_model) {
        char what[48];
        snprintf(what, sizeof(what), "%s: unexpected reply type '%c'", names[c->op], r->type);
        model_fail(&e->model, what, k ? k->id : 0, r->str, r->str ? r->len : 0);
    } else if (r->type != PGW_ERROR) {
        e->total.mismatches++;
    }
}

static void check_get(struct pg_engine *e, const struct pg_cmd *c, const struct pg_key *k,
                      const struct pgw_reply *r)
{
    if (r->type != PGW_BULK && r->type != PGW_NIL) {
        unexpected(e, c, k, r);
        return;
    }
    if (!e->have_model)
        return;
    const char *v = r->type == PGW_NIL ? NULL : r->str;
    if (c->op == PG_OP_VERIFY_STR)
        model_final_str(&e->model, k->id, v, r->len);
    else
        model_get_check(&e->model, k->id, k->snap, v, r->len);
}

static void check_verify_ctr(struct pg_engine *e, const struct pg_cmd *c, const struct pg_key *k,
                             const struct pgw_reply *r)
{
    if (r->type == PGW_NIL) {
        model_final_ctr(&e->model, k->id, true, 0);
        return;
    }
    char buf[24];
    int64_t v = 0;
    char *end = NULL;
    if (r->type == PGW_BULK && r->len > 0 && r->len < sizeof(buf)) {
        memcpy(buf, r->str, r->len);
        buf[r->len] = 0;
        v = strtoll(buf, &end, 10);
    }
    if (!end || *end) {
        unexpected(e, c, k, r);
        return;
    }
    model_final_ctr(&e->model, k->id, false, v);
}

void pg_check(struct pg_engine *e, struct pg_slot *s, uint32_t i, const struct pgw_reply *r,
              const struct pgw_reply *elems)
{
    HP_ASSERT(i < s->ncmds);
    const struct pg_cmd *c = &s->cmd[i];
    const struct pg_key *k = c->nkeys ? &s->keys[c->key_first] : NULL;
    uint64_t before = e->have_model ? e->model.mismatches : 0;
    switch (c->op) {
    case WL_OP_GET:
    case PG_OP_VERIFY_STR:
        check_get(e, c, k, r);
        break;
    case PG_OP_VERIFY_CTR:
        check_verify_ctr(e, c, k, r);
        break;
    case WL_OP_SET:
        if (!is_ok(r))
            unexpected(e, c, k, r);
        if (e->have_model)
            model_set_done(&e->model, k->id, k->snap, is_ok(r));
        break;
    case WL_OP_INCR:
        if (r->type != PGW_INT)
            unexpected(e, c, k, r);
        else if (e->have_model)
            model_incr_check(&e->model, k->id, k->snap, r->integer);
        break;
    case WL_OP_MGET:
        if (r->type != PGW_ARRAY || r->nelem != c->nkeys) {
            unexpected(e, c, k, r);
            break;
        }
        for (uint32_t j = 0; j < c->nkeys; j++)
            check_get(e, c, &s->keys[c->key_first + j], &elems[j]);
        break;
    case PG_OP_FLUSH:
        if (!is_ok(r))
            unexpected(e, c, k, r);
        break;
    default:
        HP_ASSERT(!"bad op in slot");
    }
    if (e->have_model && e->model.mismatches != before) {
        uint64_t d = e->model.mismatches - before;
        e->total.mismatches += d;
        if (e->phase == PG_PHASE_RUN)
            e->run.mismatches += d;
        e->interval_errors += d;
    }
}

static bool in_measure(const struct pg_engine *e, const struct pg_slot *s)
{
    return e->phase == PG_PHASE_RUN && s->intended_ns >= e->measure_start_ns &&
           s->intended_ns < e->measure_end_ns;
}

void pg_complete(struct pg_engine *e, struct pg_slot *s, uint64_t now_ns)
{
    HP_ASSERT(s->busy);
    uint64_t lat = now_ns > s->intended_ns ? now_ns - s->intended_ns : 0;
    uint32_t nkeys = 0;
    for (uint32_t i = 0; i < s->ncmds; i++)
        nkeys += s->cmd[i].nkeys;
    e->total.done++;
    e->total.cmds_done += s->ncmds;
    if (e->phase == PG_PHASE_LOAD)
        e->loaded += s->ncmds;
    if (e->phase == PG_PHASE_VERIFY)
        e->verified += s->ncmds;
    if (e->phase == PG_PHASE_RUN) {
        hist_record(&e->interval, lat);
        e->interval_done++;
    }
    if (in_measure(e, s)) {
        e->run.done++;
        e->run.cmds_done += s->ncmds;
        e->run.keys_done += nkeys;
        hist_record(&e->lat, lat);
    }
    s->busy = false;
}

void pg_lost(struct pg_engine *e, struct pg_slot *s, const char *why)
{
    HP_ASSERT(s->busy);
    e->total.lost++;
    e->interval_errors++;
    if (in_measure(e, s))
        e->run.lost++;
    if (e->have_model && e->model.mismatches == 0 && !e->fatal[0])
        snprintf(e->fatal, sizeof(e->fatal), "request lost: %s", why);
    s->busy = false;
}

void pg_loop_pass(struct pg_engine *e, uint64_t prev_ns, uint64_t now_ns)
{
    uint64_t gap = now_ns - prev_ns;
    if (gap <= PG_STALL_NS || e->phase != PG_PHASE_RUN || now_ns < e->measure_start_ns ||
        prev_ns >= e->measure_end_ns)
        return;
    e->stalls.count++;
    e->stalls.total_ns += gap;
    e->stalls.max_ns = HP_MAX(e->stalls.max_ns, gap);
}

void pg_progress(struct pg_engine *e, uint64_t now_ns)
{
    if (now_ns < e->last_progress_ns + 1000000000ull)
        return;
    double secs = (double)(now_ns - e->last_progress_ns) / 1e9;
    if (e->o.progress && e->phase == PG_PHASE_RUN) {
        const char *stage = now_ns < e->measure_start_ns ? "warmup" : "run";
        fprintf(stderr, "[%6.1fs] %-6s %10.0f req/s  p99 %9.1f us  errors %" PRIu64 "\n",
                (double)(now_ns - e->phase_start_ns) / 1e9, stage, e->interval_done / secs,
                hist_percentile(&e->interval, 99) / 1e3, e->interval_errors);
    }
    e->last_progress_ns = now_ns;
    e->interval_done = 0;
    e->interval_errors = 0;
    hist_reset(&e->interval);
}
