// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for iommu_map() unwinding on the generic page table path.
 *
 * iommu_map_nosync() maps through generic_pt's map_range() for the domains
 * of the AMD, Intel and RISC-V drivers (and iommufd's mock), and through the
 * driver's map_pages() for the others. A map_range() that fails part way (a
 * table allocation failing) reports what it mapped, and the core must unmap
 * exactly that; an iotlb_sync_map failure must unmap the whole range. The
 * domains here are the fake IOMMU driver's on generic_pt's AMDv1 format,
 * with the fake's iotlb_sync_map, scriptable as elsewhere.
 */
#include <kunit/test.h>
#include <linux/iommu.h>
#include <linux/sched.h>
#include <linux/sizes.h>

#include "../fake-iommu.h"

#define TEST_PHYS	0x40000000UL
#define TEST_PROT	(IOMMU_READ | IOMMU_WRITE)
/*
 * Four pages across a 1G boundary: two level-0 tables under two level-1
 * tables, so a map can fail on a table allocation with part of the range
 * already mapped.
 */
#define TEST_IOVA	(SZ_1G - 2 * SZ_4K)
#define TEST_SIZE	(4 * SZ_4K)

static struct iommu_domain *pt_domain(struct kunit *test)
{
	struct fake_iommu_dev_opts opts = { .generic_pt = true };
	struct device *dev = fake_iommu_add_device(test, &opts);
	struct iommu_domain *domain = fake_iommu_alloc_domain(test, dev);

	KUNIT_ASSERT_TRUE_MSG(test, domain->is_iommupt,
			      "the domain is not on generic_pt");
	KUNIT_ASSERT_TRUE(test, domain->pgsize_bitmap & SZ_4K);
	return domain;
}

/*
 * Live neighbours, one page each, @gap bytes before and after the range:
 * right next to it (0), or in the level-0 tables next to the range's own,
 * so that those stay to be allocated by the map under test.
 */
#define NEXT_TABLE_GAP	(SZ_2M - TEST_SIZE / 2)

static unsigned long below(unsigned long gap)
{
	return TEST_IOVA - gap - SZ_4K;
}

static unsigned long above(unsigned long gap)
{
	return TEST_IOVA + TEST_SIZE + gap;
}

static void map_neighbours(struct kunit *test, struct iommu_domain *domain,
			   unsigned long gap)
{
	KUNIT_ASSERT_EQ(test, iommu_map(domain, below(gap), TEST_PHYS + SZ_1M,
					SZ_4K, TEST_PROT, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, iommu_map(domain, above(gap), TEST_PHYS + SZ_2M,
					SZ_4K, TEST_PROT, GFP_KERNEL), 0);
}

static void expect_neighbours(struct kunit *test, struct iommu_domain *domain,
			      unsigned long gap)
{
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, below(gap)),
			TEST_PHYS + SZ_1M);
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, above(gap)),
			TEST_PHYS + SZ_2M);
}

static void expect_range_unmapped(struct kunit *test,
				  struct iommu_domain *domain)
{
	unsigned long off;

	for (off = 0; off < TEST_SIZE; off += SZ_4K)
		KUNIT_EXPECT_EQ_MSG(test, iommu_iova_to_phys(domain, TEST_IOVA + off), 0,
				    "IOVA %#lx still mapped", TEST_IOVA + off);
}

static void expect_range_mapped(struct kunit *test, struct iommu_domain *domain)
{
	unsigned long off;

	for (off = 0; off < TEST_SIZE; off += SZ_4K)
		KUNIT_EXPECT_EQ_MSG(test, iommu_iova_to_phys(domain, TEST_IOVA + off),
				    TEST_PHYS + off, "at IOVA %#lx", TEST_IOVA + off);
}

/* Unmaps the range and the neighbours: all of it must be there to unmap. */
static void unmap_all(struct kunit *test, struct iommu_domain *domain,
		      unsigned long gap)
{
	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, TEST_IOVA, TEST_SIZE), TEST_SIZE);
	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, below(gap), SZ_4K), SZ_4K);
	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, above(gap), SZ_4K), SZ_4K);
}

/* IOTLB syncs of a non-empty range since the last reset: unmaps done. */
static unsigned int unmap_syncs(struct iommu_domain *domain)
{
	const struct fake_iommu_call *call;
	unsigned int n = 0;

	fake_iommu_for_each_call(domain, FAKE_IOMMU_IOTLB_SYNC, call)
		n += call->size != 0;
	return n;
}

struct pt_param {
	const char *name;
	int err;
};

static const struct pt_param pt_params[] = {
	{ "ENOMEM", -ENOMEM },
	{ "EIO", -EIO },
};

KUNIT_ARRAY_PARAM_DESC(pt_params, pt_params, name);

/*
 * iotlb_sync_map fails after map_range mapped everything: the errno comes
 * out, one sync_map of exactly the range was asked for, the whole range is
 * unmapped and the neighbours are not; the same map then works.
 */
static void iommu_map_pt_test_sync_error(struct kunit *test)
{
	const struct pt_param *p = test->param_value;
	struct iommu_domain *domain = pt_domain(test);
	const struct fake_iommu_call *call;

	map_neighbours(test, domain, 0);
	fake_iommu_reset_calls(domain);
	fake_iommu_fail_next(test, domain, FAKE_IOMMU_SYNC_MAP, 1, p->err);
	KUNIT_EXPECT_EQ(test, iommu_map(domain, TEST_IOVA, TEST_PHYS, TEST_SIZE,
					TEST_PROT, GFP_KERNEL), p->err);
	KUNIT_ASSERT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_SYNC_MAP), 1);
	call = fake_iommu_get_call(domain, FAKE_IOMMU_SYNC_MAP, 0);
	KUNIT_EXPECT_EQ(test, call->iova, TEST_IOVA);
	KUNIT_EXPECT_EQ(test, call->size, TEST_SIZE);
	/* map_pages is not the path here. */
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_MAP_PAGES), 0);
	expect_range_unmapped(test, domain);
	KUNIT_EXPECT_EQ(test, fake_iommu_mapped_pages(domain, TEST_IOVA, TEST_SIZE), 0);
	expect_neighbours(test, domain, 0);

	fake_iommu_clear_faults(domain);
	KUNIT_ASSERT_EQ(test, iommu_map(domain, TEST_IOVA, TEST_PHYS, TEST_SIZE,
					TEST_PROT, GFP_KERNEL), 0);
	expect_range_mapped(test, domain);
	expect_neighbours(test, domain, 0);
	unmap_all(test, domain, 0);
}

#ifdef CONFIG_FAULT_INJECTION
/*
 * Fail each allocation of iommu_map() in turn (current->fail_nth), on a
 * fresh domain each time so that both level-0 tables of the range are new
 * (the neighbours sit in the tables next to them): each
 * failure returns -ENOMEM with nothing of the range left mapped (the
 * tables for the first half may already hold its pages: the core must
 * unmap what map_range() said it mapped) and the neighbours intact; at
 * least one allocation must fail the map, and the first n past the last
 * allocation maps correctly.
 */
static void iommu_map_pt_test_fail_nth(struct kunit *test)
{
	unsigned int n, past_end = 0, failures = 0, partial = 0;

	fake_iommu_enable_fail_nth(test);
	for (n = 1; n < 100; n++) {
		struct iommu_domain *domain = pt_domain(test);
		unsigned int left;
		bool done;
		int ret;

		map_neighbours(test, domain, NEXT_TABLE_GAP);
		fake_iommu_reset_calls(domain);
		fake_iommu_arm_fail_nth(n);
		ret = iommu_map(domain, TEST_IOVA, TEST_PHYS, TEST_SIZE,
				TEST_PROT, GFP_KERNEL);
		left = fake_iommu_disarm_fail_nth();
		done = fake_iommu_fail_nth_past_end(&past_end, left);

		if (!ret) {
			expect_range_mapped(test, domain);
			expect_neighbours(test, domain, NEXT_TABLE_GAP);
			unmap_all(test, domain, NEXT_TABLE_GAP);
			if (done)
				break;
			continue;
		}
		failures++;
		KUNIT_EXPECT_EQ_MSG(test, left, 0,
				    "allocation %u failed the map without being injected", n);
		KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
		/* A failure in map_range: sync_map never came. */
		KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_SYNC_MAP), 0);
		partial += unmap_syncs(domain) != 0;
		expect_range_unmapped(test, domain);
		expect_neighbours(test, domain, NEXT_TABLE_GAP);
	}
	KUNIT_EXPECT_LT(test, n, 100);
	KUNIT_EXPECT_GT_MSG(test, failures, 0, "no injected failure failed the map");
	/* The unwinding that matters: a failure after part of the range. */
	KUNIT_EXPECT_GT_MSG(test, partial, 0,
			    "no failure came after part of the range was mapped");
	kunit_info(test, "%u allocation sites, %u failed the map (%u part way) and unwound",
		   n - past_end, failures, partial);
}
#else
static void iommu_map_pt_test_fail_nth(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_FAULT_INJECTION");
}
#endif

static struct kunit_case iommu_map_pt_test_cases[] = {
	KUNIT_CASE_PARAM(iommu_map_pt_test_sync_error, pt_params_gen_params),
	KUNIT_CASE(iommu_map_pt_test_fail_nth),
	{}
};

static struct kunit_suite iommu_map_pt_test_suite = {
	.name = "iommu_map_pt",
	.init = fake_iommu_test_init,
	.test_cases = iommu_map_pt_test_cases,
};

kunit_test_suite(iommu_map_pt_test_suite);

MODULE_DESCRIPTION("KUnit tests for iommu_map() unwinding on the generic page table");
MODULE_LICENSE("GPL");
