/*
 * Unit tests of lib/kinds, the one table of incident kinds, and of the monitor's
 * registry of their operations (monitor/kind.h): every kind has a runbook that exists,
 * a unique name and label, public texts that are safe formats, operations in the
 * monitor; lookups refuse what is not a kind.
 *
 * Run from the repository's top (as `make unit` does): runbook paths are relative to it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ilog.h"
#include "kinds.h"
#include "monitor/kind.h"
#include "monstate.h"

/* One "%s" and no other conversion: the status page formats it with one string. */
static bool
one_string_format(const char *f)
{
	const char *p = strchr(f, '%');

	return p != NULL && p[1] == 's' && strchr(p + 2, '%') == NULL;
}

static void
every_kind_has_a_runbook_that_exists(void **state)
{
	char want[128];
	size_t i;

	(void)state;
	assert_true(kinds_count() > 0);
	for (i = 0; i < kinds_count(); i++) {
		const struct kind *k = kinds_at(i);
		snprintf(want, sizeof(want), "docs/runbooks/%s.md", k->name);
		/* The same path mctl show and the pager link to, by the kind's name. */
		assert_string_equal(k->runbook, want);
		if (access(k->runbook, R_OK) != 0)
			fail_msg("kind %s: runbook %s does not exist", k->name, k->runbook);
	}
}

static void
names_and_labels_are_unique_and_valid(void **state)
{
	struct monstate_keys keys;
	size_t i, j;

	(void)state;
	assert_true(kinds_count() <= KINDS_MAX);
	for (i = 0; i < kinds_count(); i++) {
		const struct kind *k = kinds_at(i);
		assert_true(ilog_kind_valid(k->name));
		assert_non_null(k->label);
		assert_true(k->label[0] != '\0' && strspn(k->label, "abcdefghijklmnopqrstuvwxyz_") ==
		    strlen(k->label));
		monstate_keys(k, &keys);
		assert_true(strlen(k->label) + strlen("_involved") < sizeof(keys.involved));
		for (j = 0; j < i; j++) {
			if (strcmp(kinds_at(j)->name, k->name) == 0 ||
			    strcmp(kinds_at(j)->label, k->label) == 0)
				fail_msg("kinds %zu and %zu share a name or a label", j, i);
		}
	}
}

static void
every_kind_has_public_texts_that_are_safe_formats(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < kinds_count(); i++) {
		const struct kind *k = kinds_at(i);
		assert_true(one_string_format(k->public_title));
		assert_true(one_string_format(k->public_first));
		assert_ptr_equal(kinds_public_title(k->name), k->public_title);
		assert_ptr_equal(kinds_public_first(k->name), k->public_first);
		/* mctl status says how a node takes part in a cluster's episode. */
		if (k->scope == KIND_SCOPE_CLUSTER)
			assert_non_null(k->involvement);
		else
			assert_null(k->involvement);
	}
	/* Any other kind gets the generic texts. */
	assert_string_equal(kinds_public_title("manual"), "Service disruption in %s");
	assert_string_equal(kinds_public_first(NULL), "We are investigating an issue affecting %s.");
}

static void
lookups_refuse_what_is_not_a_kind(void **state)
{
	static const char *const bad[] = { "", "manual", "alertmanager", "connection",
		"connection_storm ", "Connection_Storm", "node_down:c1:n1", "storm" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(kinds_find(bad[i]));
		assert_int_equal(kinds_index(bad[i]), -1);
	}
	assert_null(kinds_find(NULL));
	assert_int_equal(kinds_index(NULL), -1);
	assert_null(kinds_at(kinds_count()));
	for (i = 0; i < kinds_count(); i++) {
		assert_int_equal(kinds_index(kinds_at(i)->name), (int)i);
		assert_ptr_equal(kinds_find(kinds_at(i)->name), kinds_at(i));
	}
	/* The kinds mcmon has always raised, under their names and scopes. */
	assert_int_equal(kinds_find("connection_storm")->scope, KIND_SCOPE_CLUSTER);
	assert_int_equal(kinds_find("latency_tail")->scope, KIND_SCOPE_CLUSTER);
	assert_int_equal(kinds_find("node_down")->scope, KIND_SCOPE_NODE);
}

static void
every_kind_has_operations_in_the_monitor(void **state)
{
	const struct kind_ops *ops[KINDS_MAX];
	size_t order[KINDS_MAX], seen[KINDS_MAX] = { 0 };
	char err[200] = "";
	int n, i;

	(void)state;
	n = kind_registry(ops, order, err, sizeof(err));
	if (n < 0)
		fail_msg("%s", err);
	assert_int_equal(n, (int)kinds_count());
	for (i = 0; i < n; i++) {
		assert_true(order[i] < kinds_count());
		seen[order[i]]++;
		assert_string_equal(ops[order[i]]->name, kinds_at(order[i])->name);
	}
	for (i = 0; i < n; i++)
		assert_int_equal(seen[i], 1);
	/* Tails leave down nodes out: node down is evaluated first. */
	for (i = 0; i < n && order[i] != (size_t)kinds_index("node_down"); i++)
		assert_true(order[i] != (size_t)kinds_index("latency_tail"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_kind_has_a_runbook_that_exists),
		cmocka_unit_test(names_and_labels_are_unique_and_valid),
		cmocka_unit_test(every_kind_has_public_texts_that_are_safe_formats),
		cmocka_unit_test(lookups_refuse_what_is_not_a_kind),
		cmocka_unit_test(every_kind_has_operations_in_the_monitor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
