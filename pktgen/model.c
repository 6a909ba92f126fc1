/* model.c - see model.h for the checking rules. */
#include "model.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

int model_init(struct model *m, const struct wl_config *cfg, char *err, size_t cap)
{
    memset(m, 0, sizeof(*m));
    if (cfg->keys > MODEL_MAX_KEYS) {
        snprintf(err, cap, "correctness mode supports at most %llu keys",
                 (unsigned long long)MODEL_MAX_KEYS);
        return -1;
    }
    if (cfg->value_size < WL_VALUE_HDR_LEN) {
        snprintf(err, cap, "correctness mode needs values of at least %d bytes",
                 WL_VALUE_HDR_LEN);
        return -1;
    }
    m->cfg = cfg;
    m->keys = cfg->keys;
    m->str_issued = calloc(cfg->keys, sizeof(uint32_t));
    m->str_acked = calloc(cfg->keys, sizeof(uint32_t));
    m->ctr_issued = calloc(cfg->keys, sizeof(uint32_t));
    m->ctr_acked = calloc(cfg->keys, sizeof(uint32_t));
    if (!m->str_issued || !m->str_acked || !m->ctr_issued || !m->ctr_acked) {
        model_free(m);
        snprintf(err, cap, "out of memory for the model of %llu keys",
                 (unsigned long long)cfg->keys);
        return -1;
    }
    return 0;
}

void model_free(struct model *m)
{
    free(m->str_issued);
    free(m->str_acked);
    free(m->ctr_issued);
    free(m->ctr_acked);
    m->str_issued = m->str_acked = m->ctr_issued = m->ctr_acked = NULL;
}

static void model_note(struct model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void model_note(struct model *m, const char *fmt, ...)
{
    m->mismatches++;
    if (m->mismatches > 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->first_error, sizeof(m->first_error), fmt, ap);
    va_end(ap);
}

/* Printable, bounded excerpt of reply bytes for an error message. */
static const char *excerpt(const char *p, size_t len, char *buf, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 5 < cap; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 32 && ch < 127 && ch != '\\') {
            buf[n++] = (char)ch;
        } else {
            n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", ch);
        }
    }
    if (n > cap - 1)
        n = cap - 1;
    buf[n] = 0;
    return buf;
}

uint32_t model_set_begin(struct model *m, uint64_t id)
{
    HP_ASSERT(id < m->keys);
    if (m->str_issued[id] != m->str_acked[id] || m->str_issued[id] >= MODEL_MAX_VERSION) {
        m->refused_sets++;
        return 0;
    }
    return ++m->str_issued[id];
}

void model_set_done(struct model *m, uint64_t id, uint32_t version, bool ok)
{
    HP_ASSERT(id < m->keys && version == m->str_issued[id]);
    m->checked++;
    if (!ok) {
        /* Leave the key "in flight" forever: its content is now unknown,
         * so later GETs are only range-checked against what might be there. */
        model_note(m, "SET k#%" PRIu64 " v%u: reply was not +OK", id, version);
        return;
    }
    m->str_acked[id] = version;
}

uint32_t model_get_begin(const struct model *m, uint64_t id)
{
    HP_ASSERT(id < m->keys);
    return m->str_acked[id];
}

bool model_get_check(struct model *m, uint64_t id, uint32_t snapshot, const char *value,
                     size_t len)
{
    HP_ASSERT(id < m->keys);
    m->checked++;
    uint32_t issued = m->str_issued[id];
    char ex[96];
    if (!value) {
        if (snapshot == 0)
            return true;
        model_note(m, "GET k#%" PRIu64 ": nil, but version %u was acknowledged before", id,
                   snapshot);
        return false;
    }
    uint64_t vid;
    uint32_t ver;
    if (wl_value_parse(m->cfg, value, len, &vid, &ver) != 0) {
        model_note(m, "GET k#%" PRIu64 ": corrupt value (%zu bytes) '%s'", id, len,
                   excerpt(value, len, ex, sizeof(ex)));
        return false;
    }
    if (vid != (id & 0xFFFFFFFFFFFFull)) {
        model_note(m, "GET k#%" PRIu64 ": value belongs to key #%" PRIu64, id, vid);
        return false;
    }
    if (ver < snapshot || ver > issued || ver == 0) {
        model_note(m, "GET k#%" PRIu64 ": version %u, expected %u..%u", id, ver, snapshot,
                   issued);
        return false;
    }
    return true;
}

uint32_t model_incr_begin(struct model *m, uint64_t id)
{
    HP_ASSERT(id < m->keys);
    HP_ASSERT(m->ctr_issued[id] < MODEL_MAX_VERSION);
    m->ctr_issued[id]++;
    return m->ctr_acked[id];
}

bool model_incr_check(struct model *m, uint64_t id, uint32_t snapshot, int64_t reply)
{
    HP_ASSERT(id < m->keys);
    m->checked++;
    if (reply < (int64_t)snapshot + 1 || reply > (int64_t)m->ctr_issued[id]) {
        model_note(m, "INCR c#%" PRIu64 ": reply %" PRId64 ", expected %u..%u", id, reply,
                   snapshot + 1, m->ctr_issued[id]);
        return false;
    }
    if ((uint64_t)reply > m->ctr_acked[id])
        m->ctr_acked[id] = (uint32_t)reply;
    return true;
}

void model_fail(struct model *m, const char *what, uint64_t id, const char *detail,
                size_t detail_len)
{
    char ex[96];
    m->checked++;
    model_note(m, "%s #%" PRIu64 ": %s", what, id,
               detail ? excerpt(detail, detail_len, ex, sizeof(ex)) : "no reply");
}

bool model_str_touched(const struct model *m, uint64_t id)
{
    return m->str_issued[id] != 0;
}

bool model_ctr_touched(const struct model *m, uint64_t id)
{
    return m->ctr_issued[id] != 0;
}

bool model_final_str(struct model *m, uint64_t id, const char *value, size_t len)
{
    uint32_t want = m->str_acked[id];
    if (m->str_issued[id] != want) {
        /* A SET never acknowledged: either version may be there. */
        return model_get_check(m, id, want, value, len);
    }
    m->checked++;
    if (!value) {
        if (want == 0)
            return true;
        model_note(m, "final GET k#%" PRIu64 ": nil, expected version %u", id, want);
        return false;
    }
    uint64_t vid;
    uint32_t ver;
    if (wl_value_parse(m->cfg, value, len, &vid, &ver) != 0 ||
        vid != (id & 0xFFFFFFFFFFFFull) || ver != want) {
        char ex[96];
        model_note(m, "final GET k#%" PRIu64 ": '%s', expected version %u", id,
                   excerpt(value, len, ex, sizeof(ex)), want);
        return false;
    }
    return true;
}

bool model_final_ctr(struct model *m, uint64_t id, bool nil, int64_t v)
{
    uint32_t want = m->ctr_issued[id];
    m->checked++;
    if ((nil && want == 0) || (!nil && v == (int64_t)want))
        return true;
    model_note(m, "final GET c#%" PRIu64 ": %s%" PRId64 ", expected %u", id, nil ? "nil " : "",
               nil ? 0 : v, want);
    return false;
}
