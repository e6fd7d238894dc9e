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

#include "fake-iommu.h"
#include "fake-iommu-sweep.h"

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
 * Live neighbours, one page each: right below the range, and @gap bytes
 * after it: right next to it (0), or in the level-0 table after the
 * range's second one, so that this one stays to be allocated by the map
 * under test after the first half of the range is mapped.
 */
#define NEXT_TABLE_GAP	(SZ_2M - TEST_SIZE / 2)

static unsigned long below(void)
{
	return TEST_IOVA - SZ_4K;
}

static unsigned long above(unsigned long gap)
{
	return TEST_IOVA + TEST_SIZE + gap;
}

static void map_neighbours(struct kunit *test, struct iommu_domain *domain,
			   unsigned long gap)
{
	KUNIT_ASSERT_EQ(test, iommu_map(domain, below(), TEST_PHYS + SZ_1M,
					SZ_4K, TEST_PROT, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, iommu_map(domain, above(gap), TEST_PHYS + SZ_2M,
					SZ_4K, TEST_PROT, GFP_KERNEL), 0);
}

static void expect_neighbours(struct kunit *test, struct iommu_domain *domain,
			      unsigned long gap)
{
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, below()),
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

/* Unmaps the neighbours: both must be there to unmap. */
static void unmap_neighbours(struct kunit *test, struct iommu_domain *domain,
			     unsigned long gap)
{
	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, below(), SZ_4K), SZ_4K);
	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, above(gap), SZ_4K), SZ_4K);
}

/* Unmaps the range and the neighbours: all of it must be there to unmap. */
static void unmap_all(struct kunit *test, struct iommu_domain *domain,
		      unsigned long gap)
{
	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, TEST_IOVA, TEST_SIZE), TEST_SIZE);
	unmap_neighbours(test, domain, gap);
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

static const int pt_errnos[] = { -ENOMEM, -EIO };

FAKE_IOMMU_ERRNO_PARAMS(pt_errnos, pt_errnos);

/*
 * iotlb_sync_map fails after map_range mapped everything: the errno comes
 * out, one sync_map of exactly the range was asked for, the whole range is
 * unmapped and the neighbours are not; the same map then works.
 */
static void iommu_map_pt_test_sync_error(struct kunit *test)
{
	const int *err = test->param_value;
	struct iommu_domain *domain = pt_domain(test);
	const struct fake_iommu_call *call;

	map_neighbours(test, domain, 0);
	fake_iommu_reset_calls(domain);
	fake_iommu_fail_next(test, domain, FAKE_IOMMU_SYNC_MAP, 1, *err);
	KUNIT_EXPECT_EQ(test, iommu_map(domain, TEST_IOVA, TEST_PHYS, TEST_SIZE,
					TEST_PROT, GFP_KERNEL), *err);
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

/*
 * Fail each allocation of iommu_map() in turn (current->fail_nth), on a
 * fresh domain each time, whose neighbours leave the range's second level-0
 * table to be allocated after its first half is mapped: each failure
 * returns -ENOMEM with nothing of the range left mapped (the core must
 * unmap what map_range() said it mapped), the neighbours intact and nothing
 * else mapped in the domain when it is freed; at least one allocation must
 * fail the map part way, and the first n past the last allocation maps
 * correctly.
 */
static void iommu_map_pt_test_fail_nth(struct kunit *test)
{
	struct fake_iommu_sweep sweep;
	unsigned int partial = 0;

	fake_iommu_for_each_fail_nth(test, &sweep, 100) {
		struct iommu_domain *domain = pt_domain(test);
		int ret;

		map_neighbours(test, domain, NEXT_TABLE_GAP);
		fake_iommu_reset_calls(domain);
		fake_iommu_sweep_arm(&sweep);
		ret = iommu_map(domain, TEST_IOVA, TEST_PHYS, TEST_SIZE,
				TEST_PROT, GFP_KERNEL);
		fake_iommu_sweep_disarm(&sweep);

		if (!ret) {
			expect_range_mapped(test, domain);
			expect_neighbours(test, domain, NEXT_TABLE_GAP);
			unmap_all(test, domain, NEXT_TABLE_GAP);
			continue;
		}
		fake_iommu_sweep_failed(&sweep);
		KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
		/* A failure in map_range: sync_map never came. */
		KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_SYNC_MAP), 0);
		partial += unmap_syncs(domain) != 0;
		expect_range_unmapped(test, domain);
		expect_neighbours(test, domain, NEXT_TABLE_GAP);
		unmap_neighbours(test, domain, NEXT_TABLE_GAP);
	}
	fake_iommu_sweep_end(&sweep, 1);
	/* The unwinding that matters: a failure after part of the range. */
	KUNIT_EXPECT_GT_MSG(test, partial, 0,
			    "no failure came after part of the range was mapped");
}

/*
 * The leak check every case gets when a fake domain is freed sees what is
 * left in a generic_pt table, wherever it is: in the table the domain
 * started with, and above it (the table grew a level to map it). It
 * unmaps what it finds, so a second check finds nothing.
 */
static void iommu_map_pt_test_leftovers(struct kunit *test)
{
	static const unsigned long iovas[] = { TEST_IOVA, 1UL << 40 };
	struct iommu_domain *domain;
	struct kunit expected_failure;
	int i;

	for (i = 0; i < ARRAY_SIZE(iovas); i++) {
		domain = pt_domain(test);
		KUNIT_ASSERT_EQ(test, iommu_map(domain, iovas[i], TEST_PHYS, SZ_4K,
						TEST_PROT, GFP_KERNEL), 0);
		kunit_init_test(&expected_failure, "expected_failure", NULL);
		KUNIT_EXPECT_FALSE_MSG(test, fake_iommu_check_empty(&expected_failure,
								    domain),
				       "a page at IOVA %#lx went unseen", iovas[i]);
		KUNIT_EXPECT_EQ(test, expected_failure.status, KUNIT_FAILURE);
		KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, iovas[i]), 0);
		kunit_init_test(&expected_failure, "expected_failure", NULL);
		KUNIT_EXPECT_TRUE(test, fake_iommu_check_empty(&expected_failure,
							       domain));
		KUNIT_EXPECT_EQ(test, expected_failure.status, KUNIT_SUCCESS);
	}
}

static struct kunit_case iommu_map_pt_test_cases[] = {
	KUNIT_CASE_PARAM(iommu_map_pt_test_sync_error, pt_errnos_gen_params),
	KUNIT_CASE(iommu_map_pt_test_fail_nth),
	KUNIT_CASE(iommu_map_pt_test_leftovers),
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
MODULE_IMPORT_NS("IOMMU_FAKE");
