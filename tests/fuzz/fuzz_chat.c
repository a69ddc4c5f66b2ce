/*
 * Fuzz target: what mcalert takes from the chat server without a network — a chat
 * command as an engineer types it (alerter/command.h), the sender's JID (lib/jid.h),
 * the cleaning of any text into what XML may carry (xclient_text_clean), the
 * redaction of libstrophe's log lines (xclient_log_redact) and the evidence summary
 * of an event body (message.h message_evidence).
 *
 * The input is split at its first two NULs: from, body, password (a missing part is
 * ""). Beyond "does not crash", it checks the contracts: a command keeps its fields
 * within their maxima and its id positive; a cleaned text is valid UTF-8 without a
 * character XML forbids; a redacted line shows no password outside the fixed words
 * it puts in; an evidence summary is valid UTF-8 within its maximum.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerter/command.h"
#include "alerter/message.h"
#include "alerter/xmpp.h"
#include "jid.h"
#include "utf8.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True if s is valid UTF-8 that XML 1.0 may carry. */
static bool
xml_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n;

	while (*p != '\0') {
		if ((n = utf8_decode(p, &cp)) == 0)
			return false;
		if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xfffe ||
		    cp == 0xffff)
			return false;
		p += n;
	}
	return true;
}

static bool
utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p != '\0') {
		if ((n = utf8_decode(p, NULL)) == 0)
			return false;
		p += n;
	}
	return true;
}

static void
check_command(const char *body)
{
	struct command c;

	command_parse(body, &c);
	CHECK(strlen(c.word) <= COMMAND_WORD_MAX && strlen(c.message) <= COMMAND_TEXT_MAX);
	CHECK(strlen(c.error) < sizeof(c.error));
	if (c.verb == COMMAND_RESOLVE)
		CHECK(c.id > 0);
	if (c.verb == COMMAND_ACK)
		CHECK(c.id >= 0);
	if (c.verb == COMMAND_BAD)
		CHECK(c.error[0] != '\0');
	if (c.verb == COMMAND_TOO_LONG)
		CHECK(strlen(body) > COMMAND_TEXT_MAX);
	/* A word cut to its maximum is never cut inside a character. */
	if (utf8_valid(body))
		CHECK(utf8_valid(c.word) && utf8_valid(c.message));
}

static void
check_jid(const char *from)
{
	char bare[JID_MAX + 1];
	const char *res;

	if (jid_bare(from, bare, sizeof(bare)) != 0) {
		CHECK(bare[0] == '\0');
		return;
	}
	CHECK(jid_bare_valid(bare) && jid_equal(bare, bare));
	CHECK(strncmp(from, bare, strlen(bare)) == 0);
	res = jid_resource(from);
	CHECK(res[0] == '\0' || (res > from && res <= from + strlen(from) && res[-1] == '/'));
}

static void
check_clean(const char *text)
{
	static const size_t sizes[] = { 1, 2, 4, 64, XCLIENT_BODY_MAX };
	char *out = malloc(XCLIENT_BODY_MAX);
	size_t i, n;

	CHECK(out != NULL);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		n = xclient_text_clean(text, out, sizes[i]);
		CHECK(n < sizes[i] && out[n] == '\0' && strlen(out) == n);
		CHECK(xml_text(out));
		/* Text XML already carries passes unchanged when it fits. */
		if (xml_text(text) && strlen(text) < sizes[i])
			CHECK(strcmp(out, text) == 0);
	}
	free(out);
}

static void
check_redact(const char *line, const char *password)
{
	static const char redacted[] = "[redacted]";
	char out[XCLIENT_LOG_LINE_MAX];
	size_t n;
	int rc = xclient_log_redact(line, password, out, sizeof(out));

	CHECK(rc == 0 || rc == 1);
	CHECK(strlen(out) < sizeof(out));
	if (rc == 0) {
		/* Passed on as it was (cut at the maximum), so it must be free of the password. */
		CHECK(strncmp(out, line, sizeof(out) - 1) == 0);
		if (password[0] != '\0')
			CHECK(strstr(line, password) == NULL);
		return;
	}
	n = strlen(out);
	if (n >= sizeof(redacted) - 1 && strcmp(out + n - (sizeof(redacted) - 1), redacted) == 0) {
		/* What is kept of the line before "[redacted]" is the line's own text. */
		out[n - (sizeof(redacted) - 1)] = '\0';
		CHECK(strncmp(out, line, strlen(out)) == 0);
		if (password[0] != '\0')
			CHECK(strstr(out, password) == NULL);
	}
}

static void
check_evidence(const char *body)
{
	char out[MESSAGE_EVIDENCE_MAX + 1];

	message_evidence(body, out, sizeof(out));
	CHECK(strlen(out) <= MESSAGE_EVIDENCE_MAX);
	if (utf8_valid(body))
		CHECK(utf8_valid(out));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 3);
	const char *from, *body, *password;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = text[size + 1] = text[size + 2] = '\0'; /* the missing parts are "" */
	from = text;
	body = from + strlen(from) + 1;
	password = body + strlen(body) + 1;
	check_jid(from);
	check_command(body);
	check_clean(body);
	check_redact(body, password);
	check_evidence(body);
	free(text);
	return 0;
}
