// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for dma_map_phys() (what dma_map_page() and dma_map_resource()
 * are built on) with iotlb_sync_map failing, on devices of the fake IOMMU.
 */
#include "iommu_dma_link_kunit.h"

KUNIT_ARRAY_PARAM_DESC(link_params, link_params, name);

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
		kunit_skip(test,
			   "CONFIG_IOMMU_DEBUG_PAGEALLOC is off (kunit.py --kconfig_add CONFIG_IOMMU_DEBUG_PAGEALLOC=y --kernel_args iommu.debug_pagealloc=1)");
	if (!IS_BUILTIN(CONFIG_IOMMU_DMA_PHYS_KUNIT_TEST))
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

kunit_test_suite(iommu_dma_phys_test_suite);

MODULE_DESCRIPTION("KUnit tests for dma_map_phys() error paths");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("IOMMU_FAKE");
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
