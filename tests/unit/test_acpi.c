/* Unit tests for vmm/boot/acpi.c: build the table set and walk it the way a guest
 * does (RSDP -> XSDT/RSDT -> FADT -> DSDT, MADT, MCFG), checking every
 * pointer stays inside the image and every checksum holds; the DSDT's
 * placeholders are all patched; too-small buffers fail without overruns
 * (buffers are malloc'd at their exact size so ASan sees any stray write);
 * the optional DMAR (VT-d) is listed only when enabled, with its fields and
 * IOAPIC scope matching IOAPIC_RID; and, when iasl is on PATH, that iasl
 * disassembles every table. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cunit.h"
#include "isle/util.h"
#include "boot/acpi.h"
#include "boot/acpi_dsdt.h"
#include "boot/layout.h"
#include "irq/ioapic.h"

#define HDR_LEN 36
#define MMIO64_BASE (5 * GiB)   /* where layout puts it for 1 GiB of high RAM */

static struct acpi_config test_config(unsigned int nr_cpus)
{
	return (struct acpi_config){
		.base = LAYOUT_ACPI,
		.nr_cpus = nr_cpus,
		.ecam_base = LAYOUT_ECAM,
		.ecam_buses = LAYOUT_ECAM_BUSES,
		.mmio32_base = LAYOUT_MMIO32,
		.mmio32_size = LAYOUT_MMIO32_END - LAYOUT_MMIO32,
		.mmio64_base = MMIO64_BASE,
		.mmio64_size = LAYOUT_MMIO64_SIZE,
		.pio_base = LAYOUT_PIO_WINDOW,
		.pio_size = LAYOUT_PIO_WINDOW_END - LAYOUT_PIO_WINDOW,
		.ioapic_base = LAYOUT_IOAPIC,
		.lapic_base = LAYOUT_LAPIC,
	};
}

/* test_config with a DMAR: one unit at LAYOUT_VTD, the IOAPIC (id nr_cpus,
 * as in the MADT) as its scope. */
static struct acpi_config dmar_config(unsigned int nr_cpus, unsigned int width)
{
	struct acpi_config cfg = test_config(nr_cpus);

	cfg.dmar = (struct acpi_dmar){
		.enabled = true,
		.host_width = width,
		.intr_remap = true,
		.drhd_base = LAYOUT_VTD,
		.ioapic_id = (uint8_t)nr_cpus,
		.ioapic_sid = IOAPIC_RID,
	};
	return cfg;
}

/* The guest-visible image [base, base + size) backed by buf. */
struct image {
	const uint8_t *buf;
	size_t size;
	uint64_t base;
};

/* Pointer to [gpa, gpa + len) if it lies inside the image, else NULL. */
static const uint8_t *image_at(const struct image *im, uint64_t gpa, uint64_t len)
{
	if (gpa < im->base || !range_ok(gpa - im->base, len, im->size))
		return NULL;
	return im->buf + (gpa - im->base);
}

/* A table at gpa: header and whole length inside the image, checksum 0,
 * the expected signature. NULL (after failed assertions) otherwise. */
static const uint8_t *image_table(const struct image *im, uint64_t gpa, const char *sig)
{
	const uint8_t *t = image_at(im, gpa, HDR_LEN);
	uint32_t len;

	CU_ASSERT_PTR_NOT_NULL(t);
	if (!t)
		return NULL;
	len = get_le32(t + 4);
	CU_ASSERT(len >= HDR_LEN);
	CU_ASSERT_PTR_NOT_NULL(image_at(im, gpa, len));
	if (len < HDR_LEN || !image_at(im, gpa, len))
		return NULL;
	CU_ASSERT_EQUAL(acpi_checksum(t, len), 0);
	if (sig)
		CU_ASSERT_NSTRING_EQUAL(t, sig, 4);
	return t;
}

/* Occurrences of QWordConst v (0x0e + 8 LE bytes) in aml. */
static unsigned int aml_count_qword(const uint8_t *aml, size_t len, uint64_t v)
{
	unsigned int n = 0;

	for (size_t i = 0; i + 9 <= len; i++)
		if (aml[i] == 0x0e && get_le64(aml + i + 1) == v)
			n++;
	return n;
}

/* Bytes of the placeholder tag anywhere in aml, prefix or not. */
static unsigned int aml_count_tag(const uint8_t *aml, size_t len)
{
	unsigned int n = 0;

	for (size_t i = 0; i + 8 <= len; i++)
		if ((get_le64(aml + i) & DSDT_MAGIC_MASK) == DSDT_MAGIC_TAG)
			n++;
	return n;
}

/* The first element of \_S5's package: Name (_S5_, Package (n) { x, ... }). */
static int aml_s5_typ(const uint8_t *aml, size_t len)
{
	for (size_t i = 0; i + 10 <= len; i++) {
		const uint8_t *p = aml + i;

		if (p[0] != 0x08 || memcmp(p + 1, "_S5_", 4) || p[5] != 0x12)
			continue;
		/* p[6] PkgLength (one byte for so small a package), p[7] NumElements. */
		if (p[6] & 0xc0)
			return -1;
		switch (p[8]) {
		case 0x00: return 0;            /* ZeroOp */
		case 0x01: return 1;            /* OneOp */
		case 0x0a: return p[9];         /* BytePrefix */
		default: return -1;
		}
	}
	return -1;
}

static void check_fadt(const uint8_t *f, uint64_t *dsdt)
{
	uint32_t flags;

	CU_ASSERT_EQUAL(get_le32(f + 4), 276);
	CU_ASSERT_EQUAL(f[8], 6);
	flags = get_le32(f + 112);
	CU_ASSERT(flags & (1u << 20));                  /* HW_REDUCED_ACPI */
	CU_ASSERT(flags & (1u << 10));                  /* RESET_REG_SUP */
	CU_ASSERT(flags & (1u << 4));                   /* no fixed power button */
	CU_ASSERT(flags & (1u << 5));                   /* no fixed sleep button */
	/* IAPC_BOOT_ARCH: VGA not present, CMOS RTC not present, nothing else. */
	CU_ASSERT_EQUAL(get_le16(f + 109), (1u << 2) | (1u << 5));
	/* RESET_REG: system I/O, 8 bits at offset 0, byte access. */
	CU_ASSERT_EQUAL(f[116], 1);
	CU_ASSERT_EQUAL(f[117], 8);
	CU_ASSERT_EQUAL(f[118], 0);
	CU_ASSERT_EQUAL(f[119], 1);
	CU_ASSERT_EQUAL(get_le64(f + 120), ACPI_RESET_PORT);
	CU_ASSERT_EQUAL(f[128], ACPI_RESET_VALUE);
	/* SLEEP_CONTROL_REG and SLEEP_STATUS_REG. */
	CU_ASSERT_EQUAL(f[244], 1);
	CU_ASSERT_EQUAL(f[245], 8);
	CU_ASSERT_EQUAL(get_le64(f + 248), ACPI_SLEEP_CONTROL_PORT);
	CU_ASSERT_EQUAL(f[256], 1);
	CU_ASSERT_EQUAL(f[257], 8);
	CU_ASSERT_EQUAL(get_le64(f + 260), ACPI_SLEEP_STATUS_PORT);
	/* No SCI, no PM timer, no PM1/GPE blocks, no FACS. */
	CU_ASSERT_EQUAL(get_le16(f + 46), 0);
	CU_ASSERT_EQUAL(get_le32(f + 76), 0);
	CU_ASSERT_EQUAL(f[91], 0);
	CU_ASSERT_EQUAL(get_le64(f + 208 + 4), 0);
	CU_ASSERT_EQUAL(get_le32(f + 36), 0);
	CU_ASSERT_EQUAL(get_le64(f + 132), 0);
	*dsdt = get_le64(f + 140);
	/* The 32-bit DSDT field, when set, agrees with X_DSDT. */
	CU_ASSERT_EQUAL(get_le32(f + 40), *dsdt < 4 * GiB ? *dsdt : 0);
}

static void check_madt(const uint8_t *m, const struct acpi_config *cfg)
{
	uint32_t len = get_le32(m + 4), off;
	unsigned int lapics = 0, ioapics = 0, isos = 0, nmis = 0;

	CU_ASSERT_EQUAL(get_le32(m + 36), cfg->lapic_base);
	CU_ASSERT_EQUAL(get_le32(m + 40), 0);           /* no PCAT_COMPAT: no 8259 */
	for (off = 44; off + 2 <= len; off += m[off + 1]) {
		const uint8_t *e = m + off;

		CU_ASSERT_FATAL(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0:
			CU_ASSERT_EQUAL(e[1], 8);
			CU_ASSERT_EQUAL(e[2], lapics);  /* processor UID */
			CU_ASSERT_EQUAL(e[3], lapics);  /* APIC id */
			CU_ASSERT_EQUAL(get_le32(e + 4), 1);
			lapics++;
			break;
		case 1:
			CU_ASSERT_EQUAL(e[1], 12);
			CU_ASSERT_EQUAL(e[2], cfg->nr_cpus);
			CU_ASSERT_EQUAL(get_le32(e + 4), cfg->ioapic_base);
			CU_ASSERT_EQUAL(get_le32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			CU_ASSERT_EQUAL(e[1], 10);
			CU_ASSERT_EQUAL(e[2], 0);
			CU_ASSERT_EQUAL(e[3], 0);
			CU_ASSERT_EQUAL(get_le32(e + 4), 2);
			CU_ASSERT_EQUAL(get_le16(e + 8), 0x5);
			isos++;
			break;
		case 4:
			CU_ASSERT_EQUAL(e[1], 6);
			CU_ASSERT_EQUAL(e[2], 0xff);
			CU_ASSERT_EQUAL(e[5], 1);       /* LINT1 */
			nmis++;
			break;
		default:
			CU_FAIL("unexpected MADT entry type");
		}
	}
	CU_ASSERT_EQUAL(off, len);
	CU_ASSERT_EQUAL(lapics, cfg->nr_cpus);
	CU_ASSERT_EQUAL(ioapics, 1);
	CU_ASSERT_EQUAL(isos, 1);
	CU_ASSERT_EQUAL(nmis, 1);
}

static void check_mcfg(const uint8_t *m, const struct acpi_config *cfg)
{
	CU_ASSERT_EQUAL(get_le32(m + 4), 60);
	CU_ASSERT_EQUAL(get_le64(m + 44), cfg->ecam_base);
	CU_ASSERT_EQUAL(get_le16(m + 52), 0);
	CU_ASSERT_EQUAL(m[54], 0);
	CU_ASSERT_EQUAL(m[55], cfg->ecam_buses - 1);
}

/* DMAR: header, then exactly one DRHD holding exactly one IOAPIC scope. */
static void check_dmar(const uint8_t *t, const struct acpi_config *cfg)
{
	const struct acpi_dmar *d = &cfg->dmar;
	const uint8_t *u = t + 48, *sc = u + 16;

	CU_ASSERT_EQUAL_FATAL(get_le32(t + 4), 48 + 16 + 8);
	CU_ASSERT_EQUAL(t[8], 1);                       /* revision */
	CU_ASSERT_NSTRING_EQUAL(t + 16, "ISLEDMAR", 8);
	CU_ASSERT_EQUAL(t[36], d->host_width - 1);      /* HAW */
	CU_ASSERT_EQUAL(t[37], d->intr_remap ? 1 : 0);  /* INTR_REMAP, no X2APIC_OPT_OUT */
	for (int i = 38; i < 48; i++)
		CU_ASSERT_EQUAL(t[i], 0);
	CU_ASSERT_EQUAL(get_le16(u), 0);                /* DRHD */
	CU_ASSERT_EQUAL(get_le16(u + 2), 16 + 8);
	CU_ASSERT_EQUAL(u[4], 1);                       /* INCLUDE_PCI_ALL */
	CU_ASSERT_EQUAL(u[5], 0);
	CU_ASSERT_EQUAL(get_le16(u + 6), 0);            /* segment 0 */
	CU_ASSERT_EQUAL(get_le64(u + 8), d->drhd_base);
	CU_ASSERT_EQUAL(sc[0], 3);                      /* IOAPIC scope */
	CU_ASSERT_EQUAL(sc[1], 8);
	CU_ASSERT_EQUAL(sc[2], 0);
	CU_ASSERT_EQUAL(sc[3], 0);
	CU_ASSERT_EQUAL(sc[4], cfg->nr_cpus);           /* the MADT's IOAPIC id */
	/* The scope names the requester id the IOAPIC's interrupts carry. */
	CU_ASSERT_EQUAL((sc[5] << 8) | (sc[6] << 3) | sc[7], d->ioapic_sid);
	CU_ASSERT(sc[6] < 32 && sc[7] < 8);
}

static void check_dsdt(const uint8_t *d, const struct acpi_config *cfg)
{
	uint32_t len = get_le32(d + 4);

	CU_ASSERT_EQUAL(d[8], 2);                       /* 64-bit integers */
	CU_ASSERT_EQUAL(aml_count_tag(d, len), 0);
	CU_ASSERT(aml_count_qword(d, len, cfg->ecam_buses) >= 1);
	CU_ASSERT(aml_count_qword(d, len, cfg->pio_base) >= 1);
	CU_ASSERT(aml_count_qword(d, len, cfg->pio_size) >= 1);
	CU_ASSERT(aml_count_qword(d, len, cfg->mmio32_base) >= 1);
	CU_ASSERT(aml_count_qword(d, len, cfg->mmio32_size) >= 1);
	CU_ASSERT(aml_count_qword(d, len, cfg->mmio64_base) >= 1);
	CU_ASSERT(aml_count_qword(d, len, cfg->mmio64_size) >= 1);
	CU_ASSERT(aml_count_qword(d, len, cfg->ecam_base) >= 1);
	CU_ASSERT(aml_count_qword(d, len, cfg->ecam_buses * MiB) >= 1);
	CU_ASSERT_EQUAL(aml_s5_typ(d, len), ACPI_S5_SLP_TYP);
}

/* Walks the image from the RSDP as a guest would. */
static void check_image(const struct acpi_config *cfg, const uint8_t *buf, size_t size,
			uint64_t rsdp, int used)
{
	struct image im = { buf, size, cfg->base };
	const uint8_t *r, *x, *rt, *t, *fadt = NULL, *madt = NULL, *mcfg = NULL, *dmar = NULL;
	const uint8_t *d;
	uint64_t dsdt = 0;
	unsigned int n, i;

	CU_ASSERT_FATAL(used > 0 && (size_t)used <= size);
	CU_ASSERT_EQUAL(rsdp % 16, 0);
	CU_ASSERT(rsdp - cfg->base < 16);               /* first in the area */
	r = image_at(&im, rsdp, 36);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_NSTRING_EQUAL(r, "RSD PTR ", 8);
	CU_ASSERT_EQUAL(acpi_checksum(r, 20), 0);
	CU_ASSERT_EQUAL(acpi_checksum(r, 36), 0);
	CU_ASSERT_EQUAL(r[15], 2);
	CU_ASSERT_EQUAL(get_le32(r + 20), 36);

	x = image_table(&im, get_le64(r + 24), "XSDT");
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_EQUAL((get_le32(x + 4) - HDR_LEN) % 8, 0);
	n = (get_le32(x + 4) - HDR_LEN) / 8;
	CU_ASSERT_EQUAL(n, cfg->dmar.enabled ? 4 : 3);

	/* The RSDT, when present (tables below 4 GiB), lists the same tables. */
	if (get_le32(r + 16)) {
		rt = image_table(&im, get_le32(r + 16), "RSDT");
		CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
		CU_ASSERT_EQUAL(get_le32(rt + 4), HDR_LEN + 4 * n);
		for (i = 0; i < n; i++)
			CU_ASSERT_EQUAL(get_le32(rt + HDR_LEN + 4 * i),
					get_le64(x + HDR_LEN + 8 * i));
	} else {
		CU_ASSERT(cfg->base + size > 4 * GiB);
	}

	for (i = 0; i < n; i++) {
		uint64_t gpa = get_le64(x + HDR_LEN + 8 * i);

		CU_ASSERT_EQUAL(gpa % 8, 0);
		t = image_table(&im, gpa, NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(t);
		CU_ASSERT(gpa + get_le32(t + 4) <= cfg->base + (uint64_t)used);
		if (!memcmp(t, "FACP", 4)) {
			CU_ASSERT_EQUAL(i, 0);          /* FADT first */
			CU_ASSERT_PTR_NULL(fadt);
			fadt = t;
		} else if (!memcmp(t, "APIC", 4)) {
			CU_ASSERT_PTR_NULL(madt);
			madt = t;
		} else if (!memcmp(t, "MCFG", 4)) {
			CU_ASSERT_PTR_NULL(mcfg);
			mcfg = t;
		} else if (!memcmp(t, "DMAR", 4)) {
			CU_ASSERT(cfg->dmar.enabled);
			CU_ASSERT_PTR_NULL(dmar);
			dmar = t;
		} else {
			CU_FAIL("unexpected table in the XSDT");
		}
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(fadt);
	CU_ASSERT_PTR_NOT_NULL_FATAL(madt);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mcfg);

	check_fadt(fadt, &dsdt);
	d = image_table(&im, dsdt, "DSDT");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	check_dsdt(d, cfg);
	check_madt(madt, cfg);
	check_mcfg(mcfg, cfg);
	CU_ASSERT_EQUAL(dmar != NULL, cfg->dmar.enabled);
	if (dmar)
		check_dmar(dmar, cfg);
}

/* Builds into a malloc'd buffer of exactly size bytes and checks the result. */
static int build_and_check(const struct acpi_config *cfg, size_t size)
{
	uint8_t *buf = malloc(size);
	uint64_t rsdp = 0;
	int used;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	used = acpi_build(cfg, buf, size, &rsdp);
	CU_ASSERT(used > 0);
	if (used > 0)
		check_image(cfg, buf, size, rsdp, used);
	free(buf);
	return used;
}

static void test_checksum(void)
{
	uint8_t b[4] = { 0x10, 0x20, 0xf0, 0x01 };

	CU_ASSERT_EQUAL(acpi_checksum(b, 0), 0);
	CU_ASSERT_EQUAL(acpi_checksum(b, 4), 0x21);     /* 0x121 mod 256 */
	b[3] = (uint8_t)(b[3] - 0x21);
	CU_ASSERT_EQUAL(acpi_checksum(b, 4), 0);
}

static void test_one_cpu(void)
{
	struct acpi_config cfg = test_config(1);

	build_and_check(&cfg, LAYOUT_ACPI_SIZE);
}

static void test_four_cpus(void)
{
	struct acpi_config cfg = test_config(4);

	build_and_check(&cfg, LAYOUT_ACPI_SIZE);
}

static void test_max_cpus(void)
{
	struct acpi_config cfg = test_config(ACPI_MAX_CPUS);

	build_and_check(&cfg, LAYOUT_ACPI_SIZE);
}

/* Different run-time values reach the DSDT and MCFG; an unaligned base
 * still gets a 16-byte aligned RSDP. */
static void test_other_windows(void)
{
	struct acpi_config cfg = test_config(2);

	cfg.base = LAYOUT_ACPI + 4;
	cfg.ecam_base = 0xe0000000;
	cfg.ecam_buses = 16;
	cfg.mmio32_base = 0x80000000;
	cfg.mmio32_size = 0x40000000;
	cfg.mmio64_base = 0x8000000000ULL;
	cfg.mmio64_size = 0x100000000ULL;
	cfg.pio_base = 0x1000;
	cfg.pio_size = 0x1000;
	build_and_check(&cfg, LAYOUT_ACPI_SIZE - 4);
}

/* Tables above 4 GiB: no RSDT, no 32-bit DSDT pointer. */
static void test_above_4g(void)
{
	struct acpi_config cfg = test_config(4);

	cfg.base = 0x100000000ULL;
	build_and_check(&cfg, 64 * KiB);
}

/* No 64-bit window: still valid, its size patched to 0. */
static void test_no_mmio64(void)
{
	struct acpi_config cfg = test_config(4);

	cfg.mmio64_base = 0;
	cfg.mmio64_size = 0;
	build_and_check(&cfg, LAYOUT_ACPI_SIZE);
}

/* Padding and reserved bytes are written too: the result does not depend
 * on what the buffer held before. */
static void test_deterministic(void)
{
	struct acpi_config cfg = test_config(4);
	uint8_t *a = malloc(LAYOUT_ACPI_SIZE), *b = malloc(LAYOUT_ACPI_SIZE);
	uint64_t ra, rb;
	int na, nb;

	CU_ASSERT_FATAL(a && b);
	memset(a, 0xaa, LAYOUT_ACPI_SIZE);
	memset(b, 0x55, LAYOUT_ACPI_SIZE);
	na = acpi_build(&cfg, a, LAYOUT_ACPI_SIZE, &ra);
	nb = acpi_build(&cfg, b, LAYOUT_ACPI_SIZE, &rb);
	CU_ASSERT(na > 0);
	CU_ASSERT_EQUAL(na, nb);
	CU_ASSERT_EQUAL(ra, rb);
	if (na > 0 && na == nb)
		CU_ASSERT_EQUAL(memcmp(a, b, (size_t)na), 0);
	free(a);
	free(b);
}

static void test_bad_config(void)
{
	struct acpi_config good = test_config(4), cfg;
	uint8_t *buf = malloc(LAYOUT_ACPI_SIZE);
	uint64_t rsdp = 0x1234;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
#define BAD(field, value)                                                         \
	do {                                                                      \
		cfg = good;                                                       \
		cfg.field = (value);                                              \
		CU_ASSERT_EQUAL(acpi_build(&cfg, buf, LAYOUT_ACPI_SIZE, &rsdp), -EINVAL); \
	} while (0)
	BAD(nr_cpus, 0);
	BAD(nr_cpus, ACPI_MAX_CPUS + 1);
	BAD(ecam_buses, 0);
	BAD(ecam_buses, 257);
	BAD(ecam_base, UINT64_MAX - MiB);
	BAD(mmio32_size, 0);
	BAD(mmio32_base, 0xff000000);                   /* runs past 4 GiB */
	BAD(mmio64_base, UINT64_MAX - GiB);
	BAD(pio_size, 0);
	BAD(pio_base, 0x800);                           /* overlaps 0-0xcff */
	BAD(pio_base, 0xf000);                          /* runs past 0xffff */
	BAD(lapic_base, 4 * GiB);
	BAD(ioapic_base, 8 * GiB);
	BAD(base, UINT64_MAX - KiB);
#undef BAD
	CU_ASSERT_EQUAL(acpi_build(NULL, buf, LAYOUT_ACPI_SIZE, &rsdp), -EINVAL);
	CU_ASSERT_EQUAL(acpi_build(&good, buf, LAYOUT_ACPI_SIZE, NULL), -EINVAL);
	CU_ASSERT_EQUAL(acpi_build(&good, NULL, LAYOUT_ACPI_SIZE, &rsdp), -EINVAL);
	CU_ASSERT_EQUAL(rsdp, 0x1234);
	free(buf);
}

/* Every size short of what is needed fails with -ENOSPC, leaves *rsdp
 * alone and writes nothing past the buffer (exact-size mallocs for ASan). */
static void enospc_check(const struct acpi_config *cfg)
{
	uint8_t *big = malloc(LAYOUT_ACPI_SIZE);
	uint64_t rsdp;
	int need;

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	need = acpi_build(cfg, big, LAYOUT_ACPI_SIZE, &rsdp);
	free(big);
	CU_ASSERT_FATAL(need > 0);
	for (size_t size = 0; size < (size_t)need; size++) {
		uint8_t *buf = malloc(size);
		int r;

		rsdp = 0x1234;
		r = acpi_build(cfg, buf, size, &rsdp);
		if (r != -ENOSPC || rsdp != 0x1234) {
			CU_FAIL("short buffer not refused with -ENOSPC");
			fprintf(stderr, "size %zu of %d: got %d\n", size, need, r);
			free(buf);
			break;
		}
		free(buf);
	}
	CU_ASSERT_EQUAL(build_and_check(cfg, (size_t)need), need);
}

static void test_enospc(void)
{
	struct acpi_config cfg = test_config(1);

	enospc_check(&cfg);
	cfg = test_config(ACPI_MAX_CPUS);
	enospc_check(&cfg);
	cfg = test_config(3);
	cfg.base = LAYOUT_ACPI + 8;                     /* padding in play */
	enospc_check(&cfg);
}

static void test_find_qword(void)
{
	uint8_t aml[32] = { 0 };
	const uint64_t magic = DSDT_MAGIC_BUSES;

	CU_ASSERT_EQUAL(acpi_aml_find_qword(aml, sizeof(aml), magic), -EINVAL);
	/* The value bytes alone, without the QWordPrefix, do not count. */
	put_le64(aml + 4, magic);
	CU_ASSERT_EQUAL(acpi_aml_find_qword(aml, sizeof(aml), magic), -EINVAL);
	aml[3] = 0x0e;
	CU_ASSERT_EQUAL(acpi_aml_find_qword(aml, sizeof(aml), magic), 4);
	/* A second copy makes it ambiguous. */
	aml[20] = 0x0e;
	put_le64(aml + 21, magic);
	CU_ASSERT_EQUAL(acpi_aml_find_qword(aml, sizeof(aml), magic), -EINVAL);
	/* Cut short of the second copy's last byte: unique again. */
	CU_ASSERT_EQUAL(acpi_aml_find_qword(aml, 28, magic), 4);
	/* At the very end of the buffer. */
	CU_ASSERT_EQUAL(acpi_aml_find_qword(aml + 12, 17, magic), 9);
}

/* --- DMAR (VT-d) -------------------------------------------------------- */

/* The DMAR is found through the XSDT and RSDT with the right HAW for both
 * widths; the IOAPIC scope spells IOAPIC_RID = bus 0xf0, device 0x1f, fn 0. */
static void test_dmar(void)
{
	struct acpi_config cfg = dmar_config(4, 39);
	uint8_t *buf = malloc(LAYOUT_ACPI_SIZE);
	const uint8_t *x, *t = NULL;
	uint64_t rsdp;
	int used;

	build_and_check(&cfg, LAYOUT_ACPI_SIZE);
	cfg = dmar_config(4, 48);
	cfg.dmar.intr_remap = false;
	build_and_check(&cfg, LAYOUT_ACPI_SIZE);
	cfg = dmar_config(ACPI_MAX_CPUS, 48);
	build_and_check(&cfg, LAYOUT_ACPI_SIZE);
	cfg = dmar_config(2, 39);
	cfg.base = 0x100000000ULL;                      /* XSDT only */
	build_and_check(&cfg, 64 * KiB);

	/* Spelled out once, independently of check_dmar's decoding. */
	cfg = dmar_config(4, 39);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	used = acpi_build(&cfg, buf, LAYOUT_ACPI_SIZE, &rsdp);
	CU_ASSERT_FATAL(used > 0);
	x = buf + (get_le64(buf + (rsdp - cfg.base) + 24) - cfg.base);
	for (unsigned int i = 0; i < (get_le32(x + 4) - HDR_LEN) / 8; i++) {
		const uint8_t *e = buf + (get_le64(x + HDR_LEN + 8 * i) - cfg.base);

		if (!memcmp(e, "DMAR", 4))
			t = e;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(t[36], 38);
	CU_ASSERT_EQUAL(t[37], 1);
	CU_ASSERT_EQUAL(get_le64(t + 56), 0xfed90000ULL);
	CU_ASSERT_EQUAL(t[68], 4);                      /* IOAPIC id */
	CU_ASSERT_EQUAL(t[69], 0xf0);                   /* start bus */
	CU_ASSERT_EQUAL(t[70], 0x1f);                   /* device */
	CU_ASSERT_EQUAL(t[71], 0);                      /* function */
	free(buf);
}

/* Disabled, the DMAR's other fields are ignored: byte for byte the same
 * image as with no DMAR description at all (check_image also refuses a
 * DMAR in the XSDT). */
static void test_dmar_disabled(void)
{
	struct acpi_config plain = test_config(4), off = dmar_config(4, 48);
	uint8_t *a = malloc(LAYOUT_ACPI_SIZE), *b = malloc(LAYOUT_ACPI_SIZE);
	uint64_t ra, rb;
	int na, nb;

	CU_ASSERT_FATAL(a && b);
	off.dmar.enabled = false;
	off.dmar.ioapic_id = 99;                        /* would be refused if enabled */
	build_and_check(&off, LAYOUT_ACPI_SIZE);
	memset(a, 0xaa, LAYOUT_ACPI_SIZE);
	memset(b, 0x55, LAYOUT_ACPI_SIZE);
	na = acpi_build(&plain, a, LAYOUT_ACPI_SIZE, &ra);
	nb = acpi_build(&off, b, LAYOUT_ACPI_SIZE, &rb);
	CU_ASSERT(na > 0);
	CU_ASSERT_EQUAL(na, nb);
	CU_ASSERT_EQUAL(ra, rb);
	if (na > 0 && na == nb)
		CU_ASSERT_EQUAL(memcmp(a, b, (size_t)na), 0);
	free(a);
	free(b);
}

static void test_dmar_bad_config(void)
{
	struct acpi_config good = dmar_config(4, 39), cfg;
	uint8_t *buf = malloc(LAYOUT_ACPI_SIZE);
	uint64_t rsdp = 0x1234;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
#define BAD(field, value)                                                         \
	do {                                                                      \
		cfg = good;                                                       \
		cfg.dmar.field = (value);                                         \
		CU_ASSERT_EQUAL(acpi_build(&cfg, buf, LAYOUT_ACPI_SIZE, &rsdp), -EINVAL); \
	} while (0)
	BAD(host_width, 0);
	BAD(host_width, 40);
	BAD(host_width, 64);
	BAD(drhd_base, 0);
	BAD(drhd_base, LAYOUT_VTD + 8);                 /* unaligned */
	BAD(drhd_base, 1ULL << 39);                     /* beyond a 39-bit width */
	BAD(drhd_base, UINT64_MAX & ~0xfffULL);
	BAD(ioapic_id, 3);                              /* the MADT says 4 */
#undef BAD
	CU_ASSERT_EQUAL(rsdp, 0x1234);
	/* The last page below 2^39 is fine; with 48 bits so is 2^39. */
	cfg = good;
	cfg.dmar.drhd_base = (1ULL << 39) - 0x1000;
	CU_ASSERT(acpi_build(&cfg, buf, LAYOUT_ACPI_SIZE, &rsdp) > 0);
	cfg = dmar_config(4, 48);
	cfg.dmar.drhd_base = 1ULL << 39;
	CU_ASSERT(acpi_build(&cfg, buf, LAYOUT_ACPI_SIZE, &rsdp) > 0);
	free(buf);
}

static void test_dmar_enospc(void)
{
	struct acpi_config cfg = dmar_config(3, 48);

	enospc_check(&cfg);
}

/* --- ACPICA tools: iasl and acpiexec ----------------------------------- */

static bool on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	char file[4096];
	bool found = false;

	if (!path)
		return false;
	copy = strdup(path);
	if (!copy)
		return false;
	for (dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
		snprintf(file, sizeof(file), "%s/%s", *dir ? dir : ".", prog);
		found = access(file, X_OK) == 0;
	}
	free(copy);
	return found;
}

/* Runs argv in dir with stdout and stderr appended to dir/log; exit status. */
static int run_in(const char *dir, const char *log, char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd;

		if (chdir(dir) == 0 && (fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644)) >= 0 &&
		    dup2(fd, 1) >= 0 && dup2(fd, 2) >= 0)
			execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static char *path_in(char *path, size_t size, const char *dir, const char *name)
{
	snprintf(path, size, "%s/%s", dir, name);
	return path;
}

static void dump_file(const char *dir, const char *name)
{
	char path[4096], line[512];
	FILE *f = fopen(path_in(path, sizeof(path), dir, name), "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

static bool write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f = fopen(path_in(path, sizeof(path), dir, name), "wb");
	bool ok;

	if (!f)
		return false;
	ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

/* Reads up to size bytes of dir/name into buf; bytes read or -1. */
static long read_file(const char *dir, const char *name, uint8_t *buf, size_t size)
{
	char path[4096];
	FILE *f = fopen(path_in(path, sizeof(path), dir, name), "rb");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, size, f);
	fclose(f);
	return (long)n;
}

/* Whether dir/name contains s. */
static bool file_contains(const char *dir, const char *name, const char *s)
{
	char path[4096], line[1024];
	FILE *f = fopen(path_in(path, sizeof(path), dir, name), "r");
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, s) != NULL;
	fclose(f);
	return found;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* Builds the 4-CPU set and writes every table a guest can reach (XSDT,
 * RSDT, the XSDT's entries, the DSDT) to dir as <signature>.dat, lower
 * case. Returns the number of tables written, 0 on failure. */
static unsigned int write_tables(const char *dir, const uint8_t *buf, uint64_t base,
				 uint64_t rsdp)
{
	const uint8_t *r = buf + (rsdp - base), *x, *t;
	uint64_t gpas[8];
	unsigned int n = 0, i;

	gpas[n++] = get_le64(r + 24);
	if (get_le32(r + 16))
		gpas[n++] = get_le32(r + 16);
	x = buf + (gpas[0] - base);
	for (i = 0; i < (get_le32(x + 4) - HDR_LEN) / 8 && n < ARRAY_SIZE(gpas) - 1; i++)
		gpas[n++] = get_le64(x + HDR_LEN + 8 * i);
	gpas[n++] = get_le64(buf + (get_le64(x + HDR_LEN) - base) + 140);   /* X_DSDT */

	for (i = 0; i < n; i++) {
		char name[16];

		t = buf + (gpas[i] - base);
		snprintf(name, sizeof(name), "%.4s.dat", (const char *)t);
		for (char *c = name; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
		if (!write_file(dir, name, t, get_le32(t + 4)))
			return 0;
	}
	return n;
}

/* iasl -d name.dat must succeed without flagging a field ("Incorrect
 * checksum", "Invalid ..."); the .dsl must compile back, and for data
 * tables to the same bytes (bar the checksum and compiler id iasl writes). */
static void iasl_round_trip(const char *dir, const char *sig)
{
	char dat[16], dsl[16], out[16], aml[16];
	char *dis[] = { "iasl", "-d", dat, NULL };
	char *comp[] = { "iasl", "-p", out, dsl, NULL };
	uint8_t a[4096], b[4096];
	long na, nb;

	snprintf(dat, sizeof(dat), "%s.dat", sig);
	snprintf(dsl, sizeof(dsl), "%s.dsl", sig);
	snprintf(out, sizeof(out), "%s-rt", sig);
	snprintf(aml, sizeof(aml), "%s-rt.aml", sig);
	if (run_in(dir, "iasl.log", dis) != 0) {
		CU_FAIL("iasl -d failed");
		fprintf(stderr, "iasl -d %s failed:\n", dat);
		dump_file(dir, "iasl.log");
		return;
	}
	if (file_contains(dir, dsl, "Invalid") || file_contains(dir, dsl, "Incorrect")) {
		CU_FAIL("iasl -d flagged a field");
		fprintf(stderr, "iasl -d %s flagged a field, see %s/%s\n", dat, dir, dsl);
	}
	if (run_in(dir, "iasl.log", comp) != 0) {
		CU_FAIL("iasl could not recompile a disassembled table");
		fprintf(stderr, "iasl %s failed:\n", dsl);
		dump_file(dir, "iasl.log");
		return;
	}
	/* iasl re-optimises the DSDT's patched QWordConsts: only data tables
	 * come back byte for byte. */
	if (!strcmp(sig, "dsdt"))
		return;
	na = read_file(dir, dat, a, sizeof(a));
	nb = read_file(dir, aml, b, sizeof(b));
	CU_ASSERT(na >= HDR_LEN && na == nb);
	if (na >= HDR_LEN && na == nb) {
		CU_ASSERT_EQUAL(memcmp(a, b, 9), 0);            /* signature, length, revision */
		CU_ASSERT_EQUAL(memcmp(a + 10, b + 10, 18), 0); /* OEM fields */
		CU_ASSERT_EQUAL(memcmp(a + HDR_LEN, b + HDR_LEN, (size_t)na - HDR_LEN), 0);
	}
}

/* Every table of cfg's set (signatures sigs[0, n), in write_tables order)
 * through iasl; the directory is left for extra checks and returned in dir
 * (removed on success by iasl_done). */
static void iasl_tables(const struct acpi_config *cfg, const char *const *sigs, size_t n,
			char *dir)
{
	uint8_t *buf = malloc(LAYOUT_ACPI_SIZE);
	uint64_t rsdp;
	int used;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	used = acpi_build(cfg, buf, LAYOUT_ACPI_SIZE, &rsdp);
	CU_ASSERT_FATAL(used > 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	CU_ASSERT_EQUAL(write_tables(dir, buf, cfg->base, rsdp), n);
	for (size_t i = 0; i < n; i++)
		iasl_round_trip(dir, sigs[i]);
	free(buf);
}

static void iasl_done(char *dir)
{
	if (CU_get_number_of_failures() == 0)
		nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	else
		fprintf(stderr, "iasl files kept in %s\n", dir);
}

/* The DMAR decodes as iasl reads it: HAW 38 (0x26), INTR_REMAP, the
 * unit at 0xfed90000 and the IOAPIC scope at 0xf0:1f.0 with id 4. */
static void test_iasl_dmar(void)
{
	static const char *const sigs[] = { "xsdt", "rsdt", "facp", "apic", "mcfg", "dmar",
					    "dsdt" };
	static const char *const want[] = {
		"Host Address Width : 26", "Flags : 01",
		"Register Base Address : 00000000FED90000", "Device Scope Type : 03",
		"Enumeration ID : 04", "PCI Bus Number : F0", "PCI Path : 1F,00",
	};
	struct acpi_config cfg = dmar_config(4, 39);
	char dir[] = "/tmp/isle-acpi-XXXXXX";

	if (!on_path("iasl")) {
		fprintf(stderr, "test_iasl_dmar: iasl not on PATH, skipped\n");
		CU_PASS("iasl not on PATH: skipped");
		return;
	}
	iasl_tables(&cfg, sigs, ARRAY_SIZE(sigs), dir);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		if (!file_contains(dir, "dmar.dsl", want[i])) {
			CU_FAIL("iasl -d: DMAR field not as built");
			fprintf(stderr, "dmar.dsl lacks \"%s\"\n", want[i]);
		}
	}
	iasl_done(dir);
}

/* Every table through iasl. (iasl 20200925 cannot read a lone RSDP from a
 * file, so the RSDP is only checked by check_image.) */
static void test_iasl_disassemble(void)
{
	static const char *const sigs[] = { "xsdt", "rsdt", "facp", "apic", "mcfg", "dsdt" };
	struct acpi_config cfg = test_config(4);
	char dir[] = "/tmp/isle-acpi-XXXXXX";

	if (!on_path("iasl")) {
		fprintf(stderr, "test_iasl_disassemble: iasl not on PATH, skipped\n");
		CU_PASS("iasl not on PATH: skipped");
		return;
	}
	iasl_tables(&cfg, sigs, ARRAY_SIZE(sigs), dir);
	iasl_done(dir);
}

/* The patched DSDT runs: ACPICA's acpiexec loads it with our FADT, MADT
 * and MCFG, evaluates both _CRS methods and takes the hardware-reduced S5
 * path through SLEEP_CONTROL_REG. Skipped without acpiexec. */
static void test_acpiexec(void)
{
	struct acpi_config cfg = test_config(4);
	char dir[] = "/tmp/isle-acpi-XXXXXX";
	char cmds[] = "evaluate \\_SB.PCI0._CRS; evaluate \\_SB.MBRD._CRS; sleep 5";
	char *argv[] = { "acpiexec", "-b", cmds, "dsdt.dat", "facp.dat", "apic.dat",
			 "mcfg.dat", NULL };
	uint8_t *buf;
	uint64_t rsdp;
	int used;

	if (!on_path("acpiexec")) {
		fprintf(stderr, "test_acpiexec: acpiexec not on PATH, skipped\n");
		CU_PASS("acpiexec not on PATH: skipped");
		return;
	}
	buf = malloc(LAYOUT_ACPI_SIZE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	used = acpi_build(&cfg, buf, LAYOUT_ACPI_SIZE, &rsdp);
	CU_ASSERT_FATAL(used > 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	CU_ASSERT_FATAL(write_tables(dir, buf, cfg.base, rsdp) > 0);
	run_in(dir, "acpiexec.log", argv);      /* its exit status says little */
	CU_ASSERT(file_contains(dir, "acpiexec.log", "Evaluation of \\_SB.PCI0._CRS returned"));
	CU_ASSERT(file_contains(dir, "acpiexec.log", "Evaluation of \\_SB.MBRD._CRS returned"));
	CU_ASSERT(file_contains(dir, "acpiexec.log", "HwExtendedSleep"));
	CU_ASSERT(file_contains(dir, "acpiexec.log", "Sleep-A: 05"));
	CU_ASSERT(!file_contains(dir, "acpiexec.log", "ACPI Error"));
	CU_ASSERT(!file_contains(dir, "acpiexec.log", "ACPI Exception"));
	CU_ASSERT(!file_contains(dir, "acpiexec.log", "ACPI Warning"));
	if (CU_get_number_of_failures() == 0) {
		nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	} else {
		fprintf(stderr, "acpiexec output (files kept in %s):\n", dir);
		dump_file(dir, "acpiexec.log");
	}
	free(buf);
}

void unit_register(void)
{
	UNIT_SUITE("acpi",
		   UNIT_TEST(test_checksum),
		   UNIT_TEST(test_one_cpu),
		   UNIT_TEST(test_four_cpus),
		   UNIT_TEST(test_max_cpus),
		   UNIT_TEST(test_other_windows),
		   UNIT_TEST(test_above_4g),
		   UNIT_TEST(test_no_mmio64),
		   UNIT_TEST(test_deterministic),
		   UNIT_TEST(test_bad_config),
		   UNIT_TEST(test_enospc),
		   UNIT_TEST(test_find_qword),
		   UNIT_TEST(test_dmar),
		   UNIT_TEST(test_dmar_disabled),
		   UNIT_TEST(test_dmar_bad_config),
		   UNIT_TEST(test_dmar_enospc),
		   UNIT_TEST(test_iasl_disassemble),
		   UNIT_TEST(test_iasl_dmar),
		   UNIT_TEST(test_acpiexec));
}
