// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fake IOMMU driver's untrusted PCI function (&fake_iommu_dev_opts
 * .untrusted_pci), for dma-iommu's swiotlb paths: a PCI function marked
 * untrusted, as external ones are, on a fake PCI host bridge of its own.
 * dma-iommu gives it a strict DMA domain and bounces, through swiotlb, every
 * buffer that does not fill whole IOMMU granules.
 *
 * x86 only (x86 takes the PCI domain from struct pci_sysdata); built with
 * CONFIG_PCI on x86.
 */
#include <kunit/test.h>
#include <linux/dma-mapping.h>
#include <linux/init.h>
#include <linux/iommu.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>

#include "fake-iommu-priv.h"
#include "fake-iommu-pci.h"

/*
 * A PCI host bridge of its own for each fake PCI function: no window, no
 * DMA range, no ACPI companion, and no function answering in its config
 * space, in an emulated PCI domain (above the 16-bit segment numbers
 * firmware gives real ones, as VMD's).
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

static void fake_pci_host_free(struct fake_iommu_pci_host *host)
{
	pci_bus_release_emul_domain_nr(host->sd.domain);
	kfree(host);
}

void fake_iommu_pci_host_remove(struct fake_iommu_pci_host *host)
{
	struct device *bridge = host->bus->bridge;

	pci_lock_rescan_remove();
	pci_stop_root_bus(host->bus);
	pci_remove_root_bus(host->bus);
	pci_unlock_rescan_remove();
	/* pci_remove_root_bus() deletes the bridge; its creator puts it. */
	put_device(bridge);
	fake_pci_host_free(host);
}

static void fake_pci_release(struct device *dev)
{
	struct pci_dev *pdev = to_pci_dev(dev);

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
int fake_iommu_init_pci_dev(struct fake_iommu_dev *fdev)
{
	struct fake_iommu_pci_host *host;
	struct pci_dev *pdev;
	LIST_HEAD(resources);
	struct device *dev;
	int domain;

	host = kzalloc_obj(*host);
	if (!host)
		return -ENOMEM;
	domain = pci_bus_find_emul_domain_nr(0, 0x10000, INT_MAX);
	if (domain < 0) {
		kfree(host);
		return domain;
	}
	host->sd.domain = domain;
	host->sd.node = NUMA_NO_NODE;
	host->bus = pci_create_root_bus(NULL, 0, &fake_pci_ops, &host->sd,
					&resources);
	if (!host->bus) {
		fake_pci_host_free(host);
		return -ENOMEM;
	}
	pdev = pci_alloc_dev(host->bus);
	if (!pdev) {
		fake_iommu_pci_host_remove(host);
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

#define FAKE_SWIOTLB_OFF \
	"swiotlb is off: boot with swiotlb=2048,force,track_hiwater (kunit.py --kernel_args)"
#define FAKE_SWIOTLB_UNCOUNTED \
	"swiotlb does not count its slots: it needs CONFIG_DEBUG_FS and booting with swiotlb=...,track_hiwater (kunit.py --kernel_args)"

/*
 * Why dma-iommu's swiotlb paths cannot be checked on @dev, or NULL if they
 * can: x86 below 4G sets swiotlb up only when told to, and the checks read
 * swiotlb's count of the slots in use, which it keeps with CONFIG_DEBUG_FS
 * only, and only when booted with track_hiwater. So a small
 * buffer is bounced once, to see the count rise.
 */
const char *fake_iommu_swiotlb_missing(struct device *dev)
{
	long before, during;
	dma_addr_t addr;
	u8 *buf;

	if (!is_swiotlb_active(dev))
		return FAKE_SWIOTLB_OFF;
	buf = kmalloc(64, GFP_KERNEL);
	if (!buf)
		return "no memory to try swiotlb";
	before = fake_iommu_swiotlb_used(dev);
	addr = dma_map_single(dev, buf + 1, 8, DMA_TO_DEVICE);
	if (dma_mapping_error(dev, addr)) {
		kfree(buf);
		return "a bounced mapping failed";
	}
	during = fake_iommu_swiotlb_used(dev);
	dma_unmap_single(dev, addr, 8, DMA_TO_DEVICE);
	kfree(buf);
	if (during <= before)
		return FAKE_SWIOTLB_UNCOUNTED;
	return NULL;
}

/**
 * fake_iommu_swiotlb_used() - swiotlb slots taken, for bounce-buffer checks
 * @dev: the device whose swiotlb pool to look at
 *
 * swiotlb's own count of the slots in use, which debugfs reports.
 * fake_iommu_add_device() skips a test whose untrusted PCI function would
 * see no count.
 *
 * Return: the slots of @dev's pool in use.
 */
long fake_iommu_swiotlb_used(struct device *dev)
{
#ifdef CONFIG_DEBUG_FS
	if (dev->dma_io_tlb_mem)
		return atomic_long_read(&dev->dma_io_tlb_mem->total_used);
#endif
	return 0;
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_swiotlb_used, "IOMMU_FAKE");

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

	KUNIT_ASSERT_NOT_NULL_MSG(test, swiotlb_find_pool(dev, phys),
				  "IOVA %pad maps %pa, not a swiotlb slot",
				  &iova, &phys);
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, iova + size - 1),
			phys + size - 1);
	KUNIT_EXPECT_MEMEQ(test, phys_to_virt(phys), buf, size);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_expect_bounced, "IOMMU_FAKE");
