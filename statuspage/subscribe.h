/*
 * subscribe — the status page's subscribers, mcstatus's side: the [subscribers]
 * section, the form's parser, the HTTP endpoints (POST /subscribe, GET /confirm,
 * GET and POST /unsubscribe) and the fan-out of each public update into the
 * subscribers' outbox queues. mailer.h sends what is queued.
 *
 *     [subscribers]                  ; present = the form is on the page
 *     secret_file = etc/secrets/subscribers.key ; signs every link (required)
 *     link_url = https://status.example.com/    ; mcstatus's public base (default:
 *                                               ; [statuspage] url)
 *     smtp_url = smtp://127.0.0.1:25 ; the relay (smtp:// with STARTTLS when offered,
 *                                    ; or smtps://) (required)
 *     smtp_from = status@example.com ; the sender (required)
 *     smtp_user = status             ; optional, with smtp_password_file
 *     smtp_password_file = etc/secrets/smtp.pass
 *     smtp_ca_file = /etc/ssl/relay.pem ; optional: the CA the relay's certificate is
 *                                    ; checked against (default: the system's)
 *     webhooks = no | https | any    ; webhook subscribers (default no)
 *     confirm_lifetime = 24h         ; how long a confirmation link works
 *     resend_after = 10m             ; one confirmation per address per this
 *     bounce_limit = 3               ; permanent failures in a row that drop one
 *     max = 100000                   ; subscribers confirmed, or pending with a live link
 *     form_rate = 10                 ; form posts per minute per source address
 *     form_burst = 5
 *     rate = 10                      ; messages sent per second
 *     timeout = 30s                  ; per message
 *     retry_base = 30s, retry_max = 1h ; backoff of temporary failures
 *
 * Privacy: a POST is answered the same whether the address is new, pending or
 * confirmed (and, when it is confirmed, nothing is sent); no page, message or error
 * names another subscriber. Flood control: form_rate per source (an IPv6 source is
 * its /64), one confirmation per address per resend_after (429 for both), the total
 * max (503), and a body cap (SUBS_BODY_MAX: the server's body cap while subscriptions
 * are on).
 */
#ifndef MCSTATUS_SUBSCRIBE_H
#define MCSTATUS_SUBSCRIBE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "httpd.h"
#include "ilog.h"
#include "ilog_outbox.h"
#include "ilog_subscribers.h"
#include "statussite/statussite.h"

#define SUBS_BODY_MAX 8192        /* a form post: 64 components fit */
#define SUBS_SOURCES 4096         /* per-source buckets kept (a fixed table) */
#define SUBS_USER_MAX 256
#define SUBS_EMAIL_MAX 254        /* RFC 5321 path limit */
#define SUBS_WEBHOOK_MAX 300
#define SUBS_FANOUT_PAGE 500      /* subscribers read per list call of a fan-out */

struct subs_conf {
	bool on;                          /* a [subscribers] section */
	char secret[CONFIG_SECRET_MAX];
	char smtp_url[SP_URL_MAX];
	char from[SUBS_EMAIL_MAX + 1];
	char user[SUBS_USER_MAX];
	char password[CONFIG_SECRET_MAX];
	char ca_file[SP_PATH_MAX];        /* "" = the system's CAs */
	int64_t confirm_ms;
	int64_t window_ms;
	unsigned bounce_limit;
	uint64_t max;
	uint32_t form_rate, form_burst;   /* per minute per source */
	double rate;                      /* messages per second */
	int64_t timeout_ms;
	struct ilog_backoff backoff;
};

bool subs_owns(const char *section);
/* [subscribers] into out (zeroed: off without the section); problems into errs.
 * sp: the loaded page (its link_url, listen). 0 or -1. */
int subs_load(struct config *cfg, const struct sp_config *sp, struct subs_conf *out,
    struct config_errors *errs);

/* --- the form (pure) ---------------------------------------------------------------- */

struct subs_form {
	enum ilog_sub_kind kind;
	char address[ILOG_SUB_ADDRESS_MAX + 1];
	char components[ILOG_SUB_COMPONENTS_MAX + 1]; /* ids in the page's order; "" = all */
};

/*
 * Parses an application/x-www-form-urlencoded body: email=ADDRESS or webhook=URL
 * (exactly one), component=ID repeated (each one of sp's components, at most once).
 * Other fields are ignored (a button's name). 0, or -1 with why: a sentence for the
 * visitor, which never repeats the input.
 */
int subs_parse_form(const char *body, size_t len, const struct sp_config *sp,
    struct subs_form *out, char *why, size_t whylen);
/* An address mail can go to: local@domain, dot-atoms only (no quoted local part, no
 * address literal), at most SUBS_EMAIL_MAX bytes. */
bool subs_email_valid(const char *s);

/* --- the endpoints ------------------------------------------------------------------- */

struct subs;

/* The runtime (sp and conf borrowed: they must live as long as it, or until the next
 * subs_configure). log is used under dblock. */
struct subs *subs_new(struct ilog *log, pthread_mutex_t *dblock);
void subs_configure(struct subs *s, const struct subs_conf *conf, const struct sp_config *sp);
void subs_free(struct subs *s);
/* The time the per-source buckets see (ms); a test's fake clock. */
void subs_set_clock(struct subs *s, int64_t (*now_ms)(void));

/*
 * Answers the subscription endpoints; false (res untouched) for any other path, or
 * when subscriptions are off. *queued (may be NULL) is set when a message was queued
 * (the mailer should wake).
 */
bool subs_handle(struct subs *s, const struct httpd_request *req,
    struct httpd_response *res, bool *queued);

/*
 * Queues the public update of event_id (payload: the sinks' payload) for every
 * confirmed subscriber of one of the components in mask, and for every subscriber of
 * all components (whatever the mask, 0 included). Idempotent per
 * (subscriber, event): a replay queues nothing twice. Called under dblock. 0, or -1
 * with err (the caller retries the batch).
 */
int subs_fanout(struct subs *s, int64_t event_id, uint64_t mask, const char *payload,
    size_t *queued, char *err, size_t errlen);

/* The components a public payload (statussite.h's payload: an incident's or a
 * maintenance's) affects, as a mask of sp's components: its "components" ids. */
uint64_t subs_payload_mask(const struct sp_config *sp, const char *payload);

/* The mask of a subscriber's components text under sp ("" = all: ~0). */
uint64_t subs_components_mask(const struct sp_config *sp, const char *components);

#endif
