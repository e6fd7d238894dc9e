/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A log of the page allocator for KUnit tests (fake-iommu-pages.c): which
 * pages an operation allocated, and whether it freed them.
 */
#ifndef __FAKE_IOMMU_PAGES_H
#define __FAKE_IOMMU_PAGES_H

#include <kunit/test.h>
#include <linux/errno.h>
#include <linux/gfp.h>

/**
 * struct fake_iommu_page_event - what the page allocator did
 * @pfn: the first page
 * @nr: how many pages
 * @free: freed (else allocated)
 * @gfp: the allocation's flags
 * @own: allocated by the task that last reset the log
 */
struct fake_iommu_page_event {
	unsigned long pfn, nr;
	bool free;
	gfp_t gfp;
	bool own;
};

#ifdef CONFIG_TRACEPOINTS
int fake_iommu_watch_pages(struct kunit *test);
void fake_iommu_page_log_reset(void);
bool fake_iommu_page_log_get(unsigned int i, struct fake_iommu_page_event *e);
bool fake_iommu_page_log_overflow(void);
bool fake_iommu_page_freed_since(unsigned int from, unsigned long pfn);
bool fake_iommu_page_freed_after_alloc(unsigned long pfn);
#else
static inline int fake_iommu_watch_pages(struct kunit *test)
{
	return -EOPNOTSUPP;
}

static inline void fake_iommu_page_log_reset(void)
{
}

static inline bool fake_iommu_page_log_get(unsigned int i,
					   struct fake_iommu_page_event *e)
{
	return false;
}

static inline bool fake_iommu_page_log_overflow(void)
{
	return false;
}

static inline bool fake_iommu_page_freed_since(unsigned int from,
					       unsigned long pfn)
{
	return false;
}

static inline bool fake_iommu_page_freed_after_alloc(unsigned long pfn)
{
	return false;
}
#endif

#endif /* __FAKE_IOMMU_PAGES_H */
