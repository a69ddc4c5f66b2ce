/*
 * sources — mcd's connections by source address: for each prefix a client connects
 * from (IPv4 /32 and its /24, IPv6 /64), new connections (an estimate), their rate,
 * current and unauthenticated connections, logins, refusals and the
 * requests-per-connection distribution; and the per-source admission limits.
 *
 * Memory is fixed whatever the number of sources: the prefixes are the keys of a
 * space-saving structure (lib/heavy.h, which says why space-saving rather than
 * count-min) of SOURCES_CAPACITY slots, and each slot carries a struct
 * source_record. A flood of distinct addresses evicts the prefixes with the fewest
 * new connections; a heavy source (more than N / capacity of the N prefixes
 * offered) always keeps its slot, and its new_conns overestimates by at most its
 * count_error.
 *
 * Gauges (curr, unauth) live in the record. A connection remembers each of its
 * records as (slot, generation) (struct source_ref); when it logs in or closes,
 * it touches a record only if the slot still belongs to the same prefix (the
 * generation is unchanged). So an evicted record's gauges are simply gone: its
 * connections stop counting against that source (they are not subtracted from the
 * slot's new owner, which never goes negative), and if the source comes back it
 * starts again from zero. Eviction takes the smallest new-connection count, so a
 * source near its limit (many connections) is the last to lose its slot.
 *
 * Threads: the accept loop (one thread) offers every new connection; workers log
 * connections in and close them; stats readers list. One mutex serialises them all:
 * each connection takes it a few times in its life (accept, login, close), never
 * per request.
 */
#ifndef MCOPS_SOURCES_H
#define MCOPS_SOURCES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "connreqs.h"
#include "heavy.h"
#include "rate.h"

#define SOURCES_CAPACITY 4096    /* prefixes tracked: under 1 MB with their records */
#define SOURCE_KEY_LEN 18        /* family, prefix length, 16 address bytes */
#define SOURCE_PREFIX_MAX 64     /* "ffff:...:ffff/64" and a NUL fit */
#define SOURCES_PER_CONN 2       /* IPv4: the /32 and the /24; IPv6: the /64 */
#define SOURCE_V4_HOST 32
#define SOURCE_V4_NET 24
#define SOURCE_V6_NET 64

struct source_record {
	uint32_t curr;      /* gauge: its connections now open */
	uint32_t unauth;    /* gauge: those not logged in (on listeners that ask) */
	uint64_t auth_ok, auth_failed, rejected;
	uint64_t conn_reqs[CONNREQS_BUCKETS];
	struct rate_window rate;     /* new connections */
	struct token_bucket bucket;  /* --source-conn-rate (the /32 or /64 only) */
};

struct sources {
	pthread_mutex_t lock;
	struct heavy heavy;
	struct source_record *records; /* [capacity], beside heavy's slots */
	uint64_t new_conns;            /* connections offered (one per connection) */
	bool ready;
};

/* What a connection remembers of its records (see the top of this header). */
struct source_ref {
	uint32_t slot[SOURCES_PER_CONN], gen[SOURCES_PER_CONN];
	uint8_t n;          /* records: 0 = not counted */
	bool unauth;        /* counted in their unauth gauges until it logs in */
};

struct source_limits {
	uint32_t max_unauth; /* 0 = none */
	uint32_t conn_rate;  /* new connections per second; burst = the rate; 0 = none */
};

enum source_verdict {
	SOURCE_ADMIT,
	SOURCE_REFUSE_UNAUTH,  /* at max_unauth unauthenticated connections */
	SOURCE_REFUSE_RATE,    /* over conn_rate */
};

/* capacity slots (1..HEAVY_CAPACITY_MAX), seed for the index hash. 0 or -1. */
int sources_init(struct sources *s, size_t capacity, uint64_t seed);
void sources_release(struct sources *s);

/*
 * The keys of an address: IPv4 (and IPv4-mapped IPv6, normalised to IPv4) gives
 * its /32 then its /24, IPv6 its /64. Returns the number of keys, 0 for another
 * family.
 */
int source_keys(const struct sockaddr *sa, socklen_t salen,
    uint8_t keys[SOURCES_PER_CONN][SOURCE_KEY_LEN]);
/* A key as "10.1.2.0/24" or "2001:db8::/64" into buf (SOURCE_PREFIX_MAX is enough). */
void source_key_format(const uint8_t *key, char *buf, size_t buflen);

/*
 * A new connection from sa at now: counts it under each of its prefixes, then
 * applies lim to the first (/32 or /64). On SOURCE_ADMIT the connection is in
 * their curr gauges (and unauth ones if `unauth`) and *ref says where; otherwise
 * the refusal is counted (rejected) and *ref is empty. An address of no known
 * family is admitted uncounted.
 */
enum source_verdict sources_accept(struct sources *s, const struct sockaddr *sa,
    socklen_t salen, int64_t now, const struct source_limits *lim, bool unauth,
    struct source_ref *ref);

/* A login on ref's connection: ok (leaves the unauth gauges) or failed. */
void sources_login(struct sources *s, struct source_ref *ref, bool ok);
/* ref's connection was refused by a tenant's limit at login. */
void sources_rejected(struct sources *s, const struct source_ref *ref);
/* ref's connection closed, having served reqs requests after a login (logged_in);
 * ref is emptied. */
void sources_closed(struct sources *s, struct source_ref *ref, uint64_t reqs, bool logged_in);

/* One tracked prefix as the stats show it. */
struct source_view {
	uint8_t key[SOURCE_KEY_LEN];
	uint64_t new_conns, count_error, per_sec;
	struct source_record rec;
};

struct source_totals {
	size_t tracked, capacity, memory;
	uint64_t new_conns;
};

/*
 * Copies every tracked prefix into out[0..max) ordered by new connections per
 * second, then new connections (most first); returns how many. *tot receives the
 * totals.
 */
size_t sources_list(struct sources *s, int64_t now, struct source_view *out, size_t max,
    struct source_totals *tot);

/* True for a key of an address (/32 or IPv6 /64) rather than a /24 network. */
bool source_key_is_address(const uint8_t *key);

#endif
