/*
 * cmd_string.c - string commands with Redis 7.0 semantics and replies.
 *
 * Every handler appends exactly one reply.  The hot handlers (GET, SET
 * without options, INCR, MGET) do one index lookup and no allocation
 * besides the value itself; option parsing only happens when argc says
 * there are options.
 *
 * Entry pointers from shard_find() die at the next call that may modify the
 * same shard, so handlers read what they need (value, length, TTL) before
 * writing.  When a write fails for lack of memory after part of a reply was
 * built (SET ... GET, GETSET), the partial reply is rolled back and replaced
 * by the OOM error, so the client always gets one well-formed reply.
 */
#include "cmd.h"

#include <math.h>
#include <string.h>

#include "../../common/resp.h"
#include "../../common/strutil.h"

static const char err_wrongtype[] =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
static const char err_not_int[] = "ERR value is not an integer or out of range";
static const char err_not_float[] = "ERR value is not a valid float";
static const char err_syntax[] = "ERR syntax error";
static const char err_oom[] = "OOM command not allowed when used memory > 'maxmemory'.";


/* A lookup to change the key (lookupKeyWrite): no keyspace hit/miss. */
static struct entry *lookup(struct exec_ctx *x, struct shard *s, struct hp_slice key)
{
    return shard_find(s, x->db, key, x->now_ms);
}

/* A lookup to read it (lookupKeyRead): counts a keyspace hit or miss. */
static struct entry *lookup_read(struct exec_ctx *x, struct shard *s, struct hp_slice key)
{
    return exec_find_read(x, s, key);
}

static bool parse_i64(struct hp_slice s, int64_t *out)
{
    return str_to_i64(s.ptr, s.len, out) == 0;
}

static void reply_str(struct exec_ctx *x, const struct entry *e)
{
    struct hp_slice v = entry_str(e);
    resp_add_bulk(x->out, v.ptr, v.len);
}

/* Drop whatever this handler appended since `mark` and reply `err` instead. */
static void reply_replace_with_error(struct exec_ctx *x, size_t mark, const char *err)
{
    if (!x->out->overflow && x->out->len >= mark)
        x->out->len = mark;
    resp_add_error(x->out, err);
}

static void reply_invalid_expire(struct exec_ctx *x, const char *cmd)
{
    resp_add_errorf(x->out, "ERR invalid expire time in '%s' command", cmd);
}

/* Redis checkStringLength(): a result longer than proto-max-bulk-len is
 * refused, computed without overflow. */
static bool string_length_ok(const struct exec_ctx *x, int64_t base, size_t add)
{
    /* The shard's own limit applies too when proto-max-bulk-len is raised. */
    int64_t limit = HP_MIN(x->max_bulk, (int64_t)SHARD_MAX_STR_LEN);
    if ((uint64_t)add > (uint64_t)limit || base > limit - (int64_t)add) {
        resp_add_error(x->out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return false;
    }
    return true;
}

/* ---- SET family -------------------------------------------------------- */

enum {
    SETF_NX = 1u << 0,
    SETF_XX = 1u << 1,
    SETF_GET = 1u << 2,
    SETF_KEEPTTL = 1u << 3,
    SETF_PERSIST = 1u << 4,
    SETF_EX = 1u << 5,
    SETF_PX = 1u << 6,
    SETF_EXAT = 1u << 7,
    SETF_PXAT = 1u << 8,
    SETF_ANY_EXPIRE = SETF_EX | SETF_PX | SETF_EXAT | SETF_PXAT,
};

enum set_cmd { SETCMD_SET = 1, SETCMD_GETEX = 2 };

struct set_option {
    const char *name;
    uint32_t flag;
    uint32_t conflicts;  /* options already given that make this one an error */
    uint32_t commands;   /* SETCMD_* accepting it */
    bool takes_value;
};

/* Redis 7.0 parseExtendedStringArgumentsOrReply: repeating an option is
 * allowed (the last EX value wins); a conflicting one is a syntax error. */
static const struct set_option set_options[] = {
    {"nx", SETF_NX, SETF_XX, SETCMD_SET, false},
    {"xx", SETF_XX, SETF_NX, SETCMD_SET, false},
    {"get", SETF_GET, 0, SETCMD_SET, false},
    {"keepttl", SETF_KEEPTTL, SETF_PERSIST | SETF_ANY_EXPIRE, SETCMD_SET, false},
    {"persist", SETF_PERSIST, SETF_KEEPTTL | SETF_ANY_EXPIRE, SETCMD_GETEX, false},
    {"ex", SETF_EX, SETF_KEEPTTL | SETF_PERSIST | (SETF_ANY_EXPIRE & ~SETF_EX),
     SETCMD_SET | SETCMD_GETEX, true},
    {"px", SETF_PX, SETF_KEEPTTL | SETF_PERSIST | (SETF_ANY_EXPIRE & ~SETF_PX),
     SETCMD_SET | SETCMD_GETEX, true},
    {"exat", SETF_EXAT, SETF_KEEPTTL | SETF_PERSIST | (SETF_ANY_EXPIRE & ~SETF_EXAT),
     SETCMD_SET | SETCMD_GETEX, true},
    {"pxat", SETF_PXAT, SETF_KEEPTTL | SETF_PERSIST | (SETF_ANY_EXPIRE & ~SETF_PXAT),
     SETCMD_SET | SETCMD_GETEX, true},
};

struct set_args {
    uint32_t flags;
    struct hp_slice expire; /* valid when flags has an expire option */
};

/* Parses argv[first..argc); replies and returns false on a syntax error. */
static bool parse_set_options(struct exec_ctx *x, int first, enum set_cmd cmd,
                              struct set_args *a)
{
    a->flags = 0;
    for (int j = first; j < x->argc; j++) {
        const struct set_option *opt = NULL;
        for (size_t i = 0; i < HP_ARRAY_LEN(set_options); i++) {
            if (slice_eq_nocase(x->argv[j], set_options[i].name)) {
                opt = &set_options[i];
                break;
            }
        }
        bool has_value = j + 1 < x->argc;
        if (opt == NULL || !(opt->commands & cmd) || (a->flags & opt->conflicts) ||
            (opt->takes_value && !has_value)) {
            resp_add_error(x->out, err_syntax);
            return false;
        }
        a->flags |= opt->flag;
        if (opt->takes_value)
            a->expire = x->argv[++j];
    }
    return true;
}

/*
 * Redis getExpireMillisecondsOrReply: the expire argument as an absolute
 * Unix ms time.  Non-positive values and any overflow are "invalid expire
 * time"; EX/PX are relative to now.  Replies and returns false on error.
 */
static bool parse_expire(struct exec_ctx *x, struct hp_slice arg, uint32_t flags,
                         const char *cmd, int64_t *out_ms)
{
    int64_t v;
    if (!parse_i64(arg, &v)) {
        resp_add_error(x->out, err_not_int);
        return false;
    }
    bool seconds = flags & (SETF_EX | SETF_EXAT);
    bool relative = flags & (SETF_EX | SETF_PX);
    if (v <= 0 || (seconds && v > INT64_MAX / 1000)) {
        reply_invalid_expire(x, cmd);
        return false;
    }
    if (seconds)
        v *= 1000;
    if (relative) {
        if (x->now_ms > 0 && v > INT64_MAX - x->now_ms) {
            reply_invalid_expire(x, cmd);
            return false;
        }
        v += x->now_ms;
        if (v <= 0) {
            reply_invalid_expire(x, cmd);
            return false;
        }
    }
    *out_ms = v;
    return true;
}

/* A string for GETDEL/GETEX to go on with, or NULL after the reply they
 * give without one (nil when missing, WRONGTYPE). */
static struct entry *lookup_string_or_reply(struct exec_ctx *x, struct shard *s,
                                            struct hp_slice key)
{
    struct entry *e = lookup_read(x, s, key);
    if (e == NULL) {
        resp_add_null(x->out, x->proto);
        return NULL;
    }
    if (entry_type(e) != OBJ_STRING) {
        resp_add_error(x->out, err_wrongtype);
        return NULL;
    }
    return e;
}

void cmd_get(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1];
    struct entry *e = lookup_read(x, exec_shard(x, key), key);
    if (e == NULL)
        resp_add_null(x->out, x->proto);
    else if (HP_UNLIKELY(entry_type(e) != OBJ_STRING))
        resp_add_error(x->out, err_wrongtype);
    else
        reply_str(x, e);
}

/* SET with options (argc > 3); see Redis 7.0 setGenericCommand. */
static void set_with_options(struct exec_ctx *x, struct shard *s)
{
    struct hp_slice key = x->argv[1], val = x->argv[2];
    struct set_args a;
    if (!parse_set_options(x, 3, SETCMD_SET, &a))
        return;
    int64_t expire_ms = SHARD_NO_EXPIRE;
    if ((a.flags & SETF_ANY_EXPIRE) && !parse_expire(x, a.expire, a.flags, "set", &expire_ms))
        return;
    size_t mark = x->out->len;
    bool need_old = a.flags & (SETF_GET | SETF_NX | SETF_XX | SETF_KEEPTTL);
    struct entry *e = !need_old ? NULL
                       : (a.flags & SETF_GET) ? lookup_read(x, s, key) : lookup(x, s, key);
    if (a.flags & SETF_GET) {
        if (e != NULL && entry_type(e) != OBJ_STRING) {
            resp_add_error(x->out, err_wrongtype);
            return;
        }
        if (e == NULL)
            resp_add_null(x->out, x->proto);
        else
            reply_str(x, e);
    }
    bool found = e != NULL;
    if (((a.flags & SETF_NX) && found) || ((a.flags & SETF_XX) && !found)) {
        if (!(a.flags & SETF_GET))
            resp_add_null(x->out, x->proto);
        return;
    }
    if ((a.flags & SETF_KEEPTTL) && found)
        expire_ms = entry_expire_ms(e);
    exec_key_changed(x, x->db, key);
    if (shard_set_str(s, x->db, key, val, expire_ms, x->now_ms) != 0) {
        reply_replace_with_error(x, mark, err_oom);
        return;
    }
    if (!(a.flags & SETF_GET))
        resp_add_simple(x->out, "OK");
}

void cmd_set(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1];
    struct shard *s = exec_shard(x, key);
    if (HP_UNLIKELY(x->argc > 3)) {
        set_with_options(x, s);
        return;
    }
    exec_key_changed(x, x->db, key);
    if (shard_set_str(s, x->db, key, x->argv[2], SHARD_NO_EXPIRE, x->now_ms) != 0)
        resp_add_error(x->out, err_oom);
    else
        resp_add_simple(x->out, "OK");
}

void cmd_setnx(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1];
    struct shard *s = exec_shard(x, key);
    if (lookup(x, s, key) != NULL) {
        resp_add_int(x->out, 0);
        return;
    }
    exec_key_changed(x, x->db, key);
    if (shard_set_str(s, x->db, key, x->argv[2], SHARD_NO_EXPIRE, x->now_ms) != 0)
        resp_add_error(x->out, err_oom);
    else
        resp_add_int(x->out, 1);
}

static void setex_generic(struct exec_ctx *x, uint32_t unit_flag, const char *cmd)
{
    struct hp_slice key = x->argv[1];
    int64_t expire_ms;
    if (!parse_expire(x, x->argv[2], unit_flag, cmd, &expire_ms))
        return;
    struct shard *s = exec_shard(x, key);
    exec_key_changed(x, x->db, key);
    if (shard_set_str(s, x->db, key, x->argv[3], expire_ms, x->now_ms) != 0)
        resp_add_error(x->out, err_oom);
    else
        resp_add_simple(x->out, "OK");
}

void cmd_setex(struct exec_ctx *x)
{
    setex_generic(x, SETF_EX, "setex");
}

void cmd_psetex(struct exec_ctx *x)
{
    setex_generic(x, SETF_PX, "psetex");
}

void cmd_getset(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1];
    struct shard *s = exec_shard(x, key);
    size_t mark = x->out->len;
    struct entry *e = lookup_read(x, s, key);
    if (e == NULL) {
        resp_add_null(x->out, x->proto);
    } else if (entry_type(e) != OBJ_STRING) {
        resp_add_error(x->out, err_wrongtype);
        return;
    } else {
        reply_str(x, e);
    }
    /* Like SET, GETSET drops any TTL. */
    exec_key_changed(x, x->db, key);
    if (shard_set_str(s, x->db, key, x->argv[2], SHARD_NO_EXPIRE, x->now_ms) != 0)
        reply_replace_with_error(x, mark, err_oom);
}

void cmd_getdel(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1];
    struct shard *s = exec_shard(x, key);
    struct entry *e = lookup_string_or_reply(x, s, key);
    if (e == NULL)
        return;
    reply_str(x, e);
    exec_key_changed(x, x->db, key);
    int deleted = shard_delete(s, x->db, key, x->now_ms);
    HP_ASSERT(deleted == 1);
}

void cmd_getex(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1];
    struct set_args a = {0};
    if (x->argc > 2 && !parse_set_options(x, 2, SETCMD_GETEX, &a))
        return;
    struct shard *s = exec_shard(x, key);
    struct entry *e = lookup_string_or_reply(x, s, key);
    if (e == NULL)
        return;
    int64_t expire_ms = SHARD_NO_EXPIRE;
    if ((a.flags & SETF_ANY_EXPIRE) && !parse_expire(x, a.expire, a.flags, "getex", &expire_ms))
        return;
    size_t mark = x->out->len;
    reply_str(x, e);
    /* An EXAT/PXAT already past deletes the key (shard_set_expire does). */
    if (a.flags & (SETF_ANY_EXPIRE | SETF_PERSIST)) {
        exec_key_changed(x, x->db, key);
        int rc = shard_set_expire(s, x->db, key, expire_ms, x->now_ms);
        if (rc < 0)
            reply_replace_with_error(x, mark, err_oom);
        else
            HP_ASSERT(rc == 1);
    }
}

/* ---- multi-key --------------------------------------------------------- */

void cmd_mget(struct exec_ctx *x)
{
    resp_add_array(x->out, (size_t)(x->argc - 1));
    for (int j = 1; j < x->argc; j++) {
        struct hp_slice key = x->argv[j];
        struct entry *e = lookup_read(x, exec_shard(x, key), key);
        if (e == NULL || entry_type(e) != OBJ_STRING)
            resp_add_null(x->out, x->proto);
        else
            reply_str(x, e);
    }
}

static void reply_arity_error(struct exec_ctx *x, const char *cmd)
{
    resp_add_errorf(x->out, "ERR wrong number of arguments for '%s' command", cmd);
}

/* Sets argv pairs [1, upto); returns the index of the first pair that
 * could not be stored for lack of memory, or upto. */
static int mset_pairs(struct exec_ctx *x, int upto)
{
    for (int j = 1; j < upto; j += 2) {
        struct hp_slice key = x->argv[j];
        exec_key_changed(x, x->db, key);
        if (shard_set_str(exec_shard(x, key), x->db, key, x->argv[j + 1], SHARD_NO_EXPIRE,
                          x->now_ms) != 0)
            return j;
    }
    return upto;
}

void cmd_mset(struct exec_ctx *x)
{
    if (x->argc % 2 == 0) {
        reply_arity_error(x, "mset");
        return;
    }
    /* Out of memory part-way leaves the earlier pairs set (Redis cannot
     * fail here at all); the client is told with the OOM error. */
    if (mset_pairs(x, x->argc) != x->argc)
        resp_add_error(x->out, err_oom);
    else
        resp_add_simple(x->out, "OK");
}

void cmd_msetnx(struct exec_ctx *x)
{
    if (x->argc % 2 == 0) {
        reply_arity_error(x, "msetnx");
        return;
    }
    for (int j = 1; j < x->argc; j += 2) {
        struct hp_slice key = x->argv[j];
        if (lookup(x, exec_shard(x, key), key) != NULL) {
            resp_add_int(x->out, 0);
            return;
        }
    }
    int failed = mset_pairs(x, x->argc);
    if (failed != x->argc) {
        /* All-or-nothing even when memory runs out: every key set so far
         * was absent before, so deleting it restores the old state. */
        for (int j = 1; j < failed; j += 2) {
            struct hp_slice key = x->argv[j];
            /* 0 for a key named twice in argv, already deleted: fine. */
            (void)shard_delete(exec_shard(x, key), x->db, key, x->now_ms);
        }
        resp_add_error(x->out, err_oom);
        return;
    }
    resp_add_int(x->out, 1);
}

/* ---- in-place edits ---------------------------------------------------- */

void cmd_append(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1], add = x->argv[2];
    struct shard *s = exec_shard(x, key);
    struct entry *e = lookup(x, s, key);
    if (e == NULL) {
        exec_key_changed(x, x->db, key);
        if (shard_set_str(s, x->db, key, add, SHARD_NO_EXPIRE, x->now_ms) != 0)
            resp_add_error(x->out, err_oom);
        else
            resp_add_int(x->out, (int64_t)add.len);
        return;
    }
    if (entry_type(e) != OBJ_STRING) {
        resp_add_error(x->out, err_wrongtype);
        return;
    }
    size_t old_len = entry_str(e).len;
    if (!string_length_ok(x, (int64_t)old_len, add.len))
        return;
    exec_key_changed(x, x->db, key);
    uint8_t *p = shard_str_writable(s, x->db, key, old_len + add.len, x->now_ms);
    if (p == NULL) {
        resp_add_error(x->out, err_oom);
        return;
    }
    memcpy(p + old_len, add.ptr, add.len);
    resp_add_int(x->out, (int64_t)(old_len + add.len));
}

void cmd_strlen(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1];
    struct entry *e = lookup_read(x, exec_shard(x, key), key);
    if (e == NULL)
        resp_add_int(x->out, 0);
    else if (entry_type(e) != OBJ_STRING)
        resp_add_error(x->out, err_wrongtype);
    else
        resp_add_int(x->out, (int64_t)entry_str(e).len);
}

void cmd_getrange(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1];
    int64_t start, end;
    if (!parse_i64(x->argv[2], &start) || !parse_i64(x->argv[3], &end)) {
        resp_add_error(x->out, err_not_int);
        return;
    }
    struct entry *e = lookup_read(x, exec_shard(x, key), key);
    if (e == NULL) {
        resp_add_bulk(x->out, "", 0);
        return;
    }
    if (entry_type(e) != OBJ_STRING) {
        resp_add_error(x->out, err_wrongtype);
        return;
    }
    struct hp_slice v = entry_str(e);
    int64_t len = (int64_t)v.len;
    if (start < 0 && end < 0 && start > end) {
        resp_add_bulk(x->out, "", 0);
        return;
    }
    if (start < 0)
        start = len + start;
    if (end < 0)
        end = len + end;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= len)
        end = len - 1;
    if (start > end || len == 0)
        resp_add_bulk(x->out, "", 0);
    else
        resp_add_bulk(x->out, v.ptr + start, (size_t)(end - start + 1));
}

void cmd_setrange(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1], val = x->argv[3];
    int64_t offset;
    if (!parse_i64(x->argv[2], &offset)) {
        resp_add_error(x->out, err_not_int);
        return;
    }
    if (offset < 0) {
        resp_add_error(x->out, "ERR offset is out of range");
        return;
    }
    struct shard *s = exec_shard(x, key);
    struct entry *e = lookup(x, s, key);
    size_t old_len = 0;
    if (e != NULL) {
        if (entry_type(e) != OBJ_STRING) {
            resp_add_error(x->out, err_wrongtype);
            return;
        }
        old_len = entry_str(e).len;
    }
    /* Writing nothing creates nothing and changes nothing. */
    if (val.len == 0) {
        resp_add_int(x->out, (int64_t)old_len);
        return;
    }
    if (!string_length_ok(x, offset, val.len))
        return;
    size_t new_len = HP_MAX(old_len, (size_t)offset + val.len);
    exec_key_changed(x, x->db, key);
    uint8_t *p = shard_str_writable(s, x->db, key, new_len, x->now_ms);
    if (p == NULL) {
        resp_add_error(x->out, err_oom);
        return;
    }
    memcpy(p + offset, val.ptr, val.len);
    resp_add_int(x->out, (int64_t)new_len);
}

/* ---- counters ------------------------------------------------------------ */

static void incr_by(struct exec_ctx *x, int64_t by)
{
    struct hp_slice key = x->argv[1];
    struct shard *s = exec_shard(x, key);
    struct entry *e = lookup(x, s, key);
    int64_t v = 0;
    if (e != NULL) {
        if (HP_UNLIKELY(entry_type(e) != OBJ_STRING)) {
            resp_add_error(x->out, err_wrongtype);
            return;
        }
        if (!parse_i64(entry_str(e), &v)) {
            resp_add_error(x->out, err_not_int);
            return;
        }
    }
    if ((by < 0 && v < 0 && by < INT64_MIN - v) || (by > 0 && v > 0 && by > INT64_MAX - v)) {
        resp_add_error(x->out, "ERR increment or decrement would overflow");
        return;
    }
    v += by;
    char buf[24];
    size_t n = i64_to_str(buf, v);
    /* Writing in place keeps the TTL, as Redis' INCR does. */
    exec_key_changed(x, x->db, key);
    uint8_t *p = shard_str_writable(s, x->db, key, n, x->now_ms);
    if (p == NULL) {
        resp_add_error(x->out, err_oom);
        return;
    }
    memcpy(p, buf, n);
    resp_add_int(x->out, v);
}

void cmd_incr(struct exec_ctx *x)
{
    incr_by(x, 1);
}

void cmd_decr(struct exec_ctx *x)
{
    incr_by(x, -1);
}

void cmd_incrby(struct exec_ctx *x)
{
    int64_t by;
    if (!parse_i64(x->argv[2], &by)) {
        resp_add_error(x->out, err_not_int);
        return;
    }
    incr_by(x, by);
}

void cmd_decrby(struct exec_ctx *x)
{
    int64_t by;
    if (!parse_i64(x->argv[2], &by)) {
        resp_add_error(x->out, err_not_int);
        return;
    }
    if (by == INT64_MIN) {
        resp_add_error(x->out, "ERR decrement would overflow");
        return;
    }
    incr_by(x, -by);
}

/* resp_format_long_double() needs this much room (Redis MAX_LONG_DOUBLE_CHARS). */
#define CMD_LONG_DOUBLE_CHARS (5 * 1024)

void cmd_incrbyfloat(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1];
    struct shard *s = exec_shard(x, key);
    struct entry *e = lookup(x, s, key);
    long double v = 0, by;
    if (e != NULL) {
        if (entry_type(e) != OBJ_STRING) {
            resp_add_error(x->out, err_wrongtype);
            return;
        }
        struct hp_slice cur = entry_str(e);
        if (str_to_long_double(cur.ptr, cur.len, &v) != 0) {
            resp_add_error(x->out, err_not_float);
            return;
        }
    }
    if (str_to_long_double(x->argv[2].ptr, x->argv[2].len, &by) != 0) {
        resp_add_error(x->out, err_not_float);
        return;
    }
    v += by;
    if (isnan(v) || isinf(v)) {
        resp_add_error(x->out, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[CMD_LONG_DOUBLE_CHARS];
    size_t n = resp_format_long_double(buf, sizeof(buf), v);
    HP_ASSERT(n > 0 && n < sizeof(buf));
    exec_key_changed(x, x->db, key);
    uint8_t *p = shard_str_writable(s, x->db, key, n, x->now_ms);
    if (p == NULL) {
        resp_add_error(x->out, err_oom);
        return;
    }
    memcpy(p, buf, n);
    resp_add_bulk(x->out, buf, n);
}
