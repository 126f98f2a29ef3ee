/* Unit tests for vmm/boot/layout.c: the e820 map and the memory slots agree. */
#include <errno.h>

#include "cunit.h"
#include "isle/util.h"
#include "boot/layout.h"

/* Every RAM byte in e820 is in a slot, entries are sorted and disjoint. */
static void layout_check(uint64_t ram)
{
	struct layout l;
	struct layout_slot s[4];
	uint64_t ram_in_e820 = 0, in_slots = 0;
	int n;

	CU_ASSERT_EQUAL_FATAL(layout_init(&l, ram), 0);
	CU_ASSERT_EQUAL(l.low_size + l.high_size, ram);
	n = layout_slots(&l, s, 4);
	CU_ASSERT_FATAL(n > 0);
	for (unsigned int i = 0; i < l.e820_nr; i++) {
		const struct e820_entry *e = &l.e820[i];
		bool backed = false;

		CU_ASSERT(e->size > 0);
		if (i)
			CU_ASSERT(l.e820[i - 1].addr + l.e820[i - 1].size <= e->addr);
		for (int j = 0; j < n; j++)
			if (e->addr >= s[j].gpa && e->addr + e->size <= s[j].gpa + s[j].size)
				backed = true;
		if (e->type == E820_RAM) {
			ram_in_e820 += e->size;
			CU_ASSERT(backed);
		}
		if (e->addr == LAYOUT_ECAM)
			CU_ASSERT(e->type == E820_RESERVED && !backed);
	}
	for (int j = 0; j < n; j++) {
		in_slots += s[j].size;
		CU_ASSERT(s[j].offset + s[j].size <= ram);
		/* No slot overlaps the legacy hole, ECAM or the 32-bit MMIO window. */
		CU_ASSERT(s[j].gpa >= LAYOUT_ACPI || s[j].gpa + s[j].size <= LAYOUT_VGA_HOLE);
		CU_ASSERT(s[j].gpa >= LAYOUT_4G || s[j].gpa + s[j].size <= LAYOUT_ECAM);
	}
	/* RAM the guest may use = slots minus EBDA and the ACPI area. */
	CU_ASSERT_EQUAL(ram_in_e820, in_slots - (LAYOUT_VGA_HOLE - LAYOUT_EBDA) -
			(LAYOUT_HIGH_MEM - LAYOUT_ACPI));
	CU_ASSERT(l.mmio64_base >= LAYOUT_4G + l.high_size);
	CU_ASSERT_EQUAL(l.mmio64_base % GiB, 0);
}

static void test_small(void)
{
	layout_check(8 * MiB);
	layout_check(256 * MiB);
}

static void test_split_above_4g(void)
{
	struct layout l;

	layout_check(3 * GiB);
	layout_check(16 * GiB);
	CU_ASSERT_EQUAL(layout_init(&l, 3 * GiB), 0);
	CU_ASSERT_EQUAL(l.low_size, LAYOUT_ECAM);
	CU_ASSERT_EQUAL(l.high_size, 3 * GiB - LAYOUT_ECAM);
	CU_ASSERT_EQUAL(l.e820[l.e820_nr - 1].addr, LAYOUT_4G);
}

static void test_rejects(void)
{
	struct layout l;

	CU_ASSERT_EQUAL(layout_init(&l, 0), -EINVAL);
	CU_ASSERT_EQUAL(layout_init(&l, LAYOUT_MIN_RAM - 4096), -EINVAL);
	CU_ASSERT_EQUAL(layout_init(&l, 256 * MiB + 1), -EINVAL);
}

/* The reset vector's stub (vmm/devices/power.c) sits in RAM that a slot backs and
 * e820 reserves, past the ACPI tables and below the kernel. */
static void test_reset_vector(void)
{
	struct layout l;
	struct layout_slot s[4];
	bool backed = false, reserved = false;
	int n;

	CU_ASSERT_EQUAL_FATAL(layout_init(&l, 256ULL << 20), 0);
	n = layout_slots(&l, s, 4);
	CU_ASSERT(LAYOUT_ACPI + LAYOUT_ACPI_SIZE <= LAYOUT_RESET_VECTOR);
	CU_ASSERT(LAYOUT_RESET_VECTOR + 16 <= LAYOUT_HIGH_MEM);
	for (int j = 0; j < n; j++)
		if (LAYOUT_RESET_VECTOR >= s[j].gpa && LAYOUT_RESET_VECTOR + 16 <= s[j].gpa + s[j].size)
			backed = true;
	for (unsigned int i = 0; i < l.e820_nr; i++)
		if (l.e820[i].type == E820_RESERVED && LAYOUT_RESET_VECTOR >= l.e820[i].addr &&
		    LAYOUT_RESET_VECTOR + 16 <= l.e820[i].addr + l.e820[i].size)
			reserved = true;
	CU_ASSERT(backed);
	CU_ASSERT(reserved);
}

void unit_register(void)
{
	UNIT_SUITE("layout", UNIT_TEST(test_small), UNIT_TEST(test_split_above_4g),
		   UNIT_TEST(test_rejects), UNIT_TEST(test_reset_vector));
}
