/* test_slot.c - CRC16 and the Redis Cluster key -> slot rule. */
#include "cu_main.h"

#include "../../storage/slot.h"

#include <string.h>

static uint16_t slot_str(const char *s)
{
    return slot_of_key((const uint8_t *)s, strlen(s));
}

static uint16_t crc_str(const char *s)
{
    return slot_crc16((const uint8_t *)s, strlen(s));
}

static void test_crc16_known(void)
{
    CU_ASSERT_EQUAL(crc_str("123456789"), 0x31C3);
    CU_ASSERT_EQUAL(crc_str(""), 0);
    CU_ASSERT_EQUAL(crc_str("foo"), 0xAF96);
    CU_ASSERT_EQUAL(crc_str("bar"), 0x93C5);
    CU_ASSERT_EQUAL(crc_str("key:1"), 0x9A01);
    CU_ASSERT_EQUAL(slot_crc16(NULL, 0), 0);
}

static void test_slot_known(void)
{
    CU_ASSERT_EQUAL(slot_str("foo"), 12182);
    CU_ASSERT_EQUAL(slot_str("bar"), 5061);
    CU_ASSERT_EQUAL(slot_str("123456789"), 0x31C3 % 16384);
    CU_ASSERT_EQUAL(slot_str("user1000"), 3443);
    CU_ASSERT_EQUAL(slot_str(""), 0);
    CU_ASSERT_EQUAL(slot_of_key(NULL, 0), 0);
}

static void test_hash_tags(void)
{
    CU_ASSERT_EQUAL(slot_str("{user1000}.following"), slot_str("{user1000}.followers"));
    CU_ASSERT_EQUAL(slot_str("{user1000}.following"), slot_str("user1000"));
    CU_ASSERT_EQUAL(slot_str("a{user1000}"), slot_str("user1000"));
    /* Empty tag: the whole key is hashed. */
    CU_ASSERT_EQUAL(slot_str("foo{}{bar}"), crc_str("foo{}{bar}") % 16384);
    CU_ASSERT_NOT_EQUAL(slot_str("foo{}{bar}"), slot_str("bar"));
    /* First '{', then the first '}' after it. */
    CU_ASSERT_EQUAL(slot_str("foo{{bar}}zap"), slot_str("{bar"));
    CU_ASSERT_EQUAL(slot_str("foo{{bar}}zap"), 4015);
    CU_ASSERT_EQUAL(slot_str("foo{bar}{zap}"), slot_str("bar"));
    /* Unclosed or reversed braces: whole key. */
    CU_ASSERT_EQUAL(slot_str("foo{bar"), crc_str("foo{bar") % 16384);
    CU_ASSERT_EQUAL(slot_str("foo}bar{"), crc_str("foo}bar{") % 16384);
    CU_ASSERT_EQUAL(slot_str("{"), crc_str("{") % 16384);
    CU_ASSERT_EQUAL(slot_str("{}"), crc_str("{}") % 16384);
    CU_ASSERT_EQUAL(slot_str("x{a}"), slot_str("a"));
}

static void test_binary_keys(void)
{
    const uint8_t k[] = {'a', 0, '{', 0, '}', 0xff};
    CU_ASSERT_EQUAL(slot_of_key(k, sizeof(k)), slot_crc16(k + 3, 1) % 16384);
    uint8_t big[4096];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7);
    CU_ASSERT(slot_of_key(big, sizeof(big)) < HP_NUM_SLOTS);
}

static CU_TestInfo slot_tests[] = {
    {"crc16 known values", test_crc16_known},
    {"slot known values", test_slot_known},
    {"hash tags", test_hash_tags},
    {"binary keys", test_binary_keys},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"slot", NULL, NULL, NULL, NULL, slot_tests},
    CU_SUITE_INFO_NULL,
};

CU_MAIN(suites)
