/* Unit tests for vmm/core/bus.c: registration rules and dispatch bounds. */
#include <errno.h>
#include <string.h>

#include "cunit.h"
#include "core/bus.h"

struct probe {
	uint64_t offset;
	unsigned int len, calls;
	bool is_write;
};

static void probe_fn(void *opaque, uint64_t offset, void *data, unsigned int len, bool is_write)
{
	struct probe *p = opaque;

	p->offset = offset;
	p->len = len;
	p->is_write = is_write;
	p->calls++;
	if (!is_write)
		memset(data, 0x5a, len);
}

static void test_register(void)
{
	struct bus b;
	struct probe p = { 0 };

	bus_init(&b, "t");
	CU_ASSERT_EQUAL(bus_register(&b, 0x100, 0x10, probe_fn, &p, "a"), 0);
	CU_ASSERT_EQUAL(bus_register(&b, 0x10f, 1, probe_fn, &p, "b"), -EEXIST);
	CU_ASSERT_EQUAL(bus_register(&b, 0xf0, 0x11, probe_fn, &p, "c"), -EEXIST);
	CU_ASSERT_EQUAL(bus_register(&b, 0x110, 0x10, probe_fn, &p, "d"), 0);
	CU_ASSERT_EQUAL(bus_register(&b, 0x0, 0, probe_fn, &p, "e"), -EINVAL);
	CU_ASSERT_EQUAL(bus_register(&b, UINT64_MAX, 2, probe_fn, &p, "f"), -EINVAL);
	CU_ASSERT_EQUAL(bus_register(&b, UINT64_MAX, 1, probe_fn, &p, "g"), 0);
	CU_ASSERT_EQUAL(bus_register(&b, 0, 0x10, NULL, &p, "h"), -EINVAL);
	for (unsigned int i = b.nr; i < BUS_MAX_RANGES; i++)
		CU_ASSERT_EQUAL(bus_register(&b, 0x10000 + i * 0x10, 0x10, probe_fn, &p, "x"), 0);
	CU_ASSERT_EQUAL(bus_register(&b, 0x90000, 1, probe_fn, &p, "y"), -ENOSPC);
	for (unsigned int i = 1; i < b.nr; i++)
		CU_ASSERT(b.ranges[i - 1].base < b.ranges[i].base);
}

static void test_dispatch(void)
{
	struct bus b;
	struct probe p = { 0 }, q = { 0 };
	uint8_t data[8];

	bus_init(&b, "t");
	bus_register(&b, 0x3f8, 8, probe_fn, &p, "com1");
	bus_register(&b, 0x400, 8, probe_fn, &q, "other");
	CU_ASSERT_EQUAL(bus_dispatch(&b, 0x3fd, data, 1, false), 0);
	CU_ASSERT_EQUAL(p.offset, 5);
	CU_ASSERT_EQUAL(data[0], 0x5a);
	CU_ASSERT_EQUAL(bus_dispatch(&b, 0x3fc, data, 4, true), 0);
	CU_ASSERT_EQUAL(p.len, 4);
	CU_ASSERT(p.is_write);
	/* Straddling the end of a range reaches nobody and reads all-ones. */
	CU_ASSERT_EQUAL(bus_dispatch(&b, 0x3fe, data, 4, false), -ENOENT);
	CU_ASSERT_EQUAL(data[3], 0xff);
	CU_ASSERT_EQUAL(bus_dispatch(&b, 0x500, data, 2, false), -ENOENT);
	CU_ASSERT_EQUAL(bus_dispatch(&b, 0x3f8, data, 0, false), -ENOENT);
	CU_ASSERT_EQUAL(p.calls, 2);
	CU_ASSERT_EQUAL(q.calls, 0);
	CU_ASSERT_EQUAL(bus_dispatch(&b, 0x407, data, 1, true), 0);
	CU_ASSERT_EQUAL(q.offset, 7);
}

void unit_register(void)
{
	UNIT_SUITE("bus", UNIT_TEST(test_register), UNIT_TEST(test_dispatch));
}
