/*
 * cmd_set.c - one-key set commands with Redis 7.0 semantics and replies:
 * SADD, SREM, SISMEMBER, SMISMEMBER, SCARD, SMEMBERS, SPOP, SRANDMEMBER,
 * SSCAN.  The set itself (encodings, conversion) is storage/set/.
 *
 * Logging (exec.h, "Operation records"): SADD/SREM log themselves (as
 * received, split past EXEC_RECORD_ARGC_MAX); SPOP logs the SREM of what it
 * popped (or DEL when it took the whole set), so replay needs no
 * randomness; a write that ran out of memory part-way logs the key's state.
 */
#include "cmd_set.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "../../common/resp.h"
#include "../../common/strutil.h"

const char cmd_set_err_wrongtype[] =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
const char cmd_set_err_oom[] = "OOM command not allowed when used memory > 'maxmemory'.";
static const char err_not_int[] = "ERR value is not an integer or out of range";
static const char err_syntax[] = "ERR syntax error";

/* SRANDMEMBER with a negative count replies |count| members; hotpath
 * bounds it (Redis does not) so one reply cannot exhaust memory. */
#define SET_RANDMEMBER_MAX ((int64_t)1 << 24)
/* Redis' SPOP_MOVE_STRATEGY_MUL: when (size - count) * 5 <= count, SPOP
 * keeps the few that stay in a new set instead of popping one by one. */
#define SPOP_MOVE_STRATEGY_MUL 5u

enum shard_lookup cmd_set_lookup(struct exec_ctx *x, struct shard *s, struct hp_slice key,
                                 bool read, struct set **out)
{
    struct entry *e = NULL;
    enum shard_lookup r = shard_find_typed(s, x->db, key, OBJ_SET, x->now_ms, &e);
    if (read) {
        uint64_t *counter = r == SHARD_LOOKUP_NONE ? x->keyspace_misses : x->keyspace_hits;
        if (counter != NULL)
            (*counter)++;
    }
    *out = r == SHARD_LOOKUP_FOUND ? entry_obj(e) : NULL;
    return r;
}

void cmd_set_log_members(struct exec_ctx *x, const char *word, struct hp_slice key,
                         const struct hp_slice *members, size_t n)
{
    struct hp_slice av[EXEC_RECORD_ARGC_MAX];
    av[0] = hp_slice_make(word, strlen(word));
    av[1] = key;
    size_t per = EXEC_RECORD_ARGC_MAX - 2;
    for (size_t i = 0; i < n; i += per) {
        size_t k = HP_MIN(per, n - i);
        memcpy(&av[2], &members[i], k * sizeof(av[0]));
        exec_log_record(x, x->db, (uint32_t)(k + 2), av);
    }
}

void cmd_set_insert_header(struct exec_ctx *x, size_t mark, bool set_type, uint64_t n)
{
    struct rbuf *out = x->out;
    if (out->overflow)
        return; /* the buffer is dead; its owner drops the connection */
    char hdr[32];
    int len = snprintf(hdr, sizeof(hdr), "%c%llu\r\n", set_type && x->proto == 3 ? '~' : '*',
                       (unsigned long long)n);
    HP_ASSERT(len > 0 && (size_t)len < sizeof(hdr));
    HP_ASSERT(mark <= out->len);
    if (rbuf_reserve(out, (size_t)len) == NULL)
        return;
    memmove(out->data + mark + len, out->data + mark, out->len - mark);
    memcpy(out->data + mark, hdr, (size_t)len);
    rbuf_commit(out, (size_t)len);
}

/* Per worker thread: SPOP/SRANDMEMBER's randomness (never replayed). */
static __thread uint64_t set_rng;

static uint64_t *rng(void)
{
    if (HP_UNLIKELY(set_rng == 0)) {
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
            seed = (uint64_t)(uintptr_t)&set_rng;
        set_rng = seed | 1;
    }
    return &set_rng;
}

/* ---- SADD / SREM ------------------------------------------------------------ */

void cmd_sadd(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1];
    struct shard *s = exec_shard(x, key);
    struct set *st;
    enum shard_lookup r = cmd_set_lookup(x, s, key, false, &st);
    if (r == SHARD_LOOKUP_WRONGTYPE) {
        resp_add_error(x->out, cmd_set_err_wrongtype);
        return;
    }
    bool created = r == SHARD_LOOKUP_NONE;
    if (created) {
        /* Redis' setTypeCreate: the first member picks the encoding. */
        st = set_new_for(s, x->argv[2]);
        if (st == NULL) {
            resp_add_error(x->out, cmd_set_err_oom);
            return;
        }
    }
    int64_t added = 0;
    bool oom = false;
    for (int j = 2; j < x->argc && !oom; j++) {
        int rc = set_add(s, st, x->argv[j]);
        if (rc < 0)
            oom = true;
        else
            added += rc;
    }
    if (created) {
        /* A new set that is not installed leaves the keyspace as it was. */
        if (oom || shard_obj_set(s, x->db, key, OBJ_SET, st, SHARD_NO_EXPIRE, x->now_ms) != 0) {
            set_free(s, st);
            resp_add_error(x->out, cmd_set_err_oom);
            return;
        }
    }
    if (added > 0 || oom)
        exec_key_changed(x, x->db, key);
    if (oom) {
        exec_log_states(x);
        resp_add_error(x->out, cmd_set_err_oom);
        return;
    }
    if (added > 0)
        cmd_set_log_members(x, "SADD", key, &x->argv[2], (size_t)(x->argc - 2));
    resp_add_int(x->out, added);
}

void cmd_srem(struct exec_ctx *x)
{
    struct hp_slice key = x->argv[1];
    struct shard *s = exec_shard(x, key);
    struct set *st;
    enum shard_lookup r = cmd_set_lookup(x, s, key, false, &st);
    if (r != SHARD_LOOKUP_FOUND) {
        if (r == SHARD_LOOKUP_WRONGTYPE)
            resp_add_error(x->out, cmd_set_err_wrongtype);
        else
            resp_add_int(x->out, 0);
        return;
    }
    int64_t removed = 0;
    for (int j = 2; j < x->argc && set_size(st) > 0; j++)
        removed += set_remove(s, st, x->argv[j]);
    if (removed > 0) {
        exec_key_changed(x, x->db, key);
        cmd_set_log_members(x, "SREM", key, &x->argv[2], (size_t)(x->argc - 2));
        if (set_size(st) == 0) {
            int deleted = shard_delete(s, x->db, key, x->now_ms);
            HP_ASSERT(deleted == 1);
        }
    }
    resp_add_int(x->out, removed);
}

/* ---- reads ------------------------------------------------------------------ */

/* The set to read, or NULL after replying WRONGTYPE or (missing) `empty`. */
static struct set *read_set_or_reply(struct exec_ctx *x, struct hp_slice key, void (*empty)(
                                         struct exec_ctx *x))
{
    struct set *st;
    enum shard_lookup r = cmd_set_lookup(x, exec_shard(x, key), key, true, &st);
    if (r == SHARD_LOOKUP_WRONGTYPE) {
        resp_add_error(x->out, cmd_set_err_wrongtype);
        return NULL;
    }
    if (r == SHARD_LOOKUP_NONE) {
        empty(x);
        return NULL;
    }
    return st;
}

static void reply_zero(struct exec_ctx *x)
{
    resp_add_int(x->out, 0);
}

static void reply_null(struct exec_ctx *x)
{
    resp_add_null(x->out, x->proto);
}

static void reply_empty_set(struct exec_ctx *x)
{
    resp_add_set(x->out, x->proto, 0);
}

static void reply_empty_array(struct exec_ctx *x)
{
    resp_add_array(x->out, 0);
}

void cmd_sismember(struct exec_ctx *x)
{
    struct set *st = read_set_or_reply(x, x->argv[1], reply_zero);
    if (st != NULL)
        resp_add_int(x->out, set_contains(st, x->argv[2]) ? 1 : 0);
}

void cmd_smismember(struct exec_ctx *x)
{
    struct set *st;
    enum shard_lookup r = cmd_set_lookup(x, exec_shard(x, x->argv[1]), x->argv[1], true, &st);
    if (r == SHARD_LOOKUP_WRONGTYPE) {
        resp_add_error(x->out, cmd_set_err_wrongtype);
        return;
    }
    resp_add_array(x->out, (size_t)(x->argc - 2));
    for (int j = 2; j < x->argc; j++)
        resp_add_int(x->out, st != NULL && set_contains(st, x->argv[j]) ? 1 : 0);
}

void cmd_scard(struct exec_ctx *x)
{
    struct set *st = read_set_or_reply(x, x->argv[1], reply_zero);
    if (st != NULL)
        resp_add_int(x->out, (int64_t)set_size(st));
}

/* The whole set as a RESP3 set / RESP2 array, in iteration order (intset:
 * ascending, as Redis). */
static void reply_members(struct exec_ctx *x, const struct set *st, bool set_type)
{
    if (set_type)
        resp_add_set(x->out, x->proto, set_size(st));
    else
        resp_add_array(x->out, set_size(st));
    struct set_iter it;
    struct hp_slice m;
    set_iter_init(&it, st);
    while (set_iter_next(&it, &m) && !x->out->overflow)
        resp_add_bulk(x->out, m.ptr, m.len);
}

void cmd_smembers(struct exec_ctx *x)
{
    struct set *st = read_set_or_reply(x, x->argv[1], reply_empty_set);
    if (st != NULL)
        reply_members(x, st, true);
}

/* ---- SPOP ------------------------------------------------------------------- */

/* Redis getPositiveLongFromObjectOrReply for SPOP's count. */
static bool parse_pop_count(struct exec_ctx *x, struct hp_slice a, int64_t *out)
{
    if (str_to_i64(a.ptr, a.len, out) != 0 || *out < 0) {
        resp_add_error(x->out, "ERR value is out of range, must be positive");
        return false;
    }
    return true;
}

/* Pops `count` (< size) random members, replying each and logging them as
 * SREM records.  The popped bytes are still in the reply buffer when a
 * record batch is written, so the records point there instead of copying
 * every member twice. */
static void pop_some(struct exec_ctx *x, struct shard *s, struct set *st, struct hp_slice key,
                     uint64_t count)
{
    enum { PER = EXEC_RECORD_ARGC_MAX - 2 };
    size_t off[PER], len[PER];
    size_t nb = 0;
    resp_add_set(x->out, x->proto, count);
    for (uint64_t i = 0; i < count; i++) {
        char buf[SET_INT_BUF];
        struct hp_slice m = set_random(st, rng(), buf);
        resp_add_bulk(x->out, m.ptr, m.len);
        if (!x->out->overflow) {
            HP_ASSERT(x->out->len >= m.len + 2);
            off[nb] = x->out->len - 2 - m.len;
            len[nb] = m.len;
            nb++;
        }
        int removed_one = set_remove(s, st, m);
        HP_ASSERT(removed_one == 1);
        if (nb == PER || (i + 1 == count && nb > 0)) {
            if (x->out->overflow) {
                exec_log_states(x);
            } else {
                struct hp_slice mem[PER];
                for (size_t k = 0; k < nb; k++)
                    mem[k] = hp_slice_make(x->out->data + off[k], len[k]);
                cmd_set_log_members(x, "SREM", key, mem, nb);
            }
            nb = 0;
        }
    }
    if (x->out->overflow)
        exec_log_states(x);
}

/* Redis 7.0's SPOP case 3 (few members stay): the `remaining` members that
 * stay are moved into a new set made by setTypeCreate from the first of
 * them (so a hashtable of integers becomes an intset, as in Redis), the
 * rest is the reply.  The new contents are swapped into the key's set root
 * (its payload pointer and TTL stay).  Logged as the key's state: SREMs
 * would not reproduce the change of encoding.  -1 out of memory, nothing
 * changed. */
static int pop_most(struct exec_ctx *x, struct shard *s, struct set *st, uint64_t remaining)
{
    HP_ASSERT(remaining > 0);
    HP_ASSERT(remaining < set_size(st));
    struct set *keep = NULL;
    uint64_t *r = rng();
    /* Pick the members that stay without changing st (so a failure leaves
     * it whole): random picks, repeats skipped by `keep` itself. */
    while (keep == NULL || set_size(keep) < remaining) {
        char buf[SET_INT_BUF];
        struct hp_slice m = set_random(st, r, buf);
        if (keep == NULL && (keep = set_new_for(s, m)) == NULL)
            return -1;
        if (set_add(s, keep, m) < 0) {
            set_free(s, keep);
            return -1;
        }
    }
    exec_log_states(x);
    /* Reply every member of st that does not stay, then swap. */
    resp_add_set(x->out, x->proto, set_size(st) - remaining);
    struct set_iter it;
    struct hp_slice m;
    set_iter_init(&it, st);
    while (set_iter_next(&it, &m) && !x->out->overflow)
        if (!set_contains(keep, m))
            resp_add_bulk(x->out, m.ptr, m.len);
    struct set tmp = *st;
    *st = *keep;
    *keep = tmp;
    set_free(s, keep);
    return 0;
}

void cmd_spop(struct exec_ctx *x)
{
    if (x->argc > 3) {
        resp_add_error(x->out, err_syntax);
        return;
    }
    struct hp_slice key = x->argv[1];
    int64_t count = 1;
    if (x->argc == 3 && !parse_pop_count(x, x->argv[2], &count))
        return;
    struct shard *s = exec_shard(x, key);
    struct set *st;
    enum shard_lookup r = cmd_set_lookup(x, s, key, false, &st);
    if (r == SHARD_LOOKUP_WRONGTYPE) {
        resp_add_error(x->out, cmd_set_err_wrongtype);
        return;
    }
    if (r == SHARD_LOOKUP_NONE || (x->argc == 3 && count == 0)) {
        if (x->argc == 3)
            resp_add_set(x->out, x->proto, 0);
        else
            resp_add_null(x->out, x->proto);
        return;
    }
    exec_key_changed(x, x->db, key);
    if (x->argc == 2) {
        char buf[SET_INT_BUF];
        struct hp_slice m = set_random(st, rng(), buf);
        resp_add_bulk(x->out, m.ptr, m.len);
        struct hp_slice rec[3] = {hp_slice_make("SREM", 4), key, m};
        exec_log_record(x, x->db, 3, rec);
        int removed_one = set_remove(s, st, m);
        HP_ASSERT(removed_one == 1);
    } else if ((uint64_t)count >= set_size(st)) {
        /* The whole set (Redis replies it as SUNION would), then the key
         * goes: logged as DEL, as Redis propagates it. */
        reply_members(x, st, true);
        struct hp_slice rec[2] = {hp_slice_make("DEL", 3), key};
        exec_log_record(x, x->db, 2, rec);
        int deleted = shard_delete(s, x->db, key, x->now_ms);
        HP_ASSERT(deleted == 1);
        return;
    } else if ((set_size(st) - (uint64_t)count) * SPOP_MOVE_STRATEGY_MUL <= (uint64_t)count) {
        if (pop_most(x, s, st, set_size(st) - (uint64_t)count) != 0) {
            resp_add_error(x->out, cmd_set_err_oom);
            return;
        }
    } else {
        pop_some(x, s, st, key, (uint64_t)count);
    }
    if (set_size(st) == 0) {
        int deleted = shard_delete(s, x->db, key, x->now_ms);
        HP_ASSERT(deleted == 1);
    }
}

/* ---- SRANDMEMBER ------------------------------------------------------------ */

/* `count` distinct random members of st (count < size), as an array. */
static void randmember_distinct(struct exec_ctx *x, struct shard *s, const struct set *st,
                                uint64_t count)
{
    uint64_t size = set_size(st);
    size_t mark = x->out->len;
    resp_add_array(x->out, count);
    if (count * 3 > size) {
        /* Many of them: one pass, each member taken with probability
         * (needed / left) (selection sampling), in iteration order. */
        struct set_iter it;
        struct hp_slice m;
        uint64_t left = size, need = count;
        set_iter_init(&it, st);
        while (need > 0 && set_iter_next(&it, &m)) {
            if (set_rng_next(rng()) % left < need) {
                resp_add_bulk(x->out, m.ptr, m.len);
                need--;
            }
            left--;
        }
        HP_ASSERT(need == 0);
        return;
    }
    /* Few: random picks, a scratch set in the key's shard weeding out
     * repeats (freed before returning). */
    struct set *seen = set_new(s, SET_ENC_HT);
    for (uint64_t got = 0; seen != NULL && got < count;) {
        char buf[SET_INT_BUF];
        struct hp_slice m = set_random(st, rng(), buf);
        int rc = set_add(s, seen, m);
        if (rc < 0)
            break;
        if (rc == 1) {
            resp_add_bulk(x->out, m.ptr, m.len);
            got++;
        }
    }
    if (seen == NULL || set_size(seen) != count) {
        /* Out of memory: the header already went out; replace the reply. */
        if (!x->out->overflow)
            x->out->len = mark;
        resp_add_error(x->out, cmd_set_err_oom);
    }
    set_free(s, seen);
}

void cmd_srandmember(struct exec_ctx *x)
{
    if (x->argc > 3) {
        resp_add_error(x->out, err_syntax);
        return;
    }
    struct hp_slice key = x->argv[1];
    if (x->argc == 2) {
        struct set *st = read_set_or_reply(x, key, reply_null);
        if (st != NULL) {
            char buf[SET_INT_BUF];
            struct hp_slice m = set_random(st, rng(), buf);
            resp_add_bulk(x->out, m.ptr, m.len);
        }
        return;
    }
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
    struct shard *s = exec_shard(x, key);
    struct set *st = read_set_or_reply(x, key, reply_empty_array);
    if (st == NULL)
        return;
    if (l == 0) {
        resp_add_array(x->out, 0);
        return;
    }
    if (l < 0) {
        if (-l > SET_RANDMEMBER_MAX) {
            resp_add_error(x->out, "ERR count is too large (hotpath limit: 16777216)");
            return;
        }
        resp_add_array(x->out, (size_t)-l);
        for (int64_t i = 0; i < -l && !x->out->overflow; i++) {
            char buf[SET_INT_BUF];
            struct hp_slice m = set_random(st, rng(), buf);
            resp_add_bulk(x->out, m.ptr, m.len);
        }
        return;
    }
    if ((uint64_t)l >= set_size(st)) {
        reply_members(x, st, false);
        return;
    }
    randmember_distinct(x, s, st, (uint64_t)l);
}

/* ---- SSCAN ------------------------------------------------------------------ */

struct sscan_acc {
    struct exec_ctx *x;
    struct hp_slice pattern; /* ptr NULL: none */
    uint64_t collected;      /* members visited (COUNT counts these, as Redis) */
    uint64_t emitted;        /* those MATCH let through */
};

static void sscan_emit(void *arg, struct hp_slice m)
{
    struct sscan_acc *a = arg;
    a->collected++;
    if (a->pattern.ptr != NULL &&
        !glob_match(a->pattern.ptr, a->pattern.len, m.ptr, m.len, false))
        return;
    resp_add_bulk(a->x->out, m.ptr, m.len);
    a->emitted++;
}

/* Redis' reply for SSCAN of a missing key, whatever the options. */
static void reply_empty_scan(struct exec_ctx *x)
{
    resp_add_array(x->out, 2);
    resp_add_bulk(x->out, "0", 1);
    resp_add_array(x->out, 0);
}

/* SSCAN's options (Redis scanGenericCommand; TYPE is SCAN's only).
 * Replies and returns false on error. */
static bool parse_sscan_options(struct exec_ctx *x, uint64_t *count, struct hp_slice *pattern)
{
    *count = 10;
    *pattern = hp_slice_make(NULL, 0);
    for (int i = 3; i < x->argc; i += 2) {
        bool has_value = i + 1 < x->argc;
        if (has_value && slice_eq_nocase(x->argv[i], "count")) {
            int64_t c;
            if (str_to_i64(x->argv[i + 1].ptr, x->argv[i + 1].len, &c) != 0) {
                resp_add_error(x->out, err_not_int);
                return false;
            }
            if (c < 1) {
                resp_add_error(x->out, err_syntax);
                return false;
            }
            *count = (uint64_t)c;
        } else if (has_value && slice_eq_nocase(x->argv[i], "match")) {
            struct hp_slice p = x->argv[i + 1];
            *pattern = (p.len == 1 && p.ptr[0] == '*') ? hp_slice_make(NULL, 0) : p;
        } else {
            resp_add_error(x->out, err_syntax);
            return false;
        }
    }
    return true;
}

void cmd_sscan(struct exec_ctx *x)
{
    uint64_t cursor;
    if (!str_to_scan_cursor(x->argv[2], &cursor)) {
        resp_add_error(x->out, "ERR invalid cursor");
        return;
    }
    struct set *st = read_set_or_reply(x, x->argv[1], reply_empty_scan);
    if (st == NULL)
        return;
    uint64_t count;
    struct sscan_acc acc = {.x = x};
    if (!parse_sscan_options(x, &count, &acc.pattern))
        return;
    /* The reply's member count is known at the end: members go first and
     * the headers are put in front of them. */
    size_t mark = x->out->len;
    uint64_t next = 0;
    if (st->enc == SET_ENC_INTSET) {
        /* A small encoding comes back whole, cursor 0, as in Redis. */
        struct set_iter it;
        struct hp_slice m;
        set_iter_init(&it, st);
        while (set_iter_next(&it, &m) && !x->out->overflow)
            sscan_emit(&acc, m);
    } else {
        /* Redis: buckets until `count` members were collected, at most
         * 10 * count buckets. */
        uint64_t budget = count > UINT64_MAX / 10 ? UINT64_MAX : count * 10;
        next = cursor;
        do {
            next = set_scan(st, next, sscan_emit, &acc);
        } while (next != 0 && --budget > 0 && acc.collected < count && !x->out->overflow);
    }
    cmd_set_insert_header(x, mark, false, acc.emitted);
    char num[24];
    int numlen = snprintf(num, sizeof(num), "%llu", (unsigned long long)next);
    HP_ASSERT(numlen > 0 && (size_t)numlen < sizeof(num));
    char hdr[48];
    int n = snprintf(hdr, sizeof(hdr), "*2\r\n$%d\r\n%s\r\n", numlen, num);
    HP_ASSERT(n > 0 && (size_t)n < sizeof(hdr));
    if (!x->out->overflow && rbuf_reserve(x->out, (size_t)n) != NULL) {
        memmove(x->out->data + mark + n, x->out->data + mark, x->out->len - mark);
        memcpy(x->out->data + mark, hdr, (size_t)n);
        rbuf_commit(x->out, (size_t)n);
    }
}
