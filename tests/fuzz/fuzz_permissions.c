/* Fuzz target for the permissions file parser (pusher/permissions.h): the
 * input is the document's text.  When it loads, every role and collection
 * it names must answer as the document says (listed collections allowed,
 * fields sorted and allowed, others refused, static tokens found with
 * their user), and an identity with an unlisted role must read nothing. */
#include "permissions.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static identity_t ident(const char *role, bool admin)
{
    identity_t who;

    auth_public_identity(&who);
    who.authenticated = true;
    who.has_user = true;
    strcpy(who.user, "fuzz-user");
    if (role && strlen(role) < sizeof(who.role)) {
        who.has_role = true;
        strcpy(who.role, role);
    }
    who.admin = admin;
    return who;
}

static void check_access(const collection_access_t *a)
{
    if (!a->allowed) {
        if (a->all_fields || a->nfields || a->filter)
            abort();
        return;
    }
    for (int i = 0; i < a->nfields; i++) {
        if (i > 0 && strcmp(a->fields[i - 1], a->fields[i]) >= 0)
            abort();
        if (!permissions_field_allowed(a, a->fields[i]))
            abort();
    }
    if (a->filter &&
        (!json_is_object(a->filter) || json_object_size(a->filter) == 0))
        abort();
}

/* Checks every collection of one role (NULL: the public entry). */
static void check_role(const permissions_t *p, const char *name,
                       const json_t *role)
{
    identity_t who = ident(name, false);
    const json_t *colls = json_object_get(role, "collections");
    bool admin = json_is_true(json_object_get(role, "admin_access"));
    collection_access_t a;
    const char *key;
    json_t *rule;

    json_object_foreach((json_t *)colls, key, rule)
    {
        permissions_access(p, name ? &who : NULL, key, &a);
        check_access(&a);
        if (!a.allowed)
            abort();
    }
    permissions_access(p, name ? &who : NULL, "\x01not listed", &a);
    if (a.allowed != admin)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    permissions_t *p;
    json_t *doc;
    const char *key;
    json_t *item;
    identity_t who;
    collection_access_t a;

    p = permissions_parse((const char *)data, size, err, sizeof(err));
    if (!p) {
        if (!memchr(err, '\0', sizeof(err)) || err[0] == '\0')
            abort();
        return 0;
    }

    /* It loaded, so it is JSON: read it again to know what to expect. */
    doc = json_loadb((const char *)data, size, 0, NULL);
    if (!doc)
        abort();
    if (json_object_get(doc, "public"))
        check_role(p, NULL, json_object_get(doc, "public"));
    json_object_foreach(json_object_get(doc, "roles"), key, item)
    {
        if (!permissions_has_role(p, key))
            abort();
        check_role(p, key, item);
    }
    json_object_foreach(json_object_get(doc, "tokens"), key, item)
    {
        const char *user, *role;
        const char *want = json_string_value(json_object_get(item, "user"));

        if (!permissions_static_token(p, key, strlen(key), &user, &role) ||
            !want || strcmp(user, want) != 0)
            abort();
    }

    who = ident("\x01unlisted role", false);
    permissions_access(p, &who, "anything", &a);
    if (a.allowed)
        abort();
    who.admin = true;
    permissions_access(p, &who, "anything", &a);
    if (!a.allowed || !a.all_fields)
        abort();

    json_decref(doc);
    permissions_ref(p);
    permissions_free(p);
    permissions_free(p);
    return 0;
}
