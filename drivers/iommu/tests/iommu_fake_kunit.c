// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the fake IOMMU driver itself: the other IOMMU suites trust
 * its page table, its fault scripts and its leak check, so these must be
 * right. A check that must fail a test runs against a throw-away struct
 * kunit, as lib/kunit/kunit-test.c does.
 */
#include <kunit/test.h>
#include <linux/iommu.h>
#include <linux/sizes.h>

#include "../fake-iommu.h"

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

/* The core probes fake devices with the fake driver and gives them a domain. */
static void iommu_fake_test_probe(struct kunit *test)
{
	struct device *dev = fake_iommu_add_device(test, NULL);
	struct iommu_domain *domain = fake_iommu_alloc_domain(test, dev);

	KUNIT_EXPECT_TRUE(test, device_iommu_mapped(dev));
	KUNIT_EXPECT_NOT_NULL(test, dev->iommu_group);
	KUNIT_EXPECT_NOT_NULL(test, iommu_get_domain_for_dev(dev));
	KUNIT_EXPECT_EQ(test, domain->pgsize_bitmap, SZ_4K);
	KUNIT_EXPECT_EQ(test, domain->geometry.aperture_end, SZ_4G - 1);
}

/* The page table refuses to map over a mapping, as hardware drivers do. */
static void iommu_fake_test_no_double_map(struct kunit *test)
{
	struct iommu_domain *domain = test_domain(test);

	KUNIT_ASSERT_EQ(test, map_one(domain, TEST_IOVA), 0);
	KUNIT_EXPECT_EQ(test, iommu_map(domain, TEST_IOVA, TEST_PHYS + SZ_1M, SZ_4K,
					TEST_PROT, GFP_KERNEL), -EEXIST);
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, TEST_IOVA + 0x123),
			TEST_PHYS + TEST_IOVA + 0x123);
	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, TEST_IOVA, SZ_4K), SZ_4K);
	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, TEST_IOVA, SZ_4K), 0);
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
	struct fake_iommu_fault fault;
};

static const struct bad_script bad_scripts[] = {
	{ "errno_zero", { .op = FAKE_IOMMU_SYNC_MAP, .nth = 1, .err = 0 } },
	{ "errno_positive", { .op = FAKE_IOMMU_SYNC_MAP, .nth = 1, .err = EIO } },
	{ "errno_below_max", { .op = FAKE_IOMMU_SYNC_MAP, .nth = 1,
			       .err = -MAX_ERRNO - 1 } },
	{ "nth_zero", { .op = FAKE_IOMMU_MAP_PAGES, .nth = 0, .err = -EIO } },
	{ "next_zero", { .op = FAKE_IOMMU_SYNC_MAP, .kind = FAKE_IOMMU_FAIL_NEXT,
			 .count = 0, .err = -EIO } },
	{ "empty_range", { .op = FAKE_IOMMU_SYNC_MAP, .kind = FAKE_IOMMU_FAIL_RANGE,
			   .start = TEST_IOVA, .end = TEST_IOVA, .err = -EIO } },
	{ "unfailable_op", { .op = FAKE_IOMMU_UNMAP_PAGES, .nth = 1, .err = -EIO } },
	{ "partial_sync", { .op = FAKE_IOMMU_SYNC_MAP, .nth = 1, .err = -EIO,
			    .partial = 1 } },
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
	KUNIT_CASE(iommu_fake_test_no_double_map),
	KUNIT_CASE(iommu_fake_test_fail_next),
	KUNIT_CASE(iommu_fake_test_fail_nth),
	KUNIT_CASE(iommu_fake_test_fail_range),
	KUNIT_CASE_PARAM(iommu_fake_test_invalid_script, bad_scripts_gen_params),
	KUNIT_CASE(iommu_fake_test_leftovers),
	{}
};

static struct kunit_suite iommu_fake_test_suite = {
	.name = "iommu_fake",
	.test_cases = iommu_fake_test_cases,
};

kunit_test_suite(iommu_fake_test_suite);

MODULE_DESCRIPTION("KUnit tests for the fake IOMMU driver");
MODULE_LICENSE("GPL");
