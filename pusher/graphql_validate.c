/* Validation of executable documents against our schema: the rules of the
 * GraphQL specification as graphql-js 16 runs them (its specifiedRules):
 * ExecutableDefinitions, UniqueOperationNames, LoneAnonymousOperation,
 * SingleFieldSubscriptions, KnownTypeNames, FragmentsOnCompositeTypes,
 * VariablesAreInputTypes, ScalarLeafs, FieldsOnCorrectType,
 * UniqueFragmentNames, KnownFragmentNames, NoUnusedFragments,
 * PossibleFragmentSpreads, NoFragmentCycles, UniqueVariableNames,
 * NoUndefinedVariables, NoUnusedVariables, KnownDirectives,
 * UniqueDirectivesPerLocation, KnownArgumentNames, UniqueArgumentNames,
 * ValuesOfCorrectType, ProvidedRequiredArguments,
 * VariablesInAllowedPosition, OverlappingFieldsCanBeMerged,
 * UniqueInputFieldNames and MaxIntrospectionDepth.  The document is walked
 * once, in document order, keeping graphql-js's TypeInfo (the output type,
 * parent type, field, directive and input type at each node), so a rule
 * sees what graphql-js's sees and messages come in a similar order.
 * Inside type system definitions, which are errors already, nothing but
 * "not executable" is reported.  Past GQL_MAX_ERRORS errors, or when the
 * field-merging check has done too much work, validation stops with an
 * error saying so. */
#include "graphql_ast.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Work allowed to the field-merging check, in graphql-js's units. */
#define OVERLAP_BUDGET      500000
#define MAX_CONFLICT_DETAIL 1000

/* ---- suggestions ----------------------------------------------------- */

static int natural_compare(const char *a, const char *b)
{
    size_t i = 0, j = 0, la = strlen(a), lb = strlen(b);

    while (i < la && j < lb) {
        unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[j];

        if (ca >= '0' && ca <= '9' && cb >= '0' && cb <= '9') {
            double na = 0, nb = 0;

            do {
                na = na * 10 + (a[i++] - '0');
            } while (i < la && a[i] >= '0' && a[i] <= '9' && na > 0);
            do {
                nb = nb * 10 + (b[j++] - '0');
            } while (j < lb && b[j] >= '0' && b[j] <= '9' && nb > 0);
            if (na != nb)
                return na < nb ? -1 : 1;
        } else {
            if (ca != cb)
                return ca < cb ? -1 : 1;
            i++;
            j++;
        }
    }
    return (int)la - (int)lb;
}

static void lower(const char *s, char *out, size_t n)
{
    size_t i;

    for (i = 0; i + 1 < n && s[i]; i++)
        out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
    out[i] = 0;
}

/* Optimal string alignment distance between input and option (both
 * lowercased), or -1 past threshold: graphql-js's LexicalDistance. */
static int lexical_distance(const char *input, const char *option,
                            int threshold)
{
    char a[128], b[128];
    int rows[3][128];
    int la, lb;

    if (strcmp(input, option) == 0)
        return 0;
    if (strlen(input) >= sizeof(a) || strlen(option) >= sizeof(a))
        return -1;
    lower(option, a, sizeof(a));
    lower(input, b, sizeof(b));
    if (strcmp(a, b) == 0)
        return 1;
    la = (int)strlen(a);
    lb = (int)strlen(b);
    if (la < lb) {
        char t[128];
        int tl = la;

        memcpy(t, a, sizeof(t));
        memcpy(a, b, sizeof(a));
        memcpy(b, t, sizeof(b));
        la = lb;
        lb = tl;
    }
    if (la - lb > threshold)
        return -1;
    for (int j = 0; j <= lb; j++)
        rows[0][j] = j;
    for (int i = 1; i <= la; i++) {
        int *up = rows[(i - 1) % 3], *cur = rows[i % 3];
        int smallest = cur[0] = i;

        for (int j = 1; j <= lb; j++) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int cell = up[j] + 1;

            if (cur[j - 1] + 1 < cell)
                cell = cur[j - 1] + 1;
            if (up[j - 1] + cost < cell)
                cell = up[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && rows[(i - 2) % 3][j - 2] + 1 < cell)
                cell = rows[(i - 2) % 3][j - 2] + 1;
            if (cell < smallest)
                smallest = cell;
            cur[j] = cell;
        }
        if (smallest > threshold)
            return -1;
    }
    return rows[la % 3][lb] <= threshold ? rows[la % 3][lb] : -1;
}

void gql_did_you_mean(buf_t *out, const char *input, const char *const *opts,
                      int nopts, const char *submessage)
{
    const char *best[5];
    int dist[5], n = 0;
    int threshold = (int)(strlen(input) * 4 / 10) + 1;

    /* keep the five best by distance, then natural order */
    for (int i = 0; i < nopts; i++) {
        int d = lexical_distance(input, opts[i], threshold), k;

        if (d < 0)
            continue;
        for (k = n; k > 0; k--) {
            if (dist[k - 1] < d || (dist[k - 1] == d &&
                                    natural_compare(best[k - 1], opts[i]) <= 0))
                break;
        }
        if (k >= 5)
            continue;
        if (n < 5)
            n++;
        memmove(&best[k + 1], &best[k], (size_t)(n - 1 - k) * sizeof(*best));
        memmove(&dist[k + 1], &dist[k], (size_t)(n - 1 - k) * sizeof(*dist));
        best[k] = opts[i];
        dist[k] = d;
    }
    if (n == 0)
        return;
    buf_puts(out, " Did you mean ");
    if (submessage)
        buf_printf(out, "%s ", submessage);
    for (int i = 0; i < n; i++) {
        if (i > 0 && n == 2)
            buf_puts(out, " or ");
        else if (i > 0)
            buf_puts(out, i == n - 1 ? ", or " : ", ");
        buf_printf(out, "\"%s\"", best[i]);
    }
    buf_putc(out, '?');
}

/* ---- literals of leaf types ----------------------------------------- */

bool gql_leaf_accepts_literal(const gql_type_t *t, const gql_value_t *v,
                              buf_t *msg)
{
    if (t->kind == GQL_KIND_ENUM) {
        buf_t printed;
        const char *what;

        if (v->kind == GQL_VAL_ENUM && gql_type_has_enum_value(t, v->str))
            return true;
        buf_init(&printed, 0);
        gql_print_value(&printed, v);
        what = buf_cstr(&printed);
        if (!what)
            what = "";
        if (v->kind != GQL_VAL_ENUM)
            buf_printf(msg, "Enum \"%s\" cannot represent non-enum value: %s.",
                       t->name, what);
        else
            buf_printf(msg, "Value \"%s\" does not exist in \"%s\" enum.", what,
                       t->name);
        gql_did_you_mean(msg, what, t->enum_values, t->nenum_values,
                         "the enum value");
        buf_free(&printed);
        return false;
    }
    switch (t->scalar) {
    case GQL_SCALAR_INT:
        if (v->kind == GQL_VAL_INT) {
            long long n;

            errno = 0;
            n = strtoll(v->str, NULL, 10);
            if (errno == 0 && n >= -2147483648LL && n <= 2147483647LL)
                return true;
            buf_printf(msg,
                       "Int cannot represent non 32-bit signed integer "
                       "value: %s",
                       v->str);
            return false;
        }
        buf_puts(msg, "Int cannot represent non-integer value: ");
        break;
    case GQL_SCALAR_FLOAT:
        if (v->kind == GQL_VAL_INT || v->kind == GQL_VAL_FLOAT)
            return true;
        buf_puts(msg, "Float cannot represent non numeric value: ");
        break;
    case GQL_SCALAR_STRING:
        if (v->kind == GQL_VAL_STRING)
            return true;
        buf_puts(msg, "String cannot represent a non string value: ");
        break;
    case GQL_SCALAR_BOOLEAN:
        if (v->kind == GQL_VAL_BOOLEAN)
            return true;
        buf_puts(msg, "Boolean cannot represent a non boolean value: ");
        break;
    case GQL_SCALAR_ID:
        if (v->kind == GQL_VAL_STRING || v->kind == GQL_VAL_INT)
            return true;
        buf_puts(msg, "ID cannot represent a non-string and non-integer "
                      "value: ");
        break;
    case GQL_SCALAR_CUSTOM:
        /* schema-defined scalars take any literal, as buildSchema's do */
        return true;
    }
    gql_print_value(msg, v);
    return false;
}

/* ---- inspect --------------------------------------------------------- */

static void inspect_number(buf_t *out, double d)
{
    char tmp[40];

    if (d == floor(d) && fabs(d) < 1e21) {
        snprintf(tmp, sizeof(tmp), "%.0f", d);
    } else {
        /* the shortest text that reads back the same, as JavaScript
         * prints numbers */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
            if (strtod(tmp, NULL) == d)
                break;
        }
    }
    buf_puts(out, strcmp(tmp, "-0") == 0 ? "0" : tmp);
}

/* depth counts the arrays and objects around v, as graphql-js limits
 * them to two levels */
static void inspect_value(buf_t *out, const json_t *v, int depth)
{
    const char *key;
    json_t *item;
    size_t i, n;

    switch (json_typeof(v)) {
    case JSON_STRING:
        buf_json_string(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        buf_printf(out, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        inspect_number(out, json_real_value(v));
        break;
    case JSON_TRUE:
        buf_puts(out, "true");
        break;
    case JSON_FALSE:
        buf_puts(out, "false");
        break;
    case JSON_NULL:
        buf_puts(out, "null");
        break;
    case JSON_ARRAY:
        n = json_array_size(v);
        if (n == 0) {
            buf_puts(out, "[]");
            break;
        }
        if (depth > 1) {
            buf_puts(out, "[Array]");
            break;
        }
        buf_putc(out, '[');
        for (i = 0; i < n && i < 10; i++) {
            if (i)
                buf_puts(out, ", ");
            inspect_value(out, json_array_get(v, i), depth + 1);
        }
        if (n > 10)
            buf_printf(out, ", ... %zu more item%s", n - 10,
                       n - 10 == 1 ? "" : "s");
        buf_putc(out, ']');
        break;
    case JSON_OBJECT:
        if (json_object_size(v) == 0) {
            buf_puts(out, "{}");
            break;
        }
        if (depth > 1) {
            buf_puts(out, "[Object]");
            break;
        }
        buf_puts(out, "{ ");
        i = 0;
        json_object_foreach((json_t *)v, key, item)
        {
            buf_printf(out, "%s%s: ", i++ ? ", " : "", key);
            inspect_value(out, item, depth + 1);
        }
        buf_puts(out, " }");
        break;
    }
}

void gql_inspect_json(buf_t *out, const json_t *v)
{
    inspect_value(out, v, 0);
}

/* ---- context --------------------------------------------------------- */

typedef struct smap_entry {
    const char *key;
    void *val;
    struct smap_entry *next;
} smap_entry_t;

/* A small string-keyed map in the arena. */
typedef struct smap {
    smap_entry_t *buckets[256];
} smap_t;

/* A variable used somewhere, with the type its position expects. */
typedef struct usage {
    const gql_value_t *var;
    gql_type_t *type;
    bool has_default;
} usage_t;

typedef struct usages {
    usage_t *items;
    int n;
    int cap;
} usages_t;

/* The definition getFragment() returns for a name (the last one written)
 * and the variables it uses. */
typedef struct fragment {
    const gql_definition_t *def;
    int id; /* 0, 1, ... in the order names first appear */
    usages_t usages;
} fragment_t;

typedef struct names {
    const char **items;
    int n;
    int cap;
} names_t;

/* The fields of one selection set, grouped by response name, and the
 * fragments it spreads: graphql-js's collectFields for field merging. */
typedef struct field_info {
    gql_type_t *parent;
    const gql_selection_t *node;
    const gql_field_def_t *def;
} field_info_t;

typedef struct field_group {
    const char *name;
    field_info_t *items;
    int n;
    int cap;
} field_group_t;

typedef struct collected {
    gql_type_t *parent;
    const gql_selection_set_t *set;
    field_group_t *groups;
    int ngroups;
    int capgroups;
    smap_t *index; /* groups by name, once there are many */
    names_t fragments;
    /* by fragment id: 0 not compared with these fields yet, 1 compared
     * for overlapping parents, 2 for exclusive ones */
    unsigned char *compared;
    struct collected *next;
} collected_t;

/* Fragment pairs already compared (graphql-js's PairSet), keyed by the
 * two fragment ids. */
typedef struct pair_set {
    uint64_t *keys; /* (a << 32 | b) + 1; 0 marks a free slot */
    unsigned char *exclusive;
    size_t cap;
    size_t n;
} pair_set_t;

typedef struct conflict {
    const char *name;
    const char *reason;
    gql_loc_t loc;
} conflict_t;

typedef struct conflicts {
    conflict_t *items;
    int n;
    int cap;
} conflicts_t;

typedef struct vctx {
    const gql_schema_t *s;
    arena_t *arena;
    const gql_document_t *doc;
    gql_errors_t *errors;
    jmp_buf abort;
    bool report; /* false while only collecting variable usages */
    usages_t *usages;
    /* TypeInfo */
    const gql_field_def_t *field_def;
    /* fragments by name, and what the rules remember across nodes */
    smap_t fragments;
    smap_t op_names;
    smap_t frag_names;
    int noperations;
    int introspection_skip;
    smap_t depth_checked;
    smap_t depth_exceeded;
    /* field merging */
    int nfragments;
    collected_t *collected[1024];
    pair_set_t pairs;
    long budget;
    buf_t scratch;
} vctx_t;

static _Noreturn void abort_validation(vctx_t *c, const char *msg)
{
    gql_errors_add(c->errors, (gql_loc_t){0, 0}, "%s", msg);
    longjmp(c->abort, 1);
}

static void *vc_alloc(vctx_t *c, size_t size)
{
    void *p = arena_alloc(c->arena, size ? size : 1);

    if (!p)
        abort_validation(c, "Validation aborted: the document is too "
                            "complex to validate.");
    memset(p, 0, size ? size : 1);
    return p;
}

/* Makes room for one more element in a vector kept in the arena. */
static void *vgrow(vctx_t *c, void *items, int n, int *cap, size_t elem)
{
    void *m;

    if (n < *cap)
        return items;
    *cap = *cap ? *cap * 2 : 8;
    m = vc_alloc(c, (size_t)*cap * elem);
    if (n)
        memcpy(m, items, (size_t)n * elem);
    return m;
}

static unsigned hash_str(const char *s)
{
    unsigned h = 2166136261u;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static void *smap_get(const smap_t *m, const char *key)
{
    for (smap_entry_t *e = m->buckets[hash_str(key) & 255]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e->val;
    return NULL;
}

static void smap_set(vctx_t *c, smap_t *m, const char *key, void *val)
{
    unsigned h = hash_str(key) & 255;
    smap_entry_t *e;

    for (e = m->buckets[h]; e; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            e->val = val;
            return;
        }
    }
    e = vc_alloc(c, sizeof(*e));
    e->key = key;
    e->val = val;
    e->next = m->buckets[h];
    m->buckets[h] = e;
}

static void report(vctx_t *c, gql_loc_t loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(vctx_t *c, gql_loc_t loc, const char *fmt, ...)
{
    va_list ap;

    if (!c->report)
        return;
    if (c->errors->count >= GQL_MAX_ERRORS)
        abort_validation(c, "Too many validation errors, error limit "
                            "reached. Validation aborted.");
    va_start(ap, fmt);
    gql_errors_vadd(c->errors, loc, fmt, ap);
    va_end(ap);
}

/* Text for messages, kept in the arena until validation ends. */
static const char *scratch_done(vctx_t *c)
{
    char *s = buf_cstr(&c->scratch);
    char *copy = vc_alloc(c, c->scratch.len + 1);

    if (s)
        memcpy(copy, s, c->scratch.len);
    buf_reset(&c->scratch);
    return copy;
}

static const char *type_str(vctx_t *c, const gql_type_t *t)
{
    gql_print_type(&c->scratch, t);
    return scratch_done(c);
}

static const char *ref_str(vctx_t *c, const gql_type_ref_t *t)
{
    gql_print_type_ref(&c->scratch, t);
    return scratch_done(c);
}

static const char *value_str(vctx_t *c, const gql_value_t *v)
{
    gql_print_value(&c->scratch, v);
    return scratch_done(c);
}

static const char *suggest(vctx_t *c, const char *input,
                           const char *const *opts, int n, const char *sub)
{
    gql_did_you_mean(&c->scratch, input, opts, n, sub);
    return scratch_done(c);
}

static const gql_definition_t *get_fragment(vctx_t *c, const char *name)
{
    fragment_t *f = smap_get(&c->fragments, name);

    return f ? f->def : NULL;
}

/* ---- type comparisons ------------------------------------------------ */

static bool is_list(const gql_type_t *t)
{
    return t && t->kind == GQL_KIND_LIST;
}

static bool is_non_null(const gql_type_t *t)
{
    return t && t->kind == GQL_KIND_NON_NULL;
}

/* Wrappers are interned, so equal types are the same pointer. */
static bool is_sub_type(const gql_type_t *sub, const gql_type_t *super)
{
    if (sub == super)
        return true;
    if (is_non_null(super))
        return is_non_null(sub) && is_sub_type(sub->of, super->of);
    if (is_non_null(sub))
        return is_sub_type(sub->of, super);
    if (is_list(super))
        return is_list(sub) && is_sub_type(sub->of, super->of);
    return false;
}

static bool allowed_variable_usage(const gql_type_t *var_type,
                                   const gql_value_t *var_default,
                                   const gql_type_t *loc_type,
                                   bool loc_has_default)
{
    if (is_non_null(loc_type) && !is_non_null(var_type)) {
        bool has_default = var_default && var_default->kind != GQL_VAL_NULL;

        if (!has_default && !loc_has_default)
            return false;
        return is_sub_type(var_type, loc_type->of);
    }
    return is_sub_type(var_type, loc_type);
}

/* ---- values ---------------------------------------------------------- */

static void check_leaf_literal(vctx_t *c, const gql_value_t *v,
                               gql_type_t *loc_type)
{
    gql_type_t *t = gql_named_type(loc_type);

    if (!loc_type)
        return;
    if (!gql_is_leaf_type(t)) {
        report(c, v->loc, "Expected value of type \"%s\", found %s.",
               type_str(c, loc_type), value_str(c, v));
        return;
    }
    if (!gql_leaf_accepts_literal(t, v, &c->scratch)) {
        const char *msg = scratch_done(c);

        report(c, v->loc, "%s", msg);
    }
    buf_reset(&c->scratch);
}

static void record_usage(vctx_t *c, const gql_value_t *v, gql_type_t *type,
                         bool has_default)
{
    usages_t *u = c->usages;

    if (!u)
        return;
    u->items = vgrow(c, u->items, u->n, &u->cap, sizeof(*u->items));
    u->items[u->n++] = (usage_t){v, type, has_default};
}

/* Visits a value whose position expects type (NULL when unknown).  check
 * says whether ValuesOfCorrectType still looks at this subtree: graphql-js
 * stops it below a list or object written where none is expected, while
 * the other rules go on. */
static void visit_value(vctx_t *c, const gql_value_t *v, gql_type_t *type,
                        bool has_default, bool check)
{
    switch (v->kind) {
    case GQL_VAL_VARIABLE:
        record_usage(c, v, type, has_default);
        return;
    case GQL_VAL_NULL:
        if (check && is_non_null(type))
            report(c, v->loc, "Expected value of type \"%s\", found null.",
                   type_str(c, type));
        return;
    case GQL_VAL_LIST: {
        gql_type_t *list = gql_nullable_type(type);
        gql_type_t *item = is_list(list) ? list->of : list;

        if (check && !is_list(list)) {
            check_leaf_literal(c, v, item);
            check = false;
        }
        for (int i = 0; i < v->nitems; i++)
            visit_value(c, v->items[i], item, false, check);
        return;
    }
    case GQL_VAL_OBJECT: {
        gql_type_t *obj = gql_named_type(type);
        bool is_input = obj && obj->kind == GQL_KIND_INPUT_OBJECT;
        smap_t seen;

        if (check && !is_input) {
            check_leaf_literal(c, v, type);
            check = false;
        }
        memset(&seen, 0, sizeof(seen));
        for (int i = 0; i < v->nfields; i++) {
            const gql_object_field_t *f = v->fields[i];
            const gql_input_value_t *def = NULL;
            gql_type_t *ft;
            const gql_object_field_t *known = smap_get(&seen, f->name);

            if (known)
                report(c, known->loc,
                       "There can be only one input field named \"%s\".",
                       f->name);
            else if (c->report)
                smap_set(c, &seen, f->name, (void *)f);
            if (is_input)
                def = gql_type_input_field(obj, f->name);
            ft = def && gql_is_input_type(def->type) ? def->type : NULL;
            if (check && !ft && is_input) {
                const char **names =
                    vc_alloc(c, (size_t)obj->ninput_fields * sizeof(*names));

                for (int j = 0; j < obj->ninput_fields; j++)
                    names[j] = obj->input_fields[j].name;
                report(c, f->loc,
                       "Field \"%s\" is not defined by type "
                       "\"%s\".%s",
                       f->name, obj->name,
                       suggest(c, f->name, names, obj->ninput_fields, NULL));
            }
            visit_value(c, f->value, ft, def && def->has_default, check);
        }
        return;
    }
    default:
        if (check)
            check_leaf_literal(c, v, type);
        return;
    }
}

/* ---- arguments and directives --------------------------------------- */

static void unique_arguments(vctx_t *c, gql_argument_t **args, int n)
{
    for (int i = 0; i < n; i++) {
        bool first = true;

        for (int j = 0; j < i && first; j++)
            first = strcmp(args[i]->name, args[j]->name) != 0;
        if (!first)
            continue;
        for (int j = i + 1; j < n; j++) {
            if (strcmp(args[i]->name, args[j]->name) == 0) {
                report(c, args[i]->loc,
                       "There can be only one argument named \"%s\".",
                       args[i]->name);
                break;
            }
        }
    }
}

static const gql_input_value_t *find_arg(const gql_input_value_t *args, int n,
                                         const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(args[i].name, name) == 0)
            return &args[i];
    return NULL;
}

static bool is_required(const gql_input_value_t *a)
{
    return is_non_null(a->type) && !a->has_default;
}

static void visit_argument_value(vctx_t *c, const gql_argument_t *a,
                                 const gql_input_value_t *def)
{
    gql_type_t *t = def && gql_is_input_type(def->type) ? def->type : NULL;

    visit_value(c, a->value, t, def && def->has_default, true);
}

static const char *location_name(unsigned loc)
{
    switch (loc) {
    case GQL_DIRLOC_QUERY:
        return "QUERY";
    case GQL_DIRLOC_MUTATION:
        return "MUTATION";
    case GQL_DIRLOC_SUBSCRIPTION:
        return "SUBSCRIPTION";
    case GQL_DIRLOC_FIELD:
        return "FIELD";
    case GQL_DIRLOC_FRAGMENT_DEFINITION:
        return "FRAGMENT_DEFINITION";
    case GQL_DIRLOC_FRAGMENT_SPREAD:
        return "FRAGMENT_SPREAD";
    case GQL_DIRLOC_INLINE_FRAGMENT:
        return "INLINE_FRAGMENT";
    default:
        return "VARIABLE_DEFINITION";
    }
}

static void unique_directives(vctx_t *c, gql_directive_t **dirs, int n)
{
    for (int i = 0; i < n; i++) {
        if (!gql_schema_directive(c->s, dirs[i]->name))
            continue;
        for (int j = 0; j < i; j++) {
            if (strcmp(dirs[i]->name, dirs[j]->name) == 0) {
                report(c, dirs[j]->loc,
                       "The directive \"@%s\" can only be used once at this "
                       "location.",
                       dirs[i]->name);
                break;
            }
        }
    }
}

static void visit_directives(vctx_t *c, gql_directive_t **dirs, int n,
                             unsigned location)
{
    for (int i = 0; i < n; i++) {
        const gql_directive_t *d = dirs[i];
        const gql_directive_def_t *def = gql_schema_directive(c->s, d->name);
        const gql_input_value_t *args = NULL;
        int nargs = 0;

        if (!def)
            report(c, d->loc, "Unknown directive \"@%s\".", d->name);
        else if (!(def->locations & location))
            report(c, d->loc, "Directive \"@%s\" may not be used on %s.",
                   d->name, location_name(location));
        if (def) {
            const char *names[4];

            for (int j = 0; j < def->nargs && j < 4; j++)
                names[j] = def->args[j].name;
            for (int j = 0; j < d->nargs; j++)
                if (!find_arg(def->args, def->nargs, d->args[j]->name))
                    report(c, d->args[j]->loc,
                           "Unknown argument \"%s\" on directive \"@%s\".%s",
                           d->args[j]->name, d->name,
                           suggest(c, d->args[j]->name, names,
                                   def->nargs < 4 ? def->nargs : 4, NULL));
        }
        unique_arguments(c, d->args, d->nargs);

        /* graphql-js looks an argument of an unknown directive up on the
         * enclosing field */
        if (def) {
            args = def->args;
            nargs = def->nargs;
        } else if (c->field_def) {
            args = c->field_def->args;
            nargs = c->field_def->nargs;
        }
        for (int j = 0; j < d->nargs; j++)
            visit_argument_value(c, d->args[j],
                                 find_arg(args, nargs, d->args[j]->name));

        for (int j = 0; def && j < def->nargs; j++) {
            bool given = false;

            for (int k = 0; k < d->nargs && !given; k++)
                given = strcmp(d->args[k]->name, def->args[j].name) == 0;
            if (!given && is_required(&def->args[j]))
                report(c, d->loc,
                       "Directive \"@%s\" argument \"%s\" of type \"%s\" is "
                       "required, but it was not provided.",
                       d->name, def->args[j].name,
                       type_str(c, def->args[j].type));
        }
    }
}

/* ---- type names ------------------------------------------------------ */

static gql_type_t *visit_type_ref(vctx_t *c, const gql_type_ref_t *ref)
{
    if (ref->kind != GQL_REF_NAMED)
        return visit_type_ref(c, ref->of);
    if (!gql_schema_type(c->s, ref->name)) {
        const char **names = vc_alloc(c, (size_t)c->s->ntypes * sizeof(*names));

        for (int i = 0; i < c->s->ntypes; i++)
            names[i] = c->s->types[i]->name;
        report(c, ref->loc, "Unknown type \"%s\".%s", ref->name,
               suggest(c, ref->name, names, c->s->ntypes, NULL));
    }
    return gql_type_from_ref(c->s, ref);
}

/* ---- MaxIntrospectionDepth ------------------------------------------ */

/* How deep introspection lists nest below __schema or __type, through
 * fragments; true at three levels (graphql-js's checkDepth). */
static bool introspection_too_deep(vctx_t *c, const gql_selection_t *node,
                                   smap_t *visited, intptr_t depth)
{
    const gql_selection_set_t *set = node->selection_set;

    if (node->kind == GQL_SEL_FRAGMENT_SPREAD) {
        const gql_definition_t *frag;
        void *exceeded = smap_get(&c->depth_exceeded, node->name);
        void *seen = smap_get(visited, node->name);
        void *checked = smap_get(&c->depth_checked, node->name);

        if (exceeded && (intptr_t)exceeded - 1 <= depth)
            return true;
        if ((seen && (intptr_t)seen - 1 >= depth) ||
            (checked && (intptr_t)checked - 1 >= depth))
            return false;
        frag = get_fragment(c, node->name);
        if (!frag)
            return false;
        smap_set(c, visited, node->name, (void *)(depth + 1));
        for (int i = 0; i < frag->selection_set->n; i++) {
            if (introspection_too_deep(c, frag->selection_set->items[i],
                                       visited, depth)) {
                smap_set(c, &c->depth_exceeded, node->name,
                         (void *)(depth + 1));
                return true;
            }
        }
        smap_set(c, &c->depth_checked, node->name, (void *)(depth + 1));
        return false;
    }
    if (node->kind == GQL_SEL_FIELD &&
        (strcmp(node->name, "fields") == 0 ||
         strcmp(node->name, "interfaces") == 0 ||
         strcmp(node->name, "possibleTypes") == 0 ||
         strcmp(node->name, "inputFields") == 0) &&
        ++depth >= 3)
        return true;
    for (int i = 0; set && i < set->n; i++)
        if (introspection_too_deep(c, set->items[i], visited, depth))
            return true;
    return false;
}

/* ---- OverlappingFieldsCanBeMerged ------------------------------------ */

static void spend(vctx_t *c, long cost)
{
    c->budget -= cost;
    if (c->budget < 0)
        abort_validation(c, "Validation aborted: the document needs too "
                            "much work to check that its fields merge; "
                            "simplify its fragments.");
}

static field_group_t *find_group(const collected_t *r, const char *name)
{
    if (r->index) {
        intptr_t i = (intptr_t)smap_get(r->index, name);

        return i ? &r->groups[i - 1] : NULL;
    }
    for (int i = 0; i < r->ngroups; i++)
        if (strcmp(r->groups[i].name, name) == 0)
            return &r->groups[i];
    return NULL;
}

static field_group_t *add_group(vctx_t *c, collected_t *r, const char *name)
{
    field_group_t *g;

    r->groups =
        vgrow(c, r->groups, r->ngroups, &r->capgroups, sizeof(*r->groups));
    g = &r->groups[r->ngroups++];
    memset(g, 0, sizeof(*g));
    g->name = name;
    /* past a few names, look them up by hash */
    if (!r->index && r->ngroups > 8) {
        r->index = vc_alloc(c, sizeof(*r->index));
        for (int i = 0; i < r->ngroups - 1; i++)
            smap_set(c, r->index, r->groups[i].name, (void *)(intptr_t)(i + 1));
    }
    if (r->index)
        smap_set(c, r->index, name, (void *)(intptr_t)r->ngroups);
    return g;
}

static void collect_impl(vctx_t *c, collected_t *r, gql_type_t *parent,
                         const gql_selection_set_t *set)
{
    for (int i = 0; i < set->n; i++) {
        const gql_selection_t *s = set->items[i];

        if (s->kind == GQL_SEL_FIELD) {
            const char *name = s->alias ? s->alias : s->name;
            field_group_t *g = find_group(r, name);

            if (!g)
                g = add_group(c, r, name);
            g->items = vgrow(c, g->items, g->n, &g->cap, sizeof(*g->items));
            g->items[g->n++] =
                (field_info_t){parent, s, gql_type_field(parent, s->name)};
        } else if (s->kind == GQL_SEL_FRAGMENT_SPREAD) {
            names_t *f = &r->fragments;
            bool seen = false;

            for (int j = 0; j < f->n && !seen; j++)
                seen = strcmp(f->items[j], s->name) == 0;
            if (!seen) {
                f->items = vgrow(c, f->items, f->n, &f->cap, sizeof(*f->items));
                f->items[f->n++] = s->name;
            }
        } else {
            gql_type_t *t =
                s->type_cond ? gql_type_from_ref(c->s, s->type_cond) : parent;

            collect_impl(c, r, t, s->selection_set);
        }
    }
}

static collected_t *collect_fields(vctx_t *c, gql_type_t *parent,
                                   const gql_selection_set_t *set)
{
    unsigned h = (unsigned)(((uintptr_t)set >> 4) ^ ((uintptr_t)parent >> 4));
    collected_t *r;

    h &= 1023;
    for (r = c->collected[h]; r; r = r->next)
        if (r->parent == parent && r->set == set)
            return r;
    r = vc_alloc(c, sizeof(*r));
    r->parent = parent;
    r->set = set;
    collect_impl(c, r, parent, set);
    r->next = c->collected[h];
    c->collected[h] = r;
    return r;
}

static collected_t *collect_fragment(vctx_t *c, const gql_definition_t *f)
{
    return collect_fields(c, gql_type_from_ref(c->s, f->type_cond),
                          f->selection_set);
}

static void add_conflict(vctx_t *c, conflicts_t *out, const char *name,
                         const char *reason, gql_loc_t loc)
{
    out->items = vgrow(c, out->items, out->n, &out->cap, sizeof(*out->items));
    out->items[out->n++] = (conflict_t){name, reason, loc};
}

static bool values_equal(const gql_value_t *a, const gql_value_t *b);

static void sort_fields(const gql_object_field_t **f, int n)
{
    /* stable, as JavaScript's sort */
    for (int i = 1; i < n; i++) {
        const gql_object_field_t *x = f[i];
        int j = i;

        while (j > 0 && strcmp(f[j - 1]->name, x->name) > 0) {
            f[j] = f[j - 1];
            j--;
        }
        f[j] = x;
    }
}

static bool objects_equal(const gql_value_t *a, const gql_value_t *b)
{
    const gql_object_field_t *fa[64], *fb[64];
    const gql_object_field_t **pa = fa, **pb = fb;
    bool eq = true;

    if (a->nfields != b->nfields)
        return false;
    if (a->nfields == 0)
        return true;
    if (a->nfields > 64) {
        pa = malloc((size_t)a->nfields * sizeof(*pa));
        pb = malloc((size_t)b->nfields * sizeof(*pb));
        if (!pa || !pb) {
            free(pa);
            free(pb);
            return false;
        }
    }
    memcpy(pa, a->fields, (size_t)a->nfields * sizeof(*pa));
    memcpy(pb, b->fields, (size_t)b->nfields * sizeof(*pb));
    sort_fields(pa, a->nfields);
    sort_fields(pb, b->nfields);
    for (int i = 0; i < a->nfields && eq; i++)
        eq = strcmp(pa[i]->name, pb[i]->name) == 0 &&
             values_equal(pa[i]->value, pb[i]->value);
    if (pa != fa) {
        free(pa);
        free(pb);
    }
    return eq;
}

/* Equal as graphql-js's stringifyValue sees them (object fields in name
 * order, block strings distinct from quoted ones). */
static bool values_equal(const gql_value_t *a, const gql_value_t *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case GQL_VAL_NULL:
        return true;
    case GQL_VAL_BOOLEAN:
        return a->boolean == b->boolean;
    case GQL_VAL_STRING:
        return a->block == b->block && a->len == b->len &&
               memcmp(a->str, b->str, a->len) == 0;
    case GQL_VAL_LIST:
        if (a->nitems != b->nitems)
            return false;
        for (int i = 0; i < a->nitems; i++)
            if (!values_equal(a->items[i], b->items[i]))
                return false;
        return true;
    case GQL_VAL_OBJECT:
        return objects_equal(a, b);
    default:
        return strcmp(a->str, b->str) == 0;
    }
}

static bool same_arguments(vctx_t *c, const gql_selection_t *f1,
                           const gql_selection_t *f2)
{
    if (f1->nargs == 0)
        return f2->nargs == 0;
    if (f1->nargs != f2->nargs)
        return false;
    for (int i = 0; i < f1->nargs; i++) {
        const gql_argument_t *other = NULL;

        spend(c, 1);
        for (int j = 0; j < f2->nargs; j++)
            if (strcmp(f2->args[j]->name, f1->args[i]->name) == 0)
                other = f2->args[j];
        if (!other || !values_equal(f1->args[i]->value, other->value))
            return false;
    }
    return true;
}

static bool types_conflict(vctx_t *c, const gql_type_t *t1,
                           const gql_type_t *t2)
{
    if (t1 == t2)
        return false;
    spend(c, 1);
    if (is_list(t1))
        return is_list(t2) ? types_conflict(c, t1->of, t2->of) : true;
    if (is_list(t2))
        return true;
    if (is_non_null(t1))
        return is_non_null(t2) ? types_conflict(c, t1->of, t2->of) : true;
    if (is_non_null(t2))
        return true;
    if (gql_is_leaf_type(t1) || gql_is_leaf_type(t2))
        return t1 != t2;
    return false;
}

static void conflicts_between_subsets(vctx_t *c, conflicts_t *out, bool excl,
                                      gql_type_t *p1,
                                      const gql_selection_set_t *s1,
                                      gql_type_t *p2,
                                      const gql_selection_set_t *s2);

static const char *abbreviate(vctx_t *c, const char *text)
{
    size_t n = strlen(text);
    char *s;

    if (n <= MAX_CONFLICT_DETAIL)
        return text;
    s = vc_alloc(c, MAX_CONFLICT_DETAIL + 4);
    memcpy(s, text, MAX_CONFLICT_DETAIL);
    memcpy(s + MAX_CONFLICT_DETAIL, "...", 4);
    return s;
}

static bool is_simple_leaf(const gql_selection_t *s)
{
    return s->nargs == 0 && !s->selection_set;
}

/* graphql-js's findConflict: may these two fields share a response
 * name? */
static void find_conflict(vctx_t *c, conflicts_t *out, bool parent_excl,
                          const char *name, const field_info_t *f1,
                          const field_info_t *f2)
{
    bool excl = parent_excl || (f1->parent != f2->parent &&
                                gql_is_composite_type(f1->parent) &&
                                gql_is_composite_type(f2->parent));
    const gql_type_t *t1 = f1->def ? f1->def->type : NULL;
    const gql_type_t *t2 = f2->def ? f2->def->type : NULL;
    const char *reason = NULL;

    spend(c, 2);
    if (is_simple_leaf(f1->node) && is_simple_leaf(f2->node) && t1 == t2 &&
        strcmp(f1->node->name, f2->node->name) == 0)
        return;
    if (!excl) {
        if (strcmp(f1->node->name, f2->node->name) != 0) {
            buf_printf(&c->scratch, "\"%s\" and \"%s\" are different fields",
                       abbreviate(c, f1->node->name),
                       abbreviate(c, f2->node->name));
            reason = scratch_done(c);
        } else if (!same_arguments(c, f1->node, f2->node)) {
            reason = "they have differing arguments";
        }
        if (reason) {
            add_conflict(c, out, name, reason, f1->node->loc);
            return;
        }
    }
    if (t1 && t2 && types_conflict(c, t1, t2)) {
        buf_puts(&c->scratch, "they return conflicting types \"");
        gql_print_type(&c->scratch, t1);
        buf_puts(&c->scratch, "\" and \"");
        gql_print_type(&c->scratch, t2);
        buf_putc(&c->scratch, '"');
        add_conflict(c, out, name, scratch_done(c), f1->node->loc);
        return;
    }
    if (f1->node->selection_set && f2->node->selection_set) {
        conflicts_t sub = {0};

        conflicts_between_subsets(
            c, &sub, excl, gql_named_type((gql_type_t *)t1),
            f1->node->selection_set, gql_named_type((gql_type_t *)t2),
            f2->node->selection_set);
        if (sub.n == 0)
            return;
        for (int i = 0; i < sub.n; i++) {
            buf_printf(&c->scratch, "%ssubfields \"%s\" conflict because %s",
                       i ? " and " : "", abbreviate(c, sub.items[i].name),
                       sub.items[i].reason);
            if (c->scratch.len > MAX_CONFLICT_DETAIL)
                break;
        }
        add_conflict(c, out, name, abbreviate(c, scratch_done(c)),
                     f1->node->loc);
    }
}

static void conflicts_within(vctx_t *c, conflicts_t *out, const collected_t *r)
{
    for (int g = 0; g < r->ngroups; g++) {
        const field_group_t *grp = &r->groups[g];

        for (int i = 0; i < grp->n; i++)
            for (int j = i + 1; j < grp->n; j++)
                find_conflict(c, out, false, grp->name, &grp->items[i],
                              &grp->items[j]);
    }
}

static void conflicts_between(vctx_t *c, conflicts_t *out, bool excl,
                              const collected_t *r1, const collected_t *r2)
{
    if (r1->ngroups == 0 || r2->ngroups == 0)
        return;
    for (int g = 0; g < r1->ngroups; g++) {
        const field_group_t *g1 = &r1->groups[g], *g2 = NULL;

        spend(c, 1);
        g2 = find_group(r2, g1->name);
        if (!g2)
            continue;
        for (int i = 0; i < g1->n; i++)
            for (int j = 0; j < g2->n; j++)
                find_conflict(c, out, excl, g1->name, &g1->items[i],
                              &g2->items[j]);
    }
}

static void conflicts_fields_fragment(vctx_t *c, conflicts_t *out, bool excl,
                                      collected_t *r, const char *frag_name)
{
    fragment_t *f;
    collected_t *r2;
    unsigned char *state;

    spend(c, 1);
    if (r->ngroups == 0)
        return;
    f = smap_get(&c->fragments, frag_name);
    if (!f)
        return;
    if (!r->compared)
        r->compared = vc_alloc(c, (size_t)c->nfragments);
    state = &r->compared[f->id];
    /* a comparison made for overlapping parents holds for exclusive ones */
    if (*state == 1 || (excl && *state == 2))
        return;
    *state = excl ? 2 : 1;
    r2 = collect_fragment(c, f->def);
    if (r2 == r)
        return;
    conflicts_between(c, out, excl, r, r2);
    for (int i = 0; i < r2->fragments.n; i++)
        conflicts_fields_fragment(c, out, excl, r, r2->fragments.items[i]);
}

static size_t pair_slot(const pair_set_t *ps, uint64_t key)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 20) & (ps->cap - 1);

    while (ps->keys[i] && ps->keys[i] != key)
        i = (i + 1) & (ps->cap - 1);
    return i;
}

static uint64_t pair_key(int a, int b)
{
    return ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
}

/* graphql-js's PairSet.has: an exclusive question is answered by any
 * earlier comparison, a non-exclusive one only by a non-exclusive one. */
static bool has_pair(vctx_t *c, int a, int b, bool excl)
{
    const pair_set_t *ps = &c->pairs;
    uint64_t keys[2] = {pair_key(a, b), pair_key(b, a)};

    if (!ps->cap)
        return false;
    for (int k = 0; k < 2; k++) {
        size_t i = pair_slot(ps, keys[k]);

        if (ps->keys[i] && (excl || !ps->exclusive[i]))
            return true;
    }
    return false;
}

static void add_pair(vctx_t *c, int a, int b, bool excl)
{
    pair_set_t *ps = &c->pairs;
    size_t i;

    if (ps->n * 2 >= ps->cap) {
        pair_set_t grown = {.cap = ps->cap ? ps->cap * 2 : 256};

        grown.keys = vc_alloc(c, grown.cap * sizeof(*grown.keys));
        grown.exclusive = vc_alloc(c, grown.cap);
        for (size_t j = 0; j < ps->cap; j++) {
            if (!ps->keys[j])
                continue;
            i = pair_slot(&grown, ps->keys[j]);
            grown.keys[i] = ps->keys[j];
            grown.exclusive[i] = ps->exclusive[j];
        }
        grown.n = ps->n;
        *ps = grown;
    }
    i = pair_slot(ps, pair_key(a, b));
    if (!ps->keys[i]) {
        ps->keys[i] = pair_key(a, b);
        ps->n++;
    }
    ps->exclusive[i] = excl;
}

static void conflicts_between_fragments(vctx_t *c, conflicts_t *out, bool excl,
                                        const char *n1, const char *n2)
{
    fragment_t *f1, *f2;
    collected_t *r1, *r2;

    spend(c, 2);
    if (strcmp(n1, n2) == 0)
        return;
    /* graphql-js remembers pairs with an unknown fragment too; they end
     * here all the same */
    f1 = smap_get(&c->fragments, n1);
    f2 = smap_get(&c->fragments, n2);
    if (!f1 || !f2 || has_pair(c, f1->id, f2->id, excl))
        return;
    add_pair(c, f1->id, f2->id, excl);
    r1 = collect_fragment(c, f1->def);
    r2 = collect_fragment(c, f2->def);
    conflicts_between(c, out, excl, r1, r2);
    for (int i = 0; i < r2->fragments.n; i++)
        conflicts_between_fragments(c, out, excl, n1, r2->fragments.items[i]);
    for (int i = 0; i < r1->fragments.n; i++)
        conflicts_between_fragments(c, out, excl, r1->fragments.items[i], n2);
}

static void conflicts_between_subsets(vctx_t *c, conflicts_t *out, bool excl,
                                      gql_type_t *p1,
                                      const gql_selection_set_t *s1,
                                      gql_type_t *p2,
                                      const gql_selection_set_t *s2)
{
    collected_t *r1 = collect_fields(c, p1, s1);
    collected_t *r2 = collect_fields(c, p2, s2);

    conflicts_between(c, out, excl, r1, r2);
    for (int i = 0; i < r2->fragments.n; i++)
        conflicts_fields_fragment(c, out, excl, r1, r2->fragments.items[i]);
    for (int i = 0; i < r1->fragments.n; i++)
        conflicts_fields_fragment(c, out, excl, r2, r1->fragments.items[i]);
    for (int i = 0; i < r1->fragments.n; i++)
        for (int j = 0; j < r2->fragments.n; j++)
            conflicts_between_fragments(c, out, excl, r1->fragments.items[i],
                                        r2->fragments.items[j]);
}

static void check_overlaps(vctx_t *c, gql_type_t *parent,
                           const gql_selection_set_t *set)
{
    conflicts_t out = {0};
    collected_t *r;

    if (set->n <= 1 &&
        (set->n == 0 || set->items[0]->kind != GQL_SEL_INLINE_FRAGMENT))
        return;
    r = collect_fields(c, parent, set);
    conflicts_within(c, &out, r);
    if (r->fragments.n && (r->ngroups || r->fragments.n > 1)) {
        for (int i = 0; i < r->fragments.n; i++) {
            conflicts_fields_fragment(c, &out, false, r, r->fragments.items[i]);
            for (int j = i + 1; j < r->fragments.n; j++)
                conflicts_between_fragments(c, &out, false,
                                            r->fragments.items[i],
                                            r->fragments.items[j]);
        }
    }
    for (int i = 0; i < out.n; i++)
        report(c, out.items[i].loc,
               "Fields \"%s\" conflict because %s. Use different aliases on "
               "the fields to fetch both if this was intentional.",
               abbreviate(c, out.items[i].name), out.items[i].reason);
}

/* ---- selections ------------------------------------------------------ */

static void visit_selection_set(vctx_t *c, const gql_selection_set_t *set,
                                gql_type_t *type, bool in_inline_fragment);

static void visit_field(vctx_t *c, const gql_selection_t *s, gql_type_t *parent)
{
    const gql_field_def_t *def = gql_field_lookup(c->s, parent, s->name);
    const gql_field_def_t *saved = c->field_def;
    gql_type_t *type = def && gql_is_output_type(def->type) ? def->type : NULL;
    bool introspection =
        strcmp(s->name, "__schema") == 0 || strcmp(s->name, "__type") == 0;

    /* ScalarLeafs */
    if (type && gql_is_leaf_type(gql_named_type(type)) && s->selection_set)
        report(c, s->selection_set->loc,
               "Field \"%s\" must not have a selection since type \"%s\" has "
               "no subfields.",
               s->name, type_str(c, type));
    else if (type && !gql_is_leaf_type(gql_named_type(type)) &&
             !s->selection_set)
        report(c, s->loc,
               "Field \"%s\" of type \"%s\" must have a selection of "
               "subfields. Did you mean \"%s { ... }\"?",
               s->name, type_str(c, type), s->name);

    /* FieldsOnCorrectType */
    if (parent && !def) {
        const char **names =
            vc_alloc(c, (size_t)parent->nfields * sizeof(*names));

        for (int i = 0; i < parent->nfields; i++)
            names[i] = parent->fields[i].name;
        report(c, s->loc, "Cannot query field \"%s\" on type \"%s\".%s",
               s->name, parent->name,
               suggest(c, s->name, names, parent->nfields, NULL));
    }
    unique_directives(c, s->directives, s->ndirectives);
    unique_arguments(c, s->args, s->nargs);

    /* MaxIntrospectionDepth */
    if (introspection && c->introspection_skip == 0 && c->report) {
        smap_t visited;

        memset(&visited, 0, sizeof(visited));
        if (introspection_too_deep(c, s, &visited, 0)) {
            report(c, s->loc, "Maximum introspection depth exceeded");
            c->introspection_skip++;
        } else {
            introspection = false;
        }
    } else {
        introspection = false;
    }

    c->field_def = def;
    for (int i = 0; i < s->nargs; i++) {
        const gql_argument_t *a = s->args[i];
        const gql_input_value_t *adef =
            def ? find_arg(def->args, def->nargs, a->name) : NULL;

        /* KnownArgumentNames */
        if (!adef && def && parent) {
            const char *names[8];
            int n = def->nargs < 8 ? def->nargs : 8;

            for (int j = 0; j < n; j++)
                names[j] = def->args[j].name;
            report(c, a->loc, "Unknown argument \"%s\" on field \"%s.%s\".%s",
                   a->name, parent->name, def->name,
                   suggest(c, a->name, names, n, NULL));
        }
        visit_argument_value(c, a, adef);
    }
    visit_directives(c, s->directives, s->ndirectives, GQL_DIRLOC_FIELD);
    if (s->selection_set)
        visit_selection_set(c, s->selection_set, type, false);
    c->field_def = saved;
    if (introspection)
        c->introspection_skip--;

    /* ProvidedRequiredArguments */
    for (int i = 0; def && i < def->nargs; i++) {
        bool given = false;

        for (int j = 0; j < s->nargs && !given; j++)
            given = strcmp(s->args[j]->name, def->args[i].name) == 0;
        if (!given && is_required(&def->args[i]))
            report(c, s->loc,
                   "Field \"%s\" argument \"%s\" of type \"%s\" is required, "
                   "but it was not provided.",
                   def->name, def->args[i].name,
                   type_str(c, def->args[i].type));
    }
}

static void visit_inline_fragment(vctx_t *c, const gql_selection_t *s,
                                  gql_type_t *parent, gql_type_t *outer)
{
    gql_type_t *t = s->type_cond ? gql_type_from_ref(c->s, s->type_cond)
                                 : gql_named_type(outer);

    if (!gql_is_output_type(t))
        t = NULL;
    if (s->type_cond) {
        gql_type_t *cond = gql_type_from_ref(c->s, s->type_cond);

        if (cond && !gql_is_composite_type(cond))
            report(c, s->type_cond->loc,
                   "Fragment cannot condition on non composite type \"%s\".",
                   ref_str(c, s->type_cond));
    }
    if (gql_is_composite_type(t) && gql_is_composite_type(parent) &&
        t != parent)
        report(c, s->loc,
               "Fragment cannot be spread here as objects of type \"%s\" can "
               "never be of type \"%s\".",
               parent->name, t->name);
    unique_directives(c, s->directives, s->ndirectives);
    if (s->type_cond)
        visit_type_ref(c, s->type_cond);
    visit_directives(c, s->directives, s->ndirectives,
                     GQL_DIRLOC_INLINE_FRAGMENT);
    visit_selection_set(c, s->selection_set, t, true);
}

static void visit_fragment_spread(vctx_t *c, const gql_selection_t *s,
                                  gql_type_t *parent)
{
    const gql_definition_t *frag = get_fragment(c, s->name);

    if (!frag) {
        report(c, s->name_loc, "Unknown fragment \"%s\".", s->name);
    } else {
        gql_type_t *t = gql_type_from_ref(c->s, frag->type_cond);

        if (gql_is_composite_type(t) && parent && t != parent)
            report(c, s->loc,
                   "Fragment \"%s\" cannot be spread here as objects of type "
                   "\"%s\" can never be of type \"%s\".",
                   s->name, parent->name, t->name);
    }
    unique_directives(c, s->directives, s->ndirectives);
    visit_directives(c, s->directives, s->ndirectives,
                     GQL_DIRLOC_FRAGMENT_SPREAD);
}

/* type is the output type of the node owning the set (graphql-js's
 * getType()); the set's parent type is its named type when composite. */
static void visit_selection_set(vctx_t *c, const gql_selection_set_t *set,
                                gql_type_t *type, bool in_inline_fragment)
{
    gql_type_t *parent = gql_named_type(type);

    if (!gql_is_composite_type(parent))
        parent = NULL;
    if (c->report && !in_inline_fragment)
        check_overlaps(c, parent, set);
    for (int i = 0; i < set->n; i++) {
        const gql_selection_t *s = set->items[i];

        switch (s->kind) {
        case GQL_SEL_FIELD:
            visit_field(c, s, parent);
            break;
        case GQL_SEL_INLINE_FRAGMENT:
            visit_inline_fragment(c, s, parent, type);
            break;
        case GQL_SEL_FRAGMENT_SPREAD:
            visit_fragment_spread(c, s, parent);
            break;
        }
    }
}

/* ---- SingleFieldSubscriptions ---------------------------------------- */

typedef struct root_field {
    const char *key;
    const gql_selection_t *first;
    int n;
} root_field_t;

typedef struct root_fields {
    root_field_t *items;
    int n;
    int cap;
} root_fields_t;

/* graphql-js's collectFields on the subscription root with no variable
 * values at all: a @skip or @include there whose "if" is a variable (or
 * missing, or not a boolean) makes graphql-js throw out of validation, so
 * the document is refused, and so it is here. */
static bool collect_root(vctx_t *c, const gql_selection_set_t *set,
                         root_fields_t *out, smap_t *visited)
{
    for (int i = 0; i < set->n; i++) {
        const gql_selection_t *s = set->items[i];
        int inc;

        if (s->kind == GQL_SEL_FRAGMENT_SPREAD && smap_get(visited, s->name))
            continue;
        inc =
            gql_should_include(s->directives, s->ndirectives, NULL, c->errors);
        if (inc < 0)
            return false;
        if (inc == 0)
            continue;
        if (s->kind == GQL_SEL_FIELD) {
            const char *key = s->alias ? s->alias : s->name;
            root_field_t *f = NULL;

            for (int j = 0; j < out->n && !f; j++)
                if (strcmp(out->items[j].key, key) == 0)
                    f = &out->items[j];
            if (f) {
                f->n++;
                continue;
            }
            out->items =
                vgrow(c, out->items, out->n, &out->cap, sizeof(*out->items));
            out->items[out->n++] = (root_field_t){key, s, 1};
        } else if (s->kind == GQL_SEL_INLINE_FRAGMENT) {
            if (s->type_cond &&
                gql_type_from_ref(c->s, s->type_cond) != c->s->subscription)
                continue;
            if (!collect_root(c, s->selection_set, out, visited))
                return false;
        } else {
            const gql_definition_t *frag;

            smap_set(c, visited, s->name, (void *)s);
            frag = get_fragment(c, s->name);
            if (!frag ||
                gql_type_from_ref(c->s, frag->type_cond) != c->s->subscription)
                continue;
            if (!collect_root(c, frag->selection_set, out, visited))
                return false;
        }
    }
    return true;
}

static void single_field_subscription(vctx_t *c, const gql_definition_t *op)
{
    root_fields_t fields = {0};
    smap_t visited;

    if (op->operation != GQL_OP_SUBSCRIPTION || !c->s->subscription)
        return;
    memset(&visited, 0, sizeof(visited));
    if (!collect_root(c, op->selection_set, &fields, &visited))
        longjmp(c->abort, 1);
    if (fields.n > 1) {
        if (op->name)
            report(c, fields.items[1].first->loc,
                   "Subscription \"%s\" must select only one top level "
                   "field.",
                   op->name);
        else
            report(c, fields.items[1].first->loc,
                   "Anonymous Subscription must select only one top level "
                   "field.");
    }
    for (int i = 0; i < fields.n; i++) {
        if (strncmp(fields.items[i].first->name, "__", 2) != 0)
            continue;
        if (op->name)
            report(c, fields.items[i].first->loc,
                   "Subscription \"%s\" must not select an introspection top "
                   "level field.",
                   op->name);
        else
            report(c, fields.items[i].first->loc,
                   "Anonymous Subscription must not select an introspection "
                   "top level field.");
    }
}

/* ---- definitions ----------------------------------------------------- */

static void add_spreads(vctx_t *c, const gql_selection_set_t *root,
                        names_t *out, smap_t *seen)
{
    /* graphql-js's getFragmentSpreads order: a stack of sets */
    const gql_selection_set_t **stack;
    int n = 0, cap = 8;

    stack = vc_alloc(c, (size_t)cap * sizeof(*stack));
    stack[n++] = root;
    while (n > 0) {
        const gql_selection_set_t *set = stack[--n];

        for (int i = 0; i < set->n; i++) {
            const gql_selection_t *s = set->items[i];

            if (s->kind == GQL_SEL_FRAGMENT_SPREAD) {
                if (!smap_get(seen, s->name)) {
                    smap_set(c, seen, s->name, (void *)s);
                    out->items = vgrow(c, out->items, out->n, &out->cap,
                                       sizeof(*out->items));
                    out->items[out->n++] = s->name;
                }
            } else if (s->selection_set) {
                stack = vgrow(c, stack, n, &cap, sizeof(*stack));
                stack[n++] = s->selection_set;
            }
        }
    }
}

/* Names of the fragments these sets reach, transitively, in graphql-js's
 * order; returns the same names as a map. */
static smap_t *referenced_fragments(vctx_t *c,
                                    const gql_selection_set_t *const *sets,
                                    int nsets, names_t *out)
{
    smap_t *seen = vc_alloc(c, sizeof(*seen));

    for (int i = 0; i < nsets; i++)
        add_spreads(c, sets[i], out, seen);
    for (int i = 0; i < out->n; i++) {
        const gql_definition_t *f = get_fragment(c, out->items[i]);

        if (f)
            add_spreads(c, f->selection_set, out, seen);
    }
    return seen;
}

static bool variable_used(const usages_t *u, const names_t *frags, vctx_t *c,
                          const char *name)
{
    for (int i = 0; i < u->n; i++)
        if (strcmp(u->items[i].var->str, name) == 0)
            return true;
    for (int i = 0; i < frags->n; i++) {
        fragment_t *f = smap_get(&c->fragments, frags->items[i]);

        for (int j = 0; f && j < f->usages.n; j++)
            if (strcmp(f->usages.items[j].var->str, name) == 0)
                return true;
    }
    return false;
}

static const gql_var_def_t *find_var_def(const gql_definition_t *op,
                                         const char *name)
{
    const gql_var_def_t *found = NULL;

    for (int i = 0; i < op->nvar_defs; i++)
        if (strcmp(op->var_defs[i]->name, name) == 0)
            found = op->var_defs[i];
    return found;
}

static void check_usage(vctx_t *c, const gql_definition_t *op, const usage_t *u,
                        bool defined_check)
{
    const gql_var_def_t *vd = find_var_def(op, u->var->str);

    if (defined_check) {
        if (vd)
            return;
        if (op->name)
            report(c, u->var->loc,
                   "Variable \"$%s\" is not defined by operation \"%s\".",
                   u->var->str, op->name);
        else
            report(c, u->var->loc, "Variable \"$%s\" is not defined.",
                   u->var->str);
        return;
    }
    if (vd && u->type) {
        gql_type_t *vt = gql_type_from_ref(c->s, vd->type);

        if (vt && !allowed_variable_usage(vt, vd->default_value, u->type,
                                          u->has_default))
            report(c, vd->loc,
                   "Variable \"$%s\" of type \"%s\" used in position "
                   "expecting type \"%s\".",
                   u->var->str, type_str(c, vt), type_str(c, u->type));
    }
}

static void operation_leave(vctx_t *c, const gql_definition_t *op,
                            const usages_t *own)
{
    const gql_selection_set_t *set = op->selection_set;
    names_t frags = {0};

    referenced_fragments(c, &set, 1, &frags);

    /* NoUndefinedVariables */
    for (int i = 0; i < own->n; i++)
        check_usage(c, op, &own->items[i], true);
    for (int i = 0; i < frags.n; i++) {
        fragment_t *f = smap_get(&c->fragments, frags.items[i]);

        for (int j = 0; f && j < f->usages.n; j++)
            check_usage(c, op, &f->usages.items[j], true);
    }

    /* NoUnusedVariables */
    for (int i = 0; i < op->nvar_defs; i++) {
        const gql_var_def_t *vd = op->var_defs[i];

        if (variable_used(own, &frags, c, vd->name))
            continue;
        if (op->name)
            report(c, vd->loc,
                   "Variable \"$%s\" is never used in operation \"%s\".",
                   vd->name, op->name);
        else
            report(c, vd->loc, "Variable \"$%s\" is never used.", vd->name);
    }

    /* VariablesInAllowedPosition */
    for (int i = 0; i < own->n; i++)
        check_usage(c, op, &own->items[i], false);
    for (int i = 0; i < frags.n; i++) {
        fragment_t *f = smap_get(&c->fragments, frags.items[i]);

        for (int j = 0; f && j < f->usages.n; j++)
            check_usage(c, op, &f->usages.items[j], false);
    }
}

static void visit_var_def(vctx_t *c, const gql_var_def_t *vd)
{
    gql_type_t *t = gql_type_from_ref(c->s, vd->type);

    if (t && !gql_is_input_type(t))
        report(c, vd->type->loc,
               "Variable \"$%s\" cannot be non-input type \"%s\".", vd->name,
               ref_str(c, vd->type));
    visit_type_ref(c, vd->type);
    if (vd->default_value)
        visit_value(c, vd->default_value, gql_is_input_type(t) ? t : NULL,
                    false, true);
    unique_directives(c, vd->directives, vd->ndirectives);
    visit_directives(c, vd->directives, vd->ndirectives,
                     GQL_DIRLOC_VARIABLE_DEFINITION);
}

static void visit_operation(vctx_t *c, const gql_definition_t *op)
{
    static const unsigned locs[] = {GQL_DIRLOC_QUERY, GQL_DIRLOC_MUTATION,
                                    GQL_DIRLOC_SUBSCRIPTION};
    gql_type_t *root = op->operation == GQL_OP_QUERY ? c->s->query
                       : op->operation == GQL_OP_SUBSCRIPTION
                           ? c->s->subscription
                           : NULL;
    usages_t own = {0};

    /* UniqueOperationNames, LoneAnonymousOperation */
    if (op->name) {
        const gql_definition_t *known = smap_get(&c->op_names, op->name);

        if (known)
            report(c, known->name_loc,
                   "There can be only one operation named \"%s\".", op->name);
        else
            smap_set(c, &c->op_names, op->name, (void *)op);
    } else if (c->noperations > 1) {
        report(c, op->loc,
               "This anonymous operation must be the only "
               "defined operation.");
    }
    single_field_subscription(c, op);

    /* UniqueVariableNames */
    for (int i = 0; i < op->nvar_defs; i++) {
        bool first = true;

        for (int j = 0; j < i && first; j++)
            first = strcmp(op->var_defs[i]->name, op->var_defs[j]->name) != 0;
        for (int j = i + 1; first && j < op->nvar_defs; j++) {
            if (strcmp(op->var_defs[i]->name, op->var_defs[j]->name) == 0) {
                report(c, op->var_defs[i]->name_loc,
                       "There can be only one variable named \"$%s\".",
                       op->var_defs[i]->name);
                break;
            }
        }
    }
    unique_directives(c, op->directives, op->ndirectives);

    c->usages = &own;
    for (int i = 0; i < op->nvar_defs; i++)
        visit_var_def(c, op->var_defs[i]);
    visit_directives(c, op->directives, op->ndirectives, locs[op->operation]);
    visit_selection_set(c, op->selection_set, root, false);
    c->usages = NULL;
    operation_leave(c, op, &own);
}

/* Detects cycles through fragment spreads (graphql-js's NoFragmentCycles,
 * a depth-first search along the spread path). */
typedef struct cycle_state {
    smap_t visited;
    smap_t index; /* name -> position in path + 1 */
    const gql_selection_t **path;
    int npath;
    int cap;
} cycle_state_t;

static void detect_cycles(vctx_t *c, cycle_state_t *st,
                          const gql_definition_t *frag)
{
    const gql_selection_t **nodes;
    int nnodes = 0, cap = 0;

    if (smap_get(&st->visited, frag->name))
        return;
    smap_set(c, &st->visited, frag->name, (void *)frag);

    /* the spread nodes themselves, in getFragmentSpreads order */
    {
        const gql_selection_set_t **stack;
        int n = 0, scap = 8;

        nodes = NULL;
        stack = vc_alloc(c, (size_t)scap * sizeof(*stack));
        stack[n++] = frag->selection_set;
        while (n > 0) {
            const gql_selection_set_t *set = stack[--n];

            for (int i = 0; i < set->n; i++) {
                const gql_selection_t *s = set->items[i];

                if (s->kind == GQL_SEL_FRAGMENT_SPREAD) {
                    nodes = vgrow(c, nodes, nnodes, &cap, sizeof(*nodes));
                    nodes[nnodes++] = s;
                } else if (s->selection_set) {
                    stack = vgrow(c, stack, n, &scap, sizeof(*stack));
                    stack[n++] = s->selection_set;
                }
            }
        }
    }
    if (nnodes == 0)
        return;
    smap_set(c, &st->index, frag->name, (void *)(intptr_t)(st->npath + 1));
    for (int i = 0; i < nnodes; i++) {
        const gql_selection_t *spread = nodes[i];
        intptr_t at = (intptr_t)smap_get(&st->index, spread->name);

        st->path = vgrow(c, st->path, st->npath, &st->cap, sizeof(*st->path));
        st->path[st->npath++] = spread;
        if (at == 0) {
            const gql_definition_t *f = get_fragment(c, spread->name);

            if (f)
                detect_cycles(c, st, f);
        } else {
            for (int k = (int)at - 1; k < st->npath - 1; k++)
                buf_printf(&c->scratch, "%s\"%s\"", k > at - 1 ? ", " : "",
                           st->path[k]->name);
            if (c->scratch.len) {
                const char *via = scratch_done(c);

                report(c, st->path[at - 1]->loc,
                       "Cannot spread fragment \"%s\" within itself via %s.",
                       spread->name, via);
            } else {
                report(c, st->path[at - 1]->loc,
                       "Cannot spread fragment \"%s\" within itself.",
                       spread->name);
            }
        }
        st->npath--;
    }
    smap_set(c, &st->index, frag->name, (void *)0);
}

static void visit_fragment(vctx_t *c, const gql_definition_t *f,
                           cycle_state_t *cycles)
{
    gql_type_t *t = gql_type_from_ref(c->s, f->type_cond);
    const gql_definition_t *known;

    if (c->report) {
        known = smap_get(&c->frag_names, f->name);
        if (known)
            report(c, known->name_loc,
                   "There can be only one fragment named \"%s\".", f->name);
        else
            smap_set(c, &c->frag_names, f->name, (void *)f);
        if (t && !gql_is_composite_type(t))
            report(c, f->type_cond->loc,
                   "Fragment \"%s\" cannot condition on non composite type "
                   "\"%s\".",
                   f->name, ref_str(c, f->type_cond));
        detect_cycles(c, cycles, f);
        unique_directives(c, f->directives, f->ndirectives);
        visit_type_ref(c, f->type_cond);
    }
    visit_directives(c, f->directives, f->ndirectives,
                     GQL_DIRLOC_FRAGMENT_DEFINITION);
    visit_selection_set(c, f->selection_set, gql_is_output_type(t) ? t : NULL,
                        false);
}

static void no_unused_fragments(vctx_t *c)
{
    const gql_selection_set_t **sets;
    names_t names = {0};
    smap_t *used;
    int n = 0;

    sets = vc_alloc(c, (size_t)(c->doc->ndefs + 1) * sizeof(*sets));
    for (int i = 0; i < c->doc->ndefs; i++)
        if (c->doc->defs[i]->kind == GQL_DEF_OPERATION)
            sets[n++] = c->doc->defs[i]->selection_set;
    used = referenced_fragments(c, sets, n, &names);
    for (int i = 0; i < c->doc->ndefs; i++) {
        const gql_definition_t *d = c->doc->defs[i];

        if (d->kind == GQL_DEF_FRAGMENT && !smap_get(used, d->name))
            report(c, d->loc, "Fragment \"%s\" is never used.", d->name);
    }
}

bool gql_validate(const gql_schema_t *schema, const gql_document_t *doc,
                  gql_errors_t *errors)
{
    vctx_t *c = calloc(1, sizeof(*c));
    int before = errors->count;
    cycle_state_t cycles;

    if (!c) {
        gql_errors_add(errors, (gql_loc_t){0, 0}, "Out of memory.");
        return false;
    }
    c->s = schema;
    c->arena = schema->arena;
    c->doc = doc;
    c->errors = errors;
    c->budget = OVERLAP_BUDGET;
    buf_init(&c->scratch, 0);
    memset(&cycles, 0, sizeof(cycles));
    if (setjmp(c->abort) != 0)
        goto out;

    /* getFragment(): the last definition of a name; the variables each
     * uses are collected first, as graphql-js walks them on demand */
    for (int i = 0; i < doc->ndefs; i++) {
        const gql_definition_t *d = doc->defs[i];

        if (d->kind == GQL_DEF_OPERATION)
            c->noperations++;
        if (d->kind == GQL_DEF_FRAGMENT) {
            fragment_t *f = smap_get(&c->fragments, d->name);

            if (!f) {
                f = vc_alloc(c, sizeof(*f));
                f->id = c->nfragments++;
                smap_set(c, &c->fragments, d->name, f);
            }
            f->def = d;
        }
    }
    c->report = false;
    for (int i = 0; i < doc->ndefs; i++) {
        const gql_definition_t *d = doc->defs[i];
        fragment_t *f;

        if (d->kind != GQL_DEF_FRAGMENT)
            continue;
        f = smap_get(&c->fragments, d->name);
        if (f->def != d)
            continue;
        c->usages = &f->usages;
        visit_fragment(c, d, &cycles);
        c->usages = NULL;
    }
    c->report = true;

    /* ExecutableDefinitions */
    for (int i = 0; i < doc->ndefs; i++) {
        const gql_definition_t *d = doc->defs[i];

        if (d->kind != GQL_DEF_TYPE_SYSTEM)
            continue;
        if (d->name)
            report(c, d->loc, "The \"%s\" definition is not executable.",
                   d->name);
        else
            report(c, d->loc, "The schema definition is not executable.");
    }
    for (int i = 0; i < doc->ndefs; i++) {
        const gql_definition_t *d = doc->defs[i];

        if (d->kind == GQL_DEF_OPERATION)
            visit_operation(c, d);
        else if (d->kind == GQL_DEF_FRAGMENT)
            visit_fragment(c, d, &cycles);
    }
    no_unused_fragments(c);
out:
    buf_free(&c->scratch);
    free(c);
    return errors->count == before;
}
