/* The pusher process: settings, the WebSocket and HTTP server on one
 * libuv loop, periodic work, permission reloads on SIGHUP and a clean stop
 * on SIGTERM. */
#ifndef CDC_SERVER_H
#define CDC_SERVER_H

#include "config.h"

extern const config_setting_t pusher_settings[];

/* Runs the pusher until SIGTERM/SIGINT; returns the exit code. */
int pusher_run(void);

#endif
