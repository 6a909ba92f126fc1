/*
 * hash_type.c - OBJ_HASH's struct type_ops (storage/types.h).
 */
#include "hash.h"

static void t_free(struct shard *s, void *p)
{
    hash_free(s, p);
}

static void *t_copy(struct shard *dst, const void *p)
{
    return hash_copy(dst, p);
}

static size_t t_mem(const void *p)
{
    return hash_mem(p);
}

static const char *t_encoding(const void *p)
{
    return hash_encoding(p) == HASH_ENC_LISTPACK ? "listpack" : "hashtable";
}

/* Pairs per HSET record: "HSET key" + 31 pairs = 64 arguments. */
#define STATE_PAIRS 31
_Static_assert(2 + 2 * STATE_PAIRS <= HP_MAX_ARGC, "record too wide");

static int t_state(const void *p, struct hp_slice key, entry_emit_fn emit, void *arg)
{
    struct hp_slice argv[2 + 2 * STATE_PAIRS];
    argv[0] = hp_slice_make("DEL", 3);
    argv[1] = key;
    int rc = emit(arg, 2, argv);
    if (rc != 0)
        return rc;
    argv[0] = hp_slice_make("HSET", 4);
    struct hash_iter it;
    uint32_t n = 2;
    hash_iter_init(&it, p);
    while (hash_iter_next(&it, &argv[n], &argv[n + 1])) {
        n += 2;
        if (n == HP_ARRAY_LEN(argv)) {
            rc = emit(arg, n, argv);
            if (rc != 0)
                return rc;
            n = 2;
        }
    }
    return n > 2 ? emit(arg, n, argv) : 0;
}

static const struct type_ops hash_ops = {
    .name = "hash",
    .free = t_free,
    .copy = t_copy,
    .mem_usage = t_mem,
    .encoding = t_encoding,
    .state_records = t_state,
};

int hash_type_register(void)
{
    return obj_type_register(OBJ_HASH, &hash_ops);
}
