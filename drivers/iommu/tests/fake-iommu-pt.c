// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fake IOMMU driver's generic_pt backing: with
 * &fake_iommu_dev_opts.generic_pt, a fake paging domain keeps its table in
 * generic_pt's AMDv1 format, so that the core maps and unmaps through
 * generic_pt's map_range() and unmap_range(), as it does for the AMD, Intel
 * and RISC-V drivers. iotlb_sync_map is still the fake's, recorded and
 * scriptable.
 *
 * Built only with CONFIG_IOMMU_PT_AMDV1=y, as the fake is built in.
 */
#include <linux/generic_pt/iommu.h>
#include <linux/iommu.h>

#include "../iommu-pages.h"
#include "fake-iommu-priv.h"

PT_IOMMU_CHECK_DOMAIN(struct fake_iommu_domain, amdv1.iommu, domain);

static void fake_iommu_pt_iotlb_sync(struct iommu_domain *domain,
				     struct iommu_iotlb_gather *gather)
{
	fake_iommu_iotlb_sync(domain, gather);
	iommu_put_pages_list(&gather->freelist);
}

static const struct iommu_domain_ops fake_iommu_pt_domain_ops = {
	IOMMU_PT_DOMAIN_OPS(amdv1),
	.attach_dev = fake_iommu_attach_dev,
	.iotlb_sync_map = fake_iommu_iotlb_sync_map,
	.iotlb_sync = fake_iommu_pt_iotlb_sync,
	.flush_iotlb_all = fake_iommu_flush_iotlb_all,
	.free = fake_iommu_domain_free,
};

static struct fake_iommu_domain *to_fake_pt_domain(struct pt_iommu *iommu_table)
{
	return container_of(iommu_table, struct fake_iommu_domain, amdv1.iommu);
}

static spinlock_t *fake_iommu_pt_get_top_lock(struct pt_iommu *iommu_table)
{
	return &to_fake_pt_domain(iommu_table)->top_lock;
}

/* No hardware holds the top of the table: nothing to update. */
static void fake_iommu_pt_change_top(struct pt_iommu *iommu_table,
				     phys_addr_t top_paddr,
				     unsigned int top_level)
{
	lockdep_assert_held(&to_fake_pt_domain(iommu_table)->top_lock);
}

static const struct pt_iommu_driver_ops fake_iommu_pt_driver_ops = {
	.get_top_lock = fake_iommu_pt_get_top_lock,
	.change_top = fake_iommu_pt_change_top,
};

/*
 * generic_pt's table cannot be listed, so the fake notes every range the
 * core asks it to map (its map_range(), which the core calls through the
 * table's ops, wrapped): a leak check probes those, and nothing else can
 * have been mapped. The whole range asked for, not what map_range()
 * reports having mapped: a failure that maps more than it reports is
 * what the leak check is there to see.
 */
static int fake_iommu_pt_map_range(struct pt_iommu *iommu_table,
				   dma_addr_t iova, phys_addr_t paddr,
				   dma_addr_t len, unsigned int prot, gfp_t gfp,
				   size_t *mapped)
{
	struct fake_iommu_domain *fd = to_fake_pt_domain(iommu_table);
	unsigned long flags, pages = DIV_ROUND_UP(len, FAKE_IOMMU_GRANULE);
	void *old;
	int ret;

	ret = fd->pt_base_ops->map_range(iommu_table, iova, paddr, len, prot,
					 gfp, mapped);
	if (!pages)
		return ret;
	xa_lock_irqsave(&fd->pt_ranges, flags);
	old = xa_load(&fd->pt_ranges, iova / FAKE_IOMMU_GRANULE);
	if (!old || xa_to_value(old) < pages)
		__xa_store(&fd->pt_ranges, iova / FAKE_IOMMU_GRANULE,
			   xa_mk_value(pages), GFP_ATOMIC);
	xa_unlock_irqrestore(&fd->pt_ranges, flags);
	return ret;
}

/* The AMD IOMMU driver's v1 configuration, 48-bit IOVAs. */
int fake_iommu_pt_init(struct fake_iommu_domain *fd)
{
	struct pt_iommu_amdv1_cfg cfg = {
		.common.features = BIT(PT_FEAT_DYNAMIC_TOP) |
				   BIT(PT_FEAT_AMDV1_ENCRYPT_TABLES) |
				   BIT(PT_FEAT_AMDV1_FORCE_COHERENCE) |
				   BIT(PT_FEAT_FLUSH_RANGE),
		.common.hw_max_vasz_lg2 = 48,
		.common.hw_max_oasz_lg2 = 52,
		.starting_level = 2,
	};
	int ret;

	spin_lock_init(&fd->top_lock);
	xa_init_flags(&fd->pt_ranges, XA_FLAGS_LOCK_IRQ);
	fd->amdv1.iommu.nid = NUMA_NO_NODE;
	fd->amdv1.iommu.driver_ops = &fake_iommu_pt_driver_ops;
	fd->domain.ops = &fake_iommu_pt_domain_ops;
	ret = pt_iommu_amdv1_init(&fd->amdv1, &cfg, GFP_KERNEL);
	if (ret)
		return ret;
	fd->pt_base_ops = fd->amdv1.iommu.ops;
	fd->pt_ops = *fd->pt_base_ops;
	fd->pt_ops.map_range = fake_iommu_pt_map_range;
	fd->amdv1.iommu.ops = &fd->pt_ops;
	return 0;
}

bool fake_iommu_is_pt(struct iommu_domain *domain)
{
	return domain->ops == &fake_iommu_pt_domain_ops;
}

/*
 * What is still mapped of the ranges the core mapped through generic_pt,
 * in bytes; with @unmap, unmap it too (straight through generic_pt, so that
 * the core's accounting of mappings does not see it).
 */
size_t fake_iommu_pt_mapped(struct iommu_domain *domain, bool unmap)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	struct pt_iommu *pt = &fd->amdv1.iommu;
	struct iommu_iotlb_gather gather;
	unsigned long index, i;
	size_t left = 0, n;
	void *e;

	iommu_iotlb_gather_init(&gather);
	xa_for_each(&fd->pt_ranges, index, e) {
		for (i = 0; i < xa_to_value(e); i++) {
			dma_addr_t iova = (index + i) * FAKE_IOMMU_GRANULE;

			if (!iommu_iova_to_phys(domain, iova))
				continue;
			if (!unmap) {
				left += FAKE_IOMMU_GRANULE;
				continue;
			}
			n = pt->ops->unmap_range(pt, iova, FAKE_IOMMU_GRANULE,
						 &gather);
			left += max_t(size_t, n, FAKE_IOMMU_GRANULE);
		}
	}
	iommu_put_pages_list(&gather.freelist);
	return left;
}

void fake_iommu_pt_deinit(struct fake_iommu_domain *fd)
{
	if (!fd->domain.is_iommupt)
		return;
	xa_destroy(&fd->pt_ranges);
	pt_iommu_deinit(&fd->amdv1.iommu);
}
MODULE_IMPORT_NS("GENERIC_PT_IOMMU");
