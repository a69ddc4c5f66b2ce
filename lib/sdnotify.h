/*
 * sdnotify — telling the service manager how a daemon stands, systemd's notify
 * protocol (sd_notify(3)) without libsystemd: one datagram of "KEY=VALUE" lines to
 * the AF_UNIX socket named by $NOTIFY_SOCKET. A unit with Type=notify is "started"
 * only when the daemon sends READY=1, so `systemctl start` returns once it listens,
 * and units ordered after it start against a daemon that answers.
 *
 * $NOTIFY_SOCKET is an absolute path or, starting with '@', a name in the abstract
 * namespace. Without it (started by hand, by the demo, by a test) every call is a
 * no-op that returns 0: a daemon calls these unconditionally.
 *
 * Library code: nothing is logged; a failure is returned (and described in err for
 * sdnotify_send). The environment is left as it is (the daemons start no children).
 */
#ifndef MCOPS_SDNOTIFY_H
#define MCOPS_SDNOTIFY_H

#include <stddef.h>

/* The longest message sent: a few lines of state. */
#define SDNOTIFY_MESSAGE_MAX 256

/*
 * Sends state (e.g. "READY=1", or several lines separated by '\n') to
 * $NOTIFY_SOCKET. Returns 1 sent, 0 no $NOTIFY_SOCKET (nothing done), -1 failure:
 * a socket name that is neither absolute nor abstract or too long for sun_path, a
 * state longer than SDNOTIFY_MESSAGE_MAX, or a socket error (err says which).
 */
int sdnotify_send(const char *state, char *err, size_t errlen);

/* The three states a daemon reports; each returns as sdnotify_send. */
/* Started: listening, its state loaded. Call once, just before the main loop. */
int sdnotify_ready(void);
/* Re-reading the configuration (SIGHUP); send READY=1 again when done. Carries
 * MONOTONIC_USEC, which Type=notify-reload units require. */
int sdnotify_reloading(void);
/* Shutting down: from the first step of a graceful stop. */
int sdnotify_stopping(void);

#endif
