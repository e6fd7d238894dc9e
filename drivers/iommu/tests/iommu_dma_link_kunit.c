// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the error paths of dma-iommu's IOVA-link API, with
 * iotlb_sync_map or map_pages failing.
 *
 * dma_iova_sync() returns the sync_map error without unmapping anything: the
 * caller unwinds with dma_iova_destroy(), or dma_iova_unlink() and
 * dma_iova_free(). dma_iova_link() unwinds the range it failed on itself
 * (iommu_map_nosync() unmaps what it mapped) and leaves the ranges linked
 * before it to the caller. After the documented unwind nothing may stay
 * mapped, the IOVA range must be whole again in the allocator, the caller's
 * pages untouched and, with CONFIG_IOMMU_DEBUG_PAGEALLOC, the IOMMU's
 * mapping count of every page back at zero.
 *
 * The devices sit on the fake IOMMU, with a DMA (strict) or DMA_FQ (lazy)
 * default domain set up by the real IOMMU core for the real dma-iommu.
 */
#include "iommu_dma_link_kunit.h"

KUNIT_ARRAY_PARAM_DESC(link_params, link_params, name);
KUNIT_ARRAY_PARAM_DESC(link_fail_params, link_fail_params, name);

/* dma_iova_sync() of ranges[] fails with @err; nothing gets unmapped by it. */
static void sync_fails(struct link_ctx *c, int err)
{
	const struct fake_iommu_call *call;

	try_alloc_between_neighbours(c, 0, LINK_PAGES * PAGE_SIZE);
	KUNIT_ASSERT_EQ(c->test, link_ranges(c, ARRAY_SIZE(ranges)),
			LINK_PAGES * PAGE_SIZE);
	fake_iommu_reset_calls(c->domain);
	fake_iommu_fail_next(c->test, c->domain, FAKE_IOMMU_SYNC_MAP, 1, err);

	KUNIT_EXPECT_EQ(c->test, dma_iova_sync(c->dev, &c->state, 0,
					       LINK_PAGES * PAGE_SIZE), err);

	/* One sync_map, of exactly the linked range. */
	KUNIT_ASSERT_EQ(c->test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_SYNC_MAP), 1);
	call = fake_iommu_get_call(c->domain, FAKE_IOMMU_SYNC_MAP, 0);
	KUNIT_EXPECT_EQ(c->test, call->iova, c->state.addr);
	KUNIT_EXPECT_EQ(c->test, call->size, LINK_PAGES * PAGE_SIZE);
	/* The caller unwinds: everything it linked is still there. */
	KUNIT_EXPECT_EQ(c->test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_UNMAP_PAGES), 0);
	KUNIT_EXPECT_EQ(c->test, fake_iommu_mapped_pages(c->domain, 0, 0),
			LINK_PAGES + c->live);
	fake_iommu_clear_faults(c->domain);
	fake_iommu_reset_calls(c->domain);
}

/*
 * dma_iova_sync() fails; the caller unwinds with dma_iova_destroy() of the
 * length it linked, as blk-mq-dma does.
 */
static void iommu_dma_link_test_sync_fail_destroy(struct kunit *test)
{
	const struct link_param *p = test->param_value;
	struct link_ctx *c = link_setup(test, p->fq);

	sync_fails(c, p->err);
	dma_iova_destroy(c->dev, &c->state, LINK_PAGES * PAGE_SIZE,
			 DMA_TO_DEVICE, 0);
	expect_unmapped_exactly(c, c->state.addr, LINK_PAGES * PAGE_SIZE);
	expect_clean(c);
	expect_iova_reusable(c, 0, LINK_PAGES * PAGE_SIZE);
	unmap_neighbours(c);
}

/*
 * dma_iova_sync() fails; the caller unlinks the ranges one at a time, the
 * middle one first, and frees the IOVA. Each unlink removes its range and
 * nothing of its neighbours.
 */
static void iommu_dma_link_test_sync_fail_unlink(struct kunit *test)
{
	static const unsigned int order[] = { 1, 0, 2 };
	const struct link_param *p = test->param_value;
	struct link_ctx *c = link_setup(test, p->fq);
	unsigned int i, j;

	sync_fails(c, p->err);
	for (i = 0; i < ARRAY_SIZE(order); i++) {
		unsigned int r = order[i];

		fake_iommu_reset_calls(c->domain);
		dma_iova_unlink(c->dev, &c->state, range_offset(r),
				ranges[r].nr * PAGE_SIZE, DMA_TO_DEVICE, 0);
		expect_unmapped_exactly(c, c->state.addr + range_offset(r),
					ranges[r].nr * PAGE_SIZE);
		expect_range_unlinked(c, r);
		/* The ranges not unlinked yet are intact. */
		for (j = i + 1; j < ARRAY_SIZE(order); j++)
			expect_range_linked(c, order[j]);
	}
	fake_iommu_reset_calls(c->domain);
	dma_iova_free(c->dev, &c->state);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_UNMAP_PAGES), 0);
	expect_clean(c);
	expect_iova_reusable(c, 0, LINK_PAGES * PAGE_SIZE);
	unmap_neighbours(c);
}

/*
 * dma_iova_link() of range @k fails part way through (map_pages maps one
 * page, then fails): the range's own pages are unmapped by the core, the
 * ranges before it stay linked; dma_iova_destroy() of the length linked
 * before it leaves nothing.
 */

static void iommu_dma_link_test_link_fail(struct kunit *test)
{
	const struct link_fail_param *p = test->param_value;
	struct link_ctx *c = link_setup(test, p->fq);
	struct kunit_script_rule fault = {
		.op = FAKE_IOMMU_MAP_PAGES,
		.kind = KUNIT_SCRIPT_NTH,
		.nth = p->k + 1,	/* one map_pages call per range */
		.err = -ENOMEM,
		.data = 1,
	};
	const struct fake_iommu_call *call;
	size_t linked;
	unsigned int i;

	try_alloc_between_neighbours(c, 0, LINK_PAGES * PAGE_SIZE);
	fake_iommu_script(test, c->domain, &fault);
	linked = link_ranges(c, p->k);
	fake_iommu_reset_calls(c->domain);

	KUNIT_EXPECT_EQ(test, dma_iova_link(c->dev, &c->state,
					    block_phys(c, ranges[p->k].page),
					    range_offset(p->k),
					    ranges[p->k].nr * PAGE_SIZE,
					    DMA_TO_DEVICE, 0), -ENOMEM);
	/* The failing call mapped a page; the core unmapped it again. */
	KUNIT_ASSERT_EQ(test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_MAP_PAGES), 1);
	call = fake_iommu_get_call(c->domain, FAKE_IOMMU_MAP_PAGES, 0);
	KUNIT_EXPECT_EQ(test, call->done, PAGE_SIZE);
	expect_unmapped_exactly(c, c->state.addr + range_offset(p->k), PAGE_SIZE);
	expect_range_unlinked(c, p->k);
	for (i = 0; i < p->k; i++)
		expect_range_linked(c, i);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_SYNC_MAP), 0);

	fake_iommu_clear_faults(c->domain);
	fake_iommu_reset_calls(c->domain);
	dma_iova_destroy(c->dev, &c->state, linked, DMA_TO_DEVICE, 0);
	if (linked)
		expect_unmapped_exactly(c, c->state.addr, linked);
	else
		KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_UNMAP_PAGES), 0);
	expect_clean(c);
	expect_iova_reusable(c, 0, LINK_PAGES * PAGE_SIZE);
	unmap_neighbours(c);
}

/*
 * A buffer that starts and ends inside a granule: the IOVA keeps the
 * buffer's offset, and link, sync, unlink and free all work on the aligned
 * range around it (three pages for two pages' worth of bytes).
 */
static void iommu_dma_link_test_unaligned(struct kunit *test)
{
	const struct link_param *p = test->param_value;
	struct link_ctx *c = link_setup(test, p->fq);
	phys_addr_t phys = block_phys(c, 1) + 0x234;
	size_t size = 2 * PAGE_SIZE;
	const struct fake_iommu_call *call;
	dma_addr_t base;

	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(c->dev, &c->state, phys, size));
	KUNIT_EXPECT_EQ(test, c->state.addr & ~PAGE_MASK, 0x234);
	base = c->state.addr & PAGE_MASK;
	KUNIT_ASSERT_EQ(test, dma_iova_link(c->dev, &c->state, phys, 0, size,
					    DMA_TO_DEVICE, 0), 0);
	KUNIT_EXPECT_EQ(test, fake_iommu_mapped_pages(c->domain, base, 3 * PAGE_SIZE), 3);
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(c->domain, c->state.addr), phys);
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(c->domain, c->state.addr + size - 1),
			phys + size - 1);

	fake_iommu_reset_calls(c->domain);
	fake_iommu_fail_next(test, c->domain, FAKE_IOMMU_SYNC_MAP, 1, p->err);
	KUNIT_EXPECT_EQ(test, dma_iova_sync(c->dev, &c->state, 0, size), p->err);
	KUNIT_ASSERT_EQ(test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_SYNC_MAP), 1);
	call = fake_iommu_get_call(c->domain, FAKE_IOMMU_SYNC_MAP, 0);
	KUNIT_EXPECT_EQ(test, call->iova, base);
	KUNIT_EXPECT_EQ(test, call->size, 3 * PAGE_SIZE);

	fake_iommu_clear_faults(c->domain);
	fake_iommu_reset_calls(c->domain);
	dma_iova_destroy(c->dev, &c->state, size, DMA_TO_DEVICE, 0);
	expect_unmapped_exactly(c, base, 3 * PAGE_SIZE);
	expect_clean(c);
	expect_iova_reusable(c, phys, size);
}

/*
 * An untrusted device (the fake's PCI function) gets the parts of a buffer
 * that do not fill whole granules bounced through swiotlb: dma_iova_link()
 * of two pages' worth at offset 0x100 into a page bounces the head (0xf00
 * bytes) and the tail (0x100), and links the page between them directly,
 * three map_pages calls. When one fails, dma_iova_link() unlinks the parts
 * it linked and gives back their slots, and the caller frees the IOVA;
 * when dma_iova_sync() fails, the caller's dma_iova_destroy() unlinks and
 * frees all. Either way no slot stays taken, nothing but the neighbours
 * stays mapped, the caller's bytes are as they were (DMA_BIDIRECTIONAL
 * copies the slots back) and the IOVA range is whole again.
 */
#define BOUNCE_OFFSET	0x100
#define BOUNCE_SIZE	(2 * PAGE_SIZE)

struct link_bounce_param {
	const char *name;
	enum fake_iommu_op op;
	unsigned int nth;
	int err;
};

static const struct link_bounce_param link_bounce_params[] = {
	{ "head_map_pages_ENOMEM", FAKE_IOMMU_MAP_PAGES, 1, -ENOMEM },
	{ "middle_map_pages_EIO", FAKE_IOMMU_MAP_PAGES, 2, -EIO },
	{ "tail_map_pages_ENOMEM", FAKE_IOMMU_MAP_PAGES, 3, -ENOMEM },
	{ "sync_ENOMEM", FAKE_IOMMU_SYNC_MAP, 1, -ENOMEM },
	{ "sync_EIO", FAKE_IOMMU_SYNC_MAP, 1, -EIO },
};

KUNIT_ARRAY_PARAM_DESC(link_bounce_params, link_bounce_params, name);

static void iommu_dma_link_test_swiotlb(struct kunit *test)
{
	const struct link_bounce_param *p = test->param_value;
	struct fake_iommu_dev_opts opts = { .untrusted_pci = true };
	/* The core gives an untrusted device a strict DMA domain. */
	struct link_ctx *c = link_setup_dev(test, &opts, IOMMU_DOMAIN_DMA);
	phys_addr_t phys = block_phys(c, 1) + BOUNCE_OFFSET;
	size_t head = PAGE_SIZE - BOUNCE_OFFSET;
	dma_addr_t base;
	long used;
	int ret;

	/*
	 * The head's slot must keep the buffer's offset in its granule, as
	 * its IOVA does: swiotlb keeps only the bits of the device's
	 * min_align_mask, so dma_iova_link() needs a device that has one,
	 * as NVMe (blk-mq-dma's user) does; without, it fails with -EINVAL
	 * ("iommu: unaligned"). See the README.
	 */
	dma_set_min_align_mask(c->dev, PAGE_SIZE - 1);
	KUNIT_ASSERT_EQ(test, dma_get_min_align_mask(c->dev), PAGE_SIZE - 1);
	used = fake_iommu_swiotlb_used(c->dev);
	try_alloc_between_neighbours(c, phys, BOUNCE_SIZE);
	base = c->state.addr & PAGE_MASK;
	KUNIT_EXPECT_EQ(test, c->state.addr & ~PAGE_MASK, BOUNCE_OFFSET);
	fake_iommu_fail_nth(test, c->domain, p->op, p->nth, p->err);

	ret = dma_iova_link(c->dev, &c->state, phys, 0, BOUNCE_SIZE,
			    DMA_BIDIRECTIONAL, 0);
	if (p->op == FAKE_IOMMU_MAP_PAGES) {
		KUNIT_EXPECT_EQ(test, ret, p->err);
		KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(c->domain, p->op), p->nth);
		/* dma_iova_link() undid its own parts, slots included. */
		expect_clean(c);
		KUNIT_EXPECT_EQ_MSG(test, fake_iommu_swiotlb_used(c->dev), used,
				    "swiotlb slots left taken after a failed link");
		fake_iommu_clear_faults(c->domain);
		fake_iommu_reset_calls(c->domain);
		dma_iova_free(c->dev, &c->state);
	} else {
		KUNIT_ASSERT_EQ(test, ret, 0);
		KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(c->domain,
							  FAKE_IOMMU_MAP_PAGES), 3);
		KUNIT_EXPECT_GT_MSG(test, fake_iommu_swiotlb_used(c->dev), used,
				    "swiotlb does not count its slots: boot with swiotlb=...,track_hiwater and CONFIG_DEBUG_FS");
		fake_iommu_expect_bounced(test, c->dev, c->state.addr,
					  phys_to_virt(phys), head);
		KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(c->domain, base + PAGE_SIZE),
				block_phys(c, 2));
		fake_iommu_expect_bounced(test, c->dev, base + 2 * PAGE_SIZE,
					  phys_to_virt(block_phys(c, 3)),
					  BOUNCE_OFFSET);
		KUNIT_EXPECT_EQ(test, dma_iova_sync(c->dev, &c->state, 0,
						    BOUNCE_SIZE), p->err);
		fake_iommu_clear_faults(c->domain);
		fake_iommu_reset_calls(c->domain);
		dma_iova_destroy(c->dev, &c->state, BOUNCE_SIZE,
				 DMA_BIDIRECTIONAL, 0);
		expect_unmapped_exactly(c, base, 3 * PAGE_SIZE);
	}
	KUNIT_EXPECT_EQ_MSG(test, fake_iommu_swiotlb_used(c->dev), used,
			    "swiotlb slots left taken after the unwind");
	expect_clean(c);
	expect_iova_reusable(c, phys, BOUNCE_SIZE);
	unmap_neighbours(c);
}

/*
 * dma_iova_try_alloc() is the caller's test for the IOVA-link API: it says
 * no, with a state that says unused, when the IOVA space is full (a strict
 * domain whose 16-page aperture is all live) and for a device that does
 * not use dma-iommu (a KUnit device, behind no IOMMU).
 */
static void iommu_dma_link_test_try_alloc_fails(struct kunit *test)
{
	struct fake_iommu_dev_opts opts = {
		.def_domain_type = IOMMU_DOMAIN_DMA,
		.aperture_start = SZ_1M,
		.aperture_end = SZ_1M + 16 * PAGE_SIZE - 1,
	};
	struct device *dev = fake_iommu_add_device(test, &opts);
	struct page *page = fake_iommu_alloc_pages(test, 0);
	struct dma_iova_state state;
	dma_addr_t fill[16];
	struct device *plain;
	unsigned int i;

	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(dev, &state, 0, 16 * PAGE_SIZE));
	dma_iova_free(dev, &state);
	for (i = 0; i < ARRAY_SIZE(fill); i++) {
		fill[i] = dma_map_page(dev, page, 0, PAGE_SIZE, DMA_TO_DEVICE);
		KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, fill[i]));
	}
	memset(&state, 0xff, sizeof(state));
	KUNIT_EXPECT_FALSE(test, dma_iova_try_alloc(dev, &state, 0, PAGE_SIZE));
	KUNIT_EXPECT_FALSE(test, dma_use_iova(&state));
	KUNIT_EXPECT_EQ(test, fake_iommu_mapped_pages(iommu_get_domain_for_dev(dev),
						      0, 0), 16);
	for (i = 0; i < ARRAY_SIZE(fill); i++)
		dma_unmap_page(dev, fill[i], PAGE_SIZE, DMA_TO_DEVICE);
	KUNIT_EXPECT_TRUE(test, dma_iova_try_alloc(dev, &state, 0, PAGE_SIZE));
	dma_iova_free(dev, &state);

	plain = kunit_device_register(test, "iommu_dma_link_plain");
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, plain);
	memset(&state, 0xff, sizeof(state));
	KUNIT_EXPECT_FALSE(test, dma_iova_try_alloc(plain, &state, 0, PAGE_SIZE));
	KUNIT_EXPECT_FALSE(test, dma_use_iova(&state));
}

static struct kunit_case iommu_dma_link_test_cases[] = {
	KUNIT_CASE_PARAM(iommu_dma_link_test_sync_fail_destroy, link_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_link_test_sync_fail_unlink, link_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_link_test_link_fail, link_fail_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_link_test_unaligned, link_params_gen_params),
	KUNIT_CASE(iommu_dma_link_test_try_alloc_fails),
	KUNIT_CASE_PARAM(iommu_dma_link_test_swiotlb, link_bounce_params_gen_params),
	{}
};

static struct kunit_suite iommu_dma_link_test_suite = {
	.name = "iommu_dma_link",
	.init = fake_iommu_test_init,
	.test_cases = iommu_dma_link_test_cases,
};

kunit_test_suite(iommu_dma_link_test_suite);

MODULE_DESCRIPTION("KUnit tests for dma-iommu's IOVA-link API error paths");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("IOMMU_FAKE");
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
