// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the iotlb_sync_map logic the fake IOMMU driver shares with
 * s390, iommu_sync_map_refresh(): one refresh of the range per attached
 * device, one global refresh of a device whose range refresh said -ENOMEM,
 * and the first error returned. The scenarios (iommu_sync_map_cases.h, which
 * the s390 suite runs too) run on the helper itself with stub callbacks, and
 * through iommu_map() and the fake driver. The fake's model of a
 * hypervisor's shadow table shows why the global refresh helps.
 */
#include <kunit/test.h>
#include <linux/iommu.h>
#include <linux/iommu-sync-map.h>
#include <linux/rculist.h>
#include <linux/sizes.h>

#include "fake-iommu.h"
#include "iommu_sync_map_cases.h"

#define TEST_IOVA	0x100000UL
#define TEST_PHYS	0x40000000UL
#define TEST_PROT	(IOMMU_READ | IOMMU_WRITE)

struct sync_ctx {
	struct iommu_domain *domain;
	struct device *dev[IOMMU_SYNC_MAP_MAX_DEVS];
};

/* One unmanaged domain attached to @nr_devs devices, each in its group. */
static struct sync_ctx *sync_setup(struct kunit *test, int nr_devs)
{
	struct sync_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, ctx);
	KUNIT_ASSERT_LE(test, nr_devs, IOMMU_SYNC_MAP_MAX_DEVS);
	for (i = 0; i < nr_devs; i++)
		ctx->dev[i] = fake_iommu_add_device(test, NULL);
	ctx->domain = fake_iommu_alloc_domain(test, ctx->dev[0]);
	for (i = 0; i < nr_devs; i++)
		fake_iommu_attach_device(test, ctx->domain, ctx->dev[i]);
	return ctx;
}

KUNIT_ARRAY_PARAM_DESC(sync_cases, iommu_sync_map_cases, name);

/* The devices and the refreshes of iommu_sync_map_refresh() with stubs. */
struct sync_stub_dev {
	struct list_head node;
	u8 idx;
};

struct sync_stub {
	struct kunit *test;
	const struct iommu_sync_map_case *c;
	struct list_head devices;
	struct sync_stub_dev dev[IOMMU_SYNC_MAP_MAX_DEVS];
	/* A few more than any scenario makes, to see a logic that loops. */
	struct iommu_sync_map_refresh got[IOMMU_SYNC_MAP_MAX_CALLS + 2];
	int nr_got;
};

static int sync_stub_refresh(struct sync_stub *s, struct list_head *node,
			     bool all)
{
	struct sync_stub_dev *d = list_entry(node, struct sync_stub_dev, node);
	int ret = iommu_sync_map_answer(s->c, s->nr_got);

	if (s->nr_got < ARRAY_SIZE(s->got))
		s->got[s->nr_got] = (struct iommu_sync_map_refresh) {
			.dev = d->idx, .all = all, .ret = ret,
		};
	s->nr_got++;
	return ret;
}

static int sync_stub_refresh_range(void *ctx, struct list_head *node,
				   unsigned long iova, size_t size)
{
	struct sync_stub *s = ctx;

	KUNIT_EXPECT_EQ(s->test, iova, TEST_IOVA);
	KUNIT_EXPECT_EQ(s->test, size, 4 * SZ_4K);
	return sync_stub_refresh(s, node, false);
}

static int sync_stub_refresh_all(void *ctx, struct list_head *node)
{
	return sync_stub_refresh(ctx, node, true);
}

/* iommu_sync_map_refresh() itself, on a list of stub devices. */
static void iommu_sync_map_test_refresh(struct kunit *test)
{
	const struct iommu_sync_map_case *c = test->param_value;
	struct sync_stub *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	int i, ret;

	KUNIT_ASSERT_NOT_NULL(test, s);
	s->test = test;
	s->c = c;
	INIT_LIST_HEAD(&s->devices);
	for (i = 0; i < c->nr_devs; i++) {
		s->dev[i].idx = i;
		list_add_tail_rcu(&s->dev[i].node, &s->devices);
	}

	rcu_read_lock();
	ret = iommu_sync_map_refresh(&s->devices, s, TEST_IOVA, 4 * SZ_4K,
				     sync_stub_refresh_range,
				     sync_stub_refresh_all);
	rcu_read_unlock();

	KUNIT_EXPECT_EQ(test, ret, c->ret);
	iommu_sync_map_expect_calls(test, c, s->got, s->nr_got);
}

/*
 * The same scenarios through iommu_map() and the fake driver's
 * iotlb_sync_map: its fake RPCITs answer as scripted, and a failed
 * iommu_map() leaves nothing mapped.
 */
static void iommu_sync_map_test_devices(struct kunit *test)
{
	const struct iommu_sync_map_case *c = test->param_value;
	struct sync_ctx *ctx = sync_setup(test, c->nr_devs);
	struct iommu_sync_map_refresh got[IOMMU_SYNC_MAP_MAX_CALLS + 2];
	const struct fake_iommu_call *call;
	size_t size = 4 * SZ_4K;
	int i, j, nr_got = 0;

	/* Each answer as the Nth refresh of its kind of its device. */
	for (i = 0; i < c->nr_calls; i++) {
		const struct iommu_sync_map_refresh *e = &c->calls[i];
		struct kunit_script_rule fault = {
			.obj = ctx->dev[e->dev],
			.op = e->all ? FAKE_IOMMU_REFRESH_ALL : FAKE_IOMMU_REFRESH,
			.kind = KUNIT_SCRIPT_NTH,
			.nth = 1,
			.err = e->ret,
		};

		if (!e->ret)
			continue;
		for (j = 0; j < i; j++)
			if (c->calls[j].dev == e->dev && c->calls[j].all == e->all)
				fault.nth++;
		fake_iommu_script(test, ctx->domain, &fault);
	}

	KUNIT_EXPECT_EQ(test, iommu_map(ctx->domain, TEST_IOVA, TEST_PHYS, size,
					TEST_PROT, GFP_KERNEL), c->ret);
	if (c->ret)
		fake_iommu_expect_unmapped(test, ctx->domain, TEST_IOVA, size);
	else
		fake_iommu_expect_mapped(test, ctx->domain, TEST_IOVA, TEST_PHYS, size);

	/* The refreshes of either kind, in order. */
	fake_iommu_for_each_call(ctx->domain, FAKE_IOMMU_NR_OPS, call) {
		if (call->op != FAKE_IOMMU_REFRESH &&
		    call->op != FAKE_IOMMU_REFRESH_ALL)
			continue;
		if (call->op == FAKE_IOMMU_REFRESH) {
			KUNIT_EXPECT_EQ(test, call->iova, TEST_IOVA);
			KUNIT_EXPECT_EQ(test, call->size, size);
		}
		if (nr_got < ARRAY_SIZE(got)) {
			for (j = 0; j < c->nr_devs; j++)
				if (call->dev == ctx->dev[j])
					break;
			KUNIT_EXPECT_LT_MSG(test, j, c->nr_devs,
					    "refresh #%d of an unknown device", nr_got);
			got[nr_got] = (struct iommu_sync_map_refresh) {
				.dev = j, .all = call->op == FAKE_IOMMU_REFRESH_ALL,
				.ret = call->ret,
			};
		}
		nr_got++;
	}
	iommu_sync_map_expect_calls(test, c, got, nr_got);
	if (!c->ret)
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
	KUNIT_CASE_PARAM(iommu_sync_map_test_refresh, sync_cases_gen_params),
	KUNIT_CASE_PARAM(iommu_sync_map_test_devices, sync_cases_gen_params),
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
MODULE_IMPORT_NS("IOMMU_FAKE");
