/* Modern virtio-pci transport (virtio 1.x), driver side, freestanding.
 *
 * Contract:
 *  - PCI configuration space, BAR placement and MMIO all go through the
 *    environment's struct vpci_env: the test guest backs it with its ECAM
 *    helpers and identity-mapped BARs, the unit tests with a simulated
 *    device. bar_map() returns where the driver reaches a memory BAR
 *    (assigning it and enabling decode if firmware left it unassigned).
 *  - The device is untrusted: each vendor capability's BAR, offset and
 *    length are checked against the BAR's size, the notify offset of each
 *    queue against the notify region, and every device-config access
 *    against the device-config region. Capabilities that fail are skipped
 *    (the spec lets the driver use the first one of a type it can use);
 *    d->error names the last problem.
 *  - Only modern devices (device id 0x1040 + type) are driven; transitional
 *    ids (0x1000-0x103f) return -ENODEV.
 *  - Functions return 0 or -errno; waits are bounded by d->timeout_us. */
#ifndef FRONTENDS_VIRTIO_PCI_H
#define FRONTENDS_VIRTIO_PCI_H

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "fe_env.h"

#define VPCI_VENDOR          0x1af4
#define VPCI_MODERN_BASE     0x1040      /* device id = base + virtio device type */
#define VPCI_MODERN_LAST     0x107f
#define VPCI_RESET_US        1000000     /* default bound on reset and the like */

struct vpci_env {
	void *ctx;
	uint8_t (*cfg_read8)(void *ctx, uint16_t off);
	uint16_t (*cfg_read16)(void *ctx, uint16_t off);
	uint32_t (*cfg_read32)(void *ctx, uint16_t off);
	void (*cfg_write16)(void *ctx, uint16_t off, uint16_t v);
	/* Address of memory BAR idx (0..5) as mmio_read/write take it, with
	 * its size in *size; 0 if the BAR is absent, an I/O BAR, the upper
	 * half of a 64-bit BAR or out of the driver's reach. */
	uint64_t (*bar_map)(void *ctx, unsigned int idx, uint64_t *size);
	/* size is 1, 2 or 4 bytes; addr is naturally aligned. */
	uint32_t (*mmio_read)(void *ctx, uint64_t addr, unsigned int size);
	void (*mmio_write)(void *ctx, uint64_t addr, unsigned int size, uint32_t v);
};

struct vpci_region {
	uint64_t addr;        /* as the environment's mmio hooks take it */
	uint32_t len;
	uint8_t bar;
	bool present;
};

struct vpci_dev {
	const struct vpci_env *env;
	uint16_t vendor, device;
	struct vpci_region common, notify, isr, devcfg;
	uint32_t notify_mult;        /* notify_off_multiplier */
	uint16_t num_queues;
	uint64_t offered;            /* device features */
	uint64_t features;           /* negotiated */
	uint64_t timeout_us;
	const char *error;           /* last problem found, a static string */
};

/* Reads the ids, walks the capability list and maps the regions; enables
 * memory decode and bus mastering. -ENODEV if this is not a modern virtio
 * device or a required region (common, notify, ISR) is missing or
 * unusable. Does not touch the device's status. */
int vpci_probe(struct vpci_dev *d, const struct vpci_env *env);

/* Virtio device type (2 = block), from the modern device id. */
static inline unsigned int vpci_device_type(const struct vpci_dev *d)
{
	return (unsigned int)d->device - VPCI_MODERN_BASE;
}

/* Reset, then ACKNOWLEDGE | DRIVER. -ETIMEDOUT if the reset never ends. */
int vpci_begin(struct vpci_dev *d);
int vpci_reset(struct vpci_dev *d);

/* Negotiates offered & (wanted | VERSION_1) and sets FEATURES_OK. -ENODEV
 * (FAILED set) without VERSION_1, -EIO (FAILED set) if the device does
 * not keep FEATURES_OK. d->offered and d->features tell what happened. */
int vpci_negotiate(struct vpci_dev *d, uint64_t wanted);

/* Largest size the device allows for queue idx; 0 if there is no such
 * queue. */
unsigned int vpci_queue_max(struct vpci_dev *d, unsigned int idx);

/* Programs queue idx (size num, ring addresses as the device sees them,
 * no MSI-X vector), enables it and returns the address to kick it at.
 * -EINVAL for a bad num, -EBUSY if already enabled, -EIO if the device's
 * notify offset lies outside the notify region. */
int vpci_queue_enable(struct vpci_dev *d, unsigned int idx, unsigned int num,
		      uint64_t desc_pa, uint64_t avail_pa, uint64_t used_pa,
		      uint64_t *notify_addr);

/* Tells the device queue idx has new buffers. */
void vpci_notify(struct vpci_dev *d, uint64_t notify_addr, unsigned int idx);

uint8_t vpci_status(struct vpci_dev *d);
void vpci_status_set(struct vpci_dev *d, uint8_t bits);   /* ORs bits in */
void vpci_driver_ok(struct vpci_dev *d);
void vpci_fail(struct vpci_dev *d);
bool vpci_needs_reset(struct vpci_dev *d);
/* Reads (and thereby clears) the ISR status byte. */
uint8_t vpci_isr(struct vpci_dev *d);

/* Device-specific configuration: natural-width reads at off (64-bit as two
 * 32-bit halves). -EIO if [off, off + size) is outside the region. Wrap a
 * group of reads in vpci_cfg_generation() checks for a consistent view. */
uint8_t vpci_cfg_generation(struct vpci_dev *d);
int vpci_cfg_read8(struct vpci_dev *d, uint32_t off, uint8_t *v);
int vpci_cfg_read16(struct vpci_dev *d, uint32_t off, uint16_t *v);
int vpci_cfg_read32(struct vpci_dev *d, uint32_t off, uint32_t *v);
int vpci_cfg_read64(struct vpci_dev *d, uint32_t off, uint64_t *v);
/* The few device-config fields the DRIVER owns (the balloon's actual):
 * a natural-width write at off, -EIO outside the region. */
int vpci_cfg_write32(struct vpci_dev *d, uint32_t off, uint32_t v);

#endif
