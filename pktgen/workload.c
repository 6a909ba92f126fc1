/* workload.c - see workload.h. */
#include "workload.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

/* Smallest prime above 2^32: coprime with every key count <= WL_MAX_KEYS,
 * so multiplying by it modulo keys permutes the ids. */
#define WL_SCATTER_PRIME 4294967311ull

static void wl_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void wl_err(char *err, size_t cap, const char *fmt, ...)
{
    if (cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* ---- RNG ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void wl_rng_seed(struct wl_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t wl_rng_next(struct wl_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double wl_rng_double(struct wl_rng *r)
{
    return (double)(wl_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t wl_rng_below(struct wl_rng *r, uint64_t n)
{
    HP_ASSERT(n >= 1);
    /* Lemire's multiply-shift with rejection of the biased low zone. */
    unsigned __int128 m = (unsigned __int128)wl_rng_next(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = (0 - n) % n;
        while (low < threshold) {
            m = (unsigned __int128)wl_rng_next(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* ---- Zipf: rejection-inversion ---------------------------------------------- */

/* log1p(x)/x and expm1(x)/x, with their Taylor series near 0 where the
 * quotient would lose all precision (s close to 1). */
static double zipf_helper1(double x)
{
    return fabs(x) > 1e-8 ? log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

static double zipf_helper2(double x)
{
    return fabs(x) > 1e-8 ? expm1(x) / x : 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x));
}

/* H is an integral of h(x) = x^-s; Hinv its inverse. */
static double zipf_H(const struct wl_zipf *z, double x)
{
    double lx = log(x);
    return zipf_helper2((1.0 - z->s) * lx) * lx;
}

static double zipf_h(const struct wl_zipf *z, double x)
{
    return exp(-z->s * log(x));
}

static double zipf_Hinv(const struct wl_zipf *z, double x)
{
    double t = x * (1.0 - z->s);
    if (t < -1.0)
        t = -1.0;   /* rounding at the edge of the domain */
    return exp(zipf_helper1(t) * x);
}

int wl_zipf_init(struct wl_zipf *z, uint64_t n, double s)
{
    if (n < 1 || !(s > 0.0) || !(s <= WL_ZIPF_MAX_S))
        return -1;
    z->n = n;
    z->s = s;
    z->h_x1 = zipf_H(z, 1.5) - 1.0;
    z->h_n = zipf_H(z, (double)n + 0.5);
    z->s_const = 2.0 - zipf_Hinv(z, zipf_H(z, 2.5) - zipf_h(z, 2.0));
    return 0;
}

uint64_t wl_zipf_sample(const struct wl_zipf *z, struct wl_rng *r)
{
    if (z->n == 1)
        return 1;
    for (;;) {
        double u = z->h_n + wl_rng_double(r) * (z->h_x1 - z->h_n);
        double x = zipf_Hinv(z, u);
        double kd = floor(x + 0.5);
        uint64_t k;
        if (!(kd >= 1.0))
            k = 1;
        else if (kd >= (double)z->n)
            k = z->n;
        else
            k = (uint64_t)kd;
        if ((double)k - x <= z->s_const ||
            u >= zipf_H(z, (double)k + 0.5) - zipf_h(z, (double)k))
            return k;
    }
}

/* ---- configuration --------------------------------------------------------- */

static const char *const wl_op_names[WL_OP_COUNT] = {"get", "set", "incr", "mget"};

const char *wl_op_name(enum wl_op op)
{
    return (unsigned)op < WL_OP_COUNT ? wl_op_names[op] : "?";
}

const char *wl_dist_name(enum wl_dist d)
{
    switch (d) {
    case WL_DIST_UNIFORM: return "uniform";
    case WL_DIST_ZIPF: return "zipf";
    case WL_DIST_HOTSET: return "hotset";
    }
    return "?";
}

void wl_config_defaults(struct wl_config *c)
{
    memset(c, 0, sizeof(*c));
    c->keys = 100000;
    c->key_size = 16;
    c->value_size = 32;
    c->dist = WL_DIST_UNIFORM;
    c->zipf_s = 0.99;
    c->hot_fraction = 0.01;
    c->hot_probability = 0.9;
    c->mix[WL_OP_GET] = 100;
    c->mget_batch = 8;
    c->seed = 1;
}

uint32_t wl_id_digits(uint64_t keys)
{
    uint32_t d = 1;
    for (uint64_t top = keys > 0 ? keys - 1 : 0; top >= 10; top /= 10)
        d++;
    return d;
}

int wl_config_check(const struct wl_config *c, char *err, size_t cap)
{
    if (c->keys < 1 || c->keys > WL_MAX_KEYS) {
        wl_err(err, cap, "keys must be 1..%llu", (unsigned long long)WL_MAX_KEYS);
        return -1;
    }
    if (c->key_size > WL_MAX_KEY_SIZE || c->key_size < 1 + wl_id_digits(c->keys)) {
        wl_err(err, cap, "key size must be %u..%u for %llu keys", 1 + wl_id_digits(c->keys),
               WL_MAX_KEY_SIZE, (unsigned long long)c->keys);
        return -1;
    }
    if (c->value_size < 1 || c->value_size > WL_MAX_VALUE_SIZE) {
        wl_err(err, cap, "value size must be 1..%u", WL_MAX_VALUE_SIZE);
        return -1;
    }
    if (c->dist == WL_DIST_ZIPF && !(c->zipf_s > 0.0 && c->zipf_s <= WL_ZIPF_MAX_S)) {
        wl_err(err, cap, "zipf skew must be in (0, %g]", WL_ZIPF_MAX_S);
        return -1;
    }
    if (c->dist == WL_DIST_HOTSET &&
        (!(c->hot_fraction > 0.0 && c->hot_fraction <= 1.0) ||
         !(c->hot_probability >= 0.0 && c->hot_probability <= 1.0))) {
        wl_err(err, cap, "hotset needs 0 < fraction <= 1 and 0 <= probability <= 1");
        return -1;
    }
    uint64_t sum = 0;
    for (int i = 0; i < WL_OP_COUNT; i++)
        sum += c->mix[i];
    if (sum != 100) {
        wl_err(err, cap, "operation mix must add up to 100 (it adds up to %llu)",
               (unsigned long long)sum);
        return -1;
    }
    if (c->mget_batch < 1 || c->mget_batch > WL_MAX_MGET) {
        wl_err(err, cap, "mget batch must be 1..%d", WL_MAX_MGET);
        return -1;
    }
    return 0;
}

/* Parses a whole string as a double; false on junk, empty, inf or nan. */
static bool parse_double(const char *s, const char *end, double *out)
{
    char buf[64];
    size_t n = (size_t)(end - s);
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *e;
    errno = 0;
    double v = strtod(buf, &e);
    if (errno || *e || !isfinite(v))
        return false;
    *out = v;
    return true;
}

int wl_parse_dist(struct wl_config *c, const char *s, char *err, size_t cap)
{
    if (strcmp(s, "uniform") == 0) {
        c->dist = WL_DIST_UNIFORM;
        return 0;
    }
    if (strncmp(s, "zipf:", 5) == 0) {
        double v;
        if (!parse_double(s + 5, s + strlen(s), &v) || !(v > 0.0 && v <= WL_ZIPF_MAX_S)) {
            wl_err(err, cap, "zipf skew must be a number in (0, %g]: '%s'", WL_ZIPF_MAX_S, s);
            return -1;
        }
        c->dist = WL_DIST_ZIPF;
        c->zipf_s = v;
        return 0;
    }
    if (strncmp(s, "hotset:", 7) == 0) {
        const char *a = s + 7, *colon = strchr(a, ':');
        double f, p;
        if (!colon || !parse_double(a, colon, &f) ||
            !parse_double(colon + 1, colon + 1 + strlen(colon + 1), &p) ||
            !(f > 0.0 && f <= 1.0) || !(p >= 0.0 && p <= 1.0)) {
            wl_err(err, cap, "hotset wants hotset:FRACTION:PROBABILITY with 0 < FRACTION <= 1, "
                   "0 <= PROBABILITY <= 1: '%s'", s);
            return -1;
        }
        c->dist = WL_DIST_HOTSET;
        c->hot_fraction = f;
        c->hot_probability = p;
        return 0;
    }
    wl_err(err, cap, "unknown key distribution '%s' (uniform, zipf:S, hotset:F:P)", s);
    return -1;
}

int wl_parse_mix(struct wl_config *c, const char *s, char *err, size_t cap)
{
    uint32_t mix[WL_OP_COUNT] = {0};
    bool seen[WL_OP_COUNT] = {false};
    const char *p = s;
    if (*p == 0) {
        wl_err(err, cap, "empty operation mix");
        return -1;
    }
    while (*p) {
        const char *eq = strchr(p, '='), *comma = strchr(p, ',');
        if (!comma)
            comma = p + strlen(p);
        if (!eq || eq > comma) {
            wl_err(err, cap, "operation mix wants op=PERCENT[,op=PERCENT...]: '%s'", s);
            return -1;
        }
        int op = -1;
        for (int i = 0; i < WL_OP_COUNT; i++)
            if ((size_t)(eq - p) == strlen(wl_op_names[i]) &&
                strncasecmp(p, wl_op_names[i], (size_t)(eq - p)) == 0)
                op = i;
        double v;
        if (op < 0 || seen[op] || !parse_double(eq + 1, comma, &v) || v < 0 || v > 100 ||
            v != floor(v)) {
            wl_err(err, cap, "bad operation mix entry '%.*s' (ops: get set incr mget, "
                   "whole percentages, each once)", (int)(comma - p), p);
            return -1;
        }
        seen[op] = true;
        mix[op] = (uint32_t)v;
        p = *comma ? comma + 1 : comma;
    }
    uint32_t sum = 0;
    for (int i = 0; i < WL_OP_COUNT; i++)
        sum += mix[i];
    if (sum != 100) {
        wl_err(err, cap, "operation mix must add up to 100, not %u: '%s'", sum, s);
        return -1;
    }
    memcpy(c->mix, mix, sizeof(mix));
    return 0;
}

/* ---- generator ---------------------------------------------------------------- */

void wl_gen_init(struct wl_gen *g, const struct wl_config *cfg, uint64_t stream)
{
    HP_ASSERT(cfg->keys >= 1 && cfg->keys <= WL_MAX_KEYS);
    memset(g, 0, sizeof(*g));
    g->cfg = cfg;
    wl_rng_seed(&g->rng, cfg->seed ^ (stream * 0xD1B54A32D192ED03ull));
    if (cfg->dist == WL_DIST_ZIPF)
        HP_ASSERT(wl_zipf_init(&g->zipf, cfg->keys, cfg->zipf_s) == 0);
    double hot = ceil(cfg->hot_fraction * (double)cfg->keys);
    g->hot_n = hot < 1.0 ? 1 : hot >= (double)cfg->keys ? cfg->keys : (uint64_t)hot;
    g->scatter = WL_SCATTER_PRIME % cfg->keys;
}

enum wl_op wl_gen_op(struct wl_gen *g)
{
    uint32_t x = (uint32_t)wl_rng_below(&g->rng, 100);
    for (int i = 0; i < WL_OP_COUNT; i++) {
        if (x < g->cfg->mix[i])
            return (enum wl_op)i;
        x -= g->cfg->mix[i];
    }
    HP_ASSERT(!"operation mix does not add up to 100");
    return WL_OP_GET;
}

uint64_t wl_gen_rank(struct wl_gen *g)
{
    const struct wl_config *c = g->cfg;
    switch (c->dist) {
    case WL_DIST_UNIFORM:
        return wl_rng_below(&g->rng, c->keys);
    case WL_DIST_ZIPF:
        return wl_zipf_sample(&g->zipf, &g->rng) - 1;
    case WL_DIST_HOTSET:
        if (g->hot_n == c->keys || wl_rng_double(&g->rng) < c->hot_probability)
            return wl_rng_below(&g->rng, g->hot_n);
        return g->hot_n + wl_rng_below(&g->rng, c->keys - g->hot_n);
    }
    HP_ASSERT(!"bad distribution");
    return 0;
}

uint64_t wl_rank_to_id(const struct wl_gen *g, uint64_t rank)
{
    HP_ASSERT(rank < g->cfg->keys);
    return (uint64_t)(((unsigned __int128)rank * g->scatter) % g->cfg->keys);
}

uint64_t wl_gen_key(struct wl_gen *g)
{
    return wl_rank_to_id(g, wl_gen_rank(g));
}

/* ---- bytes of keys and values ------------------------------------------------------ */

void wl_key_format(const struct wl_config *c, char kind, uint64_t id, char *out)
{
    HP_ASSERT(c->key_size >= 1 + wl_id_digits(id + 1));
    out[0] = kind;
    for (uint32_t i = c->key_size - 1; i >= 1; i--) {
        out[i] = (char)('0' + id % 10);
        id /= 10;
    }
}

static const char hexdig[] = "0123456789abcdef";

static void put_hex(char *out, uint64_t v, int digits)
{
    for (int i = digits - 1; i >= 0; i--) {
        out[i] = hexdig[v & 15];
        v >>= 4;
    }
}

static bool get_hex(const char *in, int digits, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < digits; i++) {
        char ch = in[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0)
            return false;
        x = x << 4 | (uint64_t)d;
    }
    *v = x;
    return true;
}

/* Filler byte i of the value of (id, version): letters from a hash, so a
 * value shifted, truncated or mixed with another key's is detected. */
static char filler(uint64_t seed, uint32_t i)
{
    uint64_t x = seed + (uint64_t)i * 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 31)) * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return (char)('a' + x % 26);
}

static uint64_t value_seed(uint64_t id, uint32_t version)
{
    uint64_t x = id * 0x94D049BB133111EBull ^ ((uint64_t)version << 32 | version);
    return x ^ (x >> 33);
}

void wl_value_format(const struct wl_config *c, uint64_t id, uint32_t version, char *out)
{
    char hdr[WL_VALUE_HDR_LEN];
    put_hex(hdr, version, 8);
    hdr[8] = ':';
    put_hex(hdr + 9, id & 0xFFFFFFFFFFFFull, 12);
    hdr[21] = ':';
    uint32_t n = c->value_size;
    memcpy(out, hdr, HP_MIN(n, (uint32_t)WL_VALUE_HDR_LEN));
    uint64_t seed = value_seed(id, version);
    for (uint32_t i = WL_VALUE_HDR_LEN; i < n; i++)
        out[i] = filler(seed, i);
}

int wl_value_parse(const struct wl_config *c, const char *v, size_t len, uint64_t *id,
                   uint32_t *version)
{
    if (c->value_size < WL_VALUE_HDR_LEN || len != c->value_size)
        return -1;
    uint64_t ver, i;
    if (!get_hex(v, 8, &ver) || v[8] != ':' || !get_hex(v + 9, 12, &i) || v[21] != ':')
        return -1;
    uint64_t seed = value_seed(i, (uint32_t)ver);
    for (uint32_t k = WL_VALUE_HDR_LEN; k < len; k++)
        if (v[k] != filler(seed, k))
            return -1;
    *id = i;
    *version = (uint32_t)ver;
    return 0;
}

/* ---- hash slots ------------------------------------------------------------------ */

static uint16_t crc16_xmodem(const uint8_t *p, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

uint16_t wl_key_slot(const char *key, size_t len)
{
    const uint8_t *k = (const uint8_t *)key;
    for (size_t i = 0; i < len; i++) {
        if (k[i] != '{')
            continue;
        for (size_t j = i + 1; j < len; j++) {
            if (k[j] == '}') {
                if (j > i + 1)
                    return crc16_xmodem(k + i + 1, j - i - 1) & 16383;
                break;
            }
        }
        break;
    }
    return crc16_xmodem(k, len) & 16383;
}
