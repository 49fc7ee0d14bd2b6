/* Values as JSON the way Directus sends them: numbers as numbers, decimals
 * as strings, timestamps in ISO 8601, json columns as JSON, keys as
 * strings.  Used once per event and projection, never per subscriber. */
#ifndef CDC_RENDER_H
#define CDC_RENDER_H

#include "buf.h"
#include "table_schema.h"
#include "value.h"

#include <stdbool.h>

/* Appends the JSON form of v, a value of column col.  A value that is not
 * known (VALUE_UNCHANGED) renders as null; callers that can leave it out
 * check first. */
bool render_value(buf_t *out, const column_t *col, const value_t *v);

/* Appends the row's key as a JSON string: the key column's text, or the
 * key columns' texts joined with ",".  false when the table has no key or
 * a key value is missing. */
bool render_key(buf_t *out, const table_schema_t *ts, const value_t *row);

/* Appends the text of a value without JSON quoting (numbers in decimal,
 * strings as they are); used for keys. */
bool render_text(buf_t *out, const column_t *col, const value_t *v);

#endif
