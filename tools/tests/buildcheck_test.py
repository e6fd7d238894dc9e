#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Unit tests for tools/iommu_kunit/buildcheck.py (make buildcheck): which
# configurations a glob and SCOPE=ci pick, what a configuration asks of
# Kconfig and how a .config that does not give it is reported, which build
# warnings are ours, and the kunit.py commands the in-tree .kunitconfig
# documents. No kernel.
#
#   python3 tools/tests/buildcheck_test.py [-v]

"""Unit tests for tools/iommu_kunit/buildcheck.py."""

import os
import unittest

from helpers import TmpTestCase, write
from iommu_kunit import buildcheck
from iommu_kunit.common import InfraError, UsageError

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')


class SelectTest(unittest.TestCase):

	def test_extra_packages(self) -> None:
		"""clang and lld only for the configurations that use them."""
		ci, _ = buildcheck.selected('', 'ci')
		self.assertNotIn('clang', buildcheck.extra_packages(ci))
		self.assertIn('sparse', buildcheck.extra_packages(ci))
		every, _ = buildcheck.selected('', '')
		self.assertIn('lld', buildcheck.extra_packages(every))

	def test_glob_and_scope(self) -> None:
		configs, runs = buildcheck.selected('um-*', '')
		self.assertTrue(configs)
		self.assertTrue(all(c.name.startswith('um-') for c in configs))
		self.assertEqual(runs, [])
		configs, runs = buildcheck.selected('', 'ci')
		self.assertTrue(all(c.ci for c in configs))
		self.assertTrue(all(r.ci for r in runs))
		self.assertIn('x86_64-modules', [c.name for c in configs])

	def test_a_glob_that_picks_nothing(self) -> None:
		with self.assertRaisesRegex(UsageError, 'CONFIGS=nope names no configuration'):
			buildcheck.selected('nope', '')

	def test_names_are_unique(self) -> None:
		names = [c.name for c in buildcheck.CONFIGS] + [r.name for r in buildcheck.RUNS]
		self.assertEqual(len(names), len(set(names)))


class ConfigTest(unittest.TestCase):

	def test_option_lines(self) -> None:
		self.assertEqual(buildcheck.option_lines(['A=y', 'B=n', 'C=m']),
				 ['CONFIG_A=y', '# CONFIG_B is not set', 'CONFIG_C=m'])

	def test_problems(self) -> None:
		c = buildcheck.Config('x', 'um', 'why', dropped=('D',))
		final = {'A': 'y', 'C': 'y', 'D': 'y'}
		problems = buildcheck.config_problems(final, c, ['A=y', 'B=n', 'C=m', 'D=y'])
		self.assertEqual(len(problems), 2, problems)
		self.assertIn('CONFIG_C=m asked, .config has y', problems[0])
		self.assertIn('CONFIG_D should be dropped', problems[1])
		self.assertEqual(buildcheck.config_problems({'A': 'y'}, c, ['A=y', 'B=n']), [])


class WarningsTest(unittest.TestCase):

	def test_ours_only(self) -> None:
		log = '\n'.join([
			'/src/drivers/iommu/tests/fake-iommu.c:12:3: warning: unused variable',
			'drivers/iommu/iommu.c:100:1: warning: on a line the series changed',
			'drivers/iommu/iommu.c:7:1: warning: on a line it did not change',
			'lib/other.c:5: warning: not ours',
			'ERROR: modpost: "x" [drivers/iommu/tests/iommu_dma_kunit.ko] undefined!',
		])
		found = buildcheck.our_warnings(log, '/src', {'drivers/iommu/tests/fake-iommu.c'},
						{'drivers/iommu/iommu.c': {100}})
		self.assertEqual(len(found), 3, found)
		self.assertIn('modpost', found[2])


class DocumentedTest(TmpTestCase):

	def test_the_in_tree_kunitconfig(self) -> None:
		src = self.path('src')
		write(os.path.join(src, 'drivers/iommu/.kunitconfig'),
		      open(os.path.join(TOP, 'drivers/iommu/.kunitconfig')).read())
		x86 = buildcheck.documented_args(src, 'x86_64')
		self.assertIn('--kconfig_add', x86)
		self.assertIn('CONFIG_IOMMU_DMA_KUNIT_TEST=y', x86)
		self.assertNotIn('--arch=x86_64', x86)
		s390 = buildcheck.documented_args(src, 's390')
		self.assertIn('CONFIG_S390_IOMMU_KUNIT_TEST=y', s390)

	def test_none_documented(self) -> None:
		src = self.path('src')
		write(os.path.join(src, 'drivers/iommu/.kunitconfig'), 'CONFIG_KUNIT=y\n')
		with self.assertRaisesRegex(InfraError, 'no kunit.py command for s390'):
			buildcheck.documented_args(src, 's390')


if __name__ == '__main__':
	unittest.main()
