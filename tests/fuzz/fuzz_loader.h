/* The body shared by the kernel-loader fuzz targets (fuzz_loader_pvh.c,
 * fuzz_loader_bzimage.c): the input is the kernel image, loaded into a fixed
 * 64 MiB (low RAM only) guest with a fixed command line and initrd. Beyond
 * ASan/UBSan catching any read outside the input or write outside guest RAM,
 * it checks the loader's contract: a clean -errno with a message on failure,
 * a sane boot_info on success. The includer defines FUZZ_LOAD (the loader),
 * FUZZ_OTHER_PROBE (the other format's probe), and the boot_info it expects:
 * FUZZ_MODE, FUZZ_ARG, FUZZ_MIN_ENTRY. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "isle/gmem.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "boot/loader.h"

#define FUZZ_RAM (64 * MiB)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *ram;
static struct gmem gm;
static struct layout lay;
static uint8_t initrd[5000];

/* The guest vm.c builds for 64 MiB: layout_init's map, and guest memory
 * in layout_slots' slots (so the VGA hole is not RAM). Allocated once;
 * loads overwrite each other freely. */
static void fuzz_init(void)
{
	struct layout_slot slots[3];
	int nr;

	ram = calloc(1, FUZZ_RAM);
	if (!ram || layout_init(&lay, FUZZ_RAM))
		abort();
	nr = layout_slots(&lay, slots, ARRAY_SIZE(slots));
	if (nr <= 0)
		abort();
	for (int i = 0; i < nr; i++)
		if (gmem_add(&gm, slots[i].gpa, slots[i].size, ram + slots[i].offset, -1,
			     slots[i].offset))
			abort();
	memset(initrd, 0x42, sizeof(initrd));
}

static void fuzz_check(int rc, const struct boot_info *bi, const char *err)
{
	if (rc) {
		if (!err || (rc != -ENOEXEC && rc != -EINVAL && rc != -ENOSPC))
			abort();
		return;
	}
	if (bi->mode != FUZZ_MODE || bi->arg != FUZZ_ARG ||
	    bi->entry < FUZZ_MIN_ENTRY || bi->entry >= FUZZ_RAM)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct boot_request r = {
		.kernel = data, .kernel_size = size,
		.initrd = initrd, .initrd_size = sizeof(initrd),
		.cmdline = "console=ttyS0 earlyprintk=serial", .rsdp = LAYOUT_ACPI,
		.layout = &lay, .gmem = &gm,
	};
	struct boot_info bi;
	const char *err;
	int rc;

	if (!ram)
		fuzz_init();
	rc = FUZZ_LOAD(&r, &bi, &err);
	fuzz_check(rc, &bi, err);
	/* The dispatcher must agree with this loader, unless the input also
	 * carries the other format's signature and so may be claimed by the
	 * other loader. */
	if (!FUZZ_OTHER_PROBE(data, size) && loader_load(&r, &bi, &err) != rc)
		abort();
	return 0;
}
