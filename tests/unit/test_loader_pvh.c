/* Unit tests for vmm/boot/loader_pvh.c (and loader_load's dispatch to it).
 * Builds small synthetic PVH ELF32/ELF64 kernels in memory, loads them into a
 * malloc'd 64 MiB guest, and checks what lands in guest memory; then breaks
 * them in every way the loader must catch: every truncation, bad headers, bad
 * notes, bad segments, oversized command lines and initrds. */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cunit.h"
#include "loader_env.h"
#include "isle/gmem.h"
#include "isle/pvh.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "boot/loader.h"

#define RAM_SIZE   (64 * MiB)
#define POISON     0xa5
#define TEXT_GPA   0x100000ULL
#define DATA_GPA   0x200000ULL
#define ENTRY_GPA  (TEXT_GPA + 0x10)

static uint8_t *ram;
static struct gmem gm;
static struct layout lay;
static uint8_t img[16384];
static uint8_t initrd[3 * 4096 + 17];

/* Fresh, poisoned guest RAM and a hand-built layout: low RAM only, with the
 * legacy holes below 1 MiB. Hand-built so these tests do not move when
 * layout.c does; test_pvh_real_layout covers layout_init's map. */
static void env_reset(void)
{
	if (!ram) {
		ram = malloc(RAM_SIZE);
		CU_ASSERT_FATAL(ram != NULL);
		CU_ASSERT_FATAL(gmem_add(&gm, 0, RAM_SIZE, ram, -1, 0) == 0);
		for (size_t i = 0; i < sizeof(initrd); i++)
			initrd[i] = (uint8_t)(i * 13 + 7);
	}
	memset(ram, POISON, RAM_SIZE);
	loader_env_layout(&lay, RAM_SIZE);
}

static struct boot_request req_for(size_t size)
{
	return (struct boot_request){
		.kernel = img, .kernel_size = size,
		.initrd = initrd, .initrd_size = sizeof(initrd),
		.cmdline = "console=ttyS0 root=/dev/vda", .rsdp = LAYOUT_ACPI,
		.layout = &lay, .gmem = &gm,
	};
}

/* ---- the synthetic ELF ---------------------------------------------------- */

struct elf_spec {
	bool is64;
	uint32_t descsz;          /* PVH note desc size; 0 = no PVH note */
	uint64_t entry;
	unsigned int nr_loads;
	struct { uint64_t paddr, filesz, memsz; } load[3];
};

enum { PH_TYPE, PH_OFFSET, PH_PADDR, PH_FILESZ, PH_MEMSZ };

static size_t phdr_size(bool is64)
{
	return is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
}

static size_t phoff_of(bool is64)
{
	return is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
}

static void phdr_set(bool is64, unsigned int i, int field, uint64_t v)
{
	static const size_t off64[] = {
		offsetof(Elf64_Phdr, p_type), offsetof(Elf64_Phdr, p_offset),
		offsetof(Elf64_Phdr, p_paddr), offsetof(Elf64_Phdr, p_filesz),
		offsetof(Elf64_Phdr, p_memsz),
	};
	static const size_t off32[] = {
		offsetof(Elf32_Phdr, p_type), offsetof(Elf32_Phdr, p_offset),
		offsetof(Elf32_Phdr, p_paddr), offsetof(Elf32_Phdr, p_filesz),
		offsetof(Elf32_Phdr, p_memsz),
	};
	uint8_t *p = img + phoff_of(is64) + i * phdr_size(is64);

	if (is64 && field != PH_TYPE)
		put_le64(p + off64[field], v);
	else
		put_le32(p + (is64 ? off64 : off32)[field], (uint32_t)v);
}

static size_t note_put(uint8_t *p, const char *name, uint32_t type, uint32_t descsz,
		       uint64_t desc)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	size_t off = 12;

	put_le32(p, namesz);
	put_le32(p + 4, descsz);
	put_le32(p + 8, type);
	memcpy(p + off, name, namesz);
	off += ALIGN_UP(namesz, 4);
	put_le64(p + off, desc);      /* 4-byte descs get the low half */
	return off + ALIGN_UP(descsz, 4);
}

/* Layout: ehdr, phdrs (PT_NOTE then the PT_LOADs), notes, then the segment
 * data, last byte last, so every proper prefix cuts something needed.
 * Segment i's byte k is (0x11 * (i + 1) + k). Returns the image size and
 * the offset of the PVH note in *note_off. */
static size_t elf_build(const struct elf_spec *s, size_t *note_off)
{
	size_t off, notes;

	memset(img, 0, sizeof(img));
	memcpy(img, ELFMAG, SELFMAG);
	img[EI_CLASS] = s->is64 ? ELFCLASS64 : ELFCLASS32;
	img[EI_DATA] = ELFDATA2LSB;
	img[EI_VERSION] = EV_CURRENT;
	put_le16(img + offsetof(Elf64_Ehdr, e_type), ET_EXEC);
	put_le16(img + offsetof(Elf64_Ehdr, e_machine), s->is64 ? EM_X86_64 : EM_386);
	if (s->is64) {
		put_le64(img + offsetof(Elf64_Ehdr, e_phoff), sizeof(Elf64_Ehdr));
		put_le16(img + offsetof(Elf64_Ehdr, e_phentsize), sizeof(Elf64_Phdr));
		put_le16(img + offsetof(Elf64_Ehdr, e_phnum), (uint16_t)(1 + s->nr_loads));
	} else {
		put_le32(img + offsetof(Elf32_Ehdr, e_phoff), sizeof(Elf32_Ehdr));
		put_le16(img + offsetof(Elf32_Ehdr, e_phentsize), sizeof(Elf32_Phdr));
		put_le16(img + offsetof(Elf32_Ehdr, e_phnum), (uint16_t)(1 + s->nr_loads));
	}
	off = phoff_of(s->is64) + (1 + s->nr_loads) * phdr_size(s->is64);
	notes = off;
	/* A foreign note first, so the walk has to step over one. */
	off += note_put(img + off, "GNU", 3, 20, 0x1234);
	*note_off = off;
	if (s->descsz)
		off += note_put(img + off, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, s->descsz,
				s->entry);
	phdr_set(s->is64, 0, PH_TYPE, PT_NOTE);
	phdr_set(s->is64, 0, PH_OFFSET, notes);
	phdr_set(s->is64, 0, PH_FILESZ, off - notes);
	phdr_set(s->is64, 0, PH_MEMSZ, off - notes);
	for (unsigned int i = 0; i < s->nr_loads; i++) {
		phdr_set(s->is64, 1 + i, PH_TYPE, PT_LOAD);
		phdr_set(s->is64, 1 + i, PH_OFFSET, off);
		phdr_set(s->is64, 1 + i, PH_PADDR, s->load[i].paddr);
		phdr_set(s->is64, 1 + i, PH_FILESZ, s->load[i].filesz);
		phdr_set(s->is64, 1 + i, PH_MEMSZ, s->load[i].memsz);
		for (uint64_t k = 0; k < s->load[i].filesz; k++)
			img[off + k] = (uint8_t)(0x11 * (i + 1) + k);
		off += s->load[i].filesz;
	}
	return off;
}

static size_t elf_default(bool is64, size_t *note_off)
{
	const struct elf_spec s = {
		.is64 = is64, .descsz = 4, .entry = ENTRY_GPA, .nr_loads = 2,
		.load = { { TEXT_GPA, 256, 256 }, { DATA_GPA, 128, 4096 } },
	};

	return elf_build(&s, note_off);
}

static int try_req(const struct boot_request *r, const char **err)
{
	struct boot_info bi;

	*err = NULL;
	return loader_pvh_load(r, &bi, err);
}

static int try_size(size_t size, const char **err)
{
	struct boot_request r = req_for(size);

	return try_req(&r, err);
}

/* The load of the first size bytes of img fails with want, and *err holds
 * msg (a substring; NULL: any message). */
#define FAILS(size, want, msg)                                                \
	do {                                                                  \
		const char *err_;                                             \
		int rc_ = try_size(size, &err_);                              \
		CU_ASSERT_EQUAL(rc_, want);                                   \
		CU_ASSERT_FATAL(err_ != NULL);                                \
		if (msg)                                                      \
			CU_ASSERT_PTR_NOT_NULL(strstr(err_, msg ? msg : "")); \
	} while (0)

/* ---- valid images ---------------------------------------------------------- */

/* The module list sits right after the memory map. */
static uint64_t modlist_gpa(void)
{
	return LAYOUT_PVH_MEMMAP + lay.e820_nr * sizeof(struct hvm_memmap_table_entry);
}

static void check_loaded(void)
{
	struct hvm_start_info si;
	struct hvm_memmap_table_entry mm;
	struct hvm_modlist_entry mod;
	uint64_t top;

	for (unsigned int k = 0; k < 256; k++)
		CU_ASSERT_EQUAL(ram[TEXT_GPA + k], (uint8_t)(0x11 + k));
	for (unsigned int k = 0; k < 128; k++)
		CU_ASSERT_EQUAL(ram[DATA_GPA + k], (uint8_t)(0x22 + k));
	for (unsigned int k = 128; k < 4096; k++)
		CU_ASSERT_EQUAL(ram[DATA_GPA + k], 0);          /* bss */
	CU_ASSERT_EQUAL(ram[DATA_GPA + 4096], POISON);      /* and no more */
	CU_ASSERT_EQUAL(ram[TEXT_GPA + 256], POISON);

	memcpy(&si, ram + LAYOUT_START_INFO, sizeof(si));
	CU_ASSERT_EQUAL(si.magic, HVM_START_MAGIC_VALUE);
	CU_ASSERT_EQUAL(si.version, 1);
	CU_ASSERT_EQUAL(si.flags, 0);
	CU_ASSERT_EQUAL(si.rsdp_paddr, LAYOUT_ACPI);
	CU_ASSERT_EQUAL(si.cmdline_paddr, LAYOUT_CMDLINE);
	CU_ASSERT_STRING_EQUAL((char *)ram + LAYOUT_CMDLINE, "console=ttyS0 root=/dev/vda");
	CU_ASSERT_EQUAL(si.memmap_paddr, LAYOUT_PVH_MEMMAP);
	CU_ASSERT_EQUAL(si.memmap_entries, lay.e820_nr);
	for (unsigned int i = 0; i < lay.e820_nr; i++) {
		memcpy(&mm, ram + LAYOUT_PVH_MEMMAP + i * sizeof(mm), sizeof(mm));
		CU_ASSERT_EQUAL(mm.addr, lay.e820[i].addr);
		CU_ASSERT_EQUAL(mm.size, lay.e820[i].size);
		CU_ASSERT_EQUAL(mm.type, lay.e820[i].type);
		CU_ASSERT_EQUAL(mm.reserved, 0);
	}
	CU_ASSERT_EQUAL(si.nr_modules, 1);
	CU_ASSERT_EQUAL(si.modlist_paddr, modlist_gpa());
	memcpy(&mod, ram + si.modlist_paddr, sizeof(mod));
	/* Highest page-aligned spot in low RAM. */
	top = ALIGN_DOWN(RAM_SIZE - sizeof(initrd), 4096);
	CU_ASSERT_EQUAL(mod.paddr, top);
	CU_ASSERT_EQUAL(mod.size, sizeof(initrd));
	CU_ASSERT_EQUAL(mod.cmdline_paddr, 0);
	CU_ASSERT(memcmp(ram + top, initrd, sizeof(initrd)) == 0);
}

static void test_pvh_valid(bool is64, uint32_t descsz)
{
	const struct elf_spec s = {
		.is64 = is64, .descsz = descsz, .entry = ENTRY_GPA, .nr_loads = 2,
		.load = { { TEXT_GPA, 256, 256 }, { DATA_GPA, 128, 4096 } },
	};
	struct boot_request r;
	struct boot_info bi;
	const char *err = "unset";
	size_t note_off;

	env_reset();
	r = req_for(elf_build(&s, &note_off));
	CU_ASSERT_EQUAL_FATAL(loader_pvh_load(&r, &bi, &err), 0);
	CU_ASSERT_PTR_NULL(err);
	CU_ASSERT_EQUAL(bi.mode, BOOT_PVH32);
	CU_ASSERT_EQUAL(bi.entry, ENTRY_GPA);
	CU_ASSERT_EQUAL(bi.arg, LAYOUT_START_INFO);
	check_loaded();

	/* loader_load finds the same thing. */
	env_reset();
	CU_ASSERT_EQUAL_FATAL(loader_load(&r, &bi, &err), 0);
	CU_ASSERT_EQUAL(bi.mode, BOOT_PVH32);
	check_loaded();

	/* RAM the caller vouches is zero: the bss is not written at all
	 * (here it keeps the poison), everything else lands the same. */
	env_reset();
	r.ram_zeroed = true;
	CU_ASSERT_EQUAL_FATAL(loader_pvh_load(&r, &bi, &err), 0);
	for (unsigned int k = 0; k < 128; k++)
		CU_ASSERT_EQUAL(ram[DATA_GPA + k], (uint8_t)(0x22 + k));
	CU_ASSERT_EQUAL(ram[DATA_GPA + 128], POISON);
	CU_ASSERT_EQUAL(ram[DATA_GPA + 4095], POISON);
}

static void test_pvh_elf64(void) { test_pvh_valid(true, 4); }
static void test_pvh_elf64_desc8(void) { test_pvh_valid(true, 8); }
static void test_pvh_elf32(void) { test_pvh_valid(false, 4); }
static void test_pvh_elf32_desc8(void) { test_pvh_valid(false, 8); }

static void test_pvh_no_initrd_no_cmdline(void)
{
	struct hvm_start_info si;
	struct boot_request r;
	struct boot_info bi;
	const char *err;
	size_t n;

	env_reset();
	r = req_for(elf_default(true, &n));
	r.initrd = NULL;
	r.initrd_size = 0;
	r.cmdline = NULL;
	CU_ASSERT_EQUAL_FATAL(loader_pvh_load(&r, &bi, &err), 0);
	memcpy(&si, ram + LAYOUT_START_INFO, sizeof(si));
	CU_ASSERT_EQUAL(si.nr_modules, 0);
	CU_ASSERT_EQUAL(si.modlist_paddr, 0);
	CU_ASSERT_EQUAL(ram[LAYOUT_CMDLINE], 0);
}

/* ---- malformed images ------------------------------------------------------ */

static void test_pvh_truncated(void)
{
	size_t n;

	env_reset();
	for (int c = 0; c < 2; c++) {
		size_t size = elf_default(c, &n);

		for (size_t len = 0; len < size; len++)
			FAILS(len, len < SELFMAG ? -ENOEXEC : -EINVAL, NULL);
		CU_ASSERT_EQUAL(try_size(size, &(const char *){ NULL }), 0);
	}
	/* A rejected image leaves guest RAM untouched. */
	env_reset();
	FAILS(elf_default(true, &n) - 1, -EINVAL, "PT_LOAD file range");
	CU_ASSERT_EQUAL(ram[TEXT_GPA], POISON);
	CU_ASSERT_EQUAL(ram[LAYOUT_START_INFO], POISON);
}

static void test_pvh_bad_header(void)
{
	size_t n, size;

	env_reset();
	size = elf_default(true, &n);
	img[0] = 'x';
	FAILS(size, -ENOEXEC, "not an ELF");
	size = elf_default(true, &n);
	img[EI_CLASS] = 7;
	FAILS(size, -EINVAL, "class");
	size = elf_default(true, &n);
	img[EI_DATA] = ELFDATA2MSB;
	FAILS(size, -ENOEXEC, "little-endian");
	size = elf_default(true, &n);
	put_le16(img + offsetof(Elf64_Ehdr, e_machine), EM_AARCH64);
	FAILS(size, -ENOEXEC, "e_machine");
	size = elf_default(false, &n);
	put_le16(img + offsetof(Elf32_Ehdr, e_type), ET_DYN);
	FAILS(size, -ENOEXEC, "ET_EXEC");
	size = elf_default(true, &n);
	put_le16(img + offsetof(Elf64_Ehdr, e_phentsize), sizeof(Elf32_Phdr));
	FAILS(size, -EINVAL, "e_phentsize");
	size = elf_default(true, &n);
	put_le16(img + offsetof(Elf64_Ehdr, e_phnum), 0);
	FAILS(size, -EINVAL, "no program headers");
	size = elf_default(true, &n);
	put_le16(img + offsetof(Elf64_Ehdr, e_phnum), 0xffff);
	FAILS(size, -EINVAL, "too many program headers");
	size = elf_default(true, &n);
	put_le64(img + offsetof(Elf64_Ehdr, e_phoff), size);
	FAILS(size, -EINVAL, "program headers lie outside");
	size = elf_default(true, &n);
	put_le64(img + offsetof(Elf64_Ehdr, e_phoff), UINT64_MAX - 8);
	FAILS(size, -EINVAL, "program headers lie outside");
	size = elf_default(false, &n);
	put_le32(img + offsetof(Elf32_Ehdr, e_phoff), UINT32_MAX);
	FAILS(size, -EINVAL, "program headers lie outside");
}

static void test_pvh_bad_notes(void)
{
	const struct elf_spec nonote = {
		.is64 = true, .nr_loads = 1, .load = { { TEXT_GPA, 64, 64 } },
	};
	const char *err;
	size_t note, size;

	env_reset();
	size = elf_build(&nonote, &note);
	CU_ASSERT_EQUAL(try_size(size, &err), -ENOEXEC);
	CU_ASSERT_STRING_EQUAL(err, "ELF has no PVH entry note");
	/* loader_load keeps that message rather than "unknown format". */
	{
		struct boot_request r = req_for(size);
		struct boot_info bi;

		CU_ASSERT_EQUAL(loader_load(&r, &bi, &err), -ENOEXEC);
		CU_ASSERT_STRING_EQUAL(err, "ELF has no PVH entry note");
	}

	size = elf_default(true, &note);
	put_le32(img + note, 0xfffffffd);            /* huge namesz */
	FAILS(size, -EINVAL, "note name runs past");
	size = elf_default(true, &note);
	put_le32(img + note + 4, 0xffffffff);        /* huge descsz */
	FAILS(size, -EINVAL, "descriptor runs past");
	size = elf_default(true, &note);
	put_le32(img + note + 4, 2);                 /* wrong desc size */
	FAILS(size, -EINVAL, "bad size");
	size = elf_default(true, &note);
	img[note + 12] = 'Y';                        /* "Yen": not ours */
	FAILS(size, -ENOEXEC, "no PVH entry note");
	size = elf_default(false, &note);
	phdr_set(false, 0, PH_FILESZ, size);         /* PT_NOTE past the end */
	FAILS(size, -EINVAL, "PT_NOTE lies outside");
	size = elf_default(true, &note);
	phdr_set(true, 0, PH_OFFSET, UINT64_MAX - 4);
	FAILS(size, -EINVAL, "PT_NOTE lies outside");
	size = elf_default(true, &note);
	put_le32(img + note + 16, 0x90000);          /* entry outside segments */
	FAILS(size, -EINVAL, "entry point lies outside");
}

static void test_pvh_bad_segments(void)
{
	const struct elf_spec overlap = {
		.is64 = true, .descsz = 4, .entry = ENTRY_GPA, .nr_loads = 2,
		.load = { { TEXT_GPA, 256, 0x2000 }, { TEXT_GPA + 0x1000, 16, 16 } },
	};
	const struct elf_spec low = {
		.is64 = false, .descsz = 4, .entry = 0x80000, .nr_loads = 1,
		.load = { { 0x80000, 16, 16 } },
	};
	size_t n, size;

	env_reset();
	size = elf_build(&overlap, &n);
	FAILS(size, -EINVAL, "overlap");
	size = elf_build(&low, &n);
	FAILS(size, -EINVAL, "below 1 MiB");

	size = elf_default(true, &n);
	phdr_set(true, 2, PH_FILESZ, 4097);           /* filesz > memsz */
	FAILS(size, -EINVAL, "p_filesz larger");
	size = elf_default(true, &n);
	phdr_set(true, 2, PH_OFFSET, size - 64);      /* file range past end */
	FAILS(size, -EINVAL, "file range");
	size = elf_default(true, &n);
	phdr_set(true, 2, PH_OFFSET, UINT64_MAX - 64);
	FAILS(size, -EINVAL, "file range");
	size = elf_default(false, &n);
	phdr_set(false, 2, PH_MEMSZ, 0xfff00000);     /* huge: past 4 GiB */
	FAILS(size, -EINVAL, "past 4 GiB");
	size = elf_default(false, &n);
	phdr_set(false, 2, PH_MEMSZ, 0x80000000);     /* huge: past RAM */
	FAILS(size, -ENOSPC, "guest RAM");
	size = elf_default(true, &n);
	phdr_set(true, 2, PH_PADDR, UINT64_MAX - 100); /* wraps */
	FAILS(size, -EINVAL, "past 4 GiB");
	size = elf_default(true, &n);
	phdr_set(true, 2, PH_PADDR, LAYOUT_MMIO32);   /* not RAM */
	FAILS(size, -ENOSPC, "guest RAM");
	size = elf_default(true, &n);
	phdr_set(true, 1, PH_TYPE, PT_NULL);
	phdr_set(true, 2, PH_TYPE, PT_NULL);
	FAILS(size, -EINVAL, "no loadable segments");
}

static void test_pvh_cmdline(void)
{
	char *line = malloc(LAYOUT_CMDLINE_MAX + 1);
	struct boot_request r;
	const char *err;
	size_t n;

	CU_ASSERT_FATAL(line != NULL);
	env_reset();
	r = req_for(elf_default(true, &n));
	memset(line, 'a', LAYOUT_CMDLINE_MAX);
	line[LAYOUT_CMDLINE_MAX] = 0;
	r.cmdline = line;
	CU_ASSERT_EQUAL(try_req(&r, &err), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "command line too long");
	CU_ASSERT_EQUAL(ram[TEXT_GPA], POISON);       /* rejected before writing */

	line[LAYOUT_CMDLINE_MAX - 1] = 0;             /* the longest allowed */
	CU_ASSERT_EQUAL(try_req(&r, &err), 0);
	CU_ASSERT_EQUAL(strlen((char *)ram + LAYOUT_CMDLINE), LAYOUT_CMDLINE_MAX - 1);
	free(line);
}

static void test_pvh_initrd(void)
{
	const struct elf_spec high = {
		.is64 = true, .descsz = 4, .entry = RAM_SIZE - 2 * MiB, .nr_loads = 1,
		.load = { { RAM_SIZE - 2 * MiB, 64, 2 * MiB - 4096 } },
	};
	struct hvm_modlist_entry mod;
	struct boot_request r;
	const char *err;
	uint8_t *big;
	size_t n;

	env_reset();
	/* Kernel at the top of RAM: the initrd goes right below it. */
	r = req_for(elf_build(&high, &n));
	CU_ASSERT_EQUAL_FATAL(try_req(&r, &err), 0);
	memcpy(&mod, ram + modlist_gpa(), sizeof(mod));
	CU_ASSERT_EQUAL(mod.paddr, ALIGN_DOWN(RAM_SIZE - 2 * MiB - sizeof(initrd), 4096));
	CU_ASSERT(memcmp(ram + mod.paddr, initrd, sizeof(initrd)) == 0);

	/* Too big for the RAM left around the kernel. */
	big = calloc(1, RAM_SIZE - 2 * MiB);
	CU_ASSERT_FATAL(big != NULL);
	env_reset();
	r = req_for(elf_default(true, &n));
	r.initrd = big;
	r.initrd_size = RAM_SIZE - 2 * MiB;
	CU_ASSERT_EQUAL(try_req(&r, &err), -ENOSPC);
	CU_ASSERT_PTR_NOT_NULL(err);
	r.initrd_size = RAM_SIZE;
	CU_ASSERT_EQUAL(try_req(&r, &err), -ENOSPC);
	r.initrd = NULL;
	r.initrd_size = 4096;
	CU_ASSERT_EQUAL(try_req(&r, &err), -EINVAL);
	CU_ASSERT_EQUAL(ram[TEXT_GPA], POISON);
	free(big);
}

/* The layout and memory slots vm.c uses (layout_init, layout_slots: no RAM
 * in the VGA hole, an ECAM entry in the e820 map) rather than the hand-built
 * ones above. */
static void test_pvh_real_layout(void)
{
	struct layout_slot slots[3];
	struct boot_request r;
	struct boot_info bi;
	struct gmem g = { 0 };
	const char *err;
	size_t n;
	int nr;

	env_reset();
	CU_ASSERT_FATAL(layout_init(&lay, RAM_SIZE) == 0);
	nr = layout_slots(&lay, slots, ARRAY_SIZE(slots));
	CU_ASSERT_FATAL(nr > 0);
	for (int i = 0; i < nr; i++)
		CU_ASSERT_FATAL(gmem_add(&g, slots[i].gpa, slots[i].size,
					 ram + slots[i].offset, -1, slots[i].offset) == 0);
	r = req_for(elf_default(true, &n));
	r.gmem = &g;
	CU_ASSERT_EQUAL_FATAL(loader_pvh_load(&r, &bi, &err), 0);
	check_loaded();
}

static void test_pvh_unknown_format(void)
{
	struct boot_request r;
	struct boot_info bi;
	const char *err;

	env_reset();
	memset(img, 0x90, 4096);
	r = req_for(4096);
	CU_ASSERT_EQUAL(loader_load(&r, &bi, &err), -ENOEXEC);
	CU_ASSERT_STRING_EQUAL(err, "unknown kernel format (neither a bzImage nor a PVH ELF)");
	r.kernel_size = 0;
	CU_ASSERT_EQUAL(loader_load(&r, &bi, &err), -ENOEXEC);
	CU_ASSERT_PTR_NOT_NULL(err);
}

void unit_register(void)
{
	UNIT_SUITE("loader_pvh",
		   UNIT_TEST(test_pvh_elf64),
		   UNIT_TEST(test_pvh_elf64_desc8),
		   UNIT_TEST(test_pvh_elf32),
		   UNIT_TEST(test_pvh_elf32_desc8),
		   UNIT_TEST(test_pvh_no_initrd_no_cmdline),
		   UNIT_TEST(test_pvh_truncated),
		   UNIT_TEST(test_pvh_bad_header),
		   UNIT_TEST(test_pvh_bad_notes),
		   UNIT_TEST(test_pvh_bad_segments),
		   UNIT_TEST(test_pvh_cmdline),
		   UNIT_TEST(test_pvh_initrd),
		   UNIT_TEST(test_pvh_real_layout),
		   UNIT_TEST(test_pvh_unknown_format));
}
