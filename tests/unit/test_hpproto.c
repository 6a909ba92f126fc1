/* test_hpproto.c - UDP datagram protocol: header codec, fragmentation,
 * reassembly, request-id window, cookies (wire/hpproto.c). */
#include "cu_main.h"
#include "hpproto.h"

#include <string.h>

#define SESSION 0x0123456789abcdefull

/* The request of docs/PROTOCOL.md "Examples": PING, session 0123456789abcdef,
 * request 1, max_dgram 1472. */
static const uint8_t ping_request[48 + 14] = {
    0x48, 0x50, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01,   /* magic ver flags status cmds */
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,   /* session */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,   /* request id */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,   /* cookie */
    0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00,   /* total_len, frag_offset */
    0x00, 0x00, 0x00, 0x01, 0x05, 0xc0, 0x00, 0x00,   /* index, count, max_dgram, rsvd */
    '*', '1', '\r', '\n', '$', '4', '\r', '\n', 'P', 'I', 'N', 'G', '\r', '\n',
};

static size_t make_dgram(uint8_t *out, const struct hpproto_hdr *h, const void *payload,
                         size_t plen)
{
    hpproto_encode(h, out);
    if (plen)
        memcpy(out + HPPROTO_HDR_LEN, payload, plen);
    return HPPROTO_HDR_LEN + plen;
}

static struct hpproto_hdr ping_hdr(void)
{
    struct hpproto_hdr h;
    hpproto_request_hdr(&h, SESSION, 1, 1, 14);
    h.max_dgram = 1472;
    return h;
}

/* Field-by-field: struct hpproto_hdr has padding (after cmd_count and at the
 * end) whose bytes are unspecified, so memcmp() of two headers compares
 * garbage and fails at random. */
static void assert_hdr_equal(const struct hpproto_hdr *a, const struct hpproto_hdr *b)
{
    CU_ASSERT_EQUAL(a->version, b->version);
    CU_ASSERT_EQUAL(a->flags, b->flags);
    CU_ASSERT_EQUAL(a->status, b->status);
    CU_ASSERT_EQUAL(a->cmd_count, b->cmd_count);
    CU_ASSERT_EQUAL(a->session_id, b->session_id);
    CU_ASSERT_EQUAL(a->request_id, b->request_id);
    CU_ASSERT_EQUAL(a->cookie, b->cookie);
    CU_ASSERT_EQUAL(a->total_len, b->total_len);
    CU_ASSERT_EQUAL(a->frag_offset, b->frag_offset);
    CU_ASSERT_EQUAL(a->frag_index, b->frag_index);
    CU_ASSERT_EQUAL(a->frag_count, b->frag_count);
    CU_ASSERT_EQUAL(a->max_dgram, b->max_dgram);
}

/* ---- header ---------------------------------------------------------------- */

static void test_encode_layout(void)
{
    struct hpproto_hdr h = ping_hdr();
    uint8_t d[128];
    size_t n = make_dgram(d, &h, "*1\r\n$4\r\nPING\r\n", 14);
    CU_ASSERT_EQUAL(n, sizeof(ping_request));
    CU_ASSERT_EQUAL(memcmp(d, ping_request, n), 0);

    struct hpproto_hdr back;
    CU_ASSERT_EQUAL(hpproto_decode(ping_request, sizeof(ping_request), &back), HPPROTO_OK);
    assert_hdr_equal(&back, &h);

    /* Every field at its documented offset, with distinct values. */
    struct hpproto_hdr r = {
        .version = 1, .flags = HPPROTO_F_REPLY | HPPROTO_F_COOKIE, .status = 0,
        .cmd_count = 0x0203, .session_id = 0x1112131415161718ull,
        .request_id = 0x2122232425262728ull, .cookie = 0x3132333435363738ull,
        .total_len = 0x00020000, .frag_offset = 0x00010000, .frag_index = 1,
        .frag_count = 2, .max_dgram = 0,
    };
    hpproto_encode(&r, d);
    static const uint8_t want[48] = {
        0x48, 0x50, 0x01, 0x03, 0x00, 0x00, 0x02, 0x03,
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
        0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
        0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38,
        0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
    };
    CU_ASSERT_EQUAL(memcmp(d, want, 48), 0);
    static uint8_t big[48 + 0x10000];
    memcpy(big, d, 48);
    memset(big + 48, 'x', 0x10000);
    CU_ASSERT_EQUAL(hpproto_decode(big, sizeof(big), &back), HPPROTO_OK);
    assert_hdr_equal(&back, &r);
}

static void test_round_trips(void)
{
    uint32_t seed = 7;
    uint8_t d[HPPROTO_HDR_LEN + 64];
    for (int i = 0; i < 5000; i++) {
        seed = seed * 1103515245u + 12345u;
        struct hpproto_hdr h;
        uint32_t plen = 1 + seed % 64;
        hpproto_request_hdr(&h, ((uint64_t)seed << 32) | 1, seed | 1ull << 40,
                            (uint16_t)(1 + seed % HPPROTO_MAX_CMDS), plen);
        if (seed & 1) {
            h.flags |= HPPROTO_F_COOKIE;
            h.cookie = (uint64_t)seed * 0x9e3779b97f4a7c15ull;
        }
        if (seed & 2)
            h.flags |= HPPROTO_F_RETRY;
        h.max_dgram = (seed & 4) ? (uint16_t)(HPPROTO_MIN_DGRAM + seed % 60000) : 0;
        memset(d + HPPROTO_HDR_LEN, 'p', plen);
        hpproto_encode(&h, d);
        struct hpproto_hdr back;
        CU_ASSERT_EQUAL_FATAL(hpproto_decode(d, HPPROTO_HDR_LEN + plen, &back), HPPROTO_OK);
        assert_hdr_equal(&back, &h);
    }
}

/* Decodes the datagram produced by `mutate` applied to a valid one. */
static enum hpproto_err decode_mutated(struct hpproto_hdr h, size_t plen,
                                       void (*mutate)(uint8_t *d, size_t *len))
{
    static uint8_t d[HPPROTO_HDR_LEN + 4096];
    HP_ASSERT(plen <= 4096);
    size_t len = make_dgram(d, &h, NULL, 0) + plen;
    memset(d + HPPROTO_HDR_LEN, 'a', plen);
    if (mutate)
        mutate(d, &len);
    struct hpproto_hdr out;
    return hpproto_decode(d, len, &out);
}

static void m_magic(uint8_t *d, size_t *len) { d[1] = 0x51; }
static void m_flag80(uint8_t *d, size_t *len) { d[3] |= 0x80; }
static void m_reserved(uint8_t *d, size_t *len) { d[47] = 1; }
static void m_cookie_no_flag(uint8_t *d, size_t *len) { d[31] = 1; }
static void m_longer(uint8_t *d, size_t *len) { (*len)++; }
static void m_shorter(uint8_t *d, size_t *len) { (*len)--; }

static void test_decode_errors_request(void)
{
    struct hpproto_hdr h = ping_hdr(), out;
    CU_ASSERT_EQUAL(decode_mutated(h, 14, NULL), HPPROTO_OK);
    uint8_t small[48] = {0x48, 0x50, 1};
    CU_ASSERT_EQUAL(hpproto_decode(small, 0, &out), HPPROTO_E_SHORT);
    CU_ASSERT_EQUAL(hpproto_decode(small, 47, &out), HPPROTO_E_SHORT);
    CU_ASSERT_EQUAL(hpproto_decode(NULL, 0, &out), HPPROTO_E_SHORT);
    CU_ASSERT_EQUAL(decode_mutated(h, 14, m_magic), HPPROTO_E_MAGIC);
    CU_ASSERT_EQUAL(decode_mutated(h, 14, m_flag80), HPPROTO_E_FLAGS);
    CU_ASSERT_EQUAL(decode_mutated(h, 14, m_reserved), HPPROTO_E_RESERVED);
    CU_ASSERT_EQUAL(decode_mutated(h, 14, m_cookie_no_flag), HPPROTO_E_COOKIE);
    CU_ASSERT_EQUAL(decode_mutated(h, 14, m_longer), HPPROTO_E_LENGTH);
    CU_ASSERT_EQUAL(decode_mutated(h, 14, m_shorter), HPPROTO_E_LENGTH);

    /* Version: reported, and the header is still decoded for the reply. */
    struct hpproto_hdr v = h;
    v.version = 2;
    uint8_t d[128];
    size_t n = make_dgram(d, &v, "*1\r\n$4\r\nPING\r\n", 14);
    CU_ASSERT_EQUAL(hpproto_decode(d, n, &out), HPPROTO_E_VERSION);
    CU_ASSERT_EQUAL(out.version, 2);
    CU_ASSERT_EQUAL(out.session_id, SESSION);
    CU_ASSERT_EQUAL(out.request_id, 1);

    struct { const char *what; struct hpproto_hdr h; size_t plen; enum hpproto_err want; } cases[] = {
        {"status in request", h, 14, HPPROTO_E_STATUS},
        {"session 0", h, 14, HPPROTO_E_SESSION},
        {"request id 0", h, 14, HPPROTO_E_REQUEST_ID},
        {"cmd_count 0", h, 14, HPPROTO_E_CMD_COUNT},
        {"cmd_count over max", h, 14, HPPROTO_E_CMD_COUNT},
        {"two fragments", h, 14, HPPROTO_E_FRAG},
        {"fragment index", h, 14, HPPROTO_E_FRAG},
        {"fragment offset", h, 14, HPPROTO_E_FRAG},
        {"empty payload", h, 0, HPPROTO_E_LENGTH},
        {"total_len lies", h, 14, HPPROTO_E_LENGTH},
        {"max_dgram small", h, 14, HPPROTO_E_DGRAM},
        {"max_dgram large", h, 14, HPPROTO_E_DGRAM},
    };
    cases[0].h.status = 1;
    cases[1].h.session_id = 0;
    cases[2].h.request_id = 0;
    cases[3].h.cmd_count = 0;
    cases[4].h.cmd_count = HPPROTO_MAX_CMDS + 1;
    cases[5].h.frag_count = 2;
    cases[6].h.frag_index = 1;
    cases[7].h.frag_offset = 1;
    cases[8].h.total_len = 0;
    cases[9].h.total_len = 13;
    cases[10].h.max_dgram = HPPROTO_MIN_DGRAM - 1;
    cases[11].h.max_dgram = HPPROTO_MAX_DGRAM + 1;
    for (size_t i = 0; i < HP_ARRAY_LEN(cases); i++) {
        enum hpproto_err e = decode_mutated(cases[i].h, cases[i].plen, NULL);
        if (e != cases[i].want)
            fprintf(stderr, "  %s: got %s\n", cases[i].what, hpproto_err_name(e));
        CU_ASSERT_EQUAL(e, cases[i].want);
    }
    /* Limits themselves are accepted. */
    struct hpproto_hdr ok = h;
    ok.cmd_count = HPPROTO_MAX_CMDS;
    ok.max_dgram = HPPROTO_MAX_DGRAM;
    CU_ASSERT_EQUAL(decode_mutated(ok, 14, NULL), HPPROTO_OK);
    ok.max_dgram = HPPROTO_MIN_DGRAM;
    CU_ASSERT_EQUAL(decode_mutated(ok, 14, NULL), HPPROTO_OK);
}

static struct hpproto_hdr reply_frag(uint32_t total, uint32_t size, uint16_t index)
{
    struct hpproto_hdr req = ping_hdr(), h;
    hpproto_reply_hdr(&h, &req, HPPROTO_ST_OK, total);
    hpproto_frag_hdr(&h, total, size, index);
    return h;
}

static void test_decode_errors_reply(void)
{
    struct hpproto_hdr req = ping_hdr(), h;
    hpproto_reply_hdr(&h, &req, HPPROTO_ST_OK, 7);
    CU_ASSERT_EQUAL(decode_mutated(h, 7, NULL), HPPROTO_OK);

    /* Non-OK statuses: header only. */
    struct hpproto_hdr st;
    hpproto_reply_hdr(&st, &req, HPPROTO_ST_BUSY, 0);
    CU_ASSERT_EQUAL(decode_mutated(st, 0, NULL), HPPROTO_OK);
    CU_ASSERT_EQUAL(decode_mutated(st, 1, NULL), HPPROTO_E_LENGTH);
    hpproto_reply_hdr(&st, &req, HPPROTO_ST_COOKIE, 0);
    CU_ASSERT_EQUAL(decode_mutated(st, 0, NULL), HPPROTO_E_COOKIE);   /* cookie flag missing */
    st.flags |= HPPROTO_F_COOKIE;
    st.cookie = 42;
    CU_ASSERT_EQUAL(decode_mutated(st, 0, NULL), HPPROTO_OK);
    st.frag_count = 2;
    CU_ASSERT_EQUAL(decode_mutated(st, 0, NULL), HPPROTO_E_FRAG);

    struct { const char *what; struct hpproto_hdr h; size_t plen; enum hpproto_err want; } cases[] = {
        {"retry flag in reply", h, 7, HPPROTO_E_FLAGS},
        {"unknown status", h, 0, HPPROTO_E_STATUS},
        {"max_dgram in reply", h, 7, HPPROTO_E_DGRAM},
        {"OK without commands", h, 7, HPPROTO_E_CMD_COUNT},
        {"OK with total 0", h, 0, HPPROTO_E_LENGTH},
        {"OK over the reply limit", h, 7, HPPROTO_E_LENGTH},
        {"OK, payload short of total", h, 6, HPPROTO_E_LENGTH},
        {"OK, payload past total", h, 8, HPPROTO_E_LENGTH},
        {"OK, frag_count 0", h, 7, HPPROTO_E_FRAG},
        {"OK, index past count", h, 7, HPPROTO_E_FRAG},
        {"OK, empty fragment", h, 0, HPPROTO_E_LENGTH},
    };
    cases[0].h.flags |= HPPROTO_F_RETRY;
    cases[1].h.status = HPPROTO_ST_COUNT;
    cases[1].h.total_len = 0;
    cases[2].h.max_dgram = 1472;
    cases[3].h.cmd_count = 0;
    cases[4].h.total_len = 0;
    cases[5].h.total_len = HPPROTO_MAX_REPLY_LEN + 1;
    cases[8].h.frag_count = 0;
    cases[9].h.frag_index = 1;
    for (size_t i = 0; i < HP_ARRAY_LEN(cases); i++) {
        enum hpproto_err e = decode_mutated(cases[i].h, cases[i].plen, NULL);
        if (e != cases[i].want)
            fprintf(stderr, "  %s: got %s\n", cases[i].what, hpproto_err_name(e));
        CU_ASSERT_EQUAL(e, cases[i].want);
    }

    /* Fragment geometry: 2500 bytes in fragments of 1000 (1000, 1000, 500). */
    CU_ASSERT_EQUAL(decode_mutated(reply_frag(2500, 1000, 0), 1000, NULL), HPPROTO_OK);
    CU_ASSERT_EQUAL(decode_mutated(reply_frag(2500, 1000, 1), 1000, NULL), HPPROTO_OK);
    CU_ASSERT_EQUAL(decode_mutated(reply_frag(2500, 1000, 2), 500, NULL), HPPROTO_OK);
    struct hpproto_hdr g = reply_frag(2500, 1000, 1);
    g.frag_offset = 999;                                      /* not index * size */
    CU_ASSERT_EQUAL(decode_mutated(g, 1000, NULL), HPPROTO_E_FRAG);
    g = reply_frag(2500, 1000, 1);
    g.frag_count = 4;                                         /* 4 x 1000 would leave one empty */
    CU_ASSERT_EQUAL(decode_mutated(g, 1000, NULL), HPPROTO_E_FRAG);
    g.frag_count = 2;                                         /* 2 x 1000 cannot hold 2500 */
    CU_ASSERT_EQUAL(decode_mutated(reply_frag(2500, 1000, 0), 1000, NULL), HPPROTO_OK);
    g.frag_index = 0;
    g.frag_offset = 0;
    CU_ASSERT_EQUAL(decode_mutated(g, 1000, NULL), HPPROTO_E_FRAG);
    g = reply_frag(2500, 1000, 2);
    g.frag_offset = 1999;                                     /* last not at count-1 * S */
    CU_ASSERT_EQUAL(decode_mutated(g, 501, NULL), HPPROTO_E_FRAG);
    g = reply_frag(2500, 1000, 2);
    CU_ASSERT_EQUAL(decode_mutated(g, 499, NULL), HPPROTO_E_LENGTH);   /* last ends early */
    g = reply_frag(2500, 1000, 2);
    g.total_len = 4100;
    g.frag_offset = 2000;                                     /* last bigger than S */
    CU_ASSERT_EQUAL(decode_mutated(g, 2100, NULL), HPPROTO_E_FRAG);
    g = reply_frag(2500, 1000, 0);
    g.frag_offset = 1;
    CU_ASSERT_EQUAL(decode_mutated(g, 1000, NULL), HPPROTO_E_FRAG);
    g = reply_frag(700, 1000, 0);                             /* single, offset != 0 */
    g.frag_offset = 100;
    CU_ASSERT_EQUAL(decode_mutated(g, 600, NULL), HPPROTO_E_FRAG);
    g.frag_offset = 800;
    CU_ASSERT_EQUAL(decode_mutated(g, 1, NULL), HPPROTO_E_LENGTH);
}

static void test_names(void)
{
    for (int e = 0; e < HPPROTO_E_COUNT; e++)
        CU_ASSERT_STRING_NOT_EQUAL(hpproto_err_name((enum hpproto_err)e), "unknown error");
    CU_ASSERT_STRING_EQUAL(hpproto_err_name(HPPROTO_E_COUNT), "unknown error");
    CU_ASSERT_STRING_EQUAL(hpproto_status_name(HPPROTO_ST_SESSION_LOST), "SESSION_LOST");
    CU_ASSERT_STRING_EQUAL(hpproto_status_name(999), "UNKNOWN");
}

/* ---- fragmentation and reassembly ------------------------------------------ */

static void test_frag_math(void)
{
    CU_ASSERT_EQUAL(hpproto_frag_count(0, 1000), 1);
    CU_ASSERT_EQUAL(hpproto_frag_count(1, 1000), 1);
    CU_ASSERT_EQUAL(hpproto_frag_count(1000, 1000), 1);
    CU_ASSERT_EQUAL(hpproto_frag_count(1001, 1000), 2);
    CU_ASSERT_EQUAL(hpproto_frag_count(65535u * 1000, 1000), 65535);
    CU_ASSERT_EQUAL(hpproto_frag_count(65535u * 1000 + 1, 1000), 0);   /* too many */
    CU_ASSERT_EQUAL(hpproto_frag_size(1472), 1424);

    struct hpproto_hdr req = ping_hdr();
    CU_ASSERT_EQUAL(hpproto_reply_dgram(8972, &req), 1472);
    req.max_dgram = 0;
    CU_ASSERT_EQUAL(hpproto_reply_dgram(8972, &req), 8972);
    req.max_dgram = 9000;
    CU_ASSERT_EQUAL(hpproto_reply_dgram(1472, &req), 1472);

    struct hpproto_hdr h;
    uint32_t total = 0;
    for (uint16_t i = 0; i < 3; i++) {
        uint32_t n = hpproto_frag_hdr(&h, 2500, 1000, i);
        CU_ASSERT_EQUAL(h.frag_offset, (uint32_t)i * 1000);
        CU_ASSERT_EQUAL(h.frag_count, 3);
        total += n;
    }
    CU_ASSERT_EQUAL(total, 2500);
    CU_ASSERT_EQUAL(hpproto_frag_hdr(&h, 2500, 1000, 2), 500);
}

static struct hpproto_reasm_limits limits(uint32_t pending, size_t bytes, uint32_t reply)
{
    struct hpproto_reasm_limits l = {pending, bytes, reply};
    return l;
}

/* Splits `len` bytes into fragment datagrams (header + payload) of a reply
 * to request `id`; returns the count. */
static uint32_t fragment(uint8_t **dgrams, size_t *lens, uint64_t id, const uint8_t *data,
                         uint32_t len, uint32_t size)
{
    struct hpproto_hdr req, h;
    hpproto_request_hdr(&req, SESSION, id, 3, 1);
    hpproto_reply_hdr(&h, &req, HPPROTO_ST_OK, len);
    uint32_t count = hpproto_frag_count(len, size);
    HP_ASSERT(count > 0);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t n = hpproto_frag_hdr(&h, len, size, (uint16_t)i);
        dgrams[i] = malloc(HPPROTO_HDR_LEN + n);
        HP_ASSERT(dgrams[i] != NULL);
        hpproto_encode(&h, dgrams[i]);
        memcpy(dgrams[i] + HPPROTO_HDR_LEN, data + h.frag_offset, n);
        lens[i] = HPPROTO_HDR_LEN + n;
    }
    return count;
}

static enum hpproto_reasm_result feed(struct hpproto_reasm *r, const uint8_t *d, size_t len,
                                      uint64_t now, struct hpproto_reasm_entry **done)
{
    struct hpproto_hdr h;
    HP_ASSERT(hpproto_decode(d, len, &h) == HPPROTO_OK);
    return hpproto_reasm_add(r, &h, d + HPPROTO_HDR_LEN, len - HPPROTO_HDR_LEN, now, done);
}

static void test_reasm_200k_shuffled(void)
{
    enum { LEN = 200 * 1000, SIZE = 1424 };
    static uint8_t data[LEN];
    uint32_t seed = 5;
    for (size_t i = 0; i < LEN; i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (uint8_t)(seed >> 16);
    }
    static uint8_t *dg[200];
    static size_t lens[200];
    uint32_t count = fragment(dg, lens, 9, data, LEN, SIZE);
    CU_ASSERT_EQUAL(count, 141);
    uint32_t order[200];
    for (uint32_t i = 0; i < count; i++)
        order[i] = i;
    for (uint32_t i = count - 1; i > 0; i--) {              /* Fisher-Yates */
        seed = seed * 1103515245u + 12345u;
        uint32_t j = (seed >> 8) % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    struct hpproto_reasm r;
    struct hpproto_reasm_limits l = limits(4, 1 << 20, HPPROTO_MAX_REPLY_LEN);
    CU_ASSERT_EQUAL_FATAL(hpproto_reasm_init(&r, &l), 0);
    struct hpproto_reasm_entry *done = NULL;
    for (uint32_t k = 0; k < count; k++) {
        enum hpproto_reasm_result res = feed(&r, dg[order[k]], lens[order[k]], k, &done);
        CU_ASSERT_EQUAL(res, k + 1 < count ? HPPROTO_REASM_PARTIAL : HPPROTO_REASM_COMPLETE);
        if (k % 10 == 3)   /* duplicates along the way are ignored */
            CU_ASSERT_EQUAL(feed(&r, dg[order[k]], lens[order[k]], k, &done), HPPROTO_REASM_DUPLICATE);
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(done);
    CU_ASSERT_EQUAL(done->total_len, LEN);
    CU_ASSERT_EQUAL(done->cmd_count, 3);
    CU_ASSERT_EQUAL(memcmp(done->data, data, LEN), 0);
    /* Late duplicate of a complete, untaken reply. */
    struct hpproto_reasm_entry *again = done;
    CU_ASSERT_EQUAL(feed(&r, dg[0], lens[0], 999, &again), HPPROTO_REASM_DUPLICATE);
    CU_ASSERT_PTR_NULL(again);
    CU_ASSERT_EQUAL(r.pending, 1);
    uint8_t *owned = hpproto_reasm_take(&r, done);
    CU_ASSERT_EQUAL(memcmp(owned, data, LEN), 0);
    free(owned);
    CU_ASSERT_EQUAL(r.pending, 0);
    CU_ASSERT_EQUAL(r.bytes, 0);
    CU_ASSERT_EQUAL(r.stat[HPPROTO_REASM_COMPLETE], 1);
    CU_ASSERT_EQUAL(r.stat[HPPROTO_REASM_PARTIAL], count - 1);
    hpproto_reasm_free(&r);
    for (uint32_t i = 0; i < count; i++)
        free(dg[i]);
}

static void test_reasm_outcomes(void)
{
    static uint8_t data[5000];
    memset(data, 'd', sizeof(data));
    uint8_t *a[8], *b[8], *c[8];
    size_t al[8], bl[8], cl[8];
    uint32_t na = fragment(a, al, 1, data, 2500, 1000);   /* 3 fragments */
    uint32_t nb = fragment(b, bl, 2, data, 2500, 1000);
    uint32_t nc = fragment(c, cl, 3, data, 2500, 1000);
    struct hpproto_reasm r;
    struct hpproto_reasm_entry *done;
    /* Budget: two 2500-byte replies (+1 bitmap byte each) but not three. */
    struct hpproto_reasm_limits l = limits(3, 2 * 2501 + 100, 3000);
    CU_ASSERT_EQUAL_FATAL(hpproto_reasm_init(&r, &l), 0);

    /* Single-fragment replies are not stored. */
    uint8_t *s[1];
    size_t sl[1];
    CU_ASSERT_EQUAL(fragment(s, sl, 4, data, 900, 1000), 1);
    CU_ASSERT_EQUAL(feed(&r, s[0], sl[0], 0, &done), HPPROTO_REASM_SINGLE);
    CU_ASSERT_EQUAL(r.pending, 0);
    free(s[0]);

    CU_ASSERT_EQUAL(feed(&r, a[2], al[2], 10, &done), HPPROTO_REASM_PARTIAL);   /* last first */
    CU_ASSERT_EQUAL(feed(&r, b[0], bl[0], 10, &done), HPPROTO_REASM_PARTIAL);
    CU_ASSERT_EQUAL(feed(&r, c[0], cl[0], 10, &done), HPPROTO_REASM_NO_MEMORY);
    CU_ASSERT_EQUAL(r.pending, 2);
    CU_ASSERT_EQUAL(r.bytes, 2 * 2501);

    /* Too large for max_reply_len. */
    uint8_t *big[8];
    size_t bigl[8];
    uint32_t nbig = fragment(big, bigl, 5, data, 3001, 1000);
    CU_ASSERT_EQUAL(feed(&r, big[0], bigl[0], 10, &done), HPPROTO_REASM_TOO_LARGE);

    /* Inconsistent: same request, different total / different fragment size. */
    uint8_t *x[8];
    size_t xl[8];
    uint32_t nx = fragment(x, xl, 2, data, 2400, 1000);
    CU_ASSERT_EQUAL(feed(&r, x[1], xl[1], 11, &done), HPPROTO_REASM_INCONSISTENT);
    CU_ASSERT_EQUAL(r.pending, 1);                     /* b discarded */
    for (uint32_t i = 0; i < nx; i++)
        free(x[i]);
    nx = fragment(x, xl, 1, data, 2500, 900);          /* 3 x 900 vs 3 x 1000: sizes differ */
    CU_ASSERT_EQUAL(nx, 3);
    CU_ASSERT_EQUAL(feed(&r, x[1], xl[1], 11, &done), HPPROTO_REASM_INCONSISTENT);
    CU_ASSERT_EQUAL(r.pending, 0);
    CU_ASSERT_EQUAL(feed(&r, x[2], xl[2], 11, &done), HPPROTO_REASM_PARTIAL);   /* restarts */
    CU_ASSERT_EQUAL(feed(&r, a[0], al[0], 11, &done), HPPROTO_REASM_INCONSISTENT);
    CU_ASSERT_EQUAL(r.pending, 0);
    for (uint32_t i = 0; i < nx; i++)
        free(x[i]);

    /* Slots: three pending at most. */
    uint8_t *y[4][8];
    size_t yl[4][8];
    struct hpproto_reasm_limits l2 = limits(3, 1 << 20, 3000);
    hpproto_reasm_free(&r);
    CU_ASSERT_EQUAL_FATAL(hpproto_reasm_init(&r, &l2), 0);
    for (int k = 0; k < 4; k++) {
        fragment(y[k], yl[k], 10 + (uint64_t)k, data, 2500, 1000);
        CU_ASSERT_EQUAL(feed(&r, y[k][0], yl[k][0], 100 + (uint64_t)k, &done),
                        k < 3 ? HPPROTO_REASM_PARTIAL : HPPROTO_REASM_NO_SLOT);
    }
    /* Timeouts by caller time: idle since 100, 101, 102. */
    CU_ASSERT_EQUAL(feed(&r, y[2][1], yl[2][1], 150, &done), HPPROTO_REASM_PARTIAL);
    CU_ASSERT_EQUAL(hpproto_reasm_expire(&r, 120, 50), 0);
    CU_ASSERT_EQUAL(hpproto_reasm_expire(&r, 50, 10), 0);     /* clock before progress */
    CU_ASSERT_EQUAL(hpproto_reasm_expire(&r, 151, 50), 2);   /* 10, 11 expire; 12 progressed */
    CU_ASSERT_EQUAL(r.pending, 1);
    CU_ASSERT_EQUAL(r.expired, 2);
    CU_ASSERT_EQUAL(feed(&r, y[3][0], yl[3][0], 152, &done), HPPROTO_REASM_PARTIAL);  /* slot free */
    /* Missing fragments never complete; drop abandons. */
    CU_ASSERT_TRUE(hpproto_reasm_drop(&r, SESSION, 13));
    CU_ASSERT_FALSE(hpproto_reasm_drop(&r, SESSION, 13));
    CU_ASSERT_EQUAL(feed(&r, y[2][0], yl[2][0], 153, &done), HPPROTO_REASM_DUPLICATE);
    CU_ASSERT_EQUAL(feed(&r, y[2][2], yl[2][2], 153, &done), HPPROTO_REASM_COMPLETE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(done);
    hpproto_reasm_release(&r, done);
    CU_ASSERT_EQUAL(r.pending, 0);
    CU_ASSERT_EQUAL(r.bytes, 0);
    /* Another session's reply with the same request id is another reply. */
    hpproto_reasm_free(&r);
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 3; i++)
            free(y[k][i]);
    for (uint32_t i = 0; i < na; i++)
        free(a[i]);
    for (uint32_t i = 0; i < nb; i++)
        free(b[i]);
    for (uint32_t i = 0; i < nc; i++)
        free(c[i]);
    for (uint32_t i = 0; i < nbig; i++)
        free(big[i]);
}

/* ---- request-id window ----------------------------------------------------- */

static void test_window(void)
{
    struct hpproto_window w;
    hpproto_window_init(&w);
    CU_ASSERT_EQUAL(hpproto_window_check(&w, 1), HPPROTO_WIN_NEW);
    CU_ASSERT_EQUAL(hpproto_window_check(&w, 5000), HPPROTO_WIN_NEW);
    hpproto_window_mark(&w, 3);
    CU_ASSERT_EQUAL(hpproto_window_check(&w, 3), HPPROTO_WIN_DUPLICATE);
    CU_ASSERT_EQUAL(hpproto_window_check(&w, 1), HPPROTO_WIN_NEW);       /* reordered */
    CU_ASSERT_EQUAL(hpproto_window_check(&w, 2), HPPROTO_WIN_NEW);
    hpproto_window_mark(&w, 1);
    CU_ASSERT_EQUAL(hpproto_window_check(&w, 1), HPPROTO_WIN_DUPLICATE);
    CU_ASSERT_EQUAL(hpproto_window_check(&w, 2), HPPROTO_WIN_NEW);

    /* Advance by less than the window: old marks stay, skipped ids are new. */
    hpproto_window_mark(&w, 3 + HPPROTO_ID_WINDOW - 1);
    CU_ASSERT_EQUAL(hpproto_window_check(&w, 3), HPPROTO_WIN_DUPLICATE);
    CU_ASSERT_EQUAL(hpproto_window_check(&w, 1), HPPROTO_WIN_TOO_OLD);
    CU_ASSERT_EQUAL(hpproto_window_check(&w, 2), HPPROTO_WIN_TOO_OLD);
    CU_ASSERT_EQUAL(hpproto_window_check(&w, 4), HPPROTO_WIN_NEW);
    /* One more: id 3 leaves the window, its bit now belongs to 3 + W. */
    hpproto_window_mark(&w, 3 + HPPROTO_ID_WINDOW + 1);
    CU_ASSERT_EQUAL(hpproto_window_check(&w, 3), HPPROTO_WIN_TOO_OLD);
    CU_ASSERT_EQUAL(hpproto_window_check(&w, 3 + HPPROTO_ID_WINDOW), HPPROTO_WIN_NEW);
    CU_ASSERT_EQUAL(hpproto_window_check(&w, 3 + HPPROTO_ID_WINDOW + 1), HPPROTO_WIN_DUPLICATE);

    /* A jump past a whole window forgets everything below it. */
    uint64_t far = 1000000;
    hpproto_window_mark(&w, far);
    for (uint64_t id = far - HPPROTO_ID_WINDOW + 1; id < far; id++)
        CU_ASSERT_EQUAL(hpproto_window_check(&w, id), HPPROTO_WIN_NEW);
    CU_ASSERT_EQUAL(hpproto_window_check(&w, far - HPPROTO_ID_WINDOW), HPPROTO_WIN_TOO_OLD);

    /* Exhaustive against a plain model over a random walk. */
    static bool model[40000];
    memset(model, 0, sizeof(model));
    hpproto_window_init(&w);
    uint64_t highest = 0;
    uint32_t seed = 11, mismatches = 0;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        uint64_t base = highest > 1500 ? highest - 1500 : 1;
        uint64_t id = base + (seed >> 8) % 1600;
        if (id >= 40000)
            break;
        enum hpproto_window_verdict want =
            id > highest ? HPPROTO_WIN_NEW
            : highest - id >= HPPROTO_ID_WINDOW ? HPPROTO_WIN_TOO_OLD
            : model[id] ? HPPROTO_WIN_DUPLICATE : HPPROTO_WIN_NEW;
        enum hpproto_window_verdict got = hpproto_window_check(&w, id);
        mismatches += got != want;
        if (got == HPPROTO_WIN_NEW) {
            hpproto_window_mark(&w, id);
            model[id] = true;
            highest = HP_MAX(highest, id);
        }
    }
    CU_ASSERT_EQUAL(mismatches, 0);

    CU_ASSERT_FALSE(hpproto_window_may_start(0));
    CU_ASSERT_TRUE(hpproto_window_may_start(1));
    CU_ASSERT_TRUE(hpproto_window_may_start(HPPROTO_ID_WINDOW));
    CU_ASSERT_FALSE(hpproto_window_may_start(HPPROTO_ID_WINDOW + 1));
}

/* ---- cookies ---------------------------------------------------------------- */

static void test_siphash_vectors(void)
{
    uint8_t key[16], msg[64];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    /* From the SipHash paper (appendix A) and the reference vectors. */
    CU_ASSERT_EQUAL(hpproto_siphash24(key, msg, 15), 0xa129ca6149be45e5ull);
    CU_ASSERT_EQUAL(hpproto_siphash24(key, msg, 0), 0x726fdb47dd0e0e31ull);
    CU_ASSERT_EQUAL(hpproto_siphash24(key, msg, 8), 0x93f5f5799a932462ull);
    CU_ASSERT_EQUAL(hpproto_siphash24(key, msg, 63), 0x958a324ceb064572ull);
}

static void test_cookies(void)
{
    uint8_t k1[16] = {1}, k2[16] = {2}, k3[16] = {3};
    struct hpproto_cookie_keys keys;
    hpproto_cookie_init(&keys, k1);
    uint32_t ip = 0x0a000002;
    uint64_t c = hpproto_cookie_make(&keys, ip, 40000, SESSION);
    CU_ASSERT_EQUAL(c >> 56, 0);                           /* epoch 0 */
    CU_ASSERT_EQUAL(hpproto_cookie_check(&keys, c, ip, 40000, SESSION), HPPROTO_COOKIE_VALID);
    CU_ASSERT_EQUAL(hpproto_cookie_check(&keys, c, ip + 1, 40000, SESSION), HPPROTO_COOKIE_INVALID);
    CU_ASSERT_EQUAL(hpproto_cookie_check(&keys, c, ip, 40001, SESSION), HPPROTO_COOKIE_INVALID);
    CU_ASSERT_EQUAL(hpproto_cookie_check(&keys, c, ip, 40000, SESSION + 1), HPPROTO_COOKIE_INVALID);
    CU_ASSERT_EQUAL(hpproto_cookie_check(&keys, c ^ 1, ip, 40000, SESSION), HPPROTO_COOKIE_INVALID);
    CU_ASSERT_EQUAL(hpproto_cookie_check(&keys, 0, ip, 40000, SESSION), HPPROTO_COOKIE_INVALID);
    CU_ASSERT_NOT_EQUAL(c, hpproto_cookie_make(&keys, ip, 40000, SESSION + 1));

    hpproto_cookie_rotate(&keys, k2);
    uint64_t c2 = hpproto_cookie_make(&keys, ip, 40000, SESSION);
    CU_ASSERT_EQUAL(c2 >> 56, 1);
    CU_ASSERT_NOT_EQUAL(c2, c);
    CU_ASSERT_EQUAL(hpproto_cookie_check(&keys, c, ip, 40000, SESSION), HPPROTO_COOKIE_STALE);
    CU_ASSERT_EQUAL(hpproto_cookie_check(&keys, c2, ip, 40000, SESSION), HPPROTO_COOKIE_VALID);
    hpproto_cookie_rotate(&keys, k3);
    CU_ASSERT_EQUAL(hpproto_cookie_check(&keys, c, ip, 40000, SESSION), HPPROTO_COOKIE_INVALID);
    CU_ASSERT_EQUAL(hpproto_cookie_check(&keys, c2, ip, 40000, SESSION), HPPROTO_COOKIE_STALE);
    /* Epoch tags wrap at 256 without confusing epochs 256 apart. */
    for (int i = 0; i < 256; i++)
        hpproto_cookie_rotate(&keys, (i & 1) ? k1 : k2);
    CU_ASSERT_EQUAL(hpproto_cookie_check(&keys, c2, ip, 40000, SESSION), HPPROTO_COOKIE_INVALID);

    CU_ASSERT_TRUE(hpproto_amp_allows(true, 50, 1 << 20, 1));
    CU_ASSERT_TRUE(hpproto_amp_allows(false, 62, 48, 1));
    CU_ASSERT_TRUE(hpproto_amp_allows(false, 62, 186, 3));
    CU_ASSERT_FALSE(hpproto_amp_allows(false, 62, 187, 3));
    CU_ASSERT_FALSE(hpproto_amp_allows(false, 62, 1, 0));
}

/* The memo must give exactly the full check's verdict, whatever the mix
 * of repeats, forgeries, colliding sessions and key changes. */
static void test_cookie_memo_matches_check(void)
{
    static const uint8_t k1[16] = {1}, k2[16] = {2}, k3[16] = {3};
    static struct hpproto_cookie_keys keys;   /* static: several KB */
    hpproto_cookie_init(&keys, k1);
    uint32_t ip = 0x0a000002;
    uint64_t c = hpproto_cookie_make(&keys, ip, 40000, SESSION);
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&keys, c, ip, 40000, SESSION), HPPROTO_COOKIE_VALID);
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&keys, c, ip, 40000, SESSION), HPPROTO_COOKIE_VALID);
    /* Remembered session, anything else changed: the full check decides. */
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&keys, c ^ 1, ip, 40000, SESSION), HPPROTO_COOKIE_INVALID);
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&keys, c, ip + 1, 40000, SESSION), HPPROTO_COOKIE_INVALID);
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&keys, c, ip, 40001, SESSION), HPPROTO_COOKIE_INVALID);
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&keys, c, ip, 40000, SESSION + 1), HPPROTO_COOKIE_INVALID);
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&keys, 0, ip, 40000, SESSION), HPPROTO_COOKIE_INVALID);
    /* ... and a failed check did not evict the good entry's verdict. */
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&keys, c, ip, 40000, SESSION), HPPROTO_COOKIE_VALID);

    /* Key changes forget what the old keys said. */
    hpproto_cookie_rotate(&keys, k2);
    uint64_t c2 = hpproto_cookie_make(&keys, ip, 40000, SESSION);
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&keys, c, ip, 40000, SESSION), HPPROTO_COOKIE_STALE);
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&keys, c2, ip, 40000, SESSION), HPPROTO_COOKIE_VALID);
    hpproto_cookie_rotate(&keys, k3);
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&keys, c, ip, 40000, SESSION), HPPROTO_COOKIE_INVALID);
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&keys, c2, ip, 40000, SESSION), HPPROTO_COOKIE_STALE);

    /* hpproto_cookie_set: the same keys as init + rotate, and the memo of
     * the previous setting is gone (here: same epoch, other keys). */
    static struct hpproto_cookie_keys set;
    memset(&set, 0, sizeof(set));             /* a zeroed memo is empty */
    hpproto_cookie_set(&set, 1, k2, k1);
    CU_ASSERT_EQUAL(hpproto_cookie_make(&set, ip, 40000, SESSION), c2);
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&set, c, ip, 40000, SESSION), HPPROTO_COOKIE_STALE);
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&set, c2, ip, 40000, SESSION), HPPROTO_COOKIE_VALID);
    hpproto_cookie_set(&set, 1, k3, k1);
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&set, c2, ip, 40000, SESSION), HPPROTO_COOKIE_INVALID);
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&set, c, ip, 40000, SESSION), HPPROTO_COOKIE_STALE);

    /* One session remembered, then its cookie from sources that differ in
     * one field only: thousands of them, so many share its memo slot. */
    hpproto_cookie_init(&keys, k1);
    CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&keys, c, ip, 40000, SESSION), HPPROTO_COOKIE_VALID);
    int wrong = 0;
    for (uint32_t d = 1; d <= 4000; d++) {
        wrong += hpproto_cookie_check_memo(&keys, c, ip, (uint16_t)(40000 + d), SESSION) !=
                 HPPROTO_COOKIE_INVALID;
        wrong += hpproto_cookie_check_memo(&keys, c, ip + d, 40000, SESSION) != HPPROTO_COOKIE_INVALID;
        wrong += hpproto_cookie_check_memo(&keys, c, ip, 40000, SESSION + d) != HPPROTO_COOKIE_INVALID;
        CU_ASSERT_EQUAL(hpproto_cookie_check_memo(&keys, c, ip, 40000, SESSION), HPPROTO_COOKIE_VALID);
    }
    CU_ASSERT_EQUAL(wrong, 0);

    /* Random traffic over more sessions than memo entries: repeats,
     * forgeries, another session's cookie, rotations. */
    hpproto_cookie_init(&keys, k1);
    uint32_t seed = 4242;
    int hits_checked = 0;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t tip = 0x0a000000u | ((seed >> 8) % 37);
        uint16_t tport = (uint16_t)(40000 + (seed >> 16) % 29);
        uint64_t tsid = (seed >> 4) % 11;
        uint64_t good = hpproto_cookie_make(&keys, tip, tport, tsid);
        uint64_t ck;
        switch ((seed >> 24) % 4) {
        case 0: ck = good ^ ((uint64_t)1 << ((seed >> 2) % 64)); break;
        case 1: ck = hpproto_cookie_make(&keys, tip, tport, tsid + 1); break;
        default: ck = good; hits_checked++; break;
        }
        enum hpproto_cookie_verdict want = hpproto_cookie_check(&keys, ck, tip, tport, tsid);
        enum hpproto_cookie_verdict got = hpproto_cookie_check_memo(&keys, ck, tip, tport, tsid);
        CU_ASSERT_EQUAL(got, want);
        if (got != want)
            break;
        if (i % 3001 == 3000)
            hpproto_cookie_rotate(&keys, (i & 1) ? k2 : k3);
    }
    CU_ASSERT(hits_checked > 5000);
}

static CU_TestInfo tests_header[] = {
    {"wire layout and the PING example", test_encode_layout},
    {"random round trips", test_round_trips},
    {"request validation errors", test_decode_errors_request},
    {"reply validation errors, fragment geometry", test_decode_errors_reply},
    {"names", test_names},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo tests_frag[] = {
    {"fragment arithmetic", test_frag_math},
    {"200 KB reply, shuffled, duplicates", test_reasm_200k_shuffled},
    {"outcomes: single, limits, inconsistent, timeouts", test_reasm_outcomes},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo tests_server[] = {
    {"request-id window", test_window},
    {"SipHash-2-4 vectors", test_siphash_vectors},
    {"cookies and amplification", test_cookies},
    {"cookie memo gives the full check's verdict", test_cookie_memo_matches_check},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"header", NULL, NULL, NULL, NULL, tests_header},
    {"fragments", NULL, NULL, NULL, NULL, tests_frag},
    {"window cookies", NULL, NULL, NULL, NULL, tests_server},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
