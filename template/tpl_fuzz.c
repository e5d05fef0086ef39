/* libFuzzer target: any bytes as a Liquid template, rendered with small limits against a fixed
 * set of globals. Nothing may crash, leak or run away (limits on size, output, depth, iterations
 * and work); a result must be a JSON value that serialises. Seeds: template/fuzz-corpus/tpl. */
#include "template/tpl.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static json_t *globals;
    if (globals == NULL) {
        globals = json_loads("{\"self\":{\"name\":\"app\",\"microservices\":[{\"name\":\"m\","
                             "\"env\":[{\"key\":\"k\",\"value\":\"v\"}]}]},\"n\":3,\"s\":\"a,b\","
                             "\"list\":[1,2,3],\"on\":true}",
                             0,
                             NULL);
    }
    struct iof_tpl_env env = {
        .globals = globals,
        .limits = {4096, 4096, 16, 1000, 65536},
        .keep_output_type = size > 0 && (data[0] & 1) != 0,
    };
    json_t *out = NULL;
    if (iof_tpl_render(&env, (const char *)data, size, &out, NULL) != IOF_OK) {
        return 0;
    }
    if (out != NULL) {
        char *text = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text == NULL) {
            abort();
        }
        free(text);
        json_decref(out);
    }
    return 0;
}
