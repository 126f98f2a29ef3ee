/* `isle pci-assignable-{add,remove,list}` (contract in assignable.h): the
 * driver_override / unbind / drivers_probe dance that moves a function to
 * vfio-pci and back, the state files remembering its old driver, the list
 * with libpci's names, and the command-line entry point. What the host
 * needs (root disk, default route, group users) is in assignable_host.c.
 *
 * Every sysfs write goes through sysfs_write, which calls env->written
 * afterwards so tests can play the kernel. After each bind step the driver
 * link is read back: success is what sysfs says, not what was written. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pci/pci.h>

#include "isle/util.h"
#include "assignable_internal.h"

#define LIST_MAX 256   /* functions pci-assignable-list shows */

extern char **environ;

static void out_reset(struct pa_out *o)
{
	o->msg[0] = '\0';
	o->warn[0] = '\0';
}

static int sysfs_write(const struct pa_env *env, const char *path, const char *val,
		       struct pa_out *o)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return vfio_err(o->msg, sizeof(o->msg), -errno, "cannot open %s: %s", path,
				strerror(errno));
	do {
		n = write(fd, val, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != len) {
		int r = n < 0 ? -errno : -EIO;
		close(fd);
		return vfio_err(o->msg, sizeof(o->msg), r, "writing %s: %s", path, strerror(-r));
	}
	close(fd);
	if (env->written)
		env->written(env, path, val);
	return 0;
}

/* Writes val to SYSFS/<rel> (rel formatted with the BDF). */
static int dev_write(const struct pa_env *env, const char *bdf, const char *rel, const char *val,
		     struct pa_out *o)
{
	char path[PATH_MAX];

	if (vfio_pathf(path, "%s/bus/pci/devices/%s/%s", env->sysfs, bdf, rel))
		return vfio_err(o->msg, sizeof(o->msg), -ENAMETOOLONG, "sysfs path too long");
	return sysfs_write(env, path, val, o);
}

static int probe(const struct pa_env *env, const char *bdf, struct pa_out *o)
{
	char path[PATH_MAX];

	if (vfio_pathf(path, "%s/bus/pci/drivers_probe", env->sysfs))
		return vfio_err(o->msg, sizeof(o->msg), -ENAMETOOLONG, "sysfs path too long");
	return sysfs_write(env, path, bdf, o);
}

static int state_path(const struct pa_env *env, const char *bdf, char *path)
{
	return vfio_pathf(path, "%s/%s", env->state_dir, bdf);
}

/* The remembered driver: 0 with the name ("none": it had none), -ENOENT. */
static int state_read(const struct pa_env *env, const char *bdf, char *drv, size_t len)
{
	char path[PATH_MAX];
	int r;

	if (state_path(env, bdf, path))
		return -ENAMETOOLONG;
	r = vfio_read_small(path, drv, len);
	if (r)
		return r;
	return pa_name_ok(drv, len) ? 0 : -EINVAL;
}

/* Creates dir (mode) and its missing parents (0755). */
static int mkdir_p(const char *dir, mode_t mode)
{
	char path[PATH_MAX];

	if (vfio_pathf(path, "%s", dir))
		return -ENAMETOOLONG;
	for (char *p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, c ? 0755 : mode) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			return 0;
	}
}

static int state_write(const struct pa_env *env, const char *bdf, const char *drv,
		       struct pa_out *o)
{
	char path[PATH_MAX], tmp[PATH_MAX], line[VFIO_NAME_MAX + 1];
	int fd, r, n;

	if ((r = mkdir_p(env->state_dir, 0700)) < 0)
		return vfio_err(o->msg, sizeof(o->msg), r, "cannot create %s: %s", env->state_dir,
				strerror(-r));
	if (state_path(env, bdf, path) || vfio_pathf(tmp, "%s.tmp", path))
		return vfio_err(o->msg, sizeof(o->msg), -ENAMETOOLONG, "state path too long");
	n = snprintf(line, sizeof(line), "%s\n", drv[0] ? drv : "none");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return vfio_err(o->msg, sizeof(o->msg), -errno, "cannot write %s: %s", tmp,
				strerror(errno));
	r = write(fd, line, (size_t)n) == n ? 0 : -EIO;
	if (close(fd) < 0 || r || rename(tmp, path) < 0) {
		unlink(tmp);
		return vfio_err(o->msg, sizeof(o->msg), -EIO, "cannot write %s", path);
	}
	return 0;
}

static void state_drop(const struct pa_env *env, const char *bdf)
{
	char path[PATH_MAX];

	if (!state_path(env, bdf, path))
		unlink(path);
}

static bool driver_loaded(const struct pa_env *env, const char *drv)
{
	char path[PATH_MAX];

	return !vfio_pathf(path, "%s/bus/pci/drivers/%s", env->sysfs, drv) && !access(path, F_OK);
}

static int modprobe_run(const struct pa_env *env, const char *module)
{
	char *argv[] = { "modprobe", (char *)module, NULL };
	int status;
	pid_t pid;

	if (posix_spawnp(&pid, "modprobe", NULL, NULL, argv, environ))
		return -ENOENT;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

void pa_env_host(struct pa_env *env)
{
	*env = (struct pa_env){ .sysfs = "/sys", .state_dir = "/run/isle/pci-assignable",
				.proc = "/proc", .modprobe = modprobe_run };
}

/* Canonical BDF of an existing function, and its driver ("" for none). */
static int lookup(const struct pa_env *env, const char *in, char *bdf, char *drv,
		  struct pa_out *o)
{
	return vfio_lookup(env->sysfs, in, bdf, drv, o->msg, sizeof(o->msg));
}

/* Warns when the function's group cannot be assigned as it stands. */
static void group_warn(const struct pa_env *env, const char *bdf, struct pa_out *o)
{
	int g = vfio_device_group(env->sysfs, bdf, o->warn, sizeof(o->warn));
	int r = g >= 0 ? vfio_group_viable(env->sysfs, g, o->warn, sizeof(o->warn)) : g;

	/* Kept: a host driver in the group, or no IOMMU group at all. */
	if (r != -EBUSY && r != -ENODEV)
		o->warn[0] = '\0';
}

/* After a failed add: clear the override and give the function back. */
static void add_undo(const struct pa_env *env, const char *bdf, const char *old)
{
	char now[VFIO_NAME_MAX], path[PATH_MAX];
	struct pa_out scratch;

	dev_write(env, bdf, "driver_override", "\n", &scratch);
	if (!old[0] || vfio_device_driver(env->sysfs, bdf, now, sizeof(now)))
		return;
	if (!now[0]) {
		if (driver_loaded(env, old) &&
		    !vfio_pathf(path, "%s/bus/pci/drivers/%s/bind", env->sysfs, old))
			sysfs_write(env, path, bdf, &scratch);
		else
			probe(env, bdf, &scratch);
		if (vfio_device_driver(env->sysfs, bdf, now, sizeof(now)))
			return;
	}
	if (!strcmp(now, old))
		state_drop(env, bdf);
}

int pa_add(const struct pa_env *env, const char *in, struct pa_out *o)
{
	char bdf[VFIO_BDF_MAX], drv[VFIO_NAME_MAX], old[VFIO_NAME_MAX];
	int r;

	out_reset(o);
	if ((r = lookup(env, in, bdf, drv, o)) < 0)
		return r;
	if (!strcmp(drv, "vfio-pci")) {
		vfio_err(o->msg, sizeof(o->msg), 0, "%s is already assignable (bound to vfio-pci)",
			 bdf);
		group_warn(env, bdf, o);
		return 0;
	}
	if ((r = pa_host_use(env, bdf, o->msg, sizeof(o->msg))) < 0)
		return r;
	if (!driver_loaded(env, "vfio-pci") && env->modprobe)
		env->modprobe(env, "vfio-pci");
	if (!driver_loaded(env, "vfio-pci"))
		return vfio_err(o->msg, sizeof(o->msg), -ENOENT, "the vfio-pci driver is not "
				"loaded (modprobe vfio-pci)");
	/* A function left without a driver by an earlier attempt keeps the
	 * driver remembered then. */
	if ((drv[0] || state_read(env, bdf, old, sizeof(old))) &&
	    (r = state_write(env, bdf, drv, o)) < 0)
		return r;
	if ((r = dev_write(env, bdf, "driver_override", "vfio-pci", o)) < 0)
		return r;
	if ((drv[0] && (r = dev_write(env, bdf, "driver/unbind", bdf, o)) < 0) ||
	    (r = probe(env, bdf, o)) < 0)
		goto undo;
	r = vfio_device_driver(env->sysfs, bdf, old, sizeof(old));
	if (r || strcmp(old, "vfio-pci")) {
		r = vfio_err(o->msg, sizeof(o->msg), -EIO, "%s did not bind to vfio-pci (its "
			     "driver is now %s): see dmesg", bdf, r ? "unknown" : old[0] ? old : "none");
		goto undo;
	}
	vfio_err(o->msg, sizeof(o->msg), 0, "%s is assignable (was %s)", bdf,
		 drv[0] ? drv : "without a driver");
	group_warn(env, bdf, o);
	return 0;
undo:
	add_undo(env, bdf, drv);
	return r;
}

/* Gives the function its remembered driver back (or probes for one). */
static int rebind(const struct pa_env *env, const char *bdf, struct pa_out *o)
{
	char old[VFIO_NAME_MAX], now[VFIO_NAME_MAX], path[PATH_MAX];
	bool known;
	int r;

	known = state_read(env, bdf, old, sizeof(old)) == 0;
	if (known && strcmp(old, "none") && !driver_loaded(env, old) && env->modprobe)
		env->modprobe(env, old);
	if (known && !strcmp(old, "none")) {
		state_drop(env, bdf);
		return vfio_err(o->msg, sizeof(o->msg), 0, "%s is no longer assignable; it had no "
				"driver before", bdf);
	}
	if (known && driver_loaded(env, old)) {
		if (vfio_pathf(path, "%s/bus/pci/drivers/%s/bind", env->sysfs, old))
			return vfio_err(o->msg, sizeof(o->msg), -ENAMETOOLONG, "sysfs path too long");
		r = sysfs_write(env, path, bdf, o);
	} else {
		if (!known)
			snprintf(o->warn, sizeof(o->warn), "no driver remembered for %s: letting "
				 "the kernel probe for one", bdf);
		r = probe(env, bdf, o);
	}
	if (r < 0)
		return r;
	if (vfio_device_driver(env->sysfs, bdf, now, sizeof(now)))
		now[0] = '\0';
	if (known ? strcmp(now, old) != 0 : !now[0])
		return vfio_err(o->msg, sizeof(o->msg), -EIO, "%s did not rebind to %s (its driver "
				"is now %s): bind it by hand: echo %s > /sys/bus/pci/drivers/%s/bind",
				bdf, known ? old : "a driver", now[0] ? now : "none", bdf,
				known ? old : "DRIVER");
	state_drop(env, bdf);
	return vfio_err(o->msg, sizeof(o->msg), 0, "%s is back on %s", bdf, now);
}

int pa_remove(const struct pa_env *env, const char *in, bool rebind_old, struct pa_out *o)
{
	char bdf[VFIO_BDF_MAX], drv[VFIO_NAME_MAX], comm[32];
	long pid;
	int group, r;

	out_reset(o);
	if ((r = lookup(env, in, bdf, drv, o)) < 0)
		return r;
	if (strcmp(drv, "vfio-pci"))
		return vfio_err(o->msg, sizeof(o->msg), -EINVAL, "%s is not assignable: it is "
				"bound to %s, not vfio-pci", bdf, drv[0] ? drv : "no driver");
	group = vfio_device_group(env->sysfs, bdf, NULL, 0);
	if (group >= 0 && (pid = pa_group_user(env, group, comm, sizeof(comm))) > 0)
		return vfio_err(o->msg, sizeof(o->msg), -EBUSY, "%s is in use: pid %ld (%s) holds "
				"/dev/vfio/%d", bdf, pid, comm, group);
	if ((r = dev_write(env, bdf, "driver/unbind", bdf, o)) < 0 ||
	    (r = dev_write(env, bdf, "driver_override", "\n", o)) < 0)
		return r;
	if (rebind_old)
		return rebind(env, bdf, o);
	state_drop(env, bdf);
	return vfio_err(o->msg, sizeof(o->msg), 0, "%s is no longer assignable and has no driver "
			"(-r rebinds the one it had)", bdf);
}

/* libpci's names. Its error callback must not return: it jumps back. */
static jmp_buf pci_jmp;

static __attribute__((noreturn, format(printf, 1, 2))) void pci_fail(char *msg, ...)
{
	longjmp(pci_jmp, 1);
}

static __attribute__((format(printf, 1, 2))) void pci_quiet(char *msg, ...)
{
}

static struct pci_access *names_open(const struct pa_env *env)
{
	struct pci_access *volatile pacc = pci_alloc();

	if (!pacc)
		return NULL;
	pacc->error = pci_fail;
	pacc->warning = pci_quiet;
	pacc->debug = pci_quiet;
	if (env->pci_ids)
		pci_set_name_list_path(pacc, strdup(env->pci_ids), 1);
	if (setjmp(pci_jmp))
		return NULL;      /* leaked: a half-initialized pci_access is not safe to free */
	pci_init(pacc);
	return pacc;
}

static void name_of(const struct pa_env *env, struct pci_access *pacc, unsigned int ven,
		    unsigned int dev, char *buf, size_t len)
{
	int flags = PCI_LOOKUP_VENDOR | PCI_LOOKUP_DEVICE | (env->pci_ids ? PCI_LOOKUP_NO_HWDB : 0);

	if (!pacc || setjmp(pci_jmp) || !pci_lookup_name(pacc, buf, (int)len, flags, ven, dev))
		snprintf(buf, len, "%04x:%04x", ven, dev);
}

/* A 16-bit id from SYSFS/bus/pci/devices/BDF/<file> ("0x8086"). */
static unsigned int read_id(const struct pa_env *env, const char *bdf, const char *file)
{
	char path[PATH_MAX], buf[16], *end;
	unsigned long v;

	if (vfio_pathf(path, "%s/bus/pci/devices/%s/%s", env->sysfs, bdf, file) ||
	    vfio_read_small(path, buf, sizeof(buf)))
		return 0xffff;
	v = strtoul(buf, &end, 16);
	return end == buf || *end || v > 0xffff ? 0xffff : (unsigned int)v;
}

static int cmp_bdf(const void *a, const void *b)
{
	return strcmp(a, b);
}

int pa_list(const struct pa_env *env, FILE *f, struct pa_out *o)
{
	char bdfs[LIST_MAX][VFIO_BDF_MAX], canon[VFIO_BDF_MAX];
	char path[PATH_MAX], name[256], was[VFIO_NAME_MAX], grp[16];
	struct pci_access *pacc;
	unsigned int n = 0;
	struct dirent *de;
	DIR *dir;

	out_reset(o);
	if (vfio_pathf(path, "%s/bus/pci/drivers/vfio-pci", env->sysfs))
		return -ENAMETOOLONG;
	if (!(dir = opendir(path)))
		return errno == ENOENT ? 0 : vfio_err(o->msg, sizeof(o->msg), -errno, "%s: %s",
						      path, strerror(errno));
	while ((de = readdir(dir)) && n < LIST_MAX)
		if (!vfio_bdf_canon(de->d_name, canon) && !strcmp(canon, de->d_name))
			strcpy(bdfs[n++], canon);
	closedir(dir);
	qsort(bdfs, n, sizeof(bdfs[0]), cmp_bdf);
	pacc = n ? names_open(env) : NULL;
	for (unsigned int i = 0; i < n; i++) {
		int g = vfio_device_group(env->sysfs, bdfs[i], NULL, 0);
		unsigned int ven = read_id(env, bdfs[i], "vendor");
		unsigned int dev = read_id(env, bdfs[i], "device");

		name_of(env, pacc, ven, dev, name, sizeof(name));
		if (g >= 0)
			snprintf(grp, sizeof(grp), "%d", g);
		else
			snprintf(grp, sizeof(grp), "none");
		if (state_read(env, bdfs[i], was, sizeof(was)))
			snprintf(was, sizeof(was), "-");
		fprintf(f, "%s  %04x:%04x  %s  group=%s  was=%s\n", bdfs[i], ven, dev, name, grp,
			was);
	}
	if (pacc)
		pci_cleanup(pacc);
	return 0;
}

static const char *const verbs[][2] = {
	{ "pci-assignable-add", "BDF" },
	{ "pci-assignable-remove", "[-r] BDF" },
	{ "pci-assignable-list", "" },
};

/* -h: every verb on stdout; a usage error: the verb's line on stderr. */
static int usage(const char *verb, bool help)
{
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
		const char *sp = verbs[i][1][0] ? " " : "";
		if (help)
			printf("%s isle %s%s%s\n", i ? "      " : "usage:", verbs[i][0], sp,
			       verbs[i][1]);
		else if (!strcmp(verb, verbs[i][0]))
			fprintf(stderr, "isle: usage: isle %s%s%s\n", verbs[i][0], sp, verbs[i][1]);
	}
	return help ? 0 : 2;
}

int pci_assignable_main(int argc, char **argv)
{
	const char *verb = argc > 0 ? argv[0] : "", *bdf = NULL;
	char canon[VFIO_BDF_MAX];
	bool add = !strcmp(verb, "pci-assignable-add");
	bool rm = !strcmp(verb, "pci-assignable-remove");
	bool list = !strcmp(verb, "pci-assignable-list");
	bool r_flag = false;
	struct pa_env env;
	struct pa_out o;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return usage(verb, true);
		if (rm && !strcmp(argv[i], "-r") && !r_flag)
			r_flag = true;
		else if (argv[i][0] != '-' && !bdf && !list)
			bdf = argv[i];
		else
			return usage(verb, false);
	}
	if (!(add || rm || list)) {
		fprintf(stderr, "isle: '%s' is not a pci-assignable command\n", verb);
		return 2;
	}
	if (!list && !bdf)
		return usage(verb, false);
	if (bdf && vfio_bdf_canon(bdf, canon)) {
		fprintf(stderr, "isle: '%s' is not a PCI address ([DDDD:]BB:DD.F)\n", bdf);
		return 2;
	}
	pa_env_host(&env);
	r = list ? pa_list(&env, stdout, &o) : add ? pa_add(&env, canon, &o)
		: pa_remove(&env, canon, r_flag, &o);
	if (o.warn[0])
		fprintf(stderr, "isle: warning: %s\n", o.warn);
	if (r < 0) {
		fprintf(stderr, "isle: %s\n", o.msg[0] ? o.msg : strerror(-r));
		return 1;
	}
	if (o.msg[0])
		printf("%s\n", o.msg);
	return 0;
}
