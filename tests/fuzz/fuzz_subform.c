/*
 * Fuzz target: the subscribe form's parser (statuspage/subscribe.h, subs_parse_form)
 * and the signed links' checker (lib/subtoken.h), which read what any visitor posts.
 *
 * The input is the form body as posted. Beyond "does not crash", it checks the
 * contracts: an accepted form has one address that is one line of printable
 * characters, of the kind it says (a valid email address, or an http(s) URL), and
 * components that are the page's own ids in the page's order, each once; a refused one
 * says why in one line. The same bytes as a token never verify (they are not signed
 * with the key, which the input never holds).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "statuspage/subscribe.h"
#include "subtoken.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sp_config sp;

static void
page(void)
{
	static const char *const ids[] = { "c1", "c2", "api" };
	size_t i;

	if (sp.ncomps != 0)
		return;
	for (i = 0; i < 3; i++)
		snprintf(sp.comps[i].id, sizeof(sp.comps[i].id), "%s", ids[i]);
	sp.ncomps = 3;
	sp.subscribe_webhooks = SP_WEBHOOKS_ANY;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size + 1), why[200], tok[SUBTOKEN_MAX];
	struct subs_form f;
	uint64_t nonce;
	int64_t id;
	size_t i;

	page();
	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	if (subs_parse_form(body, size, &sp, &f, why, sizeof(why)) == 0) {
		CHECK(f.address[0] != '\0');
		for (i = 0; f.address[i] != '\0'; i++)
			CHECK((unsigned char)f.address[i] >= 0x20 && f.address[i] != 0x7f);
		if (f.kind == ILOG_SUB_EMAIL)
			CHECK(subs_email_valid(f.address));
		else
			CHECK(strncmp(f.address, "https://", 8) == 0 ||
			      strncmp(f.address, "http://", 7) == 0);
		CHECK(subs_components_mask(&sp, f.components) != 0);
		CHECK(f.components[0] == '\0' || strcmp(f.components, "c1") == 0 ||
		      strcmp(f.components, "c2") == 0 || strcmp(f.components, "api") == 0 ||
		      strcmp(f.components, "c1 c2") == 0 || strcmp(f.components, "c1 api") == 0 ||
		      strcmp(f.components, "c2 api") == 0 || strcmp(f.components, "c1 c2 api") == 0);
	} else {
		CHECK(why[0] != '\0' && strchr(why, '\n') == NULL);
	}
	snprintf(tok, sizeof(tok), "%s", body);
	CHECK(subtoken_check(SUBTOKEN_CONFIRM, "fuzz-key-0123456789", 19, tok, 0, &id, &nonce) ==
	      SUBTOKEN_INVALID);
	free(body);
	return 0;
}
