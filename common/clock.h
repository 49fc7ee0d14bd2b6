/* Wall-clock and monotonic time in the units the services count in. */
#ifndef CDC_CLOCK_H
#define CDC_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Microseconds since the Unix epoch: for timestamps others read. */
static inline int64_t clock_wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Milliseconds since the Unix epoch. */
static inline int64_t clock_wall_ms(void)
{
    return clock_wall_us() / 1000;
}

/* Milliseconds on a clock that never steps: for deadlines and intervals. */
static inline int64_t clock_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
