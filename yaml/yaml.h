/* YAML to JSON on libyaml, for the YAML uploads of the Controller (iofogctl files of kinds
 * Application, Microservice, ApplicationTemplate, ...; controller.md §3.6, ecosystem.md §2).
 *
 * What it accepts and how values come out:
 *   - mappings -> objects, sequences -> arrays, scalars typed by the YAML 1.2 core schema (the
 *     schema of js-yaml, which the classic Controller uses): a plain (unquoted) scalar that reads
 *     null, Null, NULL, ~ or nothing is null; true/True/TRUE/false/False/FALSE a boolean;
 *     [-+]?[0-9]+, 0o[0-7]+ and 0x[0-9a-fA-F]+ an integer (beyond 64 bits: a real);
 *     [-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)? a real. Every other plain scalar and every
 *     quoted or block scalar is a string. YAML 1.1 words (yes/no/on/off) stay strings, as in
 *     js-yaml. .inf and .nan have no JSON form and stay strings.
 *   - explicit core tags: !!str forces a string, !!int/!!float/!!bool/!!null force the type (a
 *     value that does not read as that type is an error); "!" (non-specific) means string; any
 *     other tag is ignored.
 *   - anchors and aliases: an alias becomes a deep copy of the anchored value. The copies made for
 *     aliases may add at most IOF_YAML_MAX_ALIAS_NODES values in total, so a "billion laughs" file
 *     fails fast instead of eating memory. An alias to a collection that is still open (a
 *     recursive structure) has no JSON form and is an error.
 *   - merge keys (`<<: *base` or `<<: [*a, *b]`): keys of the merged mappings that the mapping does
 *     not set itself are added (earlier mappings of a list win).
 *   - mapping keys must be scalars (taken as their text, so `1: x` gives the key "1") and unique
 *     in their mapping; a repeated key is an error (JSON objects cannot hold both).
 *   - nesting deeper than max_depth collections is an error.
 *   - a scalar holding a NUL byte (the escape "\0") is an error naming the key it belongs to, so
 *     no value is cut short where it is later read as a C string.
 *
 * Multi-document streams (iofogctl files often hold several documents separated by ---):
 * iof_yaml_to_json returns the FIRST document (all of them are still parsed and checked);
 * iof_yaml_documents_to_json returns an array with every document. An empty document (or empty
 * stream) is JSON null.
 *
 * Errors are IOF_EINVAL with a message naming the line and column (1-based) of the problem,
 * IOF_E2BIG for the alias budget or the depth bound, IOF_ENOMEM when memory runs out. */
#ifndef IOF_YAML_YAML_H
#define IOF_YAML_YAML_H

#include "common/error.h"

#include <jansson.h>
#include <stddef.h>

/* The most values alias expansion may add to the result, summed over every alias. */
#define IOF_YAML_MAX_ALIAS_NODES 100000

/* Parses len bytes of text (need not be NUL-terminated) and returns the first document as a new
 * JSON reference in *out (caller releases with json_decref). */
IOF_NODISCARD iof_err
iof_yaml_to_json(const char *text, size_t len, size_t max_depth, json_t **out, struct iof_diag *d);

/* Like iof_yaml_to_json, but *out is an array holding every document of the stream in order
 * (empty for an empty stream). */
IOF_NODISCARD iof_err iof_yaml_documents_to_json(
    const char *text, size_t len, size_t max_depth, json_t **out, struct iof_diag *d);

#endif
