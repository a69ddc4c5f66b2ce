/*
 * The incident log's file format: the forward migrations that build the schema, and
 * the text of every statement the other parts run. Kept in one place so that a change
 * of layout is reviewed against every query that reads it.
 */
#include "ilog_int.h"

/* --- schema ------------------------------------------------------------------------- */

/*
 * migrations[v] takes a database from version v to v + 1. Never edit a released step:
 * add a new one and bump ILOG_SCHEMA_VERSION. Each step sets user_version itself.
 */
const char *const ilog_migrations[ILOG_SCHEMA_VERSION] = {
	/* 0 -> 1: the first layout. */
	"PRAGMA application_id = 1296256848;"
	"CREATE TABLE incidents ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  fingerprint TEXT,"
	"  kind TEXT NOT NULL,"
	"  cluster TEXT,"
	"  node TEXT,"
	"  severity INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 3),"
	"  state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),"
	"  title TEXT NOT NULL,"
	"  opened_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  acked_at INTEGER,"
	"  acked_by TEXT,"
	"  resolved_at INTEGER,"
	"  resolved_by TEXT,"
	"  public_status TEXT"
	");"
	"CREATE UNIQUE INDEX incidents_unresolved_fingerprint ON incidents(fingerprint)"
	"  WHERE state != 'resolved';"
	"CREATE INDEX incidents_resolved_at ON incidents(resolved_at) WHERE state = 'resolved';"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  at INTEGER NOT NULL,"
	"  incident_id INTEGER REFERENCES incidents(id) ON DELETE CASCADE,"
	"  actor TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  body_json TEXT NOT NULL DEFAULT '{}'"
	");"
	"CREATE INDEX events_incident ON events(incident_id, id);"
	"CREATE INDEX events_at ON events(at);"
	"CREATE TABLE pages ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
	"  step INTEGER NOT NULL,"
	"  target TEXT NOT NULL,"
	"  sent_at INTEGER NOT NULL,"
	"  delivered_at INTEGER,"
	"  displayed_at INTEGER,"
	"  failed_at INTEGER,"
	"  acked_at INTEGER,"
	"  next_deadline INTEGER,"
	"  detail TEXT"
	");"
	"CREATE INDEX pages_incident ON pages(incident_id, id);"
	"CREATE INDEX pages_deadline ON pages(next_deadline) WHERE next_deadline IS NOT NULL;"
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  sink TEXT NOT NULL,"
	"  event_id INTEGER REFERENCES events(id) ON DELETE CASCADE,"
	"  payload_json TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  next_attempt_at INTEGER NOT NULL,"
	"  done_at INTEGER,"
	"  gave_up_at INTEGER,"
	"  last_error TEXT"
	");"
	"CREATE UNIQUE INDEX outbox_sink_event ON outbox(sink, event_id)"
	"  WHERE event_id IS NOT NULL;"
	"CREATE INDEX outbox_due ON outbox(next_attempt_at)"
	"  WHERE done_at IS NULL AND gave_up_at IS NULL;"
	"CREATE INDEX outbox_sink_due ON outbox(sink, next_attempt_at)"
	"  WHERE done_at IS NULL AND gave_up_at IS NULL;"
	"CREATE INDEX outbox_event ON outbox(event_id);"
	"CREATE TABLE cursors ("
	"  consumer TEXT PRIMARY KEY,"
	"  event_id INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	");"
	"PRAGMA user_version = 1;",

	/*
	 * 1 -> 2: public updates get their own table, so the status publisher reads an
	 * incident's public narrative without scanning its internal events. Version 1
	 * kept them only as "public_update" events: copy those over.
	 */
	"CREATE TABLE public_updates ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
	"  event_id INTEGER REFERENCES events(id) ON DELETE CASCADE,"
	"  at INTEGER NOT NULL,"
	"  status TEXT NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  message TEXT NOT NULL"
	");"
	"CREATE INDEX public_updates_incident ON public_updates(incident_id, id);"
	"CREATE INDEX public_updates_event ON public_updates(event_id);"
	"INSERT INTO public_updates (incident_id, event_id, at, status, actor, message)"
	"  SELECT incident_id, id, at, json_extract(body_json, '$.status'), actor,"
	"         coalesce(json_extract(body_json, '$.message'), '')"
	"  FROM events"
	"  WHERE type = 'public_update' AND incident_id IS NOT NULL"
	"    AND json_valid(body_json)"
	"    AND json_extract(body_json, '$.status') IN"
	"        ('investigating', 'identified', 'monitoring', 'resolved')"
	"  ORDER BY id;"
	"PRAGMA user_version = 2;",

	/*
	 * 2 -> 3: the daemons' heartbeats (lib/ilog_heartbeat.h), one row per daemon,
	 * overwritten by each beat. Nothing to copy: older logs had none.
	 */
	"CREATE TABLE heartbeats ("
	"  daemon TEXT PRIMARY KEY,"
	"  pid INTEGER NOT NULL,"
	"  host TEXT NOT NULL,"
	"  beat_at INTEGER NOT NULL,"
	"  interval_ms INTEGER NOT NULL,"
	"  started_at INTEGER NOT NULL"
	");"
	"PRAGMA user_version = 3;",

	/*
	 * 3 -> 4: mcmon's recorded figures (lib/ilog_history.h), a row per node and per
	 * cluster every history interval; pruned by time. Nothing to copy.
	 */
	"CREATE TABLE history ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  cluster TEXT NOT NULL,"
	"  node TEXT NOT NULL,"
	"  probes INTEGER NOT NULL,"
	"  slow INTEGER NOT NULL,"
	"  p50_us INTEGER,"
	"  p99_us INTEGER,"
	"  connections INTEGER,"
	"  new_per_second REAL"
	");"
	"CREATE INDEX history_cluster_at ON history(cluster, at);"
	"CREATE INDEX history_at ON history(at);"
	"PRAGMA user_version = 4;",

	/*
	 * 4 -> 5: scheduled maintenances and silences (lib/ilog_maintenance.h). A window's
	 * state follows from its times; `announced` is the last state whose event was
	 * written, so a start or end by time is announced once. Nothing to copy.
	 */
	"CREATE TABLE maintenances ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  kind TEXT NOT NULL CHECK (kind IN ('public', 'silence')),"
	"  cluster TEXT NOT NULL DEFAULT '',"
	"  title TEXT NOT NULL DEFAULT '',"
	"  message TEXT NOT NULL DEFAULT '',"
	"  starts_at INTEGER NOT NULL,"
	"  ends_at INTEGER NOT NULL CHECK (ends_at > starts_at),"
	"  started_at INTEGER,"
	"  completed_at INTEGER,"
	"  cancelled_at INTEGER,"
	"  created_at INTEGER NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  announced INTEGER NOT NULL DEFAULT 0 CHECK (announced BETWEEN 0 AND 3)"
	");"
	"CREATE INDEX maintenances_ends ON maintenances(ends_at);"
	"CREATE INDEX maintenances_unannounced ON maintenances(starts_at) WHERE announced < 2;"
	"PRAGMA user_version = 5;",

	/*
	 * 5 -> 6: the remedies suggested for an incident (lib/ilog_remedy.h), numbered
	 * within the set derived from one evidence event, and who ran each.
	 */
	"CREATE TABLE remedies ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
	"  number INTEGER NOT NULL,"
	"  evidence_event INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  verb TEXT NOT NULL,"
	"  cluster TEXT,"
	"  node TEXT,"
	"  tenant TEXT,"
	"  arg INTEGER NOT NULL DEFAULT 0,"
	"  sentence TEXT NOT NULL,"
	"  superseded_at INTEGER,"
	"  run_at INTEGER,"
	"  run_by TEXT,"
	"  run_event INTEGER"
	");"
	"CREATE INDEX remedies_incident ON remedies(incident_id, number, id);"
	"PRAGMA user_version = 6;",

	/*
	 * 6 -> 7: the status page's subscribers (lib/ilog_subscribers.h). Their messages
	 * wait in the outbox under "subscriber:ID"; the index finds a queue's head.
	 */
	"CREATE TABLE subscribers ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  kind TEXT NOT NULL CHECK (kind IN ('email', 'webhook')),"
	"  address TEXT NOT NULL,"
	"  components TEXT NOT NULL DEFAULT '',"
	"  state TEXT NOT NULL CHECK (state IN ('pending', 'confirmed', 'unsubscribed',"
	"    'dropped')),"
	"  nonce INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  confirmed_at INTEGER,"
	"  requested_at INTEGER NOT NULL,"
	"  failures INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (kind, address)"
	");"
	"CREATE INDEX subscribers_state ON subscribers(state, id);"
	"CREATE INDEX outbox_sink_unfinished ON outbox(sink, id)"
	"  WHERE done_at IS NULL AND gave_up_at IS NULL;"
	"PRAGMA user_version = 7;",
};

/* --- statements -------------------------------------------------------------------- */

#define INCIDENT_COLS                                                                \
	"id, fingerprint, kind, cluster, node, severity, state, title, opened_at, "  \
	"updated_at, acked_at, acked_by, resolved_at, resolved_by, public_status"
#define EVENT_COLS "id, at, incident_id, actor, type, body_json"
#define PAGE_COLS                                                                    \
	"p.id, p.incident_id, p.step, p.target, p.sent_at, p.delivered_at, "         \
	"p.displayed_at, p.failed_at, p.acked_at, p.next_deadline, p.detail"
#define OUTBOX_COLS                                                                  \
	"id, sink, event_id, payload_json, attempts, created_at, next_attempt_at, "  \
	"done_at, gave_up_at, last_error"
#define MAINT_COLS                                                                   \
	"id, kind, cluster, title, message, starts_at, ends_at, started_at, "        \
	"completed_at, cancelled_at, created_at, created_by, announced"
/* When a window ended in effect: its schedule's end, or an earlier completion or
 * cancellation. */
#define MAINT_END                                                                    \
	"min(ends_at, coalesce(completed_at, ends_at), coalesce(cancelled_at, ends_at))"
#define UNFINISHED "done_at IS NULL AND gave_up_at IS NULL"
#define REMEDY_COLS                                                                  \
	"id, incident_id, number, evidence_event, created_at, verb, cluster, node, "  \
	"tenant, arg, sentence, superseded_at, run_at, run_by, run_event"
#define SUBSCRIBER_COLS                                                              \
	"id, kind, address, components, state, nonce, created_at, confirmed_at, "   \
	"requested_at, failures"

const char *const ilog_stmt_sql[ST_COUNT] = {
	[ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
	[ST_BEGIN] = "BEGIN",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_META] = "SELECT (SELECT application_id FROM pragma_application_id),"
		    " (SELECT user_version FROM pragma_user_version),"
		    " (SELECT count(*) FROM sqlite_master)",
	[ST_DATA_VERSION] = "PRAGMA data_version",
	[ST_INC_BY_ID] = "SELECT " INCIDENT_COLS " FROM incidents WHERE id = ?1",
	[ST_INC_BY_FP] = "SELECT " INCIDENT_COLS " FROM incidents"
			 " WHERE fingerprint = ?1 AND state != 'resolved'",
	[ST_INC_INSERT] = "INSERT INTO incidents (fingerprint, kind, cluster, node, severity,"
			  " state, title, opened_at, updated_at)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?7)",
	[ST_INC_SEVERITY] = "UPDATE incidents SET severity = ?2, updated_at = ?3 WHERE id = ?1",
	[ST_INC_ACK] = "UPDATE incidents SET state = 'acknowledged', acked_at = ?2,"
		       " acked_by = ?3, updated_at = ?2 WHERE id = ?1",
	[ST_INC_RESOLVE] = "UPDATE incidents SET state = 'resolved', resolved_at = ?2,"
			   " resolved_by = ?3, updated_at = ?2 WHERE id = ?1",
	[ST_INC_REOPEN] = "UPDATE incidents SET state = 'open', acked_at = NULL,"
			  " acked_by = NULL, resolved_at = NULL, resolved_by = NULL,"
			  " updated_at = ?2 WHERE id = ?1",
	[ST_INC_PUBLIC] = "UPDATE incidents SET public_status = ?2, updated_at = ?3"
			  " WHERE id = ?1",
	[ST_INC_TOUCH] = "UPDATE incidents SET updated_at = max(updated_at, ?2) WHERE id = ?1",
	[ST_INC_LIST] = "SELECT " INCIDENT_COLS " FROM incidents"
			" WHERE (CASE state WHEN 'open' THEN 1 WHEN 'acknowledged' THEN 2"
			"        ELSE 4 END & ?1) != 0"
			"   AND (?2 IS NULL OR cluster = ?2) AND (?3 IS NULL OR kind = ?3)"
			"   AND updated_at >= ?4"
			" ORDER BY id DESC LIMIT ?5",
	[ST_PAGES_ACK] = "UPDATE pages SET acked_at = ?2 WHERE incident_id = ?1"
			 " AND acked_at IS NULL",
	[ST_EV_INSERT] = "INSERT INTO events (at, incident_id, actor, type, body_json)"
			 " VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_EV_TIMELINE] = "SELECT " EVENT_COLS " FROM events WHERE incident_id = ?1"
			   " ORDER BY id LIMIT ?2",
	[ST_EV_TAIL] = "SELECT " EVENT_COLS " FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
	[ST_EV_EXPORT] = "SELECT " EVENT_COLS " FROM events WHERE at >= ?1 ORDER BY id",
	[ST_EV_MAX] = "SELECT max(id) FROM events",
	[ST_EV_EXISTS] = "SELECT 1 FROM events WHERE id = ?1",
	[ST_CUR_GET] = "SELECT event_id FROM cursors WHERE consumer = ?1",
	[ST_CUR_SET] = "INSERT INTO cursors (consumer, event_id, updated_at) VALUES (?1, ?2, ?3)"
		       " ON CONFLICT (consumer) DO UPDATE SET event_id = excluded.event_id,"
		       " updated_at = excluded.updated_at",
	[ST_PUB_INSERT] = "INSERT INTO public_updates (incident_id, at, status, actor, message)"
			  " VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_PUB_SET_EVENT] = "UPDATE public_updates SET event_id = ?2 WHERE id = ?1",
	[ST_PUB_LIST] = "SELECT id, incident_id, event_id, at, status, actor, message"
			" FROM public_updates WHERE incident_id = ?1 ORDER BY id",
	[ST_PAGE_INSERT] = "INSERT INTO pages (incident_id, step, target, sent_at, next_deadline)"
			   " VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_PAGE_BY_ID] = "SELECT " PAGE_COLS " FROM pages p WHERE p.id = ?1",
	[ST_PAGE_DELIVERED] = "UPDATE pages SET delivered_at = ?2 WHERE id = ?1",
	[ST_PAGE_DISPLAYED] = "UPDATE pages SET displayed_at = ?2 WHERE id = ?1",
	[ST_PAGE_FAILED] = "UPDATE pages SET failed_at = ?2, detail = ?3 WHERE id = ?1",
	[ST_PAGE_DEADLINE] = "UPDATE pages SET next_deadline = ?2 WHERE id = ?1",
	[ST_PAGE_LIST] = "SELECT " PAGE_COLS " FROM pages p WHERE p.incident_id = ?1"
			 " ORDER BY p.id LIMIT ?2",
	[ST_PAGE_DUE] = "SELECT " PAGE_COLS " FROM pages p JOIN incidents i"
			" ON i.id = p.incident_id"
			" WHERE p.next_deadline IS NOT NULL AND p.next_deadline <= ?1"
			"   AND i.state != 'resolved'"
			" ORDER BY p.next_deadline, p.id LIMIT ?2",
	[ST_PAGE_NEXT] = "SELECT min(p.next_deadline) FROM pages p JOIN incidents i"
			 " ON i.id = p.incident_id"
			 " WHERE p.next_deadline IS NOT NULL AND i.state != 'resolved'",
	[ST_OB_FIND] = "SELECT id FROM outbox WHERE sink = ?1 AND event_id = ?2",
	[ST_OB_COUNT_SINK] = "SELECT count(*) FROM outbox WHERE sink = ?1 AND " UNFINISHED,
	[ST_OB_INSERT] = "INSERT INTO outbox (sink, event_id, payload_json, attempts,"
			 " created_at, next_attempt_at) VALUES (?1, ?2, ?3, 0, ?4, ?4)",
	[ST_OB_DUE] = "SELECT id FROM outbox WHERE " UNFINISHED " AND next_attempt_at <= ?1"
		      " AND (?2 IS NULL OR sink = ?2) ORDER BY next_attempt_at, id LIMIT ?3",
	[ST_OB_CLAIM] = "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2"
			" WHERE id = ?1",
	[ST_OB_GET] = "SELECT " OUTBOX_COLS " FROM outbox WHERE id = ?1",
	[ST_OB_DONE] = "UPDATE outbox SET done_at = ?2 WHERE id = ?1",
	[ST_OB_RETRY] = "UPDATE outbox SET next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
	[ST_OB_GIVE_UP] = "UPDATE outbox SET gave_up_at = ?2, last_error = ?3 WHERE id = ?1",
	[ST_OB_PENDING] = "SELECT count(*), min(next_attempt_at) FROM outbox WHERE " UNFINISHED
			  " AND (?1 IS NULL OR sink = ?1)",
	[ST_OB_HEAD] = "SELECT id, next_attempt_at FROM outbox WHERE sink = ?1 AND " UNFINISHED
		       " ORDER BY id LIMIT 1",
	[ST_OB_STATS] = "SELECT count(*) FILTER (WHERE " UNFINISHED "),"
			" count(*) FILTER (WHERE done_at IS NOT NULL),"
			" count(*) FILTER (WHERE gave_up_at IS NOT NULL),"
			" max(done_at), max(gave_up_at) FROM outbox WHERE sink = ?1",
	[ST_PRUNE_SELECT] = "SELECT id FROM incidents WHERE state = 'resolved'"
			    " AND resolved_at < ?1 ORDER BY id LIMIT ?2",
	[ST_PRUNE_COUNT_EV] = "SELECT count(*) FROM events WHERE incident_id = ?1",
	[ST_PRUNE_DEL_INC] = "DELETE FROM incidents WHERE id = ?1",
	[ST_PRUNE_DEL_EV] = "DELETE FROM events WHERE id IN (SELECT id FROM events"
			    " WHERE incident_id IS NULL AND at < ?1 ORDER BY id LIMIT ?2)",
	[ST_PRUNE_DEL_OB] = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
			    " WHERE (done_at IS NOT NULL AND done_at < ?1)"
			    "    OR (gave_up_at IS NOT NULL AND gave_up_at < ?1) LIMIT ?2)",
	/* Windows over before ?1 (cancelled, completed early, or past their end). */
	[ST_PRUNE_DEL_MAINT] = "DELETE FROM maintenances WHERE id IN (SELECT id FROM"
			       " maintenances WHERE coalesce(cancelled_at, completed_at, ends_at)"
			       " < ?1 LIMIT ?2)",
	/* Addresses nobody receives at any more, last asked for before ?1: unsubscribed,
	 * dropped after bounces, or never confirmed. Ids are never reused (AUTOINCREMENT),
	 * so an old link of a pruned row names nobody. */
	[ST_PRUNE_DEL_SUB] = "DELETE FROM subscribers WHERE id IN (SELECT id FROM subscribers"
			     " WHERE state IN ('unsubscribed', 'dropped', 'pending')"
			     "   AND requested_at < ?1 LIMIT ?2)",
	[ST_PAGE_CLEAR_OTHERS] = "UPDATE pages SET next_deadline = NULL WHERE incident_id = ?1"
				 " AND id != ?2 AND next_deadline IS NOT NULL",
	[ST_HB_WRITE] = "INSERT INTO heartbeats (daemon, pid, host, beat_at, interval_ms,"
			 " started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
			 " ON CONFLICT (daemon) DO UPDATE SET pid = excluded.pid,"
			 " host = excluded.host, beat_at = excluded.beat_at,"
			 " interval_ms = excluded.interval_ms, started_at = excluded.started_at",
	[ST_HB_LIST] = "SELECT daemon, pid, host, beat_at, interval_ms, started_at"
		       " FROM heartbeats ORDER BY daemon LIMIT ?1",
	[ST_EV_OF_TYPE] = "SELECT " EVENT_COLS " FROM events WHERE type = ?1"
			  " AND incident_id IS NULL ORDER BY id DESC LIMIT ?2",
	/* maintenance (lib/ilog/maintenance.c) */
	[ST_MAINT_INSERT] = "INSERT INTO maintenances (kind, cluster, title, message, starts_at,"
			    " ends_at, created_at, created_by)"
			    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_MAINT_BY_ID] = "SELECT " MAINT_COLS " FROM maintenances WHERE id = ?1",
	[ST_MAINT_SET] = "UPDATE maintenances SET started_at = ?2, completed_at = ?3,"
			 " cancelled_at = ?4, announced = ?5 WHERE id = ?1",
	[ST_MAINT_LIST_CURRENT] = "SELECT " MAINT_COLS " FROM maintenances"
				  " WHERE " MAINT_END " >= ?1 ORDER BY starts_at, id LIMIT ?2",
	[ST_MAINT_LIST_ALL] = "SELECT " MAINT_COLS " FROM maintenances ORDER BY id DESC"
			      " LIMIT ?1",
	[ST_MAINT_UNANNOUNCED] = "SELECT " MAINT_COLS " FROM maintenances"
				 " WHERE announced < 2 AND kind = 'public'"
				 "   AND cancelled_at IS NULL AND starts_at <= ?1"
				 "   AND (announced = 0 OR ends_at <= ?1)"
				 " ORDER BY starts_at, id LIMIT ?2",
	/* The configured windows' rows that are not over by schedule (their identity is
	 * created_by and starts_at; a small table, scanned). */
	[ST_MAINT_SOURCED] = "SELECT " MAINT_COLS " FROM maintenances"
			     " WHERE kind = 'public' AND ends_at > ?2"
			     "   AND substr(created_by, 1, length(?1)) = ?1"
			     " ORDER BY id LIMIT ?3",
	/* history (lib/ilog/history.c) */
	[ST_HIST_INSERT] = "INSERT INTO history (at, cluster, node, probes, slow, p50_us,"
			   " p99_us, connections, new_per_second)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_HIST_READ] = "SELECT at, cluster, node, probes, slow, p50_us, p99_us, connections,"
			 " new_per_second FROM history WHERE cluster = ?1 AND at BETWEEN ?2 AND ?3"
			 " ORDER BY at, node LIMIT ?4",
	[ST_HIST_PRUNE] = "DELETE FROM history WHERE id IN (SELECT id FROM history"
			  " WHERE at < ?1 ORDER BY at LIMIT ?2)",
	[ST_REM_CURRENT_EVIDENCE] = "SELECT evidence_event FROM remedies"
				    " WHERE incident_id = ?1 AND superseded_at IS NULL LIMIT 1",
	[ST_REM_SUPERSEDE] = "UPDATE remedies SET superseded_at = ?2"
			     " WHERE incident_id = ?1 AND superseded_at IS NULL",
	[ST_REM_INSERT] = "INSERT INTO remedies (incident_id, number, evidence_event, created_at,"
			  " verb, cluster, node, tenant, arg, sentence)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[ST_REM_LIST] = "SELECT " REMEDY_COLS " FROM remedies WHERE incident_id = ?1"
			" AND superseded_at IS NULL ORDER BY number LIMIT ?2",
	[ST_REM_GET] = "SELECT " REMEDY_COLS " FROM remedies WHERE incident_id = ?1"
		       " AND number = ?2 ORDER BY superseded_at IS NOT NULL, id DESC LIMIT 1",
	[ST_REM_BY_ID] = "SELECT " REMEDY_COLS " FROM remedies WHERE id = ?1",
	[ST_REM_CLAIM] = "UPDATE remedies SET run_at = ?2, run_by = ?3"
			 " WHERE id = ?1 AND run_at IS NULL AND superseded_at IS NULL",
	[ST_REM_DONE] = "UPDATE remedies SET run_event = ?2 WHERE id = ?1 AND run_at IS NOT NULL",
	/* subscribers (lib/ilog/subscribers.c) */
	[ST_SUB_BY_ADDRESS] = "SELECT " SUBSCRIBER_COLS " FROM subscribers"
			      " WHERE kind = ?1 AND address = ?2",
	[ST_SUB_BY_ID] = "SELECT " SUBSCRIBER_COLS " FROM subscribers WHERE id = ?1",
	[ST_SUB_LIVE_COUNT] = "SELECT count(*) FROM subscribers WHERE state = 'confirmed'"
			      " OR (state = 'pending' AND requested_at >= ?1)",
	[ST_SUB_INSERT] = "INSERT INTO subscribers (kind, address, components, state, nonce,"
			  " created_at, requested_at) VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?5)",
	[ST_SUB_RENEW] = "UPDATE subscribers SET state = 'pending', components = ?2, nonce = ?3,"
			 " created_at = ?4, confirmed_at = NULL, requested_at = ?4,"
			 " failures = 0 WHERE id = ?1",
	[ST_SUB_REQUESTED] = "UPDATE subscribers SET requested_at = ?2,"
			     " components = coalesce(?3, components) WHERE id = ?1",
	[ST_SUB_STATE] = "UPDATE subscribers SET state = ?2,"
			 " confirmed_at = coalesce(?3, confirmed_at) WHERE id = ?1",
	[ST_SUB_FAILURES] = "UPDATE subscribers SET failures = ?2 WHERE id = ?1",
	[ST_SUB_CONFIRMED] = "SELECT " SUBSCRIBER_COLS " FROM subscribers"
			     " WHERE state = 'confirmed' AND id > ?1 ORDER BY id LIMIT ?2",
	[ST_SUB_COUNT] = "SELECT state, count(*) FROM subscribers GROUP BY state",
	[ST_SUB_DUE] = "SELECT o.sink FROM outbox o WHERE o.id IN (SELECT min(id) FROM outbox"
		       " WHERE sink >= 'subscriber:' AND sink < 'subscriber;' AND " UNFINISHED
		       " GROUP BY sink) AND o.next_attempt_at <= ?1"
		       " ORDER BY o.next_attempt_at, o.id LIMIT ?2",
};
