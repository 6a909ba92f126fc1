/*
 * udp_exec.c - RESP over a complete datagram: the bounded scanner of its
 * commands (argv slices point into the datagram), the shards they touch,
 * and running them into the worker's reply buffer.
 */

#include "udp_internal.h"

/* ---- RESP over a complete datagram ----------------------------------------- */

/* Reads "<c><digits>\r\n" at p[*pos]; the number must be 0..max_ok. */
static enum scan_rc scan_len(const uint8_t *p, size_t len, size_t *pos, uint8_t c, int64_t *out)
{
    size_t i = *pos;
    if (i >= len || p[i] != c)
        return SCAN_MALFORMED;
    i++;
    int64_t v = 0;
    size_t start = i;
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        if (v > (INT64_MAX - 9) / 10)
            return SCAN_MALFORMED;
        v = v * 10 + (p[i] - '0');
        i++;
    }
    if (i == start || i - start > 18 || i + 1 >= len || p[i] != '\r' || p[i + 1] != '\n')
        return SCAN_MALFORMED;
    *pos = i + 2;
    *out = v;
    return SCAN_OK;
}

/* One command "*N\r\n($L\r\n<bytes>\r\n){N}" at p[*pos]; argv filled. */
enum scan_rc udp_scan_cmd(const uint8_t *p, size_t len, size_t *pos, struct hp_slice *argv,
                          int *argc, int64_t max_bulk)
{
    int64_t n;
    enum scan_rc rc = scan_len(p, len, pos, '*', &n);
    if (rc != SCAN_OK)
        return rc;
    if (n < 1)
        return SCAN_MALFORMED;
    if (n > UDP_MAX_ARGS)
        return SCAN_LIMIT;
    for (int64_t i = 0; i < n; i++) {
        int64_t bl;
        rc = scan_len(p, len, pos, '$', &bl);
        if (rc != SCAN_OK)
            return rc;
        if (bl > max_bulk)
            return SCAN_LIMIT;
        if ((uint64_t)bl + 2 > len - *pos)
            return SCAN_MALFORMED;
        if (p[*pos + (size_t)bl] != '\r' || p[*pos + (size_t)bl + 1] != '\n')
            return SCAN_MALFORMED;
        argv[i] = hp_slice_make(p + *pos, (size_t)bl);
        *pos += (size_t)bl + 2;
    }
    *argc = (int)n;
    return SCAN_OK;
}

const uint8_t *udp_pkt_payload(struct rte_mbuf *m, const struct udp_pkt *ctx)
{
    if (ctx->lin)
        return ctx->lin;
    return rte_pktmbuf_mtod(m, const uint8_t *) + ctx->info.payload_off + HPPROTO_HDR_LEN;
}

/* ---- execution --------------------------------------------------------------- */

static bool udp_forbidden(const struct cmd_spec *spec)
{
    return spec->kind == CMD_KIND_CLIENT && strcmp(spec->name, "ping") != 0 &&
           strcmp(spec->name, "echo") != 0;
}

static uint64_t all_shards(const struct worker *w)
{
    uint32_t n = w->rt->nworkers;
    return n == 64 ? ~0ull : (1ull << n) - 1;
}

/* Shards one command touches; 0 for none (client commands, errors). */
static uint64_t cmd_mask(struct worker *w, int argc, const struct hp_slice *argv)
{
    const struct cmd_spec *spec = cmd_lookup(argv[0].ptr, argv[0].len);
    if (spec == NULL || !cmd_arity_ok(spec, argc))
        return 0;
    switch (spec->kind) {
    case CMD_KIND_KEYED:
        return dispatch_key_mask(w, spec, argc, argv);
    case CMD_KIND_ALLSHARDS:
    case CMD_KIND_SCAN:
        /* SCAN's cursor names one shard, but parking all of them costs the
         * same single op and needs no cursor parsing here. */
        return all_shards(w);
    default:
        return 0;
    }
}

/* Runs one command on the shards in `held` (which cover its keys). */
static void exec_one(struct worker *w, int argc, const struct hp_slice *argv, struct rbuf *out,
                     uint64_t held)
{
    const struct cmd_spec *spec = cmd_lookup(argv[0].ptr, argv[0].len);
    if (spec == NULL) {
        cmd_reply_unknown(out, argc, argv);
        return;
    }
    if (!cmd_arity_ok(spec, argc)) {
        cmd_reply_arity(out, spec);
        return;
    }
    w->stats.total_commands_processed++;
    if (udp_forbidden(spec)) {
        resp_add_error(out, "ERR command not allowed over UDP");
        return;
    }
    if (spec->kind == CMD_KIND_CLIENT) {
        if (strcmp(spec->name, "echo") == 0)
            resp_add_bulk(out, argv[1].ptr, argv[1].len);
        else if (argc > 1)
            resp_add_bulk(out, argv[1].ptr, argv[1].len);
        else
            resp_add_simple(out, "PONG");
        return;
    }
    /* udp_serve() acquired every shard of the datagram before running it. */
    HP_ASSERT((cmd_mask(w, argc, argv) & ~held) == 0);
    struct exec_ctx x;
    exec_ctx_init(&x, w, w->id, held, 0, 2, argc, argv, out);
    call_udp(w, spec, &x, &w->udp->wait);
}

/* Does the (well-formed) datagram hold a write command? */
bool udp_dgram_writes(struct worker *w, const uint8_t *p, uint32_t len, uint16_t ncmds)
{
    struct udp_worker *u = w->udp;
    size_t pos = 0;
    for (uint16_t i = 0; i < ncmds; i++) {
        int argc;
        enum scan_rc rc = udp_scan_cmd(p, len, &pos, u->argv, &argc, INT64_MAX);
        HP_ASSERT(rc == SCAN_OK);
        const struct cmd_spec *spec = cmd_lookup(u->argv[0].ptr, u->argv[0].len);
        if (spec != NULL && (spec->flags & CMD_WRITE))
            return true;
    }
    return false;
}

/* Shards the whole (well-formed) datagram touches. */
uint64_t udp_dgram_mask(struct worker *w, const uint8_t *p, uint32_t len, uint16_t ncmds)
{
    struct udp_worker *u = w->udp;
    uint64_t mask = 0;
    size_t pos = 0;
    for (uint16_t i = 0; i < ncmds; i++) {
        int argc;
        enum scan_rc rc = udp_scan_cmd(p, len, &pos, u->argv, &argc, INT64_MAX);
        HP_ASSERT(rc == SCAN_OK);
        mask |= cmd_mask(w, argc, u->argv);
    }
    return mask;
}

/* Parse every command (nothing runs unless all are well formed). */
enum scan_rc udp_parse_all(struct worker *w, const uint8_t *p, uint32_t len, uint16_t ncmds)
{
    struct udp_worker *u = w->udp;
    int64_t max_bulk = CONFIG_RT_GET(w->rt->cfg, proto_max_bulk_len);
    size_t pos = 0;
    for (uint16_t i = 0; i < ncmds; i++) {
        int argc;
        enum scan_rc rc = udp_scan_cmd(p, len, &pos, u->argv, &argc, max_bulk);
        if (rc != SCAN_OK)
            return rc;
    }
    return pos == len ? SCAN_OK : SCAN_MALFORMED;
}

void udp_execute_all(struct worker *w, const uint8_t *p, uint32_t len, uint16_t ncmds,
                     uint64_t held)
{
    struct udp_worker *u = w->udp;
    size_t pos = 0;
    rbuf_reset(&u->out);
    u->wait.mask = 0;
    for (uint16_t i = 0; i < ncmds; i++) {
        int argc;
        enum scan_rc rc = udp_scan_cmd(p, len, &pos, u->argv, &argc, INT64_MAX);
        HP_ASSERT(rc == SCAN_OK);
        size_t before = u->out.len;
        exec_one(w, argc, u->argv, &u->out, held);
        if (u->out.overflow || u->out.len > HPPROTO_MAX_REPLY_LEN) {
            /* The command ran; its reply cannot travel over UDP. */
            u->out.overflow = false;
            u->out.len = before;
            resp_add_error(&u->out, "ERR reply too large for UDP, use TCP");
        }
    }
}
