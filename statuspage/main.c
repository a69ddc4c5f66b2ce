/*
 * mcstatus — the mcops status publisher: turns the incident log into the public status
 * page and pushes every public change to the configured sinks (docs/statuspage.md).
 *
 *   mcstatus [-f CONFIG] [-n] [-d] [-h]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <curl/curl.h>

#include "log.h"
#include "sdnotify.h"
#include "mcstatus.h"
#include "paths.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mcstatus [-f CONFIG] [-n] [-d] [-h]\n"
	    "\n"
	    "Renders the public status page (HTML, Statuspage v2 JSON, Atom feed) from the\n"
	    "incident log within a second of a public change, and pushes every public change\n"
	    "to the configured sinks through the log's outbox, with retries.\n"
	    "\n"
	    "  -f CONFIG  configuration (default $MCOPS_CONFIG or etc/mcops.conf):\n"
	    "             [statuspage], [component NAME], [sink NAME], [cluster NAME] titles,\n"
	    "             [log] path\n"
	    "  -n         check the configuration and exit\n"
	    "  -d         debug logging\n"
	    "  -h         this help\n"
	    "\n"
	    "Signals: SIGHUP re-reads the configuration (an invalid one is refused and the\n"
	    "running one kept); SIGTERM and SIGINT stop.\n");
}

int
main(int argc, char **argv)
{
	const char *config = getenv("MCOPS_CONFIG");
	struct mcstatus *d;
	bool check = false, debug = false;
	char err[8192];
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
		fprintf(stderr, "mcstatus: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (check) {
		if (mcstatus_check(config, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		printf("%s: configuration ok\n", config);
		return 0;
	}
	log_init("mcstatus", 1, debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("cannot initialise libcurl");
		return 1;
	}
	if ((d = mcstatus_new(config, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		curl_global_cleanup();
		return 1;
	}
	sdnotify_ready(); /* the log is open, the page is served */
	rc = mcstatus_run(d);
	mcstatus_free(d);
	curl_global_cleanup();
	log_info("stopped");
	return rc == 0 ? 0 : 1;
}
