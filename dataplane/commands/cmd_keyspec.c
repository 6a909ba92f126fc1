/*
 * cmd_keyspec.c - key positions from a command's Redis 7 key specs (see
 * cmd.h): the one finder the dispatcher, the UDP path and COMMAND GETKEYS
 * use, Redis' legacy (first, last, step) triple for COMMAND INFO, and the
 * errors a malformed key count gets.
 *
 * Semantics follow Redis 7.0 (db.c getKeysUsingKeySpecs, server.c
 * populateCommandLegacyRangeSpec), with every index bounded by argc before
 * argv is read, so a hostile numkeys cannot reach past the arguments.
 */
#include "cmd.h"

#include <limits.h>
#include <string.h>

static bool slice_eq_nocase_cstr(struct hp_slice s, const char *word)
{
    size_t n = strlen(word);
    if (s.len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t a = s.ptr[i], b = (uint8_t)word[i];
        if (a >= 'A' && a <= 'Z')
            a = (uint8_t)(a + 32);
        if (b >= 'A' && b <= 'Z')
            b = (uint8_t)(b + 32);
        if (a != b)
            return false;
    }
    return true;
}

/* Argument index of the first key of `ks`; 0 when its keyword is absent
 * (the spec adds nothing, as in Redis). */
static int find_begin(const struct cmd_key_spec *ks, int argc, const struct hp_slice *argv)
{
    if (ks->begin == CMD_KS_BEGIN_INDEX)
        return ks->bs.index;
    HP_ASSERT(ks->begin == CMD_KS_BEGIN_KEYWORD);
    int from = ks->bs.keyword.startfrom;
    HP_ASSERT(from != 0); /* Redis' specs count from 1 or from the end */
    HP_ASSERT(ks->bs.keyword.keyword != NULL);
    /* Forward: from..argc-2 (a keyword in the last argument has nothing
     * after it); backward: argc+from down to 2.  Never index 0 (the name). */
    int start = from > 0 ? from : argc + from;
    int end = from > 0 ? argc - 1 : 1;
    int dir = start <= end ? 1 : -1;
    for (int i = start; i != end; i += dir) {
        if (i >= argc || i < 1)
            break;
        if (slice_eq_nocase_cstr(argv[i], ks->bs.keyword.keyword))
            return i + 1;
    }
    return 0;
}

/* Parses a keynum count the way Redis' string2ll does (no spaces, no '+',
 * no leading zeros); false if it is not an integer. */
static bool parse_count(struct hp_slice s, long long *v)
{
    if (s.len == 0 || s.len > 20)
        return false;
    size_t i = 0;
    bool neg = s.ptr[0] == '-';
    if (neg)
        i = 1;
    if (i == s.len || (s.ptr[i] == '0' && s.len > i + 1))
        return false;
    unsigned long long acc = 0;
    for (; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        unsigned d = (unsigned)(s.ptr[i] - '0');
        if (acc > (ULLONG_MAX - d) / 10)
            return false;
        acc = acc * 10 + d;
    }
    if (!neg && acc > (unsigned long long)LLONG_MAX)
        return false;
    if (neg && acc > (unsigned long long)LLONG_MAX + 1)
        return false;
    *v = neg ? (long long)(0 - acc) : (long long)acc;
    return true;
}

/* first..last of one spec whose first key is at `first`. */
static enum cmd_keys_rc find_range(const struct cmd_key_spec *ks, int argc,
                                   const struct hp_slice *argv, int first, struct cmd_key_range *r)
{
    int last;
    if (ks->find == CMD_KS_FIND_RANGE) {
        r->step = ks->fk.range.keystep;
        if (ks->fk.range.lastkey >= 0) {
            last = first + ks->fk.range.lastkey;
        } else if (ks->fk.range.limit == 0) {
            last = argc + ks->fk.range.lastkey;
        } else {
            /* "the keys are 1/limit of what follows" (XREAD STREAMS). */
            HP_ASSERT(ks->fk.range.lastkey == -1);
            HP_ASSERT(ks->fk.range.limit > 0);
            last = first + ((argc - first) / ks->fk.range.limit + ks->fk.range.lastkey);
        }
    } else if (ks->find == CMD_KS_FIND_KEYNUM) {
        r->step = ks->fk.keynum.keystep;
        if (first >= argc || ks->fk.keynum.keynumidx >= argc - first)
            return CMD_KEYS_ERR_RANGE;
        long long num;
        if (!parse_count(argv[first + ks->fk.keynum.keynumidx], &num))
            return CMD_KEYS_ERR_NUMKEYS_NOT_INT;
        if (num < 0)
            return CMD_KEYS_ERR_NUMKEYS_NEGATIVE;
        first += ks->fk.keynum.firstkey;
        if (num > (long long)argc - first)
            return CMD_KEYS_ERR_NUMKEYS_TOO_MANY;
        if (num == 0) {
            /* EVAL script 0: no keys, and not an error. */
            r->first = first;
            r->last = first - 1;
            return CMD_KEYS_OK;
        }
        last = first + (int)num - 1;
    } else {
        return CMD_KEYS_ERR_UNKNOWN_SPEC;
    }
    HP_ASSERT(r->step > 0);
    if (first < 1 || first >= argc || last >= argc || last < first)
        return CMD_KEYS_ERR_RANGE;
    r->first = first;
    r->last = last;
    return CMD_KEYS_OK;
}

static size_t range_count(const struct cmd_key_range *r)
{
    return r->last < r->first ? 0 : (size_t)((r->last - r->first) / r->step) + 1;
}

enum cmd_keys_rc cmd_keys_find(const struct cmd_spec *s, int argc, const struct hp_slice *argv,
                               bool with_not_keys, struct cmd_key_ranges *out)
{
    HP_ASSERT(s->nkey_specs >= 0);
    HP_ASSERT(s->nkey_specs <= CMD_KEY_SPECS_MAX);
    HP_ASSERT(argc >= 1);
    out->n = 0;
    out->nkeys = 0;
    for (int j = 0; j < s->nkey_specs; j++) {
        const struct cmd_key_spec *ks = &s->key_specs[j];
        HP_ASSERT(ks->begin != CMD_KS_BEGIN_INVALID);
        if ((ks->flags & CMD_KEY_NOT_KEY) && !with_not_keys)
            continue;
        if (ks->begin == CMD_KS_BEGIN_UNKNOWN) {
            out->n = 0;
            out->nkeys = 0;
            return CMD_KEYS_ERR_UNKNOWN_SPEC;
        }
        int first = find_begin(ks, argc, argv);
        if (first == 0)
            continue;
        struct cmd_key_range *r = &out->r[out->n];
        enum cmd_keys_rc rc = find_range(ks, argc, argv, first, r);
        if (rc != CMD_KEYS_OK) {
            out->n = 0;
            out->nkeys = 0;
            return rc;
        }
        r->flags = ks->flags;
        if ((ks->flags & CMD_KEY_VARIABLE_FLAGS) && s->key_flags != NULL)
            r->flags = s->key_flags(j, argc, argv);
        out->nkeys += range_count(r);
        out->n++;
    }
    return CMD_KEYS_OK;
}

enum cmd_keys_rc cmd_keys_get(const struct cmd_spec *s, int argc, const struct hp_slice *argv,
                              struct cmd_key_ref *keys, size_t cap, size_t *n)
{
    struct cmd_key_ranges kr;
    enum cmd_keys_rc rc = cmd_keys_find(s, argc, argv, false, &kr);
    *n = kr.nkeys;
    if (rc != CMD_KEYS_OK)
        return rc;
    if (kr.nkeys > cap)
        return CMD_KEYS_ERR_CAPACITY;
    size_t k = 0;
    for (int j = 0; j < kr.n; j++)
        for (int i = kr.r[j].first; i <= kr.r[j].last; i += kr.r[j].step) {
            HP_ASSERT(k < cap);
            keys[k].pos = i;
            keys[k].flags = kr.r[j].flags;
            k++;
        }
    HP_ASSERT(k == kr.nkeys);
    return CMD_KEYS_OK;
}

const char *cmd_keys_strerror(enum cmd_keys_rc rc)
{
    switch (rc) {
    case CMD_KEYS_OK:
        return NULL;
    case CMD_KEYS_ERR_NUMKEYS_NOT_INT:
        return "ERR value is not an integer or out of range";
    case CMD_KEYS_ERR_NUMKEYS_NEGATIVE:
        return "ERR Number of keys can't be negative";
    case CMD_KEYS_ERR_NUMKEYS_TOO_MANY:
        return "ERR Number of keys can't be greater than number of args";
    case CMD_KEYS_ERR_RANGE:
        return "ERR syntax error";
    case CMD_KEYS_ERR_UNKNOWN_SPEC:
        return "ERR key positions of this command need its own parser, not implemented";
    case CMD_KEYS_ERR_CAPACITY:
        return "ERR too many keys";
    }
    return "ERR unknown key spec error";
}

static bool plain_range(const struct cmd_key_spec *ks)
{
    return ks->begin == CMD_KS_BEGIN_INDEX && ks->find == CMD_KS_FIND_RANGE;
}

bool cmd_legacy_range(const struct cmd_spec *s, int *first, int *last, int *step)
{
    *first = *last = *step = 0;
    if (s->nkey_specs == 0)
        return false;
    const struct cmd_key_spec *k0 = &s->key_specs[0];
    if (s->nkey_specs == 1 && plain_range(k0)) {
        /* One range describes itself, step included (MSET's 2). */
        *first = k0->bs.index;
        *last = k0->fk.range.lastkey < 0 ? k0->fk.range.lastkey
                                         : k0->bs.index + k0->fk.range.lastkey;
        *step = k0->fk.range.keystep;
        return (k0->flags & CMD_KEY_INCOMPLETE) != 0;
    }
    /* Otherwise: the union of consecutive step-1 ranges (RENAME: 1 and 2);
     * anything else makes the keys movable. */
    bool movable = false;
    int lo = INT_MAX;
    unsigned hi = 0; /* unsigned, so a "from the end" -1 outranks any index */
    unsigned prev = 0;
    for (int j = 0; j < s->nkey_specs; j++) {
        const struct cmd_key_spec *ks = &s->key_specs[j];
        if (!plain_range(ks) || ks->fk.range.keystep != 1 ||
            (prev != 0 && prev != (unsigned)(ks->bs.index - 1))) {
            movable = true;
            continue;
        }
        if (ks->flags & CMD_KEY_INCOMPLETE)
            movable = true;
        lo = HP_MIN(lo, ks->bs.index);
        int abs_last = ks->fk.range.lastkey;
        if (abs_last >= 0)
            abs_last += ks->bs.index;
        hi = HP_MAX(hi, (unsigned)abs_last);
        prev = hi;
    }
    if (lo == INT_MAX)
        return true;
    *first = lo;
    *last = (int)hi;
    *step = 1;
    return movable;
}

bool cmd_has_keys(const struct cmd_spec *s)
{
    for (int j = 0; j < s->nkey_specs; j++)
        if (!(s->key_specs[j].flags & CMD_KEY_NOT_KEY))
            return true;
    return false;
}
