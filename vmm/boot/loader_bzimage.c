/* bzImage loader: the Linux x86 boot protocol (Documentation/arch/x86/boot.rst
 * in the kernel tree), entered at the 64-bit entry point (load address +
 * 0x200) with rsi = zero page, as a 64-bit boot loader does. It copies the
 * protected-mode kernel to its load address, places the command line and
 * initrd, and builds the zero page (struct boot_params) with the setup header,
 * the e820 map and the RSDP.
 *
 * Contract: the image is untrusted. Everything read from it is bounds-checked
 * before use, and all validation happens before the first guest write.
 * -ENOEXEC: not a bzImage, or one this loader cannot boot (protocol < 2.12, no
 * 64-bit entry); -EINVAL: malformed; -ENOSPC: does not fit in guest RAM. */
#include <errno.h>
#include <string.h>

#include "isle/gmem.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "boot/loader.h"

/* Offsets in the image and in the zero page, from boot.rst ("THE REAL-MODE
 * KERNEL HEADER" and "THE ZERO PAGE"). The setup header sits at the same
 * offset (0x1f1) in both, so one set of names serves both buffers. No kernel
 * uapi header is used so the build does not depend on installed headers. */
#define BP_ACPI_RSDP_ADDR   0x070  /* u64, protocol 2.14+ */
#define BP_E820_ENTRIES     0x1e8  /* u8 */
#define BP_E820_TABLE       0x2d0  /* 128 x {u64 addr, u64 size, u32 type} */
#define BP_E820_MAX         128
#define BP_E820_ENTRY_SIZE  20
#define BP_SIZE             4096

#define HDR_START           0x1f1  /* first byte of the setup header */
#define HDR_SETUP_SECTS     0x1f1  /* u8, 0 means 4 */
#define HDR_SYSSIZE         0x1f4  /* u32, protected-mode size in 16-byte units */
#define HDR_BOOT_FLAG       0x1fe  /* u16, 0xaa55 */
#define HDR_JUMP_LEN        0x201  /* u8: header ends at 0x202 + this */
#define HDR_MAGIC           0x202  /* "HdrS" */
#define HDR_VERSION         0x206  /* u16, e.g. 0x020f */
#define HDR_TYPE_OF_LOADER  0x210  /* u8 */
#define HDR_LOADFLAGS       0x211  /* u8 */
#define HDR_CODE32_START    0x214  /* u32 */
#define HDR_RAMDISK_IMAGE   0x218  /* u32 */
#define HDR_RAMDISK_SIZE    0x21c  /* u32 */
#define HDR_HEAP_END_PTR    0x224  /* u16 */
#define HDR_EXT_LOADER_VER  0x226  /* u8 */
#define HDR_EXT_LOADER_TYPE 0x227  /* u8 */
#define HDR_CMD_LINE_PTR    0x228  /* u32 */
#define HDR_INITRD_ADDR_MAX 0x22c  /* u32, highest byte the initrd may use */
#define HDR_KERNEL_ALIGN    0x230  /* u32 */
#define HDR_RELOCATABLE     0x234  /* u8 */
#define HDR_XLOADFLAGS      0x236  /* u16, protocol 2.12+ */
#define HDR_CMDLINE_SIZE    0x238  /* u32, max length without the NUL */
#define HDR_SUBARCH         0x23c  /* u32 */
#define HDR_SUBARCH_DATA    0x240  /* u64 */
#define HDR_SETUP_DATA      0x250  /* u64 */
#define HDR_PREF_ADDRESS    0x258  /* u64 */
#define HDR_INIT_SIZE       0x260  /* u32 */
#define HDR_AREA_END        0x290  /* boot_params space reserved for the header */

#define BZ_MIN_SIZE         1024   /* boot sector + the first setup sector */
#define BZ_SECTOR           512
#define BZ_DEFAULT_SECTS    4      /* setup_sects == 0 means this */
#define BZ_ENTRY64_OFFSET   0x200  /* startup_64, relative to the load address */
#define BZ_BOOT_FLAG        0xaa55
#define BZ_PROTO_2_12       0x020c /* xloadflags */
#define BZ_PROTO_2_14       0x020e /* acpi_rsdp_addr */
#define BZ_LOADER_UNDEFINED 0xff   /* type_of_loader: "no assigned ID" */

#define LF_LOADED_HIGH      0x01
#define LF_KEEP_SEGMENTS    0x40
#define LF_CAN_USE_HEAP     0x80
#define XLF_KERNEL_64       0x01

#define PAGE_SIZE           4096ULL

_Static_assert(E820_MAX <= BP_E820_MAX, "layout e820 map larger than the zero page's");
_Static_assert(BP_E820_TABLE + BP_E820_MAX * BP_E820_ENTRY_SIZE <= BP_SIZE,
	       "e820 table outside the zero page");
_Static_assert(sizeof(struct e820_entry) == BP_E820_ENTRY_SIZE,
	       "struct e820_entry does not match boot_params' layout");

/* What the checks decide, handed to the writer. */
struct bz_plan {
	uint64_t koff;         /* protected-mode kernel offset in the image */
	uint64_t ksize;        /* its size */
	uint64_t load;         /* guest load address */
	uint64_t kend;         /* load + max(init_size, ksize) */
	uint64_t initrd;       /* initrd gpa, if any */
	size_t cmdline_len;
	uint16_t version;
};

bool loader_bzimage_probe(const uint8_t *image, size_t size)
{
	return image && size >= HDR_MAGIC + 4 &&
	       get_le16(image + HDR_BOOT_FLAG) == BZ_BOOT_FLAG &&
	       !memcmp(image + HDR_MAGIC, "HdrS", 4);
}

/* Header sanity and the protected-mode kernel's place in the image. */
static int bz_check_image(const struct boot_request *req, struct bz_plan *p,
			  const char **err)
{
	const uint8_t *img = req->kernel;
	uint64_t sects, syssize;

	if (req->kernel_size < BZ_MIN_SIZE) {
		*err = "bzImage truncated (setup header)";
		return -EINVAL;
	}
	p->version = get_le16(img + HDR_VERSION);
	if (p->version < BZ_PROTO_2_12) {
		*err = "bzImage boot protocol is older than 2.12 (no 64-bit entry)";
		return -ENOEXEC;
	}
	if (!(get_le16(img + HDR_XLOADFLAGS) & XLF_KERNEL_64)) {
		*err = "bzImage has no 64-bit entry point (XLF_KERNEL_64 clear)";
		return -ENOEXEC;
	}
	if (!(img[HDR_LOADFLAGS] & LF_LOADED_HIGH)) {
		*err = "zImage (not loaded high) is not supported";
		return -ENOEXEC;
	}
	sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : BZ_DEFAULT_SECTS;
	p->koff = (sects + 1) * BZ_SECTOR;
	if (p->koff >= req->kernel_size) {
		*err = "bzImage truncated: no protected-mode kernel after the setup sectors";
		return -EINVAL;
	}
	p->ksize = req->kernel_size - p->koff;
	/* syssize is how the image says how long it is; without checking it a
	 * truncated file would load and crash the guest later. */
	syssize = (uint64_t)get_le32(img + HDR_SYSSIZE) * 16;
	if (!syssize) {
		*err = "bzImage syssize is zero";
		return -EINVAL;
	}
	if (syssize > p->ksize) {
		*err = "bzImage truncated: kernel shorter than syssize";
		return -EINVAL;
	}
	return 0;
}

/* True when [gpa, gpa+len) is in low RAM above the boot area. */
static bool bz_fits(const struct boot_request *req, uint64_t gpa, uint64_t len)
{
	return gpa >= LAYOUT_HIGH_MEM && range_ok(gpa, len, layout_low_end(req->layout)) &&
	       loader_ram_ok(req->gmem, gpa, len);
}

static int bz_choose_load(const struct boot_request *req, struct bz_plan *p,
			  const char **err)
{
	const uint8_t *img = req->kernel;
	uint64_t pref = get_le64(img + HDR_PREF_ADDRESS);
	uint64_t need = MAX((uint64_t)get_le32(img + HDR_INIT_SIZE), p->ksize);
	uint64_t align;

	if (!img[HDR_RELOCATABLE]) {
		/* A fixed kernel runs where it was linked: pref_address, or
		 * 1 MiB for kernels that do not state one. */
		p->load = pref ? pref : LAYOUT_HIGH_MEM;
		if (!bz_fits(req, p->load, need)) {
			*err = "non-relocatable bzImage does not fit at its fixed address";
			return -ENOSPC;
		}
	} else if (bz_fits(req, pref, need)) {
		p->load = pref;
	} else {
		align = get_le32(img + HDR_KERNEL_ALIGN);
		if (!align || (align & (align - 1))) {
			*err = "bzImage kernel_alignment is not a power of two";
			return -EINVAL;
		}
		p->load = ALIGN_UP(LAYOUT_HIGH_MEM, align);
		if (!bz_fits(req, p->load, need)) {
			*err = "bzImage does not fit in guest low RAM";
			return -ENOSPC;
		}
	}
	p->kend = p->load + need;
	return 0;
}

static int bz_plan_boot(const struct boot_request *req, struct bz_plan *p,
			const char **err)
{
	const uint8_t *img = req->kernel;
	uint64_t hi;
	int rc;

	rc = bz_check_image(req, p, err);
	if (!rc)
		rc = bz_choose_load(req, p, err);
	if (!rc)
		rc = loader_cmdline_check(req, (uint64_t)get_le32(img + HDR_CMDLINE_SIZE) + 1,
					  &p->cmdline_len, err);
	if (rc)
		return rc;
	if (req->layout->e820_nr > E820_MAX) {
		*err = "e820 map has too many entries";
		return -EINVAL;
	}
	p->initrd = 0;
	if (req->initrd_size) {
		/* initrd_addr_max is the last byte allowed, hence + 1. The
		 * initrd goes above the kernel's whole init_size footprint so
		 * decompression cannot overwrite it. */
		hi = MIN((uint64_t)get_le32(img + HDR_INITRD_ADDR_MAX) + 1,
			 layout_low_end(req->layout));
		rc = loader_initrd_place(req, p->kend, hi, 0, 0, &p->initrd, err);
	}
	return rc;
}

static void bz_build_zero_page(const struct boot_request *req, const struct bz_plan *p,
			       uint8_t *zp)
{
	const struct layout *l = req->layout;
	const uint8_t *img = req->kernel;
	uint64_t hdr_end = MIN((uint64_t)HDR_MAGIC + img[HDR_JUMP_LEN], HDR_AREA_END);

	memset(zp, 0, BP_SIZE);
	memcpy(zp + HDR_START, img + HDR_START, hdr_end - HDR_START);

	zp[HDR_TYPE_OF_LOADER] = BZ_LOADER_UNDEFINED;
	/* We set our own segments and provide no real-mode heap. */
	zp[HDR_LOADFLAGS] &= (uint8_t)~(LF_KEEP_SEGMENTS | LF_CAN_USE_HEAP);
	put_le32(zp + HDR_CODE32_START, (uint32_t)p->load);
	put_le32(zp + HDR_RAMDISK_IMAGE, (uint32_t)p->initrd);
	put_le32(zp + HDR_RAMDISK_SIZE, (uint32_t)req->initrd_size);
	put_le32(zp + HDR_CMD_LINE_PTR, (uint32_t)LAYOUT_CMDLINE);
	/* Fields the loader owns: never pass the image's own values through,
	 * e.g. a setup_data pointer the guest kernel would follow. */
	put_le16(zp + HDR_HEAP_END_PTR, 0);
	zp[HDR_EXT_LOADER_VER] = 0;
	zp[HDR_EXT_LOADER_TYPE] = 0;
	put_le32(zp + HDR_SUBARCH, 0);
	put_le64(zp + HDR_SUBARCH_DATA, 0);
	put_le64(zp + HDR_SETUP_DATA, 0);

	zp[BP_E820_ENTRIES] = (uint8_t)l->e820_nr;
	for (unsigned int i = 0; i < l->e820_nr; i++) {
		uint8_t *e = zp + BP_E820_TABLE + i * BP_E820_ENTRY_SIZE;

		put_le64(e, l->e820[i].addr);
		put_le64(e + 8, l->e820[i].size);
		put_le32(e + 16, l->e820[i].type);
	}
	if (p->version >= BZ_PROTO_2_14)
		put_le64(zp + BP_ACPI_RSDP_ADDR, req->rsdp);
}

int loader_bzimage_load(const struct boot_request *req, struct boot_info *bi, const char **err)
{
	uint8_t zp[BP_SIZE];
	struct bz_plan p;
	int rc;

	*err = NULL;
	if (!loader_bzimage_probe(req->kernel, req->kernel_size)) {
		*err = "not a bzImage";
		return -ENOEXEC;
	}
	rc = bz_plan_boot(req, &p, err);
	if (rc)
		return rc;

	rc = gmem_write(req->gmem, p.load, req->kernel + p.koff, p.ksize);
	if (!rc)
		rc = loader_cmdline_write(req, p.cmdline_len);
	if (!rc && req->initrd_size)
		rc = gmem_write(req->gmem, p.initrd, req->initrd, req->initrd_size);
	if (!rc) {
		bz_build_zero_page(req, &p, zp);
		rc = gmem_write(req->gmem, LAYOUT_ZERO_PAGE, zp, BP_SIZE);
	}
	if (rc) {
		*err = "boot area below 1 MiB is not guest RAM";
		return rc;
	}
	bi->mode = BOOT_LINUX64;
	bi->entry = p.load + BZ_ENTRY64_OFFSET;
	bi->arg = LAYOUT_ZERO_PAGE;
	return 0;
}
