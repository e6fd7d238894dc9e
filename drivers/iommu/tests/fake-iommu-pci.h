/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dma-iommu's swiotlb paths, on the fake IOMMU driver's untrusted PCI
 * function (fake-iommu-pci.c, x86 with PCI).
 */
#ifndef __FAKE_IOMMU_PCI_H
#define __FAKE_IOMMU_PCI_H

#include <kunit/test.h>
#include <linux/types.h>

struct device;

#if IS_ENABLED(CONFIG_PCI) && defined(CONFIG_X86)
const char *fake_iommu_swiotlb_missing(struct device *dev);
long fake_iommu_swiotlb_used(struct device *dev);
void fake_iommu_expect_bounced(struct kunit *test, struct device *dev,
			       dma_addr_t iova, const void *buf, size_t size);
#else
static inline const char *fake_iommu_swiotlb_missing(struct device *dev)
{
	return "no untrusted PCI function on this architecture";
}

static inline long fake_iommu_swiotlb_used(struct device *dev)
{
	return 0;
}

static inline void fake_iommu_expect_bounced(struct kunit *test,
					     struct device *dev, dma_addr_t iova,
					     const void *buf, size_t size)
{
	KUNIT_FAIL(test, "fake-iommu: no untrusted PCI function here");
}
#endif

#endif /* __FAKE_IOMMU_PCI_H */
