// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the s390 IOMMU driver's iotlb_sync_map.
 *
 * Included at the end of s390-iommu.c, so that the tests reach the driver's
 * static functions: they run the real s390_iommu_iotlb_sync_map() through
 * the domain's ops, on a real s390 domain (with its real translation
 * tables) whose device list holds fake zpci_devs, and with RPCIT replaced
 * through the KUnit static stub in zpci_refresh_trans().
 */
#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/scatterlist.h>

#define S390_TEST_MAX_CALLS	16
#define S390_TEST_FH		0x100
#define S390_TEST_START_DMA	SZ_1M
#define S390_TEST_END_DMA	(SZ_4G - 1)
#define S390_TEST_IOVA		(16 * SZ_1M)
#define S390_TEST_SIZE		(4 * SZ_4K)

/* One RPCIT the driver issued: which device, which range. */
struct s390_test_call {
	u32 fh;
	u64 addr;
	u64 range;
};

struct s390_test_ctx {
	struct iommu_domain *domain;
	struct zpci_dev *zdev[3];
	int nr_zdev;
	/* RPCIT answers in call order; calls past them succeed. */
	const int *answers;
	int nr_answers;
	struct s390_test_call calls[S390_TEST_MAX_CALLS];
	int nr_calls;
};

static int s390_test_rpcit(u64 fn, u64 addr, u64 range)
{
	struct s390_test_ctx *ctx = kunit_get_current_test()->priv;
	int n = ctx->nr_calls++;

	if (n < S390_TEST_MAX_CALLS)
		ctx->calls[n] = (struct s390_test_call) {
			.fh = fn >> 32, .addr = addr, .range = range,
		};
	return n < ctx->nr_answers ? ctx->answers[n] : 0;
}

static void s390_test_free_domain(void *data)
{
	struct s390_test_ctx *ctx = data;
	int i;

	for (i = 0; i < ctx->nr_zdev; i++)
		list_del_rcu(&ctx->zdev[i]->iommu_list);
	synchronize_rcu();
	s390_domain_free(ctx->domain);
}

/*
 * A paging domain of the s390 driver, allocated for a fake PCI function as
 * the core would (s390_domain_alloc_paging() sizes the aperture from the
 * device, and may clamp the device's end_dma to it) and set up as
 * __iommu_domain_alloc() would, with @nr_zdev fake devices attached;
 * @no_refresh is a bitmap of devices without tlb_refresh. The devices'
 * DMA ranges are those of the function the domain was allocated for.
 */
static struct s390_test_ctx *s390_test_setup(struct kunit *test, int nr_zdev,
					     unsigned long no_refresh)
{
	struct s390_test_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	struct s390_domain *s390_domain;
	struct pci_dev *pdev;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, ctx);
	KUNIT_ASSERT_GE(test, nr_zdev, 1);
	KUNIT_ASSERT_LE(test, nr_zdev, ARRAY_SIZE(ctx->zdev));
	test->priv = ctx;
	for (i = 0; i < nr_zdev; i++) {
		struct zpci_dev *zdev = kunit_kzalloc(test, sizeof(*zdev), GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, zdev);
		zdev->fh = S390_TEST_FH + i;
		zdev->tlb_refresh = !(no_refresh & BIT(i));
		zdev->start_dma = S390_TEST_START_DMA;
		zdev->end_dma = S390_TEST_END_DMA;
		ctx->zdev[i] = zdev;
	}
	pdev = kunit_kzalloc(test, sizeof(*pdev), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pdev);
	pdev->sysdata = ctx->zdev[0];

	ctx->domain = s390_domain_alloc_paging(&pdev->dev);
	KUNIT_ASSERT_NOT_NULL(test, ctx->domain);
	ctx->domain->type = IOMMU_DOMAIN_UNMANAGED;
	ctx->domain->owner = &s390_iommu_ops;
	ctx->domain->ops = s390_iommu_ops.default_domain_ops;
	/* 6.12 keeps s390's page size in its iommu_ops, mainline in the domain. */
	if (!ctx->domain->pgsize_bitmap)
		ctx->domain->pgsize_bitmap = SZ_4K;
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, s390_test_free_domain,
							ctx), 0);
	/* A non-empty aperture inside the one the test asked for. */
	KUNIT_ASSERT_EQ(test, ctx->zdev[0]->start_dma, S390_TEST_START_DMA);
	KUNIT_ASSERT_GT(test, ctx->zdev[0]->end_dma, S390_TEST_IOVA + S390_TEST_SIZE);
	KUNIT_ASSERT_LE(test, ctx->zdev[0]->end_dma, S390_TEST_END_DMA);

	s390_domain = to_s390_domain(ctx->domain);
	for (i = 0; i < nr_zdev; i++) {
		ctx->zdev[i]->end_dma = ctx->zdev[0]->end_dma;
		list_add_tail_rcu(&ctx->zdev[i]->iommu_list, &s390_domain->devices);
		ctx->nr_zdev++;
	}
	kunit_activate_static_stub(test, zpci_refresh_trans, s390_test_rpcit);
	return ctx;
}

/* An expected RPCIT: device index, and the range or the whole aperture. */
struct s390_test_rpcit_exp {
	u8 dev;
	bool all;
};

struct s390_sync_param {
	const char *name;
	int nr_zdev;
	unsigned long no_refresh;
	int answers[4];
	int nr_answers;
	struct s390_test_rpcit_exp calls[4];
	int nr_calls;
	int ret;
};

static const struct s390_sync_param s390_sync_params[] = {
	{ "success", 1, 0, {}, 0, { { 0 } }, 1, 0 },
	{ "ENOMEM_then_global_ok", 1, 0, { -ENOMEM }, 1,
	  { { 0 }, { 0, true } }, 2, 0 },
	{ "ENOMEM_twice", 1, 0, { -ENOMEM, -ENOMEM }, 2,
	  { { 0 }, { 0, true } }, 2, -ENOMEM },
	{ "EIO", 1, 0, { -EIO }, 1, { { 0 } }, 1, -EIO },
	{ "three_devices", 3, 0, {}, 0, { { 0 }, { 1 }, { 2 } }, 3, 0 },
	{ "no_tlb_refresh", 3, BIT(1), {}, 0, { { 0 }, { 2 } }, 2, 0 },
	{ "ENOMEM_on_second_device", 2, 0, { 0, -ENOMEM }, 2,
	  { { 0 }, { 1 }, { 1, true } }, 3, 0 },
	{ "ENOMEM_twice_on_first_device", 2, 0, { -ENOMEM, -ENOMEM }, 2,
	  { { 0 }, { 0, true } }, 2, -ENOMEM },
	/* 6.12 returned the second device's success here. */
	{ "EIO_then_success_on_second_device", 2, 0, { -EIO, 0 }, 2,
	  { { 0 } }, 1, -EIO },
};

KUNIT_ARRAY_PARAM_DESC(s390_sync_params, s390_sync_params, name);

/* The real s390_iommu_iotlb_sync_map(), called through the domain's ops. */
static void iommu_s390_test_sync_map(struct kunit *test)
{
	const struct s390_sync_param *p = test->param_value;
	struct s390_test_ctx *ctx = s390_test_setup(test, p->nr_zdev, p->no_refresh);
	int i, ret;

	ctx->answers = p->answers;
	ctx->nr_answers = p->nr_answers;
	ret = ctx->domain->ops->iotlb_sync_map(ctx->domain, S390_TEST_IOVA,
					       S390_TEST_SIZE);
	KUNIT_EXPECT_EQ(test, ret, p->ret);
	KUNIT_ASSERT_EQ(test, ctx->nr_calls, p->nr_calls);
	for (i = 0; i < p->nr_calls; i++) {
		const struct s390_test_rpcit_exp *e = &p->calls[i];
		const struct zpci_dev *zdev = ctx->zdev[e->dev];

		KUNIT_EXPECT_EQ_MSG(test, ctx->calls[i].fh, S390_TEST_FH + e->dev,
				    "RPCIT #%d", i);
		/* The global refresh covers the device's whole DMA range. */
		KUNIT_EXPECT_EQ_MSG(test, ctx->calls[i].addr,
				    e->all ? zdev->start_dma : S390_TEST_IOVA,
				    "RPCIT #%d", i);
		KUNIT_EXPECT_EQ_MSG(test, ctx->calls[i].range,
				    e->all ? zdev->end_dma - zdev->start_dma + 1 :
					     S390_TEST_SIZE,
				    "RPCIT #%d", i);
	}
}

/* No valid translation for any page of [iova, iova + size). */
static void s390_test_expect_unmapped(struct kunit *test,
				      struct iommu_domain *domain,
				      unsigned long iova, size_t size)
{
	size_t off;

	for (off = 0; off < size; off += SZ_4K)
		KUNIT_EXPECT_EQ_MSG(test, iommu_iova_to_phys(domain, iova + off), 0,
				    "IOVA %#lx still translates", iova + off);
}

static void iommu_s390_test_map_success(struct kunit *test)
{
	struct s390_test_ctx *ctx = s390_test_setup(test, 2, 0);
	phys_addr_t paddr = 64 * SZ_1M;
	size_t off;

	KUNIT_ASSERT_EQ(test, iommu_map(ctx->domain, S390_TEST_IOVA, paddr,
					S390_TEST_SIZE, IOMMU_READ | IOMMU_WRITE,
					GFP_KERNEL), 0);
	for (off = 0; off < S390_TEST_SIZE; off += SZ_4K)
		KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(ctx->domain,
							 S390_TEST_IOVA + off),
				paddr + off);
	/* One RPCIT of the range per device. */
	KUNIT_EXPECT_EQ(test, ctx->nr_calls, 2);
	KUNIT_EXPECT_EQ(test, ctx->calls[1].fh, S390_TEST_FH + 1);
	KUNIT_EXPECT_EQ(test, ctx->calls[1].addr, S390_TEST_IOVA);

	KUNIT_EXPECT_EQ(test, iommu_unmap(ctx->domain, S390_TEST_IOVA,
					  S390_TEST_SIZE), S390_TEST_SIZE);
	s390_test_expect_unmapped(test, ctx->domain, S390_TEST_IOVA, S390_TEST_SIZE);
}

struct s390_fail_param {
	const char *name;
	int answers[2];
	int err;
};

static const struct s390_fail_param s390_fail_params[] = {
	{ "EIO", { -EIO }, -EIO },
	{ "ENOMEM_twice", { -ENOMEM, -ENOMEM }, -ENOMEM },
};

KUNIT_ARRAY_PARAM_DESC(s390_fail_params, s390_fail_params, name);

/* iommu_map() through the real core on s390's own page table. */
static void iommu_s390_test_map_fails(struct kunit *test)
{
	const struct s390_fail_param *p = test->param_value;
	struct s390_test_ctx *ctx = s390_test_setup(test, 1, 0);

	ctx->answers = p->answers;
	ctx->nr_answers = ARRAY_SIZE(p->answers);
	KUNIT_EXPECT_EQ(test, iommu_map(ctx->domain, S390_TEST_IOVA, 64 * SZ_1M,
					S390_TEST_SIZE, IOMMU_READ | IOMMU_WRITE,
					GFP_KERNEL), p->err);
	s390_test_expect_unmapped(test, ctx->domain, S390_TEST_IOVA, S390_TEST_SIZE);
}

static void iommu_s390_test_map_sg_fails(struct kunit *test)
{
	const struct s390_fail_param *p = test->param_value;
	struct s390_test_ctx *ctx = s390_test_setup(test, 1, 0);
	struct scatterlist sgl[3];
	struct page *block;
	int i;

	block = alloc_pages(GFP_KERNEL, 3);
	KUNIT_ASSERT_NOT_NULL(test, block);
	sg_init_table(sgl, ARRAY_SIZE(sgl));
	for (i = 0; i < ARRAY_SIZE(sgl); i++)
		sg_set_page(&sgl[i], block + 2 * i, PAGE_SIZE, 0);
	ctx->answers = p->answers;
	ctx->nr_answers = ARRAY_SIZE(p->answers);
	KUNIT_EXPECT_EQ(test, iommu_map_sg(ctx->domain, S390_TEST_IOVA, sgl,
					   ARRAY_SIZE(sgl), IOMMU_READ, GFP_KERNEL),
			p->err);
	s390_test_expect_unmapped(test, ctx->domain, S390_TEST_IOVA,
				  ARRAY_SIZE(sgl) * PAGE_SIZE);
	__free_pages(block, 3);
}

static struct kunit_case iommu_s390_test_cases[] = {
	KUNIT_CASE_PARAM(iommu_s390_test_sync_map, s390_sync_params_gen_params),
	KUNIT_CASE(iommu_s390_test_map_success),
	KUNIT_CASE_PARAM(iommu_s390_test_map_fails, s390_fail_params_gen_params),
	KUNIT_CASE_PARAM(iommu_s390_test_map_sg_fails, s390_fail_params_gen_params),
	{}
};

static void s390_test_check_no_warn(void *data)
{
	struct kunit *test = data;

	KUNIT_EXPECT_FALSE_MSG(test, test_taint(TAINT_WARN),
			       "the kernel WARNed during this case (see the log)");
}

/*
 * This KUnit does not fail a case on a WARN, and the kernel only remembers
 * that one happened: a case fails if the kernel WARNs while it runs or
 * cleans up, or had WARNed before, when the case cannot see its own.
 */
static int s390_test_init(struct kunit *test)
{
	KUNIT_EXPECT_FALSE_MSG(test, test_taint(TAINT_WARN),
			       "the kernel WARNed before this case, which cannot see its own WARNs");
	return kunit_add_action_or_reset(test, s390_test_check_no_warn, test);
}

static struct kunit_suite iommu_s390_test_suite = {
	.name = "iommu_s390",
	.init = s390_test_init,
	.test_cases = iommu_s390_test_cases,
};

kunit_test_suite(iommu_s390_test_suite);
