/* One queue pair of isle-netback: its thread, event loop, rings and tap fd
 * around a struct net_queue (the datapath). Internal to netback/.
 *
 * Contract: qp_init() starts the thread; every other qp_* function except
 * qp_fini() is called from the main thread and runs on the pair's thread,
 * returning once it has run there, so the pair's state needs no lock.
 * Counters are read with net_stats_read(&qp->q->stats, ...) from anywhere. */
#ifndef ISLE_NETBACK_QP_H
#define ISLE_NETBACK_QP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "isle/evloop.h"
#include "isle/dma.h"
#include "isle/gmem.h"
#include "isle/vhost_user.h"
#include "net.h"

enum { QP_RX, QP_TX };

struct nb_qp {
	const char *ifname;           /* for logs */
	unsigned int index;
	bool own_queue;               /* multi-queue, not pair 0: may detach */
	int tap_fd;
	pthread_t thread;
	bool thread_ok;
	struct evloop loop;
	int ctl_fd, resched_fd;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	void (*call_fn)(struct nb_qp *qp, void *arg);
	void *call_arg;
	bool call_done;
	/* The pair thread's (the main thread's only inside a call). */
	struct gmem gm;               /* private copy of the memory map */
	struct dma_as dma;            /* identity over gm: the rings' address space */
	/* With VIRTIO_F_ACCESS_PLATFORM: the device IOTLB over gm (this
	 * thread waits for its misses), and which of the two the rings use. */
	struct vu_iotlb_as iotlb_as;
	bool iotlb_as_ok;
	struct dma_as *ring_as;
	struct net_queue *q;
	struct vq_config cfg[2];
	int kick[2], err[2];
	bool running[2], broken[2];
	bool rx_stalled, tx_blocked;
	bool active;                  /* within the pairs the driver uses */
	bool attached;                /* the tap steers packets to tap_fd */
	uint32_t tap_events;          /* what the loop watches on tap_fd */
};

/* mtu: the tap's; own_queue as above. */
int qp_init(struct nb_qp *qp, const char *ifname, unsigned int index, int tap_fd,
	    bool own_queue, unsigned int mtu);
/* Stops the thread and frees everything (the tap fd stays the caller's). */
void qp_fini(struct nb_qp *qp);

/* Starts ring dir from vr on the memory map gm: 0 or -errno. tlb: the
 * device IOTLB when the driver negotiated ACCESS_PLATFORM (vr's addresses
 * are IOVAs), else NULL. */
int qp_start(struct nb_qp *qp, int dir, const struct vu_vring *vr, const struct gmem *gm,
	     struct vu_iotlb *tlb);
/* Stops it; returns the next avail index. */
uint16_t qp_stop(struct nb_qp *qp, int dir);
/* The ring's call/err eventfds changed (the old ones close after this). */
void qp_notifiers(struct nb_qp *qp, int dir, const struct vu_vring *vr);
/* New memory map: running rings are mapped again where they were. */
void qp_remap(struct nb_qp *qp, const struct gmem *gm);
/* Negotiated features, the tap's MTU, and whether the driver uses the pair. */
void qp_configure(struct nb_qp *qp, uint64_t features, unsigned int mtu, bool active);

#endif
