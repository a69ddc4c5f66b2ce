/*
 * Fuzz target: the proxy file of mcd's proxy role (cache/backend.h,
 * proxy_conf_load_string), which a reload reads while the proxy serves.
 *
 * The first byte says whether the proxy authenticates its clients (then the file
 * needs an account). Beyond "does not crash", it checks the contract: a failure
 * gives at least one error and fills nothing; a success has 1 to KETAMA_SERVERS_MAX
 * backends with distinct names of 1 to KETAMA_NAME_MAX bytes, ports and weights in
 * range, settings in their bounds, and an account exactly when one is needed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_conf(const struct proxy_conf *pc, bool need_account)
{
	size_t i, j;

	if (pc->nbackends == 0 || pc->nbackends > KETAMA_SERVERS_MAX || pc->backends == NULL)
		abort();
	for (i = 0; i < pc->nbackends; i++) {
		const struct proxy_backend_conf *b = &pc->backends[i];
		size_t nl = strnlen(b->name, sizeof(b->name));
		if (nl == 0 || nl > KETAMA_NAME_MAX || strchr(b->name, ' ') != NULL)
			abort();
		if (b->port == 0 || b->weight == 0 || b->weight > KETAMA_WEIGHT_MAX)
			abort();
		if (strnlen(b->host, sizeof(b->host)) == 0 ||
		    strnlen(b->host, sizeof(b->host)) == sizeof(b->host))
			abort();
		for (j = 0; j < i; j++)
			if (strcmp(pc->backends[j].name, b->name) == 0)
				abort();
	}
	if (pc->timeout_ms < 1 || pc->retry_ms < 1 || pc->retry_max_ms < pc->retry_ms ||
	    pc->failure_limit < 1 || pc->connections < 1 || pc->connections > PROXY_CONNS_MAX ||
	    pc->queue_limit < 1 || pc->queue_limit > PROXY_QUEUE_MAX || pc->tail_ms < 0)
		abort();
	if (need_account != (pc->account[0] != '\0'))
		abort();
	if (need_account && pc->password[0] == '\0')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_conf pc;
	struct config_errors errs = { 0 };
	bool need_account;
	char *text;

	if (size < 1)
		return 0;
	need_account = (data[0] & 1) != 0;
	text = malloc(size);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	memset(&pc, 0xA5, sizeof(pc));
	if (proxy_conf_load_string(&pc, "fuzz", text, need_account, &errs) == 0) {
		if (errs.n != 0)
			abort();
		check_conf(&pc, need_account);
		proxy_conf_release(&pc);
	} else if (errs.n == 0 && errs.dropped == 0) {
		abort();
	}
	config_errors_release(&errs);
	free(text);
	return 0;
}
