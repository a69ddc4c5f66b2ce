/*
 * Unit tests of cache/backend.c: the proxy file (what it accepts and the errors it
 * gives, with their lines), and a backend's health (down after failure_limit
 * failures, retried after retry_timeout with one probe at a time, the wait doubling
 * up to retry_max, up again at a reply) on explicit clock values, and the eject walk
 * around the ring.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "cache/backend.h"
#include "log.h"

static int
load(struct proxy_conf *pc, const char *text, bool need_account, struct config_errors *errs)
{
	memset(errs, 0, sizeof(*errs));
	return proxy_conf_load_string(pc, "p.conf", text, need_account, errs);
}

/* Every error message of errs joined, for assertions on their text. */
static const char *
joined(const struct config_errors *errs)
{
	static char buf[4096];
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < errs->n && n < sizeof(buf) - 1; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s|", errs->msgs[i]);
	return buf;
}

static void
conf_reads_backends_settings_and_defaults(void **state)
{
	struct proxy_conf pc;
	struct config_errors errs;

	(void)state;
	assert_int_equal(load(&pc, "[proxy]\n"
	    "backend = 127.0.0.1:11311:1 b1\n"
	    "backend = 127.0.0.1:11211:3\n"
	    "backend = [::1]:11312:2 six\n"
	    "timeout = 400\n"
	    "retry_timeout = 2s\n"
	    "eject = yes\n", false, &errs), 0);
	assert_int_equal(pc.nbackends, 3);
	assert_string_equal(pc.backends[0].name, "b1");
	assert_string_equal(pc.backends[0].host, "127.0.0.1");
	assert_int_equal(pc.backends[0].port, 11311);
	assert_int_equal(pc.backends[0].weight, 1);
	/* Without a name, nutcracker's: the host alone on port 11211. */
	assert_string_equal(pc.backends[1].name, "127.0.0.1");
	assert_int_equal(pc.backends[1].weight, 3);
	assert_string_equal(pc.backends[2].host, "::1");
	assert_string_equal(pc.backends[2].name, "six");
	/* A bare number is milliseconds (nutcracker's); a unit may be given. */
	assert_int_equal(pc.timeout_ms, 400);
	assert_int_equal(pc.retry_ms, 2000);
	assert_true(pc.eject);
	/* Defaults. */
	assert_int_equal(pc.failure_limit, 2);
	assert_int_equal(pc.connections, 2);
	assert_int_equal(pc.queue_limit, 1024);
	assert_int_equal(pc.retry_max_ms, 30000);
	assert_int_equal(pc.tail_ms, 2);
	assert_string_equal(pc.account, "");
	proxy_conf_release(&pc);
	config_errors_release(&errs);
}

static void
conf_refuses_bad_files_with_each_problem_and_its_line(void **state)
{
	static const struct {
		const char *text;
		const char *want; /* a part of the errors */
	} cases[] = {
		{ "[proxy]\n", "no backend" },
		{ "[proxy]\nbackend = 127.0.0.1:11211\n", "p.conf:2: backend: '127.0.0.1:11211' is not" },
		{ "[proxy]\nbackend = :11211:1\n", "no host" },
		{ "[proxy]\nbackend = h:0:1\n", "port must be 1 to 65535" },
		{ "[proxy]\nbackend = h:1:0\n", "weight must be 1 to 10000" },
		{ "[proxy]\nbackend = h:1:10001\n", "weight must be 1 to 10000" },
		{ "[proxy]\nbackend = h:1:1 a\nbackend = g:2:1 a\n",
		    "p.conf:3: backend: the name 'a' is also on line 2" },
		{ "[proxy]\nbackend = h:1:1\ntimeout = soon\n", "p.conf:3: timeout: 'soon' is not" },
		{ "[proxy]\nbackend = h:1:1\ntimeout = 0\n", "timeout: from 1ms to 1h" },
		{ "[proxy]\nbackend = h:1:1\nconnections = 17\n", "connections" },
		{ "[proxy]\nbackend = h:1:1\nretry_timeout = 5s\nretry_max = 1s\n", "retry_max" },
		{ "[proxy]\nbackend = h:1:1\ncolour = blue\n", "unknown key 'colour'" },
		{ "[proxy]\nbackend = h:1:1\n[other]\nx = 1\n", "unknown key 'x' in [other]" },
		{ "[proxy]\nbackend = h:1:1\nthis is not a key\n", "p.conf:3: syntax error" },
		{ "[proxy]\nbackend = h:1:1\naccount = proxy\npassword = p\n", "`account` is for" },
	};
	struct proxy_conf pc;
	struct config_errors errs;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (load(&pc, cases[i].text, false, &errs) == 0)
			fail_msg("case %zu accepted: %s", i, cases[i].text);
		if (errs.n == 0 || strstr(joined(&errs), cases[i].want) == NULL)
			fail_msg("case %zu: errors '%s' do not say '%s'", i, joined(&errs),
			    cases[i].want);
		config_errors_release(&errs);
	}
}

/* With --tenants the proxy needs its account on the backends; the password is read
 * from its file and never appears in an error. */
static void
conf_needs_an_account_with_tenants_and_keeps_the_password_out_of_errors(void **state)
{
	struct proxy_conf pc;
	struct config_errors errs;
	char path[] = "/tmp/test_proxy_pw_XXXXXX";
	char text[512];
	FILE *fp;
	int fd;

	(void)state;
	assert_int_not_equal(load(&pc, "[proxy]\nbackend = h:1:1\n", true, &errs), 0);
	assert_non_null(strstr(joined(&errs), "needs `account`"));
	config_errors_release(&errs);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs("s3cret-password-of-the-proxy\n", fp);
	fclose(fp);
	snprintf(text, sizeof(text), "[proxy]\nbackend = h:1:1\naccount = px\n"
	    "password_file = %s\n", path);
	assert_int_equal(load(&pc, text, true, &errs), 0);
	assert_string_equal(pc.account, "px");
	assert_string_equal(pc.password, "s3cret-password-of-the-proxy");
	proxy_conf_release(&pc);
	assert_string_equal(pc.password, "");
	config_errors_release(&errs);

	/* A file that is wrong elsewhere: the errors never quote the password. */
	assert_int_not_equal(load(&pc, "[proxy]\nbackend = h:1:1\npassword = hunter2-hunter2\n"
	    "timeout = never\n", true, &errs), 0);
	assert_non_null(strstr(joined(&errs), "timeout"));
	assert_null(strstr(joined(&errs), "hunter2"));
	config_errors_release(&errs);
	unlink(path);
}

static struct pool *
pool_of(const char *text)
{
	struct proxy_conf pc;
	struct config_errors errs;
	char err[256];
	struct pool *p;

	assert_int_equal(load(&pc, text, false, &errs), 0);
	config_errors_release(&errs);
	p = pool_new(&pc, NULL, 1, err, sizeof(err));
	if (p == NULL)
		fail_msg("pool_new: %s", err);
	return p;
}

static void
health_goes_down_at_the_limit_retries_one_probe_with_backoff_and_comes_back(void **state)
{
	struct pool *p = pool_of("[proxy]\nbackend = 127.0.0.1:1:1 b\nfailure_limit = 3\n"
	    "retry_timeout = 100\nretry_max = 350\n");
	struct backend *b = p->b[0];
	const struct proxy_conf *conf = &p->conf;
	bool probe;

	(void)state;
	/* Failures below the limit, and a reply in between, keep it up. */
	backend_failure(b, conf, 1000, "refused");
	backend_failure(b, conf, 1000, "refused");
	backend_success(b);
	backend_failure(b, conf, 1000, "refused");
	backend_failure(b, conf, 1000, "refused");
	assert_int_equal(atomic_load(&b->state), BACKEND_UP);
	assert_true(backend_usable(b, 1000, &probe));
	assert_false(probe);
	/* The third in a row takes it down until now + retry_timeout. */
	backend_failure(b, conf, 1000, "connect: refused");
	assert_int_equal(atomic_load(&b->state), BACKEND_DOWN);
	assert_string_equal(b->last_error, "connect: refused");
	assert_false(backend_usable(b, 1099, &probe));
	/* Due: exactly one caller is the probe; the others still fail fast. */
	assert_true(backend_usable(b, 1100, &probe));
	assert_true(probe);
	assert_false(backend_usable(b, 1100, &probe));
	assert_int_equal(atomic_load(&b->retries), 1);
	/* The probe fails: the wait doubles (200), then again (400 -> capped at 350). */
	backend_failure(b, conf, 1100, "refused");
	assert_false(backend_usable(b, 1299, &probe));
	assert_true(backend_usable(b, 1300, &probe) && probe);
	backend_failure(b, conf, 1300, "refused");
	assert_false(backend_usable(b, 1649, &probe));
	assert_true(backend_usable(b, 1650, &probe) && probe);
	/* A reply: up, for everyone, with a fresh count. */
	backend_success(b);
	assert_int_equal(atomic_load(&b->state), BACKEND_UP);
	assert_int_equal(atomic_load(&b->down_since), 0);
	assert_true(backend_usable(b, 1650, &probe));
	assert_false(probe);
	backend_failure(b, conf, 2000, "refused");
	assert_int_equal(atomic_load(&b->state), BACKEND_UP);
	pool_put(p);
}

static void
pick_keeps_keys_of_a_down_backend_unless_eject_then_walks_the_ring(void **state)
{
	const char *backends = "backend = 127.0.0.1:1:1 a\nbackend = 127.0.0.1:2:1 b\n"
	    "backend = 127.0.0.1:3:1 c\n";
	char text[512];
	struct pool *keep, *eject;
	uint32_t hash;
	int owner, moved = 0, kept = 0, i;

	(void)state;
	snprintf(text, sizeof(text), "[proxy]\n%sfailure_limit = 1\nretry_timeout = 100\n",
	    backends);
	keep = pool_of(text);
	snprintf(text, sizeof(text), "[proxy]\n%sfailure_limit = 1\nretry_timeout = 100\n"
	    "eject = yes\n", backends);
	eject = pool_of(text);
	backend_failure(keep->b[1], &keep->conf, 1000, "refused");
	backend_failure(eject->b[1], &eject->conf, 1000, "refused");
	for (i = 0; i < 3000; i++) {
		char key[32];
		int n = snprintf(key, sizeof(key), "key:%d", i);
		assert_int_equal(ketama_hash(&keep->ring, key, (size_t)n, &hash), 0);
		owner = ketama_lookup_hash(&keep->ring, hash);
		/* Without eject a key stays with its backend, down or not. */
		assert_int_equal(pool_pick(keep, hash, 1050), owner);
		if (owner != 1) {
			/* The others' keys never move. */
			assert_int_equal(pool_pick(eject, hash, 1050), owner);
			kept++;
			continue;
		}
		/* The down backend's keys go to the next point's backend that is up ... */
		assert_int_not_equal(pool_pick(eject, hash, 1050), 1);
		/* ... and come back when its retry is due (that is how it is tried). */
		assert_int_equal(pool_pick(eject, hash, 1100), 1);
		moved++;
	}
	assert_true(moved > 500 && kept > 1000);
	/* Every backend down: nowhere to go. */
	backend_failure(eject->b[0], &eject->conf, 1000, "refused");
	backend_failure(eject->b[2], &eject->conf, 1000, "refused");
	assert_int_equal(ketama_hash(&eject->ring, "x", 1, &hash), 0);
	assert_int_equal(pool_pick(eject, hash, 1050), -1);
	pool_put(keep);
	pool_put(eject);
}

static void
latency_quantiles_come_from_the_histogram_and_tail_share_counts(void **state)
{
	struct pool *p = pool_of("[proxy]\nbackend = 127.0.0.1:1:1 b\n");
	struct backend *b = p->b[0];
	uint64_t q50, q99;
	int i;

	(void)state;
	for (i = 0; i < 98; i++)
		backend_latency(b, 300, 2000);
	backend_latency(b, 9000, 2000);
	backend_latency(b, 12000, 2000);
	q50 = backend_latency_quantile(b, 0.50);
	q99 = backend_latency_quantile(b, 0.99);
	assert_true(q50 >= 256 && q50 < 512);
	assert_true(q99 >= 8192 && q99 < 16384);
	assert_int_equal(atomic_load(&b->replies), 100);
	assert_int_equal(atomic_load(&b->tail), 2);
	pool_put(p);
}

/* A reload's pool keeps the backends it shares with the old one (same name, address
 * and weight): their health and counters carry over; others start afresh. */
static void
reload_keeps_the_health_of_unchanged_backends(void **state)
{
	struct pool *old = pool_of("[proxy]\nbackend = 127.0.0.1:1:1 a\nbackend = 127.0.0.1:2:1 b\n"
	    "failure_limit = 1\n");
	struct proxy_conf pc;
	struct config_errors errs;
	struct pool *nw;
	char err[256];

	(void)state;
	backend_failure(old->b[0], &old->conf, 1000, "refused");
	atomic_store(&old->b[1]->requests, 42);
	assert_int_equal(load(&pc, "[proxy]\nbackend = 127.0.0.1:1:1 a\n"
	    "backend = 127.0.0.1:2:2 b\nbackend = 127.0.0.1:3:1 c\n", false, &errs), 0);
	config_errors_release(&errs);
	nw = pool_new(&pc, old, old->gen + 1, err, sizeof(err));
	assert_non_null(nw);
	assert_ptr_equal(nw->b[0], old->b[0]);
	assert_int_equal(atomic_load(&nw->b[0]->state), BACKEND_DOWN);
	assert_ptr_not_equal(nw->b[1], old->b[1]); /* its weight changed */
	assert_int_equal(atomic_load(&nw->b[1]->requests), 0);
	pool_put(old);
	/* The shared backend outlives the old pool. */
	assert_string_equal(nw->b[0]->name, "a");
	pool_put(nw);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(conf_reads_backends_settings_and_defaults),
		cmocka_unit_test(conf_refuses_bad_files_with_each_problem_and_its_line),
		cmocka_unit_test(conf_needs_an_account_with_tenants_and_keeps_the_password_out_of_errors),
		cmocka_unit_test(health_goes_down_at_the_limit_retries_one_probe_with_backoff_and_comes_back),
		cmocka_unit_test(pick_keeps_keys_of_a_down_backend_unless_eject_then_walks_the_ring),
		cmocka_unit_test(latency_quantiles_come_from_the_histogram_and_tail_share_counts),
		cmocka_unit_test(reload_keeps_the_health_of_unchanged_backends),
	};

	log_init("test", 1, LOG_LEVEL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
