/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The scenarios of iommu_sync_map_refresh(), the iotlb_sync_map logic of
 * s390 and the fake IOMMU driver, written once for the three suites that
 * run it: iommu_sync_map runs it directly with stub callbacks and through
 * the fake driver's iotlb_sync_map, iommu_s390 through s390's with
 * scripted RPCITs. Each scenario is the refreshes the logic must make, in
 * order, with what each one answers; a refresh past them answers 0.
 */
#ifndef __IOMMU_SYNC_MAP_CASES_H
#define __IOMMU_SYNC_MAP_CASES_H

#include <kunit/test.h>
#include <linux/errno.h>
#include <linux/minmax.h>
#include <linux/types.h>

#define IOMMU_SYNC_MAP_MAX_DEVS		3
#define IOMMU_SYNC_MAP_MAX_CALLS	4

/**
 * struct iommu_sync_map_refresh - a refresh of one device
 * @dev: the index of the device, in the order of the domain's list
 * @all: a refresh of the device's whole aperture, not of the new range
 * @ret: what the refresh answers (what the test scripts)
 */
struct iommu_sync_map_refresh {
	u8 dev;
	bool all;
	int ret;
};

/**
 * struct iommu_sync_map_case - a scenario of iommu_sync_map_refresh()
 * @name: the name of the parameterised case
 * @nr_devs: how many devices the domain has
 * @calls: the refreshes it must make, in order, with their answers
 * @nr_calls: how many of @calls
 * @ret: what it must return (and iotlb_sync_map, and iommu_map())
 */
struct iommu_sync_map_case {
	const char *name;
	int nr_devs;
	struct iommu_sync_map_refresh calls[IOMMU_SYNC_MAP_MAX_CALLS];
	int nr_calls;
	int ret;
};

#define R(d)		{ .dev = (d) }
#define R_ERR(d, e)	{ .dev = (d), .ret = (e) }
#define ALL(d)		{ .dev = (d), .all = true }
#define ALL_ERR(d, e)	{ .dev = (d), .all = true, .ret = (e) }

static const struct iommu_sync_map_case iommu_sync_map_cases[] = {
	{ "one_device", 1, { R(0) }, 1, 0 },
	{ "two_devices", 2, { R(0), R(1) }, 2, 0 },
	{ "three_devices", 3, { R(0), R(1), R(2) }, 3, 0 },
	{ "ENOMEM_then_global_ok", 1,
	  { R_ERR(0, -ENOMEM), ALL(0) }, 2, 0 },
	{ "ENOMEM_then_global_fails", 1,
	  { R_ERR(0, -ENOMEM), ALL_ERR(0, -ENOMEM) }, 2, -ENOMEM },
	/* The global refresh's own error, not the range's. */
	{ "ENOMEM_then_global_EIO", 1,
	  { R_ERR(0, -ENOMEM), ALL_ERR(0, -EIO) }, 2, -EIO },
	{ "EIO_no_global_refresh", 1, { R_ERR(0, -EIO) }, 1, -EIO },
	{ "ENOMEM_on_second_device", 2,
	  { R(0), R_ERR(1, -ENOMEM), ALL(1) }, 3, 0 },
	{ "ENOMEM_on_both_devices", 2,
	  { R_ERR(0, -ENOMEM), ALL(0), R_ERR(1, -ENOMEM), ALL(1) }, 4, 0 },
	{ "ENOMEM_twice_on_first_of_two_devices", 2,
	  { R_ERR(0, -ENOMEM), ALL_ERR(0, -ENOMEM) }, 2, -ENOMEM },
	/* s390's loop before its fix let the second device's success hide this. */
	{ "EIO_on_first_of_two_devices", 2, { R_ERR(0, -EIO) }, 1, -EIO },
	{ "EIO_on_second_device", 2, { R(0), R_ERR(1, -EIO) }, 2, -EIO },
	{ "EIO_on_last_of_three_devices", 3,
	  { R(0), R(1), R_ERR(2, -EIO) }, 3, -EIO },
};

#undef R
#undef R_ERR
#undef ALL
#undef ALL_ERR

/*
 * What the @n-th refresh (from 0) of scenario @c answers, whichever device
 * it is for: refreshes are answered in call order, as RPCITs are.
 */
static inline int iommu_sync_map_answer(const struct iommu_sync_map_case *c,
					int n)
{
	return n < c->nr_calls ? c->calls[n].ret : 0;
}

/*
 * The refreshes @got (@nr_got of them, each with the answer it got) are
 * exactly those of scenario @c, in order.
 */
static inline void
iommu_sync_map_expect_calls(struct kunit *test,
			    const struct iommu_sync_map_case *c,
			    const struct iommu_sync_map_refresh *got, int nr_got)
{
	int i;

	KUNIT_EXPECT_EQ_MSG(test, nr_got, c->nr_calls, "refreshes made");
	for (i = 0; i < min(nr_got, c->nr_calls); i++) {
		KUNIT_EXPECT_EQ_MSG(test, got[i].dev, c->calls[i].dev,
				    "refresh #%d: device", i);
		KUNIT_EXPECT_EQ_MSG(test, got[i].all, c->calls[i].all,
				    "refresh #%d: of the whole aperture", i);
		KUNIT_EXPECT_EQ_MSG(test, got[i].ret, c->calls[i].ret,
				    "refresh #%d: answer", i);
	}
}

#endif /* __IOMMU_SYNC_MAP_CASES_H */
