/* QEMU's "edu" teaching device (PCI 1234:11e8, QEMU docs/specs/edu.rst),
 * register-compatible so one guest driver (kvm-unit-tests' x86/intel-iommu.c
 * style, tests/guest/test_edu.c) drives it on QEMU and on isle, e.g. as the
 * DMA and interrupt source of an emulated VT-d's tests.
 *
 * Owns: BAR0 (1 MiB of registers), the 4 KiB DMA buffer at device address
 * 0x40000, the factorial unit, the interrupt status word and how it is
 * signalled: MSI (vmm/pci/msi.c, one vector) when the guest enabled it,
 * else INTx pin A, level-triggered on IOAPIC input 16 + slot % 4, which the
 * Interrupt Line register names (the DSDT has no _PRT).
 *
 * Contract: every register write is guest input. Accesses other than the
 * sizes QEMU accepts (4 bytes below 0x80, 4 or 8 from 0x80) read all-ones
 * and are dropped. DMA goes ONLY through the function's DMA address space
 * (pci_dev.dma: the VM's identity AS, or its own behind --iommu), and only
 * while bus mastering is on: a transfer whose device side leaves the buffer,
 * whose RAM side leaves the 28-bit DMA mask, or that the AS refuses,
 * completes with nothing copied (logged at debug) instead of QEMU's abort
 * or address clamping. The factorial and the DMA run synchronously inside
 * the MMIO write (at most 4 KiB copied; the factorial is O(1), see
 * edu_factorial), so "computing" and the DMA run bit are never seen set,
 * which a driver that polls them (as it must on QEMU) accepts.
 *
 * Locking: edu->lock guards the registers. BAR accesses take it, then the
 * msi or IOAPIC locks; config_write runs under the bus lock and takes it
 * after (order bus -> edu -> msi/ioapic -> gsi). */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "isle/dma.h"
#include "isle/log.h"
#include "isle/util.h"
#include "core/device.h"
#include "core/vm.h"
#include "devices/edu.h"

/* n! modulo 2^32, as QEMU's 32-bit loop computes it. From 34 on, n! has at
 * least 32 factors of two (17 + 8 + 4 + 2 + 1), so the result is 0: this
 * bounds the work a guest can make a vCPU thread do to 33 multiplications. */
static uint32_t edu_factorial(uint32_t n)
{
	uint32_t r = 1;

	if (n >= 34)
		return 0;
	for (; n > 1; n--)
		r *= n;
	return r;
}

/* INTx follows irq_status unless MSI or the command register's INTx
 * disable takes over. Called with edu->lock held. */
static void edu_update_intx(struct edu *e)
{
	bool level = e->irq_status && !msi_enabled(&e->msi) && !atomic_load(&e->intx_off);

	if (level == e->line)
		return;
	e->line = level;
	vm_irq_line(e->vm, e->irq, level);
}

/* Called with edu->lock held. */
static void edu_raise(struct edu *e, uint32_t bits)
{
	e->irq_status |= bits;
	if (!e->irq_status)
		return;
	/* An MSI is a bus-master write: none without bus mastering. */
	if (msi_enabled(&e->msi)) {
		if (atomic_load(&e->bus_master))
			msi_notify(&e->msi);
		return;
	}
	edu_update_intx(e);
}

/* Whether [addr, addr + len) is inside the device's buffer. */
static bool edu_buf_range(uint64_t addr, uint64_t len)
{
	return addr >= EDU_DMA_START && range_ok(addr - EDU_DMA_START, len, EDU_DMA_SIZE);
}

/* One transfer, synchronously. Nothing is copied unless every check passes:
 * buffer range, DMA mask, and (buffer -> RAM) every byte writable in the AS
 * before the first byte is written. Called with edu->lock held. */
static int edu_dma(struct edu *e)
{
	bool to_ram = e->dma_cmd & EDU_DMA_TO_RAM;
	uint64_t dev = to_ram ? e->dma_src : e->dma_dst;
	uint64_t ram = to_ram ? e->dma_dst : e->dma_src;
	uint64_t cnt = e->dma_cnt;
	uint8_t tmp[EDU_DMA_SIZE];
	int r;

	if (!cnt)
		return 0;
	if (!edu_buf_range(dev, cnt))
		return -ERANGE;
	if (ram > EDU_DMA_MASK || cnt - 1 > EDU_DMA_MASK - ram)
		return -EFAULT;
	if (!e->pci.dma || !atomic_load(&e->bus_master))
		return -EPERM;
	if (!to_ram) {
		/* Into a copy first: a fault half-way leaves the buffer as it was. */
		r = dma_read(e->pci.dma, ram, tmp, cnt);
		if (!r)
			memcpy(e->buf + (dev - EDU_DMA_START), tmp, cnt);
		return r;
	}
	for (uint64_t off = 0; off < cnt;) {
		uint64_t len = cnt - off;
		void *hva;

		r = dma_translate(e->pci.dma, ram + off, &len, DMA_WRITE, &hva);
		if (r)
			return r;
		off += len;
	}
	return dma_write(e->pci.dma, ram, e->buf + (dev - EDU_DMA_START), cnt);
}

static void edu_write(struct edu *e, uint64_t offset, uint64_t v)
{
	int r;

	switch (offset) {
	case EDU_REG_LIVENESS:
		e->liveness = ~(uint32_t)v;
		break;
	case EDU_REG_FACT:
		e->fact = edu_factorial((uint32_t)v);
		if (e->status & EDU_STATUS_IRQFACT)
			edu_raise(e, EDU_IRQ_FACT);
		break;
	case EDU_REG_STATUS:
		/* Only "interrupt when done" is the guest's; computing is ours. */
		e->status = (e->status & ~EDU_STATUS_IRQFACT) | ((uint32_t)v & EDU_STATUS_IRQFACT);
		break;
	case EDU_REG_IRQ_RAISE:
		edu_raise(e, (uint32_t)v);
		break;
	case EDU_REG_IRQ_ACK:
		e->irq_status &= ~(uint32_t)v;
		edu_update_intx(e);
		break;
	case EDU_REG_DMA_SRC:
		e->dma_src = v;
		break;
	case EDU_REG_DMA_DST:
		e->dma_dst = v;
		break;
	case EDU_REG_DMA_CNT:
		e->dma_cnt = v;
		break;
	case EDU_REG_DMA_CMD:
		if (!(v & EDU_DMA_RUN))
			break;
		e->dma_cmd = v;
		r = edu_dma(e);
		if (r)
			log_debug("edu %02x.0: DMA %#lx -> %#lx (%lu bytes, %s) failed: %s",
				  e->pci.slot, (unsigned long)e->dma_src, (unsigned long)e->dma_dst,
				  (unsigned long)e->dma_cnt,
				  v & EDU_DMA_TO_RAM ? "to RAM" : "from RAM", strerror(-r));
		e->dma_cmd &= ~(uint64_t)EDU_DMA_RUN;
		if (e->dma_cmd & EDU_DMA_IRQ)
			edu_raise(e, EDU_IRQ_DMA);
		break;
	}
}

static uint64_t edu_read(struct edu *e, uint64_t offset)
{
	switch (offset) {
	case EDU_REG_IDENT:
		return EDU_IDENT;
	case EDU_REG_LIVENESS:
		return e->liveness;
	case EDU_REG_FACT:
		return e->fact;
	case EDU_REG_STATUS:
		return e->status;
	case EDU_REG_IRQ_STAT:
		return e->irq_status;
	case EDU_REG_DMA_SRC:
		return e->dma_src;
	case EDU_REG_DMA_DST:
		return e->dma_dst;
	case EDU_REG_DMA_CNT:
		return e->dma_cnt;
	case EDU_REG_DMA_CMD:
		return e->dma_cmd;
	default:
		return ~0ull;
	}
}

static void edu_bar_access(struct pci_dev *dev, unsigned int bar, uint64_t offset, void *data,
			   unsigned int len, bool is_write)
{
	struct edu *e = dev->opaque;
	uint64_t v = 0;
	/* QEMU's sizes: dwords below 0x80, dwords or qwords from there on. */
	bool ok = bar == 0 && (len == 4 || (len == 8 && offset >= EDU_REG_DMA_SRC)) &&
		  !(offset % len);

	if (!ok) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&e->lock);
	if (is_write) {
		memcpy(&v, data, len);
		edu_write(e, offset, v);
	} else {
		v = edu_read(e, offset);
		memcpy(data, &v, len);   /* x86 is little-endian: the low bytes */
	}
	pthread_mutex_unlock(&e->lock);
}

static void edu_config_write(struct pci_dev *dev, unsigned int offset, unsigned int len,
			     uint32_t old)
{
	struct edu *e = dev->opaque;
	uint16_t cmd = get_le16(dev->cfg + PCI_COMMAND);

	atomic_store(&e->bus_master, cmd & PCI_COMMAND_MASTER);
	atomic_store(&e->intx_off, cmd & PCI_COMMAND_INTX_DISABLE);
	msi_config_write(&e->msi, offset, len, old);
	/* Enabling MSI or disabling INTx drops the line, and vice versa. */
	pthread_mutex_lock(&e->lock);
	edu_update_intx(e);
	pthread_mutex_unlock(&e->lock);
}

static const struct pci_dev_ops edu_pci_ops = {
	.name = "edu",
	.bar_access = edu_bar_access,
	.config_write = edu_config_write,
};

static void edu_unrealize(struct device *dev);

static int edu_realize(struct device *dev)
{
	struct vm *vm = dev->vm;
	struct edu *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	r = pthread_mutex_init(&e->lock, NULL);
	if (r) {
		free(e);
		return -r;
	}
	dev->priv = e;
	e->vm = vm;
	pci_dev_init(&e->pci, EDU_VENDOR, EDU_DEVICE, EDU_CLASS, EDU_REVISION, &edu_pci_ops, e);
	e->pci.cfg[PCI_INTERRUPT_PIN] = 1;   /* INTA# */
	/* QEMU's edu says 1af4:1100 here; isle's own subsystem id lets a test
	 * guest tell the emulation from an assigned QEMU edu, whose DMA limits
	 * differ (tests/guest/edu.h). */
	put_le16(e->pci.cfg + PCI_SUBSYSTEM_VENDOR_ID, 0x1b36);
	put_le16(e->pci.cfg + PCI_SUBSYSTEM_ID, 0x11e8);
	if ((r = pci_dev_set_bar(&e->pci, 0, PCI_BAR_MEM32, EDU_BAR0_SIZE, false)) ||
	    (r = msi_init(&e->msi, &e->pci, &vm->gsi)) ||
	    (r = pci_register(&vm->pci, &e->pci))) {
		edu_unrealize(dev);
		return r;
	}
	/* Its requester id is known now: behind --iommu it gets its own
	 * address space. Bus mastering is off until the guest enables it, so
	 * no DMA can run before this store. */
	e->pci.dma = vm_dma_as(vm, pci_dev_rid(&e->pci));
	/* The slot is known now. PCI GSIs 16-23 are free on isle's IOAPIC
	 * (ISA lines use 0-15); rotate by slot as a _PRT would. The guest may
	 * rewrite Interrupt Line (firmware scratch): e->irq is what counts. */
	e->irq = 16 + e->pci.slot % 4;
	pthread_mutex_lock(&vm->pci.lock);
	e->pci.cfg[PCI_INTERRUPT_LINE] = (uint8_t)e->irq;
	pthread_mutex_unlock(&vm->pci.lock);
	log_debug("edu %02x.0: INTx A on IOAPIC input %u", e->pci.slot, e->irq);
	dev->pci = &e->pci;
	return 0;
}

static void edu_unrealize(struct device *dev)
{
	struct edu *e = dev->priv;

	if (!e)
		return;
	/* -ENOENT when realize failed before registering: nothing to undo. */
	pci_unregister(&e->vm->pci, &e->pci);
	if (e->line)
		vm_irq_line(e->vm, e->irq, 0);
	msi_destroy(&e->msi);
	pthread_mutex_destroy(&e->lock);
	free(e);
	dev->priv = NULL;
}

const struct device_type edu_type = {
	.name = "edu",
	.id_prefix = "edu",
	.kind = DEVICE_EDU,
	.realize = edu_realize,
	.unrealize = edu_unrealize,
};
