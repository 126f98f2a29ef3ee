/* Where named VMs live on the host: one directory ($ISLE_RUN_DIR, default
 * /run/isle) with, per VM NAME,
 *   NAME.lock     flock()ed by the VM's process for its lifetime: holds its pid
 *   NAME.sock     the control socket (api.h), mode 0600
 *   NAME.console  the serial console socket (isle console NAME)
 *   NAME.cfg      the xl.cfg it was created from, for isle list -l
 *   NAME.log      the process's own messages when it runs in the background
 *   NAME.console.log  the serial console of a VM isle create started
 * A name is unique per host because its lock is: a second VM of that name
 * fails to take it. A lock file whose lock nobody holds belongs to a VM
 * whose process died: rundir_probe() returns 0 and the caller (isle list)
 * says so and calls rundir_remove(). The two logs stay (for what happened)
 * until the next VM of that name starts. */
#ifndef ISLE_VMM_RUNDIR_H
#define ISLE_VMM_RUNDIR_H

#include <stddef.h>
#include <sys/types.h>

#define RUNDIR_DEFAULT "/run/isle"

const char *rundir(void);
/* dir/NAME.SUFFIX into buf: 0 or -ENAMETOOLONG. */
int rundir_path(char *buf, size_t len, const char *name, const char *suffix);
/* Creates the directory (0700) and takes NAME's lock, writing our pid:
 * the lock fd, -EEXIST when a live process holds it (*holder: its pid),
 * or -errno. */
int rundir_lock(const char *name, pid_t *holder);
/* Whether NAME's lock is held: its pid (> 0), 0 when the files are a dead
 * VM's, -ENOENT when there is no such VM. */
pid_t rundir_probe(const char *name);
/* Removes NAME's files (after a dead VM, or when its process ends). */
void rundir_remove(const char *name);

#endif
