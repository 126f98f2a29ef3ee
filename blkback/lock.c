/* OFD image locks and, when one is refused, finding out who holds it.
 *
 * F_OFD_GETLK names the conflicting lock's type but reports l_pid = -1 for
 * OFD locks (they have no owning process), and /proc/locks shows -1 too. The
 * kernel does list each lock under the descriptor that owns it, as a "lock:"
 * line in /proc/<pid>/fdinfo/<fd>, so the holder is found by scanning those
 * for the image's device:inode. The scan is best-effort and only runs on the
 * error path; processes we may not inspect are skipped. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lock.h"
#include "isle/log.h"

/* Bounds the scan on a host with a huge number of descriptors. */
#define LOCK_SCAN_MAX_FILES (1u << 20)

static void lock_fmt(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void lock_fmt(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool lock_all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
	}
	return true;
}

/* Reads up to len-1 bytes of a small /proc file; returns the length or -1. */
static ssize_t lock_read_small(int dirfd, const char *name, char *buf, size_t len)
{
	ssize_t n;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* True when buf (an fdinfo file) has a "lock:" line naming key. */
static bool lock_fdinfo_has(const char *buf, const char *key)
{
	const char *hit = buf;

	while ((hit = strstr(hit, key))) {
		const char *line = hit;

		while (line > buf && line[-1] != '\n')
			line--;
		if (!strncmp(line, "lock:", 5))
			return true;
		hit++;
	}
	return false;
}

/* Scans one process's descriptors; true when one of them owns a lock on key. */
static bool lock_scan_pid(const char *pid, const char *key, unsigned int *budget)
{
	char path[64], buf[4096];
	struct dirent *de;
	bool found = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%s/fdinfo", pid);
	dir = opendir(path);
	if (!dir)
		return false;           /* gone, or not ours to look at */
	while (!found && *budget && (de = readdir(dir))) {
		if (!lock_all_digits(de->d_name))
			continue;
		(*budget)--;
		if (lock_read_small(dirfd(dir), de->d_name, buf, sizeof(buf)) > 0)
			found = lock_fdinfo_has(buf, key);
	}
	closedir(dir);
	return found;
}

static pid_t lock_scan_proc(const struct stat *st)
{
	unsigned int budget = LOCK_SCAN_MAX_FILES;
	struct dirent *de;
	char key[64];
	pid_t pid = 0;
	DIR *proc;

	/* The format of fs/locks.c: " <pid> MAJ:MIN:INODE " with hex dev. */
	snprintf(key, sizeof(key), " %02x:%02x:%llu ", major(st->st_dev),
		 minor(st->st_dev), (unsigned long long)st->st_ino);
	proc = opendir("/proc");
	if (!proc)
		return 0;
	while (!pid && budget && (de = readdir(proc))) {
		if (lock_all_digits(de->d_name) && lock_scan_pid(de->d_name, key, &budget))
			pid = (pid_t)atoi(de->d_name);
	}
	closedir(proc);
	return pid;
}

int lock_find_holder(int fd, short want, pid_t *pid, short *type)
{
	struct flock fl = { .l_type = want, .l_whence = SEEK_SET };
	struct stat st;

	*pid = 0;
	*type = F_UNLCK;
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	if (fl.l_type == F_UNLCK)
		return -ENOENT;         /* released in the meantime */
	*type = fl.l_type;
	if (fl.l_pid > 0) {             /* a classic POSIX lock names its owner */
		*pid = fl.l_pid;
		return 0;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	*pid = lock_scan_proc(&st);
	return *pid > 0 ? 0 : -ENOENT;
}

/* "isle-tapdisk" from /proc/<pid>/comm, or "" when unreadable. */
static void lock_comm(pid_t pid, char *comm, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	n = lock_read_small(AT_FDCWD, path, comm, len);
	if (n <= 0) {
		comm[0] = '\0';
		return;
	}
	if (comm[n - 1] == '\n')
		comm[n - 1] = '\0';
}

static void lock_describe(int fd, bool exclusive, const char *path, char *err, size_t errlen)
{
	short type;
	pid_t pid;
	char comm[32];
	const char *how;

	if (lock_find_holder(fd, exclusive ? F_WRLCK : F_RDLCK, &pid, &type) < 0 || pid <= 0) {
		how = type == F_RDLCK ? "reading" : "writing";
		lock_fmt(err, errlen, "image %s is locked for %s by another process", path, how);
		return;
	}
	how = type == F_RDLCK ? "reading" : "writing";
	lock_comm(pid, comm, sizeof(comm));
	lock_fmt(err, errlen, "image %s is locked for %s by %s (pid %d)", path, how,
		 comm[0] ? comm : "an unknown program", (int)pid);
}

int lock_acquire(int fd, bool exclusive, const char *path, char *err, size_t errlen)
{
	struct flock fl = {
		.l_type = exclusive ? F_WRLCK : F_RDLCK,
		.l_whence = SEEK_SET,   /* l_start = l_len = 0: the whole file */
	};
	int e;

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	e = errno;
	if (e == EAGAIN || e == EACCES) {
		lock_describe(fd, exclusive, path, err, errlen);
		return -EBUSY;
	}
	if (e == EINVAL || e == ENOLCK || e == EOPNOTSUPP) {
		/* Old kernel or a filesystem without locks (some FUSE, NFS
		 * without lockd): serve, but say it is unprotected. */
		log_warn("image %s: cannot lock (%s); nothing stops a second writer",
			 path, strerror(e));
		return 0;
	}
	lock_fmt(err, errlen, "cannot lock image %s: %s", path, strerror(e));
	return -e;
}

void lock_release(int fd)
{
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };

	fcntl(fd, F_OFD_SETLK, &fl);
}
