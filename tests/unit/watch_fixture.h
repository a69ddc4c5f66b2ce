/*
 * watch_fixture — what the watch's tests (test_watch*.c) start from: a configuration
 * read from a string, a temporary incident log, and a watch over both whose wall clock
 * is the fake one (TEST_CLOCK_START_MS). The caller owns the three structs (each test
 * keeps them in its own fixture beside its simulation's state).
 */
#ifndef MCOPS_TEST_WATCH_FIXTURE_H
#define MCOPS_TEST_WATCH_FIXTURE_H

#include "helper.h"
#include "monitor/monconfig.h"
#include "monitor/watch.h"

/* Loads text ("test.conf" in messages), opens a log (directory prefix), starts the
 * watch. 0, or -1 with every reason printed to stderr (what was made is left for
 * watch_fixture_close). */
int watch_fixture_open(struct test_ilog *il, struct monconfig *cfg, struct watch *w,
    const char *text, const char *prefix);

/* Releases what watch_fixture_open made; safe on zeroed structs. */
void watch_fixture_close(struct test_ilog *il, struct monconfig *cfg, struct watch *w);

#endif
