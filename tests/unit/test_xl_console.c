/* Unit tests for vmm/control/xl_console.c, `isle console NAME`, on a
 * temporary run directory ($ISLE_RUN_DIR) with no VM: following the serial
 * file while the VM's lock is held, then against the real console socket
 * (console_sock.c) on a UART: the history, output and input both ways, a
 * second console refused, the VM's end ending it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cunit.h"
#include "xl_fixture.h"
#include "isle/util.h"
#include "control/rundir.h"
#include "control/xl.h"
#include "devices/console_sock.h"
#include "devices/serial.h"
#include "isle/evloop.h"


/* console: what the serial file has, then what comes, until the VM's
 * process ends (its lock is released). */
static void test_console_follows(void)
{
	char path[4096], out[256] = "";
	FILE *f = tmpfile(), *lf;
	pid_t holder = 0, child;
	int fd, status = -1;

	xlf_setup_dir();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fd = rundir_lock("con", &holder);
	CU_ASSERT_TRUE_FATAL(fd >= 0);
	xlf_touch("con", "console.log", "hello\n");
	fflush(NULL);
	child = fork();
	if (child == 0) {
		int nul = open("/dev/null", O_RDONLY);

		close(fd);   /* the lock stays with the parent's copy */
		dup2(nul, 0);
		dup2(fileno(f), 1);
		_exit(xlf_run("console", "con", NULL, NULL));
	}
	CU_ASSERT_TRUE_FATAL(child > 0);
	usleep(300 * 1000);
	rundir_path(path, sizeof(path), "con", "console.log");
	lf = fopen(path, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(lf);
	fputs("world\n", lf);
	fclose(lf);
	usleep(400 * 1000);
	close(fd);   /* the VM's process ends */
	CU_ASSERT_EQUAL(waitpid(child, &status, 0), child);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	rewind(f);
	CU_ASSERT_TRUE(fread(out, 1, sizeof(out) - 1, f) > 0);
	CU_ASSERT_STRING_EQUAL(out, "hello\nworld\n");
	fclose(f);
	xlf_remove_dir();
}

static pid_t console_child(FILE *out, FILE *err, int in_fd, int lock_fd)
{
	pid_t child;

	fflush(NULL);
	child = fork();
	if (child == 0) {
		close(lock_fd);   /* the lock stays with the parent's copy */
		dup2(in_fd, 0);
		dup2(fileno(out), 1);
		dup2(fileno(err), 2);
		_exit(xlf_run("console", "con", NULL, NULL));
	}
	return child;
}

static void serial_puts(struct serial *s, const char *text)
{
	for (; *text; text++) {
		uint8_t c = (uint8_t)*text;

		serial_access(s, 0, &c, 1, true);
	}
}

/* console with the VM's console socket (the real server, console_sock.c,
 * on a UART here): the history from the serial file, then the output as it
 * comes, stdin to the guest's FIFO; stdin's end stops only the input; a
 * second console is refused (1); the VM's end (the socket closes) ends it. */
static void test_console_socket(void)
{
	FILE *out = tmpfile(), *err = tmpfile(), *out2 = tmpfile();
	char path[4096], buf[256] = "";
	struct console_sock cs;
	struct evloop loop;
	struct serial *s;
	pid_t holder = 0, child, second;
	int fd, p[2], nul, status = -1;
	size_t n = 0;

	xlf_setup_dir();
	CU_ASSERT_TRUE_FATAL(out && err && out2);
	fd = rundir_lock("con", &holder);
	CU_ASSERT_TRUE_FATAL(fd >= 0);
	xlf_touch("con", "console.log", "history\n");
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	CU_ASSERT_EQUAL_FATAL(evloop_init(&loop), 0);
	s = serial_new(NULL, -1);
	rundir_path(path, sizeof(path), "con", "console");
	CU_ASSERT_EQUAL_FATAL(console_sock_open(&cs, NULL, &loop, s, path), 0);
	child = console_child(out, err, p[0], fd);
	CU_ASSERT_TRUE_FATAL(child > 0);
	close(p[0]);
	for (int i = 0; i < 500 && cs.client_fd < 0; i++)
		evloop_run_once(&loop, 10);
	CU_ASSERT_TRUE_FATAL(cs.client_fd >= 0);
	serial_puts(s, "live\n");
	CU_ASSERT_EQUAL(write(p[1], "typed\r", 6), 6);
	close(p[1]);   /* stdin ends: the output still comes */
	for (int i = 0; i < 500 && n < 6; i++) {
		uint8_t lsr = 0;

		evloop_run_once(&loop, 10);
		serial_access(s, 5, &lsr, 1, false);
		while ((lsr & 1) && n < sizeof(buf) - 1) {
			serial_access(s, 0, &buf[n++], 1, false);
			serial_access(s, 5, &lsr, 1, false);
		}
	}
	buf[n] = '\0';
	CU_ASSERT_STRING_EQUAL(buf, "typed\r");
	/* A second console while this one is attached. */
	nul = open("/dev/null", O_RDONLY);
	second = console_child(out2, out2, nul, fd);
	close(nul);
	CU_ASSERT_TRUE_FATAL(second > 0);
	for (int i = 0; i < 500 && waitpid(second, &status, WNOHANG) == 0; i++)
		evloop_run_once(&loop, 10);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	serial_puts(s, "after\n");
	for (int i = 0; i < 20; i++)
		evloop_run_once(&loop, 10);
	console_sock_close(&cs);   /* the VM ends */
	CU_ASSERT_EQUAL(waitpid(child, &status, 0), child);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	memset(buf, 0, sizeof(buf));
	rewind(out);
	CU_ASSERT_TRUE(fread(buf, 1, sizeof(buf) - 1, out) > 0);
	CU_ASSERT_STRING_EQUAL(buf, "history\nlive\nafter\n");
	memset(buf, 0, sizeof(buf));
	rewind(out2);
	CU_ASSERT_TRUE(fread(buf, 1, sizeof(buf) - 1, out2) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "another console is attached"));
	evloop_fini(&loop);
	serial_free(s);
	close(fd);
	fclose(out);
	fclose(err);
	fclose(out2);
	xlf_remove_dir();
}

void unit_register(void)
{
	UNIT_SUITE("xl_console", UNIT_TEST(test_console_follows), UNIT_TEST(test_console_socket));
}
