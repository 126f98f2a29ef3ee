/* Runs the suites a test file registers; exit 0 only if every assertion held. */
#include <stdio.h>
#include <stdlib.h>

#include "cunit.h"

int main(void)
{
	unsigned int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	unit_register();
	if (CU_get_error() != CUE_SUCCESS) {
		fprintf(stderr, "CUnit registration failed: %s\n", CU_get_error_msg());
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	if (CU_get_number_of_tests_run() == 0)
		failed = 1;   /* a test program that ran nothing has failed */
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
