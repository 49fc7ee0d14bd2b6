/* Access tokens to identities: static tokens from the permissions file, and
 * HS256 JWTs checked part by part (structure, header, signature, claims)
 * before any claim is believed.  See auth.h for what is accepted. */
#include "auth.h"

#include "permissions.h"

#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HS256_LEN   32
#define MAX_TIME_S  253402300799LL /* 9999-12-31T23:59:59Z */
#define USEC        1000000LL
#define SHOWN_CHARS 40 /* of a header or claim value quoted in a reason */

struct auth {
    unsigned char *secret;
    size_t secret_len;
    char *issuer; /* NULL: any issuer */
    int64_t leeway_us;
};

/* The claims this module reads, once their types are checked. */
typedef struct claims {
    const char *id;   /* NULL: none */
    const char *role; /* NULL: none */
    bool admin;
    const char *iss; /* NULL: none */
    bool has_nbf, has_exp;
    int64_t nbf_us, exp_us;
} claims_t;

static void set_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    if (!why || whylen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* Copies a value from a token for a log line: at most SHOWN_CHARS
 * printable ASCII characters, anything else shown as '?'. */
static const char *shown(const char *s, char *buf, size_t size)
{
    size_t n = 0;

    for (; *s && n + 4 < size && n < SHOWN_CHARS; s++)
        buf[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    if (*s && n + 4 <= size) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

auth_t *auth_new(const char *secret, const char *issuer, char *err,
                 size_t errlen)
{
    auth_t *a;
    size_t len = secret ? strlen(secret) : 0;

    if (len == 0) {
        snprintf(err, errlen,
                 "no JWT secret is set: set CDC_SECRET to the secret tokens "
                 "are signed with (Directus's SECRET)");
        return NULL;
    }
    if (len < AUTH_MIN_SECRET) {
        snprintf(err, errlen,
                 "CDC_SECRET is too short (%zu bytes): HS256 needs a secret "
                 "of at least %d bytes.  Set a longer CDC_SECRET, for "
                 "example the output of \"openssl rand -base64 48\", in the "
                 "pusher and in whatever issues the tokens",
                 len, AUTH_MIN_SECRET);
        return NULL;
    }

    a = calloc(1, sizeof(*a));
    if (!a)
        goto nomem;
    a->secret = malloc(len);
    if (!a->secret)
        goto nomem;
    memcpy(a->secret, secret, len);
    a->secret_len = len;
    if (issuer && *issuer) {
        a->issuer = strdup(issuer);
        if (!a->issuer)
            goto nomem;
    }
    a->leeway_us = AUTH_DEFAULT_LEEWAY * USEC;
    return a;

nomem:
    auth_free(a);
    snprintf(err, errlen, "out of memory");
    return NULL;
}

void auth_free(auth_t *a)
{
    if (!a)
        return;
    if (a->secret) {
        OPENSSL_cleanse(a->secret, a->secret_len);
        free(a->secret);
    }
    free(a->issuer);
    free(a);
}

bool auth_set_leeway(auth_t *a, int seconds)
{
    if (!a || seconds < 0 || seconds > AUTH_MAX_LEEWAY)
        return false;
    a->leeway_us = seconds * USEC;
    return true;
}

void auth_public_identity(identity_t *out)
{
    memset(out, 0, sizeof(*out));
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decodes n characters of unpadded base64url into out, which has room for
 * n * 3 / 4 bytes.  Returns the number of bytes, or -1 for a character
 * outside the alphabet, an impossible length, or set bits in the unused
 * tail (a non-canonical form of the same bytes). */
static long b64url_decode(const char *s, size_t n, unsigned char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    long len = 0;

    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)s[i]);

        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[len++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return -1;
    return len;
}

bool auth_base64url_encode(const void *data, size_t n, buf_t *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *p = data;
    char quad[4];
    size_t i;

    for (i = 0; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

        quad[0] = alphabet[v >> 18];
        quad[1] = alphabet[(v >> 12) & 63];
        quad[2] = alphabet[(v >> 6) & 63];
        quad[3] = alphabet[v & 63];
        if (!buf_append(out, quad, 4))
            return false;
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;

        quad[0] = alphabet[v >> 18];
        quad[1] = alphabet[(v >> 12) & 63];
        return buf_append(out, quad, 2);
    }
    if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

        quad[0] = alphabet[v >> 18];
        quad[1] = alphabet[(v >> 12) & 63];
        quad[2] = alphabet[(v >> 6) & 63];
        return buf_append(out, quad, 3);
    }
    return true;
}

bool auth_sign_raw(const char *secret, const char *header_json,
                   const char *claims_json, buf_t *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t start = out->len;

    if (!auth_base64url_encode(header_json, strlen(header_json), out) ||
        !buf_putc(out, '.') ||
        !auth_base64url_encode(claims_json, strlen(claims_json), out))
        return false;

    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), out->data + start,
              out->len - start, mac, &maclen))
        return false;

    return buf_putc(out, '.') && auth_base64url_encode(mac, maclen, out);
}

bool auth_sign_hs256(const char *secret, const char *claims_json, buf_t *out)
{
    return auth_sign_raw(secret, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                         claims_json, out);
}

/* Parses decoded JSON text that must be an object; what names the part
 * ("header", "claims") in the reason. */
static json_t *parse_object(const unsigned char *text, size_t len,
                            const char *what, char *why, size_t whylen)
{
    json_error_t jerr;
    json_t *j =
        json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);

    /* jansson's own text may quote the input; the position is enough. */
    if (!j && json_error_code(&jerr) == json_error_duplicate_key) {
        set_why(why, whylen, "JWT %s: a name is repeated", what);
        return NULL;
    }
    if (!j) {
        set_why(why, whylen, "JWT %s: not valid JSON (error at byte %d)", what,
                jerr.position);
        return NULL;
    }
    if (!json_is_object(j)) {
        set_why(why, whylen, "JWT %s: not a JSON object", what);
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Checks the header: HS256 and nothing we would have to understand. */
static bool check_header(const json_t *hdr, char *why, size_t whylen)
{
    const json_t *alg = json_object_get(hdr, "alg");
    const json_t *typ = json_object_get(hdr, "typ");
    char show[SHOWN_CHARS + 8];

    if (!alg) {
        set_why(why, whylen, "JWT header has no \"alg\"");
        return false;
    }
    if (!json_is_string(alg)) {
        set_why(why, whylen, "JWT header \"alg\" is not a string");
        return false;
    }
    if (strcasecmp(json_string_value(alg), "none") == 0) {
        set_why(why, whylen,
                "JWT has \"alg\": \"none\": unsigned tokens are refused");
        return false;
    }
    if (strcmp(json_string_value(alg), "HS256") != 0) {
        set_why(why, whylen,
                "JWT algorithm \"%s\" is refused: only HS256 is accepted",
                shown(json_string_value(alg), show, sizeof(show)));
        return false;
    }
    if (json_object_get(hdr, "crit")) {
        set_why(why, whylen,
                "JWT header has \"crit\": no extension is supported");
        return false;
    }
    if (typ && (!json_is_string(typ) ||
                strcasecmp(json_string_value(typ), "JWT") != 0)) {
        set_why(why, whylen, "JWT header \"typ\" is not \"JWT\"");
        return false;
    }
    return true;
}

/* Has libjwt check the signature too, as a second opinion: a token passes
 * only when both agree.  token is NUL-terminated. */
static bool libjwt_agrees(const auth_t *a, const char *token)
{
    jwt_t *jwt = NULL;
    bool ok;

    if (jwt_decode(&jwt, token, a->secret, (int)a->secret_len) != 0)
        return false;
    ok = jwt && jwt_get_alg(jwt) == JWT_ALG_HS256;
    jwt_free(jwt);
    return ok;
}

/* Reads a claim naming a user or role into *out (NULL for null). */
static bool claim_name(const json_t *claims, const char *name, bool required,
                       const char **out, char *why, size_t whylen)
{
    const json_t *v = json_object_get(claims, name);
    const char *s;
    size_t len;

    *out = NULL;
    if (!v) {
        if (required)
            set_why(why, whylen,
                    "JWT has no \"%s\" claim (Directus tokens carry one, "
                    "null when there is none)",
                    name);
        return !required;
    }
    if (json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        set_why(why, whylen, "JWT claim \"%s\" is not a string", name);
        return false;
    }
    s = json_string_value(v);
    len = json_string_length(v);
    if (len == 0) {
        set_why(why, whylen, "JWT claim \"%s\" is empty", name);
        return false;
    }
    if (len > AUTH_MAX_NAME) {
        set_why(why, whylen, "JWT claim \"%s\" is longer than %d bytes", name,
                AUTH_MAX_NAME);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            set_why(why, whylen, "JWT claim \"%s\" has control characters",
                    name);
            return false;
        }
    }
    *out = s;
    return true;
}

/* Reads a Directus access flag: a boolean, or a number where 1 is true. */
static bool claim_flag(const json_t *claims, const char *name, bool *out,
                       char *why, size_t whylen)
{
    const json_t *v = json_object_get(claims, name);

    if (!v) {
        set_why(why, whylen,
                "JWT has no \"%s\" claim (Directus tokens carry one)", name);
        return false;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return true;
    }
    if (json_is_number(v)) {
        *out = json_number_value(v) == 1.0;
        return true;
    }
    set_why(why, whylen, "JWT claim \"%s\" is not a boolean", name);
    return false;
}

/* Reads a NumericDate claim ("exp", "nbf", "iat") as microseconds. */
static bool claim_time(const json_t *claims, const char *name, bool *present,
                       int64_t *out_us, char *why, size_t whylen)
{
    const json_t *v = json_object_get(claims, name);
    double secs;

    *present = false;
    if (!v)
        return true;
    if (!json_is_number(v)) {
        set_why(why, whylen, "JWT claim \"%s\" is not a number of seconds",
                name);
        return false;
    }
    secs = json_number_value(v);
    if (!(secs >= 0 && secs <= (double)MAX_TIME_S)) {
        set_why(why, whylen, "JWT claim \"%s\" is out of range", name);
        return false;
    }
    *present = true;
    if (json_is_integer(v))
        *out_us = (int64_t)json_integer_value(v) * USEC;
    else
        *out_us = (int64_t)(secs * (double)USEC);
    return true;
}

/* Checks every claim's type, then fills c. */
static bool read_claims(const json_t *claims, claims_t *c, char *why,
                        size_t whylen)
{
    const json_t *iss = json_object_get(claims, "iss");
    bool app, has_iat;
    int64_t iat_us;

    memset(c, 0, sizeof(*c));
    if (json_object_get(claims, "share")) {
        set_why(why, whylen,
                "JWT is a Directus share token, which is not accepted");
        return false;
    }
    if (!claim_name(claims, "id", false, &c->id, why, whylen) ||
        !claim_name(claims, "role", true, &c->role, why, whylen) ||
        !claim_flag(claims, "app_access", &app, why, whylen) ||
        !claim_flag(claims, "admin_access", &c->admin, why, whylen) ||
        !claim_time(claims, "iat", &has_iat, &iat_us, why, whylen) ||
        !claim_time(claims, "nbf", &c->has_nbf, &c->nbf_us, why, whylen) ||
        !claim_time(claims, "exp", &c->has_exp, &c->exp_us, why, whylen))
        return false;
    if (iss && !json_is_string(iss)) {
        set_why(why, whylen, "JWT claim \"iss\" is not a string");
        return false;
    }
    c->iss = iss ? json_string_value(iss) : NULL;
    return true;
}

static void format_time(int64_t us, char *buf, size_t size)
{
    time_t t = (time_t)(us / USEC);
    struct tm tm;

    if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, size, "%lld", (long long)t);
}

/* Checks a token shaped like a JWT; len is at most AUTH_MAX_TOKEN. */
static auth_result_t verify_jwt(const auth_t *a, const char *token, size_t len,
                                int64_t now_us, identity_t *out, char *why,
                                size_t whylen)
{
    unsigned char scratch[AUTH_MAX_TOKEN];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char copy[AUTH_MAX_TOKEN + 1];
    const char *dot1, *dot2, *payload, *sig;
    size_t hlen, plen, slen;
    json_t *hdr = NULL, *claims = NULL;
    auth_result_t rc = AUTH_INVALID;
    claims_t c;
    char show1[SHOWN_CHARS + 8], show2[SHOWN_CHARS + 8], when[32];
    long n;

    /* Three parts, each in the base64url alphabet. */
    dot1 = memchr(token, '.', len);
    dot2 =
        dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2) {
        set_why(why, whylen,
                "token is neither a known static token nor a JWT (three "
                "base64url parts separated by dots)");
        goto done;
    }
    payload = dot1 + 1;
    sig = dot2 + 1;
    hlen = (size_t)(dot1 - token);
    plen = (size_t)(dot2 - payload);
    slen = len - (size_t)(sig - token);
    if (memchr(sig, '.', slen)) {
        set_why(why, whylen, "JWT has more than three parts");
        goto done;
    }
    if (!a) {
        set_why(why, whylen,
                "JWTs are refused: no secret is configured (CDC_SECRET)");
        goto done;
    }

    /* The header says how the token is signed: only HS256 goes on. */
    n = b64url_decode(token, hlen, scratch);
    if (n <= 0) {
        set_why(why, whylen, "JWT header is not base64url");
        goto done;
    }
    hdr = parse_object(scratch, (size_t)n, "header", why, whylen);
    if (!hdr || !check_header(hdr, why, whylen))
        goto done;

    /* The signature covers the header and payload as sent. */
    if (slen == 0) {
        set_why(why, whylen, "JWT has no signature");
        goto done;
    }
    n = b64url_decode(sig, slen, scratch);
    if (n != HS256_LEN) {
        set_why(why, whylen,
                "JWT signature is malformed (not 32 bytes of base64url)");
        goto done;
    }
    if (!HMAC(EVP_sha256(), a->secret, (int)a->secret_len,
              (const unsigned char *)token, (size_t)(dot2 - token), mac,
              &maclen) ||
        maclen != HS256_LEN) {
        set_why(why, whylen, "could not compute HMAC-SHA256");
        goto done;
    }
    if (CRYPTO_memcmp(mac, scratch, HS256_LEN) != 0) {
        set_why(why, whylen,
                "JWT signature does not match (wrong secret or altered "
                "token)");
        goto done;
    }

    /* Only now are the claims worth reading. */
    n = b64url_decode(payload, plen, scratch);
    if (n < 0) {
        set_why(why, whylen, "JWT claims are not base64url");
        goto done;
    }
    claims = parse_object(scratch, (size_t)n, "claims", why, whylen);
    if (!claims || !read_claims(claims, &c, why, whylen))
        goto done;
    memcpy(copy, token, len);
    copy[len] = '\0';
    if (!libjwt_agrees(a, copy)) {
        set_why(why, whylen, "JWT refused by libjwt");
        goto done;
    }

    if (a->issuer && !c.iss) {
        set_why(why, whylen, "JWT has no \"iss\" claim; \"%s\" is required",
                shown(a->issuer, show1, sizeof(show1)));
        goto done;
    }
    if (a->issuer && strcmp(c.iss, a->issuer) != 0) {
        set_why(why, whylen, "JWT issuer \"%s\" is not \"%s\"",
                shown(c.iss, show1, sizeof(show1)),
                shown(a->issuer, show2, sizeof(show2)));
        goto done;
    }
    if (c.has_nbf && c.nbf_us > now_us + a->leeway_us) {
        format_time(c.nbf_us, when, sizeof(when));
        set_why(why, whylen, "JWT is not valid before %s", when);
        goto done;
    }
    if (c.has_exp && now_us >= c.exp_us) {
        format_time(c.exp_us, when, sizeof(when));
        set_why(why, whylen, "JWT expired at %s", when);
        rc = AUTH_EXPIRED;
        goto done;
    }

    out->authenticated = true;
    out->admin = c.admin;
    out->expires_at_us = c.has_exp ? c.exp_us : 0;
    if (c.id) {
        out->has_user = true;
        snprintf(out->user, sizeof(out->user), "%s", c.id);
    }
    if (c.role) {
        out->has_role = true;
        snprintf(out->role, sizeof(out->role), "%s", c.role);
    }
    rc = AUTH_OK;

done:
    json_decref(hdr);
    json_decref(claims);
    OPENSSL_cleanse(mac, sizeof(mac));
    return rc;
}

auth_result_t auth_verify(const auth_t *a, const permissions_t *perms,
                          const char *token, size_t len, int64_t now_us,
                          identity_t *out, char *why, size_t whylen)
{
    const char *user, *role;
    auth_result_t rc;

    auth_public_identity(out);
    set_why(why, whylen, "no token");
    if (!token || len == 0)
        return AUTH_OK;
    if (len > AUTH_MAX_TOKEN) {
        set_why(why, whylen, "token is longer than %d bytes", AUTH_MAX_TOKEN);
        return AUTH_INVALID;
    }
    if (memchr(token, '\0', len)) {
        set_why(why, whylen, "token contains a NUL byte");
        return AUTH_INVALID;
    }

    if (permissions_static_token(perms, token, len, &user, &role)) {
        out->authenticated = true;
        out->has_user = true;
        snprintf(out->user, sizeof(out->user), "%s", user);
        if (role) {
            out->has_role = true;
            snprintf(out->role, sizeof(out->role), "%s", role);
        }
        set_why(why, whylen, "static token");
        return AUTH_OK;
    }

    rc = verify_jwt(a, token, len, now_us, out, why, whylen);
    if (rc == AUTH_OK)
        set_why(why, whylen, "JWT");
    else
        auth_public_identity(out);
    return rc;
}
