/* Prometheus text exposition: helpers that write metric families and
 * samples, so each daemon renders /metrics from the counters it keeps. */
#ifndef CDC_METRICS_H
#define CDC_METRICS_H

#include "buf.h"

#include <stdint.h>

/* Writes the "# HELP" and "# TYPE" lines of a family. */
void metrics_family(buf_t *out, const char *name, const char *type,
                    const char *help);

/* Writes one sample.  labels is NULL or alternating names and values,
 * NULL-terminated; values are escaped. */
void metrics_sample(buf_t *out, const char *name, const char *const *labels,
                    double value);

/* Shorthand for a family with one unlabelled sample. */
void metrics_single(buf_t *out, const char *name, const char *type,
                    const char *help, double value);

/* Resident memory and CPU seconds of this process, for process_* metrics. */
void metrics_process(buf_t *out);

#endif
