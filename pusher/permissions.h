/* What each role may read: the permissions file (CDC_PERMISSIONS).
 *
 * Input handled: one JSON object of at most PERMISSIONS_MAX_FILE bytes and
 * PERMISSIONS_MAX_DEPTH levels of nesting, shaped after Directus's
 * permission model (the "read" action of each role):
 *
 *   {
 *     "public": {
 *       "collections": {
 *         "articles": { "fields": ["id", "title"],
 *                       "filter": { "status": { "_eq": "published" } } }
 *       }
 *     },
 *     "roles": {
 *       "editor": {
 *         "name": "Editors",
 *         "collections": {
 *           "articles": { "fields": ["*"],
 *                         "filter": { "author": { "_eq": "$CURRENT_USER" } } }
 *         }
 *       },
 *       "admin": { "admin_access": true }
 *     },
 *     "tokens": {
 *       "a-long-random-static-token": { "user": "u-42", "role": "editor" }
 *     }
 *   }
 *
 * Top level: "public", "roles" and "tokens", each optional; other keys are
 * refused (a misspelt key would otherwise grant or hide access silently).
 *
 * "public" is what a client without a token reads, and also an
 * authenticated client whose token names no role (Directus's "role": null).
 * Its only key is "collections".
 *
 * "roles" maps a role, as the token's "role" claim names it (Directus puts
 * the role's id there, a UUID), to an object with:
 * - "admin_access": true to read every collection, every field and every
 *   row (default false; then "collections" says what the role reads);
 * - "collections": collection name -> read rule;
 * - "name": a label for people reading the file; not used.
 * A token whose role is not listed reads nothing (not even what "public"
 * reads); permissions_has_role lets the caller log that.  A token whose
 * admin_access claim is true reads everything whatever its role.
 *
 * A read rule has:
 * - "fields": the columns the role may read and filter on, a list of names,
 *   where "*" means all of them (required; [] allows none);
 * - "filter": the rows the role may read, in Directus's filter language
 *   (see filter.h; "$CURRENT_USER" and "$CURRENT_ROLE" are the client's
 *   user and role), an object of at most PERMISSIONS_MAX_FILTER_DEPTH
 *   levels and PERMISSIONS_MAX_FILTER_VALUES JSON values.  Missing, null
 *   or {} means all rows.  It corresponds to Directus's item permissions
 *   ("permissions" in directus_permissions), and is checked here only for
 *   shape and size: the pusher compiles it against each table.
 * A collection that is not listed cannot be read.
 *
 * "tokens" maps static tokens (opaque strings of PERMISSIONS_MIN_TOKEN to
 * AUTH_MAX_TOKEN bytes, like Directus's per-user static tokens) to
 * { "user": "<id>", "role": "<role>" | null }.  "user" is required; a
 * "role" must be listed under "roles".  Only a SHA-256 of each token is
 * kept in memory; errors name a token by its position ("tokens.#2"),
 * never by its value.
 *
 * Names (roles, collections, fields, users) are non-empty, at most
 * PERMISSIONS_MAX_NAME bytes (roles and users AUTH_MAX_NAME), without
 * control characters; duplicate keys anywhere are refused.
 *
 * When no permissions file is configured the caller passes NULL wherever a
 * permissions_t is taken: then only admin identities read anything, and
 * there are no static tokens.
 *
 * A loaded permissions_t never changes and may be read from several
 * threads at once.  It is reference counted so a reload (SIGHUP) can swap
 * in a new one while subscriptions still use the old one. */
#ifndef CDC_PERMISSIONS_H
#define CDC_PERMISSIONS_H

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"

#define PERMISSIONS_MAX_FILE          (4 * 1024 * 1024)
#define PERMISSIONS_MAX_DEPTH         64
#define PERMISSIONS_MAX_NAME          255
#define PERMISSIONS_MAX_FIELDS        1600 /* PostgreSQL's column limit */
#define PERMISSIONS_MAX_FILTER_DEPTH  32
#define PERMISSIONS_MAX_FILTER_VALUES 20000
#define PERMISSIONS_MIN_TOKEN         16

typedef struct permissions permissions_t;

/* What one identity may read of one collection.  The pointers point into
 * the permissions_t it came from and live as long as it does. */
typedef struct collection_access {
    bool allowed;              /* false: nothing at all */
    bool all_fields;           /* "*": every column */
    const char *const *fields; /* sorted by strcmp; unused if all_fields */
    int nfields;
    const json_t *filter; /* row filter; NULL: all rows */
} collection_access_t;

/* Reads and checks the permissions file at path.  Returns a new object
 * (reference count 1, the caller owns it) or NULL with a message in err
 * naming the file and, for a bad document, the path of the first
 * offending value ("roles.editor.collections.articles.fields[2] is a
 * number, not a string").  Nothing is changed on failure, so a reload that
 * fails leaves the caller's current permissions in place. */
permissions_t *permissions_load(const char *path, char *err, size_t errlen);

/* The same from len bytes of JSON text (need not be NUL-terminated). */
permissions_t *permissions_parse(const char *text, size_t len, char *err,
                                 size_t errlen);

/* Takes one more reference to p (NULL allowed) and returns p.  Safe from
 * any thread. */
permissions_t *permissions_ref(permissions_t *p);

/* Drops one reference; the last one frees p, after which pointers that
 * permissions_access handed out are gone.  NULL is allowed. */
void permissions_free(permissions_t *p);

/* Fills out with what who (NULL: the public identity) may read of
 * collection.  An admin identity, or a role with admin_access, reads
 * everything.  p NULL: only admins read anything.  Never fails. */
void permissions_access(const permissions_t *p, const identity_t *who,
                        const char *collection, collection_access_t *out);

/* Says whether a allows reading (and filtering on) field. */
bool permissions_field_allowed(const collection_access_t *a, const char *field);

/* Says whether role is listed under "roles" (false when p is NULL). */
bool permissions_has_role(const permissions_t *p, const char *role);

/* Looks token (len bytes) up among the static tokens in time that does
 * not depend on where it differs from them.  On a match returns true and
 * points *user and *role (NULL: no role) into p; false otherwise or when
 * p is NULL.  auth_verify calls this. */
bool permissions_static_token(const permissions_t *p, const char *token,
                              size_t len, const char **user, const char **role);

#endif
