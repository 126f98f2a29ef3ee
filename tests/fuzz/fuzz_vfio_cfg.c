/* libFuzzer target for vmm/devices/vfio_pci_cfg.c and the interrupt
 * emulation it drives (vfio_pci_irq.c, pci/msix.c): both sides untrusted.
 * The input is a device's config space (the first 4096 bytes, zero-padded:
 * the capability lists isle walks) followed by guest config accesses, 8
 * bytes each: offset (2, little endian, within 4 KiB), width (1/2/4 from
 * the low bits), read or write, and a value. The fake device is the unit
 * tests' (tests/unit/fake_vfio.c: a memfd standing in for the VFIO device
 * fd; VFIO's ioctls fail on it, which the code must survive). Checks: no crash or sanitizer report; reads of
 * emulated capability headers never point outside the space or backwards
 * into the header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "isle/log.h"
#include "isle/util.h"
#include "core/vm.h"
#include "devices/vfio_pci.h"
#include "fake_vfio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm vm;
	static struct vfio_pci v;
	static uint8_t img[PCI_CFG_SIZE];
	char err[256];
	size_t n = MIN(size, sizeof(img));

	log_set_level(LOG_ERROR + 1);
	memset(img, 0, sizeof(img));
	memcpy(img, data, n);
	img[PCI_HEADER_TYPE] &= 0x80;   /* mostly endpoints, so the walks run */
	if (fake_vfio_open(&vm, &v, img, size > 0 && (data[0] & 1), 32, 2048))
		abort();
	if (vfio_cfg_init(&v, err, sizeof(err)))
		goto out;
	/* MSI-X needs its BAR declared: give it one big enough, as bars_init
	 * would, with the table where the device says. */
	if (v.has_msix) {
		uint64_t need = (uint64_t)v.msix_hw_table + v.msix_nr * 16ULL +
				(uint64_t)v.msix_hw_pba + 512;

		v.msix_table_off = v.msix_hw_table;
		v.msix_pba_off = v.msix_hw_pba;
		if (v.msix_bar >= PCI_NUM_BARS ||
		    pci_dev_set_bar(&v.pci, v.msix_bar, PCI_BAR_MEM32,
				    MAX(4096ULL, 1ULL << (64 - __builtin_clzll(need))), false))
			v.has_msix = false;
	}
	if (vfio_irq_init(&v) || pci_register(&vm.pci, &v.pci))
		goto out;
	for (size_t i = n; i + 8 <= size; i += 8) {
		unsigned int off = get_le16(data + i) & (PCI_CFG_SIZE - 1);
		unsigned int len = 1u << (data[i + 2] % 3);
		uint8_t b[4];

		off &= ~(len - 1);
		memcpy(b, data + i + 4, 4);
		pci_cfg_access(&vm.pci, 0, v.pci.devfn, off, b, len, data[i + 3] & 1);
		if (v.msix_nr && v.has_msix) {
			/* The guest touches the table too. */
			msix_bar_access(&v.msix, v.msix_bar, v.msix_table_off + (off % 64), b, 4,
					data[i + 3] & 2);
		}
	}
	/* Capability pointers isle emulates stay inside the space. */
	for (unsigned int p = v.pci.cfg[PCI_CAPABILITY_LIST], k = 0; p && k < 64;
	     p = v.pci.cfg[p + 1], k++)
		if (p < PCI_STD_HEADER_SIZEOF || p > PCI_CFG_SPACE_SIZE - 2)
			abort();
out:
	fake_vfio_close(&vm, &v);
	return 0;
}
