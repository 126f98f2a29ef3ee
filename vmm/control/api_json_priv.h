/* Private to api_json.c and api_json_vm.c (aj_ is api_json's internal
 * prefix): the field tables every decoder checks an object against, and the
 * shared readers. See api_json.c's top comment. */
#ifndef ISLE_VMM_API_JSON_PRIV_H
#define ISLE_VMM_API_JSON_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "isle/util.h"

enum aj_type { T_BOOL, T_INT, T_STR, T_OBJ, T_ARR };
enum aj_rule {
	R_USE,      /* read by the decoder */
	R_IGNORE,   /* type-checked, no effect */
	R_FALSE,    /* true is refused */
	R_TRUE,     /* false is refused */
	R_ZERO,     /* a non-zero value is refused */
	R_ABSENT,   /* any value (an array: a non-empty one) is refused */
};

struct aj_field {
	const char *name;
	enum aj_type type;
	enum aj_rule rule;
	const char *why;    /* the refusal's reason */
};

#define AJ_PATH_MAX 96
#define AJ_NOT_SUP(what) what " is not supported by isle"
#define AJ_RL_WHY AJ_NOT_SUP("rate limiting")

/* Checks every field of obj against the table: unknown -> -EINVAL, wrong
 * type -> -EINVAL, an array longer than API_JSON_MAX_ARRAY -> -EINVAL, a
 * refused value -> -ENOTSUP. null is absent. where: the object's path. */
int aj_check(const json_t *obj, const char *where, const struct aj_field *f, size_t nf,
	     char *err, size_t errlen);
#define AJ_CHECK(obj, where, table, err, errlen) \
	aj_check(obj, where, table, ARRAY_SIZE(table), err, errlen)

/* "where.key", or "key" when where is "" (buf: AJ_PATH_MAX bytes). */
const char *aj_path(char *buf, const char *where, const char *key);
/* A field's value, NULL when absent or null; its string, or NULL. */
json_t *aj_get(const json_t *obj, const char *key);
const char *aj_str(const json_t *obj, const char *key);
/* A checked integer field: 1 and *out, 0 when absent, -EINVAL outside [min, max]. */
int aj_int(const json_t *obj, const char *where, const char *key, json_int_t min,
	   json_int_t max, json_int_t *out, char *err, size_t errlen);
/* -EINVAL "where.key: required". */
int aj_required(const char *where, const char *key, char *err, size_t errlen);
/* A string field, when present not empty and without control characters. */
int aj_text(const json_t *obj, const char *where, const char *key, const char **out,
	    char *err, size_t errlen);
/* An id field: device_id_ok or -EINVAL; *id NULL when absent. */
int aj_id(const json_t *obj, const char *where, const char **id, char *err, size_t errlen);
/* pci_segment (0..65535; 0 when absent). */
int aj_segment(const json_t *obj, const char *where, json_int_t *seg, char *err,
	       size_t errlen);

/* The element decoders, without the final device_spec_parse (vm_config_set
 * does it for VmConfig's arrays). */
int aj_disk(const json_t *obj, const char *where, char *spec, size_t speclen, char *err,
	    size_t errlen);
int aj_net(const json_t *obj, const char *where, char *spec, size_t speclen,
	   unsigned int *nfds, char *err, size_t errlen);
int aj_device(const json_t *obj, const char *where, char *spec, size_t speclen, bool *iommu,
	      char *err, size_t errlen);

#endif
