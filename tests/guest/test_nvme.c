/* Scenario "nvme": an NVMe controller (PCI class 01:08:02) driven by
 * frontends/nvme.c, with completions signalled by MSI-X: QEMU's nvme
 * (-device nvme, the reference) and the same device assigned to isle.
 *
 * Checks: BAR0 is a 64-bit memory BAR; CAP and VS (>= 1.0); where the MSI-X
 * table and PBA live (QEMU's nvme: BAR0, next to the registers, which a
 * VMM assigning the device must trap without hiding the doorbells);
 * disable (CC.EN = 0, CSTS.RDY clears within CAP.TO); a 16-entry admin
 * queue pair in page-aligned RAM; MSI-X vectors 0 (admin) and 1 (I/O)
 * unmasked and MSI-X enabled with the function mask off (before the
 * enable: see msix_setup); enable (CC:
 * IOSQES 6, IOCQES 4, MPS 0, EN) and CSTS.RDY. Then, each command
 * completed by its MSI-X interrupt (phase tag, command id and status 0
 * checked before the CQ head doorbell is rung): Identify Controller (VID
 * equals the PCI vendor id, serial and model printable, SQES/CQES allow
 * 64/16 bytes; nvme_serial=S compares the serial), the active namespace
 * list (starts with 1), Identify Namespace 1 (LBA size), Set Features
 * Number of Queues; an I/O CQ/SQ pair on vector 1, a 4 KiB write of a
 * fresh pattern at LBA 0 of namespace 1 and a read back compared byte for
 * byte; finally disable again, so the controller stops touching our
 * memory. Skips (77) without an NVMe function. */
#include "nvme.h"

#include "guest.h"

#define NVME_CLASS      0x010802
#define VEC_ADMIN       0x58        /* MSI-X vector 0 */
#define VEC_IO          0x59        /* MSI-X vector 1 */
#define WAIT_US         2000000     /* a completion under TCG, or through a VMM */
#define QSIZE           16
#define NSID            1

#define MSIX_CTRL          2
#define MSIX_TABLE_REG     4
#define MSIX_PBA_REG       8
#define MSIX_CTRL_SIZE     0x07ff
#define MSIX_CTRL_FMASK    0x4000
#define MSIX_CTRL_ENABLE   0x8000
#define MSIX_ENTRY_SIZE    16

static struct nvme nv;
static struct nvme_queue adminq, ioq;
static uint16_t bdf;
static struct pci_bar bar0;

static uint8_t admin_sq[NVME_PAGE] __attribute__((aligned(NVME_PAGE)));
static uint8_t admin_cq[NVME_PAGE] __attribute__((aligned(NVME_PAGE)));
static uint8_t io_sq[NVME_PAGE] __attribute__((aligned(NVME_PAGE)));
static uint8_t io_cq[NVME_PAGE] __attribute__((aligned(NVME_PAGE)));
static uint8_t idbuf[NVME_ID_BYTES] __attribute__((aligned(NVME_PAGE)));
static uint8_t wbuf[NVME_PAGE] __attribute__((aligned(NVME_PAGE)));
static uint8_t rbuf[NVME_PAGE] __attribute__((aligned(NVME_PAGE)));

/* ---- nvme_env over BAR0 ------------------------------------------------ */

static uint32_t regs_read32(void *ctx, uint32_t off)
{
	if ((uint64_t)off + 4 > bar0.size)
		return UINT32_MAX;
	return mmio_read32(bar0.addr + off);
}

static void regs_write32(void *ctx, uint32_t off, uint32_t v)
{
	if ((uint64_t)off + 4 <= bar0.size)
		mmio_write32(bar0.addr + off, v);
}

static const struct nvme_env env = {
	.read32 = regs_read32,
	.write32 = regs_write32,
};

/* ---- PCI side ----------------------------------------------------------- */

static int nvme_find(void)
{
	struct pci_dev devs[64];
	int n = pci_scan_bus0(devs, ARRAY_SIZE(devs));

	for (int i = 0; i < n && i < (int)ARRAY_SIZE(devs); i++) {
		if (devs[i].class_rev >> 8 == NVME_CLASS)
			return devs[i].bdf;
	}
	return -1;
}

/* Address of memory BAR idx, mapped and reachable; 0 on failure. */
static uint64_t bar_reach(unsigned int idx, uint64_t *size)
{
	struct pci_bar b;
	uint64_t addr;

	pci_bar_probe(bdf, idx, &b);
	addr = b.present && !b.io ? pci_bar_map(bdf, idx) : 0;
	if (!addr || !paging_map(addr, b.size))
		return 0;
	*size = b.size;
	return addr;
}

static bool check_bar0(void)
{
	pci_bar_probe(bdf, 0, &bar0);
	report(bar0.present && !bar0.io && bar0.is64, "BAR0: 64-bit memory BAR, %lu KiB%s",
	       bar0.size >> 10, bar0.prefetch ? ", prefetchable" : "");
	if (!bar0.present || bar0.io || bar0.size < 0x2000)
		return report(false, "BAR0 large enough for registers and doorbells");
	bar0.addr = bar_reach(0, &bar0.size);
	pci_write16(bdf, PCI_COMMAND, pci_read16(bdf, PCI_COMMAND) | PCI_CMD_MEM |
		    PCI_CMD_MASTER | PCI_CMD_INTX_OFF);
	return report(bar0.addr != 0, "BAR0 at %#lx, reachable", bar0.addr);
}

static bool check_caps(void)
{
	int r = nvme_probe(&nv, &env);

	report_info("CAP %#lx: MQES %u, TO %u ms, DSTRD %u, MPSMIN %u, MPSMAX %u", nv.cap,
		    NVME_CAP_MQES(nv.cap) + 1, NVME_CAP_TO(nv.cap) * 500, NVME_CAP_DSTRD(nv.cap),
		    NVME_CAP_MPSMIN(nv.cap), NVME_CAP_MPSMAX(nv.cap));
	report(nv.vs >= NVME_VS(1, 0), "VS %u.%u.%u (>= 1.0)", nv.vs >> 16, (nv.vs >> 8) & 0xff,
	       nv.vs & 0xff);
	if (!report(r == 0, "CAP usable: NVM command set, 4 KiB pages, queues%s%s",
		    r ? ": " : "", r ? nv.error : ""))
		return false;
	return report(nv.mqes >= QSIZE, "queues of %u entries allowed (MQES %u)", QSIZE,
		      nv.mqes);
}

/* Finds the MSI-X capability and reports its layout; programs vectors 0
 * and 1 to the local APIC and enables MSI-X with the function unmasked.
 * Runs before CC.EN = 1, as Linux does: QEMU 7.2's nvme marks a CQ's
 * vector in use only if MSI-X is on when the CQ is created (the admin CQ:
 * at enable), and never signals a vector not in use. */
static bool msix_setup(void)
{
	uint8_t cap = pci_cap_find(bdf, PCI_CAP_MSIX);
	uint16_t ctrl;
	uint32_t table, pba, apic = apic_id();
	uint64_t base, size = 0;
	unsigned int n;
	bool ok = true;

	if (!report(cap != 0, "MSI-X capability at %#x", cap))
		return false;
	ctrl = pci_read16(bdf, (uint16_t)(cap + MSIX_CTRL));
	n = (ctrl & MSIX_CTRL_SIZE) + 1u;
	table = pci_read32(bdf, (uint16_t)(cap + MSIX_TABLE_REG));
	pba = pci_read32(bdf, (uint16_t)(cap + MSIX_PBA_REG));
	report_info("MSI-X: %u vectors, table in BAR%u at %#x, PBA in BAR%u at %#x%s", n,
		    table & 7, table & ~7u, pba & 7, pba & ~7u,
		    (table & 7) == 0 ? " (sharing BAR0 with the registers)" : "");
	if (!report(n >= 2, "MSI-X table has %u >= 2 vectors", n))
		return false;
	base = (table & 7) == 0 ? bar0.addr : bar_reach(table & 7, &size);
	if ((table & 7) == 0)
		size = bar0.size;
	/* Our doorbells are queue 0 and 1's: the table must lie clear. */
	if (!report(base && (table & ~7u) + (uint64_t)n * MSIX_ENTRY_SIZE <= size &&
		    ((table & 7) != 0 || (table & ~7u) >= NVME_REG_DBS + 4 * nv.dstrd_bytes),
		    "MSI-X table inside BAR%u, clear of the registers", table & 7))
		return false;
	base += table & ~7u;
	for (unsigned int i = 0; i < 2; i++) {
		uint64_t e = base + i * MSIX_ENTRY_SIZE;
		uint32_t data = i ? VEC_IO : VEC_ADMIN;

		mmio_write32(e + 0, APIC_BASE | apic << 12);
		mmio_write32(e + 4, 0);
		mmio_write32(e + 8, data);
		mmio_write32(e + 12, 0);        /* unmasked */
		ok &= mmio_read32(e + 8) == data && !(mmio_read32(e + 12) & 1);
	}
	report(ok, "vectors 0, 1 -> %#x, %#x, unmasked", VEC_ADMIN, VEC_IO);
	pci_write16(bdf, (uint16_t)(cap + MSIX_CTRL),
		    (uint16_t)((ctrl & ~MSIX_CTRL_FMASK) | MSIX_CTRL_ENABLE));
	ctrl = pci_read16(bdf, (uint16_t)(cap + MSIX_CTRL));
	return report((ctrl & (MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK)) == MSIX_CTRL_ENABLE,
		      "MSI-X enabled, function unmasked (control %#x)", ctrl);
}

/* ---- commands --------------------------------------------------------- */

/* Submits cmd on q, waits for the interrupt on vec, takes the completion
 * and rings the CQ head doorbell. True if the command completed with
 * status 0 and the entry (phase tag, command id) checked out. */
static bool run_cmd(struct nvme_queue *q, unsigned int vec, struct nvme_sqe *cmd,
		    struct nvme_cqe *cqe, const char *what)
{
	uint32_t c = irq_counts[vec];
	uint8_t phase = q->phase;
	int cid, r;
	bool irq;

	report_prefix_push(what);
	cid = nvme_submit(&nv, q, cmd);
	if (!report(cid >= 0, "submitted on queue %u (cid %d)", q->qid, cid)) {
		report_prefix_pop();
		return false;
	}
	irq = report(irq_wait_count(vec, c, WAIT_US) != c, "MSI-X interrupt on %#x", vec);
	r = nvme_reap(q, cqe);
	/* No interrupt: is the completion there anyway? Tells a lost
	 * interrupt from a lost command. */
	if (!r && !irq && !nvme_wait(&nv, q, cqe, WAIT_US))
		r = 1;
	if (!report(r == 1, "completion posted%s%s", q->error ? ": " : "",
		    q->error ? q->error : "")) {
		report_prefix_pop();
		return false;
	}
	nvme_cq_doorbell(&nv, q);
	r = report((cqe->status & 1) == phase && cqe->cid == cid && !nvme_cqe_status(cqe),
		   "completion: phase %u, cid %u, status %#x", cqe->status & 1, cqe->cid,
		   nvme_cqe_status(cqe));
	report_prefix_pop();
	return r;
}

static bool check_enable(void)
{
	int r = nvme_disable(&nv);
	uint32_t cc;

	if (!report(!r, "CC.EN = 0: CSTS.RDY clear within CAP.TO (%lu ms)%s%s",
		    nv.timeout_us / 1000, r ? ": " : "", r ? nv.error : ""))
		return false;
	r = nvme_queue_init(&nv, &adminq, 0, QSIZE, 0, admin_sq, admin_cq);
	if (!report(!r, "admin queues: %u entries at %#lx / %#lx", QSIZE, adminq.sq_pa,
		    adminq.cq_pa))
		return false;
	if (!msix_setup())
		return false;
	r = nvme_enable(&nv, &adminq);
	cc = nvme_rd32(&nv, NVME_REG_CC);
	report(!r, "CC.EN = 1: CSTS.RDY set%s%s", r ? ": " : "", r ? nv.error : "");
	report(cc == (NVME_CC_IOCQES(4) | NVME_CC_IOSQES(6) | NVME_CC_EN), "CC reads %#x", cc);
	return !r;
}

static void check_identify(void)
{
	struct nvme_sqe cmd;
	struct nvme_cqe cqe;
	char sn[21], mn[41], fr[9];
	const char *want = cmdline_get("nvme_serial");
	uint16_t vid;
	bool sn_ok, mn_ok;

	memset(idbuf, 0xff, sizeof(idbuf));
	nvme_cmd_identify(&cmd, NVME_CNS_CTRL, 0, idbuf);
	if (!run_cmd(&adminq, VEC_ADMIN, &cmd, &cqe, "identify controller"))
		return;
	vid = get_le16(idbuf + NVME_ID_CTRL_VID);
	report(vid == pci_read16(bdf, PCI_VENDOR_ID), "VID %04x is the PCI vendor id", vid);
	sn_ok = nvme_id_string(idbuf + NVME_ID_CTRL_SN, 20, sn);
	mn_ok = nvme_id_string(idbuf + NVME_ID_CTRL_MN, 40, mn);
	nvme_id_string(idbuf + NVME_ID_CTRL_FR, 8, fr);
	report(sn_ok && sn[0], "serial \"%s\" printable", sn);
	report(mn_ok && mn[0], "model \"%s\" printable", mn);
	report_info("firmware \"%s\", SSVID %04x, MDTS %u, NN %u", fr,
		    get_le16(idbuf + NVME_ID_CTRL_SSVID), idbuf[NVME_ID_CTRL_MDTS],
		    get_le32(idbuf + NVME_ID_CTRL_NN));
	if (want)
		report(!strcmp(sn, want), "serial is nvme_serial=%s", want);
	report((idbuf[NVME_ID_CTRL_SQES] & 0xf) <= 6 && (idbuf[NVME_ID_CTRL_SQES] >> 4) >= 6 &&
	       (idbuf[NVME_ID_CTRL_CQES] & 0xf) <= 4 && (idbuf[NVME_ID_CTRL_CQES] >> 4) >= 4,
	       "SQES %#x, CQES %#x allow 64/16-byte entries", idbuf[NVME_ID_CTRL_SQES],
	       idbuf[NVME_ID_CTRL_CQES]);
}

/* Returns log2 of namespace 1's LBA size, or -1. */
static int check_namespace(void)
{
	struct nvme_sqe cmd;
	struct nvme_cqe cqe;
	int shift;

	memset(idbuf, 0xff, sizeof(idbuf));
	nvme_cmd_identify(&cmd, NVME_CNS_NS_LIST, 0, idbuf);
	if (!run_cmd(&adminq, VEC_ADMIN, &cmd, &cqe, "namespace list"))
		return -1;
	if (!report(get_le32(idbuf) == NSID, "first active namespace %u", get_le32(idbuf)))
		return -1;
	memset(idbuf, 0xff, sizeof(idbuf));
	nvme_cmd_identify(&cmd, NVME_CNS_NS, NSID, idbuf);
	if (!run_cmd(&adminq, VEC_ADMIN, &cmd, &cqe, "identify namespace"))
		return -1;
	shift = nvme_ns_lba_shift(idbuf);
	if (!report(shift >= 9 && shift <= 12, "namespace %u: %lu blocks of %u bytes", NSID,
		    get_le64(idbuf + NVME_ID_NS_NSZE), shift > 0 ? 1u << shift : 0))
		return -1;
	if (!report(get_le64(idbuf + NVME_ID_NS_NSZE) >= NVME_PAGE >> shift,
		    "namespace holds 4 KiB"))
		return -1;
	return shift;
}

static bool create_io_queues(void)
{
	struct nvme_sqe cmd;
	struct nvme_cqe cqe;
	int r;

	nvme_cmd_set_num_queues(&cmd, 1, 1);
	if (!run_cmd(&adminq, VEC_ADMIN, &cmd, &cqe, "set number of queues"))
		return false;
	report_info("allocated %u SQs, %u CQs", (cqe.dw0 & 0xffff) + 1, (cqe.dw0 >> 16) + 1);
	r = nvme_queue_init(&nv, &ioq, 1, QSIZE, 1, io_sq, io_cq);
	if (!report(!r, "I/O queues: %u entries at %#lx / %#lx", QSIZE, ioq.sq_pa, ioq.cq_pa))
		return false;
	nvme_cmd_create_cq(&cmd, &ioq);
	if (!run_cmd(&adminq, VEC_ADMIN, &cmd, &cqe, "create I/O CQ 1 (vector 1)"))
		return false;
	nvme_cmd_create_sq(&cmd, &ioq);
	return run_cmd(&adminq, VEC_ADMIN, &cmd, &cqe, "create I/O SQ 1");
}

static void check_io(int shift)
{
	uint32_t seed = (uint32_t)rdtsc() | 1, nlb = NVME_PAGE >> shift;
	struct nvme_sqe cmd;
	struct nvme_cqe cqe;
	size_t bad = NVME_PAGE;

	report_prefix_push("io");
	/* A fresh pattern per run: stale data from an earlier run fails. */
	for (unsigned int i = 0; i < NVME_PAGE; i++) {
		seed = seed * 1103515245u + 12345u;
		wbuf[i] = (uint8_t)(seed >> 16);
	}
	memset(rbuf, 0xcc, sizeof(rbuf));
	nvme_cmd_rw(&cmd, true, NSID, 0, nlb, wbuf, NVME_PAGE);
	if (run_cmd(&ioq, VEC_IO, &cmd, &cqe, "write LBA 0") &&
	    (nvme_cmd_rw(&cmd, false, NSID, 0, nlb, rbuf, NVME_PAGE),
	     run_cmd(&ioq, VEC_IO, &cmd, &cqe, "read LBA 0"))) {
		for (size_t i = 0; i < NVME_PAGE && bad == NVME_PAGE; i++) {
			if (rbuf[i] != wbuf[i])
				bad = i;
		}
		if (!report(bad == NVME_PAGE, "4 KiB (LBA 0-%u) read back unchanged", nlb - 1))
			report_info("first difference at byte %zu: wrote %#x, read %#x", bad,
				    wbuf[bad], rbuf[bad]);
	}
	report_prefix_pop();
}

void test_nvme_run(void)
{
	int found, shift;

	report_prefix_push("nvme");
	if (!pci_init())
		report_info("no MCFG; using 0xcf8/0xcfc");
	found = nvme_find();
	if (found < 0) {
		report_skip("no NVMe function (class 01:08:02) on bus 0");
		report_prefix_pop();
		return;
	}
	bdf = (uint16_t)found;
	report_info("NVMe %04x:%04x at %02x:%02x.%x", pci_read16(bdf, PCI_VENDOR_ID),
		    pci_read16(bdf, PCI_DEVICE_ID), PCI_BUS(bdf), PCI_DEV(bdf), PCI_FN(bdf));
	apic_enable();
	if (check_bar0() && check_caps() && check_enable()) {
		check_identify();
		shift = check_namespace();
		if (shift > 0 && create_io_queues())
			check_io(shift);
		report(!nvme_disable(&nv), "disabled again");
	}
	report(irq_counts[APIC_SPURIOUS_VECTOR] == 0, "no spurious interrupts");
	report_prefix_pop();
}
