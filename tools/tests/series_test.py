#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Unit tests for tools/iommu_kunit/series.py (make patches): on a tiny
# fake checkout and kernel tree, the overlay's patches become git
# format-patch mails, each carrying the new files tools/series.map gives
# it, with the cover letter; checkpatch is a stub of the tree's; git is
# real (a temporary repository, seconds).
#
#   python3 tools/tests/series_test.py [-v]

"""Unit tests for tools/iommu_kunit/series.py."""

import contextlib
import io
import os
import unittest

from helpers import TmpTestCase, kconfig_patch, make_kernel_tree, read, write
from iommu_kunit import series, sources
from iommu_kunit.common import Context, TestFailure


class CoverLetterTest(unittest.TestCase):

	def test_subject_and_blurb(self) -> None:
		generated = ('Subject: [PATCH 0/1] *** SUBJECT HERE ***\n\n*** BLURB HERE ***\n\n'
			     'Test (1):\n  x\n')
		self.assertEqual(series.cover_letter('  iommu: sync_map errors  \n\n\nThe text.\n\n',
						     generated),
				 'Subject: [PATCH 0/1] iommu: sync_map errors\n\nThe text.\n\n'
				 'Test (1):\n  x\n')


class PatchesTest(TmpTestCase):

	def setUp(self) -> None:
		super().setUp()
		write(os.path.join(self.top, 'drivers/iommu/patches/0001-kconfig.patch'),
		      'From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n' +
		      kconfig_patch())
		write(os.path.join(self.top, 'drivers/iommu/fake.c'), '// fake\n')
		write(os.path.join(self.top, 'tools/series.map'), '0001\tdrivers/iommu/fake.c\n')
		write(os.path.join(self.top, 'tools/cover-letter.txt'), 'The subject\n\nThe blurb.\n')
		self.src = make_kernel_tree(self.path('linux'), (7, 3, 0))
		work = self.path('work')
		self.wsrc = os.path.join(work, 'src')
		self.checkpatch = write(os.path.join(self.wsrc, 'scripts/checkpatch.pl'), 'exit 0;\n')
		self.tree = sources.Tree(src=self.src, kver='7.3.0', series='7.3', name='debian-7.3',
					 work=work, wsrc=self.wsrc, results=self.path('results'),
					 kdir=None, kernel='7.3', pkgver='1')
		env = {k: v for k, v in os.environ.items() if not k.startswith('GIT_')}
		env.update(GIT_CONFIG_GLOBAL='/dev/null', GIT_CONFIG_NOSYSTEM='1')
		self.ctx_ = Context(top=self.top, environ=env)

	def patches(self) -> str:
		out = self.path('out')
		with contextlib.redirect_stdout(io.StringIO()) as log:
			series.patches(self.ctx_, self.tree, out)
		self.log = log.getvalue()
		return out

	def test_mails(self) -> None:
		out = self.patches()
		self.assertEqual(sorted(os.listdir(out)), ['0000-cover-letter.patch',
							   '0001-x.patch'])
		mail = read(os.path.join(out, '0001-x.patch'))
		self.assertIn('+++ b/drivers/iommu/fake.c', mail)
		self.assertIn('+\tselect IOMMU_KUNIT_OVERLAY', mail)
		self.assertTrue(mail.startswith('From 0000000000000000000000000000000000000000'))
		cover = read(os.path.join(out, '0000-cover-letter.patch'))
		self.assertIn('The subject', cover)
		self.assertIn('The blurb.', cover)
		self.assertIn('series: 1 patches and a cover letter in', self.log)

	def test_checkpatch_finding_fails(self) -> None:
		write(self.checkpatch, 'print "WARNING: something\\n"; exit 1;\n')
		with self.assertRaisesRegex(TestFailure, 'checkpatch --strict on 0001-x.patch'):
			self.patches()


if __name__ == '__main__':
	unittest.main()
