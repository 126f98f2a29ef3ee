/* The KVM GSI routing table and its MSI route objects (owner: gsi.c; API in
 * vmm/irq/gsi.h).
 *
 * KVM has no "add one route" call: KVM_SET_GSI_ROUTING replaces the whole
 * table. So this module keeps, per GSI, the route object that owns it
 * (gt->routes), derives the complete table from them (gt->entries: one MSI
 * entry per routed GSI, in GSI order) and re-installs all of it on every
 * change that alters an entry.
 *
 * Split irqchip: KVM starts with an empty table and treats GSIs below the
 * reserved IOAPIC pin count (24, set with KVM_CAP_SPLIT_IRQCHIP) as the
 * userspace IOAPIC's: it scans their level-triggered MSI routes to learn
 * which vectors need a KVM_EXIT_IOAPIC_EOI. So GSIs 0-23 are never handed to
 * other sources; the IOAPIC claims them pin by pin. There are no IRQCHIP
 * entries at all (no in-kernel PIC or IOAPIC exists).
 *
 * Translation: every entry carries route->kvm, which the translate hook
 * computed from route->msg and the requester id (identity without a hook).
 * A hook error leaves the route in the table without an entry.
 *
 * Contract: every function takes gt->lock; with vm_fd < 0 no ioctl is made,
 * so unit tests can inspect entries. Nothing is installed by gsi_init (KVM's
 * table is empty too). Errors are -errno; a failed install leaves the
 * routes as they were before the call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "isle/log.h"
#include "isle/util.h"
#include "irq/gsi.h"

/* Recomputes gt->entries from the routes. Called with gt->lock held. */
static void gsi_rebuild(struct gsi_table *gt)
{
	gt->nr = 0;
	for (int g = 0; g < GSI_MAX; g++) {
		const struct msi_route *r = gt->routes[g];
		struct kvm_irq_routing_entry *e;

		if (!r || !r->routed)
			continue;
		e = &gt->entries[gt->nr++];
		memset(e, 0, sizeof(*e));
		e->gsi = (uint32_t)g;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (uint32_t)r->kvm.addr;
		e->u.msi.address_hi = (uint32_t)(r->kvm.addr >> 32);
		e->u.msi.data = r->kvm.data;
	}
}

/* Hands the whole table to KVM. Called with gt->lock held. */
static int gsi_install(struct gsi_table *gt)
{
	struct kvm_irq_routing *t;
	size_t sz;
	int ret = 0;

	gsi_rebuild(gt);
	if (gt->vm_fd < 0)
		return 0;
	sz = sizeof(*t) + gt->nr * sizeof(t->entries[0]);
	t = calloc(1, sz);
	if (!t)
		return -ENOMEM;
	t->nr = gt->nr;
	memcpy(t->entries, gt->entries, gt->nr * sizeof(t->entries[0]));
	if (ioctl(gt->vm_fd, KVM_SET_GSI_ROUTING, t) < 0)
		ret = -errno;
	free(t);
	return ret;
}

/* Runs the hook on r->msg into r->kvm / r->routed. Called with the lock held. */
static void gsi_translate(struct gsi_table *gt, struct msi_route *r)
{
	struct msi_msg out = r->msg;
	bool was = r->routed;
	int ret = 0;

	if (gt->translate && r->masked) {
		/* Judged when it is unmasked; until then KVM has no entry
		 * (nothing signals a masked source). */
		r->routed = false;
		return;
	}
	if (gt->translate)
		ret = gt->translate(gt->translate_opaque, r->rid, &r->msg, &out);
	r->routed = ret == 0;
	if (r->routed)
		r->kvm = out;
	else if (was)
		/* A fault, not a crash: the source's interrupts go nowhere
		 * until the guest fixes its tables and invalidates. */
		log_warn("gsi %d (rid %04x, msi %#llx/%#x): not deliverable: %s", r->gsi, r->rid,
			 (unsigned long long)r->msg.addr, r->msg.data, strerror(-ret));
}

static bool gsi_same(const struct msi_route *a, const struct msi_route *b)
{
	return a->routed == b->routed &&
	       (!a->routed || (a->kvm.addr == b->kvm.addr && a->kvm.data == b->kvm.data));
}

static bool gsi_owns(const struct gsi_table *gt, const struct msi_route *r)
{
	return r->gsi >= 0 && r->gsi < GSI_MAX && gt->routes[r->gsi] == r;
}

int gsi_init(struct gsi_table *gt, int vm_fd)
{
	int ret;

	memset(gt, 0, sizeof(*gt));
	gt->vm_fd = vm_fd;
	ret = pthread_mutex_init(&gt->lock, NULL);
	if (ret)
		return -ret;
	/* GSIs 0-23 are the IOAPIC's, claimed pin by pin. */
	memset(gt->used, 1, GSI_IRQCHIP_PINS);
	return 0;
}

void gsi_destroy(struct gsi_table *gt)
{
	pthread_mutex_destroy(&gt->lock);
}

int gsi_route_add(struct gsi_table *gt, struct msi_route *r, int gsi, uint16_t rid,
		  const struct msi_msg *msg)
{
	int ret;

	r->gsi = -1;
	r->routed = false;
	r->masked = false;
	r->rid = rid;
	r->msg = *msg;
	if (gsi >= GSI_IRQCHIP_PINS)
		return -EINVAL;
	pthread_mutex_lock(&gt->lock);
	if (gsi < 0) {
		ret = -ENOSPC;
		for (int n = GSI_IRQCHIP_PINS; n < GSI_MAX; n++) {
			if (!gt->used[n]) {
				ret = gsi = n;
				break;
			}
		}
		if (ret < 0)
			goto out;
	} else if (gt->routes[gsi]) {
		ret = -EBUSY;
		goto out;
	}
	r->gsi = gsi;
	gt->routes[gsi] = r;
	gt->used[gsi] = 1;
	gsi_translate(gt, r);
	ret = r->routed ? gsi_install(gt) : 0;
	if (ret) {
		gt->routes[gsi] = NULL;
		gt->used[gsi] = gsi < GSI_IRQCHIP_PINS;
		r->gsi = -1;
		r->routed = false;
		gsi_rebuild(gt);
	} else {
		ret = gsi;
	}
out:
	pthread_mutex_unlock(&gt->lock);
	return ret;
}

/* Sets r's message and mask state and re-installs if KVM's entry changed. */
static int gsi_route_set(struct gsi_table *gt, struct msi_route *r, const struct msi_msg *msg,
			 bool masked)
{
	struct msi_route old;
	int ret = -EINVAL;

	pthread_mutex_lock(&gt->lock);
	if (!gsi_owns(gt, r))
		goto out;
	old = *r;
	r->msg = *msg;
	r->masked = masked;
	gsi_translate(gt, r);
	ret = 0;
	if (gsi_same(&old, r))
		goto out;    /* KVM's entry is unchanged: spare it the table rebuild */
	ret = gsi_install(gt);
	if (ret) {
		*r = old;
		gsi_rebuild(gt);
	}
out:
	pthread_mutex_unlock(&gt->lock);
	return ret;
}

int gsi_route_update(struct gsi_table *gt, struct msi_route *r, const struct msi_msg *msg)
{
	return gsi_route_set(gt, r, msg, r->masked);
}

int gsi_route_mask(struct gsi_table *gt, struct msi_route *r, bool masked)
{
	struct msi_msg msg = r->msg;

	return gsi_route_set(gt, r, &msg, masked);
}

void gsi_route_del(struct gsi_table *gt, struct msi_route *r)
{
	bool had_entry;
	int ret;

	pthread_mutex_lock(&gt->lock);
	if (!gsi_owns(gt, r))
		goto out;
	had_entry = r->routed;
	gt->routes[r->gsi] = NULL;
	gt->used[r->gsi] = r->gsi < GSI_IRQCHIP_PINS;
	r->gsi = -1;
	r->routed = false;
	ret = had_entry ? gsi_install(gt) : 0;
	if (ret)
		/* The stale entry only matters if the GSI is signalled, and
		 * nothing signals a freed GSI; the next install drops it. */
		log_warn("gsi: removing a route failed: %s", strerror(-ret));
out:
	pthread_mutex_unlock(&gt->lock);
}

/* Called with the lock held. */
static int gsi_retranslate_locked(struct gsi_table *gt)
{
	struct msi_route *saved;
	bool changed = false;
	int ret;

	saved = malloc(sizeof(*saved) * GSI_MAX);
	if (!saved)
		return -ENOMEM;
	for (int g = 0; g < GSI_MAX; g++) {
		struct msi_route *r = gt->routes[g];

		if (!r)
			continue;
		saved[g] = *r;
		gsi_translate(gt, r);
		changed |= !gsi_same(&saved[g], r);
	}
	ret = changed ? gsi_install(gt) : 0;
	if (ret) {
		for (int g = 0; g < GSI_MAX; g++)
			if (gt->routes[g])
				*gt->routes[g] = saved[g];
		gsi_rebuild(gt);
	}
	free(saved);
	return ret;
}

int gsi_retranslate_all(struct gsi_table *gt)
{
	int ret;

	pthread_mutex_lock(&gt->lock);
	ret = gsi_retranslate_locked(gt);
	pthread_mutex_unlock(&gt->lock);
	return ret;
}

int gsi_set_translate(struct gsi_table *gt, gsi_translate_fn fn, void *opaque)
{
	int ret;

	pthread_mutex_lock(&gt->lock);
	gt->translate = fn;
	gt->translate_opaque = opaque;
	ret = gsi_retranslate_locked(gt);
	pthread_mutex_unlock(&gt->lock);
	return ret;
}

static int gsi_irqfd(struct gsi_table *gt, int gsi, int efd, uint32_t flags)
{
	struct kvm_irqfd req;

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

int gsi_irq_line(struct gsi_table *gt, int gsi, int level)
{
	struct kvm_irq_level l = { .irq = (uint32_t)gsi, .level = (uint32_t)level };

	if (gsi < 0 || gsi >= GSI_MAX)
		return -EINVAL;
	if (gt->vm_fd < 0)
		return 0;
	if (ioctl(gt->vm_fd, KVM_IRQ_LINE, &l) < 0)
		return -errno;
	return 0;
}
