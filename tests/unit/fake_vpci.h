/* The shared half of the simulated virtio devices the hosted frontend
 * drivers are unit-tested against (fake_virtio_blk.c, fake_virtio_net.c,
 * fake_virtio_balloon.c): fake guest RAM with the fe_env.h hooks over it,
 * and a modern virtio-pci transport behind frontends/virtio_pci.h's
 * struct vpci_env (fake_env).
 *
 * Configuration space carries the vendor capabilities; BAR4 holds the
 * common, ISR, device-config and notify regions. The transport owns the
 * common-config register file (feature and queue select, queue size,
 * enable and ring addresses, device status with reset), starts the enabled
 * queues on isle's device-side virtqueue (lib/virtq.c) when DRIVER_OK is
 * set, serves device-config reads from the device's bytes and decodes
 * queue notifications. What is the device's own comes through struct
 * fake_vpci_ops. An access outside the regions fails the test. One device
 * at a time: the last fake_vpci_setup() names the one fake_env reaches. */
#ifndef TESTS_UNIT_FAKE_VPCI_H
#define TESTS_UNIT_FAKE_VPCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "isle/gmem.h"
#include "isle/util.h"
#include "isle/virtq.h"

#include "virtio_pci.h"

#define RAM_GPA      0x100000ULL
#define RAM_SIZE     (4 * MiB)
#define BAR_BASE     0xfe000000ULL
#define BAR_SIZE     0x4000u
#define COMMON_OFF   0x0000u
#define ISR_OFF      0x1000u
#define DEVCFG_OFF   0x2000u
#define NOTIFY_OFF   0x3000u
#define NOTIFY_MULT  4u
#define FAKE_VPCI_NQ 5u                  /* queues a fake may have (nq at most) */

struct fake_vpci_q {
	uint16_t max;                    /* without ops->queue_max */
	uint16_t noff;                   /* queue_notify_off */
	uint16_t size, enable;           /* 0 after reset; size 0 reads as the max */
	uint64_t desc, avail, used;
	struct vq vq;
	bool running;                    /* started at DRIVER_OK */
};

/* The device's part; every hook may be NULL. */
struct fake_vpci_ops {
	unsigned int (*num_queues)(void);           /* NULL: nq */
	uint16_t (*queue_max)(unsigned int idx);    /* NULL: q[idx].max */
	void (*reset)(void);                        /* after the transport's reset */
	/* DRIVER_OK newly set, the enabled queues started: may add status bits. */
	void (*driver_ok)(uint8_t *status);
	/* A 2-byte write of v at queue idx's notify address; false: one the
	 * device does not expect, which fails the test. NULL: all fail. */
	bool (*notify)(unsigned int idx, uint32_t v);
	/* A write into the device-config region; NULL: fails the test. */
	void (*devcfg_write)(uint32_t off, unsigned int size, uint32_t v);
};

struct fake_vpci {
	uint8_t cfg[256];                /* PCI configuration space */
	void *devcfg;                    /* the device-config bytes */
	uint32_t devcfg_len;
	uint64_t offered, driver;
	uint32_t dfsel, gfsel;
	uint8_t status, generation;
	uint16_t qsel;
	unsigned int nq;
	struct fake_vpci_q q[FAKE_VPCI_NQ];
	const struct fake_vpci_ops *ops;
	/* Knobs. */
	bool refuse_features_ok, stuck_reset;
	unsigned int unstable_generation;   /* generation reads that change */
	/* Figures. */
	unsigned int resets;
};

extern uint8_t *fake_ram;          /* RAM_SIZE bytes at RAM_GPA, page-aligned */
extern void *fake_priv;            /* the driver's private bytes */
extern const struct vpci_env fake_env;

/* Allocates RAM and priv_bytes of fake_priv, then makes *dev (zeroed by
 * the caller) the device fake_env reaches: a well-behaved transport with
 * device_id, nq queues of qmax entries, queue i notified at slot i + 1,
 * and devcfg_len bytes of device config at devcfg. */
void fake_vpci_setup(struct fake_vpci *dev, const struct fake_vpci_ops *ops,
		     uint16_t device_id, unsigned int nq, uint16_t qmax,
		     void *devcfg, uint32_t devcfg_len, size_t priv_bytes);
void fake_teardown(void);
/* Writes a virtio vendor capability into the device's configuration space. */
void fake_put_cap(uint8_t at, uint8_t next, uint8_t type, uint8_t bar,
		  uint32_t off, uint32_t len, uint8_t cap_len);

#endif
