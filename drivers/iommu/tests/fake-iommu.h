/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Fake IOMMU driver for KUnit tests of the IOMMU core and dma-iommu.
 *
 * The fake registers a real struct iommu_device on its own bus, so devices
 * created with fake_iommu_add_device() are probed, grouped and given default
 * domains by the real IOMMU core. Its paging domains keep an honest page
 * table, record every call the core makes, and fail calls as scripted by the
 * test.
 */
#ifndef __FAKE_IOMMU_H
#define __FAKE_IOMMU_H

#include <kunit/script.h>
#include <kunit/test.h>
#include <linux/errno.h>
#include <linux/types.h>

struct device;
struct fake_iommu_attachment;
struct iommu_domain;
struct kunit;

/* Smallest page the fake maps; also the granule of its page table. */
#define FAKE_IOMMU_GRANULE	SZ_4K

/**
 * struct fake_iommu_dev_opts - how a fake device and its domains look
 * @pgsize_bitmap: page sizes of paging domains allocated for the device;
 *	0 means 4K only
 * @aperture_start: first IOVA of the domains' aperture
 * @aperture_end: last IOVA of the domains' aperture; 0 means 4G - 1
 * @def_domain_type: what the driver asks the core for as default domain
 *	(0: no preference, IOMMU_DOMAIN_DMA, IOMMU_DOMAIN_IDENTITY)
 * @deferred_flush: report IOMMU_CAP_DEFERRED_FLUSH, so that a lazy default
 *	domain becomes DMA_FQ
 * @shadow_on_flush: say that IOTLB flushes sync a hypervisor's shadow table,
 *	as s390 does under a hypervisor (dma-iommu then uses one flush queue
 *	with a long timeout)
 * @generic_pt: paging domains keep their table in generic_pt's AMDv1
 *	format (needs CONFIG_IOMMU_PT_AMDV1=y; without it the domain allocation
 *	fails with -EOPNOTSUPP), so the core maps and unmaps
 *	through generic_pt's map_range and unmap_range instead of the fake's
 *	map_pages and unmap_pages, which then see no calls; iotlb_sync_map
 *	stays the fake's. @pgsize_bitmap and the aperture are generic_pt's.
 * @untrusted_pci: the device is a PCI function marked untrusted, as
 *	external ones are, on a fake host bridge of its own: dma-iommu gives
 *	it a strict DMA domain and bounces, through swiotlb, every buffer that
 *	does not fill whole IOMMU granules (x86 only: elsewhere, and where
 *	swiotlb is off or does not count its slots, fake_iommu_add_device()
 *	skips the test with the reason)
 */
struct fake_iommu_dev_opts {
	unsigned long pgsize_bitmap;
	dma_addr_t aperture_start;
	dma_addr_t aperture_end;
	int def_domain_type;
	bool deferred_flush;
	bool shadow_on_flush;
	bool generic_pt;
	bool untrusted_pci;
};

/**
 * struct fake_iommu_errno - an errno for parameterised tests
 * @err: the error
 * @name: its name, for the case's description
 */
struct fake_iommu_errno {
	int err;
	const char *name;
};

/*
 * What the tests make iotlb_sync_map fail with: RPCIT's answers on s390
 * under a hypervisor (out of resources, a hard error), and two errnos no
 * driver returns today, so that a core passing on only those is caught.
 */
static const struct fake_iommu_errno fake_iommu_sync_errnos[] __maybe_unused = {
	{ -ENOMEM, "ENOMEM" },
	{ -EIO, "EIO" },
	{ -EINVAL, "EINVAL" },
	{ -EFAULT, "EFAULT" },
};

/* The domain operations the fake records and can be scripted to fail. */
enum fake_iommu_op {
	FAKE_IOMMU_MAP_PAGES,
	FAKE_IOMMU_UNMAP_PAGES,
	FAKE_IOMMU_SYNC_MAP,
	FAKE_IOMMU_IOTLB_SYNC,
	FAKE_IOMMU_FLUSH_ALL,
	FAKE_IOMMU_REFRESH,	/* sync_map's refresh of the range, per device */
	FAKE_IOMMU_REFRESH_ALL,	/* its global refresh after -ENOMEM */
	FAKE_IOMMU_NR_OPS,
};

/**
 * struct fake_iommu_call - one recorded call into a fake paging domain
 * @op: which operation
 * @iova: first IOVA of the call (for IOTLB_SYNC, the gather's start)
 * @paddr: first physical address of a MAP_PAGES call
 * @size: bytes asked for (pgsize * pgcount; for IOTLB_SYNC, the gather's
 *	length; 0 for an empty gather or FLUSH_ALL)
 * @pgsize: page size of MAP_PAGES and UNMAP_PAGES calls
 * @done: bytes mapped or unmapped by MAP_PAGES and UNMAP_PAGES calls
 * @ret: the value returned by MAP_PAGES, SYNC_MAP and REFRESH* calls
 * @prot: the IOMMU_* protection of MAP_PAGES calls
 * @gfp: the allocation flags the core gave MAP_PAGES calls
 * @dev: the device of REFRESH and REFRESH_ALL calls
 */
struct fake_iommu_call {
	struct device *dev;
	enum fake_iommu_op op;
	unsigned long iova;
	phys_addr_t paddr;
	size_t size;
	size_t pgsize;
	size_t done;
	int ret;
	int prot;
	gfp_t gfp;
};

struct device *fake_iommu_dev_create(const struct fake_iommu_dev_opts *opts);
void fake_iommu_dev_destroy(struct device *dev);

struct device *fake_iommu_add_device(struct kunit *test,
				     const struct fake_iommu_dev_opts *opts);
struct iommu_domain *fake_iommu_alloc_domain(struct kunit *test,
					     struct device *dev);
struct fake_iommu_attachment *
fake_iommu_attach_device(struct kunit *test, struct iommu_domain *domain,
			 struct device *dev);
void fake_iommu_detach_device(struct kunit *test,
			      struct fake_iommu_attachment *a);
struct page *fake_iommu_alloc_pages(struct kunit *test, unsigned int order);
int fake_iommu_test_init(struct kunit *test);

int fake_iommu_script(struct kunit *test, struct iommu_domain *domain,
		      const struct kunit_script_rule *rule);
int fake_iommu_fail_nth(struct kunit *test, struct iommu_domain *domain,
			enum fake_iommu_op op, unsigned int nth, int err);
int fake_iommu_fail_next(struct kunit *test, struct iommu_domain *domain,
			 enum fake_iommu_op op, unsigned int count, int err);
int fake_iommu_fail_range(struct kunit *test, struct iommu_domain *domain,
			  enum fake_iommu_op op, unsigned long start,
			  unsigned long end, int err);
void fake_iommu_clear_faults(struct iommu_domain *domain);

bool fake_iommu_lookup(struct iommu_domain *domain, unsigned long iova,
		       phys_addr_t *phys, size_t *pgsize, int *prot);
unsigned long fake_iommu_mapped_pages(struct iommu_domain *domain,
				      unsigned long iova, size_t size);

unsigned int fake_iommu_nr_calls(struct iommu_domain *domain,
				 enum fake_iommu_op op);
const struct fake_iommu_call *fake_iommu_get_call(struct iommu_domain *domain,
						  enum fake_iommu_op op,
						  unsigned int idx);
void fake_iommu_reset_calls(struct iommu_domain *domain);

/**
 * fake_iommu_for_each_call() - walk the call log, oldest first
 * @domain: a paging domain of the fake driver
 * @op: the operation, or FAKE_IOMMU_NR_OPS for calls of any operation
 * @call: a const struct fake_iommu_call * cursor
 */
#define fake_iommu_for_each_call(domain, op, call)			\
	for (unsigned int __fake_call_idx = 0;				\
	     ((call) = fake_iommu_get_call(domain, op, __fake_call_idx));	\
	     __fake_call_idx++)

void fake_iommu_set_shadow_limit(struct iommu_domain *domain,
				 unsigned long limit);
unsigned long fake_iommu_shadow_entries(struct iommu_domain *domain);

void fake_iommu_expect_mapped(struct kunit *test, struct iommu_domain *domain,
			      unsigned long iova, phys_addr_t paddr, size_t size);
void fake_iommu_expect_unmapped(struct kunit *test, struct iommu_domain *domain,
				unsigned long iova, size_t size);
void fake_iommu_expect_unmap_exactly(struct kunit *test,
				     struct iommu_domain *domain,
				     unsigned long iova, size_t size);
void fake_iommu_map_neighbours(struct kunit *test, struct iommu_domain *domain,
			       unsigned long iova, size_t size);
void fake_iommu_expect_neighbours(struct kunit *test,
				  struct iommu_domain *domain,
				  unsigned long iova, size_t size);
void fake_iommu_expect_one_sync_map(struct kunit *test,
				    struct iommu_domain *domain,
				    unsigned long iova, size_t size, int ret);

bool fake_iommu_check_empty(struct kunit *test, struct iommu_domain *domain);
unsigned int fake_iommu_take_misuse(struct kunit *test,
				    struct iommu_domain *domain);

/* dma-iommu's swiotlb paths, on the untrusted PCI function (x86 with PCI) */
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

/**
 * struct fake_iommu_sweep - a current->fail_nth sweep of an operation
 * @test: the test
 * @n: the allocation that fails in this run, 1 being the operation's first
 * @left: after fake_iommu_sweep_disarm(): how many allocations short of @n
 *	the run stopped, 0 if the @n-th allocation came (and failed)
 * @past_end: runs in a row that made fewer than @n allocations
 * @failures: runs in which the operation failed
 * @max: the most runs the sweep may take
 */
struct fake_iommu_sweep {
	struct kunit *test;
	unsigned int n;
	unsigned int left;
	unsigned int past_end;
	unsigned int failures;
	unsigned int max;
};

/* Runs in a row that ended before their nth allocation, to end a sweep. */
#define FAKE_IOMMU_SWEEP_TAIL	4

/**
 * fake_iommu_for_each_fail_nth() - fail each allocation of an operation
 * @test: the test
 * @s: a struct fake_iommu_sweep
 * @max: the most runs the sweep may take
 *
 * Each run sets up what the operation needs, calls fake_iommu_sweep_arm()
 * right before it and fake_iommu_sweep_disarm() right after it, then checks
 * the result: fake_iommu_sweep_failed() if the operation failed. After the
 * loop, fake_iommu_sweep_end(). The test is skipped if the kernel cannot
 * inject the failures.
 */
#define fake_iommu_for_each_fail_nth(test, s, max)			\
	for (struct fake_iommu_sweep *__sweep =				\
	     fake_iommu_sweep_start(test, s, max);			\
	     fake_iommu_sweep_next(__sweep);)

#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
struct fake_iommu_sweep *fake_iommu_sweep_start(struct kunit *test,
						struct fake_iommu_sweep *s,
						unsigned int max);
bool fake_iommu_sweep_next(struct fake_iommu_sweep *s);
void fake_iommu_sweep_arm(struct fake_iommu_sweep *s);
void fake_iommu_sweep_disarm(struct fake_iommu_sweep *s);
void fake_iommu_sweep_failed(struct fake_iommu_sweep *s);
void fake_iommu_sweep_end(struct fake_iommu_sweep *s, unsigned int min_failures);
#else
static inline struct fake_iommu_sweep *
fake_iommu_sweep_start(struct kunit *test, struct fake_iommu_sweep *s,
		       unsigned int max)
{
	kunit_skip(test, "fake-iommu: fail_nth sweeps need FAULT_INJECTION_DEBUG_FS");
	return s;
}

static inline bool fake_iommu_sweep_next(struct fake_iommu_sweep *s)
{
	return false;
}

static inline void fake_iommu_sweep_arm(struct fake_iommu_sweep *s)
{
}

static inline void fake_iommu_sweep_disarm(struct fake_iommu_sweep *s)
{
}

static inline void fake_iommu_sweep_failed(struct fake_iommu_sweep *s)
{
}

static inline void fake_iommu_sweep_end(struct fake_iommu_sweep *s,
					unsigned int min_failures)
{
}
#endif

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

#endif /* __FAKE_IOMMU_H */
