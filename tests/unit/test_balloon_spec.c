/* Unit tests for vmm/control/balloon_spec.c and the balloon's way through
 * the config grammar (vm_config_set "balloon", maxmem above memory). */
#include <errno.h>
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "control/balloon_spec.h"
#include "control/config.h"
#include "core/vm.h"

static void test_parse_good(void)
{
	struct vm_balloon b;
	char err[200];

	CU_ASSERT_EQUAL(balloon_spec_parse("", &b, err, sizeof(err)), 0);
	CU_ASSERT(!b.deflate_on_oom && !b.free_page_reporting && !b.stats_s && !b.vfio_allow);
	CU_ASSERT_EQUAL(balloon_spec_parse("1", &b, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(balloon_spec_parse("deflate_on_oom=on,stats=5,free_page_reporting=1,"
					   "vfio=allow,size=512M,id=bl", &b, err, sizeof(err)), 0);
	CU_ASSERT(b.deflate_on_oom && b.free_page_reporting && b.vfio_allow);
	CU_ASSERT_EQUAL(b.stats_s, 5);
	CU_ASSERT_EQUAL(b.size, 512 * MiB);
	CU_ASSERT_STRING_EQUAL(b.id, "bl");
	CU_ASSERT_EQUAL(balloon_spec_parse("size=4096B", &b, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(b.size, 4096);
}

static void test_parse_bad(void)
{
	static const char *const bad[] = {
		"deflate_on_oom=maybe", "stats=3601", "stats=-1", "stats=", "vfio=sometimes",
		"size=4095B", "size=lots", "bogus=1", "deflate_on_oom", "=on",
		"id=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"stats=1,stats=99999999999999999999999",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1",
	};
	struct vm_balloon b = { .stats_s = 77 };
	char err[200];

	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		CU_ASSERT_EQUAL(balloon_spec_parse(bad[i], &b, err, sizeof(err)), -EINVAL);
		CU_ASSERT(err[0] != '\0');
		CU_ASSERT_EQUAL(b.stats_s, 77);   /* a refusal leaves *out alone */
	}
}

static unsigned int balloons(const struct vm_config *c, const struct device_spec **out)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < c->nr_devices; i++)
		if (c->devices[i].kind == DEVICE_BALLOON) {
			n++;
			*out = &c->devices[i];
		}
	return n;
}

static void test_config(void)
{
	struct vm_config c;
	const struct device_spec *s = NULL;
	char err[300];

	vm_config_init(&c);
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "kernel", "k", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "balloon", "", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "balloon", "stats=2", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(balloons(&c, &s), 1);   /* replaced, not added */
	CU_ASSERT_EQUAL(s->balloon.stats_s, 2);
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "balloon", "stats=x", err, sizeof(err)), -EINVAL);
	CU_ASSERT(strstr(err, "--balloon: stats") != NULL);
	CU_ASSERT_EQUAL(balloons(&c, &s), 1);
	CU_ASSERT_EQUAL(s->balloon.stats_s, 2);   /* unchanged by the refusal */
	CU_ASSERT_EQUAL(vm_config_set(&c, "--", "balloon", "off", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(balloons(&c, &s), 0);
	/* xl's pre-ballooned start: RAM is maxmem, the balloon holds the rest. */
	CU_ASSERT_EQUAL(vm_config_set(&c, "", "memory", "1G", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_set(&c, "", "maxmem", "3G", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(balloons(&c, &s), 1);
	CU_ASSERT_EQUAL(s->balloon.size, 2 * GiB);
	CU_ASSERT_EQUAL(vm_config_ram(&c), 3 * GiB);
	CU_ASSERT_STRING_EQUAL(s->id, "balloon0");
	vm_config_free(&c);
}

static void test_config_vfio(void)
{
	struct vm_config c;
	char err[300];

	vm_config_init(&c);
	CU_ASSERT_EQUAL(vm_config_set(&c, "", "kernel", "k", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_set(&c, "", "pci", "00:04.0", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_set(&c, "", "memory", "1G", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_set(&c, "", "maxmem", "2G", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), -EINVAL);
	CU_ASSERT(strstr(err, "pin all guest RAM") != NULL);
	CU_ASSERT_EQUAL(vm_config_set(&c, "", "balloon", "vfio=allow", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), 0);
	vm_config_free(&c);
}

void unit_register(void)
{
	UNIT_SUITE("balloon_spec",
		   UNIT_TEST(test_parse_good),
		   UNIT_TEST(test_parse_bad),
		   UNIT_TEST(test_config),
		   UNIT_TEST(test_config_vfio));
}
