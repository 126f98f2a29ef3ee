/* Unit tests for vmm/control/instance.c: inst_run(), the isle process's
 * main loop, as far as it goes without a VM. This machine has no /dev/kvm,
 * so inst_boot() cannot succeed here and the VM half (inst_run_vm: vm_run,
 * on_poweroff/on_reboot/on_crash, restart, preserve, the test device's
 * reports) is left to the integration tests that boot guests.
 *
 * Checked, with the run directory ($ISLE_RUN_DIR) and the control socket in
 * a fresh temporary directory and a client thread speaking raw HTTP/1.1
 * over AF_UNIX: without a config and without a socket inst_run returns 0 at
 * once; with only a socket it serves the API from its idle loop
 * (vmm.ping, vm.create building on the command line's name, vm.info
 * naming the socket, vm.boot failing with 500 and staying Created) until
 * vmm.shutdown, then returns 0 and removes the socket and the name's lock;
 * SIGTERM ends it with 128 + 15; a name whose lock another process holds is
 * refused with 1 before anything is made (the holder's lock stays), and the
 * lock of a holder that died is taken over; a socket that cannot be bound
 * is 1 and releases the name; a config that cannot boot is 1 (2 where
 * /dev/kvm opens and the kernel file is missing) with the socket removed.
 * In every case the caller's config is moved: cleared on return. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cunit.h"
#include "control/config.h"
#include "control/instance.h"
#include "control/rundir.h"

static char dir[32], run_dir[64], sock_path[96];

static void make_dirs(void)
{
	snprintf(dir, sizeof(dir), "/tmp/inst.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(run_dir, sizeof(run_dir), "%s/run", dir);
	snprintf(sock_path, sizeof(sock_path), "%s/api.sock", dir);
	CU_ASSERT_EQUAL_FATAL(setenv("ISLE_RUN_DIR", run_dir, 1), 0);
}

static void remove_dirs(void)
{
	static const char *const names[] = { "taken", "t1", "bad", "boot" };
	static const char *const suffixes[] = { "lock", "sock", "console", "cfg", "log",
						"console.log" };
	char p[160];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (size_t j = 0; j < sizeof(suffixes) / sizeof(suffixes[0]); j++) {
			snprintf(p, sizeof(p), "%s/%s.%s", run_dir, names[i], suffixes[j]);
			unlink(p);
		}
	unlink(sock_path);
	rmdir(run_dir);
	CU_ASSERT_EQUAL(rmdir(dir), 0);
	unsetenv("ISLE_RUN_DIR");
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static bool lock_exists(const char *name)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/%s.lock", run_dir, name);
	return exists(p);
}

/* inst_run blocks SIGTERM & co. on the calling thread (its signalfd); the
 * tests put the mask back afterwards. */
static int run(struct vm_config *cfg, bool have_cfg, const char *api_path)
{
	sigset_t old;
	int r;

	pthread_sigmask(SIG_SETMASK, NULL, &old);
	r = inst_run(cfg, have_cfg, api_path);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

static bool cfg_cleared(const struct vm_config *c)
{
	return !c->name && !c->kernel && !c->devices && !c->nr_devices && !c->memory &&
	       !c->vcpus && !c->testdev && !c->serial_file;
}

/* --- a client: one request per connection, "Connection: close" --- */

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Connects, retrying while the server is not up yet (up to 5 s): fd or -1. */
static int connect_api(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timespec t0;
	int fd;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < 5000) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (!connect(fd, (struct sockaddr *)&a, sizeof(a)))
			return fd;
		close(fd);
		usleep(10000);
	}
	return -1;
}

/* One request: the reply's status (and its body in body, NUL-terminated),
 * or -1. */
static int http(const char *method, const char *endpoint, const char *body, char *out,
		size_t outlen)
{
	char req[1024], buf[16384];
	struct pollfd p;
	struct timespec t0;
	size_t n = 0;
	int fd, len, st = -1;
	char *hdr_end;

	len = snprintf(req, sizeof(req), "%s /api/v1/%s HTTP/1.1\r\nHost: localhost\r\n"
		       "Connection: close\r\nContent-Type: application/json\r\n"
		       "Content-Length: %zu\r\n\r\n%s", method, endpoint, strlen(body), body);
	if (len < 0 || (size_t)len >= sizeof(req) || (fd = connect_api(sock_path)) < 0)
		return -1;
	if (write(fd, req, (size_t)len) != len)
		goto out;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ssize_t got;
		long left = 5000 - ms_since(&t0);

		if (left <= 0 || poll(&p, 1, (int)left) <= 0 || n >= sizeof(buf) - 1)
			goto out;
		got = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;   /* EOF: the server closed after the reply */
		n += (size_t)got;
	}
	buf[n] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &st) != 1) {
		st = -1;
		goto out;
	}
	if (out && outlen) {
		hdr_end = strstr(buf, "\r\n\r\n");
		snprintf(out, outlen, "%s", hdr_end ? hdr_end + 4 : "");
	}
out:
	close(fd);
	return st;
}

/* --- the client thread: a script, its results checked by the main thread
 * (CUnit's assertions are not for other threads) --- */

#define MAX_STEPS 8

struct step {
	const char *method, *endpoint, *body;
	int status;          /* what came back */
	char reply[2048];
};

static struct {
	struct step steps[MAX_STEPS];
	unsigned int nr;
	pthread_t main_thread;
	int kill_sig;        /* sent to the main thread after the script, 0: none */
} script;

static void script_add(const char *method, const char *endpoint, const char *body)
{
	struct step *s = &script.steps[script.nr++];

	memset(s, 0, sizeof(*s));
	s->method = method;
	s->endpoint = endpoint;
	s->body = body;
	s->status = -1;
}

static void *client(void *arg)
{
	(void)arg;
	for (unsigned int i = 0; i < script.nr; i++) {
		struct step *s = &script.steps[i];

		s->status = http(s->method, s->endpoint, s->body, s->reply, sizeof(s->reply));
	}
	if (script.kill_sig)
		pthread_kill(script.main_thread, script.kill_sig);
	return NULL;
}

static json_t *step_json(unsigned int i)
{
	json_t *o = json_loads(script.steps[i].reply, 0, NULL);

	CU_ASSERT_PTR_NOT_NULL(o);
	return o;
}

/* --- tests --- */

static void test_nothing_to_do(void)
{
	struct vm_config c;

	make_dirs();
	vm_config_init(&c);
	/* No VM, no socket: nothing can ever happen, so it ends at once. */
	CU_ASSERT_EQUAL(run(&c, false, NULL), 0);
	CU_ASSERT_TRUE(cfg_cleared(&c));
	vm_config_init(&c);
	CU_ASSERT_EQUAL(run(&c, false, ""), 0);
	CU_ASSERT_TRUE(cfg_cleared(&c));
	remove_dirs();
}

static void test_api_until_shutdown(void)
{
	struct vm_config c;
	pthread_t t;
	json_t *o;
	int r;

	make_dirs();
	vm_config_init(&c);
	c.name = strdup("t1");
	memset(&script, 0, sizeof(script));
	script_add("GET", "vmm.ping", "");
	script_add("GET", "vm.info", "");
	script_add("PUT", "vm.create",
		   "{\"payload\": {\"kernel\": \"/k\"}, \"memory\": {\"size\": 268435456}}");
	script_add("GET", "vm.info", "");
	script_add("PUT", "vm.boot", "");
	script_add("GET", "vm.info", "");
	script_add("PUT", "vmm.shutdown", "");
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, client, NULL), 0);
	r = run(&c, false, sock_path);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_TRUE(cfg_cleared(&c));
	/* The socket and the name's files are gone. */
	CU_ASSERT_FALSE(exists(sock_path));
	CU_ASSERT_FALSE(lock_exists("t1"));
	CU_ASSERT_EQUAL(rundir_probe("t1"), -ENOENT);

	CU_ASSERT_EQUAL(script.steps[0].status, 200);
	o = step_json(0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "pid")), getpid());
	json_decref(o);
	CU_ASSERT_EQUAL(script.steps[1].status, 404);
	CU_ASSERT_EQUAL(script.steps[2].status, 204);
	CU_ASSERT_EQUAL(script.steps[3].status, 200);
	o = step_json(3);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "state")), "Created");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(o, "isle"),
								 "name")), "t1");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(o, "isle"),
								 "api_socket")), sock_path);
	json_decref(o);
	CU_ASSERT_EQUAL(script.steps[4].status, 500);   /* no /dev/kvm (or no "/k") */
	CU_ASSERT_EQUAL(script.steps[5].status, 200);
	o = step_json(5);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "state")), "Created");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(o, "isle"), "boots")),
			0);
	json_decref(o);
	CU_ASSERT_EQUAL(script.steps[6].status, 204);
	remove_dirs();
}

static void test_signal(void)
{
	struct vm_config c;
	pthread_t t;
	int r;

	make_dirs();
	vm_config_init(&c);
	memset(&script, 0, sizeof(script));
	script_add("GET", "vmm.ping", "");   /* the loop is up */
	script.main_thread = pthread_self();
	script.kill_sig = SIGTERM;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, client, NULL), 0);
	r = run(&c, false, sock_path);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(script.steps[0].status, 200);
	CU_ASSERT_EQUAL(r, ISLE_EXIT_SIGNAL + SIGTERM);
	CU_ASSERT_FALSE(exists(sock_path));
	remove_dirs();
}

static void test_name_taken(void)
{
	struct vm_config c;
	int ready[2], release[2], st;
	char b;
	pid_t child;

	make_dirs();
	CU_ASSERT_EQUAL_FATAL(pipe2(ready, O_CLOEXEC), 0);
	CU_ASSERT_EQUAL_FATAL(pipe2(release, O_CLOEXEC), 0);
	child = fork();
	CU_ASSERT_FATAL(child >= 0);
	if (child == 0) {
		int fd = rundir_lock("taken", NULL);

		close(ready[0]);
		close(release[1]);
		if (write(ready[1], fd >= 0 ? "y" : "n", 1) != 1)
			_exit(1);
		if (read(release[0], &b, 1) < 0)
			_exit(1);   /* EOF: the parent is done */
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	CU_ASSERT_EQUAL(read(ready[0], &b, 1), 1);
	CU_ASSERT_EQUAL(b, 'y');
	CU_ASSERT_EQUAL(rundir_probe("taken"), child);

	vm_config_init(&c);
	c.name = strdup("taken");
	c.testdev = true;
	CU_ASSERT_EQUAL(run(&c, false, sock_path), ISLE_EXIT_ERROR);
	CU_ASSERT_TRUE(cfg_cleared(&c));
	/* Refused before the socket was made; the holder's lock is left alone. */
	CU_ASSERT_FALSE(exists(sock_path));
	CU_ASSERT_TRUE(lock_exists("taken"));
	CU_ASSERT_EQUAL(rundir_probe("taken"), child);

	/* The holder dies: its stale lock is taken over, and removed at the end. */
	close(release[1]);
	CU_ASSERT_EQUAL(waitpid(child, &st, 0), child);
	CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CU_ASSERT_EQUAL(rundir_probe("taken"), 0);
	vm_config_init(&c);
	c.name = strdup("taken");
	CU_ASSERT_EQUAL(run(&c, false, NULL), 0);
	CU_ASSERT_TRUE(cfg_cleared(&c));
	CU_ASSERT_FALSE(lock_exists("taken"));
	close(ready[0]);
	remove_dirs();
}

static void test_bad_socket(void)
{
	struct vm_config c;
	char bad[160];

	make_dirs();
	snprintf(bad, sizeof(bad), "%s/no/such/dir/api.sock", dir);
	vm_config_init(&c);
	c.name = strdup("bad");
	CU_ASSERT_EQUAL(run(&c, false, bad), ISLE_EXIT_ERROR);
	CU_ASSERT_TRUE(cfg_cleared(&c));
	CU_ASSERT_FALSE(lock_exists("bad"));   /* the name is released */
	CU_ASSERT_EQUAL(rundir_probe("bad"), -ENOENT);
	remove_dirs();
}

static void test_boot_fails(void)
{
	struct vm_config c;
	char err[256];
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), r;

	if (kvm >= 0)
		close(kvm);
	make_dirs();
	vm_config_init(&c);
	c.name = strdup("boot");
	CU_ASSERT_EQUAL(vm_config_set(&c, "", "kernel", "/k", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vm_config_set(&c, "", "disk", "access=rw,target=/img", err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(vm_config_finish(&c, err, sizeof(err)), 0);
	r = run(&c, true, sock_path);
	/* No /dev/kvm: a VMM failure (1). With one, the missing kernel is the
	 * user's input (2), unless KVM itself fails first (1). */
	if (kvm < 0)
		CU_ASSERT_EQUAL(r, ISLE_EXIT_ERROR);
	CU_ASSERT_TRUE(r == ISLE_EXIT_ERROR || r == ISLE_EXIT_USAGE);
	CU_ASSERT_TRUE(cfg_cleared(&c));
	CU_ASSERT_FALSE(exists(sock_path));
	CU_ASSERT_FALSE(lock_exists("boot"));
	remove_dirs();
}

void unit_register(void)
{
	UNIT_SUITE("instance",
		   UNIT_TEST(test_nothing_to_do),
		   UNIT_TEST(test_api_until_shutdown),
		   UNIT_TEST(test_signal),
		   UNIT_TEST(test_name_taken),
		   UNIT_TEST(test_bad_socket),
		   UNIT_TEST(test_boot_fails));
}
