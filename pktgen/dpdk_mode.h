/*
 * dpdk_mode.h - hotpath-pktgen over a DPDK ethdev (dpdk.c).  Kept apart
 * from transport.h so only dpdk.c and main.c see DPDK-specific options.
 */
#ifndef HP_PKTGEN_DPDK_MODE_H
#define HP_PKTGEN_DPDK_MODE_H

#include "engine.h"

#define PG_DPDK_MAX_RTO_MS 1000u     /* retransmission timeout stops doubling here */

struct pg_dpdk_opts {
    const char *eal;             /* EAL arguments, space separated */
    uint16_t port_id;            /* DPDK port */
    uint32_t src_ip, dst_ip;     /* host byte order */
    uint8_t dst_mac[6];          /* default broadcast: hotpathd accepts it */
    uint16_t src_port_base;      /* flow i uses src_port_base + i */
    bool reflector;              /* the peer returns our frames (testpmd macswap) */
    uint32_t retry_ms;           /* first retransmission timeout; 0 = never retransmit */
    double inject_loss;          /* percent of first transmissions and replies dropped */
    uint32_t total_flows;        /* set by pg_dpdk_run */
};

/* Runs every phase on the worker lcores (or the main lcore when the EAL
 * has only one) and merges their results into `merged` (initialised with
 * the options; with one lcore it is the engine that runs).  Returns 0, or
 * -1 with merged->fatal set. */
int pg_dpdk_run(struct pg_engine *merged, const struct pg_dpdk_opts *d);

#endif
