/*
 * pkt.c - frame parsing and reply building; see pkt.h for the contract.
 *
 * Each parse step receives only the bytes it may trust so far (`avail`) and
 * checks a header's own length claims against them before reading on.
 */
#include "pkt.h"

#include <string.h>

static const uint8_t pkt_broadcast_mac[PKT_ETH_ADDR_LEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- checksums ------------------------------------------------------------- */

/* End-around carry down to 16 bits, without a data-dependent loop: each
 * step halves the width and leaves at most one carry for the next. */
static inline uint32_t csum_fold(uint64_t s)
{
    s = (s & 0xffffffffu) + (s >> 32);   /* < 2^33 */
    s = (s & 0xffffffffu) + (s >> 32);   /* <= 2^32 */
    s = (s & 0xffff) + (s >> 16);        /* <= 0x1fffe */
    s = (s & 0xffff) + (s >> 16);        /* <= 0xffff */
    return (uint32_t)s;
}

/* The one's complement sum does not depend on byte order (RFC 1071
 * section 2.B): summing native-order words and swapping the folded result
 * gives the big-endian sum.  And 2^64 = 1 modulo 0xffff, so 8-byte native
 * words added with end-around carry fold to the same 16-bit sum: the bulk
 * costs about one add-with-carry per 8 bytes instead of four per 8. */
static inline uint64_t csum_add64(uint64_t acc, uint64_t v)
{
    acc += v;
    return acc + (acc < v);   /* end-around carry */
}

static inline uint64_t csum_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t csum_native(const uint8_t *p, size_t len)
{
    uint64_t acc = 0;
    for (; len >= 32; p += 32, len -= 32) {
        acc = csum_add64(acc, csum_load64(p));
        acc = csum_add64(acc, csum_load64(p + 8));
        acc = csum_add64(acc, csum_load64(p + 16));
        acc = csum_add64(acc, csum_load64(p + 24));
    }
    for (; len >= 8; p += 8, len -= 8)
        acc = csum_add64(acc, csum_load64(p));
    if (len >= 4) {
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        acc = csum_add64(acc, v);
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t v;
        memcpy(&v, p, sizeof(v));
        acc = csum_add64(acc, v);
    }
    return acc;
}

uint32_t pkt_csum_add(uint32_t sum, const void *buf, size_t len)
{
    HP_ASSERT(buf != NULL || len == 0);
    const uint8_t *p = buf;
    uint32_t folded = csum_fold(csum_native(p, len));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    folded = __builtin_bswap16((uint16_t)folded);
#endif
    uint64_t s = (uint64_t)sum + folded;
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;   /* odd trailing byte: padded with zero */
    return csum_fold(s);
}

uint16_t pkt_csum_finish(uint32_t sum)
{
    return (uint16_t)~csum_fold(sum);
}

uint16_t pkt_csum(const void *buf, size_t len)
{
    return pkt_csum_finish(pkt_csum_add(0, buf, len));
}

uint32_t pkt_ipv4_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len)
{
    uint64_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff);
    s += proto;
    s += l4_len;
    return csum_fold(s);
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'); correct also where the naive
 * update would produce the wrong one of the two zeros. */
uint16_t pkt_csum_update16(uint16_t csum, uint16_t from, uint16_t to)
{
    uint64_t s = (uint16_t)~csum;
    s += (uint16_t)~from;
    s += to;
    return (uint16_t)~csum_fold(s);
}

uint16_t pkt_csum_update32(uint16_t csum, uint32_t from, uint32_t to)
{
    csum = pkt_csum_update16(csum, (uint16_t)(from >> 16), (uint16_t)(to >> 16));
    return pkt_csum_update16(csum, (uint16_t)from, (uint16_t)to);
}

/* ---- parse ----------------------------------------------------------------- */

static enum pkt_verdict drop(struct pkt_info *out, enum pkt_drop_reason r)
{
    HP_ASSERT(r != PKT_DROP_NONE && r < PKT_DROP_COUNT);
    out->drop = r;
    return PKT_DROP;
}

/* A source we must never answer: 0/8, 127/8, 224/4 multicast, 240/4
 * (class E and the limited broadcast), or our own address. */
static bool ipv4_source_is_martian(const struct pkt_config *cfg, uint32_t src)
{
    uint8_t first = (uint8_t)(src >> 24);
    return first == 0 || first == 127 || first >= 224 || src == cfg->ip;
}

static enum pkt_verdict parse_arp(const struct pkt_config *cfg, const uint8_t *arp,
                                  size_t avail, struct pkt_info *out)
{
    if (avail < PKT_ARP_LEN)
        return drop(out, PKT_DROP_ARP_TRUNCATED);
    if (rd16(arp) != 1 || rd16(arp + 2) != PKT_ETHERTYPE_IPV4 ||
        arp[4] != PKT_ETH_ADDR_LEN || arp[5] != 4)
        return drop(out, PKT_DROP_ARP_MALFORMED);
    if (rd16(arp + 6) != PKT_ARP_OP_REQUEST)
        return drop(out, PKT_DROP_ARP_NOT_REQUEST);
    out->src_ip = rd32(arp + 14);
    out->dst_ip = rd32(arp + 24);
    if (out->dst_ip != cfg->ip)
        return drop(out, PKT_DROP_ARP_NOT_FOR_US);
    out->frame_len = (uint16_t)(out->l2_len + PKT_ARP_LEN);
    return PKT_ARP_REQUEST;
}

static enum pkt_verdict parse_udp(const struct pkt_config *cfg, const uint8_t *udp,
                                  size_t avail, unsigned rx_flags, struct pkt_info *out)
{
    if (avail < PKT_UDP_HDR_LEN)
        return drop(out, PKT_DROP_UDP_TRUNCATED);
    uint16_t ulen = rd16(udp + 4);
    /* The UDP length must agree exactly with the IPv4 payload length: a
     * disagreement in either direction means one of the two headers lies. */
    if (ulen < PKT_UDP_HDR_LEN || ulen != avail)
        return drop(out, PKT_DROP_UDP_BAD_LEN);
    out->src_port = rd16(udp);
    out->dst_port = rd16(udp + 2);
    /* Port checks before the checksum: traffic for other ports is not
     * worth summing; a corrupted port only changes which counter counts. */
    if (out->dst_port < cfg->port_lo || out->dst_port > cfg->port_hi)
        return drop(out, PKT_DROP_UDP_NOT_FOR_US);
    if (out->src_port == 0)
        return drop(out, PKT_DROP_UDP_BAD_SRC_PORT);
    uint16_t csum = rd16(udp + 6);
    if (rx_flags & PKT_RX_L4_CSUM_BAD)
        return drop(out, PKT_DROP_UDP_BAD_CHECKSUM);
    /* Checksum 0 means "none" in IPv4 UDP (RFC 768). */
    if (!(rx_flags & PKT_RX_L4_CSUM_GOOD) && csum != 0) {
        uint32_t sum = pkt_ipv4_pseudo_sum(out->src_ip, out->dst_ip, PKT_IPPROTO_UDP, ulen);
        if (pkt_csum_finish(pkt_csum_add(sum, udp, ulen)) != 0)
            return drop(out, PKT_DROP_UDP_BAD_CHECKSUM);
    }
    out->l4_len = ulen;
    out->payload_off = (uint16_t)(out->l4_off + PKT_UDP_HDR_LEN);
    out->payload_len = (uint16_t)(ulen - PKT_UDP_HDR_LEN);
    return PKT_UDP_REQUEST;
}

static enum pkt_verdict parse_icmp(const uint8_t *icmp, size_t avail, struct pkt_info *out)
{
    if (avail < PKT_ICMP_HDR_LEN)
        return drop(out, PKT_DROP_ICMP_TRUNCATED);
    if (icmp[0] != PKT_ICMP_ECHO_REQUEST || icmp[1] != 0)
        return drop(out, PKT_DROP_ICMP_NOT_ECHO);
    /* NICs' L4 offload flags cover TCP/UDP only: ICMP is always summed. */
    if (pkt_csum(icmp, avail) != 0)
        return drop(out, PKT_DROP_ICMP_BAD_CHECKSUM);
    out->l4_len = (uint16_t)avail;
    return PKT_ICMP_ECHO;
}

static enum pkt_verdict parse_ipv4(const struct pkt_config *cfg, const uint8_t *ip,
                                   size_t avail, unsigned rx_flags, struct pkt_info *out)
{
    if (avail < PKT_IPV4_HDR_LEN)
        return drop(out, PKT_DROP_IP_TRUNCATED);
    if ((ip[0] >> 4) != 4)
        return drop(out, PKT_DROP_IP_BAD_VERSION);
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    if (ihl < PKT_IPV4_HDR_LEN || ihl > avail)
        return drop(out, PKT_DROP_IP_BAD_IHL);
    size_t total = rd16(ip + 2);
    if (total < ihl || total > avail)
        return drop(out, PKT_DROP_IP_BAD_TOTAL_LEN);
    if (rx_flags & PKT_RX_IP_CSUM_BAD)
        return drop(out, PKT_DROP_IP_BAD_CHECKSUM);
    if (!(rx_flags & PKT_RX_IP_CSUM_GOOD) && pkt_csum(ip, ihl) != 0)
        return drop(out, PKT_DROP_IP_BAD_CHECKSUM);
    if (ihl != PKT_IPV4_HDR_LEN)
        return drop(out, PKT_DROP_IP_OPTIONS);
    uint16_t frag = rd16(ip + 6);
    if ((frag & 0x2000) || (frag & 0x1fff))
        return drop(out, PKT_DROP_IP_FRAGMENT);
    out->src_ip = rd32(ip + 12);
    out->dst_ip = rd32(ip + 16);
    if (out->dst_ip != cfg->ip)
        return drop(out, PKT_DROP_IP_NOT_FOR_US);
    if (ipv4_source_is_martian(cfg, out->src_ip))
        return drop(out, PKT_DROP_IP_BAD_SOURCE);
    out->frame_len = (uint16_t)(out->l2_len + total);
    out->l4_off = (uint16_t)(out->l2_len + PKT_IPV4_HDR_LEN);
    size_t l4_avail = total - PKT_IPV4_HDR_LEN;
    const uint8_t *l4 = ip + PKT_IPV4_HDR_LEN;
    switch (ip[9]) {
    case PKT_IPPROTO_UDP:
        return parse_udp(cfg, l4, l4_avail, rx_flags, out);
    case PKT_IPPROTO_ICMP:
        return parse_icmp(l4, l4_avail, out);
    default:
        return drop(out, PKT_DROP_IP_BAD_PROTO);
    }
}

static bool vlan_accepted(const struct pkt_config *cfg, const struct pkt_info *info)
{
    if (cfg->vlan_id == PKT_VLAN_ANY)
        return true;
    if (cfg->vlan_id == PKT_VLAN_UNTAGGED)
        return !info->vlan_present;
    return info->vlan_present && (int32_t)(info->vlan_tci & 0x0fff) == cfg->vlan_id;
}

enum pkt_verdict pkt_parse(const struct pkt_config *cfg, const uint8_t *frame, size_t len,
                           unsigned rx_flags, struct pkt_info *out)
{
    HP_ASSERT(cfg != NULL && out != NULL);
    HP_ASSERT(frame != NULL || len == 0);
    HP_ASSERT(cfg->vlan_id >= PKT_VLAN_UNTAGGED && cfg->vlan_id <= 4095);
    memset(out, 0, sizeof(*out));
    if (len < PKT_ETH_HDR_LEN)
        return drop(out, PKT_DROP_RUNT);
    if (memcmp(frame, cfg->mac, PKT_ETH_ADDR_LEN) != 0 &&
        memcmp(frame, pkt_broadcast_mac, PKT_ETH_ADDR_LEN) != 0)
        return drop(out, PKT_DROP_L2_NOT_FOR_US);
    memcpy(out->src_mac, frame + PKT_ETH_ADDR_LEN, PKT_ETH_ADDR_LEN);
    uint16_t ethertype = rd16(frame + 12);
    out->l2_len = PKT_ETH_HDR_LEN;
    if (ethertype == PKT_ETHERTYPE_QINQ)
        return drop(out, PKT_DROP_VLAN_STACKED);
    if (ethertype == PKT_ETHERTYPE_VLAN) {
        if (len < PKT_ETH_HDR_LEN + PKT_VLAN_HDR_LEN)
            return drop(out, PKT_DROP_RUNT);
        out->vlan_present = true;
        out->vlan_tci = rd16(frame + 14);
        ethertype = rd16(frame + 16);
        out->l2_len = PKT_ETH_HDR_LEN + PKT_VLAN_HDR_LEN;
        if (ethertype == PKT_ETHERTYPE_VLAN || ethertype == PKT_ETHERTYPE_QINQ)
            return drop(out, PKT_DROP_VLAN_STACKED);
    }
    if (!vlan_accepted(cfg, out))
        return drop(out, PKT_DROP_VLAN_MISMATCH);
    const uint8_t *l3 = frame + out->l2_len;
    size_t avail = len - out->l2_len;
    if (ethertype == PKT_ETHERTYPE_IPV4)
        return parse_ipv4(cfg, l3, avail, rx_flags, out);
    if (ethertype == PKT_ETHERTYPE_ARP)
        return parse_arp(cfg, l3, avail, out);
    return drop(out, PKT_DROP_BAD_ETHERTYPE);
}

void pkt_count(struct pkt_counters *c, enum pkt_verdict v, const struct pkt_info *info)
{
    HP_ASSERT(v < PKT_VERDICT_COUNT);
    HP_ASSERT((v == PKT_DROP) == (info->drop != PKT_DROP_NONE));
    c->verdict[v]++;
    if (v == PKT_DROP)
        c->drop[info->drop]++;
}

const char *pkt_drop_reason_name(enum pkt_drop_reason r)
{
#define PKT_DROP_NAME_(name, label) label,
    static const char *const names[] = {PKT_DROP_REASONS(PKT_DROP_NAME_)};
#undef PKT_DROP_NAME_
    _Static_assert(HP_ARRAY_LEN(names) == PKT_DROP_COUNT, "drop reason names");
    return (unsigned)r < PKT_DROP_COUNT ? names[r] : "unknown";
}

const char *pkt_verdict_name(enum pkt_verdict v)
{
    static const char *const names[] = {"drop", "udp_request", "arp_request", "icmp_echo"};
    _Static_assert(HP_ARRAY_LEN(names) == PKT_VERDICT_COUNT, "verdict names");
    return (unsigned)v < PKT_VERDICT_COUNT ? names[v] : "unknown";
}

/* ---- build ----------------------------------------------------------------- */

static void write_eth(uint8_t *frame, const struct pkt_config *cfg, const uint8_t *dst_mac)
{
    /* memmove: dst_mac may point into the frame being rewritten. */
    memmove(frame, dst_mac, PKT_ETH_ADDR_LEN);
    memcpy(frame + PKT_ETH_ADDR_LEN, cfg->mac, PKT_ETH_ADDR_LEN);
}

size_t pkt_build_arp_reply(const struct pkt_config *cfg, uint8_t *frame, size_t cap,
                           const struct pkt_info *req)
{
    HP_ASSERT(cfg != NULL && frame != NULL && req != NULL);
    HP_ASSERT(req->drop == PKT_DROP_NONE && req->l2_len >= PKT_ETH_HDR_LEN);
    size_t n = (size_t)req->l2_len + PKT_ARP_LEN;
    HP_ASSERT(req->frame_len == n && cap >= n);
    write_eth(frame, cfg, req->src_mac);
    uint8_t *arp = frame + req->l2_len;
    wr16(arp + 6, PKT_ARP_OP_REPLY);
    memmove(arp + 18, arp + 8, PKT_ETH_ADDR_LEN + 4);   /* target := sender */
    memcpy(arp + 8, cfg->mac, PKT_ETH_ADDR_LEN);        /* sender := us */
    wr32(arp + 14, cfg->ip);
    if (n < PKT_ETH_MIN_FRAME && cap >= PKT_ETH_MIN_FRAME) {
        memset(frame + n, 0, PKT_ETH_MIN_FRAME - n);
        n = PKT_ETH_MIN_FRAME;
    }
    return n;
}

size_t pkt_build_icmp_echo_reply(const struct pkt_config *cfg, uint8_t *frame,
                                 const struct pkt_info *req)
{
    HP_ASSERT(cfg != NULL && frame != NULL && req != NULL);
    HP_ASSERT(req->drop == PKT_DROP_NONE && req->l4_len >= PKT_ICMP_HDR_LEN);
    HP_ASSERT(req->l4_off == req->l2_len + PKT_IPV4_HDR_LEN);
    write_eth(frame, cfg, req->src_mac);
    uint8_t *ip = frame + req->l2_len;
    /* Swapping source and destination leaves the header sum unchanged. */
    wr32(ip + 12, req->dst_ip);
    wr32(ip + 16, req->src_ip);
    uint16_t old_word = rd16(ip + 8);
    uint16_t new_word = (uint16_t)(PKT_REPLY_TTL << 8 | ip[9]);
    wr16(ip + 8, new_word);
    wr16(ip + 10, pkt_csum_update16(rd16(ip + 10), old_word, new_word));
    uint8_t *icmp = frame + req->l4_off;
    old_word = rd16(icmp);
    icmp[0] = PKT_ICMP_ECHO_REPLY;
    wr16(icmp + 2, pkt_csum_update16(rd16(icmp + 2), old_word, rd16(icmp)));
    return req->frame_len;
}

size_t pkt_udp_reply_hdr_len(const struct pkt_info *req)
{
    return (req->vlan_present ? PKT_ETH_HDR_LEN + PKT_VLAN_HDR_LEN : PKT_ETH_HDR_LEN) +
           PKT_IPV4_HDR_LEN + PKT_UDP_HDR_LEN;
}

size_t pkt_build_udp_reply(const struct pkt_config *cfg, const struct pkt_info *req,
                           uint8_t *buf, size_t cap, size_t payload_len, unsigned tx_flags)
{
    HP_ASSERT(cfg != NULL && req != NULL && buf != NULL);
    HP_ASSERT(payload_len <= PKT_IPV4_MAX_LEN - PKT_IPV4_HDR_LEN - PKT_UDP_HDR_LEN);
    size_t hdr = pkt_udp_reply_hdr_len(req);
    HP_ASSERT(cap >= hdr + payload_len);
    /* Copy what we need first: `req` may describe this very buffer. */
    uint8_t dst_mac[PKT_ETH_ADDR_LEN];
    memcpy(dst_mac, req->src_mac, sizeof(dst_mac));
    write_eth(buf, cfg, dst_mac);
    size_t l2 = PKT_ETH_HDR_LEN;
    if (req->vlan_present) {
        wr16(buf + 12, PKT_ETHERTYPE_VLAN);
        wr16(buf + 14, req->vlan_tci);
        l2 += PKT_VLAN_HDR_LEN;
    }
    wr16(buf + l2 - 2, PKT_ETHERTYPE_IPV4);

    uint8_t *ip = buf + l2;
    uint16_t ip_total = (uint16_t)(PKT_IPV4_HDR_LEN + PKT_UDP_HDR_LEN + payload_len);
    ip[0] = 0x45;
    ip[1] = 0;
    wr16(ip + 2, ip_total);
    wr16(ip + 4, 0);          /* id: DF set, never fragmented (RFC 6864) */
    wr16(ip + 6, 0x4000);
    ip[8] = PKT_REPLY_TTL;
    ip[9] = PKT_IPPROTO_UDP;
    wr16(ip + 10, 0);
    wr32(ip + 12, req->dst_ip);
    wr32(ip + 16, req->src_ip);
    if (!(tx_flags & PKT_TX_IP_CSUM))
        wr16(ip + 10, pkt_csum(ip, PKT_IPV4_HDR_LEN));

    uint8_t *udp = ip + PKT_IPV4_HDR_LEN;
    uint16_t ulen = (uint16_t)(PKT_UDP_HDR_LEN + payload_len);
    wr16(udp, req->dst_port);
    wr16(udp + 2, req->src_port);
    wr16(udp + 4, ulen);
    wr16(udp + 6, 0);
    uint32_t pseudo = pkt_ipv4_pseudo_sum(req->dst_ip, req->src_ip, PKT_IPPROTO_UDP, ulen);
    if (tx_flags & PKT_TX_UDP_CSUM) {
        wr16(udp + 6, (uint16_t)pseudo);
    } else {
        uint16_t c = pkt_csum_finish(pkt_csum_add(pseudo, udp, ulen));
        wr16(udp + 6, c == 0 ? 0xffff : c);   /* 0 would mean "no checksum" */
    }
    return hdr + payload_len;
}
