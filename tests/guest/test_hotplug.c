/* Scenario "hotplug": isle's ACPI PCI hotplug registers (vmm/devices/
 * hotplug.h) as a guest without AML sees them, driven by the host through
 * the control socket (tests/integration/isle-hotplug):
 *   1. it says "hotplug: ready" and waits (hp_ms, default 60 s) for GEVT
 *      bit 0 with a slot in PCIU, where a virtio-blk disk must now be;
 *   2. writes and reads back 64 KiB on it (frontends/blkfront.c), says
 *      "hotplug: attached";
 *   3. waits for the same slot in PCID (the host asked the disk back),
 *      resets the device, writes the slot's bit to B0EJ and checks the slot
 *      reads empty afterwards;
 *   4. says "hotplug: detached" and waits for the power button (GEVT bit 1).
 * With hp_dev=net it is a virtio-net NIC: step 2 brings frontends/netfront.c
 * up on it and checks the MAC the host gave (hp_mac=, when given).
 * With hp_dev=edu the device to come is an edu (an assigned one, isle
 * pci-attach / vm.add-device): steps 2 checks its identification register
 * and a factorial instead of disk I/O, and step 3 needs no driver reset.
 * With hp_power_only=1 it only waits for the power button (isle shutdown,
 * isle-domains stop): "hotplug: waiting for the power button". 
 * Polled every 10 ms, halted in between (LAPIC timer): the GED's edge on
 * IOAPIC input 9 is for ACPI guests. */
#include "blkfront.h"
#include "netfront.h"

#include "virtio_glue.h"
#include "edu.h"

#define HP_PORT    0x0ae0
#define HP_PCIU    (HP_PORT + 0x0)
#define HP_PCID    (HP_PORT + 0x4)
#define HP_B0EJ    (HP_PORT + 0x8)
#define HP_GEVT    (HP_PORT + 0xc)
#define HP_BYTES   (64 * 1024)

static struct blkfront bf;
static struct netfront nf;
static uint8_t hp_net_dma[NETFRONT_DMA_BYTES] __attribute__((section(".noinit"), aligned(4096)));
static uint8_t hp_net_priv[NETFRONT_PRIV_BYTES] __attribute__((aligned(16)));
static struct virtio_glue glue;
static uint8_t hp_dma[BLKFRONT_DMA_BYTES] __attribute__((aligned(4096)));
static uint8_t hp_priv[BLKFRONT_PRIV_BYTES] __attribute__((aligned(16)));
static uint8_t wbuf[HP_BYTES] __attribute__((section(".noinit"), aligned(4096)));
static uint8_t rbuf[HP_BYTES] __attribute__((section(".noinit"), aligned(4096)));

/* Waits for an event bit; the registers it reads clear on read, so what
 * came with the event is returned in *pciu / *pcid. */
static bool hp_wait(uint32_t evt, uint64_t ms, uint32_t *pciu, uint32_t *pcid)
{
	uint64_t deadline = timer_deadline_us(ms * 1000);
	uint32_t seen = 0;

	*pciu = *pcid = 0;
	while (!timer_expired(deadline)) {
		seen |= inl(HP_GEVT);
		if (seen & 1) {
			*pciu |= inl(HP_PCIU);
			*pcid |= inl(HP_PCID);
		}
		if (seen & evt && (evt != 1 || *pciu || *pcid))
			return true;
		irq_idle_us(10000);   /* halted: a waiting guest costs its host little */
	}
	return false;
}

static int hp_slot(uint32_t bits)
{
	for (int s = 1; s < 32; s++)
		if (bits == (1u << s))
			return s;
	return -1;
}

static void hp_io(void)
{
	int st;

	for (unsigned int i = 0; i < HP_BYTES; i++)
		wbuf[i] = (uint8_t)(i * 7 + 3);
	memset(rbuf, 0, HP_BYTES);
	st = blkfront_rw(&bf, 8, wbuf, HP_BYTES, true);
	report(st == 0, "write 64 KiB to the hot-added disk (status %d)", st);
	st = blkfront_rw(&bf, 8, rbuf, HP_BYTES, false);
	report(st == 0 && !memcmp(wbuf, rbuf, HP_BYTES), "read it back (status %d)", st);
}

/* Reports whether the function in the slot is (vendor, device). */
static void hp_holds(uint16_t bdf, int slot, uint16_t vendor, uint16_t device, const char *what)
{
	uint16_t v = pci_read16(bdf, 0), d = pci_read16(bdf, 2);

	report(v == vendor && d == device, "slot %d holds %s (%04x:%04x)", slot, what, v, d);
}

/* An edu in the slot: identification register and one factorial. */
static bool hp_edu(uint16_t bdf)
{
	struct edu e = { .bdf = bdf, .regs = pci_bar_map(bdf, 0) };

	if (!e.regs)
		return false;
	pci_write16(bdf, PCI_COMMAND, pci_read16(bdf, PCI_COMMAND) | PCI_CMD_MEM);
	report((edu_rd(&e, EDU_IDENT) & 0xff) == 0xed, "edu identification 0x%x",
	       edu_rd(&e, EDU_IDENT));
	edu_wr(&e, EDU_FACT, 10);
	edu_wait_clear(&e, EDU_STATUS, EDU_STATUS_COMPUTING, 1000000);
	return edu_rd(&e, EDU_FACT) == 3628800;
}

/* Polls (5 s at most) until the slot's function reads absent. */
static bool hp_gone(uint16_t bdf)
{
	uint64_t deadline = timer_deadline_us(5000000);

	while (pci_read16(bdf, 0) != 0xffff && !timer_expired(deadline))
		timer_delay_us(1000);
	return pci_read16(bdf, 0) == 0xffff;
}

void test_hotplug_run(void)
{
	uint64_t ms = cmdline_get_u64("hp_ms", 60000);
	const char *kind = cmdline_get("hp_dev");
	bool edu = kind && !strcmp(kind, "edu"), net = kind && !strcmp(kind, "net");
	uint32_t pciu, pcid;
	int slot, r;
	uint16_t bdf;

	report_prefix_push("hotplug");
	pci_init();
	if (cmdline_get_u64("hp_power_only", 0)) {
		printf("hotplug: waiting for the power button\n");
		report(hp_wait(2, ms, &pciu, &pcid), "the power button pressed");
		goto out;
	}
	report(edu ? pci_find(EDU_VENDOR, EDU_DEVICE) < 0 :
	       net ? pci_find(VPCI_VENDOR, NETFRONT_DEVICE_ID) < 0 : blk_find() < 0,
	       "no %s before the attach", edu ? "edu" : net ? "virtio-net NIC" : "virtio-blk disk");
	printf("hotplug: ready\n");
	if (!hp_wait(1, ms, &pciu, &pcid)) {
		report(false, "a hotplug event within %lu ms", (unsigned long)ms);
		goto out;
	}
	slot = hp_slot(pciu);
	report(slot > 0 && !pcid, "one slot announced in PCIU (0x%x), none in PCID", pciu);
	if (slot < 0)
		goto out;
	bdf = (uint16_t)(slot << 3);
	if (edu) {
		hp_holds(bdf, slot, EDU_VENDOR, EDU_DEVICE, "an edu");
		report(hp_edu(bdf), "the edu computes 10! = 3628800");
		goto attached;
	}
	if (net) {
		const char *want = cmdline_get("hp_mac");
		char mac[18];

		hp_holds(bdf, slot, VPCI_VENDOR, NETFRONT_DEVICE_ID, "a virtio-net NIC");
		virtio_glue_init(&glue, bdf);
		r = netfront_init(&nf, &glue.env, NULL, hp_net_dma, sizeof(hp_net_dma), hp_net_priv,
				  sizeof(hp_net_priv));
		report(r == 0, "netfront drives it (%d%s%s)", r, nf.error ? ", " : "",
		       nf.error ? nf.error : "");
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", nf.mac[0], nf.mac[1],
			 nf.mac[2], nf.mac[3], nf.mac[4], nf.mac[5]);
		if (want)
			report(!strcmp(mac, want), "its MAC is the host's (%s)", mac);
		goto attached;
	}
	hp_holds(bdf, slot, VPCI_VENDOR, BLKFRONT_DEVICE_ID, "a virtio-blk disk");
	virtio_glue_init(&glue, bdf);
	r = blkfront_init(&bf, &glue.env, NULL, hp_dma, sizeof(hp_dma), hp_priv, sizeof(hp_priv));
	report(r == 0, "blkfront drives it (%d)", r);
	if (r)
		goto out;
	hp_io();
attached:
	printf("hotplug: attached\n");
	if (!hp_wait(1, ms, &pciu, &pcid)) {
		report(false, "an eject request within %lu ms", (unsigned long)ms);
		goto out;
	}
	report(pcid == (1u << slot) && !pciu, "eject requested for slot %d (PCID 0x%x)", slot,
	       pcid);
	if (edu)
		pci_write16(bdf, PCI_COMMAND, 0);   /* decoding off: nothing in flight */
	else if (net)
		netfront_reset(&nf);
	else
		blkfront_reset(&bf);
	outl(HP_B0EJ, 1u << slot);
	report(hp_gone(bdf), "slot %d is empty after the eject", slot);
	printf("hotplug: detached\n");
	report(hp_wait(2, ms, &pciu, &pcid), "the power button pressed");
out:
	report_prefix_pop();
}
