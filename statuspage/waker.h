/*
 * waker — how mcstatus's sending threads (push.c's sinks, mailer.c's subscribers) are
 * woken and stopped: a stop flag, a generation that each notify bumps, and a sleep
 * that ends at a time, at stop, or (if asked) at a notify after a generation read
 * before looking at the outbox, so that no notify is missed between the look and the
 * sleep. Times are CLOCK_REALTIME ms (lib/clock.h's clock_wall_ms), as the outbox's.
 */
#ifndef MCSTATUS_WAKER_H
#define MCSTATUS_WAKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct waker {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	unsigned generation;
};

void waker_init(struct waker *w);
void waker_release(struct waker *w);
bool waker_stopping(struct waker *w);
unsigned waker_generation(struct waker *w);
/* Sleeps until `until`, stop, or, with wake_on_notify, a notify after generation gen. */
void waker_wait_until(struct waker *w, int64_t until, bool wake_on_notify, unsigned gen);
/* Wakes every sleeper that waits for a notify. */
void waker_notify(struct waker *w);
/* Sets stop and wakes every sleeper. */
void waker_stop(struct waker *w);

#endif
