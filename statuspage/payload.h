/*
 * payload — what one public change in the log means for the sinks: the JSON object
 * every outbox item of mcstatus carries (docs/statuspage.md, "Sinks"):
 *
 *   {"event_id", "type": "incident.created|incident.updated|incident.resolved", "at",
 *    "page": {"id","name","url"}, "indicator", "description",
 *    "incident": {"id","name","status","impact","shortlink","created_at","resolved_at"},
 *    "update": {"id","status","body","created_at"},
 *    "components": [{"id","name","status"}], "text"}
 *
 * Public by construction: built from the model only.
 */
#ifndef MCSTATUS_PAYLOAD_H
#define MCSTATUS_PAYLOAD_H

#include <stdbool.h>

#include "ilog.h"
#include "model.h"
#include "textbuf.h"

/* True if an event of this type can change the public page (re-render). */
bool payload_event_is_public(const char *type);

/*
 * Builds the payload of event ev into out (replacing its content). Returns 1 with the
 * payload, 0 if the event makes no public update to push (an internal event, a
 * severity change, a resolve that an operator's public "resolved" already announced,
 * an incident no longer in the model), -1 on failure.
 */
int payload_build(const struct model *m, const struct ilog_event *ev, struct textbuf *out);

#endif
