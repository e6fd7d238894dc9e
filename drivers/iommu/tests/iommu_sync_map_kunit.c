// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the iotlb_sync_map logic the fake IOMMU driver shares with
 * s390, iommu_sync_map_refresh(), run through iommu_map(): one refresh of the
 * range per attached device, one global refresh of a device whose range
 * refresh said -ENOMEM, and the first error returned. The fake's model of a
 * hypervisor's shadow table shows why the global refresh helps.
 */
#include <kunit/test.h>
#include <linux/iommu.h>
#include <linux/sizes.h>

#include "../fake-iommu.h"

#define TEST_IOVA	0x100000UL
#define TEST_PHYS	0x40000000UL
#define TEST_PROT	(IOMMU_READ | IOMMU_WRITE)

#define SYNC_MAX_DEVS	2

struct sync_ctx {
	struct iommu_domain *domain;
	struct device *dev[SYNC_MAX_DEVS];
};

/* One unmanaged domain attached to @nr_devs devices, each in its group. */
static struct sync_ctx *sync_setup(struct kunit *test, int nr_devs)
{
	struct sync_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, ctx);
	for (i = 0; i < nr_devs; i++)
		ctx->dev[i] = fake_iommu_add_device(test, NULL);
	ctx->domain = fake_iommu_alloc_domain(test, ctx->dev[0]);
	for (i = 0; i < nr_devs; i++)
		fake_iommu_attach_device(test, ctx->domain, ctx->dev[i]);
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
		fake_iommu_script(test, ctx->domain, &fault);
	}
	if (p->all_err) {
		fault.op = FAKE_IOMMU_REFRESH_ALL;
		fault.err = p->all_err;
		fake_iommu_script(test, ctx->domain, &fault);
	}

	KUNIT_EXPECT_EQ(test, iommu_map(ctx->domain, TEST_IOVA, TEST_PHYS, size,
					TEST_PROT, GFP_KERNEL), p->ret);
	if (p->ret)
		fake_iommu_expect_unmapped(test, ctx->domain, TEST_IOVA, size);
	else
		fake_iommu_expect_mapped(test, ctx->domain, TEST_IOVA, TEST_PHYS, size);

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
	fake_iommu_expect_unmapped(test, ctx->domain, TEST_IOVA + 4 * SZ_4K, SZ_4K);
	fake_iommu_expect_mapped(test, ctx->domain, TEST_IOVA, TEST_PHYS, 4 * SZ_4K);
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
	.init = fake_iommu_test_init,
	.test_cases = iommu_sync_map_test_cases,
};

kunit_test_suite(iommu_sync_map_test_suite);

MODULE_DESCRIPTION("KUnit tests for the iotlb_sync_map refresh logic shared with s390");
MODULE_LICENSE("GPL");
