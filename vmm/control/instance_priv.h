/* What the control socket's endpoint files share (instance_api.c,
 * instance_balloon.c); main thread only. */
#ifndef ISLE_VMM_INSTANCE_PRIV_H
#define ISLE_VMM_INSTANCE_PRIV_H

#include <stdint.h>

#include <jansson.h>

#include "control/instance.h"

/* Replies with o (taken) as JSON, or 500 if o is NULL. */
void inst_reply(struct api_req *req, unsigned int status, json_t *o);

/* instance_balloon.c */
/* The balloon's vm.info object, or NULL without one. */
json_t *inst_balloon_json(struct inst *in);
/* RAM less what the balloon holds (vm.info's memory_actual_size). */
uint64_t inst_memory_actual(struct inst *in);
/* vm.resize's desired_balloon (bytes). */
void inst_balloon_resize(struct inst *in, struct api_req *req, int64_t bytes);
/* vm.balloon, vm.balloon-statistics (GET and PUT). */
void inst_balloon_api(struct inst *in, struct api_req *req);

#endif
