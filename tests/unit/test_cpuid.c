/* Unit tests for vmm/core/cpuid.c: what cpuid_adjust() makes of a supported
 * table: APIC ids and topology per vCPU, KVM's leaves moved to 0x40000100,
 * isle's signature and timing leaves, and refusal when there is no room. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>

#include "cunit.h"
#include "core/vm.h"

#define MAXN 16

static struct kvm_cpuid2 *table(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + MAXN * sizeof(c->entries[0]));
	static const struct kvm_cpuid_entry2 base[] = {
		{ .function = 1, .ebx = 0xff0800, .ecx = 0x1, .edx = 0 },
		{ .function = 4, .index = 0, .eax = 0xfc004121,
		  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX },
		{ .function = 0xb, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX },
		{ .function = 0xb, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX },
		{ .function = 0xb, .index = 2, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX },
		{ .function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b },
		{ .function = 0x40000001, .eax = 0x1234 },
	};

	memcpy(c->entries, base, sizeof(base));
	c->nent = sizeof(base) / sizeof(base[0]);
	return c;
}

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (unsigned int i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	return NULL;
}

static void test_apic_id_and_topology(void)
{
	struct kvm_cpuid2 *c = table();
	const struct kvm_cpuid_entry2 *e;

	CU_ASSERT_EQUAL_FATAL(cpuid_adjust(c, MAXN, 3, 4, 2000000), 0);
	e = find(c, 1, 0);
	CU_ASSERT_EQUAL(e->ebx >> 24, 3);                 /* initial APIC id */
	CU_ASSERT_EQUAL((e->ebx >> 16) & 0xff, 4);        /* logical CPUs */
	CU_ASSERT_EQUAL(e->ebx & 0xffff, 0x0800);         /* the rest kept */
	CU_ASSERT(e->ecx & (1u << 31));                   /* hypervisor */
	CU_ASSERT(e->edx & (1u << 28));                   /* HTT */
	CU_ASSERT_EQUAL(find(c, 0xb, 0)->edx, 3);         /* x2APIC id */
	CU_ASSERT_EQUAL(find(c, 0xb, 0)->ebx, 1);         /* one thread */
	CU_ASSERT_EQUAL(find(c, 0xb, 1)->ebx, 4);         /* four cores */
	CU_ASSERT_EQUAL(find(c, 0xb, 1)->eax, 2);         /* shift to package */
	CU_ASSERT_EQUAL(find(c, 0xb, 2)->ecx, 2);         /* invalid level */
	free(c);
}

static void test_single_vcpu_has_no_htt(void)
{
	struct kvm_cpuid2 *c = table();

	CU_ASSERT_EQUAL_FATAL(cpuid_adjust(c, MAXN, 0, 1, 0), 0);
	CU_ASSERT_FALSE(find(c, 1, 0)->edx & (1u << 28));
	CU_ASSERT_EQUAL(find(c, 0xb, 1)->eax, 0);
	free(c);
}

static void test_hypervisor_leaves(void)
{
	struct kvm_cpuid2 *c = table();
	const struct kvm_cpuid_entry2 *e;

	CU_ASSERT_EQUAL_FATAL(cpuid_adjust(c, MAXN, 0, 2, 2500000), 0);
	CU_ASSERT_EQUAL(c->nent, 9);
	e = find(c, 0x40000000, 0);
	CU_ASSERT_FATAL(e != NULL);
	CU_ASSERT_EQUAL(memcmp(&e->ebx, "isle", 4), 0);
	CU_ASSERT_EQUAL(memcmp(&e->ecx, "isle", 4), 0);
	CU_ASSERT_EQUAL(memcmp(&e->edx, "isle", 4), 0);
	CU_ASSERT_EQUAL(e->eax, 0x40000010);
	e = find(c, 0x40000010, 0);
	CU_ASSERT_FATAL(e != NULL);
	CU_ASSERT_EQUAL(e->eax, 2500000);                 /* TSC kHz */
	CU_ASSERT_EQUAL(e->ebx, 1000000);                 /* LAPIC timer kHz */
	e = find(c, 0x40000100, 0);                       /* KVM's base, moved */
	CU_ASSERT_FATAL(e != NULL);
	CU_ASSERT_EQUAL(e->ebx, 0x4b4d564b);
	CU_ASSERT_EQUAL(e->eax, 0x40000101);              /* its max leaf, moved too */
	CU_ASSERT_EQUAL(find(c, 0x40000101, 0)->eax, 0x1234);
	CU_ASSERT_PTR_NULL(find(c, 0x40000001, 0));
	free(c);
}

/* Leaf 4 EAX[31:26] is "cores per package - 1" in six bits: it saturates
 * at 63 for 64 vCPUs and more (the CLI allows 255) and keeps the cache
 * description in EAX[13:0]. */
static void test_leaf4_cores_saturate(void)
{
	static const unsigned int nr[] = { 1, 2, 63, 64, 65, 128, 255 };

	for (unsigned int i = 0; i < sizeof(nr) / sizeof(nr[0]); i++) {
		struct kvm_cpuid2 *c = table();
		uint32_t eax;

		CU_ASSERT_EQUAL_FATAL(cpuid_adjust(c, MAXN, 0, nr[i], 0), 0);
		eax = find(c, 4, 0)->eax;
		CU_ASSERT_EQUAL(eax >> 26, nr[i] > 64 ? 63 : nr[i] - 1);
		CU_ASSERT_EQUAL(eax & 0x3fff, 0x0121);
		free(c);
	}
}

static void test_no_room(void)
{
	struct kvm_cpuid2 *c = table();
	unsigned int n = c->nent;

	CU_ASSERT_EQUAL(cpuid_adjust(c, n + 1, 0, 1, 0), -ENOSPC);
	CU_ASSERT_EQUAL(c->nent, n);
	CU_ASSERT_EQUAL(cpuid_adjust(c, n - 1, 0, 1, 0), -ENOSPC);
	free(c);
}

void unit_register(void)
{
	UNIT_SUITE("cpuid", UNIT_TEST(test_apic_id_and_topology),
		   UNIT_TEST(test_single_vcpu_has_no_htt), UNIT_TEST(test_hypervisor_leaves),
		   UNIT_TEST(test_leaf4_cores_saturate),
		   UNIT_TEST(test_no_room));
}
