/* Unit tests for vmm/core/device.c with fake device types (no KVM): ids
 * (automatic, given, duplicate, malformed), device_del of unknown and
 * platform ids, a failed realize leaving nothing behind, teardown in reverse
 * order, lookups by type, and the spec validator's id= and kind names. */
#include <errno.h>
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "core/device.h"
#include "core/vm.h"

#define LOG_MAX 16

static struct vm vm;
static char log_realized[LOG_MAX][DEVICE_ID_MAX], log_unrealized[LOG_MAX][DEVICE_ID_MAX];
static unsigned int nr_realized, nr_unrealized, live;
static int fail_next;   /* realize returns this once when non-zero */

struct fake_state {
	unsigned int magic;
};

static int fake_realize(struct device *dev)
{
	static struct fake_state states[LOG_MAX];
	int r = fail_next;

	CU_ASSERT_PTR_EQUAL(dev->vm, &vm);
	CU_ASSERT_PTR_NULL(dev->priv);
	fail_next = 0;
	if (r)
		return r;
	if (nr_realized < LOG_MAX) {
		memcpy(log_realized[nr_realized], dev->id, DEVICE_ID_MAX);
		states[nr_realized].magic = 0xfeed;
		dev->priv = &states[nr_realized];
	}
	nr_realized++;
	live++;
	return 0;
}

static void fake_unrealize(struct device *dev)
{
	struct fake_state *st = dev->priv;

	CU_ASSERT_EQUAL(st->magic, 0xfeed);
	/* Already out of the list: a lookup cannot find a half-gone device. */
	CU_ASSERT_PTR_NULL(device_find(dev->vm, dev->id));
	if (nr_unrealized < LOG_MAX)
		memcpy(log_unrealized[nr_unrealized], dev->id, DEVICE_ID_MAX);
	nr_unrealized++;
	live--;
}

static const struct device_type fake_disk = {
	.name = "fake-disk",
	.id_prefix = "disk",
	.kind = DEVICE_DISK,
	.realize = fake_realize,
	.unrealize = fake_unrealize,
};

static const struct device_type fake_platform = {
	.name = "fake-platform",
	.id_prefix = "plat",
	.kind = DEVICE_SERIAL,
	.platform = true,
	.realize = fake_realize,
	.unrealize = fake_unrealize,
};

static void reset(void)
{
	memset(&vm, 0, sizeof(vm));
	nr_realized = nr_unrealized = live = 0;
	fail_next = 0;
}

static struct device *add(const struct device_type *t, const char *id, int want)
{
	static struct device_spec spec;
	struct device *dev = NULL;

	memset(&spec, 0, sizeof(spec));
	spec.kind = t->kind;
	snprintf(spec.id, sizeof(spec.id), "%s", id);
	CU_ASSERT_EQUAL(device_add_type(&vm, t, &spec, &dev), want);
	return want ? NULL : dev;
}

static void test_ids(void)
{
	struct device *a, *b, *c, *d;

	reset();
	a = add(&fake_disk, "", 0);
	b = add(&fake_disk, "", 0);
	c = add(&fake_disk, "boot", 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(a->id, "disk0");
	CU_ASSERT_STRING_EQUAL(b->id, "disk1");
	CU_ASSERT_STRING_EQUAL(c->id, "boot");
	CU_ASSERT_PTR_EQUAL(c->type, &fake_disk);
	CU_ASSERT_STRING_EQUAL(c->spec.id, "boot");
	CU_ASSERT_EQUAL(vm.devices.count, 3);
	CU_ASSERT_PTR_EQUAL(device_find(&vm, "disk1"), b);
	CU_ASSERT_PTR_EQUAL(device_find(&vm, "boot"), c);
	CU_ASSERT_PTR_NULL(device_find(&vm, "disk2"));

	/* Duplicates and bad ids are refused without calling realize. */
	add(&fake_disk, "boot", -EEXIST);
	add(&fake_disk, "disk0", -EEXIST);
	add(&fake_disk, "0disk", -EINVAL);
	add(&fake_disk, "a b", -EINVAL);
	CU_ASSERT_EQUAL(nr_realized, 3);
	CU_ASSERT_EQUAL(vm.devices.count, 3);

	/* A freed automatic id is reused; a user id that looks automatic is
	 * skipped over. */
	CU_ASSERT_EQUAL(device_del(&vm, "disk0"), 0);
	d = add(&fake_disk, "", 0);
	CU_ASSERT_STRING_EQUAL(d->id, "disk0");
	add(&fake_disk, "disk2", 0);
	d = add(&fake_disk, "", 0);
	CU_ASSERT_STRING_EQUAL(d->id, "disk3");
	device_del_all(&vm);
	CU_ASSERT_EQUAL(live, 0);
	CU_ASSERT_PTR_NULL(vm.devices.first);
	CU_ASSERT_PTR_NULL(vm.devices.last);
	CU_ASSERT_EQUAL(vm.devices.count, 0);
}

static void test_del(void)
{
	struct device *a, *c;

	reset();
	a = add(&fake_disk, "a", 0);
	add(&fake_disk, "b", 0);
	c = add(&fake_disk, "c", 0);
	CU_ASSERT_EQUAL(device_del(&vm, "nope"), -ENOENT);
	CU_ASSERT_EQUAL(device_del(&vm, ""), -ENOENT);
	CU_ASSERT_EQUAL(nr_unrealized, 0);
	/* From the middle: the list stays linked. */
	CU_ASSERT_EQUAL(device_del(&vm, "b"), 0);
	CU_ASSERT_STRING_EQUAL(log_unrealized[0], "b");
	CU_ASSERT_PTR_EQUAL(vm.devices.first, a);
	CU_ASSERT_PTR_EQUAL(a->next, c);
	CU_ASSERT_PTR_EQUAL(c->prev, a);
	CU_ASSERT_EQUAL(device_del(&vm, "b"), -ENOENT);
	CU_ASSERT_EQUAL(device_del(&vm, "c"), 0);
	CU_ASSERT_PTR_EQUAL(vm.devices.last, a);
	CU_ASSERT_EQUAL(device_del(&vm, "a"), 0);
	CU_ASSERT_PTR_NULL(vm.devices.first);
	CU_ASSERT_EQUAL(live, 0);
}

static void test_realize_failure(void)
{
	reset();
	add(&fake_disk, "", 0);
	fail_next = -EIO;
	add(&fake_disk, "bad", -EIO);
	CU_ASSERT_PTR_NULL(device_find(&vm, "bad"));
	CU_ASSERT_EQUAL(vm.devices.count, 1);
	CU_ASSERT_EQUAL(nr_unrealized, 0);   /* realize cleaned up after itself */
	/* The id it would have had is still free. */
	fail_next = -EIO;
	add(&fake_disk, "", -EIO);
	CU_ASSERT_STRING_EQUAL(add(&fake_disk, "", 0)->id, "disk1");
	device_del_all(&vm);
	CU_ASSERT_EQUAL(live, 0);
}

static void test_teardown_reverse(void)
{
	static const char *const order[] = { "plat0", "plat1", "disk0", "x", "disk1" };

	reset();
	add(&fake_platform, "", 0);
	add(&fake_platform, "", 0);
	add(&fake_disk, "", 0);
	add(&fake_disk, "x", 0);
	add(&fake_disk, "", 0);
	for (unsigned int i = 0; i < ARRAY_SIZE(order); i++)
		CU_ASSERT_STRING_EQUAL(log_realized[i], order[i]);
	/* Platform devices leave only with the VM. */
	CU_ASSERT_EQUAL(device_del(&vm, "plat1"), -EPERM);
	CU_ASSERT_PTR_EQUAL(device_find_type(&vm, &fake_platform), vm.devices.first);
	CU_ASSERT_EQUAL(device_find_type(&vm, &fake_disk)->spec.kind, DEVICE_DISK);
	CU_ASSERT_PTR_EQUAL(device_priv_of_type(&vm, &fake_platform), vm.devices.first->priv);
	CU_ASSERT_PTR_NULL(device_priv_of_type(&vm, &serial_type));
	device_del_all(&vm);
	CU_ASSERT_EQUAL_FATAL(nr_unrealized, ARRAY_SIZE(order));
	for (unsigned int i = 0; i < ARRAY_SIZE(order); i++)
		CU_ASSERT_STRING_EQUAL(log_unrealized[i], order[ARRAY_SIZE(order) - 1 - i]);
	CU_ASSERT_EQUAL(live, 0);
	CU_ASSERT_PTR_NULL(device_find_type(&vm, &fake_platform));
}

static void test_spec(void)
{
	static struct device_spec s;
	enum device_kind k;
	char err[128];

	CU_ASSERT_EQUAL(device_spec_parse(DEVICE_TESTDEV, "", &s, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(s.kind, DEVICE_TESTDEV);
	CU_ASSERT_STRING_EQUAL(s.id, "");
	CU_ASSERT_EQUAL(device_spec_parse(DEVICE_SERIAL, "id=com1", &s, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(s.id, "com1");
	CU_ASSERT_EQUAL(device_spec_parse(DEVICE_SERIAL, "path=/x", &s, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "only id=NAME"));
	CU_ASSERT_EQUAL(device_spec_parse(DEVICE_NR_KINDS, "", &s, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(device_spec_parse(DEVICE_NIC, "id=lan,bridge=br0", &s, err, sizeof(err)),
			0);
	CU_ASSERT_STRING_EQUAL(s.id, "lan");
	CU_ASSERT_STRING_EQUAL(s.nic.bridge, "br0");
	CU_ASSERT_EQUAL(device_spec_parse(DEVICE_DISK, "file:a,id=d,vdev=xvdc", &s, err,
					  sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(s.id, "d");
	CU_ASSERT_STRING_EQUAL(s.disk.spec, "file:a");
	CU_ASSERT_STRING_EQUAL(s.disk.vdev, "xvdc");
	/* From target= on it is the path, id= or not. */
	CU_ASSERT_EQUAL(device_spec_parse(DEVICE_DISK, "raw,target=/a,id=b", &s, err, sizeof(err)),
			0);
	CU_ASSERT_STRING_EQUAL(s.id, "");
	CU_ASSERT_STRING_EQUAL(s.disk.spec, "raw,target=/a,id=b");

	for (unsigned int i = 0; i < DEVICE_NR_KINDS; i++) {
		CU_ASSERT_EQUAL(device_kind_parse(device_kind_name((enum device_kind)i), &k), 0);
		CU_ASSERT_EQUAL(k, i);
		CU_ASSERT_PTR_NOT_NULL(device_type_of((enum device_kind)i));
		CU_ASSERT_EQUAL(device_type_of((enum device_kind)i)->kind, i);
	}
	CU_ASSERT_EQUAL(device_kind_parse("floppy", &k), -EINVAL);
	CU_ASSERT_PTR_NULL(device_kind_name(DEVICE_NR_KINDS));
	CU_ASSERT_PTR_NULL(device_type_of(DEVICE_NR_KINDS));
	CU_ASSERT_TRUE(device_id_ok("a"));
	CU_ASSERT_TRUE(device_id_ok("Net-1.b_2"));
	CU_ASSERT_FALSE(device_id_ok(""));
	CU_ASSERT_FALSE(device_id_ok("-a"));
	CU_ASSERT_FALSE(device_id_ok("abcdefghijabcdefghijabcdefghijab"));   /* 32 */
	CU_ASSERT_TRUE(device_id_ok("abcdefghijabcdefghijabcdefghija"));     /* 31 */
}

void unit_register(void)
{
	UNIT_SUITE("device", UNIT_TEST(test_ids), UNIT_TEST(test_del),
		   UNIT_TEST(test_realize_failure), UNIT_TEST(test_teardown_reverse),
		   UNIT_TEST(test_spec));
}
