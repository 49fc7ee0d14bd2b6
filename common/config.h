/* Settings from CDC_* environment variables or a --config file of NAME=value
 * lines (the environment wins), plus the command line both daemons share. */
#ifndef CDC_CONFIG_H
#define CDC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* One setting a program understands, for --help and for catching typos. */
typedef struct config_setting {
    const char *name;          /* "CDC_SLOT" */
    const char *default_value; /* shown by --help; NULL when none */
    const char *help;          /* one line */
} config_setting_t;

/* Loads a file of NAME=value lines ('#' starts a comment).  Returns false
 * and fills err (line number and reason) when the file cannot be read or a
 * line is malformed; nothing is loaded then. */
bool config_load_file(const char *path, char *err, size_t errlen);

/* Handles --help, --version and --config FILE for a daemon.  Returns 0 to
 * go on, 1 when the program should exit successfully (help or version was
 * printed), -1 on a usage error (already printed to stderr). */
int config_parse_args(int argc, char **argv, const char *program,
                      const char *summary, const config_setting_t *settings);

/* The value of a setting: environment first, then the file, else NULL. */
const char *config_get(const char *name);

/* Like config_get, with the default of the settings table or def. */
const char *config_get_or(const char *name, const char *def);

/* Reads an integer setting; false with a message naming the setting when
 * the value is not an integer within [min, max]. */
bool config_get_long(const char *name, long def, long min, long max, long *out,
                     char *err, size_t errlen);

/* Reads a boolean setting (true/false, on/off, yes/no, 1/0). */
bool config_get_bool(const char *name, bool def, bool *out, char *err,
                     size_t errlen);

/* Calls fn for every setting (environment and file, environment winning)
 * whose name starts with prefix, e.g. "CDC_KAFKA_". */
void config_each_prefixed(const char *prefix,
                          void (*fn)(const char *name, const char *value,
                                     void *arg),
                          void *arg);

/* Logs a warning, with a suggestion, for each CDC_* name that is set, is
 * not in settings nor under one of the open prefixes (NULL-terminated),
 * and is within two edits of a name in settings: a likely typo.  Other
 * names may belong to another program and are left alone. */
void config_warn_unknown(const config_setting_t *settings,
                         const char *const *open_prefixes);

/* Frees what config_load_file loaded. */
void config_reset(void);

/* Applies CDC_LOG_LEVEL and CDC_LOG_DEBUG to the log; false with a message
 * when the level is not one the log knows. */
bool config_apply_logging(char *err, size_t errlen);

#endif
