/*
 * confirm — the remedies waiting for an engineer's "yes" (chat.c asks, "run N"; the
 * sender answers "yes" within CONFIRM_WINDOW_MS), and whether a suggestion may still
 * be run. Pure: every function takes now; nothing is logged, read or written.
 *
 * One wait per sender: a new "run" replaces the sender's previous one. A "yes" takes
 * the sender's wait away whatever happens next, so a second "yes" finds nothing.
 * Two engineers may each wait for the same suggestion: the log decides which runs it
 * (ilog_remedy_claim() succeeds once), so a race runs it exactly once.
 */
#ifndef MCOPS_ALERTER_CONFIRM_H
#define MCOPS_ALERTER_CONFIRM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "ilog_remedy.h"
#include "jid.h"

#define CONFIRM_WINDOW_MS 60000            /* "yes" within a minute of the question */
#define CONFIRM_SENDERS_MAX 64             /* senders waiting at once; the oldest goes */
#define CONFIRM_LIFETIME_MS (30 * 60000)   /* a suggestion older than this has expired */
#define CONFIRM_PLAN_MAX 32                /* targets whose plan a wait remembers */

/* What the question said would happen on one target: a "yes" does exactly that. */
struct confirm_step {
	char node[CLUSTER_NAME_MAX + 1];
	uint64_t connections;    /* rebalance: what it held when asked */
	uint64_t shed;           /* rebalance: to close */
};

struct confirm_wait {
	char jid[JID_MAX + 1];   /* bare */
	int64_t remedy_id;
	int64_t incident_id;
	int number;
	int64_t asked_at;
	struct confirm_step plan[CONFIRM_PLAN_MAX];
	size_t nplan;
};

struct confirm {
	struct confirm_wait v[CONFIRM_SENDERS_MAX];
	size_t n;
};

/* A zeroed struct is empty; so is this. */
void confirm_init(struct confirm *c);

/* jid (bare) now waits for w (its jid is set here); its previous wait, if any, is gone. */
void confirm_ask(struct confirm *c, const char *jid, const struct confirm_wait *w);

enum confirm_answer {
	CONFIRM_GO,       /* *out is what to run */
	CONFIRM_NOTHING,  /* the sender waits for nothing */
	CONFIRM_LATE,     /* it waited more than CONFIRM_WINDOW_MS; *out says what */
};

/* The sender's "yes" at now: its wait is removed in every case. */
enum confirm_answer confirm_take(struct confirm *c, const char *jid, int64_t now,
    struct confirm_wait *out);

enum confirm_verdict {
	CONFIRM_RUNNABLE,
	CONFIRM_ALREADY_RUN,  /* run_at is set */
	CONFIRM_RESOLVED,     /* its incident is resolved */
	CONFIRM_SUPERSEDED,   /* newer evidence replaced it (superseded_at, or evidence
	                         newer than the one it came from) */
	CONFIRM_EXPIRED,      /* older than CONFIRM_LIFETIME_MS */
};

/*
 * Whether r may be run at now, its incident resolved or not, the incident's latest
 * evidence event being latest_evidence (0: unknown, not compared).
 */
enum confirm_verdict confirm_judge(const struct ilog_remedy *r, bool resolved,
    int64_t latest_evidence, int64_t now);

#endif
