/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the KUnit suites of dma-iommu's IOVA-link API, of dma_map_phys() and
 * of the API's callers share: a device of the fake IOMMU whose default
 * domain the core set up for dma-iommu, three ranges to link, live
 * neighbours, and the checks every unwind must pass (nothing mapped but the
 * neighbours, the caller's pages untouched, every unmap exact and synced,
 * the IOVA range whole again, no page left counted as IOMMU-mapped).
 */
#ifndef __IOMMU_DMA_LINK_KUNIT_H
#define __IOMMU_DMA_LINK_KUNIT_H

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
#if IS_ENABLED(CONFIG_IOMMU_DEBUG_PAGEALLOC) && !defined(MODULE)
static __maybe_unused bool debug_pagealloc_on(void)
{
	return static_branch_unlikely(&iommu_debug_initialized);
}

/* WARNs for each page still counted as mapped by an IOMMU. */
static __maybe_unused void debug_pagealloc_check(struct page *page, int nr)
{
	iommu_debug_check_unmapped(page, nr);
}
#else
static __maybe_unused bool debug_pagealloc_on(void)
{
	return false;
}

static __maybe_unused void debug_pagealloc_check(struct page *page, int nr)
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

static __maybe_unused struct link_ctx *link_setup_dev(struct kunit *test,
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

static __maybe_unused struct link_ctx *link_setup(struct kunit *test, bool fq)
{
	struct fake_iommu_dev_opts opts = {
		/* Strict: ask for DMA. Lazy: the x86 default with FQ support. */
		.def_domain_type = fq ? 0 : IOMMU_DOMAIN_DMA,
		.deferred_flush = fq,
	};

	return link_setup_dev(test, &opts,
			      fq ? IOMMU_DOMAIN_DMA_FQ : IOMMU_DOMAIN_DMA);
}

static __maybe_unused phys_addr_t block_phys(struct link_ctx *c, unsigned int page)
{
	return page_to_phys(c->block) + page * PAGE_SIZE;
}

static __maybe_unused size_t range_offset(unsigned int i)
{
	size_t off = 0;

	while (i--)
		off += ranges[i].nr * PAGE_SIZE;
	return off;
}

/* Links ranges[0..@n) into c->state; returns the length linked. */
static __maybe_unused size_t link_ranges(struct link_ctx *c, unsigned int n)
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
static __maybe_unused void expect_range_linked(struct link_ctx *c, unsigned int i)
{
	dma_addr_t iova = c->state.addr + range_offset(i);
	unsigned int j;

	for (j = 0; j < ranges[i].nr; j++)
		KUNIT_EXPECT_EQ_MSG(c->test,
				    iommu_iova_to_phys(c->domain, iova + j * PAGE_SIZE),
				    block_phys(c, ranges[i].page + j),
				    "range %u, page %u", i, j);
}

static __maybe_unused void expect_range_unlinked(struct link_ctx *c, unsigned int i)
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
static __maybe_unused void expect_unmapped_exactly(struct link_ctx *c, dma_addr_t iova,
						   size_t size)
{
	fake_iommu_expect_unmap_exactly(c->test, c->domain, iova, size);
}

/*
 * The IOVA range of c->state went back to the allocator whole: a new
 * allocation of the same size (the allocator's cache for that size hands
 * back the last one freed) gets it again. On a DMA_FQ domain, once its
 * flush queue is flushed, should dma_iova_destroy() queue the IOVA.
 */
static __maybe_unused void expect_iova_reusable(struct link_ctx *c, phys_addr_t phys,
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

static __maybe_unused dma_addr_t map_other(struct link_ctx *c)
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
static __maybe_unused void try_alloc_between_neighbours(struct link_ctx *c, phys_addr_t phys,
							size_t size)
{
	c->other = fake_iommu_alloc_pages(c->test, 0);
	c->above = map_other(c);
	KUNIT_ASSERT_TRUE(c->test, dma_iova_try_alloc(c->dev, &c->state, phys, size));
	c->below = map_other(c);
	c->live = 2;
	fake_iommu_reset_calls(c->domain);
}

static __maybe_unused void expect_neighbours(struct link_ctx *c)
{
	KUNIT_EXPECT_EQ(c->test, iommu_iova_to_phys(c->domain, c->above),
			page_to_phys(c->other));
	KUNIT_EXPECT_EQ(c->test, iommu_iova_to_phys(c->domain, c->below),
			page_to_phys(c->other));
}

static __maybe_unused void unmap_neighbours(struct link_ctx *c)
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
static __maybe_unused void expect_clean(struct link_ctx *c)
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

/* The range a caller's link fails on, and the domain type. */
struct link_fail_param {
	const char *name;
	unsigned int k;
	bool fq;
};

/* The link and blk suites' cases; the others include this header too. */
static const struct link_fail_param link_fail_params[] __maybe_unused = {
	{ "first_DMA", 0, false },
	{ "middle_DMA", 1, false },
	{ "last_DMA", 2, false },
	{ "first_DMA_FQ", 0, true },
	{ "middle_DMA_FQ", 1, true },
	{ "last_DMA_FQ", 2, true },
};

/* Bytes the unmaps logged since the last reset removed. */
static __maybe_unused size_t unmapped_bytes(struct link_ctx *c)
{
	const struct fake_iommu_call *call;
	size_t done = 0;

	fake_iommu_for_each_call(c->domain, FAKE_IOMMU_UNMAP_PAGES, call)
		done += call->done;
	return done;
}

/* The IOVA of the first map_pages call since the last reset. */
static __maybe_unused dma_addr_t first_map_iova(struct link_ctx *c)
{
	const struct fake_iommu_call *call;

	call = fake_iommu_get_call(c->domain, FAKE_IOMMU_MAP_PAGES, 0);
	KUNIT_ASSERT_NOT_NULL(c->test, call);
	return call->iova;
}

#endif /* __IOMMU_DMA_LINK_KUNIT_H */
