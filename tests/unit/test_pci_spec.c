/* Unit tests for vmm/control/pci_spec.c: xl's PCI syntax for --pci, a table
 * of good specs with what they parse to and bad ones with their error and
 * a piece of the message; every key accepted or refused by name. */
#include <errno.h>
#include <string.h>

#include "cunit.h"
#include "isle/util.h"
#include "control/pci_spec.h"

struct spec_case {
	const char *spec;
	int r;
	const char *host;    /* r == 0: canonical host; else a piece of the message */
	int vslot;
};

static const struct spec_case cases[] = {
	{ "00:04.0", 0, "0000:00:04.0", -1 },
	{ "0000:00:04.0", 0, "0000:00:04.0", -1 },
	{ "1:2:3.4", 0, "0001:02:03.4", -1 },
	{ "ff:1f.7@1f", 0, "0000:ff:1f.7", 31 },
	{ "0000:03:00.1@5,permissive=1", 0, "0000:03:00.1", 5 },
	{ "AB:0c.2", 0, "0000:ab:0c.2", -1 },
	{ "00:04.0,msitranslate=0,power_mgmt=0,rdm_policy=strict", 0, "0000:00:04.0", -1 },
	{ "00:04.0,rdm_policy=relaxed,seize=0,name=nic0", 0, "0000:00:04.0", -1 },
	{ "", -EINVAL, "not a PCI address", 0 },
	{ "00:04", -EINVAL, "not a PCI address", 0 },
	{ "00:20.0", -EINVAL, "not a PCI address", 0 },
	{ "00:04.8", -EINVAL, "not a PCI address", 0 },
	{ "100:04.0", -EINVAL, "not a PCI address", 0 },
	{ "10000:00:04.0", -EINVAL, "not a PCI address", 0 },
	{ "00:04.0 ", -EINVAL, "not a PCI address", 0 },
	{ "00:04.0@0", -EINVAL, "virtual slot", 0 },
	{ "00:04.0@20", -EINVAL, "virtual slot", 0 },
	{ "00:04.0@", -EINVAL, "virtual slot", 0 },
	{ "00:04.0,msitranslate=1", -ENOTSUP, "msitranslate=1", 0 },
	{ "00:04.0,power_mgmt=1", -ENOTSUP, "power_mgmt=1", 0 },
	{ "00:04.0,rdm_policy=lax", -EINVAL, "strict or relaxed", 0 },
	{ "00:04.0,permissive=2", -EINVAL, "expected 0 or 1", 0 },
	{ "00:04.0,bogus=1", -EINVAL, "unknown key 'bogus'", 0 },
	{ "00:04.0,vslot=3", -ENOTSUP, "@VSLOT", 0 },
	{ "00:04.0,permissive", -EINVAL, "KEY=VALUE", 0 },
	{ "00:04.0,=1", -EINVAL, "KEY=VALUE", 0 },
	{ "00:04.0,msix_relocation=maybe", -EINVAL, "auto, on or off", 0 },
	{ "00:04.0,name=", -EINVAL, "1-31", 0 },
	{ "00:04.0\n", -EINVAL, "non-printable", 0 },
	{ "00:04.0,name=a\033b", -EINVAL, "non-printable", 0 },
};

static void test_golden(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct spec_case *c = &cases[i];
		struct vm_pci p;
		char err[200];
		int r = pci_spec_parse(c->spec, &p, err, sizeof(err));

		CU_ASSERT_EQUAL(r, c->r);
		if (r != c->r)
			fprintf(stderr, "'%s': %d (%s)\n", c->spec, r, err);
		if (!c->r && !r) {
			CU_ASSERT_STRING_EQUAL(p.host, c->host);
			CU_ASSERT_EQUAL(p.vslot, c->vslot);
		} else if (c->r) {
			CU_ASSERT_PTR_NOT_NULL(strstr(err, c->host));
		}
	}
}

static void test_fields(void)
{
	struct vm_pci p;
	char err[200];

	CU_ASSERT_EQUAL_FATAL(pci_spec_parse("00:04.0,permissive=1,seize=1,name=gpu0,"
					     "msix_relocation=on", &p, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(p.permissive);
	CU_ASSERT_TRUE(p.seize);
	CU_ASSERT_STRING_EQUAL(p.name, "gpu0");
	CU_ASSERT_EQUAL(p.msix_relocation, 1);
	CU_ASSERT_EQUAL_FATAL(pci_spec_parse("00:04.0,msix_relocation=off,permissive=0", &p, err,
					     sizeof(err)), 0);
	CU_ASSERT_FALSE(p.permissive);
	CU_ASSERT_EQUAL(p.msix_relocation, 2);
	CU_ASSERT_EQUAL_FATAL(pci_spec_parse("00:04.0", &p, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(p.msix_relocation, 0);
	CU_ASSERT_FALSE(p.seize);
	CU_ASSERT_STRING_EQUAL(p.name, "");
}

static void test_long(void)
{
	char spec[PCI_SPEC_MAX + 8], err[200];
	struct vm_pci p;

	memset(spec, 'a', sizeof(spec) - 1);
	spec[sizeof(spec) - 1] = '\0';
	memcpy(spec, "00:04.0,name=", 13);
	CU_ASSERT_EQUAL(pci_spec_parse(spec, &p, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "longer than"));
	/* A name one too long. */
	CU_ASSERT_EQUAL(pci_spec_parse("00:04.0,name=abcdefghijabcdefghijabcdefghij12", &p, err,
				       sizeof(err)), -EINVAL);
}

void unit_register(void)
{
	UNIT_SUITE("pci_spec", UNIT_TEST(test_golden), UNIT_TEST(test_fields),
		   UNIT_TEST(test_long));
}
