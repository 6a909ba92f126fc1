/*
 * report.h - the final report of a pktgen run, as text for people and as
 * JSON for the benchmark scripts (one object; field names are stable:
 * tests/bench/bench_pktgen_*.py read them).
 */
#ifndef HP_PKTGEN_REPORT_H
#define HP_PKTGEN_REPORT_H

#include "engine.h"

/* Did the run pass?  Always: no fatal transport error.  Correctness mode
 * also: no mismatch, no lost request, no error reply, no dropped
 * connection. */
bool report_passed(const struct pg_engine *e);
void report_text(FILE *out, const struct pg_engine *e);
void report_json(FILE *out, const struct pg_engine *e);

#endif
