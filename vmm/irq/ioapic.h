/* The userspace IOAPIC of KVM's split irqchip: an 82093AA-style IOAPIC with
 * 24 pins at LAYOUT_IOAPIC, delivering through the KVM MSI routes at GSI =
 * pin (gsi.h) as QEMU's does in split mode.
 *
 * Contract: ioapic_set_irq() and ioapic_eoi() are thread-safe (vCPU threads
 * drive device lines and report EOIs; the main thread serves resample
 * irqfds). The MMIO window is guest input: only aligned 32-bit accesses to
 * IOREGSEL (0x00) and IOWIN (0x10) act, anything else reads 0 and is
 * dropped. The IOAPIC owns no fds and no heap memory (resample fds stay
 * their device's), so a VM that exits needs no teardown call: the routing
 * table goes with the VM, and giving 24 GSIs back one KVM_SET_GSI_ROUTING
 * at a time would only slow the exit. ioapic_destroy() is for an IOAPIC
 * that leaves a VM that stays. */
#ifndef ISLE_VMM_IOAPIC_H
#define ISLE_VMM_IOAPIC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "isle/evloop.h"
#include "irq/gsi.h"

#define IOAPIC_PINS        24
#define IOAPIC_MMIO_SIZE   0x1000
/* The requester id of the IOAPIC's interrupts, for interrupt remapping:
 * bus 0xf0, device 0x1f, function 0, where Intel chipsets put theirs (and
 * Linux's intremap defaults expect). QEMU's q35 uses 0xff00 instead; any id
 * works as long as the DMAR table's IOAPIC scope names the same one. */
#define IOAPIC_RID         0xf0f8

/* MMIO window. */
#define IOAPIC_IOREGSEL    0x00
#define IOAPIC_IOWIN       0x10
/* Indirect registers. */
#define IOAPIC_REG_ID      0x00
#define IOAPIC_REG_VER     0x01
#define IOAPIC_REG_ARB     0x02
#define IOAPIC_REG_RTE     0x10     /* pin n: 0x10 + 2n (low), 0x11 + 2n (high) */
#define IOAPIC_NR_REGS     (IOAPIC_REG_RTE + 2 * IOAPIC_PINS)
#define IOAPIC_VERSION     0x11
/* Redirection table entry bits. */
#define IOAPIC_RTE_VECTOR      0xffULL
#define IOAPIC_RTE_DELMODE     (7ULL << 8)
#define IOAPIC_RTE_DESTMODE    (1ULL << 11)
#define IOAPIC_RTE_DELIVS      (1ULL << 12)
#define IOAPIC_RTE_POLARITY    (1ULL << 13)
#define IOAPIC_RTE_REMOTE_IRR  (1ULL << 14)
#define IOAPIC_RTE_LEVEL       (1ULL << 15)
#define IOAPIC_RTE_MASKED      (1ULL << 16)
#define IOAPIC_RTE_DEST_SHIFT  48      /* bits 63-48: dest id (63-56), or the IR index */

struct ioapic;

struct ioapic_pin {
	struct ioapic *io;
	unsigned int n;              /* pin number */
	struct msi_route route;      /* GSI = pin */
	int trigger_fd, resample_fd; /* resample irqfd pair, -1 if none */
	uint64_t delivered;          /* interrupts sent to KVM (tests, debugging) */
};

struct ioapic {
	pthread_mutex_t lock;
	struct gsi_table *gsi;
	struct evloop *loop;
	uint32_t regsel;
	uint32_t regs[IOAPIC_NR_REGS];   /* the guest-visible registers */
	uint32_t lines;                  /* input levels (bit n: pin n high) */
	struct ioapic_pin pins[IOAPIC_PINS];
};

/* Resets the registers (every pin masked, edge, vector 0) with the given
 * IOAPIC id and claims GSIs 0-23 in gt. loop serves resample irqfds (may be
 * NULL when none are used). */
int ioapic_init(struct ioapic *io, struct gsi_table *gt, struct evloop *loop, uint8_t id);
void ioapic_destroy(struct ioapic *io);

/* bus_fn for the MMIO window at LAYOUT_IOAPIC. */
void ioapic_mmio(void *opaque, uint64_t offset, void *data, unsigned int len, bool is_write);

/* Drives input pin (0-23) to level (0/1). -EINVAL for a bad pin. */
int ioapic_set_irq(struct ioapic *io, unsigned int pin, int level);
/* A level-triggered interrupt with this vector was EOIed (KVM_EXIT_IOAPIC_EOI). */
void ioapic_eoi(struct ioapic *io, uint8_t vector);

/* Wires pin to a resample irqfd pair as VFIO INTx uses: a write to trigger_fd
 * asserts the pin (seen on io->loop); the EOI of its interrupt deasserts it
 * and writes resample_fd, so the device re-asserts if still pending. Call
 * from the loop's thread. The fds stay the caller's. */
int ioapic_resample_add(struct ioapic *io, unsigned int pin, int trigger_fd, int resample_fd);
void ioapic_resample_del(struct ioapic *io, unsigned int pin);

/* The MSI message an RTE stands for (its dest field and vector, as QEMU
 * builds it), exposed for tests. */
struct msi_msg ioapic_rte_msg(uint64_t rte);

#endif
