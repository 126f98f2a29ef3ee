/* Builds the guest's ACPI tables (owner: acpi.c; API in vmm/boot/acpi.h).
 *
 * Layout inside buf, every table 16-byte aligned in guest-physical terms:
 *   RSDP (first, so a legacy scan of 0xe0000-0xfffff finds it), then one
 *   table per entry of acpi_builders[] (DSDT, FADT, MADT, MCFG, DMAR), then the
 *   XSDT and, while everything sits below 4 GiB, an RSDT for old guests.
 * The root tables come last so their entry counts are known: a builder may
 * decide its table is absent (the DMAR without VT-d) by returning 0
 * without allocating.
 *
 * The FADT is hardware-reduced: no SCI, no PM1/GPE blocks, no PM timer, no
 * FACS; the guest powers off through SLEEP_CONTROL_REG with \_S5's SLP_TYP
 * and resets through RESET_REG (both handled by power.c).
 *
 * The DSDT comes from vmm/boot/dsdt.asl, compiled by iasl at build time into
 * dsdt.hex; run-time values replace placeholders in it (see acpi_dsdt.h).
 *
 * Contract: nothing is written outside buf[0, size); on error the contents
 * of buf are unspecified and *rsdp is untouched. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "isle/log.h"
#include "isle/util.h"
#include "boot/acpi.h"
#include "boot/acpi_dsdt.h"

/* iasl -tc writes "unsigned char dsdt_aml_code[] = { ... };" into dsdt.hex
 * (build directory); give the array a module-prefixed name. It is not const
 * because iasl does not emit it so: never write to it. */
#define dsdt_aml_code acpi_dsdt_aml
extern unsigned char acpi_dsdt_aml[];
#include "dsdt.hex"
#undef dsdt_aml_code

_Static_assert(ACPI_S5_SLP_TYP == DSDT_S5_SLP_TYP, "\\_S5 in dsdt.asl must match power.c");

#define ACPI_4G                 (1ULL << 32)
#define ACPI_ALIGN              16
#define ACPI_MAX_BUSES          256
#define ACPI_ECAM_BUS_SIZE      (1ULL << 20)

/* Common table header (ACPI 6.2, 5.2.6). */
#define ACPI_HDR_LEN            36
#define ACPI_HDR_LENGTH         4
#define ACPI_HDR_CHECKSUM       9
#define ACPI_OEM_ID             "ISLE  "
#define ACPI_OEM_REVISION       1
#define ACPI_CREATOR_ID         "ISLE"
#define ACPI_CREATOR_REVISION   1

/* RSDP (5.2.5.3). */
#define RSDP_LEN                36
#define RSDP_V1_LEN             20
#define RSDP_CHECKSUM           8
#define RSDP_OEM_ID             9
#define RSDP_REVISION           15
#define RSDP_RSDT               16
#define RSDP_LENGTH             20
#define RSDP_XSDT               24
#define RSDP_EXT_CHECKSUM       32

/* FADT revision 6.2 (5.2.9): field offsets. */
#define FADT_LEN                276
#define FADT_REVISION           6
#define FADT_MINOR_REVISION     2
#define FADT_DSDT               40
#define FADT_IAPC_BOOT_ARCH     109
#define FADT_FLAGS              112
#define FADT_RESET_REG          116
#define FADT_RESET_VALUE        128
#define FADT_MINOR_VERSION      131
#define FADT_X_DSDT             140
#define FADT_SLEEP_CONTROL_REG  244
#define FADT_SLEEP_STATUS_REG   256
#define FADT_HYPERVISOR_ID      268

#define FADT_F_WBINVD           (1u << 0)
#define FADT_F_PWR_BUTTON       (1u << 4)   /* set: no fixed power button */
#define FADT_F_SLP_BUTTON       (1u << 5)   /* set: no fixed sleep button */
#define FADT_F_RESET_REG_SUP    (1u << 10)
#define FADT_F_HW_REDUCED_ACPI  (1u << 20)

#define FADT_BOOT_VGA_NOT_PRESENT      (1u << 2)
#define FADT_BOOT_CMOS_RTC_NOT_PRESENT (1u << 5)

/* Generic Address Structure (5.2.3.2). */
#define GAS_SPACE_SYSTEM_IO     1
#define GAS_ACCESS_BYTE         1

/* MADT revision 4 (5.2.12). */
#define MADT_REVISION           4
#define MADT_HDR_LEN            44
#define MADT_FLAGS_PCAT_COMPAT  (1u << 0)
#define MADT_LAPIC              0
#define MADT_LAPIC_LEN          8
#define MADT_IOAPIC             1
#define MADT_IOAPIC_LEN         12
#define MADT_ISO                2
#define MADT_ISO_LEN            10
#define MADT_LAPIC_NMI          4
#define MADT_LAPIC_NMI_LEN      6
#define MADT_LAPIC_ENABLED      (1u << 0)
#define MPS_INTI_EDGE_HIGH      0x0005      /* polarity 01 high, trigger 01 edge */
#define MADT_ALL_PROCESSORS     0xff

/* MCFG (PCI Firmware spec 3.2, 4.1.2). */
#define MCFG_REVISION           1
#define MCFG_LEN                (ACPI_HDR_LEN + 8 + 16)

/* DMAR (Intel VT-d spec 8.1-8.3): header, one DRHD, one IOAPIC scope. */
#define DMAR_REVISION           1
#define DMAR_HDR_LEN            48      /* + HAW, flags, 10 reserved bytes */
#define DMAR_HAW                36
#define DMAR_FLAGS              37
#define DMAR_DRHD               0       /* remapping structure types */
#define DMAR_DRHD_LEN           16      /* without its device scopes */
#define DMAR_DRHD_INCLUDE_PCI_ALL (1u << 0)
#define DMAR_SCOPE_IOAPIC       3       /* device scope types */
#define DMAR_SCOPE_LEN          8       /* with a one-entry path */
#define DMAR_LEN                (DMAR_HDR_LEN + DMAR_DRHD_LEN + DMAR_SCOPE_LEN)
#define DMAR_PAGE               0x1000ULL

#define XSDT_REVISION           1
#define RSDT_REVISION           1

#define AML_QWORD_PREFIX        0x0e

struct acpi_ctx {
	const struct acpi_config *cfg;
	uint8_t *buf;
	size_t size;
	size_t off;                     /* first free byte in buf */
	uint64_t dsdt;                  /* guest-physical, once built */
	uint64_t tables[8];             /* XSDT entries, in order */
	unsigned int nr_tables;
};

/* One builder per table; the DSDT comes first because the FADT points at
 * it, the FADT first among the XSDT entries because some guests expect it
 * there. A new table is one more line here; the DMAR is the last. */
static int acpi_build_dsdt(struct acpi_ctx *ctx);
static int acpi_build_fadt(struct acpi_ctx *ctx);
static int acpi_build_madt(struct acpi_ctx *ctx);
static int acpi_build_mcfg(struct acpi_ctx *ctx);
static int acpi_build_dmar(struct acpi_ctx *ctx);

static int (*const acpi_builders[])(struct acpi_ctx *ctx) = {
	acpi_build_dsdt,
	acpi_build_fadt,
	acpi_build_madt,
	acpi_build_mcfg,
	acpi_build_dmar,
};

_Static_assert(ARRAY_SIZE(acpi_builders) <= ARRAY_SIZE(((struct acpi_ctx *)0)->tables),
	       "struct acpi_ctx: too few XSDT slots");

uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *b++);
	return sum;
}

static void acpi_set_checksum(uint8_t *t, size_t len, size_t at)
{
	t[at] = 0;
	t[at] = (uint8_t)-acpi_checksum(t, len);
}

/* Reserves len zeroed bytes at the next ACPI_ALIGN-aligned guest-physical
 * address (padding zeroed too); NULL, with nothing written, if they do not
 * fit in buf. */
static uint8_t *acpi_alloc(struct acpi_ctx *ctx, size_t len)
{
	size_t pad = (size_t)(-(ctx->cfg->base + ctx->off) & (ACPI_ALIGN - 1));

	if (!range_ok(ctx->off, pad, ctx->size) || !range_ok(ctx->off + pad, len, ctx->size))
		return NULL;
	memset(ctx->buf + ctx->off, 0, pad + len);
	ctx->off += pad + len;
	return ctx->buf + ctx->off - len;
}

static uint64_t acpi_gpa(const struct acpi_ctx *ctx, const uint8_t *p)
{
	return ctx->cfg->base + (uint64_t)(p - ctx->buf);
}

/* The OEM table id names the table ("ISLEAPIC") to ease reading dumps. */
static void acpi_put_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put_le32(t + ACPI_HDR_LENGTH, len);
	t[8] = rev;
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, "ISLE", 4);
	memcpy(t + 20, sig, 4);
	put_le32(t + 24, ACPI_OEM_REVISION);
	memcpy(t + 28, ACPI_CREATOR_ID, 4);
	put_le32(t + 32, ACPI_CREATOR_REVISION);
}

/* Checksums a finished table and lists it in the XSDT. */
static void acpi_add_table(struct acpi_ctx *ctx, uint8_t *t)
{
	acpi_set_checksum(t, get_le32(t + ACPI_HDR_LENGTH), ACPI_HDR_CHECKSUM);
	ctx->tables[ctx->nr_tables++] = acpi_gpa(ctx, t);
}

int acpi_aml_find_qword(const uint8_t *aml, size_t len, uint64_t magic)
{
	int found = -EINVAL;
	size_t i;

	if (len > (size_t)INT32_MAX)
		return -EINVAL;
	for (i = 0; i + 9 <= len; i++) {
		if (aml[i] != AML_QWORD_PREFIX || get_le64(aml + i + 1) != magic)
			continue;
		if (found >= 0)
			return -EINVAL;
		found = (int)(i + 1);
	}
	return found;
}

/* Counts QWordConsts carrying the placeholder tag, so a placeholder added
 * to dsdt.asl without a patch here is caught rather than shipped. */
static unsigned int acpi_aml_count_tagged(const uint8_t *aml, size_t len)
{
	unsigned int n = 0;
	size_t i;

	for (i = 0; i + 9 <= len; i++)
		if (aml[i] == AML_QWORD_PREFIX &&
		    (get_le64(aml + i + 1) & DSDT_MAGIC_MASK) == DSDT_MAGIC_TAG)
			n++;
	return n;
}

struct acpi_patch {
	uint64_t magic;
	uint64_t value;
	int at;                         /* offset of the value bytes */
};

static int acpi_build_dsdt(struct acpi_ctx *ctx)
{
	const struct acpi_config *cfg = ctx->cfg;
	const size_t len = sizeof(acpi_dsdt_aml);
	struct acpi_patch patches[] = {
		{ DSDT_MAGIC_BUSES, cfg->ecam_buses, 0 },
		{ DSDT_MAGIC_PIO_BASE, cfg->pio_base, 0 },
		{ DSDT_MAGIC_PIO_SIZE, cfg->pio_size, 0 },
		{ DSDT_MAGIC_MMIO32_BASE, cfg->mmio32_base, 0 },
		{ DSDT_MAGIC_MMIO32_SIZE, cfg->mmio32_size, 0 },
		{ DSDT_MAGIC_MMIO64_BASE, cfg->mmio64_base, 0 },
		{ DSDT_MAGIC_MMIO64_SIZE, cfg->mmio64_size, 0 },
		{ DSDT_MAGIC_ECAM_BASE, cfg->ecam_base, 0 },
		{ DSDT_MAGIC_ECAM_SIZE, cfg->ecam_buses * ACPI_ECAM_BUS_SIZE, 0 },
	};
	uint8_t *t;
	size_t i;

	/* Locate every placeholder in the pristine template first, so a
	 * patched value can never be mistaken for a later placeholder. */
	if (len < ACPI_HDR_LEN || get_le32(acpi_dsdt_aml + ACPI_HDR_LENGTH) != len) {
		log_error("acpi: DSDT template length mismatch");
		return -EINVAL;
	}
	for (i = 0; i < ARRAY_SIZE(patches); i++) {
		patches[i].at = acpi_aml_find_qword(acpi_dsdt_aml, len, patches[i].magic);
		if (patches[i].at < 0) {
			log_error("acpi: DSDT placeholder %#llx missing or repeated",
				  (unsigned long long)patches[i].magic);
			return -EINVAL;
		}
	}
	if (acpi_aml_count_tagged(acpi_dsdt_aml, len) != ARRAY_SIZE(patches)) {
		log_error("acpi: dsdt.asl has placeholders acpi.c does not patch");
		return -EINVAL;
	}

	t = acpi_alloc(ctx, len);
	if (!t)
		return -ENOSPC;
	memcpy(t, acpi_dsdt_aml, len);
	for (i = 0; i < ARRAY_SIZE(patches); i++)
		put_le64(t + patches[i].at, patches[i].value);
	acpi_set_checksum(t, len, ACPI_HDR_CHECKSUM);
	ctx->dsdt = acpi_gpa(ctx, t);
	return 0;
}

/* An 8-bit register in system I/O space. */
static void acpi_put_gas_io8(uint8_t *p, uint16_t port)
{
	p[0] = GAS_SPACE_SYSTEM_IO;
	p[1] = 8;                       /* register bit width */
	p[2] = 0;                       /* bit offset */
	p[3] = GAS_ACCESS_BYTE;
	put_le64(p + 4, port);
}

static int acpi_build_fadt(struct acpi_ctx *ctx)
{
	uint8_t *t = acpi_alloc(ctx, FADT_LEN);

	if (!t)
		return -ENOSPC;
	acpi_put_header(t, "FACP", FADT_LEN, FADT_REVISION);
	/* The 32-bit DSDT field may only hold the same address as X_DSDT. */
	if (ctx->dsdt < ACPI_4G)
		put_le32(t + FADT_DSDT, (uint32_t)ctx->dsdt);
	put_le16(t + FADT_IAPC_BOOT_ARCH,
		 FADT_BOOT_VGA_NOT_PRESENT | FADT_BOOT_CMOS_RTC_NOT_PRESENT);
	put_le32(t + FADT_FLAGS, FADT_F_WBINVD | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON |
		 FADT_F_RESET_REG_SUP | FADT_F_HW_REDUCED_ACPI);
	acpi_put_gas_io8(t + FADT_RESET_REG, ACPI_RESET_PORT);
	t[FADT_RESET_VALUE] = ACPI_RESET_VALUE;
	t[FADT_MINOR_VERSION] = FADT_MINOR_REVISION;
	put_le64(t + FADT_X_DSDT, ctx->dsdt);
	acpi_put_gas_io8(t + FADT_SLEEP_CONTROL_REG, ACPI_SLEEP_CONTROL_PORT);
	acpi_put_gas_io8(t + FADT_SLEEP_STATUS_REG, ACPI_SLEEP_STATUS_PORT);
	memcpy(t + FADT_HYPERVISOR_ID, "ISLE", 4);
	acpi_add_table(ctx, t);
	return 0;
}

static int acpi_build_madt(struct acpi_ctx *ctx)
{
	const struct acpi_config *cfg = ctx->cfg;
	size_t len = MADT_HDR_LEN + (size_t)cfg->nr_cpus * MADT_LAPIC_LEN + MADT_IOAPIC_LEN +
		     MADT_ISO_LEN + MADT_LAPIC_NMI_LEN;
	uint8_t *t = acpi_alloc(ctx, len);
	uint8_t *e;
	unsigned int i;

	if (!t)
		return -ENOSPC;
	acpi_put_header(t, "APIC", (uint32_t)len, MADT_REVISION);
	put_le32(t + 36, (uint32_t)cfg->lapic_base);
	/* No PCAT_COMPAT: there is no 8259 (split irqchip, IOAPIC only). */
	put_le32(t + 40, 0);
	e = t + MADT_HDR_LEN;

	for (i = 0; i < cfg->nr_cpus; i++, e += MADT_LAPIC_LEN) {
		e[0] = MADT_LAPIC;
		e[1] = MADT_LAPIC_LEN;
		e[2] = (uint8_t)i;      /* ACPI processor UID */
		e[3] = (uint8_t)i;      /* APIC id */
		put_le32(e + 4, MADT_LAPIC_ENABLED);
	}

	e[0] = MADT_IOAPIC;
	e[1] = MADT_IOAPIC_LEN;
	e[2] = (uint8_t)cfg->nr_cpus;   /* first id after the CPUs' */
	put_le32(e + 4, (uint32_t)cfg->ioapic_base);
	put_le32(e + 8, 0);             /* GSI base */
	e += MADT_IOAPIC_LEN;

	/* ISA IRQ0 is wired to IOAPIC pin 2, as on every PC (isle has no PIT,
	 * but vm_irq_line keeps the PC wiring, as QEMU's IOAPIC does). */
	e[0] = MADT_ISO;
	e[1] = MADT_ISO_LEN;
	e[2] = 0;                       /* bus: ISA */
	e[3] = 0;                       /* source IRQ */
	put_le32(e + 4, 2);             /* GSI */
	put_le16(e + 8, MPS_INTI_EDGE_HIGH);
	e += MADT_ISO_LEN;

	e[0] = MADT_LAPIC_NMI;
	e[1] = MADT_LAPIC_NMI_LEN;
	e[2] = MADT_ALL_PROCESSORS;
	put_le16(e + 3, MPS_INTI_EDGE_HIGH);
	e[5] = 1;                       /* LINT1 */

	acpi_add_table(ctx, t);
	return 0;
}

static int acpi_build_mcfg(struct acpi_ctx *ctx)
{
	const struct acpi_config *cfg = ctx->cfg;
	uint8_t *t = acpi_alloc(ctx, MCFG_LEN);
	uint8_t *a;

	if (!t)
		return -ENOSPC;
	acpi_put_header(t, "MCFG", MCFG_LEN, MCFG_REVISION);
	a = t + ACPI_HDR_LEN + 8;       /* after 8 reserved bytes */
	put_le64(a, cfg->ecam_base);
	put_le16(a + 8, 0);             /* PCI segment */
	a[10] = 0;                      /* start bus */
	a[11] = (uint8_t)(cfg->ecam_buses - 1);
	acpi_add_table(ctx, t);
	return 0;
}

/* One remapping unit (DRHD) for segment 0 that covers every PCI device
 * (INCLUDE_PCI_ALL) and, through an explicit scope, the IOAPIC: Linux turns
 * interrupt remapping off unless the IOAPIC is in some DRHD's scope. The
 * scope's path is the IOAPIC's (device, function) on bus sid >> 8. Absent
 * (no allocation, no XSDT entry) unless cfg->dmar.enabled. */
static int acpi_build_dmar(struct acpi_ctx *ctx)
{
	const struct acpi_dmar *d = &ctx->cfg->dmar;
	uint8_t *t, *u, *sc;

	if (!d->enabled)
		return 0;
	t = acpi_alloc(ctx, DMAR_LEN);
	if (!t)
		return -ENOSPC;
	acpi_put_header(t, "DMAR", DMAR_LEN, DMAR_REVISION);
	t[DMAR_HAW] = (uint8_t)(d->host_width - 1);
	/* X2APIC_OPT_OUT stays clear: the guest may use x2APIC mode. */
	t[DMAR_FLAGS] = d->intr_remap ? ACPI_DMAR_INTR_REMAP : 0;

	u = t + DMAR_HDR_LEN;
	put_le16(u, DMAR_DRHD);
	put_le16(u + 2, DMAR_DRHD_LEN + DMAR_SCOPE_LEN);
	u[4] = DMAR_DRHD_INCLUDE_PCI_ALL;
	u[5] = 0;                       /* size: 2^0 pages of registers */
	put_le16(u + 6, 0);             /* PCI segment */
	put_le64(u + 8, d->drhd_base);

	sc = u + DMAR_DRHD_LEN;
	sc[0] = DMAR_SCOPE_IOAPIC;
	sc[1] = DMAR_SCOPE_LEN;
	sc[4] = d->ioapic_id;           /* enumeration id: the MADT's IOAPIC id */
	sc[5] = (uint8_t)(d->ioapic_sid >> 8);          /* start bus */
	sc[6] = (uint8_t)((d->ioapic_sid >> 3) & 0x1f); /* path: device */
	sc[7] = (uint8_t)(d->ioapic_sid & 0x7);         /* path: function */

	acpi_add_table(ctx, t);
	return 0;
}

/* XSDT (8-byte entries) or RSDT (4-byte entries) listing ctx->tables. */
static uint8_t *acpi_build_root(struct acpi_ctx *ctx, const char *sig, size_t entry_len)
{
	size_t len = ACPI_HDR_LEN + ctx->nr_tables * entry_len;
	uint8_t *t = acpi_alloc(ctx, len);
	unsigned int i;

	if (!t)
		return NULL;
	acpi_put_header(t, sig, (uint32_t)len, entry_len == 8 ? XSDT_REVISION : RSDT_REVISION);
	for (i = 0; i < ctx->nr_tables; i++) {
		if (entry_len == 8)
			put_le64(t + ACPI_HDR_LEN + i * 8, ctx->tables[i]);
		else
			put_le32(t + ACPI_HDR_LEN + i * 4, (uint32_t)ctx->tables[i]);
	}
	acpi_set_checksum(t, len, ACPI_HDR_CHECKSUM);
	return t;
}

/* True when [base, base + size) is non-empty, does not wrap and ends at or
 * below limit. */
static bool acpi_window_ok(uint64_t base, uint64_t size, uint64_t limit)
{
	return size && base <= limit && size <= limit - base;
}

/* The DMAR can only describe what a guest's VT-d driver accepts: a 39- or
 * 48-bit width (3- or 4-level tables), one aligned register page the unit
 * can itself address, and the same IOAPIC id as the MADT's. */
static int acpi_check_dmar(const struct acpi_config *cfg)
{
	const struct acpi_dmar *d = &cfg->dmar;

	if (!d->enabled)
		return 0;
	if (d->host_width != 39 && d->host_width != 48)
		return -EINVAL;
	if (!d->drhd_base || d->drhd_base % DMAR_PAGE ||
	    !acpi_window_ok(d->drhd_base, DMAR_PAGE, 1ULL << d->host_width))
		return -EINVAL;
	if (d->ioapic_id != cfg->nr_cpus)
		return -EINVAL;
	return 0;
}

static int acpi_check_config(const struct acpi_config *cfg, size_t size)
{
	if (cfg->nr_cpus == 0 || cfg->nr_cpus > ACPI_MAX_CPUS)
		return -EINVAL;
	if (cfg->ecam_buses == 0 || cfg->ecam_buses > ACPI_MAX_BUSES ||
	    !acpi_window_ok(cfg->ecam_base, cfg->ecam_buses * ACPI_ECAM_BUS_SIZE, UINT64_MAX))
		return -EINVAL;
	if (!acpi_window_ok(cfg->mmio32_base, cfg->mmio32_size, ACPI_4G))
		return -EINVAL;
	/* An empty 64-bit window is allowed: the DSDT then leaves it out. */
	if (cfg->mmio64_size && !acpi_window_ok(cfg->mmio64_base, cfg->mmio64_size, UINT64_MAX))
		return -EINVAL;
	/* The I/O window must stay clear of 0-0xcff, which _CRS lists apart. */
	if (cfg->pio_base < 0xd00 || !acpi_window_ok(cfg->pio_base, cfg->pio_size, 0x10000))
		return -EINVAL;
	if (cfg->lapic_base >= ACPI_4G || cfg->ioapic_base >= ACPI_4G)
		return -EINVAL;
	if (size > UINT64_MAX - cfg->base)
		return -EINVAL;
	return acpi_check_dmar(cfg);
}

int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t size, uint64_t *rsdp)
{
	struct acpi_ctx ctx = { .cfg = cfg, .buf = buf, .size = size };
	uint8_t *r, *xsdt, *rsdt = NULL;
	size_t i, rsdt_len;
	int ret;

	if (!cfg || !rsdp || (!buf && size))
		return -EINVAL;
	ret = acpi_check_config(cfg, size);
	if (ret)
		return ret;

	r = acpi_alloc(&ctx, RSDP_LEN);
	if (!r)
		return -ENOSPC;
	for (i = 0; i < ARRAY_SIZE(acpi_builders); i++) {
		ret = acpi_builders[i](&ctx);
		if (ret)
			return ret;
	}
	xsdt = acpi_build_root(&ctx, "XSDT", 8);
	if (!xsdt)
		return -ENOSPC;
	/* An RSDT only helps guests that cannot read the XSDT, and those can
	 * only reach it (and its 32-bit entries) below 4 GiB. */
	rsdt_len = ACPI_HDR_LEN + ctx.nr_tables * 4;
	if (cfg->base < ACPI_4G && ACPI_4G - cfg->base >= ctx.off + ACPI_ALIGN + rsdt_len) {
		rsdt = acpi_build_root(&ctx, "RSDT", 4);
		if (!rsdt)
			return -ENOSPC;
	}

	memcpy(r, "RSD PTR ", 8);
	memcpy(r + RSDP_OEM_ID, ACPI_OEM_ID, 6);
	r[RSDP_REVISION] = 2;
	if (rsdt)
		put_le32(r + RSDP_RSDT, (uint32_t)acpi_gpa(&ctx, rsdt));
	put_le32(r + RSDP_LENGTH, RSDP_LEN);
	put_le64(r + RSDP_XSDT, acpi_gpa(&ctx, xsdt));
	acpi_set_checksum(r, RSDP_V1_LEN, RSDP_CHECKSUM);
	acpi_set_checksum(r, RSDP_LEN, RSDP_EXT_CHECKSUM);

	*rsdp = acpi_gpa(&ctx, r);
	return (int)ctx.off;
}
