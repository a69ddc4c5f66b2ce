/*
 * mcmon — the mcops monitor: polls every node, probes it, detects connection
 * storms, latency tails and dead nodes, keeps the incident log in line, serves
 * /metrics. See docs/monitor.md and mcmon.h.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "kinds.h"
#include "log.h"
#include "sdnotify.h"
#include "mcmon.h"
#include "paths.h"

static void
usage(FILE *fp)
{
	size_t k;

	fprintf(fp,
	    "usage: mcmon [-f CONFIG] [-n] [-d] [-h]\n"
	    "\n"
	    "Watches the nodes of every [cluster] in CONFIG: admin stats and the kernel's\n"
	    "view of connections, latency probes on a canary key; opens and resolves\n"
	    "incidents (");
	for (k = 0; k < kinds_count(); k++) /* lib/kinds.h */
		fprintf(fp, "%s%s", k > 0 ? ", " : "", kinds_at(k)->name);
	fprintf(fp,
	    ") in the incident log;\n"
	    "serves Prometheus /metrics; writes its view for 'mctl status'.\n"
	    "\n"
	    "  -f CONFIG  configuration file (default $MCOPS_CONFIG or etc/mcops.conf)\n"
	    "  -n         check the configuration and exit (0 ok, 2 with every problem)\n"
	    "  -d         debug logging\n"
	    "  -h         this help\n"
	    "\n"
	    "It runs in the foreground and logs to stderr (run it under a supervisor).\n"
	    "Signals: SIGHUP re-reads the configuration (the running one stays if the new\n"
	    "one has errors); SIGTERM or SIGINT stop it.\n");
}

int
main(int argc, char **argv)
{
	static struct mcmon m; /* large; one per process, built here and passed down */
	struct config_errors errs = { 0 };
	struct monconfig *cfg;
	const char *path = getenv("MCOPS_CONFIG");
	char err[MCMON_ERR_MAX];
	bool check_only = false, debug = false;
	size_t i;
	int ch, rc;

	if (path == NULL)
		path = MCOPS_CONFIG_PATH;
	while ((ch = getopt(argc, argv, "f:ndh")) != -1) {
		switch (ch) {
		case 'f': path = optarg; break;
		case 'n': check_only = true; break;
		case 'd': debug = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mcmon: unexpected argument '%s' (see mcmon -h)\n", argv[optind]);
		return 2;
	}
	log_init("mcmon", 1, debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		log_fatal("out of memory");
	if (monconfig_load(cfg, path, &errs) < 0) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		if (errs.dropped > 0)
			fprintf(stderr, "... and %zu more errors\n", errs.dropped);
		config_errors_release(&errs);
		free(cfg);
		return 2;
	}
	config_errors_release(&errs);
	if (check_only) {
		printf("configuration ok: %zu clusters, %zu nodes\n", cfg->clusters.n,
		    cfg->clusters.nnodes);
		monconfig_release(cfg);
		free(cfg);
		return 0;
	}
	if (mcmon_setup(&m, path, cfg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		mcmon_teardown(&m);
		return 1;
	}
	sdnotify_ready(); /* /metrics listens, the state is loaded */
	rc = mcmon_run(&m);
	mcmon_teardown(&m);
	log_info("stopped");
	return rc;
}
