/*
 * log — bounded, rate-limited logging for the mcops daemons.
 *
 * One process-wide logger (the only mutable global state the style allows besides
 * signal flags). In the foreground it writes one line per message to stderr with a
 * UTC timestamp; otherwise to syslog. Library code (lib/) never logs: it returns an
 * error text to the daemon layer, which logs once.
 *
 * Bounding: a message on a path that can repeat (a failed connection, a bad client)
 * goes through a struct log_limit owned by its call site (LOG_LIMITED below). The
 * first message of a period is printed; the rest only bump a counter; the first
 * message of the next period carries "(N more suppressed)". The total of suppressed
 * lines is exported for `stats`. Every function here is thread-safe.
 */
#ifndef MCOPS_LOG_H
#define MCOPS_LOG_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

/* Longest line written; longer messages are cut (never split). */
#define LOG_LINE_MAX 1024

/*
 * Starts logging as `ident`. foreground != 0: stderr; otherwise syslog (LOG_DAEMON).
 * Messages above `level` are dropped. May be called again (after fork, on reload).
 */
void log_init(const char *ident, int foreground, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define log_err(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Logs at ERR and exits 1. Only for start-up failures and broken invariants. */
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * A call site's rate limit: at most one line per period_ms. Zero-initialise with
 * LOG_LIMIT_INIT; static storage at the call site is the intended use.
 */
#define LOG_LIMIT_TEXT_MAX 160
struct log_limit {
	_Atomic int64_t next_ms;      /* monotonic ms before which lines are suppressed */
	_Atomic uint64_t suppressed;  /* lines dropped since the last printed one */
	int period_ms;
	/* Kept for log_flush_suppressed (under the logger's lock): */
	char last[LOG_LIMIT_TEXT_MAX];/* the last line printed, cut */
	enum log_level last_level;
	struct log_limit *next;       /* registered limits */
	bool registered;
};
#define LOG_LIMIT_INIT(period) { .period_ms = (period) }

/* Prints or counts, as described above. */
void log_limited(struct log_limit *lim, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A rate-limited line from a call site, one line per 10 s at most. */
#define LOG_LIMITED(level, ...)                                                  \
	do {                                                                     \
		static struct log_limit log_limit_site_ = LOG_LIMIT_INIT(10000); \
		log_limited(&log_limit_site_, (level), __VA_ARGS__);             \
	} while (0)

/*
 * Reports what the limits suppressed in periods that have ended, as one line per
 * site: "<its last line> (N more suppressed)". Without it a storm that stops within a
 * period would never say how big it was. Daemons call it about once a second.
 */
void log_flush_suppressed(void);

/* Lines suppressed by every limit since start (for `stats`). */
uint64_t log_suppressed_total(void);
/* Lines written since start. */
uint64_t log_lines_total(void);

#endif
