/* libFuzzer target for vmm/control/pci_spec.c (`--pci SPEC`, xl.cfg pci=):
 * the input is one spec as bytes (cut at the first NUL). Besides crashes
 * and sanitizer reports it checks what callers rely on: a success has a
 * canonical, terminated host address that parses back to itself, a slot
 * in range and a relocation mode in range; a failure is -EINVAL or
 * -ENOTSUP with a non-empty one-line message. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/pci_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char spec[PCI_SPEC_MAX + 64];
	struct vm_pci a, b;
	char err[200];
	int r;

	if (size >= sizeof(spec))
		size = sizeof(spec) - 1;
	memcpy(spec, data, size);
	spec[size] = '\0';
	r = pci_spec_parse(spec, &a, err, sizeof(err));
	if (r) {
		if ((r != -EINVAL && r != -ENOTSUP) || !err[0] || strchr(err, '\n'))
			abort();
		return 0;
	}
	if (!memchr(a.host, '\0', sizeof(a.host)) || strlen(a.host) != 12 ||
	    !memchr(a.name, '\0', sizeof(a.name)))
		abort();
	if ((a.vslot != -1 && (a.vslot < 1 || a.vslot > 31)) || a.msix_relocation < 0 ||
	    a.msix_relocation > 2)
		abort();
	if (pci_spec_parse(a.host, &b, err, sizeof(err)) || strcmp(a.host, b.host))
		abort();
	return 0;
}
