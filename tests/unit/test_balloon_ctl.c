/* Unit tests for vmm/virtio/balloon_ctl.c, the balloon's control side and
 * its policy towards assigned devices, on a balloon realized through
 * device_add (vmm/virtio/balloon.c) on a VM without KVM: 128 MiB of guest
 * RAM in a memfd, the identity DMA address space, the GSI table (vm_fd -1),
 * PCI bus 0, the event loop and, for vfio-iommu, the emulated VT-d. No
 * driver runs: the device's `actual` is set through its config_write as a
 * driver's write would.
 *
 * Checked: balloon_of (none, one); balloon_get_info before any driver;
 * balloon_set_target (rounded to pages, the 64 MiB the guest keeps ->
 * -EINVAL with the sizes in the message, nothing changed; 0 always taken,
 * even on a guest smaller than 64 MiB; a
 * new target is a config change) under each policy (free; vfio-refuse ->
 * -EPERM "pin all guest RAM", nothing changed; vfio-allow and vfio-iommu
 * take it); balloon_vfio_pin/check/unpin (counting, refusals while the
 * balloon holds or is asked to hold pages -> -EBUSY "deflate it first",
 * check never counts, vfio=allow never refuses, unpin never underflows, no
 * balloon: 0); balloon_set_stats_interval (-ENOTSUP without the queue,
 * -EINVAL outside 1..3600, the new interval in the info and on the timer). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cunit.h"
#include "devvm_fixture.h"
#include "isle/util.h"
#include "boot/layout.h"
#include "core/device.h"
#include "core/vm.h"
#include "virtio/balloon.h"
#include "virtio/balloon_priv.h"

#define RAM_SIZE   (128ULL << 20)
#define RAM_PAGES  (RAM_SIZE >> 12)

static struct balloon *b;
static char err[512];

static void vm_up(bool iommu)
{
	devvm_up(RAM_SIZE, iommu);
	b = NULL;
}

static void vm_down(void)
{
	devvm_down();
	b = NULL;
}

static void up(bool iommu, const char *opts)
{
	struct device_spec spec;
	struct device *dev;

	vm_up(iommu);
	CU_ASSERT_EQUAL_FATAL(device_spec_parse(DEVICE_BALLOON, opts, &spec, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(device_add(&vm, &spec, &dev), 0);
	b = dev->priv;
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
}

static struct balloon_info info(void)
{
	struct balloon_info i;

	balloon_get_info(b, &i);
	return i;
}

/* What a driver writes into `actual` (config offset 4, 4 bytes). */
static void driver_actual(uint32_t pages)
{
	uint8_t v[4];

	put_le32(v, pages);
	b->vp.ops->config_write(&b->vp, 4, v, 4);
}

static uint8_t generation(void)
{
	return __atomic_load_n(&b->vp.config_generation, __ATOMIC_ACQUIRE);
}

/* The statistics timer's period, s (0: disarmed). */
static long timer_period(void)
{
	struct itimerspec its;

	CU_ASSERT_EQUAL_FATAL(timerfd_gettime(b->timer_fd, &its), 0);
	return (long)its.it_interval.tv_sec;
}

/* err holds one line containing `what`. */
static void err_says(const char *what)
{
	CU_ASSERT_PTR_NOT_NULL(strstr(err, what));
	CU_ASSERT_PTR_NULL(strchr(err, '\n'));
}

static void test_info_and_lookup(void)
{
	struct balloon_info i;

	vm_up(false);
	CU_ASSERT_PTR_NULL(balloon_of(&vm));
	/* No balloon: assigning is nobody's business here. */
	CU_ASSERT_EQUAL(balloon_vfio_check(&vm, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(balloon_vfio_pin(&vm, err, sizeof(err)), 0);
	balloon_vfio_unpin(&vm);
	vm_down();

	up(false, "stats=7,deflate_on_oom=on,free_page_reporting=on,vfio=allow,size=8");
	CU_ASSERT_PTR_EQUAL(balloon_of(&vm), b);
	i = info();
	CU_ASSERT_EQUAL(i.ram, RAM_SIZE);
	CU_ASSERT_EQUAL(i.target_pages, (8ULL << 20) >> 12);
	CU_ASSERT_EQUAL(i.actual_pages, 0);
	CU_ASSERT_FALSE(i.driver_ok);
	CU_ASSERT(i.deflate_on_oom);
	CU_ASSERT(i.free_page_reporting);
	CU_ASSERT(i.vfio_allow);
	CU_ASSERT_EQUAL(i.stats_s, 7);
	CU_ASSERT_EQUAL(i.features, 0);
	CU_ASSERT_STRING_EQUAL(i.policy, "free");
	CU_ASSERT_EQUAL(i.vfio_devices, 0);
	CU_ASSERT_EQUAL(i.c.inflated + i.c.deflated + i.c.kept + i.c.reported, 0);
	CU_ASSERT_EQUAL(i.st.valid, 0);
	CU_ASSERT_EQUAL(i.stats_age_ms, -1);
	CU_ASSERT(balloon_has_stats(b));
	vm_down();

	up(false, "");
	i = info();
	CU_ASSERT_FALSE(i.deflate_on_oom || i.free_page_reporting || i.vfio_allow);
	CU_ASSERT_EQUAL(i.stats_s, 0);
	CU_ASSERT_EQUAL(i.target_pages, 0);
	CU_ASSERT_FALSE(balloon_has_stats(b));
	vm_down();
}

static void test_set_target(void)
{
	uint8_t gen;

	up(false, "");
	gen = generation();
	/* Up to RAM less 64 MiB, in whole pages. */
	CU_ASSERT_EQUAL(balloon_set_target(b, RAM_SIZE - (64ULL << 20), err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info().target_pages, (RAM_SIZE >> 12) - (64ULL << 20 >> 12));
	CU_ASSERT_EQUAL(generation(), (uint8_t)(gen + 1));
	CU_ASSERT_EQUAL(balloon_set_target(b, 10 * 4096 + 100, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info().target_pages, 10);
	CU_ASSERT_EQUAL(generation(), (uint8_t)(gen + 2));
	/* One page more would leave less than 64 MiB: refused, nothing changes. */
	err[0] = '\0';
	CU_ASSERT_EQUAL(balloon_set_target(b, RAM_SIZE - (64ULL << 20) + 4096, err, sizeof(err)),
			-EINVAL);
	err_says("less than 64M");
	err_says("128M");
	CU_ASSERT_EQUAL(info().target_pages, 10);
	CU_ASSERT_EQUAL(generation(), (uint8_t)(gen + 2));
	CU_ASSERT_EQUAL(balloon_set_target(b, RAM_SIZE, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(balloon_set_target(b, RAM_SIZE + 4096, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(balloon_set_target(b, UINT64_MAX, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(info().target_pages, 10);
	/* 0 empties it. */
	CU_ASSERT_EQUAL(balloon_set_target(b, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info().target_pages, 0);
	CU_ASSERT_EQUAL(generation(), (uint8_t)(gen + 3));
	/* A guest of less than 64 MiB can take no balloon, but 0 (deflate all) is still taken. */
	b->ram_pages = (32ULL << 20) >> 12;
	CU_ASSERT_EQUAL(balloon_set_target(b, 4096, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(balloon_set_target(b, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info().target_pages, 0);
	b->ram_pages = RAM_PAGES;
	vm_down();
}

/* An assigned device without VT-d pins all of RAM: targets above 0 are
 * refused; unpinning brings "free" back. */
static void test_vfio_refuse(void)
{
	struct balloon_info i;
	uint8_t gen;

	up(false, "");
	CU_ASSERT_EQUAL(balloon_vfio_pin(&vm, err, sizeof(err)), 0);
	i = info();
	CU_ASSERT_STRING_EQUAL(i.policy, "vfio-refuse");
	CU_ASSERT_EQUAL(i.vfio_devices, 1);
	gen = generation();
	err[0] = '\0';
	CU_ASSERT_EQUAL(balloon_set_target(b, 16ULL << 20, err, sizeof(err)), -EPERM);
	err_says("pin all guest RAM");
	err_says("vfio-refuse");
	CU_ASSERT_EQUAL(balloon_set_target(b, 4096, err, sizeof(err)), -EPERM);
	CU_ASSERT_EQUAL(info().target_pages, 0);
	CU_ASSERT_EQUAL(generation(), gen);
	/* The size check comes first. */
	CU_ASSERT_EQUAL(balloon_set_target(b, RAM_SIZE, err, sizeof(err)), -EINVAL);
	/* 0 and less than a page (0 pages) are no inflation. */
	CU_ASSERT_EQUAL(balloon_set_target(b, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(balloon_set_target(b, 4095, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info().target_pages, 0);
	/* Two devices; both must go before the balloon may inflate. */
	CU_ASSERT_EQUAL(balloon_vfio_pin(&vm, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info().vfio_devices, 2);
	balloon_vfio_unpin(&vm);
	CU_ASSERT_STRING_EQUAL(info().policy, "vfio-refuse");
	CU_ASSERT_EQUAL(balloon_set_target(b, 4096, err, sizeof(err)), -EPERM);
	balloon_vfio_unpin(&vm);
	i = info();
	CU_ASSERT_STRING_EQUAL(i.policy, "free");
	CU_ASSERT_EQUAL(i.vfio_devices, 0);
	CU_ASSERT_EQUAL(balloon_set_target(b, 16ULL << 20, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info().target_pages, 4096);
	/* An unpin too many stays at 0. */
	CU_ASSERT_EQUAL(balloon_set_target(b, 0, err, sizeof(err)), 0);
	balloon_vfio_unpin(&vm);
	CU_ASSERT_EQUAL(info().vfio_devices, 0);
	CU_ASSERT_STRING_EQUAL(info().policy, "free");
	vm_down();
}

/* A device may not come while the balloon holds (actual) or is asked to
 * hold (num_pages) pages; check says the same without counting. */
static void test_vfio_pin_refused(void)
{
	up(false, "");
	CU_ASSERT_EQUAL(balloon_set_target(b, 16ULL << 20, err, sizeof(err)), 0);
	err[0] = '\0';
	CU_ASSERT_EQUAL(balloon_vfio_check(&vm, err, sizeof(err)), -EBUSY);
	err_says("deflate it first");
	err_says("target 16M");
	err[0] = '\0';
	CU_ASSERT_EQUAL(balloon_vfio_pin(&vm, err, sizeof(err)), -EBUSY);
	err_says("deflate it first");
	CU_ASSERT_EQUAL(info().vfio_devices, 0);
	CU_ASSERT_STRING_EQUAL(info().policy, "free");
	/* Target 0, but the driver still holds pages. */
	driver_actual(2048);
	CU_ASSERT_EQUAL(balloon_set_target(b, 0, err, sizeof(err)), 0);
	err[0] = '\0';
	CU_ASSERT_EQUAL(balloon_vfio_check(&vm, err, sizeof(err)), -EBUSY);
	err_says("holds 8M");
	CU_ASSERT_EQUAL(balloon_vfio_pin(&vm, err, sizeof(err)), -EBUSY);
	CU_ASSERT_EQUAL(info().vfio_devices, 0);
	/* Deflated: check does not count, pin does. */
	driver_actual(0);
	CU_ASSERT_EQUAL(balloon_vfio_check(&vm, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(balloon_vfio_check(&vm, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info().vfio_devices, 0);
	CU_ASSERT_EQUAL(balloon_vfio_pin(&vm, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info().vfio_devices, 1);
	balloon_vfio_unpin(&vm);
	vm_down();

	/* A VM that starts pre-ballooned, deflated since: its next boot
	 * would refuse the device, so the hot-add is refused now. */
	up(false, "size=32M");
	CU_ASSERT_EQUAL(balloon_set_target(b, 0, err, sizeof(err)), 0);
	err[0] = '\0';
	CU_ASSERT_EQUAL(balloon_vfio_pin(&vm, err, sizeof(err)), -EBUSY);
	err_says("starts with a balloon of 32M");
	CU_ASSERT_EQUAL(info().vfio_devices, 0);
	vm_down();

	/* vfio=allow: pages go back although devices are assigned. */
	up(false, "vfio=allow");
	CU_ASSERT_EQUAL(balloon_set_target(b, 16ULL << 20, err, sizeof(err)), 0);
	driver_actual(100);
	CU_ASSERT_EQUAL(balloon_vfio_check(&vm, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(balloon_vfio_pin(&vm, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(info().policy, "vfio-allow");
	CU_ASSERT_EQUAL(balloon_set_target(b, 32ULL << 20, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info().target_pages, 8192);
	CU_ASSERT_EQUAL(balloon_vfio_pin(&vm, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info().vfio_devices, 2);
	balloon_vfio_unpin(&vm);
	balloon_vfio_unpin(&vm);
	CU_ASSERT_STRING_EQUAL(info().policy, "free");
	vm_down();
}

/* Behind isle's VT-d: targets are taken with devices assigned; a device
 * may come while a target is not yet followed (nothing has gone back), not
 * to a balloon holding pages (a new container starts as the identity). */
static void test_vfio_iommu(void)
{
	up(true, "");
	CU_ASSERT_EQUAL(balloon_vfio_pin(&vm, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(info().policy, "vfio-iommu");
	CU_ASSERT_EQUAL(balloon_set_target(b, 16ULL << 20, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info().target_pages, 4096);
	CU_ASSERT_EQUAL(balloon_vfio_pin(&vm, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info().vfio_devices, 2);
	driver_actual(100);
	err[0] = '\0';
	CU_ASSERT_EQUAL(balloon_vfio_pin(&vm, err, sizeof(err)), -EBUSY);
	err_says("deflate it first");
	CU_ASSERT_EQUAL(info().vfio_devices, 2);
	balloon_vfio_unpin(&vm);
	balloon_vfio_unpin(&vm);
	CU_ASSERT_STRING_EQUAL(info().policy, "free");
	vm_down();

	/* A pre-ballooned start behind the VT-d: the device is admitted
	 * whether it is realized before the balloon or after it. */
	up(true, "size=32M");
	CU_ASSERT_EQUAL(info().target_pages, 8192);
	CU_ASSERT_EQUAL(balloon_vfio_pin(&vm, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(info().policy, "vfio-iommu");
	balloon_vfio_unpin(&vm);
	vm_down();

	/* vfio=allow wins over the VT-d's policy. */
	up(true, "vfio=allow");
	CU_ASSERT_EQUAL(balloon_vfio_pin(&vm, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(info().policy, "vfio-allow");
	balloon_vfio_unpin(&vm);
	vm_down();
}

static void test_stats_interval(void)
{
	up(false, "");
	err[0] = '\0';
	CU_ASSERT_EQUAL(balloon_set_stats_interval(b, 5, err, sizeof(err)), -ENOTSUP);
	err_says("no statistics queue");
	CU_ASSERT_EQUAL(info().stats_s, 0);
	CU_ASSERT_EQUAL(timer_period(), 0);
	vm_down();

	up(false, "stats=10");
	CU_ASSERT_EQUAL(info().stats_s, 10);
	CU_ASSERT_EQUAL(timer_period(), 10);
	err[0] = '\0';
	CU_ASSERT_EQUAL(balloon_set_stats_interval(b, 0, err, sizeof(err)), -EINVAL);
	err_says("1 to 3600");
	CU_ASSERT_EQUAL(balloon_set_stats_interval(b, 3601, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(balloon_set_stats_interval(b, UINT32_MAX, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(info().stats_s, 10);
	CU_ASSERT_EQUAL(timer_period(), 10);
	CU_ASSERT_EQUAL(balloon_set_stats_interval(b, 5, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info().stats_s, 5);
	CU_ASSERT_EQUAL(timer_period(), 5);
	CU_ASSERT_EQUAL(balloon_set_stats_interval(b, 3600, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info().stats_s, 3600);
	CU_ASSERT_EQUAL(timer_period(), 3600);
	CU_ASSERT_EQUAL(balloon_set_stats_interval(b, 1, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(info().stats_s, 1);
	CU_ASSERT_EQUAL(timer_period(), 1);
	/* The options stay what the VM was made with. */
	CU_ASSERT_EQUAL(b->opt.stats_s, 10);
	CU_ASSERT(balloon_has_stats(b));
	vm_down();
}

void unit_register(void)
{
	UNIT_SUITE("balloon_ctl", UNIT_TEST(test_info_and_lookup), UNIT_TEST(test_set_target),
		   UNIT_TEST(test_vfio_refuse), UNIT_TEST(test_vfio_pin_refused),
		   UNIT_TEST(test_vfio_iommu), UNIT_TEST(test_stats_interval));
}
