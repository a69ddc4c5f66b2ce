/*
 * Unit tests of monitor/monconfig: defaults, units, every bad key reported with its
 * line in one pass, the relations between the daemon's keys and the detectors',
 * and the keys of other sections left alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "monitor/monconfig.h"

static const char topology[] =
    "[cluster c1]\n"
    "[node n1]\ncluster = c1\nclient = 127.0.0.1:11211\nadmin = 127.0.0.1:11311\n";

struct loaded {
	struct monconfig cfg;
	struct config_errors errs;
	int rc;
};

static void
load(struct loaded *l, const char *monitor_section)
{
	char text[4096];

	snprintf(text, sizeof(text), "%s%s", monitor_section, topology);
	memset(l, 0, sizeof(*l));
	l->rc = monconfig_load_string(&l->cfg, "t.conf", text, &l->errs);
}

static void
unload(struct loaded *l)
{
	monconfig_release(&l->cfg);
	config_errors_release(&l->errs);
}

static bool
has_error(const struct loaded *l, const char *text)
{
	for (size_t i = 0; i < l->errs.n; i++) {
		if (strstr(l->errs.msgs[i], text) != NULL)
			return true;
	}
	return false;
}

static void
absent_keys_give_the_documented_defaults(void **state)
{
	struct loaded l;
	struct monconfig_settings d;

	(void)state;
	load(&l, "");
	assert_int_equal(l.rc, 0);
	monconfig_defaults(&d);
	assert_int_equal(l.cfg.set.poll_interval_ms, 1000);
	assert_int_equal(l.cfg.set.poll_timeout_ms, 1000);
	assert_true(l.cfg.set.probe_rate == 10);
	assert_int_equal(l.cfg.set.probe_timeout_ms, 1000);
	assert_int_equal(l.cfg.set.connect_timeout_ms, 1000);
	assert_int_equal(l.cfg.set.evaluate_interval_ms, 1000);
	assert_int_equal(l.cfg.set.resolve_hold_ms, 10000);
	assert_int_equal(l.cfg.set.evidence_interval_ms, 300000);
	assert_string_equal(l.cfg.set.canary_key, "mcmon:canary");
	assert_true(l.cfg.set.metrics_enabled);
	assert_string_equal(l.cfg.set.metrics_host, "127.0.0.1");
	assert_int_equal(l.cfg.set.metrics_port, 9150);
	assert_string_equal(l.cfg.set.state_file, "var/mcmon.json");
	assert_string_equal(l.cfg.set.db_path, "var/mcops.db");
	assert_memory_equal(&l.cfg.set, &d, sizeof(d));
	assert_int_equal(l.cfg.detect.tail_threshold_us, 5000);
	assert_int_equal(l.cfg.clusters.nnodes, 1);
	assert_int_equal(monconfig_probe_period_ms(&l.cfg.set), 100);
	unload(&l);
}

static void
keys_are_read_with_their_units(void **state)
{
	struct loaded l;

	(void)state;
	load(&l, "[log]\npath = /srv/mcops/log.db\n"
		 "[monitor]\npoll_interval = 2s\npoll_timeout = 750ms\nprobe_rate = 8\n"
		 "probe_timeout = 250ms\nconnect_timeout = 3s\nevaluate_interval = 500ms\n"
		 "resolve_hold = 1m\nevidence_interval = 0\ncanary_key = ops/canary\n"
		 "metrics_listen = [::1]:9999\nstate_file = off\n");
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.cfg.set.poll_interval_ms, 2000);
	assert_int_equal(l.cfg.set.poll_timeout_ms, 750);
	assert_true(l.cfg.set.probe_rate == 8);
	assert_int_equal(monconfig_probe_period_ms(&l.cfg.set), 125);
	assert_int_equal(l.cfg.set.probe_timeout_ms, 250);
	assert_int_equal(l.cfg.set.connect_timeout_ms, 3000);
	assert_int_equal(l.cfg.set.evaluate_interval_ms, 500);
	assert_int_equal(l.cfg.set.resolve_hold_ms, 60000);
	assert_int_equal(l.cfg.set.evidence_interval_ms, 0);
	assert_string_equal(l.cfg.set.canary_key, "ops/canary");
	assert_string_equal(l.cfg.set.metrics_host, "::1");
	assert_int_equal(l.cfg.set.metrics_port, 9999);
	assert_string_equal(l.cfg.set.state_file, "");
	assert_string_equal(l.cfg.set.db_path, "/srv/mcops/log.db");
	unload(&l);

	/* A shorter poll interval brings the timeout down with it unless it is set. */
	load(&l, "[monitor]\npoll_interval = 300ms\nmetrics_listen = off\n");
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.cfg.set.poll_timeout_ms, 300);
	assert_false(l.cfg.set.metrics_enabled);
	unload(&l);
}

static void
every_bad_key_is_reported_with_its_line(void **state)
{
	struct loaded l;

	(void)state;
	load(&l, "[monitor]\n"
		 "poll_interval = 10ms\n"          /* 2: below 100 ms */
		 "probe_rate = lots\n"             /* 3 */
		 "probe_timeout = 2m\n"            /* 4: above 1 m */
		 "canary_key = has space\n"        /* 5 */
		 "metrics_listen = localhost\n"    /* 6: no port */
		 "state_file = \n"                 /* 7: empty */
		 "tail_fraction = 2\n"             /* 8: a detector key */
		 "colour = blue\n"                 /* 9: unknown */
		 "[log]\npath =\n");               /* 11 */
	assert_int_equal(l.rc, -1);
	assert_true(has_error(&l, "t.conf:2: poll_interval"));
	assert_true(has_error(&l, "t.conf:3:"));
	assert_true(has_error(&l, "t.conf:4: probe_timeout"));
	assert_true(has_error(&l, "t.conf:5: canary_key"));
	assert_true(has_error(&l, "t.conf:6: metrics_listen"));
	assert_true(has_error(&l, "t.conf:7: state_file"));
	assert_true(has_error(&l, "t.conf:8:"));
	assert_true(has_error(&l, "t.conf:9: unknown key 'colour'"));
	assert_true(has_error(&l, "t.conf:11: path"));
	/* A failed load holds nothing. */
	assert_int_equal(l.cfg.clusters.nnodes, 0);
	unload(&l);
}

static void
relations_between_keys_are_checked(void **state)
{
	struct loaded l;

	(void)state;
	load(&l, "[monitor]\npoll_interval = 1s\npoll_timeout = 2s\n");
	assert_int_equal(l.rc, -1);
	assert_true(has_error(&l, "t.conf:3: poll_timeout: 2000 ms is longer than poll_interval"));
	unload(&l);

	load(&l, "[monitor]\ntail_threshold = 50ms\nprobe_timeout = 40ms\n");
	assert_int_equal(l.rc, -1);
	assert_true(has_error(&l, "t.conf:3: probe_timeout: 40 ms must be above tail_threshold"));
	unload(&l);

	load(&l, "[monitor]\nevaluate_interval = 1500ms\n");
	assert_int_equal(l.rc, -1);
	assert_true(has_error(&l, "t.conf:2: evaluate_interval: 1500 ms must be at most half of "
				  "down_silence"));
	unload(&l);

	/* Too few probes to ever fill the tail windows. */
	load(&l, "[monitor]\nprobe_rate = 2\n");
	assert_int_equal(l.rc, -1);
	assert_true(has_error(&l, "t.conf:2: probe_rate: tail_short_window"));
	unload(&l);

	/* down_silence off: any evaluation interval will do. */
	load(&l, "[monitor]\ndown_silence = 0\nevaluate_interval = 10s\n");
	assert_int_equal(l.rc, 0);
	unload(&l);
}

static void
topology_errors_and_other_sections_keys(void **state)
{
	struct loaded l;
	struct config_errors errs = { 0 };
	struct monconfig cfg;

	(void)state;
	/* mcd's tls key in [node] and other daemons' sections are not the monitor's. */
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(monconfig_load_string(&cfg, "t.conf",
	    "[mcd]\nthreads = 2\n[alerter]\njid = x@y\n[cluster c1]\n[node n1]\ncluster = c1\n"
	    "client = 127.0.0.1:1\ntls = 127.0.0.1:2\n", &errs), 0);
	assert_int_equal(errs.n, 0);
	monconfig_release(&cfg);

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(monconfig_load_string(&cfg, "t.conf",
	    "[cluster c1]\nbogus = 1\n[node n1]\ncluster = c2\nclient = nowhere\n", &errs), -1);
	assert_true(errs.n >= 3);
	config_errors_release(&errs);

	load(&l, "[monitor]\n[monitor\n");
	assert_int_equal(l.rc, -1);
	assert_true(l.errs.n >= 1);
	unload(&l);
	monconfig_release(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(absent_keys_give_the_documented_defaults),
		cmocka_unit_test(keys_are_read_with_their_units),
		cmocka_unit_test(every_bad_key_is_reported_with_its_line),
		cmocka_unit_test(relations_between_keys_are_checked),
		cmocka_unit_test(topology_errors_and_other_sections_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
