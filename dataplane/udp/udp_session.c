/*
 * udp_session.c - the UDP sessions of one worker (a fixed table in LRU
 * order, each entry with its request-id window and its kept replies for
 * retransmissions) and the cookie keys of the current epoch.
 *
 * Sessions: per worker, a fixed table (udp-sessions entries) with LRU order;
 * an entry idle for HPPROTO_SESSION_HOLD_MS may be evicted for a new one,
 * else a new session gets BUSY.  Each entry keeps its 1024-bit id window and
 * its last UDP_KEEP replies; all kept replies of a worker together stay under
 * udp-reply-cache bytes (the session's oldest go first; a reply that cannot
 * fit is not kept, and its retransmission gets DUP_GONE).
 */

#include "udp_internal.h"

/* ---- sessions ------------------------------------------------------------- */

static uint32_t sess_hash(const struct udp_worker *u, uint32_t ip, uint16_t port, uint64_t sid)
{
    uint64_t h = sid ^ ((uint64_t)ip << 16) ^ port;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (uint32_t)h & u->bucket_mask;
}

static void lru_unlink(struct udp_worker *u, uint32_t i)
{
    struct udp_session *s = &u->sess[i];
    if (s->lru_prev != UDP_NONE)
        u->sess[s->lru_prev].lru_next = s->lru_next;
    else
        u->lru_head = s->lru_next;
    if (s->lru_next != UDP_NONE)
        u->sess[s->lru_next].lru_prev = s->lru_prev;
    else
        u->lru_tail = s->lru_prev;
}

static void lru_push_front(struct udp_worker *u, uint32_t i)
{
    struct udp_session *s = &u->sess[i];
    s->lru_prev = UDP_NONE;
    s->lru_next = u->lru_head;
    if (u->lru_head != UDP_NONE)
        u->sess[u->lru_head].lru_prev = i;
    u->lru_head = i;
    if (u->lru_tail == UDP_NONE)
        u->lru_tail = i;
}

uint32_t udp_sess_find(struct udp_worker *u, uint32_t ip, uint16_t port, uint64_t sid)
{
    for (uint32_t i = u->buckets[sess_hash(u, ip, port, sid)]; i != UDP_NONE; i = u->sess[i].hnext)
        if (u->sess[i].sid == sid && u->sess[i].ip == ip && u->sess[i].port == port)
            return i;
    return UDP_NONE;
}

static void kept_free(struct udp_worker *u, struct udp_kept *k)
{
    if (k->data) {
        u->kept_bytes -= k->len;
        free(k->data);
    }
    k->data = NULL;
    k->len = 0;
    k->rid = 0;
}

static void sess_remove(struct udp_worker *u, uint32_t i)
{
    struct udp_session *s = &u->sess[i];
    uint32_t *pp = &u->buckets[sess_hash(u, s->ip, s->port, s->sid)];
    while (*pp != i) {
        HP_ASSERT(*pp != UDP_NONE);
        pp = &u->sess[*pp].hnext;
    }
    *pp = s->hnext;
    lru_unlink(u, i);
    for (int k = 0; k < UDP_KEEP; k++)
        kept_free(u, &s->kept[k]);
    s->used = false;
    s->hnext = u->free_head;
    u->free_head = i;
    u->nsess--;
}

/* A new session, or UDP_NONE when the table is full of sessions younger
 * than the hold time (the caller answers BUSY). */
uint32_t udp_sess_create(struct udp_worker *u, uint32_t ip, uint16_t port, uint64_t sid,
                         int64_t now_ms, struct udp_stats *st)
{
    if (u->free_head == UDP_NONE) {
        uint32_t old = u->lru_tail;
        HP_ASSERT(old != UDP_NONE);
        if (now_ms - u->sess[old].last_ms < HPPROTO_SESSION_HOLD_MS)
            return UDP_NONE;
        sess_remove(u, old);
        u->evictions++;
        st->session_evictions++;
    }
    uint32_t i = u->free_head;
    struct udp_session *s = &u->sess[i];
    u->free_head = s->hnext;
    memset(s, 0, sizeof(*s));
    s->used = true;
    s->ip = ip;
    s->port = port;
    s->sid = sid;
    s->last_ms = now_ms;
    hpproto_window_init(&s->win);
    uint32_t b = sess_hash(u, ip, port, sid);
    s->hnext = u->buckets[b];
    u->buckets[b] = i;
    lru_push_front(u, i);
    u->nsess++;
    return i;
}

void udp_sess_touch(struct udp_worker *u, uint32_t i, int64_t now_ms)
{
    u->sess[i].last_ms = now_ms;
    lru_unlink(u, i);
    lru_push_front(u, i);
}

const struct udp_kept *udp_sess_kept(const struct udp_session *s, uint64_t rid)
{
    for (int k = 0; k < UDP_KEEP; k++)
        if (s->kept[k].data && s->kept[k].rid == rid)
            return &s->kept[k];
    return NULL;
}

void udp_sess_keep(struct udp_worker *u, struct udp_session *s, uint64_t rid,
                   const uint8_t *data, uint32_t len)
{
    struct udp_kept *slot = &s->kept[s->kept_next];
    s->kept_next = (s->kept_next + 1) % UDP_KEEP;
    kept_free(u, slot);
    /* Make room from this session's oldest replies. */
    for (uint32_t k = 0; k < UDP_KEEP && u->kept_bytes + len > u->rt->reply_cache; k++)
        kept_free(u, &s->kept[(s->kept_next + k) % UDP_KEEP]);
    if (u->kept_bytes + len > u->rt->reply_cache || len == 0)
        return;
    uint8_t *copy = malloc(len);
    if (copy == NULL)
        return;
    memcpy(copy, data, len);
    slot->data = copy;
    slot->len = len;
    slot->rid = rid;
    u->kept_bytes += len;
}

int udp_sessions_init(struct udp_worker *u, uint32_t cap)
{
    uint32_t nb = 1;
    while (nb < cap * 2)
        nb <<= 1;
    u->sess = calloc(cap, sizeof(*u->sess));
    u->buckets = malloc(sizeof(*u->buckets) * nb);
    if (u->sess == NULL || u->buckets == NULL)
        return -1;
    for (uint32_t i = 0; i < nb; i++)
        u->buckets[i] = UDP_NONE;
    u->bucket_mask = nb - 1;
    u->sess_cap = cap;
    u->lru_head = u->lru_tail = UDP_NONE;
    u->free_head = UDP_NONE;
    for (uint32_t i = cap; i-- > 0;) {
        u->sess[i].hnext = u->free_head;
        u->free_head = i;
    }
    return 0;
}

/* ---- cookies ---------------------------------------------------------------- */

static void epoch_key(const struct udp_rt *rt, int64_t epoch, uint8_t key[16])
{
    uint8_t msg[9];
    for (int i = 0; i < 8; i++)
        msg[i] = (uint8_t)((uint64_t)epoch >> (8 * i));
    msg[8] = 0;
    uint64_t a = hpproto_siphash24(rt->cookie_master, msg, sizeof(msg));
    msg[8] = 1;
    uint64_t b = hpproto_siphash24(rt->cookie_master, msg, sizeof(msg));
    memcpy(key, &a, 8);
    memcpy(key + 8, &b, 8);
}

/* Every worker derives the same keys from the shared master secret and the
 * clock, so a cookie made on one worker checks on any other. */
void udp_cookie_refresh(struct udp_worker *u, int64_t now_ms)
{
    /* Runs per datagram: two multiplies instead of a 64-bit division while
     * the epoch stays the same (nearly always). */
    if (u->key_epoch >= 0 && now_ms >= u->key_epoch * UDP_COOKIE_EPOCH_MS &&
        now_ms < (u->key_epoch + 1) * UDP_COOKIE_EPOCH_MS)
        return;
    int64_t e = now_ms / UDP_COOKIE_EPOCH_MS;
    if (e == u->key_epoch)
        return;
    u->key_epoch = e;
    uint8_t cur[16], prev[16];
    epoch_key(u->rt, e, cur);
    epoch_key(u->rt, e - 1, prev);
    /* Through hpproto_cookie_set: it also forgets the cookies remembered
     * as verified under the old keys. */
    hpproto_cookie_set(&u->keys, (uint32_t)e, cur, prev);
}
