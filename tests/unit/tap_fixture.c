/* Taps in a private network namespace for the unit tests (tap_fixture.h). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_tun.h>

#include "tap_fixture.h"

#define TAP_FIXTURE_MAX 16

/* The child: after fork, system calls only. Answers with an int (0 or an
 * errno) and, on success, the fds. */
static void tap_fixture_child(int sock, const struct ifreq *req, unsigned int n)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * TAP_FIXTURE_MAX)];
		struct cmsghdr align;
	} u;
	int fds[TAP_FIXTURE_MAX], e = 0;
	struct iovec iov = { .iov_base = &e, .iov_len = sizeof(e) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	struct ifreq ifr;

	if (unshare(geteuid() ? CLONE_NEWUSER | CLONE_NEWNET : CLONE_NEWNET) < 0)
		e = errno;
	for (unsigned int i = 0; !e && i < n; i++) {
		fds[i] = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		ifr = *req;
		if (fds[i] < 0 || ioctl(fds[i], TUNSETIFF, &ifr) < 0)
			e = errno;
	}
	if (!e) {
		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	_exit(sendmsg(sock, &m, 0) < 0);
}

int tap_fixture_open(const char *name, unsigned int flags, unsigned int n, int *fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * TAP_FIXTURE_MAX)];
		struct cmsghdr align;
	} u;
	int sv[2], e = EIO, st;
	struct iovec iov = { .iov_base = &e, .iov_len = sizeof(e) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	struct ifreq req;
	ssize_t got;
	pid_t pid;

	if (!n || n > TAP_FIXTURE_MAX || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	strcpy(req.ifr_name, name);
	req.ifr_flags = (short)flags;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0)
		tap_fixture_child(sv[1], &req, n);
	close(sv[1]);
	got = recvmsg(sv[0], &m, MSG_CMSG_CLOEXEC);
	close(sv[0]);
	waitpid(pid, &st, 0);
	if (got != sizeof(e))
		return -EIO;
	c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int) * n)) {
		if (c && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < k; i++)
				close(((int *)CMSG_DATA(c))[i]);
		}
		return -(e ? e : EIO);
	}
	memcpy(fds, CMSG_DATA(c), sizeof(int) * n);
	return 0;
}
