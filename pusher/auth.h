/* Who a WebSocket client is: access tokens turned into an identity.
 *
 * Inputs handled, all at most AUTH_MAX_TOKEN bytes:
 * - no token (NULL or empty): the public identity;
 * - a static token: an opaque string listed under "tokens" in the
 *   permissions file (see permissions.h), compared in constant time;
 * - a JWT signed with HMAC-SHA256 (HS256) and the shared secret
 *   (CDC_SECRET), as Directus issues them.  Set CDC_SECRET to Directus's
 *   SECRET and its access tokens work unchanged.
 *
 * A JWT is accepted only when all of this holds:
 * - three base64url parts (RFC 4648 section 5, no padding, canonical);
 * - a header that is a JSON object (no name repeated) whose "alg" is
 *   exactly "HS256", whose "typ", if present, is "JWT" (any case), and
 *   without "crit";
 * - an HMAC-SHA256 signature that matches (compared in constant time),
 *   checked again by libjwt as a second, independent opinion;
 * - claims that are a JSON object without duplicate names, with Directus's
 *   shape: "role" (string or null), "app_access" and "admin_access"
 *   (boolean, or a number where 1 means true, as Directus writes them)
 *   must be present, as Directus itself requires; "id" (the user, string)
 *   is optional; "iat", "nbf" and "exp" are numbers of seconds since 1970
 *   when present; "iss" a string when present;
 * - "iss" equals the configured issuer, when one is configured (Directus
 *   writes "directus");
 * - "nbf", when present, is not later than now plus the leeway;
 * - "exp", when present, is later than now (AUTH_EXPIRED otherwise).  A
 *   token without "exp" does not expire, as with Directus's verifier.
 * Directus share tokens (a "share" claim) are refused: they grant one item
 * only, which the pusher cannot enforce.  Session tokens (a "session"
 * claim) are accepted like access tokens; the pusher does not see the
 * session store, so a logout takes effect only when the token expires.
 * The value of "app_access" and any other claim ("enforce_tfa", "aud",
 * ...) is not used.  "id" and "role" are at most AUTH_MAX_NAME bytes and
 * hold no control characters. */
#ifndef CDC_AUTH_H
#define CDC_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"

#define AUTH_MAX_TOKEN      8192 /* bytes in a token, any kind */
#define AUTH_MIN_SECRET     32   /* bytes in CDC_SECRET */
#define AUTH_MAX_NAME       127  /* bytes in a user or role name */
#define AUTH_DEFAULT_LEEWAY 5    /* seconds of clock skew allowed on "nbf" */
#define AUTH_MAX_LEEWAY     300

typedef struct permissions permissions_t;

/* The client as the pusher sees it.  Plain data: copy it freely. */
typedef struct identity {
    char user[AUTH_MAX_NAME + 1]; /* "" unless has_user */
    char role[AUTH_MAX_NAME + 1]; /* "" unless has_role */
    bool has_user;
    bool has_role;
    bool admin;            /* the token's admin_access claim */
    bool authenticated;    /* false: the public identity (no token) */
    int64_t expires_at_us; /* microseconds since 1970; 0: never */
} identity_t;

/* One answer for every refused token, so a client learns nothing about
 * why; the reason goes to the log through the why out-parameter. */
typedef enum auth_result {
    AUTH_OK,
    AUTH_EXPIRED, /* otherwise valid, but "exp" has passed */
    AUTH_INVALID,
} auth_result_t;

typedef struct auth auth_t;

/* Makes a verifier for JWTs signed with secret (NUL-terminated, at least
 * AUTH_MIN_SECRET bytes).  issuer NULL or "": any "iss" is accepted;
 * otherwise "iss" must be present and equal to it.  The leeway starts at
 * AUTH_DEFAULT_LEEWAY.  Returns NULL with a message in err when the secret
 * is missing or too short, or memory runs out.  The caller owns the result
 * (auth_free); secret and issuer are copied.  Once made, a verifier is
 * read only and may be used from several threads at once. */
auth_t *auth_new(const char *secret, const char *issuer, char *err,
                 size_t errlen);

/* Frees a verifier, wiping its copy of the secret.  NULL is allowed. */
void auth_free(auth_t *a);

/* Sets how many seconds a token's "nbf" may lie in the future (clock skew
 * between the issuer and this host).  Returns false, changing nothing,
 * outside 0..AUTH_MAX_LEEWAY.  Call before sharing a between threads. */
bool auth_set_leeway(auth_t *a, int seconds);

/* Fills out with the identity of a client without a token. */
void auth_public_identity(identity_t *out);

/* Says who holds token (len bytes, need not be NUL-terminated) at now_us
 * (microseconds since 1970).  No token (NULL or len 0) gives the public
 * identity and AUTH_OK.  Static tokens are looked up in perms (NULL: there
 * are none); JWTs need a (NULL: every JWT is refused).  On AUTH_OK out is
 * the client's identity; otherwise out is cleared to the public identity
 * (refuse the client: do not admit it as public), and why says what was
 * wrong, for the log and not for the client: it may quote a short,
 * sanitised "alg" or "iss" value, never the token or its signature.  On
 * AUTH_OK why names the kind ("no token", "static token", "JWT").  why may
 * be NULL.  Nothing is kept of token or perms. */
auth_result_t auth_verify(const auth_t *a, const permissions_t *perms,
                          const char *token, size_t len, int64_t now_us,
                          identity_t *out, char *why, size_t whylen);

/* Appends to out a JWT signed with HMAC-SHA256 and secret, whose header
 * is {"alg":"HS256","typ":"JWT"} and whose payload is claims_json as given
 * (it is not checked).  For cdc-token, tests and the quick start.  Returns
 * false when out overflows; out may then hold part of a token. */
bool auth_sign_hs256(const char *secret, const char *claims_json, buf_t *out);

/* The same with header_json as given too, so tests can make tokens that
 * name other algorithms, or carry malformed JSON, and still bear a valid
 * HMAC-SHA256 signature. */
bool auth_sign_raw(const char *secret, const char *header_json,
                   const char *claims_json, buf_t *out);

/* Appends the base64url form (no padding) of n bytes to out; false when
 * out overflows. */
bool auth_base64url_encode(const void *data, size_t n, buf_t *out);

#endif
