/*
 * aof_record.h - one append-only-log record: the on-disk unit of durability.
 *
 * A record is one write exactly as a shard applied it, encoded as an argv
 * so that replay feeds the same command handlers (the caller makes it
 * deterministic first: relative expiries absolute, INCRBYFLOAT as the SET
 * of its result).  The byte layout is in docs/AOF.md; all integers are
 * little-endian and nothing is aligned.
 *
 *   off size field
 *    0   4   magic     "HPR1" (bytes 48 50 52 31)
 *    4   4   hdr_crc   CRC32C of bytes 8..39
 *    8   4   len       whole record, header included
 *   12   4   data_crc  CRC32C of bytes 40..len-1
 *   16   8   lsn       per-shard log sequence number, 1, 2, 3, ...
 *   24   8   ts_ms     Unix ms at which the worker applied the write
 *   32   2   shard
 *   34   2   db
 *   36   4   argc      >= 1
 *   40   ..  argc times { u32 arg_len; arg_len bytes }
 *
 * The header has its own CRC so a damaged length is recognised as damage
 * and never mistaken for a record that runs past the end of the data (which
 * recovery would treat as a torn tail and cut).
 *
 * Format 2 adds the GROUPED record (magic "HPR2"): the same 40 bytes, then
 *   40   8   group_id    >= 1, unique in the log (aof_log_group_id)
 *   48   4   group_count members of the group, over all shards, 1..AOF_GROUP_MAX
 *   52   4   group_index this member, 0..group_count-1
 *   56   ..  argv as above
 * with hdr_crc covering bytes 8..55.  Ungrouped records keep the "HPR1"
 * layout byte for byte, so the ungrouped path costs nothing more and logs
 * written before format 2 load unchanged.  Replay applies a group's records
 * only once every member is known to be in the log (aof_recover.h).
 */
#ifndef HP_AOF_RECORD_H
#define HP_AOF_RECORD_H

#include "../../common/hp_common.h"

#define AOF_REC_MAGIC 0x31525048u        /* "HPR1" read as little-endian u32 */
#define AOF_REC_MAGIC_GRP 0x32525048u    /* "HPR2": a grouped record (format 2) */
#define AOF_REC_HDR_LEN 40u
#define AOF_REC_GRP_EXTRA 16u            /* group fields after the common header */
#define AOF_REC_GRP_HDR_LEN (AOF_REC_HDR_LEN + AOF_REC_GRP_EXTRA)
/* Most members one group may have (a MULTI/EXEC or script writing more
 * keys is refused by aof_log_append_grouped with AOF_APPEND_INVALID). */
#define AOF_GROUP_MAX ((uint32_t)HP_MAX_ARGC)
#define AOF_REC_ARG_HDR 4u               /* u32 length before each argument */
#define AOF_REC_MAX_LEN 0x7fffffffu      /* len field limit (2 GiB - 1) */
#define AOF_REC_MAX_ARGC ((uint32_t)HP_MAX_ARGC)

/* A record's group membership (format 2).  id 0 = not grouped. */
struct aof_group {
    uint64_t id;       /* >= 1 */
    uint32_t count;    /* members over all shards, 1..AOF_GROUP_MAX */
    uint32_t index;    /* < count, each index exactly once per group */
};

/* A decoded record.  args points into the decoded buffer (borrowed). */
struct aof_rec {
    uint32_t len;
    uint32_t hdr_len;      /* AOF_REC_HDR_LEN or AOF_REC_GRP_HDR_LEN */
    struct aof_group group; /* all zero for an ungrouped (HPR1) record */
    uint16_t shard;
    uint16_t db;
    uint64_t lsn;
    int64_t ts_ms;
    uint32_t argc;
    const uint8_t *args;   /* argc x {u32 len, bytes}, already validated */
    size_t args_len;
};

enum aof_dec {
    AOF_DEC_OK = 0,
    AOF_DEC_END,      /* an all-zero header (or all-zero tail shorter than one): no record here */
    AOF_DEC_TORN,     /* valid so far, but the data ends before the record does */
    AOF_DEC_CORRUPT,  /* bad magic, bad CRC, impossible field or length */
};

/* CRC32C (Castagnoli), chained like zlib's crc32: start with 0, pass the
 * previous result to continue.  Uses SSE4.2 when the CPU has it. */
uint32_t aof_crc32c(uint32_t crc, const void *buf, size_t len);
/* The two implementations, exposed for tests; _hw returns the software
 * result when the CPU lacks SSE4.2. */
uint32_t aof_crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t aof_crc32c_hw(uint32_t crc, const void *buf, size_t len);

/* Encoded size of a record with this argv, or 0 if it cannot be encoded
 * (argc 0 or above AOF_REC_MAX_ARGC, an argument or the total too long). */
size_t aof_record_size(uint32_t argc, const struct hp_slice *argv);
/* The same for a grouped record (AOF_REC_GRP_EXTRA more), 0 if impossible. */
size_t aof_record_size_grouped(uint32_t argc, const struct hp_slice *argv);

/* Encode into buf[0..cap).  Returns the bytes written (== aof_record_size),
 * or 0 if the argv cannot be encoded, shard/db are out of range or cap is
 * too small (buf untouched then). */
size_t aof_record_encode(uint8_t *buf, size_t cap, uint16_t shard, uint16_t db,
                         uint64_t lsn, int64_t ts_ms, uint32_t argc,
                         const struct hp_slice *argv);
/* Encode a grouped record (g != NULL, fields valid: id >= 1, 1 <= count <=
 * AOF_GROUP_MAX, index < count) or, with g == NULL, exactly as
 * aof_record_encode.  Returns the bytes written or 0 (buf untouched). */
size_t aof_record_encode_grouped(uint8_t *buf, size_t cap, uint16_t shard, uint16_t db,
                                 uint64_t lsn, int64_t ts_ms, uint32_t argc,
                                 const struct hp_slice *argv, const struct aof_group *g);
/* True if g describes a possible member (the checks above). */
bool aof_group_valid(const struct aof_group *g);

/*
 * Decode and fully validate the record at buf[0..avail).  On AOF_DEC_OK
 * *out describes it (out->len bytes consumed).  Otherwise *why (if not
 * NULL) is set to a static description of the problem.  Every length is
 * checked against avail and against the record's own len, so any input is
 * safe to pass.
 */
enum aof_dec aof_record_decode(const uint8_t *buf, size_t avail, struct aof_rec *out,
                               const char **why);

/* Header fields only (magic and header CRC checked, payload not read):
 * for walking data that was already fully validated.  Same results as
 * aof_record_decode except that a bad payload is not detected. */
enum aof_dec aof_record_peek(const uint8_t *buf, size_t avail, struct aof_rec *out,
                             const char **why);

/* Fill argv[0..rec->argc) with slices into the record.  Returns 0, or -1 if
 * cap < argc (nothing written).  rec must come from a successful decode. */
int aof_record_argv(const struct aof_rec *rec, struct hp_slice *argv, uint32_t cap);

/* Little-endian helpers shared by the AOF modules. */
static inline uint32_t aof_load32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t aof_load64(const uint8_t *p)
{
    return (uint64_t)aof_load32(p) | (uint64_t)aof_load32(p + 4) << 32;
}
static inline void aof_store32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void aof_store64(uint8_t *p, uint64_t v)
{
    aof_store32(p, (uint32_t)v);
    aof_store32(p + 4, (uint32_t)(v >> 32));
}

#endif
