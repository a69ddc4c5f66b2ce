/*
 * deadman — mcalert's own heartbeat pushed to a dead man's switch service
 * ([alerter] heartbeat_url): an HTTP POST every heartbeat_url_interval, so that
 * something outside mcops pages when the pager itself stops (as Alertmanager's
 * always-firing Watchdog alert is used). The request runs on a libcurl multi handle
 * driven from the loop's ticks: the loop never waits for it; a request that outlives
 * heartbeat_url_timeout is given up. Success is any 2xx reply. At most one request is
 * in flight; a failed ping is not retried before the next interval.
 */
#ifndef MCOPS_ALERTER_DEADMAN_H
#define MCOPS_ALERTER_DEADMAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEADMAN_URL_MAX 2048
#define DEADMAN_BODY "{\"source\":\"mcalert\",\"status\":\"alive\"}"

struct deadman {
	void *multi;           /* CURLM *, owned */
	void *easy;            /* CURL *, owned, reused */
	char url[DEADMAN_URL_MAX];
	int64_t interval_ms, timeout_ms;
	int64_t next_at;       /* the next ping starts then (caller's clock) */
	bool in_flight;
	bool failing;          /* the last ping failed */
	uint64_t sent, failed; /* pings that ended, and those of them that failed */
};

enum deadman_result {
	DEADMAN_IDLE,          /* nothing ended this time */
	DEADMAN_OK,
	DEADMAN_RECOVERED,     /* a success after failures */
	DEADMAN_FAILED,        /* the first failure after a success */
	DEADMAN_STILL_FAILING,
};

/* Prepares d for url (http or https); the first ping is due at once. 0 or -1 with err. */
int deadman_init(struct deadman *d, const char *url, int64_t interval_ms, int64_t timeout_ms,
    int64_t now, char *err, size_t errlen);
/* Abandons a ping in flight and frees the handles. */
void deadman_release(struct deadman *d);
/*
 * Drives the ping without blocking: starts one when due, moves the one in flight on,
 * and reports how one that ended went (err gets a failure's reason, "HTTP 503").
 */
enum deadman_result deadman_run(struct deadman *d, int64_t now, char *err, size_t errlen);

#endif
