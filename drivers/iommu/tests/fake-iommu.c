// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fake IOMMU driver for KUnit tests.
 *
 * A real struct iommu_device, registered with the IOMMU core on a bus of its
 * own, so that the devices tests put on that bus are probed, grouped and
 * given default domains by the real core, exactly as a hardware driver's
 * devices are. They are added with iommu_mock_device_add(), so their
 * fwspec names the fake IOMMU and no other driver ever probes them.
 *
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
 * This file is the driver; what tests call to set it up and to check it is
 * in fake-iommu-test.c and fake-iommu-expect.c. Test-only: it depends on
 * KUNIT and is selected by the KUnit tests that use it.
 */
#include <kunit/script.h>
#include <linux/bitfield.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/iommu.h>
#include <linux/iommu-sync-map.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>

#include "../iommu-priv.h"
#include "fake-iommu-priv.h"

/*
 * Like a real driver, map_pages allocates the tables a mapping needs, pages
 * from the page allocator with the gfp the core gives it, the first time:
 * a level-1 table per 1G of IOVA for any page under 1G, and a leaf table
 * per 2M for pages under 2M. They go with the domain.
 */
static const unsigned long fake_table_spans[] = { SZ_1G, SZ_2M };

/* A page table entry: a value entry stored at the IOVA granule of its head. */
#define FAKE_PTE_PROT		GENMASK(5, 0)
#define FAKE_PTE_ORDER		GENMASK(10, 6)
#define FAKE_PTE_PFN_SHIFT	11

/* Every fake device, by its ID. */
static DEFINE_XARRAY_ALLOC(fake_iommu_devs);

struct iommu_device fake_iommu_device;
static struct notifier_block fake_iommu_nb;

static const struct bus_type fake_iommu_bus = {
	.name = "fake_iommu",
};

static const struct iommu_ops fake_iommu_ops;

void (*fake_iommu_domain_free_hook)(struct iommu_domain *domain);

struct fake_iommu_domain *to_fake_domain(struct iommu_domain *domain)
{
	if (!domain || domain->owner != &fake_iommu_ops ||
	    !(domain->type & __IOMMU_DOMAIN_PAGING))
		return NULL;
	return container_of(domain, struct fake_iommu_domain, domain);
}

/* The fake device behind @dev, by its pointer. */
static struct fake_iommu_dev *fake_iommu_find_dev(const void *dev)
{
	struct fake_iommu_dev *fdev;
	unsigned long id;

	xa_for_each(&fake_iommu_devs, id, fdev)
		if (fdev->dev == dev)
			return fdev;
	return NULL;
}

/* Whether @obj is a device of the fake IOMMU. */
bool fake_iommu_is_dev(const void *obj)
{
	return obj && fake_iommu_find_dev(obj);
}

/*
 * A device of the fake IOMMU, found as a real driver finds its own: by the
 * IOMMU its fwspec names, and the driver data probe_device gave it. NULL for
 * any other device, and for one the core has released.
 */
static struct fake_iommu_dev *to_fake_dev(struct device *dev)
{
	struct iommu_fwspec *fwspec = dev ? dev_iommu_fwspec_get(dev) : NULL;

	if (!fwspec || fwspec->iommu_fwnode != fake_iommu_device.fwnode)
		return NULL;
	return dev_iommu_priv_get(dev);
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

/*
 * The IOTLB model: what unmap_pages takes out of the table stays usable
 * by a device until an iotlb_sync covering it, or a flush of everything
 * (a flush queue's), says otherwise. Mapping such a range again before
 * that, or freeing a domain that is not a flush queue's with such a range
 * left, is a missed flush: a device could reach the old pages. Caller
 * holds fd->lock.
 */
static void fake_stale_append(struct fake_iommu_domain *fd,
			      unsigned long start, unsigned long end)
{
	if (fd->nr_stale == ARRAY_SIZE(fd->stale)) {
		fd->stale_lost = true;
		return;
	}
	fd->stale[fd->nr_stale].start = start;
	fd->stale[fd->nr_stale++].end = end;
}

static void fake_stale_add(struct fake_iommu_domain *fd, unsigned long start,
			   unsigned long end)
{
	unsigned int i;

	for (i = 0; i < fd->nr_stale; i++) {
		if (fd->stale[i].end == start) {
			fd->stale[i].end = end;
			return;
		}
		if (fd->stale[i].start == end) {
			fd->stale[i].start = start;
			return;
		}
	}
	fake_stale_append(fd, start, end);
}

/* An IOTLB sync of [start, end): what it covers is no longer stale. */
static void fake_stale_flush(struct fake_iommu_domain *fd, unsigned long start,
			     unsigned long end)
{
	unsigned int i = 0;

	while (i < fd->nr_stale) {
		struct fake_stale_range *r = &fd->stale[i];

		if (r->end <= start || r->start >= end) {
			i++;
		} else if (r->start < start && r->end > end) {
			unsigned long tail = r->end;

			r->end = start;
			fake_stale_append(fd, end, tail);
			i++;
		} else if (r->start < start) {
			r->end = start;
			i++;
		} else if (r->end > end) {
			r->start = end;
			i++;
		} else {
			*r = fd->stale[--fd->nr_stale];
		}
	}
}

static void fake_stale_flush_all(struct fake_iommu_domain *fd)
{
	fd->nr_stale = 0;
	fd->stale_lost = false;
}

/* The first stale range that overlaps [start, end), or NULL. */
static const struct fake_stale_range *
fake_stale_find(struct fake_iommu_domain *fd, unsigned long start,
		unsigned long end)
{
	unsigned int i;

	for (i = 0; i < fd->nr_stale; i++)
		if (fd->stale[i].start < end && fd->stale[i].end > start)
			return &fd->stale[i];
	return NULL;
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
	const struct fake_stale_range *stale;
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

	stale = fake_stale_find(fd, iova, iova + pgsize * pgcount);
	if (stale)
		fake_misuse(fd, "map_pages at %#lx over [%#lx, %#lx): IOTLB not flushed",
			    iova, stale->start, stale->end);

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
	if (done)
		fake_stale_add(fd, iova, iova + done);
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

int fake_iommu_iotlb_sync_map(struct iommu_domain *domain, unsigned long iova,
			      size_t size)
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

void fake_iommu_iotlb_sync(struct iommu_domain *domain,
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
	if (size)
		fake_stale_flush(fd, gather->start, gather->start + size);
	/* As s390 does: a RPCIT of the unmapped range tells the hypervisor. */
	if (size && !list_empty(&fd->devices))
		fake_shadow_refresh_range(fd, gather->start, size);
	spin_unlock_irqrestore(&fd->lock, flags);
}

void fake_iommu_flush_iotlb_all(struct iommu_domain *domain)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	unsigned long flags;

	spin_lock_irqsave(&fd->lock, flags);
	fake_record(fd, FAKE_IOMMU_FLUSH_ALL, 0, 0, 0, 0, 0);
	fake_stale_flush_all(fd);
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

int fake_iommu_attach_dev(struct iommu_domain *domain, struct device *dev,
			  struct iommu_domain *old)
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

void fake_iommu_domain_free(struct iommu_domain *domain)
{
	struct fake_iommu_domain *fd = to_fake_domain(domain);
	unsigned long index, flags;
	void *table;

	WARN_ON(!list_empty(&fd->devices));
	/* A flush queue's domain may go with unmaps it never flushed. */
	spin_lock_irqsave(&fd->lock, flags);
	if (fd->nr_stale && domain->type != IOMMU_DOMAIN_DMA_FQ)
		fake_misuse(fd, "freed with [%#lx, %#lx) unmapped, IOTLB not flushed",
			    fd->stale[0].start, fd->stale[0].end);
	spin_unlock_irqrestore(&fd->lock, flags);
	if (fake_iommu_domain_free_hook)
		fake_iommu_domain_free_hook(domain);
	xa_destroy(&fd->ptes);
	fake_shadow_destroy(&fd->shadow);
	xa_for_each(&fd->tables, index, table)
		free_page((unsigned long)table);
	xa_destroy(&fd->tables);
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
	fd->domain.ops = &fake_iommu_domain_ops;
	fd->domain.pgsize_bitmap = FAKE_IOMMU_GRANULE;
	fd->domain.geometry.aperture_end = SZ_4G - 1;
	fd->domain.geometry.force_aperture = true;
	if (fdev) {
		if (fdev->opts.pgsize_bitmap)
			fd->domain.pgsize_bitmap = fdev->opts.pgsize_bitmap;
		fd->domain.geometry.aperture_start = fdev->opts.aperture_start;
		if (fdev->opts.aperture_end)
			fd->domain.geometry.aperture_end = fdev->opts.aperture_end;
	}
	return &fd->domain;
}

static struct iommu_device *fake_iommu_probe_device(struct device *dev)
{
	struct fake_iommu_dev *fdev = fake_iommu_find_dev(dev);

	if (!fdev)
		return ERR_PTR(-ENODEV);
	dev_iommu_priv_set(dev, fdev);
	dev->iommu->shadow_on_flush = fdev->opts.shadow_on_flush;
	return &fake_iommu_device;
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
	fake_iommu_dev_free(container_of(dev, struct fake_iommu_dev, own_dev));
}

static int fake_iommu_init_bus_dev(struct fake_iommu_dev *fdev)
{
	struct device *dev = &fdev->own_dev;

	device_initialize(dev);
	dev->release = fake_iommu_dev_release;
	dev->bus = &fake_iommu_bus;
	fdev->dma_mask = DMA_BIT_MASK(64);
	dev->dma_mask = &fdev->dma_mask;
	dev->coherent_dma_mask = DMA_BIT_MASK(64);
	fdev->dev = dev;
	return dev_set_name(dev, "fake_iommu_dev%u", fdev->id);
}

/* Drops a device that is not (or no longer) added, and all it has. */
static void fake_iommu_put_dev(struct fake_iommu_dev *fdev)
{
	if (!fdev->dev) {
		fake_iommu_dev_free(fdev);
		return;
	}
	/* The device's release frees @fdev. */
	put_device(fdev->dev);
}

/**
 * fake_iommu_dev_create() - add a device behind the fake IOMMU
 * @opts: how the device and its domains look, or NULL for the defaults
 *
 * Adds a device to the fake IOMMU's bus with iommu_mock_device_add(), so
 * that the IOMMU
 * core probes it with the fake driver and no other, puts it in a group of
 * its own and attaches the default domain it picks. Remove it with
 * fake_iommu_dev_destroy().
 *
 * Return: the device, or an ERR_PTR() if adding it failed.
 */
struct device *fake_iommu_dev_create(const struct fake_iommu_dev_opts *opts)
{
	struct fake_iommu_dev *fdev;
	int rc;

	fdev = kzalloc_obj(*fdev);
	if (!fdev)
		return ERR_PTR(-ENOMEM);
	if (opts)
		fdev->opts = *opts;
	rc = xa_alloc(&fake_iommu_devs, &fdev->id, fdev, xa_limit_32b,
		      GFP_KERNEL);
	if (rc) {
		kfree(fdev);
		return ERR_PTR(rc);
	}
	rc = fake_iommu_init_bus_dev(fdev);
	if (!rc)
		rc = iommu_mock_device_add(fdev->dev, &fake_iommu_device);
	if (rc) {
		fake_iommu_put_dev(fdev);
		return ERR_PTR(rc);
	}
	return fdev->dev;
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_dev_create, "IOMMU_FAKE");

/**
 * fake_iommu_dev_destroy() - remove a device fake_iommu_dev_create() added
 * @dev: the device
 */
void fake_iommu_dev_destroy(struct device *dev)
{
	struct fake_iommu_dev *fdev = fake_iommu_find_dev(dev);

	if (WARN_ON(!fdev))
		return;
	device_del(dev);
	fake_iommu_put_dev(fdev);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_dev_destroy, "IOMMU_FAKE");

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
EXPORT_SYMBOL_NS_GPL(fake_iommu_clear_faults, "IOMMU_FAKE");

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
EXPORT_SYMBOL_NS_GPL(fake_iommu_lookup, "IOMMU_FAKE");

/**
 * fake_iommu_mapped_pages() - count mapped granules in a range
 * @domain: a paging domain of the fake driver
 * @iova: first IOVA of the range
 * @size: length of the range; 0 means the whole address space
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
EXPORT_SYMBOL_NS_GPL(fake_iommu_mapped_pages, "IOMMU_FAKE");

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
EXPORT_SYMBOL_NS_GPL(fake_iommu_nr_calls, "IOMMU_FAKE");

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
EXPORT_SYMBOL_NS_GPL(fake_iommu_get_call, "IOMMU_FAKE");

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
EXPORT_SYMBOL_NS_GPL(fake_iommu_reset_calls, "IOMMU_FAKE");

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
EXPORT_SYMBOL_NS_GPL(fake_iommu_set_shadow_limit, "IOMMU_FAKE");

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
EXPORT_SYMBOL_NS_GPL(fake_iommu_shadow_entries, "IOMMU_FAKE");

/*
 * The calls no real driver would accept since the last time, and the first
 * of them in @msg; forgets them.
 */
unsigned int fake_iommu_pop_misuse(struct fake_iommu_domain *fd, char *msg,
				   size_t len)
{
	unsigned long flags;
	unsigned int n;

	spin_lock_irqsave(&fd->lock, flags);
	n = fd->misuse;
	fd->misuse = 0;
	strscpy(msg, fd->misuse_msg, len);
	spin_unlock_irqrestore(&fd->lock, flags);
	return n;
}

/* The first mapped IOVA of a domain on the fake's own table. */
unsigned long fake_iommu_first_mapped(struct fake_iommu_domain *fd)
{
	unsigned long flags, first = 0;

	spin_lock_irqsave(&fd->lock, flags);
	xa_find(&fd->ptes, &first, ULONG_MAX, XA_PRESENT);
	spin_unlock_irqrestore(&fd->lock, flags);
	return first * FAKE_IOMMU_GRANULE;
}

static int __init fake_iommu_init(void)
{
	int rc;

	rc = bus_register(&fake_iommu_bus);
	if (rc)
		return rc;
	rc = iommu_device_sysfs_add(&fake_iommu_device, NULL, NULL,
				    "fake-iommu");
	if (rc)
		goto err_bus;
	/* It gives the IOMMU a fwnode, which the devices' fwspecs name. */
	rc = iommu_device_register_bus(&fake_iommu_device, &fake_iommu_ops,
				       &fake_iommu_bus, &fake_iommu_nb);
	if (rc)
		goto err_sysfs;
	return 0;

err_sysfs:
	iommu_device_sysfs_remove(&fake_iommu_device);
err_bus:
	bus_unregister(&fake_iommu_bus);
	return rc;
}
device_initcall(fake_iommu_init);
