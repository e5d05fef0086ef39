/* A bounded subset of the Liquid template language over jansson values, as the classic Controller
 * renders request bodies with (liquidjs 9, option keepOutputType).
 *
 * Supported: text, output `{{ value | filter: arg, ... }}`, whitespace control (`{{-`, `-%}`),
 * tags assign, capture, if/elsif/else, unless, for (limit, offset, reversed, else, forloop.*,
 * break, continue), comment and raw. Values are literals ('x', "x", 1, 2.5, true, false, nil,
 * empty, blank, ranges (a..b)) and variable paths (a.b[0]["c"], .size, .first, .last).
 * Conditions compare with == != <> < > <= >= contains and chain with and/or (right to left, as
 * Liquid does). A missing variable is nil; an unknown filter passes its input through (liquidjs
 * without strictFilters); an unknown tag is a parse error.
 *
 * Types follow JavaScript, since that is what the classic engine computes with: numbers are
 * doubles (kept as JSON integers when integral), strings are compared bytewise, nil prints as "".
 *
 * keepOutputType: when a render's first write is a non-string value (one `{{ }}` with nothing
 * before it), the result is that value itself, so "{{ port }}" gives the number 80 and
 * "{{ agents }}" an array; any further write turns the result into text.
 *
 * Every render is bounded (struct iof_tpl_limits): template size, output size, block and
 * expression nesting, loop iterations, and the bytes and elements filters may create. Exceeding
 * one is IOF_E2BIG naming the limit; a syntax error is IOF_EINVAL with liquidjs-like text. */
#ifndef IOF_TEMPLATE_TPL_H
#define IOF_TEMPLATE_TPL_H

#include "common/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct iof_tpl_limits {
    size_t max_source;     /* bytes of one template string */
    size_t max_output;     /* bytes of one rendered string, and of any string a filter makes */
    size_t max_depth;      /* nesting of blocks, and of brackets/filters inside an expression */
    size_t max_iterations; /* for-loop iterations over one render (all loops together) */
    size_t max_work;       /* bytes and elements created by filters and kept values, per render */
};

/* 64 KiB templates, 256 KiB outputs, depth 32, 10,000 iterations, 8 MiB of work. */
#define IOF_TPL_LIMITS_DEFAULT                                                                     \
    { 64 * 1024, 256 * 1024, 32, 10000, 8 * 1024 * 1024 }

/* A filter the caller provides (ioFog's findAgent, ...). input and args are borrowed (NULL is nil);
 * on IOF_OK *out is a new reference or NULL for nil. Return IOF_ENOENT for a name it does not
 * provide (the built-in filters are tried next); any other error stops the render. */
typedef iof_err (*iof_tpl_filter_fn)(void *ctx,
                                     const char *name,
                                     json_t *input,
                                     json_t *const *args,
                                     size_t nargs,
                                     json_t **out,
                                     struct iof_diag *d);

struct iof_tpl_env {
    const json_t *globals;    /* object of variables (borrowed; NULL: none) */
    iof_tpl_filter_fn filter; /* NULL: only the built-in filters */
    void *filter_ctx;
    struct iof_tpl_limits limits;
    bool keep_output_type;
};

/* Whether s holds "{{" or "{%", i.e. whether rendering could change it. Strings without either
 * render to themselves, so callers skip them. */
bool iof_tpl_has_markup(const char *s, size_t len);

/* Parses and renders src. On IOF_OK *out is a new reference: a JSON string, or with
 * keep_output_type the kept value, or NULL when the kept value is nil. */
IOF_NODISCARD iof_err iof_tpl_render(
    const struct iof_tpl_env *env, const char *src, size_t len, json_t **out, struct iof_diag *d);

/* Renders, in place and in document order, every string value of root that has markup (keys are
 * left alone; numbers, booleans and null are untouched), as the classic rvaluesVarSubstition:
 * a value rendered earlier is what later templates see through the globals (which usually hold
 * root as "self"). A nil result removes an object member and sets an array element to null; an
 * object or array result is stored as a copy (charged to max_work for the whole tree). The first
 * failure stops and names the field, e.g. "microservices[0].env[1].value: ...". */
IOF_NODISCARD iof_err iof_tpl_render_tree(const struct iof_tpl_env *env,
                                          json_t *root,
                                          struct iof_diag *d);

#endif
