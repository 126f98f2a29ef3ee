/* Tap creation and settings for isle-netback (contract in netback/tap.h).
 *
 * The tap's vnet header is a virtio_net_hdr: with TUNSETVNETHDRSZ set to
 * the header length the guest negotiated, a guest TX chain (header + frame)
 * is exactly what a tap write wants, and a tap read is exactly what an RX
 * chain must hold. The kernel never sets num_buffers; the datapath does. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/kcmp.h>
#include <linux/virtio_net.h>

#include "isle/util.h"

#include "tap.h"


static int tap_open_one(const char *name, bool mq, char ifname[IFNAMSIZ])
{
	struct ifreq ifr;
	unsigned int feat;
	int fd, r;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, TUNGETFEATURES, &feat) < 0 || !(feat & IFF_VNET_HDR) ||
	    (mq && !(feat & IFF_MULTI_QUEUE))) {
		close(fd);
		return -EOPNOTSUPP;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (mq ? IFF_MULTI_QUEUE : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	snprintf(ifname, IFNAMSIZ, "%s", ifr.ifr_name);
	return fd;
}

int tap_open(const char *name, unsigned int nq, int *fds, char ifname[IFNAMSIZ])
{
	unsigned int i;
	int r;

	if (!nq || nq > TAP_MAX_QUEUES || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	for (i = 0; i < nq; i++)
		fds[i] = -1;
	for (i = 0; i < nq; i++) {
		/* Queues after the first join the device the first one
		 * made (its name may have been a %d pattern). */
		r = tap_open_one(i ? ifname : name, nq > 1, ifname);
		if (r < 0) {
			tap_close(fds, nq);
			return r;
		}
		fds[i] = r;
	}
	r = tap_set_vnet_hdr_len(fds[0], 12);
	if (!r)
		r = tap_set_offload(fds[0], 0);
	if (r)
		tap_close(fds, nq);
	return r;
}

int tap_fd_info(int fd, struct tap_fd_info *ti)
{
	struct stat ours, theirs;
	struct ifreq ifr;
	int ns;

	memset(ti, 0, sizeof(*ti));
	if (fcntl(fd, F_GETFD) < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return errno == EBADFD ? -EBADFD : -ENOTTY;
	memcpy(ti->ifname, ifr.ifr_name, IFNAMSIZ - 1);
	ti->ifname[IFNAMSIZ - 1] = '\0';
	/* TUNGETIFF adds IFF_DETACH_QUEUE for a detached queue and
	 * IFF_NOFILTER (== IFF_NO_PI) for a socket without a filter. */
	ti->flags = (unsigned short)ifr.ifr_flags & ~(IFF_NO_PI | IFF_DETACH_QUEUE);
	ti->detached = ifr.ifr_flags & IFF_DETACH_QUEUE;
	/* TUNGETDEVNETNS (5.2) wants CAP_NET_ADMIN over the tap's namespace:
	 * EPERM means it is not ours to configure, whichever it is. */
	ns = ioctl(fd, TUNGETDEVNETNS);
	if (ns < 0) {
		ti->local = errno != EPERM;
		return 0;
	}
	if (fstat(ns, &theirs) < 0 || stat("/proc/self/ns/net", &ours) < 0) {
		int r = -errno;

		close(ns);
		return r;
	}
	close(ns);
	ti->ns_dev = theirs.st_dev;
	ti->ns_ino = theirs.st_ino;
	ti->local = theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino;
	return 0;
}

int tap_fd_no_pi(int fd)
{
	struct sock_filter accept = BPF_STMT(BPF_RET | BPF_K, 0xffffffff);
	struct sock_fprog prog = { .len = 1, .filter = &accept }, cur;
	struct ifreq ifr;
	int len, r = 0;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return -errno;
	if (!(ifr.ifr_flags & IFF_NO_PI))
		return 0;   /* neither the flag nor IFF_NOFILTER */
	memset(&cur, 0, sizeof(cur));
	len = ioctl(fd, TUNGETFILTER, &cur);
	if (len < 0)
		return -errno;
	if (len > 0)
		return 1;   /* a filter: the bit is IFF_NO_PI */
	if (ioctl(fd, TUNATTACHFILTER, &prog) < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		r = -errno;
	if (ioctl(fd, TUNDETACHFILTER, &prog) < 0 && !r)
		r = -errno;
	return r ? r : !!(ifr.ifr_flags & IFF_NO_PI);
}

int tap_fd_same(int a, int b)
{
	pid_t self = getpid();

	if (a == b)
		return 1;
	return syscall(SYS_kcmp, self, self, KCMP_FILE, a, b) == 0;
}

int tap_adopt(const int *fds, unsigned int nq)
{
	int fl, r;

	if (!nq || nq > TAP_MAX_QUEUES)
		return -EINVAL;
	for (unsigned int i = 0; i < nq; i++) {
		if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0 || (fl = fcntl(fds[i], F_GETFL)) < 0 ||
		    fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0)
			return -errno;
		/* EINVAL: attached already, or not multi-queue. */
		r = tap_set_queue(fds[i], true);
		if (r && r != -EINVAL)
			return r;
	}
	r = tap_set_vnet_hdr_len(fds[0], 12);
	if (!r)
		r = tap_set_offload(fds[0], 0);
	return r;
}

void tap_close(int *fds, unsigned int nq)
{
	for (unsigned int i = 0; i < nq; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

int tap_set_vnet_hdr_len(int fd, unsigned int len)
{
	int v = (int)len;

	return ioctl(fd, TUNSETVNETHDRSZ, &v) < 0 ? -errno : 0;
}

int tap_set_offload(int fd, unsigned int tun_flags)
{
	return ioctl(fd, TUNSETOFFLOAD, (unsigned long)tun_flags) < 0 ? -errno : 0;
}

unsigned int tap_offload_for(uint64_t f)
{
	unsigned int t = 0;

	/* Partial checksums only to a guest that finishes them; GSO only
	 * with them (virtio: GUEST_TSO* require GUEST_CSUM). */
	if (!(f & BIT(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	t |= TUN_F_CSUM;
	if (f & BIT(VIRTIO_NET_F_GUEST_TSO4))
		t |= TUN_F_TSO4;
	if (f & BIT(VIRTIO_NET_F_GUEST_TSO6))
		t |= TUN_F_TSO6;
	if ((t & (TUN_F_TSO4 | TUN_F_TSO6)) && (f & BIT(VIRTIO_NET_F_GUEST_ECN)))
		t |= TUN_F_TSO_ECN;
	if (f & BIT(VIRTIO_NET_F_GUEST_UFO))
		t |= TUN_F_UFO;
	return t;
}

int tap_set_queue(int fd, bool attach)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	return ioctl(fd, TUNSETQUEUE, &ifr) < 0 ? -errno : 0;
}

int tap_set_carrier(int fd, bool on)
{
	int v = on;

	return ioctl(fd, TUNSETCARRIER, &v) < 0 ? -errno : 0;
}
