/* Per-client access to collections, from identity and permissions. */
#include "access.h"

#include "auth.h"
#include "conn.h"
#include "log.h"
#include "permissions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const identity_t *who(const conn_t *c, identity_t *public_ident)
{
    if (c->ident)
        return c->ident;
    auth_public_identity(public_ident);
    return public_ident;
}

bool access_get(pusher_t *p, const conn_t *c, const collection_t *coll,
                access_t *a)
{
    identity_t public_ident;
    const identity_t *id = who(c, &public_ident);
    collection_access_t ca;

    memset(a, 0, sizeof(*a));
    if (!coll || !coll->schema)
        return false;
    a->ts = coll->schema;

    /* Without a permissions file only administrators read anything. */
    if (!p->perms && !id->admin)
        return false;
    if (p->perms)
        permissions_access(p->perms, id, coll->name, &ca);
    else
        memset(&ca, 0, sizeof(ca));
    if (id->admin) {
        ca.allowed = true;
        ca.all_fields = true;
        ca.filter = NULL;
    }
    if (!ca.allowed)
        return false;

    a->readable = calloc(a->ts->ncols ? (size_t)a->ts->ncols : 1,
                         sizeof(bool));
    if (!a->readable)
        return false;
    for (int i = 0; i < a->ts->ncols; i++)
        a->readable[i] = ca.all_fields ||
                         permissions_field_allowed(&ca, a->ts->cols[i].name);
    a->row_filter = ca.filter;
    a->allowed = true;
    return true;
}

void access_release(access_t *a)
{
    free(a->readable);
    a->readable = NULL;
}

bool access_may_read(void *arg, int col)
{
    const access_t *a = arg;

    return col >= 0 && col < a->ts->ncols && a->readable[col];
}

void access_vars(const conn_t *c, filter_vars_t *vars)
{
    vars->current_user = c->ident && c->ident->has_user ? c->ident->user
                                                        : NULL;
    vars->current_role = c->ident && c->ident->has_role ? c->ident->role
                                                        : NULL;
}

bool access_row_filter(pusher_t *p, const conn_t *c, const access_t *a,
                       filter_t **out, char *err, size_t errlen)
{
    filter_vars_t vars;

    (void)p;
    *out = NULL;
    if (!a->row_filter)
        return true;
    access_vars(c, &vars);
    /* The role's filter may use any column, readable or not. */
    *out = filter_compile(a->row_filter, a->ts, NULL, NULL, &vars, err,
                          errlen);
    if (!*out) {
        log_error("permissions", "row filter for collection \"%s.%s\" does "
                                 "not fit the table: %s",
                  a->ts->nspname, a->ts->relname, err);
        return false;
    }
    if (filter_matches_all(*out)) {
        filter_free(*out);
        *out = NULL;
    }
    return true;
}

int access_authenticate(pusher_t *p, conn_t *c, const char *token,
                        size_t len)
{
    identity_t *id = malloc(sizeof(*id));
    char why[256] = "";
    auth_result_t r;

    if (!id)
        return AUTH_INVALID;
    if (!p->auth) {
        const char *user, *role;

        /* Without CDC_SECRET only static tokens can be checked. */
        auth_public_identity(id);
        if (!permissions_static_token(p->perms, token, len, &user, &role)) {
            log_info(conn_tag(c), "token refused: not a static token, and "
                                  "JWTs need CDC_SECRET");
            free(id);
            return AUTH_INVALID;
        }
        id->authenticated = id->has_user = true;
        snprintf(id->user, sizeof(id->user), "%s", user);
        if (role) {
            id->has_role = true;
            snprintf(id->role, sizeof(id->role), "%s", role);
        }
        free(c->ident);
        c->ident = id;
        return AUTH_OK;
    }
    r = auth_verify(p->auth, p->perms, token, len, pusher_now_us(), id, why,
                    sizeof(why));
    if (r != AUTH_OK) {
        log_info(conn_tag(c), "token refused: %s", why);
        free(id);
        return (int)r;
    }
    free(c->ident);
    c->ident = id;
    log_debug(conn_tag(c), "authenticated as user \"%s\" role \"%s\"%s",
              id->has_user ? id->user : "", id->has_role ? id->role : "",
              id->admin ? " (admin)" : "");
    return AUTH_OK;
}
