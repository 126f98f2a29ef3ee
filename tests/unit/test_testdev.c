/* Unit tests for vmm/devices/testdev.c: the report port's parser (guest input),
 * the PCI registers and the pc-testdev IRQ ports, with a VM that has only
 * guest memory, stop state and (for the IRQ ports) its IOAPIC. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cunit.h"
#include "isle/testdev.h"
#include "isle/util.h"
#include "devices/testdev.h"
#include "core/vm.h"

#define RAM_BASE 0x100000
#define RAM_SIZE 0x10000

static uint8_t *ram;
static struct vm vm;
static struct testdev td;

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	memset(&td, 0, sizeof(td));
	ram = calloc(1, RAM_SIZE);
	gmem_add(&vm.gmem, RAM_BASE, RAM_SIZE, ram, -1, 0);
	pthread_mutex_init(&vm.stop_lock, NULL);
	vm.stop_efd = eventfd(0, EFD_CLOEXEC);
	td.vm = &vm;
	pthread_mutex_init(&td.lock, NULL);
}

static void teardown(void)
{
	close(vm.stop_efd);
	free(ram);
}

static void put_report(uint64_t gpa, uint32_t kind, const char *text)
{
	struct testdev_report r = {
		.magic = TESTDEV_REPORT_MAGIC, .kind = kind,
		.text_len = (uint32_t)strlen(text),
	};

	memcpy(r.text, text, r.text_len);
	memcpy(ram + (gpa - RAM_BASE), &r, sizeof(r));
}

static void test_reports_counted(void)
{
	setup();
	put_report(RAM_BASE, TESTDEV_REPORT_PASS, "a");
	CU_ASSERT_EQUAL(testdev_report(&td, RAM_BASE), 0);
	put_report(RAM_BASE + 0x1000, TESTDEV_REPORT_FAIL, "b");
	CU_ASSERT_EQUAL(testdev_report(&td, RAM_BASE + 0x1000), 0);
	put_report(RAM_BASE, TESTDEV_REPORT_SKIP, "c");
	CU_ASSERT_EQUAL(testdev_report(&td, RAM_BASE), 0);
	CU_ASSERT_EQUAL(td.passed, 1);
	CU_ASSERT_EQUAL(td.failed, 1);
	CU_ASSERT_EQUAL(td.skipped, 1);
	CU_ASSERT_EQUAL(td.reports, 3);
	teardown();
}

static void test_reports_rejected(void)
{
	struct testdev_report *r;

	setup();
	/* Outside RAM, straddling its end, and at address 0. */
	CU_ASSERT_EQUAL(testdev_report(&td, 0), -EFAULT);
	CU_ASSERT_EQUAL(testdev_report(&td, RAM_BASE + RAM_SIZE - 8), -EFAULT);
	CU_ASSERT_EQUAL(testdev_report(&td, UINT64_MAX - 4), -EFAULT);
	r = (struct testdev_report *)ram;
	put_report(RAM_BASE, TESTDEV_REPORT_PASS, "x");
	r->magic = 0;
	CU_ASSERT_EQUAL(testdev_report(&td, RAM_BASE), -EINVAL);
	put_report(RAM_BASE, TESTDEV_REPORT_PASS, "x");
	r->text_len = sizeof(r->text) + 1;
	CU_ASSERT_EQUAL(testdev_report(&td, RAM_BASE), -EINVAL);
	put_report(RAM_BASE, 0, "x");
	CU_ASSERT_EQUAL(testdev_report(&td, RAM_BASE), -EINVAL);
	put_report(RAM_BASE, TESTDEV_REPORT_SUMMARY + 1, "x");
	CU_ASSERT_EQUAL(testdev_report(&td, RAM_BASE), -EINVAL);
	CU_ASSERT_EQUAL(td.reports, 0);
	teardown();
}

static void test_summary(void)
{
	struct testdev_report r = {
		.magic = TESTDEV_REPORT_MAGIC, .kind = TESTDEV_REPORT_SUMMARY,
		.pass = 7, .fail = 1, .skip = 2,
	};

	setup();
	memcpy(ram, &r, sizeof(r));
	CU_ASSERT_EQUAL(testdev_report(&td, RAM_BASE), 0);
	CU_ASSERT(td.summary_seen);
	CU_ASSERT_EQUAL(td.sum_pass, 7);
	CU_ASSERT_EQUAL(td.sum_fail, 1);
	CU_ASSERT_EQUAL(td.sum_skip, 2);
	teardown();
}

/* pc-testdev's IRQ ports drive the IOAPIC's inputs: byte writes only,
 * value != 0 is high, ISA IRQ 0 is pin 2, lines past 23 do not exist. */
static void irq_port(uint64_t line, uint8_t v, unsigned int len)
{
	uint8_t b[4] = { v, v, v, v };

	testdev_irq_access(&td, line, b, len, true);
}

static void test_irq_ports(void)
{
	uint8_t b[4] = { 0xff, 0xff, 0xff, 0xff };

	setup();
	CU_ASSERT_EQUAL_FATAL(gsi_init(&vm.gsi, -1), 0);
	CU_ASSERT_EQUAL_FATAL(ioapic_init(&vm.ioapic, &vm.gsi, NULL, 0), 0);
	irq_port(5, 1, 1);
	CU_ASSERT_EQUAL(vm.ioapic.lines, 1u << 5);
	irq_port(10, 0x80, 1);
	CU_ASSERT_EQUAL(vm.ioapic.lines, 1u << 5 | 1u << 10);
	irq_port(5, 0, 1);
	CU_ASSERT_EQUAL(vm.ioapic.lines, 1u << 10);
	irq_port(0, 1, 1);
	CU_ASSERT_EQUAL(vm.ioapic.lines, 1u << 10 | 1u << 2);
	irq_port(0, 0, 1);
	irq_port(10, 0, 1);
	CU_ASSERT_EQUAL(vm.ioapic.lines, 0);
	/* Wider accesses and lines past the IOAPIC's pins are dropped. */
	irq_port(6, 1, 2);
	irq_port(6, 1, 4);
	irq_port(TESTDEV_IRQ_LINES, 1, 1);
	irq_port(~0ULL, 1, 1);
	CU_ASSERT_EQUAL(vm.ioapic.lines, 0);
	irq_port(23, 1, 1);
	CU_ASSERT_EQUAL(vm.ioapic.lines, 1u << 23);
	testdev_irq_access(&td, 3, b, 4, false);
	CU_ASSERT_EQUAL(get_le32(b), 0);
	ioapic_destroy(&vm.ioapic);
	gsi_destroy(&vm.gsi);
	teardown();
}

void unit_register(void)
{
	UNIT_SUITE("testdev", UNIT_TEST(test_reports_counted), UNIT_TEST(test_reports_rejected),
		   UNIT_TEST(test_summary), UNIT_TEST(test_irq_ports));
}
