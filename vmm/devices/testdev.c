/* The test device for test guests.
 * ISA: port 0xf4 ends the VM with the written status (QEMU's isa-debug-exit
 * at the same port gives (v << 1) | 1, so one guest runs on both); port 0xf8
 * takes the guest-physical address of a struct testdev_report, which isle
 * counts so that its own summary can contradict a guest that exits 0 after
 * reporting a failure. Ports 0x2000-0x2017 drive ISA IRQ lines as QEMU's
 * pc-testdev does, so interrupt tests have the same source on both.
 * PCI: registers in BAR0, a doorbell raising MSI-X vectors (table and PBA in
 * BAR4), and BAR shapes (I/O, 64-bit prefetchable) for sizing tests. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "isle/log.h"
#include "isle/util.h"
#include "devices/testdev.h"
#include "core/vm.h"

int testdev_report(struct testdev *td, uint64_t gpa)
{
	struct testdev_report r;

	/* A port write hands us the address: the CPU's access, not the PCI
	 * function's DMA, so guest-physical through gmem, not a dma_as. */
	if (gmem_read(&td->vm->gmem, gpa, &r, sizeof(r)))
		return -EFAULT;
	if (r.magic != TESTDEV_REPORT_MAGIC || r.text_len > sizeof(r.text) ||
	    r.kind < TESTDEV_REPORT_PASS || r.kind > TESTDEV_REPORT_SUMMARY)
		return -EINVAL;

	pthread_mutex_lock(&td->lock);
	if (!td->reports++)
		clock_gettime(CLOCK_MONOTONIC, &td->first_report);
	switch (r.kind) {
	case TESTDEV_REPORT_PASS:
		td->passed++;
		break;
	case TESTDEV_REPORT_FAIL:
		td->failed++;
		break;
	case TESTDEV_REPORT_SKIP:
		td->skipped++;
		break;
	case TESTDEV_REPORT_SUMMARY:
		td->summary_seen = 1;
		td->sum_pass = r.pass;
		td->sum_fail = r.fail;
		td->sum_skip = r.skip;
		break;
	}
	pthread_mutex_unlock(&td->lock);
	log_debug("guest report %u: %.*s", r.kind, (int)r.text_len, r.text);
	return 0;
}

static void testdev_isa_access(void *opaque, uint64_t offset, void *data, unsigned int len,
			       bool is_write)
{
	struct testdev *td = opaque;
	uint32_t v = 0;

	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	memcpy(&v, data, MIN(len, sizeof(v)));
	if (offset == 0) {
		vm_stop(td->vm, (int)(v & 0xff), "guest wrote %u to the exit port", v);
	} else if (offset == TESTDEV_REPORT_PORT - TESTDEV_EXIT_PORT && len == 4) {
		int r = testdev_report(td, v);

		if (r)
			log_warn("guest report at 0x%x ignored: %s", v,
				 r == -EFAULT ? "not in guest RAM" : "malformed");
	}
}

/* pc-testdev's IRQ ports: a byte write sets line `offset` to value != 0.
 * vm_irq_line is idempotent and thread-safe, so no state is kept here. */
void testdev_irq_access(void *opaque, uint64_t offset, void *data, unsigned int len,
			bool is_write)
{
	struct testdev *td = opaque;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (len != 1 || offset >= TESTDEV_IRQ_LINES)
		return;
	vm_irq_line(td->vm, (unsigned int)offset, *(uint8_t *)data != 0);
}

static void testdev_bar_access(struct pci_dev *dev, unsigned int bar, uint64_t offset,
			       void *data, unsigned int len, bool is_write)
{
	struct testdev *td = dev->opaque;
	uint32_t v = 0;

	if (bar == 4 && msix_bar_access(&td->msix, bar, offset, data, len, is_write))
		return;
	if (!is_write)
		memset(data, 0, len);
	if (bar != 0 || len != 4 || offset % 4)
		return;

	pthread_mutex_lock(&td->lock);
	if (is_write) {
		memcpy(&v, data, 4);
		if (offset == TESTDEV_REG_SCRATCH) {
			td->scratch = v;
		} else if (offset == TESTDEV_REG_DOORBELL) {
			/* MSI is a bus-master write: no bus mastering, no interrupt. */
			if (atomic_load(&td->bus_master) &&
			    msix_notify(&td->msix, v) == 0)
				td->doorbells++;
		}
	} else {
		switch (offset) {
		case TESTDEV_REG_MAGIC:
			v = TESTDEV_MAGIC;
			break;
		case TESTDEV_REG_COUNT:
			v = td->doorbells;
			break;
		case TESTDEV_REG_SCRATCH:
			v = td->scratch;
			break;
		}
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&td->lock);
}

static void testdev_config_write(struct pci_dev *dev, unsigned int offset, unsigned int len,
				 uint32_t old)
{
	struct testdev *td = dev->opaque;

	atomic_store(&td->bus_master, dev->cfg[PCI_COMMAND] & PCI_COMMAND_MASTER);
	msix_config_write(&td->msix, offset, len, old);
}

static const struct pci_dev_ops testdev_pci_ops = {
	.name = "isle-testdev",
	.bar_access = testdev_bar_access,
	.config_write = testdev_config_write,
};

static void testdev_unrealize(struct device *dev);

/* Opt-in (--testdev): the exit and report ports and the PCI function. */
static int testdev_realize(struct device *dev)
{
	struct vm *vm = dev->vm;
	struct testdev *td = calloc(1, sizeof(*td));
	int r;

	if (!td)
		return -ENOMEM;
	dev->priv = td;
	td->vm = vm;
	pthread_mutex_init(&td->lock, NULL);

	r = bus_register(&vm->pio, TESTDEV_EXIT_PORT,
			 TESTDEV_REPORT_PORT - TESTDEV_EXIT_PORT + 4, testdev_isa_access, td,
			 "testdev");
	if (!r)
		r = bus_register(&vm->pio, TESTDEV_IRQ_PORT, TESTDEV_IRQ_LINES,
				 testdev_irq_access, td, "testdev-irq");
	if (r) {
		testdev_unrealize(dev);
		return r;
	}
	pci_dev_init(&td->pci, TESTDEV_VENDOR, TESTDEV_DEVICE, TESTDEV_CLASS, 1,
		     &testdev_pci_ops, td);
	if ((r = pci_dev_set_bar(&td->pci, 0, PCI_BAR_MEM32, TESTDEV_BAR0_SIZE, false)) ||
	    (r = pci_dev_set_bar(&td->pci, 1, PCI_BAR_IO, TESTDEV_BAR1_SIZE, false)) ||
	    (r = pci_dev_set_bar(&td->pci, 2, PCI_BAR_MEM64, TESTDEV_BAR2_SIZE, true)) ||
	    (r = pci_dev_set_bar(&td->pci, 4, PCI_BAR_MEM32, TESTDEV_BAR4_SIZE, false)) ||
	    (r = msix_init(&td->msix, &td->pci, &vm->gsi, TESTDEV_MSIX_VECTORS, 4,
			   TESTDEV_MSIX_TABLE, TESTDEV_MSIX_PBA)) ||
	    (r = pci_register(&vm->pci, &td->pci)))
		testdev_unrealize(dev);
	else
		dev->pci = &td->pci;
	return r;
}

static void testdev_unrealize(struct device *dev)
{
	struct testdev *td = dev->priv;

	if (!td)
		return;
	pci_unregister(&td->vm->pci, &td->pci);
	msix_destroy(&td->msix);
	pthread_mutex_destroy(&td->lock);
	free(td);
	dev->priv = NULL;
}

/* A platform device: its ISA ports stay on the bus with the VM. */
const struct device_type testdev_type = {
	.name = "testdev",
	.id_prefix = "testdev",
	.kind = DEVICE_TESTDEV,
	.platform = true,
	.realize = testdev_realize,
	.unrealize = testdev_unrealize,
};
