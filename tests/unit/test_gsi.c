/* Unit tests for vmm/irq/gsi.c: the split-irqchip defaults (empty table,
 * GSIs 0-23 reserved for the IOAPIC), MSI route objects (add, update, del,
 * exhaustion, the IOAPIC's fixed GSIs), translate hooks (a rewriting hook,
 * retranslate-all, a failing hook leaving the route unrouted), all with
 * vm_fd = -1 so the table is inspected directly; plus one pass through the
 * real ioctls when /dev/kvm is usable (skipped silently otherwise). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include "cunit.h"
#include "isle/log.h"
#include "irq/gsi.h"

static struct gsi_table gt;

static const struct kvm_irq_routing_entry *find_msi(const struct gsi_table *t, int gsi)
{
	for (unsigned int i = 0; i < t->nr; i++)
		if (t->entries[i].type == KVM_IRQ_ROUTING_MSI && t->entries[i].gsi == (uint32_t)gsi)
			return &t->entries[i];
	return NULL;
}

static struct msi_msg msg(uint64_t addr, uint32_t data)
{
	return (struct msi_msg){ .addr = addr, .data = data };
}

static void test_gsi_defaults(void)
{
	struct msi_route r;
	struct msi_msg m = msg(0xfee00000ULL, 0x30);

	CU_ASSERT_EQUAL_FATAL(gsi_init(&gt, -1), 0);
	/* Split irqchip: no IRQCHIP entries; 0-23 wait for the IOAPIC. */
	CU_ASSERT_EQUAL(gt.nr, 0);
	for (int n = 0; n < GSI_IRQCHIP_PINS; n++)
		CU_ASSERT_EQUAL(gt.used[n], 1);
	CU_ASSERT_EQUAL(gsi_route_add(&gt, &r, 5, 0xf0f8, &m), 5);
	CU_ASSERT_EQUAL(gt.nr, 1);
	CU_ASSERT_PTR_NOT_NULL(find_msi(&gt, 5));
	CU_ASSERT_EQUAL(gsi_route_add(&gt, &(struct msi_route){ 0 }, 5, 0, &m), -EBUSY);
	CU_ASSERT_EQUAL(gsi_route_add(&gt, &(struct msi_route){ 0 }, 24, 0, &m), -EINVAL);
	gsi_route_del(&gt, &r);
	CU_ASSERT_EQUAL(gt.nr, 0);
	CU_ASSERT_EQUAL(gt.used[5], 1);     /* still reserved for the IOAPIC */
	CU_ASSERT_EQUAL(r.gsi, -1);
	gsi_destroy(&gt);
}

static void test_gsi_add_update_del(void)
{
	const struct kvm_irq_routing_entry *e;
	struct msi_route a, b, c;
	struct msi_msg m;

	CU_ASSERT_EQUAL_FATAL(gsi_init(&gt, -1), 0);
	m = msg(0xfee00000ULL, 0x4041);
	CU_ASSERT_EQUAL(gsi_route_add(&gt, &a, -1, 0x0008, &m), 24);
	m = msg(0x1fee01000ULL, 0x4042);
	CU_ASSERT_EQUAL(gsi_route_add(&gt, &b, -1, 0x0010, &m), 25);
	CU_ASSERT_EQUAL(gt.nr, 2);
	CU_ASSERT(a.routed && b.routed);
	CU_ASSERT_EQUAL(b.rid, 0x0010);
	e = find_msi(&gt, 25);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->u.msi.address_lo, 0xfee01000u);
	CU_ASSERT_EQUAL(e->u.msi.address_hi, 1u);
	CU_ASSERT_EQUAL(e->u.msi.data, 0x4042u);

	m = msg(0xfee02000ULL, 0x4051);
	CU_ASSERT_EQUAL(gsi_route_update(&gt, &a, &m), 0);
	e = find_msi(&gt, 24);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->u.msi.address_lo, 0xfee02000u);
	CU_ASSERT_EQUAL(e->u.msi.data, 0x4051u);

	gsi_route_del(&gt, &a);
	CU_ASSERT_EQUAL(gt.nr, 1);
	CU_ASSERT_PTR_NULL(find_msi(&gt, 24));
	CU_ASSERT_PTR_NOT_NULL(find_msi(&gt, 25));
	CU_ASSERT_EQUAL(gsi_route_update(&gt, &a, &m), -EINVAL);   /* not in the table */
	gsi_route_del(&gt, &a);                                     /* no-op */
	/* Lowest free number is reused. */
	m = msg(0xfee00000ULL, 0x30);
	CU_ASSERT_EQUAL(gsi_route_add(&gt, &c, -1, 0, &m), 24);
	CU_ASSERT_EQUAL(gt.nr, 2);

	/* Without a VM, irqfd and line calls only validate. */
	CU_ASSERT_EQUAL(gsi_irqfd_assign(&gt, c.gsi, 7), 0);
	CU_ASSERT_EQUAL(gsi_irqfd_deassign(&gt, c.gsi, 7), 0);
	CU_ASSERT_EQUAL(gsi_irqfd_assign(&gt, -1, 7), -EINVAL);
	CU_ASSERT_EQUAL(gsi_irqfd_assign(&gt, GSI_MAX, 7), -EINVAL);
	CU_ASSERT_EQUAL(gsi_irqfd_assign(&gt, c.gsi, -1), -EINVAL);
	CU_ASSERT_EQUAL(gsi_irq_line(&gt, 3, 1), 0);
	CU_ASSERT_EQUAL(gsi_irq_line(&gt, GSI_MAX, 1), -EINVAL);
	gsi_route_del(&gt, &b);
	gsi_route_del(&gt, &c);
	CU_ASSERT_EQUAL(gt.nr, 0);
	gsi_destroy(&gt);
}

static void test_gsi_exhaustion(void)
{
	static struct msi_route r[GSI_MAX + 1];
	struct msi_msg m = msg(0xfee00000ULL, 0);
	int n = 0, g, last = -1;

	CU_ASSERT_EQUAL_FATAL(gsi_init(&gt, -1), 0);
	while ((g = gsi_route_add(&gt, &r[n], -1, 0, &m)) >= 0) {
		last = g;
		n++;
		if (n > GSI_MAX)
			break;
	}
	CU_ASSERT_EQUAL(g, -ENOSPC);
	CU_ASSERT_EQUAL(r[n].gsi, -1);
	CU_ASSERT_EQUAL(n, GSI_MAX - GSI_IRQCHIP_PINS);
	CU_ASSERT_EQUAL(last, GSI_MAX - 1);
	CU_ASSERT_EQUAL(gt.nr, (unsigned int)n);
	/* Freeing one makes exactly that one available again. */
	gsi_route_del(&gt, &r[500 - GSI_IRQCHIP_PINS]);
	CU_ASSERT_EQUAL(gsi_route_add(&gt, &r[500 - GSI_IRQCHIP_PINS], -1, 0, &m), 500);
	CU_ASSERT_EQUAL(gsi_route_add(&gt, &r[n], -1, 0, &m), -ENOSPC);
	gsi_destroy(&gt);
}

/* A remapping-style hook: rid 0xdead is blocked, everything else gets its
 * vector replaced by the table entry for that rid. */
static uint32_t hook_vector = 0x50;
static unsigned int hook_calls;

static int hook(void *opaque, uint16_t rid, const struct msi_msg *in, struct msi_msg *out)
{
	CU_ASSERT_PTR_EQUAL(opaque, &hook_vector);
	hook_calls++;
	if (rid == 0xdead)
		return -EPERM;
	out->addr = in->addr | 0x1000;
	out->data = (in->data & ~0xffu) | hook_vector;
	return 0;
}

static void test_gsi_translate(void)
{
	const struct kvm_irq_routing_entry *e;
	struct msi_route a, blocked;
	struct msi_msg m = msg(0xfee00000ULL, 0x4041);

	CU_ASSERT_EQUAL_FATAL(gsi_init(&gt, -1), 0);
	log_set_level(LOG_ERROR);       /* the expected "not deliverable" warning */
	CU_ASSERT_EQUAL(gsi_route_add(&gt, &a, -1, 0x0008, &m), 24);
	CU_ASSERT_EQUAL(gsi_route_add(&gt, &blocked, -1, 0xdead, &m), 25);
	CU_ASSERT_EQUAL(gt.nr, 2);       /* identity: both routed */

	/* Installing the hook re-translates every route at once. */
	CU_ASSERT_EQUAL(gsi_set_translate(&gt, hook, &hook_vector), 0);
	CU_ASSERT_EQUAL(hook_calls, 2);
	CU_ASSERT(a.routed);
	CU_ASSERT(!blocked.routed);      /* not deliverable: in the table, no entry */
	CU_ASSERT_EQUAL(blocked.gsi, 25);
	CU_ASSERT_EQUAL(gt.nr, 1);
	CU_ASSERT_PTR_NULL(find_msi(&gt, 25));
	e = find_msi(&gt, 24);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->u.msi.address_lo, 0xfee01000u);
	CU_ASSERT_EQUAL(e->u.msi.data, 0x4050u);
	/* The guest's message is kept as written. */
	CU_ASSERT_EQUAL(a.msg.addr, 0xfee00000ULL);
	CU_ASSERT_EQUAL(a.msg.data, 0x4041u);

	/* The guest changes its remapping table: retranslate-all picks it up. */
	hook_vector = 0x60;
	CU_ASSERT_EQUAL(gsi_retranslate_all(&gt), 0);
	CU_ASSERT_EQUAL(find_msi(&gt, 24)->u.msi.data, 0x4060u);
	CU_ASSERT_EQUAL(a.kvm.data, 0x4060u);

	/* Updates and new routes go through the hook too. */
	m = msg(0xfee00000ULL, 0x8000);
	CU_ASSERT_EQUAL(gsi_route_update(&gt, &a, &m), 0);
	CU_ASSERT_EQUAL(find_msi(&gt, 24)->u.msi.data, 0x8060u);
	CU_ASSERT_EQUAL(gsi_route_update(&gt, &blocked, &m), 0);
	CU_ASSERT(!blocked.routed);
	CU_ASSERT_EQUAL(gt.nr, 1);

	/* Back to identity: the blocked route gets its entry. */
	CU_ASSERT_EQUAL(gsi_set_translate(&gt, NULL, NULL), 0);
	CU_ASSERT(blocked.routed);
	CU_ASSERT_EQUAL(gt.nr, 2);
	CU_ASSERT_EQUAL(find_msi(&gt, 25)->u.msi.data, 0x8000u);
	gsi_route_del(&gt, &blocked);
	gsi_route_del(&gt, &a);
	CU_ASSERT_EQUAL(gt.nr, 0);
	gsi_destroy(&gt);
}

/* A masked source is never judged by the hook (a guest rewrites masked
 * entries a dword at a time), and has no KVM entry while a hook is in. */
static void test_gsi_masked(void)
{
	struct msi_route a;
	struct msi_msg m = msg(0xfee00000ULL, 0x4041);

	CU_ASSERT_EQUAL_FATAL(gsi_init(&gt, -1), 0);
	CU_ASSERT_EQUAL(gsi_route_add(&gt, &a, -1, 0x0008, &m), 24);
	CU_ASSERT_FALSE(a.masked);
	/* Without a hook masking changes nothing. */
	CU_ASSERT_EQUAL(gsi_route_mask(&gt, &a, true), 0);
	CU_ASSERT(a.routed);
	CU_ASSERT_EQUAL(gt.nr, 1);

	hook_calls = 0;
	hook_vector = 0x50;
	CU_ASSERT_EQUAL(gsi_set_translate(&gt, hook, &hook_vector), 0);
	CU_ASSERT_EQUAL(hook_calls, 0);
	CU_ASSERT_FALSE(a.routed);
	CU_ASSERT_EQUAL(gt.nr, 0);
	/* Half-written messages while masked: not translated. */
	m = msg(0xdeadbeefULL, 0x1);
	CU_ASSERT_EQUAL(gsi_route_update(&gt, &a, &m), 0);
	m = msg(0xfee00000ULL, 0x4042);
	CU_ASSERT_EQUAL(gsi_route_update(&gt, &a, &m), 0);
	CU_ASSERT_EQUAL(gsi_retranslate_all(&gt), 0);
	CU_ASSERT_EQUAL(hook_calls, 0);
	/* The unmask translates the final message once. */
	CU_ASSERT_EQUAL(gsi_route_mask(&gt, &a, false), 0);
	CU_ASSERT_EQUAL(hook_calls, 1);
	CU_ASSERT(a.routed);
	CU_ASSERT_EQUAL_FATAL(gt.nr, 1);
	CU_ASSERT_EQUAL(find_msi(&gt, 24)->u.msi.data, 0x4050u);
	/* Masked again: the entry goes. */
	CU_ASSERT_EQUAL(gsi_route_mask(&gt, &a, true), 0);
	CU_ASSERT_EQUAL(gt.nr, 0);
	CU_ASSERT_EQUAL(gsi_route_mask(&gt, &a, false), 0);
	CU_ASSERT_EQUAL(gt.nr, 1);
	gsi_route_del(&gt, &a);
	CU_ASSERT_EQUAL(gsi_route_mask(&gt, &a, false), -EINVAL);   /* not in the table */
	gsi_destroy(&gt);
}

/* The same calls against a real VM: the table must be acceptable to KVM. */
static void test_gsi_kvm(void)
{
	struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 } };
	struct msi_route r, pin;
	struct msi_msg m = msg(0xfee00000ULL, 0x4041);
	int kvm, vm, efd;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "(no /dev/kvm, skipped) ");
		return;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0 || ioctl(vm, KVM_ENABLE_CAP, &split) < 0) {
		fprintf(stderr, "(cannot create a VM with a split irqchip, skipped) ");
		if (vm >= 0)
			close(vm);
		close(kvm);
		return;
	}
	CU_ASSERT_EQUAL_FATAL(gsi_init(&gt, vm), 0);
	CU_ASSERT_EQUAL(gsi_route_add(&gt, &pin, 4, 0xf0f8, &m), 4);
	CU_ASSERT_EQUAL(gsi_irq_line(&gt, 4, 0), 0);
	CU_ASSERT_EQUAL(gsi_route_add(&gt, &r, -1, 0x0008, &m), 24);
	m = msg(0xfee01000ULL, 0x4042);
	CU_ASSERT_EQUAL(gsi_route_update(&gt, &r, &m), 0);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CU_ASSERT_FATAL(efd >= 0);
	CU_ASSERT_EQUAL(gsi_irqfd_assign(&gt, r.gsi, efd), 0);
	CU_ASSERT_EQUAL(gsi_irqfd_assign(&gt, r.gsi, efd), -EBUSY);  /* KVM refuses twice */
	CU_ASSERT_EQUAL(gsi_irqfd_deassign(&gt, r.gsi, efd), 0);
	gsi_route_del(&gt, &r);
	gsi_route_del(&gt, &pin);
	CU_ASSERT_EQUAL(gt.nr, 0);
	gsi_destroy(&gt);
	close(efd);
	close(vm);
	close(kvm);
}

void unit_register(void)
{
	UNIT_SUITE("gsi",
		   UNIT_TEST(test_gsi_defaults),
		   UNIT_TEST(test_gsi_add_update_del),
		   UNIT_TEST(test_gsi_exhaustion),
		   UNIT_TEST(test_gsi_translate),
		   UNIT_TEST(test_gsi_masked),
		   UNIT_TEST(test_gsi_kvm));
}
