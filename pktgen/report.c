/* report.c - see report.h. */
#include "report.h"

#include <inttypes.h>
#include <string.h>

static const double report_pcts[] = {50, 90, 99, 99.9, 99.99};
static const char *const report_pct_names[] = {"p50", "p90", "p99", "p99.9", "p99.99"};

bool report_passed(const struct pg_engine *e)
{
    if (e->fatal[0] && !e->o.check)
        return false;
    if (e->run.done == 0)
        return false;       /* nothing answered: nothing was measured */
    if (!e->o.check)
        return true;
    const struct pg_counters *c = &e->total;
    return c->mismatches == 0 && c->lost == 0 && c->server_errors == 0 && c->proto_errors == 0 &&
           !e->fatal[0];
}

static double run_secs(const struct pg_engine *e)
{
    return e->o.duration_s;
}

static const char *mode_name(const struct pg_engine *e)
{
    return e->o.mode == PG_MODE_TCP ? "tcp" : e->o.mode == PG_MODE_UDP ? "udp" : "dpdk";
}

static void mix_string(const struct pg_engine *e, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < WL_OP_COUNT; i++)
        if (e->o.wl.mix[i] && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s=%u", n ? "," : "",
                                  wl_op_name((enum wl_op)i), e->o.wl.mix[i]);
}

static void dist_string(const struct pg_engine *e, char *buf, size_t cap)
{
    const struct wl_config *w = &e->o.wl;
    if (w->dist == WL_DIST_ZIPF)
        snprintf(buf, cap, "zipf:%g", w->zipf_s);
    else if (w->dist == WL_DIST_HOTSET)
        snprintf(buf, cap, "hotset:%g:%g", w->hot_fraction, w->hot_probability);
    else
        snprintf(buf, cap, "uniform");
}

void report_text(FILE *out, const struct pg_engine *e)
{
    const struct pg_opts *o = &e->o;
    const struct pg_counters *r = &e->run;
    char mix[96], dist[64];
    mix_string(e, mix, sizeof(mix));
    dist_string(e, dist, sizeof(dist));
    double secs = run_secs(e);
    fprintf(out, "hotpath-pktgen %s%s%s %s:%u  flows %u  window %u  cmds/request %u\n",
            mode_name(e), o->label ? " " : "", o->label ? o->label : "", o->host, o->port,
            o->flows, o->window, o->cmds);
    fprintf(out, "workload: %" PRIu64 " keys (%u B), values %u B, %s, mix %s, mget %u, %s",
            o->wl.keys, o->wl.key_size, o->wl.value_size, dist, mix, o->wl.mget_batch,
            o->rate > 0 ? "open loop" : "closed loop");
    if (o->rate > 0)
        fprintf(out, " %.0f req/s %s", o->rate, o->poisson ? "poisson" : "constant");
    fprintf(out, "\n");
    if (o->load)
        fprintf(out, "load: %" PRIu64 " keys in %.2f s (%.0f keys/s)\n", e->loaded, e->load_s,
                e->load_s > 0 ? e->loaded / e->load_s : 0);
    fprintf(out, "run: %.2f s measured after %.2f s warm-up\n", secs, o->warmup_s);
    fprintf(out, "throughput: %.0f req/s, %.0f cmds/s, %.0f keys/s\n", r->done / secs,
            r->cmds_done / secs, r->keys_done / secs);
    fprintf(out, "requests: sent %" PRIu64 ", answered %" PRIu64 ", lost %" PRIu64
            ", unsent (open loop backlog) %" PRIu64 ", retries %" PRIu64 "\n",
            r->sent, r->done, r->lost, r->unsent, e->total.retries);
    fprintf(out, "latency (us, from intended send time):");
    for (size_t i = 0; i < HP_ARRAY_LEN(report_pcts); i++)
        fprintf(out, " %s %.1f", report_pct_names[i], hist_percentile(&e->lat, report_pcts[i]) / 1e3);
    fprintf(out, " max %.1f mean %.1f\n", e->lat.count ? e->lat.max / 1e3 : 0.0,
            hist_mean(&e->lat) / 1e3);
    fprintf(out, "errors: server %" PRIu64 ", mismatches %" PRIu64 ", lost %" PRIu64
            ", connection/protocol %" PRIu64 "\n",
            e->total.server_errors, e->total.mismatches, e->total.lost, e->total.proto_errors);
    if (e->stalls.measured)
        fprintf(out, "generator stalls (poll passes > %llu us): %" PRIu64 ", %.1f us in all, "
                "longest %.1f us; involuntary context switches %" PRIu64 "\n",
                PG_STALL_NS / 1000, e->stalls.count, e->stalls.total_ns / 1e3,
                e->stalls.max_ns / 1e3, e->stalls.preempted);
    if (o->check) {
        fprintf(out, "check: %" PRIu64 " replies checked, %" PRIu64 " keys verified at the end"
                ", %" PRIu64 " SETs deferred (write in flight)\n",
                e->model.checked, e->verified, e->model.refused_sets);
        if (e->model.first_error[0])
            fprintf(out, "first mismatch: %s\n", e->model.first_error);
    }
    if (e->fatal[0])
        fprintf(out, "fatal: %s\n", e->fatal);
    fprintf(out, "result: %s\n", report_passed(e) ? "PASS" : "FAIL");
}

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

void report_json(FILE *out, const struct pg_engine *e)
{
    const struct pg_opts *o = &e->o;
    const struct pg_counters *r = &e->run;
    char mix[96], dist[64];
    mix_string(e, mix, sizeof(mix));
    dist_string(e, dist, sizeof(dist));
    double secs = run_secs(e);
    fprintf(out, "{\"tool\": \"hotpath-pktgen\", \"mode\": \"%s\", \"label\": ", mode_name(e));
    json_str(out, o->label ? o->label : "");
    fprintf(out, ", \"host\": ");
    json_str(out, o->host);
    fprintf(out, ", \"port\": %u, \"flows\": %u, \"window\": %u, \"cmds_per_request\": %u,\n",
            o->port, o->flows, o->window, o->cmds);
    fprintf(out, " \"keys\": %" PRIu64 ", \"key_size\": %u, \"value_size\": %u, \"dist\": \"%s\","
            " \"mix\": \"%s\", \"mget_batch\": %u, \"seed\": %" PRIu64 ",\n",
            o->wl.keys, o->wl.key_size, o->wl.value_size, dist, mix, o->wl.mget_batch, o->wl.seed);
    fprintf(out, " \"loop\": \"%s\", \"rate\": %.1f, \"arrival\": \"%s\", \"duration_s\": %.3f,"
            " \"warmup_s\": %.3f,\n", o->rate > 0 ? "open" : "closed", o->rate,
            o->poisson ? "poisson" : "constant", secs, o->warmup_s);
    fprintf(out, " \"load_keys\": %" PRIu64 ", \"load_s\": %.3f,\n", e->loaded, e->load_s);
    fprintf(out, " \"requests_per_s\": %.1f, \"cmds_per_s\": %.1f, \"keys_per_s\": %.1f,\n",
            r->done / secs, r->cmds_done / secs, r->keys_done / secs);
    fprintf(out, " \"sent\": %" PRIu64 ", \"answered\": %" PRIu64 ", \"lost\": %" PRIu64
            ", \"unsent\": %" PRIu64 ", \"retries\": %" PRIu64 ",\n",
            r->sent, r->done, r->lost, r->unsent, e->total.retries);
    fprintf(out, " \"latency_us\": {\"count\": %" PRIu64, e->lat.count);
    for (size_t i = 0; i < HP_ARRAY_LEN(report_pcts); i++)
        fprintf(out, ", \"%s\": %.3f", report_pct_names[i],
                hist_percentile(&e->lat, report_pcts[i]) / 1e3);
    fprintf(out, ", \"max\": %.3f, \"mean\": %.3f},\n", e->lat.count ? e->lat.max / 1e3 : 0.0,
            hist_mean(&e->lat) / 1e3);
    fprintf(out, " \"errors\": {\"server\": %" PRIu64 ", \"mismatches\": %" PRIu64
            ", \"lost\": %" PRIu64 ", \"protocol\": %" PRIu64 "},\n",
            e->total.server_errors, e->total.mismatches, e->total.lost, e->total.proto_errors);
    fprintf(out, " \"stalls\": {\"measured\": %s, \"over_us\": %llu, \"count\": %" PRIu64
            ", \"total_us\": %.1f, \"max_us\": %.1f, \"preempted\": %" PRIu64 "},\n",
            e->stalls.measured ? "true" : "false", PG_STALL_NS / 1000, e->stalls.count,
            e->stalls.total_ns / 1e3, e->stalls.max_ns / 1e3, e->stalls.preempted);
    fprintf(out, " \"check\": %s, \"checked\": %" PRIu64 ", \"verified\": %" PRIu64
            ", \"first_mismatch\": ", o->check ? "true" : "false",
            o->check ? e->model.checked : 0, e->verified);
    json_str(out, o->check ? e->model.first_error : "");
    fprintf(out, ", \"fatal\": ");
    json_str(out, e->fatal);
    fprintf(out, ", \"passed\": %s}\n", report_passed(e) ? "true" : "false");
}
