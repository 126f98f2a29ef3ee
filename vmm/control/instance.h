/* One isle process: a VM's lifecycle and its control socket.
 *
 * Contract: inst_run() owns the main thread. It boots the configured VM at
 * once (isle run --kernel ..., isle create) or, with only --api-socket,
 * waits for vm.create and vm.boot; it serves the API (api.h) in every
 * state; when the guest powers off, resets or crashes it does what the
 * config's on_poweroff / on_reboot / on_crash say (destroy: the process
 * ends with the VM's status; restart: a new VM from the same config, hot-
 * added devices included; preserve: the VM is kept, paused, until destroyed).
 * States as cloud-hypervisor names them: Created, Running, Paused, Shutdown. */
#ifndef ISLE_VMM_INSTANCE_H
#define ISLE_VMM_INSTANCE_H

#include <stdbool.h>
#include <time.h>

#include "control/api.h"
#include "core/vm.h"

enum inst_state { INST_NONE, INST_CREATED, INST_RUNNING, INST_PAUSED, INST_SHUTDOWN };

struct inst {
	struct vm_config cfg;        /* owned; valid from INST_CREATED on */
	enum inst_state state;
	struct vm vm;
	bool vm_live;                /* vm_create succeeded, not yet destroyed */
	bool run_vm;                 /* the main loop should vm_run() it */
	bool quit;                   /* vmm.shutdown, destroy, a signal */
	/* vm.shutdown / vm.delete of a running VM (deferred, answered once it
	 * is gone): the VM goes back to Created, or NotCreated for vm.delete,
	 * instead of what the config's on_* say. */
	struct api_req *to_created;
	bool force_restart;          /* vm.reboot */
	bool preserved;              /* on_*=preserve kept the stopped VM (Shutdown) */
	struct api_server api;
	bool api_on;
	struct evloop idle;          /* the main loop while no VM runs */
	int sfd;                     /* signalfd */
	int exit_status;
	struct timespec booted;
	unsigned int boots;
	/* With a name: the lock held for the VM's lifetime (rundir.h). */
	int lock_fd;
};

/* The process's exit status. cfg is taken over (moved into inst): the VM's
 * when have_cfg, else the base vm.create builds on. api_path may be NULL
 * or "". */
int inst_run(struct vm_config *cfg, bool have_cfg, const char *api_path);

/* Creates the VM from in->cfg and marks it to run: 0 or vm_create's error. */
int inst_boot(struct inst *in);
/* Unrealizes and frees the VM, if there is one. */
void inst_destroy_vm(struct inst *in);

/* Takes the device with this id out of the config (a restart leaves it
 * out), closing the tap fds the config held for it; inst_device_gone is the
 * same as hotplug's removal callback. */
void inst_config_forget(struct vm_config *c, const char *id);
void inst_device_gone(void *opaque, const char *id);
/* vm.delete: an empty config that keeps what the command line gave (name,
 * test device, serial file, console socket); the tap fds it held are
 * closed. */
void inst_config_reset(struct vm_config *c);

/* The main-thread side of every endpoint (api.h's handler). */
void inst_api(void *opaque, struct api_req *req);

const char *inst_state_name(enum inst_state s);

#endif
