#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Unit tests for tools/iommu_kunit/treesync.py: after each way a developer changes
# their tree (an edit, an added, deleted or renamed file or directory, a
# git checkout of another branch, a commit, a stash), the next sync leaves
# the work copy equal to the tree, minus what is excluded, plus the
# overlay's own files, which it never touches. Each case runs on a git tree
# and on a plain one (the walk), on temporary directories.
#
#   python3 tools/tests/treesync_test.py [-v]

"""Unit tests for tools/iommu_kunit/treesync.py."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from iommu_kunit import treesync  # noqa: E402 pylint: disable=wrong-import-position

# The overlay's files: the work copy has its own, the tree may or may not.
OVERLAY = ('drivers/iommu/fake.c', 'drivers/iommu/Kconfig', 'drivers/new/only.c')


def listing(top, skip=()):
	"""{relative path: content or symlink target} of the files under top."""
	out = {}
	for root, dirs, files in os.walk(top):
		dirs.sort()
		for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
			path = os.path.join(root, name)
			rel = os.path.relpath(path, top)
			if rel in skip:
				continue
			if os.path.islink(path):
				out[rel] = 'link:' + os.readlink(path)
			else:
				with open(path, 'rb') as f:
					out[rel] = f.read()
	return out


def write(path, text):
	os.makedirs(os.path.dirname(path), exist_ok=True)
	with open(path, 'w') as f:
		f.write(text)


def edit_in_place(path, text):
	with open(path, 'a') as f:
		f.write(text)


def edit_by_rename(path, text):
	"""As an editor saves: a new file renamed over the old one."""
	with open(path) as f:
		old = f.read()
	write(path + '.swp', old + text)
	os.replace(path + '.swp', path)


def advance_fs_clock(top):
	"""Waits until the file-system clock has moved past now (a few ms)."""
	probe = os.path.join(top, '.clock-probe')
	write(probe, '')
	t0 = os.stat(probe).st_mtime_ns
	while os.stat(probe).st_mtime_ns == t0:
		os.utime(probe)
	os.unlink(probe)


class TreeSyncTest(unittest.TestCase):
	"""One tree, one work copy; subclasses choose git or not."""

	git = False
	# A git case's setUp made once (a repository, its first sync), copied
	# for each case: process starts are most of these tests' time.
	template = None

	@classmethod
	def tearDownClass(cls):
		if cls.template is not None:
			shutil.rmtree(cls.template)
			cls.template = None

	def setUp(self):
		self._margin = treesync.MARGIN_NS
		# Only what changed after a sync may be seen by the walk: the
		# cases must not pass thanks to the safety margin.
		treesync.MARGIN_NS = 0
		self.tmp = tempfile.mkdtemp(prefix='treesync-test-')
		self.src = os.path.join(self.tmp, 'linux')
		self.dst = os.path.join(self.tmp, 'work', 'src')
		self.state = os.path.join(self.tmp, 'work', 'sync.json')
		self.skip = os.path.join(self.tmp, 'work', 'manifest')
		if self.git and type(self).template is not None:
			self.from_template(type(self).template)
			return
		os.makedirs(os.path.dirname(self.dst))
		write(os.path.join(self.src, 'Makefile'), 'VERSION = 7\n')
		write(os.path.join(self.src, 'drivers/iommu/iommu.c'), 'int iommu;\n')
		write(os.path.join(self.src, 'drivers/iommu/Kconfig'), 'config IOMMU\n')
		write(os.path.join(self.src, 'drivers/iommu/dma-iommu.c'), 'int dma;\n')
		write(os.path.join(self.src, 'lib/kunit/test.c'), 'int kunit;\n')
		write(os.path.join(self.src, 'lib/kunit/.gitignore'), '')
		os.symlink('test.c', os.path.join(self.src, 'lib/kunit/alias.c'))
		# In-tree build output and configuration: never synced.
		write(os.path.join(self.src, 'lib/kunit/test.o'), 'ELF')
		write(os.path.join(self.src, 'lib/kunit/.test.o.cmd'), 'cmd')
		write(os.path.join(self.src, '.config'), 'CONFIG_X=y\n')
		write(os.path.join(self.src, 'include/generated/autoconf.h'), '#define X\n')
		write(os.path.join(self.src, 'arch/um/include/generated/asm/x.h'), '\n')
		write(os.path.join(self.src, '.gitignore'),
		      '*.o\n.*.cmd\n/.config\ngenerated/\n/vmlinux\n')
		with open(self.skip, 'w') as f:
			f.write(''.join(p + '\n' for p in OVERLAY))
		for p in OVERLAY:
			write(os.path.join(self.dst, p), 'overlay ' + p + '\n')
		if self.git:
			self.run_git('init', '-q', '-b', 'main')
			self.run_git('add', '-A')
			self.commit('base')
		advance_fs_clock(self.tmp)
		self.sync()
		if self.git:
			template = tempfile.mkdtemp(prefix='treesync-template-')
			shutil.copytree(self.tmp, template, symlinks=True, dirs_exist_ok=True)
			type(self).template = template

	def from_template(self, template):
		"""The repository and its first sync, as the first case made
		them: copied (mtimes kept), the sync state told its new path,
		git's index its new inodes."""
		shutil.copytree(template, self.tmp, symlinks=True, dirs_exist_ok=True)
		with open(self.state) as f:
			state = json.load(f)
		state['src'] = os.path.realpath(self.src)
		with open(self.state, 'w') as f:
			json.dump(state, f)
		subprocess.run(['git', '-C', self.src, 'update-index', '-q', '--refresh'],
			       stdout=subprocess.DEVNULL)
		advance_fs_clock(self.tmp)

	def tearDown(self):
		treesync.MARGIN_NS = self._margin
		shutil.rmtree(self.tmp)

	def run_git(self, *args):
		subprocess.run(['git', '-C', self.src] + list(args), check=True,
			       stdout=subprocess.DEVNULL,
			       env=dict(os.environ, GIT_AUTHOR_NAME='t', GIT_AUTHOR_EMAIL='t@t',
					GIT_COMMITTER_NAME='t', GIT_COMMITTER_EMAIL='t@t'))

	def commit(self, msg):
		self.run_git('commit', '-q', '--no-gpg-sign', '-m', msg)

	def sync(self):
		return treesync.sync(self.src, self.dst, self.state, self.skip)

	def change(self, fn):
		"""Applies a change after the last sync and syncs; returns its line."""
		advance_fs_clock(self.tmp)
		fn()
		return self.sync()

	def visible(self):
		"""The tree's files the work copy should have (None: all)."""
		if not self.git:
			return None
		out = subprocess.run(['git', '-C', self.src, 'ls-files', '-z', '-co',
				      '--exclude-standard'], stdout=subprocess.PIPE,
				     check=True, text=True).stdout
		return set(out.split('\0'))

	def assert_in_step(self):
		visible = self.visible()
		expected = {rel: v for rel, v in listing(self.src).items()
			    if not treesync.excluded(rel) and rel not in OVERLAY and
			    (visible is None or rel in visible)}
		expected.update({p: ('overlay ' + p + '\n').encode() for p in OVERLAY})
		self.assertEqual(listing(self.dst), expected)
		# What the tree has stays out of the work copy, and the other way.
		self.assertFalse(os.path.exists(os.path.join(self.dst, 'lib/kunit/test.o')))
		self.assertFalse(os.path.exists(os.path.join(self.dst, '.config')))

	def assert_copied(self, rel):
		"""A copy, never a link: the user's file cannot change through it."""
		self.assertFalse(os.path.samefile(os.path.join(self.src, rel),
						  os.path.join(self.dst, rel)))

	def test_first_sync(self):
		self.assert_in_step()
		self.assert_copied('drivers/iommu/iommu.c')
		self.assertTrue(os.path.islink(os.path.join(self.dst, 'lib/kunit/alias.c')))

	def test_nothing_changed(self):
		line = self.change(lambda: None)
		self.assertIn(': 0 path(s) synced', line)
		self.assert_in_step()

	def test_edit_in_place(self):
		self.change(lambda: edit_in_place(os.path.join(self.src, 'lib/kunit/test.c'), 'x\n'))
		self.assert_in_step()

	def test_edit_by_rename(self):
		line = self.change(lambda: edit_by_rename(
			os.path.join(self.src, 'drivers/iommu/iommu.c'), 'int more;\n'))
		self.assertIn(': 1 path(s) synced', line)
		self.assert_in_step()
		self.assert_copied('drivers/iommu/iommu.c')

	def test_edit_keeping_old_mtime(self):
		def fn():
			path = os.path.join(self.src, 'drivers/iommu/iommu.c')
			st = os.stat(path)
			edit_by_rename(path, 'int more;\n')
			os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
		self.change(fn)
		self.assert_in_step()

	def test_edit_in_place_then_restore(self):
		"""Edited in place, then the original put back as a new file."""
		path = os.path.join(self.src, 'drivers/iommu/iommu.c')
		def fn():
			with open(path) as f:
				orig = f.read()
			edit_in_place(path, 'int tried;\n')
			os.unlink(path)
			write(path, orig)
		self.change(fn)
		self.assert_in_step()

	def test_old_mtime_still_rebuilds(self):
		"""A changed file reaches the work copy newer than the last sync."""
		path = os.path.join(self.src, 'drivers/iommu/iommu.c')
		dpath = os.path.join(self.dst, 'drivers/iommu/iommu.c')
		before = os.stat(dpath).st_mtime_ns
		def fn():
			edit_by_rename(path, 'int old;\n')
			os.utime(path, ns=(0, 0))
		self.change(fn)
		self.assertGreater(os.stat(dpath).st_mtime_ns, before)
		self.assert_in_step()

	def test_add_file_and_directory(self):
		def fn():
			write(os.path.join(self.src, 'drivers/iommu/new.c'), 'int n;\n')
			write(os.path.join(self.src, 'drivers/gpu/a/b/c.c'), 'int c;\n')
		self.change(fn)
		self.assert_in_step()

	def test_move_in_old_directory(self):
		outside = os.path.join(self.tmp, 'elsewhere')
		write(os.path.join(outside, 'sub/old.c'), 'int old;\n')
		# Files older than the last sync, in a directory moved in after it.
		advance_fs_clock(self.tmp)
		self.sync()
		self.change(lambda: os.rename(outside, os.path.join(self.src, 'drivers/moved')))
		self.assert_in_step()

	def test_delete_file_and_directory(self):
		def fn():
			os.unlink(os.path.join(self.src, 'drivers/iommu/dma-iommu.c'))
			shutil.rmtree(os.path.join(self.src, 'lib/kunit'))
		self.change(fn)
		self.assert_in_step()
		self.assertFalse(os.path.exists(os.path.join(self.dst, 'lib/kunit')))

	def test_rename_file_and_directory(self):
		def fn():
			os.rename(os.path.join(self.src, 'drivers/iommu/dma-iommu.c'),
				  os.path.join(self.src, 'drivers/iommu/dma.c'))
			os.rename(os.path.join(self.src, 'lib/kunit'),
				  os.path.join(self.src, 'lib/kunit2'))
		self.change(fn)
		self.assert_in_step()

	def test_file_becomes_directory(self):
		def fn():
			os.unlink(os.path.join(self.src, 'drivers/iommu/dma-iommu.c'))
			write(os.path.join(self.src, 'drivers/iommu/dma-iommu.c/x.c'), 'x\n')
		self.change(fn)
		self.assert_in_step()

	def test_overlay_files_untouched(self):
		def fn():
			# The tree changes a file the overlay patches, and adds
			# one the overlay adds: the work copy keeps the overlay's.
			edit_by_rename(os.path.join(self.src, 'drivers/iommu/Kconfig'), 'x\n')
			write(os.path.join(self.src, 'drivers/new/only.c'), 'theirs\n')
		self.change(fn)
		self.assert_in_step()
		self.change(lambda: shutil.rmtree(os.path.join(self.src, 'drivers/new')))
		self.assert_in_step()

	def test_excluded_never_synced(self):
		self.change(lambda: write(os.path.join(self.src, 'drivers/iommu/iommu.o'), 'ELF\n'))
		self.assertFalse(os.path.exists(os.path.join(self.dst, 'drivers/iommu/iommu.o')))
		self.assert_in_step()

	def test_state_of_another_tree(self):
		with open(self.state) as f:
			text = f.read()
		with open(self.state, 'w') as f:
			f.write(text.replace(self.src, '/elsewhere'))
		self.assertIn('full sync (first sync)', self.sync())
		with open(self.state, 'w') as f:
			f.write('not json')
		self.assertIn('full sync (first sync)', self.sync())
		self.assert_in_step()

	def test_full_asked_for(self):
		self.assertIn('full sync (asked for)',
			      treesync.sync(self.src, self.dst, self.state, self.skip, full=True))
		self.assert_in_step()


	def test_link_dest(self):
		"""A second work copy of the same tree starts from the first."""
		side = os.path.join(self.tmp, 'side', 'src')
		state = os.path.join(self.tmp, 'side', 'sync.json')
		os.makedirs(os.path.dirname(side))
		treesync.sync(self.src, side, state, self.skip, link_dest=self.dst)
		rel = 'lib/kunit/test.c'
		# Linked to the first work copy, never to the tree.
		self.assertTrue(os.path.samefile(os.path.join(self.dst, rel),
						 os.path.join(side, rel)))
		self.assertFalse(os.path.samefile(os.path.join(self.src, rel),
						  os.path.join(side, rel)))
		# A change reaches the side tree as a copy of its own.
		advance_fs_clock(self.tmp)
		edit_in_place(os.path.join(self.src, rel), 'int side;\n')
		treesync.sync(self.src, side, state, self.skip)
		with open(os.path.join(side, rel)) as f:
			self.assertEqual(f.read(), 'int kunit;\nint side;\n')
		with open(os.path.join(self.dst, rel)) as f:
			self.assertEqual(f.read(), 'int kunit;\n')


class GitTreeSyncTest(TreeSyncTest):
	"""The same changes on a git tree, and the changes only git makes."""

	git = True

	def test_mode(self):
		self.assertIn('git: 0 path(s)', self.sync())

	def test_checkout_other_branch(self):
		self.run_git('checkout', '-q', '-b', 'topic')
		write(os.path.join(self.src, 'drivers/iommu/topic.c'), 'int topic;\n')
		os.unlink(os.path.join(self.src, 'drivers/iommu/dma-iommu.c'))
		edit_in_place(os.path.join(self.src, 'drivers/iommu/iommu.c'), 'int t;\n')
		self.run_git('add', '-A')
		self.commit('topic')
		self.run_git('checkout', '-q', 'main')
		self.sync()
		self.assert_in_step()
		line = self.change(lambda: self.run_git('checkout', '-q', 'topic'))
		self.assertNotIn('full sync', line)
		self.assert_in_step()
		self.change(lambda: self.run_git('checkout', '-q', 'main'))
		self.assert_in_step()

	def test_commit_then_reset(self):
		path = os.path.join(self.src, 'drivers/iommu/iommu.c')
		self.change(lambda: edit_by_rename(path, 'int c1;\n'))
		self.assert_in_step()
		def fn():
			self.run_git('commit', '-q', '-a', '-m', 'c1')
			edit_by_rename(path, 'int c2;\n')
		self.change(fn)
		self.assert_in_step()
		self.change(lambda: self.run_git('reset', '-q', '--hard', 'HEAD~1'))
		self.assert_in_step()

	def test_edit_twice(self):
		path = os.path.join(self.src, 'lib/kunit/test.c')
		self.change(lambda: edit_by_rename(path, 'one\n'))
		self.change(lambda: edit_by_rename(path, 'two\n'))
		self.assert_in_step()

	def test_checkout_file_after_edit_in_place(self):
		path = os.path.join(self.src, 'lib/kunit/test.c')
		def fn():
			edit_in_place(path, 'int tried;\n')
			self.run_git('checkout', '--', 'lib/kunit/test.c')
		self.change(fn)
		self.assert_in_step()

	def test_ignored_file_not_taken(self):
		self.change(lambda: write(os.path.join(self.src, 'vmlinux'), 'ELF'))
		self.assertFalse(os.path.exists(os.path.join(self.dst, 'vmlinux')))
		self.assertIn('full sync', treesync.sync(self.src, self.dst, self.state,
							  self.skip, full=True))
		self.assertFalse(os.path.exists(os.path.join(self.dst, 'vmlinux')))
		self.assert_in_step()

	def test_stash(self):
		path = os.path.join(self.src, 'lib/kunit/test.c')
		self.change(lambda: edit_by_rename(path, 'wip\n'))
		self.change(lambda: self.run_git('stash', '-q'))
		self.assert_in_step()
		self.change(lambda: self.run_git('stash', 'pop', '-q'))
		self.assert_in_step()

	def test_untracked_file_edited_and_deleted(self):
		"""Untracked files: an edit does not change their directory's
		mtime, they are followed by stat; a deletion does."""
		path = os.path.join(self.src, 'drivers/iommu/wip.c')
		self.change(lambda: write(path, 'int wip;\n'))
		self.assert_in_step()
		self.change(lambda: edit_in_place(path, 'int more;\n'))
		self.assert_in_step()
		self.change(lambda: os.unlink(path))
		self.assert_in_step()

	def test_staged_then_synced(self):
		"""An edit that is git-added before the next sync: not in the work
		tree's diff any more, in the index's."""
		path = os.path.join(self.src, 'lib/kunit/test.c')
		def fn():
			edit_by_rename(path, 'int staged;\n')
			self.run_git('add', 'lib/kunit/test.c')
		self.change(fn)
		self.assert_in_step()

	def test_too_recent_is_looked_at_again(self):
		"""A stat taken in the clock tick of a change is not trusted."""
		path = os.path.join(self.src, 'lib/kunit/test.c')
		self.assertEqual(treesync.stat_key(path, racy_ns=0), [0])
		self.assertNotEqual(treesync.stat_key(path, racy_ns=2**63), [0])
		old = {'head': 'x', 'paths': {'a': [0], 'b': [1, 2]}}
		new = {'head': 'x', 'paths': {'a': [0], 'b': [1, 2]}}
		self.assertEqual(treesync.git_changes(self.src, old, new), {'a'})

	def test_unknown_head(self):
		with open(self.state) as f:
			text = f.read()
		head = subprocess.run(['git', '-C', self.src, 'rev-parse', 'HEAD'],
				      stdout=subprocess.PIPE, check=True, text=True).stdout.strip()
		with open(self.state, 'w') as f:
			f.write(text.replace(head, 'f' * 40))
		self.assertIn('full sync (HEAD not comparable)', self.sync())
		self.assert_in_step()


class InstallTest(unittest.TestCase):
	"""The staged overlay into the work copy: only what differs."""

	def setUp(self):
		self.tmp = tempfile.mkdtemp(prefix='treesync-install-')
		self.addCleanup(shutil.rmtree, self.tmp)
		self.stage = os.path.join(self.tmp, 'stage')
		self.dst = os.path.join(self.tmp, 'dst')
		self.src = os.path.join(self.tmp, 'src')
		self.old = os.path.join(self.tmp, 'old')
		self.new = os.path.join(self.tmp, 'new')
		write(os.path.join(self.src, 'drivers/iommu/Kconfig'), 'tree\n')
		write(os.path.join(self.dst, 'drivers/iommu/Kconfig'), 'patched\n')
		write(os.path.join(self.stage, 'drivers/iommu/Kconfig'), 'patched\n')
		write(os.path.join(self.stage, 'drivers/iommu/fake.c'), 'new\n')
		write(os.path.join(self.dst, 'drivers/iommu/old.c'), 'gone\n')
		write(self.old, 'drivers/iommu/Kconfig\ndrivers/iommu/old.c\n')
		write(self.new, 'drivers/iommu/Kconfig\ndrivers/iommu/fake.c\n')

	def test_install(self):
		kconfig = os.path.join(self.dst, 'drivers/iommu/Kconfig')
		os.utime(kconfig, ns=(0, 0))
		line = treesync.install(self.stage, self.dst, self.src, self.old, self.new)
		self.assertEqual(line, 'overlay: 1 file(s) replaced, 1 restored')
		self.assertEqual(listing(self.dst), {'drivers/iommu/Kconfig': b'patched\n',
						     'drivers/iommu/fake.c': b'new\n'})
		# Unchanged: not rewritten, its mtime kept (no rebuild).
		self.assertEqual(os.stat(kconfig).st_mtime_ns, 0)

	def test_overlay_file_back_to_the_tree(self):
		write(self.new, 'drivers/iommu/fake.c\n')
		kconfig = os.path.join(self.dst, 'drivers/iommu/Kconfig')
		os.utime(os.path.join(self.src, 'drivers/iommu/Kconfig'), ns=(0, 0))
		treesync.install(self.stage, self.dst, self.src, self.old, self.new)
		self.assertEqual(listing(self.dst)['drivers/iommu/Kconfig'], b'tree\n')
		# The tree's copy is new to make: what the overlay built goes.
		self.assertGreater(os.stat(kconfig).st_mtime_ns, 0)


class WalkTest(unittest.TestCase):
	"""The walk's own view: only what changed after the last sync."""

	def test_excludes_agree_with_rsync(self):
		with tempfile.TemporaryDirectory() as tmp:
			src = os.path.join(tmp, 'src')
			names = ['a.c', 'a.o', '.a.o.cmd', 'm.ko', '.config', '.config.old',
				 'include/config/x', 'include/generated/x', 'include/linux/x.h',
				 'arch/um/include/generated/x', 'arch/um/include/asm/x',
				 'arch/x86/include/generated/uapi/x', 'drivers/generated/x',
				 '.git/HEAD', 'sub/.git/HEAD', '.kunit/x', 'sub/.config']
			for n in names:
				write(os.path.join(src, n), n)
			dst = os.path.join(tmp, 'dst')
			subprocess.run(['rsync', '-a'] + treesync.rsync_excludes() +
				       [src + '/', dst + '/'], check=True)
			self.assertEqual(sorted(listing(dst)),
					 sorted(n for n in names if not treesync.excluded(n)))


if __name__ == '__main__':
	unittest.main()
