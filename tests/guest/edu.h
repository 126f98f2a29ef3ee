/* The test guest's driver for QEMU's edu device (PCI 1234:11e8, QEMU
 * docs/specs/edu.rst; isle's vmm/devices/edu.c): register layout and the
 * few operations scenarios share (test_edu.c drives the device itself,
 * test_vtd.c uses it as the DMA and interrupt source behind the VT-d). */
#ifndef GUEST_EDU_H
#define GUEST_EDU_H

#include <stdbool.h>
#include <stdint.h>

#define EDU_VENDOR      0x1234
#define EDU_DEVICE      0x11e8
#define EDU_IDENT       0x00
#define EDU_LIVENESS    0x04
#define EDU_FACT        0x08
#define EDU_STATUS      0x20
#define EDU_IRQ_STATUS  0x24
#define EDU_IRQ_RAISE   0x60
#define EDU_IRQ_ACK     0x64
#define EDU_DMA_SRC     0x80
#define EDU_DMA_DST     0x88
#define EDU_DMA_CNT     0x90
#define EDU_DMA_CMD     0x98
#define EDU_STATUS_COMPUTING 0x01
#define EDU_STATUS_IRQFACT   0x80
#define EDU_DMA_RUN     0x1
#define EDU_DMA_TO_RAM  0x2
#define EDU_DMA_IRQ     0x4
#define EDU_DMA_BUF     0x40000
#define EDU_DMA_SIZE    4096
/* PCI subsystem (vendor, id) tells the models apart: QEMU's edu carries
 * QEMU's default 1af4:1100, isle's emulated edu (vmm/devices/edu.c) its
 * own. Only isle's model promises to complete out-of-range DMAs with
 * nothing copied; an edu assigned to isle from QEMU does not. */
#define EDU_SUBSYS_QEMU_VENDOR  0x1af4
#define EDU_SUBSYS_QEMU_ID      0x1100
#define EDU_SUBSYS_ISLE_VENDOR  0x1b36
#define EDU_SUBSYS_ISLE_ID      0x11e8

struct edu {
	uint16_t bdf;
	uint64_t regs;     /* BAR0 */
	uint8_t msi_cap;   /* 0: none */
};

/* Finds the first edu function (the cmdline's edu_index=N: the Nth, from
 * 0, in bus order), maps BAR0 and enables memory decoding and
 * bus mastering. false (and a skip message left to the caller) if absent;
 * *absent tells the two failures apart. */
bool edu_open(struct edu *e, bool *absent);
uint32_t edu_rd(const struct edu *e, uint32_t off);
void edu_wr(const struct edu *e, uint32_t off, uint32_t v);
/* Polls until (reg & mask) == 0 for up to us; true if it cleared. */
bool edu_wait_clear(const struct edu *e, uint32_t off, uint32_t mask, uint64_t us);
/* Runs one DMA (cmd: EDU_DMA_TO_RAM, EDU_DMA_IRQ) and waits for it to
 * finish (QEMU runs it from a 100 ms timer). true if it finished. */
bool edu_dma(const struct edu *e, uint64_t src, uint64_t dst, uint32_t cnt, uint32_t cmd);
/* Programs the MSI capability with (addr, data) and enables it (and INTx
 * off); edu_msi_disable turns MSI off again. false without the capability. */
bool edu_msi_enable(const struct edu *e, uint64_t addr, uint16_t data);
void edu_msi_disable(const struct edu *e);

#endif
