/*
 * slot.c - Redis Cluster key -> slot mapping.
 *
 * CRC16 is the XMODEM variant (polynomial 0x1021, initial value 0, no
 * reflection, no final xor), the one Redis Cluster specifies; "123456789"
 * hashes to 0x31C3.  The table is generated at compile time from the
 * polynomial by the macros below, so it is a constant and cannot drift from
 * the definition.
 */
#include "slot.h"

#include <string.h>

#define CRC16_POLY 0x1021u

/* One bit of the MSB-first shift register, then eight of them. */
#define CRC16_BIT(c) ((uint16_t)(((c) & 0x8000u) ? (((c) << 1) ^ CRC16_POLY) : ((c) << 1)))
#define CRC16_B1(c) CRC16_BIT((uint16_t)(c))
#define CRC16_B2(c) CRC16_B1(CRC16_B1(c))
#define CRC16_B4(c) CRC16_B2(CRC16_B2(c))
#define CRC16_B8(c) CRC16_B4(CRC16_B4(c))
#define CRC16_ENTRY(i) CRC16_B8((uint16_t)((i) << 8))

#define CRC16_ROW(i)                                                          \
    CRC16_ENTRY((i) + 0), CRC16_ENTRY((i) + 1), CRC16_ENTRY((i) + 2),          \
        CRC16_ENTRY((i) + 3), CRC16_ENTRY((i) + 4), CRC16_ENTRY((i) + 5),      \
        CRC16_ENTRY((i) + 6), CRC16_ENTRY((i) + 7)
#define CRC16_ROWS8(i)                                                        \
    CRC16_ROW((i) + 0), CRC16_ROW((i) + 8), CRC16_ROW((i) + 16),               \
        CRC16_ROW((i) + 24), CRC16_ROW((i) + 32), CRC16_ROW((i) + 40),         \
        CRC16_ROW((i) + 48), CRC16_ROW((i) + 56)

static const uint16_t crc16_table[256] = {
    CRC16_ROWS8(0), CRC16_ROWS8(64), CRC16_ROWS8(128), CRC16_ROWS8(192),
};

uint16_t slot_crc16(const uint8_t *p, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++)
        crc = (uint16_t)((crc << 8) ^ crc16_table[((crc >> 8) ^ p[i]) & 0xffu]);
    return crc;
}

/*
 * Hash-tag rule of Redis Cluster: if the key has a '{' and, after it, a '}'
 * with at least one byte between them, only those bytes are hashed.  Only the
 * first '{' counts, and the first '}' after it, so "foo{}{bar}" hashes the
 * whole key and "foo{{bar}}zap" hashes "{bar".
 */
uint16_t slot_of_key(const uint8_t *key, size_t len)
{
    const uint8_t *open = len ? memchr(key, '{', len) : NULL;
    if (open != NULL) {
        size_t start = (size_t)(open - key) + 1;
        const uint8_t *close = memchr(key + start, '}', len - start);
        if (close != NULL && close > key + start)
            return slot_crc16(key + start, (size_t)(close - (key + start))) &
                   (HP_NUM_SLOTS - 1);
    }
    return slot_crc16(key, len) & (HP_NUM_SLOTS - 1);
}
