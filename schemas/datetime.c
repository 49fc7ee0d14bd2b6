/* Calendar arithmetic and ISO 8601 formatting. */
#include "datetime.h"

#include "value.h"

#include <inttypes.h>

/* Days from civil and back use the era-based method: 400-year eras of
 * 146097 days with March as the first month, so leap days fall at the end. */
int64_t datetime_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void datetime_civil_from_days(int64_t days, int64_t *y, unsigned *m,
                              unsigned *d)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;

    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

bool datetime_format_date(buf_t *out, int64_t days)
{
    int64_t y;
    unsigned m, d;

    if (days == VALUE_DATE_INFINITY)
        return buf_puts(out, "infinity");
    if (days == VALUE_DATE_MINUS_INFINITY)
        return buf_puts(out, "-infinity");
    datetime_civil_from_days(days, &y, &m, &d);
    if (y < 0)
        return buf_printf(out, "-%04" PRId64 "-%02u-%02u", -y, m, d);
    if (y > 9999)
        return buf_printf(out, "+%" PRId64 "-%02u-%02u", y, m, d);
    return buf_printf(out, "%04" PRId64 "-%02u-%02u", y, m, d);
}

bool datetime_format_time(buf_t *out, int64_t usecs)
{
    int64_t secs = usecs / 1000000;
    int frac = (int)(usecs % 1000000);
    char digits[8];
    int n = 6;

    if (!buf_printf(out, "%02d:%02d:%02d", (int)(secs / 3600),
                    (int)(secs / 60 % 60), (int)(secs % 60)))
        return false;
    if (frac == 0)
        return true;
    for (int i = 5; i >= 0; i--) {
        digits[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    while (n > 0 && digits[n - 1] == '0')
        n--;
    return buf_putc(out, '.') && buf_append(out, digits, (size_t)n);
}

bool datetime_format_timestamp(buf_t *out, int64_t usecs, bool utc)
{
    int64_t days, rem;

    if (usecs == VALUE_TS_INFINITY)
        return buf_puts(out, "infinity");
    if (usecs == VALUE_TS_MINUS_INFINITY)
        return buf_puts(out, "-infinity");
    days = usecs / USECS_PER_DAY;
    rem = usecs % USECS_PER_DAY;
    if (rem < 0) {
        rem += USECS_PER_DAY;
        days--;
    }
    return datetime_format_date(out, days) && buf_putc(out, 'T') &&
           datetime_format_time(out, rem) && (!utc || buf_putc(out, 'Z'));
}
