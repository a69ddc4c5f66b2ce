/*
 * Fuzz target: the topology loader (lib/cluster.h clusters_load) over configuration
 * text parsed by lib/config.
 *
 * Beyond "does not crash", it checks the contract: a failure adds errors and leaves
 * the topology empty; a success has valid, distinct names, every node in a known
 * cluster, node counts that add up, and no address used twice.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct clusters *cl)
{
	size_t i, j, total = 0;

	for (i = 0; i < cl->n; i++) {
		if (!cluster_name_valid(cl->v[i].name) || cl->v[i].nnodes == 0)
			abort();
		if (clusters_find(cl, cl->v[i].name) != &cl->v[i])
			abort();
		total += cl->v[i].nnodes;
	}
	if (total != cl->nnodes)
		abort();
	for (i = 0; i < cl->nnodes; i++) {
		const struct cluster_node *n = &cl->nodes[i];
		if (!cluster_name_valid(n->name) || n->cluster >= cl->n || n->client.port == 0)
			abort();
		if (clusters_find_node(cl, n->name) != n)
			abort();
		for (j = 0; j < i; j++) {
			if (strcmp(cl->nodes[j].client.text, n->client.text) == 0)
				abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct config_errors errs = { 0 };
	struct clusters cl = { 0 };
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (config_load_string(&cfg, "fuzz.conf", text, &errs) == 0) {
		if (clusters_load(&cl, &cfg, &errs) == 0) {
			check(&cl);
		} else if (errs.n + errs.dropped == 0 || cl.n != 0 || cl.nnodes != 0) {
			abort();
		}
		clusters_release(&cl);
		config_release(&cfg);
	}
	config_errors_release(&errs);
	free(text);
	return 0;
}
