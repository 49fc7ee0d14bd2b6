/* Calendar arithmetic shared by the reader (PostgreSQL text to instants)
 * and the pusher (instants to ISO 8601 text). */
#ifndef CDC_DATETIME_H
#define CDC_DATETIME_H

#include "../common/buf.h"

#include <stdbool.h>
#include <stdint.h>

#define USECS_PER_DAY INT64_C(86400000000)

/* Civil date to days since 1970-01-01, proleptic Gregorian, astronomical
 * year numbering (1 BC is year 0). */
int64_t datetime_days_from_civil(int64_t y, unsigned m, unsigned d);

/* Days since 1970-01-01 to a civil date. */
void datetime_civil_from_days(int64_t days, int64_t *y, unsigned *m,
                              unsigned *d);

/* Appends "YYYY-MM-DD" (years outside 0..9999 as "+10000"/"-0001", the
 * ISO 8601 expanded form). */
bool datetime_format_date(buf_t *out, int64_t days);

/* Appends "HH:MM:SS" plus ".ffffff" trimmed of trailing zeros. */
bool datetime_format_time(buf_t *out, int64_t usecs_of_day);

/* Appends an ISO 8601 timestamp, "T" between date and time; utc adds "Z".
 * VALUE_TS_INFINITY and VALUE_TS_MINUS_INFINITY print "infinity" and
 * "-infinity". */
bool datetime_format_timestamp(buf_t *out, int64_t usecs, bool utc);

#endif
