/* Unit tests of cache/tenant: authentication against the registry, reload keeping
 * stores, removal, and the default tenant of a server without authentication. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cache/tenant.h"

static void
file_with(struct tenant_file *tf, const char *const *names, size_t n)
{
	char err[TENANTS_ERR_LEN];

	memset(tf, 0, sizeof(*tf));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(tenants_add(tf, names[i], "secret-password-0123456789",
		    1 << 20, TENANT_CAPS_DEFAULT, err, sizeof(err)), 0);
}

static void
authenticate_checks_name_and_password(void **state)
{
	struct tenant_registry r;
	struct tenant_file tf;
	const char *names[] = { "acme", "beta" };
	struct tenant *t;
	(void)state;

	memset(&r, 0, sizeof(r));
	pthread_rwlock_init(&r.lock, NULL);
	file_with(&tf, names, 2);
	assert_int_equal(tenant_registry_apply(&r, &tf, 1000000, NULL), 0);
	t = tenant_authenticate(&r, "acme", 4, "secret-password-0123456789", 26);
	assert_non_null(t);
	assert_string_equal(t->name, "acme");
	tenant_put(t);
	assert_null(tenant_authenticate(&r, "acme", 4, "secret-password-012345678", 25));
	assert_null(tenant_authenticate(&r, "acm", 3, "secret-password-0123456789", 26));
	assert_null(tenant_authenticate(&r, "nobody", 6, "secret-password-0123456789", 26));
	assert_null(tenant_default(&r)); /* authentication on: no default tenant */
	tenants_release(&tf);
	tenant_registry_release(&r);
}

static void
reload_keeps_stores_and_marks_removed_tenants(void **state)
{
	struct tenant_registry r;
	struct tenant_file tf;
	const char *both[] = { "acme", "beta" };
	const char *one[] = { "acme" };
	struct store_set_opts o = { .mode = STORE_SET };
	struct tenant *acme, *beta;
	size_t removed = 99;
	(void)state;

	memset(&r, 0, sizeof(r));
	pthread_rwlock_init(&r.lock, NULL);
	file_with(&tf, both, 2);
	assert_int_equal(tenant_registry_apply(&r, &tf, 1000000, &removed), 0);
	tenants_release(&tf);
	acme = tenant_find(&r, "acme", 4);
	beta = tenant_find(&r, "beta", 4); /* a connection's reference */
	assert_int_equal(store_set(acme->store, "k", 1, "v", 1, 1000000, &o, NULL), STORE_OK);

	file_with(&tf, one, 1);
	assert_int_equal(tenant_registry_apply(&r, &tf, 1000001, &removed), 0);
	tenants_release(&tf);
	assert_int_equal(removed, 1);
	assert_true(atomic_load(&beta->removed));
	assert_false(atomic_load(&acme->removed));
	assert_null(tenant_find(&r, "beta", 4));
	{
		struct tenant *again = tenant_find(&r, "acme", 4);
		assert_ptr_equal(again, acme); /* same tenant, same store */
		assert_int_equal(store_get(again->store, "k", 1, 1000002, NULL, NULL, NULL),
		    STORE_OK);
		tenant_put(again);
	}
	tenant_put(beta); /* the last reference frees it */
	tenant_put(acme);
	tenant_registry_release(&r);
}

static void
default_registry_serves_without_authentication(void **state)
{
	struct tenant_registry r;
	struct tenant *t;
	(void)state;

	assert_int_equal(tenant_registry_init_default(&r, 64 << 20), 0);
	t = tenant_default(&r);
	assert_non_null(t);
	assert_int_equal(atomic_load(&t->caps), TENANT_CAPS_DEFAULT);
	assert_null(tenant_authenticate(&r, "", 0, "", 0));
	tenant_put(t);
	tenant_registry_release(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(authenticate_checks_name_and_password),
		cmocka_unit_test(reload_keeps_stores_and_marks_removed_tenants),
		cmocka_unit_test(default_registry_serves_without_authentication),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
