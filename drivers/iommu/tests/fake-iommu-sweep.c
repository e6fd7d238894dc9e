// SPDX-License-Identifier: GPL-2.0-only
/*
 * current->fail_nth sweeps for KUnit tests of the fake IOMMU driver's users:
 * fail an operation's 1st, 2nd, ... allocation, one per run, until the runs
 * make fewer allocations than the one they were to fail, as
 * tools/testing/selftests/iommu/iommufd_fail_nth.c does from user space.
 *
 * Built with CONFIG_FAULT_INJECTION_DEBUG_FS (fake-iommu.h has stubs that
 * skip the test otherwise).
 */
#include <kunit/test.h>
#include <kunit/test-bug.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mman.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "fake-iommu.h"
#include "fake-iommu-sweep.h"

/*
 * The knobs iommufd_fail_nth sets, so that current->fail_nth reaches every
 * allocation: by default failslab and fail_page_alloc skip sleeping, highmem
 * and order-0 allocations, which is nearly all of dma-iommu's and of the
 * IOMMU drivers'. Their attributes are static in mm/failslab.c and
 * mm/fail_page_alloc.c, with debugfs as their only interface: so the test
 * writes them there, and puts back the values it found when it ends.
 */
static const struct {
	const char *path, *sweep;
} fake_knobs[] = {
	{ "failslab/ignore-gfp-wait", "N" },
	{ "failslab/verbose", "0" },
	{ "fail_page_alloc/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/ignore-gfp-highmem", "N" },
	{ "fail_page_alloc/min-order", "0" },
	{ "fail_page_alloc/verbose", "0" },
};

#define FAKE_KNOB_LEN	16

struct fake_knobs_saved {
	struct kunit *test;
	/* What each knob held before the test, "" if it was not read. */
	char old[ARRAY_SIZE(fake_knobs)][FAKE_KNOB_LEN];
};

/*
 * Reads (@write false) or writes a knob's value through debugfs, mounted
 * here (a mount of the kernel's own, which nothing else sees) as nothing
 * mounts it in a KUnit kernel. Return: the bytes moved, or an errno.
 */
static ssize_t fake_knob_io(struct vfsmount *mnt, unsigned long ubuf,
			    const char *path, char *val, bool write)
{
	void __user *u = (void __user *)ubuf;
	ssize_t n = -EFAULT;
	struct file *f;
	loff_t pos = 0;

	f = file_open_root_mnt(mnt, path, write ? O_WRONLY : O_RDONLY, 0);
	if (IS_ERR(f))
		return PTR_ERR(f);
	if (write) {
		if (!copy_to_user(u, val, strlen(val)))
			n = f->f_op->write(f, u, strlen(val), &pos);
	} else {
		n = f->f_op->read(f, u, FAKE_KNOB_LEN - 1, &pos);
		if (n >= 0 && copy_from_user(val, u, n))
			n = -EFAULT;
		if (n >= 0)
			val[strcspn(val, "\n")] = '\0';
	}
	fput(f);
	return n;
}

static struct vfsmount *fake_knobs_mount(void)
{
	struct file_system_type *fs = get_fs_type("debugfs");

	return fs ? kern_mount(fs) : ERR_PTR(-ENODEV);
}

/*
 * A user page for the knobs' values, in the mm of the task calling (the
 * test's, or the one KUnit cleans up in): debugfs attributes only read and
 * write user buffers.
 */
static unsigned long fake_knobs_ubuf(struct kunit *test)
{
	return kunit_vm_mmap(test, NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_ANONYMOUS | MAP_PRIVATE, 0);
}

/* Put back every knob that was read, whatever happened to the test. */
static void fake_knobs_restore(void *data)
{
	struct fake_knobs_saved *saved = data;
	unsigned long ubuf = fake_knobs_ubuf(saved->test);
	struct vfsmount *mnt = fake_knobs_mount();
	ssize_t n;
	int i;

	if (!ubuf) {
		KUNIT_FAIL(saved->test,
			   "fake-iommu: no user mapping to restore the fault-injection knobs");
		return;
	}
	if (IS_ERR(mnt)) {
		KUNIT_FAIL(saved->test,
			   "fake-iommu: no debugfs to restore the fault-injection knobs: %pe",
			   mnt);
		return;
	}
	for (i = 0; i < ARRAY_SIZE(fake_knobs); i++) {
		if (!saved->old[i][0])
			continue;
		n = fake_knob_io(mnt, ubuf, fake_knobs[i].path, saved->old[i],
				 true);
		KUNIT_EXPECT_EQ_MSG(saved->test, n, (ssize_t)strlen(saved->old[i]),
				    "fake-iommu: restoring %s to %s",
				    fake_knobs[i].path, saved->old[i]);
	}
	kern_unmount(mnt);
}

/* Open fault injection to every allocation until the test ends. */
static void fake_knobs_open(struct kunit *test)
{
	struct fake_knobs_saved *saved;
	struct vfsmount *mnt;
	unsigned long ubuf;
	ssize_t n;
	int i;

	if (!IS_ENABLED(CONFIG_FAILSLAB) || !IS_ENABLED(CONFIG_FAIL_PAGE_ALLOC))
		kunit_skip(test,
			   "fake-iommu: a fail_nth sweep needs CONFIG_FAILSLAB and CONFIG_FAIL_PAGE_ALLOC");
	saved = kunit_kzalloc(test, sizeof(*saved), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, saved);
	saved->test = test;
	ubuf = fake_knobs_ubuf(test);
	KUNIT_ASSERT_NE_MSG(test, ubuf, 0,
			    "fake-iommu: no user mapping for the knobs");
	/* Registered before any knob changes, so it runs if one fails. */
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, fake_knobs_restore,
							saved), 0);
	mnt = fake_knobs_mount();
	KUNIT_ASSERT_NOT_ERR_OR_NULL_MSG(test, mnt, "fake-iommu: no debugfs");
	for (i = 0; i < ARRAY_SIZE(fake_knobs); i++) {
		const char *path = fake_knobs[i].path;
		char old[FAKE_KNOB_LEN] = "";

		n = fake_knob_io(mnt, ubuf, path, old, false);
		if (n > 0) {
			strscpy(saved->old[i], old);
			n = fake_knob_io(mnt, ubuf, path,
					 (char *)fake_knobs[i].sweep, true);
			if (n == strlen(fake_knobs[i].sweep))
				continue;
		}
		kern_unmount(mnt);
		KUNIT_FAIL_AND_ABORT(test, "fake-iommu: %s %s: %zd",
				     saved->old[i][0] ? "setting" : "reading",
				     path, n);
	}
	kern_unmount(mnt);
}

/**
 * fake_iommu_sweep_start() - start a fail_nth sweep
 * @test: the test
 * @s: the sweep's state
 * @max: the most runs it may take; a sweep that does not end before fails
 *
 * Opens fault injection to every allocation of the test's task (sleeping,
 * highmem and order-0 ones too) until the test ends, when the knobs get the
 * values they had. Use fake_iommu_for_each_fail_nth() rather than this.
 *
 * Return: @s.
 */
struct fake_iommu_sweep *fake_iommu_sweep_start(struct kunit *test,
						struct fake_iommu_sweep *s,
						unsigned int max)
{
	*s = (struct fake_iommu_sweep) { .test = test, .max = max };
	fake_knobs_open(test);
	return s;
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_sweep_start, "IOMMU_FAKE");

/**
 * fake_iommu_sweep_next() - on to the next run of a sweep
 * @s: the sweep
 *
 * How many allocations an operation makes varies a little from run to run,
 * as some are refills (a slab cache taking a new page, depending on what
 * was freed, and when, before): a sweep that stopped at the first run that
 * made fewer than n allocations could step over the last sites, which are
 * often the only ones that fail the operation. It stops after
 * %FAKE_IOMMU_SWEEP_TAIL such runs in a row instead.
 *
 * Return: true if there is a run to do, for allocation @s->n.
 */
bool fake_iommu_sweep_next(struct fake_iommu_sweep *s)
{
	if (s->n && s->past_end >= FAKE_IOMMU_SWEEP_TAIL)
		return false;
	if (s->n + 1 >= s->max) {
		KUNIT_FAIL(s->test, "fake-iommu: the sweep did not end in %u runs",
			   s->max);
		return false;
	}
	s->n++;
	return true;
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_sweep_next, "IOMMU_FAKE");

/**
 * fake_iommu_sweep_arm() - fail the test task's @s->n-th allocation from now
 * @s: the sweep
 *
 * Call it right before the operation under test, after its setup.
 */
void fake_iommu_sweep_arm(struct fake_iommu_sweep *s)
{
	WRITE_ONCE(current->fail_nth, s->n);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_sweep_arm, "IOMMU_FAKE");

/**
 * fake_iommu_sweep_disarm() - stop failing the test task's allocations
 * @s: the sweep
 *
 * Call it right after the operation under test. Sets @s->left: how many
 * allocations were still to come before the one that was to fail, 0 if it
 * did (or the operation absorbed it).
 */
void fake_iommu_sweep_disarm(struct fake_iommu_sweep *s)
{
	s->left = READ_ONCE(current->fail_nth);
	WRITE_ONCE(current->fail_nth, 0);
	s->past_end = s->left ? s->past_end + 1 : 0;
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_sweep_disarm, "IOMMU_FAKE");

/**
 * fake_iommu_sweep_failed() - the operation failed in this run
 * @s: the sweep
 *
 * Counts the failure, and fails the test if the operation failed without
 * the injected allocation failure.
 */
void fake_iommu_sweep_failed(struct fake_iommu_sweep *s)
{
	s->failures++;
	KUNIT_EXPECT_EQ_MSG(s->test, s->left, 0,
			    "allocation %u failed the operation without being injected",
			    s->n);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_sweep_failed, "IOMMU_FAKE");

/**
 * fake_iommu_sweep_end() - check and report a finished sweep
 * @s: the sweep
 * @min_failures: how many runs at least must have failed the operation: a
 *	sweep where no failure reached its error path tested no unwinding
 */
void fake_iommu_sweep_end(struct fake_iommu_sweep *s, unsigned int min_failures)
{
	unsigned int sites = s->n - s->past_end;

	KUNIT_EXPECT_GE_MSG(s->test, s->failures, min_failures,
			    "%u of %u injected failures failed the operation",
			    s->failures, sites);
	kunit_info(s->test, "%u allocation sites, %u failed the operation and unwound\n",
		   sites, s->failures);
}
EXPORT_SYMBOL_NS_GPL(fake_iommu_sweep_end, "IOMMU_FAKE");
