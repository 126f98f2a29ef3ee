/* Kernel loading front door: format dispatch (bzImage first, then PVH ELF),
 * the GDT and identity page tables the 64-bit Linux entry needs, and the
 * helpers both loaders share (guest-RAM range checks, command line, initrd
 * placement).
 *
 * Contract (see vmm/boot/loader.h): the image, initrd and command line are
 * untrusted; nothing here writes guest memory except through gmem, and every
 * failure is 0 / -errno with a static message in *err. */
#include <errno.h>
#include <string.h>

#include "isle/gmem.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "boot/loader.h"

#define PAGE_SIZE 4096ULL

/* Page-table entry bits (Intel SDM vol. 3, 4.5): present, writable, and for
 * a page-directory entry, "maps a 2 MiB page". */
#define PTE_P  (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_PS (1ULL << 7)

/* The boot tables: PML4, one PDPT, four PDs, each a page, back to back. */
#define PT_PML4 (LAYOUT_PAGE_TABLES)
#define PT_PDPT (LAYOUT_PAGE_TABLES + PAGE_SIZE)
#define PT_PD0  (LAYOUT_PAGE_TABLES + 2 * PAGE_SIZE)
#define PT_NR_PD 4
#define PT_END  (PT_PD0 + PT_NR_PD * PAGE_SIZE)

/* Flat segments for long mode. The code descriptor has L=1 (64-bit), D=0;
 * the data descriptor is a flat 4 GiB writable segment. The vCPU code loads
 * CS=0x10 and DS/ES/SS=0x18, so the order here is part of the contract. */
static const uint64_t loader_gdt[] = {
	0,                     /* 0x00: null */
	0,                     /* 0x08: unused, keeps Linux's __BOOT_CS = 0x10 */
	0x00af9b000000ffffULL, /* 0x10: 64-bit code */
	0x00cf93000000ffffULL, /* 0x18: data */
};

/* The tables must not run into each other or into the command line, and the
 * GDT must not reach start_info; a layout change that breaks this should
 * fail the build, not corrupt a boot. */
_Static_assert(LAYOUT_GDT + sizeof(loader_gdt) <= LAYOUT_START_INFO,
	       "GDT overlaps start_info");
_Static_assert(LAYOUT_ZERO_PAGE + PAGE_SIZE <= LAYOUT_PAGE_TABLES,
	       "zero page overlaps the page tables");
_Static_assert(PT_END <= LAYOUT_CMDLINE, "page tables overlap the command line");
_Static_assert(LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX <= LAYOUT_EBDA,
	       "command line overlaps the EBDA");

bool loader_ram_ok(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
	if (gpa + len < gpa)
		return false;
	while (len) {
		uint64_t n = len;

		if (!gmem_gpa_to_hva(gm, gpa, &n) || !n)
			return false;
		gpa += n;
		len -= n;
	}
	return true;
}

int loader_cmdline_check(const struct boot_request *req, uint64_t max_len,
			 size_t *len, const char **err)
{
	size_t n;

	/* Bounded scan: an unterminated or enormous string must not be read
	 * past what we would accept anyway. */
	max_len = MIN(max_len, LAYOUT_CMDLINE_MAX);
	n = req->cmdline ? strnlen(req->cmdline, max_len) : 0;
	if (n >= max_len) {
		*err = "command line too long";
		return -EINVAL;
	}
	*len = n;
	return 0;
}

int loader_cmdline_write(const struct boot_request *req, size_t len)
{
	int rc = 0;

	if (len)
		rc = gmem_write(req->gmem, LAYOUT_CMDLINE, req->cmdline, len);
	if (!rc)
		rc = gmem_fill(req->gmem, LAYOUT_CMDLINE + len, 0, 1);
	return rc;
}

int loader_initrd_place(const struct boot_request *req, uint64_t lo, uint64_t hi,
			uint64_t avoid_lo, uint64_t avoid_hi, uint64_t *gpa,
			const char **err)
{
	uint64_t size = req->initrd_size;
	uint64_t at;

	if (!req->initrd) {
		*err = "initrd size given without initrd data";
		return -EINVAL;
	}
	*err = "initrd does not fit in guest RAM";
	if (hi < lo || size > hi - lo)
		return -ENOSPC;
	/* As high as possible: the kernel decompresses and grows upwards from
	 * its load address, so the top of RAM is the safest spot. */
	at = ALIGN_DOWN(hi - size, PAGE_SIZE);
	if (at < lo)
		return -ENOSPC;
	if (at < avoid_hi && avoid_lo < at + size) {
		/* Collides with the kernel: the only other hole is below it. */
		if (avoid_lo < size)
			return -ENOSPC;
		at = ALIGN_DOWN(avoid_lo - size, PAGE_SIZE);
		if (at < lo)
			return -ENOSPC;
	}
	if (!loader_ram_ok(req->gmem, at, size))
		return -ENOSPC;
	*gpa = at;
	*err = NULL;
	return 0;
}

int loader_load(const struct boot_request *req, struct boot_info *bi, const char **err)
{
	const char *bz_err = NULL;
	int rc;

	*err = NULL;
	rc = loader_bzimage_load(req, bi, &bz_err);
	if (rc != -ENOEXEC) {
		*err = bz_err;
		return rc;
	}
	rc = loader_pvh_load(req, bi, err);
	if (rc != -ENOEXEC)
		return rc;
	/* Both refused. Report the refusal of the format the image claims to
	 * be (e.g. "no PVH entry note", "no 64-bit entry"), else say neither. */
	if (loader_pvh_probe(req->kernel, req->kernel_size))
		return rc;
	if (loader_bzimage_probe(req->kernel, req->kernel_size)) {
		*err = bz_err;
		return rc;
	}
	*err = "unknown kernel format (neither a bzImage nor a PVH ELF)";
	return -ENOEXEC;
}

int loader_write_boot_tables(const struct gmem *gm)
{
	uint8_t page[PAGE_SIZE];
	int rc;

	for (size_t i = 0; i < ARRAY_SIZE(loader_gdt); i++)
		put_le64(page + 8 * i, loader_gdt[i]);
	rc = gmem_write(gm, LAYOUT_GDT, page, sizeof(loader_gdt));
	if (rc)
		return rc;

	/* PML4[0] -> PDPT; PDPT[0..3] -> PD0..PD3; PDn[j] maps the 2 MiB page
	 * at n GiB + j * 2 MiB. Everything else not present. */
	memset(page, 0, sizeof(page));
	put_le64(page, PT_PDPT | PTE_P | PTE_RW);
	rc = gmem_write(gm, PT_PML4, page, sizeof(page));
	if (rc)
		return rc;

	memset(page, 0, sizeof(page));
	for (unsigned int i = 0; i < PT_NR_PD; i++)
		put_le64(page + 8 * i, (PT_PD0 + i * PAGE_SIZE) | PTE_P | PTE_RW);
	rc = gmem_write(gm, PT_PDPT, page, sizeof(page));
	if (rc)
		return rc;

	for (unsigned int i = 0; i < PT_NR_PD; i++) {
		for (unsigned int j = 0; j < PAGE_SIZE / 8; j++) {
			uint64_t pa = (uint64_t)i * GiB + (uint64_t)j * 2 * MiB;

			put_le64(page + 8 * j, pa | PTE_P | PTE_RW | PTE_PS);
		}
		rc = gmem_write(gm, PT_PD0 + i * PAGE_SIZE, page, sizeof(page));
		if (rc)
			return rc;
	}
	return 0;
}
