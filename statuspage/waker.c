/*
 * waker — see waker.h.
 */
#include <errno.h>

#include "clock.h"
#include "waker.h"

void
waker_init(struct waker *w)
{
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->stop = false;
	w->generation = 0;
}

void
waker_release(struct waker *w)
{
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
}

bool
waker_stopping(struct waker *w)
{
	bool s;

	pthread_mutex_lock(&w->lock);
	s = w->stop;
	pthread_mutex_unlock(&w->lock);
	return s;
}

unsigned
waker_generation(struct waker *w)
{
	unsigned g;

	pthread_mutex_lock(&w->lock);
	g = w->generation;
	pthread_mutex_unlock(&w->lock);
	return g;
}

void
waker_wait_until(struct waker *w, int64_t until, bool wake_on_notify, unsigned gen)
{
	struct timespec ts = clock_ms_timespec(until);

	pthread_mutex_lock(&w->lock);
	while (!w->stop && (!wake_on_notify || gen == w->generation) && clock_wall_ms() < until)
		if (pthread_cond_timedwait(&w->wake, &w->lock, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&w->lock);
}

void
waker_notify(struct waker *w)
{
	pthread_mutex_lock(&w->lock);
	w->generation++;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void
waker_stop(struct waker *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
}
