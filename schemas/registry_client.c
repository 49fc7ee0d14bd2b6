/* Schema registry REST client on libcurl, one reused handle. */
#include "registry_client.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct registry_client {
    CURL *curl;
    char *base_url;
    long timeout_ms;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *arg)
{
    buf_t *out = arg;
    size_t n = size * nmemb;

    if (!buf_append(out, data, n))
        return 0; /* past the response limit: curl reports a write error */
    return n;
}

registry_client_t *registry_client_new(const char *base_url, long timeout_ms,
                                       char *err, size_t errlen)
{
    registry_client_t *rc;
    size_t len = strlen(base_url);

    if (strncmp(base_url, "http://", 7) != 0 &&
        strncmp(base_url, "https://", 8) != 0) {
        snprintf(err, errlen,
                 "schema registry URL \"%s\" must start with http:// or "
                 "https://",
                 base_url);
        return NULL;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = calloc(1, sizeof(*rc));
    if (!rc)
        goto oom;
    rc->curl = curl_easy_init();
    rc->base_url = strdup(base_url);
    if (!rc->curl || !rc->base_url)
        goto oom;
    while (len > 0 && rc->base_url[len - 1] == '/')
        rc->base_url[--len] = '\0';
    rc->timeout_ms = timeout_ms;
    return rc;

oom:
    registry_client_free(rc);
    snprintf(err, errlen, "out of memory");
    return NULL;
}

void registry_client_free(registry_client_t *rc)
{
    if (!rc)
        return;
    if (rc->curl)
        curl_easy_cleanup(rc->curl);
    free(rc->base_url);
    free(rc);
}

/* Percent-encodes a path segment (subjects may hold any character). */
static void append_segment(buf_t *url, const char *segment)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)segment; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
            buf_putc(url, *p);
        } else {
            buf_putc(url, '%');
            buf_putc(url, (uint8_t)hex[*p >> 4]);
            buf_putc(url, (uint8_t)hex[*p & 15]);
        }
    }
}

/* Performs one request; *status receives the HTTP status. */
static bool request(registry_client_t *rc, const char *url, const char *body,
                    buf_t *response, long *status, char *err, size_t errlen)
{
    struct curl_slist *headers = NULL;
    CURLcode code;
    bool ok = true;

    buf_reset(response);
    response->limit = REGISTRY_MAX_RESPONSE;
    curl_easy_reset(rc->curl);
    curl_easy_setopt(rc->curl, CURLOPT_URL, url);
    curl_easy_setopt(rc->curl, CURLOPT_TIMEOUT_MS, rc->timeout_ms);
    curl_easy_setopt(rc->curl, CURLOPT_CONNECTTIMEOUT_MS, rc->timeout_ms);
    curl_easy_setopt(rc->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(rc->curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(rc->curl, CURLOPT_WRITEDATA, response);
    headers = curl_slist_append(
        headers, "Accept: application/vnd.schemaregistry.v1+json, "
                 "application/json");
    if (body) {
        headers = curl_slist_append(
            headers, "Content-Type: application/vnd.schemaregistry.v1+json");
        curl_easy_setopt(rc->curl, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(rc->curl, CURLOPT_HTTPHEADER, headers);

    code = curl_easy_perform(rc->curl);
    if (code != CURLE_OK) {
        snprintf(err, errlen, "schema registry request to \"%s\" failed: %s",
                 url,
                 response->overflow ? "response larger than 4 MiB"
                                    : curl_easy_strerror(code));
        ok = false;
    } else {
        curl_easy_getinfo(rc->curl, CURLINFO_RESPONSE_CODE, status);
    }
    curl_slist_free_all(headers);
    buf_cstr(response);
    return ok;
}

/* The registry's own message from an error body, or the raw text. */
static void describe_error(const char *url, long status, buf_t *response,
                           char *err, size_t errlen)
{
    json_t *root =
        json_loadb((const char *)response->data, response->len, 0, NULL);
    const char *message = json_string_value(json_object_get(root, "message"));

    snprintf(err, errlen, "schema registry answered %ld to \"%s\": %.200s",
             status, url,
             message ? message
                     : (response->len ? (const char *)response->data : ""));
    json_decref(root);
}

bool registry_client_register(registry_client_t *rc, const char *subject,
                              const char *schema, int *id, char *err,
                              size_t errlen)
{
    buf_t url, response;
    json_t *body = json_pack("{s:s}", "schema", schema), *root = NULL;
    char *body_text = json_dumps(body, JSON_COMPACT);
    long status = 0;
    bool ok = false;

    buf_init(&url, 0);
    buf_init(&response, 0);
    buf_printf(&url, "%s/subjects/", rc->base_url);
    append_segment(&url, subject);
    buf_puts(&url, "/versions");
    if (!body_text || !buf_cstr(&url)) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (!request(rc, (char *)url.data, body_text, &response, &status, err,
                 errlen))
        goto out;
    if (status != 200) {
        describe_error((char *)url.data, status, &response, err, errlen);
        goto out;
    }
    root = json_loadb((const char *)response.data, response.len, 0, NULL);
    if (!json_is_integer(json_object_get(root, "id"))) {
        snprintf(err, errlen, "schema registry answer has no \"id\"");
        goto out;
    }
    *id = (int)json_integer_value(json_object_get(root, "id"));
    ok = true;

out:
    json_decref(root);
    json_decref(body);
    free(body_text);
    buf_free(&url);
    buf_free(&response);
    return ok;
}

/* GETs url and extracts the "schema" member (and "id" when wanted). */
static bool get_schema(registry_client_t *rc, buf_t *url, int *id, buf_t *out,
                       bool *not_found, char *err, size_t errlen)
{
    buf_t response;
    json_t *root = NULL;
    const char *schema;
    long status = 0;
    bool ok = false;

    *not_found = false;
    buf_init(&response, 0);
    if (!buf_cstr(url)) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (!request(rc, (char *)url->data, NULL, &response, &status, err, errlen))
        goto out;
    if (status == 404) {
        *not_found = true;
        describe_error((char *)url->data, status, &response, err, errlen);
        goto out;
    }
    if (status != 200) {
        describe_error((char *)url->data, status, &response, err, errlen);
        goto out;
    }
    root = json_loadb((const char *)response.data, response.len, 0, NULL);
    schema = json_string_value(json_object_get(root, "schema"));
    if (!schema) {
        snprintf(err, errlen,
                 "schema registry answer from \"%s\" has no "
                 "\"schema\"",
                 (char *)url->data);
        goto out;
    }
    if (id) {
        if (!json_is_integer(json_object_get(root, "id"))) {
            snprintf(err, errlen, "schema registry answer has no \"id\"");
            goto out;
        }
        *id = (int)json_integer_value(json_object_get(root, "id"));
    }
    ok = buf_puts(out, schema);

out:
    json_decref(root);
    buf_free(&response);
    return ok;
}

bool registry_client_schema_by_id(registry_client_t *rc, int id, buf_t *out,
                                  bool *not_found, char *err, size_t errlen)
{
    buf_t url;
    bool ok;

    buf_init(&url, 0);
    buf_printf(&url, "%s/schemas/ids/%d", rc->base_url, id);
    ok = get_schema(rc, &url, NULL, out, not_found, err, errlen);
    buf_free(&url);
    return ok;
}

bool registry_client_latest(registry_client_t *rc, const char *subject, int *id,
                            buf_t *schema, bool *not_found, char *err,
                            size_t errlen)
{
    buf_t url;
    bool ok;

    buf_init(&url, 0);
    buf_printf(&url, "%s/subjects/", rc->base_url);
    append_segment(&url, subject);
    buf_puts(&url, "/versions/latest");
    ok = get_schema(rc, &url, id, schema, not_found, err, errlen);
    buf_free(&url);
    return ok;
}

bool registry_client_subjects(registry_client_t *rc, buf_t *out, char *err,
                              size_t errlen)
{
    buf_t url, response;
    long status = 0;
    bool ok = false;

    buf_init(&url, 0);
    buf_init(&response, 0);
    buf_printf(&url, "%s/subjects", rc->base_url);
    if (!buf_cstr(&url))
        goto out;
    if (!request(rc, (char *)url.data, NULL, &response, &status, err, errlen))
        goto out;
    if (status != 200) {
        describe_error((char *)url.data, status, &response, err, errlen);
        goto out;
    }
    ok = buf_append(out, response.data, response.len);

out:
    buf_free(&url);
    buf_free(&response);
    return ok;
}
