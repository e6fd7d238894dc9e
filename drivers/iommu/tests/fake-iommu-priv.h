/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internals the fake IOMMU driver's files share (fake-iommu.c, the driver;
 * fake-iommu-test.c and fake-iommu-expect.c, what tests use).
 * Tests never include it.
 */
#ifndef __FAKE_IOMMU_PRIV_H
#define __FAKE_IOMMU_PRIV_H

#include <kunit/script.h>
#include <linux/iommu.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>

#include "fake-iommu.h"
#include "fake-iommu-shadow.h"

#define FAKE_IOMMU_LOG_SIZE	512
#define FAKE_IOMMU_STALE_MAX	32

struct fake_iommu_domain {
	struct iommu_domain domain;
	/* Attached fake devices; changes under the lock, walked under RCU. */
	struct list_head devices;
	/* Protects everything below, map_pages may run in atomic context. */
	spinlock_t lock;
	struct xarray ptes;
	/* The tables map_pages allocated (fake_alloc_tables()). */
	struct xarray tables;
	/* The hypervisor model behind the fake RPCITs. */
	struct fake_shadow shadow;
	/* The test's fault script (faults are kept in its own lock). */
	struct kunit_script faults;
	unsigned int nr_calls[FAKE_IOMMU_NR_OPS];
	unsigned int log_len;
	/* Calls no real driver would accept, and the first of them. */
	unsigned int misuse;
	char misuse_msg[128];
	/*
	 * The ranges [start, end) unmapped whose old translations no IOTLB
	 * sync or flush has covered since: a device could still use them.
	 * A fixed array, so that keeping it never allocates (fault injection
	 * would fail that); when it is full nothing more is known
	 * (stale_lost) until the next flush of everything.
	 */
	struct fake_stale_range {
		unsigned long start, end;
	} stale[FAKE_IOMMU_STALE_MAX];
	unsigned int nr_stale;
	bool stale_lost;
	struct fake_iommu_call log[FAKE_IOMMU_LOG_SIZE];
};

struct fake_iommu_dev {
	/* &own_dev */
	struct device *dev;
	/* Its index in the fake's list of devices. */
	u32 id;
	struct fake_iommu_dev_opts opts;
	u64 dma_mask;
	/* The fake paging domain the device is attached to, if any. */
	struct fake_iommu_domain *domain;
	struct list_head domain_node;
	/* The device, on the fake IOMMU's own bus. */
	struct device own_dev;
};

/* The fake IOMMU, registered with the core for its own bus. */
extern struct iommu_device fake_iommu_device;

struct fake_iommu_domain *to_fake_domain(struct iommu_domain *domain);
bool fake_iommu_is_dev(const void *obj);
void fake_iommu_iotlb_sync(struct iommu_domain *domain,
			   struct iommu_iotlb_gather *gather);
int fake_iommu_iotlb_sync_map(struct iommu_domain *domain, unsigned long iova,
			      size_t size);
void fake_iommu_flush_iotlb_all(struct iommu_domain *domain);
int fake_iommu_attach_dev(struct iommu_domain *domain, struct device *dev,
			  struct iommu_domain *old);
void fake_iommu_domain_free(struct iommu_domain *domain);
unsigned int fake_iommu_pop_misuse(struct fake_iommu_domain *fd, char *msg,
				   size_t len);
unsigned long fake_iommu_first_mapped(struct fake_iommu_domain *fd);

/*
 * What the test layer (fake-iommu-test.c) does when a fake domain is freed:
 * report the misuse and the pages left mapped to the test running then.
 * The driver calls it through this pointer, so that it never depends on the
 * test layer.
 */
extern void (*fake_iommu_domain_free_hook)(struct iommu_domain *domain);

#endif /* __FAKE_IOMMU_PRIV_H */
