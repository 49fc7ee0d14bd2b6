/* Per-client access to collections, from identity and permissions: what
 * a subscription may read when it starts, and again whenever the rules or
 * the client's identity change. */
#include "access.h"

#include "auth.h"
#include "conn.h"
#include "fanout.h"
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

bool access_get_version(pusher_t *p, const conn_t *c, const collection_t *coll,
                        const table_schema_t *ts, access_t *a)
{
    identity_t public_ident;
    const identity_t *id = who(c, &public_ident);
    collection_access_t ca;

    memset(a, 0, sizeof(*a));
    if (!coll || !ts)
        return false;
    a->ts = ts;

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

    a->readable = calloc(ts->ncols ? (size_t)ts->ncols : 1, sizeof(bool));
    if (!a->readable)
        return false;
    for (int i = 0; i < ts->ncols; i++)
        a->readable[i] =
            ca.all_fields || permissions_field_allowed(&ca, ts->cols[i].name);
    a->row_filter = ca.filter;
    a->allowed = true;
    return true;
}

bool access_get(pusher_t *p, const conn_t *c, const collection_t *coll,
                access_t *a)
{
    return access_get_version(p, c, coll, coll ? coll->schema : NULL, a);
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
    vars->current_user = c->ident && c->ident->has_user ? c->ident->user : NULL;
    vars->current_role = c->ident && c->ident->has_role ? c->ident->role : NULL;
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
    *out = filter_compile(a->row_filter, a->ts, NULL, NULL, &vars, err, errlen);
    if (!*out) {
        log_error("permissions",
                  "row filter for collection \"%s.%s\" does "
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

/* True when every column the shape sends is readable. */
static bool shape_readable(const projection_t *pr, const access_t *a)
{
    for (int i = 0; i < pr->ndata; i++) {
        if (pr->data[i].column >= 0 && !a->readable[pr->data[i].column])
            return false;
    }
    for (int i = 0; i < pr->ntop; i++) {
        for (int j = 0; j < pr->top[i].nfields; j++) {
            int col = pr->top[i].fields[j].column;

            if (col >= 0 && !a->readable[col])
                return false;
        }
    }
    return true;
}

/* True when the subscription's own filter reads only readable columns:
 * a filter on a column the client may not read would tell it the value. */
static bool filter_readable(const filter_t *f, const access_t *a)
{
    const int *cols;
    int n = f ? filter_columns(f, &cols) : 0;

    for (int i = 0; i < n; i++) {
        if (!access_may_read((void *)a, cols[i]))
            return false;
    }
    return true;
}

bool access_recheck(pusher_t *p, sub_t *s)
{
    const filter_t *own =
        s->state == SUB_LIVE && s->group ? s->group->filter : s->filter;
    const char *why = NULL;
    filter_t *perm = NULL;
    char err[512], msg[640];
    access_t a;

    /* The version the subscription was compiled against: its shape, its
     * filter and the role's filter all index that version's columns. */
    if (!access_get_version(p, s->conn, s->coll, s->ts, &a))
        why = "permission to read it was withdrawn";
    else if (!shape_readable(s->proj, &a))
        why = "a field it selects may no longer be read";
    else if (!filter_readable(own, &a))
        why = "its filter reads a field that may no longer be read";
    else if (!access_row_filter(p, s->conn, &a, &perm, err, sizeof(err)))
        why = "permission to read it was withdrawn";
    access_release(&a);
    if (why) {
        snprintf(msg, sizeof(msg),
                 "subscription to collection \"%s\" ended: %s", s->coll->name,
                 why);
        log_info(conn_tag(s->conn), "%s", msg);
        fanout_sub_error(p, s, "FORBIDDEN", msg);
        return false;
    }
    return fanout_set_perm(p, s, perm);
}

int access_recheck_conn(pusher_t *p, conn_t *c)
{
    int n = 0;

    /* Ending a subscription moves the last one into its place, which
     * has been checked already when walking backwards. */
    for (int i = c->nsubs - 1; i >= 0; i--) {
        if (i < c->nsubs) {
            access_recheck(p, c->subs[i]);
            n++;
        }
    }
    return n;
}

int access_authenticate(pusher_t *p, conn_t *c, const char *token, size_t len)
{
    identity_t *id = malloc(sizeof(*id));
    char why[256] = "";
    auth_result_t r;

    if (!id)
        return AUTH_INVALID;
    if (!token || len == 0) {
        /* No token is the public role where that is allowed, and is not
         * authenticating where it is not. */
        free(id);
        if ((c->protocol == PROTO_GRAPHQL
                 ? p->set.graphql_auth
                 : p->set.realtime_auth) == AUTH_MODE_PUBLIC)
            return AUTH_OK;
        log_info(conn_tag(c), "token refused: the access token is empty");
        return AUTH_INVALID;
    }
    /* Without CDC_SECRET the verifier is NULL: static tokens are still
     * checked, and every JWT is refused with that reason. */
    r = auth_verify(p->auth, p->perms, token, len, pusher_now_us(), id, why,
                    sizeof(why));
    if (r != AUTH_OK) {
        log_info(conn_tag(c), "token refused: %s", why);
        free(id);
        return (int)r;
    }
    if (id->has_role && !id->admin && !permissions_has_role(p->perms, id->role))
        log_info(conn_tag(c),
                 "role \"%s\" is not in the permissions file: "
                 "it reads nothing",
                 id->role);
    free(c->ident);
    c->ident = id;
    log_debug(conn_tag(c), "authenticated as user \"%s\" role \"%s\"%s (%s)",
              id->has_user ? id->user : "", id->has_role ? id->role : "",
              id->admin ? " (admin)" : "", why);
    return AUTH_OK;
}
