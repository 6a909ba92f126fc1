/*
 * transport.h - the kernel-socket transports of hotpath-pktgen.  Each runs
 * every phase of the engine (engine.h) over its flows and returns 0, or
 * -1 with a message in e->fatal when it could not run at all (connect
 * failed, every connection dropped, ...).  Per-request trouble (a lost
 * request, a bad reply) is counted in the engine, not returned.
 */
#ifndef HP_PKTGEN_TRANSPORT_H
#define HP_PKTGEN_TRANSPORT_H

#include "engine.h"

/* RESP over TCP: one connection per flow, `window` requests pipelined on each. */
int pg_tcp_run(struct pg_engine *e);
/* docs/PROTOCOL.md over kernel UDP (wire/hpclient): one session per flow. */
int pg_udp_run(struct pg_engine *e);

#endif
