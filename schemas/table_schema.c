/* Table schemas and their Avro form: the key record, the change envelope,
 * and the envelope read back into columns.  Schema text is produced with
 * jansson in a fixed field order so that equal schemas are equal text. */
#include "table_schema.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_MAX_TEXT    (1024 * 1024)
#define SCHEMA_MAX_COLUMNS 1600 /* PostgreSQL's own limit */

static const char *const coltype_names[COLTYPE_COUNT_] = {
    [COLTYPE_BOOLEAN] = "boolean",
    [COLTYPE_INT] = "int",
    [COLTYPE_LONG] = "long",
    [COLTYPE_FLOAT] = "float",
    [COLTYPE_DOUBLE] = "double",
    [COLTYPE_STRING] = "string",
    [COLTYPE_BYTES] = "bytes",
    [COLTYPE_DECIMAL] = "decimal",
    [COLTYPE_NUMERIC] = "numeric",
    [COLTYPE_DATE] = "date",
    [COLTYPE_TIME] = "time",
    [COLTYPE_TIMESTAMP] = "timestamp",
    [COLTYPE_TIMESTAMPTZ] = "timestamptz",
    [COLTYPE_UUID] = "uuid",
    [COLTYPE_JSON] = "json",
    [COLTYPE_ARRAY] = "array",
};

const char *coltype_name(coltype_t type)
{
    if ((unsigned)type >= COLTYPE_COUNT_)
        return "unknown";
    return coltype_names[type];
}

table_schema_t *table_schema_new(const char *database, const char *nspname,
                                 const char *relname, int ncols)
{
    table_schema_t *ts = calloc(1, sizeof(*ts));

    if (!ts)
        return NULL;
    ts->database = strdup(database ? database : "");
    ts->nspname = strdup(nspname);
    ts->relname = strdup(relname);
    ts->cols = calloc(ncols > 0 ? (size_t)ncols : 1, sizeof(column_t));
    ts->ncols = ncols;
    if (!ts->database || !ts->nspname || !ts->relname || !ts->cols) {
        table_schema_free(ts);
        return NULL;
    }
    return ts;
}

void table_schema_free(table_schema_t *ts)
{
    if (!ts)
        return;
    for (int i = 0; i < ts->ncols && ts->cols; i++) {
        free(ts->cols[i].name);
        free(ts->cols[i].field);
        free(ts->cols[i].pg_type);
    }
    free(ts->cols);
    free(ts->database);
    free(ts->nspname);
    free(ts->relname);
    free(ts);
}

/* Appends name made valid as an Avro name: letters, digits and '_', not
 * starting with a digit. */
static void avro_safe_name(const char *name, buf_t *out)
{
    const char *p = name;

    if (!*p || (*p >= '0' && *p <= '9'))
        buf_putc(out, '_');
    for (; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_';

        buf_putc(out, ok ? (uint8_t)c : '_');
    }
}

bool table_schema_set_column(table_schema_t *ts, int i, const char *name,
                             const char *pg_type, coltype_t type,
                             coltype_t elem, int precision, int scale, bool key)
{
    column_t *col = &ts->cols[i];
    buf_t field;
    size_t base_len;
    int suffix = 2;

    buf_init(&field, 0);
    avro_safe_name(name, &field);
    base_len = field.len;
    for (;;) {
        bool clash = false;

        buf_cstr(&field);
        for (int j = 0; j < i; j++) {
            if (strcmp(ts->cols[j].field, (char *)field.data) == 0)
                clash = true;
        }
        if (!clash)
            break;
        field.len = base_len;
        buf_printf(&field, "_%d", suffix++);
    }

    col->name = strdup(name);
    col->field = buf_cstr(&field) ? (char *)field.data : NULL;
    col->pg_type = strdup(pg_type);
    col->type = type;
    col->elem = elem;
    col->precision = precision;
    col->scale = scale;
    col->key = key;
    if (key)
        ts->nkeys++;
    return col->name && col->field && col->pg_type;
}

bool table_schema_equal(const table_schema_t *a, const table_schema_t *b)
{
    if (a->ncols != b->ncols || strcmp(a->nspname, b->nspname) != 0 ||
        strcmp(a->relname, b->relname) != 0)
        return false;
    for (int i = 0; i < a->ncols; i++) {
        const column_t *x = &a->cols[i], *y = &b->cols[i];

        if (strcmp(x->name, y->name) != 0 ||
            strcmp(x->pg_type, y->pg_type) != 0 || x->type != y->type ||
            (x->type == COLTYPE_ARRAY && x->elem != y->elem) ||
            x->precision != y->precision || x->scale != y->scale ||
            x->key != y->key)
            return false;
    }
    return true;
}

void table_schema_namespace(const table_schema_t *ts, const char *prefix,
                            buf_t *out)
{
    avro_safe_name(prefix, out);
    buf_putc(out, '.');
    avro_safe_name(ts->nspname, out);
    buf_putc(out, '.');
    avro_safe_name(ts->relname, out);
}

/* The Avro shape of one value of a kind (without null). */
static json_t *kind_shape(coltype_t type, int precision, int scale)
{
    switch (type) {
    case COLTYPE_BOOLEAN:
        return json_string("boolean");
    case COLTYPE_INT:
        return json_string("int");
    case COLTYPE_LONG:
        return json_string("long");
    case COLTYPE_FLOAT:
        return json_string("float");
    case COLTYPE_DOUBLE:
        return json_string("double");
    case COLTYPE_STRING:
        return json_string("string");
    case COLTYPE_BYTES:
        return json_string("bytes");
    case COLTYPE_DECIMAL:
        return json_pack("{s:s, s:s, s:i, s:i}", "type", "bytes", "logicalType",
                         "decimal", "precision", precision, "scale", scale);
    case COLTYPE_NUMERIC:
        return json_pack("{s:s, s:s}", "type", "string", "cdc.type", "numeric");
    case COLTYPE_DATE:
        return json_pack("{s:s, s:s}", "type", "int", "logicalType", "date");
    case COLTYPE_TIME:
        return json_pack("{s:s, s:s}", "type", "long", "logicalType",
                         "time-micros");
    case COLTYPE_TIMESTAMP:
        return json_pack("{s:s, s:s}", "type", "long", "logicalType",
                         "local-timestamp-micros");
    case COLTYPE_TIMESTAMPTZ:
        return json_pack("{s:s, s:s}", "type", "long", "logicalType",
                         "timestamp-micros");
    case COLTYPE_UUID:
        return json_pack("{s:s, s:s}", "type", "string", "logicalType", "uuid");
    case COLTYPE_JSON:
        return json_pack("{s:s, s:s}", "type", "string", "cdc.type", "json");
    case COLTYPE_ARRAY:
    case COLTYPE_COUNT_:
        break;
    }
    return NULL;
}

/* The Avro type of a column's value: the kind's shape, wrapped in a union
 * with null unless required; decimals also carry a string branch for NaN. */
static json_t *column_type(const column_t *col, bool required)
{
    json_t *shape, *u;

    if (col->type == COLTYPE_ARRAY) {
        json_t *elem = kind_shape(col->elem, col->precision, col->scale);
        json_t *items = json_array();

        json_array_append_new(items, json_string("null"));
        json_array_append_new(items, elem);
        if (col->elem == COLTYPE_DECIMAL)
            json_array_append_new(items, json_string("string"));
        shape = json_pack("{s:s, s:o}", "type", "array", "items", items);
    } else {
        shape = kind_shape(col->type, col->precision, col->scale);
    }
    if (required && col->type != COLTYPE_DECIMAL)
        return shape;

    u = json_array();
    if (!required)
        json_array_append_new(u, json_string("null"));
    json_array_append_new(u, shape);
    if (col->type == COLTYPE_DECIMAL)
        json_array_append_new(u, json_string("string"));
    return u;
}

static json_t *column_field(const column_t *col, bool required)
{
    json_t *f = json_object();

    json_object_set_new(f, "name", json_string(col->field));
    json_object_set_new(f, "type", column_type(col, required));
    if (!required)
        json_object_set_new(f, "default", json_null());
    if (strcmp(col->field, col->name) != 0)
        json_object_set_new(f, "cdc.column", json_string(col->name));
    json_object_set_new(f, "pg.type", json_string(col->pg_type));
    if (col->key)
        json_object_set_new(f, "cdc.key", json_true());
    return f;
}

static bool dump_into(json_t *root, buf_t *out)
{
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    bool ok = text && buf_puts(out, text);

    free(text);
    json_decref(root);
    return ok;
}

bool table_schema_key_avro(const table_schema_t *ts, const char *prefix,
                           buf_t *out)
{
    json_t *fields, *root;
    buf_t ns;

    if (ts->nkeys == 0)
        return false;
    buf_init(&ns, 0);
    table_schema_namespace(ts, prefix, &ns);
    fields = json_array();
    for (int i = 0; i < ts->ncols; i++) {
        if (ts->cols[i].key)
            json_array_append_new(fields, column_field(&ts->cols[i], true));
    }
    root = json_pack("{s:s, s:s, s:s%, s:o}", "type", "record", "name", "Key",
                     "namespace", buf_cstr(&ns), ns.len, "fields", fields);
    buf_free(&ns);
    return dump_into(root, out);
}

static json_t *source_record(void)
{
    static const char *const longs[] = {"lsn", "commit_lsn", "txid", "ts_us",
                                        "seq"};
    json_t *fields = json_array();

    json_array_append_new(
        fields, json_pack("{s:s, s:s}", "name", "db", "type", "string"));
    json_array_append_new(
        fields, json_pack("{s:s, s:s}", "name", "schema", "type", "string"));
    json_array_append_new(
        fields, json_pack("{s:s, s:s}", "name", "table", "type", "string"));
    for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++)
        json_array_append_new(
            fields, json_pack("{s:s, s:s}", "name", longs[i], "type", "long"));
    json_array_append_new(
        fields, json_pack("{s:s, s:s}", "name", "snapshot", "type", "boolean"));
    json_array_append_new(
        fields, json_pack("{s:s, s:s}", "name", "identity", "type", "string"));
    return json_pack("{s:s, s:s, s:s, s:o}", "type", "record", "name", "Source",
                     "namespace", "cdc", "fields", fields);
}

bool table_schema_value_avro(const table_schema_t *ts, const char *prefix,
                             buf_t *out)
{
    json_t *row_fields, *row, *fields, *root;
    buf_t ns;

    buf_init(&ns, 0);
    table_schema_namespace(ts, prefix, &ns);

    row_fields = json_array();
    for (int i = 0; i < ts->ncols; i++)
        json_array_append_new(row_fields, column_field(&ts->cols[i], false));
    row = json_pack("{s:s, s:s, s:o}", "type", "record", "name", "Value",
                    "fields", row_fields);

    fields = json_array();
    json_array_append_new(fields,
                          json_pack("{s:s, s:[s,o], s:n}", "name", "before",
                                    "type", "null", row, "default"));
    json_array_append_new(fields,
                          json_pack("{s:s, s:[s,s], s:n}", "name", "after",
                                    "type", "null", "Value", "default"));
    json_array_append_new(
        fields, json_pack("{s:s, s:s}", "name", "op", "type", "string"));
    json_array_append_new(fields, json_pack("{s:s, s:o}", "name", "source",
                                            "type", source_record()));
    json_array_append_new(
        fields, json_pack("{s:s, s:s}", "name", "ts_ms", "type", "long"));
    json_array_append_new(fields,
                          json_pack("{s:s, s:{s:s, s:s}, s:[]}", "name",
                                    "unchanged", "type", "type", "array",
                                    "items", "string", "default"));

    root =
        json_pack("{s:s, s:s, s:s%, s:o, s:s, s:s}", "type", "record", "name",
                  "Envelope", "namespace", buf_cstr(&ns), ns.len, "fields",
                  fields, "cdc.schema", ts->nspname, "cdc.table", ts->relname);
    buf_free(&ns);
    return dump_into(root, out);
}

/* Reading an envelope schema back. */

static bool fail(char *err, size_t errlen, const char *msg, const char *what)
{
    snprintf(err, errlen, "%s%s%s", msg, what ? " " : "", what ? what : "");
    return false;
}

/* Recognises one value shape (not a union). */
static bool parse_shape(json_t *shape, coltype_t *type, int *precision,
                        int *scale)
{
    const char *base, *logical, *cdc_type;

    if (json_is_string(shape)) {
        static const struct {
            const char *name;
            coltype_t type;
        } plain[] = {
            {"boolean", COLTYPE_BOOLEAN}, {"int", COLTYPE_INT},
            {"long", COLTYPE_LONG},       {"float", COLTYPE_FLOAT},
            {"double", COLTYPE_DOUBLE},   {"string", COLTYPE_STRING},
            {"bytes", COLTYPE_BYTES},
        };
        base = json_string_value(shape);
        for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
            if (strcmp(base, plain[i].name) == 0) {
                *type = plain[i].type;
                return true;
            }
        }
        return false;
    }
    if (!json_is_object(shape))
        return false;

    base = json_string_value(json_object_get(shape, "type"));
    logical = json_string_value(json_object_get(shape, "logicalType"));
    cdc_type = json_string_value(json_object_get(shape, "cdc.type"));
    if (!base)
        return false;
    if (!logical && !cdc_type)
        return parse_shape(json_object_get(shape, "type"), type, precision,
                           scale);

    if (strcmp(base, "bytes") == 0 && logical &&
        strcmp(logical, "decimal") == 0) {
        json_t *p = json_object_get(shape, "precision");
        json_t *s = json_object_get(shape, "scale");

        if (!json_is_integer(p) || json_integer_value(p) < 1 ||
            json_integer_value(p) > 1000)
            return false;
        if (s && (!json_is_integer(s) || json_integer_value(s) < 0 ||
                  json_integer_value(s) > json_integer_value(p)))
            return false;
        *type = COLTYPE_DECIMAL;
        *precision = (int)json_integer_value(p);
        *scale = s ? (int)json_integer_value(s) : 0;
        return true;
    }
    if (strcmp(base, "string") == 0 && cdc_type) {
        if (strcmp(cdc_type, "numeric") == 0)
            *type = COLTYPE_NUMERIC;
        else if (strcmp(cdc_type, "json") == 0)
            *type = COLTYPE_JSON;
        else
            *type = COLTYPE_STRING;
        return true;
    }
    if (!logical)
        return false;
    if (strcmp(base, "int") == 0 && strcmp(logical, "date") == 0)
        *type = COLTYPE_DATE;
    else if (strcmp(base, "long") == 0 && strcmp(logical, "time-micros") == 0)
        *type = COLTYPE_TIME;
    else if (strcmp(base, "long") == 0 &&
             strcmp(logical, "local-timestamp-micros") == 0)
        *type = COLTYPE_TIMESTAMP;
    else if (strcmp(base, "long") == 0 &&
             strcmp(logical, "timestamp-micros") == 0)
        *type = COLTYPE_TIMESTAMPTZ;
    else if (strcmp(base, "string") == 0 && strcmp(logical, "uuid") == 0)
        *type = COLTYPE_UUID;
    else
        return false;
    return true;
}

/* A union of null, a shape, and for decimals a trailing "string". */
static bool parse_nullable(json_t *type, coltype_t *kind, int *precision,
                           int *scale)
{
    size_t n = json_array_size(type);
    json_t *first = json_array_get(type, 0);

    if (!json_is_array(type) || n < 2 || n > 3 || !json_is_string(first) ||
        strcmp(json_string_value(first), "null") != 0)
        return false;
    if (!parse_shape(json_array_get(type, 1), kind, precision, scale))
        return false;
    if (*kind == COLTYPE_DECIMAL)
        return n == 3;
    return n == 2;
}

static bool parse_column(table_schema_t *ts, int i, json_t *f, char *err,
                         size_t errlen)
{
    const char *field = json_string_value(json_object_get(f, "name"));
    const char *name = json_string_value(json_object_get(f, "cdc.column"));
    const char *pg_type = json_string_value(json_object_get(f, "pg.type"));
    json_t *type = json_object_get(f, "type");
    json_t *shape;
    coltype_t kind = COLTYPE_STRING, elem = (coltype_t)0;
    int precision = 0, scale = 0;
    column_t *col;

    if (!field)
        return fail(err, errlen, "a row field has no name", NULL);
    if (!parse_nullable(type, &kind, &precision, &scale)) {
        /* Arrays are the one shape parse_shape does not know. */
        shape = json_array_get(type, 1);
        if (json_array_size(type) != 2 || !json_is_object(shape) ||
            !json_is_string(json_object_get(shape, "type")) ||
            strcmp(json_string_value(json_object_get(shape, "type")),
                   "array") != 0 ||
            !parse_nullable(json_object_get(shape, "items"), &elem, &precision,
                            &scale))
            return fail(err, errlen,
                        "this version does not know the type "
                        "of field",
                        field);
        kind = COLTYPE_ARRAY;
    }
    if (!table_schema_set_column(ts, i, name ? name : field,
                                 pg_type ? pg_type : coltype_name(kind), kind,
                                 elem, precision, scale,
                                 json_is_true(json_object_get(f, "cdc.key"))))
        return fail(err, errlen, "out of memory", NULL);
    col = &ts->cols[i];
    if (strcmp(col->field, field) != 0)
        return fail(err, errlen, "not a valid Avro name, or repeated: field",
                    field);
    return true;
}

table_schema_t *table_schema_from_avro(const char *text, size_t len, char *err,
                                       size_t errlen)
{
    json_t *root, *fields, *before, *row, *row_fields, *source;
    const char *db = "", *schema_name, *table_name;
    table_schema_t *ts = NULL;
    json_error_t jerr;
    size_t nfields;

    if (len > SCHEMA_MAX_TEXT) {
        snprintf(err, errlen, "schema is larger than %d bytes",
                 SCHEMA_MAX_TEXT);
        return NULL;
    }
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "schema is not JSON: %s", jerr.text);
        return NULL;
    }

    fields = json_object_get(root, "fields");
    before = json_array_get(fields, 0);
    row = json_array_get(json_object_get(before, "type"), 1);
    row_fields = json_object_get(row, "fields");
    source = json_array_get(fields, 3);
    if (!json_is_object(root) ||
        !json_is_string(json_object_get(root, "name")) ||
        strcmp(json_string_value(json_object_get(root, "name")), "Envelope") !=
            0 ||
        json_array_size(fields) < 5 || !json_is_array(row_fields) ||
        !json_is_object(source)) {
        snprintf(err, errlen,
                 "schema is not a change envelope (record "
                 "\"Envelope\" with before, after, op, source)");
        goto out;
    }
    nfields = json_array_size(row_fields);
    if (nfields > SCHEMA_MAX_COLUMNS) {
        snprintf(err, errlen,
                 "schema has %zu columns; at most %d are "
                 "supported",
                 nfields, SCHEMA_MAX_COLUMNS);
        goto out;
    }

    schema_name = json_string_value(json_object_get(root, "cdc.schema"));
    table_name = json_string_value(json_object_get(root, "cdc.table"));
    ts = table_schema_new(db, schema_name ? schema_name : "",
                          table_name ? table_name : "", (int)nfields);
    if (!ts) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nfields; i++) {
        json_t *f = json_array_get(row_fields, i);

        if (!json_is_object(f) || !parse_column(ts, (int)i, f, err, errlen)) {
            if (!json_is_object(f))
                snprintf(err, errlen, "row field %zu is not an object", i);
            ts->ncols = (int)i + (json_is_object(f) ? 1 : 0);
            table_schema_free(ts);
            ts = NULL;
            goto out;
        }
    }

out:
    json_decref(root);
    return ts;
}
