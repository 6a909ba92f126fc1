/*
 * cmd_hash.c - hash commands with Redis 7.0 semantics and replies.  The
 * value itself is storage/hash/ (encodings, conversion); this file parses,
 * replies, reports changed keys and logs what each write did.
 *
 * Out of memory: a new key is not created (its half-built hash freed); an
 * existing hash changed part-way keeps what was done, is reported changed
 * and logged by state (exec_log_states), and the reply is Redis' OOM error.
 */
#include "cmd.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../../common/resp.h"
#include "../../common/strutil.h"
#include "../../storage/hash/hash.h"

static const char err_wrongtype[] =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
static const char err_not_int[] = "ERR value is not an integer or out of range";
static const char err_not_float[] = "ERR value is not a valid float";
static const char err_syntax[] = "ERR syntax error";
static const char err_oom[] = "OOM command not allowed when used memory > 'maxmemory'.";

/* Read lookup (counts a hit/miss).  NULL with *wrong false: no key. */
static struct hash *hash_read(struct exec_ctx *x, struct hp_slice key, bool *wrong)
{
    struct shard *s = exec_shard(x, key);
    struct entry *e = exec_find_read(x, s, key);
    *wrong = false;
    if (e == NULL)
        return NULL;
    if (entry_type(e) != OBJ_HASH) {
        *wrong = true;
        return NULL;
    }
    return entry_obj(e);
}

/* A hash being written: the entry (NULL when the key is new) and the
 * payload, which may move while it is changed. */
struct hw {
    struct shard *s;
    struct entry *e;
    struct hash *h;
    bool created;
};

/* Opens key for writing, creating an empty hash when absent (create) .
 * Replies and returns false on WRONGTYPE or OOM, or when !create and the
 * key is absent (no reply then: h stays NULL, returns true). */
static bool hw_open(struct exec_ctx *x, struct hp_slice key, bool create, struct hw *w)
{
    w->s = exec_shard(x, key);
    w->created = false;
    w->h = NULL;
    enum shard_lookup r = shard_find_typed(w->s, x->db, key, OBJ_HASH, x->now_ms, &w->e);
    if (r == SHARD_LOOKUP_WRONGTYPE) {
        resp_add_error(x->out, err_wrongtype);
        return false;
    }
    if (r == SHARD_LOOKUP_FOUND) {
        w->h = entry_obj(w->e);
        return true;
    }
    if (!create)
        return true;
    w->h = hash_new(w->s);
    if (w->h == NULL) {
        resp_add_error(x->out, err_oom);
        return false;
    }
    w->created = true;
    return true;
}

/* Installs the (possibly moved) payload.  A new key that is empty or whose
 * writes failed is dropped.  false: out of memory, nothing installed. */
static bool hw_close(struct exec_ctx *x, struct hp_slice key, struct hw *w, bool failed)
{
    if (w->created) {
        if (failed || hash_len(w->h) == 0) {
            hash_free(w->s, w->h);
            return !failed;
        }
        if (shard_obj_set(w->s, x->db, key, OBJ_HASH, w->h, SHARD_NO_EXPIRE, x->now_ms) != 0) {
            hash_free(w->s, w->h);
            return false;
        }
        exec_key_changed(x, x->db, key);
        return true;
    }
    entry_obj_set(w->e, w->h);
    exec_key_changed(x, x->db, key);
    if (hash_len(w->h) == 0) {
        int rc = shard_delete(w->s, x->db, key, x->now_ms);
        HP_ASSERT(rc == 1);
    }
    if (failed)
        exec_log_states(x);
    return !failed;
}

/* Logs argv[0..first) + argv[first..argc) as records of at most
 * EXEC_RECORD_ARGC_MAX arguments, cutting the tail into groups of `step`
 * (2 for pairs), under command name `cmd`. */
static void log_split(struct exec_ctx *x, const char *cmd, int first, int step)
{
    struct hp_slice rec[EXEC_RECORD_ARGC_MAX];
    int per = ((int)EXEC_RECORD_ARGC_MAX - first) / step * step;
    for (int i = first; i < x->argc; i += per) {
        int n = x->argc - i < per ? x->argc - i : per;
        for (int k = 0; k < first; k++)
            rec[k] = x->argv[k];
        rec[0] = hp_slice_make(cmd, strlen(cmd));
        memcpy(&rec[first], &x->argv[i], (size_t)n * sizeof(rec[0]));
        exec_log_record(x, x->db, (uint32_t)(first + n), rec);
    }
}

static void hset_generic(struct exec_ctx *x, const char *name, bool reply_ok)
{
    if (x->argc % 2 != 0) {
        resp_add_errorf(x->out, "ERR wrong number of arguments for '%s' command", name);
        return;
    }
    struct hp_slice key = x->argv[1];
    struct hw w;
    if (!hw_open(x, key, true, &w))
        return;
    int64_t created = 0;
    bool failed = false;
    for (int i = 2; i < x->argc; i += 2) {
        int rc = hash_set(w.s, &w.h, x->argv[i], x->argv[i + 1]);
        if (rc < 0) {
            failed = true;
            break;
        }
        created += rc;
    }
    if (!hw_close(x, key, &w, failed)) {
        resp_add_error(x->out, err_oom);
        return;
    }
    /* HMSET is logged as HSET: the same change. */
    if (x->argc <= (int)EXEC_RECORD_ARGC_MAX && !reply_ok)
        exec_log_argv(x);
    else
        log_split(x, "HSET", 2, 2);
    if (reply_ok)
        resp_add_simple(x->out, "OK");
    else
        resp_add_int(x->out, created);
}

void cmd_hset(struct exec_ctx *x)
{
    hset_generic(x, "hset", false);
}

void cmd_hmset(struct exec_ctx *x)
{
    hset_generic(x, "hmset", true);
}

void cmd_hsetnx(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1];
    struct hw w;
    if (!hw_open(x, key, true, &w))
        return;
    struct hp_slice cur;
    if (hash_get(w.h, x->argv[2], &cur)) {
        HP_ASSERT(!w.created);
        resp_add_int(x->out, 0);
        return;
    }
    bool failed = hash_set(w.s, &w.h, x->argv[2], x->argv[3]) < 0;
    if (!hw_close(x, key, &w, failed)) {
        resp_add_error(x->out, err_oom);
        return;
    }
    exec_log_argv(x);
    resp_add_int(x->out, 1);
}

void cmd_hget(struct exec_ctx *x)
{
    bool wrong;
    struct hash *h = hash_read(x, x->argv[1], &wrong);
    struct hp_slice v;
    if (wrong)
        resp_add_error(x->out, err_wrongtype);
    else if (h != NULL && hash_get(h, x->argv[2], &v))
        resp_add_bulk(x->out, v.ptr, v.len);
    else
        resp_add_null(x->out, x->proto);
}

void cmd_hmget(struct exec_ctx *x)
{
    bool wrong;
    struct hash *h = hash_read(x, x->argv[1], &wrong);
    if (wrong) {
        resp_add_error(x->out, err_wrongtype);
        return;
    }
    resp_add_array(x->out, (size_t)(x->argc - 2));
    for (int i = 2; i < x->argc; i++) {
        struct hp_slice v;
        if (h != NULL && hash_get(h, x->argv[i], &v))
            resp_add_bulk(x->out, v.ptr, v.len);
        else
            resp_add_null(x->out, x->proto);
    }
}

void cmd_hdel(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1];
    struct hw w;
    if (!hw_open(x, key, false, &w))
        return;
    if (w.h == NULL) {
        resp_add_int(x->out, 0);
        return;
    }
    int64_t n = 0;
    for (int i = 2; i < x->argc && hash_len(w.h) > 0; i++)
        n += hash_del(w.s, &w.h, x->argv[i]);
    if (n == 0) {
        resp_add_int(x->out, 0);
        return;
    }
    bool ok = hw_close(x, key, &w, false);
    HP_ASSERT(ok);
    if (x->argc <= (int)EXEC_RECORD_ARGC_MAX)
        exec_log_argv(x);
    else
        log_split(x, "HDEL", 2, 1);
    resp_add_int(x->out, n);
}

void cmd_hlen(struct exec_ctx *x)
{
    bool wrong;
    struct hash *h = hash_read(x, x->argv[1], &wrong);
    if (wrong)
        resp_add_error(x->out, err_wrongtype);
    else
        resp_add_int(x->out, h != NULL ? (int64_t)hash_len(h) : 0);
}

void cmd_hstrlen(struct exec_ctx *x)
{
    bool wrong;
    struct hash *h = hash_read(x, x->argv[1], &wrong);
    struct hp_slice v = {0};
    if (wrong)
        resp_add_error(x->out, err_wrongtype);
    else
        resp_add_int(x->out, h != NULL && hash_get(h, x->argv[2], &v) ? (int64_t)v.len : 0);
}

void cmd_hexists(struct exec_ctx *x)
{
    bool wrong;
    struct hash *h = hash_read(x, x->argv[1], &wrong);
    struct hp_slice v;
    if (wrong)
        resp_add_error(x->out, err_wrongtype);
    else
        resp_add_int(x->out, h != NULL && hash_get(h, x->argv[2], &v) ? 1 : 0);
}

enum getall_what { GA_KEYS = 1, GA_VALS = 2, GA_BOTH = 3 };

static void getall(struct exec_ctx *x, enum getall_what what)
{
    bool wrong;
    struct hash *h = hash_read(x, x->argv[1], &wrong);
    if (wrong) {
        resp_add_error(x->out, err_wrongtype);
        return;
    }
    size_t n = h != NULL ? hash_len(h) : 0;
    if (what == GA_BOTH)
        resp_add_map(x->out, x->proto, n);
    else
        resp_add_array(x->out, n);
    if (h == NULL)
        return;
    struct hash_iter it;
    struct hp_slice f, v;
    hash_iter_init(&it, h);
    while (hash_iter_next(&it, &f, &v)) {
        if (what & GA_KEYS)
            resp_add_bulk(x->out, f.ptr, f.len);
        if (what & GA_VALS)
            resp_add_bulk(x->out, v.ptr, v.len);
    }
}

void cmd_hgetall(struct exec_ctx *x)
{
    getall(x, GA_BOTH);
}

void cmd_hkeys(struct exec_ctx *x)
{
    getall(x, GA_KEYS);
}

void cmd_hvals(struct exec_ctx *x)
{
    getall(x, GA_VALS);
}

void cmd_hincrby(struct exec_ctx *x)
{
    int64_t by, cur = 0;
    if (str_to_i64(x->argv[3].ptr, x->argv[3].len, &by) != 0) {
        resp_add_error(x->out, err_not_int);
        return;
    }
    struct hp_slice key = x->argv[1];
    struct hw w;
    if (!hw_open(x, key, true, &w))
        return;
    struct hp_slice v;
    if (hash_get(w.h, x->argv[2], &v) && str_to_i64(v.ptr, v.len, &cur) != 0) {
        HP_ASSERT(!w.created);   /* a new hash has no fields */
        resp_add_error(x->out, "ERR hash value is not an integer");
        return;
    }
    if ((by < 0 && cur < 0 && by < INT64_MIN - cur) ||
        (by > 0 && cur > 0 && by > INT64_MAX - cur)) {
        if (w.created)
            hash_free(w.s, w.h);
        resp_add_error(x->out, "ERR increment or decrement would overflow");
        return;
    }
    int64_t res = cur + by;
    char buf[24];
    size_t n = i64_to_str(buf, res);
    bool failed = hash_set(w.s, &w.h, x->argv[2], hp_slice_make(buf, n)) < 0;
    if (!hw_close(x, key, &w, failed)) {
        resp_add_error(x->out, err_oom);
        return;
    }
    exec_log_argv(x);
    resp_add_int(x->out, res);
}

/* resp_format_long_double() needs this much room (Redis MAX_LONG_DOUBLE_CHARS). */
#define CMD_LONG_DOUBLE_CHARS (5 * 1024)

void cmd_hincrbyfloat(struct exec_ctx *x)
{
    long double by, cur = 0;
    if (str_to_long_double(x->argv[3].ptr, x->argv[3].len, &by) != 0) {
        resp_add_error(x->out, err_not_float);
        return;
    }
    if (isnan(by) || isinf(by)) {
        resp_add_error(x->out, "ERR value is NaN or Infinity");
        return;
    }
    struct hp_slice key = x->argv[1];
    struct hw w;
    if (!hw_open(x, key, true, &w))
        return;
    struct hp_slice v;
    if (hash_get(w.h, x->argv[2], &v) && str_to_long_double(v.ptr, v.len, &cur) != 0) {
        HP_ASSERT(!w.created);   /* a new hash has no fields */
        resp_add_error(x->out, "ERR hash value is not a float");
        return;
    }
    cur += by;
    if (isnan(cur) || isinf(cur)) {
        if (w.created)
            hash_free(w.s, w.h);
        resp_add_error(x->out, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[CMD_LONG_DOUBLE_CHARS];
    size_t n = resp_format_long_double(buf, sizeof(buf), cur);
    HP_ASSERT(n > 0);
    HP_ASSERT(n < sizeof(buf));
    bool failed = hash_set(w.s, &w.h, x->argv[2], hp_slice_make(buf, n)) < 0;
    if (!hw_close(x, key, &w, failed)) {
        resp_add_error(x->out, err_oom);
        return;
    }
    /* The result, not the increment: replay must not re-round. */
    struct hp_slice rec[4] = {hp_slice_make("HSET", 4), key, x->argv[2], hp_slice_make(buf, n)};
    exec_log_record(x, x->db, 4, rec);
    resp_add_bulk(x->out, buf, n);
}

static uint64_t random_u64(const struct exec_ctx *x)
{
    uint64_t r;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
        return r;
    /* No entropy available: any spread will do (splitmix64). */
    uint64_t z = (uint64_t)x->now_ms + 0x9e3779b97f4a7c15ull + x->out->len;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t splitmix(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rand_pair(struct exec_ctx *x, bool withvalues, struct hp_slice f, struct hp_slice v)
{
    if (withvalues && x->proto >= 3)
        resp_add_array(x->out, 2);
    resp_add_bulk(x->out, f.ptr, f.len);
    if (withvalues)
        resp_add_bulk(x->out, v.ptr, v.len);
}

/* Bound on distinct picks per HRANDFIELD: the reply must be built in
 * one go, and picking k of n distinct by marking needs n bits. */
#define HRAND_MAX_BITMAP ((size_t)1 << 20)

static void hrandfield_count(struct exec_ctx *x, int64_t l, bool withvalues)
{
    bool wrong;
    struct hash *h = hash_read(x, x->argv[1], &wrong);
    if (wrong) {
        resp_add_error(x->out, err_wrongtype);
        return;
    }
    if (h == NULL || l == 0) {
        resp_add_array(x->out, 0);
        return;
    }
    uint64_t st = random_u64(x);
    size_t size = hash_len(h);
    struct hp_slice f, v;
    if (l < 0) {
        /* repeats allowed */
        uint64_t count = (uint64_t)(-l);
        resp_add_array(x->out, withvalues && x->proto < 3 ? count * 2 : count);
        for (uint64_t i = 0; i < count && !x->out->overflow; i++) {
            hash_random(h, splitmix(&st), &f, &v);
            rand_pair(x, withvalues, f, v);
        }
        return;
    }
    uint64_t count = (uint64_t)l;
    struct hash_iter it;
    if (count >= size) {
        resp_add_array(x->out, withvalues && x->proto < 3 ? size * 2 : size);
        hash_iter_init(&it, h);
        while (hash_iter_next(&it, &f, &v))
            rand_pair(x, withvalues, f, v);
        return;
    }
    /* count < size: choose `count` distinct positions of the iteration
     * order (selection sampling, Knuth's algorithm S: one pass, uniform,
     * no extra memory). */
    resp_add_array(x->out, withvalues && x->proto < 3 ? count * 2 : count);
    size_t need = count, left = size;
    hash_iter_init(&it, h);
    while (need > 0 && hash_iter_next(&it, &f, &v)) {
        if (splitmix(&st) % left < need) {
            rand_pair(x, withvalues, f, v);
            need--;
        }
        left--;
    }
    HP_ASSERT(need == 0);
}

void cmd_hrandfield(struct exec_ctx *x)
{
    if (x->argc >= 3) {
        int64_t l;
        if (str_to_i64(x->argv[2].ptr, x->argv[2].len, &l) != 0) {
            resp_add_error(x->out, err_not_int);
            return;
        }
        if (l == INT64_MIN) {
            resp_add_error(x->out, "ERR value is out of range, value must between "
                                   "-9223372036854775807 and 9223372036854775807");
            return;
        }
        bool withvalues = false;
        if (x->argc > 4 || (x->argc == 4 && !slice_eq_nocase(x->argv[3], "withvalues"))) {
            resp_add_error(x->out, err_syntax);
            return;
        }
        if (x->argc == 4) {
            withvalues = true;
            if (l < -INT64_MAX / 2 || l > INT64_MAX / 2) {
                resp_add_error(x->out, "ERR value is out of range");
                return;
            }
        }
        hrandfield_count(x, l, withvalues);
        return;
    }
    bool wrong;
    struct hash *h = hash_read(x, x->argv[1], &wrong);
    if (wrong) {
        resp_add_error(x->out, err_wrongtype);
        return;
    }
    if (h == NULL) {
        resp_add_null(x->out, x->proto);
        return;
    }
    struct hp_slice f, v;
    hash_random(h, random_u64(x), &f, &v);
    resp_add_bulk(x->out, f.ptr, f.len);
}

/* HSCAN collects into a bounded list first: the element count heads the
 * reply.  Slices point into the hash, which does not change meanwhile. */
#define HSCAN_MAX_PAIRS 4096
struct hscan_acc {
    struct hp_slice pattern; /* ptr NULL: all */
    size_t n;
    bool full;
    struct hp_slice fv[2 * HSCAN_MAX_PAIRS];
};

static void hscan_cb(void *arg, struct hp_slice f, struct hp_slice v)
{
    struct hscan_acc *a = arg;
    if (a->pattern.ptr != NULL &&
        !glob_match(a->pattern.ptr, a->pattern.len, f.ptr, f.len, false))
        return;
    if (a->n == HSCAN_MAX_PAIRS) {
        a->full = true;
        return;
    }
    a->fv[2 * a->n] = f;
    a->fv[2 * a->n + 1] = v;
    a->n++;
}

void cmd_hscan(struct exec_ctx *x)
{
    uint64_t cursor;
    if (!str_to_scan_cursor(x->argv[2], &cursor)) {
        resp_add_error(x->out, "ERR invalid cursor");
        return;
    }
    bool wrong;
    struct hash *h = hash_read(x, x->argv[1], &wrong);
    if (wrong) {
        resp_add_error(x->out, err_wrongtype);
        return;
    }
    if (h == NULL) {
        /* Redis replies the empty scan before it reads the options. */
        resp_add_array(x->out, 2);
        resp_add_bulk(x->out, "0", 1);
        resp_add_array(x->out, 0);
        return;
    }
    uint64_t count = 10;
    struct hp_slice pattern = hp_slice_make(NULL, 0);
    for (int i = 3; i < x->argc; i += 2) {
        bool has_value = i + 1 < x->argc;
        if (has_value && slice_eq_nocase(x->argv[i], "count")) {
            int64_t c;
            if (str_to_i64(x->argv[i + 1].ptr, x->argv[i + 1].len, &c) != 0) {
                resp_add_error(x->out, err_not_int);
                return;
            }
            if (c < 1) {
                resp_add_error(x->out, err_syntax);
                return;
            }
            count = (uint64_t)c;
        } else if (has_value && slice_eq_nocase(x->argv[i], "match")) {
            pattern = x->argv[i + 1];
            if (pattern.len == 1 && pattern.ptr[0] == '*')
                pattern.ptr = NULL;
        } else {
            resp_add_error(x->out, err_syntax);
            return;
        }
    }
    static _Thread_local struct hscan_acc acc;
    acc.pattern = pattern;
    acc.n = 0;
    acc.full = false;
    uint64_t next = 0;
    if (h != NULL) {
        if (hash_encoding(h) == HASH_ENC_LISTPACK) {
            next = hash_scan(h, 0, 0, hscan_cb, &acc);
        } else {
            /* A few buckets at a time so a COUNT the list cannot hold
             * still makes progress without losing fields: stop before a
             * call could overflow the list (chains are short; a bucket
             * holding more than the room left is still taken whole when
             * the list is empty, the rest of it dropped would be a bug, so
             * that case is asserted against). */
            uint64_t c = cursor;
            uint64_t buckets = count > HSCAN_MAX_PAIRS / 4 ? HSCAN_MAX_PAIRS / 4 : count;
            do {
                c = hash_scan(h, c, 1, hscan_cb, &acc);
                HP_ASSERT(!acc.full);
            } while (c != 0 && --buckets > 0 && acc.n < count &&
                     acc.n + 64 < HSCAN_MAX_PAIRS);
            next = c;
        }
    }
    HP_ASSERT(!acc.full || hash_encoding(h) == HASH_ENC_LISTPACK);
    resp_add_array(x->out, 2);
    char buf[24];
    size_t n = i64_to_str(buf, 0);
    if (next != 0) {
        /* u64 cursor as decimal */
        char tmp[24];
        size_t k = 0;
        uint64_t c = next;
        while (c > 0) {
            tmp[k++] = (char)('0' + c % 10);
            c /= 10;
        }
        for (n = 0; n < k; n++)
            buf[n] = tmp[k - 1 - n];
    }
    resp_add_bulk(x->out, buf, n);
    resp_add_array(x->out, 2 * acc.n);
    for (size_t i = 0; i < 2 * acc.n; i++)
        resp_add_bulk(x->out, acc.fv[i].ptr, acc.fv[i].len);
}
