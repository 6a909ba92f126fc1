/*
 * cmd_set.h - what the two set command files (cmd_set.c: one-key commands,
 * cmd_set_multi.c: SMOVE and the set algebra) share.
 */
#ifndef HP_CMD_SET_H
#define HP_CMD_SET_H

#include "cmd.h"
#include "../../storage/set/set.h"

extern const char cmd_set_err_wrongtype[];
extern const char cmd_set_err_oom[];

/* Looks `key` up as a set: FOUND with *out, NONE, or WRONGTYPE.  `read`
 * counts a keyspace hit or miss (lookupKeyRead) like exec_find_read. */
enum shard_lookup cmd_set_lookup(struct exec_ctx *x, struct shard *s, struct hp_slice key,
                                 bool read, struct set **out);

/* Logs "<word> key m..." for members[0..n) as operation records of at most
 * EXEC_RECORD_ARGC_MAX arguments each (a wider command would fall back to
 * the states). */
void cmd_set_log_members(struct exec_ctx *x, const char *word, struct hp_slice key,
                         const struct hp_slice *members, size_t n);

/* Writes the RESP3 set or RESP2 array header of n elements at `mark`,
 * before the elements appended since (their count known only at the end). */
void cmd_set_insert_header(struct exec_ctx *x, size_t mark, bool set_type, uint64_t n);

#endif
