/* From a validated document to a subscription plan: picks the operation,
 * refuses what the pusher does not execute (queries, mutations,
 * introspection), coerces the variables against their declared types as
 * graphql-js's getVariableValues does (defaults, required variables, list
 * and input object coercion, scalar and enum checks), applies @skip and
 * @include, flattens fragments and merges fields that share a response
 * key, and turns the root field's arguments into the plan: the events,
 * the filter as Directus JSON (the argument's coerced value), and the
 * resume cursor. */
#include "graphql_ast.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Schema, validation scratch and plan building of one request. */
#define GQL_COMPILE_ARENA_LIMIT (64u * 1024 * 1024)

/* As graphql-js's execution, which stops reporting variable errors at 50. */
#define GQL_MAX_VARIABLE_ERRORS 50

/* ---- @skip and @include ---------------------------------------------- */

/* The "if" argument of d: 1 true, 0 false, 2 a variable holding neither,
 * -1 after an error. */
static int directive_if(const gql_directive_t *d, const json_t *vars,
                        gql_errors_t *errors)
{
    const gql_argument_t *arg = NULL;
    const gql_value_t *v;
    json_t *val;

    for (int i = 0; i < d->nargs; i++)
        if (strcmp(d->args[i]->name, "if") == 0)
            arg = d->args[i];
    if (!arg) {
        gql_errors_add(errors, d->loc,
                       "Argument \"if\" of required type \"Boolean!\" was not "
                       "provided.");
        return -1;
    }
    v = arg->value;
    switch (v->kind) {
    case GQL_VAL_VARIABLE:
        val = vars ? json_object_get(vars, v->str) : NULL;
        if (!val) {
            gql_errors_add(errors, v->loc,
                           "Argument \"if\" of required type \"Boolean!\" "
                           "was provided the variable \"$%s\" which was not "
                           "provided a runtime value.",
                           v->str);
            return -1;
        }
        if (json_is_null(val))
            break;
        return json_is_true(val) ? 1 : json_is_false(val) ? 0 : 2;
    case GQL_VAL_NULL:
        break;
    case GQL_VAL_BOOLEAN:
        return v->boolean ? 1 : 0;
    default: {
        buf_t b;
        char *s;

        buf_init(&b, 0);
        gql_print_value(&b, v);
        s = buf_cstr(&b);
        gql_errors_add(errors, v->loc, "Argument \"if\" has invalid value %s.",
                       s ? s : "");
        buf_free(&b);
        return -1;
    }
    }
    gql_errors_add(errors, v->loc,
                   "Argument \"if\" of non-null type \"Boolean!\" must not be "
                   "null.");
    return -1;
}

static const gql_directive_t *find_directive(gql_directive_t **dirs, int n,
                                             const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(dirs[i]->name, name) == 0)
            return dirs[i];
    return NULL;
}

int gql_should_include(gql_directive_t **dirs, int n, const json_t *vars,
                       gql_errors_t *errors)
{
    const gql_directive_t *skip = find_directive(dirs, n, "skip");
    const gql_directive_t *include = find_directive(dirs, n, "include");
    int r;

    if (skip) {
        r = directive_if(skip, vars, errors);
        if (r < 0)
            return -1;
        if (r == 1)
            return 0;
    }
    if (include) {
        r = directive_if(include, vars, errors);
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
    }
    return 1;
}

/* ---- variable coercion ----------------------------------------------- */

typedef struct coercion {
    const gql_var_def_t *vd;
    gql_errors_t *errors;
    buf_t path; /* ".a[0]": where in the variable's value we are */
    int nerrors;
    bool too_many;
} coercion_t;

static void coerce_error(coercion_t *c, const json_t *invalid, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));

static void coerce_error(coercion_t *c, const json_t *invalid, const char *fmt,
                         ...)
{
    buf_t msg;
    va_list ap;
    char detail[512];
    char *s;

    c->nerrors++;
    if (c->too_many)
        return;
    if (c->errors->count >= GQL_MAX_VARIABLE_ERRORS) {
        gql_errors_add(c->errors, (gql_loc_t){0, 0},
                       "Too many errors processing variables, error limit "
                       "reached. Execution aborted.");
        c->too_many = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    buf_init(&msg, 0);
    buf_printf(&msg, "Variable \"$%s\" got invalid value ", c->vd->name);
    gql_inspect_json(&msg, invalid);
    if (c->path.len)
        buf_printf(&msg, " at \"%s%.*s\"", c->vd->name, (int)c->path.len,
                   (const char *)c->path.data);
    buf_printf(&msg, "; %s", detail);
    s = buf_cstr(&msg);
    gql_errors_add(c->errors, c->vd->loc, "%s", s ? s : "");
    buf_free(&msg);
}

static char *inspect_str(const json_t *v)
{
    buf_t b;
    char *s;

    buf_init(&b, 4096);
    gql_inspect_json(&b, v);
    s = buf_cstr(&b);
    if (!s) {
        buf_free(&b);
        return strdup("");
    }
    return s;
}

/* A number holding an integer, as JavaScript's Number.isInteger. */
static bool json_integral(const json_t *v, double *out)
{
    if (json_is_integer(v)) {
        *out = (double)json_integer_value(v);
        return true;
    }
    if (json_is_real(v) && isfinite(json_real_value(v)) &&
        floor(json_real_value(v)) == json_real_value(v)) {
        *out = json_real_value(v);
        return true;
    }
    return false;
}

static json_t *coerce_leaf(coercion_t *c, const json_t *v, const gql_type_t *t)
{
    char *what;
    double d;

    if (t->kind == GQL_KIND_ENUM) {
        buf_t sugg;
        char *s;

        if (json_is_string(v) &&
            gql_type_has_enum_value(t, json_string_value(v)))
            return json_deep_copy(v);
        buf_init(&sugg, 0);
        what = inspect_str(v);
        gql_did_you_mean(&sugg, json_is_string(v) ? json_string_value(v) : what,
                         t->enum_values, t->nenum_values, "the enum value");
        s = buf_cstr(&sugg);
        if (!json_is_string(v))
            coerce_error(c, v,
                         "Enum \"%s\" cannot represent non-string value: "
                         "%s.%s",
                         t->name, what, s ? s : "");
        else
            coerce_error(c, v, "Value \"%s\" does not exist in \"%s\" enum.%s",
                         json_string_value(v), t->name, s ? s : "");
        free(what);
        buf_free(&sugg);
        return NULL;
    }
    switch (t->scalar) {
    case GQL_SCALAR_INT:
        if (json_integral(v, &d)) {
            if (d >= -2147483648.0 && d <= 2147483647.0)
                return json_integer((json_int_t)d);
            what = inspect_str(v);
            coerce_error(c, v,
                         "Int cannot represent non 32-bit signed integer "
                         "value: %s",
                         what);
            free(what);
            return NULL;
        }
        what = inspect_str(v);
        coerce_error(c, v, "Int cannot represent non-integer value: %s", what);
        break;
    case GQL_SCALAR_FLOAT:
        if (json_is_number(v))
            return json_deep_copy(v);
        what = inspect_str(v);
        coerce_error(c, v, "Float cannot represent non numeric value: %s",
                     what);
        break;
    case GQL_SCALAR_STRING:
        if (json_is_string(v))
            return json_deep_copy(v);
        what = inspect_str(v);
        coerce_error(c, v, "String cannot represent a non string value: %s",
                     what);
        break;
    case GQL_SCALAR_BOOLEAN:
        if (json_is_boolean(v))
            return json_deep_copy(v);
        what = inspect_str(v);
        coerce_error(c, v, "Boolean cannot represent a non boolean value: %s",
                     what);
        break;
    case GQL_SCALAR_ID:
        if (json_is_string(v))
            return json_deep_copy(v);
        if (json_integral(v, &d)) {
            json_t *s;

            /* an integer ID becomes its decimal text */
            what = inspect_str(v);
            s = json_string(what);
            free(what);
            return s;
        }
        what = inspect_str(v);
        coerce_error(c, v, "ID cannot represent value: %s", what);
        break;
    default:
        /* JSON, Date and the other schema scalars take any value as is */
        return json_deep_copy(v);
    }
    free(what);
    return NULL;
}

static json_t *coerce_value(coercion_t *c, const json_t *v, const gql_type_t *t)
{
    size_t mark = c->path.len;

    if (t->kind == GQL_KIND_NON_NULL) {
        buf_t ts;
        char *s;

        if (!json_is_null(v))
            return coerce_value(c, v, t->of);
        buf_init(&ts, 0);
        gql_print_type(&ts, t);
        s = buf_cstr(&ts);
        coerce_error(c, v, "Expected non-nullable type \"%s\" not to be null.",
                     s ? s : "");
        buf_free(&ts);
        return NULL;
    }
    if (json_is_null(v))
        return json_null();
    if (t->kind == GQL_KIND_LIST) {
        json_t *out = json_array();

        if (!json_is_array(v)) {
            /* a single value stands for a list of one */
            json_t *item = coerce_value(c, v, t->of);

            json_array_append_new(out, item ? item : json_null());
            return out;
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *item;

            buf_printf(&c->path, "[%zu]", i);
            item = coerce_value(c, json_array_get(v, i), t->of);
            c->path.len = mark;
            json_array_append_new(out, item ? item : json_null());
        }
        return out;
    }
    if (t->kind == GQL_KIND_INPUT_OBJECT) {
        json_t *out;
        const char *key;
        json_t *item;

        if (!json_is_object(v)) {
            coerce_error(c, v, "Expected type \"%s\" to be an object.",
                         t->name);
            return NULL;
        }
        out = json_object();
        for (int i = 0; i < t->ninput_fields; i++) {
            const gql_input_value_t *f = &t->input_fields[i];
            json_t *fv = json_object_get(v, f->name), *x;

            if (!fv) {
                if (f->type->kind == GQL_KIND_NON_NULL) {
                    buf_t ts;
                    char *s;

                    buf_init(&ts, 0);
                    gql_print_type(&ts, f->type);
                    s = buf_cstr(&ts);
                    coerce_error(c, v,
                                 "Field \"%s\" of required type \"%s\" was "
                                 "not provided.",
                                 f->name, s ? s : "");
                    buf_free(&ts);
                }
                continue;
            }
            buf_printf(&c->path, ".%s", f->name);
            x = coerce_value(c, fv, f->type);
            c->path.len = mark;
            if (x)
                json_object_set_new(out, f->name, x);
        }
        json_object_foreach((json_t *)v, key, item)
        {
            const char **names;
            buf_t sugg;
            char *s;

            if (gql_type_input_field(t, key))
                continue;
            names = malloc((size_t)t->ninput_fields * sizeof(*names) + 1);
            for (int i = 0; names && i < t->ninput_fields; i++)
                names[i] = t->input_fields[i].name;
            buf_init(&sugg, 0);
            if (names)
                gql_did_you_mean(&sugg, key, names, t->ninput_fields, NULL);
            s = buf_cstr(&sugg);
            coerce_error(c, v, "Field \"%s\" is not defined by type \"%s\".%s",
                         key, t->name, s ? s : "");
            buf_free(&sugg);
            free(names);
        }
        return out;
    }
    return coerce_leaf(c, v, t);
}

/* The operation's variable values after coercion, a new JSON object; NULL
 * after adding errors. */
static json_t *coerce_variables(const gql_schema_t *s,
                                const gql_definition_t *op, const json_t *given,
                                gql_errors_t *errors);

/* ---- values from the document ---------------------------------------- */

/* Marks "no value": a variable that was not given, or an invalid value. */
static json_t undefined_marker;
#define UNDEFINED (&undefined_marker)

static bool missing_variable(const gql_value_t *v, const json_t *vars)
{
    return v->kind == GQL_VAL_VARIABLE &&
           (!vars || !json_object_get(vars, v->str));
}

static json_t *number_literal(const gql_value_t *v)
{
    if (v->kind == GQL_VAL_INT) {
        long long n;

        errno = 0;
        n = strtoll(v->str, NULL, 10);
        if (errno == 0)
            return json_integer((json_int_t)n);
    }
    return json_real(strtod(v->str, NULL));
}

/* graphql-js's valueFromASTUntyped, as schema-defined scalars read
 * literals: variables inside are replaced by their values, and a missing
 * one is left out of objects and null in lists. */
static json_t *untyped_value(const gql_value_t *v, const json_t *vars)
{
    json_t *out, *x;

    switch (v->kind) {
    case GQL_VAL_NULL:
        return json_null();
    case GQL_VAL_INT:
    case GQL_VAL_FLOAT:
        return number_literal(v);
    case GQL_VAL_STRING:
        return json_stringn(v->str, v->len);
    case GQL_VAL_ENUM:
        return json_string(v->str);
    case GQL_VAL_BOOLEAN:
        return json_boolean(v->boolean);
    case GQL_VAL_VARIABLE:
        x = vars ? json_object_get(vars, v->str) : NULL;
        return x ? json_deep_copy(x) : UNDEFINED;
    case GQL_VAL_LIST:
        out = json_array();
        for (int i = 0; i < v->nitems; i++) {
            x = untyped_value(v->items[i], vars);
            json_array_append_new(out, x == UNDEFINED ? json_null() : x);
        }
        return out;
    case GQL_VAL_OBJECT:
        out = json_object();
        for (int i = 0; i < v->nfields; i++) {
            x = untyped_value(v->fields[i]->value, vars);
            if (x != UNDEFINED)
                json_object_set_new(out, v->fields[i]->name, x);
            else
                json_object_del(out, v->fields[i]->name);
        }
        return out;
    }
    return UNDEFINED;
}

static json_t *leaf_literal(const gql_value_t *v, const gql_type_t *t,
                            const json_t *vars)
{
    if (t->kind == GQL_KIND_ENUM)
        return v->kind == GQL_VAL_ENUM && gql_type_has_enum_value(t, v->str)
                   ? json_string(v->str)
                   : UNDEFINED;
    switch (t->scalar) {
    case GQL_SCALAR_INT:
        if (v->kind == GQL_VAL_INT) {
            long long n;

            errno = 0;
            n = strtoll(v->str, NULL, 10);
            if (errno == 0 && n >= -2147483648LL && n <= 2147483647LL)
                return json_integer((json_int_t)n);
        }
        return UNDEFINED;
    case GQL_SCALAR_FLOAT:
        return v->kind == GQL_VAL_INT || v->kind == GQL_VAL_FLOAT
                   ? number_literal(v)
                   : UNDEFINED;
    case GQL_SCALAR_STRING:
        return v->kind == GQL_VAL_STRING ? json_stringn(v->str, v->len)
                                         : UNDEFINED;
    case GQL_SCALAR_BOOLEAN:
        return v->kind == GQL_VAL_BOOLEAN ? json_boolean(v->boolean)
                                          : UNDEFINED;
    case GQL_SCALAR_ID:
        /* both forms become text, as graphql-js's ID does */
        return v->kind == GQL_VAL_STRING || v->kind == GQL_VAL_INT
                   ? json_stringn(v->str, v->len)
                   : UNDEFINED;
    default:
        return untyped_value(v, vars);
    }
}

/* graphql-js's valueFromAST: the value a literal (with variables
 * replaced by their coerced values) has as type t; UNDEFINED when it has
 * none. */
static json_t *value_from_ast(const gql_value_t *v, const gql_type_t *t,
                              const json_t *vars)
{
    json_t *out, *x;

    if (v->kind == GQL_VAL_VARIABLE) {
        x = vars ? json_object_get(vars, v->str) : NULL;
        if (!x || (json_is_null(x) && t->kind == GQL_KIND_NON_NULL))
            return UNDEFINED;
        return json_deep_copy(x);
    }
    if (t->kind == GQL_KIND_NON_NULL)
        return v->kind == GQL_VAL_NULL ? UNDEFINED
                                       : value_from_ast(v, t->of, vars);
    if (v->kind == GQL_VAL_NULL)
        return json_null();
    if (t->kind == GQL_KIND_LIST) {
        if (v->kind != GQL_VAL_LIST) {
            x = value_from_ast(v, t->of, vars);
            if (x == UNDEFINED)
                return UNDEFINED;
            out = json_array();
            json_array_append_new(out, x);
            return out;
        }
        out = json_array();
        for (int i = 0; i < v->nitems; i++) {
            if (missing_variable(v->items[i], vars)) {
                if (t->of->kind == GQL_KIND_NON_NULL)
                    goto invalid;
                json_array_append_new(out, json_null());
                continue;
            }
            x = value_from_ast(v->items[i], t->of, vars);
            if (x == UNDEFINED)
                goto invalid;
            json_array_append_new(out, x);
        }
        return out;
    }
    if (t->kind == GQL_KIND_INPUT_OBJECT) {
        if (v->kind != GQL_VAL_OBJECT)
            return UNDEFINED;
        out = json_object();
        for (int i = 0; i < t->ninput_fields; i++) {
            const gql_input_value_t *f = &t->input_fields[i];
            const gql_object_field_t *node = NULL;

            for (int j = 0; j < v->nfields; j++)
                if (strcmp(v->fields[j]->name, f->name) == 0)
                    node = v->fields[j];
            if (!node || missing_variable(node->value, vars)) {
                if (f->type->kind == GQL_KIND_NON_NULL)
                    goto invalid;
                continue;
            }
            x = value_from_ast(node->value, f->type, vars);
            if (x == UNDEFINED)
                goto invalid;
            json_object_set_new(out, f->name, x);
        }
        return out;
    }
    return leaf_literal(v, t, vars);
invalid:
    json_decref(out);
    return UNDEFINED;
}

static json_t *coerce_variables(const gql_schema_t *s,
                                const gql_definition_t *op, const json_t *given,
                                gql_errors_t *errors)
{
    json_t *out = json_object();
    int before = errors->count;

    for (int i = 0; i < op->nvar_defs; i++) {
        const gql_var_def_t *vd = op->var_defs[i];
        gql_type_t *t = gql_type_from_ref(s, vd->type);
        json_t *v = given ? json_object_get(given, vd->name) : NULL;
        coercion_t c = {.vd = vd, .errors = errors};
        json_t *x;
        buf_t ts;
        char *tstr;

        if (!t || !gql_is_input_type(t))
            continue; /* validation has said so already */
        buf_init(&ts, 0);
        gql_print_type(&ts, t);
        tstr = buf_cstr(&ts);
        if (!tstr)
            tstr = "";
        if (!v) {
            if (vd->default_value) {
                x = value_from_ast(vd->default_value, t, NULL);
                if (x != UNDEFINED)
                    json_object_set_new(out, vd->name, x);
            } else if (t->kind == GQL_KIND_NON_NULL) {
                gql_errors_add(errors, vd->loc,
                               "Variable \"$%s\" of required type \"%s\" was "
                               "not provided.",
                               vd->name, tstr);
            }
        } else if (json_is_null(v) && t->kind == GQL_KIND_NON_NULL) {
            gql_errors_add(errors, vd->loc,
                           "Variable \"$%s\" of non-null type \"%s\" must not "
                           "be null.",
                           vd->name, tstr);
        } else {
            buf_init(&c.path, 0);
            x = coerce_value(&c, v, t);
            if (x)
                json_object_set_new(out, vd->name, x);
            buf_free(&c.path);
        }
        buf_free(&ts);
        if (c.too_many)
            break;
    }
    if (errors->count != before) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* ---- fields ---------------------------------------------------------- */

typedef struct group {
    const char *key;
    const gql_selection_t **nodes;
    int n;
    int cap;
} group_t;

typedef struct groups {
    group_t *items;
    int n;
    int cap;
} groups_t;

typedef struct planner {
    const gql_schema_t *s;
    const gql_document_t *doc;
    const json_t *vars;
    gql_errors_t *errors;
    bool failed;
} planner_t;

static bool grow(void **items, int n, int *cap, size_t elem)
{
    void *m;

    if (n < *cap)
        return true;
    m = realloc(*items, (size_t)(*cap ? *cap * 2 : 8) * elem);
    if (!m)
        return false;
    *items = m;
    *cap = *cap ? *cap * 2 : 8;
    return true;
}

static void groups_free(groups_t *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->items[i].nodes);
    free(g->items);
    memset(g, 0, sizeof(*g));
}

static const gql_definition_t *fragment_named(const gql_document_t *doc,
                                              const char *name)
{
    const gql_definition_t *found = NULL;

    for (int i = 0; i < doc->ndefs; i++)
        if (doc->defs[i]->kind == GQL_DEF_FRAGMENT &&
            strcmp(doc->defs[i]->name, name) == 0)
            found = doc->defs[i];
    return found;
}

typedef struct visited {
    const char **names;
    int n;
    int cap;
} visited_t;

static bool out_of_memory(planner_t *p)
{
    gql_errors_add(p->errors, (gql_loc_t){0, 0}, "Out of memory.");
    p->failed = true;
    return false;
}

/* graphql-js's collectFields for runtime type t: fields by response key
 * in first-seen order, fragments flattened, @skip and @include applied. */
static bool collect(planner_t *p, const gql_type_t *t,
                    const gql_selection_set_t *set, groups_t *out,
                    visited_t *visited)
{
    for (int i = 0; i < set->n; i++) {
        const gql_selection_t *s = set->items[i];
        const gql_selection_set_t *inner = NULL;
        int inc;

        if (s->kind == GQL_SEL_FRAGMENT_SPREAD) {
            bool seen = false;

            for (int j = 0; j < visited->n && !seen; j++)
                seen = strcmp(visited->names[j], s->name) == 0;
            if (seen)
                continue;
        }
        inc = gql_should_include(s->directives, s->ndirectives, p->vars,
                                 p->errors);
        if (inc < 0) {
            p->failed = true;
            return false;
        }
        if (inc == 0)
            continue;
        if (s->kind == GQL_SEL_FIELD) {
            const char *key = s->alias ? s->alias : s->name;
            group_t *g = NULL;

            for (int j = 0; j < out->n && !g; j++)
                if (strcmp(out->items[j].key, key) == 0)
                    g = &out->items[j];
            if (!g) {
                if (!grow((void **)&out->items, out->n, &out->cap,
                          sizeof(*out->items)))
                    return out_of_memory(p);
                g = &out->items[out->n++];
                memset(g, 0, sizeof(*g));
                g->key = key;
            }
            if (!grow((void **)&g->nodes, g->n, &g->cap, sizeof(*g->nodes)))
                return out_of_memory(p);
            g->nodes[g->n++] = s;
            continue;
        }
        if (s->kind == GQL_SEL_INLINE_FRAGMENT) {
            if (s->type_cond && gql_type_from_ref(p->s, s->type_cond) != t)
                continue;
            inner = s->selection_set;
        } else {
            const gql_definition_t *frag;

            if (!grow((void **)&visited->names, visited->n, &visited->cap,
                      sizeof(*visited->names)))
                return out_of_memory(p);
            visited->names[visited->n++] = s->name;
            frag = fragment_named(p->doc, s->name);
            if (!frag || gql_type_from_ref(p->s, frag->type_cond) != t)
                continue;
            inner = frag->selection_set;
        }
        if (!collect(p, t, inner, out, visited))
            return false;
    }
    return true;
}

/* The merged selection of all nodes of one response key. */
static bool collect_subfields(planner_t *p, const gql_type_t *t,
                              const group_t *g, groups_t *out)
{
    visited_t visited = {0};
    bool ok = true;

    for (int i = 0; i < g->n && ok; i++)
        if (g->nodes[i]->selection_set)
            ok = collect(p, t, g->nodes[i]->selection_set, out, &visited);
    free(visited.names);
    return ok;
}

/* ---- arguments -------------------------------------------------------- */

/* graphql-js's getArgumentValues for one argument: *out is the coerced
 * value (new reference), or NULL when the argument is absent. */
static bool argument_value(planner_t *p, const gql_selection_t *field,
                           const gql_input_value_t *def, json_t **out)
{
    const gql_argument_t *arg = NULL;
    json_t *v;

    *out = NULL;
    for (int i = 0; i < field->nargs; i++)
        if (strcmp(field->args[i]->name, def->name) == 0)
            arg = field->args[i];
    if (!arg || missing_variable(arg->value, p->vars))
        return true;
    v = value_from_ast(arg->value, def->type, p->vars);
    if (v == UNDEFINED) {
        buf_t b;
        char *s;

        buf_init(&b, 0);
        gql_print_value(&b, arg->value);
        s = buf_cstr(&b);
        gql_errors_add(p->errors, arg->value->loc,
                       "Argument \"%s\" has invalid value %s.", def->name,
                       s ? s : "");
        buf_free(&b);
        return false;
    }
    *out = v;
    return true;
}

/* ---- the plan --------------------------------------------------------- */

static void out_fields_free(gql_out_field_t *f, int n)
{
    for (int i = 0; f && i < n; i++) {
        free(f[i].response_key);
        free(f[i].type_name);
        out_fields_free(f[i].fields, f[i].nfields);
    }
    free(f);
}

void gql_plan_free(gql_plan_t *plan)
{
    if (!plan)
        return;
    free(plan->collection);
    free(plan->response_key);
    json_decref(plan->filter);
    free(plan->after);
    out_fields_free(plan->top, plan->ntop);
    free(plan->projection_key);
    free(plan);
}

static bool fill_data(planner_t *p, const gql_schema_collection_t *col,
                      const group_t *g, gql_out_field_t *f)
{
    groups_t sub = {0};
    bool ok = false;

    if (!collect_subfields(p, col->object, g, &sub))
        goto out;
    f->fields = calloc(sub.n ? (size_t)sub.n : 1, sizeof(*f->fields));
    if (!f->fields) {
        out_of_memory(p);
        goto out;
    }
    for (int i = 0; i < sub.n; i++) {
        const gql_selection_t *node = sub.items[i].nodes[0];
        gql_out_field_t *d = &f->fields[f->nfields++];

        d->response_key = strdup(sub.items[i].key);
        d->column = -1;
        if (strcmp(node->name, "__typename") == 0) {
            d->kind = GQL_OUT_TYPENAME;
            d->type_name = strdup(col->object->name);
        } else {
            const gql_field_def_t *def =
                gql_type_field(col->object, node->name);

            d->kind = GQL_OUT_COLUMN;
            d->column = def ? def->column : -1;
        }
        if (!d->response_key ||
            (d->kind == GQL_OUT_TYPENAME && !d->type_name)) {
            out_of_memory(p);
            goto out;
        }
    }
    ok = true;
out:
    groups_free(&sub);
    return ok;
}

static bool fill_top(planner_t *p, const gql_schema_collection_t *col,
                     const group_t *root, gql_plan_t *plan)
{
    groups_t top = {0};
    bool ok = false;

    if (!collect_subfields(p, col->mutated, root, &top))
        goto out;
    plan->top = calloc(top.n ? (size_t)top.n : 1, sizeof(*plan->top));
    if (!plan->top) {
        out_of_memory(p);
        goto out;
    }
    for (int i = 0; i < top.n; i++) {
        const gql_selection_t *node = top.items[i].nodes[0];
        gql_out_field_t *f = &plan->top[plan->ntop++];

        f->column = -1;
        f->response_key = strdup(top.items[i].key);
        if (!f->response_key) {
            out_of_memory(p);
            goto out;
        }
        if (strcmp(node->name, "__typename") == 0) {
            f->kind = GQL_OUT_TYPENAME;
            f->type_name = strdup(col->mutated->name);
            if (!f->type_name) {
                out_of_memory(p);
                goto out;
            }
        } else if (strcmp(node->name, "key") == 0) {
            f->kind = GQL_OUT_KEY;
        } else if (strcmp(node->name, "event") == 0) {
            f->kind = GQL_OUT_EVENT;
        } else if (strcmp(node->name, "cursor") == 0) {
            f->kind = GQL_OUT_CURSOR;
        } else {
            f->kind = GQL_OUT_DATA;
            if (!fill_data(p, col, &top.items[i], f))
                goto out;
            if (!plan->data) {
                plan->data = f->fields;
                plan->ndata = f->nfields;
            }
        }
    }
    ok = true;
out:
    groups_free(&top);
    return ok;
}

static void projection_fields(buf_t *b, const gql_out_field_t *f, int n)
{
    static const char *const kinds[] = {"key",        "event", "cursor",
                                        "__typename", "data",  "column"};

    buf_putc(b, '{');
    for (int i = 0; i < n; i++) {
        buf_printf(b, "%s%s:", i ? "," : "", f[i].response_key);
        if (f[i].kind == GQL_OUT_COLUMN)
            buf_printf(b, "#%d", f[i].column);
        else
            buf_puts(b, kinds[f[i].kind]);
        if (f[i].kind == GQL_OUT_DATA)
            projection_fields(b, f[i].fields, f[i].nfields);
    }
    buf_putc(b, '}');
}

/* "articles/articles_mutated{key:key,d:data{id:#0,__typename:__typename}}":
 * everything that decides the bytes of an event's payload and nothing
 * else (the type names follow from the collection). */
static char *projection_key(const gql_plan_t *plan)
{
    buf_t b;

    buf_init(&b, 0);
    buf_printf(&b, "%s/%s", plan->collection, plan->response_key);
    projection_fields(&b, plan->top, plan->ntop);
    if (b.overflow || !buf_cstr(&b)) {
        buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

static bool root_arguments(planner_t *p, const gql_field_def_t *def,
                           const gql_selection_t *node, gql_plan_t *plan)
{
    json_t *event = NULL, *filter = NULL, *after = NULL;
    bool ok = argument_value(p, node, &def->args[0], &event) &&
              argument_value(p, node, &def->args[1], &filter) &&
              argument_value(p, node, &def->args[2], &after);

    plan->events = GQL_EVENT_ALL;
    if (ok && json_is_string(event)) {
        const char *e = json_string_value(event);

        plan->events = strcmp(e, "create") == 0   ? GQL_EVENT_CREATE
                       : strcmp(e, "update") == 0 ? GQL_EVENT_UPDATE
                       : strcmp(e, "delete") == 0 ? GQL_EVENT_DELETE
                                                  : 0;
    }
    if (ok && filter && !json_is_null(filter)) {
        plan->filter = filter;
        filter = NULL;
    }
    if (ok && json_is_string(after)) {
        plan->has_after = true;
        plan->after = strdup(json_string_value(after));
        ok = plan->after != NULL || out_of_memory(p);
    }
    json_decref(event);
    json_decref(filter);
    json_decref(after);
    return ok;
}

static gql_plan_t *build_plan(planner_t *p, const gql_definition_t *op)
{
    groups_t root = {0};
    visited_t visited = {0};
    gql_plan_t *plan = NULL;
    const gql_field_def_t *def;
    const gql_schema_collection_t *col;
    const gql_selection_t *node;

    if (!collect(p, p->s->subscription, op->selection_set, &root, &visited))
        goto fail;
    if (root.n != 1) {
        gql_errors_add(p->errors, op->loc,
                       "The subscription selects no field once @skip and "
                       "@include are applied; select exactly one.");
        goto fail;
    }
    node = root.items[0].nodes[0];
    def = gql_type_field(p->s->subscription, node->name);
    if (!def || def->role != GQL_ROLE_ROOT) {
        gql_errors_add(p->errors, node->loc,
                       "Cannot subscribe to field \"%s\".", node->name);
        goto fail;
    }
    col = &p->s->collections[def->collection];
    plan = calloc(1, sizeof(*plan));
    if (!plan) {
        out_of_memory(p);
        goto fail;
    }
    plan->collection = strdup(col->name);
    plan->response_key = strdup(root.items[0].key);
    plan->short_form = def->short_form;
    if (!plan->collection || !plan->response_key) {
        out_of_memory(p);
        goto fail;
    }
    if (!root_arguments(p, def, node, plan) ||
        !fill_top(p, col, &root.items[0], plan))
        goto fail;
    plan->projection_key = projection_key(plan);
    if (!plan->projection_key) {
        out_of_memory(p);
        goto fail;
    }
    groups_free(&root);
    free(visited.names);
    return plan;
fail:
    groups_free(&root);
    free(visited.names);
    gql_plan_free(plan);
    return NULL;
}

/* ---- compile ---------------------------------------------------------- */

static const gql_definition_t *select_operation(const gql_document_t *doc,
                                                const char *name,
                                                gql_errors_t *errors)
{
    const gql_definition_t *op = NULL;

    for (int i = 0; i < doc->ndefs; i++) {
        const gql_definition_t *d = doc->defs[i];

        if (d->kind != GQL_DEF_OPERATION)
            continue;
        if (!name) {
            if (op) {
                gql_errors_add(errors, (gql_loc_t){0, 0},
                               "Must provide operation name if query contains "
                               "multiple operations.");
                return NULL;
            }
            op = d;
        } else if (d->name && strcmp(d->name, name) == 0) {
            op = d;
        }
    }
    if (!op && name)
        gql_errors_add(errors, (gql_loc_t){0, 0},
                       "Unknown operation named \"%s\".", name);
    else if (!op)
        gql_errors_add(errors, (gql_loc_t){0, 0}, "Must provide an operation.");
    return op;
}

static bool selects_introspection(const gql_document_t *doc,
                                  const gql_selection_set_t *set, int depth)
{
    for (int i = 0; i < set->n && depth < GQL_MAX_DEPTH; i++) {
        const gql_selection_t *s = set->items[i];

        if (s->kind == GQL_SEL_FIELD) {
            if (!strcmp(s->name, "__schema") || !strcmp(s->name, "__type"))
                return true;
        } else if (s->kind == GQL_SEL_INLINE_FRAGMENT) {
            if (selects_introspection(doc, s->selection_set, depth + 1))
                return true;
        } else {
            const gql_definition_t *f = fragment_named(doc, s->name);

            if (f && selects_introspection(doc, f->selection_set, depth + 1))
                return true;
        }
    }
    return false;
}

/* Refuses the operations the pusher does not execute. */
static bool check_executable(const gql_schema_t *s, const gql_document_t *doc,
                             const gql_definition_t *op, gql_errors_t *errors)
{
    static const char *const kinds[] = {"query", "mutation", "subscription"};

    if (op->operation == GQL_OP_SUBSCRIPTION) {
        if (s->subscription)
            return true;
        gql_errors_add(errors, op->loc,
                       "Schema is not configured to execute subscription "
                       "operation: no collection is readable.");
        return false;
    }
    if (op->operation == GQL_OP_QUERY &&
        selects_introspection(doc, op->selection_set, 0)) {
        gql_errors_add(errors, op->loc,
                       "Introspection is not supported: this endpoint serves "
                       "subscriptions only.");
        return false;
    }
    if (op->name)
        gql_errors_add(errors, op->loc,
                       "Only subscription operations are supported, but "
                       "\"%s\" is a %s.",
                       op->name, kinds[op->operation]);
    else
        gql_errors_add(errors, op->loc,
                       "Only subscription operations are supported, but this "
                       "operation is a %s.",
                       kinds[op->operation]);
    return false;
}

gql_plan_t *gql_compile(const char *query, size_t len,
                        const char *operation_name, const json_t *variables,
                        const gql_collection_t *collections, int ncollections,
                        gql_error_t *errors, int maxerr, int *nerrors)
{
    gql_errors_t errs = {.items = errors, .max = maxerr > 0 ? maxerr : 0};
    gql_error_t perr;
    gql_document_t *doc = NULL;
    const gql_definition_t *op;
    gql_schema_t *schema;
    planner_t p = {0};
    gql_plan_t *plan = NULL;
    json_t *vars = NULL;
    arena_t arena;

    arena_init(&arena, GQL_COMPILE_ARENA_LIMIT);
    doc = gql_parse(query, len, &perr);
    if (!doc) {
        gql_errors_add(&errs, (gql_loc_t){perr.line, perr.column}, "%s",
                       perr.message);
        goto out;
    }
    schema = gql_schema_build(&arena, collections, ncollections);
    if (!schema) {
        gql_errors_add(&errs, (gql_loc_t){0, 0}, "Out of memory.");
        goto out;
    }
    if (!gql_validate(schema, doc, &errs))
        goto out;
    op = select_operation(doc, operation_name, &errs);
    if (!op || !check_executable(schema, doc, op, &errs))
        goto out;
    /* graphql-js reads an array as an object without such members */
    if (json_is_array(variables))
        variables = NULL;
    if (variables && !json_is_object(variables)) {
        gql_errors_add(&errs, (gql_loc_t){0, 0},
                       "Variables must be provided as an Object where each "
                       "property is a variable value. Perhaps look to see if "
                       "an unparsed JSON string was provided.");
        goto out;
    }
    vars = coerce_variables(schema, op, variables, &errs);
    if (!vars)
        goto out;
    p.s = schema;
    p.doc = doc;
    p.vars = vars;
    p.errors = &errs;
    plan = build_plan(&p, op);
out:
    json_decref(vars);
    gql_document_free(doc);
    arena_free(&arena);
    if (!plan && errs.count == 0)
        gql_errors_add(&errs, (gql_loc_t){0, 0}, "Out of memory.");
    if (nerrors)
        *nerrors = plan ? 0 : (errs.count < errs.max ? errs.count : errs.max);
    return plan;
}
