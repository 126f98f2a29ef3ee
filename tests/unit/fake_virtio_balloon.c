/* The simulated virtio-balloon PCI function (see fake_virtio_balloon.h). */
#include <string.h>

#include "cunit.h"
#include "fake_virtio_balloon.h"

struct fake fk;

/* The device's own reading of the layout: queues in role order, those
 * whose feature was negotiated (the hint queue included, though the
 * driver never asks for it). */
static int fake_role_of(unsigned int idx)
{
	static const int bit[BALLOONFE_VQ_NR] = {
		-1, -1, VIRTIO_BALLOON_F_STATS_VQ, VIRTIO_BALLOON_F_FREE_PAGE_HINT,
		VIRTIO_BALLOON_F_REPORTING,
	};
	unsigned int n = 0;

	for (unsigned int r = 0; r < BALLOONFE_VQ_NR; r++) {
		if (bit[r] >= 0 && !(fk.vp.driver & (1ull << bit[r])))
			continue;
		if (n++ == idx)
			return (int)r;
	}
	return -1;
}

int fake_index_of(unsigned int role)
{
	for (unsigned int i = 0; i < FAKE_NQ; i++) {
		if (fk.vp.q[i].enable && fake_role_of(i) == (int)role)
			return (int)i;
	}
	return -1;
}

/* Queues a device with these offered features has (before negotiation). */
static unsigned int fake_num_queues(void)
{
	return 2 + !!(fk.vp.offered & 1ull << VIRTIO_BALLOON_F_STATS_VQ) +
	       !!(fk.vp.offered & 1ull << VIRTIO_BALLOON_F_FREE_PAGE_HINT) +
	       !!(fk.vp.offered & 1ull << VIRTIO_BALLOON_F_REPORTING);
}

static uint16_t fake_qmax(unsigned int idx)
{
	int role = fake_role_of(idx);

	return idx < fake_num_queues() && role >= 0 ? fk.qmax[role] : 0;
}

static void fake_reset(void)
{
	fk.stats_held = false;
}

/* Completes a chain, or misbehaves as the knobs say. */
static void fake_push(struct fake_vpci_q *q, uint16_t head, uint32_t written)
{
	if (fk.bad_id)
		head = (uint16_t)((head + 1) & (q->size - 1));   /* not in flight */
	vq_push(&q->vq, head, written + fk.len_extra);
}

static uint64_t hva_to_gpa(const void *p)
{
	return RAM_GPA + (uint64_t)((const uint8_t *)p - fake_ram);
}

static void fake_pfns(struct fake_vpci_q *q, struct vq_elem *e, bool inflate)
{
	unsigned int n = 0;

	fk.actual_at_pop = fk.bc.actual;
	CU_ASSERT_EQUAL(e->in_num, 0);
	CU_ASSERT_EQUAL(e->out_len % 4, 0);
	for (unsigned int i = 0; i < e->out_num; i++) {
		const uint8_t *p = e->iov[i].iov_base;

		for (size_t off = 0; off + 4 <= e->iov[i].iov_len; off += 4, n++) {
			/* Decoded as bytes: the wire format is le32. */
			if (inflate && fk.pfn_logged < FAKE_PFN_LOG)
				fk.pfn_log[fk.pfn_logged++] = get_le32(p + off);
		}
	}
	fk.max_pfns_per_buf = MAX(fk.max_pfns_per_buf, n);
	if (inflate) {
		fk.inflated += n;
		fk.inflate_bufs++;
	} else {
		fk.deflated += n;
		fk.deflate_bufs++;
	}
	if (fk.never_complete)
		return;
	if (fk.hold_pfn_bufs && fk.nheld < FAKE_HOLD_MAX) {
		fk.held[fk.nheld++] = e->head;
		if (fk.nheld < fk.hold_pfn_bufs)
			return;
		while (fk.nheld)
			fake_push(q, fk.held[--fk.nheld], 0);
		return;
	}
	fake_push(q, e->head, 0);
}

static void fake_stats(struct vq_elem *e)
{
	uint8_t raw[BALLOONFE_STAT_BYTES];

	CU_ASSERT_EQUAL(e->in_num, 0);
	CU_ASSERT_EQUAL(e->out_num, 1);
	CU_ASSERT_FALSE(fk.stats_held);     /* one buffer only */
	fk.stats_bufs++;
	fk.stats_len = (unsigned int)e->out_len;
	fk.stats_gpa = hva_to_gpa(e->iov[0].iov_base);
	for (size_t off = 0; off + sizeof(raw) <= e->iov[0].iov_len; off += sizeof(raw)) {
		uint16_t tag;

		memcpy(raw, (uint8_t *)e->iov[0].iov_base + off, sizeof(raw));
		tag = get_le16(raw);
		if (tag < BALLOONFE_STATS_MAX) {
			fk.stat[tag] = get_le64(raw + 2);
			fk.stat_seen |= 1u << tag;
		}
	}
	fk.stats_held = true;
	fk.stats_head = e->head;
}

static void fake_report(struct fake_vpci_q *q, struct vq_elem *e)
{
	fk.report_chains++;
	fk.report_out += e->out_num;
	for (unsigned int i = 0; i < e->in_num && fk.report_in < FAKE_REPORT_MAX; i++) {
		const struct iovec *v = &e->iov[e->out_num + i];

		fk.report_gpa[fk.report_in] = hva_to_gpa(v->iov_base);
		fk.report_len[fk.report_in++] = v->iov_len;
	}
	if (!fk.never_complete)
		fake_push(q, e->head, 0);
}

bool fake_stats_request(void)
{
	struct fake_vpci_q *q;
	int idx = fake_index_of(BALLOONFE_VQ_STATS);

	if (!fk.stats_held || idx < 0)
		return false;
	q = &fk.vp.q[idx];
	fk.stats_held = false;
	fake_push(q, fk.stats_head, 0);
	return true;
}

static bool fake_notify(unsigned int idx, uint32_t v)
{
	struct fake_vpci_q *q = &fk.vp.q[idx];
	int role = fake_role_of(idx), r;

	if (v != idx) {
		fk.bad_notifies++;
		return true;
	}
	if (!(fk.vp.status & VIRTIO_CONFIG_S_DRIVER_OK) || !q->running) {
		fk.early_notifies++;
		return true;
	}
	vq_elem_init(&fk.elem, fk.iov, ARRAY_SIZE(fk.iov));
	while ((r = vq_pop(&q->vq, &fk.elem)) == 1) {
		if (role == BALLOONFE_VQ_INFLATE || role == BALLOONFE_VQ_DEFLATE)
			fake_pfns(q, &fk.elem, role == BALLOONFE_VQ_INFLATE);
		else if (role == BALLOONFE_VQ_STATS)
			fake_stats(&fk.elem);
		else if (role == BALLOONFE_VQ_REPORT)
			fake_report(q, &fk.elem);
		vq_elem_init(&fk.elem, fk.iov, ARRAY_SIZE(fk.iov));
	}
	if (r < 0)
		fk.vp.status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	return true;
}

static void fake_devcfg_write(uint32_t off, unsigned int size, uint32_t v)
{
	if (off == offsetof(struct virtio_balloon_config, actual) && size == 4) {
		fk.bc.actual = v;
		fk.actual_writes++;
		return;
	}
	fk.stray_cfg_writes++;      /* every other field is the device's */
}

static const struct fake_vpci_ops ops = {
	.num_queues = fake_num_queues, .queue_max = fake_qmax, .reset = fake_reset,
	.notify = fake_notify, .devcfg_write = fake_devcfg_write,
};

_Static_assert(FAKE_NQ <= FAKE_VPCI_NQ, "the transport has room for the queues");

void fake_setup(uint64_t offered)
{
	memset(&fk, 0, sizeof(fk));
	fake_vpci_setup(&fk.vp, &ops, BALLOONFE_DEVICE_ID, FAKE_NQ, 0, &fk.bc,
			sizeof(fk.bc), BALLOONFE_PRIV_BYTES);
	for (unsigned int i = 0; i < FAKE_NQ; i++)
		fk.vp.q[i].noff = (uint16_t)i;   /* QEMU's: notify at the index */
	fk.vp.offered = offered | 1ull << VIRTIO_F_VERSION_1;
	/* QEMU's sizes; the driver caps them at BALLOONFE_QUEUE_MAX. */
	for (unsigned int r = 0; r < BALLOONFE_VQ_NR; r++)
		fk.qmax[r] = r == BALLOONFE_VQ_REPORT ? 32 : 128;
}
