// SPDX-License-Identifier: GPL-2.0-only
/*
 * A log of what the page allocator does while a KUnit test runs, from its
 * tracepoints, so that a test can tell whether the pages an operation
 * allocated went back. A page freed may be handed out again at once (to a
 * slab, to KASAN's stack depot, from a timer), so its refcount right after
 * an operation does not say whether the operation freed it; a free that
 * came after the page's allocation does.
 *
 * Built with CONFIG_TRACEPOINTS (fake-iommu.h has stubs otherwise).
 */
#include <kunit/resource.h>
#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/tracepoint.h>
#include <trace/events/kmem.h>

#include "fake-iommu.h"
#include "fake-iommu-pages.h"

#define PAGE_EVENTS_MAX	2048

static struct {
	spinlock_t lock;	/* protects all below; probes run in any context */
	struct task_struct *task;
	unsigned int n;
	bool overflow;
	struct fake_iommu_page_event e[PAGE_EVENTS_MAX];
} page_events = { .lock = __SPIN_LOCK_UNLOCKED(page_events.lock) };

static void page_event(struct page *page, unsigned int order, bool free,
		       gfp_t gfp)
{
	unsigned long flags;

	spin_lock_irqsave(&page_events.lock, flags);
	if (page_events.n < PAGE_EVENTS_MAX) {
		page_events.e[page_events.n++] = (struct fake_iommu_page_event) {
			.pfn = page_to_pfn(page),
			.nr = 1UL << order,
			.free = free,
			.gfp = gfp,
			.own = current == page_events.task,
		};
	} else {
		page_events.overflow = true;
	}
	spin_unlock_irqrestore(&page_events.lock, flags);
}

static void probe_page_alloc(void *data, struct page *page, unsigned int order,
			     gfp_t gfp, int migratetype)
{
	page_event(page, order, false, gfp);
}

static void probe_page_free(void *data, struct page *page, unsigned int order)
{
	page_event(page, order, true, 0);
}

static void probe_page_free_batched(void *data, struct page *page)
{
	page_event(page, 0, true, 0);
}

/**
 * fake_iommu_page_log_reset() - forget the page allocator's past
 *
 * An operation under test starts, in this task: the events of its
 * allocations are its own (&fake_iommu_page_event.own).
 */
void fake_iommu_page_log_reset(void)
{
	unsigned long flags;

	spin_lock_irqsave(&page_events.lock, flags);
	page_events.task = current;
	page_events.n = 0;
	page_events.overflow = false;
	spin_unlock_irqrestore(&page_events.lock, flags);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_page_log_reset, "IOMMU_FAKE");

/**
 * fake_iommu_page_log_get() - read the log
 * @i: which event since the last reset, 0 being the first
 * @e: set to the event
 *
 * Return: true if there is an @i-th event.
 */
bool fake_iommu_page_log_get(unsigned int i, struct fake_iommu_page_event *e)
{
	unsigned long flags;
	bool ret = false;

	spin_lock_irqsave(&page_events.lock, flags);
	if (i < page_events.n) {
		*e = page_events.e[i];
		ret = true;
	}
	spin_unlock_irqrestore(&page_events.lock, flags);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_page_log_get, "IOMMU_FAKE");

/**
 * fake_iommu_page_log_overflow() - did the log miss events since the reset?
 *
 * Return: true if it did, and checks built on it cannot be trusted.
 */
bool fake_iommu_page_log_overflow(void)
{
	return READ_ONCE(page_events.overflow);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_page_log_overflow, "IOMMU_FAKE");

static bool page_event_covers(const struct fake_iommu_page_event *e,
			      unsigned long pfn)
{
	return pfn >= e->pfn && pfn < e->pfn + e->nr;
}

/**
 * fake_iommu_page_freed_since() - was a page freed after an event?
 * @from: the event, as fake_iommu_page_log_get() numbers it
 * @pfn: the page
 *
 * Return: true if one of the events after the @from-th freed @pfn.
 */
bool fake_iommu_page_freed_since(unsigned int from, unsigned long pfn)
{
	struct fake_iommu_page_event e;
	unsigned int i;

	for (i = from + 1; fake_iommu_page_log_get(i, &e); i++)
		if (e.free && page_event_covers(&e, pfn))
			return true;
	return false;
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_page_freed_since, "IOMMU_FAKE");

/**
 * fake_iommu_page_freed_after_alloc() - was a page freed since it was allocated?
 * @pfn: the page
 *
 * A page freed by someone else and then allocated (and leaked) by the
 * operation was not. For a page the log saw no allocation of, the page's
 * refcount must be zero (the tail pages of a non-compound high-order
 * allocation always count zero; such an allocation is caught through its
 * head page).
 *
 * Return: true if @pfn was freed after its first allocation since the
 * reset.
 */
bool fake_iommu_page_freed_after_alloc(unsigned long pfn)
{
	struct fake_iommu_page_event e;
	unsigned int i;

	for (i = 0; fake_iommu_page_log_get(i, &e); i++)
		if (!e.free && page_event_covers(&e, pfn))
			return fake_iommu_page_freed_since(i, pfn);
	return !page_ref_count(pfn_to_page(pfn));
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_page_freed_after_alloc, "IOMMU_FAKE");

static void fake_iommu_unwatch_pages(void *unused)
{
	unregister_trace_mm_page_free_batched(probe_page_free_batched, NULL);
	unregister_trace_mm_page_free(probe_page_free, NULL);
	unregister_trace_mm_page_alloc(probe_page_alloc, NULL);
	tracepoint_synchronize_unregister();
}

/**
 * fake_iommu_watch_pages() - log the page allocator until the test ends
 * @test: the test
 *
 * Return: 0, or the error registering the tracepoint probes gave.
 */
int fake_iommu_watch_pages(struct kunit *test)
{
	int ret;

	fake_iommu_page_log_reset();
	ret = register_trace_mm_page_alloc(probe_page_alloc, NULL);
	if (!ret)
		ret = register_trace_mm_page_free(probe_page_free, NULL);
	if (!ret)
		ret = register_trace_mm_page_free_batched(probe_page_free_batched,
							  NULL);
	if (ret) {
		fake_iommu_unwatch_pages(NULL);
		return ret;
	}
	return kunit_add_action_or_reset(test, fake_iommu_unwatch_pages, NULL);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_watch_pages, "IOMMU_FAKE");
