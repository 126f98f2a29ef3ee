/* isle-tapdisk's vhost-user-blk device (contract in tapdisk.h): the
 * vhost-user callbacks, served on the shared vhost-user server
 * (isle/vu_server.h: one front-end at a time, reconnects). The queues' data path is tapdisk_queue.c.
 *
 * Threads: the main thread runs vu_dispatch() and is the only one that
 * starts, stops or reconfigures a queue; it always halts a queue thread
 * (which drains its requests) before it touches that queue's state. The only
 * things shared with a running queue thread are the call/err eventfds
 * (swapped under the queue's lock) and the guest memory map, which we keep a
 * private copy of (td->gm) and only change with every queue halted, because
 * the library rewrites dev->gm in place before telling us. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "blk.h"
#include "tapdisk.h"
#include "tapdisk_queue.h"
#include "isle/evloop.h"
#include "isle/log.h"
#include "isle/util.h"
#include "isle/vhost_user.h"
#include "isle/vu_server.h"

struct tapdisk {
	struct disk disk;              /* holds the image lock */
	struct blk_dev blk;
	unsigned int queues;
	struct td_queue q[VU_MAX_QUEUES];
	struct gmem gm;                /* queue threads' copy of dev->gm */
	struct dma_as dma;             /* identity over gm: the queues' DMA */
	/* With VIRTIO_F_ACCESS_PLATFORM: the device IOTLB over gm instead
	 * (the queue threads wait for its misses; the main thread serves
	 * the front-end that answers them). */
	struct vu_iotlb_as iotlb_as;
	bool iotlb_as_ok;
	struct evloop loop;
	struct vu_server srv;          /* the socket and its one front-end */
	bool loop_ok, srv_ok;
	int sig_fd;
};

/* ---- vhost-user device ops ---- */

static uint64_t tapdisk_get_features(struct vu_dev *dev)
{
	struct tapdisk *td = dev->priv;

	return blk_features(&td->blk) | 1ULL << VIRTIO_F_VERSION_1 |
	       1ULL << VIRTIO_RING_F_EVENT_IDX | 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
}

static uint64_t tapdisk_get_protocol_features(struct vu_dev *dev)
{
	return 1ULL << VHOST_USER_PROTOCOL_F_MQ | 1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK |
	       1ULL << VHOST_USER_PROTOCOL_F_CONFIG |
	       1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD;
}

static int tapdisk_get_config(struct vu_dev *dev, uint32_t offset, void *buf, uint32_t len)
{
	struct tapdisk *td = dev->priv;
	struct virtio_blk_config cfg;

	blk_config(&td->blk, &cfg);
	memcpy(buf, (uint8_t *)&cfg + offset, len);   /* range checked by the library */
	return 0;
}

static int tapdisk_queue_start_op(struct vu_dev *dev, unsigned int index,
				  const struct vu_vring *vr)
{
	struct tapdisk *td = dev->priv;

	if (vu_dev_platform(dev)) {
		if (!td->iotlb_as_ok || td->iotlb_as.t != &dev->iotlb) {
			if (td->iotlb_as_ok)
				vu_iotlb_as_destroy(&td->iotlb_as);
			vu_iotlb_as_init(&td->iotlb_as, &dev->iotlb, &td->gm);
			td->iotlb_as_ok = true;
		}
		td->q[index].dma = &td->iotlb_as.as;
	} else {
		td->q[index].dma = &td->dma;
	}
	td->q[index].broken = false;
	return tapdisk_queue_start(&td->q[index], vr, vr->base,
				   vq_flags_from_features(dev->features), true);
}

static uint16_t tapdisk_queue_stop_op(struct vu_dev *dev, unsigned int index)
{
	struct tapdisk *td = dev->priv;

	return tapdisk_queue_halt(&td->q[index]);
}

static void tapdisk_notifiers_changed(struct vu_dev *dev, unsigned int index,
				      const struct vu_vring *vr)
{
	struct tapdisk *td = dev->priv;

	tapdisk_queue_set_notifiers(&td->q[index], vr->call_fd, vr->err_fd);
}

/* Running queues hold host pointers into the old mappings (rings, and data
 * buffers in the engine): stop and drain them, adopt the new map, restart
 * them where they were. */
static void tapdisk_mem_table_changed(struct vu_dev *dev, const struct gmem *gm)
{
	struct tapdisk *td = dev->priv;
	bool was_running[VU_MAX_QUEUES];

	for (unsigned int i = 0; i < td->queues; i++) {
		was_running[i] = td->q[i].running;
		tapdisk_queue_halt(&td->q[i]);
	}
	td->gm = *gm;
	for (unsigned int i = 0; i < td->queues; i++) {
		if (was_running[i] &&
		    tapdisk_queue_start(&td->q[i], &dev->vrings[i], td->q[i].base,
					vq_flags_from_features(dev->features), false))
			log_error("queue %u: stopped: cannot restart after a memory table change",
				  i);
	}
}

static int tapdisk_inflight_changed(struct vu_dev *dev, const struct vu_inflight_info *inf)
{
	log_debug("inflight buffer: %u queues of %u (%s)", inf->num_queues, inf->queue_size,
		  inf->fresh ? "new" : "restored");
	return 0;
}

static const struct vu_dev_ops tapdisk_vu_ops = {
	.get_features = tapdisk_get_features,
	.get_protocol_features = tapdisk_get_protocol_features,
	.get_config = tapdisk_get_config,
	.queue_start = tapdisk_queue_start_op,
	.queue_stop = tapdisk_queue_stop_op,
	.queue_notifiers_changed = tapdisk_notifiers_changed,
	.mem_table_changed = tapdisk_mem_table_changed,
	.inflight_changed = tapdisk_inflight_changed,
};

/* ---- main loop ---- */

static void tapdisk_on_signal(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == sizeof(si))
		log_info("signal %u: exiting", si.ssi_signo);
	evloop_stop(loop);
}

/* The socket, served by the shared vhost-user server (isle/vu_server.h):
 * one front-end at a time, the next one waits in the backlog. */
static int tapdisk_listen(struct tapdisk *td, const char *path, char *err, size_t errlen)
{
	struct vu_dev_params p = {
		.num_queues = td->queues, .max_queue_size = TAPDISK_MAX_QUEUE_SIZE,
		.config_size = sizeof(struct virtio_blk_config),
		.iotlb = true,   /* VIRTIO_F_ACCESS_PLATFORM: behind a guest's IOMMU */
	};
	int r = vu_server_open(&td->srv, &td->loop, path, &tapdisk_vu_ops, &p, td, NULL);

	if (r == -EADDRINUSE)
		snprintf(err, errlen, "%s: another server is listening on it", path);
	else if (r == -EEXIST)
		snprintf(err, errlen, "%s: exists and is not a socket; not replacing it", path);
	else if (r == -ENAMETOOLONG)
		snprintf(err, errlen, "socket path too long: %s", path);
	else if (r)
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
	else
		td->srv_ok = true;
	return r;
}

int tapdisk_open(struct tapdisk **tdp, const struct tapdisk_opts *o, char *err, size_t errlen)
{
	struct disk_flags flags = { .direct = o->direct, .readonly = o->readonly };
	struct tapdisk *td = calloc(1, sizeof(*td));
	int r;

	if (!td)
		return -ENOMEM;
	td->sig_fd = -1;
	td->queues = o->queues ? o->queues : 1;
	dma_as_identity_init(&td->dma, &td->gm);
	for (unsigned int i = 0; i < VU_MAX_QUEUES; i++)
		tapdisk_queue_init(&td->q[i], i, &td->blk, &td->disk, &td->dma);
	r = disk_open(&td->disk, o->spec, o->engine, &flags, err, errlen);
	if (r) {
		free(td);
		return r;
	}
	blk_dev_init(&td->blk, &td->disk, td->queues, o->spec->vdev);
	r = evloop_init(&td->loop);
	if (r) {
		snprintf(err, errlen, "event loop: %s", strerror(-r));
		tapdisk_close(td);
		return r;
	}
	td->loop_ok = true;
	r = tapdisk_listen(td, o->socket_path, err, errlen);
	if (r) {
		tapdisk_close(td);
		return r;
	}
	log_info("serving %s (%llu sectors, %s%s, engine %s, %u queue%s) on %s", td->disk.path,
		 (unsigned long long)td->blk.capacity, td->blk.readonly ? "ro" : "rw",
		 td->disk.direct ? ", direct" : "", disk_engine_name(&td->disk), td->queues,
		 td->queues > 1 ? "s" : "", o->socket_path);
	*tdp = td;
	return 0;
}

int tapdisk_run(struct tapdisk *td)
{
	sigset_t set;
	int r;

	/* Before any queue thread exists, so they all inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	td->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (td->sig_fd < 0)
		return -errno;
	r = evloop_add(&td->loop, td->sig_fd, EPOLLIN, tapdisk_on_signal, td);
	if (!r)
		r = evloop_run(&td->loop);
	vu_server_disconnect(&td->srv);   /* stops and drains the queues */
	return r;
}

void tapdisk_close(struct tapdisk *td)
{
	if (!td)
		return;
	if (td->srv_ok)
		vu_server_close(&td->srv);   /* drops the front-end, unlinks our socket */
	if (td->loop_ok)
		evloop_fini(&td->loop);
	if (td->sig_fd >= 0)
		close(td->sig_fd);
	disk_close(&td->disk);
	for (unsigned int i = 0; i < VU_MAX_QUEUES; i++)
		tapdisk_queue_fini(&td->q[i]);
	dma_as_destroy(&td->dma);
	if (td->iotlb_as_ok)
		vu_iotlb_as_destroy(&td->iotlb_as);
	free(td);
}
