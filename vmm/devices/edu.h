/* QEMU's edu PCI device (vmm/devices/edu.c): its registers, for the device
 * model and its unit test; the guest's view is QEMU's docs/specs/edu.rst. */
#ifndef ISLE_VMM_EDU_H
#define ISLE_VMM_EDU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pci/msi.h"
#include "pci/pci.h"

struct vm;

#define EDU_VENDOR        0x1234
#define EDU_DEVICE        0x11e8
#define EDU_CLASS         0xff0000      /* "unassigned class", as QEMU's */
#define EDU_REVISION      0x10
#define EDU_BAR0_SIZE     (1u << 20)

/* BAR0 registers. */
#define EDU_REG_IDENT     0x00          /* RO: 0xRRrr00ed, version 1.0 */
#define EDU_REG_LIVENESS  0x04          /* reads back ~(last write) */
#define EDU_REG_FACT      0x08          /* write n: computes n! */
#define EDU_REG_STATUS    0x20
#define EDU_REG_IRQ_STAT  0x24          /* RO */
#define EDU_REG_IRQ_RAISE 0x60          /* WO: status |= value */
#define EDU_REG_IRQ_ACK   0x64          /* WO: status &= ~value */
#define EDU_REG_DMA_SRC   0x80
#define EDU_REG_DMA_DST   0x88
#define EDU_REG_DMA_CNT   0x90
#define EDU_REG_DMA_CMD   0x98

#define EDU_IDENT         0x010000edu
#define EDU_STATUS_COMPUTING 0x01u
#define EDU_STATUS_IRQFACT   0x80u
#define EDU_IRQ_FACT      0x001u        /* irq status bit of a finished factorial */
#define EDU_IRQ_DMA       0x100u        /* ... of a finished DMA */
#define EDU_DMA_RUN       0x1u
#define EDU_DMA_TO_RAM    0x2u          /* direction: 0 RAM -> buffer, 1 buffer -> RAM */
#define EDU_DMA_IRQ       0x4u
#define EDU_DMA_START     0x40000u
#define EDU_DMA_SIZE      4096u
#define EDU_DMA_MASK      ((1ull << 28) - 1)   /* QEMU's default dma_mask */

struct edu {
	struct vm *vm;
	struct pci_dev pci;
	struct msi msi;
	pthread_mutex_t lock;
	unsigned int irq;              /* IOAPIC input of INTx A */
	bool line;                     /* INTx level we drive */
	/* Copies of command bits, taken in config_write under the bus lock. */
	atomic_bool bus_master, intx_off;
	uint32_t liveness, fact, status, irq_status;
	uint64_t dma_src, dma_dst, dma_cnt, dma_cmd;
	uint8_t buf[EDU_DMA_SIZE];
};

#endif
