/* Unit tests for lib/iov.c: copies across entry boundaries, offsets inside
 * and past the list, short copies at the end, empty entries, sizes. */
#include <stdint.h>
#include <string.h>

#include "cunit.h"
#include "isle/iov.h"

static uint8_t a[3], b[1], c[5];
static struct iovec iov[] = {
	{ a, sizeof(a) }, { b, 0 }, { c, sizeof(c) },
};

static void test_iov_from_to_buf(void)
{
	const uint8_t in[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t out[8] = { 0 };

	CU_ASSERT_EQUAL(iov_from_buf(iov, 3, 0, in, sizeof(in)), 8);
	CU_ASSERT_EQUAL(a[2], 3);
	CU_ASSERT_EQUAL(c[0], 4);
	CU_ASSERT_EQUAL(c[4], 8);
	CU_ASSERT_EQUAL(iov_to_buf(iov, 3, 0, out, sizeof(out)), 8);
	CU_ASSERT_EQUAL(memcmp(in, out, 8), 0);
}

static void test_iov_offsets(void)
{
	const uint8_t in[] = { 9, 10 };
	uint8_t out[4] = { 0 };

	/* Across the first boundary (and the empty entry). */
	CU_ASSERT_EQUAL(iov_from_buf(iov, 3, 2, in, 2), 2);
	CU_ASSERT_EQUAL(a[2], 9);
	CU_ASSERT_EQUAL(c[0], 10);
	/* Short at the end: 2 of 4 bytes. */
	CU_ASSERT_EQUAL(iov_to_buf(iov, 3, 6, out, 4), 2);
	CU_ASSERT_EQUAL(out[0], c[3]);
	/* Past the end: nothing. */
	CU_ASSERT_EQUAL(iov_to_buf(iov, 3, 8, out, 4), 0);
	CU_ASSERT_EQUAL(iov_to_buf(iov, 3, SIZE_MAX, out, 4), 0);
	CU_ASSERT_EQUAL(iov_to_buf(iov, 0, 0, out, 4), 0);
}

static void test_iov_size(void)
{
	struct iovec big[2] = { { NULL, SIZE_MAX - 1 }, { NULL, 5 } };

	CU_ASSERT_EQUAL(iov_size(iov, 3), 8);
	CU_ASSERT_EQUAL(iov_size(iov, 0), 0);
	CU_ASSERT_EQUAL(iov_size(big, 2), SIZE_MAX);
}

void unit_register(void)
{
	UNIT_SUITE("iov",
		   UNIT_TEST(test_iov_from_to_buf),
		   UNIT_TEST(test_iov_offsets),
		   UNIT_TEST(test_iov_size));
}
