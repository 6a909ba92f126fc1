/*
 * model.h - correctness mode: what pktgen wrote, and whether each reply
 * can be explained by it.
 *
 * Per key id the model keeps four 32-bit numbers (16 bytes/key, checked
 * against MODEL_MAX_KEYS): for the string key its last version issued and
 * the last version acknowledged, for the counter key INCRs issued and the
 * highest INCR reply seen.
 *
 * Concurrency.  Requests on several flows are in flight at once, so a read
 * may legally see any write that was not yet acknowledged when the read was
 * sent.  The check is therefore a range check, as in a linearizability
 * checker for a register:
 *   GET  sent when version A was acknowledged, answered when version I was
 *        the last issued: the value must be a well-formed value of this key
 *        with version in [A, I]; nil only if A = 0 (never written).
 *   INCR sent when the highest reply seen was A, answered when I INCRs were
 *        issued: the reply must be in [A + 1, I].
 * Two SETs of one key in flight at once could be applied in either order,
 * which would make "the last version" ambiguous; model_set_begin therefore
 * refuses a SET while the key has one outstanding (the caller sends a GET
 * instead), keeping versions per key totally ordered.
 *
 * At the end, with nothing in flight, model_final_* compare exactly.
 */
#ifndef HP_PKTGEN_MODEL_H
#define HP_PKTGEN_MODEL_H

#include "hp_common.h"
#include "workload.h"

#define MODEL_MAX_KEYS (256ull << 20)      /* 4 GiB of model */
#define MODEL_MAX_VERSION 0xFFFFFFF0u
#define MODEL_ERR_LEN 512

struct model {
    const struct wl_config *cfg;
    uint64_t keys;
    uint32_t *str_issued, *str_acked;
    uint32_t *ctr_issued, *ctr_acked;
    uint64_t checked;                  /* replies checked */
    uint64_t mismatches;
    uint64_t refused_sets;             /* SETs turned into GETs (write in flight) */
    char first_error[MODEL_ERR_LEN];   /* the first mismatch, for the report */
};

/* Returns 0, or -1 with a message (too many keys, out of memory). */
int model_init(struct model *m, const struct wl_config *cfg, char *err, size_t cap);
void model_free(struct model *m);

/* SET: returns the version to write, or 0 if the key has a SET in flight
 * (or its versions are exhausted): then send something else. */
uint32_t model_set_begin(struct model *m, uint64_t id);
/* The server acknowledged SET `version` with +OK (any other reply: pass
 * ok = false, counted as a mismatch). */
void model_set_done(struct model *m, uint64_t id, uint32_t version, bool ok);

/* GET: the snapshot to keep with the request, then the check. */
uint32_t model_get_begin(const struct model *m, uint64_t id);
/* value NULL: nil reply.  Returns true when the reply is explained. */
bool model_get_check(struct model *m, uint64_t id, uint32_t snapshot, const char *value,
                     size_t len);

uint32_t model_incr_begin(struct model *m, uint64_t id);   /* snapshot; counts the INCR */
bool model_incr_check(struct model *m, uint64_t id, uint32_t snapshot, int64_t reply);

/* A reply of the wrong type or an error reply: counted, described. */
void model_fail(struct model *m, const char *what, uint64_t id, const char *detail,
                size_t detail_len);

/* Final exact comparison, nothing in flight. */
bool model_final_str(struct model *m, uint64_t id, const char *value, size_t len);
bool model_final_ctr(struct model *m, uint64_t id, bool nil, int64_t v);
bool model_str_touched(const struct model *m, uint64_t id);
bool model_ctr_touched(const struct model *m, uint64_t id);

#endif
