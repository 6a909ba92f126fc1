/*
 * slot.h - key -> hash slot, exactly as Redis Cluster: CRC16 (XMODEM) of the
 * key, or of the part between the first '{' and the following '}' when that
 * part is non-empty, mod 16384.  Keys sharing a {tag} land on one slot, so a
 * client can keep multi-key commands on one shard.
 */
#ifndef HP_SLOT_H
#define HP_SLOT_H

#include "../common/hp_common.h"

uint16_t slot_crc16(const uint8_t *p, size_t len);
uint16_t slot_of_key(const uint8_t *key, size_t len);

#endif
