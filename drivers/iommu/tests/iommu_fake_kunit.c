// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the fake IOMMU driver itself: the other IOMMU suites trust
 * its page table, its fault scripts and its leak check, so these must be
 * right. A check that must fail a test runs against a throw-away struct
 * kunit, as lib/kunit/kunit-test.c does.
 */
#include <kunit/test.h>
#include <linux/gfp.h>
#include <linux/iommu.h>
#include <linux/sizes.h>

#include "fake-iommu.h"

#define TEST_IOVA	0x100000UL
#define TEST_PHYS	0x40000000UL
#define TEST_PROT	(IOMMU_READ | IOMMU_WRITE)

static struct iommu_domain *test_domain(struct kunit *test)
{
	return fake_iommu_alloc_domain(test, fake_iommu_add_device(test, NULL));
}

static int map_one(struct iommu_domain *domain, unsigned long iova)
{
	return iommu_map(domain, iova, TEST_PHYS + iova, SZ_4K, TEST_PROT,
			 GFP_KERNEL);
}

/*
 * Each fake device gets a group of its own, and paging domains with the
 * page sizes and aperture it asked for (or the defaults: 4K, 0..4G - 1).
 * fake_iommu_add_device() itself checks that the core probed the device
 * and gave it a default domain.
 */
static void iommu_fake_test_probe(struct kunit *test)
{
	static const struct fake_iommu_dev_opts opts = {
		.pgsize_bitmap = SZ_4K | SZ_2M,
		.aperture_start = SZ_1M,
		.aperture_end = SZ_1G - 1,
	};
	struct device *dev = fake_iommu_add_device(test, &opts);
	struct device *other = fake_iommu_add_device(test, NULL);
	struct iommu_domain *domain = fake_iommu_alloc_domain(test, dev);

	KUNIT_EXPECT_NOT_NULL(test, dev->iommu_group);
	KUNIT_EXPECT_PTR_NE(test, dev->iommu_group, other->iommu_group);
	KUNIT_EXPECT_TRUE(test, domain->type & __IOMMU_DOMAIN_PAGING);
	KUNIT_EXPECT_EQ(test, domain->pgsize_bitmap, SZ_4K | SZ_2M);
	KUNIT_EXPECT_EQ(test, domain->geometry.aperture_start, SZ_1M);
	KUNIT_EXPECT_EQ(test, domain->geometry.aperture_end, SZ_1G - 1);
	domain = fake_iommu_alloc_domain(test, other);
	KUNIT_EXPECT_EQ(test, domain->pgsize_bitmap, SZ_4K);
	KUNIT_EXPECT_EQ(test, domain->geometry.aperture_end, SZ_4G - 1);
}

/*
 * The page table refuses to map over a mapping, and to unmap what is not
 * mapped, as hardware drivers do; and the domain reports both as misuse, so
 * that a test where the core does either fails.
 */
static void iommu_fake_test_misuse(struct kunit *test)
{
	struct iommu_domain *domain = test_domain(test);
	struct kunit expected_failure;

	KUNIT_ASSERT_EQ(test, map_one(domain, TEST_IOVA), 0);
	KUNIT_EXPECT_EQ(test, fake_iommu_take_misuse(test, domain), 0);
	KUNIT_EXPECT_EQ(test, iommu_map(domain, TEST_IOVA, TEST_PHYS + SZ_1M, SZ_4K,
					TEST_PROT, GFP_KERNEL), -EEXIST);
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, TEST_IOVA + 0x123),
			TEST_PHYS + TEST_IOVA + 0x123);
	kunit_init_test(&expected_failure, "expected_failure", NULL);
	KUNIT_EXPECT_EQ(test, fake_iommu_take_misuse(&expected_failure, domain), 1);
	KUNIT_EXPECT_EQ(test, expected_failure.status, KUNIT_FAILURE);

	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, TEST_IOVA, SZ_4K), SZ_4K);
	KUNIT_EXPECT_EQ(test, fake_iommu_take_misuse(test, domain), 0);
	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, TEST_IOVA, SZ_4K), 0);
	kunit_init_test(&expected_failure, "expected_failure", NULL);
	KUNIT_EXPECT_EQ(test, fake_iommu_take_misuse(&expected_failure, domain), 1);
	KUNIT_EXPECT_EQ(test, expected_failure.status, KUNIT_FAILURE);
}

/*
 * The IOTLB model: an unmapped range stays in the IOTLB until an IOTLB sync
 * covering it, or a flush of everything; mapping it again before that is
 * misuse (a device could still reach the old pages).
 */
static void iommu_fake_test_unflushed_unmap(struct kunit *test)
{
	struct iommu_domain *domain = test_domain(test);
	struct iommu_iotlb_gather gather;
	struct kunit expected_failure;

	KUNIT_ASSERT_EQ(test, map_one(domain, TEST_IOVA), 0);
	iommu_iotlb_gather_init(&gather);
	KUNIT_EXPECT_EQ(test, iommu_unmap_fast(domain, TEST_IOVA, SZ_4K, &gather),
			SZ_4K);
	KUNIT_ASSERT_EQ(test, map_one(domain, TEST_IOVA), 0);
	kunit_init_test(&expected_failure, "expected_failure", NULL);
	KUNIT_EXPECT_EQ(test, fake_iommu_take_misuse(&expected_failure, domain), 1);
	KUNIT_EXPECT_EQ(test, expected_failure.status, KUNIT_FAILURE);

	/* Still unflushed: only a sync or a flush forgets it. */
	iommu_iotlb_gather_init(&gather);
	KUNIT_EXPECT_EQ(test, iommu_unmap_fast(domain, TEST_IOVA, SZ_4K, &gather),
			SZ_4K);
	iommu_iotlb_sync(domain, &gather);
	KUNIT_ASSERT_EQ(test, map_one(domain, TEST_IOVA), 0);
	KUNIT_EXPECT_EQ(test, fake_iommu_take_misuse(test, domain), 0);

	iommu_iotlb_gather_init(&gather);
	KUNIT_EXPECT_EQ(test, iommu_unmap_fast(domain, TEST_IOVA, SZ_4K, &gather),
			SZ_4K);
	iommu_flush_iotlb_all(domain);
	KUNIT_ASSERT_EQ(test, map_one(domain, TEST_IOVA), 0);
	KUNIT_EXPECT_EQ(test, fake_iommu_take_misuse(test, domain), 0);
	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, TEST_IOVA, SZ_4K), SZ_4K);
}

/* The call log records what the core asked map_pages for. */
static void iommu_fake_test_call_log(struct kunit *test)
{
	struct iommu_domain *domain = test_domain(test);
	const struct fake_iommu_call *call;

	KUNIT_ASSERT_EQ(test, iommu_map(domain, TEST_IOVA, TEST_PHYS, 2 * SZ_4K,
					IOMMU_READ, GFP_ATOMIC), 0);
	call = fake_iommu_get_call(domain, FAKE_IOMMU_MAP_PAGES, 0);
	KUNIT_ASSERT_NOT_NULL(test, call);
	KUNIT_EXPECT_EQ(test, call->iova, TEST_IOVA);
	KUNIT_EXPECT_EQ(test, call->paddr, TEST_PHYS);
	KUNIT_EXPECT_EQ(test, call->size, 2 * SZ_4K);
	KUNIT_EXPECT_EQ(test, call->done, 2 * SZ_4K);
	KUNIT_EXPECT_EQ(test, call->prot, IOMMU_READ);
	KUNIT_EXPECT_FALSE(test, gfpflags_allow_blocking(call->gfp));
	iommu_unmap(domain, TEST_IOVA, 2 * SZ_4K);
}

static void iommu_fake_test_fail_next(struct kunit *test)
{
	struct iommu_domain *domain = test_domain(test);

	KUNIT_ASSERT_EQ(test, fake_iommu_fail_next(test, domain,
						   FAKE_IOMMU_SYNC_MAP, 2, -EIO), 0);
	KUNIT_EXPECT_EQ(test, map_one(domain, TEST_IOVA), -EIO);
	KUNIT_EXPECT_EQ(test, map_one(domain, TEST_IOVA), -EIO);
	KUNIT_EXPECT_EQ(test, map_one(domain, TEST_IOVA), 0);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_SYNC_MAP), 3);
	iommu_unmap(domain, TEST_IOVA, SZ_4K);
}

static void iommu_fake_test_fail_nth(struct kunit *test)
{
	struct iommu_domain *domain = test_domain(test);

	KUNIT_ASSERT_EQ(test, fake_iommu_fail_nth(test, domain,
						  FAKE_IOMMU_SYNC_MAP, 2, -ENOMEM), 0);
	KUNIT_EXPECT_EQ(test, map_one(domain, TEST_IOVA), 0);
	KUNIT_EXPECT_EQ(test, map_one(domain, TEST_IOVA + SZ_4K), -ENOMEM);
	KUNIT_EXPECT_EQ(test, map_one(domain, TEST_IOVA + SZ_4K), 0);
	iommu_unmap(domain, TEST_IOVA, 2 * SZ_4K);
}

static void iommu_fake_test_fail_range(struct kunit *test)
{
	struct iommu_domain *domain = test_domain(test);

	KUNIT_ASSERT_EQ(test, fake_iommu_fail_range(test, domain,
						    FAKE_IOMMU_MAP_PAGES,
						    TEST_IOVA + SZ_4K,
						    TEST_IOVA + 2 * SZ_4K,
						    -EFAULT), 0);
	KUNIT_EXPECT_EQ(test, map_one(domain, TEST_IOVA), 0);
	KUNIT_EXPECT_EQ(test, map_one(domain, TEST_IOVA + SZ_4K), -EFAULT);
	KUNIT_EXPECT_EQ(test, map_one(domain, TEST_IOVA + SZ_4K), -EFAULT);
	KUNIT_EXPECT_EQ(test, map_one(domain, TEST_IOVA + 2 * SZ_4K), 0);
	fake_iommu_clear_faults(domain);
	KUNIT_EXPECT_EQ(test, map_one(domain, TEST_IOVA + SZ_4K), 0);
	iommu_unmap(domain, TEST_IOVA, 3 * SZ_4K);
}

struct bad_script {
	const char *name;
	struct kunit_script_rule fault;
};

static const struct bad_script bad_scripts[] = {
	{ "errno_zero", { .op = FAKE_IOMMU_SYNC_MAP, .nth = 1, .err = 0 } },
	{ "errno_positive", { .op = FAKE_IOMMU_SYNC_MAP, .nth = 1, .err = EIO } },
	{ "errno_below_max", { .op = FAKE_IOMMU_SYNC_MAP, .nth = 1,
			       .err = -MAX_ERRNO - 1 } },
	{ "nth_zero", { .op = FAKE_IOMMU_MAP_PAGES, .nth = 0, .err = -EIO } },
	{ "next_zero", { .op = FAKE_IOMMU_SYNC_MAP, .kind = KUNIT_SCRIPT_NEXT,
			 .count = 0, .err = -EIO } },
	{ "empty_range", { .op = FAKE_IOMMU_SYNC_MAP, .kind = KUNIT_SCRIPT_RANGE,
			   .start = TEST_IOVA, .end = TEST_IOVA, .err = -EIO } },
	{ "unfailable_op", { .op = FAKE_IOMMU_UNMAP_PAGES, .nth = 1, .err = -EIO } },
	{ "partial_sync", { .op = FAKE_IOMMU_SYNC_MAP, .nth = 1, .err = -EIO,
			    .data = 1 } },
};

KUNIT_ARRAY_PARAM_DESC(bad_scripts, bad_scripts, name);

/* An invalid script fails the test that gave it, and is not installed. */
static void iommu_fake_test_invalid_script(struct kunit *test)
{
	const struct bad_script *p = test->param_value;
	struct iommu_domain *domain = test_domain(test);
	struct kunit expected_failure;

	kunit_init_test(&expected_failure, "expected_failure", NULL);
	KUNIT_EXPECT_EQ(test, fake_iommu_script(&expected_failure, domain,
						&p->fault), -EINVAL);
	KUNIT_EXPECT_EQ(test, expected_failure.status, KUNIT_FAILURE);

	KUNIT_EXPECT_EQ(test, map_one(domain, TEST_IOVA), 0);
	iommu_unmap(domain, TEST_IOVA, SZ_4K);
}

/* Pages left mapped when a domain goes away fail the test. */
static void iommu_fake_test_leftovers(struct kunit *test)
{
	struct iommu_domain *domain = test_domain(test);
	struct kunit expected_failure;

	KUNIT_ASSERT_EQ(test, map_one(domain, TEST_IOVA), 0);
	kunit_init_test(&expected_failure, "expected_failure", NULL);
	KUNIT_EXPECT_FALSE(test, fake_iommu_check_empty(&expected_failure,
							domain));
	KUNIT_EXPECT_EQ(test, expected_failure.status, KUNIT_FAILURE);

	iommu_unmap(domain, TEST_IOVA, SZ_4K);
	kunit_init_test(&expected_failure, "expected_failure", NULL);
	KUNIT_EXPECT_TRUE(test, fake_iommu_check_empty(&expected_failure,
						       domain));
	KUNIT_EXPECT_EQ(test, expected_failure.status, KUNIT_SUCCESS);
}

static struct kunit_case iommu_fake_test_cases[] = {
	KUNIT_CASE(iommu_fake_test_probe),
	KUNIT_CASE(iommu_fake_test_misuse),
	KUNIT_CASE(iommu_fake_test_unflushed_unmap),
	KUNIT_CASE(iommu_fake_test_call_log),
	KUNIT_CASE(iommu_fake_test_fail_next),
	KUNIT_CASE(iommu_fake_test_fail_nth),
	KUNIT_CASE(iommu_fake_test_fail_range),
	KUNIT_CASE_PARAM(iommu_fake_test_invalid_script, bad_scripts_gen_params),
	KUNIT_CASE(iommu_fake_test_leftovers),
	{}
};

static struct kunit_suite iommu_fake_test_suite = {
	.name = "iommu_fake",
	.init = fake_iommu_test_init,
	.test_cases = iommu_fake_test_cases,
};

kunit_test_suite(iommu_fake_test_suite);

MODULE_DESCRIPTION("KUnit tests for the fake IOMMU driver");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("IOMMU_FAKE");
