/* The permissions file: parsed and checked once (at start and on reload),
 * then answered from sorted arrays.  Input handled: the JSON document
 * permissions.h describes, with its limits; anything else is refused with
 * the path of the offending value. */
#include "permissions.h"

#include "arena.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_MAX_LEN 1024
#define ARENA_LIMIT  (64 * 1024 * 1024)

typedef struct perm_collection {
    const char *name;
    collection_access_t access;
} perm_collection_t;

typedef struct perm_role {
    const char *name;
    bool admin;
    perm_collection_t *collections; /* sorted by name */
    size_t ncollections;
} perm_role_t;

typedef struct perm_token {
    unsigned char hash[SHA256_DIGEST_LENGTH];
    const char *user;
    const char *role; /* NULL: no role */
} perm_token_t;

struct permissions {
    atomic_int refs;
    arena_t arena; /* names and arrays */
    json_t *root;  /* the document, minus "tokens"; filters point in */
    bool has_public;
    perm_role_t public_role;
    perm_role_t *roles; /* sorted by name */
    size_t nroles;
    perm_token_t *tokens;
    size_t ntokens;
};

/* Parsing state: the object being built and the path of the value being
 * checked, for messages. */
typedef struct parse_ctx {
    permissions_t *p;
    char path[PATH_MAX_LEN];
    size_t pathlen;
    char *err;
    size_t errlen;
} parse_ctx_t;

static bool fail(parse_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes "<path> <message>" to the error buffer; returns false. */
static bool fail(parse_ctx_t *ctx, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(ctx->err, ctx->errlen, "%s %s",
             ctx->pathlen ? ctx->path : "the top level", msg);
    return false;
}

static void path_append(parse_ctx_t *ctx, const char *s, size_t n)
{
    size_t room = sizeof(ctx->path) - 1 - ctx->pathlen;

    if (n > room)
        n = room;
    memcpy(ctx->path + ctx->pathlen, s, n);
    ctx->pathlen += n;
    ctx->path[ctx->pathlen] = '\0';
}

static bool plain_key(const char *key)
{
    if (!*key)
        return false;
    for (const char *k = key; *k; k++) {
        if (!(*k >= 'a' && *k <= 'z') && !(*k >= 'A' && *k <= 'Z') &&
            !(*k >= '0' && *k <= '9') && *k != '_' && *k != '-' && *k != '$')
            return false;
    }
    return true;
}

/* Appends a member name to the path: .name, or ["name"] when the name has
 * characters that would make the path ambiguous.  Returns the length to
 * go back to with path_pop. */
static size_t path_push_key(parse_ctx_t *ctx, const char *key)
{
    size_t mark = ctx->pathlen;
    char esc[8];

    if (plain_key(key)) {
        if (ctx->pathlen)
            path_append(ctx, ".", 1);
        path_append(ctx, key, strlen(key));
        return mark;
    }
    path_append(ctx, "[\"", 2);
    for (const char *k = key; *k && ctx->pathlen < PATH_MAX_LEN / 2; k++) {
        unsigned char c = (unsigned char)*k;

        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            snprintf(esc, sizeof(esc), "\\x%02x", c);
            path_append(ctx, esc, strlen(esc));
        } else {
            path_append(ctx, k, 1);
        }
    }
    path_append(ctx, "\"]", 2);
    return mark;
}

static size_t path_push_text(parse_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static size_t path_push_text(parse_ctx_t *ctx, const char *fmt, ...)
{
    size_t mark = ctx->pathlen;
    char part[64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(part, sizeof(part), fmt, ap);
    va_end(ap);
    path_append(ctx, part, strlen(part));
    return mark;
}

static void path_pop(parse_ctx_t *ctx, size_t mark)
{
    ctx->pathlen = mark;
    ctx->path[mark] = '\0';
}

static void *zalloc(parse_ctx_t *ctx, size_t n, size_t size)
{
    void *mem;

    if (n == 0)
        return NULL;
    if (n > SIZE_MAX / size)
        return NULL;
    mem = arena_alloc(&ctx->p->arena, n * size);
    if (mem)
        memset(mem, 0, n * size);
    return mem;
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

/* Checks a name (role, collection, field, user) and copies it into the
 * arena.  The path already names the value. */
static const char *check_name(parse_ctx_t *ctx, const char *s, size_t len,
                              size_t max, const char *what)
{
    const char *copy;

    if (len == 0) {
        fail(ctx, "is an empty %s name", what);
        return NULL;
    }
    if (len > max) {
        fail(ctx, "is a %s name longer than %zu bytes", what, max);
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f) {
            fail(ctx, "is a %s name with control characters", what);
            return NULL;
        }
    }
    copy = arena_strndup(&ctx->p->arena, s, len);
    if (!copy)
        fail(ctx, "could not be stored: out of memory");
    return copy;
}

/* Refuses a key the object may not have, listing those it may. */
static bool unknown_key(parse_ctx_t *ctx, const char *key, const char *expected)
{
    char shown[48];
    size_t n = 0;

    for (const char *k = key; *k && n < 40; k++)
        shown[n++] = ((unsigned char)*k >= 0x20 && *k != 0x7f) ? *k : '?';
    shown[n] = '\0';
    return fail(ctx, "has unknown key \"%s%s\" (expected %s)", shown,
                key[n] ? "..." : "", expected);
}

/* Walks a filter, counting values and levels. */
static bool filter_bounded(const json_t *v, int depth, size_t *values)
{
    const char *key;
    json_t *item;
    size_t i;

    if (++*values > PERMISSIONS_MAX_FILTER_VALUES)
        return false;
    if (!json_is_object(v) && !json_is_array(v))
        return true;
    if (depth >= PERMISSIONS_MAX_FILTER_DEPTH)
        return false;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, item)
        {
            if (!filter_bounded(item, depth + 1, values))
                return false;
        }
        return true;
    }
    json_array_foreach(v, i, item)
    {
        if (!filter_bounded(item, depth + 1, values))
            return false;
    }
    return true;
}

static bool parse_filter(parse_ctx_t *ctx, const json_t *v, const json_t **out)
{
    size_t values = 0;

    *out = NULL;
    if (json_is_null(v))
        return true;
    if (!json_is_object(v))
        return fail(ctx,
                    "is %s, not an object in Directus's filter "
                    "language",
                    json_type_name(v));
    if (!filter_bounded(v, 0, &values))
        return fail(ctx,
                    "is too large: a filter may nest %d levels and "
                    "hold %d values",
                    PERMISSIONS_MAX_FILTER_DEPTH,
                    PERMISSIONS_MAX_FILTER_VALUES);
    /* {} matches every row, which is what NULL says. */
    if (json_object_size(v) > 0)
        *out = v;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A field name with its position in the file, for sorting. */
typedef struct field_pos {
    const char *name;
    size_t index;
} field_pos_t;

static int cmp_field_pos(const void *a, const void *b)
{
    const field_pos_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

static bool parse_fields(parse_ctx_t *ctx, const json_t *v,
                         collection_access_t *acc)
{
    size_t n = json_array_size(v), nnames = 0, mark;
    field_pos_t *pos;
    const char **names;
    json_t *item;
    size_t i;

    if (!json_is_array(v))
        return fail(ctx,
                    "is %s, not a list of field names (use [\"*\"] "
                    "for all fields)",
                    json_type_name(v));
    if (n > PERMISSIONS_MAX_FIELDS)
        return fail(ctx, "lists more than %d fields", PERMISSIONS_MAX_FIELDS);
    pos = n ? malloc(n * sizeof(*pos)) : NULL;
    if (n && !pos)
        return fail(ctx, "could not be stored: out of memory");

    json_array_foreach(v, i, item)
    {
        const char *name;

        mark = path_push_text(ctx, "[%zu]", i);
        if (!json_is_string(item)) {
            fail(ctx, "is %s, not a string", json_type_name(item));
            goto fail;
        }
        name =
            check_name(ctx, json_string_value(item), json_string_length(item),
                       PERMISSIONS_MAX_NAME, "field");
        if (!name)
            goto fail;
        path_pop(ctx, mark);
        if (strcmp(name, "*") == 0) {
            acc->all_fields = true;
            continue;
        }
        pos[nnames].name = name;
        pos[nnames].index = i;
        nnames++;
    }

    /* Sorted for lookups; a repeated name is most likely a typo. */
    if (nnames)
        qsort(pos, nnames, sizeof(*pos), cmp_field_pos);
    for (i = 1; i < nnames; i++) {
        if (strcmp(pos[i].name, pos[i - 1].name) == 0) {
            mark = path_push_text(ctx, "[%zu]", pos[i].index);
            fail(ctx, "repeats field \"%s\"", pos[i].name);
            goto fail;
        }
    }
    names = zalloc(ctx, nnames, sizeof(*names));
    if (nnames && !names) {
        fail(ctx, "could not be stored: out of memory");
        goto fail;
    }
    for (i = 0; i < nnames; i++)
        names[i] = pos[i].name;
    acc->fields = names;
    acc->nfields = (int)nnames;
    free(pos);
    return true;

fail:
    free(pos);
    return false;
}

static bool parse_rule(parse_ctx_t *ctx, const json_t *v,
                       collection_access_t *acc)
{
    const json_t *fields = NULL;
    const char *key;
    json_t *item;
    size_t mark;

    if (!json_is_object(v))
        return fail(ctx,
                    "is %s, not an object with \"fields\" and "
                    "\"filter\"",
                    json_type_name(v));
    acc->allowed = true;
    json_object_foreach((json_t *)v, key, item)
    {
        bool ok;

        mark = path_push_key(ctx, key);
        if (strcmp(key, "fields") == 0) {
            fields = item;
            ok = parse_fields(ctx, item, acc);
        } else if (strcmp(key, "filter") == 0) {
            ok = parse_filter(ctx, item, &acc->filter);
        } else {
            path_pop(ctx, mark);
            return unknown_key(ctx, key, "\"fields\" or \"filter\"");
        }
        if (!ok)
            return false;
        path_pop(ctx, mark);
    }
    if (!fields)
        return fail(ctx, "has no \"fields\": list the fields the role may "
                         "read, or [\"*\"] for all");
    return true;
}

static int cmp_collection(const void *a, const void *b)
{
    return strcmp(((const perm_collection_t *)a)->name,
                  ((const perm_collection_t *)b)->name);
}

static bool parse_collections(parse_ctx_t *ctx, const json_t *v,
                              perm_role_t *role)
{
    size_t n = json_object_size(v), i = 0, mark;
    const char *key;
    json_t *item;

    if (!json_is_object(v))
        return fail(ctx,
                    "is %s, not an object mapping collection names "
                    "to read rules",
                    json_type_name(v));
    role->collections = zalloc(ctx, n, sizeof(*role->collections));
    if (n && !role->collections)
        return fail(ctx, "could not be stored: out of memory");

    json_object_foreach((json_t *)v, key, item)
    {
        perm_collection_t *c = &role->collections[i++];

        mark = path_push_key(ctx, key);
        c->name = check_name(ctx, key, strlen(key), PERMISSIONS_MAX_NAME,
                             "collection");
        if (!c->name)
            return false;
        if (strcmp(key, "*") == 0)
            return fail(ctx, "is not supported: list each collection, or "
                             "give the role \"admin_access\": true");
        if (!parse_rule(ctx, item, &c->access))
            return false;
        path_pop(ctx, mark);
    }
    role->ncollections = n;
    if (n)
        qsort(role->collections, n, sizeof(*role->collections), cmp_collection);
    return true;
}

/* Parses the "public" entry (is_public) or one of "roles". */
static bool parse_role(parse_ctx_t *ctx, const json_t *v, perm_role_t *role,
                       bool is_public)
{
    const char *key;
    json_t *item;
    size_t mark;

    if (!json_is_object(v))
        return fail(ctx, "is %s, not an object", json_type_name(v));
    json_object_foreach((json_t *)v, key, item)
    {
        mark = path_push_key(ctx, key);
        if (strcmp(key, "collections") == 0) {
            if (!parse_collections(ctx, item, role))
                return false;
        } else if (!is_public && strcmp(key, "admin_access") == 0) {
            if (!json_is_boolean(item))
                return fail(ctx, "is %s, not true or false",
                            json_type_name(item));
            role->admin = json_is_true(item);
        } else if (!is_public && strcmp(key, "name") == 0) {
            if (!json_is_string(item))
                return fail(ctx, "is %s, not a string", json_type_name(item));
        } else {
            path_pop(ctx, mark);
            return unknown_key(ctx, key,
                               is_public ? "\"collections\""
                                         : "\"admin_access\", "
                                           "\"collections\" or \"name\"");
        }
        path_pop(ctx, mark);
    }
    return true;
}

static int cmp_role(const void *a, const void *b)
{
    return strcmp(((const perm_role_t *)a)->name,
                  ((const perm_role_t *)b)->name);
}

static const perm_role_t *find_role(const permissions_t *p, const char *name)
{
    perm_role_t key = {.name = name};

    if (!p->nroles)
        return NULL;
    return bsearch(&key, p->roles, p->nroles, sizeof(*p->roles), cmp_role);
}

static bool parse_roles(parse_ctx_t *ctx, const json_t *v)
{
    permissions_t *p = ctx->p;
    size_t n = json_object_size(v), i = 0, mark;
    const char *key;
    json_t *item;

    if (!json_is_object(v))
        return fail(ctx,
                    "is %s, not an object mapping role names to "
                    "roles",
                    json_type_name(v));
    p->roles = zalloc(ctx, n, sizeof(*p->roles));
    if (n && !p->roles)
        return fail(ctx, "could not be stored: out of memory");

    json_object_foreach((json_t *)v, key, item)
    {
        perm_role_t *r = &p->roles[i++];

        mark = path_push_key(ctx, key);
        r->name = check_name(ctx, key, strlen(key), AUTH_MAX_NAME, "role");
        if (!r->name || !parse_role(ctx, item, r, false))
            return false;
        path_pop(ctx, mark);
    }
    p->nroles = n;
    if (n)
        qsort(p->roles, n, sizeof(*p->roles), cmp_role);
    return true;
}

/* Parses one static token; its value is hashed and never shown. */
static bool parse_token(parse_ctx_t *ctx, const char *value, const json_t *v,
                        perm_token_t *t)
{
    size_t len = strlen(value);
    const char *key;
    json_t *item;
    size_t mark;

    if (len < PERMISSIONS_MIN_TOKEN)
        return fail(ctx,
                    "is shorter than %d bytes: use a long random "
                    "value, e.g. from \"openssl rand -hex 24\"",
                    PERMISSIONS_MIN_TOKEN);
    if (len > AUTH_MAX_TOKEN)
        return fail(ctx, "is longer than %d bytes", AUTH_MAX_TOKEN);
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
            return fail(ctx, "has control characters");
    }
    if (!SHA256((const unsigned char *)value, len, t->hash))
        return fail(ctx, "could not be hashed");
    if (!json_is_object(v))
        return fail(ctx, "is %s, not an object with \"user\" and \"role\"",
                    json_type_name(v));

    json_object_foreach((json_t *)v, key, item)
    {
        mark = path_push_key(ctx, key);
        if (strcmp(key, "user") == 0) {
            if (!json_is_string(item))
                return fail(ctx, "is %s, not a string", json_type_name(item));
            t->user =
                check_name(ctx, json_string_value(item),
                           json_string_length(item), AUTH_MAX_NAME, "user");
            if (!t->user)
                return false;
        } else if (strcmp(key, "role") == 0) {
            if (!json_is_string(item) && !json_is_null(item))
                return fail(ctx, "is %s, not a string or null",
                            json_type_name(item));
            if (json_is_string(item)) {
                t->role =
                    check_name(ctx, json_string_value(item),
                               json_string_length(item), AUTH_MAX_NAME, "role");
                if (!t->role)
                    return false;
            }
        } else {
            path_pop(ctx, mark);
            return unknown_key(ctx, key, "\"user\" or \"role\"");
        }
        path_pop(ctx, mark);
    }
    if (!t->user)
        return fail(ctx, "has no \"user\"");
    if (t->role && !find_role(ctx->p, t->role)) {
        path_push_key(ctx, "role");
        return fail(ctx, "names role \"%s\", which is not under \"roles\"",
                    t->role);
    }
    return true;
}

static bool parse_tokens(parse_ctx_t *ctx, const json_t *v)
{
    permissions_t *p = ctx->p;
    size_t n = json_object_size(v), i = 0, mark;
    const char *key;
    json_t *item;

    if (!json_is_object(v))
        return fail(ctx,
                    "is %s, not an object mapping static tokens to "
                    "users",
                    json_type_name(v));
    p->tokens = zalloc(ctx, n, sizeof(*p->tokens));
    if (n && !p->tokens)
        return fail(ctx, "could not be stored: out of memory");

    json_object_foreach((json_t *)v, key, item)
    {
        /* Positions count from 1, as a person reading the file would. */
        mark = path_push_text(ctx, ".#%zu", i + 1);
        if (!parse_token(ctx, key, item, &p->tokens[i++]))
            return false;
        path_pop(ctx, mark);
    }
    p->ntokens = n;
    return true;
}

/* Refuses nesting deeper than max before jansson recurses into it. */
static bool depth_ok(const char *text, size_t len, int max, int *line)
{
    bool in_string = false, escaped = false;
    int depth = 0;

    *line = 1;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (c == '\n')
            (*line)++;
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                return false;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return true;
}

static void destroy(permissions_t *p)
{
    if (!p)
        return;
    json_decref(p->root);
    if (p->tokens)
        OPENSSL_cleanse(p->tokens, p->ntokens * sizeof(*p->tokens));
    arena_free(&p->arena);
    free(p);
}

permissions_t *permissions_parse(const char *text, size_t len, char *err,
                                 size_t errlen)
{
    parse_ctx_t ctx = {.err = err, .errlen = errlen};
    const json_t *roles = NULL, *tokens = NULL, *pub = NULL;
    json_error_t jerr;
    permissions_t *p;
    const char *key;
    json_t *item;
    size_t mark;
    int line;

    if (len > PERMISSIONS_MAX_FILE) {
        snprintf(err, errlen,
                 "the document is larger than %d bytes (%zu bytes)",
                 PERMISSIONS_MAX_FILE, len);
        return NULL;
    }
    if (!depth_ok(text, len, PERMISSIONS_MAX_DEPTH, &line)) {
        snprintf(err, errlen,
                 "the document nests more than %d levels deep (line %d)",
                 PERMISSIONS_MAX_DEPTH, line);
        return NULL;
    }

    p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&p->refs, 1);
    arena_init(&p->arena, ARENA_LIMIT);
    ctx.p = p;

    p->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!p->root) {
        /* jansson's text may quote what follows ("near ..."), which
         * could be a static token: keep only what went wrong. */
        char *near = strstr(jerr.text, " near ");

        if (near)
            *near = '\0';
        snprintf(err, errlen, "not valid JSON: line %d, column %d: %s",
                 jerr.line, jerr.column, jerr.text);
        goto fail;
    }
    if (!json_is_object(p->root)) {
        snprintf(err, errlen, "the document is %s, not an object",
                 json_type_name(p->root));
        goto fail;
    }

    json_object_foreach(p->root, key, item)
    {
        if (strcmp(key, "public") == 0)
            pub = item;
        else if (strcmp(key, "roles") == 0)
            roles = item;
        else if (strcmp(key, "tokens") == 0)
            tokens = item;
        else {
            unknown_key(&ctx, key, "\"public\", \"roles\" or \"tokens\"");
            goto fail;
        }
    }

    /* Roles first: static tokens refer to them. */
    if (pub) {
        mark = path_push_key(&ctx, "public");
        p->public_role.name = "public";
        p->has_public = true;
        if (!parse_role(&ctx, pub, &p->public_role, true))
            goto fail;
        path_pop(&ctx, mark);
    }
    if (roles) {
        mark = path_push_key(&ctx, "roles");
        if (!parse_roles(&ctx, roles))
            goto fail;
        path_pop(&ctx, mark);
    }
    if (tokens) {
        mark = path_push_key(&ctx, "tokens");
        if (!parse_tokens(&ctx, tokens))
            goto fail;
        path_pop(&ctx, mark);
        /* Only hashes are kept; let the token text go. */
        json_object_del(p->root, "tokens");
    }
    return p;

fail:
    destroy(p);
    return NULL;
}

permissions_t *permissions_load(const char *path, char *err, size_t errlen)
{
    permissions_t *p = NULL;
    char *text = NULL, inner[768];
    size_t len = 0;
    struct stat st;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "could not open permissions file \"%s\": %s",
                 path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "could not stat permissions file \"%s\": %s",
                 path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "permissions file \"%s\" is not a regular file",
                 path);
        goto done;
    }
    if (st.st_size > PERMISSIONS_MAX_FILE) {
        snprintf(err, errlen,
                 "permissions file \"%s\" is too large (%lld bytes; at most "
                 "%d)",
                 path, (long long)st.st_size, PERMISSIONS_MAX_FILE);
        goto done;
    }

    /* Read up to one byte past the limit, in case the file grew. */
    text = malloc(PERMISSIONS_MAX_FILE + 1);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (;;) {
        ssize_t n = read(fd, text + len, PERMISSIONS_MAX_FILE + 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "could not read permissions file \"%s\": %s",
                     path, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > PERMISSIONS_MAX_FILE) {
            snprintf(err, errlen,
                     "permissions file \"%s\" is too large (more than %d "
                     "bytes)",
                     path, PERMISSIONS_MAX_FILE);
            goto done;
        }
    }

    p = permissions_parse(text, len, inner, sizeof(inner));
    if (!p)
        snprintf(err, errlen, "invalid permissions file \"%s\": %s", path,
                 inner);

done:
    if (text) {
        /* The text holds the static tokens. */
        OPENSSL_cleanse(text, len);
        free(text);
    }
    close(fd);
    return p;
}

permissions_t *permissions_ref(permissions_t *p)
{
    if (p)
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void permissions_free(permissions_t *p)
{
    if (!p)
        return;
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
        destroy(p);
}

static void allow_all(collection_access_t *out)
{
    memset(out, 0, sizeof(*out));
    out->allowed = true;
    out->all_fields = true;
}

void permissions_access(const permissions_t *p, const identity_t *who,
                        const char *collection, collection_access_t *out)
{
    const perm_role_t *role;
    const perm_collection_t *c;
    perm_collection_t key = {.name = collection};

    memset(out, 0, sizeof(*out));
    if (who && who->admin) {
        allow_all(out);
        return;
    }
    if (!p || !collection)
        return;

    if (who && who->has_role)
        role = find_role(p, who->role);
    else
        role = p->has_public ? &p->public_role : NULL;
    if (!role)
        return;
    if (role->admin) {
        allow_all(out);
        return;
    }

    if (!role->ncollections)
        return;
    c = bsearch(&key, role->collections, role->ncollections,
                sizeof(*role->collections), cmp_collection);
    if (c)
        *out = c->access;
}

bool permissions_field_allowed(const collection_access_t *a, const char *field)
{
    if (!a || !a->allowed || !field)
        return false;
    if (a->all_fields)
        return true;
    if (a->nfields == 0)
        return false;
    return bsearch(&field, a->fields, (size_t)a->nfields, sizeof(*a->fields),
                   cmp_str) != NULL;
}

bool permissions_has_role(const permissions_t *p, const char *role)
{
    return p && role && find_role(p, role) != NULL;
}

bool permissions_static_token(const permissions_t *p, const char *token,
                              size_t len, const char **user, const char **role)
{
    unsigned char hash[SHA256_DIGEST_LENGTH];
    const perm_token_t *found = NULL;

    *user = NULL;
    *role = NULL;
    if (!p || !token || p->ntokens == 0 || len < PERMISSIONS_MIN_TOKEN ||
        len > AUTH_MAX_TOKEN)
        return false;
    if (!SHA256((const unsigned char *)token, len, hash))
        return false;

    /* Compare with every entry, so the time spent does not say which
     * one, if any, matched. */
    for (size_t i = 0; i < p->ntokens; i++) {
        int differs = CRYPTO_memcmp(hash, p->tokens[i].hash, sizeof(hash));

        if (!differs)
            found = &p->tokens[i];
    }
    OPENSSL_cleanse(hash, sizeof(hash));
    if (!found)
        return false;
    *user = found->user;
    *role = found->role;
    return true;
}
