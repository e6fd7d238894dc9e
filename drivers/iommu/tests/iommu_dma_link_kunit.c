// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the error paths of dma-iommu's IOVA-link API and of
 * dma_map_phys(), with iotlb_sync_map or map_pages failing.
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
#include <kunit/device.h>
#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/bio.h>
#include <linux/blk-mq.h>
#include <linux/blk-mq-dma.h>
#include <linux/dma-buf.h>
#include <linux/dma-buf-mapping.h>
#include <linux/dma-resv.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/iommu-debug-pagealloc.h>
#include <linux/iommu-dma.h>
#include <linux/mm.h>
#include <linux/panic.h>
#include <linux/pci-p2pdma.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/string.h>

#include "../dma-iommu.h"
#include "fake-iommu.h"
#include "fake-iommu-pci.h"
#include "fake-iommu-sweep.h"

#define NR_BLOCK_PAGES	8
#define FILL		0xa5
/* A physical address with no struct page: an MMIO BAR, for DMA_ATTR_MMIO. */
#define MMIO_PHYS	0xf0000000000ULL

struct link_param {
	const char *name;
	bool fq;
	int err;
};

static const struct link_param link_params[] = {
	{ "DMA_ENOMEM", false, -ENOMEM },
	{ "DMA_EIO", false, -EIO },
	{ "DMA_FQ_ENOMEM", true, -ENOMEM },
	{ "DMA_FQ_EIO", true, -EIO },
};

KUNIT_ARRAY_PARAM_DESC(link_params, link_params, name);

/*
 * Three physically discontiguous ranges of the test's block, linked back to
 * back into one IOVA range: pages 0, 2-3 and 5 at IOVA offsets 0, 1 and 3
 * pages.
 */
static const struct {
	unsigned int page;
	unsigned int nr;
} ranges[] = { { 0, 1 }, { 2, 2 }, { 5, 1 } };

#define LINK_PAGES	4

/*
 * CONFIG_IOMMU_DEBUG_PAGEALLOC's per-page mapping counts: on when the kernel
 * was booted with iommu.debug_pagealloc=1. Its symbols are not exported, so
 * only a built-in test sees them.
 */
#if IS_ENABLED(CONFIG_IOMMU_DEBUG_PAGEALLOC) && IS_BUILTIN(CONFIG_IOMMU_DMA_LINK_KUNIT_TEST)
static bool debug_pagealloc_on(void)
{
	return static_branch_unlikely(&iommu_debug_initialized);
}

/* WARNs for each page still counted as mapped by an IOMMU. */
static void debug_pagealloc_check(struct page *page, int nr)
{
	iommu_debug_check_unmapped(page, nr);
}
#else
static bool debug_pagealloc_on(void)
{
	return false;
}

static void debug_pagealloc_check(struct page *page, int nr)
{
}
#endif

struct link_ctx {
	struct kunit *test;
	struct device *dev;
	struct iommu_domain *domain;
	struct page *block;
	struct dma_iova_state state;
	bool fq;
	/* Another user's live mappings around c->state's IOVA range. */
	struct page *other;
	dma_addr_t above, below;
	unsigned long live;
};

static struct link_ctx *link_setup_dev(struct kunit *test,
				       const struct fake_iommu_dev_opts *opts,
				       unsigned int type)
{
	struct link_ctx *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, c);
	c->test = test;
	c->fq = type == IOMMU_DOMAIN_DMA_FQ;
	c->dev = fake_iommu_add_device(test, opts);
	c->domain = iommu_get_domain_for_dev(c->dev);
	KUNIT_ASSERT_EQ(test, c->domain->type, type);
	KUNIT_ASSERT_TRUE_MSG(test, use_dma_iommu(c->dev),
			      "DMA API calls do not go through dma-iommu");
	c->block = fake_iommu_alloc_pages(test, order_base_2(NR_BLOCK_PAGES));
	memset(page_address(c->block), FILL, NR_BLOCK_PAGES * PAGE_SIZE);
	return c;
}

static struct link_ctx *link_setup(struct kunit *test, bool fq)
{
	struct fake_iommu_dev_opts opts = {
		/* Strict: ask for DMA. Lazy: the x86 default with FQ support. */
		.def_domain_type = fq ? 0 : IOMMU_DOMAIN_DMA,
		.deferred_flush = fq,
	};

	return link_setup_dev(test, &opts,
			      fq ? IOMMU_DOMAIN_DMA_FQ : IOMMU_DOMAIN_DMA);
}

static phys_addr_t block_phys(struct link_ctx *c, unsigned int page)
{
	return page_to_phys(c->block) + page * PAGE_SIZE;
}

static size_t range_offset(unsigned int i)
{
	size_t off = 0;

	while (i--)
		off += ranges[i].nr * PAGE_SIZE;
	return off;
}

/* Links ranges[0..@n) into c->state; returns the length linked. */
static size_t link_ranges(struct link_ctx *c, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ_MSG(c->test,
				    dma_iova_link(c->dev, &c->state,
						  block_phys(c, ranges[i].page),
						  range_offset(i),
						  ranges[i].nr * PAGE_SIZE,
						  DMA_TO_DEVICE, 0), 0,
				    "linking range %u", i);
	return range_offset(n);
}

/* Range @i translates to its pages, one by one. */
static void expect_range_linked(struct link_ctx *c, unsigned int i)
{
	dma_addr_t iova = c->state.addr + range_offset(i);
	unsigned int j;

	for (j = 0; j < ranges[i].nr; j++)
		KUNIT_EXPECT_EQ_MSG(c->test,
				    iommu_iova_to_phys(c->domain, iova + j * PAGE_SIZE),
				    block_phys(c, ranges[i].page + j),
				    "range %u, page %u", i, j);
}

static void expect_range_unlinked(struct link_ctx *c, unsigned int i)
{
	KUNIT_EXPECT_EQ_MSG(c->test,
			    fake_iommu_mapped_pages(c->domain,
						    c->state.addr + range_offset(i),
						    ranges[i].nr * PAGE_SIZE), 0,
			    "range %u still mapped", i);
}

/*
 * The unmaps logged since the last reset cover [@iova, @iova + @size)
 * exactly: in order, each one within the range and unmapping all it was
 * asked for, nothing outside it, and one IOTLB sync of the range.
 */
static void expect_unmapped_exactly(struct link_ctx *c, dma_addr_t iova,
				    size_t size)
{
	fake_iommu_expect_unmap_exactly(c->test, c->domain, iova, size);
}

/*
 * The IOVA range of c->state went back to the allocator whole: a new
 * allocation of the same size (the allocator's cache for that size hands
 * back the last one freed) gets it again. On a DMA_FQ domain, once its
 * flush queue is flushed (dma_iova_destroy() queued the IOVA up to 7.2).
 */
static void expect_iova_reusable(struct link_ctx *c, phys_addr_t phys,
				 size_t size)
{
	struct dma_iova_state again;

	if (c->fq)
		iommu_dma_flush_fq(c->domain);
	KUNIT_ASSERT_TRUE(c->test, dma_iova_try_alloc(c->dev, &again, phys, size));
	KUNIT_EXPECT_EQ_MSG(c->test, again.addr, c->state.addr,
			    "the IOVA range did not go back to the allocator whole");
	dma_iova_free(c->dev, &again);
}

static dma_addr_t map_other(struct link_ctx *c)
{
	dma_addr_t handle = dma_map_page(c->dev, c->other, 0, PAGE_SIZE,
					 DMA_TO_DEVICE);

	KUNIT_ASSERT_FALSE(c->test, dma_mapping_error(c->dev, handle));
	return handle;
}

/*
 * dma_iova_try_alloc() of c->state between two live mappings of another
 * user of the device: the allocator hands IOVAs out top down, so a page
 * mapped before lands right above the range, one mapped after right below
 * it. An unwinding that unmaps more than the caller linked takes one with
 * it; expect_clean() checks them, unmap_neighbours() ends them.
 */
static void try_alloc_between_neighbours(struct link_ctx *c, phys_addr_t phys,
					 size_t size)
{
	c->other = fake_iommu_alloc_pages(c->test, 0);
	c->above = map_other(c);
	KUNIT_ASSERT_TRUE(c->test, dma_iova_try_alloc(c->dev, &c->state, phys, size));
	c->below = map_other(c);
	c->live = 2;
	fake_iommu_reset_calls(c->domain);
}

static void expect_neighbours(struct link_ctx *c)
{
	KUNIT_EXPECT_EQ(c->test, iommu_iova_to_phys(c->domain, c->above),
			page_to_phys(c->other));
	KUNIT_EXPECT_EQ(c->test, iommu_iova_to_phys(c->domain, c->below),
			page_to_phys(c->other));
}

static void unmap_neighbours(struct link_ctx *c)
{
	expect_neighbours(c);
	dma_unmap_page(c->dev, c->above, PAGE_SIZE, DMA_TO_DEVICE);
	dma_unmap_page(c->dev, c->below, PAGE_SIZE, DMA_TO_DEVICE);
	c->live = 0;
	KUNIT_EXPECT_EQ(c->test, fake_iommu_mapped_pages(c->domain, 0, 0), 0);
}

/*
 * What every unwind leaves: nothing mapped in the domain but the live
 * neighbours (intact), the caller's pages as they were, no page still
 * counted as IOMMU-mapped by CONFIG_IOMMU_DEBUG_PAGEALLOC (which WARNs if
 * one is), no WARN.
 */
static void expect_clean(struct link_ctx *c)
{
	KUNIT_EXPECT_EQ_MSG(c->test, fake_iommu_mapped_pages(c->domain, 0, 0),
			    c->live, "pages left mapped after the unwind");
	if (c->live)
		expect_neighbours(c);
	KUNIT_EXPECT_NULL_MSG(c->test,
			      memchr_inv(page_address(c->block), FILL,
					 NR_BLOCK_PAGES * PAGE_SIZE),
			      "the caller's pages changed");
	debug_pagealloc_check(c->block, NR_BLOCK_PAGES);
}

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
struct link_fail_param {
	const char *name;
	unsigned int k;
	bool fq;
};

static const struct link_fail_param link_fail_params[] = {
	{ "first_DMA", 0, false },
	{ "middle_DMA", 1, false },
	{ "last_DMA", 2, false },
	{ "first_DMA_FQ", 0, true },
	{ "middle_DMA_FQ", 1, true },
	{ "last_DMA_FQ", 2, true },
};

KUNIT_ARRAY_PARAM_DESC(link_fail_params, link_fail_params, name);

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

/*
 * dma_map_phys() (what dma_map_page() and dma_map_resource() are built on)
 * with sync_map failing: DMA_MAPPING_ERROR, nothing mapped, the IOVA back in
 * the allocator (the next identical mapping gets it).
 */
static void map_phys_fails(struct link_ctx *c, phys_addr_t phys, size_t size,
			   unsigned long attrs, int err)
{
	const struct fake_iommu_call *call;
	dma_addr_t handle, failed;
	size_t off = offset_in_page(phys);
	size_t span = PAGE_ALIGN(off + size);

	KUNIT_ASSERT_EQ(c->test, fake_iommu_fail_next(c->test, c->domain,
						      FAKE_IOMMU_SYNC_MAP, 1, err), 0);
	handle = dma_map_phys(c->dev, phys, size, DMA_BIDIRECTIONAL, attrs);
	KUNIT_EXPECT_TRUE(c->test, dma_mapping_error(c->dev, handle));
	KUNIT_ASSERT_EQ(c->test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_SYNC_MAP), 1);
	call = fake_iommu_get_call(c->domain, FAKE_IOMMU_SYNC_MAP, 0);
	KUNIT_EXPECT_EQ(c->test, call->size, span);
	failed = call->iova;
	expect_unmapped_exactly(c, failed, span);
	expect_clean(c);

	fake_iommu_clear_faults(c->domain);
	fake_iommu_reset_calls(c->domain);
	handle = dma_map_phys(c->dev, phys, size, DMA_BIDIRECTIONAL, attrs);
	KUNIT_ASSERT_FALSE(c->test, dma_mapping_error(c->dev, handle));
	KUNIT_EXPECT_EQ_MSG(c->test, handle, failed + off,
			    "the failed mapping's IOVA did not go back to the allocator");
	KUNIT_EXPECT_EQ(c->test, fake_iommu_mapped_pages(c->domain, 0, 0), span / PAGE_SIZE);
	KUNIT_EXPECT_EQ(c->test, iommu_iova_to_phys(c->domain, handle), phys);
	KUNIT_EXPECT_EQ(c->test, iommu_iova_to_phys(c->domain, handle + size - 1),
			phys + size - 1);
	dma_unmap_phys(c->dev, handle, size, DMA_BIDIRECTIONAL, attrs);
	KUNIT_EXPECT_EQ(c->test, fake_iommu_mapped_pages(c->domain, 0, 0), 0);
	expect_clean(c);
}

/* RAM, starting half way into a page and crossing into the next one. */
static void iommu_dma_phys_test_ram(struct kunit *test)
{
	const struct link_param *p = test->param_value;
	struct link_ctx *c = link_setup(test, p->fq);

	map_phys_fails(c, block_phys(c, 1) + PAGE_SIZE / 2, PAGE_SIZE, 0, p->err);
}

/* DMA_ATTR_MMIO: a peer's BAR, no struct page, no swiotlb. */
static void iommu_dma_phys_test_mmio(struct kunit *test)
{
	const struct link_param *p = test->param_value;
	struct link_ctx *c = link_setup(test, p->fq);

	map_phys_fails(c, MMIO_PHYS + 0x100, 2 * PAGE_SIZE, DMA_ATTR_MMIO, p->err);
}

/*
 * The CONFIG_IOMMU_DEBUG_PAGEALLOC checks of the other cases only count if
 * the kernel was booted with them on (iommu.debug_pagealloc=1).
 */
static void iommu_dma_phys_test_debug_pagealloc(struct kunit *test)
{
	if (!IS_ENABLED(CONFIG_IOMMU_DEBUG_PAGEALLOC))
		kunit_skip(test, "CONFIG_IOMMU_DEBUG_PAGEALLOC is off");
	if (!IS_BUILTIN(CONFIG_IOMMU_DMA_LINK_KUNIT_TEST))
		kunit_skip(test, "built as a module: no access to its counts");
	KUNIT_EXPECT_TRUE_MSG(test, debug_pagealloc_on(),
			      "CONFIG_IOMMU_DEBUG_PAGEALLOC is built in but off: boot with iommu.debug_pagealloc=1");
}

static struct kunit_case iommu_dma_phys_test_cases[] = {
	KUNIT_CASE_PARAM(iommu_dma_phys_test_ram, link_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_phys_test_mmio, link_params_gen_params),
	KUNIT_CASE(iommu_dma_phys_test_debug_pagealloc),
	{}
};

static struct kunit_suite iommu_dma_phys_test_suite = {
	.name = "iommu_dma_phys",
	.init = fake_iommu_test_init,
	.test_cases = iommu_dma_phys_test_cases,
};

/* Bytes the unmaps logged since the last reset removed. */
static size_t unmapped_bytes(struct link_ctx *c)
{
	const struct fake_iommu_call *call;
	size_t done = 0;

	fake_iommu_for_each_call(c->domain, FAKE_IOMMU_UNMAP_PAGES, call)
		done += call->done;
	return done;
}

/* The IOVA of the first map_pages call since the last reset. */
static dma_addr_t first_map_iova(struct link_ctx *c)
{
	const struct fake_iommu_call *call;

	call = fake_iommu_get_call(c->domain, FAKE_IOMMU_MAP_PAGES, 0);
	KUNIT_ASSERT_NOT_NULL(c->test, call);
	return call->iova;
}

#if IS_ENABLED(CONFIG_BLOCK)
/*
 * The block layer's caller: blk_rq_dma_map_iter_start() links every segment
 * of a request into one IOVA range, syncs once, and on an error destroys
 * what it linked and reports a blk_status_t. A write request of three
 * physically discontiguous segments (ranges[]), on a queue with default
 * segment limits and no gap restriction, so the IOVA path is taken.
 */
struct blk_ctx {
	struct link_ctx *c;
	struct request *rq;
	struct blk_dma_iter iter;
};

static struct blk_ctx *blk_setup(struct kunit *test, bool fq)
{
	struct blk_ctx *b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);
	struct request_queue *q = kunit_kzalloc(test, sizeof(*q), GFP_KERNEL);
	struct bio_vec *bvecs = kunit_kcalloc(test, ARRAY_SIZE(ranges),
					      sizeof(*bvecs), GFP_KERNEL);
	struct bio *bio = kunit_kzalloc(test, sizeof(*bio), GFP_KERNEL);
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_ASSERT_NOT_NULL(test, q);
	KUNIT_ASSERT_NOT_NULL(test, bvecs);
	KUNIT_ASSERT_NOT_NULL(test, bio);
	b->c = link_setup(test, fq);
	b->rq = kunit_kzalloc(test, sizeof(*b->rq), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, b->rq);

	q->limits.seg_boundary_mask = BLK_SEG_BOUNDARY_MASK;
	q->limits.max_segment_size = UINT_MAX;
	bio_init(bio, NULL, bvecs, ARRAY_SIZE(ranges), REQ_OP_WRITE);
	for (i = 0; i < ARRAY_SIZE(ranges); i++)
		__bio_add_page(bio, b->c->block + ranges[i].page,
			       ranges[i].nr * PAGE_SIZE, 0);
	b->rq->q = q;
	b->rq->cmd_flags = REQ_OP_WRITE;
	b->rq->bio = bio;
	b->rq->biotail = bio;
	b->rq->__data_len = LINK_PAGES * PAGE_SIZE;
	return b;
}

static bool blk_map(struct blk_ctx *b)
{
	return blk_rq_dma_map_iter_start(b->rq, b->c->dev, &b->c->state, &b->iter);
}

/* Without errors: one IOVA range for the whole request, synced once. */
static void iommu_dma_link_blk_test_map(struct kunit *test)
{
	const struct link_param *p = test->param_value;
	struct blk_ctx *b = blk_setup(test, p->fq);
	struct link_ctx *c = b->c;
	unsigned int i;

	KUNIT_ASSERT_TRUE(test, blk_map(b));
	KUNIT_ASSERT_TRUE_MSG(test, blk_rq_dma_map_coalesce(&c->state),
			      "the request did not take the IOVA path");
	KUNIT_EXPECT_EQ(test, b->iter.addr, c->state.addr);
	KUNIT_EXPECT_EQ(test, b->iter.len, LINK_PAGES * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_SYNC_MAP), 1);
	for (i = 0; i < ARRAY_SIZE(ranges); i++)
		expect_range_linked(c, i);
	fake_iommu_reset_calls(c->domain);
	dma_iova_destroy(c->dev, &c->state, b->iter.len, DMA_TO_DEVICE, 0);
	expect_unmapped_exactly(c, c->state.addr, LINK_PAGES * PAGE_SIZE);
	expect_clean(c);
}

static blk_status_t blk_status_of(int err)
{
	return err == -ENOMEM ? BLK_STS_RESOURCE : BLK_STS_IOERR;
}

/*
 * dma_iova_sync() fails: no segment mapped, the status says why (-ENOMEM is
 * BLK_STS_RESOURCE, so the request is retried later), the whole request
 * unlinked and its IOVA range free again.
 */
static void iommu_dma_link_blk_test_sync_fail(struct kunit *test)
{
	const struct link_param *p = test->param_value;
	struct blk_ctx *b = blk_setup(test, p->fq);
	struct link_ctx *c = b->c;
	const struct fake_iommu_call *call;

	fake_iommu_fail_next(test, c->domain, FAKE_IOMMU_SYNC_MAP, 1, p->err);
	KUNIT_EXPECT_FALSE(test, blk_map(b));
	KUNIT_EXPECT_EQ(test, b->iter.status, blk_status_of(p->err));
	KUNIT_ASSERT_EQ(test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_SYNC_MAP), 1);
	call = fake_iommu_get_call(c->domain, FAKE_IOMMU_SYNC_MAP, 0);
	KUNIT_EXPECT_EQ(test, call->iova, c->state.addr);
	KUNIT_EXPECT_EQ(test, call->size, LINK_PAGES * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, first_map_iova(c), c->state.addr);
	KUNIT_EXPECT_EQ(test, unmapped_bytes(c), LINK_PAGES * PAGE_SIZE);
	expect_clean(c);
	expect_iova_reusable(c, page_to_phys(c->block), LINK_PAGES * PAGE_SIZE);
}

/*
 * Linking segment k fails part way: the core unmaps its page, the block
 * layer destroys the segments before it, the status is BLK_STS_RESOURCE.
 */
static void iommu_dma_link_blk_test_link_fail(struct kunit *test)
{
	const struct link_fail_param *p = test->param_value;
	struct blk_ctx *b = blk_setup(test, p->fq);
	struct link_ctx *c = b->c;
	struct kunit_script_rule fault = {
		.op = FAKE_IOMMU_MAP_PAGES,
		.kind = KUNIT_SCRIPT_NTH,
		.nth = p->k + 1,
		.err = -ENOMEM,
		.data = 1,
	};

	fake_iommu_script(test, c->domain, &fault);
	KUNIT_EXPECT_FALSE(test, blk_map(b));
	KUNIT_EXPECT_EQ(test, b->iter.status, BLK_STS_RESOURCE);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_MAP_PAGES), p->k + 1);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_SYNC_MAP), 0);
	KUNIT_EXPECT_EQ(test, first_map_iova(c), c->state.addr);
	/* The failing segment's one page, and every segment before it. */
	KUNIT_EXPECT_EQ(test, unmapped_bytes(c), range_offset(p->k) + PAGE_SIZE);
	expect_clean(c);
	expect_iova_reusable(c, page_to_phys(c->block), LINK_PAGES * PAGE_SIZE);
}

static struct kunit_case iommu_dma_link_blk_test_cases[] = {
	KUNIT_CASE_PARAM(iommu_dma_link_blk_test_map, link_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_link_blk_test_sync_fail, link_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_link_blk_test_link_fail, link_fail_params_gen_params),
	{}
};

static struct kunit_suite iommu_dma_link_blk_test_suite = {
	.name = "iommu_dma_link_blk",
	.init = fake_iommu_test_init,
	.test_cases = iommu_dma_link_blk_test_cases,
};

kunit_test_suite(iommu_dma_link_blk_test_suite);
#endif /* CONFIG_BLOCK */

#if IS_ENABLED(CONFIG_PCI_P2PDMA) && IS_ENABLED(CONFIG_DMA_SHARED_BUFFER)
/*
 * dma-buf's caller, for exporters of MMIO (VFIO, RDMA):
 * dma_buf_phys_vec_to_sgt() links a BAR's ranges into one IOVA range when
 * the importer reaches the BAR through the host bridge (here through a
 * static stub of pci_p2pdma_map_type()), syncs once and hands out a single
 * DMA segment; on an error it must unwind everything and free the IOVA.
 */
struct dmabuf_ctx {
	struct link_ctx *c;
	struct dma_resv resv;
	struct dma_buf dmabuf;
	struct dma_buf_attachment attach;
	struct p2pdma_provider provider;
	struct phys_vec vec[2];
	size_t size;
};

static enum pci_p2pdma_map_type
thru_host_bridge(struct p2pdma_provider *provider, struct device *dev)
{
	return PCI_P2PDMA_MAP_THRU_HOST_BRIDGE;
}

KUNIT_DEFINE_ACTION_WRAPPER(dmabuf_fini, dma_resv_fini, struct dma_resv *);

static struct dmabuf_ctx *dmabuf_setup(struct kunit *test, bool fq)
{
	struct dmabuf_ctx *d = kunit_kzalloc(test, sizeof(*d), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, d);
	d->c = link_setup(test, fq);
	kunit_activate_static_stub(test, pci_p2pdma_map_type, thru_host_bridge);
	dma_resv_init(&d->resv);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, dmabuf_fini, &d->resv), 0);
	d->dmabuf.resv = &d->resv;
	d->attach.dmabuf = &d->dmabuf;
	d->attach.dev = d->c->dev;
	d->provider.owner = d->c->dev;
	/* Two pages of the BAR, then one more further in. */
	d->vec[0] = (struct phys_vec){ MMIO_PHYS, 2 * PAGE_SIZE };
	d->vec[1] = (struct phys_vec){ MMIO_PHYS + 16 * PAGE_SIZE, PAGE_SIZE };
	d->size = 3 * PAGE_SIZE;
	return d;
}

/* Both calls want the reservation lock held, as an exporter holds it. */
static struct sg_table *dmabuf_map(struct dmabuf_ctx *d)
{
	struct sg_table *sgt;

	KUNIT_ASSERT_EQ(d->c->test, dma_resv_lock(&d->resv, NULL), 0);
	sgt = dma_buf_phys_vec_to_sgt(&d->attach, &d->provider, d->vec,
				      ARRAY_SIZE(d->vec), d->size,
				      DMA_BIDIRECTIONAL);
	dma_resv_unlock(&d->resv);
	return sgt;
}

static void dmabuf_free(struct dmabuf_ctx *d, struct sg_table *sgt)
{
	KUNIT_ASSERT_EQ(d->c->test, dma_resv_lock(&d->resv, NULL), 0);
	dma_buf_free_sgt(&d->attach, sgt, DMA_BIDIRECTIONAL);
	dma_resv_unlock(&d->resv);
}

/*
 * A mapping maps the three pages of the two ranges, in order, wherever the
 * segments of @sgt put them.
 */
static void dmabuf_expect_mapped(struct dmabuf_ctx *d, struct sg_table *sgt)
{
	phys_addr_t want[] = {
		d->vec[0].paddr, d->vec[0].paddr + PAGE_SIZE, d->vec[1].paddr,
	};
	struct scatterlist *sg;
	unsigned int i, page = 0;
	size_t off;

	for_each_sgtable_dma_sg(sgt, sg, i)
		for (off = 0; off < sg_dma_len(sg); off += PAGE_SIZE, page++) {
			if (page >= ARRAY_SIZE(want))
				break;
			KUNIT_EXPECT_EQ_MSG(d->c->test,
					    iommu_iova_to_phys(d->c->domain,
							       sg_dma_address(sg) + off),
					    want[page], "page %u", page);
		}
	KUNIT_EXPECT_EQ(d->c->test, page, ARRAY_SIZE(want));
	KUNIT_EXPECT_EQ(d->c->test, fake_iommu_mapped_pages(d->c->domain, 0, 0),
			ARRAY_SIZE(want));
}

/* The failed call's IOVA range was the one of its first map_pages call. */
static void dmabuf_expect_unwound(struct dmabuf_ctx *d, struct sg_table *sgt,
				  int err)
{
	struct link_ctx *c = d->c;

	KUNIT_EXPECT_EQ(c->test, PTR_ERR_OR_ZERO(sgt), err);
	c->state.addr = first_map_iova(c);
	expect_clean(c);
	expect_iova_reusable(c, 0, d->size);
}

/*
 * Without errors: one DMA segment covering both ranges back to back, each
 * range at its own offset in the IOVA range.
 */
static void iommu_dma_link_dmabuf_test_map(struct kunit *test)
{
	const struct link_param *p = test->param_value;
	struct dmabuf_ctx *d = dmabuf_setup(test, p->fq);
	struct link_ctx *c = d->c;
	struct sg_table *sgt = dmabuf_map(d);
	dma_addr_t addr;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	KUNIT_EXPECT_EQ(test, sgt->nents, 1);
	addr = sg_dma_address(sgt->sgl);
	KUNIT_EXPECT_EQ(test, sg_dma_len(sgt->sgl), d->size);
	dmabuf_expect_mapped(d, sgt);

	fake_iommu_reset_calls(c->domain);
	dmabuf_free(d, sgt);
	expect_unmapped_exactly(c, addr, d->size);
	c->state.addr = addr;
	expect_clean(c);
	expect_iova_reusable(c, 0, d->size);
}

static void iommu_dma_link_dmabuf_test_sync_fail(struct kunit *test)
{
	const struct link_param *p = test->param_value;
	struct dmabuf_ctx *d = dmabuf_setup(test, p->fq);

	fake_iommu_fail_next(test, d->c->domain, FAKE_IOMMU_SYNC_MAP, 1, p->err);
	dmabuf_expect_unwound(d, dmabuf_map(d), p->err);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(d->c->domain, FAKE_IOMMU_SYNC_MAP), 1);
}

/* Linking the first or the second range fails. */
static void iommu_dma_link_dmabuf_test_link_fail(struct kunit *test)
{
	const struct link_fail_param *p = test->param_value;
	struct dmabuf_ctx *d = dmabuf_setup(test, p->fq);
	struct kunit_script_rule fault = {
		.op = FAKE_IOMMU_MAP_PAGES,
		.kind = KUNIT_SCRIPT_NTH,
		.nth = p->k + 1,
		.err = -ENOMEM,
	};

	fake_iommu_script(test, d->c->domain, &fault);
	dmabuf_expect_unwound(d, dmabuf_map(d), -ENOMEM);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(d->c->domain, FAKE_IOMMU_MAP_PAGES), p->k + 1);
}

static const struct link_fail_param dmabuf_link_fail_params[] = {
	{ "first_DMA", 0, false },
	{ "second_DMA", 1, false },
	{ "first_DMA_FQ", 0, true },
	{ "second_DMA_FQ", 1, true },
};

KUNIT_ARRAY_PARAM_DESC(dmabuf_link_fail_params, dmabuf_link_fail_params, name);

/* The sweep's domain types. */
struct domain_param {
	const char *name;
	bool fq;
};

static const struct domain_param domain_params[] = {
	{ "DMA", false },
	{ "DMA_FQ", true },
};

KUNIT_ARRAY_PARAM_DESC(domain_params, domain_params, name);

/*
 * Fail each allocation of the call in turn (current->fail_nth), on DMA and
 * DMA_FQ: each failure returns -ENOMEM and leaves nothing mapped and the
 * IOVA range free, and so does each run the call absorbs once its mapping
 * is freed; the sweep must make the call fail at least once.
 */
static void iommu_dma_link_dmabuf_test_fail_nth(struct kunit *test)
{
	const struct domain_param *p = test->param_value;
	struct dmabuf_ctx *d = dmabuf_setup(test, p->fq);
	struct link_ctx *c = d->c;
	struct fake_iommu_sweep sweep;
	struct sg_table *sgt;
	dma_addr_t addr;

	/* Where the IOVA range is when nothing fails. */
	sgt = dmabuf_map(d);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	addr = sg_dma_address(sgt->sgl);
	dmabuf_free(d, sgt);

	fake_iommu_for_each_fail_nth(test, &sweep, 100) {
		fake_iommu_reset_calls(c->domain);
		fake_iommu_sweep_arm(&sweep);
		sgt = dmabuf_map(d);
		fake_iommu_sweep_disarm(&sweep);

		if (!IS_ERR(sgt)) {
			/* Absorbed, or the fallback without the IOVA API. */
			dmabuf_expect_mapped(d, sgt);
			dmabuf_free(d, sgt);
		} else {
			fake_iommu_sweep_failed(&sweep);
			KUNIT_EXPECT_EQ(test, PTR_ERR(sgt), -ENOMEM);
		}
		c->state.addr = addr;
		expect_clean(c);
		expect_iova_reusable(c, 0, d->size);
	}
	fake_iommu_sweep_end(&sweep, 1);
}

static struct kunit_case iommu_dma_link_dmabuf_test_cases[] = {
	KUNIT_CASE_PARAM(iommu_dma_link_dmabuf_test_map, link_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_link_dmabuf_test_sync_fail, link_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_link_dmabuf_test_link_fail,
			 dmabuf_link_fail_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_link_dmabuf_test_fail_nth, domain_params_gen_params),
	{}
};

static struct kunit_suite iommu_dma_link_dmabuf_test_suite = {
	.name = "iommu_dma_link_dmabuf",
	.init = fake_iommu_test_init,
	.test_cases = iommu_dma_link_dmabuf_test_cases,
};

kunit_test_suite(iommu_dma_link_dmabuf_test_suite);
MODULE_IMPORT_NS("DMA_BUF");
#endif /* CONFIG_PCI_P2PDMA && CONFIG_DMA_SHARED_BUFFER */

kunit_test_suites(&iommu_dma_link_test_suite, &iommu_dma_phys_test_suite);

MODULE_DESCRIPTION("KUnit tests for dma-iommu's IOVA-link API and dma_map_phys() error paths");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("IOMMU_FAKE");
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
