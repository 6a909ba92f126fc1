/*
 * hpclient.h - a client for hotpathd's UDP protocol (docs/PROTOCOL.md) over
 * a kernel UDP socket.  Used by tests and pktgen; small enough to copy the
 * approach into other languages.
 *
 * Model
 * -----
 * Commands are staged with hpc_append() (RESP multibulk) and sent as one
 * request datagram by hpc_send(), which returns a tag.  Up to
 * max_outstanding requests may be in flight.  hpc_recv() returns finished
 * requests, one per call, in completion order; while waiting it receives
 * replies, matches them to requests by request id, reassembles fragmented
 * replies, answers the cookie handshake, and retransmits on timeout with
 * the SAME request id (so the server executes each request at most once).
 *
 * A finished request's result says what happened:
 *   HPC_OK        replies[0..nreplies) are the server's RESP replies, one
 *                 per staged command, in order (a command's own failure is
 *                 an HPC_REPLY_ERROR reply, as over TCP)
 *   HPC_E_TIMEOUT no reply after max_attempts transmissions: the request
 *                 may or may not have been executed
 *   HPC_E_SERVER  the server answered status `server_status` (not executed,
 *                 except DUP_GONE: executed, reply no longer available)
 *   HPC_E_PROTO   the reply was not `nreplies` valid RESP values
 *   HPC_E_TOO_BIG the reply is larger than max_reply_bytes
 *
 * Everything is bounded: outstanding requests, datagram sizes, reply sizes,
 * reassembly memory, retransmissions, and the total time a request id may
 * be retransmitted (HPPROTO_RETRY_HORIZON_MS, checked by hpc_open).
 * Not thread-safe: one client per thread.
 */
#ifndef HP_HPCLIENT_H
#define HP_HPCLIENT_H

#include "hp_common.h"
#include "hpproto.h"

#define HPC_MAX_OUTSTANDING 512      /* < HPPROTO_ID_WINDOW, see hpc_send */
#define HPC_MAX_REPLY_DEPTH 32       /* nesting of aggregate replies */
#define HPC_MAX_COOKIE_RESENDS 3     /* COOKIE answers tolerated per request */
#define HPC_MAX_MIGRATIONS 2         /* SESSION_LOST answers tolerated per request */

enum hpc_err {
    HPC_OK = 0,
    HPC_E_AGAIN,        /* hpc_recv: nothing finished before the timeout */
    HPC_E_EMPTY,        /* hpc_recv: nothing outstanding; hpc_send: nothing staged */
    HPC_E_TIMEOUT,      /* result: no reply after every attempt; outcome unknown */
    HPC_E_SERVER,       /* result: non-OK status from the server */
    HPC_E_PROTO,        /* result: reply is not valid RESP for the commands sent */
    HPC_E_TOO_BIG,      /* command cannot fit a datagram / reply above max_reply_bytes */
    HPC_E_FULL,         /* hpc_append: staged datagram has no room; hpc_send first */
    HPC_E_WINDOW,       /* hpc_send: max_outstanding reached; hpc_recv first */
    HPC_E_BUSY,         /* hpc_command: other requests staged or outstanding */
    HPC_E_ARG,          /* invalid argument or configuration */
    HPC_E_SYS,          /* system call failed (errno in hpc_last_errno) */
    HPC_E_NOMEM,
    HPC_E_COUNT
};

struct hpc_config {
    const char *host;            /* IPv4 address or name */
    uint16_t port;
    uint32_t timeout_ms;         /* first retransmission timeout (default 100) */
    uint32_t max_timeout_ms;     /* backoff doubles up to this (default 1000) */
    uint32_t max_attempts;       /* transmissions per request (default 6) */
    uint32_t max_outstanding;    /* requests in flight (default 64, <= HPC_MAX_OUTSTANDING) */
    uint32_t max_datagram;       /* request datagram bytes incl. header (default 1472) */
    uint32_t max_reply_dgram;    /* sent as max_dgram: reply datagram size we accept (default 1472, 0 = server's) */
    uint32_t max_reply_bytes;    /* one whole reply (default 4 MiB, <= HPPROTO_MAX_REPLY_LEN) */
    size_t reasm_max_bytes;      /* all replies being reassembled (default 16 MiB) */
    int rcvbuf_bytes;            /* socket receive buffer wanted (default 4 MiB) */
};

enum hpc_reply_type {
    HPC_REPLY_STRING = 1,        /* +simple */
    HPC_REPLY_ERROR,             /* -error (and RESP3 !blob error) */
    HPC_REPLY_INTEGER,           /* : */
    HPC_REPLY_BULK,              /* $ */
    HPC_REPLY_NIL,               /* $-1, *-1, RESP3 _ */
    HPC_REPLY_ARRAY,             /* * (and RESP3 > push) */
    HPC_REPLY_MAP,               /* RESP3 %: elements are key, value, key, value... */
    HPC_REPLY_SET,               /* RESP3 ~ */
    HPC_REPLY_DOUBLE,            /* RESP3 , (text in str) */
    HPC_REPLY_BOOL,              /* RESP3 # (integer 0/1) */
    HPC_REPLY_BIGNUM,            /* RESP3 ( (text in str) */
    HPC_REPLY_VERBATIM,          /* RESP3 = (str includes the "txt:" prefix) */
};

/* One reply value.  str points into the result's raw bytes (not NUL
 * terminated); elem into the result's node pool. */
struct hpc_reply {
    enum hpc_reply_type type;
    int64_t integer;
    const char *str;
    size_t len;
    size_t nelem;                /* aggregates: elements (a map's 2 per pair) */
    struct hpc_reply *elem;
};

struct hpc_result {
    uint64_t tag;
    enum hpc_err status;
    uint16_t server_status;      /* HPPROTO_ST_* when status is HPC_E_SERVER */
    uint32_t attempts;           /* request datagrams sent, handshake included */
    size_t nreplies;
    struct hpc_reply *replies;
    uint8_t *raw;                /* the reply's RESP bytes */
    size_t raw_len;
};

struct hpc_stats {
    uint64_t tx_datagrams, tx_errors, retransmits;
    uint64_t rx_datagrams, rx_invalid, rx_ignored;   /* undecodable; stale or unknown id */
    uint64_t cookie_handshakes, sessions, busy, timeouts;
    uint64_t reasm_dropped;      /* fragments the reassembler refused */
};

struct hpc_client;

void hpc_config_defaults(struct hpc_config *cfg);
/* Returns NULL on failure with a message in err (if errcap > 0). */
struct hpc_client *hpc_open(const struct hpc_config *cfg, char *err, size_t errcap);
void hpc_close(struct hpc_client *c);

/* Stages one command (argvlen NULL: NUL-terminated strings). */
enum hpc_err hpc_append(struct hpc_client *c, int argc, const char *const *argv,
                        const size_t *argvlen);
/* Sends the staged commands as one request; *tag identifies its result. */
enum hpc_err hpc_send(struct hpc_client *c, uint64_t *tag);
/* Waits up to timeout_ms (< 0: until something finishes) for one finished
 * request.  HPC_OK: *res filled (free with hpc_result_free). */
enum hpc_err hpc_recv(struct hpc_client *c, int timeout_ms, struct hpc_result *res);
void hpc_result_free(struct hpc_result *res);
/* One command, synchronously: append + send + wait.  Returns res->status. */
enum hpc_err hpc_command(struct hpc_client *c, int argc, const char *const *argv,
                         const size_t *argvlen, struct hpc_result *res);

uint32_t hpc_outstanding(const struct hpc_client *c);   /* sent, not yet returned */
const struct hpc_stats *hpc_get_stats(const struct hpc_client *c);
uint64_t hpc_session_id(const struct hpc_client *c);
int hpc_last_errno(const struct hpc_client *c);
const char *hpc_strerror(enum hpc_err e);

/* RESP reply parser (RESP2 and RESP3): exactly `count` values must cover
 * buf[0..len).  On HPC_OK, *out is an array whose first `count` entries are
 * the values; free it with free().  Nesting deeper than
 * HPC_MAX_REPLY_DEPTH, lengths that lie, missing CRLFs, bad integers and
 * trailing bytes are HPC_E_PROTO. */
enum hpc_err hpc_parse_replies(const uint8_t *buf, size_t len, size_t count,
                               struct hpc_reply **out);

#endif
