/*
 * alerter — the mcalert daemon: it tails the incident log, decides every escalation
 * with escalation.h, pages over XMPP (xmpp.h), records every page, delivery, failure
 * and acknowledgement in the log, answers chat commands, takes Alertmanager
 * webhooks (intake.h) and falls back to a webhook (fallback.h) when the chat server
 * stays unreachable.
 *
 * State: everything that must survive a crash is in the log. The log says, for each
 * incident, its pages (step, target, time, deadline, delivery, failure) and its
 * events (triggers, acknowledgements, "paged" with the decision's reason and
 * position). mcalert rebuilds each escalation from that alone (a struct esc_view per
 * incident), so a restart, even after SIGKILL, resumes at the right step: a step is
 * recorded and its predecessor's deadline stopped in one transaction
 * (ilog_page_escalate), so a step is never decided twice.
 *
 * What lives only in memory, and is rebuilt after a restart: which pages were handed
 * to the current XMPP session (so that, after a reconnection or a restart, the
 * latest undelivered page of each incident is sent again, marked late when it is),
 * notices not sent yet (acknowledged/resolved messages; lost by a crash), writes
 * that wait for a log another process keeps busy (pending.h; lost by a crash), and
 * the rate limits of refusals.
 *
 * Events mcalert writes (actor "mcalert" unless said):
 *   paged          (ilog) + {"position", "round", "reason", "via"?, "suppressed"?,
 *                  "window"?}
 *   delivered, displayed (actor "xmpp:<jid>"), page_failed (ilog's page marks)
 *   page_late      {"page_id", "target", "late_ms"}: sent that long after it was decided
 *   page_fallback  {"page_id", "target", "status"}: posted to the fallback webhook
 *   acked, resolved (ilog transitions, actor "xmpp:<jid>", from chat commands)
 *   ack_renewed    {"message"?} (actor "xmpp:<jid>"): "ack" on an incident that was
 *                  acknowledged and paged again after its ack timeout
 *   page_test_sent / page_test_delivered / page_test_failed  (no incident)
 *                  {"request", "target", "detail"?}: for "page_test" requests
 * It reads "page_test" {"target"} and the on-call overrides (rotation.h), both
 * written by mctl.
 */
#ifndef MCOPS_ALERTER_H
#define MCOPS_ALERTER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "settings.h"

#define ALERTER_CONSUMER "mcalert"       /* its cursor */
#define ALERTER_ACTOR "mcalert"
#define ALERTER_EV_ACK_RENEWED "ack_renewed"
#define ALERTER_EV_SENT "page_sent" /* a page handed to the chat server */
#define ALERTER_EV_LATE "page_late"
#define ALERTER_EV_FALLBACK "page_fallback"
#define ALERTER_EV_TEST "page_test"
#define ALERTER_EV_TEST_SENT "page_test_sent"
#define ALERTER_EV_TEST_DELIVERED "page_test_delivered"
#define ALERTER_EV_TEST_FAILED "page_test_failed"

struct alerter;

/*
 * Sets the daemon up: opens the log, starts the intake listener (if configured), and
 * prepares the XMPP client (it connects in alerter_run). Takes ownership of set (a
 * heap struct from settings_load; freed by alerter_free). NULL with err set.
 */
struct alerter *alerter_new(struct alerter_settings *set, bool debug, char *err,
    size_t errlen);

/*
 * Runs until *stop becomes non-zero. When *reload becomes non-zero it is cleared and
 * config_path is read again; a configuration with errors is logged and the running
 * one kept. Returns 0 on a clean stop, 1 if the log became unusable at start.
 */
int alerter_run(struct alerter *a, volatile sig_atomic_t *stop,
    volatile sig_atomic_t *reload, const char *config_path);

/* Disconnects, closes the log, frees everything. NULL is a no-op. */
void alerter_free(struct alerter *a);

#endif
