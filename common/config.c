/* Settings: environment variables over NAME=value lines of a config file. */
#include "config.h"

#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_MAX_FILE  (1024 * 1024)
#define CONFIG_MAX_LINE  8192
#define CONFIG_MAX_NAMES 512

extern char **environ;

typedef struct config_entry {
    char *name;
    char *value;
} config_entry_t;

static config_entry_t file_entries[CONFIG_MAX_NAMES];
static int file_entry_count;
static const config_setting_t *known_settings;

void config_reset(void)
{
    for (int i = 0; i < file_entry_count; i++) {
        free(file_entries[i].name);
        free(file_entries[i].value);
    }
    file_entry_count = 0;
}

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static bool valid_name(const char *name)
{
    if (!*name)
        return false;
    for (const char *p = name; *p; p++) {
        if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p) &&
            *p != '_')
            return false;
    }
    return true;
}

static bool store_entry(const char *name, const char *value)
{
    for (int i = 0; i < file_entry_count; i++) {
        if (strcmp(file_entries[i].name, name) == 0) {
            free(file_entries[i].value);
            file_entries[i].value = strdup(value);
            return true;
        }
    }
    if (file_entry_count == CONFIG_MAX_NAMES)
        return false;
    file_entries[file_entry_count].name = strdup(name);
    file_entries[file_entry_count].value = strdup(value);
    file_entry_count++;
    return true;
}

bool config_load_file(const char *path, char *err, size_t errlen)
{
    char line[CONFIG_MAX_LINE + 2];
    long total = 0;
    int lineno = 0;
    FILE *f;

    f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "could not open config file \"%s\": %s", path,
                 strerror(errno));
        return false;
    }

    config_reset();
    while (fgets(line, sizeof(line), f)) {
        char *eq, *name, *value;
        size_t len = strlen(line);

        lineno++;
        total += (long)len;
        if (total > CONFIG_MAX_FILE) {
            snprintf(err, errlen, "config file \"%s\" is larger than %d bytes",
                     path, CONFIG_MAX_FILE);
            goto fail;
        }
        if (len > CONFIG_MAX_LINE && line[len - 1] != '\n') {
            snprintf(err, errlen,
                     "config file \"%s\" line %d is longer than %d bytes", path,
                     lineno, CONFIG_MAX_LINE);
            goto fail;
        }

        name = trim(line);
        if (*name == '\0' || *name == '#')
            continue;
        eq = strchr(name, '=');
        if (!eq) {
            snprintf(err, errlen,
                     "config file \"%s\" line %d has no \"=\": write "
                     "NAME=value",
                     path, lineno);
            goto fail;
        }
        *eq = '\0';
        name = trim(name);
        value = trim(eq + 1);
        len = strlen(value);
        if (len >= 2 && ((value[0] == '"' && value[len - 1] == '"') ||
                         (value[0] == '\'' && value[len - 1] == '\''))) {
            value[len - 1] = '\0';
            value++;
        }
        if (!valid_name(name)) {
            snprintf(err, errlen,
                     "config file \"%s\" line %d: \"%s\" is not a setting "
                     "name (upper case letters, digits and \"_\")",
                     path, lineno, name);
            goto fail;
        }
        if (!store_entry(name, value)) {
            snprintf(err, errlen, "config file \"%s\" has more than %d names",
                     path, CONFIG_MAX_NAMES);
            goto fail;
        }
    }
    fclose(f);
    return true;

fail:
    fclose(f);
    config_reset();
    return false;
}

const char *config_get(const char *name)
{
    const char *env = getenv(name);

    if (env)
        return env;
    for (int i = 0; i < file_entry_count; i++) {
        if (strcmp(file_entries[i].name, name) == 0)
            return file_entries[i].value;
    }
    return NULL;
}

const char *config_get_or(const char *name, const char *def)
{
    const char *value = config_get(name);

    if (value && *value)
        return value;
    if (known_settings) {
        for (const config_setting_t *s = known_settings; s->name; s++) {
            if (strcmp(s->name, name) == 0 && s->default_value)
                return s->default_value;
        }
    }
    return def;
}

bool config_get_long(const char *name, long def, long min, long max, long *out,
                     char *err, size_t errlen)
{
    const char *text = config_get_or(name, NULL);
    char *end;
    long value;

    if (!text) {
        *out = def;
        return true;
    }
    errno = 0;
    value = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0' || value < min || value > max) {
        snprintf(err, errlen,
                 "%s=\"%s\" is not valid: give a whole number from %ld to %ld",
                 name, text, min, max);
        return false;
    }
    *out = value;
    return true;
}

bool config_get_bool(const char *name, bool def, bool *out, char *err,
                     size_t errlen)
{
    static const char *const yes[] = {"1", "true", "on", "yes"};
    static const char *const no[] = {"0", "false", "off", "no"};
    const char *text = config_get_or(name, NULL);

    if (!text) {
        *out = def;
        return true;
    }
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    snprintf(err, errlen, "%s=\"%s\" is not valid: give true or false", name,
             text);
    return false;
}

void config_each_prefixed(const char *prefix,
                          void (*fn)(const char *name, const char *value,
                                     void *arg),
                          void *arg)
{
    size_t plen = strlen(prefix);

    for (char **env = environ; *env; env++) {
        const char *eq = strchr(*env, '=');
        char name[256];

        if (!eq || strncmp(*env, prefix, plen) != 0)
            continue;
        if ((size_t)(eq - *env) >= sizeof(name))
            continue;
        memcpy(name, *env, (size_t)(eq - *env));
        name[eq - *env] = '\0';
        fn(name, eq + 1, arg);
    }
    for (int i = 0; i < file_entry_count; i++) {
        if (strncmp(file_entries[i].name, prefix, plen) != 0)
            continue;
        if (getenv(file_entries[i].name))
            continue;
        fn(file_entries[i].name, file_entries[i].value, arg);
    }
}

/* Edit distance, capped: names are short. */
static int distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int row[128], prev, tmp;

    if (la >= 127 || lb >= 127)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        prev = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int best = prev + (a[i - 1] != b[j - 1]);

            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            tmp = row[j];
            row[j] = best;
            prev = tmp;
        }
    }
    return row[lb];
}

struct unknown_check {
    const config_setting_t *settings;
    const char *const *open_prefixes;
};

/* A name this program does not use may belong to the other daemon (one
 * file can configure both), so only near misses of our own names are
 * reported: those are typos. */
static void warn_if_unknown(const char *name, const char *value, void *arg)
{
    struct unknown_check *check = arg;
    const char *closest = NULL;
    int best = 3;

    (void)value;
    for (const char *const *p = check->open_prefixes; p && *p; p++) {
        if (strncmp(name, *p, strlen(*p)) == 0)
            return;
    }
    for (const config_setting_t *s = check->settings; s->name; s++) {
        int d;

        if (strcmp(s->name, name) == 0)
            return;
        d = distance(s->name, name);
        if (d < best) {
            best = d;
            closest = s->name;
        }
    }
    if (closest)
        log_warning(NULL,
                    "setting \"%s\" is not used by this program; did you "
                    "mean \"%s\"?",
                    name, closest);
}

void config_warn_unknown(const config_setting_t *settings,
                         const char *const *open_prefixes)
{
    struct unknown_check check = {settings, open_prefixes};

    config_each_prefixed("CDC_", warn_if_unknown, &check);
}

static void print_help(const char *program, const char *summary,
                       const config_setting_t *settings)
{
    printf("Usage: %s [--config FILE] [--help] [--version]\n\n%s\n\n", program,
           summary);
    printf("Settings come from the environment or from FILE as NAME=value "
           "lines;\nthe environment wins.\n\n");
    for (const config_setting_t *s = settings; s->name; s++) {
        printf("  %-28s %s", s->name, s->help);
        if (s->default_value && *s->default_value)
            printf(" (default: %s)", s->default_value);
        printf("\n");
    }
}

int config_parse_args(int argc, char **argv, const char *program,
                      const char *summary, const config_setting_t *settings)
{
    char err[512];

    known_settings = settings;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help(program, summary, settings);
            return 1;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("%s %s\n", program, CDC_VERSION);
            return 1;
        }
        if (strcmp(arg, "--config") == 0 || strncmp(arg, "--config=", 9) == 0) {
            const char *path = arg[8] == '=' ? arg + 9 : NULL;

            if (!path) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "%s: --config needs a file name\n",
                            program);
                    return -1;
                }
                path = argv[++i];
            }
            if (!config_load_file(path, err, sizeof(err))) {
                fprintf(stderr, "%s: %s\n", program, err);
                return -1;
            }
            continue;
        }
        fprintf(stderr, "%s: unknown argument \"%s\"; try --help\n", program,
                arg);
        return -1;
    }
    return 0;
}

bool config_apply_logging(char *err, size_t errlen)
{
    log_level_t level;

    if (!log_parse_level(config_get_or("CDC_LOG_LEVEL", "info"), &level)) {
        snprintf(err, errlen,
                 "CDC_LOG_LEVEL=\"%s\" is not valid: give "
                 "debug, info, warning or error",
                 config_get("CDC_LOG_LEVEL"));
        return false;
    }
    log_set_level(level);
    log_set_debug_facilities(config_get_or("CDC_LOG_DEBUG", ""));
    return true;
}
