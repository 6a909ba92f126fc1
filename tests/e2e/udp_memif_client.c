/*
 * udp_memif_client.c - a DPDK test client of hotpath's UDP protocol over
 * net_memif: runs N verified operations against hotpathd on the other end
 * of a memif link (tests/e2e/test_udp_memif.py starts both).
 *
 *   udp_memif_client <EAL args> -- <server-ip> <server-mac> <client-ip> <udp-base>
 *                    <nshards> <ops> [cross|multi]
 *
 * "cross" puts every other request on a queue of another worker, so the
 * server has to hand those over to the owner (the software fallback).
 * "multi" puts the INCR counter under another hash tag than the SET/GET key,
 * one chosen to hash to another shard (so every datagram spans two shards
 * and runs under the shard hand-over), and ends each request with MGET key
 * counter instead of the last INCR.
 *
 * Each request datagram carries CMDS_PER_REQ commands on keys of one hash
 * tag, so it belongs to one shard; it is put on the memif queue of that
 * shard (queue q = worker q on the server), so no hand-over is needed.  Per
 * request: SET k v, GET k, INCR c, INCR c ... whose exact RESP replies are
 * known in advance and compared byte for byte.  Up to WINDOW requests are in
 * flight; a request with no reply after RETRY_MS is retransmitted with the
 * same id (the server must answer from its kept replies, or run it once).
 * Frames are built and parsed with the dataplane's own pkt.c and hpproto.c.
 * Prints "MEMIF-RESULT: ops=N verified=N retransmits=N mismatches=N" and
 * exits 0 only if every operation was verified.
 */
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "hpproto.h"
#include "pkt.h"
#include "../../storage/slot.h"

#define CMDS_PER_REQ 16
#define WINDOW 128
#define RETRY_MS 200
#define MAX_ATTEMPTS 20
#define CLIENT_PORT 40000
#define BURST 32
#define MAX_Q 8
#define RUN_LIMIT_S 240

struct req {
    bool used;
    uint64_t id;
    uint16_t queue;
    uint32_t attempts;
    uint64_t sent_tsc;
    uint16_t len;                 /* request payload (RESP) bytes */
    uint8_t payload[1400];
    uint16_t exp_len;
    uint8_t expected[1400];
};

struct client {
    uint16_t port;
    uint16_t nq;
    struct rte_mempool *pool;
    struct pkt_config me;
    struct pkt_info to_server;    /* a fake "request" so pkt_build_udp_reply addresses the server */
    uint32_t nshards;
    uint16_t udp_base;
    uint64_t session, cookie;
    uint64_t next_id;
    struct req win[WINDOW];
    uint32_t inflight;
    uint64_t ops_sent, verified, retransmits, mismatches, cookie_replies;
    bool cross;
    bool multi;
};

static size_t put(uint8_t *p, size_t off, const char *s, size_t n)
{
    memcpy(p + off, s, n);
    return off + n;
}

static size_t put_cmd(uint8_t *p, size_t off, int argc, const char **argv)
{
    char tmp[64];
    off = put(p, off, tmp, (size_t)snprintf(tmp, sizeof(tmp), "*%d\r\n", argc));
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        off = put(p, off, tmp, (size_t)snprintf(tmp, sizeof(tmp), "$%zu\r\n", n));
        off = put(p, off, argv[i], n);
        off = put(p, off, "\r\n", 2);
    }
    return off;
}

static uint32_t shard_of(const struct client *c, const char *key)
{
    uint16_t slot = slot_of_key((const uint8_t *)key, strlen(key));
    return (uint32_t)((uint64_t)slot * c->nshards / HP_NUM_SLOTS);
}

/* The counter key of a "multi" request: a hash tag on another shard than
 * `key`'s.  Why a search: CRC16 is linear, so two tags that differ in one
 * character differ by a constant that depends only on the tag's length, and
 * whether they land on the same shard then depends on the session id's
 * digit count (with a 7-hex-digit session, 10 of 6250 requests spanned two
 * shards).  Returns false if no tag of the first MULTI_TRIES does. */
#define MULTI_TRIES 64
static bool multi_counter(const struct client *c, const char *key, uint64_t seq, char *ctr,
                          size_t cap)
{
    uint32_t home = shard_of(c, key);
    for (unsigned n = 0; n < MULTI_TRIES; n++) {
        snprintf(ctr, cap, "{u%llu.%llx.%u}c", (unsigned long long)seq,
                 (unsigned long long)(c->session & 0xffffffff), n);
        if (shard_of(c, ctr) != home)
            return true;
    }
    return false;
}

/* Request number `seq`: its commands, expected replies and its shard. */
static uint32_t make_request(struct client *c, struct req *r, uint64_t seq)
{
    char key[48], ctr[48], val[48];
    /* The session id keeps runs against the same server apart. */
    snprintf(key, sizeof(key), "{t%llu.%llx}k", (unsigned long long)seq,
             (unsigned long long)(c->session & 0xffffffff));
    if (!c->multi || c->nshards < 2)
        snprintf(ctr, sizeof(ctr), "{t%llu.%llx}c", (unsigned long long)seq,
                 (unsigned long long)(c->session & 0xffffffff));
    else if (!multi_counter(c, key, seq, ctr, sizeof(ctr)))
        HP_ASSERT(!"no counter tag on another shard");
    snprintf(val, sizeof(val), "value-%llu", (unsigned long long)seq * 2654435761u);
    size_t off = 0, eoff = 0;
    const char *set[] = {"SET", key, val};
    const char *get[] = {"GET", key};
    off = put_cmd(r->payload, off, 3, set);
    eoff = put(r->expected, eoff, "+OK\r\n", 5);
    off = put_cmd(r->payload, off, 2, get);
    char tmp[96];
    eoff = put(r->expected, eoff, tmp,
               (size_t)snprintf(tmp, sizeof(tmp), "$%zu\r\n%s\r\n", strlen(val), val));
    int nincr = CMDS_PER_REQ - 2 - (c->multi ? 1 : 0);
    for (int i = 1; i <= nincr; i++) {
        const char *incr[] = {"INCR", ctr};
        off = put_cmd(r->payload, off, 2, incr);
        eoff = put(r->expected, eoff, tmp, (size_t)snprintf(tmp, sizeof(tmp), ":%d\r\n", i));
    }
    if (c->multi) {
        const char *mget[] = {"MGET", key, ctr};
        off = put_cmd(r->payload, off, 3, mget);
        char n[16];
        int nl = snprintf(n, sizeof(n), "%d", nincr);
        eoff = put(r->expected, eoff, tmp,
                   (size_t)snprintf(tmp, sizeof(tmp), "*2\r\n$%zu\r\n%s\r\n$%d\r\n%s\r\n",
                                    strlen(val), val, nl, n));
    }
    r->len = (uint16_t)off;
    r->exp_len = (uint16_t)eoff;
    return shard_of(c, key);
}

static void transmit(struct client *c, struct req *r)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(c->pool);
    if (m == NULL)
        return; /* retried on timeout */
    uint8_t *base = rte_pktmbuf_mtod(m, uint8_t *);
    size_t hl = pkt_udp_reply_hdr_len(&c->to_server);
    struct hpproto_hdr h;
    hpproto_request_hdr(&h, c->session, r->id, CMDS_PER_REQ, r->len);
    if (c->cookie) {
        h.flags |= HPPROTO_F_COOKIE;
        h.cookie = c->cookie;
    }
    if (r->attempts > 0)
        h.flags |= HPPROTO_F_RETRY;
    hpproto_encode(&h, base + hl);
    memcpy(base + hl + HPPROTO_HDR_LEN, r->payload, r->len);
    /* Address the shard directly too: destination port = base + shard. */
    struct pkt_info to = c->to_server;
    to.src_port = (uint16_t)(c->udp_base + r->queue);
    size_t n = pkt_build_udp_reply(&c->me, &to, base, (size_t)m->buf_len - m->data_off,
                                   HPPROTO_HDR_LEN + r->len, 0);
    m->data_len = (uint16_t)n;
    m->pkt_len = (uint32_t)n;
    if (rte_eth_tx_burst(c->port, r->queue, &m, 1) != 1)
        rte_pktmbuf_free(m);
    r->attempts++;
    r->sent_tsc = rte_rdtsc();
}

static void on_reply(struct client *c, const uint8_t *dgram, size_t len)
{
    struct hpproto_hdr h;
    if (hpproto_decode(dgram, len, &h) != HPPROTO_OK || !(h.flags & HPPROTO_F_REPLY) ||
        h.session_id != c->session)
        return;
    struct req *r = &c->win[h.request_id % WINDOW];
    if (!r->used || r->id != h.request_id)
        return; /* late duplicate */
    if (h.flags & HPPROTO_F_COOKIE)
        c->cookie = h.cookie;
    if (h.status == HPPROTO_ST_COOKIE) {
        c->cookie_replies++;
        transmit(c, r);
        return;
    }
    const uint8_t *payload = dgram + HPPROTO_HDR_LEN;
    size_t plen = len - HPPROTO_HDR_LEN;
    if (h.status != HPPROTO_ST_OK || h.frag_count != 1 || plen != r->exp_len ||
        memcmp(payload, r->expected, plen) != 0) {
        c->mismatches++;
        if (c->mismatches <= 5)
            fprintf(stderr, "request %llu: status %u, %zu bytes, want %u: %.*s\n",
                    (unsigned long long)r->id, h.status, plen, r->exp_len,
                    (int)HP_MIN(plen, 80), (const char *)payload);
    } else {
        c->verified += CMDS_PER_REQ;
    }
    r->used = false;
    c->inflight--;
}

static void poll_rx(struct client *c)
{
    for (uint16_t q = 0; q < c->nq; q++) {
        struct rte_mbuf *pkts[BURST];
        uint16_t n = rte_eth_rx_burst(c->port, q, pkts, BURST);
        for (uint16_t i = 0; i < n; i++) {
            struct rte_mbuf *m = pkts[i];
            struct pkt_info info;
            if (m->nb_segs == 1 &&
                pkt_parse(&c->me, rte_pktmbuf_mtod(m, uint8_t *), m->data_len, 0, &info) ==
                    PKT_UDP_REQUEST)
                on_reply(c, rte_pktmbuf_mtod(m, uint8_t *) + info.payload_off, info.payload_len);
            rte_pktmbuf_free(m);
        }
    }
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
        return -1;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)v[i];
    return 0;
}

static int port_up(struct client *c)
{
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    if (rte_eth_dev_configure(c->port, c->nq, c->nq, &conf) != 0)
        return -1;
    for (uint16_t q = 0; q < c->nq; q++) {
        if (rte_eth_rx_queue_setup(c->port, q, 1024, (unsigned)rte_socket_id(), NULL, c->pool) ||
            rte_eth_tx_queue_setup(c->port, q, 1024, (unsigned)rte_socket_id(), NULL))
            return -1;
    }
    if (rte_eth_dev_start(c->port) != 0)
        return -1;
    struct rte_ether_addr mac;
    if (rte_eth_macaddr_get(c->port, &mac) != 0)
        return -1;
    memcpy(c->me.mac, mac.addr_bytes, 6);
    return 0;
}

static bool wait_link(struct client *c, int seconds)
{
    for (int i = 0; i < seconds * 10; i++) {
        struct rte_eth_link link;
        if (rte_eth_link_get_nowait(c->port, &link) == 0 && link.link_status)
            return true;
        rte_delay_ms(100);
    }
    return false;
}

static void run(struct client *c, uint64_t ops)
{
    uint64_t nreq = (ops + CMDS_PER_REQ - 1) / CMDS_PER_REQ;
    uint64_t seq = 0;
    uint64_t hz = rte_get_tsc_hz();
    uint64_t retry = hz * RETRY_MS / 1000;
    uint64_t deadline = rte_rdtsc() + hz * RUN_LIMIT_S;
    while ((seq < nreq || c->inflight > 0) && rte_rdtsc() < deadline) {
        /* Before the cookie arrives, one request at a time. */
        uint32_t limit = c->cookie ? WINDOW : 1;
        while (seq < nreq && c->inflight < limit) {
            uint64_t id = c->next_id;
            struct req *r = &c->win[id % WINDOW];
            if (r->used)
                break; /* the oldest is still outstanding: keep the id span < WINDOW */
            memset(r, 0, offsetof(struct req, payload));
            r->used = true;
            r->id = id;
            uint32_t shard = make_request(c, r, seq);
            if (c->cross && (seq & 1))
                shard++;
            r->queue = (uint16_t)(shard % c->nq);
            c->next_id++;
            seq++;
            c->inflight++;
            c->ops_sent += CMDS_PER_REQ;
            transmit(c, r);
        }
        poll_rx(c);
        uint64_t now = rte_rdtsc();
        for (uint32_t i = 0; i < WINDOW; i++) {
            struct req *r = &c->win[i];
            if (!r->used || now - r->sent_tsc < retry)
                continue;
            if (r->attempts >= MAX_ATTEMPTS) {
                fprintf(stderr, "request %llu: no reply after %u attempts\n",
                        (unsigned long long)r->id, r->attempts);
                c->mismatches++;
                r->used = false;
                c->inflight--;
                continue;
            }
            c->retransmits++;
            transmit(c, r);
        }
    }
}

int main(int argc, char **argv)
{
    int n = rte_eal_init(argc, argv);
    if (n < 0) {
        fprintf(stderr, "EAL init failed\n");
        return 2;
    }
    argc -= n;
    argv += n;
    if (argc != 7 && !(argc == 8 && (strcmp(argv[7], "cross") == 0 ||
                                      strcmp(argv[7], "multi") == 0))) {
        fprintf(stderr, "usage: ... -- <server-ip> <server-mac> <client-ip> <udp-base> "
                        "<nshards> <ops> [cross|multi]\n");
        return 2;
    }
    static struct client c;
    struct in_addr a;
    if (inet_pton(AF_INET, argv[1], &a) != 1 || parse_mac(argv[2], c.to_server.src_mac) != 0)
        return 2;
    c.to_server.src_ip = ntohl(a.s_addr);
    if (inet_pton(AF_INET, argv[3], &a) != 1)
        return 2;
    c.me.ip = ntohl(a.s_addr);
    c.udp_base = (uint16_t)atoi(argv[4]);
    c.nshards = (uint32_t)atoi(argv[5]);
    uint64_t ops = strtoull(argv[6], NULL, 10);
    if (c.nshards < 1 || c.nshards > MAX_Q || ops == 0)
        return 2;
    c.nq = (uint16_t)c.nshards;
    c.cross = argc == 8 && strcmp(argv[7], "cross") == 0;
    c.multi = argc == 8 && strcmp(argv[7], "multi") == 0;
    c.me.port_lo = c.me.port_hi = CLIENT_PORT;
    c.me.vlan_id = PKT_VLAN_ANY;
    c.to_server.dst_ip = c.me.ip;
    c.to_server.dst_port = CLIENT_PORT;
    c.to_server.src_port = c.udp_base;
    c.session = ((uint64_t)rte_rand() | 1);
    c.next_id = 1;
    c.port = 0;
    c.pool = rte_pktmbuf_pool_create("memif_client", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                     (int)rte_socket_id());
    if (c.pool == NULL || rte_eth_dev_count_avail() < 1 || port_up(&c) != 0) {
        fprintf(stderr, "cannot set up the memif port\n");
        return 2;
    }
    if (!wait_link(&c, 20)) {
        fprintf(stderr, "memif link did not come up\n");
        return 2;
    }
    uint64_t t0 = rte_rdtsc();
    run(&c, ops);
    double secs = (double)(rte_rdtsc() - t0) / (double)rte_get_tsc_hz();
    printf("MEMIF-RESULT: ops=%llu verified=%llu retransmits=%llu mismatches=%llu "
           "cookie_replies=%llu seconds=%.2f\n",
           (unsigned long long)c.ops_sent, (unsigned long long)c.verified,
           (unsigned long long)c.retransmits, (unsigned long long)c.mismatches,
           (unsigned long long)c.cookie_replies, secs);
    fflush(stdout);
    rte_eth_dev_stop(c.port);
    rte_eth_dev_close(c.port);
    rte_eal_cleanup();
    return c.verified >= ops && c.mismatches == 0 ? 0 : 1;
}
