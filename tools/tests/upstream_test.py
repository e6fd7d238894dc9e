#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Tests for tools/iommu_kunit/upstream.py (make patches' series) on a tiny kernel tree
with stub get_maintainer.pl and checkpatch.pl: seconds, no kernel."""

import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import unittest

from iommu_kunit import upstream

MAKEFILE = 'VERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 0\nEXTRAVERSION = -rc7\n'
A_C = ''.join(f'int a{i} = {i};\n' for i in range(30))
B_C = ''.join(f'int b{i} = {i};\n' for i in range(30))


def diff(path, old, new):
	"""A git diff of path from old to new text."""
	with tempfile.TemporaryDirectory() as d:
		os.makedirs(os.path.join(d, 'a', os.path.dirname(path)), exist_ok=True)
		os.makedirs(os.path.join(d, 'b', os.path.dirname(path)), exist_ok=True)
		with open(os.path.join(d, 'a', path), 'w') as f:
			f.write(old)
		with open(os.path.join(d, 'b', path), 'w') as f:
			f.write(new)
		r = subprocess.run(['git', 'diff', '--no-index', '--no-prefix',
				    f'a/{path}', f'b/{path}'], cwd=d,
				   capture_output=True, text=True)
		return r.stdout


def stored(subject, body, d):
	return f'Subject: {subject}\n\n{body}\n---\n{d}'


class Tree(unittest.TestCase):
	"""A kernel tree, an overlay (checkout) and a scratch dir."""

	def setUp(self):
		self.tmp = tempfile.mkdtemp()
		self.tree = os.path.join(self.tmp, 'linux')
		self.top = os.path.join(self.tmp, 'top')
		self.repo = os.path.join(self.tmp, 'repo')
		self.out = os.path.join(self.tmp, 'out')
		self.write(self.tree, 'Makefile', MAKEFILE)
		self.write(self.tree, 'drivers/a.c', A_C)
		self.write(self.tree, 'lib/b.c', B_C)
		self.write(self.tree, 'scripts/get_maintainer.pl', textwrap.dedent('''\
			my $roles = join(' ', grep(/^--no-/, @ARGV));
			if ($roles =~ /--no-l/) { print "Maint Ainer <maint\\@example.com>\\n"; }
			else { print "Re Viewer <rev\\@example.com>, list\\@vger.kernel.org\\n"; }
			'''))
		self.write(self.tree, 'scripts/checkpatch.pl', 'exit 0;\n')
		self.write(self.top, 'drivers/iommu/patches/0001-a.patch', stored(
			'drivers: Change a', 'A change of a.\n\nCc: stable@vger.kernel.org',
			diff('drivers/a.c', A_C, A_C.replace('a3 = 3', 'a3 = 33'))))
		self.write(self.top, 'drivers/iommu/patches/0002-b.patch', stored(
			'lib: Change b', 'A change of b, and a new file.',
			diff('lib/b.c', B_C, B_C.replace('b20 = 20', 'b20 = 22') +
			     '/* looked after by @SENDER@ */\n')))
		self.write(self.top, 'lib/new.c', 'int new;\n')
		self.write(self.top, 'tools/series.map', textwrap.dedent('''\
			# comment
			series fix
			subject drivers: A fix
			0001

			series feature
			subject lib: A feature
			depends fix
			cc Some One <one@example.com>
			0002	lib/new.c
			'''))
		self.write(self.top, 'tools/series/fix.txt', 'The fix.\n')
		self.write(self.top, 'tools/series/feature.txt', 'The feature.\n')
		self.who = ('Jane Sender', 'jane@example.com')

	def tearDown(self):
		shutil.rmtree(self.tmp)

	def write(self, root, path, text):
		full = os.path.join(root, path)
		os.makedirs(os.path.dirname(full), exist_ok=True)
		with open(full, 'w') as f:
			f.write(text)


class MapTest(Tree):
	def test_read_map(self):
		s = upstream.read_map(self.top)
		self.assertEqual([x.name for x in s], ['fix', 'feature'])
		self.assertEqual(s[1].depends, ['fix'])
		self.assertEqual(s[1].cc, ['Some One <one@example.com>'])
		self.assertEqual([(p.number, p.files) for p in s[1].patches],
				 [('0002', ['lib/new.c'])])

	def test_bad_maps(self):
		for text, msg in (('0001\n', 'before the first'),
				  ('series x\n0001\n', 'no subject'),
				  ('series x\nsubject s\ndepends y\n', 'not a series named before'),
				  ('series x\nsubject s\nfrobnicate\n', 'malformed line'),
				  ('series x\nsubject s\nseries x\n', 'named twice')):
			self.write(self.top, 'tools/series.map', text)
			with self.assertRaisesRegex(upstream.Error, msg):
				upstream.read_map(self.top)

	def test_backport_deltas(self):
		# Same number replaces, empty drops, a new number joins the
		# series of the patch before it.
		self.write(self.top, 'drivers/iommu/patches/6.12/0001-a.patch', '')
		self.write(self.top, 'drivers/iommu/patches/6.12/0003-c.patch',
			   stored('lib: Backport', 'b.', diff('lib/b.c', B_C, B_C + 'x;\n')))
		s = upstream.series_for_kernel(self.top, '6.12')
		self.assertEqual([x.name for x in s], ['feature'])
		self.assertEqual([p.number for p in s[0].patches], ['0002', '0003'])

	def test_backport_delta_after_its_patch(self):
		# 0001a: right after 0001, in 0001's series, before 0002.
		self.write(self.top, 'drivers/iommu/patches/6.12/0001a-a.patch',
			   stored('drivers: Backport', 'a.', diff('drivers/a.c', A_C, A_C + 'x;\n')))
		s = upstream.series_for_kernel(self.top, '6.12')
		self.assertEqual([[p.number for p in x.patches] for x in s],
				 [['0001', '0001a'], ['0002']])
		self.assertTrue(s[0].patches[1].path.endswith('6.12/0001a-a.patch'))

	def test_stored_patch_names_no_person(self):
		self.write(self.top, 'drivers/iommu/patches/0001-a.patch', stored(
			'x', 'body\n\nSigned-off-by: Somebody <s@example.com>',
			diff('drivers/a.c', A_C, A_C + 'y;\n')))
		with self.assertRaisesRegex(upstream.Error, 'names no person'):
			upstream.read_patch(os.path.join(self.top, 'drivers/iommu/patches/0001-a.patch'))


class IdentityTest(unittest.TestCase):
	def env(self, **kw):
		home = tempfile.mkdtemp()
		self.addCleanup(shutil.rmtree, home)
		env = {'HOME': home, 'PATH': os.environ['PATH'], 'GIT_CONFIG_NOSYSTEM': '1'}
		env.update(kw)
		return env

	def test_from_environment(self):
		self.assertEqual(upstream.identity(self.env(GIT_AUTHOR_NAME='A B',
							    EMAIL='ab@example.com')),
				 ('A B', 'ab@example.com'))

	def test_none_is_an_error_naming_the_settings(self):
		with self.assertRaisesRegex(upstream.Error, 'user.name and user.email'):
			upstream.identity(self.env())


class BuildTest(Tree):
	def test_build_and_check(self):
		made = upstream.build(self.top, self.tree, self.repo, self.out, None,
				      self.who)
		dirs = [os.path.basename(d) for _, d in made]
		self.assertEqual(dirs, ['01-fix', '02-feature'])
		fix = upstream.mails_of(made[0][1])
		feature = upstream.mails_of(made[1][1])
		self.assertEqual(len(fix), 1)
		self.assertEqual(len(feature), 1)
		with open(fix[0]) as f:
			mail = f.read()
		self.assertIn('From: Jane Sender <jane@example.com>', mail)
		self.assertIn('Signed-off-by: Jane Sender <jane@example.com>', mail)
		self.assertIn('Cc: stable@vger.kernel.org', mail)
		self.assertIn('To: Maint Ainer <maint@example.com>', mail)
		self.assertIn('Re Viewer <rev@example.com>', mail)
		self.assertRegex(mail, r'(?m)^index [0-9a-f]+\.\.[0-9a-f]+ ')
		with open(feature[0]) as f:
			mail = f.read()
		self.assertIn('Some One <one@example.com>', mail)
		self.assertIn('+/* looked after by Jane Sender <jane@example.com> */', mail)
		self.assertIn('lib/new.c', mail)
		with open(os.path.join(made[1][1], '0000-cover-letter.patch')) as f:
			cover = f.read()
		self.assertIn('lib: A feature', cover)
		self.assertIn('The feature.', cover)
		self.assertIn('drivers: A fix (fix)', cover)
		self.assertRegex(cover, r'(?m)^base-commit: [0-9a-f]{40}$')
		self.assertRegex(cover, r'(?m)^prerequisite-patch-id: [0-9a-f]{40}$')
		# The feature's mails start after the fix: index lines chain.
		logs: list[str] = []
		upstream.check(self.top, self.tree, self.repo, made, log=logs.append)
		self.assertTrue(any('to the base alone' in m for m in logs), logs)
		self.assertTrue(any('after fix' in m for m in logs), logs)
		self.assertTrue(any('git am -3' in m for m in logs), logs)
		# The pristine tree is never written to.
		with open(os.path.join(self.tree, 'drivers/a.c')) as f:
			self.assertEqual(f.read(), A_C)

	def test_a_squash_delta_folds_into_the_patch_before_it(self):
		# As a backport needs it: the patch alone would not build there.
		a1 = A_C.replace('a3 = 3', 'a3 = 33')
		self.write(self.top, 'drivers/iommu/patches/6.12/0001a-a.patch', stored(
			'squash! drivers: Change a', '[ 6.12: a5 is a4 there ]',
			diff('drivers/a.c', a1, a1.replace('a5 = 5', 'a5 = 4'))))
		made = upstream.build(self.top, self.tree, self.repo, self.out, '6.12', self.who)
		fix = upstream.mails_of(made[0][1])
		self.assertEqual(len(fix), 1)
		with open(fix[0]) as f:
			mail = f.read()
		self.assertIn('Subject: [PATCH 1/1] drivers: Change a', mail)
		self.assertIn('+int a5 = 4;', mail)
		self.assertIn('+int a3 = 33;', mail)
		# The note, then the one sign-off.
		self.assertRegex(mail, r'\[ 6\.12: a5 is a4 there \]\n\nSigned-off-by: Jane')
		self.assertEqual(mail.count('Signed-off-by:'), 1)

	def test_a_squash_delta_names_the_patch_before_it(self):
		self.write(self.top, 'drivers/iommu/patches/6.12/0001a-a.patch', stored(
			'squash! drivers: Another fix', 'x.', diff('lib/b.c', B_C, B_C + 'x;\n')))
		with self.assertRaisesRegex(upstream.Error, 'squashes into "drivers: Another fix", '
					    'but the patch before it is "drivers: Change a"'):
			upstream.build(self.top, self.tree, self.repo, self.out, '6.12', self.who)

	def test_a_patch_that_does_not_apply(self):
		self.write(self.top, 'drivers/iommu/patches/0001-a.patch', stored(
			'x', 'y', diff('drivers/a.c', A_C.replace('a3', 'zz'), A_C)))
		with self.assertRaisesRegex(upstream.Error, '0001-a.patch does not apply'):
			upstream.build(self.top, self.tree, self.repo, self.out, None, self.who)

	def test_reuses_the_base(self):
		upstream.build(self.top, self.tree, self.repo, self.out, None, self.who)
		base = upstream.base_repo(self.tree, self.repo)
		self.assertEqual(upstream.base_repo(self.tree, self.repo), base)
		r = subprocess.run(['git', 'status', '--porcelain'], cwd=self.repo,
				   capture_output=True, text=True)
		self.assertEqual(r.stdout, '')


if __name__ == '__main__':
	unittest.main()
