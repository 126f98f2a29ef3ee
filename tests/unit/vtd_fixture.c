/* The fake host of the VT-d unit tests (tests/unit/test_vtd_*.c): guest
 * memory as a static buffer at gpa 0, an MSI sink that records, table
 * builders (root/context entries, second-level maps), and an invalidation
 * notifier and an IEC notifier that record their last call. Contract in vtd_fixture.h. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "vtd_fixture.h"
#include "vtd_internal.h"

uint8_t mem[MEMSZ];
struct vtd v;
unsigned int msi_count;
uint64_t msi_addr;
uint32_t msi_data;
uint64_t next_tbl;

static int fake_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	if (gpa >= MEMSZ || len > MEMSZ - gpa)
		return -EFAULT;
	memcpy(buf, mem + gpa, len);
	return 0;
}

static int fake_write(void *o, uint64_t gpa, const void *buf, size_t len)
{
	if (gpa >= MEMSZ || len > MEMSZ - gpa)
		return -EFAULT;
	memcpy(mem + gpa, buf, len);
	return 0;
}

static void fake_msi(void *o, uint64_t addr, uint32_t data)
{
	msi_count++;
	msi_addr = addr;
	msi_data = data;
}

const struct vtd_host host = {
	.mem_read = fake_read, .mem_write = fake_write, .msi = fake_msi,
};

void up_cfg(const struct vtd_config *cfg)
{
	memset(mem, 0, sizeof(mem));
	msi_count = 0;
	next_tbl = 0x100000;
	CU_ASSERT_EQUAL_FATAL(vtd_init(&v, cfg, &host), 0);
}

void up(unsigned int aw)
{
	struct vtd_config cfg = { .aw_bits = aw, .nr_frcd = 8 };

	up_cfg(&cfg);
}

uint64_t rd64(uint64_t gpa)
{
	return get_le64(mem + gpa);
}

void wr64(uint64_t gpa, uint64_t val)
{
	put_le64(mem + gpa, val);
}

uint64_t alloc_tbl(void)
{
	uint64_t t = next_tbl;

	next_tbl += 0x1000;
	memset(mem + t, 0, 0x1000);
	return t;
}

void map(uint64_t top, unsigned int levels, uint64_t iova, uint64_t gpa,
		uint64_t perm, unsigned int leaf_level)
{
	uint64_t t = top, pte;
	unsigned int l;

	for (l = levels; l > leaf_level; l--) {
		uint64_t slot = t + 8 * ((iova >> (12 + 9 * (l - 1))) & 0x1ff);

		pte = rd64(slot);
		if (!(pte & 3)) {
			pte = alloc_tbl() | 3;
			wr64(slot, pte);
		}
		t = pte & 0x000ffffffffff000ULL;
	}
	wr64(t + 8 * ((iova >> (12 + 9 * (leaf_level - 1))) & 0x1ff),
	     gpa | perm | (leaf_level > 1 ? (1ULL << 7) : 0));
}

uint64_t setup_ctx(uint16_t sid, unsigned int agaw, uint16_t did, uint64_t extra_lo)
{
	uint64_t top = alloc_tbl();

	wr64(ROOT + 16 * (sid >> 8), CTXT | 1);
	wr64(CTXT + 16 * (sid & 0xff), top | 1 | extra_lo);
	wr64(CTXT + 16 * (sid & 0xff) + 8, (uint64_t)did << 8 | agaw);
	return top;
}

void enable(void)
{
	vtd_mmio_write(&v, VTD_REG_RTADDR, ROOT, 8);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_SRTP, 4);
	vtd_mmio_write(&v, VTD_REG_GCMD, VTD_GCMD_TE, 4);
}

void down(void)
{
	vtd_destroy(&v);
}

unsigned int nr_inval;
int last_sid, last_did;
uint64_t last_iova, last_len;

void on_inval(void *o, int sid, int did, uint64_t iova, uint64_t len)
{
	nr_inval++;
	last_sid = sid;
	last_did = did;
	last_iova = iova;
	last_len = len;
}

unsigned int nr_iec, last_iec_index, last_iec_count;

void on_iec(void *o, unsigned int index, unsigned int count)
{
	nr_iec++;
	last_iec_index = index;
	last_iec_count = count;
}
