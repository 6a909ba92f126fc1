/*
 * main.c - hotpath-pktgen: command line, phases, report.
 *
 * Exit status: 0 the run passed (report_passed), 1 it did not, 2 bad
 * arguments.
 */
#include "report.h"
#include "transport.h"

#include "dpdk_mode.h"
#include "hpclient.h"

#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
"usage: hotpath-pktgen [options]\n"
"Load generator for hotpathd and redis-server (docs/BENCHMARKS.md).\n"
"\n"
"target:\n"
"  --mode tcp|udp|dpdk    RESP over TCP (default); docs/PROTOCOL.md over kernel UDP;\n"
"                         docs/PROTOCOL.md over a DPDK port (kernel bypass)\n"
"  --host ADDR            server address (default 127.0.0.1)\n"
"  --port N               server port (default 6379); udp: the base port\n"
"  --shards N             the server's shards (hotpathd workers): keep each request's\n"
"                         keys on one shard, as UDP requires (default 0 = don't care)\n"
"  --steer                udp/dpdk: send each request to port + its shard (the owner's\n"
"                         queue); dpdk without it: spread over all queues (hand-over)\n"
"dpdk mode:\n"
"  --eal \"ARGS\"           EAL arguments, e.g. \"-l 0-2 --no-huge --no-pci -m 512\n"
"                         --file-prefix pg --vdev net_memif0,role=client,socket=/tmp/m.sock\"\n"
"                         one RX/TX queue pair per lcore (main included); several\n"
"                         lcores need --shards equal to them (lcore q: shard q)\n"
"  --dpdk-port N          DPDK port id (default 0)\n"
"  --src-ip A, --dst-ip B our and the server's IPv4 address (default 10.0.0.2, 10.0.0.1)\n"
"  --dst-mac M            server MAC (default ff:ff:ff:ff:ff:ff, which hotpathd accepts)\n"
"  --src-port N           first UDP source port; flow i uses N + i (default 20000)\n"
"  --reflector            the peer returns our frames (dpdk-testpmd macswap): a returned\n"
"                         request counts as its answer\n"
"  --retry-ms N           retransmit an unanswered request after N ms, doubling up to\n"
"                         %u ms, same id (default 100; 0 = never; lost after --timeout-ms)\n"
"  --inject-loss P        drop P %% of first transmissions and of replies (0..50; tests)\n"
"load shape:\n"
"  --flows N              connections (tcp) / sessions (udp), 1..%d (default 4)\n"
"  --window N             requests outstanding per flow, 1..%d (default 16; udp <= %d)\n"
"  --cmds N               commands per request (pipelined / per datagram), 1..%d (default 1)\n"
"  --rate R               open loop: R requests/s over all flows (default 0 = closed loop)\n"
"  --arrival constant|poisson   open-loop inter-arrival times (default constant)\n"
"  --duration S           measured seconds (default 5)\n"
"  --warmup S             seconds before measuring (default 1)\n"
"  --timeout-ms N         a request unanswered this long is lost (default 2000)\n"
"workload:\n"
"  --keys N               key count, 1..2^32 (default 100000)\n"
"  --key-size N           key bytes (default 16; at least 1 + digits of N-1)\n"
"  --value-size N         value bytes, 1..%u (default 32; >= %d with --check)\n"
"  --dist D               uniform | zipf:S | hotset:FRACTION:PROBABILITY (default uniform)\n"
"  --mix M                e.g. get=90,set=10 or get=50,set=30,incr=10,mget=10 (default get=100)\n"
"  --mget-batch N         keys per MGET, 1..%d (default 8)\n"
"  --seed N               RNG seed (default 1)\n"
"  --load                 SET every key once before the run (pipelined; load rate reported)\n"
"correctness:\n"
"  --check                model every write, check every reply, FLUSHALL first and verify\n"
"                         every touched key at the end; any mismatch or loss fails the run\n"
"  --no-flush, --no-verify  skip those two steps of --check\n"
"output:\n"
"  --json FILE            also write the report as JSON ('-' = stdout)\n"
"  --label TEXT           name of this run in the report\n"
"  --quiet                no progress line each second\n"
"  --help\n",
            PG_DPDK_MAX_RTO_MS, PG_MAX_FLOWS, PG_MAX_WINDOW, HPC_MAX_OUTSTANDING, PG_MAX_CMDS,
            WL_MAX_VALUE_SIZE, WL_VALUE_HDR_LEN, WL_MAX_MGET);
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_dbl(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

enum {
    OPT_MODE = 256, OPT_HOST, OPT_PORT, OPT_FLOWS, OPT_WINDOW, OPT_CMDS, OPT_RATE, OPT_ARRIVAL,
    OPT_DURATION, OPT_WARMUP, OPT_TIMEOUT, OPT_KEYS, OPT_KEY_SIZE, OPT_VALUE_SIZE, OPT_DIST,
    OPT_MIX, OPT_MGET, OPT_SEED, OPT_LOAD, OPT_CHECK, OPT_NO_FLUSH, OPT_NO_VERIFY, OPT_JSON,
    OPT_LABEL, OPT_QUIET, OPT_HELP, OPT_SHARDS, OPT_STEER, OPT_EAL, OPT_DPDK_PORT, OPT_SRC_IP,
    OPT_DST_IP, OPT_DST_MAC, OPT_SRC_PORT, OPT_REFLECTOR, OPT_RETRY_MS, OPT_INJECT_LOSS,
};

static const struct option long_opts[] = {
    {"mode", required_argument, NULL, OPT_MODE},
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_PORT},
    {"flows", required_argument, NULL, OPT_FLOWS},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"cmds", required_argument, NULL, OPT_CMDS},
    {"rate", required_argument, NULL, OPT_RATE},
    {"arrival", required_argument, NULL, OPT_ARRIVAL},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
    {"keys", required_argument, NULL, OPT_KEYS},
    {"key-size", required_argument, NULL, OPT_KEY_SIZE},
    {"value-size", required_argument, NULL, OPT_VALUE_SIZE},
    {"dist", required_argument, NULL, OPT_DIST},
    {"mix", required_argument, NULL, OPT_MIX},
    {"mget-batch", required_argument, NULL, OPT_MGET},
    {"seed", required_argument, NULL, OPT_SEED},
    {"load", no_argument, NULL, OPT_LOAD},
    {"check", no_argument, NULL, OPT_CHECK},
    {"no-flush", no_argument, NULL, OPT_NO_FLUSH},
    {"no-verify", no_argument, NULL, OPT_NO_VERIFY},
    {"json", required_argument, NULL, OPT_JSON},
    {"label", required_argument, NULL, OPT_LABEL},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {"shards", required_argument, NULL, OPT_SHARDS},
    {"steer", no_argument, NULL, OPT_STEER},
    {"eal", required_argument, NULL, OPT_EAL},
    {"dpdk-port", required_argument, NULL, OPT_DPDK_PORT},
    {"src-ip", required_argument, NULL, OPT_SRC_IP},
    {"dst-ip", required_argument, NULL, OPT_DST_IP},
    {"dst-mac", required_argument, NULL, OPT_DST_MAC},
    {"src-port", required_argument, NULL, OPT_SRC_PORT},
    {"reflector", no_argument, NULL, OPT_REFLECTOR},
    {"retry-ms", required_argument, NULL, OPT_RETRY_MS},
    {"inject-loss", required_argument, NULL, OPT_INJECT_LOSS},
    {NULL, 0, NULL, 0},
};

/* Returns 0, 1 for --help, -1 with a message in err. */
static bool parse_ip(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        return false;
    *out = ntohl(a.s_addr);
    return true;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    char tail;
    if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
        return false;
    for (int i = 0; i < 6; i++) {
        if (v[i] > 255)
            return false;
        mac[i] = (uint8_t)v[i];
    }
    return true;
}

static int parse_args(int argc, char **argv, struct pg_opts *o, struct pg_dpdk_opts *dp,
                      char *err, size_t cap)
{
    bool no_flush = false, no_verify = false, dpdk_only = false;
    uint64_t u;
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        const char *a = optarg;
        bool ok = true;
        switch (ch) {
        case OPT_MODE:
            if (strcmp(a, "tcp") == 0)
                o->mode = PG_MODE_TCP;
            else if (strcmp(a, "udp") == 0)
                o->mode = PG_MODE_UDP;
            else if (strcmp(a, "dpdk") == 0)
                o->mode = PG_MODE_DPDK;
            else
                ok = false;
            break;
        case OPT_HOST: ok = *a != 0; o->host = a; break;
        case OPT_PORT: ok = parse_u64(a, 1, 65535, &u); o->port = (uint16_t)u; break;
        case OPT_FLOWS: ok = parse_u64(a, 1, PG_MAX_FLOWS, &u); o->flows = (uint32_t)u; break;
        case OPT_WINDOW: ok = parse_u64(a, 1, PG_MAX_WINDOW, &u); o->window = (uint32_t)u; break;
        case OPT_CMDS: ok = parse_u64(a, 1, PG_MAX_CMDS, &u); o->cmds = (uint32_t)u; break;
        case OPT_RATE: ok = parse_dbl(a, 0, PG_MAX_RATE, &o->rate) && (o->rate == 0 || o->rate >= 1); break;
        case OPT_ARRIVAL:
            ok = strcmp(a, "constant") == 0 || strcmp(a, "poisson") == 0;
            o->poisson = strcmp(a, "poisson") == 0;
            break;
        case OPT_DURATION: ok = parse_dbl(a, 1e-3, 1e6, &o->duration_s); break;
        case OPT_WARMUP: ok = parse_dbl(a, 0, 1e6, &o->warmup_s); break;
        case OPT_TIMEOUT: ok = parse_u64(a, 1, 600000, &u); o->timeout_ms = (uint32_t)u; break;
        case OPT_KEYS: ok = parse_u64(a, 1, WL_MAX_KEYS, &u); o->wl.keys = u; break;
        case OPT_KEY_SIZE: ok = parse_u64(a, 2, WL_MAX_KEY_SIZE, &u); o->wl.key_size = (uint32_t)u; break;
        case OPT_VALUE_SIZE: ok = parse_u64(a, 1, WL_MAX_VALUE_SIZE, &u); o->wl.value_size = (uint32_t)u; break;
        case OPT_DIST:
            if (wl_parse_dist(&o->wl, a, err, cap) != 0)
                return -1;
            break;
        case OPT_MIX:
            if (wl_parse_mix(&o->wl, a, err, cap) != 0)
                return -1;
            break;
        case OPT_MGET: ok = parse_u64(a, 1, WL_MAX_MGET, &u); o->wl.mget_batch = (uint32_t)u; break;
        case OPT_SEED: ok = parse_u64(a, 0, UINT64_MAX, &u); o->wl.seed = u; break;
        case OPT_LOAD: o->load = true; break;
        case OPT_CHECK: o->check = true; break;
        case OPT_NO_FLUSH: no_flush = true; break;
        case OPT_NO_VERIFY: no_verify = true; break;
        case OPT_JSON: ok = *a != 0; o->json_path = a; break;
        case OPT_LABEL: o->label = a; break;
        case OPT_QUIET: o->progress = false; break;
        case OPT_HELP: return 1;
        case OPT_SHARDS: ok = parse_u64(a, 0, HP_MAX_SHARDS, &u); o->shards = (uint32_t)u; break;
        case OPT_STEER: o->steer = true; break;
        case OPT_EAL: dp->eal = a; break;
        case OPT_DPDK_PORT: ok = parse_u64(a, 0, 1023, &u); dp->port_id = (uint16_t)u; break;
        case OPT_SRC_IP: ok = parse_ip(a, &dp->src_ip); break;
        case OPT_DST_IP: ok = parse_ip(a, &dp->dst_ip); break;
        case OPT_DST_MAC: ok = parse_mac(a, dp->dst_mac); break;
        case OPT_SRC_PORT: ok = parse_u64(a, 1, 65535, &u); dp->src_port_base = (uint16_t)u; break;
        case OPT_REFLECTOR: dp->reflector = true; break;
        case OPT_RETRY_MS:
            ok = parse_u64(a, 0, HPPROTO_RETRY_HORIZON_MS, &u);
            dp->retry_ms = (uint32_t)u;
            dpdk_only = true;
            break;
        case OPT_INJECT_LOSS:
            ok = parse_dbl(a, 0, 50, &dp->inject_loss);
            dpdk_only = true;
            break;
        default:
            snprintf(err, cap, "unknown option or missing value: '%s'", argv[optind - 1]);
            return -1;
        }
        if (!ok) {
            snprintf(err, cap, "bad value for --%s: '%s' (see --help)",
                     long_opts[ch - OPT_MODE].name, a ? a : "");
            return -1;
        }
    }
    if (optind < argc) {
        snprintf(err, cap, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if ((no_flush || no_verify) && !o->check) {
        snprintf(err, cap, "--no-flush and --no-verify only make sense with --check");
        return -1;
    }
    if (o->mode != PG_MODE_DPDK && (dp->eal || dp->reflector || dpdk_only)) {
        snprintf(err, cap, "--eal, --reflector, --retry-ms and --inject-loss belong to "
                 "--mode dpdk");
        return -1;
    }
    if (o->mode == PG_MODE_DPDK && !dp->eal) {
        snprintf(err, cap, "--mode dpdk needs --eal \"EAL arguments\" (see --help)");
        return -1;
    }
    if (dp->reflector && o->check) {
        snprintf(err, cap, "--reflector returns our requests, not answers: no --check");
        return -1;
    }
    if ((uint32_t)dp->src_port_base + o->flows - 1 > 65535) {
        snprintf(err, cap, "--src-port + flows exceeds 65535");
        return -1;
    }
    o->flush = o->check && !no_flush;
    o->verify = o->check && !no_verify;
    if (o->mode == PG_MODE_UDP && o->window > HPC_MAX_OUTSTANDING) {
        snprintf(err, cap, "udp mode: window must be at most %d", HPC_MAX_OUTSTANDING);
        return -1;
    }
    return pg_opts_check(o, err, cap);
}

int main(int argc, char **argv)
{
    struct pg_opts o;
    struct pg_dpdk_opts dp = {.src_ip = 0x0A000002, .dst_ip = 0x0A000001,
                              .dst_mac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
                              .src_port_base = 20000, .retry_ms = 100};
    char err[512];
    pg_opts_defaults(&o);
    int a = parse_args(argc, argv, &o, &dp, err, sizeof(err));
    if (a == 1) {
        usage(stdout);
        return 0;
    }
    if (a < 0) {
        fprintf(stderr, "hotpath-pktgen: %s\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    static char dst_text[INET_ADDRSTRLEN];
    if (o.mode == PG_MODE_DPDK) {
        struct in_addr ia = {.s_addr = htonl(dp.dst_ip)};
        o.host = inet_ntop(AF_INET, &ia, dst_text, sizeof(dst_text));
    }
    struct pg_engine *e = calloc(1, sizeof(*e));
    if (!e || pg_engine_init(e, &o, err, sizeof(err)) != 0) {
        fprintf(stderr, "hotpath-pktgen: %s\n", e ? err : "out of memory");
        free(e);
        return 2;
    }
    int rc = o.mode == PG_MODE_TCP   ? pg_tcp_run(e)
             : o.mode == PG_MODE_UDP ? pg_udp_run(e)
                                     : pg_dpdk_run(e, &dp);
    if (rc != 0 && !e->fatal[0])
        snprintf(e->fatal, sizeof(e->fatal), "transport failed");
    report_text(stdout, e);
    if (o.json_path) {
        FILE *f = strcmp(o.json_path, "-") == 0 ? stdout : fopen(o.json_path, "w");
        if (!f) {
            fprintf(stderr, "hotpath-pktgen: cannot write %s: %s\n", o.json_path, strerror(errno));
            rc = -1;
        } else {
            report_json(f, e);
            if (f != stdout && fclose(f) != 0) {
                fprintf(stderr, "hotpath-pktgen: writing %s failed\n", o.json_path);
                rc = -1;
            }
        }
    }
    bool passed = report_passed(e) && rc == 0;
    pg_engine_free(e);
    free(e);
    return passed ? 0 : 1;
}
