/* ACPI table access for the test guest: finds the RSDP, walks the XSDT (or
 * RSDT), and decodes what the scenarios need: MCFG (where ECAM is), MADT
 * (which CPUs exist) and the FADT's power-off and reset registers (with
 * \_S5 from the DSDT). Tables are read in place: everything below
 * 4 GiB is identity mapped. Pointers from tables are not trusted beyond
 * 4 GiB or past their stated lengths. */
#include "guest.h"

#define BIOS_AREA_START 0xe0000
#define BIOS_AREA_END   0x100000
#define EBDA_PTR        0x40e
#define PHYS_LIMIT      0x100000000ull
#define TABLE_MAX_LEN   (1u << 20)

static const struct acpi_rsdp *rsdp_cached;
static bool rsdp_searched;

bool acpi_checksum_ok(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *b++);
	return sum == 0;
}

static bool rsdp_valid(const struct acpi_rsdp *r)
{
	if (memcmp(r->signature, "RSD PTR ", 8))
		return false;
	return acpi_checksum_ok(r, 20);
}

static const struct acpi_rsdp *rsdp_scan(uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a + sizeof(struct acpi_rsdp) <= end; a += 16) {
		const struct acpi_rsdp *r = phys_ptr(a);

		if (rsdp_valid(r))
			return r;
	}
	return NULL;
}

const struct acpi_rsdp *acpi_rsdp(void)
{
	const struct acpi_rsdp *r = NULL;

	if (rsdp_searched)
		return rsdp_cached;
	rsdp_searched = true;
	/* PVH hands it over; the legacy search is the fallback. */
	if (boot.start.rsdp_paddr && boot.start.rsdp_paddr < PHYS_LIMIT) {
		r = phys_ptr(boot.start.rsdp_paddr);
		if (!rsdp_valid(r))
			r = NULL;
	}
	if (!r) {
		uint64_t ebda = (uint64_t)*(volatile uint16_t *)phys_ptr(EBDA_PTR) << 4;

		if (ebda >= 0x80000 && ebda < 0xa0000)
			r = rsdp_scan(ebda, ebda + 1024);
	}
	if (!r)
		r = rsdp_scan(BIOS_AREA_START, BIOS_AREA_END);
	rsdp_cached = r;
	return r;
}

/* A table header at paddr that is mapped and has a sane length. */
static const struct acpi_header *table_at(uint64_t paddr)
{
	const struct acpi_header *h;

	if (!paddr || paddr >= PHYS_LIMIT - TABLE_MAX_LEN)
		return NULL;
	h = phys_ptr(paddr);
	if (h->length < sizeof(*h) || h->length > TABLE_MAX_LEN)
		return NULL;
	return h;
}

static bool root_is_xsdt(const struct acpi_rsdp *r)
{
	return r->revision >= 2 && r->xsdt;
}

const struct acpi_header *acpi_root(void)
{
	const struct acpi_rsdp *r = acpi_rsdp();

	if (!r)
		return NULL;
	return table_at(root_is_xsdt(r) ? r->xsdt : r->rsdt);
}

unsigned int acpi_table_count(void)
{
	const struct acpi_header *root = acpi_root();
	const struct acpi_rsdp *r = acpi_rsdp();

	if (!root)
		return 0;
	return (unsigned int)((root->length - sizeof(*root)) /
			      (root_is_xsdt(r) ? 8 : 4));
}

const struct acpi_header *acpi_table(unsigned int i)
{
	const struct acpi_header *root = acpi_root();
	const uint8_t *entries;

	if (!root || i >= acpi_table_count())
		return NULL;
	entries = (const uint8_t *)(root + 1);
	if (root_is_xsdt(acpi_rsdp()))
		return table_at(get_le64(entries + 8 * i));
	return table_at(get_le32(entries + 4 * i));
}

const struct acpi_header *acpi_find(const char *sig)
{
	unsigned int n = acpi_table_count();

	for (unsigned int i = 0; i < n; i++) {
		const struct acpi_header *h = acpi_table(i);

		if (h && !memcmp(h->signature, sig, 4))
			return h;
	}
	return NULL;
}

/* MCFG: header, 8 reserved bytes, then 16-byte allocation entries. */
bool acpi_mcfg_ecam(struct acpi_ecam *out)
{
	const struct acpi_header *h = acpi_find("MCFG");
	const uint8_t *p, *end;

	if (!h || !acpi_checksum_ok(h, h->length))
		return false;
	p = (const uint8_t *)h + sizeof(*h) + 8;
	end = (const uint8_t *)h + h->length;
	for (; p + 16 <= end; p += 16) {
		uint16_t seg = get_le16(p + 8);

		/* Bus 0 of segment 0 is all the guest looks at. */
		if (seg != 0 || p[10] != 0)
			continue;
		out->base = get_le64(p);
		out->segment = seg;
		out->bus_start = p[10];
		out->bus_end = p[11];
		return out->base != 0;
	}
	return false;
}

#define MADT_LAPIC   0
#define MADT_X2APIC  9
#define MADT_ENABLED        0x1
#define MADT_ONLINE_CAPABLE 0x2

/* MADT: header, LAPIC address, flags, then variable-length entries. */
int acpi_madt_cpus(struct acpi_cpu *out, int max, uint32_t *lapic_addr)
{
	const struct acpi_header *h = acpi_find("APIC");
	const uint8_t *p, *end;
	int n = 0;

	if (!h || h->length < sizeof(*h) + 8 || !acpi_checksum_ok(h, h->length))
		return -1;
	p = (const uint8_t *)h + sizeof(*h);
	*lapic_addr = get_le32(p);
	p += 8;
	end = (const uint8_t *)h + h->length;
	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		struct acpi_cpu cpu = { 0 };
		bool is_cpu = false;

		if (p[0] == MADT_LAPIC && p[1] >= 8) {
			uint32_t flags = get_le32(p + 4);

			cpu.uid = p[2];
			cpu.apic_id = p[3];
			cpu.enabled = flags & MADT_ENABLED;
			is_cpu = true;
		} else if (p[0] == MADT_X2APIC && p[1] >= 16) {
			uint32_t flags = get_le32(p + 8);

			cpu.apic_id = get_le32(p + 4);
			cpu.uid = get_le32(p + 12);
			cpu.enabled = flags & MADT_ENABLED;
			cpu.x2apic = true;
			is_cpu = true;
		}
		if (is_cpu) {
			if (n < max)
				out[n] = cpu;
			n++;
		}
		p += p[1];
	}
	return n;
}

/* FADT offsets (ACPI 6.x, 5.2.9). */
#define FADT_DSDT           40
#define FADT_PM1A_CNT_BLK   64
#define FADT_FLAGS          112
#define FADT_RESET_REG      116
#define FADT_RESET_VALUE    128
#define FADT_X_DSDT         140
#define FADT_SLEEP_CONTROL  244
#define FADT_F_RESET_REG    (1u << 10)
#define FADT_F_HW_REDUCED   (1u << 20)
#define GAS_SPACE_IO        1

/* An I/O-space Generic Address Structure's port; 0 if it is not one. */
static uint16_t gas_io_port(const uint8_t *gas)
{
	uint64_t addr = get_le64(gas + 4);

	if (gas[0] != GAS_SPACE_IO || !addr || addr > 0xffff)
		return 0;
	return (uint16_t)addr;
}

/* SLP_TYPa of \_S5 from the DSDT's AML: NameOp "_S5_" PackageOp PkgLength
 * NumElements, then the first element as a ZeroOp, OneOp or BytePrefix
 * constant. A byte scan rather than an AML interpreter: enough for the
 * DSDTs of isle and QEMU, and it fails closed. */
static bool dsdt_s5(const struct acpi_header *dsdt, uint8_t *typ)
{
	const uint8_t *p = (const uint8_t *)dsdt + sizeof(*dsdt);
	const uint8_t *end = (const uint8_t *)dsdt + dsdt->length;

	for (; p + 8 <= end; p++) {
		const uint8_t *q;

		if (memcmp(p, "_S5_", 4) || p == (const uint8_t *)dsdt + sizeof(*dsdt))
			continue;
		if (p[-1] != 0x08 && !(p[-1] == '\\' && p[-2] == 0x08))
			continue;
		if (p[4] != 0x12)                       /* PackageOp */
			continue;
		q = p + 5 + 1 + (p[5] >> 6);            /* skip PkgLength */
		q++;                                    /* NumElements */
		if (q + 2 > end)
			return false;
		if (q[0] == 0x00 || q[0] == 0x01) {     /* ZeroOp, OneOp */
			*typ = q[0];
			return true;
		}
		if (q[0] == 0x0a) {                     /* BytePrefix */
			*typ = q[1];
			return true;
		}
		return false;
	}
	return false;
}

bool acpi_sleep_s5(struct acpi_s5 *out)
{
	const struct acpi_header *fadt = acpi_find("FACP"), *dsdt = NULL;
	const uint8_t *f = (const uint8_t *)fadt;

	if (!fadt || fadt->length < FADT_FLAGS + 4)
		return false;
	if (fadt->length >= FADT_X_DSDT + 8 && get_le64(f + FADT_X_DSDT))
		dsdt = table_at(get_le64(f + FADT_X_DSDT));
	if (!dsdt)
		dsdt = table_at(get_le32(f + FADT_DSDT));
	if (!dsdt || !dsdt_s5(dsdt, &out->slp_typ))
		return false;
	out->hw_reduced = get_le32(f + FADT_FLAGS) & FADT_F_HW_REDUCED;
	if (out->hw_reduced) {
		if (fadt->length < FADT_SLEEP_CONTROL + 12)
			return false;
		out->port = gas_io_port(f + FADT_SLEEP_CONTROL);
	} else {
		out->port = (uint16_t)get_le32(f + FADT_PM1A_CNT_BLK);
	}
	return out->port != 0;
}

bool acpi_reset_reg(uint16_t *port, uint8_t *value)
{
	const struct acpi_header *fadt = acpi_find("FACP");
	const uint8_t *f = (const uint8_t *)fadt;

	if (!fadt || fadt->length < FADT_RESET_VALUE + 1 ||
	    !(get_le32(f + FADT_FLAGS) & FADT_F_RESET_REG))
		return false;
	*port = gas_io_port(f + FADT_RESET_REG);
	*value = f[FADT_RESET_VALUE];
	return *port != 0;
}
