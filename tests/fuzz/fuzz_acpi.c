/* libFuzzer target for vmm/boot/acpi.c, the builder of every table a guest
 * parses (RSDP, XSDT, FADT, MADT, MCFG, DSDT patching, and the DMAR the
 * VT-d needs): configurations from the fuzzer, including the ones the
 * builder must refuse (CPU counts, windows that overflow or overlap 4 GiB,
 * DMAR widths and register pages), and buffers too small.
 *
 * Input: up to 96 bytes filling struct fields in order (little-endian):
 * nr_cpus u16, ecam_buses u16, then u64s ecam_base, mmio32_base,
 * mmio32_size, mmio64_base, mmio64_size, ioapic_base, lapic_base,
 * drhd_base; then pio_base u16, pio_size u16, a flags byte (bit 0 DMAR
 * enabled, bit 1 intr_remap, bit 2 48-bit width, bit 3 a bad width),
 * ioapic_id u8, ioapic_sid u16, and a u16 buffer-size cut (x2). Seeds in
 * corpus/acpi: isle's own configurations (1 and 255 CPUs, with and without
 * the DMAR, 39 and 48 bits).
 *
 * Checks beyond ASan/UBSan (abort on violation): a success returns a size
 * within the buffer and an RSDP inside it whose checksums hold, an XSDT
 * whose every entry points at a whole table inside the buffer with a zero
 * checksum, and a DMAR exactly when one was asked for, naming the register
 * page and IOAPIC it was given. */
#include <stdlib.h>
#include <string.h>

#include "isle/util.h"
#include "boot/acpi.h"

#define BUF_SIZE 0x1f000u
#define BASE     0xe0000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[BUF_SIZE];

struct reader {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct reader *r, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		if (r->left) {
			v |= (uint64_t)*r->p++ << (8 * i);
			r->left--;
		}
	return v;
}

static void check_tables(const struct acpi_config *c, size_t used, uint64_t rsdp)
{
	const uint8_t *rp, *x;
	uint64_t xsdt;
	uint32_t xlen;
	bool dmar = false;

	if (used > BUF_SIZE || rsdp < BASE || rsdp - BASE + 36 > used)
		abort();
	rp = buf + (rsdp - BASE);
	if (memcmp(rp, "RSD PTR ", 8) || acpi_checksum(rp, 20) || acpi_checksum(rp, 36))
		abort();
	xsdt = get_le64(rp + 24);
	if (xsdt < BASE || xsdt - BASE + 36 > used)
		abort();
	x = buf + (xsdt - BASE);
	xlen = get_le32(x + 4);
	if (xlen < 36 || xsdt - BASE + xlen > used || acpi_checksum(x, xlen) || (xlen - 36) % 8)
		abort();
	for (uint32_t o = 36; o < xlen; o += 8) {
		uint64_t t = get_le64(x + o);
		const uint8_t *h;
		uint32_t len;

		if (t < BASE || t - BASE + 36 > used)
			abort();
		h = buf + (t - BASE);
		len = get_le32(h + 4);
		if (len < 36 || t - BASE + len > used || acpi_checksum(h, len))
			abort();
		if (!memcmp(h, "DMAR", 4)) {
			/* DRHD right after the 48-byte header: base and scope. */
			if (len < 48 + 16 || get_le16(h + 48) != 0 ||
			    get_le64(h + 56) != c->dmar.drhd_base)
				abort();
			dmar = true;
		}
	}
	if (dmar != c->dmar.enabled)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r = { data, size };
	struct acpi_config c = { .base = BASE };
	uint8_t flags;
	size_t cut;
	uint64_t rsdp = 0;
	int ret;

	c.nr_cpus = (unsigned int)take(&r, 2);
	c.ecam_buses = (unsigned int)take(&r, 2);
	c.ecam_base = take(&r, 8);
	c.mmio32_base = take(&r, 8);
	c.mmio32_size = take(&r, 8);
	c.mmio64_base = take(&r, 8);
	c.mmio64_size = take(&r, 8);
	c.ioapic_base = take(&r, 8);
	c.lapic_base = take(&r, 8);
	c.dmar.drhd_base = take(&r, 8);
	c.pio_base = (uint16_t)take(&r, 2);
	c.pio_size = (uint16_t)take(&r, 2);
	flags = (uint8_t)take(&r, 1);
	c.dmar.ioapic_id = (uint8_t)take(&r, 1);
	c.dmar.ioapic_sid = (uint16_t)take(&r, 2);
	cut = (size_t)take(&r, 2) * 2;
	c.dmar.enabled = flags & 1;
	c.dmar.intr_remap = flags & 2;
	c.dmar.host_width = flags & 8 ? 40 : flags & 4 ? 48 : 39;

	ret = acpi_build(&c, buf, BUF_SIZE - MIN(cut, (size_t)BUF_SIZE), &rsdp);
	if (ret > 0)
		check_tables(&c, (size_t)ret, rsdp);
	else if (ret == 0)
		abort();   /* a success always writes something */
	return 0;
}
