#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "utctime.h"

static struct {
	pthread_mutex_t lock;
	int foreground;
	_Atomic int level;
	char ident[64];
	_Atomic uint64_t suppressed_total;
	_Atomic uint64_t lines_total;
	struct log_limit *limits; /* every limit that has printed, for flushing */
} logger = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.foreground = 1,
	.level = LOG_LEVEL_INFO,
	.ident = "mcops",
};

static const char *const level_names[] = { "error", "warning", "info", "debug" };
static const int syslog_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void
log_init(const char *ident, int foreground, enum log_level level)
{
	pthread_mutex_lock(&logger.lock);
	snprintf(logger.ident, sizeof(logger.ident), "%s", ident);
	logger.foreground = foreground;
	atomic_store(&logger.level, (int)level);
	if (!foreground)
		openlog(logger.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	pthread_mutex_unlock(&logger.lock);
}

void
log_set_level(enum log_level level)
{
	atomic_store(&logger.level, (int)level);
}

enum log_level
log_get_level(void)
{
	return (enum log_level)atomic_load(&logger.level);
}

static void
log_write(enum log_level level, const char *line)
{
	atomic_fetch_add(&logger.lines_total, 1);
	if (!logger.foreground) {
		syslog(syslog_prio[level], "%s", line);
		return;
	}
	char stamp[UTC_TEXT_MAX];
	utc_format_ms(clock_wall_ms(), stamp, sizeof(stamp));
	pthread_mutex_lock(&logger.lock);
	fprintf(stderr, "%s %s[%d] %s: %s\n", stamp, logger.ident, (int)getpid(),
	    level_names[level], line);
	pthread_mutex_unlock(&logger.lock);
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];

	if ((int)level > atomic_load(&logger.level))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	log_write(level, line);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *fmt, ...)
{
	va_list ap;
	char line[LOG_LINE_MAX];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_write(LOG_LEVEL_ERR, line);
	exit(1);
}

void
log_limited(struct log_limit *lim, enum log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	int64_t now, next;
	uint64_t dropped;
	size_t len;

	if ((int)level > atomic_load(&logger.level))
		return;
	now = clock_monotonic_ms();
	next = atomic_load(&lim->next_ms);
	/* One thread wins the period; every other caller only counts. */
	if (now < next ||
	    !atomic_compare_exchange_strong(&lim->next_ms, &next, now + lim->period_ms)) {
		atomic_fetch_add(&lim->suppressed, 1);
		atomic_fetch_add(&logger.suppressed_total, 1);
		return;
	}
	dropped = atomic_exchange(&lim->suppressed, 0);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&logger.lock);
	{
		size_t keep = strlen(line);
		if (keep > sizeof(lim->last) - 1)
			keep = sizeof(lim->last) - 1; /* cut: the summary line only names the kind */
		memcpy(lim->last, line, keep);
		lim->last[keep] = '\0';
	}
	lim->last_level = level;
	if (!lim->registered) {
		lim->registered = true;
		lim->next = logger.limits;
		logger.limits = lim;
	}
	pthread_mutex_unlock(&logger.lock);
	if (dropped > 0) {
		len = strlen(line);
		snprintf(line + len, sizeof(line) - len, " (%llu more suppressed)",
		    (unsigned long long)dropped);
	}
	log_write(level, line);
}

void
log_flush_suppressed(void)
{
	char lines[8][LOG_LIMIT_TEXT_MAX + 48];
	enum log_level levels[8];
	struct log_limit *lim;
	int64_t now = clock_monotonic_ms();
	size_t n = 0, i;

	/* Collect under the lock, write after it (log_write takes it too). */
	pthread_mutex_lock(&logger.lock);
	for (lim = logger.limits; lim != NULL && n < 8; lim = lim->next) {
		uint64_t dropped;
		if (now < atomic_load(&lim->next_ms) || atomic_load(&lim->suppressed) == 0)
			continue;
		dropped = atomic_exchange(&lim->suppressed, 0);
		if (dropped == 0)
			continue;
		snprintf(lines[n], sizeof(lines[n]), "%.*s (%llu more suppressed)",
		    (int)(LOG_LIMIT_TEXT_MAX - 1), lim->last, (unsigned long long)dropped);
		levels[n++] = lim->last_level;
	}
	pthread_mutex_unlock(&logger.lock);
	for (i = 0; i < n; i++)
		log_write(levels[i], lines[i]);
}

uint64_t
log_suppressed_total(void)
{
	return atomic_load(&logger.suppressed_total);
}

uint64_t
log_lines_total(void)
{
	return atomic_load(&logger.lines_total);
}
