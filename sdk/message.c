/* The public ioMessage type and its codecs, on top of the iomessage module. A message the library
 * hands out is a struct owned_msg: the public view first, then the decoded internal message whose
 * single allocation holds every string and byte field. */
#include "sdk/internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct owned_msg {
    struct iofog_message pub; /* first: a public pointer is the owned_msg pointer */
    struct iof_msg *inner;
};

void iofog_sdk_msg_view(const struct iofog_message *in, struct iof_msg *out) {
    *out = (struct iof_msg){
        .version = in->version,
        .id = in->id,
        .tag = in->tag,
        .groupid = in->groupid,
        .sequencenumber = in->sequencenumber,
        .sequencetotal = in->sequencetotal,
        .priority = in->priority,
        .timestamp = in->timestamp,
        .publisher = in->publisher,
        .authid = in->authid,
        .authgroup = in->authgroup,
        .chainposition = in->chainposition,
        .hash = in->hash,
        .previoushash = in->previoushash,
        .nonce = in->nonce,
        .difficultytarget = in->difficultytarget,
        .infotype = in->infotype,
        .infoformat = in->infoformat,
        .contextdata = in->contextdata,
        .contextdata_len = in->contextdata_len,
        .contentdata = in->contentdata,
        .contentdata_len = in->contentdata_len,
    };
}

iof_err iofog_sdk_msg_wrap(struct iof_msg *m, struct iofog_message **out) {
    struct owned_msg *o = malloc(sizeof *o);
    if (o == NULL) {
        iof_msg_free(m);
        return IOF_ENOMEM;
    }
    o->inner = m;
    o->pub = (struct iofog_message){
        .version = m->version,
        .id = m->id,
        .tag = m->tag,
        .groupid = m->groupid,
        .sequencenumber = m->sequencenumber,
        .sequencetotal = m->sequencetotal,
        .priority = m->priority,
        .timestamp = m->timestamp,
        .publisher = m->publisher,
        .authid = m->authid,
        .authgroup = m->authgroup,
        .chainposition = m->chainposition,
        .hash = m->hash,
        .previoushash = m->previoushash,
        .nonce = m->nonce,
        .difficultytarget = m->difficultytarget,
        .infotype = m->infotype,
        .infoformat = m->infoformat,
        .contextdata = m->contextdata,
        .contextdata_len = m->contextdata_len,
        .contentdata = m->contentdata,
        .contentdata_len = m->contentdata_len,
    };
    *out = &o->pub;
    return IOF_OK;
}

IOFOG_API void iofog_message_init(struct iofog_message *msg) {
    if (msg != NULL) {
        *msg = (struct iofog_message){.version = IOF_MSG_VERSION};
    }
}

IOFOG_API void iofog_message_free(struct iofog_message *msg) {
    if (msg == NULL) {
        return;
    }
    struct owned_msg *o = (struct owned_msg *)(void *)msg;
    iof_msg_free(o->inner);
    free(o);
}

IOFOG_API int
iofog_message_encode(const struct iofog_message *msg, uint8_t **out, size_t *out_len) {
    iofog_sdk_clear_error();
    if (msg == NULL || out == NULL || out_len == NULL) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "message and out-parameters are required");
    }
    struct iof_msg m;
    iofog_sdk_msg_view(msg, &m);
    struct iof_diag d = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    iof_err err = iof_msg_encode_alloc(&m, IOF_MSG_WIDTH_CLASSIC, &buf, &len, &d);
    if (err != IOF_OK) {
        return iofog_sdk_fail_iof(err, &d);
    }
    *out = buf;
    *out_len = len;
    return IOFOG_OK;
}

IOFOG_API int iofog_message_decode(const uint8_t *data, size_t len, struct iofog_message **out) {
    iofog_sdk_clear_error();
    if ((data == NULL && len > 0) || out == NULL) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "data and out are required");
    }
    struct iof_diag d = {0};
    struct iof_msg *m = NULL;
    iof_err err = iof_msg_decode(data != NULL ? data : (const uint8_t *)"", len, &m, &d);
    if (err == IOF_OK) {
        err = iofog_sdk_msg_wrap(m, out);
    }
    return iofog_sdk_fail_iof(err, &d);
}

IOFOG_API int iofog_message_to_json(const struct iofog_message *msg, char **out) {
    iofog_sdk_clear_error();
    if (msg == NULL || out == NULL) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "message and out are required");
    }
    struct iof_msg m;
    iofog_sdk_msg_view(msg, &m);
    struct iof_diag d = {0};
    json_t *j = NULL;
    iof_err err = iof_msg_to_json(&m, &j, &d);
    if (err != IOF_OK) {
        return iofog_sdk_fail_iof(err, &d);
    }
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (text == NULL) {
        return iofog_sdk_fail(IOFOG_ENOMEM, 0, "out of memory");
    }
    *out = text;
    return IOFOG_OK;
}

IOFOG_API int iofog_message_from_json(const char *json, size_t len, struct iofog_message **out) {
    iofog_sdk_clear_error();
    if (json == NULL || out == NULL) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "json and out are required");
    }
    json_error_t jerr;
    json_t *j = json_loadb(json, len, 0, &jerr); /* a duplicate key: the last wins */
    if (j == NULL) {
        return iofog_sdk_fail(IOFOG_EINVAL, 0, "invalid JSON: %s", jerr.text);
    }
    struct iof_diag d = {0};
    struct iof_msg *m = NULL;
    iof_err err = json_is_object(j) ? iof_msg_from_json(j, &m, &d)
                                    : iof_fail(&d, IOF_EINVAL, "a message is a JSON object");
    json_decref(j);
    if (err == IOF_OK) {
        err = iofog_sdk_msg_wrap(m, out);
    }
    return iofog_sdk_fail_iof(err, &d);
}

IOFOG_API int iofog_message_copy(const struct iofog_message *msg, struct iofog_message **out) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = iofog_message_encode(msg, &bytes, &len);
    if (rc != IOFOG_OK) {
        return rc;
    }
    rc = iofog_message_decode(bytes, len, out);
    free(bytes);
    return rc;
}

IOFOG_API void iofog_message_list_free(struct iofog_message_list *list) {
    if (list == NULL) {
        return;
    }
    for (size_t i = 0; i < list->count; i++) {
        iofog_message_free(list->items[i]);
    }
    free(list->items);
    free(list);
}

iof_err iofog_sdk_msg_list_from_json(const json_t *arr,
                                     struct iofog_message_list **out,
                                     struct iof_diag *d) {
    if (arr != NULL && !json_is_array(arr)) {
        return iof_fail(d, IOF_EPROTO, "'messages' is not an array");
    }
    struct iofog_message_list *list = calloc(1, sizeof *list);
    if (list == NULL) {
        return IOF_ENOMEM;
    }
    size_t n = arr != NULL ? json_array_size(arr) : 0;
    if (n > 0) {
        list->items = calloc(n, sizeof *list->items);
        if (list->items == NULL) {
            free(list);
            return IOF_ENOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(arr, i);
        struct iof_msg *m = NULL;
        iof_err err = json_is_object(item)
                          ? iof_msg_from_json(item, &m, d)
                          : iof_fail(d, IOF_EPROTO, "message %zu is not a JSON object", i);
        if (err == IOF_OK) {
            err = iofog_sdk_msg_wrap(m, &list->items[i]);
        }
        if (err != IOF_OK) {
            iofog_message_list_free(list);
            return err == IOF_EINVAL ? IOF_EPROTO : err;
        }
        list->count++;
    }
    *out = list;
    return IOF_OK;
}
