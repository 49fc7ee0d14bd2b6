/* Output shapes and their intern table. */
#include "projection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "\"name\":" as JSON, ready to copy. */
static char *member_name(const char *name, size_t *len)
{
    buf_t b;

    buf_init(&b, 0);
    buf_json_string(&b, name, strlen(name));
    buf_putc(&b, ':');
    *len = b.len;
    return buf_cstr(&b) ? (char *)b.data : NULL;
}

static void free_fields(proj_field_t *fields, int n)
{
    for (int i = 0; fields && i < n; i++) {
        free(fields[i].name_json);
        free_fields(fields[i].fields, fields[i].nfields);
    }
    free(fields);
}

void projection_free(projection_t *pr)
{
    if (!pr)
        return;
    free_fields(pr->top, pr->ntop);
    free_fields(pr->data, pr->ndata);
    free(pr->root_json);
    free(pr->typename_top);
    free(pr->typename_data);
    free(pr->key);
    free(pr);
}

static bool convert(const gql_out_field_t *in, proj_field_t *out)
{
    out->name_json = member_name(in->response_key, &out->name_len);
    out->column = in->kind == GQL_OUT_COLUMN ? in->column : -1;
    switch (in->kind) {
    case GQL_OUT_KEY:
        out->out = PROJ_KEY;
        break;
    case GQL_OUT_EVENT:
        out->out = PROJ_EVENT;
        break;
    case GQL_OUT_CURSOR:
        out->out = PROJ_CURSOR;
        break;
    case GQL_OUT_TYPENAME:
        out->out = PROJ_TYPENAME;
        break;
    case GQL_OUT_DATA:
    case GQL_OUT_COLUMN:
        out->out = PROJ_DATA;
        break;
    }
    if (in->kind == GQL_OUT_DATA && in->nfields > 0) {
        out->fields = calloc((size_t)in->nfields, sizeof(proj_field_t));
        if (!out->fields)
            return false;
        out->nfields = in->nfields;
        for (int i = 0; i < in->nfields; i++) {
            if (!convert(&in->fields[i], &out->fields[i]))
                return false;
        }
    }
    return out->name_json != NULL;
}

projection_t *projection_from_plan(const gql_plan_t *plan,
                                   const table_schema_t *ts)
{
    projection_t *pr = calloc(1, sizeof(*pr));
    buf_t key;

    if (!pr)
        return NULL;
    pr->protocol = PROTO_GRAPHQL;
    pr->root_json = member_name(plan->response_key, &pr->root_len);
    buf_init(&key, 0);
    buf_printf(&key, "g|%p|%s", (const void *)ts, plan->projection_key);
    pr->key = buf_cstr(&key) ? (char *)key.data : NULL;
    {
        size_t n = strlen(plan->collection);

        pr->typename_data = strdup(plan->collection);
        pr->typename_top = malloc(n + sizeof("_mutated"));
        if (pr->typename_top)
            snprintf(pr->typename_top, n + sizeof("_mutated"), "%s_mutated",
                     plan->collection);
    }
    pr->top = calloc(plan->ntop ? (size_t)plan->ntop : 1, sizeof(proj_field_t));
    if (!pr->root_json || !pr->key || !pr->typename_data || !pr->typename_top ||
        !pr->top)
        goto fail;
    pr->ntop = plan->ntop;
    for (int i = 0; i < plan->ntop; i++) {
        if (!convert(&plan->top[i], &pr->top[i]))
            goto fail;
    }
    return pr;

fail:
    projection_free(pr);
    return NULL;
}

projection_t *projection_from_fields(const table_schema_t *ts,
                                     const bool *readable,
                                     const char *const *fields, int nfields,
                                     char *err, size_t errlen)
{
    projection_t *pr = calloc(1, sizeof(*pr));
    bool *chosen = calloc(ts->ncols ? (size_t)ts->ncols : 1, sizeof(bool));
    bool star = nfields == 0;
    buf_t key;
    int n = 0;

    buf_init(&key, 0);
    if (!pr || !chosen)
        goto oom;
    for (int i = 0; i < nfields; i++) {
        const char *f = fields[i];
        int col = -1;

        if (strcmp(f, "*") == 0) {
            star = true;
            continue;
        }
        if (strchr(f, '.') || strchr(f, '(')) {
            snprintf(err, errlen,
                     "field \"%s\" is relational or a function: only the "
                     "collection's own fields can be selected",
                     f);
            goto fail;
        }
        for (int c = 0; c < ts->ncols; c++) {
            if (strcmp(ts->cols[c].name, f) == 0)
                col = c;
        }
        if (col < 0 || !readable[col]) {
            snprintf(err, errlen,
                     "field \"%s\" does not exist in this collection or you "
                     "may not read it",
                     f);
            goto fail;
        }
        chosen[col] = true;
    }
    for (int c = 0; c < ts->ncols; c++) {
        if (star && readable[c])
            chosen[c] = true;
        n += chosen[c];
    }

    pr->protocol = PROTO_REALTIME;
    pr->data = calloc(n ? (size_t)n : 1, sizeof(proj_field_t));
    buf_printf(&key, "r|%p|", (const void *)ts);
    if (!pr->data)
        goto oom;
    for (int c = 0; c < ts->ncols; c++) {
        proj_field_t *f;

        if (!chosen[c])
            continue;
        f = &pr->data[pr->ndata++];
        f->column = c;
        f->out = PROJ_DATA;
        f->name_json = member_name(ts->cols[c].name, &f->name_len);
        if (!f->name_json)
            goto oom;
        buf_printf(&key, "%d,", c);
    }
    pr->key = buf_cstr(&key) ? (char *)key.data : NULL;
    if (!pr->key)
        goto oom;
    key.data = NULL;
    free(chosen);
    return pr;

oom:
    snprintf(err, errlen, "out of memory");
fail:
    buf_free(&key);
    free(chosen);
    projection_free(pr);
    return NULL;
}

projection_t *projection_intern(pusher_t *p, projection_t *candidate)
{
    if (!candidate)
        return NULL;
    for (projection_t *pr = p->projections; pr; pr = pr->next) {
        if (strcmp(pr->key, candidate->key) == 0) {
            pr->refs++;
            projection_free(candidate);
            return pr;
        }
    }
    candidate->refs = 1;
    candidate->next = p->projections;
    p->projections = candidate;
    return candidate;
}

void projection_release(pusher_t *p, projection_t *proj)
{
    if (!proj || --proj->refs > 0)
        return;
    for (projection_t **pp = &p->projections; *pp; pp = &(*pp)->next) {
        if (*pp == proj) {
            *pp = proj->next;
            break;
        }
    }
    projection_free(proj);
}
