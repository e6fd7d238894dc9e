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
#include <linux/err.h>
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
 */
struct fake_iommu_dev_opts {
	unsigned long pgsize_bitmap;
	dma_addr_t aperture_start;
	dma_addr_t aperture_end;
	int def_domain_type;
	bool deferred_flush;
	bool shadow_on_flush;
};

/*
 * What the tests make iotlb_sync_map fail with: RPCIT's answers on s390
 * under a hypervisor (out of resources, a hard error), and two errnos no
 * driver returns today, so that a core passing on only those is caught.
 */
static const int fake_iommu_sync_errnos[] __maybe_unused = {
	-ENOMEM, -EIO, -EINVAL, -EFAULT,
};

/**
 * FAKE_IOMMU_ERRNO_PARAMS() - a KUnit parameter generator of errnos
 * @name: the generator is @name_gen_params
 * @array: an array of negative errnos; each case is named by its errno
 *	(%pe: -ENOMEM, -EIO, ...)
 */
#define FAKE_IOMMU_ERRNO_PARAMS(name, array)				\
	static void name##_desc(const int *err, char *desc)		\
	{								\
		snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%pe", ERR_PTR(*err)); \
	}								\
	KUNIT_ARRAY_PARAM(name, array, name##_desc)

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

#endif /* __FAKE_IOMMU_H */
