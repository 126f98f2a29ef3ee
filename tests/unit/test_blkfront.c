/* Unit tests for frontends/blkfront.c and frontends/virtio_pci.c, hosted,
 * against the simulated virtio-blk PCI function in fake_virtio_blk.c
 * (which serves the queue with isle's device-side virtqueue, lib/virtq.c,
 * so chains are parsed by independent code). Beyond the happy paths, its
 * knobs make the device misbehave: capabilities outside their BAR,
 * missing VERSION_1, refused FEATURES_OK, a bad notify offset, a short
 * device config, unstable config generation, requests never completed,
 * missing status bytes, inflated used lengths. */
#include <errno.h>
#include <string.h>

#include "cunit.h"
#include "fake_virtio_blk.h"

static struct blkfront bf;

static int bf_open(const struct blkfront_opts *opts)
{
	return blkfront_init(&bf, &fake_env, opts, fake_ram, BLKFRONT_DMA_BYTES, fake_priv,
			     BLKFRONT_PRIV_BYTES);
}

static uint8_t *buf(size_t off)
{
	return fake_ram + BUF_OFF + off;
}

/* ---- tests ------------------------------------------------------------ */

static void test_init(void)
{
	fake_setup();
	CU_ASSERT_EQUAL_FATAL(bf_open(NULL), 0);
	CU_ASSERT_PTR_NULL(bf.error);
	CU_ASSERT_EQUAL(bf.capacity, DISK_SECTORS);
	CU_ASSERT_EQUAL(bf.queue_size, 128);
	CU_ASSERT_EQUAL(bf.seg_limit, 126);
	CU_ASSERT_EQUAL(bf.size_max, 65536);
	CU_ASSERT_EQUAL(bf.max_discard_sectors, 256);
	CU_ASSERT_TRUE(bf.wz_may_unmap);
	CU_ASSERT_FALSE(bf.ro);
	CU_ASSERT_EQUAL(fk.vp.driver, fk.vp.offered);
	CU_ASSERT_EQUAL(fk.vp.status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	CU_ASSERT_TRUE(fk.vp.q[0].running);
	CU_ASSERT_EQUAL(get_le16(&fk.vp.cfg[4]) & 0x6, 0x6);   /* memory + bus master */
	CU_ASSERT_EQUAL(fk.vp.resets, 1);
	fake_teardown();
}

static void test_rw(void)
{
	fake_setup();
	CU_ASSERT_EQUAL_FATAL(bf_open(NULL), 0);
	for (size_t i = 0; i < 64 * 1024; i++)
		buf(100)[i] = (uint8_t)(i * 7 + i / 512);
	/* Misaligned: segments split at 4 KiB pages, odd first and last. */
	CU_ASSERT_EQUAL(blkfront_rw(&bf, 10, buf(100), 64 * 1024, true), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(memcmp(fk.disk + 10 * 512, buf(100), 64 * 1024), 0);
	CU_ASSERT_EQUAL(fk.max_data_segs, 17);
	memset(buf(200 * 1024), 0, 64 * 1024);
	CU_ASSERT_EQUAL(blkfront_rw(&bf, 10, buf(200 * 1024), 64 * 1024, false),
			VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(memcmp(buf(200 * 1024), buf(100), 64 * 1024), 0);
	CU_ASSERT_EQUAL(bf.last_len, 64 * 1024 + 1);
	CU_ASSERT_EQUAL(bf.requests, 2);
	CU_ASSERT_EQUAL(bf.bytes_read, 64 * 1024);
	CU_ASSERT_EQUAL(bf.bytes_written, 64 * 1024);
	/* Driver-side argument checks send nothing. */
	CU_ASSERT_EQUAL(blkfront_rw(&bf, 0, buf(0), 100, false), -EINVAL);
	CU_ASSERT_EQUAL(blkfront_rw(&bf, 0, buf(0), 0, false), -EINVAL);
	CU_ASSERT_EQUAL(fk.requests, 2);
	/* The device judges the range. */
	CU_ASSERT_EQUAL(blkfront_rw(&bf, DISK_SECTORS - 1, buf(0), 1024, false),
			VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(blkfront_rw(&bf, DISK_SECTORS - 1, buf(0), 512, true), VIRTIO_BLK_S_OK);
	CU_ASSERT_FALSE(bf.broken);
	fake_teardown();
}

static void test_split_by_seg_max(void)
{
	struct vqd_sg sg[4];

	fake_setup();
	fk.blk.seg_max = 3;
	CU_ASSERT_EQUAL_FATAL(bf_open(NULL), 0);
	CU_ASSERT_EQUAL(bf.seg_limit, 3);
	CU_ASSERT_EQUAL(blkfront_rw(&bf, 0, buf(0), 40 * 1024, true), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(fk.requests, 4);     /* 10 pages, 3 per request */
	CU_ASSERT_EQUAL(fk.max_data_segs, 3);
	for (int i = 0; i < 4; i++)
		sg[i] = (struct vqd_sg){ buf((size_t)i * 4096), 4096 };
	CU_ASSERT_EQUAL(blkfront_rw_sg(&bf, 0, sg, 4, false), -EINVAL);
	CU_ASSERT_EQUAL(blkfront_rw_sg(&bf, 0, sg, 3, false), VIRTIO_BLK_S_OK);
	sg[0].len = 100;
	CU_ASSERT_EQUAL(blkfront_rw_sg(&bf, 0, sg, 3, false), -EINVAL);
	fake_teardown();
}

static void test_commands(void)
{
	char id[VIRTIO_BLK_ID_BYTES + 1];

	fake_setup();
	CU_ASSERT_EQUAL_FATAL(bf_open(NULL), 0);
	memset(fk.disk, 0x11, 64 * 512);
	CU_ASSERT_EQUAL(blkfront_flush(&bf), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(blkfront_write_zeroes(&bf, 8, 16, false), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(fk.disk[8 * 512 - 1], 0x11);
	CU_ASSERT_EQUAL(fk.disk[8 * 512], 0);
	CU_ASSERT_EQUAL(fk.disk[24 * 512 - 1], 0);
	CU_ASSERT_EQUAL(fk.disk[24 * 512], 0x11);
	CU_ASSERT_EQUAL(blkfront_discard(&bf, 32, 8), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(blkfront_discard(&bf, 32, 257), -EINVAL);
	CU_ASSERT_EQUAL(blkfront_discard(&bf, 32, 0), -EINVAL);
	CU_ASSERT_EQUAL(blkfront_write_zeroes(&bf, DISK_SECTORS - 1, 2, true),
			VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(blkfront_get_id(&bf, id), VIRTIO_BLK_S_OK);
	CU_ASSERT_STRING_EQUAL(id, ID_STRING);
	CU_ASSERT_EQUAL(bf.last_len, 21);
	fake_teardown();

	/* Features the device does not offer are refused before sending. */
	fake_setup();
	fk.vp.offered &= ~(1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES |
			1ull << VIRTIO_BLK_F_FLUSH);
	CU_ASSERT_EQUAL_FATAL(bf_open(NULL), 0);
	CU_ASSERT_EQUAL(blkfront_flush(&bf), -EOPNOTSUPP);
	CU_ASSERT_EQUAL(blkfront_discard(&bf, 0, 8), -EOPNOTSUPP);
	CU_ASSERT_EQUAL(blkfront_write_zeroes(&bf, 0, 8, false), -EOPNOTSUPP);
	CU_ASSERT_EQUAL(fk.requests, 0);
	fake_teardown();
}

static void test_read_only(void)
{
	fake_setup();
	fk.vp.offered |= 1ull << VIRTIO_BLK_F_RO;
	CU_ASSERT_EQUAL_FATAL(bf_open(NULL), 0);
	CU_ASSERT_TRUE(bf.ro);
	CU_ASSERT_EQUAL(blkfront_rw(&bf, 0, buf(0), 512, true), VIRTIO_BLK_S_IOERR);
	CU_ASSERT_EQUAL(blkfront_rw(&bf, 0, buf(0), 512, false), VIRTIO_BLK_S_OK);
	fake_teardown();
}

static void test_feature_mask(void)
{
	struct blkfront_opts o = {
		BLKFRONT_FEATURES & ~(1ull << VIRTIO_RING_F_INDIRECT_DESC |
				      1ull << VIRTIO_RING_F_EVENT_IDX), 16, 0,
	};

	fake_setup();
	CU_ASSERT_EQUAL_FATAL(bf_open(&o), 0);
	CU_ASSERT_FALSE(fk.vp.driver & 1ull << VIRTIO_RING_F_INDIRECT_DESC);
	CU_ASSERT_EQUAL(bf.queue_size, 16);
	CU_ASSERT_EQUAL(bf.seg_limit, 14);
	CU_ASSERT_EQUAL(blkfront_rw(&bf, 0, buf(0), 128 * 1024, true), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(bf.vq.added_indirect, 0);
	CU_ASSERT_EQUAL(fk.max_data_segs, 14);
	fake_teardown();

	/* With the table, every multi-buffer request is indirect. */
	fake_setup();
	CU_ASSERT_EQUAL_FATAL(bf_open(NULL), 0);
	CU_ASSERT_EQUAL(blkfront_rw(&bf, 0, buf(0), 128 * 1024, true), VIRTIO_BLK_S_OK);
	CU_ASSERT_EQUAL(bf.vq.added_indirect, 1);
	fake_teardown();
}

/* ---- hostile or broken devices ---------------------------------------- */

static void expect_init_fails(int err, const char *why)
{
	CU_ASSERT_EQUAL(bf_open(NULL), err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bf.error);
	CU_ASSERT_STRING_EQUAL(bf.error, why);
	CU_ASSERT_TRUE(bf.broken);
	CU_ASSERT_EQUAL(blkfront_rw(&bf, 0, buf(0), 512, false), -EIO);
	fake_teardown();
}

static void test_bad_caps(void)
{
	fake_setup();
	put_le16(&fk.vp.cfg[2], 0x1001);
	expect_init_fails(-ENODEV, "transitional or legacy device id");

	fake_setup();
	put_le16(&fk.vp.cfg[2], 0x1041);       /* virtio-net */
	expect_init_fails(-ENODEV, "not a virtio-blk device");

	/* Common config running past the end of its BAR. */
	fake_setup();
	fake_put_cap(0x40, 0x50, VIRTIO_PCI_CAP_COMMON_CFG, 4, BAR_SIZE - 0x20, 0x38, 16);
	expect_init_fails(-ENODEV, "capability region beyond its BAR");

	/* Offset + length wrapping 32 bits. */
	fake_setup();
	fake_put_cap(0x50, 0x60, VIRTIO_PCI_CAP_ISR_CFG, 4, 0xfffffff0u, 0x20, 16);
	CU_ASSERT_EQUAL(bf_open(NULL), -ENODEV);
	fake_teardown();

	/* A reserved BAR number and the upper half of the 64-bit BAR. */
	fake_setup();
	fake_put_cap(0x40, 0x50, VIRTIO_PCI_CAP_COMMON_CFG, 7, COMMON_OFF, 0x38, 16);
	CU_ASSERT_EQUAL(bf_open(NULL), -ENODEV);
	fake_teardown();
	fake_setup();
	fake_put_cap(0x40, 0x50, VIRTIO_PCI_CAP_COMMON_CFG, 5, COMMON_OFF, 0x38, 16);
	expect_init_fails(-ENODEV, "capability names an unusable BAR");

	/* A bad first capability is skipped for a good second one. */
	fake_setup();
	fake_put_cap(0x40, 0x90, VIRTIO_PCI_CAP_COMMON_CFG, 4, BAR_SIZE, 0x38, 16);
	fake_put_cap(0x90, 0x50, VIRTIO_PCI_CAP_COMMON_CFG, 4, COMMON_OFF, 0x38, 16);
	CU_ASSERT_EQUAL(bf_open(NULL), 0);
	fake_teardown();

	/* A capability list that loops ends. */
	fake_setup();
	fk.vp.cfg[0x71] = 0x40;
	CU_ASSERT_EQUAL(bf_open(NULL), 0);
	fake_teardown();

	/* Notify capability too short for its multiplier. */
	fake_setup();
	fk.vp.cfg[0x72] = 16;
	expect_init_fails(-ENODEV, "notify capability too short");

	/* No device config at all. */
	fake_setup();
	fk.vp.cfg[0x51] = 0x70;
	expect_init_fails(-ENODEV, "no device config region");

	/* Device config too short for the capacity. */
	fake_setup();
	fk.vp.devcfg_len = 4;
	fake_put_cap(0x60, 0x70, VIRTIO_PCI_CAP_DEVICE_CFG, 4, DEVCFG_OFF, 4, 16);
	expect_init_fails(-EIO, "device config read beyond the device config region");
}

static void test_bad_negotiation(void)
{
	fake_setup();
	fk.vp.offered &= ~(1ull << VIRTIO_F_VERSION_1);
	expect_init_fails(-ENODEV, "device does not offer VERSION_1");

	fake_setup();
	fk.vp.refuse_features_ok = true;
	CU_ASSERT_EQUAL(bf_open(NULL), -EIO);
	CU_ASSERT_TRUE(fk.vp.status & VIRTIO_CONFIG_S_FAILED);
	fake_teardown();

	fake_setup();
	fk.vp.q[0].noff = 0x1000;            /* * 4 is far beyond 4 KiB */
	expect_init_fails(-EIO, "queue notify offset beyond the notify region");

	fake_setup();
	fk.blk.seg_max = 0;
	expect_init_fails(-EIO, "device reports seg_max 0");

	fake_setup();
	fk.blk.size_max = 100;
	expect_init_fails(-EIO, "device reports size_max below a sector");

	/* size_max 0 with SIZE_MAX offered (qemu-storage-daemon): no limit. */
	fake_setup();
	fk.blk.size_max = 0;
	CU_ASSERT_EQUAL(bf_open(NULL), 0);
	CU_ASSERT_EQUAL(bf.size_max, UINT32_MAX);
	fake_teardown();

	fake_setup();
	fk.vp.q[0].max = 2;
	expect_init_fails(-EIO, "queue too small for a request");

	fake_setup();
	fk.blk.blk_size = 1000;
	expect_init_fails(-EIO, "device reports a bad blk_size");

	/* Config generation: a few changes are waited out, endless ones not. */
	fake_setup();
	fk.vp.unstable_generation = 3;
	CU_ASSERT_EQUAL(bf_open(NULL), 0);
	fake_teardown();
	fake_setup();
	fk.vp.unstable_generation = 1000;
	expect_init_fails(-EIO, "config generation never settled");

	fake_setup();
	fk.vp.stuck_reset = true;
	expect_init_fails(-ETIMEDOUT, "device did not finish its reset");
}

static void test_bad_completion(void)
{
	struct blkfront_opts o = { BLKFRONT_FEATURES, 0, 20000 };

	fake_setup();
	CU_ASSERT_EQUAL_FATAL(bf_open(&o), 0);
	fk.never_complete = true;
	CU_ASSERT_EQUAL(blkfront_rw(&bf, 0, buf(0), 512, false), -ETIMEDOUT);
	CU_ASSERT_STRING_EQUAL(bf.error, "request timed out");
	CU_ASSERT_TRUE(bf.broken);
	fk.never_complete = false;
	CU_ASSERT_EQUAL(blkfront_rw(&bf, 0, buf(0), 512, false), -EIO);
	CU_ASSERT_EQUAL(fk.requests, 1);
	/* A fresh init recovers. */
	CU_ASSERT_EQUAL(bf_open(&o), 0);
	CU_ASSERT_EQUAL(blkfront_rw(&bf, 0, buf(0), 512, false), VIRTIO_BLK_S_OK);
	fake_teardown();

	fake_setup();
	CU_ASSERT_EQUAL_FATAL(bf_open(NULL), 0);
	fk.no_status = true;
	CU_ASSERT_EQUAL(blkfront_rw(&bf, 0, buf(0), 512, false), -EPROTO);
	CU_ASSERT_STRING_EQUAL(bf.error, "device returned no valid status");
	fk.no_status = false;
	CU_ASSERT_EQUAL(blkfront_rw(&bf, 0, buf(0), 512, false), VIRTIO_BLK_S_OK);
	fake_teardown();

	fake_setup();
	CU_ASSERT_EQUAL_FATAL(bf_open(NULL), 0);
	fk.len_extra = 1;
	CU_ASSERT_EQUAL(blkfront_rw(&bf, 0, buf(0), 512, false), -EIO);
	CU_ASSERT_STRING_EQUAL(bf.error, "used length beyond the chain's writable buffers");
	CU_ASSERT_TRUE(bf.broken);
	fake_teardown();
}

void unit_register(void)
{
	UNIT_SUITE("blkfront",
		   UNIT_TEST(test_init),
		   UNIT_TEST(test_rw),
		   UNIT_TEST(test_split_by_seg_max),
		   UNIT_TEST(test_commands),
		   UNIT_TEST(test_read_only),
		   UNIT_TEST(test_feature_mask),
		   UNIT_TEST(test_bad_caps),
		   UNIT_TEST(test_bad_negotiation),
		   UNIT_TEST(test_bad_completion));
}
