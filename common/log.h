/* Logging for people on call: one line per thing worth knowing, with the
 * object it concerns (slot, topic, connection id) as a tag the logger adds. */
#ifndef CDC_LOG_H
#define CDC_LOG_H

#include <stdarg.h>
#include <stdbool.h>

typedef enum log_level {
    LOG_DEBUG,
    LOG_INFO,
    LOG_WARNING,
    LOG_ERROR,
    LOG_FATAL,
} log_level_t;

/* Sets the component name printed on every line ("cdc-reader", "pusher"). */
void log_init(const char *component);

/* Parses "debug", "info", "warning", "error"; returns false if unknown. */
bool log_parse_level(const char *text, log_level_t *out);
void log_set_level(log_level_t level);
bool log_enabled(log_level_t level);

/* Debug facilities switched on one by one ("kafka,lws,pgoutput", or "all"):
 * library logs and chatty modules stay quiet unless their name is listed. */
void log_set_debug_facilities(const char *list);
bool log_debug_facility(const char *name);

/* Writes one line: time, component, level, "[object]" when object is not
 * NULL, then the message.  Messages follow PostgreSQL's style: lower case,
 * no final period, names in quotes. */
void log_write(log_level_t level, const char *object, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_writev(log_level_t level, const char *object, const char *fmt,
                va_list ap) __attribute__((format(printf, 3, 0)));

#define log_debug(obj, ...)   log_write(LOG_DEBUG, obj, __VA_ARGS__)
#define log_info(obj, ...)    log_write(LOG_INFO, obj, __VA_ARGS__)
#define log_warning(obj, ...) log_write(LOG_WARNING, obj, __VA_ARGS__)
#define log_error(obj, ...)   log_write(LOG_ERROR, obj, __VA_ARGS__)
#define log_fatal(obj, ...)   log_write(LOG_FATAL, obj, __VA_ARGS__)

#endif
