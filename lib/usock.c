/* Unix stream sockets at a path (contract in include/isle/usock.h).
 *
 * Why the probe is non-blocking: a blocking connect to a live server whose
 * backlog is full waits, and a server with listen(fd, 1) that is busy with
 * its one front-end has exactly that. Only ECONNREFUSED proves the file is
 * stale; anything else (connected, EAGAIN) means somebody serves it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "isle/usock.h"

static int usock_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	if (strlen(path) >= sizeof(a->sun_path))
		return -ENAMETOOLONG;
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
	return 0;
}

/* 0 if nobody accepts on the socket file at a, else -EADDRINUSE. */
static int usock_stale(const struct sockaddr_un *a)
{
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int r;

	if (probe < 0)
		return -errno;
	r = connect(probe, (const struct sockaddr *)a, sizeof(*a)) ? -errno : 0;
	close(probe);
	return r == -ECONNREFUSED ? 0 : -EADDRINUSE;
}

int usock_listen(const char *path, int backlog, struct stat *made, bool *replaced)
{
	struct sockaddr_un a;
	struct stat st;
	int fd, r;

	if (replaced)
		*replaced = false;
	r = usock_addr(&a, path);
	if (r)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		r = -errno;
		if (r != -EADDRINUSE)
			goto fail;
		if (lstat(path, &st) < 0) {
			r = -errno;
			goto fail;
		}
		if (!S_ISSOCK(st.st_mode)) {
			r = -EEXIST;
			goto fail;
		}
		r = usock_stale(&a);
		if (r)
			goto fail;
		if (unlink(path) < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			r = -errno;
			goto fail;
		}
		if (replaced)
			*replaced = true;
	}
	if (listen(fd, backlog) < 0 || stat(path, made) < 0) {
		r = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

void usock_unlink_own(const char *path, const struct stat *made)
{
	struct stat st;

	/* Inode numbers are reused at once on tmpfs: the change time tells a
	 * successor's file from ours. */
	if (!stat(path, &st) && st.st_ino == made->st_ino && st.st_dev == made->st_dev &&
	    st.st_ctim.tv_sec == made->st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == made->st_ctim.tv_nsec)
		unlink(path);
}
