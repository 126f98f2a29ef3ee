/* Unit tests for vmm/boot/loader_bzimage.c, plus loader.c's boot tables and its
 * dispatch to the bzImage loader. Builds minimal synthetic bzImages (a setup
 * header and a patterned protected-mode payload), loads them into a malloc'd
 * 64 MiB guest and checks the zero page, command line, initrd and kernel
 * bytes; then truncates and corrupts them.
 *
 * Zero-page offsets are written out here independently of the loader, from
 * Documentation/arch/x86/boot.rst, so a wrong constant there shows up here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cunit.h"
#include "loader_env.h"
#include "isle/gmem.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "boot/loader.h"

#define RAM_SIZE  (64 * MiB)
#define POISON    0xa5
#define PREF      (16 * MiB)
#define INIT_SIZE (8 * MiB)
#define CMDLINE   "console=ttyS0 quiet"

static uint8_t *ram;
static struct gmem gm;
static struct layout lay;
static uint8_t img[256 * 512 + 8192];
static uint8_t initrd[2 * 4096 + 5];

struct bz_spec {
	uint8_t setup_sects;      /* as stored: 0 means 4 */
	uint16_t version;
	uint16_t xloadflags;
	uint8_t loadflags;
	uint8_t relocatable;
	uint64_t pref;
	uint32_t align;
	uint32_t init_size;
	uint32_t cmdline_size;
	uint32_t initrd_max;
	size_t ksize;             /* protected-mode payload, multiple of 16 */
};

static const struct bz_spec bz_def = {
	.setup_sects = 2, .version = 0x020f, .xloadflags = 0x1 | 0x2,
	.loadflags = 0x01 | 0x40 | 0x80, /* LOADED_HIGH, KEEP_SEGMENTS, CAN_USE_HEAP */
	.relocatable = 1, .pref = PREF, .align = 2 * MiB, .init_size = INIT_SIZE,
	.cmdline_size = 2047, .initrd_max = 0x7fffffff, .ksize = 1024,
};

/* Fresh, poisoned guest RAM and a hand-built layout: low RAM only, with the
 * legacy holes below 1 MiB. Hand-built so these tests do not move when
 * layout.c does; test_bz_real_layout covers layout_init's map. */
static void env_reset(void)
{
	if (!ram) {
		ram = malloc(RAM_SIZE);
		CU_ASSERT_FATAL(ram != NULL);
		CU_ASSERT_FATAL(gmem_add(&gm, 0, RAM_SIZE, ram, -1, 0) == 0);
		for (size_t i = 0; i < sizeof(initrd); i++)
			initrd[i] = (uint8_t)(i * 5 + 1);
	}
	memset(ram, POISON, RAM_SIZE);
	loader_env_layout(&lay, RAM_SIZE);
}

static uint64_t koff(const struct bz_spec *s)
{
	return ((s->setup_sects ? s->setup_sects : 4) + 1) * 512ULL;
}

/* Returns the image size; the payload is the last thing in it. */
static size_t bz_build(const struct bz_spec *s)
{
	size_t size = koff(s) + s->ksize;

	memset(img, 0x5a, koff(s));              /* setup code stand-in */
	img[0x1f1] = s->setup_sects;
	put_le32(img + 0x1f4, (uint32_t)(s->ksize / 16));   /* syssize */
	put_le16(img + 0x1fc, 0x0801);           /* root_dev, copied through */
	put_le16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb;                       /* jmp over the header ... */
	img[0x201] = 0x6a;                       /* ... which ends at 0x26c */
	memcpy(img + 0x202, "HdrS", 4);
	put_le16(img + 0x206, s->version);
	img[0x210] = 0;                          /* type_of_loader */
	img[0x211] = s->loadflags;
	put_le32(img + 0x214, 0x100000);         /* code32_start */
	put_le32(img + 0x218, 0);
	put_le32(img + 0x21c, 0);
	put_le32(img + 0x228, 0);
	put_le32(img + 0x22c, s->initrd_max);
	put_le32(img + 0x230, s->align);
	img[0x234] = s->relocatable;
	put_le16(img + 0x236, s->xloadflags);
	put_le32(img + 0x238, s->cmdline_size);
	put_le64(img + 0x250, 0xdeadbeef);       /* setup_data: must not pass */
	put_le64(img + 0x258, s->pref);
	put_le32(img + 0x260, s->init_size);
	for (size_t k = 0; k < s->ksize; k++)
		img[koff(s) + k] = (uint8_t)(k * 7 + 3);
	return size;
}

static struct boot_request req_for(size_t size)
{
	return (struct boot_request){
		.kernel = img, .kernel_size = size,
		.initrd = initrd, .initrd_size = sizeof(initrd),
		.cmdline = CMDLINE, .rsdp = LAYOUT_ACPI,
		.layout = &lay, .gmem = &gm,
	};
}

static int try_req(const struct boot_request *r, struct boot_info *bi, const char **err)
{
	*err = NULL;
	return loader_bzimage_load(r, bi, err);
}

/* Loading the first size bytes of img fails with want and a message
 * containing msg (NULL: any message). */
#define FAILS(size, want, msg)                                                \
	do {                                                                  \
		struct boot_request r_ = req_for(size);                       \
		struct boot_info bi_;                                         \
		const char *err_;                                             \
		CU_ASSERT_EQUAL(try_req(&r_, &bi_, &err_), want);             \
		CU_ASSERT_FATAL(err_ != NULL);                                \
		if (msg)                                                      \
			CU_ASSERT_PTR_NOT_NULL(strstr(err_, msg ? msg : "")); \
	} while (0)

static uint8_t *zp(void)
{
	return ram + LAYOUT_ZERO_PAGE;
}

/* ---- valid images ---------------------------------------------------------- */

static void check_zero_page(const struct bz_spec *s, uint64_t load, bool rsdp)
{
	uint8_t *z = zp();
	uint32_t rd = get_le32(z + 0x218);
	uint64_t top;

	CU_ASSERT_EQUAL(z[0x1f1], s->setup_sects);
	CU_ASSERT_EQUAL(get_le16(z + 0x1fc), 0x0801);
	CU_ASSERT_EQUAL(get_le16(z + 0x1fe), 0xaa55);
	CU_ASSERT(memcmp(z + 0x202, "HdrS", 4) == 0);
	CU_ASSERT_EQUAL(get_le16(z + 0x206), s->version);
	CU_ASSERT_EQUAL(z[0x210], 0xff);                         /* type_of_loader */
	CU_ASSERT_EQUAL(z[0x211], 0x01);                         /* LOADED_HIGH only */
	CU_ASSERT_EQUAL(get_le32(z + 0x214), load);              /* code32_start */
	CU_ASSERT_EQUAL(get_le32(z + 0x228), LAYOUT_CMDLINE);    /* cmd_line_ptr */
	CU_ASSERT_STRING_EQUAL((char *)ram + LAYOUT_CMDLINE, CMDLINE);
	CU_ASSERT_EQUAL(get_le64(z + 0x250), 0);                 /* setup_data */
	CU_ASSERT_EQUAL(get_le64(z + 0x258), s->pref);

	/* initrd: page-aligned, as high as allowed, above the kernel. */
	CU_ASSERT_EQUAL(get_le32(z + 0x21c), sizeof(initrd));
	CU_ASSERT_EQUAL(rd % 4096, 0);
	CU_ASSERT(rd >= load + s->init_size);
	top = MIN(RAM_SIZE, (uint64_t)s->initrd_max + 1);
	CU_ASSERT_EQUAL(rd, ALIGN_DOWN(top - sizeof(initrd), 4096));
	CU_ASSERT(memcmp(ram + rd, initrd, sizeof(initrd)) == 0);

	CU_ASSERT_EQUAL(z[0x1e8], lay.e820_nr);
	for (unsigned int i = 0; i < lay.e820_nr; i++) {
		const uint8_t *e = z + 0x2d0 + 20 * i;

		CU_ASSERT_EQUAL(get_le64(e), lay.e820[i].addr);
		CU_ASSERT_EQUAL(get_le64(e + 8), lay.e820[i].size);
		CU_ASSERT_EQUAL(get_le32(e + 16), lay.e820[i].type);
	}
	CU_ASSERT_EQUAL(get_le64(z + 0x070), rsdp ? LAYOUT_ACPI : 0);

	/* Zeroed outside what the loader writes: before the header, after the
	 * header's declared end, and after the e820 table. */
	CU_ASSERT_EQUAL(z[0x000], 0);
	CU_ASSERT_EQUAL(z[0x1ef], 0);
	for (unsigned int i = 0x26c; i < 0x2d0; i++)
		CU_ASSERT_EQUAL(z[i], 0);
	CU_ASSERT_EQUAL(z[0x2d0 + 20 * lay.e820_nr], 0);
	CU_ASSERT_EQUAL(z[4095], 0);

	for (size_t k = 0; k < s->ksize; k++)
		CU_ASSERT_EQUAL(ram[load + k], (uint8_t)(k * 7 + 3));
	CU_ASSERT_EQUAL(ram[load - 1], POISON);
}

static void boot_ok(const struct bz_spec *s, uint64_t load, bool rsdp)
{
	struct boot_request r;
	struct boot_info bi;
	const char *err = "unset";

	env_reset();
	r = req_for(bz_build(s));
	CU_ASSERT_EQUAL_FATAL(try_req(&r, &bi, &err), 0);
	CU_ASSERT_PTR_NULL(err);
	CU_ASSERT_EQUAL(bi.mode, BOOT_LINUX64);
	CU_ASSERT_EQUAL(bi.entry, load + 0x200);
	CU_ASSERT_EQUAL(bi.arg, LAYOUT_ZERO_PAGE);
	check_zero_page(s, load, rsdp);
}

static void test_bz_valid(void)
{
	struct bz_spec s = bz_def;

	boot_ok(&s, PREF, true);
	s.version = 0x020c;           /* 2.12: no acpi_rsdp_addr field */
	boot_ok(&s, PREF, false);
	s.setup_sects = 0;            /* means 4 */
	boot_ok(&s, PREF, false);
	s = bz_def;
	s.initrd_max = 32 * MiB - 1;  /* initrd capped below RAM's end */
	boot_ok(&s, PREF, true);
}

static void test_bz_load_address(void)
{
	struct bz_spec s = bz_def;

	s.pref = 60 * MiB;            /* 60 + 8 MiB does not fit: lowest aligned */
	boot_ok(&s, 2 * MiB, true);
	s.align = 4 * MiB;
	boot_ok(&s, 4 * MiB, true);
	s.pref = 0x10000;             /* below 1 MiB: ignored */
	boot_ok(&s, 4 * MiB, true);
	s = bz_def;
	s.relocatable = 0;            /* fixed: pref_address */
	boot_ok(&s, PREF, true);
	s.pref = 0;                   /* fixed, no pref: 1 MiB */
	boot_ok(&s, 1 * MiB, true);

	env_reset();
	s.pref = 60 * MiB;
	FAILS(bz_build(&s), -ENOSPC, "fixed address");
	s = bz_def;
	s.init_size = 80 * MiB;
	FAILS(bz_build(&s), -ENOSPC, "does not fit");
	s = bz_def;
	s.pref = 60 * MiB;
	s.align = 0;
	FAILS(bz_build(&s), -EINVAL, "kernel_alignment");
	s.align = 3 * MiB;
	FAILS(bz_build(&s), -EINVAL, "kernel_alignment");
	CU_ASSERT_EQUAL(ram[LAYOUT_ZERO_PAGE], POISON);  /* nothing written */
}

/* ---- malformed images ------------------------------------------------------ */

static void test_bz_truncated(void)
{
	size_t size;

	env_reset();
	size = bz_build(&bz_def);
	for (size_t len = 0; len < size; len++)
		FAILS(len, len < 0x206 ? -ENOEXEC : -EINVAL, NULL);
	FAILS(1023, -EINVAL, "truncated (setup header)");
	FAILS(koff(&bz_def), -EINVAL, "no protected-mode kernel");
	FAILS(size - 1, -EINVAL, "shorter than syssize");
	CU_ASSERT_EQUAL(ram[PREF], POISON);
	CU_ASSERT_EQUAL(ram[LAYOUT_ZERO_PAGE], POISON);
}

static void test_bz_malformed(void)
{
	struct bz_spec s = bz_def;
	size_t size;

	env_reset();
	size = bz_build(&s);
	put_le16(img + 0x1fe, 0x55aa);
	FAILS(size, -ENOEXEC, "not a bzImage");
	size = bz_build(&s);
	img[0x205] = 's';
	FAILS(size, -ENOEXEC, "not a bzImage");
	s.version = 0x020b;
	FAILS(bz_build(&s), -ENOEXEC, "older than 2.12");
	s = bz_def;
	s.xloadflags = 0x2;
	FAILS(bz_build(&s), -ENOEXEC, "XLF_KERNEL_64");
	s = bz_def;
	s.loadflags = 0;
	FAILS(bz_build(&s), -ENOEXEC, "zImage");
	s = bz_def;
	size = bz_build(&s);
	img[0x1f1] = 255;             /* setup past the end of the image */
	FAILS(size, -EINVAL, "no protected-mode kernel");
	size = bz_build(&s);
	put_le32(img + 0x1f4, 0);
	FAILS(size, -EINVAL, "syssize is zero");
	size = bz_build(&s);
	put_le32(img + 0x1f4, 0xffffffff);
	FAILS(size, -EINVAL, "shorter than syssize");
	size = bz_build(&s);
	img[0x201] = 0xff;            /* header claims more than its area: capped */
	{
		struct boot_request r = req_for(size);
		struct boot_info bi;
		const char *err;

		CU_ASSERT_EQUAL(try_req(&r, &bi, &err), 0);
		CU_ASSERT_EQUAL(zp()[0x28f], 0x5a);
		CU_ASSERT_EQUAL(zp()[0x290], 0);
	}
}

static void test_bz_cmdline(void)
{
	char *line = malloc(LAYOUT_CMDLINE_MAX + 1);
	struct bz_spec s = bz_def;
	struct boot_request r;
	struct boot_info bi;
	const char *err;

	CU_ASSERT_FATAL(line != NULL);
	env_reset();
	s.cmdline_size = 10;
	r = req_for(bz_build(&s));
	r.cmdline = "0123456789";             /* exactly cmdline_size */
	CU_ASSERT_EQUAL(try_req(&r, &bi, &err), 0);
	CU_ASSERT_STRING_EQUAL((char *)ram + LAYOUT_CMDLINE, "0123456789");
	env_reset();
	r.cmdline = "0123456789a";
	CU_ASSERT_EQUAL(try_req(&r, &bi, &err), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "command line too long");
	CU_ASSERT_EQUAL(ram[PREF], POISON);

	s.cmdline_size = 0xffffffff;          /* then isle's own limit applies */
	r = req_for(bz_build(&s));
	memset(line, 'x', LAYOUT_CMDLINE_MAX);
	line[LAYOUT_CMDLINE_MAX] = 0;
	r.cmdline = line;
	CU_ASSERT_EQUAL(try_req(&r, &bi, &err), -EINVAL);
	line[LAYOUT_CMDLINE_MAX - 1] = 0;
	CU_ASSERT_EQUAL(try_req(&r, &bi, &err), 0);

	r.cmdline = NULL;                     /* empty, but still a valid pointer */
	CU_ASSERT_EQUAL(try_req(&r, &bi, &err), 0);
	CU_ASSERT_EQUAL(ram[LAYOUT_CMDLINE], 0);
	CU_ASSERT_EQUAL(get_le32(zp() + 0x228), LAYOUT_CMDLINE);
	free(line);
}

static void test_bz_initrd(void)
{
	struct bz_spec s = bz_def;
	struct boot_request r;
	struct boot_info bi;
	const char *err;
	uint8_t *big;

	env_reset();
	r = req_for(bz_build(&s));
	r.initrd = NULL;
	r.initrd_size = 0;
	CU_ASSERT_EQUAL(try_req(&r, &bi, &err), 0);
	CU_ASSERT_EQUAL(get_le32(zp() + 0x218), 0);
	CU_ASSERT_EQUAL(get_le32(zp() + 0x21c), 0);

	/* initrd_addr_max inside the kernel's init_size footprint. */
	env_reset();
	s.initrd_max = PREF + INIT_SIZE - 1;
	FAILS(bz_build(&s), -ENOSPC, "initrd");
	/* Exactly enough room above the kernel. */
	s.initrd_max = PREF + INIT_SIZE + 3 * 4096 - 1;
	boot_ok(&s, PREF, true);
	CU_ASSERT_EQUAL(get_le32(zp() + 0x218), PREF + INIT_SIZE);

	/* Bigger than what is left above the kernel. */
	big = calloc(1, RAM_SIZE);
	CU_ASSERT_FATAL(big != NULL);
	env_reset();
	r = req_for(bz_build(&bz_def));
	r.initrd = big;
	r.initrd_size = RAM_SIZE - PREF - INIT_SIZE + 1;
	CU_ASSERT_EQUAL(try_req(&r, &bi, &err), -ENOSPC);
	r.initrd_size = RAM_SIZE;
	CU_ASSERT_EQUAL(try_req(&r, &bi, &err), -ENOSPC);
	CU_ASSERT_EQUAL(ram[PREF], POISON);
	free(big);
}

/* The layout and memory slots vm.c uses (layout_init, layout_slots: no RAM
 * in the VGA hole, an ECAM entry in the e820 map). */
static void test_bz_real_layout(void)
{
	struct layout_slot slots[3];
	struct boot_request r;
	struct boot_info bi;
	struct gmem g = { 0 };
	const char *err;
	int nr;

	env_reset();
	CU_ASSERT_FATAL(layout_init(&lay, RAM_SIZE) == 0);
	nr = layout_slots(&lay, slots, ARRAY_SIZE(slots));
	CU_ASSERT_FATAL(nr > 0);
	for (int i = 0; i < nr; i++)
		CU_ASSERT_FATAL(gmem_add(&g, slots[i].gpa, slots[i].size,
					 ram + slots[i].offset, -1, slots[i].offset) == 0);
	r = req_for(bz_build(&bz_def));
	r.gmem = &g;
	CU_ASSERT_EQUAL_FATAL(try_req(&r, &bi, &err), 0);
	check_zero_page(&bz_def, PREF, true);
	CU_ASSERT_EQUAL_FATAL(loader_write_boot_tables(&g), 0);
	CU_ASSERT_EQUAL(get_le64(ram + LAYOUT_GDT + 0x10), 0x00af9b000000ffffULL);
}

/* ---- loader.c -------------------------------------------------------------- */

static void test_boot_tables(void)
{
	struct gmem small = { 0 };
	uint64_t v;

	env_reset();
	CU_ASSERT_EQUAL_FATAL(loader_write_boot_tables(&gm), 0);
	CU_ASSERT_EQUAL(get_le64(ram + LAYOUT_GDT), 0);
	CU_ASSERT_EQUAL(get_le64(ram + LAYOUT_GDT + 0x08), 0);
	CU_ASSERT_EQUAL(get_le64(ram + LAYOUT_GDT + 0x10), 0x00af9b000000ffffULL);
	CU_ASSERT_EQUAL(get_le64(ram + LAYOUT_GDT + 0x18), 0x00cf93000000ffffULL);

	/* PML4[0] -> PDPT, PDPT[0..3] -> PDs, each PD 512 x 2 MiB. */
	v = get_le64(ram + LAYOUT_PAGE_TABLES);
	CU_ASSERT_EQUAL(v & 0xfff, 0x3);
	for (unsigned int i = 1; i < 512; i++)
		CU_ASSERT_EQUAL(get_le64(ram + LAYOUT_PAGE_TABLES + 8 * i), 0);
	for (unsigned int i = 0; i < 512; i++) {
		uint64_t pdpte = get_le64(ram + (v & ~0xfffULL) + 8 * i);

		if (i >= 4) {
			CU_ASSERT_EQUAL(pdpte, 0);
			continue;
		}
		CU_ASSERT_EQUAL(pdpte & 0xfff, 0x3);
		for (unsigned int j = 0; j < 512; j++) {
			uint64_t pde = get_le64(ram + (pdpte & ~0xfffULL) + 8 * j);

			CU_ASSERT_EQUAL(pde, (i * GiB + j * 2 * MiB) | 0x83);
		}
	}
	/* The tables stay clear of the zero page and the command line. */
	CU_ASSERT_EQUAL(ram[LAYOUT_ZERO_PAGE], POISON);
	CU_ASSERT_EQUAL(ram[LAYOUT_CMDLINE], POISON);

	/* No RAM below 1 MiB: refused, not written anywhere. */
	CU_ASSERT_FATAL(gmem_add(&small, 0x1000, 0x1000, ram, -1, 0) == 0);
	CU_ASSERT_EQUAL(loader_write_boot_tables(&small), -EFAULT);
}

static void test_bz_dispatch(void)
{
	struct bz_spec s = bz_def;
	struct boot_request r;
	struct boot_info bi;
	const char *err;

	env_reset();
	r = req_for(bz_build(&s));
	CU_ASSERT_EQUAL(loader_load(&r, &bi, &err), 0);
	CU_ASSERT_EQUAL(bi.mode, BOOT_LINUX64);
	CU_ASSERT_EQUAL(bi.entry, PREF + 0x200);

	/* A bzImage the loader cannot boot keeps its own reason. */
	s.version = 0x0209;
	r = req_for(bz_build(&s));
	CU_ASSERT_EQUAL(loader_load(&r, &bi, &err), -ENOEXEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "older than 2.12"));
	/* A truncated one is malformed, not unknown. */
	r = req_for(700);
	CU_ASSERT_EQUAL(loader_load(&r, &bi, &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "truncated"));
}

void unit_register(void)
{
	UNIT_SUITE("loader_bzimage",
		   UNIT_TEST(test_bz_valid),
		   UNIT_TEST(test_bz_load_address),
		   UNIT_TEST(test_bz_truncated),
		   UNIT_TEST(test_bz_malformed),
		   UNIT_TEST(test_bz_cmdline),
		   UNIT_TEST(test_bz_initrd),
		   UNIT_TEST(test_bz_real_layout),
		   UNIT_TEST(test_boot_tables),
		   UNIT_TEST(test_bz_dispatch));
}
