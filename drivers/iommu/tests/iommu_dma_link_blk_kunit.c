// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the block layer's caller of dma-iommu's IOVA-link API,
 * blk_rq_dma_map_iter_start(), with iotlb_sync_map or map_pages failing
 * under it, on devices of the fake IOMMU.
 */
#include "iommu_dma_link_kunit.h"

KUNIT_ARRAY_PARAM_DESC(link_params, link_params, name);
KUNIT_ARRAY_PARAM_DESC(link_fail_params, link_fail_params, name);

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

MODULE_DESCRIPTION("KUnit tests for blk-mq-dma's IOVA-link error paths");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("IOMMU_FAKE");
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
