/* One isle process (contract in instance.h): the boot / run / on_* loop on
 * the main thread, with the control socket's requests dispatched in
 * whichever event loop is running (the VM's, or the idle one between VMs).
 * The endpoints themselves are in instance_api.c. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "isle/log.h"
#include "control/instance.h"
#include "control/config.h"
#include "control/rundir.h"
#include "devices/hotplug.h"
#include "devices/serial.h"
#include "devices/testdev.h"
#include "core/device.h"

const char *inst_state_name(enum inst_state s)
{
	switch (s) {
	case INST_CREATED: return "Created";
	case INST_RUNNING: return "Running";
	case INST_PAUSED: return "Paused";
	case INST_SHUTDOWN: return "Shutdown";
	default: return "NotCreated";
	}
}

static void inst_api_ready(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct inst *in = opaque;

	(void)loop, (void)fd, (void)events;
	api_dispatch(&in->api);
}

static void inst_signal(struct evloop *loop, int fd, uint32_t events, void *opaque)
{
	struct inst *in = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("terminated by SIG%s", sigabbrev_np((int)si.ssi_signo) ?: "?");
	in->exit_status = ISLE_EXIT_SIGNAL + (int)si.ssi_signo;
	in->quit = true;
	evloop_stop(loop);
}

/* A guest that exits 0 after reporting a failure has not passed. */
static int inst_check_reports(struct vm *vm, int status)
{
	struct testdev *td = device_priv_of_type(vm, &testdev_type);

	if (!td || !td->reports)
		return status;
	log_info("guest reported %u passed, %u failed, %u skipped", td->passed, td->failed,
		 td->skipped);
	if (status == 0 && td->failed) {
		log_error("guest exited 0 but reported %u failure(s)", td->failed);
		return ISLE_EXIT_ERROR;
	}
	return status;
}

int inst_boot(struct inst *in)
{
	int r;

	r = vm_create(&in->vm, &in->cfg);
	if (r) {
		vm_destroy(&in->vm);
		return r;
	}
	in->vm_live = true;
	hotplug_on_removal(&in->vm, inst_device_gone, in);
	if (in->api_on &&
	    (r = evloop_add(&in->vm.loop, api_req_fd(&in->api), EPOLLIN, inst_api_ready, in))) {
		vm_destroy(&in->vm);
		in->vm_live = false;
		return r;
	}
	in->run_vm = true;
	in->state = INST_RUNNING;
	in->boots++;
	clock_gettime(CLOCK_MONOTONIC, &in->booted);
	return 0;
}

void inst_destroy_vm(struct inst *in)
{
	if (!in->vm_live)
		return;
	if (in->api_on)
		evloop_del(&in->vm.loop, api_req_fd(&in->api));
	vm_destroy(&in->vm);   /* every device unrealized, newest first */
	in->vm_live = false;
}

/* What the config says to do now that the VM stopped. */
static enum vm_action inst_action(struct inst *in)
{
	switch (in->vm.stop_why) {
	case VM_STOP_POWEROFF: return in->cfg.on_poweroff;
	case VM_STOP_RESET: return in->force_restart ? VM_ACTION_RESTART : in->cfg.on_reboot;
	case VM_STOP_CRASH: return in->cfg.on_crash;
	default: return VM_ACTION_DESTROY;
	}
}

/* Runs the VM until it stops, then decides: 1 to go on (restart, wait for
 * vm.boot, preserve), 0 to end the process. */
static int inst_run_vm(struct inst *in)
{
	struct serial *serial;
	enum vm_action act;
	int status;

	in->run_vm = false;
	status = vm_run(&in->vm);
	if ((serial = device_priv_of_type(&in->vm, &serial_type)))
		serial_flush(serial);
	log_info("%s (exit status %d)", in->vm.exit_msg, status);
	in->exit_status = inst_check_reports(&in->vm, status);
	act = inst_action(in);
	in->force_restart = false;
	if (in->quit)
		act = VM_ACTION_DESTROY;
	if (act == VM_ACTION_PRESERVE && !in->to_created) {
		log_info("on_%s=preserve: the VM is kept until destroyed",
			 in->vm.stop_why == VM_STOP_CRASH ? "crash" :
			 in->vm.stop_why == VM_STOP_RESET ? "reboot" : "poweroff");
		in->state = INST_SHUTDOWN;
		in->preserved = true;
		return 1;
	}
	inst_destroy_vm(in);
	if (in->to_created) {
		struct api_req *req = in->to_created;

		in->to_created = NULL;
		in->state = INST_CREATED;
		if (req->op == API_VM_DELETE) {
			inst_config_reset(&in->cfg);
			in->state = INST_NONE;
		}
		api_reply_json(req, 204, NULL);
		api_complete(&in->api, req);
		return 1;
	}
	if (act == VM_ACTION_RESTART) {
		log_info("restarting the VM (boot %u)", in->boots + 1);
		if (inst_boot(in)) {
			log_error("restart failed");
			in->exit_status = ISLE_EXIT_ERROR;
			return 0;
		}
		return 1;
	}
	in->state = INST_SHUTDOWN;
	return 0;
}

int inst_run(struct vm_config *cfg, bool have_cfg, const char *api_path)
{
	static struct inst in_storage;   /* big (struct vm); one per process */
	struct inst *in = &in_storage;
	int r;

	memset(in, 0, sizeof(*in));
	in->lock_fd = -1;
	in->sfd = -1;
	in->idle.epfd = in->idle.wakefd = -1;
	/* Moved: the caller's copy is cleared. Without a kernel it is the
	 * base vm.create builds on (--name, --testdev, --serial). */
	in->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	if (have_cfg)
		in->state = INST_CREATED;
	if (in->cfg.name) {
		pid_t holder = 0;

		r = rundir_lock(in->cfg.name, &holder);
		if (r == -EEXIST) {
			log_error("a VM named '%s' is already running (pid %d)", in->cfg.name,
				  (int)holder);
			vm_config_free(&in->cfg);
			return ISLE_EXIT_ERROR;
		}
		if (r < 0) {
			log_error("%s: %s", rundir(), strerror(-r));
			vm_config_free(&in->cfg);
			return ISLE_EXIT_ERROR;
		}
		in->lock_fd = r;
	}
	if ((in->sfd = vm_signalfd()) < 0 || evloop_init(&in->idle) ||
	    evloop_add(&in->idle, in->sfd, EPOLLIN, inst_signal, in)) {
		log_error("event loop: %s", strerror(errno));
		in->exit_status = ISLE_EXIT_ERROR;
		goto out;
	}
	if (api_path && *api_path) {
		if (api_start(&in->api, api_path, inst_api, in)) {
			api_stop(&in->api);   /* what the failed start made */
			in->exit_status = ISLE_EXIT_ERROR;
			goto out;
		}
		in->api_on = true;
		if (evloop_add(&in->idle, api_req_fd(&in->api), EPOLLIN, inst_api_ready, in)) {
			in->exit_status = ISLE_EXIT_ERROR;
			goto out;
		}
	}
	if (have_cfg && (r = inst_boot(in))) {
		/* Bad files and images are the user's input, like a bad option. */
		in->exit_status = r == -ENOEXEC ? ISLE_EXIT_USAGE : ISLE_EXIT_ERROR;
		goto out;
	}
	for (;;) {
		if (in->run_vm) {
			/* The VM's loop serves the API and takes the signals. */
			r = inst_run_vm(in);
			if (!r || in->quit)
				break;
			continue;
		}
		if (in->quit || !in->api_on)
			break;
		r = evloop_run_once(&in->idle, -1);
		if (r < 0 && r != -EINTR) {
			in->exit_status = ISLE_EXIT_ERROR;
			break;
		}
	}
out:
	inst_destroy_vm(in);
	if (in->api_on)
		api_stop(&in->api);
	if (in->idle.epfd >= 0)
		evloop_fini(&in->idle);
	if (in->sfd >= 0)
		close(in->sfd);
	if (in->lock_fd >= 0) {
		rundir_remove(in->cfg.name);
		close(in->lock_fd);
	}
	vm_config_free(&in->cfg);   /* and the tap fds it held */
	return in->exit_status;
}
