/* Unit tests for vmm/irq/gsi.c: the default irqchip routes, MSI route
 * allocation/update/free and exhaustion, all with vm_fd = -1 so the table is
 * inspected directly; plus one pass through the real ioctls when /dev/kvm
 * is usable (skipped silently otherwise). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include "cunit.h"
#include "irq/gsi.h"

static struct gsi_table gt;

/* Number of entries routing gsi to (chip, pin). */
static int count_route(const struct gsi_table *t, uint32_t gsi, uint32_t chip, uint32_t pin)
{
	int n = 0;

	for (unsigned int i = 0; i < t->nr; i++) {
		const struct kvm_irq_routing_entry *e = &t->entries[i];

		if (e->gsi == gsi && e->type == KVM_IRQ_ROUTING_IRQCHIP &&
		    e->u.irqchip.irqchip == chip && e->u.irqchip.pin == pin)
			n++;
	}
	return n;
}

static const struct kvm_irq_routing_entry *find_msi(const struct gsi_table *t, int gsi)
{
	for (unsigned int i = 0; i < t->nr; i++)
		if (t->entries[i].type == KVM_IRQ_ROUTING_MSI && t->entries[i].gsi == (uint32_t)gsi)
			return &t->entries[i];
	return NULL;
}

static void test_gsi_defaults(void)
{
	CU_ASSERT_EQUAL_FATAL(gsi_init(&gt, -1), 0);
	/* The kernel's default table: 24 IOAPIC routes plus 16 PIC routes. */
	CU_ASSERT_EQUAL(gt.nr, 40);
	for (uint32_t n = 0; n < 24; n++) {
		CU_ASSERT_EQUAL(count_route(&gt, n, KVM_IRQCHIP_IOAPIC, n), 1);
		if (n < 8) {
			CU_ASSERT_EQUAL(count_route(&gt, n, KVM_IRQCHIP_PIC_MASTER, n), 1);
		} else if (n < 16) {
			CU_ASSERT_EQUAL(count_route(&gt, n, KVM_IRQCHIP_PIC_SLAVE, n - 8), 1);
		}
	}
	for (unsigned int i = 0; i < gt.nr; i++)
		CU_ASSERT(gt.entries[i].gsi < 24);
	gsi_destroy(&gt);
}

static void test_gsi_alloc_free_update(void)
{
	const struct kvm_irq_routing_entry *e;
	int a, b, c;

	CU_ASSERT_EQUAL_FATAL(gsi_init(&gt, -1), 0);
	a = gsi_msi_alloc(&gt, 0xfee00000ULL, 0x4041);
	b = gsi_msi_alloc(&gt, 0x1fee01000ULL, 0x4042);
	CU_ASSERT_EQUAL(a, 24);
	CU_ASSERT_EQUAL(b, 25);
	CU_ASSERT_EQUAL(gt.nr, 42);
	e = find_msi(&gt, b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->u.msi.address_lo, 0xfee01000u);
	CU_ASSERT_EQUAL(e->u.msi.address_hi, 1u);
	CU_ASSERT_EQUAL(e->u.msi.data, 0x4042u);

	CU_ASSERT_EQUAL(gsi_msi_update(&gt, a, 0xfee02000ULL, 0x4051), 0);
	e = find_msi(&gt, a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->u.msi.address_lo, 0xfee02000u);
	CU_ASSERT_EQUAL(e->u.msi.data, 0x4051u);

	gsi_msi_free(&gt, a);
	CU_ASSERT_EQUAL(gt.nr, 41);
	CU_ASSERT_PTR_NULL(find_msi(&gt, a));
	CU_ASSERT_PTR_NOT_NULL(find_msi(&gt, b));
	/* Lowest free number is reused. */
	c = gsi_msi_alloc(&gt, 0xfee00000ULL, 0x30);
	CU_ASSERT_EQUAL(c, 24);

	/* Irqchip GSIs and unallocated numbers are not MSI routes. */
	CU_ASSERT_EQUAL(gsi_msi_update(&gt, 4, 0xfee00000ULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(gsi_msi_update(&gt, 100, 0xfee00000ULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(gsi_msi_update(&gt, -1, 0xfee00000ULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(gsi_msi_update(&gt, GSI_MAX, 0xfee00000ULL, 1), -EINVAL);
	gsi_msi_free(&gt, 4);        /* must not remove an irqchip route */
	gsi_msi_free(&gt, 100);
	gsi_msi_free(&gt, GSI_MAX + 5);
	CU_ASSERT_EQUAL(gt.nr, 42);
	CU_ASSERT_EQUAL(count_route(&gt, 4, KVM_IRQCHIP_IOAPIC, 4), 1);

	/* Without a VM, irqfd calls only validate. */
	CU_ASSERT_EQUAL(gsi_irqfd_assign(&gt, c, 7), 0);
	CU_ASSERT_EQUAL(gsi_irqfd_deassign(&gt, c, 7), 0);
	CU_ASSERT_EQUAL(gsi_irqfd_assign(&gt, -1, 7), -EINVAL);
	CU_ASSERT_EQUAL(gsi_irqfd_assign(&gt, GSI_MAX, 7), -EINVAL);
	CU_ASSERT_EQUAL(gsi_irqfd_assign(&gt, c, -1), -EINVAL);
	gsi_destroy(&gt);
}

static void test_gsi_exhaustion(void)
{
	int n = 0, g, last = -1;

	CU_ASSERT_EQUAL_FATAL(gsi_init(&gt, -1), 0);
	while ((g = gsi_msi_alloc(&gt, 0xfee00000ULL, (uint32_t)n)) >= 0) {
		last = g;
		n++;
		if (n > GSI_MAX)
			break;
	}
	CU_ASSERT_EQUAL(g, -ENOSPC);
	CU_ASSERT_EQUAL(n, GSI_MAX - GSI_IRQCHIP_PINS);
	CU_ASSERT_EQUAL(last, GSI_MAX - 1);
	CU_ASSERT_EQUAL(gt.nr, 40 + (unsigned int)n);
	/* Freeing one makes exactly that one available again. */
	gsi_msi_free(&gt, 500);
	CU_ASSERT_EQUAL(gsi_msi_alloc(&gt, 0xfee00000ULL, 0), 500);
	CU_ASSERT_EQUAL(gsi_msi_alloc(&gt, 0xfee00000ULL, 0), -ENOSPC);
	gsi_destroy(&gt);
}

/* The same calls against a real VM: the table must be acceptable to KVM. */
static void test_gsi_kvm(void)
{
	int kvm, vm, efd, g;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "(no /dev/kvm, skipped) ");
		return;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0 || ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) {
		fprintf(stderr, "(cannot create a VM with an irqchip, skipped) ");
		if (vm >= 0)
			close(vm);
		close(kvm);
		return;
	}
	CU_ASSERT_EQUAL_FATAL(gsi_init(&gt, vm), 0);
	g = gsi_msi_alloc(&gt, 0xfee00000ULL, 0x4041);
	CU_ASSERT_EQUAL(g, 24);
	CU_ASSERT_EQUAL(gsi_msi_update(&gt, g, 0xfee01000ULL, 0x4042), 0);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CU_ASSERT_FATAL(efd >= 0);
	CU_ASSERT_EQUAL(gsi_irqfd_assign(&gt, g, efd), 0);
	CU_ASSERT_EQUAL(gsi_irqfd_assign(&gt, g, efd), -EBUSY);  /* KVM refuses twice */
	CU_ASSERT_EQUAL(gsi_irqfd_deassign(&gt, g, efd), 0);
	gsi_msi_free(&gt, g);
	CU_ASSERT_EQUAL(gt.nr, 40);
	/* An irqchip GSI works through an irqfd too (INTx). */
	CU_ASSERT_EQUAL(gsi_irqfd_assign(&gt, 5, efd), 0);
	CU_ASSERT_EQUAL(gsi_irqfd_deassign(&gt, 5, efd), 0);
	gsi_destroy(&gt);
	close(efd);
	close(vm);
	close(kvm);
}

void unit_register(void)
{
	UNIT_SUITE("gsi",
		   UNIT_TEST(test_gsi_defaults),
		   UNIT_TEST(test_gsi_alloc_free_update),
		   UNIT_TEST(test_gsi_exhaustion),
		   UNIT_TEST(test_gsi_kvm));
}
