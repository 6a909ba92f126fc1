/*
 * strutil.h - exact string <-> number conversions and glob matching with
 * Redis' rules, shared by commands, config and clients.
 */
#ifndef HP_STRUTIL_H
#define HP_STRUTIL_H

#include "hp_common.h"

/* Redis string2ll: strict decimal int64, no spaces, no '+', no leading zeros
 * (except "0"), "-0" rejected.  Returns 0 on success, -1 otherwise. */
int str_to_i64(const uint8_t *p, size_t len, int64_t *out);
/* Like Redis string2ld for INCRBYFLOAT: strtold, whole string consumed, no
 * leading space, not NaN.  Returns 0 or -1. */
int str_to_long_double(const uint8_t *p, size_t len, long double *out);
/* Redis string2d (for EXPIRE-like double args is not needed; kept for ZSET later). */
int str_to_double(const uint8_t *p, size_t len, double *out);
/* Digits in the decimal form of v (1 for 0): sizes RESP length lines. */
size_t u64_dec_len(uint64_t v);
/* Writes the decimal form of v into buf (>= 21 bytes); returns its length. */
size_t i64_to_str(char *buf, int64_t v);
/* Redis stringmatchlen: glob with * ? [abc] [^a] [a-z] and \ escapes. */
bool glob_match(const uint8_t *pat, size_t plen, const uint8_t *s, size_t slen, bool nocase);
/* Case-insensitive compare of a slice with a NUL-terminated ASCII word. */
bool slice_eq_nocase(struct hp_slice s, const char *word);
/* A collection SCAN cursor as Redis 7.0's parseScanCursorOrReply reads it
 * (strtoul): optional sign ("-1" wraps), "" is 0, reading stops at a NUL
 * byte; a leading space, a lone sign, other bytes or overflow: false. */
bool str_to_scan_cursor(struct hp_slice s, uint64_t *out);

#endif
