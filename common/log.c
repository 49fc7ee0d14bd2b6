/* Line-oriented logger writing to stderr; safe to call from any thread. */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_component = "cdc";
static log_level_t log_min_level = LOG_INFO;
static char log_facilities[256];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {
    [LOG_DEBUG] = "DEBUG", [LOG_INFO] = "INFO",   [LOG_WARNING] = "WARNING",
    [LOG_ERROR] = "ERROR", [LOG_FATAL] = "FATAL",
};

void log_init(const char *component)
{
    log_component = component;
}

bool log_parse_level(const char *text, log_level_t *out)
{
    static const struct {
        const char *name;
        log_level_t level;
    } names[] = {
        {"debug", LOG_DEBUG},  {"info", LOG_INFO},   {"warning", LOG_WARNING},
        {"warn", LOG_WARNING}, {"error", LOG_ERROR},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(text, names[i].name) == 0) {
            *out = names[i].level;
            return true;
        }
    }
    return false;
}

void log_set_level(log_level_t level)
{
    log_min_level = level;
}

bool log_enabled(log_level_t level)
{
    return level >= log_min_level;
}

void log_set_debug_facilities(const char *list)
{
    snprintf(log_facilities, sizeof(log_facilities), ",%s,", list ? list : "");
}

bool log_debug_facility(const char *name)
{
    char needle[64];

    if (strstr(log_facilities, ",all,"))
        return true;
    snprintf(needle, sizeof(needle), ",%s,", name);
    return strstr(log_facilities, needle) != NULL;
}

void log_writev(log_level_t level, const char *object, const char *fmt,
                va_list ap)
{
    char line[2048];
    struct timeval now;
    struct tm tm;
    size_t len;
    int n;

    if (!log_enabled(level))
        return;

    gettimeofday(&now, NULL);
    gmtime_r(&now.tv_sec, &tm);
    len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(line + len, sizeof(line) - len,
                 ".%03dZ %s[%d] %s: ", (int)(now.tv_usec / 1000), log_component,
                 (int)getpid(), level_names[level]);
    len += (size_t)n;
    if (object && *object) {
        n = snprintf(line + len, sizeof(line) - len, "[%s] ", object);
        len += (size_t)n < sizeof(line) - len ? (size_t)n : 0;
    }
    if (len < sizeof(line) - 2) {
        n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
        if (n > 0)
            len += (size_t)n < sizeof(line) - len - 1 ? (size_t)n
                                                      : sizeof(line) - len - 2;
    }

    /* One message is one line, whatever the caller passed. */
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    }
    line[len++] = '\n';

    pthread_mutex_lock(&log_lock);
    fwrite(line, 1, len, stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

void log_write(log_level_t level, const char *object, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_writev(level, object, fmt, ap);
    va_end(ap);
}
