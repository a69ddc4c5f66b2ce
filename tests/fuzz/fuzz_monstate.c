/*
 * Fuzz target: the reader of the monitor's view (lib/monstate.h monstate_parse),
 * which `mctl status` runs on a file any local process could have written.
 *
 * Beyond "does not crash", it checks the contracts: a failure leaves the state
 * empty; an accepted view stays within its maxima, and formatting it and parsing
 * the result gives the same view again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "monstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct monstate st = { 0 }, again = { 0 };
	char err[256], *text;
	size_t i;

	if (monstate_parse((const char *)data, size, &st, err, sizeof(err)) < 0) {
		if (st.nodes != NULL || st.clusters != NULL || st.nnodes != 0 || err[0] == '\0')
			abort();
		return 0;
	}
	if (st.nnodes > MONSTATE_NODES_MAX || st.nclusters > MONSTATE_CLUSTERS_MAX)
		abort();
	for (i = 0; i < st.nnodes; i++) {
		if (strnlen(st.nodes[i].name, sizeof(st.nodes[i].name)) > MONSTATE_NAME_MAX ||
		    !(st.nodes[i].slow_fraction >= 0 && st.nodes[i].slow_fraction <= 1))
			abort();
	}
	text = monstate_format(&st);
	if (text == NULL)
		abort();
	if (monstate_parse(text, strlen(text), &again, err, sizeof(err)) < 0)
		abort();
	if (again.nnodes != st.nnodes || again.nclusters != st.nclusters ||
	    again.written_at != st.written_at)
		abort();
	for (i = 0; i < st.nnodes; i++) {
		if (strcmp(again.nodes[i].name, st.nodes[i].name) != 0 ||
		    again.nodes[i].p99_us != st.nodes[i].p99_us || again.nodes[i].up != st.nodes[i].up)
			abort();
	}
	free(text);
	monstate_release(&st);
	monstate_release(&again);
	return 0;
}
