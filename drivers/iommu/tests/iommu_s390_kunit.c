// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the s390 IOMMU driver's iotlb_sync_map.
 *
 * They run the real s390_iommu_iotlb_sync_map() through the domain's ops,
 * on a real s390 domain (with its real translation tables) to which fake
 * zpci_devs are attached by the driver's own attach_dev, with RPCIT
 * replaced through the KUnit static stub in zpci_refresh_trans() and the
 * table's registration (MPCIFC) through the one in zpci_mod_fc(). What
 * they reach of the driver, s390-iommu.h declares (VISIBLE_IF_KUNIT).
 */
#include <kunit/script.h>
#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/iommu.h>
#include <linux/list.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <asm/pci_dma.h>
#include <asm/pci_insn.h>

#include "fake-iommu.h"
#include "fake-iommu-sweep.h"
#include "../s390-iommu.h"
#include "iommu_sync_map_cases.h"

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
	/* The test's earlier contexts, whose devices stay attached. */
	struct s390_test_ctx *prev;
	/* Function handles: fh + i for device i, unique in the test. */
	u32 fh;
	struct iommu_domain *domain;
	/* The functions' bus: to_zpci() finds each in it by devfn. */
	struct zpci_bus *zbus;
	struct zpci_dev *zdev[3];
	struct pci_dev *pdev[3];
	int nr_zdev;
	/* Each device's table as registered with MPCIFC; 0 if none. */
	u64 iota[3];
	/* What the next registration answers (a condition code). */
	u8 reg_cc;
	/* What each RPCIT answers: succeed unless a rule says otherwise. */
	struct kunit_script rpcit;
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
	return kunit_script_call(&ctx->rpcit, 0, NULL, addr, addr + range, NULL);
}

/* MPCIFC: the (de)registration of a function's translation table. */
static u8 s390_test_mod_fc(u64 req, struct zpci_fib *fib, u8 *status)
{
	struct kunit *test = kunit_get_current_test();
	struct s390_test_ctx *ctx = test->priv;
	u32 fh = req >> 32;
	unsigned int i;
	u8 cc = 0;

	*status = 0;
	while (ctx && (fh < ctx->fh || fh >= ctx->fh + ARRAY_SIZE(ctx->zdev)))
		ctx = ctx->prev;
	KUNIT_ASSERT_NOT_NULL_MSG(test, ctx, "MPCIFC for unknown function %#x", fh);
	i = fh - ctx->fh;
	switch (req & 0xffff) {
	case ZPCI_MOD_FC_REG_IOAT:
		cc = ctx->reg_cc;
		if (!cc)
			ctx->iota[i] = fib->iota;
		break;
	case ZPCI_MOD_FC_DEREG_IOAT:
		ctx->iota[i] = 0;
		break;
	default:
		KUNIT_FAIL(test, "unexpected MPCIFC %#llx", req & 0xffff);
	}
	return cc;
}

/* Attaches @dev to @domain with the driver's attach_dev, as the core does. */
static int s390_test_attach(struct iommu_domain *domain, struct device *dev,
			    struct iommu_domain *old)
{
	return domain->ops->attach_dev(domain, dev, old);
}

/* The table of @domain, as s390_iommu_attach_device() registers it. */
static u64 s390_test_iota(struct iommu_domain *domain)
{
	struct s390_domain *s390_domain = to_s390_domain(domain);

	return virt_to_phys(s390_domain->dma_table) |
	       get_iota_region_flag(s390_domain);
}

/* Back to the blocking domain, as the core detaches, then the domain. */
static void s390_test_free_domain(void *data)
{
	struct s390_test_ctx *ctx = data;
	struct kunit *test = kunit_get_current_test();
	int i;

	for (i = 0; i < ctx->nr_zdev; i++) {
		KUNIT_EXPECT_EQ(test, s390_test_attach(s390_iommu_ops.blocked_domain,
						       &ctx->pdev[i]->dev,
						       ctx->domain), 0);
		KUNIT_EXPECT_EQ_MSG(test, ctx->iota[i], 0,
				    "device %d's table still registered", i);
	}
	ctx->domain->ops->free(ctx->domain);
}

/*
 * A paging domain of the s390 driver, allocated for a fake PCI function as
 * the core would (s390_domain_alloc_paging() sizes the aperture from the
 * device, and may clamp the device's end_dma to it) and set up as
 * __iommu_domain_alloc() would, with @nr_zdev fake devices, set up as
 * s390_iommu_probe_device() does, attached by s390_iommu_attach_device(),
 * which must register the domain's table for each;
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
	ctx->prev = test->priv;
	kunit_script_init(&ctx->rpcit);
	ctx->fh = ctx->prev ? ctx->prev->fh + ARRAY_SIZE(ctx->zdev) : S390_TEST_FH;
	test->priv = ctx;
	/* Before the domain's cleanup, so that they outlive it. */
	kunit_activate_static_stub(test, zpci_refresh_trans, s390_test_rpcit);
	kunit_activate_static_stub(test, zpci_mod_fc, s390_test_mod_fc);
	ctx->zbus = kunit_kzalloc(test, sizeof(*ctx->zbus), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ctx->zbus);
	for (i = 0; i < nr_zdev; i++) {
		struct zpci_dev *zdev = kunit_kzalloc(test, sizeof(*zdev), GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, zdev);
		zdev->fh = ctx->fh + i;
		zdev->tlb_refresh = !(no_refresh & BIT(i));
		zdev->start_dma = S390_TEST_START_DMA;
		zdev->end_dma = S390_TEST_END_DMA;
		spin_lock_init(&zdev->dom_lock);
		zdev_s390_domain_update(zdev, s390_iommu_ops.blocked_domain);
		zdev->zbus = ctx->zbus;
		ctx->zbus->function[i] = zdev;
		ctx->zdev[i] = zdev;
		pdev = kunit_kzalloc(test, sizeof(*pdev), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, pdev);
		pdev->sysdata = ctx->zbus;
		pdev->devfn = i;
		KUNIT_ASSERT_PTR_EQ(test, to_zpci(pdev), zdev);
		ctx->pdev[i] = pdev;
	}

	ctx->domain = s390_iommu_ops.domain_alloc_paging(&ctx->pdev[0]->dev);
	KUNIT_ASSERT_NOT_NULL(test, ctx->domain);
	ctx->domain->type = IOMMU_DOMAIN_UNMANAGED;
	ctx->domain->owner = &s390_iommu_ops;
	ctx->domain->ops = s390_iommu_ops.default_domain_ops;
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, s390_test_free_domain,
							ctx), 0);
	/* A non-empty aperture inside the one the test asked for. */
	KUNIT_ASSERT_EQ(test, ctx->zdev[0]->start_dma, S390_TEST_START_DMA);
	KUNIT_ASSERT_GT(test, ctx->zdev[0]->end_dma, S390_TEST_IOVA + S390_TEST_SIZE);
	KUNIT_ASSERT_LE(test, ctx->zdev[0]->end_dma, S390_TEST_END_DMA);

	s390_domain = to_s390_domain(ctx->domain);
	for (i = 1; i < nr_zdev; i++)
		ctx->zdev[i]->end_dma = ctx->zdev[0]->end_dma;
	/*
	 * Last first: the driver adds each device at the head of its list,
	 * so that the list, which sync_map walks, is zdev[0], zdev[1], ...
	 * A device the cleanup finds not attached is already blocked.
	 */
	ctx->nr_zdev = nr_zdev;
	for (i = nr_zdev - 1; i >= 0; i--) {
		KUNIT_ASSERT_EQ(test, s390_test_attach(ctx->domain, &ctx->pdev[i]->dev,
						       s390_iommu_ops.blocked_domain), 0);
		KUNIT_ASSERT_EQ_MSG(test, ctx->iota[i], s390_test_iota(ctx->domain),
				    "device %d's table not registered", i);
		KUNIT_ASSERT_PTR_EQ(test, ctx->zdev[i]->s390_domain, ctx->domain);
	}
	KUNIT_ASSERT_EQ(test, (int)list_count_nodes(&s390_domain->devices), nr_zdev);
	return ctx;
}

/*
 * The RPCITs @ctx recorded, each checked for its range (the new mapping's,
 * or its device's whole aperture) and turned into a refresh of scenario @c
 * (with the answer it got) in @got, up to @max of them, for
 * iommu_sync_map_expect_calls(). Return: how many RPCITs there were.
 */
static int s390_test_refreshes(struct kunit *test, struct s390_test_ctx *ctx,
			       const struct iommu_sync_map_case *c,
			       struct iommu_sync_map_refresh *got, int max)
{
	int i;

	KUNIT_EXPECT_LE_MSG(test, ctx->nr_calls, S390_TEST_MAX_CALLS,
			    "RPCITs past the log");
	for (i = 0; i < min(ctx->nr_calls, max); i++) {
		const struct s390_test_call *call = &ctx->calls[i];
		u32 idx = call->fh - ctx->fh;
		const struct zpci_dev *zdev;
		bool all;

		KUNIT_ASSERT_LT_MSG(test, idx, (u32)ctx->nr_zdev,
				    "RPCIT #%d for function %#x", i, call->fh);
		zdev = ctx->zdev[idx];
		/* The global refresh covers the device's whole DMA range. */
		all = call->addr == zdev->start_dma &&
		      call->range == zdev->end_dma - zdev->start_dma + 1;
		if (!all) {
			KUNIT_EXPECT_EQ_MSG(test, call->addr, S390_TEST_IOVA,
					    "RPCIT #%d", i);
			KUNIT_EXPECT_EQ_MSG(test, call->range, S390_TEST_SIZE,
					    "RPCIT #%d", i);
		}
		got[i] = (struct iommu_sync_map_refresh) {
			.dev = idx, .all = all, .ret = iommu_sync_map_answer(c, i),
		};
	}
	return ctx->nr_calls;
}

KUNIT_ARRAY_PARAM_DESC(s390_sync_cases, iommu_sync_map_cases, name);

/* The real s390_iommu_iotlb_sync_map() of the test's range. */
static int s390_test_sync_map(struct s390_test_ctx *ctx)
{
	return ctx->domain->ops->iotlb_sync_map(ctx->domain, S390_TEST_IOVA,
						S390_TEST_SIZE);
}

/*
 * The real s390_iommu_iotlb_sync_map(), called through the domain's ops, in
 * the scenarios of the shared refresh logic, with RPCITs answering in call
 * order as each scenario says.
 */
static void iommu_s390_test_sync_map(struct kunit *test)
{
	const struct iommu_sync_map_case *c = test->param_value;
	struct s390_test_ctx *ctx = s390_test_setup(test, c->nr_devs, 0);
	struct iommu_sync_map_refresh got[IOMMU_SYNC_MAP_MAX_CALLS + 2];
	int i, nr_got;

	/* The answers in call order: RPCIT i + 1 from now answers ret. */
	for (i = 0; i < c->nr_calls; i++) {
		const struct kunit_script_rule rule = {
			.kind = KUNIT_SCRIPT_NTH, .nth = i + 1,
			.err = c->calls[i].ret,
		};

		if (rule.err)
			kunit_script_add(test, &ctx->rpcit, &rule);
	}
	KUNIT_EXPECT_EQ(test, s390_test_sync_map(ctx),
			c->ret);
	nr_got = s390_test_refreshes(test, ctx, c, got, ARRAY_SIZE(got));
	iommu_sync_map_expect_calls(test, c, got, nr_got);
}

/* A function without tlb_refresh gets no RPCIT; the others do. */
static void iommu_s390_test_sync_map_no_tlb_refresh(struct kunit *test)
{
	struct s390_test_ctx *ctx = s390_test_setup(test, 3, BIT(1));

	KUNIT_EXPECT_EQ(test, s390_test_sync_map(ctx),
			0);
	KUNIT_ASSERT_EQ(test, ctx->nr_calls, 2);
	KUNIT_EXPECT_EQ(test, ctx->calls[0].fh, ctx->fh);
	KUNIT_EXPECT_EQ(test, ctx->calls[1].fh, ctx->fh + 2);
	KUNIT_EXPECT_EQ(test, ctx->calls[1].addr, S390_TEST_IOVA);
	KUNIT_EXPECT_EQ(test, ctx->calls[1].range, S390_TEST_SIZE);
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

/* The entry of s390's own translation table for @iova (0 if it has none). */
static unsigned long s390_test_pte(struct s390_test_ctx *ctx, unsigned long iova)
{
	unsigned long *entry = dma_walk_cpu_trans(to_s390_domain(ctx->domain),
						  iova, GFP_ATOMIC);

	return entry ? READ_ONCE(*entry) : 0;
}

/*
 * The last RPCIT is the one iommu_map()'s unwinding issued (the IOTLB
 * sync of its unmap): for exactly the range it mapped, on the device.
 */
static void s390_test_expect_unwind_rpcit(struct kunit *test,
					  struct s390_test_ctx *ctx, int nr_calls,
					  unsigned long iova, size_t size)
{
	const struct s390_test_call *last;

	KUNIT_ASSERT_EQ_MSG(test, ctx->nr_calls, nr_calls,
			    "RPCITs: the failing refresh(es), then the unmap's");
	last = &ctx->calls[nr_calls - 1];
	KUNIT_EXPECT_EQ(test, last->fh, ctx->fh);
	KUNIT_EXPECT_EQ(test, last->addr, iova);
	KUNIT_EXPECT_EQ(test, last->range, size);
}

/*
 * Live mappings right below and right after [iova, iova + size), made
 * before the test's RPCIT answers start (the RPCITs they issued are
 * forgotten), so that an unwinding that unmaps too much shows.
 */
#define S390_TEST_BELOW_PA	(32 * SZ_1M)
#define S390_TEST_ABOVE_PA	(48 * SZ_1M)

static void s390_test_map_neighbours(struct kunit *test, struct s390_test_ctx *ctx,
				     unsigned long iova, size_t size)
{
	KUNIT_ASSERT_EQ(test, iommu_map(ctx->domain, iova - SZ_4K, S390_TEST_BELOW_PA,
					SZ_4K, IOMMU_READ, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, iommu_map(ctx->domain, iova + size, S390_TEST_ABOVE_PA,
					SZ_4K, IOMMU_READ, GFP_KERNEL), 0);
	ctx->nr_calls = 0;
}

static void s390_test_expect_neighbours(struct kunit *test, struct s390_test_ctx *ctx,
					unsigned long iova, size_t size)
{
	KUNIT_EXPECT_EQ_MSG(test, iommu_iova_to_phys(ctx->domain, iova - SZ_4K),
			    S390_TEST_BELOW_PA, "the mapping below the range");
	KUNIT_EXPECT_EQ_MSG(test, iommu_iova_to_phys(ctx->domain, iova + size),
			    S390_TEST_ABOVE_PA, "the mapping after the range");
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
	KUNIT_EXPECT_EQ(test, ctx->calls[1].fh, ctx->fh + 1);
	KUNIT_EXPECT_EQ(test, ctx->calls[1].addr, S390_TEST_IOVA);

	KUNIT_EXPECT_EQ(test, iommu_unmap(ctx->domain, S390_TEST_IOVA,
					  S390_TEST_SIZE), S390_TEST_SIZE);
	s390_test_expect_unmapped(test, ctx->domain, S390_TEST_IOVA, S390_TEST_SIZE);
}

/*
 * Each page's entry: valid, the right address, and ZPCI_TABLE_PROTECTED
 * exactly when the mapping does not allow writes (s390 has no write-only).
 */
static void iommu_s390_test_map_prot(struct kunit *test)
{
	static const struct {
		int prot;
		bool protected;
	} maps[] = {
		{ IOMMU_READ | IOMMU_WRITE, false },
		{ IOMMU_READ, true },
		{ IOMMU_WRITE, false },
	};
	struct s390_test_ctx *ctx = s390_test_setup(test, 1, 0);
	phys_addr_t paddr = 64 * SZ_1M;
	unsigned long iova, pte;
	size_t off;
	int i;

	for (i = 0; i < ARRAY_SIZE(maps); i++) {
		iova = S390_TEST_IOVA + i * S390_TEST_SIZE;
		KUNIT_ASSERT_EQ(test, iommu_map(ctx->domain, iova, paddr + iova, S390_TEST_SIZE,
						maps[i].prot, GFP_KERNEL), 0);
	}
	for (i = 0; i < ARRAY_SIZE(maps); i++) {
		iova = S390_TEST_IOVA + i * S390_TEST_SIZE;
		for (off = 0; off < S390_TEST_SIZE; off += SZ_4K) {
			pte = s390_test_pte(ctx, iova + off);
			KUNIT_EXPECT_EQ_MSG(test, pte & ZPCI_PTE_VALID_MASK,
					    ZPCI_PTE_VALID, "map %d + %#zx", i, off);
			KUNIT_EXPECT_EQ_MSG(test, pte & ZPCI_PTE_ADDR_MASK,
					    paddr + iova + off, "map %d + %#zx", i, off);
			KUNIT_EXPECT_EQ_MSG(test, !!(pte & ZPCI_TABLE_PROTECTED),
					    maps[i].protected, "map %d (prot %#x) + %#zx",
					    i, maps[i].prot, off);
		}
		KUNIT_EXPECT_EQ(test, iommu_unmap(ctx->domain, iova, S390_TEST_SIZE),
				S390_TEST_SIZE);
	}
	s390_test_expect_unmapped(test, ctx->domain, S390_TEST_IOVA,
				  ARRAY_SIZE(maps) * S390_TEST_SIZE);
}

/*
 * The registration of the domain's table for a second device fails
 * (MPCIFC answers condition code 1): s390_iommu_attach_device() reports
 * -EIO and leaves the device blocked and off the domain's list, so that a
 * mapping refreshes only the device that is attached.
 */
static void iommu_s390_test_attach_fails(struct kunit *test)
{
	struct s390_test_ctx *ctx = s390_test_setup(test, 1, 0);
	struct s390_domain *s390_domain = to_s390_domain(ctx->domain);
	struct zpci_dev *zdev = kunit_kzalloc(test, sizeof(*zdev), GFP_KERNEL);
	struct pci_dev *pdev = kunit_kzalloc(test, sizeof(*pdev), GFP_KERNEL);
	phys_addr_t paddr = 64 * SZ_1M;

	KUNIT_ASSERT_NOT_NULL(test, zdev);
	KUNIT_ASSERT_NOT_NULL(test, pdev);
	zdev->fh = ctx->fh + 1;
	zdev->tlb_refresh = true;
	zdev->start_dma = ctx->zdev[0]->start_dma;
	zdev->end_dma = ctx->zdev[0]->end_dma;
	spin_lock_init(&zdev->dom_lock);
	zdev_s390_domain_update(zdev, s390_iommu_ops.blocked_domain);
	zdev->zbus = ctx->zbus;
	ctx->zbus->function[1] = zdev;
	pdev->sysdata = ctx->zbus;
	pdev->devfn = 1;

	ctx->reg_cc = 1;
	KUNIT_EXPECT_EQ(test, s390_test_attach(ctx->domain, &pdev->dev,
					       s390_iommu_ops.blocked_domain), -EIO);
	ctx->reg_cc = 0;
	KUNIT_EXPECT_EQ(test, ctx->iota[1], 0);
	KUNIT_EXPECT_PTR_EQ(test, zdev->s390_domain, s390_iommu_ops.blocked_domain);
	KUNIT_EXPECT_NULL(test, zdev->dma_table);
	KUNIT_EXPECT_EQ(test, (int)list_count_nodes(&s390_domain->devices), 1);

	KUNIT_ASSERT_EQ(test, iommu_map(ctx->domain, S390_TEST_IOVA, paddr,
					S390_TEST_SIZE, IOMMU_READ | IOMMU_WRITE,
					GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, ctx->nr_calls, 1);
	KUNIT_EXPECT_EQ(test, ctx->calls[0].fh, ctx->fh);
	KUNIT_EXPECT_EQ(test, iommu_unmap(ctx->domain, S390_TEST_IOVA,
					  S390_TEST_SIZE), S390_TEST_SIZE);
}

struct s390_fail_param {
	const char *name;
	/* The RPCITs that fail, and the error the map returns. */
	struct kunit_script_rule rpcit;
	/* RPCITs: the refresh, the global one after -ENOMEM, the unmap's */
	int nr_calls;
};

static const struct s390_fail_param s390_fail_params[] = {
	{ "EIO", { .kind = KUNIT_SCRIPT_NEXT, .count = 1, .err = -EIO }, 2 },
	{ "ENOMEM_twice",
	  { .kind = KUNIT_SCRIPT_NEXT, .count = 2, .err = -ENOMEM }, 3 },
};

KUNIT_ARRAY_PARAM_DESC(s390_fail_params, s390_fail_params, name);

/* iommu_map() through the real core on s390's own page table. */
static void iommu_s390_test_map_fails(struct kunit *test)
{
	const struct s390_fail_param *p = test->param_value;
	struct s390_test_ctx *ctx = s390_test_setup(test, 1, 0);

	s390_test_map_neighbours(test, ctx, S390_TEST_IOVA, S390_TEST_SIZE);
	kunit_script_add(test, &ctx->rpcit, &p->rpcit);
	KUNIT_EXPECT_EQ(test, iommu_map(ctx->domain, S390_TEST_IOVA, 64 * SZ_1M,
					S390_TEST_SIZE, IOMMU_READ | IOMMU_WRITE,
					GFP_KERNEL), p->rpcit.err);
	s390_test_expect_unmapped(test, ctx->domain, S390_TEST_IOVA, S390_TEST_SIZE);
	s390_test_expect_unwind_rpcit(test, ctx, p->nr_calls, S390_TEST_IOVA,
				      S390_TEST_SIZE);
	s390_test_expect_neighbours(test, ctx, S390_TEST_IOVA, S390_TEST_SIZE);
}

static void iommu_s390_test_map_sg_fails(struct kunit *test)
{
	const struct s390_fail_param *p = test->param_value;
	struct s390_test_ctx *ctx = s390_test_setup(test, 1, 0);
	struct scatterlist sgl[3];
	struct page *block;
	int i;

	size_t size = ARRAY_SIZE(sgl) * PAGE_SIZE;

	block = alloc_pages(GFP_KERNEL, 3);
	KUNIT_ASSERT_NOT_NULL(test, block);
	sg_init_table(sgl, ARRAY_SIZE(sgl));
	for (i = 0; i < ARRAY_SIZE(sgl); i++)
		sg_set_page(&sgl[i], block + 2 * i, PAGE_SIZE, 0);
	s390_test_map_neighbours(test, ctx, S390_TEST_IOVA, size);
	kunit_script_add(test, &ctx->rpcit, &p->rpcit);
	KUNIT_EXPECT_EQ(test, iommu_map_sg(ctx->domain, S390_TEST_IOVA, sgl,
					   ARRAY_SIZE(sgl), IOMMU_READ, GFP_KERNEL),
			p->rpcit.err);
	s390_test_expect_unmapped(test, ctx->domain, S390_TEST_IOVA, size);
	s390_test_expect_unwind_rpcit(test, ctx, p->nr_calls, S390_TEST_IOVA, size);
	s390_test_expect_neighbours(test, ctx, S390_TEST_IOVA, size);
	__free_pages(block, 3);
}

/*
 * s390_iommu_map_pages() failing part way: fail each allocation of
 * iommu_map() in turn (current->fail_nth), on a fresh domain each time, for
 * four pages across a page table boundary (two in one page table, two in
 * the next). The allocation of the second page table comes after the first
 * two pages were made valid: s390_iommu_validate_trans() must invalidate
 * them again, the first one included, since the core unmaps nothing of a
 * map_pages call that failed, and nothing before them. Each failure:
 * -ENOMEM, no valid entry in the range, no RPCIT. With a live mapping right
 * below the range, the first page table is there before the map and only
 * the second one's allocation can fail it, after the first two pages;
 * without it, both can.
 */
struct s390_nth_param {
	const char *name;
	bool neighbour;
	unsigned int min_failures;
};

static const struct s390_nth_param s390_nth_params[] = {
	{ "first_table_new", false, 2 },
	{ "neighbour_below", true, 1 },
};

KUNIT_ARRAY_PARAM_DESC(s390_nth_params, s390_nth_params, name);

static void iommu_s390_test_map_pages_fail_nth(struct kunit *test)
{
	const struct s390_nth_param *p = test->param_value;
	unsigned long iova = S390_TEST_IOVA + SZ_1M - 2 * SZ_4K;
	phys_addr_t paddr = 64 * SZ_1M;
	struct fake_iommu_sweep sweep;
	size_t off;

	fake_iommu_for_each_fail_nth(test, &sweep, 100) {
		struct s390_test_ctx *ctx = s390_test_setup(test, 1, 0);
		int ret;

		if (p->neighbour) {
			KUNIT_ASSERT_EQ(test, iommu_map(ctx->domain, iova - SZ_4K,
							S390_TEST_BELOW_PA, SZ_4K,
							IOMMU_READ, GFP_KERNEL), 0);
			ctx->nr_calls = 0;
		}
		fake_iommu_sweep_arm(&sweep);
		ret = iommu_map(ctx->domain, iova, paddr, S390_TEST_SIZE,
				IOMMU_READ | IOMMU_WRITE, GFP_KERNEL);
		fake_iommu_sweep_disarm(&sweep);

		if (!ret) {
			for (off = 0; off < S390_TEST_SIZE; off += SZ_4K)
				KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(ctx->domain, iova + off),
						paddr + off);
			KUNIT_EXPECT_EQ(test, iommu_unmap(ctx->domain, iova, S390_TEST_SIZE),
					S390_TEST_SIZE);
		} else {
			fake_iommu_sweep_failed(&sweep);
			KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
			s390_test_expect_unmapped(test, ctx->domain, iova,
						  S390_TEST_SIZE);
			KUNIT_EXPECT_EQ_MSG(test, ctx->nr_calls, 0,
					    "RPCIT after a failed map_pages");
		}
		if (p->neighbour) {
			KUNIT_EXPECT_EQ_MSG(test, iommu_iova_to_phys(ctx->domain, iova - SZ_4K),
					    S390_TEST_BELOW_PA, "the mapping below the range");
			KUNIT_EXPECT_EQ(test, iommu_unmap(ctx->domain, iova - SZ_4K, SZ_4K),
					SZ_4K);
		}
	}
	fake_iommu_sweep_end(&sweep, p->min_failures);
}

static struct kunit_case iommu_s390_test_cases[] = {
	KUNIT_CASE_PARAM(iommu_s390_test_sync_map, s390_sync_cases_gen_params),
	KUNIT_CASE(iommu_s390_test_sync_map_no_tlb_refresh),
	KUNIT_CASE(iommu_s390_test_map_success),
	KUNIT_CASE(iommu_s390_test_map_prot),
	KUNIT_CASE(iommu_s390_test_attach_fails),
	KUNIT_CASE_PARAM(iommu_s390_test_map_fails, s390_fail_params_gen_params),
	KUNIT_CASE_PARAM(iommu_s390_test_map_sg_fails, s390_fail_params_gen_params),
	KUNIT_CASE_PARAM(iommu_s390_test_map_pages_fail_nth, s390_nth_params_gen_params),
	{}
};

static struct kunit_suite iommu_s390_test_suite = {
	.name = "iommu_s390",
	/* A case fails if the kernel WARNs (the fake's check, shared). */
	.init = fake_iommu_test_init,
	.test_cases = iommu_s390_test_cases,
};

kunit_test_suite(iommu_s390_test_suite);

MODULE_DESCRIPTION("KUnit tests for the s390 IOMMU driver's iotlb_sync_map");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("IOMMU_FAKE");
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
