#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Unit tests for tools/iommu_kunit/overlay.py: which patches a kernel
# gets, staging with GNU patch and no fuzz, the patch-does-not-apply
# message, when a rerun may reuse the staged overlay or stage only the
# edited files, and the work copy of Debian's tree (synced again, its
# build directories dropped, when the unpacked kernel changed). On small
# fake trees in temporary directories; rsync is mocked.
#
#   python3 tools/tests/overlay_test.py [-v]

"""Unit tests for tools/iommu_kunit/overlay.py."""

import contextlib
import difflib
import io
import os
import subprocess
import unittest

from helpers import (FAILED_PATCH_OUTPUT, KCONFIG, KCONFIG_PATCHED, TmpTestCase,
		     kconfig_patch, make_kernel_tree, read, write)
from iommu_kunit import commands, overlay, sources, table
from iommu_kunit.common import InfraError, UsageError


class VersionedPatchesTest(TmpTestCase):

	def setUp(self) -> None:
		super().setUp()
		self.dir = 'drivers/iommu/patches'
		for name in ('0001-a.patch', '0002-b.patch', '6.12/0002-b.patch',
			     '6.12/0003-c.patch'):
			write(os.path.join(self.top, self.dir, name), name + '\n')

	def versioned(self, series: str, d: str = '') -> list:
		return table.versioned_patches(self.top, d or self.dir, series)

	def test_backport_series(self) -> None:
		"""6.12: the backport replaces 0002 and adds 0003."""
		self.assertEqual(self.versioned('6.12'), [
			'drivers/iommu/patches/0001-a.patch',
			'drivers/iommu/patches/6.12/0002-b.patch',
			'drivers/iommu/patches/6.12/0003-c.patch',
		])
		self.assertEqual(table.overlay_patches(self.top, '6.12'), self.versioned('6.12'))

	def test_mainline_series(self) -> None:
		"""A kernel with no backport directory gets the mainline ones."""
		self.assertEqual(self.versioned('7.3'), [
			'drivers/iommu/patches/0001-a.patch',
			'drivers/iommu/patches/0002-b.patch',
		])

	def test_empty_dir(self) -> None:
		os.makedirs(os.path.join(self.top, 'empty'))
		self.assertEqual(self.versioned('6.12', 'empty'), [])
		self.assertEqual(self.versioned('7.3', 'missing'), [])

	def test_order_by_file_name_across_dirs(self) -> None:
		"""Sorted by file name, not by directory: backport-only patches
		land between the mainline ones."""
		d = os.path.join(self.top, 'm')
		for name in ('0001-a.patch', '0004-d.patch', '0010-j.patch',
			     '6.12/0002-b.patch', '6.12/0005-e.patch',
			     '6.12/0010-j.patch', '6.12/0011-k.patch',
			     '6.12/notes.txt', 'README'):
			write(os.path.join(d, name), name + '\n')
		self.assertEqual(self.versioned('6.12', 'm'), [
			'm/0001-a.patch', 'm/6.12/0002-b.patch', 'm/0004-d.patch',
			'm/6.12/0005-e.patch', 'm/6.12/0010-j.patch', 'm/6.12/0011-k.patch',
		])

	def test_empty_backport_drops(self) -> None:
		"""An empty patch of the same name in the backport directory:
		that kernel does not get the mainline patch; an empty
		backport-only one is nothing either."""
		write(os.path.join(self.top, self.dir, '0004-d.patch'), 'd\n')
		write(os.path.join(self.top, self.dir, '6.12', '0004-d.patch'))
		write(os.path.join(self.top, self.dir, '6.12', '0005-e.patch'))
		self.assertEqual(self.versioned('6.12'), [
			'drivers/iommu/patches/0001-a.patch',
			'drivers/iommu/patches/6.12/0002-b.patch',
			'drivers/iommu/patches/6.12/0003-c.patch',
		])
		self.assertIn('drivers/iommu/patches/0004-d.patch', self.versioned('7.3'))


def tree(tmp: str, src: str, kver: str = '6.12.117', kdir: bool = False) -> sources.Tree:
	work = os.path.join(tmp, 'work')
	return sources.Tree(src=src, kver=kver, series=table.kernel_series(kver),
			    name='t', work=work, wsrc=os.path.join(work, 'src'),
			    results=os.path.join(tmp, 'results', 't'), kdir=src if kdir else None,
			    kernel=None if kdir else table.kernel_series(kver), pkgver='1')


class NotApplyingTest(TmpTestCase):

	def setUp(self) -> None:
		super().setUp()
		os.makedirs(os.path.join(self.top, 'drivers/iommu/patches/6.12'))
		self.patch = os.path.join(self.top, 'drivers/iommu/patches/0001-x.patch')

	def message(self, kver: str, out: str = FAILED_PATCH_OUTPUT) -> list:
		return overlay.not_applying(self.top, tree(self.tmp, '/src/linux', kver),
					    self.patch, out).splitlines()

	def test_backport_kernel(self) -> None:
		self.assertEqual(self.message('6.12.117'), [
			'drivers/iommu/patches/0001-x.patch does not apply to the kernel 6.12.117 at /src/linux',
			'  patch set tried: the mainline series with the 6.12 backport deltas (drivers/iommu/patches/6.12/)',
			'  first failure: drivers/iommu/Kconfig: Hunk #1 FAILED at 93.',
			"  supported kernels: 6.12 7.2 7.3 (KERNEL=; mainline is 7.3, the series's base; backport deltas for: 6.12)",
		])

	def test_mainline_kernel(self) -> None:
		out = self.message('7.3.0')
		self.assertIn('kernel 7.3.0 at /src/linux', out[0])
		self.assertEqual(out[1], '  patch set tried: the mainline series (drivers/iommu/patches/)')
		self.assertEqual(out[2], '  first failure: drivers/iommu/Kconfig: Hunk #1 FAILED at 93.')

	def test_unrecognised_output(self) -> None:
		"""No known failure line: the first line of patch's output."""
		out = self.message('7.3.0', 'patch: **** Only garbage was found in the patch input.')
		self.assertEqual(out[2], '  first failure: patch: **** Only garbage was found in the patch input.')


class StageTest(TmpTestCase):
	"""overlay.stage on a fake tree: GNU patch with no fuzz, files staged
	in <work>/stage, the tree never written to."""

	def setUp(self) -> None:
		super().setUp()
		self.src = make_kernel_tree(self.path('linux'))
		self.patch = os.path.join(self.top, 'drivers/iommu/patches/0001-x.patch')
		self.new_file = 'include/linux/iommu-new.h'
		write(os.path.join(self.top, self.new_file), '/* new */\n')
		self.tree = tree(self.tmp, self.src)
		os.makedirs(self.tree.work)

	def stage(self, extra: tuple = ()) -> overlay.Staged:
		return overlay.stage(self.ctx(), self.tree, extra)

	def test_applies_exactly(self) -> None:
		write(self.patch, kconfig_patch())
		self.assertEqual(self.stage().kind, 'full')
		stage = os.path.join(self.tree.work, 'stage')
		self.assertEqual(read(os.path.join(stage, 'drivers/iommu/Kconfig')),
				 ''.join(KCONFIG_PATCHED))
		self.assertEqual(read(os.path.join(stage, self.new_file)), '/* new */\n')
		self.assertEqual(read(os.path.join(self.tree.work, 'manifest.new')).splitlines(),
				 ['drivers/iommu/Kconfig', self.new_file])
		self.assertEqual(read(os.path.join(self.src, 'drivers/iommu/Kconfig')),
				 ''.join(KCONFIG), 'the kernel tree was written to')
		self.assertEqual(os.listdir(os.path.join(stage, 'drivers/iommu')),
				 ['Kconfig'], 'backup or reject files left in the stage')

	def test_fuzz_is_an_error(self) -> None:
		write(self.patch, kconfig_patch(fuzzy=True))
		# Good for GNU patch's default fuzz factor: only -F0 refuses it.
		dry = subprocess.run(['patch', '--dry-run', '-p1', '-d', self.src, '-i', self.patch],
				     capture_output=True, text=True)
		self.assertEqual(dry.returncode, 0, dry.stdout)
		self.assertIn('with fuzz', dry.stdout)
		with self.assertRaises(overlay.PatchError) as cm:
			self.stage()
		self.assertIn('drivers/iommu/patches/0001-x.patch does not apply to the kernel '
			      '6.12.117', str(cm.exception))
		self.assertIn('first failure: drivers/iommu/Kconfig: Hunk #1 FAILED',
			      str(cm.exception))
		self.assertEqual(read(os.path.join(self.src, 'drivers/iommu/Kconfig')),
				 ''.join(KCONFIG))

	def test_not_applying_exit_code(self) -> None:
		"""A KDIR's patch failure is a usage error (the user's tree),
		Debian's an infrastructure one."""
		write(self.patch, kconfig_patch(fuzzy=True))
		for kdir, err in ((True, UsageError), (False, InfraError)):
			with self.subTest(kdir=kdir):
				t = tree(self.tmp, self.src, kdir=kdir)
				with self.assertRaises(err) as cm:
					commands.prepare(self.ctx(), t, lock=False)
				self.assertIn('does not apply to the kernel', str(cm.exception))

	def test_extra_patch_after_the_overlay(self) -> None:
		"""Extra patches (mutants, presubmit) apply after the series."""
		write(self.patch, kconfig_patch())
		extra = write(self.path('extra.patch'), ''.join(difflib.unified_diff(
			KCONFIG_PATCHED, KCONFIG_PATCHED[:-1] + ['endif # IOMMU_SUPPORT\n'],
			'a/drivers/iommu/Kconfig', 'b/drivers/iommu/Kconfig')))
		self.stage((extra,))
		staged = read(os.path.join(self.tree.work, 'stage/drivers/iommu/Kconfig'))
		self.assertIn('\tselect IOMMU_KUNIT_OVERLAY\n', staged)
		self.assertTrue(staged.endswith('endif # IOMMU_SUPPORT\n'))

	def test_file_an_earlier_patch_creates(self) -> None:
		"""A later patch may change a file an earlier one created: the
		tree need not have it."""
		write(self.patch, kconfig_patch())
		create = ''.join(difflib.unified_diff([], ['a\n'], '/dev/null',
						      'b/drivers/iommu/tests/Makefile'))
		change = ''.join(difflib.unified_diff(['a\n'], ['a\n', 'b\n'],
						      'a/drivers/iommu/tests/Makefile',
						      'b/drivers/iommu/tests/Makefile'))
		write(os.path.join(self.top, 'drivers/iommu/patches/0002-create.patch'), create)
		write(os.path.join(self.top, 'drivers/iommu/patches/0003-change.patch'), change)
		self.stage()
		self.assertEqual(read(os.path.join(self.tree.work, 'stage/drivers/iommu/tests/Makefile')),
				 'a\nb\n')
		self.assertEqual(overlay.patch_tree_files(overlay.inputs_for(
			self.top, '6.12').patches), [(self.patch, 'drivers/iommu/Kconfig')])

	def test_new_file_in_the_tree(self) -> None:
		write(os.path.join(self.src, self.new_file), '/* tree */\n')
		with self.assertRaisesRegex(UsageError, f'overlay file {self.new_file} exists in '
					    'the kernel tree'):
			self.stage()

	def test_patch_of_missing_file(self) -> None:
		write(self.patch, kconfig_patch())
		os.remove(os.path.join(self.src, 'drivers/iommu/Kconfig'))
		with self.assertRaisesRegex(UsageError, 'changes drivers/iommu/Kconfig, which .* '
					    'does not have'):
			self.stage()


class StageReuseTest(TmpTestCase):
	"""A rerun whose overlay, patches and patched tree files did not
	change reuses the staged work copy ('unchanged'); an edit to new
	files of the overlay that no patch changes stages those files alone
	('files'); any other change, or a staged file changed in the work
	copy, stages everything again ('full')."""

	def setUp(self) -> None:
		super().setUp()
		self.src = make_kernel_tree(self.path('linux'))
		self.tree = tree(self.tmp, self.src)
		self.wsrc = self.tree.wsrc
		self.patch = os.path.join(self.top, 'drivers/iommu/patches/0001-x.patch')
		self.new_file = 'include/linux/iommu-new.h'
		write(os.path.join(self.top, self.new_file), '/* new */\n')
		write(self.patch, kconfig_patch())
		# Debian's tree, synced already: no rsync.
		write(os.path.join(self.tree.work, 'synced'), overlay.tree_id(self.tree))
		self.c = self.ctx()

	def prepare(self, extra: tuple = ()) -> str:
		staged = overlay.WorkCopy(self.c, self.tree).prepare(extra)
		self.staged_files = staged.files
		return staged.kind

	def assert_staged(self) -> None:
		self.assertEqual(read(os.path.join(self.wsrc, 'drivers/iommu/Kconfig')),
				 ''.join(KCONFIG_PATCHED))
		self.assertEqual(read(os.path.join(self.wsrc, self.new_file)), '/* new */\n')

	def test_rerun_reuses(self) -> None:
		self.assertEqual(self.prepare(), 'full')
		self.assert_staged()
		self.assertEqual(self.prepare(), 'unchanged')
		self.assert_staged()
		self.assertEqual(self.c.calls, [], 'rsync or another command was run')

	def test_overlay_file_changed(self) -> None:
		"""Staged alone, twice in a row, then nothing to do."""
		self.prepare()
		for text in ('/* edited */\n', '/* again */\n'):
			write(os.path.join(self.top, self.new_file), text)
			self.assertEqual(self.prepare(), 'files')
			self.assertEqual(self.staged_files, [self.new_file])
			self.assertEqual(read(os.path.join(self.wsrc, self.new_file)), text)
		self.assertEqual(self.prepare(), 'unchanged')
		self.assertEqual(read(os.path.join(self.wsrc, 'drivers/iommu/Kconfig')),
				 ''.join(KCONFIG_PATCHED))

	def test_overlay_file_a_patch_changes(self) -> None:
		"""An overlay file that a patch changes is staged with the patch."""
		lines = [f'line {i}\n' for i in range(8)]
		write(os.path.join(self.top, self.new_file), ''.join(lines))
		write(os.path.join(self.top, 'drivers/iommu/patches/0002-y.patch'),
		      'Subject: [PATCH] y\n\n---\n'
		      f'diff --git a/{self.new_file} b/{self.new_file}\n' +
		      ''.join(difflib.unified_diff(lines, lines[:-1] + ['patched\n'],
						   'a/' + self.new_file, 'b/' + self.new_file)))
		self.prepare()
		write(os.path.join(self.top, self.new_file), ''.join(['edited\n'] + lines[1:]))
		self.assertEqual(self.prepare(), 'full')
		self.assertEqual(read(os.path.join(self.wsrc, self.new_file)),
				 ''.join(['edited\n'] + lines[1:-1] + ['patched\n']))

	def test_overlay_file_added_and_removed(self) -> None:
		self.prepare()
		other = os.path.join(self.top, 'include/linux/iommu-other.h')
		write(other, '/* other */\n')
		self.assertEqual(self.prepare(), 'full')
		self.assertEqual(read(os.path.join(self.wsrc, 'include/linux/iommu-other.h')),
				 '/* other */\n')
		os.unlink(other)
		self.assertEqual(self.prepare(), 'full')
		self.assertFalse(os.path.exists(os.path.join(self.wsrc, 'include/linux/iommu-other.h')))
		self.assert_staged()

	def test_work_copy_file_changed(self) -> None:
		self.prepare()
		write(os.path.join(self.wsrc, 'drivers/iommu/Kconfig'), 'damaged\n')
		write(os.path.join(self.top, self.new_file), '/* edited */\n')
		self.assertEqual(self.prepare(), 'full')
		self.assertEqual(read(os.path.join(self.wsrc, 'drivers/iommu/Kconfig')),
				 ''.join(KCONFIG_PATCHED))
		write(os.path.join(self.top, self.new_file), '/* new */\n')
		write(os.path.join(self.wsrc, 'drivers/iommu/Kconfig'), 'damaged\n')
		self.assertEqual(self.prepare(), 'full')
		self.assert_staged()

	def test_patch_changed(self) -> None:
		self.prepare()
		write(self.patch, kconfig_patch().replace('IOMMU_KUNIT_OVERLAY', 'IOMMU_KUNIT_OTHER'))
		self.assertEqual(self.prepare(), 'full')
		self.assertIn('IOMMU_KUNIT_OTHER', read(os.path.join(self.wsrc, 'drivers/iommu/Kconfig')))

	def test_patched_tree_file_changed(self) -> None:
		"""The tree changes a file a patch applies to."""
		self.prepare()
		write(os.path.join(self.src, 'drivers/iommu/Kconfig'), ''.join(KCONFIG) + '# more\n')
		self.assertEqual(self.prepare(), 'full')
		self.assertTrue(read(os.path.join(self.wsrc, 'drivers/iommu/Kconfig')).endswith('# more\n'))

	def test_extra_patch(self) -> None:
		self.prepare()
		extra = write(self.path('extra.patch'), ''.join(difflib.unified_diff(
			KCONFIG_PATCHED, KCONFIG_PATCHED[:-1] + ['endif # IOMMU_SUPPORT\n'],
			'a/drivers/iommu/Kconfig', 'b/drivers/iommu/Kconfig')))
		self.assertEqual(self.prepare((extra,)), 'full')
		self.assertTrue(read(os.path.join(self.wsrc, 'drivers/iommu/Kconfig'))
				.endswith('endif # IOMMU_SUPPORT\n'))
		# Back without it: staged again, the mutant gone.
		self.assertEqual(self.prepare(), 'full')
		self.assert_staged()

	def test_unchanged_keeps_mtimes(self) -> None:
		"""A file whose staged content did not change keeps its mtime
		(make does not rebuild it)."""
		self.prepare()
		kconfig = os.path.join(self.wsrc, 'drivers/iommu/Kconfig')
		os.utime(kconfig, ns=(0, 0))
		write(os.path.join(self.top, 'include/linux/iommu-other.h'), 'x\n')
		self.assertEqual(self.prepare(), 'full')
		self.assertEqual(os.stat(kconfig).st_mtime_ns, 0)

	def test_interrupted_stage(self) -> None:
		"""A run killed after staging began leaves no key to trust."""
		self.prepare()
		write(os.path.join(self.top, self.new_file), '/* edited */\n')
		overlay.stage(self.c, self.tree)		# staged, never installed
		self.assertFalse(os.path.exists(os.path.join(self.tree.work, 'stage.key')))
		write(os.path.join(self.top, self.new_file), '/* new */\n')
		self.assertEqual(self.prepare(), 'full')
		self.assert_staged()

	def test_interrupted_incremental_stage(self) -> None:
		"""Killed after an edited file alone was staged: staged again."""
		self.prepare()
		write(os.path.join(self.top, self.new_file), '/* edited */\n')
		self.assertEqual(overlay.stage(self.c, self.tree).kind, 'files')
		write(os.path.join(self.top, self.new_file), '/* new */\n')
		self.assertEqual(self.prepare(), 'full')
		self.assert_staged()


class DebianTreeSyncTest(TmpTestCase):
	"""The work copy of Debian's tree: rsync'd once (hard links), again
	only when the unpacked kernel changed, and then its build directories
	go (make would not see sources older than its objects)."""

	def setUp(self) -> None:
		super().setUp()
		self.src = make_kernel_tree(self.path('linux'))
		self.tree = tree(self.tmp, self.src)
		write(os.path.join(self.tree.work, 'build-um', 'vmlinux.o'), 'ELF')
		write(os.path.join(self.tree.work, 'manifest'), 'drivers/iommu/tests/x.c\n')
		self.manifest = os.path.join(self.tree.work, 'manifest')

	def test_first_sync_then_none(self) -> None:
		c = self.ctx()
		overlay.sync_debian_tree(c, self.tree, self.manifest)
		rsync = c.ran('rsync')
		self.assertEqual(len(rsync), 1)
		for arg in ('-a', '--delete', f'--link-dest={self.src}',
			    f'--exclude-from={self.manifest}', '--filter=protect /drivers/iommu/tests/',
			    self.src + '/', self.tree.wsrc + '/'):
			self.assertIn(arg, rsync[0])
		overlay.sync_debian_tree(c, self.tree, self.manifest)
		self.assertEqual(len(c.ran('rsync')), 1)
		self.assertTrue(os.path.isdir(os.path.join(self.tree.work, 'build-um')))

	def test_kernel_changed(self) -> None:
		c = self.ctx()
		overlay.sync_debian_tree(c, self.tree, self.manifest)
		newer = self.tree._replace(kver='6.12.118', pkgver='2')
		with contextlib.redirect_stdout(io.StringIO()) as out:
			overlay.sync_debian_tree(c, newer, self.manifest)
		self.assertIn('the kernel changed (6.12.117 1 -> 6.12.118 2)', out.getvalue())
		self.assertEqual(len(c.ran('rsync')), 2)
		self.assertFalse(os.path.exists(os.path.join(self.tree.work, 'build-um')))

	def test_bash_runner_stamp(self) -> None:
		"""The bash runner's empty stamp, newer than the tree: no sync."""
		write(os.path.join(self.tree.work, 'synced'), '')
		os.utime(os.path.join(self.src, 'Makefile'), (1, 1))
		c = self.ctx()
		overlay.sync_debian_tree(c, self.tree, self.manifest)
		self.assertEqual(c.ran('rsync'), [])
		self.assertEqual(read(os.path.join(self.tree.work, 'synced')), overlay.tree_id(self.tree))

	def test_rsync_failure_is_infrastructure(self) -> None:
		from helpers import done
		c = self.ctx(lambda cmd, kw: done(cmd, 23))
		with self.assertRaises(InfraError):
			overlay.sync_debian_tree(c, self.tree, self.manifest)
		self.assertFalse(os.path.exists(os.path.join(self.tree.work, 'synced')))


if __name__ == '__main__':
	unittest.main()
