/* The KVM GSI routing table and the MSI route objects in it, owned by one
 * module (gsi.c is the only caller of KVM_SET_GSI_ROUTING).
 *
 * isle runs KVM's split irqchip: LAPICs in the kernel, the IOAPIC in
 * userspace (irq/ioapic.c). The table starts empty, as KVM's does in split
 * mode; GSIs 0-23 are reserved for the IOAPIC's pins, every other MSI source
 * (MSI-X vectors, later VFIO) gets the lowest free GSI >= 24.
 *
 * Every interrupt source is a struct msi_route: the requester id and the
 * message the source would write (the guest's), and the message KVM
 * delivers, which a translate hook derives from it (identity until interrupt
 * remapping installs one). A translation error means "not deliverable": the
 * route keeps its GSI (so irqfds stay bound) but has no KVM entry, and
 * signalling it does nothing. gsi_retranslate_all() re-runs the hook on
 * every route and installs the table once (an interrupt-entry-cache
 * invalidation).
 *
 * Contract: thread-safe (vCPU threads unmask vectors and program the IOAPIC);
 * the translate hook runs under gt->lock and must not call back into gsi.
 * Routes are owned by their callers and must be deleted before they are
 * freed. With vm_fd < 0 no ioctl is made, so the table logic is
 * unit-testable without KVM. */
#ifndef ISLE_VMM_GSI_H
#define ISLE_VMM_GSI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#define GSI_IRQCHIP_PINS 24       /* GSIs 0-23 belong to the (userspace) IOAPIC's pins */
#define GSI_MAX          1024
#define GSI_MAX_ENTRIES  GSI_MAX  /* one MSI entry per GSI at most */

struct msi_msg {
	uint64_t addr;
	uint32_t data;
};

/* Rewrites the message a source with requester id rid wrote into the one KVM
 * should deliver. 0, or -errno: not deliverable. */
typedef int (*gsi_translate_fn)(void *opaque, uint16_t rid, const struct msi_msg *in,
				struct msi_msg *out);

struct msi_route {
	uint16_t rid;          /* requester id: bus << 8 | devfn */
	struct msi_msg msg;    /* the source's (guest-programmed) message */
	struct msi_msg kvm;    /* what KVM delivers; meaningful while routed */
	int gsi;               /* -1 while not in the table */
	bool routed;           /* translated: KVM has an entry for gsi */
	/* The source cannot send (masked vector, masked RTE, MSI off): the
	 * translate hook is not run for it, so a half-written or stale
	 * message is never judged (interrupt remapping would record a fault
	 * a real device never caused) and KVM has no entry for it. Without a
	 * hook it makes no difference. */
	bool masked;
};

struct gsi_table {
	int vm_fd;
	pthread_mutex_t lock;
	gsi_translate_fn translate;    /* NULL: identity */
	void *translate_opaque;
	unsigned int nr;               /* entries in use */
	struct kvm_irq_routing_entry entries[GSI_MAX_ENTRIES];
	struct msi_route *routes[GSI_MAX];   /* owner of each GSI, or NULL */
	uint8_t used[GSI_MAX];  /* 1 if reserved (IOAPIC pins) or owned by a route */
};

int gsi_init(struct gsi_table *gt, int vm_fd);
void gsi_destroy(struct gsi_table *gt);

/* Puts r in the table for requester rid and message msg. gsi < 0 takes the
 * lowest free GSI >= 24; 0-23 claims that IOAPIC pin's GSI (-EBUSY if taken,
 * -EINVAL otherwise out of range). Returns the GSI or -ENOSPC / -errno; a
 * failed translation still succeeds (r->routed stays false). The route
 * starts unmasked. */
int gsi_route_add(struct gsi_table *gt, struct msi_route *r, int gsi, uint16_t rid,
		  const struct msi_msg *msg);
/* The source's message changed: re-translates and re-installs if KVM's
 * entry changes. 0, -EINVAL for a route not in the table, or -errno from
 * KVM (then the route is as it was). */
int gsi_route_update(struct gsi_table *gt, struct msi_route *r, const struct msi_msg *msg);
/* The source was masked or unmasked (see msi_route.masked): unmasking
 * translates the current message and installs it if KVM's entry changes.
 * 0, -EINVAL for a route not in the table, or -errno from KVM. */
int gsi_route_mask(struct gsi_table *gt, struct msi_route *r, bool masked);
/* Takes r out of the table (no-op if it is not in it). */
void gsi_route_del(struct gsi_table *gt, struct msi_route *r);
/* Installs a translate hook (NULL: identity) and re-translates every route. */
int gsi_set_translate(struct gsi_table *gt, gsi_translate_fn fn, void *opaque);
/* Re-runs the hook on every route and installs the table once. */
int gsi_retranslate_all(struct gsi_table *gt);

/* Binds / unbinds an eventfd to a GSI (KVM_IRQFD). */
int gsi_irqfd_assign(struct gsi_table *gt, int gsi, int efd);
int gsi_irqfd_deassign(struct gsi_table *gt, int gsi, int efd);
/* Raises a GSI from userspace (KVM_IRQ_LINE): an MSI route fires on level 1. */
int gsi_irq_line(struct gsi_table *gt, int gsi, int level);

#endif
