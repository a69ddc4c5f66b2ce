/*
 * Fuzz target: the one INI configuration file as each daemon checks it at start
 * (their -n): mcmon's loader (monitor/monconfig.h), mcalert's (alerter/settings.h)
 * and mcstatus's (statuspage/mcstatus.h mcstatus_check), over the same text. The
 * file reaches the loaders that only take a path through a memfd, so nothing is
 * written to disk. (mcd's loader is static in cache/main.c: not reachable here.)
 *
 * Beyond "does not crash", it checks the contracts: every loader either succeeds
 * without errors or fails with at least one, and every error names the file; what
 * an accepted file yields stays within its maxima.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alerter/settings.h"
#include "monitor/monconfig.h"
#include "statuspage/mcstatus.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every error is "name:line: message" or "name: message". */
static void
check_errors(const struct config_errors *errs, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < errs->n; i++) {
		CHECK(errs->msgs[i] != NULL && strncmp(errs->msgs[i], name, n) == 0 &&
		    errs->msgs[i][n] == ':');
		CHECK(strlen(errs->msgs[i]) < CONFIG_ERR_MAX + n + 32);
	}
}

static void
check_monitor(const char *text)
{
	static struct monconfig *mc; /* large: allocated once, as the loader clears it */
	struct config_errors errs = { 0 };

	if (mc == NULL)
		CHECK((mc = calloc(1, sizeof(*mc))) != NULL);
	if (monconfig_load_string(mc, "fuzz.conf", text, &errs) == 0) {
		CHECK(errs.n == 0 && errs.dropped == 0);
		CHECK(mc->set.poll_timeout_ms <= mc->set.poll_interval_ms);
		CHECK(mc->set.probe_rate >= 0 && mc->set.probe_rate <= MONCONFIG_PROBE_RATE_MAX);
		CHECK(strlen(mc->set.canary_key) <= MONCONFIG_KEY_MAX);
		CHECK(monconfig_probe_period_ms(&mc->set) >= 0);
		monconfig_release(mc);
	} else {
		CHECK(errs.n + errs.dropped > 0);
		check_errors(&errs, "fuzz.conf");
	}
	config_errors_release(&errs);
}

static void
check_alerter(const char *path)
{
	static struct alerter_settings *s; /* large: allocated once, as the loader clears it */
	struct config_errors errs = { 0 };
	size_t i;

	if (s == NULL)
		CHECK((s = calloc(1, sizeof(*s))) != NULL);
	if (settings_load(s, path, &errs) == 0) {
		CHECK(errs.n == 0 && errs.dropped == 0);
		CHECK(s->jid[0] != '\0' && jid_bare_valid(s->jid));
		CHECK(s->nauthorized <= SETTINGS_AUTHORIZED_MAX);
		for (i = 0; i < s->nauthorized; i++)
			CHECK(jid_bare_valid(s->authorized[i]));
		CHECK(s->reconnect_min_ms <= s->reconnect_max_ms);
		CHECK(!s->has_intake || s->has_intake_token || s->intake_open);
		settings_release(s);
	} else {
		CHECK(errs.n + errs.dropped > 0);
		check_errors(&errs, path);
	}
	config_errors_release(&errs);
}

static void
check_statuspage(const char *path)
{
	static struct mcstatus_scratch *scratch; /* large: allocated once */
	char err[4096];

	if (scratch == NULL)
		CHECK((scratch = mcstatus_scratch_new()) != NULL);
	err[0] = '\0';
	if (mcstatus_check_in(scratch, path, err, sizeof(err)) != 0)
		CHECK(err[0] != '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (fd < 0) {
		CHECK((fd = memfd_create("fuzz.conf", 0)) >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
	check_monitor(text);
	check_alerter(path);
	check_statuspage(path);
	free(text);
	return 0;
}
