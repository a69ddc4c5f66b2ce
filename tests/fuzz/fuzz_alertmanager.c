/*
 * Fuzz target: the Alertmanager webhook reader (alerter/intake.h intake_parse) and
 * the chat command parser (alerter/command.h) over the same bytes.
 *
 * Beyond "does not crash", it checks the contract: a parsed alert has an "am:"
 * fingerprint, a valid kind, a severity in range, a non-empty one-line title within
 * its maximum, and evidence that is a JSON object; parsed commands keep their word
 * and message within their maxima.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alerter/command.h"
#include "alerter/intake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_alert(const struct intake_alert *a)
{
	json_t *ev;
	size_t i;

	if (strncmp(a->fingerprint, "am:", 3) != 0 || strlen(a->fingerprint) < 4)
		abort();
	if (!ilog_kind_valid(a->kind))
		abort();
	if (a->severity < ILOG_SEVERITY_MINOR || a->severity > ILOG_SEVERITY_CRITICAL)
		abort();
	if (a->title[0] == '\0' || strlen(a->title) > ILOG_TITLE_MAX)
		abort();
	for (i = 0; a->title[i] != '\0'; i++)
		if ((unsigned char)a->title[i] < 0x20)
			abort();
	if (a->evidence_json == NULL || strlen(a->evidence_json) > INTAKE_EVIDENCE_MAX)
		abort();
	ev = json_loads(a->evidence_json, 0, NULL);
	if (!json_is_object(ev))
		abort();
	json_decref(ev);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct intake_batch b = { 0 };
	struct command c;
	char err[256], *text;
	size_t i;

	if (intake_parse((const char *)data, size, &b, err, sizeof(err)) == 0) {
		for (i = 0; i < b.n; i++)
			check_alert(&b.v[i]);
	}
	intake_batch_release(&b);
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	command_parse(text, &c);
	if (strlen(c.word) > COMMAND_WORD_MAX || strlen(c.message) > COMMAND_TEXT_MAX)
		abort();
	if ((c.verb == COMMAND_ACK || c.verb == COMMAND_RESOLVE) && c.id < 0)
		abort();
	free(text);
	return 0;
}
