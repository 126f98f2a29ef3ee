/* xl's verbs (contract in xl.h): the client side of a named VM's control
 * socket (rundir.h, api.h), and `create`, which starts the VM's process.
 *
 * Every verb but create and console is one or two HTTP requests in
 * cloud-hypervisor's dialect (PUT or GET http://localhost/api/v1/ENDPOINT
 * over the unix socket rundir()/NAME.sock, 5 s each), read with jansson. A
 * refusal is the server's {"error": "..."}, printed as
 * "isle: VERB: NAME: ERROR" with exit status 1. The device verbs
 * (block-, network-, pci-) and mem-set are in xl_attach.c.
 *
 * create: the xl.cfg file and KEY=VALUE overrides through xlcfg.c into a
 * vm_config (on_reboot=restart, xl's default), a copy of the file at
 * NAME.cfg, the serial port into NAME.console.log unless the config says
 * where, and on the console socket NAME.console (console_sock.h); then
 * inst_run() in a child of its own session (stdout and stderr appended to
 * NAME.log) while the parent waits for vm.info to say Running, or in this
 * process with -F.
 * console is in xl_console.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "isle/log.h"
#include "control/api.h"
#include "control/config.h"
#include "control/instance.h"
#include "control/rundir.h"
#include "control/xl.h"
#include "control/xlcfg.h"
#include "control/xl_priv.h"


#define XL_REPLY_MAX    (4u << 20)
#define XL_TIMEOUT_MS   5000L
#define XL_START_MS     30000
#define XL_DESTROY_MS   10000
#define XL_SHUTDOWN_F_MS 30000
#define XL_LOG_TAIL     20

static int xl_create(int argc, char **argv);
static int xl_list(int argc, char **argv);
static int xl_destroy(int argc, char **argv);
static int xl_shutdown(int argc, char **argv);
static int xl_simple(int argc, char **argv);

static const struct xl_verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
} xl_verbs[] = {
	{ "create", xl_create, "create [-F] [-c] CFG [KEY=VALUE...]" },
	{ "list", xl_list, "list [-l] [NAME...]" },
	{ "destroy", xl_destroy, "destroy NAME" },
	{ "shutdown", xl_shutdown, "shutdown [-w] [-F] NAME | shutdown -a [-w] [-F]" },
	{ "reboot", xl_simple, "reboot NAME" },
	{ "pause", xl_simple, "pause NAME" },
	{ "unpause", xl_simple, "unpause NAME" },
	{ "console", xl_console, "console NAME (attaches to the serial console: its "
				 "output so far and as it comes, and what is typed; Ctrl-] quits)" },
	{ "mem-set", xl_mem_set, "mem-set NAME SIZE (a bare number is KiB; b k m g t)" },
	{ "block-attach", xl_block_attach, "block-attach NAME DISKSPEC..." },
	{ "block-detach", xl_block_detach, "block-detach [-f] [-t SECONDS] NAME ID" },
	{ "block-list", xl_block_list, "block-list NAME" },
	{ "network-attach", xl_network_attach, "network-attach NAME [VIFSPEC...]" },
	{ "network-detach", xl_network_detach,
	  "network-detach [-f] [-t SECONDS] NAME ID|MAC|DEVID" },
	{ "network-list", xl_network_list, "network-list NAME" },
	{ "pci-attach", xl_pci_attach, "pci-attach NAME BDF[@VSLOT][,KEY=VALUE...]" },
	{ "pci-detach", xl_pci_detach, "pci-detach [-f] [-t SECONDS] NAME BDF|ID" },
	{ "pci-list", xl_pci_list, "pci-list NAME" },
};

static const struct xl_verb *xl_verb_of(const char *arg)
{
	for (size_t i = 0; arg && i < sizeof(xl_verbs) / sizeof(xl_verbs[0]); i++)
		if (!strcmp(arg, xl_verbs[i].name))
			return &xl_verbs[i];
	return NULL;
}

bool xl_is_verb(const char *arg)
{
	return xl_verb_of(arg) != NULL;
}

int xl_main(int argc, char **argv)
{
	const struct xl_verb *v = argc > 0 ? xl_verb_of(argv[0]) : NULL;

	if (!v) {
		fprintf(stderr, "isle: '%s' is not a verb\n", argc > 0 ? argv[0] : "");
		return ISLE_EXIT_USAGE;
	}
	optind = 0;   /* glibc: a fresh getopt for every call */
	opterr = 0;
	return v->fn(argc, argv);
}

int xl_usage(const char *verb, const char *why)
{
	const struct xl_verb *v = xl_verb_of(verb);

	fprintf(stderr, "isle: %s%susage: isle %s\n", why ? why : "", why ? "; " : "",
		v ? v->usage : verb);
	return ISLE_EXIT_USAGE;
}

/* getopt's complaint (o: what it returned; every optstring starts with
 * ':'), as one line. */
int xl_bad_option(const char *verb, int o)
{
	char why[64];

	snprintf(why, sizeof(why), "%s: %s -%c", verb,
		 o == ':' ? "missing the value of" : "unknown option", optopt ? optopt : '?');
	return xl_usage(verb, why);
}

/* For verbs without options: min to max operands (max < 0: any number),
 * else the usage line (2). */
int xl_operands(int argc, char **argv, int min, int max)
{
	int o = getopt(argc, argv, ":");

	if (o != -1)
		return xl_bad_option(argv[0], o);
	if (argc - optind < min || (max >= 0 && argc - optind > max))
		return xl_usage(argv[0], NULL);
	return 0;
}

void xl_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

long long xl_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- The HTTP client ---- */

struct xl_buf {
	char *p;
	size_t n;
};

static size_t xl_recv(char *data, size_t size, size_t nmemb, void *opaque)
{
	struct xl_buf *b = opaque;
	size_t n = size * nmemb;
	char *p;

	if (n > XL_REPLY_MAX - b->n || !(p = realloc(b->p, b->n + n + 1)))
		return 0;   /* aborts the transfer */
	memcpy(p + b->n, data, n);
	b->n += n;
	p[b->n] = '\0';
	b->p = p;
	return n;
}

/* One request to NAME's control socket (body: taken, may be NULL): the
 * HTTP status with *reply (the JSON body, NULL when none or not JSON), or
 * -1 with a message in err. */
long xl_http(const char *name, const char *method, const char *endpoint, json_t *body,
	     json_t **reply, char *err, size_t errlen)
{
	static bool curl_ready;
	char sock[CONFIG_SOCKET_PATH_MAX], url[128], *text = NULL;
	struct curl_slist *hdr = NULL;
	struct xl_buf b = { NULL, 0 };
	long status = -1;
	CURLcode rc;
	CURL *h;

	*reply = NULL;
	if (body)
		text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (rundir_path(sock, sizeof(sock), name, "sock")) {
		snprintf(err, errlen, "%s/%s.sock: the socket path is too long", rundir(), name);
		goto out;
	}
	if (!curl_ready && curl_global_init(CURL_GLOBAL_NOTHING)) {
		snprintf(err, errlen, "libcurl could not be initialized");
		goto out;
	}
	curl_ready = true;
	if (!(h = curl_easy_init())) {
		snprintf(err, errlen, "libcurl could not be initialized");
		goto out;
	}
	snprintf(url, sizeof(url), "http://localhost" API_PREFIX "%s", endpoint);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, XL_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, xl_recv);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	hdr = curl_slist_append(hdr, "Accept: application/json");
	if (!strcmp(method, "PUT")) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		hdr = curl_slist_append(hdr, "Expect:");
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, text ? (long)strlen(text) : 0L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, text ? text : "");
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (b.p)
			*reply = json_loadb(b.p, b.n, 0, NULL);
	} else {
		snprintf(err, errlen, "%s: %s", sock, curl_easy_strerror(rc));
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
out:
	free(text);
	free(b.p);
	return status;
}

/* xl_http, with a refusal or a failure printed: 0 (and *reply, if asked
 * for: an object, never NULL) or 1. */
int xl_call(const char *verb, const char *name, const char *method, const char *endpoint,
	    json_t *body, json_t **reply)
{
	char err[512];
	json_t *r;
	long st = xl_http(name, method, endpoint, body, &r, err, sizeof(err));

	if (reply)
		*reply = NULL;
	if (st < 200 || st > 299) {
		const char *msg = json_string_value(json_object_get(r, "error"));

		/* The reply's text is printed as one printable line. */
		if (msg)
			err_msg(err, sizeof(err), 0, "%s", msg);
		else if (st >= 0)
			snprintf(err, sizeof(err), "%s: HTTP status %ld", endpoint, st);
		fprintf(stderr, "isle: %s: %s: %s\n", verb, name, err);
		json_decref(r);
		return 1;
	}
	if (reply)
		*reply = json_is_object(r) ? r : (json_decref(r), json_object());
	else
		json_decref(r);
	return 0;
}

/* The pid of NAME's live process (> 0), 0 after removing a dead VM's
 * files (with a message), or -ENOENT. */
static pid_t xl_probe(const char *verb, const char *name)
{
	pid_t pid = config_name_ok(name) ? rundir_probe(name) : -ENOENT;

	if (pid == 0) {
		rundir_remove(name);
		fprintf(stderr, "isle: %s: %s: process died; cleaned up\n", verb, name);
	}
	return pid;
}

/* The pid of NAME's live process; -1 after "no VM named NAME" (a dead
 * VM's files are removed on the way). */
pid_t xl_find(const char *verb, const char *name)
{
	pid_t pid = xl_probe(verb, name);

	if (pid <= 0) {
		fprintf(stderr, "isle: %s: no VM named %s\n", verb, name);
		return -1;
	}
	return pid;
}

/* vm.info without messages: the reply or NULL. */
static json_t *xl_info_quiet(const char *name)
{
	char err[256];
	json_t *r;
	long st = xl_http(name, "GET", "vm.info", NULL, &r, err, sizeof(err));

	if (st == 200 && json_is_object(r))
		return r;
	json_decref(r);
	return NULL;
}

static const char *xl_info_state(json_t *info)
{
	return json_string_value(json_object_get(info, "state")) ?: "";
}

/* ---- Pure helpers ---- */

const char *xl_state_flags(const char *state)
{
	if (!strcmp(state, "Running"))
		return "r-----";
	if (!strcmp(state, "Paused"))
		return "--p---";
	if (!strcmp(state, "Shutdown"))
		return "---s--";
	if (!strcmp(state, "Created"))
		return "-b----";   /* created, waiting for vm.boot: nothing to run */
	return "------";
}

/* One line of `xl list`: the same columns and widths as xl's. */
int xl_list_line(char *buf, size_t len, const char *name, long id, uint64_t mem_bytes,
		 unsigned int vcpus, const char *state, int64_t uptime_ms)
{
	return snprintf(buf, len, "%-40s %5ld %5llu %5u     %s  %8.1f\n", name, id,
			(unsigned long long)(mem_bytes >> 20), vcpus, xl_state_flags(state),
			(double)uptime_ms / 1000.0);
}

/* Whether an xl.cfg text (or one KEY=VALUE) has a statement for key. */
int xl_sets_key(const char *text, size_t len, const char *key)
{
	size_t k = strlen(key);
	bool start = true;

	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n' || text[i] == ';') {
			start = true;
		} else if (start && (text[i] == ' ' || text[i] == '\t')) {
			continue;
		} else if (start) {
			size_t j = i + k;

			start = false;
			if (len - i < k || memcmp(text + i, key, k))
				continue;
			while (j < len && (text[j] == ' ' || text[j] == '\t'))
				j++;
			if (j < len && (text[j] == '=' || (text[j] == '+' && j + 1 < len &&
							   text[j + 1] == '=')))
				return 1;
		}
	}
	return 0;
}

/* ---- create ---- */

/* The whole file (at most XLCFG_FILE_MAX bytes) in *text, not
 * NUL-terminated: 0, or -1 with errno. */
static int xl_read_file(const char *path, char **text, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;
	struct stat st;
	ssize_t n = 0;

	*text = NULL;
	*len = 0;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		n = -1;
	} else if (st.st_size > XLCFG_FILE_MAX) {
		errno = EFBIG;
		n = -1;
	} else if (!(*text = malloc((size_t)st.st_size + 1))) {
		n = -1;
	}
	while (*text && *len < (size_t)st.st_size &&
	       (n = read(fd, *text + *len, (size_t)st.st_size - *len)) > 0)
		*len += (size_t)n;
	e = errno;
	close(fd);
	if (n < 0) {
		free(*text);
		*text = NULL;
		errno = e;
		return -1;
	}
	return 0;
}

static int xl_write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n = fd < 0 ? -1 : write(fd, text, len);

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* The last lines of what path got from offset off on, to stderr. */
static void xl_print_tail(const char *path, off_t off)
{
	char buf[16384], *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC), lines = 0;
	off_t size = fd < 0 ? 0 : lseek(fd, 0, SEEK_END);
	ssize_t n;

	if (size > off + (off_t)sizeof(buf))
		off = size - (off_t)sizeof(buf);
	n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf), off);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return;
	p = buf + n;
	if (p[-1] == '\n')
		p--;
	while (p > buf && !(p[-1] == '\n' && ++lines == XL_LOG_TAIL))
		p--;
	fwrite(p, 1, (size_t)(buf + n - p), stderr);
}

/* The parent of a VM's process: until vm.info says Running. */
static int xl_wait_running(const char *name, pid_t child, const char *log, off_t log_off)
{
	long long end = xl_now_ms() + XL_START_MS;
	int status;

	do {
		json_t *info;
		pid_t w = waitpid(child, &status, WNOHANG);

		if (w == child) {
			fprintf(stderr, "isle: create: %s: the VM's process exited (status %d); "
				"%s says:\n", name, WIFEXITED(status) ? WEXITSTATUS(status) :
				128 + WTERMSIG(status), log);
			xl_print_tail(log, log_off);
			return 1;
		}
		if ((info = xl_info_quiet(name))) {
			bool up = !strcmp(xl_info_state(info), "Running");

			json_decref(info);
			if (up)
				return 0;
		}
		xl_sleep_ms(50);
	} while (xl_now_ms() < end);
	fprintf(stderr, "isle: create: %s: not running after %d s (see %s)\n", name,
		XL_START_MS / 1000, log);
	return 1;
}


static int xl_create(int argc, char **argv)
{
	char err[512], path[4096], log[4096], sock[108];
	bool foreground = false, console = false, serial_set;
	struct vm_config c;
	char *text = NULL;
	size_t len = 0;
	const char *file;
	int o, r = ISLE_EXIT_USAGE, logfd;
	off_t log_off;
	pid_t pid;

	while ((o = getopt(argc, argv, ":Fc")) != -1) {
		if (o == 'F')
			foreground = true;
		else if (o == 'c')
			console = true;
		else
			return xl_bad_option("create", o);
	}
	if (optind >= argc)
		return xl_usage("create", "create: no config file");
	file = argv[optind];
	if (xl_read_file(file, &text, &len) < 0) {
		fprintf(stderr, "isle: create: %s: %s\n", file, strerror(errno));
		return ISLE_EXIT_ERROR;
	}
	vm_config_init(&c);
	c.on_reboot = VM_ACTION_RESTART;
	if (xlcfg_parse(text, len, file, &c, err, sizeof(err))) {
		fprintf(stderr, "isle: create: %s\n", err);
		goto out;
	}
	for (int i = optind + 1; i < argc; i++)
		if (xlcfg_override(&c, argv[i], err, sizeof(err))) {
			fprintf(stderr, "isle: create: %s\n", err);
			goto out;
		}
	if (!c.name) {
		fprintf(stderr, "isle: create: %s: name is required\n", file);
		goto out;
	}
	if (vm_config_finish(&c, err, sizeof(err))) {
		fprintf(stderr, "isle: create: %s: %s\n", file, err);
		goto out;
	}
	r = ISLE_EXIT_ERROR;
	if ((pid = rundir_probe(c.name)) > 0) {
		fprintf(stderr, "isle: create: a VM named %s is already running (pid %d)\n",
			c.name, (int)pid);
		goto out;
	}
	if (pid == 0)
		rundir_remove(c.name);
	if (mkdir(rundir(), 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "isle: create: %s: %s\n", rundir(), strerror(errno));
		goto out;
	}
	if (rundir_path(path, sizeof(path), c.name, "cfg") ||
	    rundir_path(log, sizeof(log), c.name, "log") ||
	    rundir_path(sock, sizeof(sock), c.name, "sock")) {
		fprintf(stderr, "isle: create: %s: the run directory's path is too long\n",
			rundir());
		goto out;
	}
	if (xl_write_file(path, text, len) < 0)
		fprintf(stderr, "isle: create: %s: %s (isle list -l will not show it)\n", path,
			strerror(errno));
	/* The serial port into NAME.console.log (isle console NAME) unless the
	 * config says where (serial = 'stdio' included). */
	serial_set = xl_sets_key(text, len, "serial");
	for (int i = optind + 1; i < argc; i++)
		serial_set |= xl_sets_key(argv[i], strlen(argv[i]), "serial");
	if (!serial_set) {
		char val[5 + sizeof(path)] = "file:";

		if (rundir_path(val + 5, sizeof(path), c.name, "console.log")) {
			fprintf(stderr, "isle: create: %s: the run directory's path is too long\n",
				rundir());
			goto out;
		}
		if (vm_config_set(&c, "", "serial", val, err, sizeof(err))) {
			fprintf(stderr, "isle: create: %s\n", err);
			goto out;
		}
	}
	/* COM1 on NAME.console too: isle console NAME attaches there. */
	if (rundir_path(path, sizeof(path), c.name, "console") ||
	    vm_config_set(&c, "", "console_socket", path, err, sizeof(err)))
		fprintf(stderr, "isle: create: %s/%s.console: too long for a socket path (isle "
			"console will only show the output)\n", rundir(), c.name);
	if (foreground) {
		free(text);
		return inst_run(&c, true, sock);
	}
	logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (logfd < 0) {
		fprintf(stderr, "isle: create: %s: %s\n", log, strerror(errno));
		goto out;
	}
	log_off = lseek(logfd, 0, SEEK_END);
	dprintf(logfd, "isle create %s (%s)\n", file, c.name);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		setsid();
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(ISLE_EXIT_ERROR);
		_exit(inst_run(&c, true, sock));
	}
	close(logfd);
	if (pid < 0) {
		fprintf(stderr, "isle: create: fork: %s\n", strerror(errno));
		goto out;
	}
	r = xl_wait_running(c.name, pid, log, log_off);
	if (!r && console)
		r = xl_console_attach("create", c.name);
out:
	vm_config_free(&c);
	free(text);
	return r;
}

/* ---- list ---- */

static int xl_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of rundir()'s VMs (their lock files), sorted, for the caller
 * to xl_probe: a NULL-terminated array, or NULL when there is none
 * (*failed when the directory cannot be read). */
static char **xl_names(const char *verb, size_t *n, bool *failed)
{
	DIR *d = opendir(rundir());
	char **names = NULL;
	struct dirent *e;

	*n = 0;
	*failed = !d && errno != ENOENT;
	if (*failed)
		fprintf(stderr, "isle: %s: %s: %s\n", verb, rundir(), strerror(errno));
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		char **more;

		if (l <= 5 || strcmp(e->d_name + l - 5, ".lock"))
			continue;
		e->d_name[l - 5] = '\0';
		if (!config_name_ok(e->d_name))
			continue;
		if (!(more = realloc(names, (*n + 2) * sizeof(*names))))
			break;
		names = more;
		if ((names[*n] = strdup(e->d_name)))
			names[++*n] = NULL;
	}
	if (d)
		closedir(d);
	if (names)
		qsort(names, *n, sizeof(*names), xl_cmp);
	return names;
}

static void xl_free_names(char **names)
{
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

static json_int_t xl_jint(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);

	return json_integer_value(b ? json_object_get(v, b) : v);
}

static void xl_list_one(const char *name, pid_t pid, bool json, json_t *out)
{
	json_t *info = xl_info_quiet(name), *cfg = json_object_get(info, "config");
	const char *state = info ? xl_info_state(info) : "";
	uint64_t mem = (uint64_t)(json_object_get(info, "memory_actual_size") ?
		xl_jint(info, "memory_actual_size", NULL) : xl_jint(cfg, "memory", "size"));
	unsigned int vcpus = (unsigned int)xl_jint(cfg, "cpus", "boot_vcpus");
	char line[256], sock[4096];

	if (!json) {
		xl_list_line(line, sizeof(line), name, (long)pid, mem, vcpus, state,
			     xl_jint(json_object_get(info, "isle"), "uptime_ms", NULL));
		fputs(line, stdout);
	} else {
		rundir_path(sock, sizeof(sock), name, "sock");
		json_array_append_new(out, json_pack(
			"{s:s, s:i, s:i, s:I, s:i, s:s, s:O?, s:s, s:O?}", "name", name,
			"id", (int)pid, "pid", (int)pid, "memory", (json_int_t)(mem >> 20),
			"vcpus", (int)vcpus, "state", state[0] ? state : "Unknown",
			"devices", json_object_get(info, "device_tree"),
			"control_socket", sock, "config", cfg));
	}
	json_decref(info);
}

static int xl_list(int argc, char **argv)
{
	bool json = false, failed = false;
	char **names = NULL;
	json_t *out;
	size_t n = 0;
	int o, r = 0;

	while ((o = getopt(argc, argv, ":l")) != -1) {
		if (o != 'l')
			return xl_bad_option("list", o);
		json = true;
	}
	out = json_array();
	if (!json)
		printf("Name                                        ID   Mem VCPUs\tState\tTime(s)\n");
	if (optind == argc)
		names = xl_names("list", &n, &failed);
	for (size_t i = 0; i < n; i++) {
		pid_t pid = xl_probe("list", names[i]);

		if (pid > 0)
			xl_list_one(names[i], pid, json, out);
	}
	for (int i = optind; i < argc; i++) {
		pid_t pid = xl_find("list", argv[i]);

		if (pid < 0)
			r = 1;
		else
			xl_list_one(argv[i], pid, json, out);
	}
	if (json) {
		char *s = json_dumps(out, JSON_INDENT(4));

		printf("%s\n", s ? s : "[]");
		free(s);
	}
	fflush(stdout);
	json_decref(out);
	xl_free_names(names);
	return r || failed;
}

/* ---- destroy, shutdown, reboot, pause, unpause ---- */

/* Whether NAME's process ended within ms (its leftovers removed). */
static bool xl_wait_gone(const char *name, int ms)
{
	long long end = xl_now_ms() + ms;
	pid_t pid;

	while ((pid = rundir_probe(name)) > 0 && xl_now_ms() < end)
		xl_sleep_ms(50);
	if (pid == 0)
		rundir_remove(name);
	return pid <= 0;
}

/* vmm.shutdown (or SIGTERM if the socket does not answer), then SIGKILL. */
static int xl_destroy_one(const char *verb, const char *name)
{
	char err[256];
	json_t *reply;
	long st = xl_http(name, "PUT", "vmm.shutdown", NULL, &reply, err, sizeof(err));
	pid_t pid;

	json_decref(reply);
	if ((st < 200 || st > 299) && (pid = rundir_probe(name)) > 0)
		kill(pid, SIGTERM);
	if (xl_wait_gone(name, XL_DESTROY_MS))
		return 0;
	if ((pid = rundir_probe(name)) > 0) {
		fprintf(stderr, "isle: %s: %s: still there after %d s: killing pid %d\n", verb,
			name, XL_DESTROY_MS / 1000, (int)pid);
		if (kill(pid, SIGKILL) < 0) {
			fprintf(stderr, "isle: %s: %s: kill %d: %s\n", verb, name, (int)pid,
				strerror(errno));
			return 1;
		}
	}
	xl_wait_gone(name, 2000);
	rundir_remove(name);
	return 0;
}

static int xl_destroy(int argc, char **argv)
{
	int r = xl_operands(argc, argv, 1, 1);
	pid_t pid;

	if (r)
		return r;
	pid = config_name_ok(argv[optind]) ? rundir_probe(argv[optind]) : -ENOENT;
	if (pid == 0) {   /* already dead: its leftovers are all there is to destroy */
		rundir_remove(argv[optind]);
		return 0;
	}
	if (pid < 0) {
		fprintf(stderr, "isle: destroy: no VM named %s\n", argv[optind]);
		return 1;
	}
	return xl_destroy_one("destroy", argv[optind]);
}

/* Whether a VM whose power button was pressed is down: its process ended,
 * it is kept shut down (on_poweroff=preserve), or it started anew. */
static bool xl_down(const char *name, json_int_t boots)
{
	json_t *info;
	bool down;

	if (rundir_probe(name) <= 0)
		return xl_wait_gone(name, 0);
	if (!(info = xl_info_quiet(name)))
		return false;
	down = !strcmp(xl_info_state(info), "Shutdown") ||
	       xl_jint(json_object_get(info, "isle"), "boots", NULL) != boots;
	json_decref(info);
	return down;
}

static int xl_shutdown(int argc, char **argv)
{
	bool all = false, wait_down = false, fallback = false, failed = false;
	char **names, *one[2] = { NULL, NULL };
	json_int_t *boots;
	size_t n = 1;
	int o, r = 0;

	while ((o = getopt(argc, argv, ":awF")) != -1) {
		if (o == 'a')
			all = true;
		else if (o == 'w')
			wait_down = true;
		else if (o == 'F')
			fallback = true;
		else
			return xl_bad_option("shutdown", o);
	}
	if (all ? optind != argc : argc - optind != 1)
		return xl_usage("shutdown", NULL);
	if (!all && xl_find("shutdown", argv[optind]) < 0)
		return 1;
	one[0] = all ? NULL : argv[optind];
	names = all ? xl_names("shutdown", &n, &failed) : one;
	/* boots[i]: the VM's boot count when its button was pressed; -1 once
	 * it is down (or was never pressed). */
	boots = calloc(n + 1, sizeof(*boots));
	r = !boots;
	for (size_t i = 0; boots && i < n; i++) {
		json_t *info;

		/* -a: a dead VM's files go (xl_find checked a single NAME). */
		if (all && xl_probe("shutdown", names[i]) <= 0) {
			boots[i] = -1;
			continue;
		}
		info = xl_info_quiet(names[i]);

		boots[i] = xl_jint(json_object_get(info, "isle"), "boots", NULL);
		json_decref(info);
		if (xl_call("shutdown", names[i], "PUT", "vm.power-button", NULL, NULL)) {
			r = 1;
			boots[i] = -1;
		}
	}
	for (long long start = xl_now_ms(); boots && (wait_down || fallback);) {
		size_t left = 0;

		for (size_t i = 0; i < n; i++) {
			if (boots[i] < 0 || xl_down(names[i], boots[i])) {
				boots[i] = -1;
			} else if (fallback && xl_now_ms() - start >= XL_SHUTDOWN_F_MS) {
				fprintf(stderr, "isle: shutdown: %s: the guest ignored the power button "
					"for %d s: destroying it\n", names[i], XL_SHUTDOWN_F_MS / 1000);
				r |= xl_destroy_one("shutdown", names[i]);
				boots[i] = -1;
			} else {
				left++;
			}
		}
		if (!left)
			break;
		xl_sleep_ms(100);
	}
	free(boots);
	if (all)
		xl_free_names(names);
	return r || failed;
}

/* reboot, pause, unpause: one PUT without a body. */
static int xl_simple(int argc, char **argv)
{
	const char *ep = !strcmp(argv[0], "reboot") ? "vm.reboot" :
			 !strcmp(argv[0], "pause") ? "vm.pause" : "vm.resume";
	int r = xl_operands(argc, argv, 1, 1);

	if (r)
		return r;
	if (xl_find(argv[0], argv[optind]) < 0)
		return 1;
	return xl_call(argv[0], argv[optind], "PUT", ep, NULL, NULL);
}
