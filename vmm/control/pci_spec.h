/* xl's PCI syntax (xl-pci-configuration(5)) for `isle run --pci SPEC` and
 * xl.cfg's pci=[...]: one host function to assign.
 *
 *   [DDDD:]BB:DD.F[@VSLOT][,KEY=VALUE...]     (hex; domain 0 by default)
 *
 * Keys, each accepted or refused by name:
 *   permissive=0|1      1: the guest may write every bit of the capabilities
 *                       passed through (default: only the known-safe ones)
 *   seize=0|1           1: make the function assignable first, as
 *                       `isle pci-assignable-add` would
 *   msitranslate=0      accepted; =1 (Xen's MSI-to-INTx translation) refused
 *   power_mgmt=0        accepted; =1 refused (no guest-driven D3cold)
 *   rdm_policy=strict|relaxed   accepted: isle has no reserved device memory
 *                       (RMRR) to honour, so both mean the same
 *   name=NAME           the device's id (isle's id rules)
 *   msix_relocation=auto|on|off   isle's own: move the MSI-X table to its
 *                       own page (auto: when it shares one with registers)
 * Unknown keys and bad values are refused. Pure: no I/O, no globals; the
 * spec is untrusted and a problem comes back as one line in err. */
#ifndef ISLE_VMM_PCI_SPEC_H
#define ISLE_VMM_PCI_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "vfio.h"   /* vfio_bdf_canon, VFIO_BDF_MAX */

#define PCI_SPEC_MAX     256
#define PCI_HOST_BDF_MAX VFIO_BDF_MAX   /* "DDDD:BB:DD.F" and the NUL */

struct vm_pci {
	char host[PCI_HOST_BDF_MAX];   /* canonical, e.g. "0000:00:04.0" */
	int vslot;                     /* guest slot 1-31, -1: the first free */
	bool permissive;
	bool seize;
	int msix_relocation;           /* 0 auto, 1 on, 2 off */
	char name[32];                 /* "": none given */
};

/* 0, or -EINVAL / -ENOTSUP with one line in err. */
int pci_spec_parse(const char *text, struct vm_pci *out, char *err, size_t errlen);

#endif
