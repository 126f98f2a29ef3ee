/* libFuzzer target for the VT-d model (iommu/vtd_regs.c, vtd_xlate.c,
 * vtd_qi.c, vtd_ir.c) with no VMM: register accesses (IQT writes run the
 * invalidation queue), guest memory writes that build (or break) root,
 * context and page tables, queued descriptors and IRTEs, DMA and
 * interrupt translations, interleaved.
 *
 * Input: one config byte (bit 0: 48-bit AW, bit 1: caching mode, bits 7:4:
 * 8 + n FRCDs, bits 3:2: small caches; EIM when bits 3:2 are 3), then
 * 12-byte records <op u8, width u8, offset u16, value u64> (little-endian).
 * op % 8: 0 MMIO read, 1 MMIO write (offset & 0xfff, width as given so bad
 * sizes and offsets are exercised), 2 guest memory store of value at
 * (offset * 8) % MEMSZ, 3 vtd_translate(sid = offset, iova = value,
 * access = width & 3), 4 vtd_ir_translate(sid = offset, addr = value's low
 * half, data = its high half), 5 a store in the invalidation queue (IQA's
 * base + offset * 8), 6 a store in the IRT (IRTA's base + offset * 8),
 * 7 vtd_ir_translate of a well-formed address 0xfee00000 | value[19:0]
 * with data value[63:32]. Guest memory is 64 KiB at gpa 0; accesses past
 * it fail, as a hole in guest memory would. Seeds in corpus/vtd: a working
 * 3-level and a 4-level setup with translations, a pass-through context,
 * fault storms (PFO), invalidation commands, queued invalidation (every
 * type, wait with SW|IF, bad descriptors, IQE recovery) and interrupt
 * remapping (xAPIC, x2APIC, SID checks, faults).
 *
 * Checks beyond ASan/UBSan (abort on violation): a successful translation
 * has a page mask of 4K, 2M, 1G or everything, keeps iova's offset in the
 * page and grants the access asked for; a failed one returns -EFAULT or
 * -EPERM with a legacy DMA-remapping reason (1-0xd); an interrupt
 * translation succeeds with no fault (remapped: an 0xfee... address) or
 * fails with -EINVAL/-EFAULT/-EPERM, an IR reason (0x20-0x26) and a zero
 * message; IEC notifications stay within the 64K-entry table; FSTS.FRI
 * names an existing record; VER and CAP never change. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "isle/util.h"
#include "vtd_internal.h"

#define REC_SIZE 12
#define MAX_RECS 4096
#define MEMSZ 0x10000u

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t mem[MEMSZ];
static struct vtd v;

static int fz_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	if (gpa >= MEMSZ || len > MEMSZ - gpa)
		return -EFAULT;
	memcpy(buf, mem + gpa, len);
	return 0;
}

static int fz_write(void *o, uint64_t gpa, const void *buf, size_t len)
{
	if (gpa >= MEMSZ || len > MEMSZ - gpa)
		return -EFAULT;
	memcpy(mem + gpa, buf, len);
	return 0;
}

static void fz_msi(void *o, uint64_t addr, uint32_t data)
{
}

static void fz_inval(void *o, int sid, int did, uint64_t iova, uint64_t len)
{
	if (sid < VTD_ALL || sid > 0xffff || did < VTD_ALL || did > 0xffff)
		abort();
}

static void fz_iec(void *o, unsigned int index, unsigned int count)
{
	if (!count || index >= VTD_IRTE_MAX || count > VTD_IRTE_MAX - index)
		abort();
}

static void check_ir(int ret, uint64_t addr, uint64_t oa, uint32_t od)
{
	if (ret == 0) {
		if (v.ir_fault)
			abort();
		if ((vtd_get32(&v, VTD_REG_GSTS) & VTD_GCMD_IRE) && (addr & 0x10) &&
		    (addr & 0xfff00000u) == 0xfee00000u && addr >> 32 == 0 &&
		    (oa & 0xfff00000u) != 0xfee00000u)
			abort();
		return;
	}
	if (ret != -EINVAL && ret != -EFAULT && ret != -EPERM)
		abort();
	if (v.ir_fault < VTD_FR_IR_REQ_RSVD || v.ir_fault > VTD_FR_IR_SID_ERR || oa || od)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static void check_xlate(int ret, uint64_t iova, unsigned int access, const struct vtd_xlate *x)
{
	if (ret == 0) {
		if (x->page_mask != 0xfff && x->page_mask != 0x1fffff &&
		    x->page_mask != 0x3fffffff && x->page_mask != UINT64_MAX)
			abort();
		if ((x->gpa & x->page_mask) != (iova & x->page_mask) || x->fault)
			abort();
		if ((x->perm & access) != access)
			abort();
		return;
	}
	if (ret != -EFAULT && ret != -EPERM)
		abort();
	if (x->fault < VTD_FR_ROOT_P || x->fault > VTD_FR_CTX_TT)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct vtd_host host = {
		.mem_read = fz_read, .mem_write = fz_write, .msi = fz_msi,
	};
	struct vtd_config cfg = { 0 };
	uint64_t ver, cap;
	size_t n;

	if (size < 1)
		return 0;
	cfg.aw_bits = data[0] & 1 ? 48 : 39;
	cfg.caching_mode = data[0] & 2;
	cfg.nr_frcd = 8 + (data[0] >> 4);
	if (data[0] & 0xc) {
		cfg.iotlb_entries = 4 * ((data[0] >> 2) & 3);
		cfg.ctx_entries = (data[0] >> 2) & 3;
	}
	cfg.eim = (data[0] & 0xc) == 0xc;
	memset(mem, 0, sizeof(mem));
	if (vtd_init(&v, &cfg, &host))
		abort();
	vtd_set_notifier(&v, fz_inval, NULL);
	vtd_set_iec_notifier(&v, fz_iec, NULL);
	ver = vtd_mmio_read(&v, VTD_REG_VER, 4);
	cap = vtd_mmio_read(&v, VTD_REG_CAP, 8);
	data++;
	size--;
	for (n = 0; n + REC_SIZE <= size && n / REC_SIZE < MAX_RECS; n += REC_SIZE) {
		const uint8_t *r = data + n;
		unsigned int op = r[0] % 8, width = r[1];
		uint16_t off = get_le16(r + 2);
		uint64_t val = get_le64(r + 4), oa, base;
		struct vtd_xlate x;
		uint32_t od;
		int ret;

		switch (op) {
		case 0:
			(void)vtd_mmio_read(&v, off & 0xfff, width);
			break;
		case 1:
			vtd_mmio_write(&v, off & 0xfff, val, width);
			break;
		case 2:
			put_le64(mem + (off * 8u) % MEMSZ, val);
			break;
		case 3:
			ret = vtd_translate(&v, off, val, width & 3, &x);
			check_xlate(ret, val, width & 3, &x);
			break;
		case 4:
			ret = vtd_ir_translate(&v, off, (uint32_t)val, val >> 32, &oa, &od);
			check_ir(ret, (uint32_t)val, oa, od);
			break;
		case 5:
		case 6:
			base = op == 5 ? vtd_get64(&v, VTD_REG_IQA) : v.irta;
			put_le64(mem + ((base & ~0xfffULL) + off * 8u) % MEMSZ, val);
			break;
		default:
			ret = vtd_ir_translate(&v, off, 0xfee00000u | (val & 0xfffff), val >> 32,
					       &oa, &od);
			check_ir(ret, 0xfee00000u | (val & 0xfffff), oa, od);
			break;
		}
		if (((vtd_get32(&v, VTD_REG_FSTS) & VTD_FSTS_FRI_MASK) >> VTD_FSTS_FRI_SHIFT) >=
		    v.cfg.nr_frcd)
			abort();
	}
	if (vtd_mmio_read(&v, VTD_REG_VER, 4) != ver || vtd_mmio_read(&v, VTD_REG_CAP, 8) != cap)
		abort();
	vtd_destroy(&v);
	return 0;
}
