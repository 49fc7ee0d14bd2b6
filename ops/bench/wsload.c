/* wsload: a load generator for the pusher's GraphQL endpoint.  Opens many
 * graphql-transport-ws connections from one process (epoll, no JSON
 * library), subscribes each, then counts the events that arrive and, from
 * a timestamp column in each event, the time from commit to arrival.
 *
 * Usage: wsload --url ws://HOST:PORT/graphql --connections N
 *               --query 'subscription { ... }' [--vary-filter]
 *               [--duration SECONDS] [--latency-field NAME] [--token T]
 *
 * --vary-filter replaces "%d" in the query with the connection number,
 * so every connection holds a distinct filter.  Prints one line of JSON
 * at the end: connections, events, events per second, latency percentiles
 * in milliseconds. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_LATENCY_SAMPLES (1 << 22)

typedef enum state {
    ST_CONNECTING,
    ST_UPGRADING,
    ST_INIT,
    ST_LIVE,
    ST_COUNTING,
    ST_DEAD,
} state_t;

typedef struct client {
    int fd;
    int index;
    unsigned seen; /* events on this connection, for sampling */
    state_t state;
    uint8_t *in;
    size_t in_len, in_cap;
    char *query;
} client_t;

static const char *host = "127.0.0.1";
static int port = 8055;
static char path[256] = "/graphql";
static const char *latency_field = "updated_at";
static const char *token;
static uint64_t events, init_events, errors_seen;
static double *latencies;
static size_t nlatencies;
static int live;
static double first_event_ms, last_event_ms;

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static bool send_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Client frames must be masked; a zero mask keeps the payload as is. */
static bool send_text(client_t *c, const char *text)
{
    size_t len = strlen(text);
    uint8_t header[14];
    size_t h = 0;

    header[h++] = 0x81;
    if (len < 126) {
        header[h++] = (uint8_t)(0x80 | len);
    } else {
        header[h++] = 0x80 | 126;
        header[h++] = (uint8_t)(len >> 8);
        header[h++] = (uint8_t)len;
    }
    memset(header + h, 0, 4);
    h += 4;
    return send_all(c->fd, header, h) && send_all(c->fd, text, len);
}

/* Parses "2026-12-03T14:00:00.123456Z" into milliseconds since 1970. */
static bool parse_iso_ms(const char *s, double *ms)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, n = 0;
    double frac = 0, scale = 0.1;
    const char *p;

    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
               &n) != 6)
        return false;
    p = s + n;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            frac += (*p - '0') * scale;
            scale /= 10;
        }
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *ms = (double)timegm(&tm) * 1e3 + frac * 1e3;
    return true;
}

static void on_message(client_t *c, const char *msg, size_t len)
{
    char needle[128];
    const char *at;
    double sent;

    if (c->state == ST_INIT) {
        if (memmem(msg, len, "connection_ack", 14)) {
            c->state = ST_LIVE;
            send_text(c, c->query);
        }
        return;
    }
    /* Until its init event a connection's messages are looked at in full;
     * after it every frame is an event, and one in eight is parsed for its
     * timestamp, so the client stays cheaper than the server it loads. */
    if (c->state != ST_COUNTING) {
        if (memmem(msg, len, "\"type\":\"error\"", 14)) {
            if (errors_seen++ < 3)
                fprintf(stderr, "wsload: error: %.*s\n", (int)len, msg);
            return;
        }
        if (memmem(msg, len, "\"event\":\"init\"", 14)) {
            init_events++;
            live++;
            c->state = ST_COUNTING;
        }
        return;
    }
    /* Our next messages start with the id; pings and the rest do not. */
    if (len < 6 || memcmp(msg, "{\"id\":", 6) != 0)
        return;
    events++;
    last_event_ms = now_ms();
    if (!first_event_ms)
        first_event_ms = last_event_ms;
    if (c->seen++ % 8 != 0)
        return;
    snprintf(needle, sizeof(needle), "\"%s\":\"", latency_field);
    at = memmem(msg, len, needle, strlen(needle));
    if (at && nlatencies < MAX_LATENCY_SAMPLES &&
        parse_iso_ms(at + strlen(needle), &sent))
        latencies[nlatencies++] = now_ms() - sent;
}

/* Consumes whole frames from the input buffer. */
static void on_frames(client_t *c)
{
    size_t at = 0;

    while (c->in_len - at >= 2) {
        uint8_t *p = c->in + at;
        uint64_t len = p[1] & 0x7F;
        size_t h = 2;

        if (len == 126) {
            if (c->in_len - at < 4)
                break;
            len = (uint64_t)p[2] << 8 | p[3];
            h = 4;
        } else if (len == 127) {
            if (c->in_len - at < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | p[2 + i];
            h = 10;
        }
        if (c->in_len - at < h + len)
            break;
        if ((p[0] & 0x0F) == 0x8) {
            c->state = ST_DEAD;
            fprintf(stderr, "wsload: connection %d closed by server: %d\n",
                    c->index, len >= 2 ? p[h] << 8 | p[h + 1] : 0);
        } else if ((p[0] & 0x0F) == 0x1) {
            on_message(c, (const char *)p + h, (size_t)len);
        }
        at += h + (size_t)len;
    }
    memmove(c->in, c->in + at, c->in_len - at);
    c->in_len -= at;
}

static void on_readable(client_t *c)
{
    for (;;) {
        ssize_t n;

        if (c->in_cap - c->in_len < 65536) {
            c->in_cap = c->in_cap ? c->in_cap * 2 : 131072;
            c->in = realloc(c->in, c->in_cap);
            if (!c->in)
                die("realloc");
        }
        n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n == 0) {
            c->state = ST_DEAD;
            return;
        }
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                c->state = ST_DEAD;
            return;
        }
        c->in_len += (size_t)n;
        if (c->state == ST_UPGRADING) {
            uint8_t *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);

            if (!end)
                continue;
            if (c->in_len < 12 || memcmp(c->in + 9, "101", 3) != 0) {
                fprintf(stderr, "wsload: upgrade refused: %.*s\n", 40,
                        (char *)c->in);
                c->state = ST_DEAD;
                return;
            }
            end += 4;
            c->in_len -= (size_t)(end - c->in);
            memmove(c->in, end, c->in_len);
            c->state = ST_INIT;
            if (token) {
                char init[4500];

                snprintf(init, sizeof(init),
                         "{\"type\":\"connection_init\",\"payload\":"
                         "{\"access_token\":\"%s\"}}",
                         token);
                send_text(c, init);
            } else {
                send_text(c, "{\"type\":\"connection_init\"}");
            }
        }
        on_frames(c);
        if (c->in_cap > (1u << 20) && c->in_len < 65536) {
            c->in_cap = 131072;
            c->in = realloc(c->in, c->in_cap);
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void parse_url(const char *url)
{
    char h[256];

    if (sscanf(url, "ws://%255[^:]:%d%255s", h, &port, path) < 2) {
        fprintf(stderr, "wsload: --url must be ws://HOST:PORT/PATH\n");
        exit(2);
    }
    host = strdup(h);
}

int main(int argc, char **argv)
{
    int nconns = 1, duration = 10, ep, connected = 0;
    const char *query = "subscription { articles_mutated(after: \"\") { key "
                        "event data { id updated_at } } }";
    bool vary = false;
    struct sockaddr_in addr;
    struct epoll_event evs[1024];
    client_t *clients;
    double start, stop, live_at = 0;
    uint64_t events_at_live = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
            parse_url(argv[++i]);
        else if (strcmp(argv[i], "--connections") == 0 && i + 1 < argc)
            nconns = atoi(argv[++i]);
        else if (strcmp(argv[i], "--query") == 0 && i + 1 < argc)
            query = argv[++i];
        else if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc)
            duration = atoi(argv[++i]);
        else if (strcmp(argv[i], "--latency-field") == 0 && i + 1 < argc)
            latency_field = argv[++i];
        else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc)
            token = argv[++i];
        else if (strcmp(argv[i], "--vary-filter") == 0)
            vary = true;
        else {
            fprintf(stderr, "usage: wsload --url ws://HOST:PORT/graphql "
                            "--connections N --query Q [--vary-filter] "
                            "[--duration S] [--latency-field F] "
                            "[--token T]\n");
            return 2;
        }
    }
    latencies = malloc(MAX_LATENCY_SAMPLES * sizeof(double));
    clients = calloc((size_t)nconns, sizeof(*clients));
    ep = epoll_create1(0);
    if (!latencies || !clients || ep < 0)
        die("setup");
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &addr.sin_addr);

    for (int i = 0; i < nconns; i++) {
        client_t *c = &clients[i];
        char request[1024], *q, sub[8192];
        struct epoll_event ev = {.events = EPOLLIN};
        int one = 1;

        c->index = i;
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c->fd < 0)
            die("socket");
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
            die("connect");
        fcntl(c->fd, F_SETFL, O_NONBLOCK);
        snprintf(request, sizeof(request),
                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n",
                 path, host, port);
        if (vary) {
            const char *mark = strstr(query, "%d");

            if (!mark) {
                fprintf(stderr, "wsload: --vary-filter needs %%d in the "
                                "query\n");
                return 2;
            }
            snprintf(sub, sizeof(sub), "%.*s%d%s", (int)(mark - query), query,
                     i, mark + 2);
            q = sub;
        } else {
            q = (char *)query;
        }
        {
            /* The query goes inside a JSON string. */
            char esc[8192];
            size_t n = 0;

            for (const char *s = q; *s && n < sizeof(esc) - 2; s++) {
                if (*s == '"' || *s == '\\')
                    esc[n++] = '\\';
                esc[n++] = *s == '\n' ? ' ' : *s;
            }
            esc[n] = '\0';
            c->query = malloc(n + 128);
            snprintf(c->query, n + 128,
                     "{\"id\":\"1\",\"type\":\"subscribe\",\"payload\":"
                     "{\"query\":\"%s\"}}",
                     esc);
        }
        c->state = ST_UPGRADING;
        send_all(c->fd, request, strlen(request));
        ev.data.ptr = c;
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        connected++;
        /* Keep the pusher's accept queue from overflowing. */
        if (i % 200 == 199) {
            int n = epoll_wait(ep, evs, 1024, 5);

            for (int k = 0; k < n; k++)
                on_readable(evs[k].data.ptr);
        }
    }

    start = now_ms();
    stop = start + duration * 1e3;
    while (now_ms() < stop) {
        int n = epoll_wait(ep, evs, 1024, 100);

        for (int k = 0; k < n; k++)
            on_readable(evs[k].data.ptr);
        if (!live_at && live >= nconns) {
            live_at = now_ms();
            events_at_live = events;
            fprintf(stderr, "wsload: %d subscriptions live after %.0f ms\n",
                    live, live_at - start);
        }
    }
    {
        double elapsed = (now_ms() - (live_at ? live_at : start)) / 1e3;
        uint64_t counted = events - events_at_live;
        int dead = 0;

        for (int i = 0; i < nconns; i++)
            dead += clients[i].state == ST_DEAD;
        qsort(latencies, nlatencies, sizeof(double), cmp_double);
        printf("{\"connections\":%d,\"live\":%d,\"closed\":%d,"
               "\"events\":%llu,\"events_per_s\":%.0f,"
               "\"latency_ms\":{\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f},"
               "\"samples\":%zu,\"first_event_ms\":%.1f,"
               "\"last_event_ms\":%.1f,\"live_ms\":%.1f}\n",
               connected, live, dead, (unsigned long long)events,
               elapsed > 0 ? (double)counted / elapsed : 0,
               nlatencies ? latencies[nlatencies / 2] : 0,
               nlatencies ? latencies[nlatencies * 99 / 100] : 0,
               nlatencies ? latencies[nlatencies - 1] : 0, nlatencies,
               first_event_ms ? first_event_ms - start : 0,
               last_event_ms ? last_event_ms - start : 0,
               live_at ? live_at - start : 0);
    }
    return 0;
}
