/*
 * cu_main.h - shared main() for the CUnit suites.  Each suite file defines
 * `static CU_TestInfo *suite_tests` arrays and registers them through
 * CU_SuiteInfo; CU_MAIN(suites) runs them with the basic interface and
 * prints one machine-readable line that tests/run_tests.sh adds up:
 *   CUNIT-RESULT: <passed> passed, <failed> failed, <skipped> skipped
 * A test that cannot run here (no mount privileges, no io_uring) calls
 * CU_SKIP("reason") and returns: it prints "SKIP <suite>/<test>: reason"
 * and is counted as skipped, not passed.  The exit status is non-zero if
 * any test failed or could not run.
 */
#ifndef HP_CU_MAIN_H
#define HP_CU_MAIN_H

#include <CUnit/Basic.h>
#include <stdio.h>

/* Tests of this process that called CU_SKIP (test-program state, one per
 * process: the suites run on one thread). */
static unsigned cu_skipped_tests;

/* Marks the running test as skipped; a test calls it once and returns. */
static inline void cu_skip(const char *reason)
{
    CU_pSuite s = CU_get_current_suite();
    CU_pTest t = CU_get_current_test();
    cu_skipped_tests++;
    printf("\nSKIP %s/%s: %s\n", s ? s->pName : "?", t ? t->pName : "?", reason);
    fflush(stdout);
}
#define CU_SKIP(reason) cu_skip(reason)

#define CU_MAIN(suites)                                                       \
    int main(void)                                                            \
    {                                                                         \
        if (CU_initialize_registry() != CUE_SUCCESS)                          \
            return 2;                                                         \
        if (CU_register_suites(suites) != CUE_SUCCESS) {                      \
            fprintf(stderr, "suite registration: %s\n", CU_get_error_msg());  \
            return 2;                                                         \
        }                                                                     \
        CU_basic_set_mode(CU_BRM_VERBOSE);                                    \
        CU_basic_run_tests();                                                 \
        unsigned run = CU_get_number_of_tests_run();                          \
        unsigned failed = CU_get_number_of_tests_failed();                    \
        unsigned sfail = CU_get_number_of_suites_failed();                    \
        unsigned skipped = cu_skipped_tests;                                  \
        unsigned passed = run - failed;                                       \
        passed = passed >= skipped ? passed - skipped : 0;                    \
        printf("CUNIT-RESULT: %u passed, %u failed, %u skipped\n", passed,   \
               failed + sfail, skipped);                                      \
        CU_cleanup_registry();                                                \
        return (failed || sfail) ? 1 : 0;                                     \
    }

#endif
