/* Unit tests for vmm/devices/hotplug.c, realized through device_add_type on
 * a VM that has only its port bus and its main event loop (no KVM). Fake
 * device types stand in for PCI devices (a struct pci_dev with a slot; the
 * unrealize is recorded) and for a platform device and a device without a
 * PCI function.
 *
 * The interrupt seam: the test links with -Wl,--wrap=vm_irq_line
 * (tests/unit/meson.build), so every level the device drives on an IOAPIC
 * input is recorded here in order and an edge can be seen (1 then 0).
 *
 * Checked: PCIU, PCID and GEVT hold their bits until read and a read
 * clears them; every event is one edge on DSDT_GED_IRQ; an eject asked
 * twice is -EALREADY; a guest B0EJ write of an asked slot removes that
 * device on the main thread (only after the loop ran), one of a slot not
 * asked is ignored; accesses other than aligned dwords read all-ones and
 * writes are dropped (and clear nothing); the power button is GEVT bit 1;
 * platform devices and devices without PCI are refused; unrealize clears
 * vm->hotplug (ASan checks it freed everything). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "boot/acpi_dsdt.h"
#include "core/device.h"
#include "core/vm.h"
#include "devices/hotplug.h"
#include "pci/pci.h"

#define PORT  DSDT_HOTPLUG_PORT
#define PCIU  0x0
#define PCID  0x4
#define B0EJ  0x8
#define GEVT  0xc

/* --- the interrupt seam --- */

int __wrap_vm_irq_line(struct vm *vm, unsigned int irq, int level);

#define IRQ_LOG_MAX 32

static struct vm vm;
static struct {
	unsigned int n;
	unsigned int irq[IRQ_LOG_MAX];
	int level[IRQ_LOG_MAX];
	bool other_vm;
} irqs;

int __wrap_vm_irq_line(struct vm *v, unsigned int irq, int level)
{
	if (v != &vm)
		irqs.other_vm = true;
	if (irqs.n < IRQ_LOG_MAX) {
		irqs.irq[irqs.n] = irq;
		irqs.level[irqs.n] = level;
	}
	irqs.n++;
	return 0;
}

/* Exactly `edges` edges (1 then 0) on the GED's input since the last call. */
static void expect_edges(unsigned int edges)
{
	CU_ASSERT_EQUAL(irqs.n, 2 * edges);
	for (unsigned int i = 0; i < irqs.n && i < IRQ_LOG_MAX; i++) {
		CU_ASSERT_EQUAL(irqs.irq[i], DSDT_GED_IRQ);
		CU_ASSERT_EQUAL(irqs.level[i], i % 2 == 0 ? 1 : 0);
	}
	CU_ASSERT_FALSE(irqs.other_vm);
	memset(&irqs, 0, sizeof(irqs));
}

/* --- fake devices --- */

#define FAKE_MAX 8

static struct pci_dev fake_pci[FAKE_MAX];
static unsigned int next_slot;             /* the slot the next fake PCI device gets */
static char unrealized[FAKE_MAX][DEVICE_ID_MAX];
static unsigned int nr_realized, nr_unrealized;

static int fake_pci_realize(struct device *dev)
{
	struct pci_dev *p;

	if (nr_realized >= FAKE_MAX)
		return -ENOSPC;
	p = &fake_pci[nr_realized++];
	memset(p, 0, sizeof(*p));
	p->slot = next_slot;
	p->devfn = next_slot << 3;
	dev->pci = p;
	dev->priv = p;
	return 0;
}

static int fake_plain_realize(struct device *dev)
{
	nr_realized++;
	dev->priv = &nr_realized;
	return 0;
}

static void fake_unrealize(struct device *dev)
{
	if (nr_unrealized < FAKE_MAX)
		memcpy(unrealized[nr_unrealized], dev->id, DEVICE_ID_MAX);
	nr_unrealized++;
}

static const struct device_type fake_pci_type = {
	.name = "fake-pci", .id_prefix = "fake", .kind = DEVICE_EDU,
	.realize = fake_pci_realize, .unrealize = fake_unrealize,
};

static const struct device_type fake_platform_pci_type = {
	.name = "fake-platform-pci", .id_prefix = "plat", .kind = DEVICE_TESTDEV,
	.platform = true, .realize = fake_pci_realize, .unrealize = fake_unrealize,
};

static const struct device_type fake_nopci_type = {
	.name = "fake-no-pci", .id_prefix = "nopci", .kind = DEVICE_DISK,
	.realize = fake_plain_realize, .unrealize = fake_unrealize,
};

static struct device *hp;   /* the hotplug instance */

static void setup(void)
{
	struct device_spec spec = { .kind = DEVICE_HOTPLUG };

	memset(&vm, 0, sizeof(vm));
	memset(&irqs, 0, sizeof(irqs));
	memset(unrealized, 0, sizeof(unrealized));
	nr_realized = nr_unrealized = 0;
	next_slot = 5;
	bus_init(&vm.pio, "pio");
	bus_init(&vm.mmio, "mmio");
	CU_ASSERT_EQUAL_FATAL(evloop_init(&vm.loop), 0);
	hp = NULL;
	CU_ASSERT_EQUAL_FATAL(device_add_type(&vm, &hotplug_type, &spec, &hp), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(hp);
	CU_ASSERT_PTR_NOT_NULL_FATAL(vm.hotplug);
	CU_ASSERT_PTR_EQUAL(hp->priv, vm.hotplug);
	expect_edges(0);   /* realize raises nothing */
}

static void teardown(void)
{
	device_del_all(&vm);
	CU_ASSERT_PTR_NULL(vm.hotplug);
	evloop_fini(&vm.loop);
}

static struct device *add(const struct device_type *t, const char *id, unsigned int slot)
{
	struct device_spec spec = { .kind = t->kind };
	struct device *d = NULL;

	next_slot = slot;
	snprintf(spec.id, sizeof(spec.id), "%s", id);
	CU_ASSERT_EQUAL(device_add_type(&vm, t, &spec, &d), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	return d;
}

static uint32_t rd(unsigned int off)
{
	uint32_t v = 0x5a5a5a5a;

	CU_ASSERT_EQUAL(bus_dispatch(&vm.pio, PORT + off, &v, 4, false), 0);
	return v;
}

static void wr(unsigned int off, uint32_t v)
{
	CU_ASSERT_EQUAL(bus_dispatch(&vm.pio, PORT + off, &v, 4, true), 0);
}

/* --- tests --- */

static void test_registers_present(void)
{
	uint32_t v = 0;

	setup();
	CU_ASSERT_STRING_EQUAL(hotplug_type.name, "acpi-hotplug");
	CU_ASSERT_EQUAL(hotplug_type.kind, DEVICE_HOTPLUG);
	CU_ASSERT_TRUE(hotplug_type.platform);
	CU_ASSERT_STRING_EQUAL(hp->id, "hotplug0");
	/* Four dwords at the DSDT's port, nothing past them. */
	CU_ASSERT_EQUAL(DSDT_HOTPLUG_LEN, 16);
	CU_ASSERT_EQUAL(bus_dispatch(&vm.pio, PORT + DSDT_HOTPLUG_LEN - 4, &v, 4, false), 0);
	CU_ASSERT_EQUAL(bus_dispatch(&vm.pio, PORT + DSDT_HOTPLUG_LEN, &v, 4, false), -ENOENT);
	CU_ASSERT_EQUAL(bus_dispatch(&vm.pio, PORT - 4, &v, 4, false), -ENOENT);
	/* Nothing pending at first. */
	CU_ASSERT_EQUAL(rd(PCIU), 0);
	CU_ASSERT_EQUAL(rd(PCID), 0);
	CU_ASSERT_EQUAL(rd(B0EJ), 0);
	CU_ASSERT_EQUAL(rd(GEVT), 0);
	/* A platform device: only the VM's end removes it. */
	CU_ASSERT_EQUAL(device_del(&vm, hp->id), -EPERM);
	teardown();
}

static void test_plugged(void)
{
	struct device *a, *b;

	setup();
	a = add(&fake_pci_type, "nic", 5);
	CU_ASSERT_EQUAL(hotplug_plugged(&vm, a), 0);
	expect_edges(1);
	CU_ASSERT_EQUAL(rd(PCIU), 1u << 5);
	CU_ASSERT_EQUAL(rd(PCIU), 0);            /* read clears */
	CU_ASSERT_EQUAL(rd(PCID), 0);
	CU_ASSERT_EQUAL(rd(GEVT), HOTPLUG_EVT_PCI);
	CU_ASSERT_EQUAL(rd(GEVT), 0);
	expect_edges(0);                          /* reads raise nothing */

	/* Two before the guest looks: both slots, one edge each. */
	b = add(&fake_pci_type, "disk", 7);
	CU_ASSERT_EQUAL(hotplug_plugged(&vm, a), 0);
	CU_ASSERT_EQUAL(hotplug_plugged(&vm, b), 0);
	expect_edges(2);
	CU_ASSERT_EQUAL(rd(GEVT), HOTPLUG_EVT_PCI);
	CU_ASSERT_EQUAL(rd(PCIU), 1u << 5 | 1u << 7);
	CU_ASSERT_EQUAL(rd(PCIU), 0);
	CU_ASSERT_FALSE(hotplug_eject_pending(&vm, a));
	teardown();
	CU_ASSERT_EQUAL(nr_unrealized, 2);
}

static void test_eject(void)
{
	struct device *a, *other;

	setup();
	a = add(&fake_pci_type, "nic", 5);
	other = add(&fake_pci_type, "other", 6);
	CU_ASSERT_FALSE(hotplug_eject_pending(&vm, a));
	CU_ASSERT_EQUAL(hotplug_request_eject(&vm, a), 0);
	expect_edges(1);
	CU_ASSERT_TRUE(hotplug_eject_pending(&vm, a));
	CU_ASSERT_FALSE(hotplug_eject_pending(&vm, other));
	CU_ASSERT_EQUAL(hotplug_request_eject(&vm, a), -EALREADY);
	expect_edges(0);
	CU_ASSERT_EQUAL(rd(PCID), 1u << 5);
	CU_ASSERT_EQUAL(rd(PCID), 0);
	CU_ASSERT_EQUAL(rd(PCIU), 0);
	CU_ASSERT_EQUAL(rd(GEVT), HOTPLUG_EVT_PCI);
	CU_ASSERT_EQUAL(rd(GEVT), 0);
	/* Still asked after the guest read PCID. */
	CU_ASSERT_TRUE(hotplug_eject_pending(&vm, a));
	CU_ASSERT_EQUAL(hotplug_request_eject(&vm, a), -EALREADY);

	/* The guest lets go: the vCPU's write only queues it. */
	wr(B0EJ, 1u << 5);
	CU_ASSERT_PTR_EQUAL(device_find(&vm, "nic"), a);
	CU_ASSERT_EQUAL(nr_unrealized, 0);
	/* The main thread removes it. */
	CU_ASSERT_EQUAL(evloop_run_once(&vm.loop, 1000), 1);
	CU_ASSERT_PTR_NULL(device_find(&vm, "nic"));
	CU_ASSERT_EQUAL_FATAL(nr_unrealized, 1);
	CU_ASSERT_STRING_EQUAL(unrealized[0], "nic");
	CU_ASSERT_PTR_EQUAL(device_find(&vm, "other"), other);
	CU_ASSERT_EQUAL(vm.devices.count, 2);     /* hotplug0 and other */
	/* Nothing more to do: the eventfd was drained. */
	CU_ASSERT_EQUAL(evloop_run_once(&vm.loop, 0), 0);
	expect_edges(0);

	/* A new device in the freed slot starts with nothing asked. */
	a = add(&fake_pci_type, "nic2", 5);
	CU_ASSERT_FALSE(hotplug_eject_pending(&vm, a));
	CU_ASSERT_EQUAL(hotplug_plugged(&vm, a), 0);
	CU_ASSERT_EQUAL(hotplug_request_eject(&vm, a), 0);
	CU_ASSERT_TRUE(hotplug_eject_pending(&vm, a));
	/* Plugged again (the host re-added it): the old ask is void. */
	CU_ASSERT_EQUAL(hotplug_plugged(&vm, a), 0);
	CU_ASSERT_FALSE(hotplug_eject_pending(&vm, a));
	wr(B0EJ, 1u << 5);
	CU_ASSERT_EQUAL(evloop_run_once(&vm.loop, 1000), 1);
	CU_ASSERT_PTR_EQUAL(device_find(&vm, "nic2"), a);
	CU_ASSERT_EQUAL(nr_unrealized, 1);
	expect_edges(3);
	teardown();
}

static void test_eject_not_asked(void)
{
	struct device *a, *b;

	setup();
	a = add(&fake_pci_type, "a", 5);
	b = add(&fake_pci_type, "b", 6);
	CU_ASSERT_EQUAL(hotplug_request_eject(&vm, a), 0);
	/* The guest ejects a slot nobody asked for, an empty one and slot 0. */
	wr(B0EJ, 1u << 6 | 1u << 9 | 1u);
	CU_ASSERT_EQUAL(evloop_run_once(&vm.loop, 1000), 1);
	CU_ASSERT_PTR_EQUAL(device_find(&vm, "a"), a);
	CU_ASSERT_PTR_EQUAL(device_find(&vm, "b"), b);
	CU_ASSERT_EQUAL(nr_unrealized, 0);
	CU_ASSERT_TRUE(hotplug_eject_pending(&vm, a));
	CU_ASSERT_FALSE(hotplug_eject_pending(&vm, b));
	/* A zero write wakes nobody. */
	wr(B0EJ, 0);
	CU_ASSERT_EQUAL(evloop_run_once(&vm.loop, 0), 0);
	/* Several slots in one write: only the asked one goes. */
	wr(B0EJ, 1u << 5 | 1u << 6);
	CU_ASSERT_EQUAL(evloop_run_once(&vm.loop, 1000), 1);
	CU_ASSERT_PTR_NULL(device_find(&vm, "a"));
	CU_ASSERT_PTR_EQUAL(device_find(&vm, "b"), b);
	CU_ASSERT_EQUAL_FATAL(nr_unrealized, 1);
	CU_ASSERT_STRING_EQUAL(unrealized[0], "a");
	/* Two writes before the main thread looks: both are seen. */
	CU_ASSERT_EQUAL(hotplug_request_eject(&vm, b), 0);
	wr(B0EJ, 1u << 9);
	wr(B0EJ, 1u << 6);
	CU_ASSERT_EQUAL(evloop_run_once(&vm.loop, 1000), 1);
	CU_ASSERT_PTR_NULL(device_find(&vm, "b"));
	CU_ASSERT_EQUAL(nr_unrealized, 2);
	teardown();
}

static void test_access_sizes(void)
{
	struct device *a;
	uint8_t b8[8];
	uint16_t w;
	uint32_t v;

	setup();
	a = add(&fake_pci_type, "a", 5);
	CU_ASSERT_EQUAL(hotplug_plugged(&vm, a), 0);
	/* Narrow, wide and misaligned reads: all-ones, and they clear nothing. */
	w = 0;
	CU_ASSERT_EQUAL(bus_dispatch(&vm.pio, PORT + PCIU, &w, 2, false), 0);
	CU_ASSERT_EQUAL(w, 0xffff);
	b8[0] = 0;
	CU_ASSERT_EQUAL(bus_dispatch(&vm.pio, PORT + PCIU, b8, 1, false), 0);
	CU_ASSERT_EQUAL(b8[0], 0xff);
	memset(b8, 0, sizeof(b8));
	CU_ASSERT_EQUAL(bus_dispatch(&vm.pio, PORT + PCIU, b8, 8, false), 0);
	for (int i = 0; i < 8; i++)
		CU_ASSERT_EQUAL(b8[i], 0xff);
	v = 0;
	CU_ASSERT_EQUAL(bus_dispatch(&vm.pio, PORT + 2, &v, 4, false), 0);
	CU_ASSERT_EQUAL(v, 0xffffffffu);
	v = 0;
	CU_ASSERT_EQUAL(bus_dispatch(&vm.pio, PORT + GEVT + 1, &v, 2, false), 0);
	CU_ASSERT_EQUAL(v & 0xffff, 0xffff);
	CU_ASSERT_EQUAL(rd(PCIU), 1u << 5);
	CU_ASSERT_EQUAL(rd(GEVT), HOTPLUG_EVT_PCI);

	/* Writes other than an aligned dword to B0EJ are dropped. */
	CU_ASSERT_EQUAL(hotplug_request_eject(&vm, a), 0);
	w = 1u << 5;
	CU_ASSERT_EQUAL(bus_dispatch(&vm.pio, PORT + B0EJ, &w, 2, true), 0);
	b8[0] = 1u << 5;
	CU_ASSERT_EQUAL(bus_dispatch(&vm.pio, PORT + B0EJ, b8, 1, true), 0);
	memset(b8, 0, sizeof(b8));
	b8[0] = 1u << 5;
	CU_ASSERT_EQUAL(bus_dispatch(&vm.pio, PORT + B0EJ, b8, 8, true), 0);
	v = 1u << 13;   /* slot 5 if the bytes were taken from offset 9 */
	CU_ASSERT_EQUAL(bus_dispatch(&vm.pio, PORT + B0EJ + 1, &v, 4, true), 0);
	v = 1u << 5;
	CU_ASSERT_EQUAL(bus_dispatch(&vm.pio, PORT + B0EJ - 2, &v, 4, true), 0);
	CU_ASSERT_EQUAL(evloop_run_once(&vm.loop, 0), 0);
	CU_ASSERT_PTR_EQUAL(device_find(&vm, "a"), a);
	/* Dword writes to the read-only registers change nothing. */
	wr(PCID, 0);
	wr(GEVT, 0);
	wr(PCIU, 0xffffffffu);
	CU_ASSERT_EQUAL(evloop_run_once(&vm.loop, 0), 0);
	CU_ASSERT_EQUAL(rd(PCID), 1u << 5);
	CU_ASSERT_EQUAL(rd(GEVT), HOTPLUG_EVT_PCI);
	CU_ASSERT_EQUAL(rd(PCIU), 0);
	CU_ASSERT_EQUAL(nr_unrealized, 0);
	expect_edges(2);
	teardown();
}

static void test_power_button(void)
{
	struct device *a;

	setup();
	CU_ASSERT_EQUAL(hotplug_power_button(&vm), 0);
	expect_edges(1);
	CU_ASSERT_EQUAL(rd(GEVT), HOTPLUG_EVT_POWER);
	CU_ASSERT_EQUAL(rd(GEVT), 0);
	CU_ASSERT_EQUAL(rd(PCIU), 0);
	/* With a hotplug event before the guest looks: both bits. */
	a = add(&fake_pci_type, "a", 5);
	CU_ASSERT_EQUAL(hotplug_plugged(&vm, a), 0);
	CU_ASSERT_EQUAL(hotplug_power_button(&vm), 0);
	CU_ASSERT_EQUAL(hotplug_power_button(&vm), 0);
	expect_edges(3);
	CU_ASSERT_EQUAL(rd(GEVT), HOTPLUG_EVT_PCI | HOTPLUG_EVT_POWER);
	CU_ASSERT_EQUAL(rd(GEVT), 0);
	teardown();
	/* Gone with the VM's devices. */
	CU_ASSERT_EQUAL(hotplug_power_button(&vm), -ENODEV);
	expect_edges(0);
}

static void test_refused(void)
{
	struct device *plat, *nopci;
	struct pci_dev lone_pci = { .slot = 5, .devfn = 5 << 3 };
	struct device lone = { .type = &fake_pci_type, .id = "lone", .vm = &vm,
			       .pci = &lone_pci };

	setup();
	plat = add(&fake_platform_pci_type, "", 3);
	nopci = add(&fake_nopci_type, "", 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(plat->pci);
	CU_ASSERT_PTR_NULL(nopci->pci);
	CU_ASSERT_EQUAL(hotplug_request_eject(&vm, plat), -EINVAL);
	CU_ASSERT_EQUAL(hotplug_request_eject(&vm, nopci), -EINVAL);
	CU_ASSERT_EQUAL(hotplug_plugged(&vm, nopci), -EINVAL);
	CU_ASSERT_FALSE(hotplug_eject_pending(&vm, plat));
	CU_ASSERT_FALSE(hotplug_eject_pending(&vm, nopci));
	expect_edges(0);
	CU_ASSERT_EQUAL(rd(PCID), 0);
	CU_ASSERT_EQUAL(rd(PCIU), 0);
	CU_ASSERT_EQUAL(rd(GEVT), 0);
	/* The guest cannot eject the platform device either. */
	wr(B0EJ, 1u << 3);
	CU_ASSERT_EQUAL(evloop_run_once(&vm.loop, 1000), 1);
	CU_ASSERT_PTR_EQUAL(device_find(&vm, "plat0"), plat);
	CU_ASSERT_EQUAL(nr_unrealized, 0);
	add(&fake_pci_type, "a", 5);
	teardown();
	CU_ASSERT_EQUAL(nr_unrealized, 3);

	/* Without the hotplug device, nothing is accepted. */
	CU_ASSERT_PTR_NULL(vm.hotplug);
	CU_ASSERT_EQUAL(hotplug_plugged(&vm, &lone), -EINVAL);
	CU_ASSERT_EQUAL(hotplug_request_eject(&vm, &lone), -EINVAL);
	CU_ASSERT_FALSE(hotplug_eject_pending(&vm, &lone));
	expect_edges(0);
}

static void test_unrealize(void)
{
	struct device *a;

	setup();
	a = add(&fake_pci_type, "a", 5);
	CU_ASSERT_EQUAL(hotplug_request_eject(&vm, a), 0);
	wr(B0EJ, 1u << 5);   /* queued, never handled: freed with the device */
	device_del_all(&vm);
	CU_ASSERT_PTR_NULL(vm.hotplug);
	CU_ASSERT_EQUAL(vm.devices.count, 0);
	CU_ASSERT_EQUAL(nr_unrealized, 1);
	/* Its eventfd left the loop: nothing fires. */
	CU_ASSERT_EQUAL(evloop_run_once(&vm.loop, 0), 0);
	evloop_fini(&vm.loop);
	expect_edges(1);
}

void unit_register(void)
{
	UNIT_SUITE("hotplug", UNIT_TEST(test_registers_present), UNIT_TEST(test_plugged),
		   UNIT_TEST(test_eject), UNIT_TEST(test_eject_not_asked),
		   UNIT_TEST(test_access_sizes), UNIT_TEST(test_power_button),
		   UNIT_TEST(test_refused), UNIT_TEST(test_unrealize));
}
