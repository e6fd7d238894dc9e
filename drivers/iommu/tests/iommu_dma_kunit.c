// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for dma-iommu's unwinding when iotlb_sync_map fails.
 *
 * A device on the fake IOMMU gets a DMA (strict) or DMA_FQ (lazy) default
 * domain from the real IOMMU core, so the DMA API calls below go through the
 * real dma-iommu. With the fake's iotlb_sync_map failing, every mapping path
 * (map_page, map_single, map_sg, map_sgtable, both alloc paths, noncontiguous
 * allocations, map_resource) must report its documented error, leave nothing
 * mapped, give the IOVA back to the allocator and free the pages it
 * allocated; and the next mapping on the device must work.
 */
#include <kunit/test.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/iommu-dma.h>
#include <linux/mm.h>
#include <linux/panic.h>
#include <linux/pci.h>
#include <linux/sched.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/sizes.h>
#include <linux/vmalloc.h>

#include "../dma-iommu.h"
#include "fake-iommu.h"
#include "fake-iommu-pages.h"
#include "fake-iommu-pci.h"
#include "fake-iommu-sweep.h"

#define NR_PAGES	4

/*
 * The IOVA space of the fake devices: small enough that a test can take
 * every page of it, to see that a failed operation gave its IOVA back.
 */
#define APERTURE_START		SZ_1M
#define APERTURE_PAGES		32

struct dma_param {
	const char *name;
	bool fq;
	int err;
};

static const struct dma_param dma_params[] = {
	{ "DMA_ENOMEM", false, -ENOMEM },
	{ "DMA_EIO", false, -EIO },
	{ "DMA_FQ_ENOMEM", true, -ENOMEM },
	{ "DMA_FQ_EIO", true, -EIO },
};

KUNIT_ARRAY_PARAM_DESC(dma_params, dma_params, name);

/* For cases that fail nothing: the domain type alone. */
static const struct dma_param domain_params[] = {
	{ "DMA", false },
	{ "DMA_FQ", true },
};

KUNIT_ARRAY_PARAM_DESC(domain_params, domain_params, name);

/* One DMA API operation under test and what it mapped. */
struct dma_ctx {
	struct kunit *test;
	struct device *dev;
	struct iommu_domain *domain;
	struct page *block;		/* order-3, owned by the test */
	void *buf;			/* kmalloc'ed, owned by the test */
	struct scatterlist sgl[3];
	struct sg_table sgt;
	struct sg_table *nc_sgt;
	dma_addr_t handle;
	void *cpu_addr;
	int nents;
	/* Live mappings the test keeps on both sides of the one under test. */
	dma_addr_t above, below;
	unsigned long live;
	/* The IOVA the operation got between them, when it mapped. */
	dma_addr_t ref;
};

struct dma_op {
	/* Maps; returns 0 or the error the DMA API reported, as an errno. */
	int (*map)(struct dma_ctx *c);
	/* The errno the DMA API documents for a failing sync_map. */
	int (*expected)(int sync_err);
	/* After a successful map: is everything mapped where it should be? */
	void (*check)(struct dma_ctx *c);
	void (*unmap)(struct dma_ctx *c);
	/* After a successful map: the first IOVA of what it mapped. */
	dma_addr_t (*iova)(struct dma_ctx *c);
	/* The caller's list as the operation hands it in (list operations). */
	void (*init)(struct dma_ctx *c);
	/* dma-iommu allocates the pages it maps (and must free them). */
	bool allocates;
	/*
	 * A failure leaves the list's DMA addresses and lengths as they were
	 * (iommu_dma_map_sg_swiotlb() zeroes only the first length).
	 */
	bool stale_dma_fields;
};

static int handle_err(struct dma_ctx *c)
{
	/* dma_mapping_error() is the documented test for these calls. */
	return dma_mapping_error(c->dev, c->handle);
}

static int expect_enomem(int sync_err)
{
	return -ENOMEM;
}

/* dma_map_sg() returns 0 entries on any error: report that as -EIO. */
static int expect_zero_entries(int sync_err)
{
	return -EIO;
}

/*
 * dma_map_sgtable() (Documentation/core-api/dma-api.rst): -ENOMEM stays
 * -ENOMEM, so the caller may retry later; dma-iommu turns every other
 * iommu_map_sg() error into -EINVAL.
 */
static int expect_sgtable_errno(int sync_err)
{
	return sync_err == -ENOMEM ? -ENOMEM : -EINVAL;
}

static void expect_iova_maps(struct dma_ctx *c, dma_addr_t iova,
			     phys_addr_t phys, size_t size)
{
	size_t off;

	for (off = 0; off < size; off += PAGE_SIZE)
		KUNIT_EXPECT_EQ_MSG(c->test, iommu_iova_to_phys(c->domain, iova + off),
				    phys + off, "at IOVA %pad + %#zx", &iova, off);
}

static int map_page(struct dma_ctx *c)
{
	c->handle = dma_map_page(c->dev, c->block, 0, PAGE_SIZE, DMA_TO_DEVICE);
	return handle_err(c);
}

static void check_page(struct dma_ctx *c)
{
	expect_iova_maps(c, c->handle, page_to_phys(c->block), PAGE_SIZE);
}

static void unmap_page(struct dma_ctx *c)
{
	dma_unmap_page(c->dev, c->handle, PAGE_SIZE, DMA_TO_DEVICE);
}

static int map_single(struct dma_ctx *c)
{
	c->handle = dma_map_single(c->dev, c->buf, 256, DMA_FROM_DEVICE);
	return handle_err(c);
}

static void check_single(struct dma_ctx *c)
{
	KUNIT_EXPECT_EQ(c->test, iommu_iova_to_phys(c->domain, c->handle),
			virt_to_phys(c->buf));
}

static void unmap_single(struct dma_ctx *c)
{
	dma_unmap_single(c->dev, c->handle, 256, DMA_FROM_DEVICE);
}

/* A buffer that starts unaligned in page 4 and ends in page 5. */
#define CROSS_OFFSET	(PAGE_SIZE - 100)
#define CROSS_LEN	300

static void *cross_buf(struct dma_ctx *c)
{
	return page_address(c->block + 4) + CROSS_OFFSET;
}

static int map_single_cross(struct dma_ctx *c)
{
	c->handle = dma_map_single(c->dev, cross_buf(c), CROSS_LEN,
				   DMA_BIDIRECTIONAL);
	return handle_err(c);
}

static void check_single_cross(struct dma_ctx *c)
{
	KUNIT_EXPECT_EQ(c->test, c->handle & ~PAGE_MASK, CROSS_OFFSET);
	KUNIT_EXPECT_EQ(c->test, iommu_iova_to_phys(c->domain, c->handle),
			virt_to_phys(cross_buf(c)));
	KUNIT_EXPECT_EQ(c->test,
			iommu_iova_to_phys(c->domain, c->handle + CROSS_LEN - 1),
			virt_to_phys(cross_buf(c) + CROSS_LEN - 1));
}

static void unmap_single_cross(struct dma_ctx *c)
{
	dma_unmap_single(c->dev, c->handle, CROSS_LEN, DMA_BIDIRECTIONAL);
}

/* Three segments over pages 0, 2 and 4 of the block: never contiguous. */
static void init_sgl(struct dma_ctx *c)
{
	int i;

	sg_init_table(c->sgl, ARRAY_SIZE(c->sgl));
	for (i = 0; i < ARRAY_SIZE(c->sgl); i++)
		sg_set_page(&c->sgl[i], c->block + 2 * i, PAGE_SIZE, 0);
	c->sgt.sgl = c->sgl;
	c->sgt.orig_nents = ARRAY_SIZE(c->sgl);
	c->sgt.nents = 0;
}

static int map_sg(struct dma_ctx *c)
{
	init_sgl(c);
	c->nents = dma_map_sg(c->dev, c->sgl, ARRAY_SIZE(c->sgl), DMA_TO_DEVICE);
	return c->nents ? 0 : -EIO;
}

/* dma-iommu lays the segments out back to back in one IOVA range. */
static void check_sg(struct dma_ctx *c)
{
	int i;

	KUNIT_EXPECT_GE(c->test, c->nents, 1);
	for (i = 0; i < ARRAY_SIZE(c->sgl); i++)
		expect_iova_maps(c, sg_dma_address(c->sgl) + i * PAGE_SIZE,
				 sg_phys(&c->sgl[i]), PAGE_SIZE);
}

static void unmap_sg(struct dma_ctx *c)
{
	dma_unmap_sg(c->dev, c->sgl, ARRAY_SIZE(c->sgl), DMA_TO_DEVICE);
}

/*
 * Segments as callers hand them in: partial pages at offsets, two that
 * merge into one IOVA range (page 0's tail and page 1's head) and one that
 * cannot (it starts inside page 4).
 */
static const struct {
	unsigned int page, offset, length;
} sg_offsets[] = {
	{ 0, 0x800, 0x800 },
	{ 1, 0, 0x400 },
	{ 4, 0x123, 0x456 },
};

static void init_sgl_offsets(struct dma_ctx *c)
{
	int i;

	sg_init_table(c->sgl, ARRAY_SIZE(c->sgl));
	for (i = 0; i < ARRAY_SIZE(c->sgl); i++)
		sg_set_page(&c->sgl[i], c->block + sg_offsets[i].page,
			    sg_offsets[i].length, sg_offsets[i].offset);
	c->sgt.sgl = c->sgl;
	c->sgt.orig_nents = ARRAY_SIZE(c->sgl);
	c->sgt.nents = 0;
}

static int map_sg_offsets(struct dma_ctx *c)
{
	init_sgl_offsets(c);
	c->nents = dma_map_sg(c->dev, c->sgl, ARRAY_SIZE(c->sgl), DMA_TO_DEVICE);
	return c->nents ? 0 : -EIO;
}

/*
 * dma-iommu merges the first two segments (page 0's tail, page 1's head)
 * into one DMA segment and keeps the third apart; the DMA segments cover
 * the caller's bytes, first byte to last.
 */
static void check_sg_offsets(struct dma_ctx *c)
{
	struct scatterlist *sg, *last = &c->sgl[ARRAY_SIZE(c->sgl) - 1];
	unsigned int len = 0;
	int i;

	KUNIT_ASSERT_EQ(c->test, c->nents, 2);
	for_each_sg(c->sgl, sg, c->nents, i)
		len += sg_dma_len(sg);
	KUNIT_EXPECT_EQ(c->test, len, 0x800 + 0x400 + 0x456);
	KUNIT_EXPECT_EQ(c->test, sg_dma_len(c->sgl), 0x800 + 0x400);
	KUNIT_EXPECT_EQ(c->test, iommu_iova_to_phys(c->domain, sg_dma_address(c->sgl)),
			sg_phys(c->sgl));
	KUNIT_EXPECT_EQ(c->test,
			iommu_iova_to_phys(c->domain, sg_dma_address(c->sgl) + 0x800),
			page_to_phys(c->block + 1));
	sg = &c->sgl[1];
	KUNIT_EXPECT_EQ(c->test,
			iommu_iova_to_phys(c->domain, sg_dma_address(sg) + sg_dma_len(sg) - 1),
			sg_phys(last) + last->length - 1);
	KUNIT_EXPECT_EQ(c->test, iommu_iova_to_phys(c->domain, sg_dma_address(sg)),
			sg_phys(last));
}

static int map_sgtable(struct dma_ctx *c)
{
	init_sgl(c);
	return dma_map_sgtable(c->dev, &c->sgt, DMA_TO_DEVICE, 0);
}

static void check_sgtable(struct dma_ctx *c)
{
	c->nents = c->sgt.nents;
	check_sg(c);
}

static void unmap_sgtable(struct dma_ctx *c)
{
	dma_unmap_sgtable(c->dev, &c->sgt, DMA_TO_DEVICE, 0);
}

static int alloc_contiguous(struct dma_ctx *c)
{
	c->cpu_addr = dma_alloc_attrs(c->dev, NR_PAGES * PAGE_SIZE, &c->handle,
				      GFP_KERNEL, DMA_ATTR_FORCE_CONTIGUOUS);
	return c->cpu_addr ? 0 : -ENOMEM;
}

static int alloc_atomic(struct dma_ctx *c)
{
	c->cpu_addr = dma_alloc_attrs(c->dev, NR_PAGES * PAGE_SIZE, &c->handle,
				      GFP_ATOMIC, 0);
	return c->cpu_addr ? 0 : -ENOMEM;
}

static void check_contiguous(struct dma_ctx *c)
{
	KUNIT_EXPECT_FALSE(c->test, is_vmalloc_addr(c->cpu_addr));
	expect_iova_maps(c, c->handle, virt_to_phys(c->cpu_addr),
			 NR_PAGES * PAGE_SIZE);
}

static void free_coherent(struct dma_ctx *c)
{
	dma_free_attrs(c->dev, NR_PAGES * PAGE_SIZE, c->cpu_addr, c->handle, 0);
}

static void free_contiguous(struct dma_ctx *c)
{
	dma_free_attrs(c->dev, NR_PAGES * PAGE_SIZE, c->cpu_addr, c->handle,
		       DMA_ATTR_FORCE_CONTIGUOUS);
}

/* A blocking allocation without FORCE_CONTIGUOUS takes the remap path. */
static int alloc_remap(struct dma_ctx *c)
{
	c->cpu_addr = dma_alloc_attrs(c->dev, NR_PAGES * PAGE_SIZE, &c->handle,
				      GFP_KERNEL, 0);
	return c->cpu_addr ? 0 : -ENOMEM;
}

static void check_remap(struct dma_ctx *c)
{
	int i;

	KUNIT_ASSERT_TRUE(c->test, is_vmalloc_addr(c->cpu_addr));
	for (i = 0; i < NR_PAGES; i++)
		expect_iova_maps(c, c->handle + i * PAGE_SIZE,
				 page_to_phys(vmalloc_to_page(c->cpu_addr + i * PAGE_SIZE)),
				 PAGE_SIZE);
}

static int alloc_noncontiguous(struct dma_ctx *c)
{
	c->nc_sgt = dma_alloc_noncontiguous(c->dev, NR_PAGES * PAGE_SIZE,
					    DMA_BIDIRECTIONAL, GFP_KERNEL, 0);
	return c->nc_sgt ? 0 : -ENOMEM;
}

static void check_noncontiguous(struct dma_ctx *c)
{
	struct scatterlist *sg;
	dma_addr_t iova = sg_dma_address(c->nc_sgt->sgl);
	int i;

	KUNIT_EXPECT_EQ(c->test, sg_dma_len(c->nc_sgt->sgl), NR_PAGES * PAGE_SIZE);
	for_each_sgtable_sg(c->nc_sgt, sg, i) {
		expect_iova_maps(c, iova, sg_phys(sg), sg->length);
		iova += sg->length;
	}
}

static void free_noncontiguous(struct dma_ctx *c)
{
	dma_free_noncontiguous(c->dev, NR_PAGES * PAGE_SIZE, c->nc_sgt,
			       DMA_BIDIRECTIONAL);
}

/* A device's MMIO window, as for peer-to-peer DMA: no struct page behind. */
#define TEST_MMIO	0xfe000000UL

static int map_resource(struct dma_ctx *c)
{
	c->handle = dma_map_resource(c->dev, TEST_MMIO, PAGE_SIZE,
				     DMA_BIDIRECTIONAL, 0);
	return handle_err(c);
}

static void check_resource(struct dma_ctx *c)
{
	int prot = 0;

	expect_iova_maps(c, c->handle, TEST_MMIO, PAGE_SIZE);
	KUNIT_EXPECT_TRUE(c->test, fake_iommu_lookup(c->domain, c->handle,
						     NULL, NULL, &prot));
	KUNIT_EXPECT_TRUE(c->test, prot & IOMMU_MMIO);
}

static void unmap_resource(struct dma_ctx *c)
{
	dma_unmap_resource(c->dev, c->handle, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
}

static dma_addr_t handle_iova(struct dma_ctx *c)
{
	return c->handle;
}

static dma_addr_t sg_iova(struct dma_ctx *c)
{
	return sg_dma_address(c->sgl);
}

static dma_addr_t noncontiguous_iova(struct dma_ctx *c)
{
	return sg_dma_address(c->nc_sgt->sgl);
}

static const struct dma_op op_map_page = {
	.map = map_page,
	.expected = expect_enomem,
	.check = check_page,
	.unmap = unmap_page,
	.iova = handle_iova,
};

static const struct dma_op op_map_single = {
	.map = map_single,
	.expected = expect_enomem,
	.check = check_single,
	.unmap = unmap_single,
	.iova = handle_iova,
};

static const struct dma_op op_map_single_cross = {
	.map = map_single_cross,
	.expected = expect_enomem,
	.check = check_single_cross,
	.unmap = unmap_single_cross,
	.iova = handle_iova,
};

static const struct dma_op op_map_sg_offsets = {
	.map = map_sg_offsets,
	.expected = expect_zero_entries,
	.check = check_sg_offsets,
	.unmap = unmap_sg,
	.iova = sg_iova,
	.init = init_sgl_offsets,
};

static const struct dma_op op_map_sg = {
	.map = map_sg,
	.expected = expect_zero_entries,
	.check = check_sg,
	.unmap = unmap_sg,
	.iova = sg_iova,
	.init = init_sgl,
};

static const struct dma_op op_map_sgtable = {
	.map = map_sgtable,
	.expected = expect_sgtable_errno,
	.check = check_sgtable,
	.unmap = unmap_sgtable,
	.iova = sg_iova,
	.init = init_sgl,
};

static const struct dma_op op_alloc_contiguous = {
	.map = alloc_contiguous,
	.expected = expect_enomem,
	.check = check_contiguous,
	.unmap = free_contiguous,
	.allocates = true,
	.iova = handle_iova,
};

static const struct dma_op op_alloc_atomic = {
	.map = alloc_atomic,
	.expected = expect_enomem,
	.check = check_contiguous,
	.unmap = free_coherent,
	.allocates = true,
	.iova = handle_iova,
};

static const struct dma_op op_alloc_remap = {
	.map = alloc_remap,
	.expected = expect_enomem,
	.check = check_remap,
	.unmap = free_coherent,
	.allocates = true,
	.iova = handle_iova,
};

static const struct dma_op op_alloc_noncontiguous = {
	.map = alloc_noncontiguous,
	.expected = expect_enomem,
	.check = check_noncontiguous,
	.unmap = free_noncontiguous,
	.allocates = true,
	.iova = noncontiguous_iova,
};

static const struct dma_op op_map_resource = {
	.map = map_resource,
	.expected = expect_enomem,
	.check = check_resource,
	.unmap = unmap_resource,
	.iova = handle_iova,
};

/*
 * A fake device whose default domain, of type @type, the core set up for
 * dma-iommu, with pages and a buffer for the mappings. Its IOVA space is
 * APERTURE_PAGES pages unless @opts says otherwise.
 */
static struct dma_ctx *dma_setup_dev(struct kunit *test,
				     const struct fake_iommu_dev_opts *opts,
				     unsigned int type)
{
	struct dma_ctx *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, c);
	c->test = test;
	c->dev = fake_iommu_add_device(test, opts);
	c->domain = iommu_get_domain_for_dev(c->dev);
	KUNIT_ASSERT_EQ(test, c->domain->type, type);
	KUNIT_ASSERT_TRUE_MSG(test, use_dma_iommu(c->dev),
			      "DMA API calls do not go through dma-iommu");
	c->block = fake_iommu_alloc_pages(test, 3);
	c->buf = kunit_kmalloc(test, 256, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c->buf);
	return c;
}

static struct dma_ctx *dma_setup(struct kunit *test, bool fq)
{
	struct fake_iommu_dev_opts opts = {
		/* Strict: ask for DMA. Lazy: the x86 default with FQ support. */
		.def_domain_type = fq ? 0 : IOMMU_DOMAIN_DMA,
		.deferred_flush = fq,
		.aperture_start = APERTURE_START,
		.aperture_end = APERTURE_START + APERTURE_PAGES * PAGE_SIZE - 1,
	};

	return dma_setup_dev(test, &opts,
			     fq ? IOMMU_DOMAIN_DMA_FQ : IOMMU_DOMAIN_DMA);
}

/*
 * A DMA_FQ domain gives an unmapped IOVA back when its flush queue is
 * flushed: do that now, rather than on the queue's timer.
 */
static void flush_queue(struct dma_ctx *c)
{
	if (c->domain->type == IOMMU_DOMAIN_DMA_FQ)
		iommu_dma_flush_fq(c->domain);
}

/* A case that checks the pages dma-iommu allocates needs the page log. */
static void require_page_log(struct dma_ctx *c, const struct dma_op *op)
{
	if (op->allocates && !IS_ENABLED(CONFIG_TRACEPOINTS))
		kunit_skip(c->test,
			   "the page allocator's log needs CONFIG_TRACEPOINTS (kunit.py --kconfig_add CONFIG_FTRACE=y --kconfig_add CONFIG_ENABLE_DEFAULT_TRACERS=y)");
}

/* The suite's init: the fake's WARN check, and the page allocator's log. */
static int iommu_dma_test_init(struct kunit *test)
{
	int ret = fake_iommu_test_init(test);

	if (ret || !IS_ENABLED(CONFIG_TRACEPOINTS))
		return ret;
	return fake_iommu_watch_pages(test);
}

/*
 * A buffer page of the operation under test: an allocation of the test's
 * task with __GFP_HIGHMEM (dma-iommu's page arrays, as the IOMMU maps
 * highmem as well as any page, and vmalloc's: no slab, page table or stack
 * depot page of a kernel asks for highmem), or of the order of a contiguous
 * buffer with __GFP_ZERO (iommu_dma_alloc()'s pages: slab pages never carry
 * the flag, page tables are order 0).
 */
static bool buffer_alloc(const struct fake_iommu_page_event *e)
{
	return !e->free && e->own &&
	       ((e->gfp & __GFP_HIGHMEM) ||
		((e->gfp & __GFP_ZERO) &&
		 e->nr == 1UL << get_order(NR_PAGES * PAGE_SIZE)));
}

/*
 * Every page dma-iommu asked the fake to map for the failed call (the fake
 * logged each map_pages call), and every buffer page the call allocated,
 * mapped or not (a failure before the first map_pages, or part way through
 * the allocation), went back to the page allocator.
 */
static void expect_pages_freed(struct dma_ctx *c)
{
	struct fake_iommu_page_event e;
	const struct fake_iommu_call *call;
	unsigned long pfn;
	unsigned int i;
	size_t off;

	KUNIT_EXPECT_FALSE_MSG(c->test, fake_iommu_page_log_overflow(),
			       "the page allocator's log overflowed");
	fake_iommu_for_each_call(c->domain, FAKE_IOMMU_MAP_PAGES, call) {
		for (off = 0; off < call->size; off += PAGE_SIZE) {
			pfn = PHYS_PFN(call->paddr + off);
			KUNIT_EXPECT_TRUE_MSG(c->test,
					      fake_iommu_page_freed_after_alloc(pfn),
					      "page at %pa + %#zx not freed",
					      &call->paddr, off);
		}
	}
	/* Each buffer allocation, even of a page the call had freed before. */
	for (i = 0; fake_iommu_page_log_get(i, &e); i++) {
		if (!buffer_alloc(&e))
			continue;
		for (pfn = e.pfn; pfn < e.pfn + e.nr; pfn++)
			KUNIT_EXPECT_TRUE_MSG(c->test,
					      fake_iommu_page_freed_since(i, pfn),
					      "buffer page (pfn %#lx of an order-%u allocation) not freed",
					      pfn, ilog2(e.nr));
	}
}

/*
 * After a failure, the caller's list is as the caller handed it in
 * (dma-iommu rewrites offsets and lengths while it maps, and must restore
 * them), with no DMA address or length left in it, and the table's nents
 * untouched.
 */
static void expect_sgl_as_handed_in(struct dma_ctx *c, const struct dma_op *op)
{
	struct dma_ctx *want = kunit_kzalloc(c->test, sizeof(*want), GFP_KERNEL);
	int i;

	KUNIT_ASSERT_NOT_NULL(c->test, want);
	want->block = c->block;
	op->init(want);
	for (i = 0; i < ARRAY_SIZE(c->sgl); i++) {
		KUNIT_EXPECT_PTR_EQ(c->test, sg_page(&c->sgl[i]),
				    sg_page(&want->sgl[i]));
		KUNIT_EXPECT_EQ(c->test, c->sgl[i].offset, want->sgl[i].offset);
		KUNIT_EXPECT_EQ(c->test, c->sgl[i].length, want->sgl[i].length);
		if (op->stale_dma_fields)
			continue;
		KUNIT_EXPECT_EQ(c->test, sg_dma_address(&c->sgl[i]),
				DMA_MAPPING_ERROR);
		KUNIT_EXPECT_EQ(c->test, sg_dma_len(&c->sgl[i]), 0);
	}
	KUNIT_EXPECT_EQ(c->test, c->sgt.nents, want->sgt.nents);
}

/*
 * Pages 6 and 7 of the block: no operation under test maps them. Filling
 * the IOVA space maps page 6 again and again.
 */
#define ABOVE_PAGE	6
#define BELOW_PAGE	7
#define FILL_PAGE	ABOVE_PAGE

/*
 * Every page of the IOVA space but the live mappings' can be had: the
 * failed operation gave back every IOVA it took, wherever it failed. It
 * takes them one page at a time: the allocator flushes its per-CPU caches
 * before it gives up, so IOVAs freed into them count too.
 */
static void expect_iova_space_whole(struct dma_ctx *c)
{
	unsigned long pages = (c->domain->geometry.aperture_end -
			       c->domain->geometry.aperture_start + 1) / PAGE_SIZE;
	dma_addr_t fill[APERTURE_PAGES + 1];
	unsigned int n, i;

	KUNIT_ASSERT_LE(c->test, pages, APERTURE_PAGES);
	flush_queue(c);
	for (n = 0; n <= pages; n++) {
		fill[n] = dma_map_page(c->dev, c->block + FILL_PAGE, 0,
				       PAGE_SIZE, DMA_TO_DEVICE);
		if (dma_mapping_error(c->dev, fill[n]))
			break;
	}
	KUNIT_EXPECT_EQ_MSG(c->test, n, pages - c->live,
			    "IOVA pages to be had after the failure: an IOVA did not go back to the allocator");
	for (i = 0; i < n; i++)
		dma_unmap_page(c->dev, fill[i], PAGE_SIZE, DMA_TO_DEVICE);
	flush_queue(c);
}

/*
 * The operation failed as documented and left nothing behind: no page
 * mapped, the pages it allocated freed, the caller's list as it was. (Its
 * IOVA: expect_next_map_works(), then expect_iova_space_whole().)
 */
static void expect_unwound(struct dma_ctx *c, const struct dma_op *op, int ret,
			   int sync_err)
{
	KUNIT_EXPECT_EQ(c->test, ret, op->expected(sync_err));
	KUNIT_EXPECT_EQ_MSG(c->test, fake_iommu_mapped_pages(c->domain, 0, 0),
			    c->live, "pages left mapped after a failed mapping");
	if (op->allocates)
		expect_pages_freed(c);
	if (op->init)
		expect_sgl_as_handed_in(c, op);
}

/*
 * The next identical mapping works, is correct and gets the IOVA the
 * operation got on this device before it failed.
 */
static void expect_next_map_works(struct dma_ctx *c, const struct dma_op *op)
{
	flush_queue(c);
	fake_iommu_clear_faults(c->domain);
	fake_iommu_reset_calls(c->domain);
	KUNIT_ASSERT_EQ(c->test, op->map(c), 0);
	op->check(c);
	KUNIT_EXPECT_EQ_MSG(c->test, op->iova(c), c->ref,
			    "the failed mapping's IOVA did not go back to the allocator");
	op->unmap(c);
	KUNIT_EXPECT_EQ(c->test, fake_iommu_mapped_pages(c->domain, 0, 0), c->live);
	flush_queue(c);
}

/*
 * Live mappings right above and right below the IOVA range the failing
 * operation will get. The allocator hands IOVAs out top down: @above
 * first, then the operation itself (mapped once, successfully, which gives
 * its IOVA, c->ref), then @below; undoing the operation (and flushing a
 * DMA_FQ domain's queue) gives its range back to the allocator at once,
 * and the failing call gets it, between the two. An unwinding that unmaps
 * more than it mapped hits one of them, or a page no one mapped (which the
 * fake reports as misuse).
 */
static void map_neighbours(struct dma_ctx *c, const struct dma_op *op)
{
	c->above = dma_map_page(c->dev, c->block + ABOVE_PAGE, 0, PAGE_SIZE,
				DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(c->test, dma_mapping_error(c->dev, c->above));
	KUNIT_ASSERT_EQ(c->test, op->map(c), 0);
	c->ref = op->iova(c);
	c->below = dma_map_page(c->dev, c->block + BELOW_PAGE, 0, PAGE_SIZE,
				DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(c->test, dma_mapping_error(c->dev, c->below));
	op->unmap(c);
	flush_queue(c);
	c->live = 2;
	fake_iommu_reset_calls(c->domain);
}

static void expect_neighbours(struct dma_ctx *c)
{
	expect_iova_maps(c, c->above, page_to_phys(c->block + ABOVE_PAGE),
			 PAGE_SIZE);
	expect_iova_maps(c, c->below, page_to_phys(c->block + BELOW_PAGE),
			 PAGE_SIZE);
}

static void unmap_neighbours(struct dma_ctx *c)
{
	dma_unmap_page(c->dev, c->above, PAGE_SIZE, DMA_TO_DEVICE);
	dma_unmap_page(c->dev, c->below, PAGE_SIZE, DMA_TO_DEVICE);
	c->live = 0;
	KUNIT_EXPECT_EQ(c->test, fake_iommu_mapped_pages(c->domain, 0, 0), 0);
	flush_queue(c);
}

/*
 * How the operation under test fails: the @nth call of @op from now fails
 * with @err, or, with @sweep, the allocation the sweep's run fails.
 */
struct fail_plan {
	enum fake_iommu_op op;
	unsigned int nth;
	int err;
	struct fake_iommu_sweep *sweep;
	/* After the operation: how many calls of @op it made. */
	unsigned int calls;
};

/*
 * The operation failing as @f says, between its neighbours (map_neighbours()
 * maps it once first, which gives c->ref) or, with @ref, on a device that
 * has mapped nothing yet, whose first IOVA for the operation is @ref; then
 * everything a failure must leave, and the next identical mapping working
 * on the same IOVA. If nothing failed, the mapping must be right, on that
 * IOVA, and go away whole. Return: true if the operation failed.
 */
static bool fail_once(struct dma_ctx *c, const struct dma_op *op,
		      struct fail_plan *f, dma_addr_t ref)
{
	int ret;

	if (ref)
		c->ref = ref;
	else
		map_neighbours(c, op);
	fake_iommu_page_log_reset();
	if (f->sweep)
		fake_iommu_sweep_arm(f->sweep);
	else
		fake_iommu_fail_nth(c->test, c->domain, f->op, f->nth, f->err);
	ret = op->map(c);
	if (f->sweep)
		fake_iommu_sweep_disarm(f->sweep);
	f->calls = fake_iommu_nr_calls(c->domain, f->op);
	fake_iommu_clear_faults(c->domain);
	if (!ret) {
		/*
		 * The failure was absorbed (a retry, a lower order): the
		 * mapping is right, and once undone nothing is left of it,
		 * the pages of the allocations that failed included.
		 */
		op->check(c);
		KUNIT_EXPECT_EQ(c->test, op->iova(c), c->ref);
		op->unmap(c);
		KUNIT_EXPECT_EQ(c->test, fake_iommu_mapped_pages(c->domain, 0, 0),
				c->live);
		if (op->allocates)
			expect_pages_freed(c);
		expect_iova_space_whole(c);
	} else {
		expect_unwound(c, op, ret, f->err);
		if (!ref)
			expect_neighbours(c);
		expect_next_map_works(c, op);
		expect_iova_space_whole(c);
	}
	if (!ref) {
		expect_neighbours(c);
		unmap_neighbours(c);
	}
	return ret;
}

/*
 * The IOVA the operation gets on a device that has mapped nothing yet: the
 * same on every such device, as each has an allocator of its own.
 */
static dma_addr_t first_iova(struct kunit *test, const struct dma_op *op,
			     bool fq)
{
	struct dma_ctx *c = dma_setup(test, fq);
	dma_addr_t iova;

	KUNIT_ASSERT_EQ(test, op->map(c), 0);
	iova = op->iova(c);
	op->unmap(c);
	return iova;
}

static void run_sync_fail(struct kunit *test, const struct dma_op *op)
{
	const struct dma_param *p = test->param_value;
	struct dma_ctx *c = dma_setup(test, p->fq);
	struct fail_plan f = { .op = FAKE_IOMMU_SYNC_MAP, .nth = 1, .err = p->err };

	require_page_log(c, op);
	KUNIT_EXPECT_TRUE(test, fail_once(c, op, &f, 0));
	KUNIT_EXPECT_EQ(test, f.calls, 1);
}

static void iommu_dma_test_map_page(struct kunit *test)
{
	run_sync_fail(test, &op_map_page);
}

static void iommu_dma_test_map_single(struct kunit *test)
{
	run_sync_fail(test, &op_map_single);
}

static void iommu_dma_test_map_single_cross(struct kunit *test)
{
	run_sync_fail(test, &op_map_single_cross);
}

static void iommu_dma_test_map_sg(struct kunit *test)
{
	run_sync_fail(test, &op_map_sg);
}

static void iommu_dma_test_map_sg_offsets(struct kunit *test)
{
	run_sync_fail(test, &op_map_sg_offsets);
}

static void iommu_dma_test_map_sgtable(struct kunit *test)
{
	run_sync_fail(test, &op_map_sgtable);
}

static void iommu_dma_test_alloc_contiguous(struct kunit *test)
{
	run_sync_fail(test, &op_alloc_contiguous);
}

static void iommu_dma_test_alloc_atomic(struct kunit *test)
{
	run_sync_fail(test, &op_alloc_atomic);
}

static void iommu_dma_test_alloc_remap(struct kunit *test)
{
	run_sync_fail(test, &op_alloc_remap);
}

static void iommu_dma_test_alloc_noncontiguous(struct kunit *test)
{
	run_sync_fail(test, &op_alloc_noncontiguous);
}

static void iommu_dma_test_map_resource(struct kunit *test)
{
	run_sync_fail(test, &op_map_resource);
}

/*
 * On a DMA_FQ domain an unmap is queued: the PTEs go at once, but the IOTLB
 * sync (and the IOVA's return) wait for the flush queue. A strict domain
 * syncs at once. If the fake did not report IOMMU_CAP_DEFERRED_FLUSH, the
 * core would quietly give strict unmaps on the lazy domain: this catches it.
 */
static void iommu_dma_test_unmap_queued(struct kunit *test)
{
	const struct dma_param *p = test->param_value;
	struct dma_ctx *c = dma_setup(test, p->fq);
	const struct fake_iommu_call *call;
	unsigned int syncs = 0;
	dma_addr_t first;

	KUNIT_ASSERT_EQ(test, map_page(c), 0);
	first = c->handle;
	fake_iommu_reset_calls(c->domain);
	unmap_page(c);
	KUNIT_EXPECT_EQ(test, fake_iommu_mapped_pages(c->domain, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_UNMAP_PAGES), 1);
	fake_iommu_for_each_call(c->domain, FAKE_IOMMU_IOTLB_SYNC, call)
		syncs += call->size != 0;
	KUNIT_EXPECT_EQ_MSG(test, syncs, p->fq ? 0 : 1,
			    "IOTLB syncs right after a %s unmap", p->name);

	/*
	 * The same mapping again, before the queue is flushed: a queued IOVA
	 * must not be handed out while the IOTLB may still translate it (the
	 * fake reports a map over an unflushed unmap as misuse, too).
	 */
	KUNIT_ASSERT_EQ(test, map_page(c), 0);
	check_page(c);
	if (p->fq)
		KUNIT_EXPECT_NE_MSG(test, c->handle, first,
				    "a queued IOVA was reused before the IOTLB was flushed");
	unmap_page(c);
	flush_queue(c);
	fake_iommu_take_misuse(test, c->domain);
}

/*
 * Fail each call of a multi-step operation in turn: the k-th map_pages call
 * (one per physically contiguous chunk), then its sync_map, for every k the
 * operation makes, until a run in which nothing fails. Every failure must
 * unwind cleanly and leave the next mapping working.
 */
struct multi_param {
	const char *name;
	const struct dma_op *op;
	bool fq;
};

static const struct multi_param multi_params[] = {
	{ "map_sg_DMA", &op_map_sg, false },
	{ "map_sg_DMA_FQ", &op_map_sg, true },
	{ "map_sg_offsets_DMA_FQ", &op_map_sg_offsets, true },
	{ "map_sgtable_DMA", &op_map_sgtable, false },
	{ "alloc_remap_DMA", &op_alloc_remap, false },
	{ "alloc_remap_DMA_FQ", &op_alloc_remap, true },
	{ "alloc_noncontiguous_DMA", &op_alloc_noncontiguous, false },
	{ "alloc_noncontiguous_DMA_FQ", &op_alloc_noncontiguous, true },
};

KUNIT_ARRAY_PARAM_DESC(multi_params, multi_params, name);

static const struct multi_param nth_params[] = {
	{ "map_page_DMA", &op_map_page, false },
	{ "map_single_cross_DMA_FQ", &op_map_single_cross, true },
	{ "map_sg_DMA", &op_map_sg, false },
	{ "map_sg_DMA_FQ", &op_map_sg, true },
	{ "map_sg_offsets_DMA", &op_map_sg_offsets, false },
	{ "map_sgtable_DMA_FQ", &op_map_sgtable, true },
	{ "alloc_contiguous_DMA", &op_alloc_contiguous, false },
	{ "alloc_contiguous_DMA_FQ", &op_alloc_contiguous, true },
	{ "alloc_atomic_DMA", &op_alloc_atomic, false },
	{ "alloc_remap_DMA", &op_alloc_remap, false },
	{ "alloc_remap_DMA_FQ", &op_alloc_remap, true },
	{ "alloc_noncontiguous_DMA", &op_alloc_noncontiguous, false },
	{ "alloc_noncontiguous_DMA_FQ", &op_alloc_noncontiguous, true },
	{ "map_resource_DMA_FQ", &op_map_resource, true },
};

KUNIT_ARRAY_PARAM_DESC(nth_params, nth_params, name);

static void iommu_dma_test_fail_each_call(struct kunit *test)
{
	static const enum fake_iommu_op ops[] = {
		FAKE_IOMMU_MAP_PAGES, FAKE_IOMMU_SYNC_MAP,
	};
	const struct multi_param *p = test->param_value;
	unsigned int i, k, failed = 0;

	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		for (k = 1; k < 64; k++) {
			/* A new device each time, whose IOVA space is known. */
			struct dma_ctx *c = dma_setup(test, p->fq);
			struct fail_plan f = { .op = ops[i], .nth = k, .err = -EIO };

			require_page_log(c, p->op);
			if (!fail_once(c, p->op, &f, 0)) {
				/* Fewer than k calls: nothing failed. */
				KUNIT_EXPECT_LT(test, f.calls, k);
				break;
			}
			failed++;
			KUNIT_EXPECT_EQ(test, f.calls, k);
		}
		KUNIT_EXPECT_LT(test, k, 64);
	}
	/* At least one map_pages call and one sync_map call failed. */
	KUNIT_EXPECT_GE(test, failed, 2);
}

/*
 * The hypervisor model behind the fake's RPCIT, on a DMA_FQ domain of a
 * device that, like an s390 PCI function under a hypervisor, has its IOTLB
 * flushes sync the shadow table (one flush queue, long timeout).
 */
static struct dma_ctx *hypervisor_setup(struct kunit *test, unsigned long limit)
{
	struct fake_iommu_dev_opts opts = {
		.deferred_flush = true, .shadow_on_flush = true,
	};
	struct dma_ctx *c = dma_setup_dev(test, &opts, IOMMU_DOMAIN_DMA_FQ);

	fake_iommu_set_shadow_limit(c->domain, limit);
	return c;
}

/*
 * fio on an NVMe, as in the original report: map and unmap buffers far past
 * the hypervisor's limit. The unmaps are lazy, so the shadow fills with
 * entries the guest no longer maps; each time it is full, the global
 * refresh of the shared sync_map logic lets the hypervisor drop them, and
 * every mapping succeeds. Without that retry, mappings fail.
 */
static void iommu_dma_test_hypervisor_lazy_unmaps(struct kunit *test)
{
	struct dma_ctx *c = hypervisor_setup(test, 16);
	int i;

	for (i = 0; i < 200; i++) {
		dma_addr_t handle = dma_map_page(c->dev, c->block + i % 8, 0,
						 PAGE_SIZE, DMA_TO_DEVICE);

		KUNIT_ASSERT_FALSE_MSG(test, dma_mapping_error(c->dev, handle),
				       "mapping %d of 200 failed", i);
		dma_unmap_page(c->dev, handle, PAGE_SIZE, DMA_TO_DEVICE);
	}
	KUNIT_EXPECT_GT(test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_REFRESH_ALL), 0);
	KUNIT_EXPECT_EQ(test, fake_iommu_mapped_pages(c->domain, 0, 0), 0);

	/* Once the queue is flushed, no shadow entry is left behind. */
	iommu_flush_iotlb_all(c->domain);
	KUNIT_EXPECT_EQ(test, fake_iommu_shadow_entries(c->domain), 0);
}

/*
 * The limit truly exhausted by live mappings: the global refresh cannot
 * help, dma_map_page() fails, and the failed mapping is unwound.
 */
static void iommu_dma_test_hypervisor_full(struct kunit *test)
{
	struct dma_ctx *c = hypervisor_setup(test, 8);
	dma_addr_t handles[8], handle;
	int i;

	for (i = 0; i < 8; i++) {
		handles[i] = dma_map_page(c->dev, c->block + i, 0, PAGE_SIZE,
					  DMA_TO_DEVICE);
		KUNIT_ASSERT_FALSE(test, dma_mapping_error(c->dev, handles[i]));
	}
	fake_iommu_reset_calls(c->domain);
	handle = dma_map_page(c->dev, c->block, 0, PAGE_SIZE, DMA_BIDIRECTIONAL);
	KUNIT_EXPECT_TRUE(test, dma_mapping_error(c->dev, handle));
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_REFRESH_ALL), 1);
	KUNIT_EXPECT_EQ(test, fake_iommu_mapped_pages(c->domain, 0, 0), 8);
	KUNIT_EXPECT_EQ(test, fake_iommu_shadow_entries(c->domain), 8);
	for (i = 0; i < 8; i++)
		expect_iova_maps(c, handles[i], page_to_phys(c->block + i), PAGE_SIZE);

	for (i = 0; i < 8; i++)
		dma_unmap_page(c->dev, handles[i], PAGE_SIZE, DMA_TO_DEVICE);
}

/* Every mapping path, on a strict domain, out of IOVA space. */
static const struct multi_param iova_params[] = {
	{ "map_page", &op_map_page },
	{ "map_single_cross", &op_map_single_cross },
	{ "map_sg", &op_map_sg },
	{ "map_sg_offsets", &op_map_sg_offsets },
	{ "map_sgtable", &op_map_sgtable },
	{ "alloc_contiguous", &op_alloc_contiguous },
	{ "alloc_atomic", &op_alloc_atomic },
	{ "alloc_remap", &op_alloc_remap },
	{ "alloc_noncontiguous", &op_alloc_noncontiguous },
	{ "map_resource", &op_map_resource },
	{ "map_sg_DMA_FQ", &op_map_sg, true },
	{ "alloc_remap_DMA_FQ", &op_alloc_remap, true },
	{ "alloc_noncontiguous_DMA_FQ", &op_alloc_noncontiguous, true },
};

KUNIT_ARRAY_PARAM_DESC(iova_params, iova_params, name);

#define TINY_APERTURE_PAGES	16

/*
 * A domain whose aperture holds 16 pages, all taken by live mappings: the
 * operation finds no IOVA, reports its documented error (as for -ENOMEM),
 * maps nothing, leaves the live mappings alone; once they are gone the
 * same operation works, so the failure took no IOVA with it (on a DMA_FQ
 * domain, once the flush queue is flushed).
 */
static void iommu_dma_test_iova_exhausted(struct kunit *test)
{
	const struct multi_param *p = test->param_value;
	struct fake_iommu_dev_opts opts = {
		.def_domain_type = p->fq ? 0 : IOMMU_DOMAIN_DMA,
		.deferred_flush = p->fq,
		.aperture_start = SZ_1M,
		.aperture_end = SZ_1M + TINY_APERTURE_PAGES * PAGE_SIZE - 1,
	};
	struct dma_ctx *c = dma_setup_dev(test, &opts, p->fq ? IOMMU_DOMAIN_DMA_FQ :
							  IOMMU_DOMAIN_DMA);
	dma_addr_t fill[TINY_APERTURE_PAGES + 1];
	unsigned int n, i;
	int ret;

	require_page_log(c, p->op);
	for (n = 0; n <= TINY_APERTURE_PAGES; n++) {
		fill[n] = dma_map_page(c->dev, c->block + ABOVE_PAGE, 0,
				       PAGE_SIZE, DMA_TO_DEVICE);
		if (dma_mapping_error(c->dev, fill[n]))
			break;
		KUNIT_EXPECT_GE(test, fill[n], opts.aperture_start);
		KUNIT_EXPECT_LE(test, fill[n], opts.aperture_end);
	}
	KUNIT_ASSERT_EQ_MSG(test, n, TINY_APERTURE_PAGES,
			    "the aperture did not hold exactly its pages");
	c->live = n;
	fake_iommu_reset_calls(c->domain);
	fake_iommu_page_log_reset();

	ret = p->op->map(c);
	KUNIT_EXPECT_EQ(test, ret, p->op->expected(-ENOMEM));
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_MAP_PAGES), 0);
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_SYNC_MAP), 0);
	expect_unwound(c, p->op, ret, -ENOMEM);
	for (i = 0; i < n; i++)
		expect_iova_maps(c, fill[i], page_to_phys(c->block + ABOVE_PAGE),
				 PAGE_SIZE);

	for (i = 0; i < n; i++)
		dma_unmap_page(c->dev, fill[i], PAGE_SIZE, DMA_TO_DEVICE);
	c->live = 0;
	flush_queue(c);
	KUNIT_ASSERT_EQ(test, p->op->map(c), 0);
	p->op->check(c);
	p->op->unmap(c);
	KUNIT_EXPECT_EQ(test, fake_iommu_mapped_pages(c->domain, 0, 0), 0);
	expect_iova_space_whole(c);
}

#if IS_ENABLED(CONFIG_SWIOTLB)
/*
 * swiotlb: dma-iommu bounces a buffer that does not fill whole IOMMU
 * granules through a swiotlb slot when the device is untrusted, so that
 * the device never sees the rest of the caller's page. When the mapping of
 * the slot fails, the slot must go back to swiotlb and the caller's data
 * must be as it was (the slot is copied back for DMA_BIDIRECTIONAL), on
 * top of everything a failed mapping must leave behind anyway. A list
 * (iommu_dma_map_sg_swiotlb()) maps each segment on its own, with its own
 * IOVA and sync_map; when one fails, the ones before it are unmapped.
 */

static u8 block_byte(size_t i)
{
	return (i * 7 + 3) ^ (i >> 12);
}

static void fill_block(struct dma_ctx *c)
{
	u8 *p = page_address(c->block);
	size_t i;

	for (i = 0; i < 8 * PAGE_SIZE; i++)
		p[i] = block_byte(i);
}

/* The caller's buffers hold what they held before the operation. */
static void expect_block_intact(struct dma_ctx *c)
{
	u8 *p = page_address(c->block);
	size_t i;

	for (i = 0; i < 8 * PAGE_SIZE; i++)
		if (p[i] != block_byte(i))
			break;
	KUNIT_EXPECT_EQ_MSG(c->test, i, 8 * PAGE_SIZE,
			    "the caller's data changed at block offset %#zx", i);
}

static void check_single_bounced(struct dma_ctx *c)
{
	fake_iommu_expect_bounced(c->test, c->dev, c->handle, cross_buf(c),
				  CROSS_LEN);
}

static int map_sg_bounce(struct dma_ctx *c)
{
	init_sgl_offsets(c);
	c->nents = dma_map_sg(c->dev, c->sgl, ARRAY_SIZE(c->sgl),
			      DMA_BIDIRECTIONAL);
	return c->nents ? 0 : -EIO;
}

static int map_sgtable_bounce(struct dma_ctx *c)
{
	int ret;

	init_sgl_offsets(c);
	ret = dma_map_sgtable(c->dev, &c->sgt, DMA_BIDIRECTIONAL, 0);
	c->nents = c->sgt.nents;
	return ret;
}

/* Each segment is bounced on its own: one DMA segment per segment. */
static void check_sg_bounced(struct dma_ctx *c)
{
	int i;

	KUNIT_ASSERT_EQ(c->test, c->nents, ARRAY_SIZE(c->sgl));
	for (i = 0; i < ARRAY_SIZE(c->sgl); i++) {
		KUNIT_EXPECT_EQ(c->test, sg_dma_len(&c->sgl[i]), c->sgl[i].length);
		fake_iommu_expect_bounced(c->test, c->dev,
					  sg_dma_address(&c->sgl[i]),
					  sg_virt(&c->sgl[i]), c->sgl[i].length);
	}
}

static void unmap_sg_bounce(struct dma_ctx *c)
{
	dma_unmap_sg(c->dev, c->sgl, ARRAY_SIZE(c->sgl), DMA_BIDIRECTIONAL);
}

static void unmap_sgtable_bounce(struct dma_ctx *c)
{
	dma_unmap_sgtable(c->dev, &c->sgt, DMA_BIDIRECTIONAL, 0);
}

/*
 * iommu_dma_map_sg_swiotlb() knows only that a segment did not map
 * (DMA_MAPPING_ERROR), not why: dma_map_sgtable() gets -EIO, which
 * Documentation/core-api/dma-api.rst gives to exactly that case.
 */
static int expect_eio(int sync_err)
{
	return -EIO;
}

static const struct dma_op op_bounce_single = {
	.map = map_single_cross,
	.expected = expect_enomem,
	.check = check_single_bounced,
	.unmap = unmap_single_cross,
	.iova = handle_iova,
};

static const struct dma_op op_bounce_sg = {
	.map = map_sg_bounce,
	.expected = expect_zero_entries,
	.check = check_sg_bounced,
	.unmap = unmap_sg_bounce,
	.iova = sg_iova,
	.init = init_sgl_offsets,
	.stale_dma_fields = true,
};

static const struct dma_op op_bounce_sgtable = {
	.map = map_sgtable_bounce,
	.expected = expect_eio,
	.check = check_sg_bounced,
	.unmap = unmap_sgtable_bounce,
	.iova = sg_iova,
	.init = init_sgl_offsets,
	.stale_dma_fields = true,
};

struct bounce_param {
	const char *name;
	const struct dma_op *op;
	/* Fail the nth call of this op, with err. */
	enum fake_iommu_op fail;
	unsigned int nth;
	int err;
};

static const struct bounce_param bounce_params[] = {
	{ "single_sync_ENOMEM", &op_bounce_single, FAKE_IOMMU_SYNC_MAP, 1, -ENOMEM },
	{ "single_sync_EIO", &op_bounce_single, FAKE_IOMMU_SYNC_MAP, 1, -EIO },
	{ "single_map_pages_ENOMEM", &op_bounce_single, FAKE_IOMMU_MAP_PAGES, 1, -ENOMEM },
	{ "sg_first_sync_EIO", &op_bounce_sg, FAKE_IOMMU_SYNC_MAP, 1, -EIO },
	{ "sg_middle_map_pages_ENOMEM", &op_bounce_sg, FAKE_IOMMU_MAP_PAGES, 2, -ENOMEM },
	{ "sg_last_sync_ENOMEM", &op_bounce_sg, FAKE_IOMMU_SYNC_MAP, 3, -ENOMEM },
	{ "sgtable_last_sync_ENOMEM", &op_bounce_sgtable, FAKE_IOMMU_SYNC_MAP, 3, -ENOMEM },
	{ "sgtable_middle_sync_EIO", &op_bounce_sgtable, FAKE_IOMMU_SYNC_MAP, 2, -EIO },
};

KUNIT_ARRAY_PARAM_DESC(bounce_params, bounce_params, name);

/* One IOVA per segment at most. */
#define BOUNCE_MAX_IOVAS	ARRAY_SIZE(sg_offsets)

static void iommu_dma_test_swiotlb(struct kunit *test)
{
	const struct bounce_param *p = test->param_value;
	struct fake_iommu_dev_opts opts = {
		.untrusted_pci = true,
		.aperture_start = APERTURE_START,
		.aperture_end = APERTURE_START + APERTURE_PAGES * PAGE_SIZE - 1,
	};
	/* The core gives an untrusted device a strict DMA domain. */
	struct dma_ctx *c = dma_setup_dev(test, &opts, IOMMU_DOMAIN_DMA);
	dma_addr_t failed[BOUNCE_MAX_IOVAS];
	const struct fake_iommu_call *call;
	unsigned int nr_failed = 0, i;
	bool found;
	long used;
	int ret;

	KUNIT_ASSERT_TRUE(test, dev_is_pci(c->dev) && to_pci_dev(c->dev)->untrusted);
	fill_block(c);
	used = fake_iommu_swiotlb_used(c->dev);
	map_neighbours(c, p->op);
	KUNIT_EXPECT_EQ(test, fake_iommu_swiotlb_used(c->dev), used);

	fake_iommu_fail_nth(test, c->domain, p->fail, p->nth, p->err);
	ret = p->op->map(c);
	KUNIT_EXPECT_EQ(test, ret, p->op->expected(p->err));
	KUNIT_EXPECT_EQ(test, fake_iommu_nr_calls(c->domain, p->fail), p->nth);
	KUNIT_ASSERT_LE(test, fake_iommu_nr_calls(c->domain, FAKE_IOMMU_MAP_PAGES),
			BOUNCE_MAX_IOVAS);
	fake_iommu_for_each_call(c->domain, FAKE_IOMMU_MAP_PAGES, call)
		failed[nr_failed++] = call->iova;
	KUNIT_EXPECT_EQ_MSG(test, fake_iommu_swiotlb_used(c->dev), used,
			    "swiotlb slots left taken after a failed mapping");
	KUNIT_EXPECT_EQ_MSG(test, fake_iommu_mapped_pages(c->domain, 0, 0),
			    c->live, "pages left mapped after a failed mapping");
	expect_neighbours(c);
	expect_block_intact(c);
	if (p->op->init)
		expect_sgl_as_handed_in(c, p->op);

	/* The same mapping works, bounced, on the IOVAs the failure freed. */
	fake_iommu_clear_faults(c->domain);
	fake_iommu_reset_calls(c->domain);
	KUNIT_ASSERT_EQ(test, p->op->map(c), 0);
	KUNIT_EXPECT_GT_MSG(test, fake_iommu_swiotlb_used(c->dev), used,
			    "swiotlb does not count the slots of a bounced mapping");
	p->op->check(c);
	for (i = 0; i < nr_failed; i++) {
		found = false;
		fake_iommu_for_each_call(c->domain, FAKE_IOMMU_MAP_PAGES, call)
			found |= call->iova == failed[i];
		KUNIT_EXPECT_TRUE_MSG(test, found,
				      "IOVA %pad of the failed mapping did not go back to the allocator",
				      &failed[i]);
	}
	p->op->unmap(c);
	KUNIT_EXPECT_EQ(test, fake_iommu_swiotlb_used(c->dev), used);
	expect_iova_space_whole(c);
	expect_neighbours(c);
	unmap_neighbours(c);
	expect_block_intact(c);
}
#else
static const struct { const char *name; } bounce_params[] = { { "none" } };

KUNIT_ARRAY_PARAM_DESC(bounce_params, bounce_params, name);

static void iommu_dma_test_swiotlb(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_SWIOTLB");
}
#endif

/*
 * Fail the n-th allocation of the operation, for n = 1, 2, ... until the
 * operation makes fewer than n allocations, as iommufd_fail_nth does, each
 * run on a new device that has mapped nothing yet (so that the fake's
 * tables and the IOVA allocator's nodes are allocated by the operation
 * itself, and can fail), whose first IOVA for the operation a reference
 * run on another such device gave. Wherever the failure lands, even
 * before the first map_pages, the operation must unwind: nothing mapped,
 * the pages it allocated freed, the caller's list as it was, every IOVA
 * back in the allocator (the whole IOVA space can be had again; on DMA_FQ
 * once the flush queue is flushed), no WARN, and the next mapping working
 * on the same IOVA. A failure the operation
 * absorbs (the IOVA allocator retries after flushing its caches, say) must
 * still map correctly and give everything back.
 */
static void iommu_dma_test_fail_nth_alloc(struct kunit *test)
{
	const struct multi_param *p = test->param_value;
	dma_addr_t ref = first_iova(test, p->op, p->fq);
	struct fake_iommu_sweep sweep;

	fake_iommu_for_each_fail_nth(test, &sweep, 1000) {
		struct dma_ctx *c = dma_setup(test, p->fq);
		struct fail_plan f = {
			.op = FAKE_IOMMU_MAP_PAGES, .err = -ENOMEM, .sweep = &sweep,
		};

		require_page_log(c, p->op);
		if (fail_once(c, p->op, &f, ref))
			fake_iommu_sweep_failed(&sweep);
	}
	/*
	 * Many failures are absorbed, and each must still map correctly; but
	 * a sweep where no failure reached the operation's error path tested
	 * no unwinding at all.
	 */
	fake_iommu_sweep_end(&sweep, 1);
}

static struct kunit_case iommu_dma_test_cases[] = {
	KUNIT_CASE_PARAM(iommu_dma_test_map_page, dma_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_test_map_single, dma_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_test_map_single_cross, dma_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_test_map_sg, dma_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_test_map_sg_offsets, dma_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_test_map_sgtable, dma_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_test_alloc_contiguous, dma_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_test_alloc_atomic, dma_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_test_alloc_remap, dma_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_test_alloc_noncontiguous, dma_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_test_map_resource, dma_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_test_unmap_queued, domain_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_test_iova_exhausted, iova_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_test_swiotlb, bounce_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_test_fail_each_call, multi_params_gen_params),
	KUNIT_CASE_PARAM(iommu_dma_test_fail_nth_alloc, nth_params_gen_params),
	KUNIT_CASE(iommu_dma_test_hypervisor_lazy_unmaps),
	KUNIT_CASE(iommu_dma_test_hypervisor_full),
	{}
};

static struct kunit_suite iommu_dma_test_suite = {
	.name = "iommu_dma",
	.init = iommu_dma_test_init,
	.test_cases = iommu_dma_test_cases,
};

kunit_test_suite(iommu_dma_test_suite);

MODULE_DESCRIPTION("KUnit tests for dma-iommu unwinding on iotlb_sync_map failure");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("IOMMU_FAKE");
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
