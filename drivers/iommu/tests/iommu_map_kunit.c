// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for error propagation out of iommu_map().
 *
 * When a driver's iotlb_sync_map fails (s390's RPCIT under a hypervisor that
 * is out of shadow resources answers -ENOMEM, a hard error -EIO), the IOMMU
 * core must return that errno to the caller and unmap everything it mapped
 * for the call, leaving the rest of the domain alone. The same holds when
 * map_pages fails part way. These tests run the real core against the fake
 * IOMMU driver, whose page table shows what stays mapped and whose call log
 * shows what the core asked for.
 */
#include <kunit/test.h>
#include <linux/iommu.h>
#include <linux/sizes.h>

#include "fake-iommu.h"

#define TEST_IOVA	0x100000UL
#define TEST_PHYS	0x40000000UL
#define TEST_PROT	(IOMMU_READ | IOMMU_WRITE)

FAKE_IOMMU_ERRNO_PARAMS(sync_errnos, fake_iommu_sync_errnos);

static struct iommu_domain *test_domain(struct kunit *test,
					unsigned long pgsize_bitmap)
{
	struct fake_iommu_dev_opts opts = { .pgsize_bitmap = pgsize_bitmap };
	struct device *dev = fake_iommu_add_device(test, &opts);

	return fake_iommu_alloc_domain(test, dev);
}

static void iommu_map_test_success(struct kunit *test)
{
	struct iommu_domain *domain = test_domain(test, SZ_4K);
	size_t size = 8 * SZ_4K;
	int prot;

	KUNIT_ASSERT_EQ(test, iommu_map(domain, TEST_IOVA, TEST_PHYS, size,
					TEST_PROT, GFP_KERNEL), 0);
	fake_iommu_expect_mapped(test, domain, TEST_IOVA, TEST_PHYS, size);
	KUNIT_EXPECT_TRUE(test, fake_iommu_lookup(domain, TEST_IOVA, NULL, NULL,
						  &prot));
	KUNIT_EXPECT_EQ(test, prot, TEST_PROT);
	fake_iommu_expect_unmapped(test, domain, TEST_IOVA - SZ_4K, SZ_4K);
	fake_iommu_expect_unmapped(test, domain, TEST_IOVA + size, SZ_4K);
	fake_iommu_expect_one_sync_map(test, domain, TEST_IOVA, size, 0);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_UNMAP_PAGES), 0);

	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, TEST_IOVA, size), size);
	fake_iommu_expect_unmapped(test, domain, TEST_IOVA, size);
}

static void iommu_map_test_sync_error(struct kunit *test)
{
	const int *err = test->param_value;
	struct iommu_domain *domain = test_domain(test, SZ_4K);
	size_t size = 4 * SZ_4K;

	/* Mappings made earlier on both sides of the range must survive. */
	fake_iommu_map_neighbours(test, domain, TEST_IOVA, size);
	fake_iommu_fail_nth(test, domain, FAKE_IOMMU_SYNC_MAP, 1, *err);

	KUNIT_EXPECT_EQ(test, iommu_map(domain, TEST_IOVA, TEST_PHYS, size,
					TEST_PROT, GFP_KERNEL), *err);

	fake_iommu_expect_unmapped(test, domain, TEST_IOVA, size);
	fake_iommu_expect_one_sync_map(test, domain, TEST_IOVA, size, *err);
	fake_iommu_expect_unmap_exactly(test, domain, TEST_IOVA, size);
	fake_iommu_expect_neighbours(test, domain, TEST_IOVA, size);
}

struct size_param {
	const char *name;
	unsigned long pgsize_bitmap;
	unsigned long iova;
	size_t size;
	/* An IOVA inside the range and the page size expected to map it. */
	unsigned long probe;
	size_t probe_pgsize;
};

static const struct size_param map_sizes[] = {
	{ "one_page", SZ_4K, TEST_IOVA, SZ_4K, TEST_IOVA, SZ_4K },
	{ "many_pages", SZ_4K, TEST_IOVA, 64 * SZ_4K, TEST_IOVA + 63 * SZ_4K,
	  SZ_4K },
	/* 2 x 4K up to a 2M boundary, one 2M page, 2 x 4K after it. */
	{ "2M_and_4K", SZ_4K | SZ_2M | SZ_1G, SZ_2M - 2 * SZ_4K,
	  SZ_2M + 4 * SZ_4K, SZ_2M + SZ_1M, SZ_2M },
};

KUNIT_ARRAY_PARAM_DESC(map_sizes, map_sizes, name);

static void iommu_map_test_sizes(struct kunit *test)
{
	const struct size_param *p = test->param_value;
	struct iommu_domain *domain = test_domain(test, p->pgsize_bitmap);
	phys_addr_t paddr = TEST_PHYS + p->iova;
	size_t pgsize = 0;

	KUNIT_ASSERT_EQ(test, iommu_map(domain, p->iova, paddr, p->size,
					TEST_PROT, GFP_KERNEL), 0);
	fake_iommu_expect_mapped(test, domain, p->iova, paddr, p->size);
	KUNIT_EXPECT_TRUE(test, fake_iommu_lookup(domain, p->probe, NULL,
						  &pgsize, NULL));
	KUNIT_EXPECT_EQ(test, pgsize, p->probe_pgsize);
	fake_iommu_expect_one_sync_map(test, domain, p->iova, p->size, 0);

	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, p->iova, p->size), p->size);
	fake_iommu_expect_unmapped(test, domain, p->iova, p->size);
}

static void iommu_map_test_sizes_sync_error(struct kunit *test)
{
	const struct size_param *p = test->param_value;
	struct iommu_domain *domain = test_domain(test, p->pgsize_bitmap);

	fake_iommu_map_neighbours(test, domain, p->iova, p->size);
	fake_iommu_fail_range(test, domain, FAKE_IOMMU_SYNC_MAP, p->iova,
			      p->iova + p->size, -EIO);
	KUNIT_EXPECT_EQ(test, iommu_map(domain, p->iova, TEST_PHYS + p->iova,
					p->size, TEST_PROT, GFP_KERNEL), -EIO);
	fake_iommu_expect_unmapped(test, domain, p->iova, p->size);
	fake_iommu_expect_one_sync_map(test, domain, p->iova, p->size, -EIO);
	fake_iommu_expect_unmap_exactly(test, domain, p->iova, p->size);
	fake_iommu_expect_neighbours(test, domain, p->iova, p->size);
}

struct unaligned_param {
	const char *name;
	unsigned long iova;
	phys_addr_t paddr;
	size_t size;
};

static const struct unaligned_param unaligned[] = {
	{ "iova", TEST_IOVA + 0x200, TEST_PHYS, SZ_4K },
	{ "paddr", TEST_IOVA, TEST_PHYS + 0x200, SZ_4K },
	{ "size", TEST_IOVA, TEST_PHYS, SZ_4K + 0x200 },
};

KUNIT_ARRAY_PARAM_DESC(unaligned, unaligned, name);

static void iommu_map_test_unaligned(struct kunit *test)
{
	const struct unaligned_param *p = test->param_value;
	struct iommu_domain *domain = test_domain(test, SZ_4K);

	KUNIT_EXPECT_EQ(test, iommu_map(domain, p->iova, p->paddr, p->size,
					TEST_PROT, GFP_KERNEL), -EINVAL);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_MAP_PAGES), 0);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_SYNC_MAP), 0);
	KUNIT_EXPECT_EQ(test, fake_iommu_mapped_pages(domain, 0, 0), 0);
}

/* map_pages maps 3 of 8 pages, then fails: those 3 must be unmapped. */
static void iommu_map_test_map_pages_partial(struct kunit *test)
{
	struct iommu_domain *domain = test_domain(test, SZ_4K);
	struct kunit_script_rule fault = {
		.op = FAKE_IOMMU_MAP_PAGES, .kind = KUNIT_SCRIPT_NTH,
		.nth = 1, .err = -ENOMEM, .data = 3,
	};
	const struct fake_iommu_call *call;
	size_t size = 8 * SZ_4K;

	fake_iommu_map_neighbours(test, domain, TEST_IOVA, size);
	fake_iommu_script(test, domain, &fault);
	KUNIT_EXPECT_EQ(test, iommu_map(domain, TEST_IOVA, TEST_PHYS, size,
					TEST_PROT, GFP_KERNEL), -ENOMEM);

	call = fake_iommu_get_call(domain, FAKE_IOMMU_MAP_PAGES, 0);
	KUNIT_ASSERT_NOT_NULL(test, call);
	KUNIT_EXPECT_EQ(test, call->done, 3 * SZ_4K);
	fake_iommu_expect_unmapped(test, domain, TEST_IOVA, size);
	fake_iommu_expect_unmap_exactly(test, domain, TEST_IOVA, 3 * SZ_4K);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_SYNC_MAP), 0);
	fake_iommu_expect_neighbours(test, domain, TEST_IOVA, size);
}

/* The 4K pages before a 2M boundary map, then the 2M page fails. */
static void iommu_map_test_map_pages_second_chunk(struct kunit *test)
{
	struct iommu_domain *domain = test_domain(test, SZ_4K | SZ_2M);
	unsigned long iova = SZ_2M - 2 * SZ_4K;
	size_t size = SZ_2M + 2 * SZ_4K;

	fake_iommu_map_neighbours(test, domain, iova, size);
	fake_iommu_fail_nth(test, domain, FAKE_IOMMU_MAP_PAGES, 2, -ENOMEM);
	KUNIT_EXPECT_EQ(test, iommu_map(domain, iova, TEST_PHYS + iova, size,
					TEST_PROT, GFP_KERNEL), -ENOMEM);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_MAP_PAGES), 2);
	fake_iommu_expect_unmapped(test, domain, iova, size);
	fake_iommu_expect_unmap_exactly(test, domain, iova, 2 * SZ_4K);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_SYNC_MAP), 0);
	fake_iommu_expect_neighbours(test, domain, iova, size);
}

/*
 * The plain IOMMU API, as VFIO or a GPU driver uses it: a paging domain from
 * iommu_paging_domain_alloc(), attached with iommu_attach_device().
 */
static void iommu_map_test_attached_domain(struct kunit *test)
{
	const int *err = test->param_value;
	struct device *dev = fake_iommu_add_device(test, NULL);
	struct iommu_domain *def_domain = iommu_get_domain_for_dev(dev);
	struct iommu_domain *domain = fake_iommu_alloc_domain(test, dev);
	struct fake_iommu_attachment *attached;
	size_t size = 4 * SZ_4K;

	attached = fake_iommu_attach_device(test, domain, dev);
	KUNIT_EXPECT_PTR_EQ(test, iommu_get_domain_for_dev(dev), domain);

	KUNIT_ASSERT_EQ(test, iommu_map(domain, TEST_IOVA, TEST_PHYS, size,
					TEST_PROT, GFP_KERNEL), 0);
	fake_iommu_expect_mapped(test, domain, TEST_IOVA, TEST_PHYS, size);
	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, TEST_IOVA, size), size);

	fake_iommu_map_neighbours(test, domain, TEST_IOVA, size);
	fake_iommu_fail_nth(test, domain, FAKE_IOMMU_SYNC_MAP, 1, *err);
	KUNIT_EXPECT_EQ(test, iommu_map(domain, TEST_IOVA, TEST_PHYS, size,
					TEST_PROT, GFP_KERNEL), *err);
	fake_iommu_expect_unmapped(test, domain, TEST_IOVA, size);
	fake_iommu_expect_unmap_exactly(test, domain, TEST_IOVA, size);
	fake_iommu_expect_neighbours(test, domain, TEST_IOVA, size);

	fake_iommu_detach_device(test, attached);
	KUNIT_EXPECT_PTR_EQ(test, iommu_get_domain_for_dev(dev), def_domain);
}

static struct kunit_case iommu_map_test_cases[] = {
	KUNIT_CASE(iommu_map_test_success),
	KUNIT_CASE_PARAM(iommu_map_test_sync_error, sync_errnos_gen_params),
	KUNIT_CASE_PARAM(iommu_map_test_sizes, map_sizes_gen_params),
	KUNIT_CASE_PARAM(iommu_map_test_sizes_sync_error, map_sizes_gen_params),
	KUNIT_CASE_PARAM(iommu_map_test_unaligned, unaligned_gen_params),
	KUNIT_CASE(iommu_map_test_map_pages_partial),
	KUNIT_CASE(iommu_map_test_map_pages_second_chunk),
	KUNIT_CASE_PARAM(iommu_map_test_attached_domain, sync_errnos_gen_params),
	{}
};

static struct kunit_suite iommu_map_test_suite = {
	.name = "iommu_map",
	.init = fake_iommu_test_init,
	.test_cases = iommu_map_test_cases,
};

kunit_test_suite(iommu_map_test_suite);

MODULE_DESCRIPTION("KUnit tests for iommu_map() error unwinding");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("IOMMU_FAKE");
