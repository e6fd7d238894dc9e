// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fake IOMMU driver for KUnit tests.
 *
 * A real struct iommu_device, registered with the IOMMU core on a bus of its
 * own, so that the devices tests put on that bus are probed, grouped and
 * given default domains by the real core, exactly as a hardware driver's
 * devices are. A test may ask for an untrusted PCI function instead, on a
 * fake PCI host bridge, for dma-iommu's swiotlb paths. Either kind carries
 * a fwspec naming the fake IOMMU, with an ID by which the fake finds it.
 * Its paging domains keep an honest page table (an xarray from IOVA granule
 * to physical address, page size and prot), record every call the core
 * makes into them, and fail map_pages and iotlb_sync_map calls as a test
 * scripts.
 *
 * Its iotlb_sync_map runs the same logic as s390's, iommu_sync_map_refresh(),
 * with a fake RPCIT per attached device. Behind that RPCIT sits a model of a
 * hypervisor that shadows the table with a limited number of entries
 * (fake-iommu-shadow.c): a range refresh shadows the range's mappings and
 * fails with -ENOMEM when the shadow is full; a global refresh (and an IOTLB
 * flush) drops the shadow entries the guest no longer maps.
 *
 * Test-only: it depends on KUNIT and is selected by the KUnit tests that use
 * it.
 */
#include <kunit/resource.h>
#include <kunit/script.h>
#include <kunit/test.h>
#include <kunit/test-bug.h>
#include <linux/bitfield.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/iommu.h>
#include <linux/iommu-sync-map.h>
#include <linux/mman.h>
#include <linux/panic.h>
#include <linux/mount.h>
#include <linux/pci.h>
#include <linux/property.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/swiotlb.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "iommu-priv.h"
#if IS_ENABLED(CONFIG_IOMMU_PT_AMDV1)
#include <linux/generic_pt/iommu.h>
#include "iommu-pages.h"
#endif
#include "fake-iommu.h"
#include "fake-iommu-shadow.h"

/*
 * Like a real driver, map_pages allocates the tables a mapping needs, pages
 * from the page allocator with the gfp the core gives it, the first time:
 * a level-1 table per 1G of IOVA for any page under 1G, and a leaf table
 * per 2M for pages under 2M. They go with the domain.
 */
static const unsigned long fake_table_spans[] = { SZ_1G, SZ_2M };
#define FAKE_IOMMU_LOG_SIZE	512

/* A page table entry: a value entry stored at the IOVA granule of its head. */
#define FAKE_PTE_PROT		GENMASK(5, 0)
#define FAKE_PTE_ORDER		GENMASK(10, 6)
#define FAKE_PTE_PFN_SHIFT	11

struct fake_iommu_domain {
	union {
		struct iommu_domain domain;
#if IS_ENABLED(CONFIG_IOMMU_PT_AMDV1)
		/* With opts.generic_pt, generic_pt's table replaces ptes. */
		struct pt_iommu_amdv1 amdv1;
#endif
	};
	/* Attached fake devices; changes under the lock, walked under RCU. */
	struct list_head devices;
	/* generic_pt's top-of-table lock, with opts.generic_pt */
	spinlock_t top_lock;
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
	struct fake_iommu_call log[FAKE_IOMMU_LOG_SIZE];
};

#if IS_ENABLED(CONFIG_IOMMU_PT_AMDV1)
PT_IOMMU_CHECK_DOMAIN(struct fake_iommu_domain, amdv1.iommu, domain);
#endif

struct fake_iommu_dev {
	/* &own_dev, or the fake PCI function's (opts.untrusted_pci) */
	struct device *dev;
	/* The ID in the device's fwspec: its index in fake_iommu_devs. */
	u32 id;
	struct fake_iommu_dev_opts opts;
	u64 dma_mask;
	/* The fake paging domain the device is attached to, if any. */
	struct fake_iommu_domain *domain;
	struct list_head domain_node;
	/* The device, when it is on the fake IOMMU's own bus. */
	struct device own_dev;
	/* The fake PCI function's host bridge, with opts.untrusted_pci. */
	struct fake_iommu_pci_host *pci_host;
};

/* Every fake device, by the ID its fwspec carries, as a real driver's. */
static DEFINE_XARRAY_ALLOC(fake_iommu_devs);

static struct {
	struct iommu_device iommu;
	struct notifier_block nb;
} fake_iommu;

static const struct bus_type fake_iommu_bus = {
	.name = "fake_iommu",
};

static const struct iommu_ops fake_iommu_ops;

static struct fake_iommu_domain *to_fake_domain(struct iommu_domain *domain)
{
	if (!domain || domain->owner != &fake_iommu_ops ||
	    !(domain->type & __IOMMU_DOMAIN_PAGING))
		return NULL;
	return container_of(domain, struct fake_iommu_domain, domain);
}

/*
 * A device of the fake IOMMU, found as a real driver finds its own: by the
 * IOMMU its fwspec names and the ID in it. NULL for any other device, and
 * for one the core has released (the core frees the fwspec with it).
 */
static struct fake_iommu_dev *to_fake_dev(struct device *dev)
{
	struct iommu_fwspec *fwspec = dev ? dev_iommu_fwspec_get(dev) : NULL;

	if (!fwspec || fwspec->iommu_fwnode != fake_iommu.iommu.fwnode ||
	    fwspec->num_ids != 1)
		return NULL;
	return xa_load(&fake_iommu_devs, fwspec->ids[0]);
}

static void *fake_pte_make(phys_addr_t phys, size_t pgsize, int prot)
{
	unsigned long v = (unsigned long)(phys >> ilog2(FAKE_IOMMU_GRANULE));

	v = v << FAKE_PTE_PFN_SHIFT |
	    FIELD_PREP(FAKE_PTE_ORDER, ilog2(pgsize) - ilog2(FAKE_IOMMU_GRANULE)) |
	    FIELD_PREP(FAKE_PTE_PROT, prot);
	return xa_mk_value(v);
}

static size_t fake_pte_size(unsigned long v)
{
	return FAKE_IOMMU_GRANULE << FIELD_GET(FAKE_PTE_ORDER, v);
}

static phys_addr_t fake_pte_phys(unsigned long v)
{
	return (phys_addr_t)(v >> FAKE_PTE_PFN_SHIFT) << ilog2(FAKE_IOMMU_GRANULE);
}

/* Find the entry whose page covers @iova. Caller holds fd->lock. */
static bool fake_pte_find(struct fake_iommu_domain *fd, unsigned long iova,
			  unsigned long *head, unsigned long *val)
{
	unsigned long sizes = fd->domain.pgsize_bitmap;
	unsigned int bit;

	for_each_set_bit(bit, &sizes, BITS_PER_LONG) {
		unsigned long h = ALIGN_DOWN(iova, 1UL << bit);
		void *e = xa_load(&fd->ptes, h / FAKE_IOMMU_GRANULE);

		if (xa_is_value(e) && fake_pte_size(xa_to_value(e)) == 1UL << bit) {
			*head = h;
			*val = xa_to_value(e);
			return true;
		}
	}
	return false;
}

/* Is any part of [iova, iova + size) mapped? Caller holds fd->lock. */
static bool fake_pte_overlaps(struct fake_iommu_domain *fd, unsigned long iova,
			      size_t size)
{
	unsigned long index = iova / FAKE_IOMMU_GRANULE;
	unsigned long head, val;

	if (fake_pte_find(fd, iova, &head, &val))
		return true;
	return xa_find(&fd->ptes, &index, (iova + size - 1) / FAKE_IOMMU_GRANULE,
		       XA_PRESENT);
}

/*
 * A caller did what no real driver accepts: mapped over a mapping, unmapped
 * what is not mapped, or asked for pages outside the domain's sizes or
 * aperture. Real drivers WARN or corrupt their table; the fake keeps its
 * table intact, logs the call and counts it, and the test fails when the
 * domain is freed or fake_iommu_take_misuse() is called (reporting here
 * could sleep, and map_pages may run in atomic context). Caller holds
 * fd->lock.
 */
static __printf(2, 3) void fake_misuse(struct fake_iommu_domain *fd,
				       const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	if (!fd->misuse++)
		vsnprintf(fd->misuse_msg, sizeof(fd->misuse_msg), fmt, args);
	va_end(args);
	pr_err("fake-iommu: misuse: %s\n", fd->misuse_msg);
}

/* Caller holds fd->lock. */
static struct fake_iommu_call *fake_record(struct fake_iommu_domain *fd,
					   enum fake_iommu_op op,
					   unsigned long iova, size_t size,
					   size_t pgsize, size_t done, int ret)
{
	struct fake_iommu_call *call;

	fd->nr_calls[op]++;
	if (fd->log_len >= FAKE_IOMMU_LOG_SIZE)
		return NULL;
	call = &fd->log[fd->log_len++];
	*call = (struct fake_iommu_call) {
		.op = op, .iova = iova, .size = size, .pgsize = pgsize,
		.done = done, .ret = ret,
	};
	return call;
}

/*
 * Does the test's script fail this call? Every rule for @op sees every call,
 * so that "the Nth call" means the same thing whatever other rules do; a
 * failing map_pages call first maps *@partial pages.
 */
static int fake_fault_check(struct fake_iommu_domain *fd, enum fake_iommu_op op,
			    struct device *dev, unsigned long iova, size_t size,
			    size_t *partial)
{
	unsigned long data = 0;
	int err;

	err = kunit_script_call(&fd->faults, op, dev, iova, iova + size, &data);
	*partial = data;
	return err;
}

/*
 * The tables [iova, iova + pgsize * pgcount) needs and does not have yet,
 * allocated with the caller's gfp: a failure here is a driver's page table
 * allocation failing. (The xarray that keeps them retries its own.)
 */
static int fake_alloc_tables(struct fake_iommu_domain *fd, unsigned long iova,
			     size_t pgsize, size_t pgcount, gfp_t gfp)
{
	unsigned long t, last, table, index;
	unsigned int level;
	int err;

	if (!pgcount || iova + pgsize * pgcount - 1 < iova)
		return 0;
	for (level = 0; level < ARRAY_SIZE(fake_table_spans); level++) {
		unsigned long span = fake_table_spans[level];

		if (pgsize >= span)
			continue;
		last = (iova + pgsize * pgcount - 1) / span;
		for (t = iova / span; t <= last; t++) {
			/* The levels interleave: no two tables share an index. */
			index = t * ARRAY_SIZE(fake_table_spans) + level;
			if (xa_load(&fd->tables, index))
				continue;
			table = get_zeroed_page(gfp);
			if (!table)
				return -ENOMEM;
			/*
			 * Irqs off: the ptes' xarray shares its lockdep
			 * class. No __GFP_ZERO (dma-iommu passes it on) for
			 * the xarray's nodes, whose cache has a constructor.
			 */
			err = xa_insert_irq(&fd->tables, index, (void *)table,
					    gfp & ~__GFP_ZERO);
			if (err)
				free_page(table);
			if (err && err != -EBUSY)
				return err;
		}
	}
	return 0;
}

static int fake_iommu_map_pages(struct iommu_domain *domain,
				unsigned long iova, phys_addr_t paddr,
				size_t pgsize, size_t pgcount, int prot,
				gfp_t gfp, size_t *mapped)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	size_t i, limit = pgcount, partial = 0, done = 0;
	struct fake_iommu_call *call;
	unsigned long flags;
	int ret;

	/*
	 * A real driver allocates its tables with @gfp, and so does the fake,
	 * before it takes its lock: @gfp must be right for the caller's
	 * context (might_alloc() checks it with lockdep and
	 * CONFIG_DEBUG_ATOMIC_SLEEP), and fault injection fails it.
	 */
	might_alloc(gfp);
	ret = fake_alloc_tables(fd, iova, pgsize, pgcount, gfp);
	spin_lock_irqsave(&fd->lock, flags);
	if (ret)
		goto out;
	if (!is_power_of_2(pgsize) || !(pgsize & domain->pgsize_bitmap) ||
	    !IS_ALIGNED(iova | paddr, pgsize) || !pgcount ||
	    iova < domain->geometry.aperture_start ||
	    iova + pgsize * pgcount - 1 > domain->geometry.aperture_end) {
		fake_misuse(fd, "map_pages(%#lx, %pa, %#zx, %zu): invalid",
			    iova, &paddr, pgsize, pgcount);
		ret = -EINVAL;
		goto out;
	}

	ret = fake_fault_check(fd, FAKE_IOMMU_MAP_PAGES, NULL, iova,
			       pgsize * pgcount, &partial);
	if (ret)
		limit = min(partial, pgcount);

	for (i = 0; i < limit; i++) {
		unsigned long cur = iova + done;
		int err;

		if (fake_pte_overlaps(fd, cur, pgsize)) {
			fake_misuse(fd, "map_pages over a mapping at IOVA %#lx",
				    cur);
			ret = -EEXIST;
			break;
		}
		/* Our own lock is held with interrupts off: never sleep here. */
		err = xa_err(xa_store(&fd->ptes, cur / FAKE_IOMMU_GRANULE,
				      fake_pte_make(paddr + done, pgsize, prot),
				      GFP_ATOMIC));
		if (err) {
			ret = err;
			break;
		}
		done += pgsize;
	}
out:
	*mapped += done;
	call = fake_record(fd, FAKE_IOMMU_MAP_PAGES, iova, pgsize * pgcount,
			   pgsize, done, ret);
	if (call) {
		call->paddr = paddr;
		call->prot = prot;
		call->gfp = gfp;
	}
	spin_unlock_irqrestore(&fd->lock, flags);
	return ret;
}

static size_t fake_iommu_unmap_pages(struct iommu_domain *domain,
				     unsigned long iova, size_t pgsize,
				     size_t pgcount,
				     struct iommu_iotlb_gather *gather)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	size_t done = 0, size = pgsize * pgcount;
	unsigned long flags, head, val;

	spin_lock_irqsave(&fd->lock, flags);
	/* Like a real page table: stop at the first hole, unmap whole pages. */
	while (done < size && fake_pte_find(fd, iova + done, &head, &val) &&
	       head == iova + done) {
		xa_erase(&fd->ptes, head / FAKE_IOMMU_GRANULE);
		done += fake_pte_size(val);
	}
	/* The core unmaps only what it mapped, and whole pages of it. */
	if (done < size)
		fake_misuse(fd, "unmap_pages [%#lx, %#lx): no page at %#lx",
			    iova, iova + size, iova + done);
	fake_record(fd, FAKE_IOMMU_UNMAP_PAGES, iova, size, pgsize, done, 0);
	spin_unlock_irqrestore(&fd->lock, flags);

	if (done)
		iommu_iotlb_gather_add_range(gather, iova, done);
	return done;
}

/* The hypervisor model (fake-iommu-shadow.c): a RPCIT of [iova, iova + size) */
static int fake_shadow_refresh_range(struct fake_iommu_domain *fd,
				     unsigned long iova, size_t size)
{
	return fake_shadow_refresh(&fd->shadow, &fd->ptes,
				   iova / FAKE_IOMMU_GRANULE,
				   (iova + size - 1) / FAKE_IOMMU_GRANULE);
}

/* A global RPCIT: forget what the guest unmapped, shadow what it maps. */
static int fake_shadow_refresh_all(struct fake_iommu_domain *fd)
{
	return fake_shadow_refresh(&fd->shadow, &fd->ptes, 0, ULONG_MAX);
}

/*
 * The fake RPCIT of one device: of [iova, iova + size) for FAKE_IOMMU_REFRESH,
 * of everything for FAKE_IOMMU_REFRESH_ALL. Scripted faults come first, then
 * the hypervisor model answers.
 */
static int fake_rpcit(struct fake_iommu_domain *fd, struct list_head *node,
		      enum fake_iommu_op op, unsigned long iova, size_t size)
{
	struct fake_iommu_dev *fdev = list_entry(node, struct fake_iommu_dev,
						 domain_node);
	struct fake_iommu_call *call;
	size_t partial = 0;
	unsigned long flags;
	int ret;

	spin_lock_irqsave(&fd->lock, flags);
	ret = fake_fault_check(fd, op, fdev->dev, iova, size, &partial);
	if (!ret)
		ret = op == FAKE_IOMMU_REFRESH ?
		      fake_shadow_refresh_range(fd, iova, size) :
		      fake_shadow_refresh_all(fd);
	call = fake_record(fd, op, iova, size, 0, 0, ret);
	if (call)
		call->dev = fdev->dev;
	spin_unlock_irqrestore(&fd->lock, flags);
	return ret;
}

/* The callbacks of iommu_sync_map_refresh(), as s390 has them. */
static int fake_refresh_range(void *ctx, struct list_head *node,
			      unsigned long iova, size_t size)
{
	return fake_rpcit(ctx, node, FAKE_IOMMU_REFRESH, iova, size);
}

static int fake_refresh_all(void *ctx, struct list_head *node)
{
	return fake_rpcit(ctx, node, FAKE_IOMMU_REFRESH_ALL, 0, 0);
}

static int fake_iommu_iotlb_sync_map(struct iommu_domain *domain,
				     unsigned long iova, size_t size)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	size_t partial = 0;
	unsigned long flags;
	int ret;

	spin_lock_irqsave(&fd->lock, flags);
	ret = fake_fault_check(fd, FAKE_IOMMU_SYNC_MAP, NULL, iova, size,
			       &partial);
	fake_record(fd, FAKE_IOMMU_SYNC_MAP, iova, size, 0, 0, ret);
	spin_unlock_irqrestore(&fd->lock, flags);
	if (ret)
		return ret;

	/* The same logic as s390_iommu_iotlb_sync_map(). */
	rcu_read_lock();
	ret = iommu_sync_map_refresh(&fd->devices, fd, iova, size,
				     fake_refresh_range, fake_refresh_all);
	rcu_read_unlock();
	return ret;
}

static void fake_iommu_iotlb_sync(struct iommu_domain *domain,
				  struct iommu_iotlb_gather *gather)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	size_t size = 0;
	unsigned long flags;

	if (gather->end >= gather->start)
		size = gather->end - gather->start + 1;
	spin_lock_irqsave(&fd->lock, flags);
	fake_record(fd, FAKE_IOMMU_IOTLB_SYNC, size ? gather->start : 0, size,
		    0, 0, 0);
	/* As s390 does: a RPCIT of the unmapped range tells the hypervisor. */
	if (size && !list_empty(&fd->devices))
		fake_shadow_refresh_range(fd, gather->start, size);
	spin_unlock_irqrestore(&fd->lock, flags);
}

static void fake_iommu_flush_iotlb_all(struct iommu_domain *domain)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	unsigned long flags;

	spin_lock_irqsave(&fd->lock, flags);
	fake_record(fd, FAKE_IOMMU_FLUSH_ALL, 0, 0, 0, 0, 0);
	/* A flush queue's flush: a global RPCIT on s390. */
	if (!list_empty(&fd->devices))
		fake_shadow_refresh_all(fd);
	spin_unlock_irqrestore(&fd->lock, flags);
}

static phys_addr_t fake_iommu_iova_to_phys(struct iommu_domain *domain,
					   dma_addr_t iova)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	phys_addr_t phys = 0;
	unsigned long flags, head, val;

	spin_lock_irqsave(&fd->lock, flags);
	if (fake_pte_find(fd, iova, &head, &val))
		phys = fake_pte_phys(val) + (iova - head);
	spin_unlock_irqrestore(&fd->lock, flags);
	return phys;
}

/* Moves a device off the fake domain it is on. Caller may sleep. */
static void fake_iommu_detach(struct fake_iommu_dev *fdev)
{
	struct fake_iommu_domain *fd = fdev->domain;
	unsigned long flags;

	if (!fd)
		return;
	spin_lock_irqsave(&fd->lock, flags);
	list_del_rcu(&fdev->domain_node);
	spin_unlock_irqrestore(&fd->lock, flags);
	fdev->domain = NULL;
	/* sync_map may still walk the old list */
	synchronize_rcu();
}

static int fake_iommu_attach_dev(struct iommu_domain *domain,
				 struct device *dev, struct iommu_domain *old)
{
	struct fake_iommu_dev *fdev = to_fake_dev(dev);
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	unsigned long flags;

	if (!fdev)
		return -ENODEV;
	if (fdev->domain == fd)
		return 0;
	fake_iommu_detach(fdev);
	if (fd) {
		spin_lock_irqsave(&fd->lock, flags);
		list_add_tail_rcu(&fdev->domain_node, &fd->devices);
		spin_unlock_irqrestore(&fd->lock, flags);
		fdev->domain = fd;
	}
	return 0;
}

static void fake_iommu_release_device(struct device *dev)
{
	fake_iommu_detach(to_fake_dev(dev));
}

static void fake_iommu_domain_free(struct iommu_domain *domain)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	unsigned long index;
	void *table;

	WARN_ON(!list_empty(&fd->devices));
	fake_iommu_take_misuse(kunit_get_current_test(), domain);
	fake_iommu_check_empty(kunit_get_current_test(), domain);
	xa_destroy(&fd->ptes);
	fake_shadow_destroy(&fd->shadow);
	xa_for_each(&fd->tables, index, table)
		free_page((unsigned long)table);
	xa_destroy(&fd->tables);
#if IS_ENABLED(CONFIG_IOMMU_PT_AMDV1)
	if (domain->is_iommupt)
		pt_iommu_deinit(&fd->amdv1.iommu);
#endif
	kfree(fd);
}

static const struct iommu_domain_ops fake_iommu_domain_ops = {
	.attach_dev = fake_iommu_attach_dev,
	.map_pages = fake_iommu_map_pages,
	.unmap_pages = fake_iommu_unmap_pages,
	.iotlb_sync_map = fake_iommu_iotlb_sync_map,
	.iotlb_sync = fake_iommu_iotlb_sync,
	.flush_iotlb_all = fake_iommu_flush_iotlb_all,
	.iova_to_phys = fake_iommu_iova_to_phys,
	.free = fake_iommu_domain_free,
};

#if IS_ENABLED(CONFIG_IOMMU_PT_AMDV1)
static void fake_iommu_pt_iotlb_sync(struct iommu_domain *domain,
				     struct iommu_iotlb_gather *gather)
{
	fake_iommu_iotlb_sync(domain, gather);
	iommu_put_pages_list(&gather->freelist);
}

/*
 * A domain on generic_pt's AMDv1 table: the core maps and unmaps through
 * generic_pt (map_range, unmap_range, as for the AMD, Intel and RISC-V
 * drivers); iotlb_sync_map is still the fake's, recorded and scriptable.
 */
static const struct iommu_domain_ops fake_iommu_pt_domain_ops = {
	IOMMU_PT_DOMAIN_OPS(amdv1),
	.attach_dev = fake_iommu_attach_dev,
	.iotlb_sync_map = fake_iommu_iotlb_sync_map,
	.iotlb_sync = fake_iommu_pt_iotlb_sync,
	.flush_iotlb_all = fake_iommu_flush_iotlb_all,
	.free = fake_iommu_domain_free,
};

static struct fake_iommu_domain *to_fake_pt_domain(struct pt_iommu *iommu_table)
{
	return container_of(iommu_table, struct fake_iommu_domain, amdv1.iommu);
}

static spinlock_t *fake_iommu_pt_get_top_lock(struct pt_iommu *iommu_table)
{
	return &to_fake_pt_domain(iommu_table)->top_lock;
}

/* No hardware holds the top of the table: nothing to update. */
static void fake_iommu_pt_change_top(struct pt_iommu *iommu_table,
				     phys_addr_t top_paddr,
				     unsigned int top_level)
{
	lockdep_assert_held(&to_fake_pt_domain(iommu_table)->top_lock);
}

static const struct pt_iommu_driver_ops fake_iommu_pt_driver_ops = {
	.get_top_lock = fake_iommu_pt_get_top_lock,
	.change_top = fake_iommu_pt_change_top,
};

/* The AMD IOMMU driver's v1 configuration, 48-bit IOVAs. */
static int fake_iommu_init_pt(struct fake_iommu_domain *fd)
{
	struct pt_iommu_amdv1_cfg cfg = {
		.common.features = BIT(PT_FEAT_DYNAMIC_TOP) |
				   BIT(PT_FEAT_AMDV1_ENCRYPT_TABLES) |
				   BIT(PT_FEAT_AMDV1_FORCE_COHERENCE) |
				   BIT(PT_FEAT_FLUSH_RANGE),
		.common.hw_max_vasz_lg2 = 48,
		.common.hw_max_oasz_lg2 = 52,
		.starting_level = 2,
	};

	spin_lock_init(&fd->top_lock);
	fd->amdv1.iommu.nid = NUMA_NO_NODE;
	fd->amdv1.iommu.driver_ops = &fake_iommu_pt_driver_ops;
	fd->domain.ops = &fake_iommu_pt_domain_ops;
	return pt_iommu_amdv1_init(&fd->amdv1, &cfg, GFP_KERNEL);
}
#else
static int fake_iommu_init_pt(struct fake_iommu_domain *fd)
{
	return -EOPNOTSUPP;
}
#endif

static const struct iommu_domain_ops fake_iommu_identity_ops = {
	.attach_dev = fake_iommu_attach_dev,
};

static struct iommu_domain fake_iommu_identity_domain = {
	.type = IOMMU_DOMAIN_IDENTITY,
	.ops = &fake_iommu_identity_ops,
};

static struct iommu_domain *fake_iommu_domain_alloc_paging(struct device *dev)
{
	struct fake_iommu_dev *fdev = to_fake_dev(dev);
	struct fake_iommu_domain *fd;

	fd = kzalloc_obj(*fd);
	if (!fd)
		return ERR_PTR(-ENOMEM);
	INIT_LIST_HEAD(&fd->devices);
	spin_lock_init(&fd->lock);
	xa_init(&fd->ptes);
	fake_shadow_init(&fd->shadow);
	kunit_script_init(&fd->faults);
	xa_init_flags(&fd->tables, XA_FLAGS_LOCK_IRQ);
	fd->domain.pgsize_bitmap = FAKE_IOMMU_GRANULE;
	fd->domain.geometry.aperture_end = SZ_4G - 1;
	fd->domain.geometry.force_aperture = true;
	if (fdev) {
		if (fdev->opts.pgsize_bitmap)
			fd->domain.pgsize_bitmap = fdev->opts.pgsize_bitmap;
		fd->domain.geometry.aperture_start = fdev->opts.aperture_start;
		if (fdev->opts.aperture_end)
			fd->domain.geometry.aperture_end = fdev->opts.aperture_end;
		if (fdev->opts.generic_pt) {
			int rc = fake_iommu_init_pt(fd);

			if (rc) {
				kfree(fd);
				return ERR_PTR(rc);
			}
		}
	}
	return &fd->domain;
}

static struct iommu_device *fake_iommu_probe_device(struct device *dev)
{
	struct fake_iommu_dev *fdev = to_fake_dev(dev);

	if (!fdev)
		return ERR_PTR(-ENODEV);
	dev->iommu->shadow_on_flush = fdev->opts.shadow_on_flush;
	return &fake_iommu.iommu;
}

static int fake_iommu_def_domain_type(struct device *dev)
{
	return to_fake_dev(dev)->opts.def_domain_type;
}

static bool fake_iommu_capable(struct device *dev, enum iommu_cap cap)
{
	switch (cap) {
	case IOMMU_CAP_CACHE_COHERENCY:
		return true;
	case IOMMU_CAP_DEFERRED_FLUSH:
		return to_fake_dev(dev)->opts.deferred_flush;
	default:
		return false;
	}
}

static const struct iommu_ops fake_iommu_ops = {
	.owner = THIS_MODULE,
	.identity_domain = &fake_iommu_identity_domain,
	.capable = fake_iommu_capable,
	.domain_alloc_paging = fake_iommu_domain_alloc_paging,
	.probe_device = fake_iommu_probe_device,
	.release_device = fake_iommu_release_device,
	.device_group = generic_device_group,
	.def_domain_type = fake_iommu_def_domain_type,
	.default_domain_ops = &fake_iommu_domain_ops,
};

static void fake_iommu_dev_free(struct fake_iommu_dev *fdev)
{
	xa_erase(&fake_iommu_devs, fdev->id);
	kfree(fdev);
}

/* A device on the fake IOMMU's bus, which lives in its fake_iommu_dev. */
static void fake_iommu_dev_release(struct device *dev)
{
	if (dev->iommu)
		dev_iommu_free(dev);
	fake_iommu_dev_free(container_of(dev, struct fake_iommu_dev, own_dev));
}

static int fake_iommu_init_bus_dev(struct fake_iommu_dev *fdev)
{
	static atomic_t next_id = ATOMIC_INIT(0);
	struct device *dev = &fdev->own_dev;

	device_initialize(dev);
	dev->release = fake_iommu_dev_release;
	dev->bus = &fake_iommu_bus;
	fdev->dma_mask = DMA_BIT_MASK(64);
	dev->dma_mask = &fdev->dma_mask;
	dev->coherent_dma_mask = DMA_BIT_MASK(64);
	fdev->dev = dev;
	return dev_set_name(dev, "fake_iommu_dev%d", atomic_inc_return(&next_id));
}

#if IS_ENABLED(CONFIG_PCI) && defined(CONFIG_X86)
/*
 * A PCI host bridge of its own for each fake PCI function: no window, no
 * DMA range, no ACPI companion, and no function answering in its config
 * space. x86 takes the PCI domain, which must be unique, from the sysdata.
 */
struct fake_iommu_pci_host {
	struct pci_sysdata sd;
	struct pci_bus *bus;
};

static int fake_pci_read(struct pci_bus *bus, unsigned int devfn, int where,
			 int size, u32 *val)
{
	PCI_SET_ERROR_RESPONSE(val);
	return PCIBIOS_DEVICE_NOT_FOUND;
}

static int fake_pci_write(struct pci_bus *bus, unsigned int devfn, int where,
			  int size, u32 val)
{
	return PCIBIOS_DEVICE_NOT_FOUND;
}

static struct pci_ops fake_pci_ops = {
	.read = fake_pci_read,
	.write = fake_pci_write,
};

static void fake_pci_host_remove(struct fake_iommu_pci_host *host)
{
	struct device *bridge = host->bus->bridge;

	pci_lock_rescan_remove();
	pci_stop_root_bus(host->bus);
	pci_remove_root_bus(host->bus);
	pci_unlock_rescan_remove();
	/* pci_remove_root_bus() deletes the bridge; its creator puts it. */
	put_device(bridge);
	kfree(host);
}

static void fake_pci_release(struct device *dev)
{
	struct pci_dev *pdev = to_pci_dev(dev);

	if (dev->iommu)
		dev_iommu_free(dev);
	put_device(&pdev->bus->dev);
	kfree(pdev);
}

/*
 * A PCI function as dma-iommu sees an external one (a Thunderbolt device,
 * say): untrusted, so it bounces every buffer that does not fill whole IOMMU
 * granules through swiotlb. Only what the IOMMU core and dma-iommu read is
 * set: no driver ever binds (match_driver stays false), and it is not on
 * its bus's list of functions, which only PCI's own enumeration keeps.
 */
static int fake_iommu_init_pci_dev(struct fake_iommu_dev *fdev)
{
	static atomic_t next_domain = ATOMIC_INIT(0xffff);
	struct fake_iommu_pci_host *host;
	struct pci_dev *pdev;
	LIST_HEAD(resources);
	struct device *dev;

	host = kzalloc_obj(*host);
	if (!host)
		return -ENOMEM;
	/* Above the 16-bit segment numbers firmware gives real ones. */
	host->sd.domain = atomic_inc_return(&next_domain);
	host->sd.node = NUMA_NO_NODE;
	host->bus = pci_create_root_bus(NULL, 0, &fake_pci_ops, &host->sd,
					&resources);
	if (!host->bus) {
		kfree(host);
		return -ENOMEM;
	}
	pdev = pci_alloc_dev(host->bus);
	if (!pdev) {
		fake_pci_host_remove(host);
		return -ENOMEM;
	}
	fdev->pci_host = host;
	pdev->devfn = PCI_DEVFN(0, 0);
	pdev->vendor = PCI_VENDOR_ID_REDHAT;
	pdev->device = 0x0005;	/* QEMU's PCI test device */
	pdev->class = PCI_CLASS_OTHERS << 8;
	pdev->hdr_type = PCI_HEADER_TYPE_NORMAL;
	pdev->cfg_size = PCI_CFG_SPACE_SIZE;
	pdev->current_state = PCI_UNKNOWN;
	pdev->error_state = pci_channel_io_normal;
	pdev->untrusted = 1;
	pdev->dma_mask = DMA_BIT_MASK(64);
	dev = &pdev->dev;
	device_initialize(dev);
	dev->release = fake_pci_release;
	dev->bus = &pci_bus_type;
	dev->parent = host->bus->bridge;
	dev->dma_mask = &pdev->dma_mask;
	dev->coherent_dma_mask = DMA_BIT_MASK(64);
	dev->dma_parms = &pdev->dma_parms;
	fdev->dev = dev;
	return dev_set_name(dev, "%04x:%02x:%02x.%d", pci_domain_nr(host->bus),
			    host->bus->number, PCI_SLOT(pdev->devfn),
			    PCI_FUNC(pdev->devfn));
}
#else
struct fake_iommu_pci_host;

static void fake_pci_host_remove(struct fake_iommu_pci_host *host)
{
}

static int fake_iommu_init_pci_dev(struct fake_iommu_dev *fdev)
{
	return -EOPNOTSUPP;
}
#endif

/* Drops a device that is not (or no longer) added, and all it has. */
static void fake_iommu_put_device(struct fake_iommu_dev *fdev)
{
	struct fake_iommu_pci_host *host = fdev->pci_host;

	if (!fdev->dev) {
		fake_iommu_dev_free(fdev);
		return;
	}
	put_device(fdev->dev);
	if (host) {
		fake_pci_host_remove(host);
		fake_iommu_dev_free(fdev);
	}
	/* Else the device's release freed @fdev. */
}

static void fake_iommu_remove_device(void *data)
{
	struct fake_iommu_dev *fdev = data;

	device_del(fdev->dev);
	fake_iommu_put_device(fdev);
}

/**
 * fake_iommu_add_device() - add a device behind the fake IOMMU
 * @test: the test that owns the device; it is removed when the test ends
 * @opts: how the device and its domains look, or NULL for the defaults
 *
 * The device is added to the fake IOMMU's bus (or, with
 * &fake_iommu_dev_opts.untrusted_pci, to the PCI bus) with a fwspec naming
 * the fake IOMMU, so the IOMMU core probes it with the fake driver (and
 * never with another IOMMU driver registered in the same kernel), puts it in
 * a group of its own and attaches the default domain the core picks for it.
 * The test fails if any of that does not happen, and is skipped if the
 * kernel cannot make an untrusted PCI function.
 *
 * Return: the device.
 */
struct device *fake_iommu_add_device(struct kunit *test,
				     const struct fake_iommu_dev_opts *opts)
{
	struct fake_iommu_dev *fdev;
	struct device *dev;
	int rc;

	fdev = kzalloc_obj(*fdev);
	KUNIT_ASSERT_NOT_NULL(test, fdev);
	if (opts)
		fdev->opts = *opts;
	rc = xa_alloc(&fake_iommu_devs, &fdev->id, fdev, xa_limit_32b,
		      GFP_KERNEL);
	if (rc) {
		kfree(fdev);
		KUNIT_FAIL_AND_ABORT(test, "fake-iommu: no device ID: %d", rc);
	}
	if (fdev->opts.untrusted_pci)
		rc = fake_iommu_init_pci_dev(fdev);
	else
		rc = fake_iommu_init_bus_dev(fdev);
	if (rc == -EOPNOTSUPP) {
		fake_iommu_put_device(fdev);
		kunit_skip(test, "fake-iommu: no fake PCI host bridge on this architecture");
	}
	dev = fdev->dev;
	if (!rc) {
		mutex_lock(&iommu_probe_device_lock);
		rc = iommu_fwspec_init(dev, fake_iommu.iommu.fwnode);
		if (!rc)
			rc = iommu_fwspec_add_ids(dev, &fdev->id, 1);
		mutex_unlock(&iommu_probe_device_lock);
	}
	if (!rc)
		rc = device_add(dev);
	if (rc) {
		fake_iommu_put_device(fdev);
		KUNIT_FAIL_AND_ABORT(test, "fake-iommu: adding a device failed: %d",
				     rc);
	}
	rc = kunit_add_action_or_reset(test, fake_iommu_remove_device, fdev);
	KUNIT_ASSERT_EQ(test, rc, 0);
	KUNIT_ASSERT_TRUE_MSG(test, device_iommu_mapped(dev),
			      "fake-iommu: the IOMMU core did not probe %s",
			      dev_name(dev));
	KUNIT_ASSERT_NOT_NULL_MSG(test, iommu_get_domain_for_dev(dev),
				  "fake-iommu: %s has no default domain",
				  dev_name(dev));
	/* x86 below 4G sets swiotlb up only when told to. */
	if (fdev->opts.untrusted_pci)
		KUNIT_ASSERT_TRUE_MSG(test, is_swiotlb_active(dev),
				      "fake-iommu: swiotlb is off: boot with swiotlb=force, as the x86_64 kunitconfig does");
	return dev;
}
EXPORT_SYMBOL_GPL(fake_iommu_add_device);

KUNIT_DEFINE_ACTION_WRAPPER(fake_iommu_free_domain_action, iommu_domain_free,
			    struct iommu_domain *);

/**
 * fake_iommu_alloc_domain() - allocate a paging domain through the core
 * @test: the test that owns the domain; it is freed when the test ends
 * @dev: a device from fake_iommu_add_device()
 *
 * Allocates an unmanaged domain with iommu_paging_domain_alloc(), as any
 * IOMMU API user does. The domain is freed when the test ends; attach it with
 * fake_iommu_attach_device(), which detaches it before that.
 *
 * Return: the domain.
 */
struct iommu_domain *fake_iommu_alloc_domain(struct kunit *test,
					     struct device *dev)
{
	struct iommu_domain *domain = iommu_paging_domain_alloc(dev);
	int rc;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, domain);
	rc = kunit_add_action_or_reset(test, fake_iommu_free_domain_action,
				       domain);
	KUNIT_ASSERT_EQ(test, rc, 0);
	KUNIT_ASSERT_NOT_NULL_MSG(test, to_fake_domain(domain),
				  "fake-iommu: the core gave a domain of another driver");
	return domain;
}
EXPORT_SYMBOL_GPL(fake_iommu_alloc_domain);

struct fake_iommu_attachment {
	struct iommu_domain *domain;
	struct device *dev;
};

static void fake_iommu_detach_action(void *data)
{
	struct fake_iommu_attachment *a = data;

	iommu_detach_device(a->domain, a->dev);
}

/**
 * fake_iommu_attach_device() - attach a device to a domain until the test ends
 * @test: the test that owns the attachment
 * @domain: a domain from fake_iommu_alloc_domain()
 * @dev: a device from fake_iommu_add_device()
 *
 * Attaches with iommu_attach_device(), failing @test if that fails, and
 * detaches when the test ends: before the domain is freed, as the domain was
 * allocated first and KUnit undoes in reverse order.
 *
 * Return: the attachment, for fake_iommu_detach_device() to end it earlier.
 */
struct fake_iommu_attachment *
fake_iommu_attach_device(struct kunit *test, struct iommu_domain *domain,
			 struct device *dev)
{
	struct fake_iommu_attachment *a = kunit_kzalloc(test, sizeof(*a),
							GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, a);
	a->domain = domain;
	a->dev = dev;
	KUNIT_ASSERT_EQ(test, iommu_attach_device(domain, dev), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							fake_iommu_detach_action,
							a), 0);
	return a;
}
EXPORT_SYMBOL_GPL(fake_iommu_attach_device);

/**
 * fake_iommu_detach_device() - end an attachment before the test ends
 * @test: the test that owns the attachment
 * @a: what fake_iommu_attach_device() returned
 *
 * Detaches now, with iommu_detach_device(), instead of when the test ends.
 */
void fake_iommu_detach_device(struct kunit *test,
			      struct fake_iommu_attachment *a)
{
	kunit_release_action(test, fake_iommu_detach_action, a);
}
EXPORT_SYMBOL_GPL(fake_iommu_detach_device);

struct fake_iommu_pages {
	struct page *page;
	unsigned int order;
};

static void fake_iommu_free_pages_action(void *data)
{
	struct fake_iommu_pages *p = data;

	__free_pages(p->page, p->order);
}

/**
 * fake_iommu_alloc_pages() - pages for a test to map, freed when it ends
 * @test: the test that owns the pages
 * @order: the block is 2^@order pages
 *
 * Allocates a block of 2^@order physically contiguous pages (not a compound
 * page: each is a page of its own) with alloc_pages(GFP_KERNEL), failing
 * @test if there is no memory, and frees it when the test ends.
 *
 * Return: the block's first page.
 */
struct page *fake_iommu_alloc_pages(struct kunit *test, unsigned int order)
{
	struct fake_iommu_pages *p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	p->order = order;
	p->page = alloc_pages(GFP_KERNEL, order);
	KUNIT_ASSERT_NOT_NULL(test, p->page);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							fake_iommu_free_pages_action,
							p), 0);
	return p->page;
}
EXPORT_SYMBOL_GPL(fake_iommu_alloc_pages);

/* Whether @obj is a device of the fake IOMMU. */
static bool fake_iommu_is_dev(const void *obj)
{
	struct fake_iommu_dev *fdev;
	unsigned long id;

	xa_for_each(&fake_iommu_devs, id, fdev)
		if (fdev->dev == obj)
			return true;
	return false;
}

/* What the fake cannot script, on top of what kunit_script cannot. */
static const char *fake_fault_invalid(const struct kunit_script_rule *r)
{
	if (r->op != FAKE_IOMMU_SYNC_MAP && r->op != FAKE_IOMMU_MAP_PAGES &&
	    r->op != FAKE_IOMMU_REFRESH && r->op != FAKE_IOMMU_REFRESH_ALL)
		return "only map_pages, iotlb_sync_map and refresh calls can fail";
	if (r->obj && r->op != FAKE_IOMMU_REFRESH && r->op != FAKE_IOMMU_REFRESH_ALL)
		return "a device is for refresh calls only";
	if (r->obj && !fake_iommu_is_dev(r->obj))
		return "not a device of the fake IOMMU";
	if (r->data && r->op != FAKE_IOMMU_MAP_PAGES)
		return "partial progress is for map_pages only";
	return NULL;
}

/**
 * fake_iommu_script() - script an error for a fake domain
 * @test: the test; an invalid script fails it
 * @domain: a paging domain of the fake driver
 * @rule: which calls fail, and how (include/kunit/script.h): @rule->op is
 *	FAKE_IOMMU_MAP_PAGES, FAKE_IOMMU_SYNC_MAP (the whole sync_map fails),
 *	FAKE_IOMMU_REFRESH or FAKE_IOMMU_REFRESH_ALL (one device's refresh
 *	fails, and the shared sync_map logic decides what follows); a range
 *	is of IOVAs; @rule->obj, for refreshes only, is the device whose
 *	calls count and fail (NULL: every device's); @rule->data, for
 *	map_pages only, is how many pages a failing call maps before it
 *	returns the error (capped at the pages asked for)
 *
 * Rules add up: each one sees every call of its operation, and the first
 * rule (in the order they were added) that fails a call gives its error.
 *
 * Return: 0, or -EINVAL for an invalid script (the test is marked failed
 * with a message saying why), or -ENOSPC when the domain has too many rules.
 */
int fake_iommu_script(struct kunit *test, struct iommu_domain *domain,
		      const struct kunit_script_rule *rule)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	const char *why = fake_fault_invalid(rule);

	if (!why && !fd)
		why = "not a paging domain of the fake IOMMU";
	if (why) {
		KUNIT_FAIL(test,
			   "fake-iommu: invalid fault script {op %u kind %d err %d nth %u count %u range [%#lx, %#lx) partial %lu}: %s",
			   rule->op, rule->kind, rule->err, rule->nth,
			   rule->count, rule->start, rule->end, rule->data, why);
		return -EINVAL;
	}
	return kunit_script_add(test, &fd->faults, rule);
}
EXPORT_SYMBOL_GPL(fake_iommu_script);

/**
 * fake_iommu_fail_nth() - fail the @nth call of @op from now, once
 * @test: the test
 * @domain: a paging domain of the fake driver
 * @op: FAKE_IOMMU_SYNC_MAP or FAKE_IOMMU_MAP_PAGES
 * @nth: which call, 1 being the next one
 * @err: the errno to return, in [-MAX_ERRNO, -1]
 *
 * Return: as fake_iommu_script().
 */
int fake_iommu_fail_nth(struct kunit *test, struct iommu_domain *domain,
			enum fake_iommu_op op, unsigned int nth, int err)
{
	struct kunit_script_rule f = {
		.op = op, .kind = KUNIT_SCRIPT_NTH, .nth = nth, .err = err,
	};

	return fake_iommu_script(test, domain, &f);
}
EXPORT_SYMBOL_GPL(fake_iommu_fail_nth);

/**
 * fake_iommu_fail_next() - fail the next @count calls of @op, then succeed
 * @test: the test
 * @domain: a paging domain of the fake driver
 * @op: FAKE_IOMMU_SYNC_MAP or FAKE_IOMMU_MAP_PAGES
 * @count: how many calls fail, at least 1
 * @err: the errno to return, in [-MAX_ERRNO, -1]
 *
 * Return: as fake_iommu_script().
 */
int fake_iommu_fail_next(struct kunit *test, struct iommu_domain *domain,
			 enum fake_iommu_op op, unsigned int count, int err)
{
	struct kunit_script_rule f = {
		.op = op, .kind = KUNIT_SCRIPT_NEXT, .count = count,
		.err = err,
	};

	return fake_iommu_script(test, domain, &f);
}
EXPORT_SYMBOL_GPL(fake_iommu_fail_next);

/**
 * fake_iommu_fail_range() - fail every call of @op overlapping a range
 * @test: the test
 * @domain: a paging domain of the fake driver
 * @op: FAKE_IOMMU_SYNC_MAP or FAKE_IOMMU_MAP_PAGES
 * @start: first IOVA of the range
 * @end: first IOVA after the range
 * @err: the errno to return, in [-MAX_ERRNO, -1]
 *
 * Return: as fake_iommu_script().
 */
int fake_iommu_fail_range(struct kunit *test, struct iommu_domain *domain,
			  enum fake_iommu_op op, unsigned long start,
			  unsigned long end, int err)
{
	struct kunit_script_rule f = {
		.op = op, .kind = KUNIT_SCRIPT_RANGE, .start = start,
		.end = end, .err = err,
	};

	return fake_iommu_script(test, domain, &f);
}
EXPORT_SYMBOL_GPL(fake_iommu_fail_range);

/**
 * fake_iommu_clear_faults() - drop every fault rule of a domain
 * @domain: a paging domain of the fake driver
 */
void fake_iommu_clear_faults(struct iommu_domain *domain)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);

	if (fd)
		kunit_script_clear(&fd->faults);
}
EXPORT_SYMBOL_GPL(fake_iommu_clear_faults);

/**
 * fake_iommu_lookup() - read the fake page table
 * @domain: a paging domain of the fake driver
 * @iova: any IOVA
 * @phys: if not NULL, set to the physical address @iova translates to
 * @pgsize: if not NULL, set to the size of the page mapping @iova
 * @prot: if not NULL, set to the IOMMU_* prot of that page
 *
 * Return: true if @iova is mapped.
 */
bool fake_iommu_lookup(struct iommu_domain *domain, unsigned long iova,
		       phys_addr_t *phys, size_t *pgsize, int *prot)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	unsigned long flags, head, val;
	bool found;

	if (!fd)
		return false;
	spin_lock_irqsave(&fd->lock, flags);
	found = fake_pte_find(fd, iova, &head, &val);
	spin_unlock_irqrestore(&fd->lock, flags);
	if (!found)
		return false;
	if (phys)
		*phys = fake_pte_phys(val) + (iova - head);
	if (pgsize)
		*pgsize = fake_pte_size(val);
	if (prot)
		*prot = FIELD_GET(FAKE_PTE_PROT, val);
	return true;
}
EXPORT_SYMBOL_GPL(fake_iommu_lookup);

/**
 * fake_iommu_mapped_pages() - count mapped granules in a range
 * @domain: a paging domain of the fake driver
 * @iova: first IOVA of the range
 * @size: length of the range; 0 means the whole address space (not on a
 *	generic_pt domain, whose table cannot be listed: ULONG_MAX and a WARN)
 *
 * Return: how many FAKE_IOMMU_GRANULE pieces of [@iova, @iova + @size) are
 * mapped, whatever the page sizes used.
 */
unsigned long fake_iommu_mapped_pages(struct iommu_domain *domain,
				      unsigned long iova, size_t size)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	unsigned long first = iova / FAKE_IOMMU_GRANULE;
	unsigned long last = size ? (iova + size - 1) / FAKE_IOMMU_GRANULE :
				    ULONG_MAX;
	unsigned long flags, index = 0, count = 0;
	void *e;

	if (!fd)
		return 0;
	if (domain->ops != &fake_iommu_domain_ops) {
		/* generic_pt's table: ask it, granule by granule. */
		if (WARN_ON(!size))
			return ULONG_MAX;
		for (index = first; index <= last; index++)
			count += !!iommu_iova_to_phys(domain, index * FAKE_IOMMU_GRANULE);
		return count;
	}
	spin_lock_irqsave(&fd->lock, flags);
	xa_for_each(&fd->ptes, index, e) {
		unsigned long n = fake_pte_size(xa_to_value(e)) /
				  FAKE_IOMMU_GRANULE;
		unsigned long lo = max(index, first);
		unsigned long hi = min(index + n - 1, last);

		if (lo <= hi)
			count += hi - lo + 1;
	}
	spin_unlock_irqrestore(&fd->lock, flags);
	return count;
}
EXPORT_SYMBOL_GPL(fake_iommu_mapped_pages);

/**
 * fake_iommu_nr_calls() - how many calls of @op the domain has seen
 * @domain: a paging domain of the fake driver
 * @op: the operation
 *
 * Counts every call since the domain was allocated or the record was last
 * reset, even those beyond the size of the call log.
 *
 * Return: the count.
 */
unsigned int fake_iommu_nr_calls(struct iommu_domain *domain,
				 enum fake_iommu_op op)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);

	if (!fd || op >= FAKE_IOMMU_NR_OPS)
		return 0;
	return READ_ONCE(fd->nr_calls[op]);
}
EXPORT_SYMBOL_GPL(fake_iommu_nr_calls);

/**
 * fake_iommu_get_call() - read the call log
 * @domain: a paging domain of the fake driver
 * @op: the operation, or FAKE_IOMMU_NR_OPS for calls of any operation
 * @idx: which one of those calls, 0 being the oldest
 *
 * Return: the record, or NULL if there is no such call in the log. The
 * record stays valid until the log is reset or the domain freed.
 */
const struct fake_iommu_call *fake_iommu_get_call(struct iommu_domain *domain,
						  enum fake_iommu_op op,
						  unsigned int idx)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	const struct fake_iommu_call *call = NULL;
	unsigned long flags;
	unsigned int i;

	if (!fd)
		return NULL;
	spin_lock_irqsave(&fd->lock, flags);
	for (i = 0; i < fd->log_len; i++) {
		if (op != FAKE_IOMMU_NR_OPS && fd->log[i].op != op)
			continue;
		if (!idx--) {
			call = &fd->log[i];
			break;
		}
	}
	spin_unlock_irqrestore(&fd->lock, flags);
	return call;
}
EXPORT_SYMBOL_GPL(fake_iommu_get_call);

/**
 * fake_iommu_reset_calls() - forget the calls recorded so far
 * @domain: a paging domain of the fake driver
 */
void fake_iommu_reset_calls(struct iommu_domain *domain)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	unsigned long flags;

	if (!fd)
		return;
	spin_lock_irqsave(&fd->lock, flags);
	memset(fd->nr_calls, 0, sizeof(fd->nr_calls));
	fd->log_len = 0;
	spin_unlock_irqrestore(&fd->lock, flags);
}
EXPORT_SYMBOL_GPL(fake_iommu_reset_calls);

/**
 * fake_iommu_set_shadow_limit() - put a shadowing hypervisor behind a domain
 * @domain: a paging domain of the fake driver
 * @limit: how many PTEs the hypervisor can shadow; 0 turns the model off
 *
 * From now on each device's refresh in sync_map shadows the mapped PTEs of
 * its range and fails with -ENOMEM when @limit entries are shadowed; a
 * global refresh, and an IOTLB flush, drop the entries no longer mapped.
 */
void fake_iommu_set_shadow_limit(struct iommu_domain *domain,
				 unsigned long limit)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	unsigned long flags;

	if (!fd)
		return;
	spin_lock_irqsave(&fd->lock, flags);
	fd->shadow.limit = limit;
	spin_unlock_irqrestore(&fd->lock, flags);
}
EXPORT_SYMBOL_GPL(fake_iommu_set_shadow_limit);

/**
 * fake_iommu_shadow_entries() - how many PTEs the hypervisor model shadows
 * @domain: a paging domain of the fake driver
 *
 * Return: the number of shadow entries, stale ones included.
 */
unsigned long fake_iommu_shadow_entries(struct iommu_domain *domain)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);

	return fd ? READ_ONCE(fd->shadow.count) : 0;
}
EXPORT_SYMBOL_GPL(fake_iommu_shadow_entries);

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
EXPORT_SYMBOL_GPL(fake_iommu_expect_mapped);

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
EXPORT_SYMBOL_GPL(fake_iommu_expect_unmapped);

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
EXPORT_SYMBOL_GPL(fake_iommu_expect_unmap_exactly);

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
EXPORT_SYMBOL_GPL(fake_iommu_map_neighbours);

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
EXPORT_SYMBOL_GPL(fake_iommu_expect_neighbours);

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
EXPORT_SYMBOL_GPL(fake_iommu_expect_one_sync_map);

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
 * running at that moment. generic_pt's table cannot be listed: on a
 * generic_pt domain the check unmaps whatever is left (straight through
 * generic_pt, so that the core's accounting of mappings does not see it)
 * and counts it.
 *
 * Return: true if nothing is mapped.
 */
bool fake_iommu_check_empty(struct kunit *test, struct iommu_domain *domain)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	unsigned long flags, first = 0, pages;

	if (!fd)
		return true;
#if IS_ENABLED(CONFIG_IOMMU_PT_AMDV1)
	if (domain->ops == &fake_iommu_pt_domain_ops) {
		struct pt_iommu *pt = &fd->amdv1.iommu;
		struct iommu_iotlb_gather gather;
		size_t left;

		iommu_iotlb_gather_init(&gather);
		left = pt->ops->unmap_range(pt, domain->geometry.aperture_start,
					    domain->geometry.aperture_end -
					    domain->geometry.aperture_start + 1,
					    &gather);
		iommu_put_pages_list(&gather.freelist);
		if (!left)
			return true;
		fake_report(test, "%zu bytes still mapped in the domain", left);
		return false;
	}
#endif
	spin_lock_irqsave(&fd->lock, flags);
	xa_find(&fd->ptes, &first, ULONG_MAX, XA_PRESENT);
	spin_unlock_irqrestore(&fd->lock, flags);
	pages = fake_iommu_mapped_pages(domain, 0, 0);
	if (!pages)
		return true;
	fake_report(test, "%lu page(s) still mapped in the domain, the first at IOVA %#lx",
		    pages, first * FAKE_IOMMU_GRANULE);
	return false;
}
EXPORT_SYMBOL_GPL(fake_iommu_check_empty);

/**
 * fake_iommu_take_misuse() - report the calls no real driver would accept
 * @test: the test to fail; NULL (no test running) WARNs instead
 * @domain: a paging domain of the fake driver
 *
 * Mapping over a mapping, unmapping what is not mapped (or part of a page),
 * and map requests outside the domain's page sizes or aperture are refused
 * by the fake as by a real driver, and counted. This fails @test with the
 * first of them and forgets them. It runs by itself when a fake domain is
 * freed, against the test running at that moment.
 *
 * Return: how many such calls there were.
 */
unsigned int fake_iommu_take_misuse(struct kunit *test,
				    struct iommu_domain *domain)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	unsigned long flags;
	unsigned int n;
	char msg[sizeof(fd->misuse_msg)];

	if (!fd)
		return 0;
	spin_lock_irqsave(&fd->lock, flags);
	n = fd->misuse;
	fd->misuse = 0;
	strscpy(msg, fd->misuse_msg);
	spin_unlock_irqrestore(&fd->lock, flags);
	if (n)
		fake_report(test, "%u call(s) no driver accepts, the first: %s",
			    n, msg);
	return n;
}
EXPORT_SYMBOL_GPL(fake_iommu_take_misuse);

static void fake_iommu_check_no_warn(void *data)
{
	struct kunit *test = data;

	KUNIT_EXPECT_FALSE_MSG(test, test_taint(TAINT_WARN),
			       "fake-iommu: the kernel WARNed during this case (see the log)");
}

/**
 * fake_iommu_test_init() - a suite's init: fail a case that makes the kernel WARN
 * @test: the case about to run
 *
 * The KUnit of these kernels does not fail a case on a WARN, and the kernel
 * only remembers that one happened (TAINT_WARN). So a case fails if the
 * kernel WARNs while it runs or during its cleanup, and also if it had
 * WARNed before, when the case could not see a WARN of its own.
 *
 * Return: 0.
 */
int fake_iommu_test_init(struct kunit *test)
{
	KUNIT_EXPECT_FALSE_MSG(test, test_taint(TAINT_WARN),
			       "fake-iommu: the kernel WARNed before this case, which cannot see its own WARNs");
	/* Registered first, so it runs last, after every other cleanup. */
	return kunit_add_action_or_reset(test, fake_iommu_check_no_warn, test);
}
EXPORT_SYMBOL_GPL(fake_iommu_test_init);

static int __init fake_iommu_init(void)
{
	struct fwnode_handle *fwnode;
	int rc;

	rc = bus_register(&fake_iommu_bus);
	if (rc)
		return rc;
	rc = iommu_device_sysfs_add(&fake_iommu.iommu, NULL, NULL, "fake-iommu");
	if (rc)
		goto err_bus;

	/*
	 * Devices on our bus carry a fwspec naming this fwnode, so the core
	 * never hands them to another IOMMU driver (nor ours theirs). Newer
	 * kernels give a bus-registered IOMMU a fwnode of their own; then
	 * ours is not needed.
	 */
	fwnode = fwnode_create_software_node(NULL, NULL);
	if (IS_ERR(fwnode)) {
		rc = PTR_ERR(fwnode);
		goto err_sysfs;
	}
	fake_iommu.iommu.fwnode = fwnode;
	rc = iommu_device_register_bus(&fake_iommu.iommu, &fake_iommu_ops,
				       &fake_iommu_bus, &fake_iommu.nb);
	if (rc)
		goto err_fwnode;
	if (fake_iommu.iommu.fwnode != fwnode)
		fwnode_remove_software_node(fwnode);
	return 0;

err_fwnode:
	fwnode_remove_software_node(fwnode);
err_sysfs:
	iommu_device_sysfs_remove(&fake_iommu.iommu);
err_bus:
	bus_unregister(&fake_iommu_bus);
	return rc;
}
device_initcall(fake_iommu_init);
/**
 * fake_iommu_swiotlb_used() - swiotlb slots taken, for bounce-buffer checks
 * @dev: the device whose swiotlb pool to look at
 *
 * swiotlb's own count of the slots in use, which debugfs reports. swiotlb
 * keeps it with CONFIG_DEBUG_FS only, and since 7.3 only when booted with
 * swiotlb=...,track_hiwater: a test that bounces should see the count rise,
 * so that a kernel that does not count fails it instead of passing.
 *
 * Return: the slots of @dev's pool in use, or 0 if swiotlb does not count.
 */
long fake_iommu_swiotlb_used(struct device *dev)
{
#if IS_ENABLED(CONFIG_SWIOTLB) && defined(CONFIG_DEBUG_FS)
	if (dev->dma_io_tlb_mem)
		return atomic_long_read(&dev->dma_io_tlb_mem->total_used);
#endif
	return 0;
}
EXPORT_SYMBOL_GPL(fake_iommu_swiotlb_used);

/**
 * fake_iommu_expect_bounced() - check that a DMA range maps a bounce buffer
 * @test: the test, which fails if it does not
 * @dev: a device from fake_iommu_add_device() with
 *	&fake_iommu_dev_opts.untrusted_pci
 * @iova: the first DMA address of the range
 * @buf: the caller's bytes the range stands for
 * @size: the length of the range
 *
 * The range must translate, in @dev's domain, to one contiguous slot of
 * @dev's swiotlb pool that holds a copy of @buf.
 */
void fake_iommu_expect_bounced(struct kunit *test, struct device *dev,
			       dma_addr_t iova, const void *buf, size_t size)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(dev);
	phys_addr_t phys = iommu_iova_to_phys(domain, iova);

#if IS_ENABLED(CONFIG_SWIOTLB)
	KUNIT_ASSERT_NOT_NULL_MSG(test, swiotlb_find_pool(dev, phys),
				  "IOVA %pad maps %pa, not a swiotlb slot",
				  &iova, &phys);
#else
	KUNIT_FAIL_AND_ABORT(test, "no swiotlb in this kernel");
#endif
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, iova + size - 1),
			phys + size - 1);
	KUNIT_EXPECT_MEMEQ(test, phys_to_virt(phys), buf, size);
}
EXPORT_SYMBOL_GPL(fake_iommu_expect_bounced);

#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
/*
 * The knobs tools/testing/selftests/iommu/iommufd_fail_nth.c sets from user
 * space, so that current->fail_nth reaches every allocation: by default
 * failslab and fail_page_alloc skip sleeping, highmem and order-0
 * allocations, which is nearly all of dma-iommu's.
 */
static const struct {
	const char *path, *sweep, *dflt;
} fault_knobs[] = {
	{ "failslab/ignore-gfp-wait", "N", "Y" },
	{ "failslab/verbose", "0", "2" },
	{ "fail_page_alloc/ignore-gfp-wait", "N", "Y" },
	{ "fail_page_alloc/ignore-gfp-highmem", "N", "Y" },
	{ "fail_page_alloc/min-order", "0", "1" },
	{ "fail_page_alloc/verbose", "0", "2" },
};

/*
 * Writes the knobs through debugfs, mounted here as nothing mounts it in a
 * KUnit kernel. debugfs attributes only take user buffers: the strings go
 * through a KUnit-managed user mapping.
 */
static void fake_set_fault_knobs(struct kunit *test, bool sweep)
{
	struct file_system_type *fs = get_fs_type("debugfs");
	unsigned long ubuf;
	struct vfsmount *mnt;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, fs);
	ubuf = kunit_vm_mmap(test, NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_ANONYMOUS | MAP_PRIVATE, 0);
	KUNIT_ASSERT_NE_MSG(test, ubuf, 0, "no user mapping for the knobs");
	mnt = kern_mount(fs);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, mnt);
	for (i = 0; i < ARRAY_SIZE(fault_knobs); i++) {
		const char *val = sweep ? fault_knobs[i].sweep : fault_knobs[i].dflt;
		struct file *f;
		loff_t pos = 0;
		ssize_t n = -EFAULT;

		f = file_open_root_mnt(mnt, fault_knobs[i].path, O_WRONLY, 0);
		if (IS_ERR(f)) {
			n = PTR_ERR(f);
		} else {
			if (!copy_to_user((void __user *)ubuf, val, strlen(val)))
				n = f->f_op->write(f, (const char __user *)ubuf,
						   strlen(val), &pos);
			fput(f);
		}
		KUNIT_EXPECT_EQ_MSG(test, n, (ssize_t)strlen(val),
				    "setting %s to %s", fault_knobs[i].path, val);
	}
	kern_unmount(mnt);
}

static void fake_restore_fault_knobs(void *test)
{
	fake_set_fault_knobs(test, false);
}

/**
 * fake_iommu_enable_fail_nth() - let current->fail_nth fail any allocation
 * @test: the test; the knobs go back to their defaults when it ends
 *
 * Sets the fault-injection knobs that, by default, keep failslab and
 * fail_page_alloc away from sleeping, highmem and order-0 allocations, so
 * that a test's fail_nth sweep reaches every allocation site. Skips the
 * test if the kernel lacks CONFIG_FAULT_INJECTION_DEBUG_FS, CONFIG_FAILSLAB
 * or CONFIG_FAIL_PAGE_ALLOC.
 */
void fake_iommu_enable_fail_nth(struct kunit *test)
{
	fake_set_fault_knobs(test, true);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, fake_restore_fault_knobs,
							test), 0);
}

/**
 * fake_iommu_arm_fail_nth() - fail the test task's nth allocation from now
 * @n: which allocation; 1 is the next one
 *
 * With fake_iommu_enable_fail_nth() in force, the nth slab or page
 * allocation the task makes fails (current->fail_nth).
 */
void fake_iommu_arm_fail_nth(unsigned int n)
{
	WRITE_ONCE(current->fail_nth, n);
}
EXPORT_SYMBOL_GPL(fake_iommu_arm_fail_nth);

/**
 * fake_iommu_disarm_fail_nth() - stop failing the test task's allocations
 *
 * Return: how many allocations were still to come before the one that was
 * to fail: 0 if it did (or the operation absorbed it), more if the task
 * made fewer than n allocations since fake_iommu_arm_fail_nth().
 */
unsigned int fake_iommu_disarm_fail_nth(void)
{
	unsigned int left = READ_ONCE(current->fail_nth);

	WRITE_ONCE(current->fail_nth, 0);
	return left;
}
EXPORT_SYMBOL_GPL(fake_iommu_disarm_fail_nth);

/**
 * fake_iommu_fail_nth_past_end() - has a fail_nth sweep passed the last site?
 * @past_end: the sweep's own count, 0 at the start
 * @left: what fake_iommu_disarm_fail_nth() returned for this run
 *
 * A sweep fails allocation 1, 2, ... of an operation until the operation
 * makes fewer than n allocations. How many it makes varies a little from run
 * to run, as some are refills (a slab cache taking a new page, depending on
 * what was freed, and when, before): a sweep that stopped at the first run
 * that ended early could step over the last sites, which are often the only
 * ones that fail the operation. It stops after %FAKE_IOMMU_FAIL_NTH_TAIL
 * such runs in a row instead.
 *
 * Return: true once the sweep is done.
 */
bool fake_iommu_fail_nth_past_end(unsigned int *past_end, unsigned int left)
{
	*past_end = left ? *past_end + 1 : 0;
	return *past_end >= FAKE_IOMMU_FAIL_NTH_TAIL;
}
EXPORT_SYMBOL_GPL(fake_iommu_fail_nth_past_end);
#else
void fake_iommu_enable_fail_nth(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_FAULT_INJECTION_DEBUG_FS, FAILSLAB and FAIL_PAGE_ALLOC");
}
#endif
EXPORT_SYMBOL_GPL(fake_iommu_enable_fail_nth);
