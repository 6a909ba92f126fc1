/*
 * list_type.c - the list's type_ops (storage/types.h): free, copy, memory,
 * OBJECT ENCODING and its state as log records.
 */
#include "quicklist.h"

/* Values per RPUSH state record (the command word and key make 64). */
#define LIST_STATE_BATCH 62

static void list_free(struct shard *s, void *payload)
{
    ql_free(s, payload);
}

static void *list_copy(struct shard *dst, const void *payload)
{
    return ql_copy(dst, payload);
}

static size_t list_mem_usage(const void *payload)
{
    return ql_mem_usage(payload);
}

/* Redis 7.0 reports every list as "quicklist" (7.2 added "listpack" for
 * small lists): hotpath answers as the 7.0 reference does. */
static const char *list_encoding(const void *payload)
{
    (void)payload;
    return "quicklist";
}

/* "DEL key", then "RPUSH key v..." of at most LIST_STATE_BATCH values. */
static int list_state_records(const void *payload, struct hp_slice key, entry_emit_fn emit,
                              void *arg)
{
    const struct quicklist *ql = payload;
    struct hp_slice argv[2 + LIST_STATE_BATCH];
    argv[0] = hp_slice_make("DEL", 3);
    argv[1] = key;
    int rc = emit(arg, 2, argv);
    if (rc != 0)
        return rc;
    argv[0] = hp_slice_make("RPUSH", 5);
    uint32_t n = 0;
    for (const struct ql_node *node = ql->head; node != NULL; node = node->next) {
        struct ql_iter it = {.ql = ql, .node = (struct ql_node *)node, .forward = true};
        struct hp_slice v;
        for (uint32_t i = 0; i < node->count; i++) {
            bool ok = ql_iter_get(&it, &v);
            HP_ASSERT(ok);
            argv[2 + n++] = v;
            if (n == LIST_STATE_BATCH) {
                rc = emit(arg, 2 + n, argv);
                if (rc != 0)
                    return rc;
                n = 0;
            }
            ql_iter_next(&it);
        }
    }
    if (n > 0)
        rc = emit(arg, 2 + n, argv);
    return rc;
}

static const struct type_ops list_ops = {
    .name = "list",
    .free = list_free,
    .copy = list_copy,
    .mem_usage = list_mem_usage,
    .encoding = list_encoding,
    .state_records = list_state_records,
};

int list_type_register(void)
{
    return obj_type_register(OBJ_LIST, &list_ops);
}
