// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for error propagation out of iommu_map() and iommu_map_sg().
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
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>

#include "../fake-iommu.h"

#define TEST_IOVA	0x100000UL
#define TEST_PHYS	0x40000000UL
#define TEST_PROT	(IOMMU_READ | IOMMU_WRITE)

struct errno_param {
	int err;
	const char *name;
};

static const struct errno_param sync_errnos[] = {
	{ -ENOMEM, "ENOMEM" },
	{ -EIO, "EIO" },
	{ -EINVAL, "EINVAL" },
	{ -EFAULT, "EFAULT" },
};

KUNIT_ARRAY_PARAM_DESC(sync_errnos, sync_errnos, name);

static struct iommu_domain *test_domain(struct kunit *test,
					unsigned long pgsize_bitmap)
{
	struct fake_iommu_dev_opts opts = { .pgsize_bitmap = pgsize_bitmap };
	struct device *dev = fake_iommu_add_device(test, &opts);

	return fake_iommu_alloc_domain(test, dev);
}

/* Every granule of [iova, iova + size) maps to paddr + offset. */
static void expect_mapped(struct kunit *test, struct iommu_domain *domain,
			  unsigned long iova, phys_addr_t paddr, size_t size)
{
	size_t off;

	KUNIT_EXPECT_EQ(test, fake_iommu_mapped_pages(domain, iova, size),
			size / FAKE_IOMMU_GRANULE);
	for (off = 0; off < size; off += FAKE_IOMMU_GRANULE)
		KUNIT_EXPECT_EQ_MSG(test, iommu_iova_to_phys(domain, iova + off),
				    paddr + off, "at IOVA %#lx", iova + off);
}

static void expect_unmapped(struct kunit *test, struct iommu_domain *domain,
			    unsigned long iova, size_t size)
{
	KUNIT_EXPECT_EQ_MSG(test, fake_iommu_mapped_pages(domain, iova, size), 0,
			    "pages left mapped in [%#lx, %#lx)", iova,
			    iova + size);
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, iova), 0);
	KUNIT_EXPECT_EQ(test,
			iommu_iova_to_phys(domain, iova + size - FAKE_IOMMU_GRANULE),
			0);
}

/*
 * Since the call log was last reset, the pages unmapped tile exactly
 * [iova, iova + size), in order, and one IOTLB sync covered that range
 * (the core may also sync an empty gather, which flushes nothing).
 */
static void expect_unmap_exactly(struct kunit *test,
				 struct iommu_domain *domain,
				 unsigned long iova, size_t size)
{
	const struct fake_iommu_call *call, *sync = NULL;
	unsigned long cur = iova;
	unsigned int i, syncs = 0;

	for (i = 0; (call = fake_iommu_get_call(domain, FAKE_IOMMU_UNMAP_PAGES, i)); i++) {
		if (!call->done)
			continue;
		KUNIT_EXPECT_EQ_MSG(test, call->iova, cur,
				    "unmap #%u out of order or outside the range", i);
		cur = call->iova + call->done;
	}
	KUNIT_EXPECT_EQ_MSG(test, cur, iova + size,
			    "the unmap did not cover [%#lx, %#lx) exactly",
			    iova, iova + size);

	for (i = 0; (call = fake_iommu_get_call(domain, FAKE_IOMMU_IOTLB_SYNC, i)); i++) {
		if (call->size) {
			sync = call;
			syncs++;
		}
	}
	KUNIT_ASSERT_EQ_MSG(test, syncs, 1, "IOTLB syncs of a non-empty range");
	KUNIT_EXPECT_EQ(test, sync->iova, iova);
	KUNIT_EXPECT_EQ(test, sync->size, size);
}

static void expect_one_sync_map(struct kunit *test, struct iommu_domain *domain,
				unsigned long iova, size_t size, int ret)
{
	const struct fake_iommu_call *call;

	KUNIT_ASSERT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_SYNC_MAP), 1);
	call = fake_iommu_get_call(domain, FAKE_IOMMU_SYNC_MAP, 0);
	KUNIT_ASSERT_NOT_NULL(test, call);
	KUNIT_EXPECT_EQ(test, call->iova, iova);
	KUNIT_EXPECT_EQ(test, call->size, size);
	KUNIT_EXPECT_EQ(test, call->ret, ret);
}

static void iommu_map_test_success(struct kunit *test)
{
	struct iommu_domain *domain = test_domain(test, SZ_4K);
	size_t size = 8 * SZ_4K;
	int prot;

	KUNIT_ASSERT_EQ(test, iommu_map(domain, TEST_IOVA, TEST_PHYS, size,
					TEST_PROT, GFP_KERNEL), 0);
	expect_mapped(test, domain, TEST_IOVA, TEST_PHYS, size);
	KUNIT_EXPECT_TRUE(test, fake_iommu_lookup(domain, TEST_IOVA, NULL, NULL,
						  &prot));
	KUNIT_EXPECT_EQ(test, prot, TEST_PROT);
	expect_unmapped(test, domain, TEST_IOVA - SZ_4K, SZ_4K);
	expect_unmapped(test, domain, TEST_IOVA + size, SZ_4K);
	expect_one_sync_map(test, domain, TEST_IOVA, size, 0);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_UNMAP_PAGES), 0);

	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, TEST_IOVA, size), size);
	expect_unmapped(test, domain, TEST_IOVA, size);
}

static void iommu_map_test_sync_error(struct kunit *test)
{
	const struct errno_param *p = test->param_value;
	struct iommu_domain *domain = test_domain(test, SZ_4K);
	unsigned long below = TEST_IOVA - SZ_4K, above = TEST_IOVA + 4 * SZ_4K;
	size_t size = 4 * SZ_4K;

	/* Mappings made earlier on both sides of the range must survive. */
	KUNIT_ASSERT_EQ(test, iommu_map(domain, below, TEST_PHYS + SZ_1M, SZ_4K,
					TEST_PROT, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, iommu_map(domain, above, TEST_PHYS + SZ_2M, SZ_4K,
					TEST_PROT, GFP_KERNEL), 0);
	fake_iommu_reset_calls(domain);
	KUNIT_ASSERT_EQ(test, fake_iommu_fail_nth(test, domain, FAKE_IOMMU_SYNC_MAP,
						  1, p->err), 0);

	KUNIT_EXPECT_EQ(test, iommu_map(domain, TEST_IOVA, TEST_PHYS, size,
					TEST_PROT, GFP_KERNEL), p->err);

	expect_unmapped(test, domain, TEST_IOVA, size);
	expect_one_sync_map(test, domain, TEST_IOVA, size, p->err);
	expect_unmap_exactly(test, domain, TEST_IOVA, size);
	expect_mapped(test, domain, below, TEST_PHYS + SZ_1M, SZ_4K);
	expect_mapped(test, domain, above, TEST_PHYS + SZ_2M, SZ_4K);

	iommu_unmap(domain, below, SZ_4K);
	iommu_unmap(domain, above, SZ_4K);
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
	expect_mapped(test, domain, p->iova, paddr, p->size);
	KUNIT_EXPECT_TRUE(test, fake_iommu_lookup(domain, p->probe, NULL,
						  &pgsize, NULL));
	KUNIT_EXPECT_EQ(test, pgsize, p->probe_pgsize);
	expect_one_sync_map(test, domain, p->iova, p->size, 0);

	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, p->iova, p->size), p->size);
	expect_unmapped(test, domain, p->iova, p->size);
}

static void iommu_map_test_sizes_sync_error(struct kunit *test)
{
	const struct size_param *p = test->param_value;
	struct iommu_domain *domain = test_domain(test, p->pgsize_bitmap);

	KUNIT_ASSERT_EQ(test, fake_iommu_fail_range(test, domain,
						    FAKE_IOMMU_SYNC_MAP, p->iova,
						    p->iova + p->size, -EIO), 0);
	KUNIT_EXPECT_EQ(test, iommu_map(domain, p->iova, TEST_PHYS + p->iova,
					p->size, TEST_PROT, GFP_KERNEL), -EIO);
	expect_unmapped(test, domain, p->iova, p->size);
	expect_one_sync_map(test, domain, p->iova, p->size, -EIO);
	expect_unmap_exactly(test, domain, p->iova, p->size);
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
	struct fake_iommu_fault fault = {
		.op = FAKE_IOMMU_MAP_PAGES, .kind = FAKE_IOMMU_FAIL_NTH,
		.nth = 1, .err = -ENOMEM, .partial = 3,
	};
	const struct fake_iommu_call *call;
	size_t size = 8 * SZ_4K;

	KUNIT_ASSERT_EQ(test, fake_iommu_script(test, domain, &fault), 0);
	KUNIT_EXPECT_EQ(test, iommu_map(domain, TEST_IOVA, TEST_PHYS, size,
					TEST_PROT, GFP_KERNEL), -ENOMEM);

	call = fake_iommu_get_call(domain, FAKE_IOMMU_MAP_PAGES, 0);
	KUNIT_ASSERT_NOT_NULL(test, call);
	KUNIT_EXPECT_EQ(test, call->done, 3 * SZ_4K);
	expect_unmapped(test, domain, TEST_IOVA, size);
	expect_unmap_exactly(test, domain, TEST_IOVA, 3 * SZ_4K);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_SYNC_MAP), 0);
}

/* The 4K pages before a 2M boundary map, then the 2M page fails. */
static void iommu_map_test_map_pages_second_chunk(struct kunit *test)
{
	struct iommu_domain *domain = test_domain(test, SZ_4K | SZ_2M);
	unsigned long iova = SZ_2M - 2 * SZ_4K;
	size_t size = SZ_2M + 2 * SZ_4K;

	KUNIT_ASSERT_EQ(test, fake_iommu_fail_nth(test, domain,
						  FAKE_IOMMU_MAP_PAGES, 2,
						  -ENOMEM), 0);
	KUNIT_EXPECT_EQ(test, iommu_map(domain, iova, TEST_PHYS + iova, size,
					TEST_PROT, GFP_KERNEL), -ENOMEM);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_MAP_PAGES), 2);
	expect_unmapped(test, domain, iova, size);
	expect_unmap_exactly(test, domain, iova, 2 * SZ_4K);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_SYNC_MAP), 0);
}

struct attach_ctx {
	struct iommu_domain *domain;
	struct device *dev;
};

static void detach_action(void *data)
{
	struct attach_ctx *ctx = data;

	iommu_detach_device(ctx->domain, ctx->dev);
}

/*
 * The plain IOMMU API, as VFIO or a GPU driver uses it: a paging domain from
 * iommu_paging_domain_alloc(), attached with iommu_attach_device().
 */
static void iommu_map_test_attached_domain(struct kunit *test)
{
	const struct errno_param *p = test->param_value;
	struct attach_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	struct iommu_domain *def_domain;
	size_t size = 4 * SZ_4K;

	KUNIT_ASSERT_NOT_NULL(test, ctx);
	ctx->dev = fake_iommu_add_device(test, NULL);
	def_domain = iommu_get_domain_for_dev(ctx->dev);
	ctx->domain = fake_iommu_alloc_domain(test, ctx->dev);
	KUNIT_ASSERT_EQ(test, iommu_attach_device(ctx->domain, ctx->dev), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, detach_action, ctx), 0);
	KUNIT_EXPECT_PTR_EQ(test, iommu_get_domain_for_dev(ctx->dev), ctx->domain);

	KUNIT_ASSERT_EQ(test, iommu_map(ctx->domain, TEST_IOVA, TEST_PHYS, size,
					TEST_PROT, GFP_KERNEL), 0);
	expect_mapped(test, ctx->domain, TEST_IOVA, TEST_PHYS, size);
	KUNIT_EXPECT_EQ(test, iommu_unmap(ctx->domain, TEST_IOVA, size), size);

	fake_iommu_reset_calls(ctx->domain);
	KUNIT_ASSERT_EQ(test, fake_iommu_fail_nth(test, ctx->domain,
						  FAKE_IOMMU_SYNC_MAP, 1, p->err), 0);
	KUNIT_EXPECT_EQ(test, iommu_map(ctx->domain, TEST_IOVA, TEST_PHYS, size,
					TEST_PROT, GFP_KERNEL), p->err);
	expect_unmapped(test, ctx->domain, TEST_IOVA, size);
	expect_unmap_exactly(test, ctx->domain, TEST_IOVA, size);

	kunit_release_action(test, detach_action, ctx);
	KUNIT_EXPECT_PTR_EQ(test, iommu_get_domain_for_dev(ctx->dev), def_domain);
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
	.test_cases = iommu_map_test_cases,
};

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

static void free_block_action(void *page)
{
	__free_pages(page, 3);
}

static struct scatterlist *test_sgl(struct kunit *test,
				    const struct sg_param *p)
{
	struct scatterlist *sgl;
	struct page *block;
	unsigned int i;

	block = alloc_pages(GFP_KERNEL, 3);
	KUNIT_ASSERT_NOT_NULL(test, block);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, free_block_action,
							block), 0);
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
	struct iommu_domain *domain = test_domain(test, SZ_4K);
	struct scatterlist *sgl = test_sgl(test, p), *sg;
	size_t size = p->nents * PAGE_SIZE;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, iommu_map_sg(domain, TEST_IOVA, sgl, p->nents,
					   TEST_PROT, GFP_KERNEL), size);
	for_each_sg(sgl, sg, p->nents, i)
		expect_mapped(test, domain, TEST_IOVA + i * PAGE_SIZE,
			      sg_phys(sg), PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, fake_iommu_mapped_pages(domain, 0, 0),
			size / FAKE_IOMMU_GRANULE);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_MAP_PAGES),
			p->chunks);
	expect_one_sync_map(test, domain, TEST_IOVA, size, 0);

	KUNIT_EXPECT_EQ(test, iommu_unmap(domain, TEST_IOVA, size), size);
	expect_unmapped(test, domain, TEST_IOVA, size);
}

static void iommu_map_sg_test_sync_error(struct kunit *test)
{
	const struct errno_param *p = test->param_value;
	const struct sg_param *layout = &sg_layouts[2];
	struct iommu_domain *domain = test_domain(test, SZ_4K);
	struct scatterlist *sgl = test_sgl(test, layout);
	size_t size = layout->nents * PAGE_SIZE;

	KUNIT_ASSERT_EQ(test, fake_iommu_fail_nth(test, domain, FAKE_IOMMU_SYNC_MAP,
						  1, p->err), 0);
	KUNIT_EXPECT_EQ(test, iommu_map_sg(domain, TEST_IOVA, sgl, layout->nents,
					   TEST_PROT, GFP_KERNEL), p->err);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_MAP_PAGES),
			layout->chunks);
	expect_unmapped(test, domain, TEST_IOVA, size);
	expect_one_sync_map(test, domain, TEST_IOVA, size, p->err);
	expect_unmap_exactly(test, domain, TEST_IOVA, size);
}

/* The second of three chunks fails to map: the first must be unmapped. */
static void iommu_map_sg_test_middle_chunk_fails(struct kunit *test)
{
	const struct sg_param *layout = &sg_layouts[2];
	struct iommu_domain *domain = test_domain(test, SZ_4K);
	struct scatterlist *sgl = test_sgl(test, layout);

	KUNIT_ASSERT_EQ(test, fake_iommu_fail_nth(test, domain,
						  FAKE_IOMMU_MAP_PAGES, 2,
						  -ENOMEM), 0);
	KUNIT_EXPECT_EQ(test, iommu_map_sg(domain, TEST_IOVA, sgl, layout->nents,
					   TEST_PROT, GFP_KERNEL), -ENOMEM);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_MAP_PAGES), 2);
	expect_unmapped(test, domain, TEST_IOVA, layout->nents * PAGE_SIZE);
	expect_unmap_exactly(test, domain, TEST_IOVA, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_SYNC_MAP), 0);
}

static struct kunit_case iommu_map_sg_test_cases[] = {
	KUNIT_CASE_PARAM(iommu_map_sg_test_segments, sg_layouts_gen_params),
	KUNIT_CASE_PARAM(iommu_map_sg_test_sync_error, sync_errnos_gen_params),
	KUNIT_CASE(iommu_map_sg_test_middle_chunk_fails),
	{}
};

static struct kunit_suite iommu_map_sg_test_suite = {
	.name = "iommu_map_sg",
	.test_cases = iommu_map_sg_test_cases,
};

/*
 * The sync_map logic the fake shares with s390, iommu_sync_map_refresh():
 * one refresh of the range per attached device, one global refresh of a
 * device whose range refresh said -ENOMEM, and the first error returned.
 */
#define SYNC_MAX_DEVS	2

struct sync_ctx {
	struct iommu_domain *domain;
	struct device *dev[SYNC_MAX_DEVS];
	int nr_devs;
};

static void sync_detach_action(void *data)
{
	struct sync_ctx *ctx = data;
	int i;

	for (i = 0; i < ctx->nr_devs; i++)
		iommu_detach_device(ctx->domain, ctx->dev[i]);
}

/* One unmanaged domain attached to @nr_devs devices, each in its group. */
static struct sync_ctx *sync_setup(struct kunit *test, int nr_devs)
{
	struct sync_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, ctx);
	for (i = 0; i < nr_devs; i++)
		ctx->dev[i] = fake_iommu_add_device(test, NULL);
	ctx->domain = fake_iommu_alloc_domain(test, ctx->dev[0]);
	for (i = 0; i < nr_devs; i++) {
		KUNIT_ASSERT_EQ(test, iommu_attach_device(ctx->domain, ctx->dev[i]), 0);
		ctx->nr_devs++;
	}
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, sync_detach_action,
							ctx), 0);
	return ctx;
}

/* A refresh the sync_map logic is expected to make. */
struct sync_refresh {
	u8 dev;
	bool all;
	int ret;
};

struct sync_param {
	const char *name;
	int nr_devs;
	/* scripted: the first refresh of dev[fail_dev] fails with range_err,
	 * its first global refresh with all_err (0: no fault)
	 */
	int fail_dev;
	int range_err;
	int all_err;
	struct sync_refresh calls[4];
	int nr_calls;
	int ret;
};

static const struct sync_param sync_params[] = {
	{ "one_device", 1, 0, 0, 0, { { 0 } }, 1, 0 },
	{ "two_devices", 2, 0, 0, 0, { { 0 }, { 1 } }, 2, 0 },
	{ "ENOMEM_then_global_ok", 1, 0, -ENOMEM, 0,
	  { { 0, false, -ENOMEM }, { 0, true } }, 2, 0 },
	{ "ENOMEM_then_global_fails", 1, 0, -ENOMEM, -ENOMEM,
	  { { 0, false, -ENOMEM }, { 0, true, -ENOMEM } }, 2, -ENOMEM },
	{ "EIO_no_global_refresh", 1, 0, -EIO, 0,
	  { { 0, false, -EIO } }, 1, -EIO },
	{ "ENOMEM_on_second_device", 2, 1, -ENOMEM, 0,
	  { { 0 }, { 1, false, -ENOMEM }, { 1, true } }, 3, 0 },
	/* 6.12's s390 logic let the second device's success hide this. */
	{ "EIO_on_first_of_two_devices", 2, 0, -EIO, 0,
	  { { 0, false, -EIO } }, 1, -EIO },
	{ "EIO_on_second_device", 2, 1, -EIO, 0,
	  { { 0 }, { 1, false, -EIO } }, 2, -EIO },
};

KUNIT_ARRAY_PARAM_DESC(sync_params, sync_params, name);

static void iommu_sync_map_test_devices(struct kunit *test)
{
	const struct sync_param *p = test->param_value;
	struct sync_ctx *ctx = sync_setup(test, p->nr_devs);
	struct fake_iommu_fault fault = {
		.dev = ctx->dev[p->fail_dev], .kind = FAKE_IOMMU_FAIL_NTH, .nth = 1,
	};
	size_t size = 4 * SZ_4K;
	int i;

	if (p->range_err) {
		fault.op = FAKE_IOMMU_REFRESH;
		fault.err = p->range_err;
		KUNIT_ASSERT_EQ(test, fake_iommu_script(test, ctx->domain, &fault), 0);
	}
	if (p->all_err) {
		fault.op = FAKE_IOMMU_REFRESH_ALL;
		fault.err = p->all_err;
		KUNIT_ASSERT_EQ(test, fake_iommu_script(test, ctx->domain, &fault), 0);
	}

	KUNIT_EXPECT_EQ(test, iommu_map(ctx->domain, TEST_IOVA, TEST_PHYS, size,
					TEST_PROT, GFP_KERNEL), p->ret);
	if (p->ret)
		expect_unmapped(test, ctx->domain, TEST_IOVA, size);
	else
		expect_mapped(test, ctx->domain, TEST_IOVA, TEST_PHYS, size);

	/* The refreshes, in order, across both kinds. */
	for (i = 0; i < p->nr_calls; i++) {
		const struct sync_refresh *e = &p->calls[i];
		enum fake_iommu_op op = e->all ? FAKE_IOMMU_REFRESH_ALL :
						 FAKE_IOMMU_REFRESH;
		const struct fake_iommu_call *call;
		unsigned int j, n = 0;

		/* Skip to the i-th refresh call of either kind. */
		for (j = 0; (call = fake_iommu_get_call(ctx->domain, FAKE_IOMMU_NR_OPS, j)); j++) {
			if (call->op != FAKE_IOMMU_REFRESH &&
			    call->op != FAKE_IOMMU_REFRESH_ALL)
				continue;
			if (n++ == i)
				break;
		}
		KUNIT_ASSERT_NOT_NULL_MSG(test, call, "refresh #%d missing", i);
		KUNIT_EXPECT_EQ_MSG(test, call->op, op, "refresh #%d", i);
		KUNIT_EXPECT_PTR_EQ_MSG(test, call->dev, ctx->dev[e->dev],
					"refresh #%d", i);
		KUNIT_EXPECT_EQ_MSG(test, call->ret, e->ret, "refresh #%d", i);
		if (!e->all) {
			KUNIT_EXPECT_EQ(test, call->iova, TEST_IOVA);
			KUNIT_EXPECT_EQ(test, call->size, size);
		}
	}
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(ctx->domain, FAKE_IOMMU_REFRESH) +
			fake_iommu_nr_calls(ctx->domain, FAKE_IOMMU_REFRESH_ALL),
			p->nr_calls);
	if (!p->ret)
		iommu_unmap(ctx->domain, TEST_IOVA, size);
}

/*
 * The hypervisor's shadow holds 4 entries, all in use by live mappings: a
 * fifth mapping fails with -ENOMEM even after the global refresh, and is
 * unmapped; the live ones stay mapped and shadowed.
 */
static void iommu_sync_map_test_shadow_full(struct kunit *test)
{
	struct sync_ctx *ctx = sync_setup(test, 1);
	int i;

	fake_iommu_set_shadow_limit(ctx->domain, 4);
	for (i = 0; i < 4; i++)
		KUNIT_ASSERT_EQ(test, iommu_map(ctx->domain, TEST_IOVA + i * SZ_4K,
						TEST_PHYS + i * SZ_4K, SZ_4K,
						TEST_PROT, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, fake_iommu_shadow_entries(ctx->domain), 4);
	fake_iommu_reset_calls(ctx->domain);

	KUNIT_EXPECT_EQ(test, iommu_map(ctx->domain, TEST_IOVA + 4 * SZ_4K,
					TEST_PHYS, SZ_4K, TEST_PROT, GFP_KERNEL),
			-ENOMEM);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(ctx->domain, FAKE_IOMMU_REFRESH_ALL), 1);
	expect_unmapped(test, ctx->domain, TEST_IOVA + 4 * SZ_4K, SZ_4K);
	expect_mapped(test, ctx->domain, TEST_IOVA, TEST_PHYS, 4 * SZ_4K);
	KUNIT_EXPECT_EQ(test, fake_iommu_shadow_entries(ctx->domain), 4);

	iommu_unmap(ctx->domain, TEST_IOVA, 4 * SZ_4K);
	KUNIT_EXPECT_EQ(test, fake_iommu_shadow_entries(ctx->domain), 0);
}

/*
 * Strict unmaps refresh the unmapped range, which lets the hypervisor drop
 * its shadow entries at once: mapping and unmapping far past the limit
 * never needs the global refresh.
 */
static void iommu_sync_map_test_shadow_strict(struct kunit *test)
{
	struct sync_ctx *ctx = sync_setup(test, 1);
	int i;

	fake_iommu_set_shadow_limit(ctx->domain, 4);
	for (i = 0; i < 64; i++) {
		unsigned long iova = TEST_IOVA + i * SZ_4K;

		KUNIT_ASSERT_EQ(test, iommu_map(ctx->domain, iova, TEST_PHYS,
						SZ_4K, TEST_PROT, GFP_KERNEL), 0);
		KUNIT_ASSERT_EQ(test, iommu_unmap(ctx->domain, iova, SZ_4K), SZ_4K);
	}
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(ctx->domain, FAKE_IOMMU_REFRESH_ALL), 0);
	KUNIT_EXPECT_EQ(test, fake_iommu_shadow_entries(ctx->domain), 0);
}

static struct kunit_case iommu_sync_map_test_cases[] = {
	KUNIT_CASE_PARAM(iommu_sync_map_test_devices, sync_params_gen_params),
	KUNIT_CASE(iommu_sync_map_test_shadow_full),
	KUNIT_CASE(iommu_sync_map_test_shadow_strict),
	{}
};

static struct kunit_suite iommu_sync_map_test_suite = {
	.name = "iommu_sync_map",
	.test_cases = iommu_sync_map_test_cases,
};

kunit_test_suites(&iommu_map_test_suite, &iommu_map_sg_test_suite,
		  &iommu_sync_map_test_suite);

MODULE_DESCRIPTION("KUnit tests for iommu_map() and iommu_map_sg() error unwinding");
MODULE_LICENSE("GPL");
