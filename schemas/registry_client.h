/* Client of the Confluent Schema Registry REST API (the subset both daemons
 * use): register a schema under a subject, fetch a schema by id, and fetch
 * a subject's latest version.  Calls block for at most the timeout. */
#ifndef CDC_REGISTRY_CLIENT_H
#define CDC_REGISTRY_CLIENT_H

#include "../common/buf.h"

#include <stdbool.h>
#include <stddef.h>

#define REGISTRY_MAX_RESPONSE (4 * 1024 * 1024)

typedef struct registry_client registry_client_t;

/* base_url like "http://127.0.0.1:8081".  NULL with err on bad input. */
registry_client_t *registry_client_new(const char *base_url, long timeout_ms,
                                       char *err, size_t errlen);
void registry_client_free(registry_client_t *rc);

/* Registers schema (Avro JSON text) under subject; *id receives the global
 * schema id.  false with err (HTTP status and the registry's message). */
bool registry_client_register(registry_client_t *rc, const char *subject,
                              const char *schema, int *id, char *err,
                              size_t errlen);

/* Fetches the schema text of id into out.  *not_found is set when the
 * registry answered 404. */
bool registry_client_schema_by_id(registry_client_t *rc, int id, buf_t *out,
                                  bool *not_found, char *err, size_t errlen);

/* Fetches the latest version of subject: its id and schema text. */
bool registry_client_latest(registry_client_t *rc, const char *subject, int *id,
                            buf_t *schema, bool *not_found, char *err,
                            size_t errlen);

/* Appends the list of subjects, as the JSON array text the registry sent. */
bool registry_client_subjects(registry_client_t *rc, buf_t *out, char *err,
                              size_t errlen);

#endif
