/* The qcow2 disk format (disk.h's struct disk_format_ops over qcow2.h): the
 * image's shared qcow2 state lives in format_priv; a request runs
 * synchronously on the submitting queue's thread and completes through the
 * disk's eventfd, the same asynchronous contract as every engine. */
#include <errno.h>

#include "disk.h"
#include "qcow2.h"
#include "isle/log.h"

static int qcow2_fmt_open(struct disk *disk, const struct stat *st, char *err, size_t errlen)
{
	struct qcow2_opts o = { .readonly = disk->readonly };
	struct qcow2_info info;
	struct qcow2 *q;
	int r = qcow2_open(&q, disk->fd, disk->path, &o, err, errlen);

	(void)st;
	if (r)
		return r;
	qcow2_get_info(q, &info);
	disk->format_priv = q;
	disk->size = qcow2_size(q);
	disk->logical_block_size = 512;
	disk->physical_block_size = 4096;
	disk->can_discard = !disk->readonly;
	log_info("%s: qcow2 v%u, %llu-byte clusters, %u-bit refcounts%s%s%s%s", disk->path,
		 info.version, 1ULL << info.cluster_bits, 1u << info.refcount_order,
		 info.zstd ? ", zstd" : "", info.backing[0] ? ", backing " : "", info.backing,
		 info.backing[0] ? (info.chain > 1 ? " (a chain)" : "") : "");
	return 0;
}

static void qcow2_fmt_close(struct disk *disk)
{
	qcow2_close(disk->format_priv);
}

static int qcow2_fmt_submit(struct disk *disk, struct disk_req *req)
{
	int64_t r = qcow2_rw(disk->format_priv, req->op, req->offset, req->iov, req->iovcnt,
			     req->len);

	disk_complete_later(disk, req, r);
	return 0;
}

const struct disk_format_ops disk_format_qcow2 = {
	.name = "qcow2",
	.kind = DISK_FORMAT_QCOW2,
	.open = qcow2_fmt_open,
	.close = qcow2_fmt_close,
	.submit = qcow2_fmt_submit,
};
