/* Error reporting: a failure never reads as success. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "error.h"

static void negative_errno_either_sign(void **state)
{
	(void)state;
	struct sn_error err = { 0 };
	assert_int_equal(sn_fail(&err, ENOMEM, "out of %s", "memory"), -ENOMEM);
	assert_int_equal(err.code, -ENOMEM);
	assert_string_equal(err.msg, "out of memory");
	assert_int_equal(sn_fail(&err, -EINVAL, "bad"), -EINVAL);
	assert_int_equal(sn_fail(NULL, EBUSY, "busy"), -EBUSY);
}

/* `sn_fail(err, errno, ...)` after a call that failed without setting
 * errno must still fail: a 0 here made open paths return success with
 * their result unset (found by both static analyzers in vfio.c). */
static void zero_code_is_still_a_failure(void **state)
{
	(void)state;
	struct sn_error err = { 0 };
	int rc = sn_fail(&err, 0, "cannot open %s", "/dev/vfio/vfio");
	assert_true(rc < 0);
	assert_int_equal(err.code, rc);
	assert_string_equal(err.msg, "cannot open /dev/vfio/vfio");
	assert_true(sn_fail(NULL, 0, "x") < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(negative_errno_either_sign),
		cmocka_unit_test(zero_code_is_still_a_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
