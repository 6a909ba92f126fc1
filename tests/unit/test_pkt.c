/* test_pkt.c - frame parsing, reply building and checksums (wire/pkt.c). */
#include "cu_main.h"
#include "pkt.h"

#include <string.h>

/* ---- fixtures ------------------------------------------------------------------- */

#define US_IP 0x0a000001u     /* 10.0.0.1 */
#define THEM_IP 0x0a000002u   /* 10.0.0.2 */
#define THEM_PORT 40000
#define OFF_IP 14             /* untagged offsets */
#define OFF_UDP 34
#define OFF_PAY 42

static const uint8_t us_mac[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t them_mac[6] = {2, 0, 0, 0, 0, 2};

static struct pkt_config cfg(void)
{
    struct pkt_config c = {.ip = US_IP, .port_lo = 6380, .port_hi = 6383, .vlan_id = PKT_VLAN_ANY};
    memcpy(c.mac, us_mac, 6);
    return c;
}

/* Known-good frames, computed independently (Python, struct + RFC 1071):
 * 10.0.0.2:40000 -> 10.0.0.1:6380 "hello, hotpath!" (IP id 0x1234, TTL 64),
 * and our reply "+PONG\r\n" (IP id 0, DF, TTL 64).
 * Checksums: request IP 0x548c, UDP 0x5cec; reply IP 0x26c8, UDP 0x6af5. */
static const uint8_t known_udp_request[57] = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x2b, 0x12, 0x34, 0x00, 0x00, 0x40, 0x11,
    0x54, 0x8c, 0x0a, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x01, 0x9c, 0x40,
    0x18, 0xec, 0x00, 0x17, 0x5c, 0xec, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c,
    0x20, 0x68, 0x6f, 0x74, 0x70, 0x61, 0x74, 0x68, 0x21,
};

static const uint8_t known_udp_reply[49] = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x23, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
    0x26, 0xc8, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x18, 0xec,
    0x9c, 0x40, 0x00, 0x0f, 0x6a, 0xf5, 0x2b, 0x50, 0x4f, 0x4e, 0x47, 0x0d,
    0x0a,
};

/* Echo request 10.0.0.2 -> 10.0.0.1 (TTL 128, id 0x1a2b seq 7, 32 bytes)
 * and the reply we must produce (TTL 64, type 0). */
static const uint8_t known_icmp_request[74] = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x12, 0x34, 0x00, 0x00, 0x80, 0x01,
    0x14, 0x8b, 0x0a, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x01, 0x08, 0x00,
    0x33, 0x2a, 0x1a, 0x2b, 0x00, 0x07, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66,
    0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72,
    0x73, 0x74, 0x75, 0x76, 0x77, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
    0x68, 0x69,
};

static const uint8_t known_icmp_reply[74] = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x12, 0x34, 0x00, 0x00, 0x40, 0x01,
    0x54, 0x8b, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x00, 0x00,
    0x3b, 0x2a, 0x1a, 0x2b, 0x00, 0x07, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66,
    0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72,
    0x73, 0x74, 0x75, 0x76, 0x77, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
    0x68, 0x69,
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Recomputes the IPv4 header checksum at l2 (after a deliberate change). */
static void fix_ip(uint8_t *f, size_t l2)
{
    size_t ihl = (size_t)(f[l2] & 0x0f) * 4;
    put16(f + l2 + 10, 0);
    put16(f + l2 + 10, pkt_csum(f + l2, ihl));
}

/* Recomputes the UDP checksum over the length the UDP header claims. */
static void fix_udp(uint8_t *f, size_t l2)
{
    uint8_t *ip = f + l2;
    uint8_t *udp = ip + (ip[0] & 0x0f) * 4;
    uint16_t ulen = get16(udp + 4);
    put16(udp + 6, 0);
    uint32_t ps = pkt_ipv4_pseudo_sum((uint32_t)get16(ip + 12) << 16 | get16(ip + 14),
                                      (uint32_t)get16(ip + 16) << 16 | get16(ip + 18), 17, ulen);
    uint16_t c = pkt_csum_finish(pkt_csum_add(ps, udp, ulen));
    put16(udp + 6, c ? c : 0xffff);
}

/* A valid UDP request to us, optionally tagged; returns its length. */
static size_t make_udp(uint8_t *f, bool vlan, uint16_t tci, const char *payload)
{
    size_t plen = strlen(payload), l2 = vlan ? 18 : 14;
    memcpy(f, us_mac, 6);
    memcpy(f + 6, them_mac, 6);
    if (vlan) {
        put16(f + 12, PKT_ETHERTYPE_VLAN);
        put16(f + 14, tci);
    }
    put16(f + l2 - 2, PKT_ETHERTYPE_IPV4);
    uint8_t *ip = f + l2;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(28 + plen));
    put16(ip + 4, 0x4321);
    ip[8] = 64;
    ip[9] = PKT_IPPROTO_UDP;
    put32(ip + 12, THEM_IP);
    put32(ip + 16, US_IP);
    uint8_t *udp = ip + 20;
    put16(udp, THEM_PORT);
    put16(udp + 2, 6381);
    put16(udp + 4, (uint16_t)(8 + plen));
    memcpy(udp + 8, payload, plen);
    fix_ip(f, l2);
    fix_udp(f, l2);
    return l2 + 28 + plen;
}

static size_t make_arp(uint8_t *f, bool vlan)
{
    size_t l2 = vlan ? 18 : 14;
    memset(f, 0xff, 6);                       /* broadcast */
    memcpy(f + 6, them_mac, 6);
    if (vlan) {
        put16(f + 12, PKT_ETHERTYPE_VLAN);
        put16(f + 14, 0x2064);                /* PCP 1, VID 100 */
    }
    put16(f + l2 - 2, PKT_ETHERTYPE_ARP);
    uint8_t *a = f + l2;
    put16(a, 1);
    put16(a + 2, PKT_ETHERTYPE_IPV4);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, PKT_ARP_OP_REQUEST);
    memcpy(a + 8, them_mac, 6);
    put32(a + 14, THEM_IP);
    memset(a + 18, 0, 6);
    put32(a + 24, US_IP);
    return l2 + 28;
}

static enum pkt_verdict parse(const uint8_t *f, size_t len, unsigned flags, struct pkt_info *info)
{
    struct pkt_config c = cfg();
    return pkt_parse(&c, f, len, flags, info);
}

/* Asserts that the frame is dropped for exactly `reason`. */
#define EXPECT_DROP(f, len, flags, reason)                                     \
    do {                                                                       \
        struct pkt_info info_;                                                 \
        CU_ASSERT_EQUAL(parse((f), (len), (flags), &info_), PKT_DROP);         \
        CU_ASSERT_EQUAL(info_.drop, (reason));                                 \
        if (info_.drop != (reason))                                            \
            fprintf(stderr, "  line %d: got %s, want %s\n", __LINE__,          \
                    pkt_drop_reason_name(info_.drop),                          \
                    pkt_drop_reason_name(reason));                             \
    } while (0)

/* ---- checksums ------------------------------------------------------------------ */

static void test_csum_known_vectors(void)
{
    /* RFC 1071 section 3 example: sum ddf2, checksum 220d. */
    static const uint8_t rfc1071[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CU_ASSERT_EQUAL(pkt_csum_add(0, rfc1071, sizeof(rfc1071)), 0xddf2);
    CU_ASSERT_EQUAL(pkt_csum(rfc1071, sizeof(rfc1071)), 0x220d);
    /* The textbook IPv4 header 192.168.0.1 -> 192.168.0.199: checksum b861. */
    uint8_t ip[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                      0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    CU_ASSERT_EQUAL(pkt_csum(ip, sizeof(ip)), 0xb861);
    put16(ip + 10, 0xb861);
    CU_ASSERT_EQUAL(pkt_csum(ip, sizeof(ip)), 0);
    /* Odd length: the last byte is the high half of a zero-padded word. */
    static const uint8_t odd[] = {0x12, 0x34, 0x56};
    CU_ASSERT_EQUAL(pkt_csum_add(0, odd, 3), 0x1234 + 0x5600);
    /* Split sums agree with one sum (even split), and carries fold. */
    static const uint8_t ff[] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x02};
    CU_ASSERT_EQUAL(pkt_csum_add(pkt_csum_add(0, ff, 4), ff + 4, 2), pkt_csum_add(0, ff, 6));
    CU_ASSERT_EQUAL(pkt_csum_add(0, ff, 6), 0x0002);   /* ffff+ffff+2 = 0x20000 -> 0x0002 */
    /* The known frames' checksums, recomputed. */
    CU_ASSERT_EQUAL(pkt_csum(known_udp_request + OFF_IP, 20), 0);
    CU_ASSERT_EQUAL(pkt_csum(known_icmp_request + OFF_IP + 20, 40), 0);
    uint32_t ps = pkt_ipv4_pseudo_sum(THEM_IP, US_IP, 17, 23);
    CU_ASSERT_EQUAL(pkt_csum_finish(pkt_csum_add(ps, known_udp_request + OFF_UDP, 23)), 0);
    uint8_t udp[23];
    memcpy(udp, known_udp_request + OFF_UDP, 23);
    put16(udp + 6, 0);
    CU_ASSERT_EQUAL(pkt_csum_finish(pkt_csum_add(ps, udp, 23)), 0x5cec);
}

static void test_csum_incremental(void)
{
    uint32_t seed = 12345;
    for (int iter = 0; iter < 2000; iter++) {
        uint8_t buf[64];
        for (size_t i = 0; i < sizeof(buf); i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (uint8_t)(seed >> 16);
        }
        if (iter % 7 == 0)
            memset(buf, 0, sizeof(buf));      /* all-zero data: the zero edge cases */
        put16(buf + 10, 0);
        put16(buf + 10, pkt_csum(buf, sizeof(buf)));
        size_t at = (size_t)(seed >> 8) % 15 * 4 + (seed & 1 ? 0 : 12) % 4;
        at &= ~(size_t)1;
        if (at >= 8 && at < 14)
            at = 16;                          /* keep clear of the checksum field */
        seed = seed * 1103515245u + 12345u;
        if (iter % 2) {
            uint16_t from = get16(buf + at), to = (uint16_t)(seed >> 8);
            put16(buf + at, to);
            put16(buf + 10, pkt_csum_update16(get16(buf + 10), from, to));
        } else {
            uint32_t from = (uint32_t)get16(buf + at) << 16 | get16(buf + at + 2);
            uint32_t to = seed;
            put32(buf + at, to);
            put16(buf + 10, pkt_csum_update32(get16(buf + 10), from, to));
        }
        CU_ASSERT_EQUAL(pkt_csum(buf, sizeof(buf)), 0);
    }
    /* RFC 1624 section 4 example: HC 0xdd2f, m 0x5555 -> m' 0x3285: HC' 0x0000. */
    CU_ASSERT_EQUAL(pkt_csum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
}

/* The RFC 1071 definition, one big-endian word at a time: the reference
 * the word-at-a-time pkt_csum_add must agree with. */
static uint32_t ref_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
    uint64_t s = sum;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint32_t)s;
}

static void test_csum_matches_reference(void)
{
    static uint8_t buf[2048 + 16];
    uint32_t seed = 777;
    for (int iter = 0; iter < 3000; iter++) {
        seed = seed * 1103515245u + 12345u;
        size_t align = (seed >> 4) % 16;
        size_t len = iter < 200 ? (size_t)iter : (seed >> 12) % 2048;
        uint8_t fill_mode = (uint8_t)(iter % 5);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            /* all-ones and all-zero buffers stress carries and the zero sum */
            buf[align + i] = fill_mode == 0 ? 0xff : fill_mode == 1 ? 0 : (uint8_t)(seed >> 16);
        }
        uint32_t start = iter % 3 == 0 ? 0 : (iter % 3 == 1 ? 0xffff : (seed >> 8) & 0xffff);
        uint32_t got = pkt_csum_add(start, buf + align, len);
        uint32_t want = ref_csum_add(start, buf + align, len);
        CU_ASSERT_EQUAL(got, want);
        CU_ASSERT(got <= 0xffff);
        /* chained: any even split point gives the same sum */
        size_t cut = len ? ((seed >> 3) % (len + 1)) & ~(size_t)1 : 0;
        CU_ASSERT_EQUAL(pkt_csum_add(pkt_csum_add(start, buf + align, cut), buf + align + cut,
                                     len - cut),
                        want);
        if (got != want)
            break;   /* one report, not thousands */
    }
}

/* ---- UDP ------------------------------------------------------------------------ */

static void test_udp_known_frame(void)
{
    struct pkt_info info;
    CU_ASSERT_EQUAL(parse(known_udp_request, sizeof(known_udp_request), 0, &info), PKT_UDP_REQUEST);
    CU_ASSERT_EQUAL(info.drop, PKT_DROP_NONE);
    CU_ASSERT_FALSE(info.vlan_present);
    CU_ASSERT_EQUAL(info.l2_len, 14);
    CU_ASSERT_EQUAL(info.l4_off, OFF_UDP);
    CU_ASSERT_EQUAL(info.l4_len, 23);
    CU_ASSERT_EQUAL(info.payload_off, OFF_PAY);
    CU_ASSERT_EQUAL(info.payload_len, 15);
    CU_ASSERT_EQUAL(info.frame_len, 57);
    CU_ASSERT_EQUAL(info.src_ip, THEM_IP);
    CU_ASSERT_EQUAL(info.dst_ip, US_IP);
    CU_ASSERT_EQUAL(info.src_port, THEM_PORT);
    CU_ASSERT_EQUAL(info.dst_port, 6380);
    CU_ASSERT_EQUAL(memcmp(info.src_mac, them_mac, 6), 0);
    CU_ASSERT_EQUAL(memcmp(known_udp_request + info.payload_off, "hello, hotpath!", 15), 0);

    /* Reply into a fresh buffer: exactly the independently computed bytes. */
    struct pkt_config c = cfg();
    uint8_t out[128];
    memset(out, 0xee, sizeof(out));
    CU_ASSERT_EQUAL(pkt_udp_reply_hdr_len(&info), 42);
    memcpy(out + 42, "+PONG\r\n", 7);
    size_t n = pkt_build_udp_reply(&c, &info, out, sizeof(out), 7, 0);
    CU_ASSERT_EQUAL(n, sizeof(known_udp_reply));
    CU_ASSERT_EQUAL(memcmp(out, known_udp_reply, sizeof(known_udp_reply)), 0);

    /* In place, over the request itself. */
    uint8_t frame[128];
    memcpy(frame, known_udp_request, sizeof(known_udp_request));
    memcpy(frame + info.payload_off, "+PONG\r\n", 7);
    n = pkt_build_udp_reply(&c, &info, frame, sizeof(frame), 7, 0);
    CU_ASSERT_EQUAL(n, sizeof(known_udp_reply));
    CU_ASSERT_EQUAL(memcmp(frame, known_udp_reply, n), 0);
}

static void test_udp_reply_offload_and_vlan(void)
{
    struct pkt_config c = cfg();
    struct pkt_info info;
    uint8_t f[256];
    size_t len = make_udp(f, true, 0xa07b, "*1\r\n$4\r\nPING\r\n");   /* PCP 5, VID 123 */
    CU_ASSERT_EQUAL(parse(f, len, 0, &info), PKT_UDP_REQUEST);
    CU_ASSERT_TRUE(info.vlan_present);
    CU_ASSERT_EQUAL(info.vlan_tci, 0xa07b);
    CU_ASSERT_EQUAL(info.l2_len, 18);
    CU_ASSERT_EQUAL(info.payload_off, 46);
    CU_ASSERT_EQUAL(info.payload_len, 14);
    CU_ASSERT_EQUAL(pkt_udp_reply_hdr_len(&info), 46);

    /* Software checksums: the tag is kept, everything verifies. */
    uint8_t out[256];
    memcpy(out + 46, "+PONG\r\n", 7);
    size_t n = pkt_build_udp_reply(&c, &info, out, sizeof(out), 7, 0);
    CU_ASSERT_EQUAL(n, 53);
    CU_ASSERT_EQUAL(get16(out + 12), PKT_ETHERTYPE_VLAN);
    CU_ASSERT_EQUAL(get16(out + 14), 0xa07b);
    CU_ASSERT_EQUAL(get16(out + 16), PKT_ETHERTYPE_IPV4);
    CU_ASSERT_EQUAL(memcmp(out, them_mac, 6), 0);
    CU_ASSERT_EQUAL(memcmp(out + 6, us_mac, 6), 0);
    CU_ASSERT_EQUAL(pkt_csum(out + 18, 20), 0);
    CU_ASSERT_EQUAL(get16(out + 38), 6381);                 /* from the port asked */
    CU_ASSERT_EQUAL(get16(out + 40), THEM_PORT);
    uint32_t ps = pkt_ipv4_pseudo_sum(US_IP, THEM_IP, 17, 15);
    CU_ASSERT_EQUAL(pkt_csum_finish(pkt_csum_add(ps, out + 38, 15)), 0);

    /* The reply parses as a valid request when seen from the client's side. */
    struct pkt_config client = {.ip = THEM_IP, .port_lo = THEM_PORT, .port_hi = THEM_PORT,
                                .vlan_id = 123};
    memcpy(client.mac, them_mac, 6);
    struct pkt_info back;
    CU_ASSERT_EQUAL(pkt_parse(&client, out, n, 0, &back), PKT_UDP_REQUEST);
    CU_ASSERT_EQUAL(back.payload_len, 7);

    /* Offloads: IP checksum left 0, UDP holds the pseudo-header sum. */
    n = pkt_build_udp_reply(&c, &info, out, sizeof(out), 7, PKT_TX_IP_CSUM | PKT_TX_UDP_CSUM);
    CU_ASSERT_EQUAL(get16(out + 18 + 10), 0);
    CU_ASSERT_EQUAL(get16(out + 38 + 6), (uint16_t)ps);
    /* Only IP offloaded: UDP still complete in software. */
    n = pkt_build_udp_reply(&c, &info, out, sizeof(out), 7, PKT_TX_IP_CSUM);
    CU_ASSERT_EQUAL(get16(out + 28), 0);
    CU_ASSERT_EQUAL(pkt_csum_finish(pkt_csum_add(ps, out + 38, 15)), 0);
    CU_ASSERT_EQUAL(n, 53);
}

/* A UDP sum that comes out 0 must be sent as ffff (0 means "none"). */
static void test_udp_reply_zero_checksum(void)
{
    struct pkt_config c = cfg();
    struct pkt_info info;
    uint8_t f[128];
    size_t len = make_udp(f, false, 0, "x");
    CU_ASSERT_EQUAL(parse(f, len, 0, &info), PKT_UDP_REQUEST);
    /* Pick two payload bytes so that the UDP sum is exactly ffff. */
    uint8_t out[128];
    put16(out + 42, 0);
    pkt_build_udp_reply(&c, &info, out, sizeof(out), 2, 0);
    uint16_t with_zero = get16(out + 40);
    /* checksum c means sum s = ~c; adding word w changes sum to s + w.
     * We want s + w == 0xffff, i.e. w = ~s = c (mod ones' complement). */
    put16(out + 42, with_zero == 0xffff ? 0 : with_zero);
    pkt_build_udp_reply(&c, &info, out, sizeof(out), 2, 0);
    CU_ASSERT_EQUAL(get16(out + 40), 0xffff);
    uint32_t ps = pkt_ipv4_pseudo_sum(US_IP, THEM_IP, 17, 10);
    CU_ASSERT_EQUAL(pkt_csum_finish(pkt_csum_add(ps, out + 34, 10)), 0);
}

static void test_udp_malformed(void)
{
    uint8_t f[256], g[256];
    size_t len = make_udp(f, false, 0, "payload!");   /* 50 bytes, IP total 36 */
    struct pkt_info info;
    CU_ASSERT_EQUAL(parse(f, len, 0, &info), PKT_UDP_REQUEST);

#define RESET() memcpy(g, f, len)
    /* Ethernet */
    EXPECT_DROP(f, 0, 0, PKT_DROP_RUNT);
    EXPECT_DROP(f, 13, 0, PKT_DROP_RUNT);
    RESET(); g[5] = 9;                                         /* other unicast MAC */
    EXPECT_DROP(g, len, 0, PKT_DROP_L2_NOT_FOR_US);
    RESET(); memcpy(g, (uint8_t[]){0x01, 0x00, 0x5e, 0, 0, 1}, 6);   /* multicast */
    EXPECT_DROP(g, len, 0, PKT_DROP_L2_NOT_FOR_US);
    RESET(); put16(g + 12, 0x86dd);                            /* IPv6 */
    EXPECT_DROP(g, len, 0, PKT_DROP_BAD_ETHERTYPE);
    /* IPv4 lengths */
    EXPECT_DROP(f, OFF_IP + 19, 0, PKT_DROP_IP_TRUNCATED);
    RESET(); g[OFF_IP] = 0x65; fix_ip(g, 14);
    EXPECT_DROP(g, len, 0, PKT_DROP_IP_BAD_VERSION);
    RESET(); g[OFF_IP] = 0x44; fix_ip(g, 14);                  /* ihl 16 bytes */
    EXPECT_DROP(g, len, 0, PKT_DROP_IP_BAD_IHL);
    RESET(); g[OFF_IP] = 0x4f;                                 /* 60 > 36 available */
    EXPECT_DROP(g, len, 0, PKT_DROP_IP_BAD_IHL);
    RESET(); put16(g + OFF_IP + 2, 19); fix_ip(g, 14);         /* total < ihl */
    EXPECT_DROP(g, len, 0, PKT_DROP_IP_BAD_TOTAL_LEN);
    RESET(); put16(g + OFF_IP + 2, 37); fix_ip(g, 14);         /* total > buffer */
    EXPECT_DROP(g, len, 0, PKT_DROP_IP_BAD_TOTAL_LEN);
    /* IPv4 checksum, with and without NIC verdicts */
    RESET(); g[OFF_IP + 8] = 63;                               /* TTL changed, sum not */
    EXPECT_DROP(g, len, 0, PKT_DROP_IP_BAD_CHECKSUM);
    CU_ASSERT_EQUAL(parse(g, len, PKT_RX_IP_CSUM_GOOD, &info), PKT_UDP_REQUEST);   /* NIC trusted */
    EXPECT_DROP(f, len, PKT_RX_IP_CSUM_BAD, PKT_DROP_IP_BAD_CHECKSUM);
    /* Options: ihl 6 with a NOP option word, lengths and sum consistent. */
    {
        uint8_t h[256];
        memcpy(h, f, OFF_IP + 20);
        memset(h + OFF_IP + 20, 1, 4);                         /* 4 x NOP */
        memcpy(h + OFF_IP + 24, f + OFF_UDP, len - OFF_UDP);
        h[OFF_IP] = 0x46;
        put16(h + OFF_IP + 2, (uint16_t)(get16(f + OFF_IP + 2) + 4));
        fix_ip(h, 14);
        EXPECT_DROP(h, len + 4, 0, PKT_DROP_IP_OPTIONS);
    }
    /* Fragments: MF, offset, both; DF alone is fine. */
    RESET(); put16(g + OFF_IP + 6, 0x2000); fix_ip(g, 14);
    EXPECT_DROP(g, len, 0, PKT_DROP_IP_FRAGMENT);
    RESET(); put16(g + OFF_IP + 6, 0x0010); fix_ip(g, 14);
    EXPECT_DROP(g, len, 0, PKT_DROP_IP_FRAGMENT);
    RESET(); put16(g + OFF_IP + 6, 0x4000); fix_ip(g, 14);
    CU_ASSERT_EQUAL(parse(g, len, 0, &info), PKT_UDP_REQUEST);
    /* Addresses */
    RESET(); put32(g + OFF_IP + 16, 0x0a000003); fix_ip(g, 14); fix_udp(g, 14);
    EXPECT_DROP(g, len, 0, PKT_DROP_IP_NOT_FOR_US);
    RESET(); put32(g + OFF_IP + 16, 0xffffffff); fix_ip(g, 14); fix_udp(g, 14);
    EXPECT_DROP(g, len, 0, PKT_DROP_IP_NOT_FOR_US);
    static const uint32_t martians[] = {0, 0x00000001, 0x7f000001, 0xe0000001, 0xefffffff,
                                        0xf0000001, 0xffffffff, US_IP};
    for (size_t i = 0; i < HP_ARRAY_LEN(martians); i++) {
        RESET(); put32(g + OFF_IP + 12, martians[i]); fix_ip(g, 14); fix_udp(g, 14);
        EXPECT_DROP(g, len, 0, PKT_DROP_IP_BAD_SOURCE);
    }
    RESET(); g[OFF_IP + 9] = 6; fix_ip(g, 14);                 /* TCP */
    EXPECT_DROP(g, len, 0, PKT_DROP_IP_BAD_PROTO);
    /* UDP lengths */
    RESET(); put16(g + OFF_IP + 2, 27); fix_ip(g, 14);         /* 7 bytes of UDP */
    EXPECT_DROP(g, len, 0, PKT_DROP_UDP_TRUNCATED);
    RESET(); put16(g + OFF_UDP + 4, 7); fix_udp(g, 14);
    EXPECT_DROP(g, len, 0, PKT_DROP_UDP_BAD_LEN);
    RESET(); put16(g + OFF_UDP + 4, 17);                       /* > IP payload 16 */
    EXPECT_DROP(g, len, 0, PKT_DROP_UDP_BAD_LEN);
    RESET(); put16(g + OFF_UDP + 4, 15); fix_udp(g, 14);       /* < IP payload */
    EXPECT_DROP(g, len, 0, PKT_DROP_UDP_BAD_LEN);
    /* UDP checksum */
    RESET(); g[OFF_PAY] ^= 0x20;
    EXPECT_DROP(g, len, 0, PKT_DROP_UDP_BAD_CHECKSUM);
    CU_ASSERT_EQUAL(parse(g, len, PKT_RX_L4_CSUM_GOOD, &info), PKT_UDP_REQUEST);
    EXPECT_DROP(f, len, PKT_RX_L4_CSUM_BAD, PKT_DROP_UDP_BAD_CHECKSUM);
    RESET(); put16(g + OFF_UDP + 6, 0);                        /* no checksum: RFC 768 */
    CU_ASSERT_EQUAL(parse(g, len, 0, &info), PKT_UDP_REQUEST);
    /* Ports: range bounds inclusive */
    static const struct { uint16_t port; bool ok; } ports[] = {
        {6379, false}, {6380, true}, {6383, true}, {6384, false}, {53, false}};
    for (size_t i = 0; i < HP_ARRAY_LEN(ports); i++) {
        RESET(); put16(g + OFF_UDP + 2, ports[i].port); fix_udp(g, 14);
        if (ports[i].ok) {
            CU_ASSERT_EQUAL(parse(g, len, 0, &info), PKT_UDP_REQUEST);
        } else {
            EXPECT_DROP(g, len, 0, PKT_DROP_UDP_NOT_FOR_US);
        }
    }
    RESET(); put16(g + OFF_UDP, 0); fix_udp(g, 14);
    EXPECT_DROP(g, len, 0, PKT_DROP_UDP_BAD_SRC_PORT);
#undef RESET
}

/* Ethernet padding after the IP datagram is ignored, never payload. */
static void test_udp_padding(void)
{
    uint8_t f[128];
    size_t len = make_udp(f, false, 0, "ab");   /* 44 bytes */
    memset(f + len, 0x5a, PKT_ETH_MIN_FRAME - len);
    struct pkt_info info;
    CU_ASSERT_EQUAL(parse(f, PKT_ETH_MIN_FRAME, 0, &info), PKT_UDP_REQUEST);
    CU_ASSERT_EQUAL(info.payload_len, 2);
    CU_ASSERT_EQUAL(info.frame_len, 44);
}

/* Every truncation of valid frames is dropped, never read past. */
static void test_truncation_sweep(void)
{
    uint8_t f[128];
    size_t lens[4];
    const uint8_t *frames[4];
    static uint8_t tagged[128], arp[128];
    lens[0] = make_udp(f, false, 0, "0123456789");
    frames[0] = f;
    lens[1] = make_udp(tagged, true, 5, "0123456789");
    frames[1] = tagged;
    lens[2] = make_arp(arp, false);
    frames[2] = arp;
    lens[3] = sizeof(known_icmp_request);
    frames[3] = known_icmp_request;
    for (int k = 0; k < 4; k++) {
        for (size_t n = 0; n < lens[k]; n++) {
            uint8_t *copy = malloc(n ? n : 1);   /* exact size: ASan would see overreads */
            HP_ASSERT(copy != NULL);
            memcpy(copy, frames[k], n);
            struct pkt_info info;
            CU_ASSERT_EQUAL(parse(copy, n, 0, &info), PKT_DROP);
            CU_ASSERT_NOT_EQUAL(info.drop, PKT_DROP_NONE);
            free(copy);
        }
        struct pkt_info info;
        CU_ASSERT_NOT_EQUAL(parse(frames[k], lens[k], 0, &info), PKT_DROP);
    }
}

/* Random mutations never crash and never yield out-of-bounds offsets. */
static void test_mutation_fuzz(void)
{
    uint8_t base[128], g[128];
    size_t len = make_udp(base, true, 7, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    uint32_t seed = 99;
    unsigned accepted = 0;
    for (int iter = 0; iter < 100000; iter++) {
        memcpy(g, base, len);
        int flips = 1 + iter % 4;
        for (int k = 0; k < flips; k++) {
            seed = seed * 1103515245u + 12345u;
            g[(seed >> 8) % len] = (uint8_t)(seed >> 20);
        }
        seed = seed * 1103515245u + 12345u;
        size_t n = len - ((seed >> 10) % 3 == 0 ? (seed >> 12) % len : 0);
        struct pkt_info info;
        enum pkt_verdict v = parse(g, n, 0, &info);
        CU_ASSERT((v == PKT_DROP) == (info.drop != PKT_DROP_NONE));
        if (v != PKT_DROP) {
            accepted++;
            CU_ASSERT(info.frame_len <= n);
            CU_ASSERT(info.payload_off + info.payload_len <= info.frame_len);
        }
    }
    CU_ASSERT(accepted > 0);   /* mutations of the payload alone are caught by the UDP sum */
}

/* ---- VLAN ---------------------------------------------------------------------- */

static void test_vlan_policy(void)
{
    uint8_t tagged[128], plain[128], g[128];
    size_t tlen = make_udp(tagged, true, 0x0064, "v");   /* VID 100 */
    size_t plen = make_udp(plain, false, 0, "v");
    struct pkt_config c = cfg();
    struct pkt_info info;

    c.vlan_id = 100;
    CU_ASSERT_EQUAL(pkt_parse(&c, tagged, tlen, 0, &info), PKT_UDP_REQUEST);
    CU_ASSERT_EQUAL(pkt_parse(&c, plain, plen, 0, &info), PKT_DROP);
    CU_ASSERT_EQUAL(info.drop, PKT_DROP_VLAN_MISMATCH);
    c.vlan_id = 101;
    CU_ASSERT_EQUAL(pkt_parse(&c, tagged, tlen, 0, &info), PKT_DROP);
    CU_ASSERT_EQUAL(info.drop, PKT_DROP_VLAN_MISMATCH);
    c.vlan_id = PKT_VLAN_UNTAGGED;
    CU_ASSERT_EQUAL(pkt_parse(&c, tagged, tlen, 0, &info), PKT_DROP);
    CU_ASSERT_EQUAL(info.drop, PKT_DROP_VLAN_MISMATCH);
    CU_ASSERT_EQUAL(pkt_parse(&c, plain, plen, 0, &info), PKT_UDP_REQUEST);

    /* A tag cut short, QinQ outer tag, two 802.1Q tags. */
    EXPECT_DROP(tagged, 17, 0, PKT_DROP_RUNT);
    memcpy(g, tagged, tlen);
    put16(g + 12, PKT_ETHERTYPE_QINQ);
    EXPECT_DROP(g, tlen, 0, PKT_DROP_VLAN_STACKED);
    memcpy(g, tagged, tlen);
    put16(g + 16, PKT_ETHERTYPE_VLAN);
    EXPECT_DROP(g, tlen, 0, PKT_DROP_VLAN_STACKED);
    memcpy(g, tagged, tlen);
    put16(g + 16, 0x88cc);                                  /* LLDP inside a tag */
    EXPECT_DROP(g, tlen, 0, PKT_DROP_BAD_ETHERTYPE);
}

/* ---- ARP ----------------------------------------------------------------------- */

static void test_arp(void)
{
    struct pkt_config c = cfg();
    uint8_t f[128], g[128];
    size_t len = make_arp(f, false);
    struct pkt_info info;
    CU_ASSERT_EQUAL(parse(f, len, 0, &info), PKT_ARP_REQUEST);
    CU_ASSERT_EQUAL(info.src_ip, THEM_IP);
    CU_ASSERT_EQUAL(info.dst_ip, US_IP);
    CU_ASSERT_EQUAL(info.frame_len, 42);

    /* Reply in a 60-byte buffer: padded to the Ethernet minimum. */
    memcpy(g, f, len);
    memset(g + len, 0x77, 60 - len);
    size_t n = pkt_build_arp_reply(&c, g, 60, &info);
    CU_ASSERT_EQUAL(n, 60);
    static const uint8_t want[42] = {
        2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x06,      /* to them, from us */
        0, 1, 0x08, 0x00, 6, 4, 0, 2,                        /* Ethernet/IPv4, reply */
        2, 0, 0, 0, 0, 1, 10, 0, 0, 1,                       /* sender: us */
        2, 0, 0, 0, 0, 2, 10, 0, 0, 2,                       /* target: them */
    };
    CU_ASSERT_EQUAL(memcmp(g, want, sizeof(want)), 0);
    for (size_t i = 42; i < 60; i++)
        CU_ASSERT_EQUAL(g[i], 0);
    /* No room to pad: the NIC pads. */
    memcpy(g, f, len);
    CU_ASSERT_EQUAL(pkt_build_arp_reply(&c, g, len, &info), 42);
    CU_ASSERT_EQUAL(memcmp(g, want, sizeof(want)), 0);

    /* Tagged request: tag kept. */
    len = make_arp(f, true);
    CU_ASSERT_EQUAL(parse(f, len, 0, &info), PKT_ARP_REQUEST);
    n = pkt_build_arp_reply(&c, f, sizeof(f), &info);
    CU_ASSERT_EQUAL(n, 60);
    CU_ASSERT_EQUAL(get16(f + 12), PKT_ETHERTYPE_VLAN);
    CU_ASSERT_EQUAL(get16(f + 14), 0x2064);
    CU_ASSERT_EQUAL(memcmp(f + 18 + 8, us_mac, 6), 0);

    /* Malformed classes */
    len = make_arp(f, false);
    EXPECT_DROP(f, len - 1, 0, PKT_DROP_ARP_TRUNCATED);
    memcpy(g, f, len); put16(g + 14, 6);                      /* htype IEEE 802 */
    EXPECT_DROP(g, len, 0, PKT_DROP_ARP_MALFORMED);
    memcpy(g, f, len); put16(g + 16, 0x86dd);
    EXPECT_DROP(g, len, 0, PKT_DROP_ARP_MALFORMED);
    memcpy(g, f, len); g[18] = 8;
    EXPECT_DROP(g, len, 0, PKT_DROP_ARP_MALFORMED);
    memcpy(g, f, len); g[19] = 16;
    EXPECT_DROP(g, len, 0, PKT_DROP_ARP_MALFORMED);
    memcpy(g, f, len); put16(g + 20, PKT_ARP_OP_REPLY);
    EXPECT_DROP(g, len, 0, PKT_DROP_ARP_NOT_REQUEST);
    memcpy(g, f, len); put16(g + 20, 3);                      /* RARP request */
    EXPECT_DROP(g, len, 0, PKT_DROP_ARP_NOT_REQUEST);
    memcpy(g, f, len); put32(g + 14 + 24, 0x0a000009);
    EXPECT_DROP(g, len, 0, PKT_DROP_ARP_NOT_FOR_US);
}

/* ---- ICMP ---------------------------------------------------------------------- */

static void test_icmp_echo(void)
{
    struct pkt_config c = cfg();
    uint8_t f[128];
    memcpy(f, known_icmp_request, sizeof(known_icmp_request));
    struct pkt_info info;
    CU_ASSERT_EQUAL(parse(f, sizeof(known_icmp_request), 0, &info), PKT_ICMP_ECHO);
    CU_ASSERT_EQUAL(info.l4_len, 40);
    size_t n = pkt_build_icmp_echo_reply(&c, f, &info);
    CU_ASSERT_EQUAL(n, sizeof(known_icmp_reply));
    CU_ASSERT_EQUAL(memcmp(f, known_icmp_reply, n), 0);
    CU_ASSERT_EQUAL(pkt_csum(f + 14, 20), 0);
    CU_ASSERT_EQUAL(pkt_csum(f + 34, 40), 0);

    uint8_t g[128];
    size_t len = sizeof(known_icmp_request);
#define RESET() memcpy(g, known_icmp_request, len)
    RESET(); g[34] = 0; g[36] ^= 0x08;                         /* an echo reply: ignore */
    EXPECT_DROP(g, len, 0, PKT_DROP_ICMP_NOT_ECHO);
    RESET(); g[35] = 1;
    EXPECT_DROP(g, len, 0, PKT_DROP_ICMP_NOT_ECHO);
    RESET(); g[60] ^= 1;
    EXPECT_DROP(g, len, 0, PKT_DROP_ICMP_BAD_CHECKSUM);
    /* NIC L4 flags do not vouch for ICMP. */
    EXPECT_DROP(g, len, PKT_RX_L4_CSUM_GOOD, PKT_DROP_ICMP_BAD_CHECKSUM);
    RESET(); put16(g + 16, 27); fix_ip(g, 14);                 /* 7 bytes of ICMP */
    EXPECT_DROP(g, len, 0, PKT_DROP_ICMP_TRUNCATED);
#undef RESET
}

/* ---- counters and names ---------------------------------------------------------- */

static void test_counters_and_names(void)
{
    struct pkt_counters ctr;
    memset(&ctr, 0, sizeof(ctr));
    struct pkt_info info;
    enum pkt_verdict v = parse(known_udp_request, sizeof(known_udp_request), 0, &info);
    pkt_count(&ctr, v, &info);
    v = parse(known_udp_request, 10, 0, &info);
    pkt_count(&ctr, v, &info);
    v = parse(known_udp_request, 10, 0, &info);
    pkt_count(&ctr, v, &info);
    CU_ASSERT_EQUAL(ctr.verdict[PKT_UDP_REQUEST], 1);
    CU_ASSERT_EQUAL(ctr.verdict[PKT_DROP], 2);
    CU_ASSERT_EQUAL(ctr.drop[PKT_DROP_RUNT], 2);
    CU_ASSERT_EQUAL(ctr.drop[PKT_DROP_IP_FRAGMENT], 0);

    for (int i = 0; i < PKT_DROP_COUNT; i++) {
        const char *a = pkt_drop_reason_name((enum pkt_drop_reason)i);
        CU_ASSERT_STRING_NOT_EQUAL(a, "unknown");
        for (int j = 0; j < i; j++)
            CU_ASSERT_STRING_NOT_EQUAL(a, pkt_drop_reason_name((enum pkt_drop_reason)j));
    }
    CU_ASSERT_STRING_EQUAL(pkt_drop_reason_name(PKT_DROP_IP_FRAGMENT), "ip_fragment");
    CU_ASSERT_STRING_EQUAL(pkt_drop_reason_name(PKT_DROP_COUNT), "unknown");
    CU_ASSERT_STRING_EQUAL(pkt_verdict_name(PKT_ICMP_ECHO), "icmp_echo");
    CU_ASSERT_EQUAL(pkt_udp_payload_max(1500), 1472);
    CU_ASSERT_EQUAL(pkt_udp_payload_max(28), 0);
}

static CU_TestInfo tests_csum[] = {
    {"known vectors (RFC 1071, IPv4, UDP)", test_csum_known_vectors},
    {"incremental update matches recompute", test_csum_incremental},
    {"word-at-a-time sum matches RFC 1071 reference", test_csum_matches_reference},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo tests_udp[] = {
    {"known request parses, known reply built", test_udp_known_frame},
    {"reply: VLAN kept, checksum offloads", test_udp_reply_offload_and_vlan},
    {"reply: zero UDP sum sent as ffff", test_udp_reply_zero_checksum},
    {"every malformed class, exact reason", test_udp_malformed},
    {"Ethernet padding ignored", test_udp_padding},
    {"every truncation dropped", test_truncation_sweep},
    {"mutation fuzz", test_mutation_fuzz},
    {"VLAN policy and stacked tags", test_vlan_policy},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo tests_other[] = {
    {"ARP request and reply", test_arp},
    {"ICMP echo request and reply", test_icmp_echo},
    {"counters and names", test_counters_and_names},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"checksums", NULL, NULL, NULL, NULL, tests_csum},
    {"udp", NULL, NULL, NULL, NULL, tests_udp},
    {"arp icmp counters", NULL, NULL, NULL, NULL, tests_other},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
