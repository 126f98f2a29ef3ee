/* Unit tests for vmm/control/rundir.c with ISLE_RUN_DIR in a fresh
 * temporary directory: the lock creates the run directory (0700) and
 * writes our pid; a second lock of the name from another process is
 * -EEXIST and names us; probe gives the holder's pid while it holds the
 * lock, 0 once the holder is gone (stale files) and -ENOENT for a name that
 * has no files; paths and their length limit; remove deletes the files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cunit.h"
#include "control/rundir.h"

static char base[64], dir[96];

/* ISLE_RUN_DIR is a directory that does not exist yet, in a fresh one. */
static void setup(void)
{
	snprintf(base, sizeof(base), "/tmp/rundir.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(base));
	snprintf(dir, sizeof(dir), "%s/run", base);
	CU_ASSERT_EQUAL_FATAL(setenv("ISLE_RUN_DIR", dir, 1), 0);
}

static void teardown(void)
{
	static const char *const suffixes[] = { "lock", "sock", "console", "cfg", "log" };
	static const char *const names[] = { "vm1", "vm2", "dead", "other" };
	char p[256];

	for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++)
		for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
			snprintf(p, sizeof(p), "%s/%s.%s", dir, names[n], suffixes[i]);
			unlink(p);
		}
	rmdir(dir);
	rmdir(base);
	unsetenv("ISLE_RUN_DIR");
}

static void file_path(char *buf, size_t len, const char *name, const char *suffix)
{
	snprintf(buf, len, "%s/%s.%s", dir, name, suffix);
}

static void touch(const char *name, const char *suffix)
{
	char p[256];
	int fd;

	file_path(p, sizeof(p), name, suffix);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CU_ASSERT(fd >= 0);
	if (fd >= 0)
		close(fd);
}

static int exists(const char *name, const char *suffix)
{
	char p[256];

	file_path(p, sizeof(p), name, suffix);
	return access(p, F_OK) == 0;
}

/* Runs rundir_lock(name) in a child process: the exit status says what it
 * returned (0 a lock, 1 -EEXIST with *holder == want_holder, 2 -EEXIST
 * with another holder, 3 anything else). */
static int lock_in_child(const char *name, pid_t want_holder)
{
	pid_t pid = fork(), w;
	int status;

	if (pid == 0) {
		pid_t holder = 0;
		int r = rundir_lock(name, &holder);

		if (r >= 0)
			_exit(0);
		if (r == -EEXIST)
			_exit(holder == want_holder ? 1 : 2);
		_exit(3);
	}
	CU_ASSERT_FATAL(pid > 0);
	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	CU_ASSERT_EQUAL_FATAL(w, pid);
	CU_ASSERT_FATAL(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_default_dir(void)
{
	CU_ASSERT_EQUAL(unsetenv("ISLE_RUN_DIR"), 0);
	CU_ASSERT_STRING_EQUAL(rundir(), RUNDIR_DEFAULT);
	CU_ASSERT_STRING_EQUAL(RUNDIR_DEFAULT, "/run/isle");
	CU_ASSERT_EQUAL(setenv("ISLE_RUN_DIR", "", 1), 0);
	CU_ASSERT_STRING_EQUAL(rundir(), "/run/isle");
	CU_ASSERT_EQUAL(setenv("ISLE_RUN_DIR", "/x/y", 1), 0);
	CU_ASSERT_STRING_EQUAL(rundir(), "/x/y");
	unsetenv("ISLE_RUN_DIR");
}

static void test_lock_creates_and_writes_pid(void)
{
	char p[256], buf[32] = "";
	struct stat st;
	pid_t holder = -7;
	ssize_t n;
	int fd, rfd;

	setup();
	CU_ASSERT_EQUAL(access(dir, F_OK), -1);
	fd = rundir_lock("vm1", &holder);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(holder, -7);   /* only set when someone else holds it */
	CU_ASSERT_EQUAL_FATAL(stat(dir, &st), 0);
	CU_ASSERT_TRUE(S_ISDIR(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0700);
	file_path(p, sizeof(p), "vm1", "lock");
	CU_ASSERT_EQUAL_FATAL(stat(p, &st), 0);
	CU_ASSERT_TRUE(S_ISREG(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	/* The returned fd is the lock file's, close-on-exec. */
	CU_ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	rfd = open(p, O_RDONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(rfd >= 0);
	n = read(rfd, buf, sizeof(buf) - 1);
	close(rfd);
	CU_ASSERT(n > 0);
	snprintf(p, sizeof(p), "%d\n", (int)getpid());
	CU_ASSERT_STRING_EQUAL(buf, p);
	close(fd);
	teardown();
}

static void test_lock_existing_dir_and_old_pid(void)
{
	char p[256], buf[32] = "";
	ssize_t n;
	int fd;

	setup();
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
	/* A dead VM's lock file with a longer pid in it: rewritten whole. */
	file_path(p, sizeof(p), "vm1", "lock");
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, "123456789012\n", 13), 13);
	close(fd);
	fd = rundir_lock("vm1", NULL);
	CU_ASSERT_FATAL(fd >= 0);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	CU_ASSERT(n > 0);
	snprintf(p, sizeof(p), "%d\n", (int)getpid());
	CU_ASSERT_STRING_EQUAL(buf, p);
	close(fd);
	teardown();
}

static void test_lock_held_elsewhere(void)
{
	int fd, fd2;

	setup();
	fd = rundir_lock("vm1", NULL);
	CU_ASSERT_FATAL(fd >= 0);
	/* Another process: -EEXIST naming us. */
	CU_ASSERT_EQUAL(lock_in_child("vm1", getpid()), 1);
	/* Another name is free. */
	CU_ASSERT_EQUAL(lock_in_child("vm2", getpid()), 0);
	/* Our own second open of it conflicts too (flock is per open file). */
	{
		pid_t holder = 0;

		CU_ASSERT_EQUAL(rundir_lock("vm1", &holder), -EEXIST);
		CU_ASSERT_EQUAL(holder, getpid());
		CU_ASSERT_EQUAL(rundir_lock("vm1", NULL), -EEXIST);
	}
	close(fd);
	/* Released: the next taker gets it. */
	CU_ASSERT_EQUAL(lock_in_child("vm1", getpid()), 0);
	fd2 = rundir_lock("vm1", NULL);
	CU_ASSERT(fd2 >= 0);
	if (fd2 >= 0)
		close(fd2);
	teardown();
}

static void test_probe(void)
{
	pid_t child, w;
	int fd, status, go[2], ready[2];
	char c = 0;

	setup();
	/* No run directory, then no files for the name. */
	CU_ASSERT_EQUAL(rundir_probe("vm1"), -ENOENT);
	fd = rundir_lock("vm1", NULL);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(rundir_probe("vm1"), getpid());
	CU_ASSERT_EQUAL(rundir_probe("other"), -ENOENT);
	touch("other", "sock");   /* a socket file alone is no VM */
	CU_ASSERT_EQUAL(rundir_probe("other"), -ENOENT);
	/* Probing does not take the lock away. */
	CU_ASSERT_EQUAL(lock_in_child("vm1", getpid()), 1);
	close(fd);
	/* The holder is gone, its files stay: stale. */
	CU_ASSERT_TRUE(exists("vm1", "lock"));
	CU_ASSERT_EQUAL(rundir_probe("vm1"), 0);
	/* Probing a stale lock leaves it free for the next VM. */
	fd = rundir_lock("vm1", NULL);
	CU_ASSERT(fd >= 0);
	if (fd >= 0)
		close(fd);

	/* Held by another process: its pid; after it exits: 0. */
	CU_ASSERT_EQUAL_FATAL(pipe(go), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(ready), 0);
	child = fork();
	if (child == 0) {
		int lfd = rundir_lock("dead", NULL);
		char b = lfd >= 0 ? 'y' : 'n';

		close(ready[0]);
		close(go[1]);
		if (write(ready[1], &b, 1) != 1)
			_exit(2);
		if (read(go[0], &b, 1) < 0)
			_exit(2);
		_exit(0);   /* without unlocking or removing anything */
	}
	CU_ASSERT_FATAL(child > 0);
	close(ready[1]);
	close(go[0]);
	CU_ASSERT_EQUAL(read(ready[0], &c, 1), 1);
	CU_ASSERT_EQUAL(c, 'y');
	CU_ASSERT_EQUAL(rundir_probe("dead"), child);
	{
		pid_t holder = 0;

		CU_ASSERT_EQUAL(rundir_lock("dead", &holder), -EEXIST);
		CU_ASSERT_EQUAL(holder, child);
	}
	close(go[1]);
	do
		w = waitpid(child, &status, 0);
	while (w < 0 && errno == EINTR);
	CU_ASSERT_EQUAL(w, child);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ready[0]);
	CU_ASSERT_EQUAL(rundir_probe("dead"), 0);
	teardown();
}

static void test_path(void)
{
	char buf[256], want[256], longname[300];

	setup();
	CU_ASSERT_EQUAL(rundir_path(buf, sizeof(buf), "vm1", "sock"), 0);
	snprintf(want, sizeof(want), "%s/vm1.sock", dir);
	CU_ASSERT_STRING_EQUAL(buf, want);
	/* Exactly fits (the NUL included), then one byte short. */
	CU_ASSERT_EQUAL(rundir_path(buf, strlen(want) + 1, "vm1", "sock"), 0);
	CU_ASSERT_STRING_EQUAL(buf, want);
	CU_ASSERT_EQUAL(rundir_path(buf, strlen(want), "vm1", "sock"), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(rundir_path(buf, 4, "vm1", "sock"), -ENAMETOOLONG);

	/* A name too long for the lock's path. */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CU_ASSERT_EQUAL(rundir_path(buf, sizeof(buf), longname, "lock"), -ENAMETOOLONG);
	{
		char *huge = malloc(5000);

		CU_ASSERT_PTR_NOT_NULL_FATAL(huge);
		memset(huge, 'b', 4999);
		huge[4999] = '\0';
		CU_ASSERT_EQUAL(rundir_lock(huge, NULL), -ENAMETOOLONG);
		CU_ASSERT_EQUAL(rundir_probe(huge), -ENOENT);
		rundir_remove(huge);   /* nothing to do, nothing breaks */
		free(huge);
	}
	teardown();
}

static void test_remove(void)
{
	int fd;

	setup();
	fd = rundir_lock("vm1", NULL);
	CU_ASSERT_FATAL(fd >= 0);
	touch("vm1", "sock");
	touch("vm1", "console");
	touch("vm1", "cfg");
	close(fd);
	touch("other", "sock");
	touch("other", "lock");
	rundir_remove("vm1");
	CU_ASSERT_FALSE(exists("vm1", "lock"));
	CU_ASSERT_FALSE(exists("vm1", "sock"));
	CU_ASSERT_FALSE(exists("vm1", "console"));
	CU_ASSERT_FALSE(exists("vm1", "cfg"));
	CU_ASSERT_EQUAL(rundir_probe("vm1"), -ENOENT);
	/* Only that name's files. */
	CU_ASSERT_TRUE(exists("other", "sock"));
	CU_ASSERT_TRUE(exists("other", "lock"));
	/* Files that are not there, twice: nothing breaks. */
	rundir_remove("vm1");
	rundir_remove("vm2");
	CU_ASSERT_TRUE(exists("other", "lock"));
	teardown();
}

void unit_register(void)
{
	UNIT_SUITE("rundir", UNIT_TEST(test_default_dir),
		   UNIT_TEST(test_lock_creates_and_writes_pid),
		   UNIT_TEST(test_lock_existing_dir_and_old_pid),
		   UNIT_TEST(test_lock_held_elsewhere), UNIT_TEST(test_probe),
		   UNIT_TEST(test_path), UNIT_TEST(test_remove));
}
