/*
 * cmd_keys.c - keyspace commands (DEL, EXISTS, RENAME, EXPIRE, TTL, SCAN,
 * KEYS, DBSIZE, FLUSH*...) with Redis 7.0 semantics and replies.
 *
 * Multi-key commands run with every shard they touch held by this
 * execution (the dispatcher parks them), so they just take each key's shard
 * with exec_shard().  All-shard commands (KEYS, DBSIZE, RANDOMKEY, FLUSH*)
 * hold every shard.  SCAN holds only the shard its cursor names: the
 * cursor carries the shard number in its top 16 bits and that shard's own
 * cursor below, and moves on to the next shard when one is done.
 */
#include "cmd.h"

#include <string.h>
#include <sys/random.h>

#include "../../common/resp.h"
#include "../../common/strutil.h"
#include "../../storage/types.h"

static const char err_not_int[] = "ERR value is not an integer or out of range";
static const char err_syntax[] = "ERR syntax error";
static const char err_oom[] = "OOM command not allowed when used memory > 'maxmemory'.";

/* Every user (EXISTS, TOUCH, TYPE, TTL...) reads: counted as in Redis. */
static struct entry *lookup(struct exec_ctx *x, struct hp_slice key)
{
    return exec_find_read(x, exec_shard(x, key), key);
}

static bool slice_eq(struct hp_slice a, struct hp_slice b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/*
 * Appends user text to an error line as Redis' "%s" does: up to a NUL
 * byte, CR/LF turned into spaces (one protocol line).
 */
static void append_user_text(struct rbuf *out, struct hp_slice s)
{
    const uint8_t *nul = memchr(s.ptr, 0, s.len);
    size_t n = nul ? (size_t)(nul - s.ptr) : s.len;
    uint8_t *p = rbuf_reserve(out, n);
    if (p == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        p[i] = (s.ptr[i] == '\r' || s.ptr[i] == '\n') ? ' ' : s.ptr[i];
    rbuf_commit(out, n);
}

/*
 * Inserts hdr in front of the bytes appended since `mark`.  KEYS and SCAN
 * learn their element count only after emitting the elements; moving them
 * once is cheaper than walking the keyspace twice.
 */
static void insert_header(struct rbuf *out, size_t mark, const char *hdr, size_t n)
{
    if (out->overflow)
        return; /* the buffer is dead; its owner drops the connection */
    HP_ASSERT(mark <= out->len);
    if (rbuf_reserve(out, n) == NULL)
        return;
    memmove(out->data + mark + n, out->data + mark, out->len - mark);
    memcpy(out->data + mark, hdr, n);
    rbuf_commit(out, n);
}

/* ---- existence ------------------------------------------------------------ */

static void del_generic(struct exec_ctx *x)
{
    int64_t deleted = 0;
    for (int j = 1; j < x->argc; j++) {
        struct hp_slice key = x->argv[j];
        exec_key_changed(x, x->db, key);
        deleted += shard_delete(exec_shard(x, key), x->db, key, x->now_ms);
    }
    resp_add_int(x->out, deleted);
}

void cmd_del(struct exec_ctx *x)
{
    del_generic(x);
}

/* Values are freed inline either way: a string's free is one call into
 * the shard's arena, so there is nothing to hand to a background thread. */
void cmd_unlink(struct exec_ctx *x)
{
    del_generic(x);
}

/* EXISTS and TOUCH count a key named twice twice. */
static void count_existing(struct exec_ctx *x)
{
    int64_t n = 0;
    for (int j = 1; j < x->argc; j++)
        n += lookup(x, x->argv[j]) != NULL;
    resp_add_int(x->out, n);
}

void cmd_exists(struct exec_ctx *x)
{
    count_existing(x);
}

void cmd_touch(struct exec_ctx *x)
{
    count_existing(x);
}

void cmd_type(struct exec_ctx *x)
{
    struct entry *e = lookup(x, x->argv[1]);
    resp_add_simple(x->out, e ? entry_type_name(e) : "none");
}

/* ---- RENAME ---------------------------------------------------------------- */

static void rename_generic(struct exec_ctx *x, bool nx)
{
    struct hp_slice src = x->argv[1], dst = x->argv[2];
    struct shard *ss = exec_shard(x, src);
    struct shard *ds = exec_shard(x, dst);
    if (shard_find(ss, x->db, src, x->now_ms) == NULL) {
        resp_add_error(x->out, "ERR no such key");
        return;
    }
    if (slice_eq(src, dst)) {
        if (nx)
            resp_add_int(x->out, 0);
        else
            resp_add_simple(x->out, "OK");
        return;
    }
    if (nx && shard_find(ds, x->db, dst, x->now_ms) != NULL) {
        resp_add_int(x->out, 0);
        return;
    }
    exec_key_changed(x, x->db, src);
    exec_key_changed(x, x->db, dst);
    if (ss == ds) {
        int moved = shard_rename(ss, x->db, src, dst, x->now_ms);
        if (moved < 0) {
            resp_add_error(x->out, err_oom);
            return;
        }
        HP_ASSERT(moved == 1);
    } else {
        /* Copy first, delete after: running out of memory in the copy
         * leaves both keys as they were.  The source entry stays valid
         * across calls on the other shard. */
        const struct entry *e = shard_find(ss, x->db, src, x->now_ms);
        HP_ASSERT(e != NULL);
        if (shard_adopt_copy(ds, x->db, dst, e, x->now_ms) != 0) {
            resp_add_error(x->out, err_oom);
            return;
        }
        int deleted = shard_delete(ss, x->db, src, x->now_ms);
        HP_ASSERT(deleted == 1);
    }
    if (nx)
        resp_add_int(x->out, 1);
    else
        resp_add_simple(x->out, "OK");
}

void cmd_rename(struct exec_ctx *x)
{
    rename_generic(x, false);
}

void cmd_renamenx(struct exec_ctx *x)
{
    rename_generic(x, true);
}

/* ---- whole keyspace ------------------------------------------------------- */

static uint64_t all_shards_mask(const struct exec_ctx *x)
{
    return x->nshards == 64 ? ~0ull : (1ull << x->nshards) - 1;
}

/* The all-shard handlers need every shard; the dispatcher guarantees it. */
static void assert_all_held(const struct exec_ctx *x)
{
    HP_ASSERT(x->nshards >= 1 && x->nshards <= HP_MAX_SHARDS);
    HP_ASSERT((x->held_mask & all_shards_mask(x)) == all_shards_mask(x));
}

struct key_emit {
    struct rbuf *out;
    struct hp_slice pattern; /* ptr NULL: every key */
    struct hp_slice type;    /* ptr NULL: every type */
    uint64_t visited;        /* entries the scan returned */
    uint64_t emitted;        /* of which passed the filters */
};

static void key_emit_fn(void *arg, const struct entry *e)
{
    struct key_emit *k = arg;
    k->visited++;
    struct hp_slice key = entry_key(e);
    if (k->pattern.ptr != NULL &&
        !glob_match(k->pattern.ptr, k->pattern.len, key.ptr, key.len, false))
        return;
    if (k->type.ptr != NULL && !slice_eq_nocase(k->type, entry_type_name(e)))
        return;
    resp_add_bulk(k->out, key.ptr, key.len);
    k->emitted++;
}

static bool pattern_is_all(struct hp_slice p)
{
    return p.len == 1 && p.ptr[0] == '*';
}

/* Slots per shard_scan call while KEYS walks a whole shard. */
#define CMD_KEYS_SCAN_STEP 1024

void cmd_keys(struct exec_ctx *x)
{
    assert_all_held(x);
    struct key_emit k = {.out = x->out, .pattern = x->argv[1]};
    if (pattern_is_all(k.pattern))
        k.pattern.ptr = NULL;
    size_t mark = x->out->len;
    for (uint32_t i = 0; i < x->nshards; i++) {
        uint64_t cursor = 0;
        do {
            cursor = shard_scan(x->shards[i], x->db, cursor, CMD_KEYS_SCAN_STEP, x->now_ms,
                                key_emit_fn, &k);
        } while (cursor != 0 && !x->out->overflow);
    }
    char hdr[32];
    int n = snprintf(hdr, sizeof(hdr), "*%llu\r\n", (unsigned long long)k.emitted);
    HP_ASSERT(n > 0 && (size_t)n < sizeof(hdr));
    insert_header(x->out, mark, hdr, (size_t)n);
}

void cmd_dbsize(struct exec_ctx *x)
{
    assert_all_held(x);
    uint64_t n = 0;
    for (uint32_t i = 0; i < x->nshards; i++)
        n += shard_db_size(x->shards[i], x->db);
    resp_add_int(x->out, (int64_t)n);
}

/* FLUSHDB/FLUSHALL [ASYNC|SYNC]: both free inline (see UNLINK). */
static bool flush_args_ok(struct exec_ctx *x)
{
    if (x->argc == 1)
        return true;
    if (x->argc == 2 &&
        (slice_eq_nocase(x->argv[1], "async") || slice_eq_nocase(x->argv[1], "sync")))
        return true;
    resp_add_error(x->out, err_syntax);
    return false;
}

/* Empties the shards x holds: every shard when a client runs it, the
 * record's shard in recovery's parallel replay. */
void cmd_flushdb(struct exec_ctx *x)
{
    if (!flush_args_ok(x))
        return;
    for (uint32_t i = 0; i < x->nshards; i++)
        if (x->held_mask & (1ull << i))
            shard_flush_db(x->shards[i], x->db);
    exec_db_flushed(x, x->db);
    resp_add_simple(x->out, "OK");
}

/* Empties the shards x holds: every shard when a client runs it, the
 * record's shard in recovery's parallel replay. */
void cmd_flushall(struct exec_ctx *x)
{
    if (!flush_args_ok(x))
        return;
    for (uint32_t i = 0; i < x->nshards; i++)
        if (x->held_mask & (1ull << i))
            for (uint32_t db = 0; db < HP_NUM_DBS; db++)
                shard_flush_db(x->shards[i], db);
    exec_all_flushed(x);
    resp_add_simple(x->out, "OK");
}

static uint64_t random_u64(const struct exec_ctx *x)
{
    uint64_t r;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
        return r;
    /* No entropy available: any spread will do for RANDOMKEY (splitmix64). */
    uint64_t z = (uint64_t)x->now_ms + 0x9e3779b97f4a7c15ull + x->out->len;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Picks a shard with probability proportional to its key count, then a key
 * in it; shards whose keys turn out to be all expired are skipped. */
void cmd_randomkey(struct exec_ctx *x)
{
    assert_all_held(x);
    uint64_t total = 0;
    for (uint32_t i = 0; i < x->nshards; i++)
        total += shard_db_size(x->shards[i], x->db);
    if (total == 0) {
        resp_add_null(x->out, x->proto);
        return;
    }
    uint64_t bits = random_u64(x);
    uint64_t pick = bits % total;
    uint32_t first = 0;
    for (; first < x->nshards; first++) {
        uint64_t n = shard_db_size(x->shards[first], x->db);
        if (pick < n)
            break;
        pick -= n;
    }
    HP_ASSERT(first < x->nshards);
    for (uint32_t k = 0; k < x->nshards; k++) {
        struct shard *s = x->shards[(first + k) % x->nshards];
        struct entry *e = shard_random(s, x->db, x->now_ms, bits * 0x9e3779b97f4a7c15ull + k);
        if (e != NULL) {
            struct hp_slice key = entry_key(e);
            resp_add_bulk(x->out, key.ptr, key.len);
            return;
        }
    }
    resp_add_null(x->out, x->proto);
}

/* ---- SCAN ------------------------------------------------------------------ */

#define CMD_SCAN_SHARD_MASK ((1ull << CMD_SCAN_SHARD_SHIFT) - 1)
/* shard_scan calls per SCAN, each visiting about COUNT slots. */
#define CMD_SCAN_MAX_CALLS 10

/* Strict unsigned decimal, as the dispatcher validated it. */
static bool parse_cursor(struct hp_slice s, uint64_t *out)
{
    if (s.len == 0 || s.len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (c < '0' || c > '9')
            return false;
        uint64_t d = (uint64_t)(c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

struct scan_args {
    uint64_t count;
    struct hp_slice pattern; /* ptr NULL: no MATCH filter */
    struct hp_slice type;    /* ptr NULL: no TYPE filter */
};

/* Redis scanGenericCommand option rules; replies and returns false on error. */
static bool parse_scan_args(struct exec_ctx *x, struct scan_args *a)
{
    a->count = 10;
    a->pattern = hp_slice_make(NULL, 0);
    a->type = hp_slice_make(NULL, 0);
    for (int i = 2; i < x->argc; i += 2) {
        struct hp_slice opt = x->argv[i];
        bool has_value = i + 1 < x->argc;
        if (has_value && slice_eq_nocase(opt, "count")) {
            int64_t c;
            if (str_to_i64(x->argv[i + 1].ptr, x->argv[i + 1].len, &c) != 0) {
                resp_add_error(x->out, err_not_int);
                return false;
            }
            if (c < 1) {
                resp_add_error(x->out, err_syntax);
                return false;
            }
            a->count = (uint64_t)c;
        } else if (has_value && slice_eq_nocase(opt, "match")) {
            a->pattern = x->argv[i + 1];
            if (pattern_is_all(a->pattern))
                a->pattern.ptr = NULL;
        } else if (has_value && slice_eq_nocase(opt, "type")) {
            /* Redis compares with strcasecmp, which stops at a NUL; an
             * unknown name is no error in 7.0, it just matches nothing. */
            struct hp_slice t = x->argv[i + 1];
            const uint8_t *nul = memchr(t.ptr, 0, t.len);
            a->type = hp_slice_make(t.ptr ? t.ptr : (const uint8_t *)"",
                                    nul ? (size_t)(nul - t.ptr) : t.len);
        } else {
            resp_add_error(x->out, err_syntax);
            return false;
        }
    }
    return true;
}

void cmd_scan(struct exec_ctx *x)
{
    uint64_t cursor;
    if (!parse_cursor(x->argv[1], &cursor)) {
        resp_add_error(x->out, "ERR invalid cursor");
        return;
    }
    struct scan_args a;
    if (!parse_scan_args(x, &a))
        return;
    uint64_t shard = cursor >> CMD_SCAN_SHARD_SHIFT;
    uint64_t sc = cursor & CMD_SCAN_SHARD_MASK;
    size_t mark = x->out->len;
    struct key_emit k = {.out = x->out, .pattern = a.pattern, .type = a.type};
    uint64_t next = 0;
    if (shard < x->nshards) {
        HP_ASSERT(x->held_mask & (1ull << shard));
        struct shard *s = x->shards[shard];
        /* Like Redis: keep going until `count` entries came back or the
         * shard is done.  shard_scan bounds the slots one call visits, and
         * CMD_SCAN_MAX_CALLS bounds the calls, so a sparse table costs
         * bounded work per SCAN. */
        size_t per_call = (size_t)HP_MIN(a.count, (uint64_t)SIZE_MAX);
        int calls = CMD_SCAN_MAX_CALLS;
        do {
            sc = shard_scan(s, x->db, sc, per_call, x->now_ms, key_emit_fn, &k);
        } while (sc != 0 && --calls > 0 && k.visited < a.count && !x->out->overflow);
        HP_ASSERT(sc <= CMD_SCAN_SHARD_MASK);
        if (sc != 0)
            next = (shard << CMD_SCAN_SHARD_SHIFT) | sc;
        else if (shard + 1 < x->nshards)
            next = (shard + 1) << CMD_SCAN_SHARD_SHIFT;
    }
    /* else: not a cursor we handed out; the iteration is over. */
    char num[24];
    char hdr[64];
    int numlen = snprintf(num, sizeof(num), "%llu", (unsigned long long)next);
    int n = snprintf(hdr, sizeof(hdr), "*2\r\n$%d\r\n%s\r\n*%llu\r\n", numlen, num,
                     (unsigned long long)k.emitted);
    HP_ASSERT(numlen > 0 && n > 0 && (size_t)n < sizeof(hdr));
    insert_header(x->out, mark, hdr, (size_t)n);
}

/* ---- expiry ---------------------------------------------------------------- */

enum {
    EXPF_NX = 1u << 0,
    EXPF_XX = 1u << 1,
    EXPF_GT = 1u << 2,
    EXPF_LT = 1u << 3,
};

/* Redis parseExtendedExpireArgumentsOrReply. */
static bool parse_expire_flags(struct exec_ctx *x, uint32_t *flags)
{
    static const struct {
        const char *name;
        uint32_t flag;
    } opts[] = {{"nx", EXPF_NX}, {"xx", EXPF_XX}, {"gt", EXPF_GT}, {"lt", EXPF_LT}};
    *flags = 0;
    for (int j = 3; j < x->argc; j++) {
        uint32_t f = 0;
        for (size_t i = 0; i < HP_ARRAY_LEN(opts) && f == 0; i++)
            if (slice_eq_nocase(x->argv[j], opts[i].name))
                f = opts[i].flag;
        if (f == 0) {
            rbuf_append(x->out, "-ERR Unsupported option ", 24);
            append_user_text(x->out, x->argv[j]);
            rbuf_append(x->out, "\r\n", 2);
            return false;
        }
        *flags |= f;
    }
    if ((*flags & EXPF_NX) && (*flags & (EXPF_XX | EXPF_GT | EXPF_LT))) {
        resp_add_error(x->out, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return false;
    }
    if ((*flags & EXPF_GT) && (*flags & EXPF_LT)) {
        resp_add_error(x->out, "ERR GT and LT options at the same time are not compatible");
        return false;
    }
    return true;
}

/* Whether NX/XX/GT/LT allow replacing TTL `cur` (SHARD_NO_EXPIRE counts as
 * infinite) by `when`. */
static bool expire_flags_allow(uint32_t flags, int64_t cur, int64_t when)
{
    bool volatile_key = cur != SHARD_NO_EXPIRE;
    if ((flags & EXPF_NX) && volatile_key)
        return false;
    if ((flags & EXPF_XX) && !volatile_key)
        return false;
    if ((flags & EXPF_GT) && (!volatile_key || when <= cur))
        return false;
    if ((flags & EXPF_LT) && volatile_key && when >= cur)
        return false;
    return true;
}

/* Redis 7.0 expireGenericCommand. */
static void expire_generic(struct exec_ctx *x, bool relative, bool seconds, const char *cmd)
{
    struct hp_slice key = x->argv[1];
    uint32_t flags;
    if (!parse_expire_flags(x, &flags))
        return;
    int64_t when;
    if (str_to_i64(x->argv[2].ptr, x->argv[2].len, &when) != 0) {
        resp_add_error(x->out, err_not_int);
        return;
    }
    int64_t base = relative ? x->now_ms : 0;
    bool overflow = false;
    if (seconds) {
        overflow = when > INT64_MAX / 1000 || when < INT64_MIN / 1000;
        if (!overflow)
            when *= 1000;
    }
    overflow = overflow || (base > 0 && when > INT64_MAX - base);
    if (overflow) {
        resp_add_errorf(x->out, "ERR invalid expire time in '%s' command", cmd);
        return;
    }
    when += base;
    struct shard *s = exec_shard(x, key);
    struct entry *e = shard_find(s, x->db, key, x->now_ms);
    if (e == NULL || !expire_flags_allow(flags, entry_expire_ms(e), when)) {
        resp_add_int(x->out, 0);
        return;
    }
    /* A time already past deletes the key, as Redis does.  Negative times
     * go to shard_delete: shard_set_expire reads -1 as "no TTL". */
    exec_key_changed(x, x->db, key);
    int done = when <= x->now_ms ? shard_delete(s, x->db, key, x->now_ms)
                                 : shard_set_expire(s, x->db, key, when, x->now_ms);
    if (done < 0) {
        resp_add_error(x->out, err_oom);
        return;
    }
    HP_ASSERT(done == 1);
    resp_add_int(x->out, 1);
}

void cmd_expire(struct exec_ctx *x)
{
    expire_generic(x, true, true, "expire");
}

void cmd_pexpire(struct exec_ctx *x)
{
    expire_generic(x, true, false, "pexpire");
}

void cmd_expireat(struct exec_ctx *x)
{
    expire_generic(x, false, true, "expireat");
}

void cmd_pexpireat(struct exec_ctx *x)
{
    expire_generic(x, false, false, "pexpireat");
}

/* Redis ttlGenericCommand: -2 no key, -1 no TTL; seconds are rounded. */
static void ttl_generic(struct exec_ctx *x, bool ms, bool absolute)
{
    struct entry *e = lookup(x, x->argv[1]);
    if (e == NULL) {
        resp_add_int(x->out, -2);
        return;
    }
    int64_t expire = entry_expire_ms(e);
    if (expire == SHARD_NO_EXPIRE) {
        resp_add_int(x->out, -1);
        return;
    }
    int64_t ttl = absolute ? expire : expire - x->now_ms;
    if (ttl < 0)
        ttl = 0;
    /* Unsigned so a TTL near INT64_MAX rounds like Redis' build does. */
    resp_add_int(x->out, ms ? ttl : (int64_t)(((uint64_t)ttl + 500) / 1000));
}

void cmd_ttl(struct exec_ctx *x)
{
    ttl_generic(x, false, false);
}

void cmd_pttl(struct exec_ctx *x)
{
    ttl_generic(x, true, false);
}

void cmd_expiretime(struct exec_ctx *x)
{
    ttl_generic(x, false, true);
}

void cmd_pexpiretime(struct exec_ctx *x)
{
    ttl_generic(x, true, true);
}

void cmd_persist(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1];
    struct shard *s = exec_shard(x, key);
    struct entry *e = shard_find(s, x->db, key, x->now_ms);
    if (e == NULL || entry_expire_ms(e) == SHARD_NO_EXPIRE) {
        resp_add_int(x->out, 0);
        return;
    }
    exec_key_changed(x, x->db, key);
    int exists = shard_set_expire(s, x->db, key, SHARD_NO_EXPIRE, x->now_ms);
    if (exists < 0) {
        resp_add_error(x->out, err_oom);
        return;
    }
    HP_ASSERT(exists == 1);
    resp_add_int(x->out, 1);
}
