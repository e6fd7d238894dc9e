// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for dma-buf's caller of dma-iommu's IOVA-link API,
 * dma_buf_phys_vec_to_sgt() (MMIO exporters: VFIO, RDMA), with
 * iotlb_sync_map, map_pages or an allocation failing under it, on devices
 * of the fake IOMMU.
 */
#include "iommu_dma_link_kunit.h"

KUNIT_ARRAY_PARAM_DESC(link_params, link_params, name);

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

MODULE_DESCRIPTION("KUnit tests for dma-buf's IOVA-link error paths");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("IOMMU_FAKE");
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
MODULE_IMPORT_NS("DMA_BUF");
