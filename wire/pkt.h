/*
 * pkt.h - Ethernet (optionally 802.1Q tagged), IPv4, UDP, ARP and ICMP echo
 * over plain byte buffers.
 *
 * This module knows nothing about DPDK: it works on (const uint8_t *, len),
 * so every malformed-packet class is unit-testable.  The DPDK dataplane calls
 * it on the first segment of an mbuf (which holds all headers) and translates
 * the mbuf's offload flags into PKT_RX_* / PKT_TX_* bits.
 *
 * Byte order: every multi-byte field is read and written bytewise as big
 * endian, so the code is the same on any host.  Addresses and ports in the
 * API (struct pkt_config, struct pkt_info) are HOST byte order values.
 *
 * Trust: pkt_parse() checks every length in every header against the bytes
 * actually present before using it, and checks checksums (unless the NIC
 * already did), before a frame is classified as anything but DROP.
 * A frame may carry trailing bytes beyond the IPv4 total length (Ethernet
 * padding up to 60 bytes); they are ignored, never treated as payload.
 *
 * Policy decisions (why):
 *  - IPv4 options are dropped: no client of ours needs them, source-route
 *    options are an attack tool, and fixed 20-byte headers keep reply
 *    building trivial.
 *  - Fragments are dropped: reassembly would be per-core state an attacker
 *    can fill; the protocol (docs/PROTOCOL.md) never needs IP fragmentation.
 *  - Frames whose source cannot be answered (IPv4 source 0, broadcast,
 *    multicast, loopback, class E, our own address; UDP source port 0) are
 *    dropped, so we never emit a reply towards a martian address.
 *  - Stacked VLAN tags (QinQ) are dropped; one 802.1Q tag is kept on replies.
 */
#ifndef HP_PKT_H
#define HP_PKT_H

#include "hp_common.h"

#define PKT_ETH_ADDR_LEN 6
#define PKT_ETH_HDR_LEN 14
#define PKT_VLAN_HDR_LEN 4
#define PKT_IPV4_HDR_LEN 20          /* without options: the only size we accept */
#define PKT_UDP_HDR_LEN 8
#define PKT_ICMP_HDR_LEN 8
#define PKT_ARP_LEN 28               /* Ethernet/IPv4 ARP body */
#define PKT_ETH_MIN_FRAME 60         /* without FCS */
#define PKT_IPV4_MAX_LEN 65535

#define PKT_ETHERTYPE_IPV4 0x0800
#define PKT_ETHERTYPE_ARP 0x0806
#define PKT_ETHERTYPE_VLAN 0x8100
#define PKT_ETHERTYPE_QINQ 0x88A8
#define PKT_IPPROTO_ICMP 1
#define PKT_IPPROTO_UDP 17
#define PKT_ICMP_ECHO_REQUEST 8
#define PKT_ICMP_ECHO_REPLY 0
#define PKT_ARP_OP_REQUEST 1
#define PKT_ARP_OP_REPLY 2
#define PKT_REPLY_TTL 64

/* pkt_config.vlan_id: any value 0..4095 means "only frames tagged with it". */
#define PKT_VLAN_ANY (-1)            /* untagged and any single tag */
#define PKT_VLAN_UNTAGGED (-2)       /* untagged only */

/* Bytes of Ethernet + (VLAN) + IPv4 + UDP in front of a reply payload. */
#define PKT_UDP_HDRS_MAX (PKT_ETH_HDR_LEN + PKT_VLAN_HDR_LEN + PKT_IPV4_HDR_LEN + PKT_UDP_HDR_LEN)

enum pkt_verdict {
    PKT_DROP = 0,
    PKT_UDP_REQUEST,      /* UDP to our address, destination port in range */
    PKT_ARP_REQUEST,      /* ARP who-has our address */
    PKT_ICMP_ECHO,        /* ICMP echo request to our address */
    PKT_VERDICT_COUNT
};

/* Every reason a frame is dropped; X(name, counter label). */
#define PKT_DROP_REASONS(X)                                                    \
    X(NONE, "none")                       /* not dropped */                    \
    X(RUNT, "runt")                       /* shorter than its L2 header(s) */  \
    X(L2_NOT_FOR_US, "l2_not_for_us")     /* dst MAC not ours, not bcast */    \
    X(VLAN_STACKED, "vlan_stacked")       /* QinQ / more than one tag */       \
    X(VLAN_MISMATCH, "vlan_mismatch")     /* tag (or its absence) not ours */  \
    X(BAD_ETHERTYPE, "bad_ethertype")     /* not IPv4, ARP or one VLAN tag */  \
    X(ARP_TRUNCATED, "arp_truncated")                                          \
    X(ARP_MALFORMED, "arp_malformed")     /* htype/ptype/hlen/plen */          \
    X(ARP_NOT_REQUEST, "arp_not_request") /* replies, RARP, ... */             \
    X(ARP_NOT_FOR_US, "arp_not_for_us")   /* target IP not ours */             \
    X(IP_TRUNCATED, "ip_truncated")       /* < 20 bytes after L2 */            \
    X(IP_BAD_VERSION, "ip_bad_version")                                        \
    X(IP_BAD_IHL, "ip_bad_ihl")           /* ihl < 5 or beyond the buffer */   \
    X(IP_BAD_TOTAL_LEN, "ip_bad_total_len") /* < ihl*4 or beyond buffer */     \
    X(IP_BAD_CHECKSUM, "ip_bad_checksum")                                      \
    X(IP_OPTIONS, "ip_options")                                                \
    X(IP_FRAGMENT, "ip_fragment")         /* MF set or offset != 0 */          \
    X(IP_NOT_FOR_US, "ip_not_for_us")                                          \
    X(IP_BAD_SOURCE, "ip_bad_source")     /* martian source address */         \
    X(IP_BAD_PROTO, "ip_bad_proto")       /* neither UDP nor ICMP */           \
    X(UDP_TRUNCATED, "udp_truncated")     /* IP payload < 8 bytes */           \
    X(UDP_BAD_LEN, "udp_bad_len")         /* < 8 or != IP payload length */    \
    X(UDP_BAD_CHECKSUM, "udp_bad_checksum")                                    \
    X(UDP_NOT_FOR_US, "udp_not_for_us")   /* dst port outside our range */     \
    X(UDP_BAD_SRC_PORT, "udp_bad_src_port") /* source port 0 */                \
    X(ICMP_TRUNCATED, "icmp_truncated")                                        \
    X(ICMP_BAD_CHECKSUM, "icmp_bad_checksum")                                  \
    X(ICMP_NOT_ECHO, "icmp_not_echo")     /* any type/code but echo request */

#define PKT_DROP_ENUM_(name, label) PKT_DROP_##name,
enum pkt_drop_reason { PKT_DROP_REASONS(PKT_DROP_ENUM_) PKT_DROP_COUNT };
#undef PKT_DROP_ENUM_

/* What "us" is.  Addresses and ports in host byte order. */
struct pkt_config {
    uint8_t mac[PKT_ETH_ADDR_LEN];
    uint32_t ip;
    uint16_t port_lo, port_hi;   /* inclusive UDP destination port range */
    int32_t vlan_id;             /* PKT_VLAN_ANY, PKT_VLAN_UNTAGGED or 0..4095 */
};

/* Receive offload results, translated from the NIC's flags by the caller.
 * Neither bit of a pair set: the NIC did not check; software does. */
#define PKT_RX_IP_CSUM_GOOD 0x1u
#define PKT_RX_IP_CSUM_BAD 0x2u
#define PKT_RX_L4_CSUM_GOOD 0x4u
#define PKT_RX_L4_CSUM_BAD 0x8u

/* Transmit offloads.  IP: the checksum field is written 0 for the NIC to
 * fill.  UDP: the field is written with the pseudo-header sum (not
 * complemented), which is what NICs with L4 checksum offload expect. */
#define PKT_TX_IP_CSUM 0x1u
#define PKT_TX_UDP_CSUM 0x2u

/* The result of pkt_parse().  Offsets are from the start of the frame. */
struct pkt_info {
    enum pkt_drop_reason drop;   /* PKT_DROP_NONE unless the verdict is DROP */
    bool vlan_present;
    uint16_t vlan_tci;           /* PCP/DEI/VID as on the wire */
    uint16_t l2_len;             /* 14, or 18 with a tag */
    uint16_t l4_off;             /* UDP/ICMP header (l2_len + 20) */
    uint16_t l4_len;             /* UDP length, or ICMP message length */
    uint16_t payload_off;        /* UDP payload */
    uint16_t payload_len;
    uint16_t frame_len;          /* meaningful bytes: L2 + IPv4 total length (or ARP body) */
    uint8_t src_mac[PKT_ETH_ADDR_LEN];
    uint32_t src_ip, dst_ip;     /* for ARP: sender and target protocol address */
    uint16_t src_port, dst_port;
};

/* Per-core counters: one per verdict, one per drop reason. */
struct pkt_counters {
    uint64_t verdict[PKT_VERDICT_COUNT];
    uint64_t drop[PKT_DROP_COUNT];
};

/* ---- Internet checksum (RFC 1071), with incremental update (RFC 1624) ---- */

/* Adds buf[0..len) as big-endian 16-bit words to a partial sum and returns
 * the partial sum folded to 16 bits.  An odd trailing byte is padded with
 * zero, so only the last chunk of a multi-call sum may have odd length. */
uint32_t pkt_csum_add(uint32_t sum, const void *buf, size_t len);
/* Folds and complements a partial sum: the value to store in the field. */
uint16_t pkt_csum_finish(uint32_t sum);
/* pkt_csum_finish(pkt_csum_add(0, buf, len)).  Over a region that includes
 * a correct checksum field the result is 0. */
uint16_t pkt_csum(const void *buf, size_t len);
/* Partial sum of the IPv4 pseudo header (addresses host order). */
uint32_t pkt_ipv4_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len);
/* Updates checksum `csum` for one 16-bit (32-bit) field changing from `from`
 * to `to`, without touching the rest of the data. */
uint16_t pkt_csum_update16(uint16_t csum, uint16_t from, uint16_t to);
uint16_t pkt_csum_update32(uint16_t csum, uint32_t from, uint32_t to);

/* ---- parse ----------------------------------------------------------------- */

enum pkt_verdict pkt_parse(const struct pkt_config *cfg, const uint8_t *frame, size_t len,
                           unsigned rx_flags, struct pkt_info *out);

/* Counts one parse result (verdict, and drop reason for drops). */
void pkt_count(struct pkt_counters *c, enum pkt_verdict v, const struct pkt_info *info);
const char *pkt_drop_reason_name(enum pkt_drop_reason r);
const char *pkt_verdict_name(enum pkt_verdict v);

/* ---- build ----------------------------------------------------------------- */

/* Turns a frame that pkt_parse() classified ARP_REQUEST into our ARP reply,
 * in place (VLAN tag kept).  `cap` is the writable size of `frame` (at least
 * the received length).  Returns the reply's length: padded with zeros to
 * PKT_ETH_MIN_FRAME when cap allows, else L2 + 28 (the NIC pads). */
size_t pkt_build_arp_reply(const struct pkt_config *cfg, uint8_t *frame, size_t cap,
                           const struct pkt_info *req);

/* Turns a frame that pkt_parse() classified ICMP_ECHO into the echo reply,
 * in place: MACs and IPs swapped, TTL reset, type 0, both checksums updated
 * incrementally (software, always: echo is not the fast path).  The payload
 * is echoed unchanged.  Returns the reply's length (info->frame_len). */
size_t pkt_build_icmp_echo_reply(const struct pkt_config *cfg, uint8_t *frame,
                                 const struct pkt_info *req);

/* Offset of the UDP payload in a reply to `req`: 42, or 46 with a tag. */
size_t pkt_udp_reply_hdr_len(const struct pkt_info *req);

/* Writes Ethernet (+tag), IPv4 and UDP headers of a reply to `req` at
 * buf[0 .. pkt_udp_reply_hdr_len(req)).  The caller must already have
 * written the payload at buf + pkt_udp_reply_hdr_len(req) (the UDP checksum
 * covers it).  The reply goes from our address and the port the request was
 * sent to, back to the request's source; IPv4 DF set, id 0 (RFC 6864), TTL
 * 64.  `buf` may be the request frame itself (in place) or a fresh buffer.
 * Returns the frame length (headers + payload). */
size_t pkt_build_udp_reply(const struct pkt_config *cfg, const struct pkt_info *req,
                           uint8_t *buf, size_t cap, size_t payload_len, unsigned tx_flags);

/* Largest UDP payload a reply frame may carry for an IP MTU (e.g. 1500). */
static inline size_t pkt_udp_payload_max(size_t ip_mtu)
{
    return ip_mtu > PKT_IPV4_HDR_LEN + PKT_UDP_HDR_LEN
               ? ip_mtu - PKT_IPV4_HDR_LEN - PKT_UDP_HDR_LEN : 0;
}

#endif
