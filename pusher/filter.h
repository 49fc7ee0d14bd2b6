/* Row filters in Directus's filter language, compiled once against a table
 * schema and evaluated on typed rows for every change event.
 *
 * Input handled: a JSON object (or its text) such as
 *   {"title": {"_icontains": "news"}, "_or": [{"views": {"_gt": 10}}, ...]}
 * Several fields in one object, and several operators under one field,
 * mean AND; "_and" and "_or" take arrays of filters, also under a field
 * ({"n": {"_or": [{"_lt": 1}, {"_gt": 9}]}}); a scalar in place of the
 * operator object means "_eq" ({"status": "draft"}).
 *
 * Operators: _eq _neq _lt _lte _gt _gte _in _nin _null _nnull _contains
 * _ncontains _icontains _nicontains _starts_with _nstarts_with
 * _istarts_with _nistarts_with _ends_with _nends_with _iends_with
 * _niends_with _between _nbetween _empty _nempty, and _ieq _nieq (which
 * Directus 11 also has).  Other operators are refused when compiling, as
 * are relational filters ({"author": {"name": ...}}), _some/_none,
 * function fields ("year(date)") and geometry operators, each with a
 * message that says what to do instead.
 *
 * Semantics follow what Directus 11 makes PostgreSQL do (Directus turns a
 * filter into SQL; its realtime server re-reads rows with it):
 * - Comparisons with a NULL column are false, negated ones included:
 *   "_neq", "_nin", "_ncontains", "_nbetween" and the other "_n..."
 *   operators do not match NULL (Directus emits NOT (col = v), which SQL
 *   does not make true for NULL).  "_nin" whose list holds null matches
 *   nothing, as SQL's NOT IN does; "_in": [] matches nothing and
 *   "_nin": [] matches every row, NULL included (what Knex emits).
 * - "_eq": null means "_null": true and "_neq": null means "_nnull": true.
 *   The strings "null"/"NULL" mean null and "true"/"false" mean the
 *   booleans, wherever a value is expected (Directus's parser does this).
 * - "_null": false means "_nnull": true and "_nnull": false means
 *   "_null": true; likewise "_empty"/"_nempty".  Any other value (true,
 *   1, "yes") counts as true.  Directus 11 behaves so; it is not a no-op.
 * - "_empty" is true for NULL, the empty string, an empty array or empty
 *   bytes, and for json whose value is "", [], {} or null.  On other kinds
 *   "_empty" is refused ("use _null").
 * - "_or": [] and "_and": [] match every row, as in Directus (Knex drops
 *   an empty group); so does {}.
 * - Strings compare bytewise (PostgreSQL's "C" collation; other collations
 *   are not reproduced); equality is exact.  "_contains", "_starts_with"
 *   and "_ends_with" match the value literally: Directus passes it to LIKE
 *   unescaped, where "%" and "_" would act as wildcards; here they do not.
 *   The "_i..." operators compare with Unicode simple case folding
 *   (Unicode 15), so "ÄRGER" _icontains "ärg", and Greek and Cyrillic fold
 *   too; full foldings ("ß" to "ss") are not applied.
 * - Numbers: a filter value may be a JSON number or a numeric string
 *   ("5", " 1.5e3 ").  int and long columns compare exactly as int64 and
 *   refuse values that are not whole numbers in range (as PostgreSQL
 *   does); float and double compare as PostgreSQL's float4/float8 (the
 *   value is rounded to the column's precision, NaN equals NaN and sorts
 *   above everything); decimal and numeric compare their decimal text
 *   exactly, with NaN equal to NaN and above Infinity.  A JSON number
 *   with a fraction arrives as a double (jansson), so give long decimals
 *   as strings.  Booleans take true/false and PostgreSQL's spellings
 *   ("t", "yes", "on", "1", ...).
 * - Dates and times: ISO 8601 ("2024-05-31", "2024-05-31T10:00:00.5",
 *   "... +02:00" or "Z"), "infinity", "-infinity", "epoch", or "$NOW",
 *   "$NOW(-1 day)", "$NOW(+2 hours)" with the units Directus accepts (ms,
 *   s, min, h, d, w, months, y and their long forms; no unit means days;
 *   a number may have a fraction, except for months and years).  As in
 *   PostgreSQL a timestamp (without zone) column ignores a zone in the
 *   value, a date column takes the date part, a time column the time of
 *   day; a value without zone for timestamptz means UTC.  $NOW is taken
 *   at evaluation time (the caller passes the clock), in UTC: days are
 *   24 hours and months clamp to the month's last day.
 * - uuid compares as 128-bit values, so case and hyphens do not matter.
 * - json columns support _null, _nnull, _empty and _nempty; arrays those
 *   and _contains/_ncontains, meaning "has an element equal to" (SQL's
 *   v = ANY(col): a NULL element makes _ncontains false).
 * - "$CURRENT_USER" and "$CURRENT_ROLE" are replaced by the caller's
 *   strings when compiling.  When there is none (the public role), a
 *   comparison with it is false whatever the operator, and inside "_in"
 *   or "_nin" it is a null element.  This is stricter than Directus,
 *   which would turn "_eq": "$CURRENT_USER" into "_null": true.  Other
 *   variables ($CURRENT_USER.email, $CURRENT_POLICIES) are refused.
 * - "_between" and "_nbetween" take two values (array or "a,b"), both
 *   ends inclusive; a wrong count is refused (Directus ignores it).
 *
 * Evaluation is three-valued: a column in state VALUE_UNCHANGED (a TOASTed
 * value the database did not send) is unknown, and _and/_or combine with
 * Kleene logic.  Such a value is known to be neither NULL nor empty (the
 * database only stores large values out of line), so _null, _nnull,
 * _empty and _nempty still answer for it.
 *
 * A compiled filter holds no pointer to the schema or the JSON, never
 * changes, and may be evaluated from several threads at once.  Rows must
 * be laid out as the schema it was compiled against. */
#ifndef CDC_FILTER_H
#define CDC_FILTER_H

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../schemas/table_schema.h"
#include "../schemas/value.h"

/* Limits on what one filter may hold; besides them, the values it keeps
 * (strings, lists) may take at most 4 MiB. */
#define FILTER_MAX_DEPTH  32        /* nesting of objects and arrays */
#define FILTER_MAX_NODES  1000      /* conditions and _and/_or groups */
#define FILTER_MAX_LIST   10000     /* values in all lists together */
#define FILTER_MAX_STRING 16384     /* bytes in one string value */
#define FILTER_MAX_TEXT   (1 << 20) /* bytes of filter JSON text */

typedef struct filter filter_t;

typedef enum filter_result {
    FILTER_FALSE = 0,
    FILTER_TRUE = 1,
    FILTER_UNKNOWN = 2, /* depends on a value the event did not carry */
} filter_result_t;

/* What "$CURRENT_USER" and "$CURRENT_ROLE" stand for; NULL when the
 * client has none. */
typedef struct filter_vars {
    const char *current_user;
    const char *current_role;
} filter_vars_t;

/* Says whether the subscriber may filter on column col of the schema. */
typedef bool (*filter_may_filter_fn)(void *arg, int col);

/* Compiles json (an object) for rows of ts.  may_filter (NULL: every
 * column) hides columns: a refused column gets the same message as one
 * that does not exist.  vars may be NULL (no user, no role).
 * Returns the filter, owned by the caller (filter_free), or NULL with a
 * message in err: the JSON is not a filter, names an unknown field or
 * operator, has a value that does not fit the field, or passes a limit.
 * Nothing is kept of json, ts, vars or arg. */
filter_t *filter_compile(const json_t *json, const table_schema_t *ts,
                         filter_may_filter_fn may_filter, void *arg,
                         const filter_vars_t *vars, char *err, size_t errlen);

/* The same from JSON text of len bytes (at most FILTER_MAX_TEXT), as the
 * realtime protocol may send "query.filter" as a string.  NULL with err
 * set also when the text is not JSON. */
filter_t *filter_compile_text(const char *text, size_t len,
                              const table_schema_t *ts,
                              filter_may_filter_fn may_filter, void *arg,
                              const filter_vars_t *vars, char *err,
                              size_t errlen);

/* Evaluates f on row (ts->ncols values) at now_us, microseconds since
 * 1970 UTC, the time "$NOW" stands for.  Never allocates.  A NULL row is
 * unknown (FILTER_UNKNOWN) unless the filter matches every row. */
filter_result_t filter_eval(const filter_t *f, const value_t *row,
                            int64_t now_us);

/* Appends the filter's canonical JSON text: the same for filters that
 * compile to the same thing (key order, spelling of values, resolved
 * variables, duplicates), so subscriptions can be grouped by it.  It is a
 * filter itself and compiles back to the same text.  false when out of
 * memory or past out's limit. */
bool filter_canonical(const filter_t *f, buf_t *out);

/* True when the result may change with the clock ($NOW is used). */
bool filter_uses_now(const filter_t *f);

/* True when the filter matches every row ({} or equivalent). */
bool filter_matches_all(const filter_t *f);

/* The columns the filter reads, ascending, without duplicates: sets *cols
 * to an array owned by f and returns how many there are. */
int filter_columns(const filter_t *f, const int **cols);

/* How a required value is compared, and so hashed. */
typedef enum filter_eq_kind {
    FILTER_EQ_INT,  /* the column's integer (value_t u.i) */
    FILTER_EQ_TEXT, /* its bytes */
    FILTER_EQ_UUID, /* its 128 bits */
} filter_eq_kind_t;

/* One value that a column of every matching row holds: a top-level _eq
 * with a constant on an integer-like, text or uuid column.  With it,
 * groups are found by a row's value instead of being tried one by one. */
typedef struct filter_eq {
    int col;
    filter_eq_kind_t kind;
    uint64_t hash;
} filter_eq_t;

/* Finds such an _eq in f (on the lowest column when there are several);
 * false when there is none. */
bool filter_required_eq(const filter_t *f, filter_eq_t *eq);

/* Hashes a row's value as filter_required_eq hashes its constant.  false
 * when the value is not set, or not of the kind (then no _eq of that kind
 * can be ruled out by hash). */
bool filter_value_hash(filter_eq_kind_t kind, const value_t *v, uint64_t *hash);

/* Frees f; NULL is allowed. */
void filter_free(filter_t *f);

#endif
