// SPDX-License-Identifier: GPL-2.0-only
/*
 * The checks KUnit tests of the fake IOMMU driver share: a range mapped,
 * unmapped, unmapped exactly once, synced once; live neighbours; and what
 * every case gets without asking, when a fake domain is freed: no misuse
 * (calls no real driver accepts) and nothing left mapped.
 */
#include <kunit/test.h>
#include <kunit/test-bug.h>
#include <linux/bug.h>
#include <linux/iommu.h>
#include <linux/sizes.h>

#include "fake-iommu-priv.h"

/**
 * fake_iommu_expect_mapped() - expect a range mapped to a physical range
 * @test: the test to fail
 * @domain: a paging domain of the fake driver
 * @iova: first IOVA of the range
 * @paddr: the physical address @iova must translate to
 * @size: length of the range, a multiple of FAKE_IOMMU_GRANULE
 *
 * Fails @test unless every granule of [@iova, @iova + @size) is mapped, in
 * the fake's table, and translates (iommu_iova_to_phys()) to @paddr plus its
 * offset in the range.
 */
void fake_iommu_expect_mapped(struct kunit *test, struct iommu_domain *domain,
			      unsigned long iova, phys_addr_t paddr, size_t size)
{
	size_t off;

	KUNIT_EXPECT_EQ_MSG(test, fake_iommu_mapped_pages(domain, iova, size),
			    size / FAKE_IOMMU_GRANULE,
			    "pages mapped in [%#lx, %#lx)", iova, iova + size);
	for (off = 0; off < size; off += FAKE_IOMMU_GRANULE)
		KUNIT_EXPECT_EQ_MSG(test, iommu_iova_to_phys(domain, iova + off),
				    paddr + off, "at IOVA %#lx", iova + off);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_expect_mapped, "IOMMU_FAKE");

/**
 * fake_iommu_expect_unmapped() - expect nothing mapped in a range
 * @test: the test to fail
 * @domain: a paging domain of the fake driver
 * @iova: first IOVA of the range
 * @size: length of the range, a multiple of FAKE_IOMMU_GRANULE
 *
 * Fails @test if any granule of [@iova, @iova + @size) is mapped in the
 * fake's table, or if its first or last granule translates to anything.
 */
void fake_iommu_expect_unmapped(struct kunit *test, struct iommu_domain *domain,
				unsigned long iova, size_t size)
{
	KUNIT_EXPECT_EQ_MSG(test, fake_iommu_mapped_pages(domain, iova, size), 0,
			    "pages left mapped in [%#lx, %#lx)", iova,
			    iova + size);
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, iova), 0);
	KUNIT_EXPECT_EQ(test,
			iommu_iova_to_phys(domain, iova + size - FAKE_IOMMU_GRANULE),
			0);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_expect_unmapped, "IOMMU_FAKE");

/**
 * fake_iommu_expect_unmap_exactly() - expect one exact unmap of a range
 * @test: the test to fail
 * @domain: a paging domain of the fake driver
 * @iova: first IOVA of the range
 * @size: length of the range
 *
 * Fails @test unless, since the call log was last reset, the unmap_pages
 * calls asked for ranges that tile exactly [@iova, @iova + @size), in
 * order, each unmapped all it asked for, and one IOTLB sync covered
 * that range. The core may also sync an empty gather, which flushes nothing
 * and is not counted.
 */
void fake_iommu_expect_unmap_exactly(struct kunit *test,
				     struct iommu_domain *domain,
				     unsigned long iova, size_t size)
{
	const struct fake_iommu_call *call, *sync = NULL;
	unsigned long cur = iova;
	unsigned int i = 0, syncs = 0;

	fake_iommu_for_each_call(domain, FAKE_IOMMU_UNMAP_PAGES, call) {
		KUNIT_EXPECT_EQ_MSG(test, call->iova, cur,
				    "unmap #%u out of order or outside the range", i);
		KUNIT_EXPECT_EQ_MSG(test, call->done, call->size,
				    "unmap #%u of [%#lx, %#lx) unmapped %#zx bytes",
				    i, call->iova, call->iova + call->size,
				    call->done);
		cur = call->iova + call->size;
		i++;
	}
	KUNIT_EXPECT_EQ_MSG(test, cur, iova + size,
			    "the unmap did not cover [%#lx, %#lx) exactly",
			    iova, iova + size);

	fake_iommu_for_each_call(domain, FAKE_IOMMU_IOTLB_SYNC, call) {
		if (call->size) {
			sync = call;
			syncs++;
		}
	}
	KUNIT_ASSERT_EQ_MSG(test, syncs, 1, "IOTLB syncs of a non-empty range");
	KUNIT_EXPECT_EQ(test, sync->iova, iova);
	KUNIT_EXPECT_EQ(test, sync->size, size);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_expect_unmap_exactly, "IOMMU_FAKE");

/* Where the neighbours map to: the fake never touches the memory it maps. */
#define FAKE_NEIGHBOUR_PHYS	(3ULL * SZ_1G)

static void fake_neighbours(struct iommu_domain *domain, unsigned long iova,
			    size_t size, unsigned long *below,
			    unsigned long *above, size_t *pgsize)
{
	*pgsize = 1UL << __ffs(domain->pgsize_bitmap);
	*below = iova - *pgsize;
	*above = iova + size;
}

/**
 * fake_iommu_map_neighbours() - map a page on each side of a range
 * @test: the test to fail if they cannot be mapped
 * @domain: a paging domain of the fake driver
 * @iova: first IOVA of the range an operation under test will map
 * @size: length of that range
 *
 * Maps, with iommu_map(), one page of the domain's smallest size right
 * below @iova and one right after the range, as another user of the domain
 * would have, then forgets the calls that made them. An unwinding that
 * unmaps more than it mapped takes one of them with it:
 * fake_iommu_expect_neighbours() checks them, and unmaps them.
 */
void fake_iommu_map_neighbours(struct kunit *test, struct iommu_domain *domain,
			       unsigned long iova, size_t size)
{
	unsigned long below, above;
	size_t pgsize;

	fake_neighbours(domain, iova, size, &below, &above, &pgsize);
	KUNIT_ASSERT_EQ(test, iommu_map(domain, below, FAKE_NEIGHBOUR_PHYS,
					pgsize, IOMMU_READ, GFP_KERNEL), 0);
	KUNIT_ASSERT_EQ(test, iommu_map(domain, above,
					FAKE_NEIGHBOUR_PHYS + pgsize, pgsize,
					IOMMU_READ, GFP_KERNEL), 0);
	fake_iommu_reset_calls(domain);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_map_neighbours, "IOMMU_FAKE");

/**
 * fake_iommu_expect_neighbours() - expect the neighbours intact, unmap them
 * @test: the test to fail
 * @domain: a paging domain of the fake driver
 * @iova: what was given to fake_iommu_map_neighbours()
 * @size: what was given to fake_iommu_map_neighbours()
 *
 * Fails @test unless both pages fake_iommu_map_neighbours() mapped are
 * still mapped, each whole and where it was; then unmaps them.
 */
void fake_iommu_expect_neighbours(struct kunit *test,
				  struct iommu_domain *domain,
				  unsigned long iova, size_t size)
{
	unsigned long below, above;
	size_t pgsize;

	fake_neighbours(domain, iova, size, &below, &above, &pgsize);
	fake_iommu_expect_mapped(test, domain, below, FAKE_NEIGHBOUR_PHYS,
				 pgsize);
	fake_iommu_expect_mapped(test, domain, above,
				 FAKE_NEIGHBOUR_PHYS + pgsize, pgsize);
	iommu_unmap(domain, below, pgsize);
	iommu_unmap(domain, above, pgsize);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_expect_neighbours, "IOMMU_FAKE");

/**
 * fake_iommu_expect_one_sync_map() - expect one iotlb_sync_map of a range
 * @test: the test to fail
 * @domain: a paging domain of the fake driver
 * @iova: first IOVA of the range
 * @size: length of the range
 * @ret: what that iotlb_sync_map returned
 *
 * Fails @test unless, since the call log was last reset, iotlb_sync_map
 * was called once, for [@iova, @iova + @size), and returned @ret.
 */
void fake_iommu_expect_one_sync_map(struct kunit *test,
				    struct iommu_domain *domain,
				    unsigned long iova, size_t size, int ret)
{
	const struct fake_iommu_call *call;

	KUNIT_ASSERT_EQ(test, fake_iommu_nr_calls(domain, FAKE_IOMMU_SYNC_MAP), 1);
	call = fake_iommu_get_call(domain, FAKE_IOMMU_SYNC_MAP, 0);
	KUNIT_ASSERT_NOT_NULL(test, call);
	KUNIT_EXPECT_EQ(test, call->iova, iova);
	KUNIT_EXPECT_EQ(test, call->size, size);
	KUNIT_EXPECT_EQ(test, call->ret, ret);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_expect_one_sync_map, "IOMMU_FAKE");

/* Fail @test with a message; outside any test, WARN so the run fails. */
static __printf(2, 3) void fake_report(struct kunit *test, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	if (test)
		KUNIT_FAIL(test, "fake-iommu: %pV", &vaf);
	else
		WARN(1, "fake-iommu: outside any test: %pV\n", &vaf);
	va_end(args);
}

/**
 * fake_iommu_check_empty() - fail @test if anything is still mapped
 * @test: the test to fail; NULL (no test running) WARNs instead
 * @domain: a paging domain of the fake driver
 *
 * This check runs by itself when a fake domain is freed, against the test
 * running at that moment.
 *
 * Return: true if nothing is mapped.
 */
bool fake_iommu_check_empty(struct kunit *test, struct iommu_domain *domain)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	unsigned long pages;

	if (!fd)
		return true;
	pages = fake_iommu_mapped_pages(domain, 0, 0);
	if (!pages)
		return true;
	fake_report(test, "%lu page(s) still mapped in the domain, the first at IOVA %#lx",
		    pages, fake_iommu_first_mapped(fd));
	return false;
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_check_empty, "IOMMU_FAKE");

/**
 * fake_iommu_take_misuse() - report the calls no real driver would accept
 * @test: the test to fail; NULL (no test running) WARNs instead
 * @domain: a paging domain of the fake driver
 *
 * Mapping over a mapping, unmapping what is not mapped (or part of a page),
 * and map requests outside the domain's page sizes or aperture are refused
 * by the fake as by a real driver, and counted; so are a map of a range
 * unmapped without an IOTLB sync or flush since, and the free of a domain
 * (other than a flush queue's) with such a range left. This fails @test
 * with the first of them and forgets them. It runs by itself when a fake
 * domain is freed, against the test running at that moment.
 *
 * Return: how many such calls there were.
 */
unsigned int fake_iommu_take_misuse(struct kunit *test,
				    struct iommu_domain *domain)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	char msg[sizeof(fd->misuse_msg)];
	unsigned int n;

	if (!fd)
		return 0;
	n = fake_iommu_pop_misuse(fd, msg, sizeof(msg));
	if (n)
		fake_report(test, "%u call(s) no driver accepts, the first: %s",
			    n, msg);
	return n;
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_take_misuse, "IOMMU_FAKE");

/* A fake domain being freed: report to the test running now. */
static void fake_iommu_audit_freed_domain(struct iommu_domain *domain)
{
	struct kunit *test = kunit_get_current_test();

	fake_iommu_take_misuse(test, domain);
	fake_iommu_check_empty(test, domain);
}

static int __init fake_iommu_expect_init(void)
{
	fake_iommu_domain_free_hook = fake_iommu_audit_freed_domain;
	return 0;
}
device_initcall(fake_iommu_expect_init);
