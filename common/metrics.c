/* Prometheus text format writers. */
#include "metrics.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

void metrics_family(buf_t *out, const char *name, const char *type,
                    const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void label_value(buf_t *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            buf_putc(out, '\\');
        if (*v == '\n') {
            buf_puts(out, "\\n");
            continue;
        }
        buf_putc(out, (uint8_t)*v);
    }
}

void metrics_sample(buf_t *out, const char *name, const char *const *labels,
                    double value)
{
    buf_puts(out, name);
    if (labels && labels[0]) {
        buf_putc(out, '{');
        for (int i = 0; labels[i] && labels[i + 1]; i += 2) {
            buf_printf(out, "%s%s=\"", i ? "," : "", labels[i]);
            label_value(out, labels[i + 1]);
            buf_putc(out, '"');
        }
        buf_putc(out, '}');
    }
    if (value == (double)(int64_t)value && value < 9e15 && value > -9e15)
        buf_printf(out, " %lld\n", (long long)value);
    else
        buf_printf(out, " %.9g\n", value);
}

void metrics_single(buf_t *out, const char *name, const char *type,
                    const char *help, double value)
{
    metrics_family(out, name, type, help);
    metrics_sample(out, name, NULL, value);
}

void metrics_process(buf_t *out)
{
    struct rusage ru;
    long rss_pages = 0, ignored;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f) {
        if (fscanf(f, "%ld %ld", &ignored, &rss_pages) != 2)
            rss_pages = 0;
        fclose(f);
    }
    getrusage(RUSAGE_SELF, &ru);
    metrics_single(out, "process_resident_memory_bytes", "gauge",
                   "Resident memory size in bytes.",
                   (double)rss_pages * (double)sysconf(_SC_PAGESIZE));
    metrics_single(out, "process_cpu_seconds_total", "counter",
                   "Total user and system CPU time spent in seconds.",
                   (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
}
