/*
 * exec_record.c - a handler's operation records (exec.h, docs/AOF.md
 * "Operation records"): the resolved commands the log writes instead of
 * the states of the keys a write changed.
 */
#include "exec.h"

#include <string.h>

static void exec_record_overflow(struct exec_changes *c)
{
    c->rec_overflow = true;
}

void exec_log_record(struct exec_ctx *x, uint32_t db, uint32_t argc,
                     const struct hp_slice *argv)
{
    struct exec_changes *c = x->chg;
    if (c == NULL || c->rec_overflow || c->rec_states)
        return;
    HP_ASSERT(argc >= 2);
    HP_ASSERT(argc <= EXEC_RECORD_ARGC_MAX);
    HP_ASSERT(db < HP_NUM_DBS);
    if (c->nrec == EXEC_RECORDS_MAX || argc > EXEC_RECORD_ARGS - c->rec_nargs) {
        exec_record_overflow(c);
        return;
    }
    size_t bytes = 0;
    for (uint32_t i = 0; i < argc; i++)
        bytes += argv[i].len;
    if (bytes > EXEC_RECORD_BYTES - c->rec_nbytes) {
        exec_record_overflow(c);
        return;
    }
    struct hp_slice *args = &c->rec_args[c->rec_nargs];
    for (uint32_t i = 0; i < argc; i++) {
        char *dst = &c->rec_bytes[c->rec_nbytes];
        if (argv[i].len > 0)
            memcpy(dst, argv[i].ptr, argv[i].len);
        args[i] = hp_slice_make(dst, argv[i].len);
        c->rec_nbytes += (uint32_t)argv[i].len;
    }
    c->rec_nargs += argc;
    c->recs[c->nrec++] = (struct exec_record){.db = db, .argc = argc, .argv = args};
}

void exec_log_argv(struct exec_ctx *x)
{
    struct exec_changes *c = x->chg;
    if (c == NULL || c->rec_overflow || c->rec_states)
        return;
    HP_ASSERT(x->argc >= 2);
    if (c->nrec == EXEC_RECORDS_MAX || x->argc > EXEC_RECORD_ARGC_MAX) {
        exec_record_overflow(c);
        return;
    }
    c->recs[c->nrec++] =
        (struct exec_record){.db = x->db, .argc = (uint32_t)x->argc, .argv = x->argv};
}
