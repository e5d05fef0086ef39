/* YAML uploads of applications, templates and microservices: the multipart field of the request
 * (or, for convenience, a raw YAML body) through the YAML converter, then the iofogctl document
 * (ecosystem.md §2.1) mapped onto the JSON bodies of the REST routes, as the classic
 * yaml-parser-service does. The mapping is lenient about value types, because template documents
 * hold {{ var }} placeholders where numbers go; the routes that use the bodies validate them. */
#include "controller/api/application.h"

#include "common/json.h"
#include "controller/api/substitute.h"
#include "http/multipart.h"
#include "yaml/yaml.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static iof_err oom(struct iof_diag *d) {
    return iof_fail(d, IOF_ENOMEM, "out of memory");
}

iof_err
ctl_app_upload_yaml(struct ctl_call *call, const char *field, const char *kind, json_t **out) {
    const char *ct = iof_http_header(call->req, "Content-Type");
    size_t len = 0;
    const uint8_t *body = iof_http_body(call->req, &len);
    const uint8_t *text = body;
    size_t text_len = len;
    if (ct == NULL || strncasecmp(ct, "multipart/", 10) == 0) {
        iof_err err = iof_http_multipart_part(ct, body, len, field, &text, &text_len, call->d);
        if (err == IOF_ENOENT) {
            return iof_fail(call->d, IOF_EINVAL, "Required field '%s' is missing", field);
        }
        if (err != IOF_OK) {
            return err;
        }
    }
    json_t *doc = NULL;
    iof_err err = iof_yaml_to_json((const char *)text, text_len, CTL_APP_MAX_DEPTH, &doc, call->d);
    if (err == IOF_E2BIG) {
        err = IOF_EINVAL;
    }
    if (err != IOF_OK) {
        return err;
    }
    const char *k = json_string_value(json_object_get(doc, "kind"));
    if (!json_is_object(doc) || k == NULL) {
        json_decref(doc);
        return iof_fail(call->d, IOF_EINVAL, "Invalid YAML format: missing kind property");
    }
    if (strcmp(k, kind) != 0) {
        err = iof_fail(call->d, IOF_EINVAL, "Invalid kind %s", k);
        json_decref(doc);
        return err;
    }
    *out = doc;
    return IOF_OK;
}

iof_err ctl_app_upload_body(struct ctl_call *call,
                            const char *field,
                            const char *kind,
                            iof_err (*convert)(const json_t *doc, json_t **out, struct iof_diag *d),
                            json_t **out) {
    json_t *doc = NULL, *body = NULL;
    iof_err err = ctl_app_upload_yaml(call, field, kind, &doc);
    if (err == IOF_OK) {
        err = convert(doc, &body, call->d);
    }
    json_decref(doc);
    /* As the classic: an application document is rendered whole (self = the converted body); a
     * template only in its variables (self = the variables), its application when deployed. */
    json_t *vars = json_object_get(body, "variables");
    if (err == IOF_OK && strcmp(kind, "Application") == 0) {
        err = ctl_subst_render(call, body, NULL);
    } else if (err == IOF_OK && json_is_array(vars)) {
        err = ctl_subst_render(call, vars, NULL);
    }
    if (err != IOF_OK) {
        json_decref(body);
        return err;
    }
    *out = body;
    return IOF_OK;
}

static const char *metadata_name(const json_t *doc) {
    return json_string_value(json_object_get(json_object_get(doc, "metadata"), "name"));
}

/* Copies obj[from] to out[to] when present. */
static int copy_key(json_t *out, const char *to, const json_t *obj, const char *from) {
    json_t *v = json_object_get(obj, from);
    return v == NULL ? 0 : json_object_set(out, to, v);
}

static iof_err images(const json_t *img, json_t *out, struct iof_diag *d) {
    if (img == NULL || json_is_null(img)) {
        return IOF_OK;
    }
    if (!json_is_object(img)) {
        return iof_fail(d, IOF_EINVAL, "Invalid format for field 'images'");
    }
    json_t *list = json_array();
    static const char *const arch[] = {"x86", "arm"};
    for (int i = 0; list != NULL && i < 2; i++) {
        json_t *v = json_object_get(img, arch[i]);
        if (v != NULL && !json_is_null(v) &&
            json_array_append_new(
                list, json_pack("{s:O, s:i}", "containerImage", v, "fogTypeId", i + 1)) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    if (list == NULL || json_object_set_new(out, "images", list) != 0) {
        return oom(d);
    }
    json_t *reg = json_object_get(img, "registry");
    const char *rs = json_string_value(reg);
    json_t *rid = NULL;
    if (rs != NULL && strcmp(rs, "remote") == 0) {
        rid = json_integer(1);
    } else if (rs != NULL && strcmp(rs, "local") == 0) {
        rid = json_integer(2);
    } else if (rs != NULL && rs[0] >= '0' && rs[0] <= '9') {
        char *end = NULL;
        long long id = strtoll(rs, &end, 10);
        rid = *end == '\0' ? json_integer(id) : json_incref(reg);
    } else if (reg != NULL && !json_is_null(reg)) {
        rid = json_incref(reg); /* a number, or a placeholder: validated on use */
    }
    if ((rid != NULL && json_object_set_new(out, "registryId", rid) != 0) ||
        copy_key(out, "catalogItemId", img, "catalogId") != 0) {
        return oom(d);
    }
    return IOF_OK;
}

/* [{key, value}] with values turned into text, as the agent needs strings. */
static json_t *env_list(const json_t *env) {
    json_t *list = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e) {
        json_t *v = json_object_get(e, "value");
        json_t *text = NULL;
        if (json_is_string(v) || v == NULL || json_is_null(v)) {
            text = v != NULL && !json_is_null(v) ? json_incref(v) : json_string("");
        } else {
            char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            text = s != NULL ? json_string(s) : NULL;
            free(s);
        }
        json_t *item = json_object();
        if (list == NULL || text == NULL || item == NULL || copy_key(item, "key", e, "key") != 0 ||
            json_object_set_new(item, "value", text) != 0 ||
            json_array_append_new(list, item) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

iof_err ctl_yaml_microservice_body(const json_t *spec,
                                   const char *application_name,
                                   json_t **out,
                                   struct iof_diag *d) {
    if (!json_is_object(spec)) {
        return iof_fail(d, IOF_EINVAL, "Invalid format for field 'microservices'");
    }
    json_t *m = json_object();
    if (m == NULL) {
        return oom(d);
    }
    iof_err err = images(json_object_get(spec, "images"), m, d);
    const json_t *container = json_object_get(spec, "container");
    if (err == IOF_OK && container != NULL && !json_is_null(container) &&
        !json_is_object(container)) {
        err = iof_fail(d, IOF_EINVAL, "Invalid format for field 'container'");
    }
    if (err == IOF_OK && json_is_object(container)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)(uintptr_t)container, k, v) {
            const char *to = strcmp(k, "volumes") == 0    ? "volumeMappings"
                             : strcmp(k, "commands") == 0 ? "cmd"
                                                          : k;
            json_t *val = strcmp(k, "env") == 0 ? env_list(v) : json_incref(v);
            if (val == NULL || json_object_set_new(m, to, val) != 0) {
                err = oom(d);
                break;
            }
        }
    }
    const json_t *agent = json_object_get(spec, "agent");
    const json_t *config = json_object_get(spec, "config");
    if (err == IOF_OK) {
        if (copy_key(m, "name", spec, "name") != 0 ||
            copy_key(m, "agentName", agent, "name") != 0 ||
            copy_key(m, "iofogUuid", spec, "iofogUuid") != 0 ||
            copy_key(m, "rebuild", spec, "rebuild") != 0 ||
            copy_key(m, "logSize", spec, "logSize") != 0 ||
            copy_key(m, "application", spec, "application") != 0) {
            err = oom(d);
        }
    }
    if (err == IOF_OK && config != NULL && !json_is_null(config)) {
        json_t *text = NULL;
        if (json_is_string(config)) {
            text = json_incref((json_t *)(uintptr_t)config);
        } else {
            char *s = json_dumps(config, JSON_COMPACT | JSON_ENCODE_ANY);
            text = s != NULL ? json_string(s) : NULL;
            free(s);
        }
        if (text == NULL || json_object_set_new(m, "config", text) != 0) {
            err = oom(d);
        }
    }
    if (err == IOF_OK && application_name != NULL && json_object_get(m, "application") == NULL &&
        json_object_set_new(m, "application", json_string(application_name)) != 0) {
        err = oom(d);
    }
    if (err != IOF_OK) {
        json_decref(m);
        return err;
    }
    *out = m;
    return IOF_OK;
}

/* {microservices: [converted], routes} from an object holding microservices and routes; the other
 * keys of src are copied as they are. */
static iof_err
app_content(const json_t *src, const char *app_name, json_t *out, struct iof_diag *d) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)src, k, v) {
        if (strcmp(k, "microservices") != 0 && json_object_set(out, k, v) != 0) {
            return oom(d);
        }
    }
    const json_t *ms = json_object_get(src, "microservices");
    if (ms == NULL || json_is_null(ms)) {
        return IOF_OK;
    }
    if (!json_is_array(ms)) {
        return iof_fail(d, IOF_EINVAL, "Invalid format for field 'microservices'");
    }
    json_t *list = json_array();
    if (list == NULL || json_object_set_new(out, "microservices", list) != 0) {
        return oom(d);
    }
    size_t i;
    json_array_foreach(ms, i, v) {
        json_t *body = NULL;
        iof_err err = ctl_yaml_microservice_body(v, app_name, &body, d);
        if (err != IOF_OK) {
            return err;
        }
        if (json_array_append_new(list, body) != 0) {
            return oom(d);
        }
    }
    return IOF_OK;
}

iof_err ctl_yaml_application_body(const json_t *doc, json_t **out, struct iof_diag *d) {
    const char *name = metadata_name(doc);
    if (name == NULL) {
        return iof_fail(d, IOF_EINVAL, "Invalid YAML format: missing metadata.name property");
    }
    const json_t *spec = json_object_get(doc, "spec");
    if (spec != NULL && !json_is_null(spec) && !json_is_object(spec)) {
        return iof_fail(d, IOF_EINVAL, "Invalid format for field 'spec'");
    }
    json_t *body = json_pack("{s:s, s:b}", "name", name, "isActivated", 1);
    if (body == NULL) {
        return oom(d);
    }
    iof_err err = json_is_object(spec) ? app_content(spec, name, body, d) : IOF_OK;
    /* metadata.name wins over a name inside spec, and uploads start activated */
    if (err == IOF_OK && (json_object_set_new(body, "name", json_string(name)) != 0 ||
                          json_object_set_new(body, "isActivated", json_true()) != 0)) {
        err = oom(d);
    }
    if (err != IOF_OK) {
        json_decref(body);
        return err;
    }
    *out = body;
    return IOF_OK;
}

iof_err ctl_yaml_template_body(const json_t *doc, json_t **out, struct iof_diag *d) {
    const char *name = metadata_name(doc);
    if (name == NULL) {
        return iof_fail(d, IOF_EINVAL, "Invalid YAML format: missing metadata.name property");
    }
    const json_t *spec = json_object_get(doc, "spec");
    const json_t *app = json_object_get(spec, "application");
    if ((spec != NULL && !json_is_null(spec) && !json_is_object(spec)) ||
        (app != NULL && !json_is_null(app) && !json_is_object(app))) {
        return iof_fail(d, IOF_EINVAL, "Invalid format for field 'spec.application'");
    }
    json_t *body = json_pack("{s:s}", "name", name);
    json_t *content = json_object();
    iof_err err = body != NULL && content != NULL ? IOF_OK : oom(d);
    if (err == IOF_OK && (copy_key(body, "description", spec, "description") != 0 ||
                          copy_key(body, "variables", spec, "variables") != 0)) {
        err = oom(d);
    }
    if (err == IOF_OK && json_is_object(app)) {
        err = app_content(app, NULL, content, d);
    }
    if (err == IOF_OK && json_object_set(body, "application", content) != 0) {
        err = oom(d);
    }
    json_decref(content);
    if (err != IOF_OK) {
        json_decref(body);
        return err;
    }
    *out = body;
    return IOF_OK;
}
