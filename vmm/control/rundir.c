/* The run directory of named VMs (contract in rundir.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "isle/util.h"
#include "control/rundir.h"

const char *rundir(void)
{
	const char *d = getenv("ISLE_RUN_DIR");

	return d && *d ? d : RUNDIR_DEFAULT;
}

int rundir_path(char *buf, size_t len, const char *name, const char *suffix)
{
	int n = snprintf(buf, len, "%s/%s.%s", rundir(), name, suffix);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static pid_t rundir_read_pid(int fd)
{
	char buf[24] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	return n > 0 ? (pid_t)atol(buf) : 0;
}

int rundir_lock(const char *name, pid_t *holder)
{
	char path[4096], pid[24];
	int fd, n;

	if (mkdir(rundir(), 0700) < 0 && errno != EEXIST)
		return -errno;
	if (rundir_path(path, sizeof(path), name, "lock"))
		return -ENAMETOOLONG;
	for (int tries = 0;; tries++) {
		struct stat a, b;

		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int r = errno == EWOULDBLOCK ? -EEXIST : -errno;

			if (holder)
				*holder = rundir_read_pid(fd);
			close(fd);
			return r;
		}
		/* Someone who found this file stale (rundir_probe) may have
		 * removed it between our open and our lock: then the lock is
		 * on a file nobody else can see. Take the one at the path. */
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			break;
		close(fd);
		if (tries == 8)
			return -EAGAIN;
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		int r = -errno;

		close(fd);
		return r ? r : -EIO;
	}
	return fd;
}

pid_t rundir_probe(const char *name)
{
	char path[4096];
	pid_t pid;
	int fd;

	if (rundir_path(path, sizeof(path), name, "lock"))
		return -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return 0;   /* nobody holds it: the VM died */
	}
	pid = rundir_read_pid(fd);
	close(fd);
	return pid > 0 ? pid : 1;
}

void rundir_remove(const char *name)
{
	static const char *const suffixes[] = { "sock", "console", "cfg", "lock" };
	char path[4096];

	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++)
		if (!rundir_path(path, sizeof(path), name, suffixes[i]))
			unlink(path);
}
