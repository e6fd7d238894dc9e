#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Unit tests for tools/iommu_kunit/series.py (make patches): the sender's
# identity and the errors it turns upstream.py's into, on a tiny fake
# checkout and kernel tree; upstream_test.py tests the series themselves.
#
#   python3 tools/tests/series_test.py [-v]

"""Unit tests for tools/iommu_kunit/series.py."""

import contextlib
import io
import os
import unittest

from helpers import TmpTestCase, kconfig_patch, make_kernel_tree, read, write
from iommu_kunit import series, sources
from iommu_kunit.common import Context, TestFailure, UsageError


class PatchesTest(TmpTestCase):

	def setUp(self) -> None:
		super().setUp()
		mail = kconfig_patch()
		body = mail[mail.index('diff --git'):]
		write(os.path.join(self.top, 'drivers/iommu/patches/0001-kconfig.patch'),
		      'Subject: x: A change\n\nThe change.\n---\n' + body)
		write(os.path.join(self.top, 'drivers/iommu/fake.c'), '// fake\n')
		write(os.path.join(self.top, 'tools/series.map'),
		      'series x\nsubject x: The series\n0001\tdrivers/iommu/fake.c\n')
		write(os.path.join(self.top, 'tools/series/x.txt'), 'The blurb.\n')
		self.src = make_kernel_tree(self.path('linux'), (7, 3, 0))
		write(os.path.join(self.src, 'scripts/checkpatch.pl'), 'exit 0;\n')
		write(os.path.join(self.src, 'scripts/get_maintainer.pl'),
		      'print "A Maintainer <a\\@example.com>\\n";\n')
		work = self.path('work')
		self.tree = sources.Tree(src=self.src, kver='7.3.0', series='7.3', name='debian-7.3',
					 work=work, wsrc=os.path.join(work, 'src'),
					 results=self.path('results'), kdir=None, kernel='7.3',
					 pkgver='1')
		self.env = {k: v for k, v in os.environ.items() if not k.startswith('GIT_')}
		self.env.update(GIT_CONFIG_GLOBAL='/dev/null', GIT_CONFIG_NOSYSTEM='1')
		self.env.pop('EMAIL', None)

	def patches(self, **env: str) -> str:
		out = self.path('out')
		ctx = Context(top=self.top, environ=dict(self.env, **env))
		with contextlib.redirect_stdout(io.StringIO()) as log:
			series.patches(ctx, self.tree, out)
		self.log = log.getvalue()
		return out

	def test_mails_from_the_sender(self) -> None:
		out = self.patches(GIT_AUTHOR_NAME='Jane Sender', GIT_AUTHOR_EMAIL='jane@example.com')
		self.assertEqual(os.listdir(out), ['01-x'])
		mail = read(os.path.join(out, '01-x', '0001-x-A-change.patch'))
		self.assertIn('From: Jane Sender <jane@example.com>', mail)
		self.assertIn('Signed-off-by: Jane Sender <jane@example.com>', mail)
		self.assertIn('+++ b/drivers/iommu/fake.c', mail)
		self.assertIn('To: A Maintainer <a@example.com>', mail)
		self.assertIn('The blurb.', read(os.path.join(out, '01-x', '0000-cover-letter.patch')))
		self.assertIn('signed off by Jane Sender', self.log)

	def test_no_sender_is_a_usage_error(self) -> None:
		with self.assertRaisesRegex(UsageError, 'user.name and user.email'):
			self.patches()

	def test_no_sender_stops_before_the_tree(self) -> None:
		"""make patches without a sender fails before the kernel tree is
		fetched or copied (slow on a fresh clone)."""
		from unittest import mock
		from iommu_kunit import cli, series_cmd
		ctx = Context(top=self.top, environ=self.env)
		opts = cli.parse(['patches', 'KERNEL=7.3'])
		with mock.patch.object(series_cmd, 'prepare_main') as prepare, \
		     self.assertRaisesRegex(UsageError, 'no sender'):
			series_cmd.main(ctx, opts)
		prepare.assert_not_called()

	def test_checkpatch_finding_fails(self) -> None:
		write(os.path.join(self.src, 'scripts/checkpatch.pl'),
		      'print "WARNING: something\\n"; exit 1;\n')
		with self.assertRaisesRegex(TestFailure, 'checkpatch --strict on 0001-x-A-change.patch'):
			self.patches(GIT_AUTHOR_NAME='J', GIT_AUTHOR_EMAIL='j@example.com')


if __name__ == '__main__':
	unittest.main()
