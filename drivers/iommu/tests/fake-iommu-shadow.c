// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fake IOMMU driver's model of a hypervisor that shadows the guest's
 * IOMMU table with a limited number of entries (like vfio_iommu_type1's
 * dma_entry_limit), as s390 under KVM or z/VM does: a refresh (RPCIT) of a
 * range drops the shadow entries of the range the guest no longer maps and
 * shadows its mappings, and fails with -ENOMEM when the shadow is full. A
 * refresh of everything (a global RPCIT, or an IOTLB flush) lets it drop
 * every entry the guest has unmapped lazily, which is why s390 retries a
 * failed range refresh with one.
 *
 * The guest's table is an xarray of PTEs at the IOVA granule of their head,
 * as the fake keeps it; the shadow keeps one entry per PTE head.
 *
 * Test-only, part of the fake IOMMU driver (CONFIG_IOMMU_FAKE).
 */
#include <linux/errno.h>
#include <linux/gfp.h>
#include <linux/xarray.h>

#include "fake-iommu-shadow.h"

void fake_shadow_init(struct fake_shadow *shadow)
{
	xa_init(&shadow->entries);
	shadow->limit = 0;
	shadow->count = 0;
}

void fake_shadow_destroy(struct fake_shadow *shadow)
{
	xa_destroy(&shadow->entries);
	shadow->count = 0;
}

/* Forget the entries of [first, last] whose PTE the guest has unmapped. */
static void fake_shadow_drop_stale(struct fake_shadow *shadow,
				   struct xarray *ptes,
				   unsigned long first, unsigned long last)
{
	unsigned long index = first;
	void *e;

	xa_for_each_range(&shadow->entries, index, e, first, last) {
		if (!xa_load(ptes, index)) {
			xa_erase(&shadow->entries, index);
			shadow->count--;
		}
	}
}

/* Shadow each PTE of [first, last] the shadow does not have yet. */
static int fake_shadow_add_mapped(struct fake_shadow *shadow,
				  struct xarray *ptes,
				  unsigned long first, unsigned long last)
{
	unsigned long index = first;
	void *e;

	xa_for_each_range(ptes, index, e, first, last) {
		if (xa_load(&shadow->entries, index))
			continue;
		if (shadow->count >= shadow->limit)
			return -ENOMEM;
		if (xa_err(xa_store(&shadow->entries, index, xa_mk_value(1),
				    GFP_ATOMIC)))
			return -ENOMEM;
		shadow->count++;
	}
	return 0;
}

/**
 * fake_shadow_refresh() - what the hypervisor does on a refresh
 * @shadow: the hypervisor's shadow of the table
 * @ptes: the guest's table: PTEs at the IOVA granule of their head
 * @first: first IOVA granule of the refresh
 * @last: last IOVA granule of the refresh (ULONG_MAX and @first 0: all)
 *
 * Context: any; the caller serializes it with changes of @ptes.
 * Return: 0, or -ENOMEM when the shadow cannot hold the range's mappings.
 */
int fake_shadow_refresh(struct fake_shadow *shadow, struct xarray *ptes,
			unsigned long first, unsigned long last)
{
	if (!shadow->limit)
		return 0;
	fake_shadow_drop_stale(shadow, ptes, first, last);
	return fake_shadow_add_mapped(shadow, ptes, first, last);
}
