/* A virtio-balloon's buffers: PFN arrays merged into runs, statistics,
 * free page reports (see balloon_queue.h for the contract). */
#include <endian.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "isle/iov.h"
#include "isle/util.h"
#include "virtio/balloon_queue.h"

static const char *const bq_stat_names[BQ_STATS_TAGS] = {
	"swap_in", "swap_out", "major_faults", "minor_faults", "free_memory",
	"total_memory", "available_memory", "disk_caches", "hugetlb_allocations",
	"hugetlb_failures", "oom_kill", "alloc_stall", "async_scan", "direct_scan",
	"async_reclaim", "direct_reclaim",
};

const char *bq_stat_name(unsigned int tag)
{
	return tag < BQ_STATS_TAGS ? bq_stat_names[tag] : NULL;
}

static int bq_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* One piece inside one RAM region. */
static void bq_give(struct bq *b, uint64_t gpa, uint64_t len, uint64_t *done)
{
	int64_t kept;

	b->c.discard_calls++;
	kept = b->discard(b->opaque, gpa, len);
	if (kept < 0 || (uint64_t)kept > len) {
		b->c.discard_errors++;
		return;
	}
	*done += (len - (uint64_t)kept) >> BQ_PAGE_SHIFT;
	b->c.kept += (uint64_t)kept >> BQ_PAGE_SHIFT;
}

/* [gpa, gpa+len): the parts in RAM go, pages outside are counted bad. */
static void bq_give_range(struct bq *b, uint64_t gpa, uint64_t len, uint64_t *done)
{
	while (len) {
		uint64_t n = len;

		if (!gmem_gpa_to_hva(b->gm, gpa, &n)) {
			b->c.bad_pfns++;
			n = BQ_PAGE_SIZE;
		} else {
			n &= ~(uint64_t)(BQ_PAGE_SIZE - 1);
			if (!n) {          /* a region not page-sized: skip the page */
				b->c.bad_pfns++;
				n = BQ_PAGE_SIZE;
			} else {
				bq_give(b, gpa, n, done);
			}
		}
		if (n >= len)
			break;
		gpa += n;
		len -= n;
	}
}

/* Reads the buffer's PFNs a chunk at a time, sorted and deduplicated,
 * and calls fn on each run of consecutive PFNs. */
static void bq_pfn_runs(struct bq *b, const struct vq_elem *e,
			void (*fn)(struct bq *b, uint64_t first, uint64_t n))
{
	uint64_t total = e->out_len / sizeof(uint32_t);

	if (total > BQ_BUF_PFNS) {
		b->c.bad_pfns += total - BQ_BUF_PFNS;
		total = BQ_BUF_PFNS;
	}
	for (uint64_t off = 0; off < total; ) {
		size_t n = (size_t)MIN(total - off, (uint64_t)BQ_CHUNK_PFNS), got, k = 0;
		bool sorted = true;

		got = iov_to_buf(e->iov, e->out_num, off * sizeof(uint32_t), b->pfns,
				 n * sizeof(uint32_t)) / sizeof(uint32_t);
		if (!got)
			break;
		off += got;
		for (size_t i = 0; i < got; i++) {
			b->pfns[i] = le32toh(b->pfns[i]);
			sorted &= !i || b->pfns[i - 1] <= b->pfns[i];
		}
		/* Drivers that give a range in order (ours, the common case
		 * of a fresh balloon) need no sort. */
		if (!sorted)
			qsort(b->pfns, got, sizeof(uint32_t), bq_cmp_u32);
		while (k < got) {
			size_t j = k + 1;
			uint64_t first = b->pfns[k], len = 1;

			/* Sorted: a duplicate repeats the run's last PFN. */
			for (; j < got && b->pfns[j] <= first + len; j++)
				if (b->pfns[j] == first + len)
					len++;
			fn(b, first, len);
			k = j;
		}
	}
}

static void bq_inflate_run(struct bq *b, uint64_t first, uint64_t n)
{
	bq_give_range(b, first << BQ_PAGE_SHIFT, n << BQ_PAGE_SHIFT, &b->c.inflated);
}

void bq_inflate(struct bq *b, const struct vq_elem *e)
{
	bq_pfn_runs(b, e, bq_inflate_run);
}

static void bq_deflate_run(struct bq *b, uint64_t first, uint64_t n)
{
	uint64_t gpa = first << BQ_PAGE_SHIFT, len = n << BQ_PAGE_SHIFT;

	while (len) {
		uint64_t k = len;

		if (!gmem_gpa_to_hva(b->gm, gpa, &k) || k < BQ_PAGE_SIZE) {
			b->c.bad_pfns++;
			k = BQ_PAGE_SIZE;
		} else {
			k &= ~(uint64_t)(BQ_PAGE_SIZE - 1);
			b->c.deflated += k >> BQ_PAGE_SHIFT;
		}
		if (k >= len)
			break;
		gpa += k;
		len -= k;
	}
}

void bq_deflate(struct bq *b, const struct vq_elem *e)
{
	bq_pfn_runs(b, e, bq_deflate_run);
}

void bq_stats_update(struct bq *b, const struct vq_elem *e, uint64_t now_ns)
{
	uint8_t buf[BQ_STATS_MAX * 10];
	size_t n = iov_to_buf(e->iov, e->out_num, 0, buf, MIN(e->out_len, (uint64_t)sizeof(buf)));

	for (size_t i = 0; i + 10 <= n; i += 10) {
		uint16_t tag = get_le16(buf + i);

		if (tag >= BQ_STATS_TAGS) {
			b->c.stats_unknown++;
			continue;
		}
		b->st.value[tag] = get_le64(buf + i + 2);
		b->st.valid |= 1u << tag;
	}
	b->st.when_ns = now_ns ? now_ns : 1;
	b->c.stats_updates++;
}

void bq_report(struct bq *b, const struct vq_elem *e)
{
	for (unsigned int i = e->out_num; i < e->out_num + e->in_num; i++) {
		const uint8_t *p = e->iov[i].iov_base;
		uint64_t len = e->iov[i].iov_len, gpa;
		uint64_t skip;

		if (!len)
			continue;
		/* Only whole pages go; the parts of pages at either end stay. */
		if (gmem_hva_to_gpa(b->gm, p, len, &gpa)) {
			b->c.bad_pfns += (len + BQ_PAGE_SIZE - 1) >> BQ_PAGE_SHIFT;
			continue;
		}
		skip = (BQ_PAGE_SIZE - (gpa & (BQ_PAGE_SIZE - 1))) & (BQ_PAGE_SIZE - 1);
		if (skip >= len)
			continue;
		gpa += skip;
		len = (len - skip) & ~(uint64_t)(BQ_PAGE_SIZE - 1);
		if (len)
			bq_give_range(b, gpa, len, &b->c.reported);
	}
}
