/*
 * mcalert — the mcops pager: pages the on-call engineer over XMPP and escalates
 * until someone acknowledges (docs/alerter.md).
 *
 *   mcalert [-f CONFIG] [-n] [-d] [-h]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "alerter.h"
#include "log.h"
#include "sdnotify.h"
#include "paths.h"

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag;

static void
on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
on_hup(int sig)
{
	(void)sig;
	reload_flag = 1;
}

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mcalert [-f CONFIG] [-n] [-d] [-h]\n"
	    "\n"
	    "Pages the on-call engineer over XMPP, records delivery and acknowledgement in\n"
	    "the incident log, and escalates on deadlines until someone acknowledges.\n"
	    "\n"
	    "  -f CONFIG  configuration (default $MCOPS_CONFIG or etc/mcops.conf):\n"
	    "             [alerter], [oncall], [escalation], [maintenance NAME]\n"
	    "  -n         check the configuration and exit\n"
	    "  -d         debug logging (libstrophe's too)\n"
	    "  -h         this help\n"
	    "\n"
	    "Signals: SIGHUP re-reads the configuration (an invalid one is refused and the\n"
	    "running one kept); SIGTERM and SIGINT stop.\n");
}

int
main(int argc, char **argv)
{
	const char *config = getenv("MCOPS_CONFIG");
	struct alerter_settings *set;
	struct config_errors errs = { 0 };
	struct sigaction sa;
	struct alerter *a;
	bool check = false, debug = false;
	char err[512];
	size_t i;
	int ch, rc;

	if (config == NULL)
		config = MCOPS_CONFIG_PATH;
	while ((ch = getopt(argc, argv, "f:ndh")) != -1) {
		switch (ch) {
		case 'f': config = optarg; break;
		case 'n': check = true; break;
		case 'd': debug = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mcalert: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	log_init("mcalert", 1, debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if ((set = calloc(1, sizeof(*set))) == NULL)
		log_fatal("out of memory");
	if (settings_load(set, config, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			log_err("%s", errs.msgs[i]);
		if (errs.dropped > 0)
			log_err("... and %zu more errors", errs.dropped);
		config_errors_release(&errs);
		free(set);
		return 2;
	}
	config_errors_release(&errs);
	if (check) {
		printf("configuration ok\n");
		settings_release(set);
		free(set);
		return 0;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((a = alerter_new(set, debug, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		curl_global_cleanup();
		return 1;
	}
	sdnotify_ready(); /* the log is open, the intake listens */
	rc = alerter_run(a, &stop_flag, &reload_flag, config);
	alerter_free(a);
	curl_global_cleanup();
	log_info("stopped");
	return rc;
}
