/* The inside of the GraphQL front end: the parsed document (AST), the
 * lexer, the type system built from our collections, and the calls the
 * parser, validator and planner make into each other.  Everything here
 * lives in one arena per request; graphql.h is the public surface. */
#ifndef CDC_GRAPHQL_AST_H
#define CDC_GRAPHQL_AST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "graphql.h"

/* A position in the document: 1-based line, and column counted in UTF-16
 * code units as graphql-js counts them, so clients see the same numbers. */
typedef struct gql_loc {
    int line;
    int column;
} gql_loc_t;

/* ---- errors ---------------------------------------------------------- */

/* Errors collected while checking one request; past max they are counted
 * but not stored. */
typedef struct gql_errors {
    gql_error_t *items;
    int max;
    int count;
} gql_errors_t;

/* Appends one error with its location (line 0 when it has none). */
void gql_errors_add(gql_errors_t *e, gql_loc_t loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void gql_errors_vadd(gql_errors_t *e, gql_loc_t loc, const char *fmt,
                     va_list ap) __attribute__((format(printf, 3, 0)));

/* ---- lexer ----------------------------------------------------------- */

typedef enum gql_tok_kind {
    GQL_TOK_SOF,
    GQL_TOK_EOF,
    GQL_TOK_BANG,
    GQL_TOK_DOLLAR,
    GQL_TOK_AMP,
    GQL_TOK_PAREN_L,
    GQL_TOK_PAREN_R,
    GQL_TOK_SPREAD,
    GQL_TOK_COLON,
    GQL_TOK_EQUALS,
    GQL_TOK_AT,
    GQL_TOK_BRACKET_L,
    GQL_TOK_BRACKET_R,
    GQL_TOK_BRACE_L,
    GQL_TOK_PIPE,
    GQL_TOK_BRACE_R,
    GQL_TOK_NAME,
    GQL_TOK_INT,
    GQL_TOK_FLOAT,
    GQL_TOK_STRING,
    GQL_TOK_BLOCK_STRING,
} gql_tok_kind_t;

typedef struct gql_token {
    gql_tok_kind_t kind;
    /* NAME, INT, FLOAT: the source text; STRING, BLOCK_STRING: the value
     * decoded into the lexer's arena (NUL-terminated, may hold NULs) */
    const char *value;
    size_t len;
    gql_loc_t loc;
    size_t start;
} gql_token_t;

typedef struct gql_lexer {
    const char *src;
    size_t len;
    size_t pos;        /* where the next token starts looking */
    int line;          /* line of pos */
    size_t line_start; /* byte offset where that line starts */
    size_t col_pos;    /* columns are counted incrementally from here */
    int col_units;
    arena_t *arena;
} gql_lexer_t;

/* Starts reading src (len bytes, which must outlive the lexer); decoded
 * strings go to arena. */
void gql_lexer_init(gql_lexer_t *lx, const char *src, size_t len,
                    arena_t *arena);

/* Reads the next token (comments, commas and white space skipped).  On a
 * lexical error returns false and fills err with a graphql-js style
 * "Syntax Error: ..." message and its location. */
bool gql_lexer_next(gql_lexer_t *lx, gql_token_t *tok, gql_error_t *err);

/* "Name", "\"{\"", "<EOF>" ...: how messages name a token kind. */
const char *gql_tok_kind_name(gql_tok_kind_t kind);

/* ---- AST ------------------------------------------------------------- */

typedef enum gql_value_kind {
    GQL_VAL_VARIABLE,
    GQL_VAL_INT,
    GQL_VAL_FLOAT,
    GQL_VAL_STRING,
    GQL_VAL_BOOLEAN,
    GQL_VAL_NULL,
    GQL_VAL_ENUM,
    GQL_VAL_LIST,
    GQL_VAL_OBJECT,
} gql_value_kind_t;

typedef struct gql_value gql_value_t;
typedef struct gql_object_field gql_object_field_t;

struct gql_value {
    gql_value_kind_t kind;
    gql_loc_t loc;
    /* VARIABLE and ENUM: the name; INT and FLOAT: the literal text;
     * STRING: the decoded value (len bytes, may hold NULs) */
    const char *str;
    size_t len;
    bool boolean;        /* BOOLEAN */
    bool block;          /* STRING written as a block string */
    gql_value_t **items; /* LIST */
    int nitems;
    gql_object_field_t **fields; /* OBJECT, in document order */
    int nfields;
};

struct gql_object_field {
    const char *name;
    gql_loc_t loc;
    gql_value_t *value;
};

typedef enum gql_type_ref_kind {
    GQL_REF_NAMED,
    GQL_REF_LIST,
    GQL_REF_NON_NULL,
} gql_type_ref_kind_t;

/* A type as written in the document ("[Int!]"). */
typedef struct gql_type_ref {
    gql_type_ref_kind_t kind;
    gql_loc_t loc;
    const char *name;        /* NAMED */
    struct gql_type_ref *of; /* LIST, NON_NULL */
} gql_type_ref_t;

typedef struct gql_argument {
    const char *name;
    gql_loc_t loc;
    gql_value_t *value;
} gql_argument_t;

typedef struct gql_directive {
    const char *name;
    gql_loc_t loc; /* of the "@" */
    gql_argument_t **args;
    int nargs;
} gql_directive_t;

typedef enum gql_selection_kind {
    GQL_SEL_FIELD,
    GQL_SEL_FRAGMENT_SPREAD,
    GQL_SEL_INLINE_FRAGMENT,
} gql_selection_kind_t;

typedef struct gql_selection gql_selection_t;

typedef struct gql_selection_set {
    gql_loc_t loc;
    gql_selection_t **items;
    int n;
} gql_selection_set_t;

struct gql_selection {
    gql_selection_kind_t kind;
    gql_loc_t loc;
    const char *alias; /* FIELD, NULL without alias */
    const char *name;  /* FIELD name, FRAGMENT_SPREAD fragment */
    gql_loc_t name_loc;
    gql_argument_t **args; /* FIELD */
    int nargs;
    gql_directive_t **directives;
    int ndirectives;
    gql_type_ref_t *type_cond;          /* INLINE_FRAGMENT, may be NULL */
    gql_selection_set_t *selection_set; /* NULL on leaf fields, spreads */
};

typedef enum gql_def_kind {
    GQL_DEF_OPERATION,
    GQL_DEF_FRAGMENT,
    GQL_DEF_TYPE_SYSTEM, /* parsed for syntax, never executable */
} gql_def_kind_t;

typedef enum gql_op_type {
    GQL_OP_QUERY,
    GQL_OP_MUTATION,
    GQL_OP_SUBSCRIPTION,
} gql_op_type_t;

typedef struct gql_var_def {
    const char *name;
    gql_loc_t loc;      /* of the definition (its description or "$") */
    gql_loc_t name_loc; /* of the name after "$" */
    gql_type_ref_t *type;
    gql_value_t *default_value; /* NULL when none */
    gql_directive_t **directives;
    int ndirectives;
} gql_var_def_t;

typedef struct gql_definition {
    gql_def_kind_t kind;
    gql_loc_t loc;
    gql_op_type_t operation; /* OPERATION */
    /* OPERATION: NULL when anonymous; FRAGMENT: its name; TYPE_SYSTEM: the
     * defined name, NULL for schema definitions and extensions */
    const char *name;
    gql_loc_t name_loc;
    gql_var_def_t **var_defs;
    int nvar_defs;
    gql_type_ref_t *type_cond; /* FRAGMENT */
    gql_directive_t **directives;
    int ndirectives;
    gql_selection_set_t *selection_set;
    bool shorthand; /* OPERATION written as a bare selection set */
} gql_definition_t;

struct gql_document {
    arena_t arena; /* owns every node */
    gql_definition_t **defs;
    int ndefs;
    int ntokens;
};

/* Writes a value literal as graphql-js prints it ({a: [1, "x"]}). */
void gql_print_value(buf_t *out, const gql_value_t *v);

/* Writes a type reference ("[Int!]!"). */
void gql_print_type_ref(buf_t *out, const gql_type_ref_t *t);

/* Writes the document in a compact canonical form, one definition per
 * line; used by tests to check what the parser built. */
void gql_print_document(buf_t *out, const gql_document_t *doc);

/* ---- type system ----------------------------------------------------- */

typedef enum gql_type_kind {
    GQL_KIND_SCALAR,
    GQL_KIND_OBJECT,
    GQL_KIND_ENUM,
    GQL_KIND_INPUT_OBJECT,
    GQL_KIND_LIST,
    GQL_KIND_NON_NULL,
} gql_type_kind_t;

/* What a scalar accepts as input. */
typedef enum gql_scalar {
    GQL_SCALAR_INT,
    GQL_SCALAR_FLOAT,
    GQL_SCALAR_STRING,
    GQL_SCALAR_BOOLEAN,
    GQL_SCALAR_ID,
    GQL_SCALAR_CUSTOM, /* JSON, Date, ...: any value, kept as given */
} gql_scalar_t;

/* What a field of ours means, for the planner. */
typedef enum gql_field_role {
    GQL_ROLE_NONE,
    GQL_ROLE_ROOT,   /* Subscription.C_mutated or the short form C */
    GQL_ROLE_KEY,    /* C_mutated.key */
    GQL_ROLE_EVENT,  /* C_mutated.event */
    GQL_ROLE_CURSOR, /* C_mutated.cursor */
    GQL_ROLE_DATA,   /* C_mutated.data */
    GQL_ROLE_COLUMN, /* C.<column> */
} gql_field_role_t;

typedef struct gql_type gql_type_t;

/* An argument or an input object field; none of ours has a default, the
 * one built-in that has (@deprecated's reason) says so here. */
typedef struct gql_input_value {
    const char *name;
    gql_type_t *type;
    bool has_default;
} gql_input_value_t;

typedef struct gql_field_def {
    const char *name;
    gql_type_t *type;
    gql_input_value_t *args;
    int nargs;
    gql_field_role_t role;
    int collection;  /* ROOT: index into the schema's collections */
    bool short_form; /* ROOT: the short form C rather than C_mutated */
    int column;      /* COLUMN: index into the table schema */
} gql_field_def_t;

struct gql_type {
    gql_type_kind_t kind;
    const char *name;        /* NULL for LIST and NON_NULL */
    gql_type_t *of;          /* LIST, NON_NULL */
    gql_type_t *list_of;     /* interned wrappers, so equal types are */
    gql_type_t *non_null_of; /* the same pointer */
    gql_scalar_t scalar;     /* SCALAR */
    gql_field_def_t *fields; /* OBJECT */
    int nfields;
    gql_input_value_t *input_fields; /* INPUT_OBJECT */
    int ninput_fields;
    const char **enum_values; /* ENUM */
    int nenum_values;
};

enum {
    GQL_DIRLOC_QUERY = 1 << 0,
    GQL_DIRLOC_MUTATION = 1 << 1,
    GQL_DIRLOC_SUBSCRIPTION = 1 << 2,
    GQL_DIRLOC_FIELD = 1 << 3,
    GQL_DIRLOC_FRAGMENT_DEFINITION = 1 << 4,
    GQL_DIRLOC_FRAGMENT_SPREAD = 1 << 5,
    GQL_DIRLOC_INLINE_FRAGMENT = 1 << 6,
    GQL_DIRLOC_VARIABLE_DEFINITION = 1 << 7,
    GQL_DIRLOC_OTHER = 1 << 8, /* type system locations */
};

typedef struct gql_directive_def {
    const char *name;
    unsigned locations;
    gql_input_value_t *args;
    int nargs;
} gql_directive_def_t;

/* One collection as exposed: its generated names and types. */
typedef struct gql_schema_collection {
    const char *name;
    const table_schema_t *table;
    gql_type_t *object;  /* C */
    gql_type_t *mutated; /* C_mutated */
    gql_type_t *filter;  /* C_filter */
} gql_schema_collection_t;

typedef struct gql_schema {
    arena_t *arena;
    /* __schema and __type (on the query root) and __typename (on every
     * object type): answered by the server, not listed in fields */
    gql_field_def_t schema_meta;
    gql_field_def_t type_meta;
    gql_field_def_t typename_meta;
    gql_type_t **types; /* named types, in SDL order */
    int ntypes;
    gql_type_t *query;
    gql_type_t *subscription; /* NULL when no collection is exposed */
    gql_type_t *event_enum;
    gql_type_t *boolean; /* built-ins the validator needs by hand */
    gql_directive_def_t *directives;
    int ndirectives;
    gql_schema_collection_t *collections;
    int ncollections;
} gql_schema_t;

/* Builds the schema for these collections in arena (with each
 * subscriber's may_read applied).  NULL when memory runs out. */
gql_schema_t *gql_schema_build(arena_t *arena, const gql_collection_t *cols,
                               int ncols);

/* A name GraphQL accepts for a type or field of ours. */
bool gql_valid_name(const char *name);

/* Lookups by name; NULL (false) when there is no such type, directive,
 * field of an object type, field of an input type or enum value. */
gql_type_t *gql_schema_type(const gql_schema_t *s, const char *name);
const gql_directive_def_t *gql_schema_directive(const gql_schema_t *s,
                                                const char *name);
const gql_field_def_t *gql_type_field(const gql_type_t *t, const char *name);
const gql_input_value_t *gql_type_input_field(const gql_type_t *t,
                                              const char *name);
bool gql_type_has_enum_value(const gql_type_t *t, const char *name);

/* The field a selection of name on parent means, meta fields included
 * (graphql-js's getFieldDef); NULL when there is none. */
const gql_field_def_t *gql_field_lookup(const gql_schema_t *s,
                                        const gql_type_t *parent,
                                        const char *name);

/* List and non-null wrappers, made once per type in arena; NULL in (or
 * memory exhausted) gives NULL out. */
gql_type_t *gql_list_of(arena_t *arena, gql_type_t *t);
gql_type_t *gql_non_null_of(arena_t *arena, gql_type_t *t);

/* The named type under all wrappers, and the type without a non-null. */
gql_type_t *gql_named_type(gql_type_t *t);
gql_type_t *gql_nullable_type(gql_type_t *t);

/* graphql-js's type predicates; all false for NULL. */
bool gql_is_input_type(const gql_type_t *t);
bool gql_is_output_type(const gql_type_t *t);
bool gql_is_leaf_type(const gql_type_t *t);
bool gql_is_composite_type(const gql_type_t *t);

/* The schema type a written type reference means; NULL when a name in it
 * is unknown. */
gql_type_t *gql_type_from_ref(const gql_schema_t *s, const gql_type_ref_t *ref);

/* Writes a type as GraphQL prints it ("[String]!"). */
void gql_print_type(buf_t *out, const gql_type_t *t);

/* ---- validation and values ------------------------------------------- */

/* Runs the specification's validation rules (those of graphql-js's
 * specifiedRules) over doc, plus ours that need the whole document.
 * Returns true when no error was added. */
bool gql_validate(const gql_schema_t *schema, const gql_document_t *doc,
                  gql_errors_t *errors);

/* Appends up to five of opts close to input (graphql-js's suggestionList
 * and didYouMean): " Did you mean \"a\" or \"b\"?", with submessage
 * after "mean" when not NULL; nothing when none is close. */
void gql_did_you_mean(buf_t *out, const char *input, const char *const *opts,
                      int nopts, const char *submessage);

/* The literal a scalar or enum accepts; fills msg (graphql-js's wording)
 * and returns false when it does not. */
bool gql_leaf_accepts_literal(const gql_type_t *t, const gql_value_t *v,
                              buf_t *msg);

/* Writes a JSON value as graphql-js's inspect() does in messages. */
void gql_inspect_json(buf_t *out, const json_t *v);

/* graphql-js's shouldIncludeNode: evaluates @skip and @include among dirs
 * with the coerced variable values vars (NULL: none at all).  Returns 1
 * to include, 0 to leave out, or -1 after adding an error when an "if"
 * argument is missing, null, of the wrong kind, or an absent variable. */
int gql_should_include(gql_directive_t **dirs, int n, const json_t *vars,
                       gql_errors_t *errors);

#endif
