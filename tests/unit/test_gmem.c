/* Unit tests for lib/gmem.c: region table and the bounds-checked translator. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cunit.h"
#include "isle/gmem.h"

static uint8_t ram_a[8192], ram_b[4096];

static void gmem_two(struct gmem *gm)
{
	memset(gm, 0, sizeof(*gm));
	CU_ASSERT_EQUAL(gmem_add(gm, 0x1000, sizeof(ram_a), ram_a, -1, 0), 0);
	CU_ASSERT_EQUAL(gmem_add(gm, 0x10000, sizeof(ram_b), ram_b, -1, 0), 0);
}

static void test_translate_bounds(void)
{
	struct gmem gm;
	uint64_t len;

	gmem_two(&gm);
	len = 100;
	CU_ASSERT_PTR_EQUAL(gmem_gpa_to_hva(&gm, 0x1000, &len), ram_a);
	CU_ASSERT_EQUAL(len, 100);
	len = 0x10000;   /* more than the region: clipped to what is contiguous */
	CU_ASSERT_PTR_EQUAL(gmem_gpa_to_hva(&gm, 0x2ff0, &len), ram_a + 0x1ff0);
	CU_ASSERT_EQUAL(len, 0x10);
	len = 1;
	CU_ASSERT_PTR_NULL(gmem_gpa_to_hva(&gm, 0x3000, &len));   /* one past the end */
	CU_ASSERT_EQUAL(len, 0);
	len = 1;
	CU_ASSERT_PTR_NULL(gmem_gpa_to_hva(&gm, 0xfff, &len));
	len = 1;
	CU_ASSERT_PTR_NULL(gmem_gpa_to_hva(&gm, UINT64_MAX, &len));
}

static void test_add_rejects(void)
{
	struct gmem gm;

	gmem_two(&gm);
	CU_ASSERT_EQUAL(gmem_add(&gm, 0x2000, 0x2000, ram_b, -1, 0), -EINVAL);   /* overlap */
	CU_ASSERT_EQUAL(gmem_add(&gm, 0x0, 0x1001, ram_b, -1, 0), -EINVAL);      /* overlap */
	CU_ASSERT_EQUAL(gmem_add(&gm, 0x100000, 0, ram_b, -1, 0), -EINVAL);      /* empty */
	CU_ASSERT_EQUAL(gmem_add(&gm, UINT64_MAX - 10, 100, ram_b, -1, 0), -EINVAL); /* wraps */
	for (unsigned int i = gm.nr; i < GMEM_MAX_REGIONS; i++)
		CU_ASSERT_EQUAL(gmem_add(&gm, 0x100000 * (i + 1), 16, ram_b, -1, 0), 0);
	CU_ASSERT_EQUAL(gmem_add(&gm, 0x80000000, 16, ram_b, -1, 0), -ENOSPC);
}

static void test_copy_across_and_fault(void)
{
	struct gmem gm;
	uint8_t buf[64];

	memset(&gm, 0, sizeof(gm));
	/* Two adjacent regions backed by separate buffers: copies must loop. */
	CU_ASSERT_EQUAL(gmem_add(&gm, 0x1000, 4096, ram_a, -1, 0), 0);
	CU_ASSERT_EQUAL(gmem_add(&gm, 0x2000, 4096, ram_b, -1, 0), 0);
	memset(buf, 0xab, sizeof(buf));
	CU_ASSERT_EQUAL(gmem_write(&gm, 0x2000 - 32, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(ram_a[4095], 0xab);
	CU_ASSERT_EQUAL(ram_b[31], 0xab);
	CU_ASSERT_EQUAL(ram_b[32], 0);
	memset(buf, 0, sizeof(buf));
	CU_ASSERT_EQUAL(gmem_read(&gm, 0x2000 - 32, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(buf[0], 0xab);
	CU_ASSERT_EQUAL(buf[63], 0xab);
	CU_ASSERT_EQUAL(gmem_read(&gm, 0x3000 - 8, buf, 16), -EFAULT);
	CU_ASSERT_EQUAL(gmem_fill(&gm, 0x2000 - 32, 0, 64), 0);
	CU_ASSERT_EQUAL(ram_b[0], 0);
	CU_ASSERT_EQUAL(gmem_fill(&gm, 0x0, 0, 16), -EFAULT);
}

static void test_discard(void)
{
	int fd = memfd_create("t", MFD_CLOEXEC);
	uint8_t *m;
	struct gmem g = { 0 };
	struct stat st;
	uint64_t gpa;

	CU_ASSERT_FATAL(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CU_ASSERT_FATAL(m != MAP_FAILED);
	memset(m, 0x5a, 1 << 20);
	/* One file, two regions with a gap between them in guest-physical space. */
	CU_ASSERT_EQUAL(gmem_add(&g, 0x0, 0x80000, m, fd, 0), 0);
	CU_ASSERT_EQUAL(gmem_add(&g, 0x100000, 0x80000, m + 0x80000, fd, 0x80000), 0);
	CU_ASSERT_EQUAL(gmem_discard(&g, 0x1000, 0x800), -EINVAL);      /* not page sized */
	CU_ASSERT_EQUAL(gmem_discard(&g, 0x7f000, 0x2000), -EFAULT);    /* runs into the gap */
	CU_ASSERT_EQUAL(m[0x7f000], 0x5a);                              /* ... and nothing went */
	CU_ASSERT_EQUAL(gmem_discard(&g, 0x100000, 0x10000), 0);
	/* The blocks first: reading a hole of a shared memfd allocates a page. */
	CU_ASSERT_EQUAL(fstat(fd, &st), 0);
	CU_ASSERT((uint64_t)st.st_blocks * 512 <= (1 << 20) - 0x10000);
	CU_ASSERT_EQUAL(m[0x80000], 0);
	CU_ASSERT_EQUAL(m[0x8ffff], 0);
	CU_ASSERT_EQUAL(m[0x90000], 0x5a);
	CU_ASSERT_EQUAL(gmem_hva_to_gpa(&g, m + 0x80010, 16, &gpa), 0);
	CU_ASSERT_EQUAL(gpa, 0x100010);
	CU_ASSERT_EQUAL(gmem_hva_to_gpa(&g, m + 0x7fff0, 32, &gpa), -EFAULT);   /* straddles */
	CU_ASSERT_EQUAL(gmem_hva_to_gpa(&g, &st, 1, &gpa), -EFAULT);
	munmap(m, 1 << 20);
	close(fd);
}

void unit_register(void)
{
	UNIT_SUITE("gmem",
		   UNIT_TEST(test_translate_bounds),
		   UNIT_TEST(test_add_rejects),
		   UNIT_TEST(test_copy_across_and_fault),
		   UNIT_TEST(test_discard));
}
