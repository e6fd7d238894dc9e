/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The fake IOMMU driver's model of a hypervisor that shadows a guest's IOMMU
 * table (s390 under KVM or z/VM), for the fake's RPCITs. Internal to the
 * fake driver: tests reach it through fake_iommu_set_shadow_limit() and
 * fake_iommu_shadow_entries().
 */
#ifndef __FAKE_IOMMU_SHADOW_H
#define __FAKE_IOMMU_SHADOW_H

#include <linux/xarray.h>

/**
 * struct fake_shadow - the hypervisor's shadow of one domain's table
 * @entries: the shadowed PTE heads, by the IOVA granule of the PTE
 * @limit: how many entries the hypervisor can shadow; 0: no model, every
 *	refresh succeeds
 * @count: how many entries it shadows, stale ones included
 *
 * The caller serializes every call, and the changes of the table it models.
 */
struct fake_shadow {
	struct xarray entries;
	unsigned long limit;
	unsigned long count;
};

void fake_shadow_init(struct fake_shadow *shadow);
void fake_shadow_destroy(struct fake_shadow *shadow);
int fake_shadow_refresh(struct fake_shadow *shadow, struct xarray *ptes,
			unsigned long first, unsigned long last);

#endif /* __FAKE_IOMMU_SHADOW_H */
