/* The test guest's VT-d driver (see vtd.h). Everything polls with a
 * deadline: a unit that never answers fails a check, never hangs the test. */
#include "guest.h"
#include "vtd.h"

#define VTD_WAIT_US     1000000
#define DMAR_DRHD       0
#define DMAR_DRHD_ALL   0x01
#define SCOPE_ENDPOINT  1
#define SCOPE_IOAPIC    3
#define IQ_ENTRIES      256

static unsigned int iq_tail;
static uint64_t *iq;

bool vtd_find(struct vtd_unit *u, uint16_t bdf)
{
	const struct acpi_header *h = acpi_find("DMAR");
	const uint8_t *p, *end;

	memset(u, 0, sizeof(*u));
	if (!h || h->length < 48)
		return false;
	u->haw = (uint8_t)(((const uint8_t *)h)[36] + 1);
	u->dmar_flags = ((const uint8_t *)h)[37];
	p = (const uint8_t *)h + 48;
	end = (const uint8_t *)h + h->length;
	for (; p + 4 <= end; p += get_le16(p + 2)) {
		uint16_t len = get_le16(p + 2);
		const uint8_t *s;

		if (len < 4 || p + len > end)
			return false;
		if (get_le16(p) != DMAR_DRHD || len < 16)
			continue;
		u->drhd_flags = p[4];
		u->include_all = p[4] & DMAR_DRHD_ALL;
		u->covers = u->include_all;
		u->base = get_le64(p + 8);
		/* Device scopes: type, length, 2 reserved, enumeration id,
		 * start bus, then (device, function) pairs. */
		for (s = p + 16; s + 8 <= p + len && s[1] >= 8 && s + s[1] <= p + len; s += s[1]) {
			/* QEMU lists its devices (flags 0) to let some bypass. */
			if (s[0] == SCOPE_ENDPOINT && s[1] == 8 && s[5] == bdf >> 8 &&
			    (uint8_t)(s[6] << 3 | (s[7] & 7)) == (uint8_t)bdf)
				u->covers = true;
			if (s[0] == SCOPE_IOAPIC) {
				u->ioapic_scope = true;
				u->ioapic_id = s[4];
				u->ioapic_sid = (uint16_t)(s[5] << 8 | s[6] << 3 | (s[7] & 7));
			}
		}
		u->cap = vtd_rd64(u, VTD_CAP);
		u->ecap = vtd_rd64(u, VTD_ECAP);
		u->levels = VTD_CAP_SAGAW(u->cap) & 4 ? 4 : 3;
		return true;
	}
	return false;
}

uint32_t vtd_rd32(const struct vtd_unit *u, unsigned int off)
{
	return mmio_read32(u->base + off);
}

uint64_t vtd_rd64(const struct vtd_unit *u, unsigned int off)
{
	return *(volatile uint64_t *)(uintptr_t)(u->base + off);
}

void vtd_wr32(const struct vtd_unit *u, unsigned int off, uint32_t v)
{
	mmio_write32(u->base + off, v);
}

void vtd_wr64(const struct vtd_unit *u, unsigned int off, uint64_t v)
{
	*(volatile uint64_t *)(uintptr_t)(u->base + off) = v;
}

/* Polls until (reg & mask) == want; true if it got there in time. */
static bool vtd_wait32(const struct vtd_unit *u, unsigned int off, uint32_t mask, uint32_t want)
{
	uint64_t deadline = timer_deadline_us(VTD_WAIT_US);

	while ((vtd_rd32(u, off) & mask) != want) {
		if (timer_expired(deadline))
			return false;
		cpu_relax();
	}
	return true;
}

static bool vtd_wait64_clear(const struct vtd_unit *u, unsigned int off, uint64_t mask)
{
	uint64_t deadline = timer_deadline_us(VTD_WAIT_US);

	while (vtd_rd64(u, off) & mask) {
		if (timer_expired(deadline))
			return false;
		cpu_relax();
	}
	return true;
}

bool vtd_gcmd(const struct vtd_unit *u, uint32_t bit, bool on)
{
	/* GCMD reads as 0: the persistent state comes from GSTS. */
	uint32_t keep = vtd_rd32(u, VTD_GSTS) &
			(VTD_GCMD_TE | VTD_GCMD_QIE | VTD_GCMD_IRE | VTD_GCMD_CFI);

	vtd_wr32(u, VTD_GCMD, on ? keep | bit : keep & ~bit);
	return vtd_wait32(u, VTD_GSTS, bit, on ? bit : 0);
}

bool vtd_inv_regs_global(const struct vtd_unit *u)
{
	unsigned int iotlb = VTD_ECAP_IRO(u->ecap) + 8;

	vtd_wr64(u, VTD_CCMD, 1ULL << 63 | 1ULL << 61);
	if (!vtd_wait64_clear(u, VTD_CCMD, 1ULL << 63))
		return false;
	vtd_wr64(u, iotlb, 1ULL << 63 | 1ULL << 60 | 1ULL << 49 | 1ULL << 48);
	return vtd_wait64_clear(u, iotlb, 1ULL << 63);
}

bool vtd_inv_iotlb_page(const struct vtd_unit *u, uint16_t did, uint64_t iova,
			volatile uint32_t *status)
{
	static uint32_t seq;
	bool psi = u->cap & VTD_CAP_PSI;
	unsigned int iva = VTD_ECAP_IRO(u->ecap), iotlb = iva + 8;

	iova &= ~0xfffULL;              /* AM 0: one page; IH 0 */
	if (vtd_rd32(u, VTD_GSTS) & VTD_GCMD_QIE) {
		vtd_qi_submit(u, psi ? VTD_QI_IOTLB_PAGE(did) : VTD_QI_IOTLB_DOMAIN(did),
			      psi ? iova : 0);
		seq = seq % 0xfffffu + 1;
		return vtd_qi_sync(u, status, 0x5a000000u | seq);
	}
	/* IVT, IIRG 3 (page) or 2 (domain), DR, DW, DID. */
	if (psi)
		vtd_wr64(u, iva, iova);
	vtd_wr64(u, iotlb, 1ULL << 63 | (psi ? 3ULL : 2ULL) << 60 | 1ULL << 49 | 1ULL << 48 |
		 (uint64_t)did << 32);
	return vtd_wait64_clear(u, iotlb, 1ULL << 63);
}

void vtd_fault_read(const struct vtd_unit *u, unsigned int i, struct vtd_fault *f)
{
	unsigned int off = VTD_CAP_FRO(u->cap) + 16 * i;
	uint64_t lo = vtd_rd64(u, off), hi = vtd_rd64(u, off + 8);

	f->valid = hi >> 63;
	f->read = (hi >> 62) & 1;
	f->reason = (uint8_t)(hi >> 32);
	f->sid = (uint16_t)hi;
	f->addr = lo & ~0xfffULL;
}

void vtd_fault_clear(const struct vtd_unit *u, unsigned int i)
{
	vtd_wr32(u, VTD_CAP_FRO(u->cap) + 16 * i + 12, 1u << 31);
}

void vtd_faults_clear_all(const struct vtd_unit *u)
{
	for (unsigned int i = 0; i < VTD_CAP_NFR(u->cap); i++)
		vtd_fault_clear(u, i);
	vtd_wr32(u, VTD_FSTS, VTD_FSTS_PFO);
}

bool vtd_fault_first(const struct vtd_unit *u, struct vtd_fault *f, unsigned int *index)
{
	unsigned int n = VTD_CAP_NFR(u->cap), first = VTD_FSTS_FRI(vtd_rd32(u, VTD_FSTS));

	for (unsigned int k = 0; k < n; k++) {
		unsigned int i = (first + k) % n;

		vtd_fault_read(u, i, f);
		if (f->valid) {
			*index = i;
			return true;
		}
	}
	return false;
}

void vtd_qi_setup(const struct vtd_unit *u, uint64_t iq_pa)
{
	iq = (uint64_t *)(uintptr_t)iq_pa;
	memset(iq, 0, IQ_ENTRIES * 16);
	iq_tail = 0;
	vtd_wr64(u, VTD_IQT, 0);
	vtd_wr64(u, VTD_IQA, iq_pa);    /* QS 0: one page, 256 descriptors */
}

void vtd_qi_submit(const struct vtd_unit *u, uint64_t lo, uint64_t hi)
{
	iq[2 * iq_tail] = lo;
	iq[2 * iq_tail + 1] = hi;
	iq_tail = (iq_tail + 1) % IQ_ENTRIES;
	__asm__ volatile("" ::: "memory");
	vtd_wr64(u, VTD_IQT, (uint64_t)iq_tail << 4);
}

bool vtd_qi_sync(const struct vtd_unit *u, volatile uint32_t *status, uint32_t value)
{
	uint64_t deadline = timer_deadline_us(VTD_WAIT_US);

	*status = 0;
	vtd_qi_submit(u, VTD_QI_WAIT | VTD_QI_WAIT_SW | (uint64_t)value << 32,
		      (uint64_t)(uintptr_t)status);
	while (*status != value) {
		if (timer_expired(deadline))
			return false;
		cpu_relax();
	}
	return true;
}

void vtd_irte_set(uint64_t *irt, unsigned int index, uint8_t vector, uint8_t apic_id,
		  bool level, unsigned int svt, uint16_t sid)
{
	/* P, fixed delivery, physical destination; xAPIC: the APIC id in
	 * DST bits 15:8 (IRTE bits 47:40). */
	irt[2 * index + 1] = (uint64_t)svt << 18 | sid;
	irt[2 * index] = 1ULL | (level ? 1ULL << 4 : 0) | (uint64_t)vector << 16 |
			 (uint64_t)apic_id << 40;
}
