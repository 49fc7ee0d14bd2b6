/* Lexer and recursive-descent parser for GraphQL documents: operations
 * (query, mutation, subscription, with variables, defaults, directives),
 * selection sets, fields, aliases, arguments, fragment spreads, inline
 * fragments, fragment definitions and every value literal (int, float,
 * string, block string, boolean, null, enum, list, object, variable), with
 * comments, commas and byte order marks.  Type system definitions and
 * extensions are read for their syntax only so the validator can reject
 * them by name.  Limits: GQL_MAX_DOCUMENT bytes, GQL_MAX_TOKENS tokens,
 * GQL_MAX_DEPTH levels, GQL_MAX_STRING bytes per string; messages follow
 * graphql-js ("Syntax Error: Expected Name, found <EOF>."). */
#include "graphql_ast.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nodes, names and decoded strings of one document all live here. */
#define GQL_PARSE_ARENA_LIMIT (32u * 1024 * 1024)

/* ---- errors ---------------------------------------------------------- */

void gql_errors_vadd(gql_errors_t *e, gql_loc_t loc, const char *fmt,
                     va_list ap)
{
    gql_error_t *err;
    int n;

    if (e->count < e->max) {
        err = &e->items[e->count];
        n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
        if (n >= (int)sizeof(err->message))
            memcpy(err->message + sizeof(err->message) - 4, "...", 4);
        err->line = loc.line;
        err->column = loc.column;
    }
    e->count++;
}

void gql_errors_add(gql_errors_t *e, gql_loc_t loc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    gql_errors_vadd(e, loc, fmt, ap);
    va_end(ap);
}

static void set_error(gql_error_t *err, gql_loc_t loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(gql_error_t *err, gql_loc_t loc, const char *fmt, ...)
{
    gql_errors_t e = {.items = err, .max = 1};
    va_list ap;

    va_start(ap, fmt);
    gql_errors_vadd(&e, loc, fmt, ap);
    va_end(ap);
}

/* ---- lexer ----------------------------------------------------------- */

static const char *const tok_names[] = {
    [GQL_TOK_SOF] = "<SOF>",
    [GQL_TOK_EOF] = "<EOF>",
    [GQL_TOK_BANG] = "\"!\"",
    [GQL_TOK_DOLLAR] = "\"$\"",
    [GQL_TOK_AMP] = "\"&\"",
    [GQL_TOK_PAREN_L] = "\"(\"",
    [GQL_TOK_PAREN_R] = "\")\"",
    [GQL_TOK_SPREAD] = "\"...\"",
    [GQL_TOK_COLON] = "\":\"",
    [GQL_TOK_EQUALS] = "\"=\"",
    [GQL_TOK_AT] = "\"@\"",
    [GQL_TOK_BRACKET_L] = "\"[\"",
    [GQL_TOK_BRACKET_R] = "\"]\"",
    [GQL_TOK_BRACE_L] = "\"{\"",
    [GQL_TOK_PIPE] = "\"|\"",
    [GQL_TOK_BRACE_R] = "\"}\"",
    [GQL_TOK_NAME] = "Name",
    [GQL_TOK_INT] = "Int",
    [GQL_TOK_FLOAT] = "Float",
    [GQL_TOK_STRING] = "String",
    [GQL_TOK_BLOCK_STRING] = "BlockString",
};

const char *gql_tok_kind_name(gql_tok_kind_t kind)
{
    return tok_names[kind];
}

void gql_lexer_init(gql_lexer_t *lx, const char *src, size_t len,
                    arena_t *arena)
{
    memset(lx, 0, sizeof(*lx));
    lx->src = src;
    lx->len = len;
    lx->line = 1;
    lx->arena = arena;
}

static bool is_name_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_continue(int c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* The code point of the UTF-8 sequence at p (its length in *n), or -1
 * when the bytes are not valid UTF-8. */
static int32_t utf8_decode(const unsigned char *p, size_t avail, int *n)
{
    int32_t cp;
    int len;

    if (p[0] < 0x80) {
        *n = 1;
        return p[0];
    }
    if ((p[0] & 0xE0) == 0xC0) {
        len = 2;
        cp = p[0] & 0x1F;
    } else if ((p[0] & 0xF0) == 0xE0) {
        len = 3;
        cp = p[0] & 0x0F;
    } else if ((p[0] & 0xF8) == 0xF0) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return -1;
    }
    if ((size_t)len > avail)
        return -1;
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return -1;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *n = len;
    return cp;
}

static void utf8_put(buf_t *b, uint32_t cp)
{
    uint8_t s[4];
    size_t n;

    if (cp < 0x80) {
        s[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        s[0] = (uint8_t)(0xC0 | cp >> 6);
        s[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        s[0] = (uint8_t)(0xE0 | cp >> 12);
        s[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        s[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        s[0] = (uint8_t)(0xF0 | cp >> 18);
        s[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
        s[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        s[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    buf_append(b, s, n);
}

/* Line and column of a byte offset counted from the document start; for
 * the rare message about a place before the current line. */
static gql_loc_t loc_slow(const gql_lexer_t *lx, size_t pos)
{
    gql_loc_t loc = {1, 1};
    size_t i = 0;

    while (i < pos) {
        unsigned char c = (unsigned char)lx->src[i];

        if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < pos && lx->src[i + 1] == '\n')
                i++;
            loc.line++;
            loc.column = 1;
        } else if ((c & 0xC0) != 0x80) {
            loc.column += c >= 0xF0 ? 2 : 1;
        }
        i++;
    }
    return loc;
}

/* Location of a byte offset on the current line; columns are counted in
 * UTF-16 units (four-byte UTF-8 sequences count two), incrementally. */
static gql_loc_t lx_loc(gql_lexer_t *lx, size_t pos)
{
    if (pos < lx->line_start)
        return loc_slow(lx, pos);
    if (lx->col_pos < lx->line_start || lx->col_pos > pos) {
        lx->col_pos = lx->line_start;
        lx->col_units = 0;
    }
    while (lx->col_pos < pos) {
        unsigned char c = (unsigned char)lx->src[lx->col_pos++];

        if ((c & 0xC0) != 0x80)
            lx->col_units += c >= 0xF0 ? 2 : 1;
    }
    return (gql_loc_t){lx->line, lx->col_units + 1};
}

/* graphql-js's printCodePointAt: "\"a\"", "U+00E9", "<EOF>". */
static void describe_char(const gql_lexer_t *lx, size_t pos, char *out,
                          size_t outlen)
{
    int32_t cp;
    int n;

    if (pos >= lx->len) {
        snprintf(out, outlen, "<EOF>");
        return;
    }
    cp = utf8_decode((const unsigned char *)lx->src + pos, lx->len - pos, &n);
    if (cp < 0)
        snprintf(out, outlen, "invalid UTF-8 byte 0x%02X",
                 (unsigned char)lx->src[pos]);
    else if (cp == '"')
        snprintf(out, outlen, "'\"'");
    else if (cp >= 0x20 && cp <= 0x7E)
        snprintf(out, outlen, "\"%c\"", (char)cp);
    else
        snprintf(out, outlen, "U+%04X", (unsigned)cp);
}

static bool lex_fail_char(gql_lexer_t *lx, gql_error_t *err, size_t pos,
                          const char *what)
{
    char desc[40];

    describe_char(lx, pos, desc, sizeof(desc));
    set_error(err, lx_loc(lx, pos), "Syntax Error: %s%s.", what, desc);
    return false;
}

static void new_line(gql_lexer_t *lx, size_t next)
{
    lx->line++;
    lx->line_start = next;
}

static bool store_value(gql_lexer_t *lx, gql_token_t *tok, buf_t *b,
                        gql_error_t *err)
{
    char *s;

    if (b->overflow) {
        set_error(err, tok->loc,
                  "Syntax Error: String is longer than %d bytes; send "
                  "large values as variables in smaller pieces.",
                  GQL_MAX_STRING);
        return false;
    }
    s = arena_strndup(lx->arena, b->len ? (const char *)b->data : "", b->len);
    if (!s) {
        set_error(err, tok->loc, "Document is too large to process.");
        return false;
    }
    tok->value = s;
    tok->len = b->len;
    return true;
}

static int hex_digit(const gql_lexer_t *lx, size_t pos)
{
    int c;

    if (pos >= lx->len)
        return -1;
    c = (unsigned char)lx->src[pos];
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Four hex digits at pos; negative when one is not a hex digit. */
static int32_t hex16(const gql_lexer_t *lx, size_t pos)
{
    int32_t v = 0;

    for (int i = 0; i < 4; i++) {
        int d = hex_digit(lx, pos + (size_t)i);

        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

static bool is_scalar_value(int64_t cp)
{
    return (cp >= 0 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0x10FFFF);
}

static bool bad_escape(gql_lexer_t *lx, gql_error_t *err, size_t pos,
                       size_t size, const char *what)
{
    size_t end = pos + size > lx->len ? lx->len : pos + size;

    /* keep a multi-byte character whole */
    while (end < lx->len && (lx->src[end] & 0xC0) == 0x80)
        end++;
    set_error(err, lx_loc(lx, pos), "Syntax Error: Invalid %s: \"%.*s\".", what,
              (int)(end - pos), lx->src + pos);
    return false;
}

/* Reads the escape sequence at pos (a backslash) into b; *size is its
 * length in the source. */
static bool read_escape(gql_lexer_t *lx, size_t pos, buf_t *b, size_t *size,
                        gql_error_t *err)
{
    int c = pos + 1 < lx->len ? (unsigned char)lx->src[pos + 1] : -1;

    if (c == 'u' && pos + 2 < lx->len && lx->src[pos + 2] == '{') {
        int64_t point = 0;
        size_t n = 3;

        /* \u{...}: up to eight hex digits naming a scalar value */
        while (n < 12) {
            size_t at = pos + n++;
            int d;

            if (at < lx->len && lx->src[at] == '}') {
                if (n < 5 || !is_scalar_value(point))
                    break;
                utf8_put(b, (uint32_t)point);
                *size = n;
                return true;
            }
            d = hex_digit(lx, at);
            if (d < 0 || (point << 4) > INT32_MAX)
                break;
            point = point << 4 | d;
        }
        return bad_escape(lx, err, pos, n, "Unicode escape sequence");
    }
    if (c == 'u') {
        int32_t code = hex16(lx, pos + 2);

        if (is_scalar_value(code)) {
            utf8_put(b, (uint32_t)code);
            *size = 6;
            return true;
        }
        /* a surrogate pair written as two escapes, as JSON does */
        if (code >= 0xD800 && code <= 0xDBFF && pos + 7 < lx->len &&
            lx->src[pos + 6] == '\\' && lx->src[pos + 7] == 'u') {
            int32_t low = hex16(lx, pos + 8);

            if (low >= 0xDC00 && low <= 0xDFFF) {
                utf8_put(b, 0x10000 + ((uint32_t)(code - 0xD800) << 10) +
                                (uint32_t)(low - 0xDC00));
                *size = 12;
                return true;
            }
        }
        return bad_escape(lx, err, pos, 6, "Unicode escape sequence");
    }
    *size = 2;
    switch (c) {
    case '"':
    case '\\':
    case '/':
        buf_putc(b, (uint8_t)c);
        return true;
    case 'b':
        buf_putc(b, '\b');
        return true;
    case 'f':
        buf_putc(b, '\f');
        return true;
    case 'n':
        buf_putc(b, '\n');
        return true;
    case 'r':
        buf_putc(b, '\r');
        return true;
    case 't':
        buf_putc(b, '\t');
        return true;
    }
    return bad_escape(lx, err, pos, 2, "character escape sequence");
}

/* Copies the source character at pos (validating UTF-8) into b; returns
 * its length, 0 after an error. */
static size_t copy_char(gql_lexer_t *lx, size_t pos, buf_t *b, gql_error_t *err)
{
    int n;

    if (utf8_decode((const unsigned char *)lx->src + pos, lx->len - pos, &n) <
        0) {
        lex_fail_char(lx, err, pos, "Invalid character within String: ");
        return 0;
    }
    buf_append(b, lx->src + pos, (size_t)n);
    return (size_t)n;
}

static bool read_string(gql_lexer_t *lx, gql_token_t *tok, gql_error_t *err)
{
    size_t pos = tok->start + 1;
    buf_t b;
    bool ok = false;

    buf_init(&b, GQL_MAX_STRING);
    for (;;) {
        unsigned char c;
        size_t n;

        if (pos >= lx->len) {
            set_error(err, lx_loc(lx, pos),
                      "Syntax Error: Unterminated "
                      "string.");
            goto out;
        }
        c = (unsigned char)lx->src[pos];
        if (c == '"')
            break;
        if (c == '\n' || c == '\r') {
            set_error(err, lx_loc(lx, pos),
                      "Syntax Error: Unterminated "
                      "string.");
            goto out;
        }
        if (c == '\\') {
            if (!read_escape(lx, pos, &b, &n, err))
                goto out;
        } else if (!(n = copy_char(lx, pos, &b, err))) {
            goto out;
        }
        pos += n;
    }
    lx->pos = pos + 1;
    ok = store_value(lx, tok, &b, err);
out:
    buf_free(&b);
    return ok;
}

/* Whitespace (space, tab) at the start of line i of a block string. */
static size_t indent_of(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

/* The specification's BlockStringValue(): drops the common indentation of
 * all lines but the first, then leading and trailing blank lines. */
static void dedent_block(const buf_t *raw, const size_t *lines, int nlines,
                         buf_t *out)
{
    size_t common = SIZE_MAX;
    int first = -1, last = -1;

    if (raw->len == 0)
        return; /* every line is empty */
    for (int i = 0; i < nlines; i++) {
        const char *s = (const char *)raw->data + lines[2 * i];
        size_t len = lines[2 * i + 1];
        size_t ind = indent_of(s, len);

        if (ind == len)
            continue;
        if (first < 0)
            first = i;
        last = i;
        if (i != 0 && ind < common)
            common = ind;
    }
    if (first < 0)
        first = 0;
    for (int i = first; i <= last; i++) {
        const char *s = (const char *)raw->data + lines[2 * i];
        size_t len = lines[2 * i + 1];
        size_t cut = i == 0 ? 0 : (common < len ? common : len);

        if (i > first)
            buf_putc(out, '\n');
        buf_append(out, s + cut, len - cut);
    }
}

static bool read_block_string(gql_lexer_t *lx, gql_token_t *tok,
                              gql_error_t *err)
{
    size_t pos = tok->start + 3, line_begin = 0;
    buf_t raw, out;
    size_t *lines = NULL;
    int nlines = 0, cap = 0;
    bool ok = false;

    buf_init(&raw, GQL_MAX_DOCUMENT);
    buf_init(&out, GQL_MAX_STRING);
    for (;;) {
        const char *s = lx->src + pos;
        size_t left = lx->len - pos;
        size_t n;

        if (pos >= lx->len) {
            set_error(err, lx_loc(lx, pos),
                      "Syntax Error: Unterminated "
                      "string.");
            goto out;
        }
        if (left >= 3 && memcmp(s, "\"\"\"", 3) == 0) {
            pos += 3;
            break;
        }
        if (left >= 4 && memcmp(s, "\\\"\"\"", 4) == 0) {
            buf_append(&raw, "\"\"\"", 3);
            pos += 4;
            continue;
        }
        if (*s == '\n' || *s == '\r') {
            if (nlines == cap) {
                size_t *nl;

                cap = cap ? cap * 2 : 16;
                nl = realloc(lines, (size_t)cap * 2 * sizeof(*lines));
                if (!nl) {
                    set_error(err, tok->loc,
                              "Document is too large to "
                              "process.");
                    goto out;
                }
                lines = nl;
            }
            lines[2 * nlines] = line_begin;
            lines[2 * nlines + 1] = raw.len - line_begin;
            nlines++;
            line_begin = raw.len;
            pos += (*s == '\r' && left > 1 && s[1] == '\n') ? 2 : 1;
            new_line(lx, pos);
            continue;
        }
        if (!(n = copy_char(lx, pos, &raw, err)))
            goto out;
        pos += n;
    }
    /* the last line, closed by the quotes */
    if (nlines == cap) {
        size_t *nl = realloc(lines, (size_t)(cap + 1) * 2 * sizeof(*lines));

        if (!nl) {
            set_error(err, tok->loc, "Document is too large to process.");
            goto out;
        }
        lines = nl;
    }
    lines[2 * nlines] = line_begin;
    lines[2 * nlines + 1] = raw.len - line_begin;
    nlines++;
    dedent_block(&raw, lines, nlines, &out);
    lx->pos = pos;
    ok = store_value(lx, tok, &out, err);
out:
    free(lines);
    buf_free(&raw);
    buf_free(&out);
    return ok;
}

/* Reads digits at pos, at least one; returns where they end, 0 after an
 * error. */
static size_t read_digits(gql_lexer_t *lx, size_t pos, gql_error_t *err)
{
    if (pos >= lx->len || !is_digit(lx->src[pos])) {
        lex_fail_char(lx, err, pos, "Invalid number, expected digit but got: ");
        return 0;
    }
    while (pos < lx->len && is_digit(lx->src[pos]))
        pos++;
    return pos;
}

static bool read_number(gql_lexer_t *lx, gql_token_t *tok, gql_error_t *err)
{
    size_t pos = tok->start;
    bool is_float = false;

#define AT(p) ((p) < lx->len ? (unsigned char)lx->src[p] : -1)
    if (AT(pos) == '-')
        pos++;
    if (AT(pos) == '0') {
        pos++;
        if (is_digit(AT(pos)))
            return lex_fail_char(lx, err, pos,
                                 "Invalid number, unexpected digit after 0: ");
    } else if (!(pos = read_digits(lx, pos, err))) {
        return false;
    }
    if (AT(pos) == '.') {
        is_float = true;
        if (!(pos = read_digits(lx, pos + 1, err)))
            return false;
    }
    if (AT(pos) == 'e' || AT(pos) == 'E') {
        is_float = true;
        pos++;
        if (AT(pos) == '+' || AT(pos) == '-')
            pos++;
        if (!(pos = read_digits(lx, pos, err)))
            return false;
    }
    if (AT(pos) == '.' || is_name_start(AT(pos)))
        return lex_fail_char(lx, err, pos,
                             "Invalid number, expected digit but got: ");
#undef AT
    tok->kind = is_float ? GQL_TOK_FLOAT : GQL_TOK_INT;
    tok->value = lx->src + tok->start;
    tok->len = pos - tok->start;
    lx->pos = pos;
    return true;
}

/* Skips a comment starting at pos ("#"); returns where it ends, 0 after an
 * error (a byte that is not UTF-8). */
static size_t skip_comment(gql_lexer_t *lx, size_t pos, gql_error_t *err)
{
    pos++;
    while (pos < lx->len && lx->src[pos] != '\n' && lx->src[pos] != '\r') {
        int n = 1;

        if ((unsigned char)lx->src[pos] >= 0x80 &&
            utf8_decode((const unsigned char *)lx->src + pos, lx->len - pos,
                        &n) < 0) {
            lex_fail_char(lx, err, pos, "Invalid character: ");
            return 0;
        }
        pos += (size_t)n;
    }
    return pos;
}

static gql_tok_kind_t punctuator(int c)
{
    switch (c) {
    case '!':
        return GQL_TOK_BANG;
    case '$':
        return GQL_TOK_DOLLAR;
    case '&':
        return GQL_TOK_AMP;
    case '(':
        return GQL_TOK_PAREN_L;
    case ')':
        return GQL_TOK_PAREN_R;
    case ':':
        return GQL_TOK_COLON;
    case '=':
        return GQL_TOK_EQUALS;
    case '@':
        return GQL_TOK_AT;
    case '[':
        return GQL_TOK_BRACKET_L;
    case ']':
        return GQL_TOK_BRACKET_R;
    case '{':
        return GQL_TOK_BRACE_L;
    case '|':
        return GQL_TOK_PIPE;
    case '}':
        return GQL_TOK_BRACE_R;
    }
    return GQL_TOK_SOF;
}

bool gql_lexer_next(gql_lexer_t *lx, gql_token_t *tok, gql_error_t *err)
{
    size_t pos = lx->pos;
    const char *s = lx->src;

    memset(tok, 0, sizeof(*tok));
    for (;;) {
        int c;
        gql_tok_kind_t kind;

        if (pos >= lx->len) {
            tok->kind = GQL_TOK_EOF;
            tok->start = lx->len;
            tok->loc = lx_loc(lx, lx->len);
            lx->pos = lx->len;
            return true;
        }
        c = (unsigned char)s[pos];
        if (c == ' ' || c == '\t' || c == ',') {
            pos++;
            continue;
        }
        if (c == '\n' || c == '\r') {
            pos +=
                (c == '\r' && pos + 1 < lx->len && s[pos + 1] == '\n') ? 2 : 1;
            new_line(lx, pos);
            continue;
        }
        if (c == 0xEF && pos + 2 < lx->len &&
            (unsigned char)s[pos + 1] == 0xBB &&
            (unsigned char)s[pos + 2] == 0xBF) {
            pos += 3; /* U+FEFF, a byte order mark, is white space */
            continue;
        }
        if (c == '#') {
            if (!(pos = skip_comment(lx, pos, err)))
                return false;
            continue;
        }
        tok->start = pos;
        tok->loc = lx_loc(lx, pos);
        kind = punctuator(c);
        if (kind != GQL_TOK_SOF) {
            tok->kind = kind;
            lx->pos = pos + 1;
            return true;
        }
        if (c == '.' && pos + 2 < lx->len && s[pos + 1] == '.' &&
            s[pos + 2] == '.') {
            tok->kind = GQL_TOK_SPREAD;
            lx->pos = pos + 3;
            return true;
        }
        if (c == '"') {
            if (pos + 2 < lx->len && s[pos + 1] == '"' && s[pos + 2] == '"') {
                tok->kind = GQL_TOK_BLOCK_STRING;
                return read_block_string(lx, tok, err);
            }
            tok->kind = GQL_TOK_STRING;
            return read_string(lx, tok, err);
        }
        if (is_digit(c) || c == '-')
            return read_number(lx, tok, err);
        if (is_name_start(c)) {
            size_t end = pos + 1;

            while (end < lx->len && is_name_continue((unsigned char)s[end]))
                end++;
            tok->kind = GQL_TOK_NAME;
            tok->value = s + pos;
            tok->len = end - pos;
            lx->pos = end;
            return true;
        }
        if (c == '\'') {
            set_error(err, tok->loc,
                      "Syntax Error: Unexpected single quote character ('), "
                      "did you mean to use a double quote (\")?");
            return false;
        }
        {
            int n;

            if (utf8_decode((const unsigned char *)s + pos, lx->len - pos, &n) <
                0)
                return lex_fail_char(lx, err, pos, "Invalid character: ");
        }
        return lex_fail_char(lx, err, pos, "Unexpected character: ");
    }
}

/* ---- parser ---------------------------------------------------------- */

/* Errors unwind with longjmp to gql_parse; every node lives in the arena,
 * so an abandoned parse leaks nothing but the scratch stack, which
 * gql_parse frees. */
typedef struct parser {
    gql_lexer_t lx;
    gql_token_t tok;
    gql_token_t ahead;
    bool has_ahead;
    arena_t *arena;
    gql_error_t *err;
    jmp_buf fail;
    int depth;
    int ntokens;
    void **stack; /* items of the lists being built, innermost last */
    size_t nstack;
    size_t capstack;
} parser_t;

static _Noreturn void fail(parser_t *p, gql_loc_t loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static _Noreturn void fail(parser_t *p, gql_loc_t loc, const char *fmt, ...)
{
    gql_errors_t e = {.items = p->err, .max = 1};
    va_list ap;

    va_start(ap, fmt);
    gql_errors_vadd(&e, loc, fmt, ap);
    va_end(ap);
    longjmp(p->fail, 1);
}

static void *palloc(parser_t *p, size_t size)
{
    void *m = arena_alloc(p->arena, size);

    if (!m)
        fail(p, p->tok.loc, "Document is too large to process.");
    memset(m, 0, size);
    return m;
}

static const char *pstrndup(parser_t *p, const char *s, size_t n)
{
    char *m = arena_strndup(p->arena, s, n);

    if (!m)
        fail(p, p->tok.loc, "Document is too large to process.");
    return m;
}

static void lex(parser_t *p, gql_token_t *tok)
{
    if (!gql_lexer_next(&p->lx, tok, p->err))
        longjmp(p->fail, 1);
}

static void advance(parser_t *p)
{
    if (p->has_ahead) {
        p->tok = p->ahead;
        p->has_ahead = false;
    } else {
        lex(p, &p->tok);
    }
    if (p->tok.kind != GQL_TOK_EOF && ++p->ntokens > GQL_MAX_TOKENS)
        fail(p, p->tok.loc,
             "Syntax Error: Document contains more than %d tokens; parsing "
             "aborted. Send a smaller document.",
             GQL_MAX_TOKENS);
}

static const gql_token_t *lookahead(parser_t *p)
{
    if (!p->has_ahead) {
        if (p->tok.kind == GQL_TOK_EOF)
            return &p->tok;
        lex(p, &p->ahead);
        p->has_ahead = true;
    }
    return &p->ahead;
}

static bool peek(const parser_t *p, gql_tok_kind_t kind)
{
    return p->tok.kind == kind;
}

static bool tok_is(const gql_token_t *t, const char *word)
{
    return t->kind == GQL_TOK_NAME && strlen(word) == t->len &&
           memcmp(t->value, word, t->len) == 0;
}

/* "Name \"foo\"", "\"{\"", "<EOF>". */
static void tok_desc(const gql_token_t *t, char *out, size_t outlen)
{
    switch (t->kind) {
    case GQL_TOK_NAME:
    case GQL_TOK_INT:
    case GQL_TOK_FLOAT:
    case GQL_TOK_STRING:
    case GQL_TOK_BLOCK_STRING:
        snprintf(out, outlen, "%s \"%.*s\"", gql_tok_kind_name(t->kind),
                 (int)(t->len > 200 ? 200 : t->len), t->value);
        break;
    default:
        snprintf(out, outlen, "%s", gql_tok_kind_name(t->kind));
    }
}

static _Noreturn void unexpected(parser_t *p, const gql_token_t *t)
{
    char desc[256];

    if (!t)
        t = &p->tok;
    tok_desc(t, desc, sizeof(desc));
    fail(p, t->loc, "Syntax Error: Unexpected %s.", desc);
}

static gql_token_t expect(parser_t *p, gql_tok_kind_t kind)
{
    gql_token_t t = p->tok;
    char desc[256];

    if (t.kind == kind) {
        advance(p);
        return t;
    }
    tok_desc(&t, desc, sizeof(desc));
    fail(p, t.loc, "Syntax Error: Expected %s, found %s.",
         gql_tok_kind_name(kind), desc);
}

static bool optional(parser_t *p, gql_tok_kind_t kind)
{
    if (p->tok.kind != kind)
        return false;
    advance(p);
    return true;
}

static void expect_keyword(parser_t *p, const char *word)
{
    char desc[256];

    if (tok_is(&p->tok, word)) {
        advance(p);
        return;
    }
    tok_desc(&p->tok, desc, sizeof(desc));
    fail(p, p->tok.loc, "Syntax Error: Expected \"%s\", found %s.", word, desc);
}

static bool optional_keyword(parser_t *p, const char *word)
{
    if (!tok_is(&p->tok, word))
        return false;
    advance(p);
    return true;
}

static void enter(parser_t *p)
{
    if (++p->depth > GQL_MAX_DEPTH)
        fail(p, p->tok.loc,
             "Syntax Error: Document is nested more than %d levels deep; "
             "flatten the selection or the value.",
             GQL_MAX_DEPTH);
}

static void leave(parser_t *p)
{
    p->depth--;
}

static void push(parser_t *p, void *item)
{
    if (p->nstack == p->capstack) {
        size_t cap = p->capstack ? p->capstack * 2 : 64;
        void **s = realloc(p->stack, cap * sizeof(*s));

        if (!s)
            fail(p, p->tok.loc, "Document is too large to process.");
        p->stack = s;
        p->capstack = cap;
    }
    p->stack[p->nstack++] = item;
}

/* Moves the items pushed since mark into an arena array. */
static void *pop_list(parser_t *p, size_t mark, int *count)
{
    size_t n = p->nstack - mark;
    void **items = NULL;

    if (n) {
        items = palloc(p, n * sizeof(*items));
        memcpy(items, p->stack + mark, n * sizeof(*items));
    }
    p->nstack = mark;
    *count = (int)n;
    return items;
}

static const char *parse_name(parser_t *p)
{
    gql_token_t t = expect(p, GQL_TOK_NAME);

    return pstrndup(p, t.value, t.len);
}

static gql_value_t *parse_value(parser_t *p, bool is_const);

static gql_value_t *new_value(parser_t *p, gql_value_kind_t kind, gql_loc_t loc)
{
    gql_value_t *v = palloc(p, sizeof(*v));

    v->kind = kind;
    v->loc = loc;
    return v;
}

static gql_value_t *parse_variable(parser_t *p)
{
    gql_loc_t loc = p->tok.loc;
    gql_value_t *v;

    expect(p, GQL_TOK_DOLLAR);
    v = new_value(p, GQL_VAL_VARIABLE, loc);
    v->str = parse_name(p);
    v->len = strlen(v->str);
    return v;
}

static gql_value_t *parse_list(parser_t *p, bool is_const)
{
    gql_value_t *v = new_value(p, GQL_VAL_LIST, p->tok.loc);
    size_t mark = p->nstack;

    enter(p);
    expect(p, GQL_TOK_BRACKET_L);
    while (!optional(p, GQL_TOK_BRACKET_R))
        push(p, parse_value(p, is_const));
    v->items = (gql_value_t **)pop_list(p, mark, &v->nitems);
    leave(p);
    return v;
}

static gql_value_t *parse_object(parser_t *p, bool is_const)
{
    gql_value_t *v = new_value(p, GQL_VAL_OBJECT, p->tok.loc);
    size_t mark = p->nstack;

    enter(p);
    expect(p, GQL_TOK_BRACE_L);
    while (!optional(p, GQL_TOK_BRACE_R)) {
        gql_object_field_t *f = palloc(p, sizeof(*f));

        f->loc = p->tok.loc;
        f->name = parse_name(p);
        expect(p, GQL_TOK_COLON);
        f->value = parse_value(p, is_const);
        push(p, f);
    }
    v->fields = (gql_object_field_t **)pop_list(p, mark, &v->nfields);
    leave(p);
    return v;
}

static gql_value_t *parse_value(parser_t *p, bool is_const)
{
    gql_token_t t = p->tok;
    gql_value_t *v;

    switch (t.kind) {
    case GQL_TOK_BRACKET_L:
        return parse_list(p, is_const);
    case GQL_TOK_BRACE_L:
        return parse_object(p, is_const);
    case GQL_TOK_INT:
    case GQL_TOK_FLOAT:
        advance(p);
        v = new_value(p, t.kind == GQL_TOK_INT ? GQL_VAL_INT : GQL_VAL_FLOAT,
                      t.loc);
        v->str = pstrndup(p, t.value, t.len);
        v->len = t.len;
        return v;
    case GQL_TOK_STRING:
    case GQL_TOK_BLOCK_STRING:
        advance(p);
        v = new_value(p, GQL_VAL_STRING, t.loc);
        v->str = t.value;
        v->len = t.len;
        v->block = t.kind == GQL_TOK_BLOCK_STRING;
        return v;
    case GQL_TOK_NAME:
        advance(p);
        if (tok_is(&t, "true") || tok_is(&t, "false")) {
            v = new_value(p, GQL_VAL_BOOLEAN, t.loc);
            v->boolean = tok_is(&t, "true");
        } else if (tok_is(&t, "null")) {
            v = new_value(p, GQL_VAL_NULL, t.loc);
        } else {
            v = new_value(p, GQL_VAL_ENUM, t.loc);
            v->str = pstrndup(p, t.value, t.len);
            v->len = t.len;
        }
        return v;
    case GQL_TOK_DOLLAR:
        if (is_const) {
            advance(p);
            if (p->tok.kind == GQL_TOK_NAME)
                fail(p, t.loc,
                     "Syntax Error: Unexpected variable \"$%.*s\" in "
                     "constant value.",
                     (int)p->tok.len, p->tok.value);
            unexpected(p, &t);
        }
        return parse_variable(p);
    default:
        unexpected(p, NULL);
    }
}

static gql_argument_t **parse_arguments(parser_t *p, bool is_const, int *n)
{
    size_t mark = p->nstack;

    *n = 0;
    if (!optional(p, GQL_TOK_PAREN_L))
        return NULL;
    do {
        gql_argument_t *a = palloc(p, sizeof(*a));

        a->loc = p->tok.loc;
        a->name = parse_name(p);
        expect(p, GQL_TOK_COLON);
        a->value = parse_value(p, is_const);
        push(p, a);
    } while (!optional(p, GQL_TOK_PAREN_R));
    return (gql_argument_t **)pop_list(p, mark, n);
}

static gql_directive_t **parse_directives(parser_t *p, bool is_const, int *n)
{
    size_t mark = p->nstack;

    while (peek(p, GQL_TOK_AT)) {
        gql_directive_t *d = palloc(p, sizeof(*d));

        d->loc = p->tok.loc;
        advance(p);
        d->name = parse_name(p);
        d->args = parse_arguments(p, is_const, &d->nargs);
        push(p, d);
    }
    return (gql_directive_t **)pop_list(p, mark, n);
}

static gql_type_ref_t *parse_named_type(parser_t *p)
{
    gql_type_ref_t *t = palloc(p, sizeof(*t));

    t->kind = GQL_REF_NAMED;
    t->loc = p->tok.loc;
    t->name = parse_name(p);
    return t;
}

static gql_type_ref_t *parse_type_ref(parser_t *p)
{
    gql_loc_t loc = p->tok.loc;
    gql_type_ref_t *t;

    if (optional(p, GQL_TOK_BRACKET_L)) {
        enter(p);
        t = palloc(p, sizeof(*t));
        t->kind = GQL_REF_LIST;
        t->loc = loc;
        t->of = parse_type_ref(p);
        expect(p, GQL_TOK_BRACKET_R);
        leave(p);
    } else {
        t = parse_named_type(p);
    }
    if (optional(p, GQL_TOK_BANG)) {
        gql_type_ref_t *nn = palloc(p, sizeof(*nn));

        nn->kind = GQL_REF_NON_NULL;
        nn->loc = loc;
        nn->of = t;
        return nn;
    }
    return t;
}

static bool peek_description(const parser_t *p)
{
    return peek(p, GQL_TOK_STRING) || peek(p, GQL_TOK_BLOCK_STRING);
}

static void skip_description(parser_t *p)
{
    if (peek_description(p))
        advance(p);
}

static gql_selection_set_t *parse_selection_set(parser_t *p);

static gql_selection_t *parse_selection(parser_t *p)
{
    gql_selection_t *s = palloc(p, sizeof(*s));
    const char *name;

    s->loc = p->tok.loc;
    if (optional(p, GQL_TOK_SPREAD)) {
        bool has_cond = optional_keyword(p, "on");

        if (!has_cond && peek(p, GQL_TOK_NAME)) {
            s->kind = GQL_SEL_FRAGMENT_SPREAD;
            s->name_loc = p->tok.loc;
            s->name = parse_name(p);
            s->directives = parse_directives(p, false, &s->ndirectives);
            return s;
        }
        s->kind = GQL_SEL_INLINE_FRAGMENT;
        if (has_cond)
            s->type_cond = parse_named_type(p);
        s->directives = parse_directives(p, false, &s->ndirectives);
        s->selection_set = parse_selection_set(p);
        return s;
    }
    s->kind = GQL_SEL_FIELD;
    s->name_loc = p->tok.loc;
    name = parse_name(p);
    if (optional(p, GQL_TOK_COLON)) {
        s->alias = name;
        s->name_loc = p->tok.loc;
        name = parse_name(p);
    }
    s->name = name;
    s->args = parse_arguments(p, false, &s->nargs);
    s->directives = parse_directives(p, false, &s->ndirectives);
    if (peek(p, GQL_TOK_BRACE_L))
        s->selection_set = parse_selection_set(p);
    return s;
}

static gql_selection_set_t *parse_selection_set(parser_t *p)
{
    gql_selection_set_t *set = palloc(p, sizeof(*set));
    size_t mark = p->nstack;

    enter(p);
    set->loc = p->tok.loc;
    expect(p, GQL_TOK_BRACE_L);
    do {
        push(p, parse_selection(p));
    } while (!optional(p, GQL_TOK_BRACE_R));
    set->items = (gql_selection_t **)pop_list(p, mark, &set->n);
    leave(p);
    return set;
}

static gql_var_def_t *parse_var_def(parser_t *p)
{
    gql_var_def_t *v = palloc(p, sizeof(*v));

    v->loc = p->tok.loc;
    skip_description(p);
    expect(p, GQL_TOK_DOLLAR);
    v->name_loc = p->tok.loc;
    v->name = parse_name(p);
    expect(p, GQL_TOK_COLON);
    v->type = parse_type_ref(p);
    if (optional(p, GQL_TOK_EQUALS))
        v->default_value = parse_value(p, true);
    v->directives = parse_directives(p, true, &v->ndirectives);
    return v;
}

static gql_definition_t *parse_operation(parser_t *p)
{
    gql_definition_t *d = palloc(p, sizeof(*d));
    gql_token_t t;
    size_t mark = p->nstack;

    d->kind = GQL_DEF_OPERATION;
    d->loc = p->tok.loc;
    if (peek(p, GQL_TOK_BRACE_L)) {
        d->operation = GQL_OP_QUERY;
        d->shorthand = true;
        d->selection_set = parse_selection_set(p);
        return d;
    }
    skip_description(p);
    t = expect(p, GQL_TOK_NAME);
    if (tok_is(&t, "query"))
        d->operation = GQL_OP_QUERY;
    else if (tok_is(&t, "mutation"))
        d->operation = GQL_OP_MUTATION;
    else if (tok_is(&t, "subscription"))
        d->operation = GQL_OP_SUBSCRIPTION;
    else
        unexpected(p, &t);
    if (peek(p, GQL_TOK_NAME)) {
        d->name_loc = p->tok.loc;
        d->name = parse_name(p);
    }
    if (optional(p, GQL_TOK_PAREN_L)) {
        do {
            push(p, parse_var_def(p));
        } while (!optional(p, GQL_TOK_PAREN_R));
        d->var_defs = (gql_var_def_t **)pop_list(p, mark, &d->nvar_defs);
    }
    d->directives = parse_directives(p, false, &d->ndirectives);
    d->selection_set = parse_selection_set(p);
    return d;
}

static const char *parse_fragment_name(parser_t *p)
{
    if (tok_is(&p->tok, "on"))
        unexpected(p, NULL);
    return parse_name(p);
}

static gql_definition_t *parse_fragment(parser_t *p)
{
    gql_definition_t *d = palloc(p, sizeof(*d));

    d->kind = GQL_DEF_FRAGMENT;
    d->loc = p->tok.loc;
    skip_description(p);
    expect_keyword(p, "fragment");
    d->name_loc = p->tok.loc;
    d->name = parse_fragment_name(p);
    expect_keyword(p, "on");
    d->type_cond = parse_named_type(p);
    d->directives = parse_directives(p, false, &d->ndirectives);
    d->selection_set = parse_selection_set(p);
    return d;
}

/* -- type system definitions: syntax only -- */

static void parse_const_directives(parser_t *p, int *n)
{
    size_t mark = p->nstack;

    parse_directives(p, true, n);
    p->nstack = mark;
}

static void parse_input_value_def(parser_t *p)
{
    int n;

    skip_description(p);
    parse_name(p);
    expect(p, GQL_TOK_COLON);
    parse_type_ref(p);
    if (optional(p, GQL_TOK_EQUALS))
        parse_value(p, true);
    parse_const_directives(p, &n);
}

/* "( InputValueDefinition+ )" or "{ InputValueDefinition+ }"; returns
 * how many were read. */
static int parse_input_value_defs(parser_t *p, gql_tok_kind_t open,
                                  gql_tok_kind_t close)
{
    int n = 0;

    if (!optional(p, open))
        return 0;
    do {
        parse_input_value_def(p);
        n++;
    } while (!optional(p, close));
    return n;
}

static int parse_fields_definition(parser_t *p)
{
    int n = 0, nd;

    if (!optional(p, GQL_TOK_BRACE_L))
        return 0;
    do {
        skip_description(p);
        parse_name(p);
        parse_input_value_defs(p, GQL_TOK_PAREN_L, GQL_TOK_PAREN_R);
        expect(p, GQL_TOK_COLON);
        parse_type_ref(p);
        parse_const_directives(p, &nd);
        n++;
    } while (!optional(p, GQL_TOK_BRACE_R));
    return n;
}

/* "Name (delim Name)*" with an optional leading delimiter. */
static int parse_delimited_names(parser_t *p, gql_tok_kind_t delim)
{
    int n = 0;

    optional(p, delim);
    do {
        parse_named_type(p);
        n++;
    } while (optional(p, delim));
    return n;
}

static int parse_implements(parser_t *p)
{
    if (!optional_keyword(p, "implements"))
        return 0;
    return parse_delimited_names(p, GQL_TOK_AMP);
}

static int parse_enum_values(parser_t *p)
{
    int n = 0, nd;

    if (!optional(p, GQL_TOK_BRACE_L))
        return 0;
    do {
        skip_description(p);
        if (tok_is(&p->tok, "true") || tok_is(&p->tok, "false") ||
            tok_is(&p->tok, "null"))
            fail(p, p->tok.loc,
                 "Syntax Error: Name \"%.*s\" is reserved and cannot be used "
                 "for an enum value.",
                 (int)p->tok.len, p->tok.value);
        parse_name(p);
        parse_const_directives(p, &nd);
        n++;
    } while (!optional(p, GQL_TOK_BRACE_R));
    return n;
}

static int parse_operation_types(parser_t *p, bool required)
{
    int n = 0;

    if (required)
        expect(p, GQL_TOK_BRACE_L);
    else if (!optional(p, GQL_TOK_BRACE_L))
        return 0;
    do {
        gql_token_t t = expect(p, GQL_TOK_NAME);

        if (!tok_is(&t, "query") && !tok_is(&t, "mutation") &&
            !tok_is(&t, "subscription"))
            unexpected(p, &t);
        expect(p, GQL_TOK_COLON);
        parse_named_type(p);
        n++;
    } while (!optional(p, GQL_TOK_BRACE_R));
    return n;
}

static const char *const directive_locations[] = {
    "QUERY",
    "MUTATION",
    "SUBSCRIPTION",
    "FIELD",
    "FRAGMENT_DEFINITION",
    "FRAGMENT_SPREAD",
    "INLINE_FRAGMENT",
    "VARIABLE_DEFINITION",
    "SCHEMA",
    "SCALAR",
    "OBJECT",
    "FIELD_DEFINITION",
    "ARGUMENT_DEFINITION",
    "INTERFACE",
    "UNION",
    "ENUM",
    "ENUM_VALUE",
    "INPUT_OBJECT",
    "INPUT_FIELD_DEFINITION",
    "DIRECTIVE_DEFINITION",
};

static void parse_directive_locations(parser_t *p)
{
    optional(p, GQL_TOK_PIPE);
    do {
        gql_token_t t = p->tok;
        size_t i,
            n = sizeof(directive_locations) / sizeof(*directive_locations);

        parse_name(p);
        for (i = 0; i < n; i++)
            if (tok_is(&t, directive_locations[i]))
                break;
        if (i == n)
            unexpected(p, &t);
    } while (optional(p, GQL_TOK_PIPE));
}

static gql_definition_t *new_type_system_def(parser_t *p, gql_loc_t loc)
{
    gql_definition_t *d = palloc(p, sizeof(*d));

    d->kind = GQL_DEF_TYPE_SYSTEM;
    d->loc = loc;
    return d;
}

/* A definition starting with keyword kw (after an optional
 * description). */
static gql_definition_t *parse_type_definition(parser_t *p,
                                               const gql_token_t *kw)
{
    gql_definition_t *d = new_type_system_def(p, p->tok.loc);
    int n;

    skip_description(p);
    advance(p); /* the keyword */
    if (tok_is(kw, "schema")) {
        parse_const_directives(p, &n);
        parse_operation_types(p, true);
        return d;
    }
    if (tok_is(kw, "directive")) {
        expect(p, GQL_TOK_AT);
        d->name = parse_name(p);
        parse_input_value_defs(p, GQL_TOK_PAREN_L, GQL_TOK_PAREN_R);
        optional_keyword(p, "repeatable");
        expect_keyword(p, "on");
        parse_directive_locations(p);
        return d;
    }
    d->name = parse_name(p);
    if (tok_is(kw, "type") || tok_is(kw, "interface"))
        parse_implements(p);
    parse_const_directives(p, &n);
    if (tok_is(kw, "type") || tok_is(kw, "interface"))
        parse_fields_definition(p);
    else if (tok_is(kw, "union") && optional(p, GQL_TOK_EQUALS))
        parse_delimited_names(p, GQL_TOK_PIPE);
    else if (tok_is(kw, "enum"))
        parse_enum_values(p);
    else if (tok_is(kw, "input"))
        parse_input_value_defs(p, GQL_TOK_BRACE_L, GQL_TOK_BRACE_R);
    return d;
}

static gql_definition_t *parse_extension(parser_t *p)
{
    gql_token_t kw = *lookahead(p);
    gql_definition_t *d = new_type_system_def(p, p->tok.loc);
    int nd = 0, nmore = 0;

    if (!tok_is(&kw, "schema") && !tok_is(&kw, "scalar") &&
        !tok_is(&kw, "type") && !tok_is(&kw, "interface") &&
        !tok_is(&kw, "union") && !tok_is(&kw, "enum") && !tok_is(&kw, "input"))
        unexpected(p, &kw);
    advance(p); /* extend */
    advance(p); /* the keyword */
    if (tok_is(&kw, "schema")) {
        parse_const_directives(p, &nd);
        nmore = parse_operation_types(p, false);
    } else {
        d->name = parse_name(p);
        if (tok_is(&kw, "type") || tok_is(&kw, "interface"))
            nmore += parse_implements(p);
        parse_const_directives(p, &nd);
        if (tok_is(&kw, "type") || tok_is(&kw, "interface"))
            nmore += parse_fields_definition(p);
        else if (tok_is(&kw, "union") && optional(p, GQL_TOK_EQUALS))
            nmore += parse_delimited_names(p, GQL_TOK_PIPE);
        else if (tok_is(&kw, "enum"))
            nmore += parse_enum_values(p);
        else if (tok_is(&kw, "input"))
            nmore +=
                parse_input_value_defs(p, GQL_TOK_BRACE_L, GQL_TOK_BRACE_R);
    }
    if (nd == 0 && nmore == 0)
        unexpected(p, NULL);
    return d;
}

static bool is_type_system_keyword(const gql_token_t *t)
{
    static const char *const words[] = {
        "schema", "scalar", "type",  "interface",
        "union",  "enum",   "input", "directive",
    };

    for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++)
        if (tok_is(t, words[i]))
            return true;
    return false;
}

static gql_definition_t *parse_definition(parser_t *p)
{
    bool has_desc;
    gql_token_t kw;

    if (peek(p, GQL_TOK_BRACE_L))
        return parse_operation(p);
    has_desc = peek_description(p);
    kw = has_desc ? *lookahead(p) : p->tok;
    if (has_desc && kw.kind == GQL_TOK_BRACE_L)
        fail(p, p->tok.loc,
             "Syntax Error: Unexpected description, descriptions are not "
             "supported on shorthand queries.");
    if (kw.kind == GQL_TOK_NAME) {
        if (is_type_system_keyword(&kw))
            return parse_type_definition(p, &kw);
        if (tok_is(&kw, "query") || tok_is(&kw, "mutation") ||
            tok_is(&kw, "subscription"))
            return parse_operation(p);
        if (tok_is(&kw, "fragment"))
            return parse_fragment(p);
        if (has_desc)
            fail(p, p->tok.loc,
                 "Syntax Error: Unexpected description, only GraphQL "
                 "definitions support descriptions.");
        if (tok_is(&kw, "extend"))
            return parse_extension(p);
    }
    unexpected(p, &kw);
}

gql_document_t *gql_parse(const char *text, size_t len, gql_error_t *err)
{
    gql_document_t *doc;
    parser_t *p;
    gql_document_t *volatile result = NULL;

    memset(err, 0, sizeof(*err));
    if (len > GQL_MAX_DOCUMENT) {
        snprintf(err->message, sizeof(err->message),
                 "Document is larger than %d bytes; send a smaller query.",
                 GQL_MAX_DOCUMENT);
        return NULL;
    }
    doc = calloc(1, sizeof(*doc));
    p = calloc(1, sizeof(*p));
    if (!doc || !p) {
        snprintf(err->message, sizeof(err->message), "Out of memory.");
        free(doc);
        free(p);
        return NULL;
    }
    arena_init(&doc->arena, GQL_PARSE_ARENA_LIMIT);
    p->arena = &doc->arena;
    p->err = err;
    gql_lexer_init(&p->lx, text ? text : "", len, &doc->arena);
    p->tok.kind = GQL_TOK_SOF;
    if (setjmp(p->fail) == 0) {
        size_t mark = 0;

        advance(p);
        do {
            push(p, parse_definition(p));
        } while (!optional(p, GQL_TOK_EOF));
        doc->defs = (gql_definition_t **)pop_list(p, mark, &doc->ndefs);
        doc->ntokens = p->ntokens;
        result = doc;
    }
    free(p->stack);
    free(p);
    if (!result)
        gql_document_free(doc);
    return result;
}

void gql_document_free(gql_document_t *doc)
{
    if (!doc)
        return;
    arena_free(&doc->arena);
    free(doc);
}

/* ---- printing -------------------------------------------------------- */

static void print_string(buf_t *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0;

    buf_putc(out, '"');
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        int n = 1;
        int32_t cp = c;

        if (c >= 0x80) {
            cp = utf8_decode((const unsigned char *)s + i, len - i, &n);
            if (cp < 0) {
                cp = 0xFFFD;
                n = 1;
            }
        }
        if (cp == '"') {
            buf_puts(out, "\\\"");
        } else if (cp == '\\') {
            buf_puts(out, "\\\\");
        } else if (cp == '\b') {
            buf_puts(out, "\\b");
        } else if (cp == '\t') {
            buf_puts(out, "\\t");
        } else if (cp == '\n') {
            buf_puts(out, "\\n");
        } else if (cp == '\f') {
            buf_puts(out, "\\f");
        } else if (cp == '\r') {
            buf_puts(out, "\\r");
        } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
            char esc[7] = {'\\',         'u', '0', '0', hex[cp >> 4 & 15],
                           hex[cp & 15], 0};

            buf_puts(out, esc);
        } else {
            buf_append(out, s + i, (size_t)n);
        }
        i += (size_t)n;
    }
    buf_putc(out, '"');
}

static void print_block_string(buf_t *out, const char *s, size_t len)
{
    buf_puts(out, "\"\"\"");
    for (size_t i = 0; i < len; i++) {
        if (i + 2 < len && memcmp(s + i, "\"\"\"", 3) == 0) {
            buf_puts(out, "\\\"\"\"");
            i += 2;
        } else {
            buf_putc(out, (uint8_t)s[i]);
        }
    }
    buf_puts(out, "\"\"\"");
}

void gql_print_value(buf_t *out, const gql_value_t *v)
{
    switch (v->kind) {
    case GQL_VAL_VARIABLE:
        buf_putc(out, '$');
        buf_puts(out, v->str);
        break;
    case GQL_VAL_INT:
    case GQL_VAL_FLOAT:
    case GQL_VAL_ENUM:
        buf_puts(out, v->str);
        break;
    case GQL_VAL_STRING:
        if (v->block)
            print_block_string(out, v->str, v->len);
        else
            print_string(out, v->str, v->len);
        break;
    case GQL_VAL_BOOLEAN:
        buf_puts(out, v->boolean ? "true" : "false");
        break;
    case GQL_VAL_NULL:
        buf_puts(out, "null");
        break;
    case GQL_VAL_LIST:
        buf_putc(out, '[');
        for (int i = 0; i < v->nitems; i++) {
            if (i)
                buf_puts(out, ", ");
            gql_print_value(out, v->items[i]);
        }
        buf_putc(out, ']');
        break;
    case GQL_VAL_OBJECT:
        buf_putc(out, '{');
        for (int i = 0; i < v->nfields; i++) {
            if (i)
                buf_puts(out, ", ");
            buf_printf(out, "%s: ", v->fields[i]->name);
            gql_print_value(out, v->fields[i]->value);
        }
        buf_putc(out, '}');
        break;
    }
}

void gql_print_type_ref(buf_t *out, const gql_type_ref_t *t)
{
    switch (t->kind) {
    case GQL_REF_NAMED:
        buf_puts(out, t->name);
        break;
    case GQL_REF_LIST:
        buf_putc(out, '[');
        gql_print_type_ref(out, t->of);
        buf_putc(out, ']');
        break;
    case GQL_REF_NON_NULL:
        gql_print_type_ref(out, t->of);
        buf_putc(out, '!');
        break;
    }
}

static void print_args(buf_t *out, gql_argument_t **args, int n)
{
    if (!n)
        return;
    buf_putc(out, '(');
    for (int i = 0; i < n; i++) {
        if (i)
            buf_puts(out, ", ");
        buf_printf(out, "%s: ", args[i]->name);
        gql_print_value(out, args[i]->value);
    }
    buf_putc(out, ')');
}

static void print_directives(buf_t *out, gql_directive_t **dirs, int n)
{
    for (int i = 0; i < n; i++) {
        buf_printf(out, " @%s", dirs[i]->name);
        print_args(out, dirs[i]->args, dirs[i]->nargs);
    }
}

static void print_selection_set(buf_t *out, const gql_selection_set_t *set)
{
    buf_puts(out, "{");
    for (int i = 0; i < set->n; i++) {
        const gql_selection_t *s = set->items[i];

        buf_putc(out, ' ');
        switch (s->kind) {
        case GQL_SEL_FIELD:
            if (s->alias)
                buf_printf(out, "%s: ", s->alias);
            buf_puts(out, s->name);
            print_args(out, s->args, s->nargs);
            break;
        case GQL_SEL_FRAGMENT_SPREAD:
            buf_printf(out, "...%s", s->name);
            break;
        case GQL_SEL_INLINE_FRAGMENT:
            buf_puts(out, "...");
            if (s->type_cond)
                buf_printf(out, " on %s", s->type_cond->name);
            break;
        }
        print_directives(out, s->directives, s->ndirectives);
        if (s->selection_set) {
            buf_putc(out, ' ');
            print_selection_set(out, s->selection_set);
        }
    }
    buf_puts(out, " }");
}

static const char *const op_names[] = {"query", "mutation", "subscription"};

void gql_print_document(buf_t *out, const gql_document_t *doc)
{
    for (int i = 0; i < doc->ndefs; i++) {
        const gql_definition_t *d = doc->defs[i];

        if (i)
            buf_putc(out, '\n');
        switch (d->kind) {
        case GQL_DEF_OPERATION:
            if (!d->shorthand) {
                buf_puts(out, op_names[d->operation]);
                if (d->name)
                    buf_printf(out, " %s", d->name);
                if (d->nvar_defs)
                    buf_putc(out, '(');
                for (int j = 0; j < d->nvar_defs; j++) {
                    const gql_var_def_t *v = d->var_defs[j];

                    buf_printf(out, "%s$%s: ", j ? ", " : "", v->name);
                    gql_print_type_ref(out, v->type);
                    if (v->default_value) {
                        buf_puts(out, " = ");
                        gql_print_value(out, v->default_value);
                    }
                    print_directives(out, v->directives, v->ndirectives);
                }
                if (d->nvar_defs)
                    buf_putc(out, ')');
                print_directives(out, d->directives, d->ndirectives);
                buf_putc(out, ' ');
            }
            print_selection_set(out, d->selection_set);
            break;
        case GQL_DEF_FRAGMENT:
            buf_printf(out, "fragment %s on %s", d->name, d->type_cond->name);
            print_directives(out, d->directives, d->ndirectives);
            buf_putc(out, ' ');
            print_selection_set(out, d->selection_set);
            break;
        case GQL_DEF_TYPE_SYSTEM:
            buf_printf(out, "<type system definition %s>",
                       d->name ? d->name : "schema");
            break;
        }
    }
}
