/* The GraphQL type system the pusher exposes, derived from the collections
 * (Directus-compatible names), and its SDL form.
 *
 * For each collection C with readable columns:
 *   type C { <column>: <type> ... }
 *   type C_mutated { key: ID  event: EventEnum  cursor: String  data: C }
 *   input C_filter { <column>: <kind>_filter_operators ...
 *                    _and: [C_filter]  _or: [C_filter] }
 *   Subscription.C_mutated(event, filter, after) and the short form
 *   Subscription.C(event, filter, after), both of type C_mutated.
 *
 * Column kind -> output type: boolean Boolean; int Int; long GraphQLBigInt;
 * float, double Float; decimal, numeric, string, bytes, uuid String; date,
 * time, timestamp, timestamptz Date; json, array JSON.  A key column of
 * kind int, long, string or uuid is ID, as Directus types primary keys.
 *
 * Column kind -> filter operators: ID columns id_filter_operators; boolean
 * boolean_filter_operators; int, long, float, double, decimal, numeric
 * number_filter_operators; string, bytes, uuid string_filter_operators;
 * date, time, timestamp, timestamptz date_filter_operators; json, array
 * json_filter_operators (only _null and _nnull).
 *
 * What is left out, so that the schema stays valid and the plan never names
 * it: a column the subscriber may not read (it is absent from C and from
 * C_filter alike), a column whose name is not a GraphQL name
 * ([_A-Za-z][_0-9A-Za-z]*, not starting with "__"), a column named _and or
 * _or (from C_filter only, where those names are taken), and a collection
 * whose name is not a GraphQL name, whose generated names collide with a
 * built-in or an earlier collection's, or that has no column left.
 *
 * graphql-js's buildSchema needs a query root, so Query holds one unused
 * field; query and mutation operations are refused when compiled. */
#include "graphql_ast.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "init" is only ever sent: the first event of a resumable subscription,
 * before any change.  Asked for as an argument it selects no changes. */
static const char *const event_values[] = {"create", "update", "delete",
                                           "init"};

/* ---- helpers --------------------------------------------------------- */

gql_type_t *gql_list_of(arena_t *arena, gql_type_t *t)
{
    gql_type_t *l;

    if (!t)
        return NULL;
    if (t->list_of)
        return t->list_of;
    l = arena_alloc(arena, sizeof(*l));
    if (!l)
        return NULL;
    memset(l, 0, sizeof(*l));
    l->kind = GQL_KIND_LIST;
    l->of = t;
    t->list_of = l;
    return l;
}

gql_type_t *gql_non_null_of(arena_t *arena, gql_type_t *t)
{
    gql_type_t *n;

    if (!t || t->kind == GQL_KIND_NON_NULL)
        return t;
    if (t->non_null_of)
        return t->non_null_of;
    n = arena_alloc(arena, sizeof(*n));
    if (!n)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->kind = GQL_KIND_NON_NULL;
    n->of = t;
    t->non_null_of = n;
    return n;
}

gql_type_t *gql_named_type(gql_type_t *t)
{
    while (t && (t->kind == GQL_KIND_LIST || t->kind == GQL_KIND_NON_NULL))
        t = t->of;
    return t;
}

gql_type_t *gql_nullable_type(gql_type_t *t)
{
    return t && t->kind == GQL_KIND_NON_NULL ? t->of : t;
}

bool gql_is_input_type(const gql_type_t *t)
{
    t = gql_named_type((gql_type_t *)t);
    return t && (t->kind == GQL_KIND_SCALAR || t->kind == GQL_KIND_ENUM ||
                 t->kind == GQL_KIND_INPUT_OBJECT);
}

bool gql_is_output_type(const gql_type_t *t)
{
    t = gql_named_type((gql_type_t *)t);
    return t && (t->kind == GQL_KIND_SCALAR || t->kind == GQL_KIND_ENUM ||
                 t->kind == GQL_KIND_OBJECT);
}

bool gql_is_leaf_type(const gql_type_t *t)
{
    return t && (t->kind == GQL_KIND_SCALAR || t->kind == GQL_KIND_ENUM);
}

bool gql_is_composite_type(const gql_type_t *t)
{
    return t && t->kind == GQL_KIND_OBJECT;
}

gql_type_t *gql_schema_type(const gql_schema_t *s, const char *name)
{
    for (int i = 0; i < s->ntypes; i++)
        if (strcmp(s->types[i]->name, name) == 0)
            return s->types[i];
    return NULL;
}

const gql_directive_def_t *gql_schema_directive(const gql_schema_t *s,
                                                const char *name)
{
    for (int i = 0; i < s->ndirectives; i++)
        if (strcmp(s->directives[i].name, name) == 0)
            return &s->directives[i];
    return NULL;
}

const gql_field_def_t *gql_type_field(const gql_type_t *t, const char *name)
{
    if (!t || t->kind != GQL_KIND_OBJECT)
        return NULL;
    for (int i = 0; i < t->nfields; i++)
        if (strcmp(t->fields[i].name, name) == 0)
            return &t->fields[i];
    return NULL;
}

const gql_field_def_t *gql_field_lookup(const gql_schema_t *s,
                                        const gql_type_t *parent,
                                        const char *name)
{
    if (!parent)
        return NULL;
    if (parent == s->query && strcmp(name, "__schema") == 0)
        return &s->schema_meta;
    if (parent == s->query && strcmp(name, "__type") == 0)
        return &s->type_meta;
    if (gql_is_composite_type(parent) && strcmp(name, "__typename") == 0)
        return &s->typename_meta;
    return gql_type_field(parent, name);
}

const gql_input_value_t *gql_type_input_field(const gql_type_t *t,
                                              const char *name)
{
    if (!t || t->kind != GQL_KIND_INPUT_OBJECT)
        return NULL;
    for (int i = 0; i < t->ninput_fields; i++)
        if (strcmp(t->input_fields[i].name, name) == 0)
            return &t->input_fields[i];
    return NULL;
}

bool gql_type_has_enum_value(const gql_type_t *t, const char *name)
{
    for (int i = 0; t && i < t->nenum_values; i++)
        if (strcmp(t->enum_values[i], name) == 0)
            return true;
    return false;
}

gql_type_t *gql_type_from_ref(const gql_schema_t *s, const gql_type_ref_t *ref)
{
    switch (ref->kind) {
    case GQL_REF_NAMED:
        return gql_schema_type(s, ref->name);
    case GQL_REF_LIST:
        return gql_list_of(s->arena, gql_type_from_ref(s, ref->of));
    case GQL_REF_NON_NULL:
        return gql_non_null_of(s->arena, gql_type_from_ref(s, ref->of));
    }
    return NULL;
}

void gql_print_type(buf_t *out, const gql_type_t *t)
{
    switch (t->kind) {
    case GQL_KIND_LIST:
        buf_putc(out, '[');
        gql_print_type(out, t->of);
        buf_putc(out, ']');
        break;
    case GQL_KIND_NON_NULL:
        gql_print_type(out, t->of);
        buf_putc(out, '!');
        break;
    default:
        buf_puts(out, t->name);
    }
}

/* ---- building -------------------------------------------------------- */

typedef struct builder {
    arena_t *arena;
    gql_schema_t *s;
    int captypes;
    bool failed;
    /* names taken by types and by Subscription fields */
    const char **names;
    int nnames;
    int capnames;
} builder_t;

static void *balloc(builder_t *b, size_t size)
{
    void *p;

    if (size == 0)
        size = 1;
    p = arena_alloc(b->arena, size);
    if (!p) {
        b->failed = true;
        return NULL;
    }
    memset(p, 0, size);
    return p;
}

static const char *bstrcat(builder_t *b, const char *a, const char *c)
{
    size_t la = strlen(a), lc = strlen(c);
    char *s = balloc(b, la + lc + 1);

    if (!s)
        return "";
    memcpy(s, a, la);
    memcpy(s + la, c, lc + 1);
    return s;
}

static bool name_taken(const builder_t *b, const char *name)
{
    for (int i = 0; i < b->nnames; i++)
        if (strcmp(b->names[i], name) == 0)
            return true;
    return false;
}

static void take_name(builder_t *b, const char *name)
{
    if (b->nnames == b->capnames) {
        int cap = b->capnames ? b->capnames * 2 : 64;
        const char **n = balloc(b, (size_t)cap * sizeof(*n));

        if (!n)
            return;
        if (b->nnames)
            memcpy(n, b->names, (size_t)b->nnames * sizeof(*n));
        b->names = n;
        b->capnames = cap;
    }
    b->names[b->nnames++] = name;
}

static gql_type_t *add_type(builder_t *b, gql_type_kind_t kind,
                            const char *name)
{
    gql_schema_t *s = b->s;
    gql_type_t *t = balloc(b, sizeof(*t));

    if (!t)
        return NULL;
    if (s->ntypes == b->captypes) {
        int cap = b->captypes ? b->captypes * 2 : 32;
        gql_type_t **n = balloc(b, (size_t)cap * sizeof(*n));

        if (!n)
            return NULL;
        if (s->ntypes)
            memcpy(n, s->types, (size_t)s->ntypes * sizeof(*n));
        s->types = n;
        b->captypes = cap;
    }
    t->kind = kind;
    t->name = name;
    s->types[s->ntypes++] = t;
    take_name(b, name);
    return t;
}

static gql_type_t *add_scalar(builder_t *b, const char *name,
                              gql_scalar_t scalar)
{
    gql_type_t *t = add_type(b, GQL_KIND_SCALAR, name);

    if (t)
        t->scalar = scalar;
    return t;
}

bool gql_valid_name(const char *name)
{
    if (!name || !(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z') ||
                   (name[0] >= 'A' && name[0] <= 'Z')))
        return false;
    if (name[0] == '_' && name[1] == '_')
        return false;
    for (const char *p = name + 1; *p; p++)
        if (!(*p == '_' || (*p >= 'a' && *p <= 'z') ||
              (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return false;
    return true;
}

/* One operator input type: names and the type each takes. */
typedef struct op_spec {
    const char *names; /* space-separated */
    const char *type;  /* "String", "[String]" */
} op_spec_t;

static gql_type_t *type_by_spec(builder_t *b, const char *spec)
{
    bool list = spec[0] == '[';
    char name[64];
    gql_type_t *t;

    snprintf(name, sizeof(name), "%.*s", (int)strcspn(spec + list, "]"),
             spec + list);
    t = gql_schema_type(b->s, name);
    return list ? gql_list_of(b->arena, t) : t;
}

static gql_type_t *add_operators(builder_t *b, const char *name,
                                 const op_spec_t *specs, int nspecs)
{
    gql_type_t *t = add_type(b, GQL_KIND_INPUT_OBJECT, name);
    int n = 0;

    if (!t)
        return NULL;
    for (int i = 0; i < nspecs; i++)
        for (const char *p = specs[i].names; *p; p += strspn(p, " "))
            n++, p += strcspn(p, " ");
    t->input_fields = balloc(b, (size_t)n * sizeof(*t->input_fields));
    if (!t->input_fields)
        return NULL;
    for (int i = 0; i < nspecs; i++) {
        gql_type_t *ft = type_by_spec(b, specs[i].type);
        const char *p = specs[i].names;

        while (*p) {
            size_t len = strcspn(p, " ");
            char *nm = balloc(b, len + 1);

            if (!nm)
                return NULL;
            memcpy(nm, p, len);
            t->input_fields[t->ninput_fields].name = nm;
            t->input_fields[t->ninput_fields].type = ft;
            t->ninput_fields++;
            p += len;
            p += strspn(p, " ");
        }
    }
    return t;
}

#define STRING_OPS                                                             \
    "_contains _ncontains _icontains _starts_with _nstarts_with "              \
    "_istarts_with _ends_with _nends_with _iends_with"

static void add_operator_types(builder_t *b)
{
    static const op_spec_t string_ops[] = {
        {"_eq _neq " STRING_OPS, "String"},
        {"_in _nin", "[String]"},
        {"_null _nnull _empty _nempty", "Boolean"},
    };
    static const op_spec_t number_ops[] = {
        {"_eq _neq _lt _lte _gt _gte", "GraphQLStringOrFloat"},
        {"_in _nin _between _nbetween", "[GraphQLStringOrFloat]"},
        {"_null _nnull", "Boolean"},
    };
    static const op_spec_t boolean_ops[] = {
        {"_eq _neq _null _nnull", "Boolean"},
    };
    static const op_spec_t date_ops[] = {
        {"_eq _neq _lt _lte _gt _gte", "String"},
        {"_in _nin", "[String]"},
        {"_between _nbetween", "[GraphQLStringOrFloat]"},
        {"_null _nnull", "Boolean"},
    };
    static const op_spec_t id_ops[] = {
        {"_eq _neq", "ID"},
        {"_in _nin", "[ID]"},
        {"_lt _lte _gt _gte", "GraphQLStringOrFloat"},
        {"_between _nbetween", "[GraphQLStringOrFloat]"},
        {STRING_OPS, "String"},
        {"_null _nnull", "Boolean"},
    };
    static const op_spec_t json_ops[] = {
        {"_null _nnull", "Boolean"},
    };
#define ADD(name, specs)                                                       \
    add_operators(b, name, specs, (int)(sizeof(specs) / sizeof(*specs)))
    ADD("string_filter_operators", string_ops);
    ADD("number_filter_operators", number_ops);
    ADD("boolean_filter_operators", boolean_ops);
    ADD("date_filter_operators", date_ops);
    ADD("id_filter_operators", id_ops);
    ADD("json_filter_operators", json_ops);
#undef ADD
}

static bool is_id_column(const column_t *c)
{
    return c->key && (c->type == COLTYPE_INT || c->type == COLTYPE_LONG ||
                      c->type == COLTYPE_STRING || c->type == COLTYPE_UUID);
}

static const char *output_type_name(const column_t *c)
{
    if (is_id_column(c))
        return "ID";
    switch (c->type) {
    case COLTYPE_BOOLEAN:
        return "Boolean";
    case COLTYPE_INT:
        return "Int";
    case COLTYPE_LONG:
        return "GraphQLBigInt";
    case COLTYPE_FLOAT:
    case COLTYPE_DOUBLE:
        return "Float";
    case COLTYPE_DATE:
    case COLTYPE_TIME:
    case COLTYPE_TIMESTAMP:
    case COLTYPE_TIMESTAMPTZ:
        return "Date";
    case COLTYPE_JSON:
    case COLTYPE_ARRAY:
        return "JSON";
    default:
        return "String";
    }
}

static const char *filter_type_name(const column_t *c)
{
    if (is_id_column(c))
        return "id_filter_operators";
    switch (c->type) {
    case COLTYPE_BOOLEAN:
        return "boolean_filter_operators";
    case COLTYPE_INT:
    case COLTYPE_LONG:
    case COLTYPE_FLOAT:
    case COLTYPE_DOUBLE:
    case COLTYPE_DECIMAL:
    case COLTYPE_NUMERIC:
        return "number_filter_operators";
    case COLTYPE_DATE:
    case COLTYPE_TIME:
    case COLTYPE_TIMESTAMP:
    case COLTYPE_TIMESTAMPTZ:
        return "date_filter_operators";
    case COLTYPE_JSON:
    case COLTYPE_ARRAY:
        return "json_filter_operators";
    default:
        return "string_filter_operators";
    }
}

static bool column_exposed(const gql_collection_t *col, int i)
{
    if (!gql_valid_name(col->schema->cols[i].name))
        return false;
    return !col->may_read || col->may_read(col->arg, i);
}

/* Adds C, C_mutated and C_filter for one collection, or nothing when it
 * cannot be exposed (see the top of this file). */
static void add_collection(builder_t *b, const gql_collection_t *col,
                           gql_schema_collection_t *out, int *nout)
{
    const table_schema_t *ts = col->schema;
    const char *mutated, *filter;
    gql_type_t *obj, *mut, *flt, *id;
    int nexposed = 0, nfilter = 0;

    if (!ts || !gql_valid_name(col->name))
        return;
    mutated = bstrcat(b, col->name, "_mutated");
    filter = bstrcat(b, col->name, "_filter");
    if (name_taken(b, col->name) || name_taken(b, mutated) ||
        name_taken(b, filter))
        return;
    for (int i = 0; i < ts->ncols; i++) {
        if (!column_exposed(col, i))
            continue;
        nexposed++;
        if (strcmp(ts->cols[i].name, "_and") && strcmp(ts->cols[i].name, "_or"))
            nfilter++;
    }
    if (nexposed == 0)
        return;

    obj = add_type(b, GQL_KIND_OBJECT, bstrcat(b, col->name, ""));
    mut = add_type(b, GQL_KIND_OBJECT, mutated);
    flt = add_type(b, GQL_KIND_INPUT_OBJECT, filter);
    if (!obj || !mut || !flt)
        return;

    obj->fields = balloc(b, (size_t)nexposed * sizeof(*obj->fields));
    flt->input_fields =
        balloc(b, (size_t)(nfilter + 2) * sizeof(*flt->input_fields));
    if (!obj->fields || !flt->input_fields)
        return;
    for (int i = 0; i < ts->ncols; i++) {
        const column_t *c = &ts->cols[i];
        gql_field_def_t *f;
        gql_input_value_t *in;

        if (!column_exposed(col, i))
            continue;
        f = &obj->fields[obj->nfields++];
        f->name = c->name;
        f->type = gql_schema_type(b->s, output_type_name(c));
        f->role = GQL_ROLE_COLUMN;
        f->column = i;
        if (!strcmp(c->name, "_and") || !strcmp(c->name, "_or"))
            continue;
        in = &flt->input_fields[flt->ninput_fields++];
        in->name = c->name;
        in->type = gql_schema_type(b->s, filter_type_name(c));
    }
    flt->input_fields[flt->ninput_fields].name = "_and";
    flt->input_fields[flt->ninput_fields++].type = gql_list_of(b->arena, flt);
    flt->input_fields[flt->ninput_fields].name = "_or";
    flt->input_fields[flt->ninput_fields++].type = gql_list_of(b->arena, flt);

    mut->fields = balloc(b, 4 * sizeof(*mut->fields));
    if (!mut->fields)
        return;
    id = gql_schema_type(b->s, "ID");
    /* Nullable: the init event has no key, nor has a table without one. */
    mut->fields[0] =
        (gql_field_def_t){.name = "key", .type = id, .role = GQL_ROLE_KEY};
    mut->fields[1] = (gql_field_def_t){
        .name = "event", .type = b->s->event_enum, .role = GQL_ROLE_EVENT};
    mut->fields[2] = (gql_field_def_t){.name = "cursor",
                                       .type = gql_schema_type(b->s, "String"),
                                       .role = GQL_ROLE_CURSOR};
    mut->fields[3] =
        (gql_field_def_t){.name = "data", .type = obj, .role = GQL_ROLE_DATA};
    mut->nfields = 4;

    take_name(b, mutated); /* the root field names */
    take_name(b, obj->name);
    out[*nout] = (gql_schema_collection_t){
        .name = obj->name,
        .table = ts,
        .object = obj,
        .mutated = mut,
        .filter = flt,
    };
    (*nout)++;
}

/* The introspection types graphql-js puts in every schema; the validator
 * needs them to judge documents that name them, even though the pusher
 * does not answer introspection.  One string per type: "type Name
 * field:Type field(arg:Type=):Type ..." ('=' marks an argument with a
 * default) or "enum Name VALUE ...". */
static const char *const introspection_types[] = {
    "type __Schema description:String types:[__Type!]! queryType:__Type! "
    "mutationType:__Type subscriptionType:__Type "
    "directives(includeDeprecated:Boolean!=):[__Directive!]!",
    "type __Type kind:__TypeKind! name:String description:String "
    "specifiedByURL:String fields(includeDeprecated:Boolean=):[__Field!] "
    "interfaces:[__Type!] possibleTypes:[__Type!] "
    "enumValues(includeDeprecated:Boolean=):[__EnumValue!] "
    "inputFields(includeDeprecated:Boolean=):[__InputValue!] ofType:__Type "
    "isOneOf:Boolean",
    "enum __TypeKind SCALAR OBJECT INTERFACE UNION ENUM INPUT_OBJECT LIST "
    "NON_NULL",
    "type __Field name:String! description:String "
    "args(includeDeprecated:Boolean=):[__InputValue!]! type:__Type! "
    "isDeprecated:Boolean! deprecationReason:String",
    "type __InputValue name:String! description:String type:__Type! "
    "defaultValue:String isDeprecated:Boolean! deprecationReason:String",
    "type __EnumValue name:String! description:String isDeprecated:Boolean! "
    "deprecationReason:String",
    "type __Directive name:String! description:String isRepeatable:Boolean! "
    "locations:[__DirectiveLocation!]! "
    "args(includeDeprecated:Boolean=):[__InputValue!]! isDeprecated:Boolean! "
    "deprecationReason:String",
    "enum __DirectiveLocation QUERY MUTATION SUBSCRIPTION FIELD "
    "FRAGMENT_DEFINITION FRAGMENT_SPREAD INLINE_FRAGMENT VARIABLE_DEFINITION "
    "SCHEMA SCALAR OBJECT FIELD_DEFINITION ARGUMENT_DEFINITION INTERFACE "
    "UNION ENUM ENUM_VALUE INPUT_OBJECT INPUT_FIELD_DEFINITION "
    "DIRECTIVE_DEFINITION",
};

/* Copies the next word of a spec (up to one of stop) into the arena. */
static const char *spec_word(builder_t *b, const char **p, const char *stop)
{
    size_t n = strcspn(*p, stop);
    char *w = balloc(b, n + 1);

    if (w)
        memcpy(w, *p, n);
    *p += n;
    return w ? w : "";
}

/* "[Name!]!" -> the type; advances *p past it. */
static gql_type_t *spec_type(builder_t *b, const char **p)
{
    gql_type_t *t;

    if (**p == '[') {
        (*p)++;
        t = gql_list_of(b->arena, spec_type(b, p));
        if (**p == ']')
            (*p)++;
    } else {
        t = gql_schema_type(b->s, spec_word(b, p, "!]=,) "));
    }
    if (**p == '!') {
        (*p)++;
        t = gql_non_null_of(b->arena, t);
    }
    return t;
}

static void spec_fields(builder_t *b, gql_type_t *t, const char *p)
{
    int n = 0, depth = 0;

    for (const char *q = p; *q; q++) {
        depth += (*q == '(') - (*q == ')');
        n += *q == ':' && depth == 0;
    }
    t->fields = balloc(b, (size_t)n * sizeof(*t->fields));
    if (!t->fields)
        return;
    while (*p) {
        gql_field_def_t *f = &t->fields[t->nfields];

        p += strspn(p, " ");
        f->name = spec_word(b, &p, "(:");
        if (*p == '(') {
            f->args = balloc(b, sizeof(*f->args));
            if (!f->args)
                return;
            p++;
            f->args[0].name = spec_word(b, &p, ":");
            p++;
            f->args[0].type = spec_type(b, &p);
            f->args[0].has_default = *p == '=';
            p += strcspn(p, ")") + 1;
            f->nargs = 1;
        }
        p++; /* the colon */
        f->type = spec_type(b, &p);
        t->nfields++;
        p += strspn(p, " ");
    }
}

static void add_introspection_types(builder_t *b)
{
    size_t n = sizeof(introspection_types) / sizeof(*introspection_types);
    gql_type_t
        *types[sizeof(introspection_types) / sizeof(*introspection_types)];

    for (size_t i = 0; i < n && !b->failed; i++) {
        const char *p = introspection_types[i];
        bool is_enum = strncmp(p, "enum ", 5) == 0;

        p = strchr(p, ' ') + 1;
        types[i] = add_type(b, is_enum ? GQL_KIND_ENUM : GQL_KIND_OBJECT,
                            spec_word(b, &p, " "));
        if (!types[i])
            return;
        if (is_enum) {
            int nv = 0;
            const char **vals;

            for (const char *q = p; *q; q++)
                nv += *q == ' ';
            vals = balloc(b, (size_t)nv * sizeof(*vals));
            if (!vals)
                return;
            while (*p == ' ') {
                p++;
                vals[types[i]->nenum_values++] = spec_word(b, &p, " ");
            }
            types[i]->enum_values = vals;
        }
    }
    /* fields refer to each other, so they come once every type exists */
    for (size_t i = 0; i < n && !b->failed; i++) {
        const char *p = introspection_types[i];

        if (types[i]->kind == GQL_KIND_OBJECT)
            spec_fields(b, types[i], strchr(strchr(p, ' ') + 1, ' ') + 1);
    }
}

static void mark_used(gql_type_t *t, gql_type_t **used, int *nused)
{
    t = gql_named_type(t);
    for (int i = 0; i < *nused; i++)
        if (used[i] == t)
            return;
    used[(*nused)++] = t;
}

/* graphql-js lists a built-in scalar only when a field, argument or
 * input field refers to it: "Float" is an unknown type in a schema
 * without a float column.  Does the same. */
static void drop_unused_scalars(builder_t *b)
{
    gql_schema_t *s = b->s;
    gql_type_t **used = balloc(b, (size_t)(s->ntypes + 4) * sizeof(*used));
    int nused = 0, n = 0;

    if (!used)
        return;
    mark_used(s->schema_meta.type, used, &nused);
    mark_used(s->type_meta.type, used, &nused);
    for (int i = 0; i < s->ndirectives; i++)
        for (int j = 0; j < s->directives[i].nargs; j++)
            mark_used(s->directives[i].args[j].type, used, &nused);
    for (int i = 0; i < s->ntypes; i++) {
        gql_type_t *t = s->types[i];

        for (int j = 0; j < t->nfields; j++) {
            mark_used(t->fields[j].type, used, &nused);
            for (int k = 0; k < t->fields[j].nargs; k++)
                mark_used(t->fields[j].args[k].type, used, &nused);
        }
        for (int j = 0; j < t->ninput_fields; j++)
            mark_used(t->input_fields[j].type, used, &nused);
    }
    for (int i = 0; i < s->ntypes; i++) {
        gql_type_t *t = s->types[i];
        bool keep = true;

        if (t->kind == GQL_KIND_SCALAR && t->scalar != GQL_SCALAR_CUSTOM) {
            keep = false;
            for (int j = 0; j < nused; j++)
                keep |= used[j] == t;
        }
        if (keep)
            s->types[n++] = t;
    }
    s->ntypes = n;
}

static gql_input_value_t *root_args(builder_t *b, gql_type_t *filter)
{
    gql_input_value_t *a = balloc(b, 3 * sizeof(*a));

    if (!a)
        return NULL;
    a[0] = (gql_input_value_t){"event", b->s->event_enum, false};
    a[1] = (gql_input_value_t){"filter", filter, false};
    a[2] = (gql_input_value_t){"after", gql_schema_type(b->s, "String"), false};
    return a;
}

static void add_directives(builder_t *b)
{
    gql_schema_t *s = b->s;
    gql_type_t *boolean = gql_non_null_of(b->arena, s->boolean);
    gql_type_t *string = gql_schema_type(s, "String");
    gql_input_value_t *args = balloc(b, 4 * sizeof(*args));
    unsigned conditional = GQL_DIRLOC_FIELD | GQL_DIRLOC_FRAGMENT_SPREAD |
                           GQL_DIRLOC_INLINE_FRAGMENT;

    s->directives = balloc(b, 5 * sizeof(*s->directives));
    if (!args || !s->directives)
        return;
    args[0] = (gql_input_value_t){"if", boolean, false};
    args[1] = (gql_input_value_t){"if", boolean, false};
    args[2] = (gql_input_value_t){"reason", string, true};
    args[3] =
        (gql_input_value_t){"url", gql_non_null_of(b->arena, string), false};
    s->directives[0] =
        (gql_directive_def_t){"include", conditional, &args[0], 1};
    s->directives[1] = (gql_directive_def_t){"skip", conditional, &args[1], 1};
    s->directives[2] =
        (gql_directive_def_t){"deprecated", GQL_DIRLOC_OTHER, &args[2], 1};
    s->directives[3] =
        (gql_directive_def_t){"specifiedBy", GQL_DIRLOC_OTHER, &args[3], 1};
    s->directives[4] =
        (gql_directive_def_t){"oneOf", GQL_DIRLOC_OTHER, NULL, 0};
    s->ndirectives = 5;
}

gql_schema_t *gql_schema_build(arena_t *arena, const gql_collection_t *cols,
                               int ncols)
{
    builder_t b = {.arena = arena};
    gql_schema_t *s = balloc(&b, sizeof(*s));
    gql_type_t *query, *sub;
    int nroot;

    if (!s)
        return NULL;
    b.s = s;
    s->arena = arena;

    /* built-in scalars come first so everything below can refer to them;
     * Mutation is reserved so no collection becomes a mutation root */
    add_scalar(&b, "String", GQL_SCALAR_STRING);
    add_scalar(&b, "Int", GQL_SCALAR_INT);
    add_scalar(&b, "Float", GQL_SCALAR_FLOAT);
    s->boolean = add_scalar(&b, "Boolean", GQL_SCALAR_BOOLEAN);
    add_scalar(&b, "ID", GQL_SCALAR_ID);
    take_name(&b, "Mutation");
    query = add_type(&b, GQL_KIND_OBJECT, "Query");
    sub = add_type(&b, GQL_KIND_OBJECT, "Subscription");
    s->event_enum = add_type(&b, GQL_KIND_ENUM, "EventEnum");
    if (b.failed)
        return NULL;
    s->event_enum->enum_values = (const char **)event_values;
    s->event_enum->nenum_values = 4;
    add_scalar(&b, "JSON", GQL_SCALAR_CUSTOM);
    add_scalar(&b, "Date", GQL_SCALAR_CUSTOM);
    add_scalar(&b, "GraphQLBigInt", GQL_SCALAR_CUSTOM);
    add_scalar(&b, "GraphQLStringOrFloat", GQL_SCALAR_CUSTOM);
    add_operator_types(&b);
    add_directives(&b);
    add_introspection_types(&b);
    if (b.failed)
        return NULL;
    s->schema_meta = (gql_field_def_t){
        .name = "__schema",
        .type = gql_non_null_of(arena, gql_schema_type(s, "__Schema"))};
    s->type_meta =
        (gql_field_def_t){.name = "__type",
                          .type = gql_schema_type(s, "__Type"),
                          .args = balloc(&b, sizeof(gql_input_value_t)),
                          .nargs = 1};
    s->typename_meta = (gql_field_def_t){
        .name = "__typename",
        .type = gql_non_null_of(arena, gql_schema_type(s, "String"))};
    if (b.failed)
        return NULL;
    s->type_meta.args[0] = (gql_input_value_t){
        "name", gql_non_null_of(arena, gql_schema_type(s, "String")), false};

    query->fields = balloc(&b, sizeof(*query->fields));
    if (!query->fields)
        return NULL;
    query->fields[0] = (gql_field_def_t){.name = "_empty", .type = s->boolean};
    query->nfields = 1;
    s->query = query;

    s->collections =
        balloc(&b, (size_t)(ncols > 0 ? ncols : 1) * sizeof(*s->collections));
    for (int i = 0; i < ncols && !b.failed; i++)
        add_collection(&b, &cols[i], s->collections, &s->ncollections);
    if (b.failed)
        return NULL;

    if (s->ncollections == 0) {
        /* an object type needs a field: without collections there is no
         * subscription root at all */
        for (int i = 0; i < s->ntypes; i++)
            if (s->types[i] == sub)
                memmove(&s->types[i], &s->types[i + 1],
                        (size_t)(s->ntypes - i - 1) * sizeof(*s->types));
        s->ntypes--;
        drop_unused_scalars(&b);
        return b.failed ? NULL : s;
    }
    sub->fields =
        balloc(&b, (size_t)s->ncollections * 2 * sizeof(*sub->fields));
    if (!sub->fields)
        return NULL;
    nroot = 0;
    for (int i = 0; i < s->ncollections; i++) {
        gql_schema_collection_t *c = &s->collections[i];
        gql_input_value_t *args = root_args(&b, c->filter);

        if (!args)
            return NULL;
        sub->fields[nroot++] = (gql_field_def_t){.name = c->mutated->name,
                                                 .type = c->mutated,
                                                 .args = args,
                                                 .nargs = 3,
                                                 .role = GQL_ROLE_ROOT,
                                                 .collection = i};
        sub->fields[nroot++] = (gql_field_def_t){.name = c->name,
                                                 .type = c->mutated,
                                                 .args = args,
                                                 .nargs = 3,
                                                 .role = GQL_ROLE_ROOT,
                                                 .collection = i,
                                                 .short_form = true};
    }
    sub->nfields = nroot;
    s->subscription = sub;
    drop_unused_scalars(&b);
    return b.failed ? NULL : s;
}

/* ---- SDL ------------------------------------------------------------- */

static bool is_builtin_scalar(const gql_type_t *t)
{
    return t->kind == GQL_KIND_SCALAR && t->scalar != GQL_SCALAR_CUSTOM;
}

static void print_object(buf_t *out, const gql_type_t *t)
{
    buf_printf(out, "type %s {\n", t->name);
    for (int i = 0; i < t->nfields; i++) {
        const gql_field_def_t *f = &t->fields[i];

        buf_printf(out, "  %s", f->name);
        if (f->nargs) {
            buf_putc(out, '(');
            for (int j = 0; j < f->nargs; j++) {
                buf_printf(out, "%s%s: ", j ? ", " : "", f->args[j].name);
                gql_print_type(out, f->args[j].type);
            }
            buf_putc(out, ')');
        }
        buf_puts(out, ": ");
        gql_print_type(out, f->type);
        buf_putc(out, '\n');
    }
    buf_puts(out, "}\n");
}

static void print_input(buf_t *out, const gql_type_t *t)
{
    buf_printf(out, "input %s {\n", t->name);
    for (int i = 0; i < t->ninput_fields; i++) {
        buf_printf(out, "  %s: ", t->input_fields[i].name);
        gql_print_type(out, t->input_fields[i].type);
        buf_putc(out, '\n');
    }
    buf_puts(out, "}\n");
}

bool gql_print_sdl(const gql_collection_t *collections, int ncollections,
                   buf_t *out)
{
    arena_t arena;
    gql_schema_t *s;
    bool ok;

    arena_init(&arena, 0);
    s = gql_schema_build(&arena, collections, ncollections);
    if (!s) {
        arena_free(&arena);
        return false;
    }
    buf_puts(out, "# The schema of the pusher's GraphQL subscriptions.\n");
    for (int i = 0; i < s->ntypes; i++) {
        const gql_type_t *t = s->types[i];

        if (is_builtin_scalar(t) || strncmp(t->name, "__", 2) == 0)
            continue;
        buf_putc(out, '\n');
        switch (t->kind) {
        case GQL_KIND_OBJECT:
            print_object(out, t);
            break;
        case GQL_KIND_INPUT_OBJECT:
            print_input(out, t);
            break;
        case GQL_KIND_ENUM:
            buf_printf(out, "enum %s {\n", t->name);
            for (int j = 0; j < t->nenum_values; j++)
                buf_printf(out, "  %s\n", t->enum_values[j]);
            buf_puts(out, "}\n");
            break;
        case GQL_KIND_SCALAR:
            buf_printf(out, "scalar %s\n", t->name);
            break;
        default:
            break;
        }
    }
    ok = !out->overflow;
    arena_free(&arena);
    return ok;
}
