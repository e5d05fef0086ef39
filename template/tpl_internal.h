/* Shared between the Liquid interpreter (tpl.c) and its built-in filters (tpl_filters.c).
 * Values are json_t references; NULL stands for nil. Every function that returns a value returns
 * a new reference the caller releases. */
#ifndef IOF_TEMPLATE_TPL_INTERNAL_H
#define IOF_TEMPLATE_TPL_INTERNAL_H

#include "common/buf.h"
#include "template/tpl.h"

/* State of one render (or of one tree of renders, for the work budget). */
struct tpl_run {
    const struct iof_tpl_env *env;
    struct iof_diag *d;
    size_t iterations;
    size_t *work;   /* bytes/elements created so far, shared over a tree */
    json_t *locals; /* assign/capture results (owned) */
    struct tpl_frame *frames;
};

/* Charges n units of work; IOF_E2BIG past limits.max_work. */
IOF_NODISCARD iof_err tpl_charge(struct tpl_run *r, size_t n);

/* A JSON number for x: an integer when integral and exact, else a real; NULL (nil) for NaN or
 * infinity, which JSON cannot hold. */
json_t *tpl_number(double x);

/* JavaScript Number(v): numbers, numeric strings ("" is 0), booleans, nil is NaN. */
double tpl_to_double(const json_t *v);

/* Appends liquidjs's text of v (strings as is, nil as "", numbers as JavaScript prints them,
 * arrays as their elements' texts joined without separator, objects as "[object Object]"). */
IOF_NODISCARD iof_err tpl_stringify(struct tpl_run *r, const json_t *v, struct iof_buf *out);

/* tpl_stringify as a new JSON string, charged to the budget. */
IOF_NODISCARD iof_err tpl_to_string(struct tpl_run *r, const json_t *v, json_t **out);

/* A new JSON string of n bytes, charged to the budget and bounded by max_output. */
IOF_NODISCARD iof_err tpl_string(struct tpl_run *r, const char *s, size_t n, json_t **out);

/* Liquid truthiness: everything but nil and false. */
bool tpl_truthy(const json_t *v);

/* liquidjs equality: same type and value, numbers numerically, arrays element-wise. */
bool tpl_equal(const json_t *a, const json_t *b);

/* Property lookup as liquidjs's readProperty: object member, array index (negative from the end),
 * and the size/first/last pseudo-properties. Returns a new reference or NULL. */
json_t *tpl_property(const json_t *obj, const json_t *key);

/* Applies built-in filter name. IOF_ENOENT when there is no such built-in. */
IOF_NODISCARD iof_err tpl_builtin_filter(struct tpl_run *r,
                                         const char *name,
                                         json_t *in,
                                         json_t *const *args,
                                         size_t nargs,
                                         json_t **out);

#endif
