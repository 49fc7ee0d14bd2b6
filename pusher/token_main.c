/* cdc-token: prints an HS256 access token shaped like Directus's, signed
 * with CDC_SECRET, for the quick start and for tests; with --verify, says
 * whether the pusher would accept a token and as whom. */
#include "auth.h"
#include "clock.h"
#include "config.h"
#include "permissions.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROGRAM     "cdc-token"
#define DEFAULT_TTL 3600
#define MAX_TTL     (10 * 365 * 24 * 3600)

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s --user ID [--role ROLE] [--admin] [--ttl SECONDS]\n"
            "                 [--issuer NAME] [--secret SECRET] "
            "[--config FILE]\n"
            "       %s --verify TOKEN [--issuer NAME] [--permissions FILE]\n"
            "                 [--secret SECRET] [--config FILE]\n"
            "       %s --help | --version\n\n"
            "Prints an access token for the pusher: a JWT signed with "
            "HMAC-SHA256 and the\nshared secret, with Directus's claims (id, "
            "role, app_access, admin_access,\niat, exp, iss).  With --verify, "
            "checks a token (JWT or static) as the pusher\nwould and prints "
            "the identity it stands for.\n\n"
            "  --user ID          the \"id\" claim (required to sign)\n"
            "  --role ROLE        the \"role\" claim (default: null, the "
            "public permissions)\n"
            "  --admin            admin_access: reads everything\n"
            "  --ttl SECONDS      lifetime; 0 for a token that never expires "
            "(default: %d)\n"
            "  --issuer NAME      the \"iss\" claim, or the issuer to require "
            "with --verify\n"
            "                     (default when signing: directus; \"\" for "
            "none)\n"
            "  --secret SECRET    the secret (default: CDC_SECRET from the "
            "environment or\n"
            "                     the --config file; prefer those, as "
            "arguments are visible\n"
            "                     to other users)\n"
            "  --permissions FILE static tokens for --verify (default: "
            "CDC_PERMISSIONS)\n"
            "  --config FILE      NAME=value settings, as the daemons read "
            "them\n\n"
            "Exit status: 0 success, 1 token refused, 2 usage error.\n",
            PROGRAM, PROGRAM, PROGRAM, DEFAULT_TTL);
}

/* Matches --name VALUE and --name=VALUE; advances *i past the value. */
static bool option(int argc, char **argv, int *i, const char *name,
                   const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);

    if (strncmp(arg, name, n) != 0)
        return false;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return true;
    }
    if (arg[n] != '\0')
        return false;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", PROGRAM, name);
        exit(2);
    }
    *value = argv[++*i];
    return true;
}

static int verify(const auth_t *a, const char *token, const char *perm_path)
{
    permissions_t *perms = NULL;
    identity_t who;
    auth_result_t rc;
    char err[1024], why[256];

    if (perm_path && *perm_path) {
        perms = permissions_load(perm_path, err, sizeof(err));
        if (!perms) {
            fprintf(stderr, "%s: %s\n", PROGRAM, err);
            return 2;
        }
    }
    rc = auth_verify(a, perms, token, strlen(token), clock_wall_us(), &who, why,
                     sizeof(why));
    permissions_free(perms);
    if (rc != AUTH_OK) {
        printf("refused (%s): %s\n", rc == AUTH_EXPIRED ? "expired" : "invalid",
               why);
        return 1;
    }

    printf("accepted (%s): ", why);
    if (!who.authenticated) {
        printf("the public identity\n");
        return 0;
    }
    printf("user %s%s%s, role %s%s%s, admin %s", who.has_user ? "\"" : "",
           who.has_user ? who.user : "none", who.has_user ? "\"" : "",
           who.has_role ? "\"" : "", who.has_role ? who.role : "none",
           who.has_role ? "\"" : "", who.admin ? "true" : "false");
    if (who.expires_at_us) {
        time_t t = (time_t)(who.expires_at_us / 1000000);
        struct tm tm;
        char when[32];

        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf(", expires %s", when);
    }
    printf("\n");
    return 0;
}

static int sign(const auth_t *a, const char *secret, const char *user,
                const char *role, bool admin, long ttl, const char *issuer)
{
    int64_t now = clock_wall_us();
    json_t *claims = json_object();
    char *text = NULL, why[256];
    identity_t who;
    buf_t out;
    int rc = 2;

    buf_init(&out, AUTH_MAX_TOKEN);
    /* Directus's order: id, role, app_access, admin_access, iat, exp,
     * iss.  json_string refuses text that is not UTF-8. */
    if (!claims || json_object_set_new(claims, "id", json_string(user)) != 0 ||
        json_object_set_new(claims, "role",
                            role ? json_string(role) : json_null()) != 0 ||
        json_object_set_new(claims, "app_access", json_boolean(admin)) != 0 ||
        json_object_set_new(claims, "admin_access", json_boolean(admin)) != 0 ||
        json_object_set_new(claims, "iat", json_integer(now / 1000000)) != 0 ||
        (ttl > 0 &&
         json_object_set_new(claims, "exp",
                             json_integer(now / 1000000 + ttl)) != 0) ||
        (issuer && *issuer &&
         json_object_set_new(claims, "iss", json_string(issuer)) != 0)) {
        fprintf(stderr, "%s: --user, --role and --issuer must be UTF-8\n",
                PROGRAM);
        goto done;
    }
    text = json_dumps(claims, JSON_COMPACT);
    if (!text || !auth_sign_hs256(secret, text, &out) ||
        !buf_putc(&out, '\0')) {
        fprintf(stderr,
                "%s: could not make the token (longer than %d "
                "bytes?)\n",
                PROGRAM, AUTH_MAX_TOKEN);
        goto done;
    }

    /* Print only what the pusher would accept. */
    if (auth_verify(a, NULL, (const char *)out.data, out.len - 1, now, &who,
                    why, sizeof(why)) != AUTH_OK) {
        fprintf(stderr, "%s: the pusher would refuse this token: %s\n", PROGRAM,
                why);
        goto done;
    }
    printf("%s\n", (const char *)out.data);
    rc = 0;

done:
    free(text);
    json_decref(claims);
    buf_free(&out);
    return rc;
}

int main(int argc, char **argv)
{
    const char *secret = NULL, *user = NULL, *role = NULL;
    const char *issuer = NULL, *ttl_text = NULL, *token = NULL;
    const char *perm_path = NULL, *config = NULL;
    bool admin = false;
    long ttl = DEFAULT_TTL;
    char err[512];
    auth_t *a;
    int rc;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(arg, "--version") == 0) {
            printf("%s %s\n", PROGRAM, CDC_VERSION);
            return 0;
        } else if (strcmp(arg, "--admin") == 0) {
            admin = true;
        } else if (!option(argc, argv, &i, "--secret", &secret) &&
                   !option(argc, argv, &i, "--user", &user) &&
                   !option(argc, argv, &i, "--role", &role) &&
                   !option(argc, argv, &i, "--ttl", &ttl_text) &&
                   !option(argc, argv, &i, "--issuer", &issuer) &&
                   !option(argc, argv, &i, "--verify", &token) &&
                   !option(argc, argv, &i, "--permissions", &perm_path) &&
                   !option(argc, argv, &i, "--config", &config)) {
            fprintf(stderr, "%s: unknown argument \"%s\"\n", PROGRAM, arg);
            usage(stderr);
            return 2;
        }
    }

    if (config && !config_load_file(config, err, sizeof(err))) {
        fprintf(stderr, "%s: %s\n", PROGRAM, err);
        return 2;
    }
    if (!secret)
        secret = config_get("CDC_SECRET");
    if (!perm_path)
        perm_path = config_get("CDC_PERMISSIONS");
    if (ttl_text) {
        char *end;

        ttl = strtol(ttl_text, &end, 10);
        if (*ttl_text == '\0' || *end != '\0' || ttl < 0 || ttl > MAX_TTL) {
            fprintf(stderr,
                    "%s: --ttl takes seconds from 0 (never expires) to %d\n",
                    PROGRAM, MAX_TTL);
            return 2;
        }
    }
    if (!token && (!user || !*user)) {
        fprintf(stderr, "%s: --user is required to sign a token\n", PROGRAM);
        usage(stderr);
        return 2;
    }

    /* Verifying a static token needs no secret; signing does. */
    a = secret ? auth_new(secret, token ? issuer : NULL, err, sizeof(err))
               : NULL;
    if (!a && (secret || !token)) {
        fprintf(stderr, "%s: %s\n", PROGRAM,
                secret ? err : "no secret: give --secret or set CDC_SECRET");
        return 2;
    }

    if (token)
        rc = verify(a, token, perm_path);
    else
        rc = sign(a, secret, user, role, admin, ttl,
                  issuer ? issuer : "directus");
    auth_free(a);
    config_reset();
    return rc;
}
