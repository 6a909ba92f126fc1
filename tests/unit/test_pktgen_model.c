/* test_pktgen_model.c - correctness model rules, the RESP client codec,
 * and the engine end to end against an in-memory fake server (including
 * a server that corrupts, loses or reorders answers). */
#include "cu_main.h"

#include "../../pktgen/engine.h"
#include "../../pktgen/model.h"
#include "../../pktgen/report.h"
#include "../../pktgen/wire.h"

#include <string.h>

static struct wl_config cfg64(void)
{
    struct wl_config c;
    wl_config_defaults(&c);
    c.keys = 100;
    c.value_size = 40;
    return c;
}

/* ---- model rules ------------------------------------------------------------- */

static void test_model_get_set(void)
{
    struct wl_config c = cfg64();
    struct model m;
    char err[128], v[40];
    CU_ASSERT_FATAL(model_init(&m, &c, err, sizeof(err)) == 0);
    /* never written: nil is right, any value is wrong */
    uint32_t snap = model_get_begin(&m, 5);
    CU_ASSERT_EQUAL(snap, 0);
    CU_ASSERT(model_get_check(&m, 5, snap, NULL, 0));
    CU_ASSERT_EQUAL(m.mismatches, 0);
    /* SET v1 in flight: a GET sent now may see nil or v1 */
    uint32_t ver = model_set_begin(&m, 5);
    CU_ASSERT_EQUAL(ver, 1);
    CU_ASSERT_EQUAL(model_set_begin(&m, 5), 0);      /* second SET refused while in flight */
    CU_ASSERT_EQUAL(m.refused_sets, 1);
    snap = model_get_begin(&m, 5);
    wl_value_format(&c, 5, 1, v);
    CU_ASSERT(model_get_check(&m, 5, snap, v, 40));
    CU_ASSERT(model_get_check(&m, 5, snap, NULL, 0));
    model_set_done(&m, 5, 1, true);
    /* acknowledged: nil and older versions are now wrong */
    snap = model_get_begin(&m, 5);
    CU_ASSERT_EQUAL(snap, 1);
    CU_ASSERT_FALSE(model_get_check(&m, 5, snap, NULL, 0));
    CU_ASSERT_EQUAL(m.mismatches, 1);
    CU_ASSERT(strstr(m.first_error, "nil") != NULL);
    CU_ASSERT(model_get_check(&m, 5, snap, v, 40));
    /* a value of another key, a future version, a corrupt value */
    wl_value_format(&c, 6, 1, v);
    CU_ASSERT_FALSE(model_get_check(&m, 5, snap, v, 40));
    wl_value_format(&c, 5, 2, v);
    CU_ASSERT_FALSE(model_get_check(&m, 5, snap, v, 40));
    wl_value_format(&c, 5, 1, v);
    v[30] ^= 1;
    CU_ASSERT_FALSE(model_get_check(&m, 5, snap, v, 40));
    CU_ASSERT_FALSE(model_get_check(&m, 5, snap, v, 39));
    CU_ASSERT_EQUAL(m.mismatches, 5);
    CU_ASSERT(strstr(m.first_error, "nil") != NULL);     /* the first one is kept */
    /* final: exact */
    wl_value_format(&c, 5, 1, v);
    CU_ASSERT(model_final_str(&m, 5, v, 40));
    CU_ASSERT(model_final_str(&m, 7, NULL, 0));
    CU_ASSERT_FALSE(model_final_str(&m, 7, v, 40));
    CU_ASSERT(model_str_touched(&m, 5));
    CU_ASSERT_FALSE(model_str_touched(&m, 7));
    /* a SET answered with an error leaves the key's content unknown */
    ver = model_set_begin(&m, 9);
    model_set_done(&m, 9, ver, false);
    CU_ASSERT_EQUAL(m.mismatches, 7);
    CU_ASSERT_EQUAL(model_set_begin(&m, 9), 0);
    model_free(&m);
}

static void test_model_incr(void)
{
    struct wl_config c = cfg64();
    struct model m;
    char err[128];
    CU_ASSERT_FATAL(model_init(&m, &c, err, sizeof(err)) == 0);
    uint32_t s1 = model_incr_begin(&m, 3);
    uint32_t s2 = model_incr_begin(&m, 3);
    CU_ASSERT_EQUAL(s1, 0);
    CU_ASSERT_EQUAL(s2, 0);
    /* concurrent INCRs may complete in either order */
    CU_ASSERT(model_incr_check(&m, 3, s2, 2));
    CU_ASSERT(model_incr_check(&m, 3, s1, 1));
    uint32_t s3 = model_incr_begin(&m, 3);
    CU_ASSERT_EQUAL(s3, 2);
    CU_ASSERT_FALSE(model_incr_check(&m, 3, s3, 2));    /* must be above what was seen */
    CU_ASSERT_FALSE(model_incr_check(&m, 3, s3, 4));    /* only 3 were issued */
    CU_ASSERT(model_incr_check(&m, 3, s3, 3));
    CU_ASSERT(model_final_ctr(&m, 3, false, 3));
    CU_ASSERT_FALSE(model_final_ctr(&m, 3, false, 2));
    CU_ASSERT_FALSE(model_final_ctr(&m, 3, true, 0));
    CU_ASSERT(model_final_ctr(&m, 4, true, 0));
    CU_ASSERT_EQUAL(m.mismatches, 4);
    model_free(&m);
}

static void test_model_limits(void)
{
    struct wl_config c = cfg64();
    struct model m;
    char err[128];
    c.value_size = WL_VALUE_HDR_LEN - 1;
    CU_ASSERT_EQUAL(model_init(&m, &c, err, sizeof(err)), -1);
    CU_ASSERT(strstr(err, "at least") != NULL);
    c = cfg64();
    c.keys = MODEL_MAX_KEYS + 1;
    c.key_size = 20;
    CU_ASSERT_EQUAL(model_init(&m, &c, err, sizeof(err)), -1);
    CU_ASSERT(strstr(err, "at most") != NULL);
}

/* ---- RESP client codec ------------------------------------------------------------ */

static void test_wire_command(void)
{
    uint8_t buf[64];
    const char *argv[] = {"SET", "k1", "hello"};
    size_t len[] = {3, 2, 5};
    const char *want = "*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$5\r\nhello\r\n";
    size_t n = pgw_command(buf, sizeof(buf), 3, argv, len);
    CU_ASSERT_EQUAL(n, strlen(want));
    CU_ASSERT(memcmp(buf, want, n) == 0);
    CU_ASSERT_EQUAL(pgw_command_len(3, len), n);
    CU_ASSERT_EQUAL(pgw_command(buf, n - 1, 3, argv, len), 0);
}

static void test_wire_replies_split_anywhere(void)
{
    const char *stream = "+OK\r\n-ERR wrong\r\n:-42\r\n$5\r\nab\r\nc\r\n$-1\r\n$0\r\n\r\n"
                         "*3\r\n$1\r\na\r\n$-1\r\n:7\r\n*-1\r\n*0\r\n";
    size_t total = strlen(stream);
    const enum pgw_type types[] = {PGW_STATUS, PGW_ERROR, PGW_INT, PGW_BULK, PGW_NIL,
                                   PGW_BULK, PGW_ARRAY, PGW_NIL, PGW_ARRAY};
    struct pgw_reply r, el[4];
    /* every prefix either parses a complete first reply or asks for more */
    for (size_t cut = 0; cut <= total; cut++) {
        size_t pos = 0, k = 0;
        for (;;) {
            long n = pgw_reply_parse((const uint8_t *)stream + pos, cut - pos, &r, el, 4);
            CU_ASSERT_FATAL(n >= 0);
            if (n == 0)
                break;
            CU_ASSERT_FATAL(k < HP_ARRAY_LEN(types));
            CU_ASSERT_EQUAL(r.type, types[k]);
            pos += (size_t)n;
            k++;
        }
        if (cut == total)
            CU_ASSERT_EQUAL(k, HP_ARRAY_LEN(types));
    }
    long n = pgw_reply_parse((const uint8_t *)":-42\r\n", 6, &r, el, 4);
    CU_ASSERT_EQUAL(n, 6);
    CU_ASSERT_EQUAL(r.integer, -42);
    n = pgw_reply_parse((const uint8_t *)"$5\r\nab\r\nc\r\n", 11, &r, el, 4);
    CU_ASSERT_EQUAL(n, 11);
    CU_ASSERT_EQUAL(r.len, 5);
    CU_ASSERT(memcmp(r.str, "ab\r\nc", 5) == 0);
    n = pgw_reply_parse((const uint8_t *)"*3\r\n$1\r\na\r\n$-1\r\n:7\r\n", 20, &r, el, 4);
    CU_ASSERT_EQUAL(n, 20);
    CU_ASSERT_EQUAL(r.nelem, 3);
    CU_ASSERT_EQUAL(el[0].type, PGW_BULK);
    CU_ASSERT_EQUAL(el[1].type, PGW_NIL);
    CU_ASSERT_EQUAL(el[2].integer, 7);
}

static void test_wire_reply_errors(void)
{
    struct pgw_reply r, el[2];
    const char *bad[] = {
        "?x\r\n", "$abc\r\n", "$-2\r\n", "$3\r\nabcd\r\n", ":12a\r\n", ":\r\n",
        ":99999999999999999999\r\n", "+OK\n", "*1\r\n*1\r\n:1\r\n", "*3\r\n:1\r\n:2\r\n:3\r\n",
        "$99999999999\r\n",
    };
    for (size_t i = 0; i < HP_ARRAY_LEN(bad); i++)
        CU_ASSERT_EQUAL(pgw_reply_parse((const uint8_t *)bad[i], strlen(bad[i]), &r, el, 2), -1);
    static uint8_t longline[PGW_MAX_LINE + 10];
    memset(longline, 'x', sizeof(longline));
    longline[0] = '+';
    CU_ASSERT_EQUAL(pgw_reply_parse(longline, sizeof(longline), &r, el, 2), -1);
    CU_ASSERT_EQUAL(pgw_reply_parse(longline, 100, &r, el, 2), 0);
    CU_ASSERT_EQUAL(pgw_reply_parse((const uint8_t *)":-9223372036854775808\r\n", 23, &r, el, 2), 23);
    CU_ASSERT_EQUAL(r.integer, INT64_MIN);
}

/* ---- the engine against a fake server ------------------------------------------------ */

enum fake_fault { FAKE_OK = 0, FAKE_CORRUPT_GET, FAKE_STALE_GET, FAKE_DROP_SET, FAKE_INCR_TWICE };

struct fake {
    const struct wl_config *c;
    enum fake_fault fault;
    uint64_t calls;
    char val[100][64];
    bool has[100];
    int64_t ctr[100];
    char prev[100][64];          /* the value before the last SET */
    bool had_prev[100];
    uint32_t shards;             /* > 0: every key of a request on one shard */
    int req_shard;               /* shard of the request's first key, -1 before */
    uint64_t cross_shard;        /* keys of a request on another shard */
    struct pgw_reply rep[PG_MAX_CMDS];
    struct pgw_reply el[PG_MAX_CMDS][WL_MAX_MGET];
    uint32_t nrep;
};

static uint64_t fake_id(const char *k, size_t len)
{
    uint64_t id = 0;
    for (size_t i = 1; i < len; i++)
        id = id * 10 + (uint64_t)(k[i] - '0');
    HP_ASSERT(id < 100);
    return id;
}

static void fake_shard_check(struct fake *f, const char *key, size_t len)
{
    if (f->shards <= 1)
        return;
    int sh = wl_slot_shard(wl_key_slot(key, len), f->shards);
    if (f->req_shard < 0)
        f->req_shard = sh;
    else if (sh != f->req_shard)
        f->cross_shard++;
}

static void fake_get(struct fake *f, uint64_t id, struct pgw_reply *r)
{
    memset(r, 0, sizeof(*r));
    if (!f->has[id]) {
        r->type = PGW_NIL;
        return;
    }
    r->type = PGW_BULK;
    r->str = f->val[id];
    r->len = f->c->value_size;
    if (f->fault == FAKE_STALE_GET && f->had_prev[id] && f->calls % 50 == 0)
        r->str = f->prev[id];
    if (f->fault == FAKE_CORRUPT_GET && f->calls % 50 == 0)
        r->len--;
}

static bool fake_emit(void *ctx, int argc, const char *const *argv, const size_t *len)
{
    struct fake *f = ctx;
    struct pgw_reply *r = &f->rep[f->nrep];
    memset(r, 0, sizeof(*r));
    f->calls++;
    for (int i = 1; i < argc && strcmp(argv[0], "SET") != 0; i++)
        fake_shard_check(f, argv[i], len[i]);
    if (argc >= 2 && strcmp(argv[0], "SET") == 0)
        fake_shard_check(f, argv[1], len[1]);
    if (argc == 1 && strcmp(argv[0], "FLUSHALL") == 0) {
        memset(f->has, 0, sizeof(f->has));
        memset(f->ctr, 0, sizeof(f->ctr));
        r->type = PGW_STATUS;
        r->str = "OK";
        r->len = 2;
    } else if (strcmp(argv[0], "SET") == 0) {
        uint64_t id = fake_id(argv[1], len[1]);
        memcpy(f->prev[id], f->val[id], 64);
        f->had_prev[id] = f->has[id];
        if (!(f->fault == FAKE_DROP_SET && f->calls % 50 == 0)) {
            memcpy(f->val[id], argv[2], len[2]);
            f->has[id] = true;
        }
        r->type = PGW_STATUS;
        r->str = "OK";
        r->len = 2;
    } else if (strcmp(argv[0], "INCR") == 0) {
        uint64_t id = fake_id(argv[1], len[1]);
        f->ctr[id] += (f->fault == FAKE_INCR_TWICE && f->calls % 50 == 0) ? 2 : 1;
        r->type = PGW_INT;
        r->integer = f->ctr[id];
    } else if (strcmp(argv[0], "GET") == 0) {
        uint64_t id = fake_id(argv[1], len[1]);
        if (argv[1][0] == 'c') {
            static char num[100][24];
            if (f->ctr[id] == 0) {
                r->type = PGW_NIL;
            } else {
                r->type = PGW_BULK;
                r->len = (size_t)snprintf(num[id], sizeof(num[id]), "%lld", (long long)f->ctr[id]);
                r->str = num[id];
            }
        } else {
            fake_get(f, id, r);
        }
    } else if (strcmp(argv[0], "MGET") == 0) {
        r->type = PGW_ARRAY;
        r->nelem = (uint32_t)(argc - 1);
        for (int i = 1; i < argc; i++)
            fake_get(f, fake_id(argv[i], len[i]), &f->el[f->nrep][i - 1]);
    } else {
        CU_FAIL("unexpected command");
        return false;
    }
    f->nrep++;
    return true;
}

/* Runs every phase synchronously on flow 0 (requests answered at once). */
static void run_fake(struct pg_engine *e, struct fake *f, uint32_t run_requests)
{
    for (int ph = 0; ph < PG_PHASE_COUNT; ph++) {
        if (!pg_phase_begin(e, (enum pg_phase)ph, 1000))
            continue;
        uint32_t n = 0;
        for (;;) {
            if (ph == PG_PHASE_RUN && n++ >= run_requests)
                break;
            struct pg_flow *fl = &e->flows[n % e->o.flows];
            struct pg_slot *s = &fl->slots[0];
            f->nrep = 0;
            f->req_shard = -1;
            if (!pg_build(e, fl, s, 2000, 2000, fake_emit, f))
                break;
            CU_ASSERT_FATAL(f->nrep == s->ncmds);
            for (uint32_t i = 0; i < s->ncmds; i++)
                pg_check(e, s, i, &f->rep[i], f->el[i]);
            pg_complete(e, s, 3000);
        }
        pg_phase_end(e, 5000);
    }
}

static void engine_opts(struct pg_opts *o)
{
    pg_opts_defaults(o);
    o->wl = cfg64();
    o->wl.keys = 100;
    char err[128];
    HP_ASSERT(wl_parse_mix(&o->wl, "get=40,set=30,incr=20,mget=10", err, sizeof(err)) == 0);
    o->wl.mget_batch = 4;
    o->flows = 2;
    o->window = 1;
    o->cmds = 3;
    o->check = o->load = o->flush = o->verify = true;
    o->progress = false;
    o->warmup_s = 0;      /* the fake run's requests fall in the measured interval */
}

static void test_engine_clean_run(void)
{
    struct pg_opts o;
    engine_opts(&o);
    static struct pg_engine e;
    static struct fake f;
    char err[128];
    memset(&f, 0, sizeof(f));
    f.c = &o.wl;
    CU_ASSERT_FATAL(pg_engine_init(&e, &o, err, sizeof(err)) == 0);
    run_fake(&e, &f, 3000);
    CU_ASSERT_EQUAL(e.loaded, 100);
    CU_ASSERT_EQUAL(e.total.mismatches, 0);
    CU_ASSERT_EQUAL(e.model.mismatches, 0);
    CU_ASSERT(e.verified >= 100);            /* every string key, plus counters */
    CU_ASSERT(e.model.checked > 9000);
    CU_ASSERT(report_passed(&e));
    pg_engine_free(&e);
}

static void faulty(enum fake_fault fault, const char *expect)
{
    struct pg_opts o;
    engine_opts(&o);
    static struct pg_engine e;
    static struct fake f;
    char err[128];
    memset(&f, 0, sizeof(f));
    f.c = &o.wl;
    f.fault = fault;
    CU_ASSERT_FATAL(pg_engine_init(&e, &o, err, sizeof(err)) == 0);
    run_fake(&e, &f, 3000);
    CU_ASSERT(e.total.mismatches > 0);
    CU_ASSERT_FALSE(report_passed(&e));
    CU_ASSERT(strstr(e.model.first_error, expect) != NULL);
    if (!strstr(e.model.first_error, expect))
        fprintf(stderr, "\n  first error: %s\n", e.model.first_error);
    pg_engine_free(&e);
}

/* With several shards every request's keys share a shard, in every phase. */
static void test_engine_shards(void)
{
    struct pg_opts o;
    engine_opts(&o);
    o.shards = 4;
    o.cmds = 8;
    o.wl.mget_batch = 8;
    static struct pg_engine e;
    static struct fake f;
    char err[128];
    memset(&f, 0, sizeof(f));
    f.c = &o.wl;
    f.shards = 4;
    CU_ASSERT_FATAL(pg_engine_init(&e, &o, err, sizeof(err)) == 0);
    run_fake(&e, &f, 2000);
    CU_ASSERT_EQUAL(f.cross_shard, 0);
    CU_ASSERT_EQUAL(e.loaded, 100);
    CU_ASSERT_EQUAL(e.total.mismatches, 0);
    CU_ASSERT(report_passed(&e));
    pg_engine_free(&e);
    /* without --shards the same workload does cross shards (the check bites) */
    engine_opts(&o);
    o.cmds = 8;
    o.wl.mget_batch = 8;
    memset(&f, 0, sizeof(f));
    f.c = &o.wl;
    f.shards = 4;
    CU_ASSERT_FATAL(pg_engine_init(&e, &o, err, sizeof(err)) == 0);
    run_fake(&e, &f, 200);
    CU_ASSERT(f.cross_shard > 0);
    pg_engine_free(&e);
    /* a fixed shard (one DPDK lcore per shard): only that shard's keys */
    engine_opts(&o);
    o.shards = 4;
    o.fixed_shard = 2;
    memset(&f, 0, sizeof(f));
    f.c = &o.wl;
    f.shards = 4;
    CU_ASSERT_FATAL(pg_engine_init(&e, &o, err, sizeof(err)) == 0);
    CU_ASSERT(pg_phase_begin(&e, PG_PHASE_LOAD, 0));
    for (int n = 0; n < 200; n++) {
        struct pg_slot *sl = &e.flows[0].slots[0];
        f.nrep = 0;
        f.req_shard = -1;
        if (!pg_build(&e, &e.flows[0], sl, 0, 0, fake_emit, &f))
            break;
        CU_ASSERT_EQUAL(f.req_shard, 2);
        for (uint32_t i = 0; i < sl->ncmds; i++)
            pg_check(&e, sl, i, &f.rep[i], f.el[i]);
        pg_complete(&e, sl, 1);
    }
    CU_ASSERT(e.loaded > 0 && e.loaded < 100);
    pg_engine_free(&e);
}

static void test_engine_detects_faults(void)
{
    faulty(FAKE_CORRUPT_GET, "corrupt value");
    faulty(FAKE_STALE_GET, "version");
    faulty(FAKE_DROP_SET, "GET");
    faulty(FAKE_INCR_TWICE, "INCR");
}

static void test_engine_lost_fails_run(void)
{
    struct pg_opts o;
    engine_opts(&o);
    o.load = false;
    static struct pg_engine e;
    static struct fake f;
    char err[128];
    memset(&f, 0, sizeof(f));
    f.c = &o.wl;
    CU_ASSERT_FATAL(pg_engine_init(&e, &o, err, sizeof(err)) == 0);
    CU_ASSERT(pg_phase_begin(&e, PG_PHASE_RUN, 1000));
    struct pg_slot *s = &e.flows[0].slots[0];
    CU_ASSERT(pg_build(&e, &e.flows[0], s, 1000, 1000, fake_emit, &f));
    pg_lost(&e, s, "test");
    CU_ASSERT_EQUAL(e.total.lost, 1);
    CU_ASSERT_FALSE(report_passed(&e));
    pg_engine_free(&e);
}

static void test_engine_open_loop_schedule(void)
{
    struct pg_opts o;
    engine_opts(&o);
    o.check = o.load = o.flush = o.verify = false;
    o.rate = 1000;              /* 2 flows: one request per 2 ms each */
    o.warmup_s = 0;
    o.duration_s = 1;
    static struct pg_engine e;
    char err[128];
    CU_ASSERT_FATAL(pg_engine_init(&e, &o, err, sizeof(err)) == 0);
    CU_ASSERT(pg_phase_begin(&e, PG_PHASE_RUN, 0));
    uint64_t t;
    struct pg_flow *f = &e.flows[0];
    CU_ASSERT(pg_may_send(&e, f, 0, &t));
    CU_ASSERT_EQUAL(t, 0);
    CU_ASSERT_FALSE(pg_may_send(&e, f, 1000000, &t));
    /* late: intended times are the schedule's, not "now" */
    CU_ASSERT(pg_may_send(&e, f, 9000000, &t));
    CU_ASSERT_EQUAL(t, 2000000);
    CU_ASSERT(pg_may_send(&e, f, 9000000, &t));
    CU_ASSERT_EQUAL(t, 4000000);
    CU_ASSERT_FALSE(pg_may_send(&e, f, 1000000001, &t));   /* past the end */
    pg_phase_end(&e, 1000000001);
    CU_ASSERT(e.run.unsent >= 990 / 2 && e.run.unsent <= 1000);
    CU_ASSERT_FALSE(report_passed(&e));      /* nothing answered: nothing measured */
    pg_engine_free(&e);
    char err2[128];
    engine_opts(&o);
    o.flows = 5000;
    CU_ASSERT_EQUAL(pg_opts_check(&o, err2, sizeof(err2)), -1);
    engine_opts(&o);
    o.check = false;
    CU_ASSERT_EQUAL(pg_opts_check(&o, err2, sizeof(err2)), -1);   /* flush without check */
}

static CU_TestInfo model_tests[] = {
    {"model get/set", test_model_get_set},
    {"model incr", test_model_incr},
    {"model limits", test_model_limits},
    {"wire command", test_wire_command},
    {"wire replies split anywhere", test_wire_replies_split_anywhere},
    {"wire reply errors", test_wire_reply_errors},
    {"engine clean run", test_engine_clean_run},
    {"engine detects faults", test_engine_detects_faults},
    {"engine keeps requests on one shard", test_engine_shards},
    {"engine lost request fails", test_engine_lost_fails_run},
    {"engine open loop schedule", test_engine_open_loop_schedule},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"pktgen_model", NULL, NULL, NULL, NULL, model_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
