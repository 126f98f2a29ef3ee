/* libFuzzer target for vmm/loader_bzimage.c (and loader_load's dispatch): the
 * input is the kernel image, loaded into a fixed 64 MiB (low RAM only) guest
 * with a fixed command line and initrd. Beyond ASan/UBSan catching any read
 * outside the input or write outside guest RAM, it checks the loader's
 * contract: a clean -errno with a message on failure, a sane boot_info on
 * success. Seeds: tests/fuzz/corpus/loader_bzimage (gen_loader_seeds.py). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "isle/gmem.h"
#include "isle/util.h"
#include "vmm/layout.h"
#include "vmm/loader.h"

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
	/* The 64-bit entry, 0x200 into a kernel loaded above the boot area. */
	if (bi->mode != BOOT_LINUX64 || bi->arg != LAYOUT_ZERO_PAGE ||
	    bi->entry < LAYOUT_HIGH_MEM + 0x200 || bi->entry >= FUZZ_RAM)
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
	rc = loader_bzimage_load(&r, &bi, &err);
	fuzz_check(rc, &bi, err);
	/* The dispatcher must agree with this loader, unless the input also
	 * carries the other format's signature (an ELF one) and so may be
	 * claimed by the other loader. */
	if (!loader_pvh_probe(data, size) && loader_load(&r, &bi, &err) != rc)
		abort();
	return 0;
}
