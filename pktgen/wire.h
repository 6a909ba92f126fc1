/*
 * wire.h - RESP as a client speaks it: commands out (multibulk), replies
 * in (an incremental scanner that returns one complete reply at a time).
 *
 * The reply scanner accepts what pktgen's commands can produce: simple
 * strings, errors, integers, bulk strings, nil, and one level of array
 * whose elements are not arrays (MGET).  Anything else, nesting, lengths
 * beyond PGW_MAX_BULK, lines beyond PGW_MAX_LINE or malformed framing is a
 * protocol error (-1): the caller closes the connection and reports it.
 */
#ifndef HP_PKTGEN_WIRE_H
#define HP_PKTGEN_WIRE_H

#include "hp_common.h"

#define PGW_MAX_BULK (64u << 20)
#define PGW_MAX_LINE 4096
#define PGW_MAX_ARRAY 4096

enum pgw_type {
    PGW_STATUS = '+',
    PGW_ERROR = '-',
    PGW_INT = ':',
    PGW_BULK = '$',
    PGW_NIL = 'n',
    PGW_ARRAY = '*',
};

struct pgw_reply {
    enum pgw_type type;
    int64_t integer;             /* PGW_INT */
    const char *str;             /* STATUS/ERROR/BULK: into the caller's buffer */
    size_t len;
    uint32_t nelem;              /* PGW_ARRAY: elements, stored in `elems` */
};

/* Encodes one command.  Returns bytes written, or 0 if it does not fit. */
size_t pgw_command(uint8_t *out, size_t cap, int argc, const char *const *argv,
                   const size_t *argvlen);
/* Bytes pgw_command would write. */
size_t pgw_command_len(int argc, const size_t *argvlen);

/* Scans one reply at buf[0..len).  Returns its length (> 0) and fills *r
 * (and elems[0..r->nelem) for an array of at most elems_cap elements);
 * 0 if the reply is not complete yet; -1 on a protocol error or an array
 * longer than elems_cap. */
long pgw_reply_parse(const uint8_t *buf, size_t len, struct pgw_reply *r,
                     struct pgw_reply *elems, uint32_t elems_cap);

#endif
