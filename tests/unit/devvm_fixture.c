/* The KVM-less VM of devvm_fixture.h. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cunit.h"
#include "boot/layout.h"
#include "core/device.h"
#include "devvm_fixture.h"

struct vm vm;
struct vm_config cfg;
uint8_t *ram;
int memfd = -1;

static const struct pci_windows win = {
	.ecam_base = LAYOUT_ECAM,
	.mmio32_base = LAYOUT_MMIO32,
	.mmio32_size = LAYOUT_MMIO32_END - LAYOUT_MMIO32,
	.pio_base = LAYOUT_PIO_WINDOW,
	.pio_size = LAYOUT_PIO_WINDOW_END - LAYOUT_PIO_WINDOW,
};

void devvm_up(uint64_t ram_size, bool iommu)
{
	memset(&vm, 0, sizeof(vm));
	memset(&cfg, 0, sizeof(cfg));
	cfg.iommu.enabled = iommu;
	vm.cfg = &cfg;
	vm.kvm_fd = vm.vm_fd = -1;
	memfd = memfd_create("test-devvm-ram", MFD_CLOEXEC);
	CU_ASSERT_FATAL(memfd >= 0 && ftruncate(memfd, (off_t)ram_size) == 0);
	ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	CU_ASSERT_FATAL(ram != MAP_FAILED);
	vm.mem = ram;
	vm.mem_fd = memfd;
	vm.layout.ram_size = ram_size;
	CU_ASSERT_EQUAL_FATAL(gmem_add(&vm.gmem, 0, ram_size, ram, memfd, 0), 0);
	dma_as_identity_init(&vm.dma, &vm.gmem);
	bus_init(&vm.pio, "pio");
	bus_init(&vm.mmio, "mmio");
	pthread_mutex_init(&vm.vfio_lock, NULL);
	CU_ASSERT_EQUAL_FATAL(gsi_init(&vm.gsi, -1), 0);
	CU_ASSERT_EQUAL_FATAL(ioapic_init(&vm.ioapic, &vm.gsi, NULL, 0), 0);
	CU_ASSERT_EQUAL_FATAL(pci_bus_init(&vm.pci, &win), 0);
	CU_ASSERT_EQUAL_FATAL(evloop_init(&vm.loop), 0);
	if (iommu) {
		struct device_spec spec = { .kind = DEVICE_VTD };

		CU_ASSERT_EQUAL_FATAL(device_add(&vm, &spec, NULL), 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(vm.vtd);
	}
}

void devvm_down(void)
{
	device_del_all(&vm);
	CU_ASSERT_EQUAL(vm.devices.count, 0);
	CU_ASSERT_PTR_NULL(vm.vtd);
	evloop_fini(&vm.loop);
	pci_bus_destroy(&vm.pci);
	ioapic_destroy(&vm.ioapic);
	gsi_destroy(&vm.gsi);
	dma_as_destroy(&vm.dma);
	pthread_mutex_destroy(&vm.vfio_lock);
	munmap(ram, vm.layout.ram_size);
	close(memfd);
	memfd = -1;
	ram = NULL;
}
