// SPDX-License-Identifier: GPL-2.0-only
/*
 * What KUnit tests use to set up the fake IOMMU driver (fake-iommu.c):
 * devices, domains, attachments and pages, each undone when the test ends;
 * fault scripts; and the suites' init, which fails a case that makes the
 * kernel WARN.
 */
#include <kunit/resource.h>
#include <kunit/script.h>
#include <kunit/test.h>
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/iommu.h>
#include <linux/panic.h>
#include <linux/slab.h>

#include "fake-iommu-priv.h"

KUNIT_DEFINE_ACTION_WRAPPER(fake_iommu_dev_destroy_action,
			    fake_iommu_dev_destroy, struct device *);

/**
 * fake_iommu_add_device() - add a device behind the fake IOMMU for a test
 * @test: the test that owns the device; it is removed when the test ends
 * @opts: how the device and its domains look, or NULL for the defaults
 *
 * Adds the device with fake_iommu_dev_create(), so the IOMMU core probes it
 * with the fake driver (and never with another IOMMU driver registered in
 * the same kernel), puts it in a group of its own and attaches the default
 * domain the core picks for it. The test fails if any of that does not
 * happen.
 *
 * Return: the device.
 */
struct device *fake_iommu_add_device(struct kunit *test,
				     const struct fake_iommu_dev_opts *opts)
{
	struct device *dev = fake_iommu_dev_create(opts);

	KUNIT_ASSERT_NOT_ERR_OR_NULL_MSG(test, dev,
					 "fake-iommu: adding a device failed");
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							fake_iommu_dev_destroy_action,
							dev), 0);
	KUNIT_ASSERT_TRUE_MSG(test, device_iommu_mapped(dev),
			      "fake-iommu: the IOMMU core did not probe %s",
			      dev_name(dev));
	KUNIT_ASSERT_NOT_NULL_MSG(test, iommu_get_domain_for_dev(dev),
				  "fake-iommu: %s has no default domain",
				  dev_name(dev));
	return dev;
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_add_device, "IOMMU_FAKE");

KUNIT_DEFINE_ACTION_WRAPPER(fake_iommu_free_domain_action, iommu_domain_free,
			    struct iommu_domain *);

/**
 * fake_iommu_alloc_domain() - allocate a paging domain through the core
 * @test: the test that owns the domain; it is freed when the test ends
 * @dev: a device from fake_iommu_add_device()
 *
 * Allocates an unmanaged domain with iommu_paging_domain_alloc(), as any
 * IOMMU API user does. The domain is freed when the test ends; attach it with
 * fake_iommu_attach_device(), which detaches it before that.
 *
 * Return: the domain.
 */
struct iommu_domain *fake_iommu_alloc_domain(struct kunit *test,
					     struct device *dev)
{
	struct iommu_domain *domain = iommu_paging_domain_alloc(dev);
	int rc;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, domain);
	rc = kunit_add_action_or_reset(test, fake_iommu_free_domain_action,
				       domain);
	KUNIT_ASSERT_EQ(test, rc, 0);
	KUNIT_ASSERT_NOT_NULL_MSG(test, to_fake_domain(domain),
				  "fake-iommu: the core gave a domain of another driver");
	return domain;
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_alloc_domain, "IOMMU_FAKE");

struct fake_iommu_attachment {
	struct iommu_domain *domain;
	struct device *dev;
};

static void fake_iommu_detach_action(void *data)
{
	struct fake_iommu_attachment *a = data;

	iommu_detach_device(a->domain, a->dev);
}

/**
 * fake_iommu_attach_device() - attach a device to a domain until the test ends
 * @test: the test that owns the attachment
 * @domain: a domain from fake_iommu_alloc_domain()
 * @dev: a device from fake_iommu_add_device()
 *
 * Attaches with iommu_attach_device(), failing @test if that fails, and
 * detaches when the test ends: before the domain is freed, as the domain was
 * allocated first and KUnit undoes in reverse order.
 *
 * Return: the attachment, for fake_iommu_detach_device() to end it earlier.
 */
struct fake_iommu_attachment *
fake_iommu_attach_device(struct kunit *test, struct iommu_domain *domain,
			 struct device *dev)
{
	struct fake_iommu_attachment *a = kunit_kzalloc(test, sizeof(*a),
							GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, a);
	a->domain = domain;
	a->dev = dev;
	KUNIT_ASSERT_EQ(test, iommu_attach_device(domain, dev), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							fake_iommu_detach_action,
							a), 0);
	return a;
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_attach_device, "IOMMU_FAKE");

/**
 * fake_iommu_detach_device() - end an attachment before the test ends
 * @test: the test that owns the attachment
 * @a: what fake_iommu_attach_device() returned
 *
 * Detaches now, with iommu_detach_device(), instead of when the test ends.
 */
void fake_iommu_detach_device(struct kunit *test,
			      struct fake_iommu_attachment *a)
{
	kunit_release_action(test, fake_iommu_detach_action, a);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_detach_device, "IOMMU_FAKE");

struct fake_iommu_pages {
	struct page *page;
	unsigned int order;
};

static void fake_iommu_free_pages_action(void *data)
{
	struct fake_iommu_pages *p = data;

	__free_pages(p->page, p->order);
}

/**
 * fake_iommu_alloc_pages() - pages for a test to map, freed when it ends
 * @test: the test that owns the pages
 * @order: the block is 2^@order pages
 *
 * Allocates a block of 2^@order physically contiguous pages (not a compound
 * page: each is a page of its own) with alloc_pages(GFP_KERNEL), failing
 * @test if there is no memory, and frees it when the test ends.
 *
 * Return: the block's first page.
 */
struct page *fake_iommu_alloc_pages(struct kunit *test, unsigned int order)
{
	struct fake_iommu_pages *p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	p->order = order;
	p->page = alloc_pages(GFP_KERNEL, order);
	KUNIT_ASSERT_NOT_NULL(test, p->page);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							fake_iommu_free_pages_action,
							p), 0);
	return p->page;
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_alloc_pages, "IOMMU_FAKE");

/* What the fake cannot script, on top of what kunit_script cannot. */
static const char *fake_fault_invalid(const struct kunit_script_rule *r)
{
	if (r->op != FAKE_IOMMU_SYNC_MAP && r->op != FAKE_IOMMU_MAP_PAGES &&
	    r->op != FAKE_IOMMU_REFRESH && r->op != FAKE_IOMMU_REFRESH_ALL)
		return "only map_pages, iotlb_sync_map and refresh calls can fail";
	if (r->obj && r->op != FAKE_IOMMU_REFRESH && r->op != FAKE_IOMMU_REFRESH_ALL)
		return "a device is for refresh calls only";
	if (r->obj && !fake_iommu_is_dev(r->obj))
		return "not a device of the fake IOMMU";
	if (r->data && r->op != FAKE_IOMMU_MAP_PAGES)
		return "partial progress is for map_pages only";
	return NULL;
}

/**
 * fake_iommu_script() - script an error for a fake domain
 * @test: the test; an invalid script fails it
 * @domain: a paging domain of the fake driver
 * @rule: which calls fail, and how (include/kunit/script.h): @rule->op is
 *	FAKE_IOMMU_MAP_PAGES, FAKE_IOMMU_SYNC_MAP (the whole sync_map fails),
 *	FAKE_IOMMU_REFRESH or FAKE_IOMMU_REFRESH_ALL (one device's refresh
 *	fails, and the shared sync_map logic decides what follows); a range
 *	is of IOVAs; @rule->obj, for refreshes only, is the device whose
 *	calls count and fail (NULL: every device's); @rule->data, for
 *	map_pages only, is how many pages a failing call maps before it
 *	returns the error (capped at the pages asked for)
 *
 * Rules add up: each one sees every call of its operation, and the first
 * rule (in the order they were added) that fails a call gives its error.
 *
 * Return: 0, or -EINVAL for an invalid script (the test is marked failed
 * with a message saying why), or -ENOSPC when the domain has too many rules.
 */
int fake_iommu_script(struct kunit *test, struct iommu_domain *domain,
		      const struct kunit_script_rule *rule)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	const char *why = fake_fault_invalid(rule);

	if (!why && !fd)
		why = "not a paging domain of the fake IOMMU";
	if (why) {
		KUNIT_FAIL(test,
			   "fake-iommu: invalid fault script {op %u kind %d err %d nth %u count %u range [%#lx, %#lx) partial %lu}: %s",
			   rule->op, rule->kind, rule->err, rule->nth,
			   rule->count, rule->start, rule->end, rule->data, why);
		return -EINVAL;
	}
	return kunit_script_add(test, &fd->faults, rule);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_script, "IOMMU_FAKE");

/**
 * fake_iommu_fail_nth() - fail the @nth call of @op from now, once
 * @test: the test
 * @domain: a paging domain of the fake driver
 * @op: FAKE_IOMMU_SYNC_MAP or FAKE_IOMMU_MAP_PAGES
 * @nth: which call, 1 being the next one
 * @err: the errno to return, in [-MAX_ERRNO, -1]
 *
 * Return: as fake_iommu_script().
 */
int fake_iommu_fail_nth(struct kunit *test, struct iommu_domain *domain,
			enum fake_iommu_op op, unsigned int nth, int err)
{
	struct kunit_script_rule f = {
		.op = op, .kind = KUNIT_SCRIPT_NTH, .nth = nth, .err = err,
	};

	return fake_iommu_script(test, domain, &f);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_fail_nth, "IOMMU_FAKE");

/**
 * fake_iommu_fail_next() - fail the next @count calls of @op, then succeed
 * @test: the test
 * @domain: a paging domain of the fake driver
 * @op: FAKE_IOMMU_SYNC_MAP or FAKE_IOMMU_MAP_PAGES
 * @count: how many calls fail, at least 1
 * @err: the errno to return, in [-MAX_ERRNO, -1]
 *
 * Return: as fake_iommu_script().
 */
int fake_iommu_fail_next(struct kunit *test, struct iommu_domain *domain,
			 enum fake_iommu_op op, unsigned int count, int err)
{
	struct kunit_script_rule f = {
		.op = op, .kind = KUNIT_SCRIPT_NEXT, .count = count,
		.err = err,
	};

	return fake_iommu_script(test, domain, &f);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_fail_next, "IOMMU_FAKE");

/**
 * fake_iommu_fail_range() - fail every call of @op overlapping a range
 * @test: the test
 * @domain: a paging domain of the fake driver
 * @op: FAKE_IOMMU_SYNC_MAP or FAKE_IOMMU_MAP_PAGES
 * @start: first IOVA of the range
 * @end: first IOVA after the range
 * @err: the errno to return, in [-MAX_ERRNO, -1]
 *
 * Return: as fake_iommu_script().
 */
int fake_iommu_fail_range(struct kunit *test, struct iommu_domain *domain,
			  enum fake_iommu_op op, unsigned long start,
			  unsigned long end, int err)
{
	struct kunit_script_rule f = {
		.op = op, .kind = KUNIT_SCRIPT_RANGE, .start = start,
		.end = end, .err = err,
	};

	return fake_iommu_script(test, domain, &f);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_fail_range, "IOMMU_FAKE");

struct fake_iommu_warn_check {
	struct kunit *test;
	/* The kernel had WARNed before the case: its taint cannot tell. */
	bool tainted;
	/* Then, the WARNs of the case's own task, which KUnit counts. */
	struct kunit_suppressed_warning *own;
};

static void fake_iommu_check_no_warn(void *data)
{
	struct fake_iommu_warn_check *w = data;
	int n;

	if (!w->tainted) {
		KUNIT_EXPECT_FALSE_MSG(w->test, test_taint(TAINT_WARN),
				       "fake-iommu: the kernel WARNed during this case (see the log)");
		return;
	}
	n = kunit_suppressed_warning_count(w->own);
	KUNIT_EXPECT_EQ_MSG(w->test, n, 0,
			    "fake-iommu: this case WARNed %d time(s); the kernel had WARNed before it, so KUnit counted them without a backtrace: run the case alone to see them",
			    n);
}

/**
 * fake_iommu_test_init() - a suite's init: fail a case that makes the kernel WARN
 * @test: the case about to run
 *
 * A case fails if the kernel WARNs while it runs or during its cleanup. If
 * the kernel had not WARNed before the case (TAINT_WARN clear), any WARN
 * counts, with its backtrace in the log. If it had (another suite's WARN,
 * in a KUNIT_ALL_TESTS kernel say), the taint cannot tell: then KUnit's
 * warning suppression counts the WARNs of the case's own task, and the case
 * says in its log that WARNs from other contexts go unseen.
 *
 * Return: 0, or an error if the check could not be set up.
 */
int fake_iommu_test_init(struct kunit *test)
{
	struct fake_iommu_warn_check *w = kunit_kzalloc(test, sizeof(*w),
							GFP_KERNEL);

	if (!w)
		return -ENOMEM;
	w->test = test;
	w->tainted = test_taint(TAINT_WARN);
	if (w->tainted) {
		/* Started before the check is registered, to end after it. */
		w->own = kunit_start_suppress_warning(test);
		if (!w->own)
			return -ENOMEM;
		kunit_info(test,
			   "fake-iommu: the kernel WARNed before this case: only WARNs in the case's own task are checked\n");
	}
	/* Registered now, so it runs after every cleanup the case adds. */
	return kunit_add_action_or_reset(test, fake_iommu_check_no_warn, w);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_test_init, "IOMMU_FAKE");
