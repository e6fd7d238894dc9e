// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for scripted call results (include/kunit/script.h).
 */
#include <kunit/script.h>
#include <kunit/test.h>
#include <linux/errno.h>

enum { OP_A = 1, OP_B };

static struct kunit_script *script_new(struct kunit *test)
{
	struct kunit_script *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, s);
	kunit_script_init(s);
	return s;
}

/* Calls 1..@n of @op on @obj at [start, start + 1): what each answers. */
static void script_calls(struct kunit_script *s, unsigned int op,
			 const void *obj, unsigned long start, int *ret, int n)
{
	int i;

	for (i = 0; i < n; i++)
		ret[i] = kunit_script_call(s, op, obj, start, start + 1, NULL);
}

static void kunit_script_test_none(struct kunit *test)
{
	struct kunit_script *s = script_new(test);
	unsigned long data = 42;

	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, NULL, 0, 1, &data), 0);
	KUNIT_EXPECT_EQ(test, data, 42);
}

/* The third call of its operation fails, once; other operations don't count. */
static void kunit_script_test_nth(struct kunit *test)
{
	const struct kunit_script_rule rule = {
		.op = OP_A, .kind = KUNIT_SCRIPT_NTH, .nth = 3, .err = -EIO,
	};
	struct kunit_script *s = script_new(test);
	int ret[5];

	KUNIT_ASSERT_EQ(test, kunit_script_add(test, s, &rule), 0);
	script_calls(s, OP_A, NULL, 0, ret, 2);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_B, NULL, 0, 1, NULL), 0);
	script_calls(s, OP_A, NULL, 0, ret + 2, 3);
	KUNIT_EXPECT_EQ(test, ret[0], 0);
	KUNIT_EXPECT_EQ(test, ret[1], 0);
	KUNIT_EXPECT_EQ(test, ret[2], -EIO);
	KUNIT_EXPECT_EQ(test, ret[3], 0);
	KUNIT_EXPECT_EQ(test, ret[4], 0);
}

/* The next two calls fail, then none. */
static void kunit_script_test_next(struct kunit *test)
{
	const struct kunit_script_rule rule = {
		.op = OP_A, .kind = KUNIT_SCRIPT_NEXT, .count = 2, .err = -ENOMEM,
	};
	struct kunit_script *s = script_new(test);
	int ret[3];

	KUNIT_ASSERT_EQ(test, kunit_script_add(test, s, &rule), 0);
	script_calls(s, OP_A, NULL, 0, ret, 3);
	KUNIT_EXPECT_EQ(test, ret[0], -ENOMEM);
	KUNIT_EXPECT_EQ(test, ret[1], -ENOMEM);
	KUNIT_EXPECT_EQ(test, ret[2], 0);
}

/* Every call overlapping [0x2000, 0x3000) fails, as often as it comes. */
static void kunit_script_test_range(struct kunit *test)
{
	const struct kunit_script_rule rule = {
		.op = OP_A, .kind = KUNIT_SCRIPT_RANGE, .start = 0x2000,
		.end = 0x3000, .err = -EFAULT,
	};
	static const struct {
		unsigned long start, end;
		int ret;
	} calls[] = {
		{ 0x1000, 0x2000, 0 },		/* ends where the range starts */
		{ 0x1000, 0x2001, -EFAULT },	/* its last byte is the first */
		{ 0x2fff, 0x3000, -EFAULT },	/* the range's last byte */
		{ 0x3000, 0x4000, 0 },		/* starts where it ends */
		{ 0x0, 0x10000, -EFAULT },	/* covers it */
		{ 0x2800, 0x2900, -EFAULT },	/* inside it, again */
	};
	struct kunit_script *s = script_new(test);
	int i;

	KUNIT_ASSERT_EQ(test, kunit_script_add(test, s, &rule), 0);
	for (i = 0; i < ARRAY_SIZE(calls); i++)
		KUNIT_EXPECT_EQ_MSG(test, kunit_script_call(s, OP_A, NULL,
							    calls[i].start,
							    calls[i].end, NULL),
				    calls[i].ret, "[%#lx, %#lx)", calls[i].start,
				    calls[i].end);
}

/*
 * A rule naming an object sees only that object's calls; one naming none
 * sees every call of its operation.
 */
static void kunit_script_test_obj(struct kunit *test)
{
	int a, b;
	const struct kunit_script_rule on_b = {
		.op = OP_A, .obj = &b, .kind = KUNIT_SCRIPT_NTH, .nth = 2,
		.err = -EIO,
	};
	const struct kunit_script_rule any = {
		.op = OP_A, .kind = KUNIT_SCRIPT_NTH, .nth = 4, .err = -ENOMEM,
	};
	struct kunit_script *s = script_new(test);

	KUNIT_ASSERT_EQ(test, kunit_script_add(test, s, &on_b), 0);
	KUNIT_ASSERT_EQ(test, kunit_script_add(test, s, &any), 0);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, &a, 0, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, &b, 0, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, &a, 0, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, &b, 0, 1, NULL), -EIO);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, &a, 0, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, &b, 0, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, NULL, 0, 1, NULL), 0);
	s = script_new(test);
	KUNIT_ASSERT_EQ(test, kunit_script_add(test, s, &any), 0);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, &a, 0, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, &b, 0, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, NULL, 0, 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, &b, 0, 1, NULL), -ENOMEM);
}

/*
 * Rules add up: each counts every call it sees, the first one added that
 * fails a call gives the error and its data.
 */
static void kunit_script_test_order(struct kunit *test)
{
	const struct kunit_script_rule second = {
		.op = OP_A, .kind = KUNIT_SCRIPT_NTH, .nth = 2, .err = -EIO,
		.data = 2,
	};
	const struct kunit_script_rule next = {
		.op = OP_A, .kind = KUNIT_SCRIPT_NEXT, .count = 2, .err = -ENOMEM,
		.data = 7,
	};
	struct kunit_script *s = script_new(test);
	unsigned long data = 0;

	KUNIT_ASSERT_EQ(test, kunit_script_add(test, s, &second), 0);
	KUNIT_ASSERT_EQ(test, kunit_script_add(test, s, &next), 0);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, NULL, 0, 1, &data), -ENOMEM);
	KUNIT_EXPECT_EQ(test, data, 7);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, NULL, 0, 1, &data), -EIO);
	KUNIT_EXPECT_EQ(test, data, 2);
	data = 0;
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, NULL, 0, 1, &data), 0);
	KUNIT_EXPECT_EQ(test, data, 0);
}

/*
 * KUNIT_SCRIPT_MAX_RULES rules fit; one more fails the test that adds it.
 * A rule that is done, and kunit_script_clear(), free their slots.
 */
static void kunit_script_test_full(struct kunit *test)
{
	struct kunit_script_rule rule = {
		.op = OP_A, .kind = KUNIT_SCRIPT_NTH, .err = -EIO,
	};
	struct kunit_script *s = script_new(test);
	struct kunit expected_failure;
	int i;

	for (i = 0; i < KUNIT_SCRIPT_MAX_RULES; i++) {
		rule.nth = i + 1;
		KUNIT_ASSERT_EQ(test, kunit_script_add(test, s, &rule), 0);
	}
	kunit_init_test(&expected_failure, "expected_failure", NULL);
	KUNIT_EXPECT_EQ(test, kunit_script_add(&expected_failure, s, &rule),
			-ENOSPC);
	KUNIT_EXPECT_EQ(test, expected_failure.status, KUNIT_FAILURE);

	/* The first rule is done after the first call. */
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, NULL, 0, 1, NULL), -EIO);
	rule.nth = 1;
	rule.err = -ENOMEM;
	KUNIT_EXPECT_EQ(test, kunit_script_add(test, s, &rule), 0);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, NULL, 0, 1, NULL), -EIO);

	kunit_script_clear(s);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, OP_A, NULL, 0, 1, NULL), 0);
	for (i = 0; i < KUNIT_SCRIPT_MAX_RULES; i++)
		KUNIT_EXPECT_EQ(test, kunit_script_add(test, s, &rule), 0);
}

struct bad_rule {
	const char *name;
	struct kunit_script_rule rule;
};

static const struct bad_rule bad_rules[] = {
	{ "errno_zero", { .nth = 1, .err = 0 } },
	{ "errno_positive", { .nth = 1, .err = EIO } },
	{ "errno_below_max", { .nth = 1, .err = -MAX_ERRNO - 1 } },
	{ "nth_zero", { .kind = KUNIT_SCRIPT_NTH, .nth = 0, .err = -EIO } },
	{ "next_zero", { .kind = KUNIT_SCRIPT_NEXT, .count = 0, .err = -EIO } },
	{ "empty_range", { .kind = KUNIT_SCRIPT_RANGE, .start = 0x1000,
			   .end = 0x1000, .err = -EIO } },
	{ "reversed_range", { .kind = KUNIT_SCRIPT_RANGE, .start = 0x2000,
			      .end = 0x1000, .err = -EIO } },
	{ "unknown_kind", { .kind = KUNIT_SCRIPT_RANGE + 1, .nth = 1,
			    .err = -EIO } },
};

KUNIT_ARRAY_PARAM_DESC(bad_rules, bad_rules, name);

/* An invalid rule fails the test that adds it, and is not added. */
static void kunit_script_test_invalid(struct kunit *test)
{
	const struct bad_rule *p = test->param_value;
	struct kunit_script *s = script_new(test);
	struct kunit expected_failure;

	KUNIT_EXPECT_NOT_NULL(test, kunit_script_rule_invalid(&p->rule));
	kunit_init_test(&expected_failure, "expected_failure", NULL);
	KUNIT_EXPECT_EQ(test, kunit_script_add(&expected_failure, s, &p->rule),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, expected_failure.status, KUNIT_FAILURE);
	KUNIT_EXPECT_EQ(test, kunit_script_call(s, p->rule.op, NULL, 0x1000,
						0x1001, NULL), 0);
}

static struct kunit_case kunit_script_test_cases[] = {
	KUNIT_CASE(kunit_script_test_none),
	KUNIT_CASE(kunit_script_test_nth),
	KUNIT_CASE(kunit_script_test_next),
	KUNIT_CASE(kunit_script_test_range),
	KUNIT_CASE(kunit_script_test_obj),
	KUNIT_CASE(kunit_script_test_order),
	KUNIT_CASE(kunit_script_test_full),
	KUNIT_CASE_PARAM(kunit_script_test_invalid, bad_rules_gen_params),
	{}
};

static struct kunit_suite kunit_script_test_suite = {
	.name = "kunit_script",
	.test_cases = kunit_script_test_cases,
};

kunit_test_suite(kunit_script_test_suite);

MODULE_DESCRIPTION("KUnit tests for scripted call results");
MODULE_LICENSE("GPL");
