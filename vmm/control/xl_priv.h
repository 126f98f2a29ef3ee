/* What xl.c and xl_attach.c share (xl.h is the public interface): the
 * control-socket client, argument helpers, and the attach verbs. */
#ifndef ISLE_VMM_XL_PRIV_H
#define ISLE_VMM_XL_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

/* xl.c: the HTTP client (libcurl on the VM's socket) and argument helpers. */
long xl_http(const char *name, const char *method, const char *endpoint, json_t *body,
	     json_t **reply, char *err, size_t errlen);
int xl_call(const char *verb, const char *name, const char *method, const char *endpoint,
	    json_t *body, json_t **reply);
pid_t xl_find(const char *verb, const char *name);
int xl_usage(const char *verb, const char *why);
int xl_bad_option(const char *verb, int o);
int xl_operands(int argc, char **argv, int min, int max);
void xl_sleep_ms(unsigned int ms);
long long xl_now_ms(void);

/* xl_attach.c: the verbs in xl.c's table. */
int xl_block_attach(int argc, char **argv);
int xl_block_detach(int argc, char **argv);
int xl_block_list(int argc, char **argv);
int xl_network_attach(int argc, char **argv);
int xl_network_detach(int argc, char **argv);
int xl_network_list(int argc, char **argv);
int xl_pci_attach(int argc, char **argv);
int xl_pci_detach(int argc, char **argv);
int xl_pci_list(int argc, char **argv);
int xl_mem_set(int argc, char **argv);
/* Pure, for tests/unit/test_xl.c: 0 and *out (json_decref it), or
 * -EINVAL / -ENOTSUP / -ERANGE with one line in err. */
int xl_disk_config(const char *spec, json_t **out, char *err, size_t errlen);
int xl_net_config(const char *spec, json_t **out, char *err, size_t errlen);
int xl_pci_config(const char *spec, json_t **out, char *err, size_t errlen);
int xl_mem_target(const char *arg, uint64_t memory, int64_t *balloon, char *err,
		  size_t errlen);

/* xl_console.c: the console verb, and attaching after create -c. */
int xl_console(int argc, char **argv);
int xl_console_attach(const char *verb, const char *name);

/* xl.c, pure, for tests/unit/test_xl.c. */
const char *xl_state_flags(const char *state);
int xl_list_line(char *buf, size_t len, const char *name, long id, uint64_t mem_bytes,
		 unsigned int vcpus, const char *state, int64_t uptime_ms);
int xl_sets_key(const char *text, size_t len, const char *key);

#endif
