/* xl's pci-assignable-{add,remove,list} for isle: hands a host PCI function
 * to vfio-pci so `isle run --pci BDF` can assign it, and gives it back.
 *
 *   isle pci-assignable-add BDF          refuse if the host needs the device
 *                                        (root filesystem, default route),
 *                                        remember its driver, bind vfio-pci
 *   isle pci-assignable-remove [-r] BDF  refuse while a process holds its
 *                                        group; unbind; -r: rebind the
 *                                        remembered driver
 *   isle pci-assignable-list             devices on vfio-pci, with names
 *
 * The core functions take a struct pa_env (sysfs, proc and state roots
 * plus two hooks) so tests run them against a fake tree; they return 0 or
 * -errno with one line (no prefix, no newline) in out->msg: the error, or
 * a note on success, and a warning on success in out->warn. Not
 * thread-safe (libpci's error handler is process-wide). */
#ifndef ISLE_VFIO_GLUE_ASSIGNABLE_H
#define ISLE_VFIO_GLUE_ASSIGNABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define PA_MSG_MAX 512

struct pa_env {
	const char *sysfs;       /* "/sys" */
	const char *state_dir;   /* "/run/isle/pci-assignable" (made 0700): a file per
				  * device named by its BDF, holding its old driver or "none" */
	const char *proc;        /* "/proc" */
	const char *pci_ids;     /* pci.ids for pci-assignable-list; NULL: libpci's own */
	/* Loads a module when its driver directory is missing (production: runs
	 * `modprobe NAME`); NULL: never. 0 or -errno. */
	int (*modprobe)(const struct pa_env *env, const char *module);
	/* Called after each successful write to a sysfs control file
	 * (driver_override, unbind, bind, drivers_probe) with what was written;
	 * NULL in production, where the kernel acts. Tests move the driver
	 * link here as the kernel would. */
	void (*written)(const struct pa_env *env, const char *path, const char *value);
	void *priv;              /* for the hooks */
};

struct pa_out {
	char msg[PA_MSG_MAX];    /* the error, or a note on success; "" if none */
	char warn[PA_MSG_MAX];   /* a warning on success; "" if none */
};

/* The production environment ("/sys", "/run/isle/pci-assignable", "/proc",
 * modprobe). */
void pa_env_host(struct pa_env *env);

/* Binds the function to vfio-pci. Already on vfio-pci: 0 with a note and
 * the remembered driver kept. -EINVAL (bad BDF), -ENOENT (no such device,
 * no vfio-pci driver), -EBUSY (the host's root filesystem or default route
 * is on it), -EIO (did not bind), -errno from sysfs. Warns when its IOMMU
 * group is not viable. */
int pa_add(const struct pa_env *env, const char *bdf, struct pa_out *out);

/* Unbinds the function from vfio-pci and clears driver_override; rebind:
 * binds the driver pa_add remembered (probes for one when none is
 * remembered). -EINVAL (bad BDF, not on vfio-pci), -ENOENT, -EBUSY (a
 * process holds /dev/vfio/GROUP: its pid in the message), -EIO (did not
 * rebind), -errno. */
int pa_remove(const struct pa_env *env, const char *bdf, bool rebind, struct pa_out *out);

/* One line per function bound to vfio-pci, sorted by BDF:
 * "BDF  VVVV:DDDD  NAME  group=N  was=DRIVER" (group=none without an IOMMU
 * group; was=- when nothing is remembered). 0 or -errno. */
int pa_list(const struct pa_env *env, FILE *f, struct pa_out *out);

/* Whether the host needs the function: -EBUSY and why in msg when it holds
 * the root filesystem (or a device the root's dm/md device is built on)
 * or carries an IPv4/IPv6 default route (directly or below a bond, bridge
 * or vlan); 0 otherwise. bdf is canonical. */
int pa_host_use(const struct pa_env *env, const char *bdf, char *msg, size_t msglen);

/* The `isle pci-assignable-*` commands: argv[0] is the verb. Prints errors
 * as one line "isle: ..." on stderr, notes on stdout. Returns the exit
 * status: 0, 1 (failed), 2 (usage or bad BDF). */
int pci_assignable_main(int argc, char **argv);

#endif
