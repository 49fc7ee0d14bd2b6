/* Fuzz target for token verification (pusher/auth.h).  The first byte says
 * what the rest is (its low two bits):
 *   0, 3: a token as a client sends it;
 *   1: header JSON, a newline, claims JSON, signed with the secret, so the
 *      checks behind the signature see arbitrary headers and claims;
 *   2: claims JSON under the HS256 header, signed.
 * Beyond not crashing: the answer is one of the three results; a refused
 * token leaves the public identity; an accepted JWT has an HS256 header
 * and the claims Directus requires; verifying twice answers the same. */
#include "auth.h"
#include "permissions.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "directus-shared-secret-for-unit-tests-0123456789"
#define NOW_US (1700000000LL * 1000000LL)

static const char perms_text[] =
    "{\"roles\": {\"editor\": {}}, \"tokens\": {"
    "\"static-token-0123456789abcdef\": {\"user\": \"svc-7\", "
    "\"role\": \"editor\"}}}";

static auth_t *verifier;
static permissions_t *perms;

static void setup(void)
{
    char err[256];

    verifier = auth_new(SECRET, NULL, err, sizeof(err));
    perms = permissions_parse(perms_text, strlen(perms_text), err, sizeof(err));
    if (!verifier || !perms) {
        fprintf(stderr, "fuzz_token: %s\n", err);
        abort();
    }
}

static void check_identity(const identity_t *who, auth_result_t rc)
{
    if (rc != AUTH_OK && rc != AUTH_EXPIRED && rc != AUTH_INVALID)
        abort();
    if (memchr(who->user, '\0', sizeof(who->user)) == NULL ||
        memchr(who->role, '\0', sizeof(who->role)) == NULL)
        abort();
    if (who->has_user != (who->user[0] != '\0') ||
        who->has_role != (who->role[0] != '\0'))
        abort();
    if (rc != AUTH_OK &&
        (who->authenticated || who->admin || who->has_user || who->has_role))
        abort();
}

/* An accepted JWT's own parts must say what the verifier promised. */
static void check_accepted_jwt(const char *header, const char *claims)
{
    json_t *h = json_loads(header, 0, NULL);
    json_t *c = json_loads(claims, 0, NULL);
    const char *alg;

    if (!h || !c)
        abort();
    alg = json_string_value(json_object_get(h, "alg"));
    if (!alg || strcmp(alg, "HS256") != 0 || json_object_get(h, "crit"))
        abort();
    if (!json_object_get(c, "role") || !json_object_get(c, "app_access") ||
        !json_object_get(c, "admin_access") || json_object_get(c, "share"))
        abort();
    json_decref(h);
    json_decref(c);
}

static auth_result_t verify(const char *tok, size_t len, identity_t *who)
{
    char why[256];
    identity_t again;
    auth_result_t rc, rc2;

    rc = auth_verify(verifier, perms, tok, len, NOW_US, who, why, sizeof(why));
    check_identity(who, rc);
    rc2 = auth_verify(verifier, perms, tok, len, NOW_US, &again, NULL, 0);
    if (rc2 != rc || memcmp(who, &again, sizeof(again)) != 0)
        abort();
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text, *nl, *header, *claims;
    identity_t who;
    buf_t tok;

    if (!verifier)
        setup();
    if (size == 0)
        return 0;

    if ((data[0] & 3) == 0 || (data[0] & 3) == 3) {
        verify((const char *)data + 1, size - 1, &who);
        return 0;
    }

    /* The signing modes take text: stop at a NUL. */
    text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if ((data[0] & 3) == 1) {
        nl = strchr(text, '\n');
        if (!nl) {
            free(text);
            return 0;
        }
        *nl = '\0';
        header = text;
        claims = nl + 1;
    } else {
        header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
        claims = text;
    }

    buf_init(&tok, 4 * AUTH_MAX_TOKEN);
    if (auth_sign_raw(SECRET, header, claims, &tok) &&
        verify((const char *)tok.data, tok.len, &who) == AUTH_OK &&
        who.authenticated)
        check_accepted_jwt(header, claims);
    buf_free(&tok);
    free(text);
    return 0;
}
