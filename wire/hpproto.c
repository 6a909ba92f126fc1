/*
 * hpproto.c - the UDP datagram protocol; see hpproto.h and docs/PROTOCOL.md.
 */
#include "hpproto.h"

#include <string.h>

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}

static inline void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)(v >> 32));
    wr32(p + 4, (uint32_t)v);
}

/* ---- header ---------------------------------------------------------------- */

void hpproto_encode(const struct hpproto_hdr *h, uint8_t out[HPPROTO_HDR_LEN])
{
    HP_ASSERT(h != NULL && out != NULL);
    wr16(out, HPPROTO_MAGIC);
    out[2] = h->version;
    out[3] = h->flags;
    wr16(out + 4, h->status);
    wr16(out + 6, h->cmd_count);
    wr64(out + 8, h->session_id);
    wr64(out + 16, h->request_id);
    wr64(out + 24, h->cookie);
    wr32(out + 32, h->total_len);
    wr32(out + 36, h->frag_offset);
    wr16(out + 40, h->frag_index);
    wr16(out + 42, h->frag_count);
    wr16(out + 44, h->max_dgram);
    wr16(out + 46, 0);
}

static enum hpproto_err check_request(const struct hpproto_hdr *h, size_t plen)
{
    if (h->status != HPPROTO_ST_OK)
        return HPPROTO_E_STATUS;
    if (h->cmd_count == 0 || h->cmd_count > HPPROTO_MAX_CMDS)
        return HPPROTO_E_CMD_COUNT;
    if (h->frag_count != 1 || h->frag_index != 0 || h->frag_offset != 0)
        return HPPROTO_E_FRAG;
    if (plen == 0 || h->total_len != plen)
        return HPPROTO_E_LENGTH;
    if (h->max_dgram != 0 &&
        (h->max_dgram < HPPROTO_MIN_DGRAM || h->max_dgram > HPPROTO_MAX_DGRAM))
        return HPPROTO_E_DGRAM;
    return HPPROTO_OK;
}

/* Fragment geometry: every fragment but the last carries exactly S bytes at
 * offset index*S; the last carries 1..S bytes and ends at total_len.  A
 * single fragment proves its own S, so each is checked alone here and the
 * reassembler only has to check that all agree on S. */
static enum hpproto_err check_fragment(const struct hpproto_hdr *h, size_t plen)
{
    if (h->frag_count == 0 || h->frag_index >= h->frag_count)
        return HPPROTO_E_FRAG;
    if (plen == 0 || h->frag_offset > h->total_len || plen > h->total_len - h->frag_offset)
        return HPPROTO_E_LENGTH;
    uint64_t off = h->frag_offset, idx = h->frag_index, cnt = h->frag_count;
    if (idx + 1 == cnt) {
        if (off + plen != h->total_len)
            return HPPROTO_E_LENGTH;
        if (idx == 0)
            return off == 0 ? HPPROTO_OK : HPPROTO_E_FRAG;
        if (off % idx != 0 || off / idx < plen)
            return HPPROTO_E_FRAG;
        return HPPROTO_OK;
    }
    if (off != idx * plen)
        return HPPROTO_E_FRAG;
    /* The fragments after this one must hold the rest, the last non-empty. */
    if (h->total_len <= (cnt - 1) * plen || h->total_len > cnt * plen)
        return HPPROTO_E_FRAG;
    return HPPROTO_OK;
}

static enum hpproto_err check_reply(const struct hpproto_hdr *h, size_t plen)
{
    if (h->flags & HPPROTO_F_RETRY)
        return HPPROTO_E_FLAGS;
    if (h->status >= HPPROTO_ST_COUNT)
        return HPPROTO_E_STATUS;
    if (h->max_dgram != 0)
        return HPPROTO_E_DGRAM;
    if (h->status == HPPROTO_ST_COOKIE && !(h->flags & HPPROTO_F_COOKIE))
        return HPPROTO_E_COOKIE;
    if (h->cmd_count > HPPROTO_MAX_CMDS)
        return HPPROTO_E_CMD_COUNT;
    if (h->status != HPPROTO_ST_OK) {
        if (h->frag_count != 1 || h->frag_index != 0 || h->frag_offset != 0)
            return HPPROTO_E_FRAG;
        return (h->total_len == 0 && plen == 0) ? HPPROTO_OK : HPPROTO_E_LENGTH;
    }
    if (h->cmd_count == 0)
        return HPPROTO_E_CMD_COUNT;
    if (h->total_len == 0 || h->total_len > HPPROTO_MAX_REPLY_LEN)
        return HPPROTO_E_LENGTH;
    return check_fragment(h, plen);
}

enum hpproto_err hpproto_decode(const uint8_t *dgram, size_t len, struct hpproto_hdr *h)
{
    HP_ASSERT(h != NULL);
    HP_ASSERT(dgram != NULL || len == 0);
    if (len < HPPROTO_HDR_LEN)
        return HPPROTO_E_SHORT;
    if (rd16(dgram) != HPPROTO_MAGIC)
        return HPPROTO_E_MAGIC;
    h->version = dgram[2];
    h->flags = dgram[3];
    h->status = rd16(dgram + 4);
    h->cmd_count = rd16(dgram + 6);
    h->session_id = rd64(dgram + 8);
    h->request_id = rd64(dgram + 16);
    h->cookie = rd64(dgram + 24);
    h->total_len = rd32(dgram + 32);
    h->frag_offset = rd32(dgram + 36);
    h->frag_index = rd16(dgram + 40);
    h->frag_count = rd16(dgram + 42);
    h->max_dgram = rd16(dgram + 44);
    if (h->version != HPPROTO_VERSION)
        return HPPROTO_E_VERSION;
    if (h->flags & ~HPPROTO_F_ALL)
        return HPPROTO_E_FLAGS;
    if (rd16(dgram + 46) != 0)
        return HPPROTO_E_RESERVED;
    if (h->session_id == 0)
        return HPPROTO_E_SESSION;
    if (h->request_id == 0)
        return HPPROTO_E_REQUEST_ID;
    if (!(h->flags & HPPROTO_F_COOKIE) && h->cookie != 0)
        return HPPROTO_E_COOKIE;
    size_t plen = len - HPPROTO_HDR_LEN;
    return (h->flags & HPPROTO_F_REPLY) ? check_reply(h, plen) : check_request(h, plen);
}

const char *hpproto_err_name(enum hpproto_err e)
{
    static const char *const names[] = {
        "ok", "datagram shorter than the header", "bad magic", "unsupported version",
        "unknown flags", "reserved field not zero", "bad status", "session id 0",
        "request id 0", "cookie field without cookie flag", "bad command count",
        "bad fragment fields", "lengths disagree", "max_dgram out of range",
    };
    _Static_assert(HP_ARRAY_LEN(names) == HPPROTO_E_COUNT, "hpproto_err names");
    return (unsigned)e < HPPROTO_E_COUNT ? names[e] : "unknown error";
}

const char *hpproto_status_name(unsigned status)
{
    static const char *const names[] = {
        "OK", "COOKIE", "MALFORMED", "LIMIT", "DUP_GONE", "TOO_OLD", "SESSION_LOST",
        "BUSY", "VERSION",
    };
    _Static_assert(HP_ARRAY_LEN(names) == HPPROTO_ST_COUNT, "hpproto_status names");
    return status < HPPROTO_ST_COUNT ? names[status] : "UNKNOWN";
}

void hpproto_request_hdr(struct hpproto_hdr *h, uint64_t session_id, uint64_t request_id,
                         uint16_t cmd_count, uint32_t payload_len)
{
    HP_ASSERT(session_id != 0 && request_id != 0);
    HP_ASSERT(cmd_count >= 1 && cmd_count <= HPPROTO_MAX_CMDS);
    memset(h, 0, sizeof(*h));
    h->version = HPPROTO_VERSION;
    h->cmd_count = cmd_count;
    h->session_id = session_id;
    h->request_id = request_id;
    h->total_len = payload_len;
    h->frag_count = 1;
}

void hpproto_reply_hdr(struct hpproto_hdr *h, const struct hpproto_hdr *req,
                       enum hpproto_status status, uint32_t total_len)
{
    HP_ASSERT(status < HPPROTO_ST_COUNT);
    HP_ASSERT(status == HPPROTO_ST_OK || total_len == 0);
    memset(h, 0, sizeof(*h));
    h->version = HPPROTO_VERSION;
    h->flags = HPPROTO_F_REPLY;
    h->status = (uint16_t)status;
    h->cmd_count = req->cmd_count;
    h->session_id = req->session_id;
    h->request_id = req->request_id;
    h->total_len = total_len;
    h->frag_count = 1;
}

/* ---- fragmentation --------------------------------------------------------- */

uint32_t hpproto_reply_dgram(uint32_t server_max, const struct hpproto_hdr *req)
{
    HP_ASSERT(server_max >= HPPROTO_MIN_DGRAM && server_max <= HPPROTO_MAX_DGRAM);
    if (req->max_dgram != 0 && req->max_dgram < server_max)
        return req->max_dgram;
    return server_max;
}

uint32_t hpproto_frag_count(uint32_t total_len, uint32_t frag_size)
{
    HP_ASSERT(frag_size > 0);
    uint64_t n = ((uint64_t)total_len + frag_size - 1) / frag_size;
    if (n == 0)
        return 1;
    return n > UINT16_MAX ? 0 : (uint32_t)n;
}

uint32_t hpproto_frag_hdr(struct hpproto_hdr *h, uint32_t total_len, uint32_t frag_size,
                          uint16_t index)
{
    uint32_t count = hpproto_frag_count(total_len, frag_size);
    HP_ASSERT(count >= 1 && index < count);
    uint64_t off = (uint64_t)index * frag_size;
    h->total_len = total_len;
    h->frag_count = (uint16_t)count;
    h->frag_index = index;
    h->frag_offset = (uint32_t)off;
    return (uint32_t)HP_MIN((uint64_t)frag_size, total_len - off);
}

/* ---- reassembly ------------------------------------------------------------ */

int hpproto_reasm_init(struct hpproto_reasm *r, const struct hpproto_reasm_limits *limits)
{
    HP_ASSERT(limits->max_pending >= 1);
    HP_ASSERT(limits->max_reply_len >= 1 && limits->max_reply_len <= HPPROTO_MAX_REPLY_LEN);
    memset(r, 0, sizeof(*r));
    r->limits = *limits;
    r->entries = calloc(limits->max_pending, sizeof(r->entries[0]));
    return r->entries ? 0 : -1;
}

static void entry_free(struct hpproto_reasm *r, struct hpproto_reasm_entry *e)
{
    HP_ASSERT(e->used && r->pending > 0 && r->bytes >= e->reserved);
    free(e->data);
    r->bytes -= e->reserved;
    r->pending--;
    memset(e, 0, sizeof(*e));
}

void hpproto_reasm_free(struct hpproto_reasm *r)
{
    for (uint32_t i = 0; r->entries && i < r->limits.max_pending; i++)
        if (r->entries[i].used)
            entry_free(r, &r->entries[i]);
    HP_ASSERT(r->pending == 0 && r->bytes == 0);
    free(r->entries);
    r->entries = NULL;
}

static struct hpproto_reasm_entry *entry_find(struct hpproto_reasm *r, uint64_t session_id,
                                              uint64_t request_id)
{
    for (uint32_t i = 0; i < r->limits.max_pending; i++) {
        struct hpproto_reasm_entry *e = &r->entries[i];
        if (e->used && e->session_id == session_id && e->request_id == request_id)
            return e;
    }
    return NULL;
}

static enum hpproto_reasm_result entry_new(struct hpproto_reasm *r, const struct hpproto_hdr *h,
                                           struct hpproto_reasm_entry **out)
{
    struct hpproto_reasm_entry *e = NULL;
    for (uint32_t i = 0; i < r->limits.max_pending && !e; i++)
        if (!r->entries[i].used)
            e = &r->entries[i];
    if (!e)
        return HPPROTO_REASM_NO_SLOT;
    size_t need = (size_t)h->total_len + ((size_t)h->frag_count + 7) / 8;
    if (need > r->limits.max_bytes - r->bytes)
        return HPPROTO_REASM_NO_MEMORY;
    uint8_t *data = malloc(need);
    if (!data)
        return HPPROTO_REASM_NO_MEMORY;
    memset(data + h->total_len, 0, need - h->total_len);
    e->used = true;
    e->session_id = h->session_id;
    e->request_id = h->request_id;
    e->cmd_count = h->cmd_count;
    e->frag_count = h->frag_count;
    e->total_len = h->total_len;
    e->reserved = need;
    e->data = data;
    r->bytes += need;
    r->pending++;
    *out = e;
    return HPPROTO_REASM_PARTIAL;
}

/* The fragment size this fragment implies (see check_fragment). */
static uint32_t implied_frag_size(const struct hpproto_hdr *h, size_t plen)
{
    if (h->frag_index + 1 < h->frag_count)
        return (uint32_t)plen;
    HP_ASSERT(h->frag_index > 0);
    return h->frag_offset / h->frag_index;
}

static enum hpproto_reasm_result reasm_place(struct hpproto_reasm *r,
                                             struct hpproto_reasm_entry *e,
                                             const struct hpproto_hdr *h,
                                             const uint8_t *payload, size_t plen, uint64_t now_ns)
{
    if (e->total_len != h->total_len || e->frag_count != h->frag_count ||
        e->cmd_count != h->cmd_count) {
        entry_free(r, e);
        return HPPROTO_REASM_INCONSISTENT;
    }
    uint32_t size = implied_frag_size(h, plen);
    if (e->frag_size == 0) {
        e->frag_size = size;
    } else if (e->frag_size != size) {
        entry_free(r, e);
        return HPPROTO_REASM_INCONSISTENT;
    }
    uint8_t *have = e->data + e->total_len;
    uint8_t bit = (uint8_t)(1u << (h->frag_index % 8));
    if (have[h->frag_index / 8] & bit)
        return HPPROTO_REASM_DUPLICATE;
    HP_ASSERT((uint64_t)h->frag_offset + plen <= e->total_len);
    memcpy(e->data + h->frag_offset, payload, plen);
    have[h->frag_index / 8] |= bit;
    e->frags_have++;
    e->last_ns = now_ns;
    if (e->frags_have < e->frag_count)
        return HPPROTO_REASM_PARTIAL;
    e->complete = true;
    return HPPROTO_REASM_COMPLETE;
}

static enum hpproto_reasm_result reasm_add(struct hpproto_reasm *r, const struct hpproto_hdr *h,
                                           const uint8_t *payload, size_t plen, uint64_t now_ns,
                                           struct hpproto_reasm_entry **done)
{
    if (h->frag_count == 1)
        return HPPROTO_REASM_SINGLE;
    if (h->total_len > r->limits.max_reply_len)
        return HPPROTO_REASM_TOO_LARGE;
    struct hpproto_reasm_entry *e = entry_find(r, h->session_id, h->request_id);
    if (e && e->complete)
        return HPPROTO_REASM_DUPLICATE;
    if (!e) {
        enum hpproto_reasm_result res = entry_new(r, h, &e);
        if (res != HPPROTO_REASM_PARTIAL)
            return res;
    }
    enum hpproto_reasm_result res = reasm_place(r, e, h, payload, plen, now_ns);
    if (res == HPPROTO_REASM_COMPLETE)
        *done = e;
    return res;
}

enum hpproto_reasm_result hpproto_reasm_add(struct hpproto_reasm *r, const struct hpproto_hdr *h,
                                            const uint8_t *payload, size_t payload_len,
                                            uint64_t now_ns, struct hpproto_reasm_entry **done)
{
    HP_ASSERT(r->entries != NULL && done != NULL);
    /* Contract: h passed hpproto_decode() as an OK reply with this payload. */
    HP_ASSERT((h->flags & HPPROTO_F_REPLY) && h->status == HPPROTO_ST_OK);
    HP_ASSERT(h->frag_index < h->frag_count && payload_len > 0);
    HP_ASSERT((uint64_t)h->frag_offset + payload_len <= h->total_len);
    *done = NULL;
    enum hpproto_reasm_result res = reasm_add(r, h, payload, payload_len, now_ns, done);
    r->stat[res]++;
    return res;
}

uint8_t *hpproto_reasm_take(struct hpproto_reasm *r, struct hpproto_reasm_entry *e)
{
    HP_ASSERT(e->used && e->complete);
    uint8_t *data = e->data;
    e->data = NULL;
    entry_free(r, e);
    return data;
}

void hpproto_reasm_release(struct hpproto_reasm *r, struct hpproto_reasm_entry *e)
{
    entry_free(r, e);
}

bool hpproto_reasm_drop(struct hpproto_reasm *r, uint64_t session_id, uint64_t request_id)
{
    struct hpproto_reasm_entry *e = entry_find(r, session_id, request_id);
    if (!e)
        return false;
    entry_free(r, e);
    return true;
}

uint32_t hpproto_reasm_expire(struct hpproto_reasm *r, uint64_t now_ns, uint64_t idle_ns)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->limits.max_pending; i++) {
        struct hpproto_reasm_entry *e = &r->entries[i];
        /* now_ns earlier than the last progress (a caller's clock going
         * back) is not idleness. */
        if (e->used && !e->complete && now_ns >= e->last_ns &&
            now_ns - e->last_ns >= idle_ns) {
            entry_free(r, e);
            n++;
        }
    }
    r->expired += n;
    return n;
}

/* ---- request-id window ----------------------------------------------------- */

static inline bool window_bit(const struct hpproto_window *w, uint64_t id)
{
    uint64_t pos = id % HPPROTO_ID_WINDOW;
    return (w->seen[pos / 64] >> (pos % 64)) & 1;
}

static inline void window_set(struct hpproto_window *w, uint64_t id, bool on)
{
    uint64_t pos = id % HPPROTO_ID_WINDOW;
    uint64_t mask = (uint64_t)1 << (pos % 64);
    if (on)
        w->seen[pos / 64] |= mask;
    else
        w->seen[pos / 64] &= ~mask;
}

void hpproto_window_init(struct hpproto_window *w)
{
    memset(w, 0, sizeof(*w));
}

enum hpproto_window_verdict hpproto_window_check(const struct hpproto_window *w, uint64_t id)
{
    HP_ASSERT(id != 0);
    if (id > w->highest)
        return HPPROTO_WIN_NEW;
    if (w->highest - id >= HPPROTO_ID_WINDOW)
        return HPPROTO_WIN_TOO_OLD;
    return window_bit(w, id) ? HPPROTO_WIN_DUPLICATE : HPPROTO_WIN_NEW;
}

void hpproto_window_mark(struct hpproto_window *w, uint64_t id)
{
    HP_ASSERT(hpproto_window_check(w, id) == HPPROTO_WIN_NEW);
    if (id > w->highest) {
        /* Ids between the old and new highest were never seen: clear the
         * bits they inherit from ids one window older. */
        if (id - w->highest >= HPPROTO_ID_WINDOW)
            memset(w->seen, 0, sizeof(w->seen));
        else
            for (uint64_t x = w->highest + 1; x < id; x++)
                window_set(w, x, false);
        w->highest = id;
    }
    window_set(w, id, true);
}

/* ---- SipHash-2-4 and cookies ----------------------------------------------- */

static inline uint64_t rotl64(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

static inline uint64_t rd64_le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

struct sip_state {
    uint64_t v0, v1, v2, v3;
};

static void sip_round(struct sip_state *s)
{
    s->v0 += s->v1;
    s->v1 = rotl64(s->v1, 13) ^ s->v0;
    s->v0 = rotl64(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl64(s->v3, 16) ^ s->v2;
    s->v0 += s->v3;
    s->v3 = rotl64(s->v3, 21) ^ s->v0;
    s->v2 += s->v1;
    s->v1 = rotl64(s->v1, 17) ^ s->v2;
    s->v2 = rotl64(s->v2, 32);
}

static void sip_absorb(struct sip_state *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    sip_round(s);
    s->v0 ^= m;
}

uint64_t hpproto_siphash24(const uint8_t key[16], const void *msg, size_t len)
{
    const uint8_t *p = msg;
    uint64_t k0 = rd64_le(key), k1 = rd64_le(key + 8);
    struct sip_state s = {
        k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
        k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull,
    };
    size_t full = len - len % 8;
    for (size_t i = 0; i < full; i += 8)
        sip_absorb(&s, rd64_le(p + i));
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    for (size_t i = 0; i < len % 8; i++)
        last |= (uint64_t)p[full + i] << (8 * i);
    sip_absorb(&s, last);
    s.v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

_Static_assert((HPPROTO_COOKIE_MEMO & (HPPROTO_COOKIE_MEMO - 1)) == 0, "memo size");

static void cookie_memo_clear(struct hpproto_cookie_keys *k)
{
    for (uint32_t i = 0; i < HPPROTO_COOKIE_MEMO; i++)
        k->memo[i].used = false;
}

void hpproto_cookie_init(struct hpproto_cookie_keys *k, const uint8_t key[16])
{
    memset(k, 0, sizeof(*k));
    memcpy(k->key[0], key, 16);
    cookie_memo_clear(k);
}

void hpproto_cookie_rotate(struct hpproto_cookie_keys *k, const uint8_t new_key[16])
{
    k->epoch++;
    memcpy(k->key[k->epoch & 1], new_key, 16);
    cookie_memo_clear(k);
}

void hpproto_cookie_set(struct hpproto_cookie_keys *k, uint32_t epoch, const uint8_t cur_key[16],
                        const uint8_t prev_key[16])
{
    k->epoch = epoch;
    memcpy(k->key[epoch & 1], cur_key, 16);
    memcpy(k->key[(epoch - 1) & 1], prev_key, 16);
    cookie_memo_clear(k);
}

#define COOKIE_MAC_MASK 0x00ffffffffffffffull

static uint64_t cookie_for_epoch(const struct hpproto_cookie_keys *k, uint32_t epoch,
                                 uint32_t src_ip, uint16_t src_port, uint64_t session_id)
{
    uint8_t msg[18];
    wr32(msg, src_ip);
    wr16(msg + 4, src_port);
    wr64(msg + 6, session_id);
    wr32(msg + 14, epoch);
    uint64_t mac = hpproto_siphash24(k->key[epoch & 1], msg, sizeof(msg));
    return (uint64_t)(epoch & 0xff) << 56 | (mac & COOKIE_MAC_MASK);
}

uint64_t hpproto_cookie_make(const struct hpproto_cookie_keys *k, uint32_t src_ip,
                             uint16_t src_port, uint64_t session_id)
{
    return cookie_for_epoch(k, k->epoch, src_ip, src_port, session_id);
}

enum hpproto_cookie_verdict hpproto_cookie_check(const struct hpproto_cookie_keys *k,
                                                 uint64_t cookie, uint32_t src_ip,
                                                 uint16_t src_port, uint64_t session_id)
{
    uint32_t tag = (uint32_t)(cookie >> 56);
    if (tag == (k->epoch & 0xff))
        return cookie == cookie_for_epoch(k, k->epoch, src_ip, src_port, session_id)
                   ? HPPROTO_COOKIE_VALID : HPPROTO_COOKIE_INVALID;
    if (k->epoch > 0 && tag == ((k->epoch - 1) & 0xff))
        return cookie == cookie_for_epoch(k, k->epoch - 1, src_ip, src_port, session_id)
                   ? HPPROTO_COOKIE_STALE : HPPROTO_COOKIE_INVALID;
    return HPPROTO_COOKIE_INVALID;
}

static uint32_t cookie_memo_slot(uint32_t src_ip, uint16_t src_port, uint64_t session_id)
{
    /* Placement only (a collision evicts, it cannot match): a cheap mix. */
    uint64_t h = session_id ^ ((uint64_t)src_ip << 16) ^ src_port;
    h *= 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 40) & (HPPROTO_COOKIE_MEMO - 1);
}

enum hpproto_cookie_verdict hpproto_cookie_check_memo(struct hpproto_cookie_keys *k,
                                                      uint64_t cookie, uint32_t src_ip,
                                                      uint16_t src_port, uint64_t session_id)
{
    struct hpproto_cookie_memo_entry *e = &k->memo[cookie_memo_slot(src_ip, src_port, session_id)];
    if (e->used && e->cookie == cookie &&
        e->session_id == session_id && e->src_ip == src_ip && e->src_port == src_port)
        return (enum hpproto_cookie_verdict)e->verdict;
    enum hpproto_cookie_verdict v = hpproto_cookie_check(k, cookie, src_ip, src_port, session_id);
    if (v != HPPROTO_COOKIE_INVALID) {
        e->session_id = session_id;
        e->cookie = cookie;
        e->src_ip = src_ip;
        e->src_port = src_port;
        e->used = true;
        e->verdict = (uint8_t)v;
    }
    return v;
}
