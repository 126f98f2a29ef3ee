/* Internals of `isle pci-assignable-*` shared by assignable.c,
 * assignable_host.c and the unit tests. */
#ifndef ISLE_VFIO_GLUE_ASSIGNABLE_INTERNAL_H
#define ISLE_VFIO_GLUE_ASSIGNABLE_INTERNAL_H

#include "assignable.h"
#include "vfio_internal.h"

/* Whether a name read from the system (driver, interface) is safe as one
 * path component: printable, no '/', not "."/"..", shorter than max. */
bool pa_name_ok(const char *name, size_t max);

/* The pid of a process holding /dev/vfio/GROUP open (scanning
 * PROC/PID/fd for every numeric PID, bounded) with its comm in comm: > 0, 0 when none is
 * found, -errno when PROC cannot be read. */
long pa_group_user(const struct pa_env *env, int group, char *comm, size_t commlen);

#endif
