/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Making new IOMMU mappings visible to a hypervisor that shadows the table.
 *
 * When a hypervisor shadows a guest's IOMMU translation table (s390 under
 * KVM or z/VM), a new mapping takes effect only once the guest has told the
 * hypervisor about it (a RPCIT on s390). The hypervisor may then be out of
 * resources for shadow entries (-ENOMEM). Refreshing the device's whole
 * aperture once lets it drop the entries the guest has unmapped lazily (and
 * not yet flushed) and shadow the live ones; only if that fails too is the
 * mapping lost. Any other error is a hard error.
 */
#ifndef __LINUX_IOMMU_SYNC_MAP_H
#define __LINUX_IOMMU_SYNC_MAP_H

#include <linux/errno.h>
#include <linux/rculist.h>
#include <linux/types.h>

/**
 * iommu_sync_map_refresh() - refresh a new mapping on every device of a domain
 * @devices: the domain's list of devices, walked with RCU
 * @ctx: passed to @refresh_range and @refresh_all (the driver's domain)
 * @iova: first IOVA of the new mapping
 * @size: size of the new mapping
 * @refresh_range: refreshes [@iova, @iova + @size) for the device whose list
 *	node it is given; returns 0, -ENOMEM when the hypervisor is out of
 *	resources, or another (hard) error
 * @refresh_all: refreshes the whole aperture of the device whose list node it
 *	is given; returns 0 or an error
 *
 * For each device: refresh the range; on -ENOMEM refresh everything once and
 * fail only if that fails too. The first error ends the walk and is returned:
 * a device that did not get the mapping is never hidden behind a later device
 * that did, so the IOMMU core unmaps the range and reports the error.
 *
 * It runs on every DMA mapping: it is always inlined, so that callbacks known
 * at compile time become direct calls. The caller holds rcu_read_lock();
 * nothing here or in the callbacks may sleep.
 *
 * Return: 0, or the first error a device reported.
 */
static __always_inline int
iommu_sync_map_refresh(struct list_head *devices, void *ctx,
		       unsigned long iova, size_t size,
		       int (*refresh_range)(void *ctx, struct list_head *dev,
					    unsigned long iova, size_t size),
		       int (*refresh_all)(void *ctx, struct list_head *dev))
{
	struct list_head *dev;
	int ret;

	list_for_each_rcu(dev, devices) {
		ret = refresh_range(ctx, dev, iova, size);
		if (ret == -ENOMEM)
			ret = refresh_all(ctx, dev);
		if (ret)
			return ret;
	}
	return 0;
}

#endif /* __LINUX_IOMMU_SYNC_MAP_H */
