// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for error propagation out of iommu_map_sg().
 *
 * iommu_map_sg() maps each physically contiguous run of a scatterlist with
 * map_pages, then syncs the whole range once with iotlb_sync_map. When
 * either fails, it must return the errno and unmap every run it mapped for
 * the call. These tests run the real core against the fake IOMMU driver.
 */
#include <kunit/test.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>

#include "fake-iommu.h"

#define TEST_IOVA	0x100000UL
#define TEST_PHYS	0x40000000UL
#define TEST_PROT	(IOMMU_READ | IOMMU_WRITE)

FAKE_IOMMU_ERRNO_PARAMS(sync_errnos, fake_iommu_sync_errnos);

static struct iommu_domain *test_domain(struct kunit *test)
{
	return fake_iommu_alloc_domain(test, fake_iommu_add_device(test, NULL));
}

/* Scatterlists over pages of one order-3 block, so that layouts are sure. */
struct sg_param {
	const char *name;
	unsigned int nents;
	unsigned int page[3];	/* page of the block behind each segment */
	unsigned int chunks;	/* physically contiguous runs */
};

static const struct sg_param sg_layouts[] = {
	{ "1_segment", 1, { 0 }, 1 },
	{ "3_contiguous", 3, { 0, 1, 2 }, 1 },
	{ "3_discontiguous", 3, { 0, 2, 4 }, 3 },
};

KUNIT_ARRAY_PARAM_DESC(sg_layouts, sg_layouts, name);

static struct scatterlist *test_sgl(struct kunit *test,
				    const struct sg_param *p)
{
	struct scatterlist *sgl;
	struct page *block;
	unsigned int i;

	block = fake_iommu_alloc_pages(test, 3);
	sgl = kunit_kcalloc(test, p->nents, sizeof(*sgl), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sgl);
	sg_init_table(sgl, p->nents);
	for (i = 0; i < p->nents; i++)
		sg_set_page(&sgl[i], block + p->page[i], PAGE_SIZE, 0);
	return sgl;
}

static void iommu_map_sg_test_segments(struct kunit *test)
{
	const struct sg_param *p = test->param_value;
	struct iommu_domain *domain = test_domain(test);
	struct scatterlist *sgl = test_sgl(test, p), *sg;
	size_t size = p->nents * PAGE_SIZE;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, iommu_map_sg(domain, TEST_IOVA, sgl, p->nents,
					   TEST_PROT, GFP_KERNEL), size);
	for_each_sg(sgl, sg, p->nents, i)
		fake_iommu_expect_mapped(test, domain,
					 TEST_IOVA + i * PAGE_SIZE,
					 sg_phys(sg), PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, fake_iommu_mapped_pages(domain, 0, 0),
			size / FAKE_IOMMU_GRANULE);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_MAP_PAGES),
			p->chunks);
	fake_iommu_expect_one_sync_map(test, domain, TEST_IOVA, size, 0);

	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, TEST_IOVA, size), size);
	fake_iommu_expect_unmapped(test, domain, TEST_IOVA, size);
}

static void iommu_map_sg_test_sync_error(struct kunit *test)
{
	const int *err = test->param_value;
	const struct sg_param *layout = &sg_layouts[2];
	struct iommu_domain *domain = test_domain(test);
	struct scatterlist *sgl = test_sgl(test, layout);
	size_t size = layout->nents * PAGE_SIZE;

	fake_iommu_map_neighbours(test, domain, TEST_IOVA, size);
	fake_iommu_fail_nth(test, domain, FAKE_IOMMU_SYNC_MAP, 1, *err);
	KUNIT_EXPECT_EQ(test, iommu_map_sg(domain, TEST_IOVA, sgl, layout->nents,
					   TEST_PROT, GFP_KERNEL), *err);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_MAP_PAGES),
			layout->chunks);
	fake_iommu_expect_unmapped(test, domain, TEST_IOVA, size);
	fake_iommu_expect_one_sync_map(test, domain, TEST_IOVA, size, *err);
	fake_iommu_expect_unmap_exactly(test, domain, TEST_IOVA, size);
	fake_iommu_expect_neighbours(test, domain, TEST_IOVA, size);
}

/* The second of three chunks fails to map: the first must be unmapped. */
static void iommu_map_sg_test_middle_chunk_fails(struct kunit *test)
{
	const struct sg_param *layout = &sg_layouts[2];
	struct iommu_domain *domain = test_domain(test);
	struct scatterlist *sgl = test_sgl(test, layout);
	size_t size = layout->nents * PAGE_SIZE;

	fake_iommu_map_neighbours(test, domain, TEST_IOVA, size);
	fake_iommu_fail_nth(test, domain, FAKE_IOMMU_MAP_PAGES, 2, -ENOMEM);
	KUNIT_EXPECT_EQ(test, iommu_map_sg(domain, TEST_IOVA, sgl, layout->nents,
					   TEST_PROT, GFP_KERNEL), -ENOMEM);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_MAP_PAGES), 2);
	fake_iommu_expect_unmapped(test, domain, TEST_IOVA, size);
	fake_iommu_expect_unmap_exactly(test, domain, TEST_IOVA, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_SYNC_MAP), 0);
	fake_iommu_expect_neighbours(test, domain, TEST_IOVA, size);
}

static struct kunit_case iommu_map_sg_test_cases[] = {
	KUNIT_CASE_PARAM(iommu_map_sg_test_segments, sg_layouts_gen_params),
	KUNIT_CASE_PARAM(iommu_map_sg_test_sync_error, sync_errnos_gen_params),
	KUNIT_CASE(iommu_map_sg_test_middle_chunk_fails),
	{}
};

static struct kunit_suite iommu_map_sg_test_suite = {
	.name = "iommu_map_sg",
	.init = fake_iommu_test_init,
	.test_cases = iommu_map_sg_test_cases,
};

kunit_test_suite(iommu_map_sg_test_suite);

MODULE_DESCRIPTION("KUnit tests for iommu_map_sg() error unwinding");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("IOMMU_FAKE");
