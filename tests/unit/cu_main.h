/*
 * cu_main.h - shared main() for the CUnit suites.  Each suite file defines
 * `static CU_TestInfo *suite_tests` arrays and registers them through
 * CU_SuiteInfo; CU_MAIN(suites) runs them with the basic interface and
 * prints one machine-readable line that tests/run_tests.sh adds up:
 *   CUNIT-RESULT: <passed> passed, <failed> failed
 * The exit status is non-zero if any test failed or could not run.
 */
#ifndef HP_CU_MAIN_H
#define HP_CU_MAIN_H

#include <CUnit/Basic.h>
#include <stdio.h>

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
        printf("CUNIT-RESULT: %u passed, %u failed\n", run - failed,          \
               failed + sfail);                                               \
        CU_cleanup_registry();                                                \
        return (failed || sfail) ? 1 : 0;                                     \
    }

#endif
