/* virtio 1.x modern PCI transport, shared by every virtio device isle
 * exposes (blk now, net next). A device describes itself with a const
 * struct virtio_dev_ops and lets the transport own everything PCI: identity
 * (1af4:1040+id), the vendor capabilities, the common-config register file,
 * ISR, notifications (one KVM ioeventfd per queue) and MSI-X.
 *
 * Layout: all virtio structures in one 64-bit BAR (VIRTIO_PCI_BAR, 16 KiB:
 * common 0x0, ISR 0x1000, device config 0x2000, notify 0x3000 with a
 * multiplier of 4), the MSI-X table and PBA in their own 32-bit BAR
 * (VIRTIO_PCI_MSIX_BAR), queues + 1 vectors.
 *
 * Contract:
 *  - The guest is untrusted: every common-config value is checked (see
 *    virtio_pci.c); ring addresses reach a device only after they were found
 *    to lie, whole and aligned, in one mapping each of the function's DMA
 *    address space (vp->pci.dma, the VM's identity AS unless an IOMMU gives
 *    it another), with the access the device needs. A bad one puts the
 *    device in DEVICE_NEEDS_RESET and raises the config interrupt.
 *  - activate() runs once per driver session, when the driver sets
 *    DRIVER_OK, with the enabled queues; reset() when the driver writes 0 to
 *    device_status (always, activated or not). Both run on a vCPU thread
 *    holding the transport's lock; they must not call back into the
 *    transport except through the functions marked "any thread" below.
 *  - Kick and call fds belong to the transport and stay open and unchanged
 *    for the device's life (a call fd may be upgraded, see call_changed);
 *    a device passes them on (vhost-user dups them into the message).
 *  - A call fd is the queue's MSI-X irqfd when the vector is routed, else a
 *    relay eventfd the VM's event loop turns into msix_notify(); -1 when
 *    the driver chose VIRTIO_MSI_NO_VECTOR. */
#ifndef ISLE_VMM_VIRTIO_PCI_H
#define ISLE_VMM_VIRTIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "isle/dma.h"
#include "pci/msix.h"
#include "pci/pci.h"

#define VIRTIO_PCI_VENDOR       0x1af4
#define VIRTIO_PCI_DEVICE_BASE  0x1040   /* + virtio device id */
#define VIRTIO_PCI_MAX_QUEUES   64

#define VIRTIO_PCI_BAR          4
#define VIRTIO_PCI_BAR_SIZE     0x4000
#define VIRTIO_PCI_COMMON_OFF   0x0000
#define VIRTIO_PCI_COMMON_LEN   0x40      /* through queue_reset; 56.. read 0 */
#define VIRTIO_PCI_ISR_OFF      0x1000
#define VIRTIO_PCI_DEVCFG_OFF   0x2000
#define VIRTIO_PCI_DEVCFG_MAX   0x1000
#define VIRTIO_PCI_NOTIFY_OFF   0x3000
#define VIRTIO_PCI_NOTIFY_MULT  4
#define VIRTIO_PCI_MSIX_BAR     1
#define VIRTIO_PCI_MSIX_BAR_SIZE 0x1000
#define VIRTIO_PCI_MSIX_TABLE   0x0
#define VIRTIO_PCI_MSIX_PBA     0x800

struct vm;
struct virtio_pci;

/* One queue as the driver set it up, handed to activate(). */
struct virtio_queue {
	unsigned int index;
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;  /* IOVAs in dma, checked there */
	struct dma_as *dma;     /* the function's DMA address space */
	int kick_fd;    /* ioeventfd's eventfd */
	int call_fd;    /* irqfd, relay eventfd, or -1 (no vector) */
};

struct virtio_dev_ops {
	const char *name;
	/* Device feature bits; the transport keeps bits 0-23 (device-specific)
	 * and, of the rest, VERSION_1 (always offered), EVENT_IDX and
	 * INDIRECT_DESC. Called once, at virtio_pci_init. */
	uint64_t (*get_features)(struct virtio_pci *vp);
	/* Device config space, [offset, offset+len) inside config_size. */
	void (*config_read)(struct virtio_pci *vp, uint32_t offset, void *data, unsigned int len);
	void (*config_write)(struct virtio_pci *vp, uint32_t offset, const void *data,
			     unsigned int len);
	/* The driver set DRIVER_OK. An error puts the device in NEEDS_RESET. */
	int (*activate)(struct virtio_pci *vp, uint64_t features, const struct virtio_queue *q,
			unsigned int nr);
	/* The driver wrote 0 to device_status: stop using the rings. */
	void (*reset)(struct virtio_pci *vp);
	/* Optional: queue index's call fd changed (its vector got routed after
	 * activation). Runs on the event-loop thread, with the transport lock
	 * held as for activate. */
	void (*call_changed)(struct virtio_pci *vp, unsigned int index, int call_fd);
};

struct virtio_pci_params {
	uint16_t device_id;      /* VIRTIO_ID_* */
	uint32_t class_code;     /* PCI class, e.g. 0x010000 */
	unsigned int num_queues; /* 1..VIRTIO_PCI_MAX_QUEUES */
	uint16_t queue_max;      /* power of two, 2..32768 */
	uint32_t config_size;    /* ≤ VIRTIO_PCI_DEVCFG_MAX */
};

struct virtio_pci_queue {
	struct virtio_pci *vp;
	uint16_t size;
	uint16_t msix_vector;
	uint16_t enable;
	uint64_t desc, avail, used;
	int kick_fd;             /* eventfd behind the ioeventfd */
	int relay_fd;            /* eventfd relayed into msix_notify */
	int call_fd;             /* what the device was given */
	int irq_vector;          /* vector the relay raises, -1 idle (atomic) */
	uint64_t ioev_addr;      /* registered ioeventfd address, 0 = none */
};

struct virtio_pci {
	struct pci_dev pci;
	struct msix msix;
	struct vm *vm;
	const struct virtio_dev_ops *ops;
	void *priv;                      /* the device's */
	struct virtio_pci_params p;
	uint64_t host_features;          /* offered */
	/* Behind --iommu: the function's VT-d address space, which pci.dma
	 * becomes when the driver accepts VIRTIO_F_ACCESS_PLATFORM. */
	struct dma_as *dma_platform;

	pthread_mutex_t lock;            /* register file and queues */
	uint32_t dfselect, gfselect;
	uint64_t guest_features;
	uint16_t queue_select;
	uint8_t status;                  /* atomic: NEEDS_RESET comes from any thread */
	uint8_t isr;                     /* atomic */
	uint8_t config_generation;       /* atomic */
	uint16_t msix_config;            /* atomic */
	bool activated;
	struct virtio_pci_queue q[VIRTIO_PCI_MAX_QUEUES];

	/* ioeventfds follow the BAR (bar_moved, under the bus lock). */
	pthread_mutex_t ioev_lock;
	unsigned int ioev_len;           /* 0: any length, else 2 */
	unsigned int cfgcap;             /* config offset of the PCI_CFG window cap */
};

/* Builds the PCI function and registers it on vm->pci; relay fds join
 * vm->loop. Call from device init (main thread, before the VM runs). */
int virtio_pci_init(struct virtio_pci *vp, struct vm *vm, const struct virtio_dev_ops *ops,
		    const struct virtio_pci_params *p, void *priv);
/* Releases fds and ioeventfds (the PCI function stays on the bus, which
 * never unregisters devices; call at VM teardown only). */
void virtio_pci_destroy(struct virtio_pci *vp);

/* Any thread: bump config_generation and raise the config interrupt. */
void virtio_pci_config_changed(struct virtio_pci *vp);
/* Any thread: set DEVICE_NEEDS_RESET and raise the config interrupt. */
void virtio_pci_needs_reset(struct virtio_pci *vp, const char *why);

/* Transport internals shared by virtio_pci.c and virtio_pci_notify.c. */
int virtio_pci_notify_init(struct virtio_pci *vp);
void virtio_pci_notify_destroy(struct virtio_pci *vp);
/* Puts the queues' ioeventfds at the BAR's new address (0: removes them). */
void virtio_pci_notify_move(struct virtio_pci *vp, uint64_t bar_addr);
/* The call fd for q at activation (records the vector for the relay). */
int virtio_pci_call_fd(struct virtio_pci *vp, struct virtio_pci_queue *q);

/* Exposed for tests and fuzzing: whether a split ring of size num at these
 * IOVAs lies whole and aligned in the address space, each part inside one
 * mapping with the access a device needs (desc, avail: read; used: read and
 * write). */
bool virtio_pci_ring_ok(struct dma_as *as, uint16_t num, uint64_t desc, uint64_t avail,
			uint64_t used);

#endif
