/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * current->fail_nth sweeps for KUnit tests of the fake IOMMU driver's users
 * (fake-iommu-sweep.c): fail an operation's allocations one at a time.
 */
#ifndef __FAKE_IOMMU_SWEEP_H
#define __FAKE_IOMMU_SWEEP_H

#include <kunit/test.h>

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

#endif /* __FAKE_IOMMU_SWEEP_H */
