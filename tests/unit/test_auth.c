/* Token verification (pusher/auth.h): every kind of refused token, each
 * with its reason, and the accepted kinds: tokens made by an independent
 * HS256 implementation in Directus's shape, tokens from libjwt and from
 * auth_sign_hs256, static tokens and no token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth.h"
#include "permissions.h"

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET       "unit-test-secret-long-enough-for-hs256-0123"
#define OTHER_SECRET "another-secret-long-enough-for-hs256-456789"
#define NOW_S        1700000000LL
#define NOW_US       (NOW_S * 1000000LL)
#define HS256_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* Claims as Directus writes them, valid at NOW_S. */
#define GOOD_CLAIMS                                                            \
    "{\"id\":\"u-1\",\"role\":\"editor\",\"app_access\":true,"                 \
    "\"admin_access\":false,\"iat\":1699999990,\"exp\":1700000900,"            \
    "\"iss\":\"directus\"}"

/* Made with Node's crypto module (createHmac, base64url), not with this
 * code, exactly as jsonwebtoken lays out a Directus access token; the
 * secret is DIRECTUS_SECRET and they expire in 2100. */
#define DIRECTUS_SECRET "directus-shared-secret-for-unit-tests-0123456789"
static const char directus_token[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6IjNmMWI2YzJlLThhNGQtNGE1"
    "OS05ZDUyLTBkNmEzYjdjMWU5MCIsInJvbGUiOiJiMWQ0ZTBmMi02YzNhLTRlOGItOWYyM"
    "S01YTdkOGM5ZTBiMTMiLCJhcHBfYWNjZXNzIjp0cnVlLCJhZG1pbl9hY2Nlc3MiOmZhbH"
    "NlLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6NDEwMjQ0NDgwMCwiaXNzIjoiZGlyZWN0dXM"
    "ifQ.RVFePA3ZUV4CBBxz_K-iL3Dm9VREERJ_JFd-7J-aADU";
/* role null, admin_access and app_access as 1, a "session" claim. */
static const char directus_session_token[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6IjNmMWI2YzJlLThhNGQtNGE1"
    "OS05ZDUyLTBkNmEzYjdjMWU5MCIsInJvbGUiOm51bGwsImFwcF9hY2Nlc3MiOjEsImFkb"
    "WluX2FjY2VzcyI6MSwic2Vzc2lvbiI6ImtQcTJ4OVZ0IiwiaWF0IjoxNzAwMDAwMDAwLC"
    "JleHAiOjQxMDI0NDQ4MDAsImlzcyI6ImRpcmVjdHVzIn0.-5K6HFTwoOI3LRpZixlF_1w"
    "oyudC5xbIaGpdVBQXIoQ";

#define STATIC_TOKEN "static-token-0123456789abcdef"
static const char perms_text[] =
    "{\"roles\": {\"editor\": {\"collections\": {}}},"
    " \"tokens\": {\"" STATIC_TOKEN "\": {\"user\": \"svc-7\","
    " \"role\": \"editor\"},"
    " \"second-static-token-0123456789\": {\"user\": \"svc-8\"}}}";

/* How a test token is made. */
typedef enum make {
    MAKE_SIGNED,       /* auth_sign_raw(SECRET, header, claims) */
    MAKE_WRONG_SECRET, /* signed with OTHER_SECRET */
    MAKE_LIBJWT_HS384, /* libjwt, HS384 with SECRET */
    MAKE_LIBJWT_HS512,
    MAKE_UNSIGNED,      /* header.claims. with an empty signature */
    MAKE_TAMPER_CLAIMS, /* signed, then the claims swapped for alt */
    MAKE_TAMPER_SIG,    /* signed, then one signature byte changed */
    MAKE_NONCANON_SIG,  /* signed, then the unused low bits of the last
                           signature character set */
    MAKE_SHORT_SIG,     /* signed, then the signature cut to 20 chars */
    MAKE_EXTRA_PART,    /* signed, then ".x" appended */
    MAKE_RAW_PARTS,     /* header and claims are the encoded parts as
                           given, HMAC-SHA256 signed with SECRET */
    MAKE_LITERAL,       /* claims is the whole token */
} make_t;

typedef struct token_case {
    const char *name;
    make_t make;
    const char *header; /* NULL: HS256_HEADER */
    const char *claims;
    const char *alt; /* MAKE_TAMPER_CLAIMS: the claims swapped in */
    auth_result_t want;
    const char *why; /* a part of the reason */
} token_case_t;

static char *sign_raw(const char *secret, const char *header,
                      const char *claims)
{
    buf_t b;

    buf_init(&b, 0);
    assert_true(auth_sign_raw(secret, header, claims, &b));
    assert_true(buf_putc(&b, '\0'));
    return (char *)b.data;
}

static char *b64(const char *text)
{
    buf_t b;

    buf_init(&b, 0);
    assert_true(auth_base64url_encode(text, strlen(text), &b));
    assert_true(buf_putc(&b, '\0'));
    return (char *)b.data;
}

static char *libjwt_sign(jwt_alg_t alg, const char *claims)
{
    jwt_t *jwt = NULL;
    char *tok, *copy;

    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_add_grants_json(jwt, claims), 0);
    assert_int_equal(jwt_set_alg(jwt, alg, (const unsigned char *)SECRET,
                                 (int)strlen(SECRET)),
                     0);
    tok = jwt_encode_str(jwt);
    assert_non_null(tok);
    copy = strdup(tok);
    free(tok);
    jwt_free(jwt);
    return copy;
}

/* header.claims as already-encoded text, with a valid signature. */
static char *sign_parts(const char *hpart, const char *cpart)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    buf_t b;

    buf_init(&b, 0);
    assert_true(buf_printf(&b, "%s.%s", hpart, cpart));
    assert_non_null(HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), b.data,
                         b.len, mac, &maclen));
    assert_true(buf_putc(&b, '.'));
    assert_true(auth_base64url_encode(mac, maclen, &b));
    assert_true(buf_putc(&b, '\0'));
    return (char *)b.data;
}

static char *make_token(const token_case_t *c)
{
    const char *header = c->header ? c->header : HS256_HEADER;
    char *tok, *h, *p, *sig;
    size_t n;

    switch (c->make) {
    case MAKE_SIGNED:
        return sign_raw(SECRET, header, c->claims);
    case MAKE_WRONG_SECRET:
        return sign_raw(OTHER_SECRET, header, c->claims);
    case MAKE_LIBJWT_HS384:
        return libjwt_sign(JWT_ALG_HS384, c->claims);
    case MAKE_LIBJWT_HS512:
        return libjwt_sign(JWT_ALG_HS512, c->claims);
    case MAKE_UNSIGNED:
        h = b64(header);
        p = b64(c->claims);
        tok = malloc(strlen(h) + strlen(p) + 3);
        sprintf(tok, "%s.%s.", h, p);
        free(h);
        free(p);
        return tok;
    case MAKE_TAMPER_CLAIMS:
        h = b64(header);
        p = b64(c->alt);
        tok = sign_raw(SECRET, header, c->claims);
        sig = strrchr(tok, '.');
        n = strlen(h) + strlen(p) + strlen(sig) + 2;
        {
            char *out = malloc(n);

            sprintf(out, "%s.%s%s", h, p, sig);
            free(tok);
            tok = out;
        }
        free(h);
        free(p);
        return tok;
    case MAKE_TAMPER_SIG:
        tok = sign_raw(SECRET, header, c->claims);
        sig = strrchr(tok, '.') + 1;
        sig[3] = sig[3] == 'A' ? 'B' : 'A';
        return tok;
    case MAKE_NONCANON_SIG: {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
                                       "klmnopqrstuvwxyz0123456789-_";
        char *last;

        tok = sign_raw(SECRET, header, c->claims);
        last = tok + strlen(tok) - 1;
        /* 32 bytes take 43 characters; the last one carries 4 bits and 2
         * unused ones, which must be zero. */
        *last = alphabet[(strchr(alphabet, *last) - alphabet) | 1];
        return tok;
    }
    case MAKE_SHORT_SIG:
        tok = sign_raw(SECRET, header, c->claims);
        strrchr(tok, '.')[21] = '\0';
        return tok;
    case MAKE_EXTRA_PART:
        tok = sign_raw(SECRET, header, c->claims);
        tok = realloc(tok, strlen(tok) + 3);
        strcat(tok, ".x");
        return tok;
    case MAKE_RAW_PARTS:
        return sign_parts(header, c->claims);
    case MAKE_LITERAL:
        return strdup(c->claims);
    }
    return NULL;
}

static char long_id_claims[512];
static char oversize_claims[AUTH_MAX_TOKEN + 64];

static const token_case_t refused[] = {
    {"alg none, no signature", MAKE_UNSIGNED, "{\"alg\":\"none\"}", GOOD_CLAIMS,
     NULL, AUTH_INVALID, "\"none\""},
    {"alg none with typ, no signature", MAKE_UNSIGNED,
     "{\"alg\":\"none\",\"typ\":\"JWT\"}", GOOD_CLAIMS, NULL, AUTH_INVALID,
     "\"none\""},
    {"alg none, signed anyway", MAKE_SIGNED, "{\"alg\":\"none\"}", GOOD_CLAIMS,
     NULL, AUTH_INVALID, "\"none\""},
    {"alg NONE in capitals", MAKE_SIGNED, "{\"alg\":\"NONE\"}", GOOD_CLAIMS,
     NULL, AUTH_INVALID, "\"none\""},
    {"HS384 signed with the secret", MAKE_LIBJWT_HS384, NULL, GOOD_CLAIMS, NULL,
     AUTH_INVALID, "\"HS384\" is refused"},
    {"HS512 signed with the secret", MAKE_LIBJWT_HS512, NULL, GOOD_CLAIMS, NULL,
     AUTH_INVALID, "\"HS512\" is refused"},
    {"RS256 header with an HMAC signature", MAKE_SIGNED,
     "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", GOOD_CLAIMS, NULL, AUTH_INVALID,
     "\"RS256\" is refused"},
    {"ES256 header", MAKE_SIGNED, "{\"alg\":\"ES256\"}", GOOD_CLAIMS, NULL,
     AUTH_INVALID, "\"ES256\" is refused"},
    {"hs256 in lower case", MAKE_SIGNED, "{\"alg\":\"hs256\"}", GOOD_CLAIMS,
     NULL, AUTH_INVALID, "\"hs256\" is refused"},
    {"no alg", MAKE_SIGNED, "{\"typ\":\"JWT\"}", GOOD_CLAIMS, NULL,
     AUTH_INVALID, "no \"alg\""},
    {"alg not a string", MAKE_SIGNED, "{\"alg\":256}", GOOD_CLAIMS, NULL,
     AUTH_INVALID, "\"alg\" is not a string"},
    {"crit header", MAKE_SIGNED, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
     GOOD_CLAIMS, NULL, AUTH_INVALID, "\"crit\""},
    {"typ not JWT", MAKE_SIGNED, "{\"alg\":\"HS256\",\"typ\":\"JWE\"}",
     GOOD_CLAIMS, NULL, AUTH_INVALID, "\"typ\""},
    {"header an array", MAKE_SIGNED, "[\"HS256\"]", GOOD_CLAIMS, NULL,
     AUTH_INVALID, "header: not a JSON object"},
    {"header not JSON", MAKE_SIGNED, "{\"alg\":\"HS256\"", GOOD_CLAIMS, NULL,
     AUTH_INVALID, "header: not valid JSON"},
    {"header repeats alg", MAKE_SIGNED, "{\"alg\":\"none\",\"alg\":\"HS256\"}",
     GOOD_CLAIMS, NULL, AUTH_INVALID, "header: a name is repeated"},
    {"tampered claims", MAKE_TAMPER_CLAIMS, NULL, GOOD_CLAIMS,
     "{\"id\":\"u-1\",\"role\":\"admin\",\"app_access\":true,"
     "\"admin_access\":true,\"exp\":1700000900,\"iss\":\"directus\"}",
     AUTH_INVALID, "signature does not match"},
    {"tampered signature", MAKE_TAMPER_SIG, NULL, GOOD_CLAIMS, NULL,
     AUTH_INVALID, "signature does not match"},
    {"signed with another secret", MAKE_WRONG_SECRET, NULL, GOOD_CLAIMS, NULL,
     AUTH_INVALID, "signature does not match"},
    {"non-canonical signature encoding", MAKE_NONCANON_SIG, NULL, GOOD_CLAIMS,
     NULL, AUTH_INVALID, "signature is malformed"},
    {"signature cut short", MAKE_SHORT_SIG, NULL, GOOD_CLAIMS, NULL,
     AUTH_INVALID, "signature is malformed"},
    {"HS256 without signature", MAKE_UNSIGNED, NULL, GOOD_CLAIMS, NULL,
     AUTH_INVALID, "no signature"},
    {"expired", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\",\"role\":\"editor\",\"app_access\":true,"
     "\"admin_access\":false,\"exp\":1699999000,"
     "\"iss\":\"directus\"}",
     NULL, AUTH_EXPIRED, "expired at 2023-11-14T21:56:40Z"},
    {"expires this very second", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\",\"role\":\"editor\",\"app_access\":true,"
     "\"admin_access\":false,\"exp\":1700000000,"
     "\"iss\":\"directus\"}",
     NULL, AUTH_EXPIRED, "expired"},
    {"not valid before a minute from now", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\",\"role\":\"editor\",\"app_access\":true,"
     "\"admin_access\":false,\"nbf\":1700000060,"
     "\"iss\":\"directus\"}",
     NULL, AUTH_INVALID, "not valid before"},
    {"expired and from another issuer", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\",\"role\":\"editor\",\"app_access\":true,"
     "\"admin_access\":false,\"exp\":1,\"iss\":\"other\"}",
     NULL, AUTH_INVALID, "issuer \"other\" is not \"directus\""},
    {"wrong issuer", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\",\"role\":\"editor\",\"app_access\":true,"
     "\"admin_access\":false,\"iss\":\"directus-staging\"}",
     NULL, AUTH_INVALID, "issuer \"directus-staging\" is not"},
    {"no issuer when one is required", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\",\"role\":\"editor\",\"app_access\":true,"
     "\"admin_access\":false}",
     NULL, AUTH_INVALID, "no \"iss\" claim"},
    {"issuer not a string", MAKE_SIGNED, NULL,
     "{\"role\":null,\"app_access\":true,\"admin_access\":false,"
     "\"iss\":5}",
     NULL, AUTH_INVALID, "\"iss\" is not a string"},
    {"header not base64url", MAKE_RAW_PARTS, "eyJh!GciOiJIUzI1NiJ9",
     "eyJyb2xlIjpudWxsfQ", NULL, AUTH_INVALID, "header is not base64url"},
    {"header padded with =", MAKE_RAW_PARTS, "eyJhbGciOiJIUzI1NiJ9=",
     "eyJyb2xlIjpudWxsfQ", NULL, AUTH_INVALID, "header is not base64url"},
    {"claims not base64url", MAKE_RAW_PARTS, "eyJhbGciOiJIUzI1NiJ9",
     "eyJyb2xlIjpudW+sfQ", NULL, AUTH_INVALID, "claims are not base64url"},
    {"claims of impossible length", MAKE_RAW_PARTS, "eyJhbGciOiJIUzI1NiJ9",
     "eyJyb", NULL, AUTH_INVALID, "claims are not base64url"},
    {"claims not JSON", MAKE_SIGNED, NULL, "{\"id\":", NULL, AUTH_INVALID,
     "claims: not valid JSON"},
    {"empty claims", MAKE_SIGNED, NULL, "", NULL, AUTH_INVALID,
     "claims: not valid JSON"},
    {"claims an array", MAKE_SIGNED, NULL, "[1,2]", NULL, AUTH_INVALID,
     "claims: not a JSON object"},
    {"claims repeat role", MAKE_SIGNED, NULL,
     "{\"role\":\"editor\",\"role\":\"admin\",\"app_access\":true,"
     "\"admin_access\":false}",
     NULL, AUTH_INVALID, "claims: a name is repeated"},
    {"claims with \\u0000", MAKE_SIGNED, NULL,
     "{\"id\":\"u\\u0000x\",\"role\":null,\"app_access\":true,"
     "\"admin_access\":false}",
     NULL, AUTH_INVALID, "claims: not valid JSON"},
    {"no role claim", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\",\"app_access\":true,\"admin_access\":false}", NULL,
     AUTH_INVALID, "no \"role\" claim"},
    {"role a number", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\",\"role\":7,\"app_access\":true,"
     "\"admin_access\":false}",
     NULL, AUTH_INVALID, "\"role\" is not a string"},
    {"role empty", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\",\"role\":\"\",\"app_access\":true,"
     "\"admin_access\":false}",
     NULL, AUTH_INVALID, "\"role\" is empty"},
    {"no app_access claim", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\",\"role\":\"editor\",\"admin_access\":false}", NULL,
     AUTH_INVALID, "no \"app_access\" claim"},
    {"admin_access a string", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\",\"role\":\"editor\",\"app_access\":true,"
     "\"admin_access\":\"true\"}",
     NULL, AUTH_INVALID, "\"admin_access\" is not a boolean"},
    {"exp a string", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\",\"role\":\"editor\",\"app_access\":true,"
     "\"admin_access\":false,\"exp\":\"1700000900\"}",
     NULL, AUTH_INVALID, "\"exp\" is not a number"},
    {"exp negative", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\",\"role\":\"editor\",\"app_access\":true,"
     "\"admin_access\":false,\"exp\":-5}",
     NULL, AUTH_INVALID, "\"exp\" is out of range"},
    {"exp past year 9999", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\",\"role\":\"editor\",\"app_access\":true,"
     "\"admin_access\":false,\"exp\":1e15}",
     NULL, AUTH_INVALID, "\"exp\" is out of range"},
    {"nbf a boolean", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\",\"role\":\"editor\",\"app_access\":true,"
     "\"admin_access\":false,\"nbf\":true}",
     NULL, AUTH_INVALID, "\"nbf\" is not a number"},
    {"iat an object", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\",\"role\":\"editor\",\"app_access\":true,"
     "\"admin_access\":false,\"iat\":{}}",
     NULL, AUTH_INVALID, "\"iat\" is not a number"},
    {"id a number", MAKE_SIGNED, NULL,
     "{\"id\":42,\"role\":\"editor\",\"app_access\":true,"
     "\"admin_access\":false}",
     NULL, AUTH_INVALID, "\"id\" is not a string"},
    {"id too long", MAKE_SIGNED, NULL, long_id_claims, NULL, AUTH_INVALID,
     "\"id\" is longer than 127 bytes"},
    {"id with a newline", MAKE_SIGNED, NULL,
     "{\"id\":\"u-1\\nrole=admin\",\"role\":\"editor\",\"app_access\":true,"
     "\"admin_access\":false}",
     NULL, AUTH_INVALID, "\"id\" has control characters"},
    {"Directus share token", MAKE_SIGNED, NULL,
     "{\"role\":\"r\",\"app_access\":false,\"admin_access\":false,"
     "\"share\":\"s-1\",\"share_scope\":{\"collection\":\"articles\","
     "\"item\":\"7\"}}",
     NULL, AUTH_INVALID, "share token"},
    {"two parts", MAKE_LITERAL, NULL, "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjpudWxsfQ",
     NULL, AUTH_INVALID, "three base64url parts"},
    {"four parts", MAKE_EXTRA_PART, NULL, GOOD_CLAIMS, NULL, AUTH_INVALID,
     "more than three parts"},
    {"unknown opaque token", MAKE_LITERAL, NULL,
     "not-a-known-static-token-at-all", NULL, AUTH_INVALID,
     "neither a known static token nor a JWT"},
    {"static token with a changed byte", MAKE_LITERAL, NULL,
     "static-token-0123456789abcdeF", NULL, AUTH_INVALID,
     "neither a known static token"},
    {"oversized", MAKE_SIGNED, NULL, oversize_claims, NULL, AUTH_INVALID,
     "longer than 8192 bytes"},
};

static auth_t *make_auth(const char *secret, const char *issuer)
{
    char err[256];
    auth_t *a = auth_new(secret, issuer, err, sizeof(err));

    if (!a)
        fail_msg("auth_new: %s", err);
    return a;
}

static permissions_t *make_perms(void)
{
    char err[256];
    permissions_t *p =
        permissions_parse(perms_text, strlen(perms_text), err, sizeof(err));

    if (!p)
        fail_msg("permissions_parse: %s", err);
    return p;
}

static void test_refused(void **state)
{
    auth_t *a = make_auth(SECRET, "directus");
    permissions_t *perms = make_perms();

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        const token_case_t *c = &refused[i];
        char *tok = make_token(c);
        char why[256] = "";
        identity_t who;
        auth_result_t rc;

        memset(&who, 0x55, sizeof(who));
        rc = auth_verify(a, perms, tok, strlen(tok), NOW_US, &who, why,
                         sizeof(why));
        if (rc != c->want || !strstr(why, c->why))
            fail_msg("%s: got result %d, reason \"%s\"; want %d, \"%s\"",
                     c->name, rc, why, c->want, c->why);
        /* A refused client is nobody, and the log does not get the
         * signature. */
        assert_false(who.authenticated);
        assert_false(who.admin);
        assert_false(who.has_user);
        assert_false(who.has_role);
        if (strrchr(tok, '.') && strlen(strrchr(tok, '.')) > 8)
            assert_null(strstr(why, strrchr(tok, '.') + 1));
        free(tok);
    }
    permissions_free(perms);
    auth_free(a);
}

static void test_nul_byte(void **state)
{
    auth_t *a = make_auth(SECRET, NULL);
    static const char tok[] = "static-token-0123456789abcdef\0x";
    identity_t who;
    char why[256];

    assert_int_equal(auth_verify(a, NULL, tok, sizeof(tok) - 1, NOW_US, &who,
                                 why, sizeof(why)),
                     AUTH_INVALID);
    assert_non_null(strstr(why, "NUL byte"));
    auth_free(a);
}

/* Accepted tokens: who they stand for. */
typedef struct accept_case {
    const char *name;
    const char *secret;
    const char *issuer;
    const char *token; /* as is, or NULL to sign claims */
    const char *claims;
    const char *user; /* NULL: has_user false */
    const char *role; /* NULL: has_role false */
    bool admin;
    int64_t expires_at_us;
} accept_case_t;

static const accept_case_t accepted[] = {
    {"Directus access token", DIRECTUS_SECRET, "directus", directus_token, NULL,
     "3f1b6c2e-8a4d-4a59-9d52-0d6a3b7c1e90",
     "b1d4e0f2-6c3a-4e8b-9f21-5a7d8c9e0b13", false, 4102444800000000LL},
    {"Directus session token, admin as 1, no role", DIRECTUS_SECRET, NULL,
     directus_session_token, NULL, "3f1b6c2e-8a4d-4a59-9d52-0d6a3b7c1e90", NULL,
     true, 4102444800000000LL},
    {"Directus-shaped claims", SECRET, "directus", NULL, GOOD_CLAIMS, "u-1",
     "editor", false, 1700000900000000LL},
    {"admin_access true", SECRET, NULL, NULL,
     "{\"id\":\"root\",\"role\":\"a\",\"app_access\":true,"
     "\"admin_access\":true,\"exp\":1700000900}",
     "root", "a", true, 1700000900000000LL},
    {"admin_access 0", SECRET, NULL, NULL,
     "{\"id\":\"u\",\"role\":\"a\",\"app_access\":0,\"admin_access\":0}", "u",
     "a", false, 0},
    {"no exp never expires", SECRET, NULL, NULL,
     "{\"id\":\"u\",\"role\":null,\"app_access\":false,"
     "\"admin_access\":false}",
     "u", NULL, false, 0},
    {"no id", SECRET, NULL, NULL,
     "{\"role\":\"viewer\",\"app_access\":false,\"admin_access\":false}", NULL,
     "viewer", false, 0},
    {"id null", SECRET, NULL, NULL,
     "{\"id\":null,\"role\":\"viewer\",\"app_access\":false,"
     "\"admin_access\":false}",
     NULL, "viewer", false, 0},
    {"exp with a fraction", SECRET, NULL, NULL,
     "{\"id\":\"u\",\"role\":\"r\",\"app_access\":true,"
     "\"admin_access\":false,\"exp\":1700000900.5}",
     "u", "r", false, 1700000900500000LL},
    {"nbf within the default leeway", SECRET, NULL, NULL,
     "{\"id\":\"u\",\"role\":\"r\",\"app_access\":true,"
     "\"admin_access\":false,\"nbf\":1700000004}",
     "u", "r", false, 0},
    {"unknown claims ignored", SECRET, NULL, NULL,
     "{\"id\":\"u\",\"role\":\"r\",\"app_access\":true,"
     "\"admin_access\":false,\"aud\":[\"x\"],\"enforce_tfa\":null,"
     "\"email\":\"u@example.com\"}",
     "u", "r", false, 0},
    {"typ in lower case, kid", SECRET, NULL, NULL, /* header set below */
     "{\"id\":\"u\",\"role\":\"r\",\"app_access\":true,"
     "\"admin_access\":false}",
     "u", "r", false, 0},
    {"UTF-8 names", SECRET, NULL, NULL,
     "{\"id\":\"\xc3\xa9milie\",\"role\":\"r\xc3\xb4le\",\"app_access\":"
     "true,\"admin_access\":false}",
     "\xc3\xa9milie", "r\xc3\xb4le", false, 0},
    {"static token", NULL, NULL, STATIC_TOKEN, NULL, "svc-7", "editor", false,
     0},
    {"static token without role", NULL, NULL, "second-static-token-0123456789",
     NULL, "svc-8", NULL, false, 0},
};

static void test_accepted(void **state)
{
    permissions_t *perms = make_perms();

    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        const accept_case_t *c = &accepted[i];
        auth_t *a = c->secret ? make_auth(c->secret, c->issuer) : NULL;
        char *tok;
        char why[256] = "";
        identity_t who;
        auth_result_t rc;

        if (c->token)
            tok = strdup(c->token);
        else if (strcmp(c->name, "typ in lower case, kid") == 0)
            tok = sign_raw(c->secret,
                           "{\"typ\":\"jwt\",\"kid\":\"k1\",\"alg\":\"HS256\"}",
                           c->claims);
        else
            tok = sign_raw(c->secret, HS256_HEADER, c->claims);

        rc = auth_verify(a, perms, tok, strlen(tok), NOW_US, &who, why,
                         sizeof(why));
        if (rc != AUTH_OK)
            fail_msg("%s: refused: %s", c->name, why);
        assert_true(who.authenticated);
        assert_int_equal(who.has_user, c->user != NULL);
        assert_string_equal(who.user, c->user ? c->user : "");
        assert_int_equal(who.has_role, c->role != NULL);
        assert_string_equal(who.role, c->role ? c->role : "");
        assert_int_equal(who.admin, c->admin);
        assert_int_equal(who.expires_at_us, c->expires_at_us);
        free(tok);
        auth_free(a);
    }
    permissions_free(perms);
}

/* libjwt, an independent signer, makes tokens we accept, and
 * auth_sign_hs256 makes tokens libjwt accepts. */
static void test_interop_libjwt(void **state)
{
    auth_t *a = make_auth(SECRET, NULL);
    char *tok = libjwt_sign(JWT_ALG_HS256, GOOD_CLAIMS);
    jwt_t *jwt = NULL;
    identity_t who;
    char why[256];
    buf_t b;

    assert_int_equal(
        auth_verify(a, NULL, tok, strlen(tok), NOW_US, &who, why, sizeof(why)),
        AUTH_OK);
    assert_string_equal(who.user, "u-1");
    free(tok);

    buf_init(&b, 0);
    assert_true(auth_sign_hs256(SECRET, GOOD_CLAIMS, &b));
    assert_true(buf_putc(&b, '\0'));
    assert_int_equal(jwt_decode(&jwt, (const char *)b.data,
                                (const unsigned char *)SECRET,
                                (int)strlen(SECRET)),
                     0);
    assert_int_equal(jwt_get_alg(jwt), JWT_ALG_HS256);
    assert_string_equal(jwt_get_grant(jwt, "role"), "editor");
    jwt_free(jwt);
    buf_free(&b);
    auth_free(a);
}

static void test_no_token(void **state)
{
    auth_t *a = make_auth(SECRET, NULL);
    identity_t who;
    char why[64];

    assert_int_equal(
        auth_verify(a, NULL, NULL, 0, NOW_US, &who, why, sizeof(why)), AUTH_OK);
    assert_false(who.authenticated);
    assert_false(who.has_user);
    assert_false(who.has_role);
    assert_false(who.admin);
    assert_int_equal(auth_verify(a, NULL, "", 0, NOW_US, &who, NULL, 0),
                     AUTH_OK);
    assert_false(who.authenticated);
    auth_free(a);
}

static void test_no_secret(void **state)
{
    permissions_t *perms = make_perms();
    char *tok = sign_raw(SECRET, HS256_HEADER, GOOD_CLAIMS);
    identity_t who;
    char why[256];

    /* Without a verifier, JWTs are refused and static tokens work. */
    assert_int_equal(auth_verify(NULL, perms, tok, strlen(tok), NOW_US, &who,
                                 why, sizeof(why)),
                     AUTH_INVALID);
    assert_non_null(strstr(why, "no secret is configured"));
    assert_int_equal(auth_verify(NULL, perms, STATIC_TOKEN,
                                 strlen(STATIC_TOKEN), NOW_US, &who, why,
                                 sizeof(why)),
                     AUTH_OK);
    assert_string_equal(who.user, "svc-7");

    /* Without permissions there are no static tokens. */
    assert_int_equal(auth_verify(NULL, NULL, STATIC_TOKEN, strlen(STATIC_TOKEN),
                                 NOW_US, &who, why, sizeof(why)),
                     AUTH_INVALID);
    free(tok);
    permissions_free(perms);
}

static void test_leeway(void **state)
{
    auth_t *a = make_auth(SECRET, NULL);
    char *tok = sign_raw(SECRET, HS256_HEADER,
                         "{\"role\":null,\"app_access\":false,"
                         "\"admin_access\":false,\"nbf\":1700000020}");
    identity_t who;
    char why[256];

    assert_int_equal(
        auth_verify(a, NULL, tok, strlen(tok), NOW_US, &who, why, sizeof(why)),
        AUTH_INVALID);
    assert_non_null(strstr(why, "not valid before 2023-11-14T22:13:40Z"));
    assert_true(auth_set_leeway(a, 30));
    assert_int_equal(
        auth_verify(a, NULL, tok, strlen(tok), NOW_US, &who, why, sizeof(why)),
        AUTH_OK);
    assert_true(auth_set_leeway(a, 0));
    assert_int_equal(auth_verify(a, NULL, tok, strlen(tok), NOW_US + 19999999,
                                 &who, why, sizeof(why)),
                     AUTH_INVALID);
    assert_int_equal(auth_verify(a, NULL, tok, strlen(tok), NOW_US + 20000000,
                                 &who, why, sizeof(why)),
                     AUTH_OK);
    assert_false(auth_set_leeway(a, -1));
    assert_false(auth_set_leeway(a, AUTH_MAX_LEEWAY + 1));
    free(tok);
    auth_free(a);
}

typedef struct secret_case {
    const char *secret;
    bool ok;
    const char *err; /* part of the message when refused */
} secret_case_t;

static void test_secret(void **state)
{
    static const secret_case_t cases[] = {
        {NULL, false, "set CDC_SECRET"},
        {"", false, "set CDC_SECRET"},
        {"short", false, "too short (5 bytes)"},
        {"0123456789012345678901234567890", false, "Set a longer CDC_SECRET"},
        {"01234567890123456789012345678901", true, NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[512] = "";
        auth_t *a = auth_new(cases[i].secret, NULL, err, sizeof(err));

        assert_int_equal(a != NULL, cases[i].ok);
        if (!cases[i].ok)
            assert_non_null(strstr(err, cases[i].err));
        auth_free(a);
    }
}

static void test_base64url(void **state)
{
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } cases[] = {
        {"", 0, ""},
        {"f", 1, "Zg"},
        {"fo", 2, "Zm8"},
        {"foo", 3, "Zm9v"},
        {"foob", 4, "Zm9vYg"},
        {"fooba", 5, "Zm9vYmE"},
        {"foobar", 6, "Zm9vYmFy"},
        {"\xfb\xff", 2, "-_8"},
        {"\xff\xfe\xfd", 3, "__79"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf_t b;

        buf_init(&b, 0);
        assert_true(auth_base64url_encode(cases[i].in, cases[i].n, &b));
        assert_true(buf_putc(&b, '\0'));
        assert_string_equal((const char *)b.data, cases[i].out);
        buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused),   cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_accepted),  cmocka_unit_test(test_interop_libjwt),
        cmocka_unit_test(test_no_token),  cmocka_unit_test(test_no_secret),
        cmocka_unit_test(test_leeway),    cmocka_unit_test(test_secret),
        cmocka_unit_test(test_base64url),
    };
    size_t n;

    /* Claims too large to write out in the table. */
    n = (size_t)snprintf(long_id_claims, sizeof(long_id_claims), "{\"id\":\"");
    memset(long_id_claims + n, 'x', 200);
    snprintf(long_id_claims + n + 200, sizeof(long_id_claims) - n - 200,
             "\",\"role\":null,\"app_access\":true,\"admin_access\":false}");
    n = (size_t)snprintf(oversize_claims, sizeof(oversize_claims),
                         "{\"pad\":\"");
    memset(oversize_claims + n, 'p', AUTH_MAX_TOKEN - 200);
    snprintf(oversize_claims + n + AUTH_MAX_TOKEN - 200,
             sizeof(oversize_claims) - n - (AUTH_MAX_TOKEN - 200),
             "\",\"role\":null,\"app_access\":true,\"admin_access\":false}");

    return cmocka_run_group_tests(tests, NULL, NULL);
}
