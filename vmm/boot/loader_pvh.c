/* PVH loader: boots an x86 ELF (32- or 64-bit) that carries Xen's
 * XEN_ELFNOTE_PHYS32_ENTRY note, the way Linux's vmlinux and small test
 * kernels do. It loads every PT_LOAD at its physical address, writes
 * hvm_start_info (include/isle/pvh.h) with the command line, the e820 map and
 * the initrd as module 0, and reports the 32-bit entry with ebx = start_info.
 *
 * Contract: the image is untrusted. Everything read from it is bounds-checked
 * before use, and all validation happens before the first guest write, so a
 * rejected image leaves guest memory untouched. -ENOEXEC: not a bootable x86
 * PVH ELF; -EINVAL: malformed; -ENOSPC: does not fit in guest RAM. */
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "isle/gmem.h"
#include "isle/pvh.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "boot/loader.h"

/* Real kernels have a handful of program headers; the cap keeps the O(n^2)
 * overlap check cheap on hostile input. */
#define PVH_MAX_PHDRS 64

#define PVH_NOTE_HDR  12       /* namesz, descsz, type */
#define PVH_NOTE_NAME "Xen"    /* with its NUL: namesz == 4 */

/* The memory map and module list share the page(s) at LAYOUT_PVH_MEMMAP and
 * must stay clear of the next fixed structure. */
_Static_assert(LAYOUT_PVH_MEMMAP + E820_MAX * sizeof(struct hvm_memmap_table_entry)
	       + sizeof(struct hvm_modlist_entry) <= LAYOUT_ZERO_PAGE,
	       "PVH memmap and modlist overflow their area");
_Static_assert(LAYOUT_START_INFO + sizeof(struct hvm_start_info) <= LAYOUT_PVH_MEMMAP,
	       "start_info overlaps the memmap");

struct pvh_seg {
	uint32_t type;
	uint64_t offset;
	uint64_t paddr;
	uint64_t filesz;
	uint64_t memsz;
};

struct pvh_image {
	const uint8_t *data;
	size_t size;
	bool is64;
	unsigned int nr_segs;
	struct pvh_seg segs[PVH_MAX_PHDRS];
	uint64_t entry;           /* from the note */
	uint64_t kstart, kend;    /* span of all PT_LOADs in guest memory */
};

bool loader_pvh_probe(const uint8_t *image, size_t size)
{
	return image && size >= SELFMAG && !memcmp(image, ELFMAG, SELFMAG);
}

/* Header fields are read at their offsetof() in glibc's Elf32/Elf64 structs
 * so the byte buffer never needs to be aligned. */
#define EHDR_FIELD(img, f, sz)                                              \
	((img)->is64 ? get_le##sz((img)->data + offsetof(Elf64_Ehdr, f))      \
		     : get_le##sz((img)->data + offsetof(Elf32_Ehdr, f)))

static int pvh_parse_ehdr(struct pvh_image *img, uint64_t *phoff,
			  unsigned int *phnum, const char **err)
{
	const uint8_t *id = img->data;
	size_t phentsize;

	if (img->size < EI_NIDENT) {
		*err = "ELF header truncated";
		return -EINVAL;
	}
	if (id[EI_CLASS] != ELFCLASS32 && id[EI_CLASS] != ELFCLASS64) {
		*err = "ELF class is neither 32- nor 64-bit";
		return -EINVAL;
	}
	img->is64 = id[EI_CLASS] == ELFCLASS64;
	if (img->size < (img->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr))) {
		*err = "ELF header truncated";
		return -EINVAL;
	}
	if (id[EI_DATA] != ELFDATA2LSB) {
		*err = "ELF is not little-endian, so not an x86 kernel";
		return -ENOEXEC;
	}
	if (EHDR_FIELD(img, e_machine, 16) != EM_X86_64 &&
	    EHDR_FIELD(img, e_machine, 16) != EM_386) {
		*err = "ELF is not an x86 image (e_machine)";
		return -ENOEXEC;
	}
	if (EHDR_FIELD(img, e_type, 16) != ET_EXEC) {
		*err = "ELF is not an executable (e_type is not ET_EXEC)";
		return -ENOEXEC;
	}
	phentsize = img->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (EHDR_FIELD(img, e_phentsize, 16) != phentsize) {
		*err = "ELF e_phentsize does not match its class";
		return -EINVAL;
	}
	*phoff = img->is64 ? get_le64(img->data + offsetof(Elf64_Ehdr, e_phoff))
			   : get_le32(img->data + offsetof(Elf32_Ehdr, e_phoff));
	*phnum = EHDR_FIELD(img, e_phnum, 16);
	if (!*phnum) {
		*err = "ELF has no program headers";
		return -EINVAL;
	}
	if (*phnum > PVH_MAX_PHDRS) {
		*err = "ELF has too many program headers";
		return -EINVAL;
	}
	/* phnum * phentsize is at most 64 * 56: no overflow before range_ok. */
	if (!range_ok(*phoff, (uint64_t)*phnum * phentsize, img->size)) {
		*err = "ELF program headers lie outside the image";
		return -EINVAL;
	}
	return 0;
}

static void pvh_read_phdrs(struct pvh_image *img, uint64_t phoff, unsigned int phnum)
{
	for (unsigned int i = 0; i < phnum; i++) {
		struct pvh_seg *s = &img->segs[i];
		const uint8_t *p;

		if (img->is64) {
			p = img->data + phoff + i * sizeof(Elf64_Phdr);
			s->type = get_le32(p + offsetof(Elf64_Phdr, p_type));
			s->offset = get_le64(p + offsetof(Elf64_Phdr, p_offset));
			s->paddr = get_le64(p + offsetof(Elf64_Phdr, p_paddr));
			s->filesz = get_le64(p + offsetof(Elf64_Phdr, p_filesz));
			s->memsz = get_le64(p + offsetof(Elf64_Phdr, p_memsz));
		} else {
			p = img->data + phoff + i * sizeof(Elf32_Phdr);
			s->type = get_le32(p + offsetof(Elf32_Phdr, p_type));
			s->offset = get_le32(p + offsetof(Elf32_Phdr, p_offset));
			s->paddr = get_le32(p + offsetof(Elf32_Phdr, p_paddr));
			s->filesz = get_le32(p + offsetof(Elf32_Phdr, p_filesz));
			s->memsz = get_le32(p + offsetof(Elf32_Phdr, p_memsz));
		}
	}
	img->nr_segs = phnum;
}

/* Walks the notes of one PT_NOTE segment (4-byte aligned name and desc, as
 * Linux and Xen emit them). Returns 1 and sets img->entry when the PVH note
 * is found, 0 when it is not there, -EINVAL when a note runs off the end. */
static int pvh_note_scan(struct pvh_image *img, const struct pvh_seg *s,
			 const char **err)
{
	const uint8_t *p;
	uint64_t off = 0, end = s->filesz;

	if (!range_ok(s->offset, s->filesz, img->size)) {
		*err = "ELF PT_NOTE lies outside the image";
		return -EINVAL;
	}
	p = img->data + s->offset;
	/* Fewer than a header's worth of trailing bytes is padding. */
	while (end - off >= PVH_NOTE_HDR) {
		uint32_t namesz = get_le32(p + off);
		uint32_t descsz = get_le32(p + off + 4);
		uint32_t type = get_le32(p + off + 8);
		const uint8_t *name, *desc;

		off += PVH_NOTE_HDR;
		/* 64-bit arithmetic: a 32-bit size near 4 GiB cannot wrap. */
		if (ALIGN_UP((uint64_t)namesz, 4) > end - off) {
			*err = "ELF note name runs past its PT_NOTE segment";
			return -EINVAL;
		}
		name = p + off;
		off += ALIGN_UP((uint64_t)namesz, 4);
		/* The last note's desc padding may be cut by p_filesz. */
		if (descsz > end - off) {
			*err = "ELF note descriptor runs past its PT_NOTE segment";
			return -EINVAL;
		}
		desc = p + off;
		off += MIN(ALIGN_UP((uint64_t)descsz, 4), end - off);

		if (type != XEN_ELFNOTE_PHYS32_ENTRY || namesz != sizeof(PVH_NOTE_NAME) ||
		    memcmp(name, PVH_NOTE_NAME, sizeof(PVH_NOTE_NAME)))
			continue;
		if (descsz == 4) {
			img->entry = get_le32(desc);
		} else if (descsz == 8) {
			img->entry = get_le64(desc);
		} else {
			*err = "PVH entry note has a bad size (not 4 or 8 bytes)";
			return -EINVAL;
		}
		return 1;
	}
	return 0;
}

static int pvh_find_entry(struct pvh_image *img, const char **err)
{
	for (unsigned int i = 0; i < img->nr_segs; i++) {
		int rc;

		if (img->segs[i].type != PT_NOTE)
			continue;
		rc = pvh_note_scan(img, &img->segs[i], err);
		if (rc)
			return rc < 0 ? rc : 0;
	}
	*err = "ELF has no PVH entry note";
	return -ENOEXEC;
}

/* Validates every PT_LOAD against the image and guest RAM, and records the
 * span they occupy so the initrd can stay clear of it. */
static int pvh_check_loads(struct pvh_image *img, const struct gmem *gm,
			   const char **err)
{
	bool any = false;

	img->kstart = UINT64_MAX;
	img->kend = 0;
	for (unsigned int i = 0; i < img->nr_segs; i++) {
		const struct pvh_seg *s = &img->segs[i];

		if (s->type != PT_LOAD)
			continue;
		if (s->filesz > s->memsz) {
			*err = "ELF PT_LOAD has p_filesz larger than p_memsz";
			return -EINVAL;
		}
		if (!range_ok(s->offset, s->filesz, img->size)) {
			*err = "ELF PT_LOAD file range lies outside the image";
			return -EINVAL;
		}
		if (!s->memsz)
			continue;
		if (s->paddr < LAYOUT_HIGH_MEM) {
			*err = "ELF PT_LOAD below 1 MiB would overwrite isle's boot area";
			return -EINVAL;
		}
		/* PVH enters in 32-bit mode with paging off: all of the kernel
		 * must be addressable below 4 GiB. */
		if (!range_ok(s->paddr, s->memsz, LAYOUT_4G)) {
			*err = "ELF PT_LOAD extends past 4 GiB";
			return -EINVAL;
		}
		if (!loader_ram_ok(gm, s->paddr, s->memsz)) {
			*err = "ELF PT_LOAD does not fit in guest RAM";
			return -ENOSPC;
		}
		for (unsigned int j = 0; j < i; j++) {
			const struct pvh_seg *t = &img->segs[j];

			if (t->type == PT_LOAD && t->memsz &&
			    s->paddr < t->paddr + t->memsz && t->paddr < s->paddr + s->memsz) {
				*err = "ELF PT_LOAD segments overlap";
				return -EINVAL;
			}
		}
		img->kstart = MIN(img->kstart, s->paddr);
		img->kend = MAX(img->kend, s->paddr + s->memsz);
		any = true;
	}
	if (!any) {
		*err = "ELF has no loadable segments";
		return -EINVAL;
	}
	if (img->entry < img->kstart || img->entry >= img->kend) {
		*err = "PVH entry point lies outside the loaded segments";
		return -EINVAL;
	}
	return 0;
}

static int pvh_load_segments(const struct pvh_image *img, const struct gmem *gm,
			     bool ram_zeroed)
{
	for (unsigned int i = 0; i < img->nr_segs; i++) {
		const struct pvh_seg *s = &img->segs[i];
		int rc;

		if (s->type != PT_LOAD || !s->memsz)
			continue;
		rc = gmem_write(gm, s->paddr, img->data + s->offset, s->filesz);
		/* RAM is not necessarily zero (reboot, reuse): clear the bss,
		 * unless the caller knows it is. */
		if (!rc && !ram_zeroed)
			rc = gmem_fill(gm, s->paddr + s->filesz, 0, s->memsz - s->filesz);
		if (rc)
			return rc;
	}
	return 0;
}

/* Writes the memory map, the module list and start_info itself. */
static int pvh_write_start_info(const struct boot_request *req, uint64_t initrd_gpa)
{
	const struct layout *l = req->layout;
	struct hvm_memmap_table_entry mm[E820_MAX];
	struct hvm_modlist_entry mod;
	struct hvm_start_info si;
	uint64_t modlist = LAYOUT_PVH_MEMMAP + l->e820_nr * sizeof(mm[0]);
	int rc;

	memset(mm, 0, sizeof(mm));
	for (unsigned int i = 0; i < l->e820_nr; i++) {
		mm[i].addr = l->e820[i].addr;
		mm[i].size = l->e820[i].size;
		mm[i].type = l->e820[i].type;
	}
	rc = gmem_write(req->gmem, LAYOUT_PVH_MEMMAP, mm, l->e820_nr * sizeof(mm[0]));
	if (rc)
		return rc;

	memset(&si, 0, sizeof(si));
	si.magic = HVM_START_MAGIC_VALUE;
	si.version = 1;
	si.cmdline_paddr = LAYOUT_CMDLINE;
	si.rsdp_paddr = req->rsdp;
	si.memmap_paddr = LAYOUT_PVH_MEMMAP;
	si.memmap_entries = l->e820_nr;
	if (req->initrd_size) {
		memset(&mod, 0, sizeof(mod));
		mod.paddr = initrd_gpa;
		mod.size = req->initrd_size;
		rc = gmem_write(req->gmem, modlist, &mod, sizeof(mod));
		if (rc)
			return rc;
		si.nr_modules = 1;
		si.modlist_paddr = modlist;
	}
	return gmem_write(req->gmem, LAYOUT_START_INFO, &si, sizeof(si));
}

int loader_pvh_load(const struct boot_request *req, struct boot_info *bi, const char **err)
{
	const struct layout *l = req->layout;
	struct pvh_image img = { .data = req->kernel, .size = req->kernel_size };
	uint64_t phoff, initrd_gpa = 0;
	unsigned int phnum;
	size_t cmdline_len;
	int rc;

	*err = NULL;
	if (!loader_pvh_probe(req->kernel, req->kernel_size)) {
		*err = "not an ELF image";
		return -ENOEXEC;
	}
	rc = pvh_parse_ehdr(&img, &phoff, &phnum, err);
	if (rc)
		return rc;
	pvh_read_phdrs(&img, phoff, phnum);
	rc = pvh_find_entry(&img, err);
	if (!rc)
		rc = pvh_check_loads(&img, req->gmem, err);
	if (!rc)
		rc = loader_cmdline_check(req, LAYOUT_CMDLINE_MAX, &cmdline_len, err);
	if (rc)
		return rc;
	if (l->e820_nr > E820_MAX) {
		*err = "e820 map has too many entries";
		return -EINVAL;
	}
	if (req->initrd_size) {
		rc = loader_initrd_place(req, LAYOUT_HIGH_MEM,
					 MIN(layout_low_end(l), LAYOUT_4G),
					 img.kstart, img.kend, &initrd_gpa, err);
		if (rc)
			return rc;
	}

	/* Everything is validated; from here on only guest writes remain,
	 * which fail only if the boot area itself is not guest RAM. */
	rc = pvh_load_segments(&img, req->gmem, req->ram_zeroed);
	if (!rc)
		rc = loader_cmdline_write(req, cmdline_len);
	if (!rc && req->initrd_size)
		rc = gmem_write(req->gmem, initrd_gpa, req->initrd, req->initrd_size);
	if (!rc)
		rc = pvh_write_start_info(req, initrd_gpa);
	if (rc) {
		*err = "boot area below 1 MiB is not guest RAM";
		return rc;
	}
	bi->mode = BOOT_PVH32;
	bi->entry = img.entry;
	bi->arg = LAYOUT_START_INFO;
	return 0;
}
