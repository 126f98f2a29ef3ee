/* The KVM GSI routing table, owned by one module. It starts with the routes
 * KVM_CREATE_IRQCHIP installs (PIC pins 0-15, IOAPIC pins 0-23) and hands out
 * MSI routes (MSI-X vectors now, remapped interrupts later); every change
 * re-installs the whole table with KVM_SET_GSI_ROUTING, as KVM requires.
 *
 * Contract: thread-safe (vCPU threads unmask vectors). With vm_fd < 0 no
 * ioctl is made, so the table logic is unit-testable without KVM. */
#ifndef ISLE_VMM_GSI_H
#define ISLE_VMM_GSI_H

#include <pthread.h>
#include <stdint.h>
#include <linux/kvm.h>

#define GSI_IRQCHIP_PINS 24       /* GSIs 0-23 belong to the IOAPIC */
#define GSI_MAX          1024
#define GSI_MAX_ENTRIES  (GSI_IRQCHIP_PINS + 16 + GSI_MAX)

struct gsi_table {
	int vm_fd;
	pthread_mutex_t lock;
	unsigned int nr;   /* entries in use */
	struct kvm_irq_routing_entry entries[GSI_MAX_ENTRIES];
	uint8_t used[GSI_MAX];  /* 1 if that GSI number carries an MSI route */
};

int gsi_init(struct gsi_table *gt, int vm_fd);
void gsi_destroy(struct gsi_table *gt);
/* Allocates a GSI (≥ 24) routed to the MSI (addr, data); returns it or -ENOSPC. */
int gsi_msi_alloc(struct gsi_table *gt, uint64_t addr, uint32_t data);
int gsi_msi_update(struct gsi_table *gt, int gsi, uint64_t addr, uint32_t data);
void gsi_msi_free(struct gsi_table *gt, int gsi);
/* Binds / unbinds an eventfd to a GSI (KVM_IRQFD). */
int gsi_irqfd_assign(struct gsi_table *gt, int gsi, int efd);
int gsi_irqfd_deassign(struct gsi_table *gt, int gsi, int efd);

#endif
