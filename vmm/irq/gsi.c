/* The KVM GSI routing table (owner: gsi.c; API in vmm/irq/gsi.h).
 *
 * KVM has no "add one route" call: KVM_SET_GSI_ROUTING replaces the whole
 * table, and a table without the irqchip routes would silently cut off every
 * legacy interrupt (PIT, serial, i8042). So this module keeps the complete
 * table in gt->entries, starting with exactly the table KVM_CREATE_IRQCHIP
 * installs, and re-installs all of it on every change.
 *
 * The default table mirrors the kernel's (arch/x86/kvm/irq.c, default_routing):
 * GSI n (0-23) goes to IOAPIC pin n, and GSIs 0-15 additionally to the PIC
 * (master pins 0-7, slave pins 0-7 for GSIs 8-15) — GSI 2 included, because
 * that is what the kernel installs and re-installing must change nothing.
 * MSI routes take GSIs >= GSI_IRQCHIP_PINS, lowest free first.
 *
 * Contract: every function takes gt->lock (vCPU threads unmask vectors while
 * other threads allocate); with vm_fd < 0 no ioctl is made, so unit tests can
 * inspect entries. The table is not installed by gsi_init: it equals what
 * KVM already has after KVM_CREATE_IRQCHIP, and gsi_init may run before the
 * irqchip exists. Errors are -errno; a failed install leaves the table as it
 * was before the call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "isle/log.h"
#include "isle/util.h"
#include "irq/gsi.h"

#define GSI_PIC_PINS 16

static void gsi_add_irqchip(struct gsi_table *gt, uint32_t gsi, uint32_t chip, uint32_t pin)
{
	struct kvm_irq_routing_entry *e = &gt->entries[gt->nr++];

	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

static void gsi_fill_msi(struct kvm_irq_routing_entry *e, int gsi, uint64_t addr, uint32_t data)
{
	memset(e, 0, sizeof(*e));
	e->gsi = (uint32_t)gsi;
	e->type = KVM_IRQ_ROUTING_MSI;
	e->u.msi.address_lo = (uint32_t)addr;
	e->u.msi.address_hi = (uint32_t)(addr >> 32);
	e->u.msi.data = data;
}

/* Hands the whole table to KVM. Called with gt->lock held. */
static int gsi_install(struct gsi_table *gt)
{
	struct kvm_irq_routing *r;
	size_t sz;
	int ret = 0;

	if (gt->vm_fd < 0)
		return 0;
	sz = sizeof(*r) + gt->nr * sizeof(r->entries[0]);
	r = calloc(1, sz);
	if (!r)
		return -ENOMEM;
	r->nr = gt->nr;
	memcpy(r->entries, gt->entries, gt->nr * sizeof(r->entries[0]));
	if (ioctl(gt->vm_fd, KVM_SET_GSI_ROUTING, r) < 0)
		ret = -errno;
	free(r);
	return ret;
}

/* Index in entries of the MSI route for gsi, or -1. Called with the lock held. */
static int gsi_find_msi(const struct gsi_table *gt, int gsi)
{
	for (unsigned int i = 0; i < gt->nr; i++)
		if (gt->entries[i].type == KVM_IRQ_ROUTING_MSI && gt->entries[i].gsi == (uint32_t)gsi)
			return (int)i;
	return -1;
}

static bool gsi_is_msi(const struct gsi_table *gt, int gsi)
{
	return gsi >= GSI_IRQCHIP_PINS && gsi < GSI_MAX && gt->used[gsi];
}

int gsi_init(struct gsi_table *gt, int vm_fd)
{
	int ret;

	memset(gt, 0, sizeof(*gt));
	gt->vm_fd = vm_fd;
	ret = pthread_mutex_init(&gt->lock, NULL);
	if (ret)
		return -ret;
	for (uint32_t n = 0; n < GSI_IRQCHIP_PINS; n++) {
		gsi_add_irqchip(gt, n, KVM_IRQCHIP_IOAPIC, n);
		if (n < GSI_PIC_PINS)
			gsi_add_irqchip(gt, n, n < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
					n % 8);
	}
	/* GSIs 0-23 are the irqchip's; the bitmap only ever covers MSI routes. */
	memset(gt->used, 1, GSI_IRQCHIP_PINS);
	return 0;
}

void gsi_destroy(struct gsi_table *gt)
{
	pthread_mutex_destroy(&gt->lock);
}

int gsi_msi_alloc(struct gsi_table *gt, uint64_t addr, uint32_t data)
{
	int gsi = -ENOSPC, ret;

	pthread_mutex_lock(&gt->lock);
	for (int n = GSI_IRQCHIP_PINS; n < GSI_MAX; n++) {
		if (!gt->used[n]) {
			gsi = n;
			break;
		}
	}
	if (gsi < 0 || gt->nr >= ARRAY_SIZE(gt->entries)) {
		gsi = -ENOSPC;
		goto out;
	}
	gsi_fill_msi(&gt->entries[gt->nr++], gsi, addr, data);
	gt->used[gsi] = 1;
	ret = gsi_install(gt);
	if (ret) {
		gt->nr--;
		gt->used[gsi] = 0;
		gsi = ret;
	}
out:
	pthread_mutex_unlock(&gt->lock);
	return gsi;
}

int gsi_msi_update(struct gsi_table *gt, int gsi, uint64_t addr, uint32_t data)
{
	struct kvm_irq_routing_entry old;
	int i, ret = -EINVAL;

	pthread_mutex_lock(&gt->lock);
	if (!gsi_is_msi(gt, gsi))
		goto out;
	i = gsi_find_msi(gt, gsi);
	if (i < 0)
		goto out;
	old = gt->entries[i];
	gsi_fill_msi(&gt->entries[i], gsi, addr, data);
	if (!memcmp(&old, &gt->entries[i], sizeof(old))) {
		ret = 0;   /* unchanged: spare KVM the table rebuild */
		goto out;
	}
	ret = gsi_install(gt);
	if (ret)
		gt->entries[i] = old;
out:
	pthread_mutex_unlock(&gt->lock);
	return ret;
}

void gsi_msi_free(struct gsi_table *gt, int gsi)
{
	int i, ret;

	pthread_mutex_lock(&gt->lock);
	if (!gsi_is_msi(gt, gsi))
		goto out;
	i = gsi_find_msi(gt, gsi);
	if (i >= 0) {
		/* Order in the table means nothing to KVM: fill the hole with the last entry. */
		gt->entries[i] = gt->entries[--gt->nr];
	}
	gt->used[gsi] = 0;
	ret = gsi_install(gt);
	if (ret)
		/* The stale route only matters if the GSI is signalled, and nothing
		 * signals a freed GSI; the next successful install drops it. */
		log_warn("gsi: removing route %d failed: %s", gsi, strerror(-ret));
out:
	pthread_mutex_unlock(&gt->lock);
}

static int gsi_irqfd(struct gsi_table *gt, int gsi, int efd, uint32_t flags)
{
	struct kvm_irqfd req;

	/* Irqchip GSIs are valid targets too (INTx through an eventfd). */
	if (gsi < 0 || gsi >= GSI_MAX || efd < 0)
		return -EINVAL;
	if (gt->vm_fd < 0)
		return 0;
	memset(&req, 0, sizeof(req));
	req.fd = (uint32_t)efd;
	req.gsi = (uint32_t)gsi;
	req.flags = flags;
	/* No table state is touched, so no lock: KVM serializes irqfd changes. */
	if (ioctl(gt->vm_fd, KVM_IRQFD, &req) < 0)
		return -errno;
	return 0;
}

int gsi_irqfd_assign(struct gsi_table *gt, int gsi, int efd)
{
	return gsi_irqfd(gt, gsi, efd, 0);
}

int gsi_irqfd_deassign(struct gsi_table *gt, int gsi, int efd)
{
	return gsi_irqfd(gt, gsi, efd, KVM_IRQFD_FLAG_DEASSIGN);
}
