/*
 * types.c - the type registry, type and encoding names, typed lookups and
 * an entry's state as log records.  Contracts in types.h; the typed keys
 * and the payload allocator are in shard.c (they need the shard's insides).
 */
#include "types.h"

#include "entry.h"
#include "../common/strutil.h"

#include <string.h>

/* Redis 7.0 stores a SET value of up to 44 bytes as "embstr", an integer of
 * up to 20 characters as "int" (object.c, tryObjectEncoding). */
#define STR_EMBSTR_MAX 44u
#define STR_INT_MAX 20u

static const struct type_ops obj_string_ops = {.name = "string"};

/* Written at start-up only (obj_type_register), then read by every worker. */
static const struct type_ops *obj_types[OBJ_TYPE_MAX] = {
    [OBJ_STRING] = &obj_string_ops,
};

int obj_type_register(enum obj_type t, const struct type_ops *ops)
{
    if ((unsigned)t >= OBJ_TYPE_MAX || t == OBJ_STRING || ops == NULL)
        return -1;
    if (ops->name == NULL || ops->free == NULL || ops->copy == NULL)
        return -1;
    if (obj_types[t] != NULL && obj_types[t] != ops)
        return -1;
    obj_types[t] = ops;
    return 0;
}

const struct type_ops *obj_type_ops(enum obj_type t)
{
    return (unsigned)t < OBJ_TYPE_MAX ? obj_types[t] : NULL;
}

const char *obj_type_name(enum obj_type t)
{
    const struct type_ops *ops = obj_type_ops(t);
    return ops != NULL ? ops->name : NULL;
}

/* The ops of a live entry's type: registered, or the key could not exist. */
static const struct type_ops *entry_ops(const struct entry *e)
{
    const struct type_ops *ops = obj_type_ops(entry_type(e));
    HP_ASSERT(ops != NULL);
    return ops;
}

const char *entry_type_name(const struct entry *e)
{
    return entry_ops(e)->name;
}

const char *entry_encoding(const struct entry *e)
{
    if (entry_type(e) == OBJ_STRING) {
        struct hp_slice v = entry_str(e);
        int64_t n;
        if (v.len <= STR_INT_MAX && str_to_i64(v.ptr, v.len, &n) == 0)
            return "int";
        return v.len <= STR_EMBSTR_MAX ? "embstr" : "raw";
    }
    const struct type_ops *ops = entry_ops(e);
    return ops->encoding != NULL ? ops->encoding(entry_obj(e)) : NULL;
}

/* The value bytes of a typed entry are one (unaligned) pointer. */
void *entry_obj(const struct entry *e)
{
    HP_ASSERT(entry_type(e) != OBJ_STRING);
    HP_ASSERT(entry_vlen(e) == sizeof(void *));
    void *p;
    memcpy(&p, entry_val_c(e), sizeof(p));
    return p;
}

void entry_obj_set(struct entry *e, void *payload)
{
    HP_ASSERT(entry_type(e) != OBJ_STRING);
    HP_ASSERT(entry_vlen(e) == sizeof(void *));
    HP_ASSERT(payload != NULL);
    memcpy(entry_val(e), &payload, sizeof(payload));
}

enum shard_lookup shard_find_typed(struct shard *s, uint32_t db, struct hp_slice key,
                                   enum obj_type type, int64_t now_ms, struct entry **out)
{
    struct entry *e = shard_find(s, db, key, now_ms);
    *out = NULL;
    if (e == NULL)
        return SHARD_LOOKUP_NONE;
    if (entry_type(e) != type)
        return SHARD_LOOKUP_WRONGTYPE;
    *out = e;
    return SHARD_LOOKUP_FOUND;
}

/* ---- state as log records ------------------------------------------------ */

/* Sits between a type's state_records and the caller's emit, so a type
 * cannot write a record the log or the replay would misroute or refuse. */
struct state_check {
    entry_emit_fn emit;
    void *arg;
    struct hp_slice key;
    uint64_t records;
    bool bad;
};

static int state_check_emit(void *arg, uint32_t argc, const struct hp_slice *argv)
{
    struct state_check *c = arg;
    if (argc < 2 || argc > HP_MAX_ARGC || argv[1].len != c->key.len ||
        memcmp(argv[1].ptr, c->key.ptr, c->key.len) != 0) {
        c->bad = true;
        return ENTRY_STATE_BAD_RECORD;
    }
    c->records++;
    return c->emit(c->arg, argc, argv);
}

static int string_state_records(const struct entry *e, entry_emit_fn emit, void *arg)
{
    char ms[24];
    int64_t exp = entry_expire_ms(e);
    struct hp_slice argv[5] = {
        hp_slice_make("SET", 3), entry_key(e), entry_str(e), hp_slice_make("PXAT", 4),
    };
    if (exp == SHARD_NO_EXPIRE)
        return emit(arg, 3, argv);
    argv[4] = hp_slice_make(ms, i64_to_str(ms, exp));
    return emit(arg, 5, argv);
}

int entry_state_records(const struct entry *e, entry_emit_fn emit, void *arg)
{
    if (entry_type(e) == OBJ_STRING)
        return string_state_records(e, emit, arg);
    const struct type_ops *ops = entry_ops(e);
    if (ops->state_records == NULL)
        return ENTRY_STATE_UNSUPPORTED;
    struct state_check c = {.emit = emit, .arg = arg, .key = entry_key(e)};
    int rc = ops->state_records(entry_obj(e), c.key, state_check_emit, &c);
    if (c.bad)
        return ENTRY_STATE_BAD_RECORD;   /* whatever the type made of it */
    if (rc != 0)
        return rc;
    if (c.records == 0)
        return ENTRY_STATE_BAD_RECORD;   /* a key always exists after its records */
    int64_t exp = entry_expire_ms(e);
    if (exp == SHARD_NO_EXPIRE)
        return 0;
    char ms[24];
    struct hp_slice argv[3] = {
        hp_slice_make("PEXPIREAT", 9), c.key, hp_slice_make(ms, i64_to_str(ms, exp)),
    };
    return emit(arg, 3, argv);
}
