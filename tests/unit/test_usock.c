/* Unit tests for lib/usock.c: a fresh path, a stale socket file replaced, a
 * live server (also one with a full backlog) not stolen, a non-socket file
 * left alone, a path too long, and unlinking only our own file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cunit.h"
#include "isle/usock.h"

static char dir[64], path[96];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/usock.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

static int client(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

static void test_usock_fresh_and_own_unlink(void)
{
	struct stat made;
	bool replaced = true;
	int fd, c;

	setup();
	fd = usock_listen(path, 1, &made, &replaced);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FALSE(replaced);
	c = client();
	CU_ASSERT(c >= 0);
	close(c);
	close(fd);
	usock_unlink_own(path, &made);
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	teardown();
}

static void test_usock_stale_replaced(void)
{
	struct stat made;
	bool replaced = false;
	int fd;

	setup();
	fd = usock_listen(path, 1, &made, NULL);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);                 /* the file stays: a server that died */
	CU_ASSERT_EQUAL(access(path, F_OK), 0);
	fd = usock_listen(path, 1, &made, &replaced);
	CU_ASSERT(fd >= 0);
	CU_ASSERT_TRUE(replaced);
	close(fd);
	teardown();
}

static void test_usock_live_not_stolen(void)
{
	struct stat made, other;
	int fd, c1, c2;

	setup();
	fd = usock_listen(path, 0, &made, NULL);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(usock_listen(path, 1, &other, NULL), -EADDRINUSE);
	/* A server busy with its backlog full is still live. */
	c1 = client();
	c2 = client();
	CU_ASSERT_EQUAL(usock_listen(path, 1, &other, NULL), -EADDRINUSE);
	if (c1 >= 0)
		close(c1);
	if (c2 >= 0)
		close(c2);
	close(fd);
	usock_unlink_own(path, &made);
	teardown();
}

static void test_usock_not_a_socket(void)
{
	struct stat made;
	int f;

	setup();
	f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(f >= 0);
	close(f);
	CU_ASSERT_EQUAL(usock_listen(path, 1, &made, NULL), -EEXIST);
	CU_ASSERT_EQUAL(access(path, F_OK), 0);   /* left alone */
	teardown();
}

static void test_usock_too_long(void)
{
	char longp[200];
	struct stat made;

	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	CU_ASSERT_EQUAL(usock_listen(longp, 1, &made, NULL), -ENAMETOOLONG);
}

/* A successor replaced our file: we must not remove theirs. */
static void test_usock_unlink_successor_kept(void)
{
	struct stat made, theirs;
	int fd, fd2;

	setup();
	fd = usock_listen(path, 1, &made, NULL);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	fd2 = usock_listen(path, 1, &theirs, NULL);   /* replaces the stale one */
	CU_ASSERT_FATAL(fd2 >= 0);
	usock_unlink_own(path, &made);
	CU_ASSERT_EQUAL(access(path, F_OK), 0);
	close(fd2);
	usock_unlink_own(path, &theirs);
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	teardown();
}

void unit_register(void)
{
	UNIT_SUITE("usock",
		   UNIT_TEST(test_usock_fresh_and_own_unlink),
		   UNIT_TEST(test_usock_stale_replaced),
		   UNIT_TEST(test_usock_live_not_stolen),
		   UNIT_TEST(test_usock_not_a_socket),
		   UNIT_TEST(test_usock_too_long),
		   UNIT_TEST(test_usock_unlink_successor_kept));
}
