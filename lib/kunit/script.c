// SPDX-License-Identifier: GPL-2.0
/*
 * Scripted call results for KUnit fakes: see include/kunit/script.h.
 */
#include <kunit/script.h>
#include <kunit/test.h>
#include <linux/err.h>
#include <linux/export.h>
#include <linux/spinlock.h>

/**
 * kunit_script_init() - set up a script with no rules
 * @script: the script
 */
void kunit_script_init(struct kunit_script *script)
{
	memset(script, 0, sizeof(*script));
	spin_lock_init(&script->lock);
}
EXPORT_SYMBOL_GPL(kunit_script_init);

/**
 * kunit_script_rule_invalid() - why a rule cannot be scripted
 * @rule: the rule
 *
 * Return: NULL for a valid rule, else what is wrong with it.
 */
const char *kunit_script_rule_invalid(const struct kunit_script_rule *rule)
{
	if (rule->err >= 0 || rule->err < -MAX_ERRNO)
		return "the error must be in [-MAX_ERRNO, -1]";
	switch (rule->kind) {
	case KUNIT_SCRIPT_NTH:
		return rule->nth ? NULL : "the Nth call counts from 1";
	case KUNIT_SCRIPT_NEXT:
		return rule->count ? NULL : "the number of calls to fail must be at least 1";
	case KUNIT_SCRIPT_RANGE:
		return rule->end > rule->start ? NULL : "the range is empty";
	}
	return "unknown kind of rule";
}
EXPORT_SYMBOL_GPL(kunit_script_rule_invalid);

/**
 * kunit_script_add() - add a rule to a script
 * @test: the test; an invalid rule, or one too many, fails it
 * @script: the script
 * @rule: which calls fail, and how
 *
 * Rules add up: each sees every call of its operation (and object), and the
 * first rule, in the order they were added, that fails a call gives it its
 * error. Context: process (a failure is reported with the test's allocator).
 *
 * Return: 0, -EINVAL for an invalid rule, or -ENOSPC when the script already
 * has KUNIT_SCRIPT_MAX_RULES rules in use; @test is marked failed, with the
 * reason, on either error.
 */
int kunit_script_add(struct kunit *test, struct kunit_script *script,
		     const struct kunit_script_rule *rule)
{
	const char *why = kunit_script_rule_invalid(rule);
	unsigned long flags;
	int i, n;

	if (why) {
		KUNIT_FAIL(test,
			   "invalid scripted rule {op %u kind %d err %d nth %u count %u range [%#lx, %#lx)}: %s",
			   rule->op, rule->kind, rule->err, rule->nth,
			   rule->count, rule->start, rule->end, why);
		return -EINVAL;
	}

	/* The rules in use first, in the order they were added; then it. */
	spin_lock_irqsave(&script->lock, flags);
	for (i = 0, n = 0; i < KUNIT_SCRIPT_MAX_RULES; i++) {
		if (!script->active[i])
			continue;
		if (i != n) {
			script->rules[n] = script->rules[i];
			script->seen[n] = script->seen[i];
			script->active[n] = true;
			script->active[i] = false;
		}
		n++;
	}
	if (n < KUNIT_SCRIPT_MAX_RULES) {
		script->rules[n] = *rule;
		script->seen[n] = 0;
		script->active[n] = true;
	}
	spin_unlock_irqrestore(&script->lock, flags);
	if (n == KUNIT_SCRIPT_MAX_RULES) {
		KUNIT_FAIL(test, "more than %d scripted rules in use",
			   KUNIT_SCRIPT_MAX_RULES);
		return -ENOSPC;
	}
	return 0;
}
EXPORT_SYMBOL_GPL(kunit_script_add);

/**
 * kunit_script_call() - what a call answers
 * @script: the script
 * @op: the call's operation
 * @obj: the object it is made on (may be NULL)
 * @start: the first address it covers (0 if it has no range)
 * @end: the first address after it (@start + 1 if it has no range)
 * @data: if not NULL, set to the @data of the rule that failed the call
 *
 * Counts the call for every rule that sees it; a rule of KUNIT_SCRIPT_NTH
 * or KUNIT_SCRIPT_NEXT that is done is no longer in use. Context: any.
 *
 * Return: 0, or the error of the first rule that fails the call.
 */
int kunit_script_call(struct kunit_script *script, unsigned int op,
		      const void *obj, unsigned long start, unsigned long end,
		      unsigned long *data)
{
	unsigned long flags;
	int err = 0;
	int i;

	spin_lock_irqsave(&script->lock, flags);
	for (i = 0; i < KUNIT_SCRIPT_MAX_RULES; i++) {
		const struct kunit_script_rule *r = &script->rules[i];
		bool hit = false;

		if (!script->active[i] || r->op != op || (r->obj && r->obj != obj))
			continue;
		switch (r->kind) {
		case KUNIT_SCRIPT_NTH:
			hit = ++script->seen[i] == r->nth;
			script->active[i] = !hit;
			break;
		case KUNIT_SCRIPT_NEXT:
			hit = true;
			script->active[i] = ++script->seen[i] < r->count;
			break;
		case KUNIT_SCRIPT_RANGE:
			hit = start < r->end && end > r->start;
			break;
		}
		if (hit && !err) {
			err = r->err;
			if (data)
				*data = r->data;
		}
	}
	spin_unlock_irqrestore(&script->lock, flags);
	return err;
}
EXPORT_SYMBOL_GPL(kunit_script_call);

/**
 * kunit_script_clear() - drop every rule of a script
 * @script: the script
 */
void kunit_script_clear(struct kunit_script *script)
{
	unsigned long flags;

	spin_lock_irqsave(&script->lock, flags);
	memset(script->active, 0, sizeof(script->active));
	spin_unlock_irqrestore(&script->lock, flags);
}
EXPORT_SYMBOL_GPL(kunit_script_clear);
