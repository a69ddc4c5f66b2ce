/*
 * ilog_remedy — the remedies suggested for an incident, numbered, so that an engineer
 * can run one from the page ("run 2") and the log keeps what was offered, when, and
 * who ran it. Owned by mcalert (alerter/suggest.h derives them from the incident's
 * evidence and kind; alerter/chat.c runs them through lib/remedy.h).
 *
 * A set of suggestions is derived from one evidence event of the incident and numbered
 * 1..n. ilog_remedy_offer() keeps the incident's current set if it came from the same
 * evidence, else marks the old set superseded and writes the new one, in one
 * transaction. ilog_remedy_claim() marks one run: it succeeds once per suggestion,
 * whatever the number of processes or engineers racing, and never for a superseded
 * one or one of a resolved incident. ilog_prune() removes them with their incident.
 *
 * No event is written here: the remedy's own event ("flush", "rebalance", ...) is
 * the record of a run, written by lib/remedy.h with the engineer as actor;
 * ilog_remedy_done() links it.
 */
#ifndef MCOPS_ILOG_REMEDY_H
#define MCOPS_ILOG_REMEDY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ilog.h"

#define ILOG_REMEDY_MAX 9            /* suggestions of one set: "run 1" .. "run 9" */
#define ILOG_REMEDY_VERB_MAX 16      /* "flush", "rebalance", "drain", "connlimit" */
#define ILOG_REMEDY_SENTENCE_MAX 400 /* what people read */

struct ilog_remedy {
	int64_t id;
	int64_t incident_id;
	int number;                        /* 1..ILOG_REMEDY_MAX within its set */
	int64_t evidence_event;            /* the evidence it was derived from; 0 = none */
	int64_t created_at;
	char verb[ILOG_REMEDY_VERB_MAX + 1];
	char cluster[ILOG_NAME_MAX + 1];   /* "" = none */
	char node[ILOG_NAME_MAX + 1];      /* "" = the cluster's nodes of the verb's layer */
	char tenant[ILOG_NAME_MAX + 1];    /* "" = none (a flush of every tenant) */
	int64_t arg;                       /* rebalance: connections to shed (0: to the mean);
	                                      connlimit: new connections a second */
	char sentence[ILOG_REMEDY_SENTENCE_MAX + 1];
	int64_t superseded_at;             /* 0 = current */
	int64_t run_at;                    /* 0 = not run */
	char run_by[ILOG_ACTOR_MAX + 1];
	int64_t run_event;                 /* the remedy's event, 0 until recorded */
};

struct ilog_remedies {
	struct ilog_remedy *v;
	size_t n;
};
void ilog_remedies_release(struct ilog_remedies *list);

/*
 * Offers list[0..n) (n <= ILOG_REMEDY_MAX; numbers, ids and times are assigned here:
 * list[i] becomes number i + 1) as incident_id's suggestions derived from
 * evidence_event. When the current set came from the same evidence_event, nothing is
 * written (*changed false); otherwise the current set is superseded now and list
 * written (*changed true; n may be 0: no suggestion any more). The incident must exist
 * and be unresolved (ILOG_ERR_NOT_FOUND / ILOG_ERR_STATE); a bad field is ILOG_ERR_ARG.
 */
enum ilog_status ilog_remedy_offer(struct ilog *log, int64_t incident_id,
    int64_t evidence_event, const struct ilog_remedy *list, size_t n, bool *changed,
    char *err, size_t errlen);

/* incident_id's current (not superseded) suggestions, by number, into out (zeroed, or
 * from an earlier call: what it held is released first). */
enum ilog_status ilog_remedy_list(struct ilog *log, int64_t incident_id,
    struct ilog_remedies *out, char *err, size_t errlen);

/*
 * The suggestion with number of incident_id: the current one, else the newest that
 * had that number (superseded_at set), so that a refusal can say why. ILOG_OK, or
 * ILOG_ERR_NOT_FOUND (err: "no suggestion 4 for incident 7").
 */
enum ilog_status ilog_remedy_get(struct ilog *log, int64_t incident_id, int number,
    struct ilog_remedy *out, char *err, size_t errlen);

/*
 * Marks suggestion id run now by actor, if nobody ran it, it is current and its
 * incident is unresolved; *out (may be NULL) gets the row as it is after the call.
 * ILOG_OK: the caller alone runs it. ILOG_ERR_STATE with err saying why not ("already
 * run by xmpp:bob@x at ...", "superseded", "resolved"). ILOG_ERR_NOT_FOUND.
 */
enum ilog_status ilog_remedy_claim(struct ilog *log, int64_t id, const char *actor,
    struct ilog_remedy *out, char *err, size_t errlen);

/* Links the remedy's event (event_id) to suggestion id, claimed before. */
enum ilog_status ilog_remedy_done(struct ilog *log, int64_t id, int64_t event_id, char *err,
    size_t errlen);

#endif
