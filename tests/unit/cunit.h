/* Glue for the CUnit unit tests: each tests/unit/test_<name>.c defines
 * unit_register(), which adds its suites; cunit_main.c runs them. */
#ifndef ISLE_TESTS_CUNIT_H
#define ISLE_TESTS_CUNIT_H

#include <CUnit/Basic.h>

void unit_register(void);

/* Adds a suite with the given NULL-terminated {name, fn} list. */
#define UNIT_SUITE(sname, ...)                                                \
	do {                                                                  \
		static CU_TestInfo unit_tests_[] = { __VA_ARGS__, CU_TEST_INFO_NULL }; \
		CU_SuiteInfo unit_suites_[] = {                               \
			{ sname, NULL, NULL, NULL, NULL, unit_tests_ },       \
			CU_SUITE_INFO_NULL,                                   \
		};                                                            \
		CU_register_suites(unit_suites_);                             \
	} while (0)

#define UNIT_TEST(fn) { #fn, fn }

#endif
