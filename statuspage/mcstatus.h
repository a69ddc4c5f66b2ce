/*
 * mcstatus — the status publisher daemon: tails the incident log with its cursor
 * ("mcstatus"), re-renders the site within one poll of a public change and every
 * `rerender`, enqueues each public change for every sink in the log's outbox, and
 * lets the publisher threads push them (docs/statuspage.md).
 *
 * Crash safety: the cursor moves only after a batch is rendered and enqueued, and
 * enqueueing is idempotent per (sink, event), so a restart after SIGKILL re-renders
 * and re-enqueues the last batch without duplicating any push.
 */
#ifndef MCSTATUS_MCSTATUS_H
#define MCSTATUS_MCSTATUS_H

#include <stdbool.h>
#include <stddef.h>

#define MCSTATUS_CONSUMER "mcstatus"
#define MCSTATUS_ERR_MAX 512

struct mcstatus;
struct mcstatus_scratch;

/* Loads and checks the configuration at path; prints nothing and returns 0 (valid)
 * or -1 (every problem in err, one per line). */
int mcstatus_check(const char *path, char *err, size_t errlen);

/*
 * The same check in scratch space the caller keeps (about 300 KiB: the status page
 * configuration and SINKS_MAX sinks), for a caller that checks many files (the
 * fuzzer: a fresh allocation of that size per file costs more than the check).
 * The scratch holds no secret between calls. NULL if out of memory.
 */
struct mcstatus_scratch *mcstatus_scratch_new(void);
void mcstatus_scratch_free(struct mcstatus_scratch *s);
int mcstatus_check_in(struct mcstatus_scratch *s, const char *path, char *err, size_t errlen);

/* Loads the configuration, opens the log, creates the site directory, starts the
 * HTTP server and the publisher. NULL with err set. */
struct mcstatus *mcstatus_new(const char *config_path, char *err, size_t errlen);
/* Runs until SIGTERM or SIGINT (SIGHUP reloads). 0 on a clean stop, -1 on a fatal
 * error (logged). */
int mcstatus_run(struct mcstatus *d);
void mcstatus_free(struct mcstatus *d);

#endif
