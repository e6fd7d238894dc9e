/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Scripted call results for KUnit fakes.
 *
 * A fake that stands in for hardware, firmware or a driver answers its calls
 * with success unless the test scripts otherwise, with rules: fail the Nth
 * call from now, the next K calls, or every call whose range overlaps
 * [start, end). Each rule sees the calls of one operation only, and of one
 * object if it names one, so that a fake keys its script as it likes (an
 * operation of a fake driver, a device, a firmware call).
 */
#ifndef _KUNIT_SCRIPT_H
#define _KUNIT_SCRIPT_H

#include <linux/spinlock.h>
#include <linux/types.h>

struct kunit;

#define KUNIT_SCRIPT_MAX_RULES	8

/**
 * enum kunit_script_kind - how a rule picks the calls it fails
 * @KUNIT_SCRIPT_NTH: the @nth call from now, once
 * @KUNIT_SCRIPT_NEXT: the next @count calls, then none
 * @KUNIT_SCRIPT_RANGE: every call overlapping [@start, @end)
 */
enum kunit_script_kind {
	KUNIT_SCRIPT_NTH,
	KUNIT_SCRIPT_NEXT,
	KUNIT_SCRIPT_RANGE,
};

/**
 * struct kunit_script_rule - which calls fail, and how
 * @op: the operation whose calls the rule sees, in the fake's own numbering
 * @obj: if not NULL, only the calls on this object count and fail
 * @kind: how the rule picks the calls it fails
 * @err: the error those calls return, in [-MAX_ERRNO, -1]
 * @nth: for KUNIT_SCRIPT_NTH, which call fails (1 is the next one)
 * @count: for KUNIT_SCRIPT_NEXT, how many calls fail (at least 1)
 * @start: for KUNIT_SCRIPT_RANGE, the first address of the range
 * @end: for KUNIT_SCRIPT_RANGE, the first address after the range (> @start)
 * @data: the fake's own, handed back with each failure (say, how much of
 *	the call is done before it fails)
 */
struct kunit_script_rule {
	unsigned int op;
	const void *obj;
	enum kunit_script_kind kind;
	int err;
	unsigned int nth;
	unsigned int count;
	unsigned long start;
	unsigned long end;
	unsigned long data;
};

/**
 * struct kunit_script - the rules of one scripted fake
 * @lock: serializes the rules' changes and their counts
 * @rules: the rules, in the order they were added
 * @seen: how many calls each rule has seen
 * @active: whether each rule is in use and may still fail calls
 *
 * Set up by kunit_script_init(). Calls may come in any context.
 */
struct kunit_script {
	spinlock_t lock;	/* protects the rest */
	struct kunit_script_rule rules[KUNIT_SCRIPT_MAX_RULES];
	unsigned int seen[KUNIT_SCRIPT_MAX_RULES];
	bool active[KUNIT_SCRIPT_MAX_RULES];
};

void kunit_script_init(struct kunit_script *script);
const char *kunit_script_rule_invalid(const struct kunit_script_rule *rule);
int kunit_script_add(struct kunit *test, struct kunit_script *script,
		     const struct kunit_script_rule *rule);
int kunit_script_call(struct kunit_script *script, unsigned int op,
		      const void *obj, unsigned long start, unsigned long end,
		      unsigned long *data);
void kunit_script_clear(struct kunit_script *script);

#endif /* _KUNIT_SCRIPT_H */
