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

import json
import os
import subprocess
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
		# Each of several must pick one.
		with self.assertRaisesRegex(UsageError, 'CONFIGS=nope names no configuration'):
			buildcheck.selected('um-kunitconfig nope', '')

	def test_several_globs(self) -> None:
		configs, runs = buildcheck.selected('s390-*, um-kunitconfig run-all-tests', '')
		self.assertEqual([c.name for c in configs], ['um-kunitconfig', 's390-pci',
							     's390-no-pci'])
		self.assertEqual([r.name for r in runs], ['run-all-tests'])

	def test_scope_can_leave_nothing(self) -> None:
		with self.assertRaisesRegex(UsageError, 'picks no configuration'):
			buildcheck.selected('um-kunitconfig', 'ci')

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


	def test_a_later_option_overrides_the_in_tree_one(self) -> None:
		self.assertEqual(buildcheck.merged_options(['KUNIT=y', 'A_TEST=y', 'B=y'],
							   ['A_TEST=m', 'MODULES=y']),
				 ['KUNIT=y', 'A_TEST=m', 'B=y', 'MODULES=y'])

	def test_every_configuration_asks_one_value_per_option(self) -> None:
		intree = buildcheck.intree_options(TOP)
		for c in buildcheck.CONFIGS:
			asked = buildcheck.merged_options(intree if c.intree else [], c.options)
			names = [o.split('=', 1)[0] for o in asked]
			self.assertEqual(len(names), len(set(names)), c.name)
			for o in c.options:
				self.assertIn(o, asked, c.name)

	def test_all_tests_m_asks_no_test_built_in(self) -> None:
		"""KUNIT_ALL_TESTS=m caps every test's prompt (if
		!KUNIT_ALL_TESTS) at m: a test asked =y there would be a false
		failure of the .config check."""
		intree = buildcheck.intree_options(TOP)
		for c in buildcheck.CONFIGS:
			asked = buildcheck.merged_options(intree if c.intree else [], c.options)
			if 'KUNIT_ALL_TESTS=m' not in asked:
				continue
			built_in = [o for o in asked if o.endswith('_KUNIT_TEST=y')]
			self.assertEqual(built_in, [], c.name)


# kunit.py's JSON (kunit_json.py): suites are the top group's sub_groups,
# a parameterised case a suite's sub_group.
KUNIT_JSON = {'name': 'KUnit Test Group', 'test_cases': [], 'sub_groups': [
	{'name': 'buildcheck_warn_first', 'sub_groups': [],
	 'test_cases': [{'name': 'warn_first_test', 'status': 'PASS'}]},
	{'name': 'iommu_map', 'test_cases': [{'name': 'plain', 'status': 'FAIL'}],
	 'sub_groups': [{'name': 'sync_error', 'sub_groups': [], 'test_cases': [
		 {'name': '-ENOMEM', 'status': 'PASS'}, {'name': '-EIO', 'status': 'ERROR'},
		 {'name': '-EFAULT', 'status': 'SKIP'}]}]},
]}


class ResultsTest(TmpTestCase):

	def test_case_results_and_failures(self) -> None:
		path = write(self.path('r.json'), json.dumps(KUNIT_JSON))
		self.assertEqual(buildcheck.case_results(path), {
			'buildcheck_warn_first.warn_first_test': 'PASS',
			'iommu_map.plain': 'FAIL',
			'iommu_map.sync_error.-ENOMEM': 'PASS',
			'iommu_map.sync_error.-EIO': 'ERROR',
			'iommu_map.sync_error.-EFAULT': 'SKIP'})
		self.assertEqual(buildcheck.failures(path),
				 ['iommu_map.plain', 'iommu_map.sync_error.-EIO'])


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


class AddedFilesTest(TmpTestCase):

	def test_what_this_trees_series_adds(self) -> None:
		"""kernel-doc reads the files this tree's series adds, not the
		overlay's (6.12's series has fewer); changed files are not new."""
		repo = self.path('repo')
		write(os.path.join(repo, 'drivers/iommu/iommu.c'), 'int a;\n')

		def git(*args: str) -> None:
			subprocess.run(['git', '-c', 'user.name=t', '-c', 'user.email=t@t', *args],
				       cwd=repo, check=True, capture_output=True)
		git('init', '-q')
		git('add', '-A')
		git('commit', '-q', '-m', 'base')
		base = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=repo, check=True,
				      capture_output=True, text=True).stdout.strip()
		write(os.path.join(repo, 'drivers/iommu/iommu.c'), 'int a, b;\n')
		write(os.path.join(repo, 'drivers/iommu/tests/fake-iommu.c'), 'int c;\n')
		git('add', '-A')
		git('commit', '-q', '-m', 'series')
		self.assertEqual(buildcheck.added_files(repo, base),
				 {'drivers/iommu/tests/fake-iommu.c'})

	def test_kernel_doc_names(self) -> None:
		self.assertEqual(buildcheck.kernel_doc_name('7.3'), 'kernel-doc')
		self.assertEqual(buildcheck.kernel_doc_name('6.12'), 'kernel-doc-6.12')
		self.assertIn('kernel-doc-6.12', buildcheck.kernel_names('6.12', [], []))


class DocumentedTest(TmpTestCase):

	def test_the_in_tree_kunitconfig(self) -> None:
		src = self.path('src')
		with open(os.path.join(TOP, 'drivers/iommu/.kunitconfig')) as f:
			write(os.path.join(src, 'drivers/iommu/.kunitconfig'), f.read())
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
