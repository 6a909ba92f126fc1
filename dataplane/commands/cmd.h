/*
 * cmd.h - the command table and the two kinds of command handlers.
 *
 * Keyed and all-shard commands are exec_fn handlers (see exec.h): pure
 * functions of shards + arguments, runnable on any worker that holds the
 * shards.  Client commands (PING, HELLO, CLIENT, INFO, ...) are client_fn
 * handlers: they run on the connection's own worker and may read or change
 * the connection (protocol, db, name) but never touch a shard directly.
 *
 * The dispatcher (dispatch.c) looks a command up, checks arity with Redis'
 * error, works out which shards it touches from the key spec, and then runs
 * it locally, ships it to the owner, or parks several shards for it.
 */
#ifndef HP_CMD_H
#define HP_CMD_H

#include "../../common/hp_common.h"
#include "../../common/rbuf.h"
#include "exec.h"

struct conn;
struct worker;

enum cmd_kind {
    CMD_KIND_KEYED,     /* exec_fn; shards from the key spec */
    CMD_KIND_ALLSHARDS, /* exec_fn; holds every shard (DBSIZE, KEYS, FLUSHALL...) */
    CMD_KIND_SCAN,      /* exec_fn; runs on the shard named by the cursor */
    CMD_KIND_CLIENT,    /* client_fn; runs on the connection's worker */
};

/* Flags, named after Redis' command flags (COMMAND INFO prints them). */
enum {
    CMD_WRITE = 1u << 0,
    CMD_READONLY = 1u << 1,
    CMD_DENYOOM = 1u << 2,
    CMD_FAST = 1u << 3,
    CMD_LOADING = 1u << 4,
    CMD_STALE = 1u << 5,
    CMD_NOSCRIPT = 1u << 6,
    CMD_ADMIN = 1u << 7,
    CMD_NO_MULTI = 1u << 8,
    CMD_SENTINEL = 1u << 9,
    /* Printed by COMMAND only, from cmd_spec.info_flags: hotpath has no
     * AUTH, busy scripts, async loading or MONITOR for them to act on. */
    CMD_NO_AUTH = 1u << 10,
    CMD_ALLOW_BUSY = 1u << 11,
    CMD_NO_ASYNC_LOADING = 1u << 12,
    CMD_SKIP_MONITOR = 1u << 13,
    CMD_BLOCKING = 1u << 14,
    CMD_NO_MANDATORY_KEYS = 1u << 15,
    /* Derived from the key specs (cmd_legacy_range), never in a table. */
    CMD_MOVABLE_KEYS = 1u << 16,
};

/* ---- key specs (Redis 7) ------------------------------------------------
 * Where a command's keys are in argv: begin_search finds the first key (a
 * fixed index, or the argument after a keyword), find_keys takes it from
 * there (a range, or a count read from argv).  The flags say how the
 * command uses those keys; COMMAND prints them.  Same names and meaning as
 * Redis 7.0's CMD_KEY_* and KSPEC_* (server.h). */
enum {
    CMD_KEY_RO = 1u << 0,      /* read only */
    CMD_KEY_RW = 1u << 1,      /* read and changed */
    CMD_KEY_OW = 1u << 2,      /* overwritten, old value not read */
    CMD_KEY_RM = 1u << 3,      /* deleted */
    CMD_KEY_ACCESS = 1u << 4,  /* user data returned or used */
    CMD_KEY_UPDATE = 1u << 5,
    CMD_KEY_INSERT = 1u << 6,
    CMD_KEY_DELETE = 1u << 7,
    CMD_KEY_NOT_KEY = 1u << 8, /* a name that is not a key (routing only) */
    CMD_KEY_INCOMPLETE = 1u << 9,
    CMD_KEY_VARIABLE_FLAGS = 1u << 10, /* per-call flags: cmd_spec.key_flags */
};

enum cmd_ks_begin {
    CMD_KS_BEGIN_INVALID = 0, /* unused slot */
    CMD_KS_BEGIN_UNKNOWN,     /* only the command's own parser knows */
    CMD_KS_BEGIN_INDEX,       /* bs.index */
    CMD_KS_BEGIN_KEYWORD,     /* bs.keyword */
};

enum cmd_ks_find {
    CMD_KS_FIND_INVALID = 0,
    CMD_KS_FIND_UNKNOWN,
    CMD_KS_FIND_RANGE,  /* fk.range */
    CMD_KS_FIND_KEYNUM, /* fk.keynum */
};

struct cmd_key_spec {
    const char *notes; /* COMMAND INFO "notes"; NULL for none */
    uint32_t flags;    /* CMD_KEY_* */
    enum cmd_ks_begin begin;
    union {
        int index; /* argv index of the first key */
        struct {
            const char *keyword; /* matched case-insensitively */
            int startfrom;       /* > 0: search forward from here; < 0: backward from argc+it */
        } keyword;
    } bs;
    enum cmd_ks_find find;
    union {
        struct {
            int lastkey; /* >= 0: relative to the first key; < 0: from argc */
            int keystep;
            int limit;   /* lastkey -1 only: keys are 1/limit of the rest */
        } range;
        struct {
            int keynumidx; /* argv[first + keynumidx] holds the count */
            int firstkey;  /* first key is first + firstkey */
            int keystep;
        } keynum;
    } fk;
};

/* Redis 7.0 has no command with more (STATIC_KEY_SPECS_NUM). */
#define CMD_KEY_SPECS_MAX 4

struct client_ctx {
    struct conn *conn;
    struct worker *worker;
    int argc;
    const struct hp_slice *argv;
    struct rbuf *out;
    int64_t now_ms;
};
typedef void (*client_fn)(struct client_ctx *c);
/* The flags of spec `ix` (which has CMD_KEY_VARIABLE_FLAGS) for this call,
 * e.g. SET's key is RW+ACCESS with GET and OW without. */
typedef uint32_t (*cmd_key_flags_fn)(int ix, int argc, const struct hp_slice *argv);

struct cmd_spec {
    /* What dispatch reads for every request comes first, so the first key
     * spec shares cache lines with it; COMMAND's text comes last. */
    const char *name;       /* lower case, as COMMAND replies */
    int arity;              /* Redis convention: -N means >= N */
    uint32_t flags;
    enum cmd_kind kind;
    int nkey_specs;
    exec_fn exec;           /* KEYED, ALLSHARDS, SCAN */
    client_fn client;       /* CLIENT */
    struct cmd_key_spec key_specs[CMD_KEY_SPECS_MAX];
    cmd_key_flags_fn key_flags; /* specs with CMD_KEY_VARIABLE_FLAGS */
    uint32_t info_flags;    /* COMMAND only: CMD_NO_AUTH, CMD_ALLOW_BUSY, ... */
    const char *summary;    /* COMMAND DOCS */
    const char *group;      /* COMMAND DOCS: "string", "generic", "server", "connection" */
    const char *since;      /* COMMAND DOCS */
    const char *acl;        /* COMMAND INFO: ACL categories, space separated */
    const char *tips;       /* COMMAND INFO: tips, space separated; NULL for none */
    /* Commands with subcommands (CLIENT, CONFIG, COMMAND): arity and help
     * errors are handled by the handler itself. */
};

/* Longest command name; longer input cannot match and is not folded. */
#define CMD_NAME_MAX 16
/* Room for the client part of the table (cmd_table_register_client). */
#define CMD_CLIENT_MAX 32

/*
 * The client commands' part of the table, provided from above (the server
 * layer, dataplane/server/) because its handlers need the runtime.
 * lookup: index in specs of the command that `folded` (lower-case letters,
 * 1..CMD_NAME_MAX bytes) names, or -1.
 */
struct cmd_client_part {
    const struct cmd_spec *specs;   /* every one CMD_KIND_CLIENT */
    size_t count;
    int (*lookup)(const uint8_t *folded, size_t len);
};
/* Once, at start-up, before any worker runs (the table is read-only after).
 * 0, or -1 (nothing changed) if a part is already registered or count
 * exceeds CMD_CLIENT_MAX.  Until then cmd_lookup finds keyed commands only. */
int cmd_table_register_client(const struct cmd_client_part *part);

/* Case-insensitive lookup; NULL if unknown. */
const struct cmd_spec *cmd_lookup(const uint8_t *name, size_t len);
/* The whole table (keyed part, then client part), for COMMAND / COMMAND COUNT. */
const struct cmd_spec *cmd_table(size_t *count);
/* true if argc satisfies the spec's arity. */
static inline bool cmd_arity_ok(const struct cmd_spec *s, int argc)
{
    return s->arity >= 0 ? argc == s->arity : argc >= -s->arity;
}
/* Append the Redis unknown-command error for argv:
 * "ERR unknown command 'foo', with args beginning with: 'a' 'b' " */
void cmd_reply_unknown(struct rbuf *out, int argc, const struct hp_slice *argv);
/* "ERR wrong number of arguments for 'get' command" */
void cmd_reply_arity(struct rbuf *out, const struct cmd_spec *s);

/* ---- key positions from the specs (cmd_keyspec.c) --------------------- */

enum cmd_keys_rc {
    CMD_KEYS_OK = 0,
    CMD_KEYS_ERR_NUMKEYS_NOT_INT,  /* a keynum count that is not an integer */
    CMD_KEYS_ERR_NUMKEYS_NEGATIVE,
    CMD_KEYS_ERR_NUMKEYS_TOO_MANY, /* more keys than arguments after them */
    CMD_KEYS_ERR_RANGE,            /* keys outside argv: a syntax error */
    CMD_KEYS_ERR_UNKNOWN_SPEC,     /* an "unknown" spec: needs the command's parser */
    CMD_KEYS_ERR_CAPACITY,         /* cmd_keys_get: more keys than `cap` */
};

/* Keys argv[first], argv[first + step], ... up to argv[last]. */
struct cmd_key_range {
    int first, last, step;
    uint32_t flags; /* CMD_KEY_*, VARIABLE_FLAGS already resolved */
};

struct cmd_key_ranges {
    int n;        /* ranges used; one per spec at most */
    size_t nkeys; /* keys in all of them */
    struct cmd_key_range r[CMD_KEY_SPECS_MAX];
};

/*
 * The one key finder: the keys of `argc`/`argv` (a command whose arity was
 * checked) as at most CMD_KEY_SPECS_MAX ranges, like Redis' getKeysUsing-
 * KeySpecs: a keyword spec whose keyword is absent adds nothing, NOT_KEY
 * specs are skipped unless `with_not_keys`, and any malformed spec (bad
 * numkeys, keys past argc) makes the whole answer that error with no
 * ranges.  Bounded: O(specs) state, no allocation, whatever argc is.
 */
enum cmd_keys_rc cmd_keys_find(const struct cmd_spec *s, int argc, const struct hp_slice *argv,
                               bool with_not_keys, struct cmd_key_ranges *out);

/* The fast path of cmd_keys_find for the commonest shape, one spec naming
 * one key at a fixed index (GET, SET, INCR, EXPIRE...): that index when
 * the spec has this shape and argc reaches it (cmd_keys_find would answer
 * exactly that one key), else 0 (use cmd_keys_find). */
static inline int cmd_keys_single(const struct cmd_spec *s, int argc)
{
    if (s->nkey_specs != 1)
        return 0;
    const struct cmd_key_spec *ks = &s->key_specs[0];
    if (ks->begin != CMD_KS_BEGIN_INDEX || ks->find != CMD_KS_FIND_RANGE ||
        ks->fk.range.lastkey != 0)
        return 0;
    int i = ks->bs.index;
    return i >= 1 && i < argc ? i : 0;
}

struct cmd_key_ref {
    int pos;        /* argv index */
    uint32_t flags; /* CMD_KEY_* */
};
/* cmd_keys_find flattened into keys[0..cap): *n is the key count (set also
 * on CMD_KEYS_ERR_CAPACITY, which fills nothing, so a caller can retry). */
enum cmd_keys_rc cmd_keys_get(const struct cmd_spec *s, int argc, const struct hp_slice *argv,
                              struct cmd_key_ref *keys, size_t cap, size_t *n);
/* Redis' error for rc (EVAL's wording for the numkeys errors), with "ERR"
 * and without "-"/CRLF; NULL for CMD_KEYS_OK. */
const char *cmd_keys_strerror(enum cmd_keys_rc rc);

/* Redis' legacy (first, last, step) for COMMAND INFO, derived from the
 * specs as Redis 7.0 does (populateCommandLegacyRangeSpec): 0 0 0 when no
 * plain index+range spec exists.  Returns true when the keys are
 * "movable" (a spec the legacy triple cannot describe). */
bool cmd_legacy_range(const struct cmd_spec *s, int *first, int *last, int *step);
/* Does the command have a spec for real keys (COMMAND GETKEYS' test)? */
bool cmd_has_keys(const struct cmd_spec *s);

/* ---- keyed & all-shard handlers (cmd_string.c, cmd_keys.c, cmd_list*.c, cmd_hash.c,
 * cmd_set*.c) */
#define HP_EXEC_HANDLERS(X)                                                  \
    X(get) X(set) X(setnx) X(setex) X(psetex) X(getset) X(getdel) X(getex)  \
    X(mget) X(mset) X(msetnx) X(append) X(strlen) X(getrange) X(setrange)   \
    X(incr) X(decr) X(incrby) X(decrby) X(incrbyfloat)                      \
    X(del) X(unlink) X(exists) X(touch) X(type) X(rename) X(renamenx)       \
    X(keys) X(scan) X(randomkey) X(dbsize) X(flushdb) X(flushall)          \
    X(expire) X(pexpire) X(expireat) X(pexpireat) X(ttl) X(pttl)            \
    X(expiretime) X(pexpiretime) X(persist)                                 \
    X(lpush) X(rpush) X(lpop) X(rpop) X(llen) X(lrange) X(lindex)           \
    X(lpushx) X(rpushx) X(lset) X(linsert) X(lrem) X(ltrim) X(lpos)         \
    X(lmove) X(rpoplpush) X(lmpop)                                          \
    X(hset) X(hget) X(hdel) X(hexists) X(hlen) X(hmget) X(hmset) X(hsetnx)  \
    X(hgetall) X(hkeys) X(hvals) X(hstrlen) X(hincrby) X(hincrbyfloat)     \
    X(hrandfield) X(hscan)                                                  \
    X(sadd) X(srem) X(sismember) X(smismember) X(scard) X(smembers) X(spop) \
    X(srandmember) X(smove) X(sinter) X(sunion) X(sdiff) X(sintercard)      \
    X(sinterstore) X(sunionstore) X(sdiffstore) X(sscan)
#define HP_DECLARE_EXEC(n) void cmd_##n(struct exec_ctx *x);
HP_EXEC_HANDLERS(HP_DECLARE_EXEC)

/* The client handlers are listed in dataplane/server/server.h. */

/* SCAN cursor layout: shard number in the top 16 bits, that shard's own
 * cursor below (shard_scan cursors are < 2^48). */
#define CMD_SCAN_SHARD_SHIFT 48

#endif
