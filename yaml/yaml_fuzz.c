/* libFuzzer target: YAML to JSON on untrusted text. Whatever converts must serialise to JSON and
 * that JSON must parse back to an equal value; nothing may crash, leak or run away (alias budget,
 * depth bound). Seeds: yaml/fuzz-corpus/yaml. */
#include "yaml/yaml.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *docs = NULL;
    if (iof_yaml_documents_to_json((const char *)data, size, 64, &docs, NULL) != IOF_OK) {
        return 0;
    }
    char *text = json_dumps(docs, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL) {
        abort();
    }
    json_t *back = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (back == NULL || !json_equal(back, docs)) {
        abort();
    }
    json_decref(back);
    free(text);
    json_t *first = NULL;
    if (iof_yaml_to_json((const char *)data, size, 64, &first, NULL) != IOF_OK) {
        abort();
    }
    if (!json_equal(first, json_array_size(docs) > 0 ? json_array_get(docs, 0) : json_null())) {
        abort();
    }
    json_decref(first);
    json_decref(docs);
    return 0;
}
