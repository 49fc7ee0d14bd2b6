/* Cursor encoding and decoding, with an HMAC so only pushers sharing the
 * secret can mint cursors. */
#include "cursor.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_SIZE 16

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void cursor_topic_hash(const char *topic, uint8_t out[8])
{
    uint8_t digest[SHA256_DIGEST_LENGTH];

    SHA256((const uint8_t *)topic, strlen(topic), digest);
    memcpy(out, digest, 8);
}

void cursor_derive_key(const char *secret, uint8_t key[CURSOR_KEY_SIZE])
{
    static const char label[] = "cdc cursor signing key v1";
    unsigned int len = CURSOR_KEY_SIZE;

    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const uint8_t *)label,
         sizeof(label) - 1, key, &len);
}

static void put_varint(uint8_t *p, size_t *n, uint64_t v)
{
    while (v >= 0x80) {
        p[(*n)++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[(*n)++] = (uint8_t)v;
}

static bool get_varint(const uint8_t *p, size_t len, size_t *at, uint64_t *v)
{
    uint64_t out = 0;

    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b;

        if (*at >= len)
            return false;
        b = p[(*at)++];
        /* One spelling per value: no trailing zero byte, no bit past 64. */
        if ((shift > 0 && b == 0) || (shift == 63 && b > 1))
            return false;
        out |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = out;
            return true;
        }
    }
    return false;
}

/* One HMAC context per thread, keyed once: every event carries a cursor,
 * and setting up a new context each time costs more than the MAC itself. */
static void mac(const uint8_t key[CURSOR_KEY_SIZE], const uint8_t *data,
                size_t len, uint8_t out[MAC_SIZE])
{
    static __thread EVP_MAC_CTX *ctx;
    static __thread uint8_t ctx_key[CURSOR_KEY_SIZE];
    uint8_t full[32];
    size_t flen = sizeof(full);

    if (!ctx || memcmp(ctx_key, key, CURSOR_KEY_SIZE) != 0) {
        EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
            OSSL_PARAM_construct_end(),
        };

        EVP_MAC_CTX_free(ctx);
        ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
        EVP_MAC_free(hmac);
        if (!ctx || !EVP_MAC_init(ctx, key, CURSOR_KEY_SIZE, params)) {
            EVP_MAC_CTX_free(ctx);
            ctx = NULL;
            memset(out, 0, MAC_SIZE);
            return;
        }
        memcpy(ctx_key, key, CURSOR_KEY_SIZE);
    } else if (!EVP_MAC_init(ctx, NULL, 0, NULL)) {
        memset(out, 0, MAC_SIZE);
        return;
    }
    EVP_MAC_update(ctx, data, len);
    EVP_MAC_final(ctx, full, &flen, sizeof(full));
    memcpy(out, full, MAC_SIZE);
}

/* Appends src as unpadded base64url; out has room (4 per 3, rounded up). */
static void b64url_append(buf_t *out, const uint8_t *src, size_t n)
{
    uint8_t *dst = out->data + out->len;
    size_t i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v =
            (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];

        *dst++ = (uint8_t)b64url[v >> 18];
        *dst++ = (uint8_t)b64url[(v >> 12) & 63];
        *dst++ = (uint8_t)b64url[(v >> 6) & 63];
        *dst++ = (uint8_t)b64url[v & 63];
    }
    if (n - i == 1) {
        *dst++ = (uint8_t)b64url[src[i] >> 2];
        *dst++ = (uint8_t)b64url[(src[i] & 3) << 4];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)src[i] << 8 | src[i + 1];

        *dst++ = (uint8_t)b64url[v >> 10];
        *dst++ = (uint8_t)b64url[(v >> 4) & 63];
        *dst++ = (uint8_t)b64url[(v << 2) & 63];
    }
    out->len = (size_t)(dst - out->data);
}

bool cursor_seal(const uint8_t *body, size_t len,
                 const uint8_t key[CURSOR_KEY_SIZE], buf_t *out)
{
    /* The body's last partial group and the tag are encoded together, as
     * one text, so the result is that of body and tag back to back. */
    size_t whole = len / 3 * 3;
    uint8_t tail[2 + MAC_SIZE];

    if (!buf_reserve(out, (len + MAC_SIZE) * 4 / 3 + 4))
        return false;
    memcpy(tail, body + whole, len - whole);
    mac(key, body, len, tail + (len - whole));
    b64url_append(out, body, whole);
    b64url_append(out, tail, len - whole + MAC_SIZE);
    return true;
}

bool cursor_encode_from(const uint8_t topic_hash[8], int nparts,
                        cursor_part_fn get, const void *arg,
                        const uint8_t key[CURSOR_KEY_SIZE], buf_t *out)
{
    /* Every event carries a cursor: most topics fit on the stack. */
    uint8_t small[1 + 8 + 10 + 64 * 61], *raw = small;
    size_t n = 0, need = 1 + 8 + 10 + (size_t)nparts * 61;
    bool ok;

    if (nparts < 0 || nparts > CURSOR_MAX_PARTITIONS)
        return false;
    if (need > sizeof(small) && !(raw = malloc(need)))
        return false;
    raw[n++] = CURSOR_VERSION;
    memcpy(raw + n, topic_hash, 8);
    n += 8;
    put_varint(raw, &n, (uint64_t)nparts);
    for (int i = 0; i < nparts; i++) {
        cursor_part_t part;

        get(arg, i, &part);
        put_varint(raw, &n, (uint64_t)part.next_offset);
        put_varint(raw, &n, part.last_pos.commit_lsn);
        put_varint(raw, &n, part.last_pos.seq);
        if (wire_position_cmp(&part.max_pos, &part.last_pos) == 0) {
            raw[n++] = 0;
        } else {
            raw[n++] = 1;
            put_varint(raw, &n, part.max_pos.commit_lsn);
            put_varint(raw, &n, part.max_pos.seq);
        }
    }
    ok = cursor_seal(raw, n, key, out);
    if (raw != small)
        free(raw);
    return ok;
}

static void array_part(const void *arg, int i, cursor_part_t *out)
{
    *out = ((const cursor_part_t *)arg)[i];
}

bool cursor_encode(const uint8_t topic_hash[8], const cursor_part_t *parts,
                   int nparts, const uint8_t key[CURSOR_KEY_SIZE], buf_t *out)
{
    return cursor_encode_from(topic_hash, nparts, array_part, parts, key, out);
}

static int b64val(char c)
{
    const char *p = memchr(b64url, c, 64);

    return c && p ? (int)(p - b64url) : -1;
}

cursor_status_t cursor_decode(const char *text, size_t len,
                              const uint8_t topic_hash[8],
                              const uint8_t key[CURSOR_KEY_SIZE],
                              cursor_t **out, char *err, size_t errlen)
{
    uint8_t *raw = NULL, expected[MAC_SIZE];
    size_t n = 0, at = 0;
    uint32_t bits = 0;
    int nbits = 0;
    uint64_t nparts;
    cursor_t *c = NULL;
    cursor_status_t st = CURSOR_MALFORMED;

    *out = NULL;
    if (len == 0 || len > CURSOR_MAX_TEXT) {
        snprintf(err, errlen, "cursor is empty or longer than %d characters",
                 CURSOR_MAX_TEXT);
        return CURSOR_MALFORMED;
    }
    raw = malloc(len);
    if (!raw) {
        snprintf(err, errlen, "out of memory");
        return CURSOR_MALFORMED;
    }
    for (size_t i = 0; i < len; i++) {
        int v = b64val(text[i]);

        if (v < 0) {
            snprintf(err, errlen, "cursor has a character outside base64url");
            goto out;
        }
        bits = bits << 6 | (uint32_t)v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            raw[n++] = (uint8_t)(bits >> nbits);
        }
    }
    /* Bits left over in the last character must be zero, and never a
     * whole character's worth (no byte count encodes to such a length),
     * so that one cursor has exactly one spelling. */
    if (nbits >= 6 || (nbits > 0 && (bits & ((1u << nbits) - 1)) != 0)) {
        snprintf(err, errlen, "cursor is not canonical base64url");
        goto out;
    }
    if (n < 1 + 8 + 1 + MAC_SIZE || raw[0] != CURSOR_VERSION) {
        snprintf(err, errlen, "cursor is not a version %d cursor",
                 CURSOR_VERSION);
        goto out;
    }

    mac(key, raw, n - MAC_SIZE, expected);
    if (CRYPTO_memcmp(expected, raw + n - MAC_SIZE, MAC_SIZE) != 0) {
        snprintf(err, errlen, "cursor signature does not match");
        st = CURSOR_FORGED;
        goto out;
    }
    if (memcmp(raw + 1, topic_hash, 8) != 0) {
        snprintf(err, errlen, "cursor belongs to another collection");
        st = CURSOR_FOREIGN;
        goto out;
    }

    n -= MAC_SIZE;
    at = 9;
    if (!get_varint(raw, n, &at, &nparts) || nparts > CURSOR_MAX_PARTITIONS) {
        snprintf(err, errlen, "cursor partition count is invalid");
        goto out;
    }
    c = calloc(1, sizeof(*c) + (size_t)nparts * sizeof(cursor_part_t));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    memcpy(c->topic_hash, topic_hash, 8);
    c->nparts = (int)nparts;
    for (uint64_t i = 0; i < nparts; i++) {
        uint64_t off, lsn, seq, differs;

        if (!get_varint(raw, n, &at, &off) || !get_varint(raw, n, &at, &lsn) ||
            !get_varint(raw, n, &at, &seq) ||
            !get_varint(raw, n, &at, &differs) || off > INT64_MAX ||
            differs > 1) {
            snprintf(err, errlen, "cursor is truncated");
            goto out;
        }
        c->parts[i].next_offset = (int64_t)off;
        c->parts[i].last_pos.commit_lsn = lsn;
        c->parts[i].last_pos.seq = seq;
        c->parts[i].max_pos = c->parts[i].last_pos;
        if (differs && (!get_varint(raw, n, &at, &lsn) ||
                        !get_varint(raw, n, &at, &seq))) {
            snprintf(err, errlen, "cursor is truncated");
            goto out;
        }
        if (differs) {
            c->parts[i].max_pos.commit_lsn = lsn;
            c->parts[i].max_pos.seq = seq;
            /* Equal positions are written once (one spelling). */
            if (wire_position_cmp(&c->parts[i].max_pos,
                                  &c->parts[i].last_pos) == 0) {
                snprintf(err, errlen, "cursor repeats a position");
                goto out;
            }
        }
    }
    if (at != n) {
        snprintf(err, errlen, "cursor has trailing bytes");
        goto out;
    }
    *out = c;
    c = NULL;
    st = CURSOR_OK;

out:
    free(c);
    free(raw);
    return st;
}
