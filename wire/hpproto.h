/*
 * hpproto.h - the hotpath UDP datagram protocol: header codec and
 * validation, reply fragmentation and reassembly, source cookies, and the
 * per-session request-id window behind at-most-once execution.
 *
 * docs/PROTOCOL.md is the specification; this header is its C form.  Both
 * the server (dataplane) and clients (wire/hpclient, pktgen) use it, so
 * it has no DPDK and no socket code.
 *
 * Header (HPPROTO_HDR_LEN = 48 bytes, big endian, at the start of every
 * UDP payload):
 *
 *    0  2  magic        0x4850 ("HP")
 *    2  1  version      1
 *    3  1  flags        HPPROTO_F_*
 *    4  2  status       reply status (HPPROTO_ST_*); 0 in requests
 *    6  2  cmd_count    RESP commands in the request / replies in the reply
 *    8  8  session_id   client-chosen random nonce, never 0
 *   16  8  request_id   per session, starts at 1, +1 per new request
 *   24  8  cookie       server cookie (valid only with HPPROTO_F_COOKIE)
 *   32  4  total_len    request: payload bytes; reply: whole reply's bytes
 *   36  4  frag_offset  this fragment's offset in the whole reply
 *   40  2  frag_index   0 .. frag_count-1
 *   42  2  frag_count   >= 1 (1 in requests)
 *   44  2  max_dgram    request: largest reply datagram the client accepts
 *                       (UDP payload bytes, 0 = server default); reply: 0
 *   46  2  reserved     0
 */
#ifndef HP_HPPROTO_H
#define HP_HPPROTO_H

#include "../common/hp_common.h"

#define HPPROTO_MAGIC 0x4850u
#define HPPROTO_VERSION 1
#define HPPROTO_HDR_LEN 48

#define HPPROTO_F_REPLY 0x01u    /* set in replies, clear in requests */
#define HPPROTO_F_COOKIE 0x02u   /* the cookie field is meaningful */
#define HPPROTO_F_RETRY 0x04u    /* request: a retransmission (statistics only) */
#define HPPROTO_F_ALL (HPPROTO_F_REPLY | HPPROTO_F_COOKIE | HPPROTO_F_RETRY)

/* Limits (docs/PROTOCOL.md "Limits"). */
#define HPPROTO_MAX_CMDS 1024                  /* commands per request datagram */
#define HPPROTO_MAX_REPLY_LEN (32u << 20)      /* bytes of one whole reply */
#define HPPROTO_MIN_DGRAM 512                  /* smallest max_dgram honoured */
#define HPPROTO_MAX_DGRAM 65507                /* largest IPv4 UDP payload */
#define HPPROTO_DEFAULT_DGRAM 1472             /* 1500-byte MTU, no options */
#define HPPROTO_ID_WINDOW 1024                 /* request ids tracked per session */
#define HPPROTO_RETRY_HORIZON_MS 10000         /* clients stop retransmitting */
#define HPPROTO_SESSION_HOLD_MS 30000          /* servers keep idle sessions at least */

enum hpproto_status {
    HPPROTO_ST_OK = 0,           /* executed; payload = RESP replies */
    HPPROTO_ST_COOKIE = 1,       /* not executed: resend with the cookie given */
    HPPROTO_ST_MALFORMED = 2,    /* not executed: payload is not cmd_count commands */
    HPPROTO_ST_LIMIT = 3,        /* not executed: over a server limit */
    HPPROTO_ST_DUP_GONE = 4,     /* executed earlier; its reply is no longer kept */
    HPPROTO_ST_TOO_OLD = 5,      /* not executed: id below the session window */
    HPPROTO_ST_SESSION_LOST = 6, /* not executed: unknown session; start a new one */
    HPPROTO_ST_BUSY = 7,         /* not executed: server out of session state; retry */
    HPPROTO_ST_VERSION = 8,      /* not executed: version unsupported (reply carries ours) */
    HPPROTO_ST_COUNT
};

enum hpproto_err {
    HPPROTO_OK = 0,
    HPPROTO_E_SHORT,          /* datagram shorter than the header */
    HPPROTO_E_MAGIC,
    HPPROTO_E_VERSION,        /* header decoded; version is not ours */
    HPPROTO_E_FLAGS,          /* unknown flag bits */
    HPPROTO_E_RESERVED,       /* reserved field not zero */
    HPPROTO_E_STATUS,         /* status in a request, or unknown status */
    HPPROTO_E_SESSION,        /* session id 0 */
    HPPROTO_E_REQUEST_ID,     /* request id 0 */
    HPPROTO_E_COOKIE,         /* cookie field set without the flag, or flag missing */
    HPPROTO_E_CMD_COUNT,      /* 0 or above HPPROTO_MAX_CMDS */
    HPPROTO_E_FRAG,           /* fragment index/count/offset inconsistent */
    HPPROTO_E_LENGTH,         /* total_len / payload length disagree */
    HPPROTO_E_DGRAM,          /* max_dgram out of range */
    HPPROTO_E_COUNT
};

struct hpproto_hdr {
    uint8_t version;
    uint8_t flags;
    uint16_t status;
    uint16_t cmd_count;
    uint64_t session_id;
    uint64_t request_id;
    uint64_t cookie;
    uint32_t total_len;
    uint32_t frag_offset;
    uint16_t frag_index;
    uint16_t frag_count;
    uint16_t max_dgram;
};

/* Writes the 48-byte wire form (magic and reserved included). */
void hpproto_encode(const struct hpproto_hdr *h, uint8_t out[HPPROTO_HDR_LEN]);

/* Decodes and validates a whole datagram (header + payload).  On
 * HPPROTO_OK, *h is filled and the payload is dgram[HPPROTO_HDR_LEN ..
 * len).  On HPPROTO_E_VERSION *h is filled too (so a server can answer
 * HPPROTO_ST_VERSION); on any other error *h is unspecified. */
enum hpproto_err hpproto_decode(const uint8_t *dgram, size_t len, struct hpproto_hdr *h);
const char *hpproto_err_name(enum hpproto_err e);
const char *hpproto_status_name(unsigned status);

/* Header of a request (status 0, one fragment, total_len = payload_len). */
void hpproto_request_hdr(struct hpproto_hdr *h, uint64_t session_id, uint64_t request_id,
                         uint16_t cmd_count, uint32_t payload_len);
/* Header of a reply to `req` (ids and cmd_count echoed; single fragment). */
void hpproto_reply_hdr(struct hpproto_hdr *h, const struct hpproto_hdr *req,
                       enum hpproto_status status, uint32_t total_len);

/* ---- fragmentation --------------------------------------------------------- */

/* Reply payload bytes per fragment for a datagram limit (server limit and
 * the request's max_dgram already combined by hpproto_reply_dgram). */
static inline uint32_t hpproto_frag_size(uint32_t dgram)
{
    HP_ASSERT(dgram >= HPPROTO_MIN_DGRAM && dgram <= HPPROTO_MAX_DGRAM);
    return dgram - HPPROTO_HDR_LEN;
}
/* Largest reply datagram to send: min(server_max, request's max_dgram). */
uint32_t hpproto_reply_dgram(uint32_t server_max, const struct hpproto_hdr *req);
/* Fragments needed for a reply of total_len bytes (>= 1); 0 if more than
 * 65535 would be needed. */
uint32_t hpproto_frag_count(uint32_t total_len, uint32_t frag_size);
/* Header of fragment `index` of a reply whose payload is total_len bytes:
 * sets frag_* fields; returns this fragment's payload length. */
uint32_t hpproto_frag_hdr(struct hpproto_hdr *h, uint32_t total_len, uint32_t frag_size,
                          uint16_t index);

/* ---- reassembly (receiver side) -------------------------------------------- */

enum hpproto_reasm_result {
    HPPROTO_REASM_SINGLE = 0,    /* frag_count 1: the payload is the whole reply; nothing kept */
    HPPROTO_REASM_PARTIAL,       /* stored; more fragments needed */
    HPPROTO_REASM_COMPLETE,      /* stored; *done holds the whole reply */
    HPPROTO_REASM_DUPLICATE,     /* this fragment was already stored; ignored */
    HPPROTO_REASM_INCONSISTENT,  /* disagrees with earlier fragments: reply discarded */
    HPPROTO_REASM_TOO_LARGE,     /* total_len above the limit: dropped */
    HPPROTO_REASM_NO_SLOT,       /* max_pending replies in progress: dropped */
    HPPROTO_REASM_NO_MEMORY,     /* byte budget exhausted: dropped */
    HPPROTO_REASM_RESULT_COUNT
};

struct hpproto_reasm_limits {
    uint32_t max_pending;        /* replies being reassembled at once */
    size_t max_bytes;            /* buffers of all of them together */
    uint32_t max_reply_len;      /* one reply (<= HPPROTO_MAX_REPLY_LEN) */
};

struct hpproto_reasm_entry {
    bool used;
    bool complete;
    uint64_t session_id, request_id;
    uint16_t cmd_count;
    uint16_t frag_count;
    uint16_t frags_have;
    uint32_t total_len;
    uint32_t frag_size;          /* 0 until a fragment reveals it */
    uint64_t last_ns;            /* time of the last new fragment */
    size_t reserved;             /* bytes charged to the budget */
    uint8_t *data;               /* total_len bytes, then the have-bitmap */
};

struct hpproto_reasm {
    struct hpproto_reasm_limits limits;
    struct hpproto_reasm_entry *entries;   /* limits.max_pending of them */
    uint32_t pending;
    size_t bytes;
    uint64_t stat[HPPROTO_REASM_RESULT_COUNT];
    uint64_t expired;
};

/* Returns 0, or -1 if the entry table cannot be allocated. */
int hpproto_reasm_init(struct hpproto_reasm *r, const struct hpproto_reasm_limits *limits);
void hpproto_reasm_free(struct hpproto_reasm *r);
/* Feeds one reply fragment that hpproto_decode() accepted (status OK).
 * On COMPLETE, *done is the entry: data[0..total_len) is the reply; the
 * caller then calls hpproto_reasm_take() or hpproto_reasm_release(). */
enum hpproto_reasm_result hpproto_reasm_add(struct hpproto_reasm *r, const struct hpproto_hdr *h,
                                            const uint8_t *payload, size_t payload_len,
                                            uint64_t now_ns, struct hpproto_reasm_entry **done);
/* Hands a complete entry's buffer to the caller (free() it) and frees the entry. */
uint8_t *hpproto_reasm_take(struct hpproto_reasm *r, struct hpproto_reasm_entry *e);
void hpproto_reasm_release(struct hpproto_reasm *r, struct hpproto_reasm_entry *e);
/* Abandons the reassembly of (session, request) if any; returns whether one existed. */
bool hpproto_reasm_drop(struct hpproto_reasm *r, uint64_t session_id, uint64_t request_id);
/* Discards incomplete entries with no new fragment since now_ns - idle_ns;
 * returns how many. */
uint32_t hpproto_reasm_expire(struct hpproto_reasm *r, uint64_t now_ns, uint64_t idle_ns);

/* ---- request-id window (server side, one per session) ---------------------- */

enum hpproto_window_verdict {
    HPPROTO_WIN_NEW = 0,         /* never executed: execute, then mark */
    HPPROTO_WIN_DUPLICATE,       /* executed before: resend the kept reply or DUP_GONE */
    HPPROTO_WIN_TOO_OLD,         /* below the window: answer TOO_OLD */
};

struct hpproto_window {
    uint64_t highest;                              /* highest id marked; 0 = none */
    uint64_t seen[HPPROTO_ID_WINDOW / 64];         /* bit (id % W) for ids in (highest-W, highest] */
};

void hpproto_window_init(struct hpproto_window *w);
enum hpproto_window_verdict hpproto_window_check(const struct hpproto_window *w, uint64_t id);
void hpproto_window_mark(struct hpproto_window *w, uint64_t id);
/* May a server create state for an unknown session on this request id?
 * (id <= HPPROTO_ID_WINDOW; otherwise it answers SESSION_LOST.) */
static inline bool hpproto_window_may_start(uint64_t id)
{
    return id >= 1 && id <= HPPROTO_ID_WINDOW;
}

/* ---- source cookies (server side) ------------------------------------------ */

/* Cookies that passed the full check under the current keys, remembered so
 * that the next datagram of the same session compares words instead of
 * computing SipHash again (hpproto_cookie_check_memo).  Direct-mapped by
 * (ip, port, session): a colliding session only evicts, never matches. */
#define HPPROTO_COOKIE_MEMO 256      /* entries; a power of two */

struct hpproto_cookie_memo_entry {
    uint64_t session_id;
    uint64_t cookie;
    uint32_t src_ip;
    uint16_t src_port;
    bool used;                       /* false: empty (a zeroed memo is empty) */
    uint8_t verdict;                 /* VALID or STALE */
};

/* Two keys: the current epoch's and the previous one's, so a rotation does
 * not invalidate cookies that were just handed out.  Every change of keys
 * or epoch goes through hpproto_cookie_init/rotate/set, which empty the
 * memo: a remembered verdict is only ever one the current keys gave. */
struct hpproto_cookie_keys {
    uint8_t key[2][16];
    uint32_t epoch;
    struct hpproto_cookie_memo_entry memo[HPPROTO_COOKIE_MEMO];
};

enum hpproto_cookie_verdict {
    HPPROTO_COOKIE_VALID = 0,    /* current epoch */
    HPPROTO_COOKIE_STALE,        /* previous epoch: accept, and send a fresh one */
    HPPROTO_COOKIE_INVALID,
};

void hpproto_cookie_init(struct hpproto_cookie_keys *k, const uint8_t key[16]);
void hpproto_cookie_rotate(struct hpproto_cookie_keys *k, const uint8_t new_key[16]);
/* Sets epoch `epoch` with its key and the previous epoch's key at once
 * (servers that derive keys from a clock). */
void hpproto_cookie_set(struct hpproto_cookie_keys *k, uint32_t epoch, const uint8_t cur_key[16],
                        const uint8_t prev_key[16]);
uint64_t hpproto_cookie_make(const struct hpproto_cookie_keys *k, uint32_t src_ip,
                             uint16_t src_port, uint64_t session_id);
enum hpproto_cookie_verdict hpproto_cookie_check(const struct hpproto_cookie_keys *k,
                                                 uint64_t cookie, uint32_t src_ip,
                                                 uint16_t src_port, uint64_t session_id);
/* The same verdict as hpproto_cookie_check, for the server's hot path: a
 * cookie equal to one remembered for exactly this (ip, port, session) is
 * answered from the memo; otherwise the full check runs, and a VALID or
 * STALE result is remembered.  INVALID is never remembered, so a forged
 * source gains nothing it would not get from the full check. */
enum hpproto_cookie_verdict hpproto_cookie_check_memo(struct hpproto_cookie_keys *k,
                                                      uint64_t cookie, uint32_t src_ip,
                                                      uint16_t src_port, uint64_t session_id);
/* SipHash-2-4 (Aumasson & Bernstein), exposed for its test vectors. */
uint64_t hpproto_siphash24(const uint8_t key[16], const void *msg, size_t len);

/* ---- amplification --------------------------------------------------------- */

/* May `reply_bytes` be sent to a source in answer to `request_bytes`
 * (both UDP payload sizes)?  Verified sources: always.  Unverified: only
 * within amp_factor x request_bytes. */
static inline bool hpproto_amp_allows(bool verified, size_t request_bytes, size_t reply_bytes,
                                      uint32_t amp_factor)
{
    return verified || reply_bytes <= (uint64_t)request_bytes * amp_factor;
}

#endif
