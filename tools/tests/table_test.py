#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Unit tests for tools/iommu_kunit/table.py, the runner's deciding logic
# (the leg x kernel table, make test's matrix, the legs patches need, the
# mutants, the series map) and make total (results.py), in the style of
# the kernel's tools/testing/kunit/kunit_tool_test.py: the module is
# imported and called directly, on fixtures (kunit.py JSON results,
# patches as text, a fake checkout in a temporary directory), with no
# kernel tree, build or download; the one thing it asks the system (is
# ccache there?) is mocked.
#
#   python3 tools/tests/table_test.py [-v]

"""Unit tests for tools/iommu_kunit/table.py."""

import io
import os
import shutil
import tempfile
import unittest
from unittest import mock

from helpers import REPO, kunit_json, patch_text, write
from iommu_kunit import results
from iommu_kunit import table as iommu_kunit
from iommu_kunit.common import UsageError


class TmpTestCase(unittest.TestCase):
	"""A temporary directory, top: a checkout's layout as a test makes it."""

	def setUp(self):
		self.top = tempfile.mkdtemp(prefix='iommu-kunit-py-test.')
		self.addCleanup(shutil.rmtree, self.top)

	def path(self, *parts):
		return os.path.join(self.top, *parts)

	def patch(self, name, *files, new=()):
		"""A patch file in the temporary directory."""
		path = self.path('patches', name)
		write(path, patch_text(*files, new=new))
		return path

	def assertBadInput(self, fn, *fragments):
		"""fn() raises a UsageError (exit 2) whose one line names
		fragments."""
		with self.assertRaises(UsageError) as cm:
			fn()
		self.assertEqual(cm.exception.code, 2)
		self.assertNotIn('\n', str(cm.exception))
		for fragment in fragments:
			self.assertIn(fragment, str(cm.exception))


class TableTest(unittest.TestCase):
	"""The table itself: each leg and kernel once, consistent."""

	def test_legs_and_kernels(self):
		self.assertEqual(list(iommu_kunit.LEGS), ['um', 'x86_64', 's390'])
		self.assertEqual(list(iommu_kunit.KERNELS), ['6.12', '7.2', '7.3'])
		self.assertIn(iommu_kunit.DEFAULT_KERNEL, iommu_kunit.KERNELS)
		self.assertIn(iommu_kunit.MAINLINE_SERIES, iommu_kunit.KERNELS)

	def test_kernel_source(self):
		self.assertEqual(iommu_kunit.kernel_source('6.12'), 'system')
		self.assertEqual(iommu_kunit.kernel_source('7.2'), 'sid')
		self.assertEqual(iommu_kunit.kernel_source('7.3'), 'experimental')
		with self.assertRaisesRegex(UsageError, "unknown kernel '7.9'"):
			iommu_kunit.kernel_source('7.9')

	def test_matrix_names_only_table_entries(self):
		known = set(iommu_kunit.LEGS) | {iommu_kunit.PATCHES_CHECK}
		for k, spec in iommu_kunit.KERNELS.items():
			with self.subTest(kernel=k):
				self.assertLessEqual(set(spec.test), known)
				self.assertLessEqual(set(spec.ci), set(spec.test))

	def test_every_leg_has_its_files(self):
		"""Adding a leg is its entry and kunitconfig/<leg>.kunitconfig
		and .suites: this checkout has them for every leg."""
		for leg in iommu_kunit.LEGS:
			for suffix in ('kunitconfig', 'suites'):
				with self.subTest(leg=leg, suffix=suffix):
					self.assertTrue(os.path.isfile(os.path.join(
						REPO, 'kunitconfig', f'{leg}.{suffix}')))

	def test_runner_has_no_leg_data(self):
		"""The runner takes every leg's compiler and arguments from the
		table: no module but table.py has a cross prefix, kunit.py
		--arch or package list of its own (objdump's s390 objdump, whose
		command is s390's, apart)."""
		pkg = os.path.join(REPO, 'tools', 'iommu_kunit')
		for name in sorted(os.listdir(pkg)):
			if not name.endswith('.py') or name in ('table.py', 'cli.py'):
				continue
			with open(os.path.join(pkg, name)) as f:
				code = [line for line in f if not line.lstrip().startswith('#')
					and 'objdump' not in line]
			for data in ("'CROSS_COMPILE=", '--cross_compile', 'qemu-system-misc',
				     'gcc-s390x-linux-gnu', "'s390x-linux-gnu-gcc", 'libc6-dev'):
				with self.subTest(module=name, data=data):
					self.assertEqual([line for line in code if data in line], [])


class TestMatrixTest(unittest.TestCase):
	"""make test's matrix, and the share of it LEGS= and KERNELS= pick."""

	def matrix(self, scope='', legs='', kernels=''):
		return [' '.join([k] + items) for k, items in
			iommu_kunit.test_matrix(scope, legs.split(), kernels.split())]

	def test_full(self):
		self.assertEqual(self.matrix(), ['7.3 um x86_64 s390 patches-check',
						 '6.12 um x86_64 s390 patches-check', '7.2 um'])

	def test_ci(self):
		self.assertEqual(self.matrix('ci'), ['7.3 um x86_64 s390 patches-check',
						     '6.12 um'])

	def test_legs_and_kernels(self):
		self.assertEqual(self.matrix(legs='um', kernels='7.3 7.2'), ['7.3 um', '7.2 um'])
		self.assertEqual(self.matrix('ci', 'um s390', '6.12'), ['6.12 um'])
		self.assertEqual(self.matrix('ci', 'x86_64 s390', '6.12'), [])
		self.assertEqual(self.matrix('ci', 's390', '7.2'), [])

	def test_patches_check_alone(self):
		self.assertEqual(self.matrix(legs='patches-check'),
				 ['7.3 patches-check', '6.12 patches-check'])

	def test_mainline_first(self):
		"""The mainline series runs first, whatever the table's order."""
		kernels = {'7.3': iommu_kunit.KERNELS['7.3'],
			   '6.12': iommu_kunit.KERNELS['6.12']}
		with mock.patch.dict(iommu_kunit.KERNELS, kernels, clear=True):
			self.assertEqual([k for k, _ in iommu_kunit.test_matrix()],
					 ['7.3', '6.12'])

	def test_new_kernel_is_one_entry(self):
		"""A kernel added to the table is in the matrix, nothing else to
		change."""
		new = iommu_kunit.Kernel(source='experimental', test=('um',), ci=())
		with mock.patch.dict(iommu_kunit.KERNELS, {'7.4': new}):
			self.assertEqual(self.matrix()[-1], '7.4 um')
			self.assertEqual(self.matrix(kernels='7.4'), ['7.4 um'])

	def test_shares(self):
		self.assertEqual(self.matrix('ci', 's390 patches-check', '7.3 6.12'),
				 ['7.3 s390 patches-check'])
		self.assertEqual(self.matrix('', 'um patches-check', '7.3 6.12'),
				 ['7.3 um patches-check', '6.12 um patches-check'])

	def test_bad_input(self):
		cases: list = [({'legs': ['arm64']}, "unknown leg 'arm64' in LEGS="),
			       ({'kernels': ['5.4']}, "unknown kernel '5.4' in KERNELS="),
			       ({'scope': 'nightly'}, 'unknown SCOPE=nightly')]
		for kw, fragment in cases:
			with self.subTest(kw=kw):
				with self.assertRaises(UsageError) as cm:
					iommu_kunit.test_matrix(**kw)
				self.assertIn(fragment, str(cm.exception))
				self.assertEqual(cm.exception.code, 2)


class LegTest(TmpTestCase):
	"""A leg's packages, compiler, make and kunit.py arguments, files."""

	def test_packages(self):
		common = list(iommu_kunit.COMMON_PACKAGES)
		self.assertEqual(iommu_kunit.packages('um'), common)
		self.assertEqual(iommu_kunit.packages('x86_64')[-2:],
				 ['qemu-system-x86', 'busybox-static'])
		self.assertIn('gcc-s390x-linux-gnu', iommu_kunit.packages('s390'))
		self.assertEqual(iommu_kunit.packages('coverage'), common + ['lcov'])
		# Debian's kernel from the machine's apt sources is a package;
		# sid's and experimental's are fetched, a KDIR is the user's.
		self.assertEqual(iommu_kunit.packages('um', '6.12'),
				 common + ['linux-source-6.12'])
		self.assertEqual(iommu_kunit.packages('um', '7.3'), common)
		self.assertEqual(iommu_kunit.packages('s390', '6.12')[-3:],
				 ['gcc-s390x-linux-gnu', 'qemu-system-misc', 'linux-source-6.12'])
		self.assertEqual(iommu_kunit.packages('selftest'), ['make', 'python3', 'git', 'rsync', 'patch',
								    'xz-utils', 'python3-mypy', 'shellcheck'])

	def test_compiler(self):
		self.assertEqual(iommu_kunit.compiler('um', True), 'ccache gcc')
		self.assertEqual(iommu_kunit.compiler('x86_64', False), 'gcc')
		self.assertEqual(iommu_kunit.compiler('s390', True), 'ccache s390x-linux-gnu-gcc')

	def test_make_args(self):
		self.assertEqual(iommu_kunit.make_args('um', False), ['ARCH=um', 'CC=gcc'])
		self.assertEqual(iommu_kunit.make_args('x86_64', True),
				 ['ARCH=x86_64', 'CC=ccache gcc'])
		self.assertEqual(iommu_kunit.make_args('s390', True),
				 ['ARCH=s390', 'CROSS_COMPILE=s390x-linux-gnu-',
				  'CC=ccache s390x-linux-gnu-gcc'])

	def test_kunit_arch_args(self):
		self.assertEqual(iommu_kunit.kunit_arch_args('um'), [])
		self.assertEqual(iommu_kunit.kunit_arch_args('x86_64'), ['--arch=x86_64'])
		self.assertEqual(iommu_kunit.kunit_arch_args('s390'),
				 ['--arch=s390', '--cross_compile=s390x-linux-gnu-'])

	def test_unknown_leg(self):
		self.assertBadInput(lambda: iommu_kunit.packages('arm64'), "unknown leg 'arm64'")
		self.assertBadInput(lambda: iommu_kunit.compiler('arm64', True), "unknown leg")
		self.assertBadInput(lambda: iommu_kunit.leg_files(self.top, 'arm64', 'suites', ''),
				    "unknown leg")
		self.assertBadInput(lambda: iommu_kunit.packages('um', '5.4'), "unknown kernel '5.4'")

	def kunitconfigs(self):
		"""kunitconfig/ as the project has it: the leg's own fragment, a
		6.12 delta and what the mainline series adds; 7.2 has patch
		deltas (a backported fix) but no kunitconfig of its own."""
		self.leg = self.path('kunitconfig', 'um.kunitconfig')
		self.delta = self.path('kunitconfig', '6.12', 'um.kunitconfig')
		self.mainline = self.path('kunitconfig', 'mainline', 'um.kunitconfig')
		write(self.leg, 'CONFIG_KUNIT=y\n')
		write(self.delta, 'CONFIG_IOMMU_API=y\n')
		write(self.mainline, 'CONFIG_IOMMU_DEBUG_PAGEALLOC=y\n')
		write(self.path('drivers', 'iommu', 'patches', '7.2', '0014-x.patch'), 'x\n')

	def test_backport_kernel(self):
		"""6.12: the leg's own fragment first, then the 6.12 one, and
		not the mainline one."""
		self.kunitconfigs()
		self.assertEqual(iommu_kunit.leg_files(self.top, 'um', 'kunitconfig', '6.12'),
				 [self.leg, self.delta])

	def test_mainline_kernel(self):
		"""A kernel without a kunitconfig directory of its own (7.2, even
		with patch deltas; 7.3; a newer KDIR) gets what the mainline
		series adds."""
		self.kunitconfigs()
		for series in ('7.3', '7.2', '7.4'):
			with self.subTest(series=series):
				self.assertEqual(iommu_kunit.leg_files(self.top, 'um', 'kunitconfig',
								       series),
						 [self.leg, self.mainline])

	def test_suites(self):
		write(self.path('kunitconfig', 'um.suites'), 'iommu_map\n')
		write(self.path('kunitconfig', 'mainline', 'um.suites'), 'iommu_dma_link\n')
		write(self.path('kunitconfig', '6.12', 'um.kunitconfig'), '')
		self.assertEqual(iommu_kunit.leg_files(self.top, 'um', 'suites', '7.3'),
				 [self.path('kunitconfig', 'um.suites'),
				  self.path('kunitconfig', 'mainline', 'um.suites')])
		self.assertEqual(iommu_kunit.leg_files(self.top, 'um', 'suites', '6.12'),
				 [self.path('kunitconfig', 'um.suites')])

	def test_leg_without_files(self):
		self.assertEqual(iommu_kunit.leg_files(self.top, 'x86_64', 'kunitconfig', '6.12'), [])

	def test_leg_decisions(self):
		"""What a leg's run gets: compiler, make and kunit.py arguments,
		fragments for the kernel series (values with spaces are one
		argument each)."""
		self.kunitconfigs()
		self.assertEqual(iommu_kunit.make_args('s390', True),
				 ['ARCH=s390', 'CROSS_COMPILE=s390x-linux-gnu-',
				  'CC=ccache s390x-linux-gnu-gcc'])
		self.assertEqual(iommu_kunit.leg_files(self.top, 's390', 'kunitconfig', '7.3'), [])
		self.assertEqual(iommu_kunit.leg_files(self.top, 'um', 'kunitconfig', '6.12'),
				 [self.leg, self.delta])

	def test_ccache_when_there(self):
		"""Builds use ccache if it is on PATH."""
		for found, want in (('/usr/bin/ccache', True), (None, False)):
			with self.subTest(found=found), \
			     mock.patch('shutil.which', return_value=found) as which:
				self.assertEqual(iommu_kunit.have_ccache(), want)
				which.assert_called_once_with('ccache')

	def test_expected_suites_and_suite_glob(self):
		"""SUITE= must select one of the leg's suites on the kernel
		series (its own .suites, then the series'); iommu_kmemleak is no
		KUnit suite."""
		write(self.path('kunitconfig', 'um.suites'), '# um\niommu_map\nkunit_script\n')
		write(self.path('kunitconfig', 'x86_64.suites'), 'iommu_dma\niommu_kmemleak\n')
		write(self.path('kunitconfig', 'mainline', 'um.suites'),
		      'iommu_map_pt\nskip: iommu_map_pt.x  # why\n')
		write(self.path('kunitconfig', '6.12', 'um.kunitconfig'), '')
		self.assertEqual(iommu_kunit.expected_suites(self.top, 'um', '7.3'),
				 ['iommu_map', 'kunit_script', 'iommu_map_pt'])
		self.assertEqual(iommu_kunit.expected_skips(self.top, 'um', '7.3'),
				 ['iommu_map_pt.x'])
		self.assertEqual(iommu_kunit.expected_skips(self.top, 'um', '6.12'), [])
		self.assertEqual(iommu_kunit.check_suite_glob(self.top, 'um', '7.3', 'iommu_map*'),
				 ['iommu_map', 'iommu_map_pt'])
		self.assertEqual(iommu_kunit.check_suite_glob(self.top, 'um', '7.3',
							      'kunit_script.kunit_script_test_nth'),
				 ['kunit_script'])
		self.assertBadInput(lambda: iommu_kunit.check_suite_glob(self.top, 'um', '6.12',
									 'iommu_map_pt'),
				    'SUITE=iommu_map_pt selects no suite of leg um on kernel 6.12',
				    'its suites: iommu_map kunit_script')
		self.assertBadInput(lambda: iommu_kunit.check_suite_glob(self.top, 'x86_64', '7.3',
									 'iommu_kmemleak'),
				    'selects no suite of leg x86_64')


KUNIT_PY_7X = ("""	parser.add_argument('--json',
			    nargs='?',
			    type=str, const='stdout', default=None, metavar='FILE')
	parser.add_argument('--junit',
			    nargs='?',
			    help='Prints parsed test results as JUnit XML to stdout or a file if '
			    'a filename is specified. Does nothing if --raw_output is set.',
			    type=str, const='stdout', default=None, metavar='FILE')
""")
# 6.12's: --json, no --junit.
KUNIT_PY_612 = KUNIT_PY_7X.split("\tparser.add_argument('--junit'")[0]


class JunitModeTest(TmpTestCase):
	"""How a tree's kunit.py gives JUnit XML."""

	def kunit_py(self, tree, text):
		path = self.path(tree, 'tools', 'testing', 'kunit', 'kunit.py')
		write(path, text)
		return path

	def test_junit_mode(self):
		self.assertEqual(iommu_kunit.junit_mode(self.kunit_py('a', KUNIT_PY_7X)), 'kunit')
		self.assertEqual(iommu_kunit.junit_mode(self.kunit_py('b', KUNIT_PY_612)), 'convert')
		with self.assertRaises(OSError):
			iommu_kunit.junit_mode(self.path('nope.py'))


class MutantsTest(TmpTestCase):
	"""make mutate's legs and each leg's mutants on a kernel series, on
	a fake tools/mutants/."""

	def setUp(self):
		super().setUp()
		m = self.path('tools', 'mutants')
		write(os.path.join(m, 'um', '01-a.patch'), 'CI: um\n\n--- a/x\n')
		write(os.path.join(m, 'um', '02-b.patch'), 'Breaks b.\n--- a/x\nCI: um\n')
		write(os.path.join(m, 'um', '6.12', '01-a.patch'), 'CI: um\n--- a/x\n')
		# 6.12 lacks what 02-b breaks, and has a mutant of its own.
		write(os.path.join(m, 'um', '6.12', '02-b.patch'))
		write(os.path.join(m, 'um', '6.12', '03-c.patch'), '--- a/x\n')
		write(os.path.join(m, 'shared', 'both.patch'),
		      'Legs: um s390\nCI: um x86_64\n--- a/y\n')
		write(os.path.join(m, 'shared', 'x86.patch'), 'Legs: x86_64\n--- a/z\n')
		write(os.path.join(m, 'shared', 'umx.patch'), 'Legs: umx\n--- a/z\n')
		for leg in iommu_kunit.LEGS:
			write(self.path('kunitconfig', f'{leg}.kunitconfig'))

	def test_own_then_shared(self):
		def mutants(leg, series, glob=''):
			return iommu_kunit.mutants(self.top, leg, series, glob)
		self.assertEqual(mutants('um', '7.3'), ['tools/mutants/um/01-a.patch',
							'tools/mutants/um/02-b.patch',
							'tools/mutants/shared/both.patch'])
		self.assertEqual(mutants('um', '6.12'), ['tools/mutants/um/6.12/01-a.patch',
							 'tools/mutants/um/6.12/03-c.patch',
							 'tools/mutants/shared/both.patch'])
		self.assertEqual(mutants('s390', '7.3'), ['tools/mutants/shared/both.patch'])
		self.assertEqual(mutants('x86_64', '7.3'), ['tools/mutants/shared/x86.patch'])
		# MUTANTS=: a glob of the file names.
		self.assertEqual(mutants('um', '6.12', '0[13]-*'),
				 ['tools/mutants/um/6.12/01-a.patch',
				  'tools/mutants/um/6.12/03-c.patch'])
		self.assertEqual(mutants('um', '7.3', '*zz*'), [])
		self.assertEqual(iommu_kunit.mutants(self.top, 's390', '6.12'),
				 ['tools/mutants/shared/both.patch'])

	def test_ci_scope(self):
		"""SCOPE=ci: only the mutants whose header's CI: line names the
		leg; a CI: line after the patch starts is the patch's."""
		def ci(leg, series):
			return iommu_kunit.mutants(self.top, leg, series, scope='ci')
		self.assertEqual(ci('um', '7.3'), ['tools/mutants/um/01-a.patch',
						   'tools/mutants/shared/both.patch'])
		self.assertEqual(ci('um', '6.12'), ['tools/mutants/um/6.12/01-a.patch',
						    'tools/mutants/shared/both.patch'])
		# Named by CI: but not by Legs: is not the leg's.
		self.assertEqual(ci('x86_64', '7.3'), [])
		self.assertEqual(ci('s390', '7.3'), [])
		self.assertEqual(iommu_kunit.mutants(self.top, 'um', '7.3', '*both*', 'ci'),
				 ['tools/mutants/shared/both.patch'])
		self.assertEqual(iommu_kunit.mutant_header(
			self.path('tools', 'mutants', 'shared', 'both.patch')),
			{'Legs': ['um', 's390'], 'CI': ['um', 'x86_64']})

	def test_kmemleak(self):
		"""kmemleak scans a mutant's run only if its header says so."""
		def kmemleak(text):
			path = self.path('m.patch')
			write(path, text)
			return iommu_kunit.mutant_kmemleak(path)
		self.assertTrue(kmemleak('Oracle: kmemleak\nCI: x86_64\nLeaks.\n--- a/x\n'))
		self.assertFalse(kmemleak('CI: x86_64\nLeaks.\n--- a/x\n'))
		# A mention, or a line of the patch itself, is not the header's.
		self.assertFalse(kmemleak('Seen by Oracle: kmemleak too.\n--- a/x\n'))
		self.assertFalse(kmemleak('--- a/x\n+++ b/x\nOracle: kmemleak\n'))

	def test_legs(self):
		"""A leg with mutants of its own or shared ones, on any kernel,
		and a kunitconfig; SCOPE=ci skips a leg with no mutant for CI."""
		self.assertEqual(iommu_kunit.mutant_legs(self.top),
				 [('um', 'run'), ('x86_64', 'run'), ('s390', 'run')])
		self.assertEqual(iommu_kunit.mutant_legs(self.top, ['s390', 'um', 'x86_64'], 'ci'),
				 [('s390', 'skip'), ('um', 'run'), ('x86_64', 'skip')])
		write(self.path('tools', 'mutants', 'x86_64', '6.12', '01-x.patch'),
		      'CI: x86_64\n--- a/x\n')
		self.assertEqual(iommu_kunit.mutant_legs(self.top, ['x86_64'], 'ci'),
				 [('x86_64', 'run')])
		os.unlink(self.path('tools', 'mutants', 'x86_64', '6.12', '01-x.patch'))
		os.unlink(self.path('tools', 'mutants', 'shared', 'x86.patch'))
		os.unlink(self.path('kunitconfig', 's390.kunitconfig'))
		self.assertEqual(iommu_kunit.mutant_legs(self.top, scope='ci'), [('um', 'run')])
		# Not a prefix: "Legs: s390" is not s39's (and no leg is).
		self.assertFalse(iommu_kunit.leg_has_mutants(self.top, 's39'))
		self.assertFalse(iommu_kunit.leg_has_mutants(self.top, 'x86_64'))

	def test_bad_input(self):
		self.assertBadInput(lambda: iommu_kunit.mutants(self.top, 'arm64', '7.3'),
				    "unknown leg")
		self.assertBadInput(lambda: iommu_kunit.mutant_legs(self.top, ['um', 'arm64']),
				    "unknown leg 'arm64'")
		self.assertBadInput(lambda: iommu_kunit.mutant_legs(self.top, scope='nightly'),
				    'unknown SCOPE=nightly')
		self.assertBadInput(lambda: iommu_kunit.mutants(self.top, 'um', '7.3', scope='all'),
				    'unknown SCOPE=all')


class PatchLegsTest(TmpTestCase):
	"""One table says which legs a file matters to (each leg's triggers):
	make presubmit runs those (every leg for a file no leg names), the
	series' bisect builds UML and those."""

	def legs(self, *files):
		return iommu_kunit.legs_for_patches([self.patch('p', *files)])

	def test_patch_files(self):
		p = self.patch('p', 'drivers/iommu/iommu.c', 'drivers/iommu/Kconfig',
			       new=['drivers/iommu/tests/new.c'])
		self.assertEqual(iommu_kunit.patch_files([p]), [
			'drivers/iommu/Kconfig', 'drivers/iommu/iommu.c',
			'drivers/iommu/tests/new.c'])

	def test_presubmit(self):
		cases = [
			(['drivers/iommu/iommu.c'], ['um', 'x86_64']),
			(['drivers/iommu/dma-iommu.c'], ['x86_64']),
			(['drivers/iommu/tests/iommu_dma_link_kunit.c'], ['x86_64']),
			(['drivers/iommu/s390-iommu.c', 'arch/s390/pci/pci_insn.c'], ['s390']),
			(['arch/s390/include/asm/pci.h'], ['s390']),
			(['drivers/iommu/tests/iommu_s390_kunit.c'], ['s390']),
			(['include/linux/iommu-sync-map.h'], ['um', 'x86_64', 's390']),
			(['drivers/iommu/dma-iommu.c', 'drivers/iommu/s390-iommu.c'], ['x86_64', 's390']),
			(['mm/page_alloc.c'], ['um', 'x86_64', 's390']),
			(['arch/x86/kernel/pci-dma.c'], ['um', 'x86_64', 's390']),
		]
		for files, legs in cases:
			with self.subTest(files=files):
				self.assertEqual(self.legs(*files), legs)

	def test_several_patches(self):
		self.assertEqual(iommu_kunit.legs_for_patches(
			[self.patch('a', 'drivers/iommu/dma-iommu.c'),
			 self.patch('b', 'arch/s390/pci/pci.c')]), ['x86_64', 's390'])

	def test_legs_given(self):
		"""make presubmit LEGS=...: only those, in the table's order
		given; a file no leg names needs each of them."""
		p = self.patch('p', 'mm/page_alloc.c')
		self.assertEqual(iommu_kunit.legs_for_patches([p], ['um']), ['um'])
		self.assertEqual(iommu_kunit.legs_for_patches([p], ['s390', 'um']), ['s390', 'um'])

	def test_bisect(self):
		cases = [
			(['drivers/iommu/iommu.c'], ['um', 'x86_64']),
			(['drivers/iommu/dma-iommu.c'], ['um', 'x86_64']),
			(['drivers/iommu/s390-iommu.c'], ['um', 's390']),
			(['include/linux/iommu-sync-map.h'], ['um', 'x86_64', 's390']),
			(['drivers/iommu/Kconfig'], ['um']),
		]
		for files, legs in cases:
			with self.subTest(files=files):
				self.assertEqual(iommu_kunit.legs_to_build(self.patch('p', *files)), legs)
		p = self.patch('p', 'drivers/iommu/s390-iommu.c')
		self.assertEqual(iommu_kunit.legs_to_build(p, 'ci'), [])
		self.assertEqual(iommu_kunit.legs_to_build(p, ''), ['um', 's390'])

	def test_new_leg_is_one_entry(self):
		"""A leg added to the table with its triggers is what a patch of
		its files needs."""
		arm64 = iommu_kunit.Leg(kunit_arch='arm64', cc='aarch64-linux-gnu-gcc',
					cross_compile='aarch64-linux-gnu-', packages=(),
					triggers=('drivers/iommu/arm/*',))
		with mock.patch.dict(iommu_kunit.LEGS, {'arm64': arm64}):
			self.assertEqual(self.legs('drivers/iommu/arm/arm-smmu-v3/x.c'), ['arm64'])
			self.assertEqual(self.legs('mm/page_alloc.c'),
					 ['um', 'x86_64', 's390', 'arm64'])
			self.assertEqual(iommu_kunit.make_args('arm64', False),
					 ['ARCH=arm64', 'CROSS_COMPILE=aarch64-linux-gnu-',
					  'CC=aarch64-linux-gnu-gcc'])

	def test_bad_input(self):
		self.assertBadInput(lambda: iommu_kunit.legs_for_patches([]), 'no patch given')
		self.assertBadInput(lambda: iommu_kunit.legs_for_patches([self.patch('p', 'x')],
									 ['arm64']),
				    "unknown leg 'arm64'")
		with self.assertRaises(FileNotFoundError):
			iommu_kunit.patch_files([self.path('nonexistent.patch')])


class SeriesMapTest(TmpTestCase):
	"""tools/series.map: every new file of the overlay under exactly one
	patch of the series, every patch it names there."""

	def setUp(self):
		super().setUp()
		for name in ('0001-a.patch', '0002-b.patch', '6.12/0002-b.patch'):
			write(self.path('drivers', 'iommu', 'patches', name), 'x\n')
		for f in ('drivers/iommu/fake.c', 'drivers/iommu/tests/t.c',
			  'include/linux/h.h'):
			write(self.path(f), '/* x */\n')
		# Not new files: a patch, an editor's swap file.
		write(self.path('drivers', 'iommu', 'patches', '0003-c.patch'), 'x\n')
		write(self.path('drivers', 'iommu', '.fake.c.swp'), 'x\n')
		self.map('0001\tinclude/linux/h.h\n'
			 '0002\tdrivers/iommu/fake.c drivers/iommu/tests/t.c\n')

	def map(self, rows):
		write(self.path('tools', 'series.map'),
		      '# A comment: 0009 drivers/iommu/fake.c\n#\n' + rows + '\n')

	def test_good(self):
		self.assertEqual(iommu_kunit.overlay_new_files(self.top), [
			'drivers/iommu/fake.c', 'drivers/iommu/tests/t.c', 'include/linux/h.h'])
		iommu_kunit.check_series_map(self.top)

	def test_this_checkout(self):
		"""The project's own map is right."""
		iommu_kunit.check_series_map(REPO)

	def test_file_missing(self):
		write(self.path('lib', 'new.c'), '\n')
		self.assertBadInput(lambda: iommu_kunit.check_series_map(self.top),
				    'tools/series.map lists lib/new.c 0 times')

	def test_file_twice(self):
		self.map('0001\tinclude/linux/h.h drivers/iommu/fake.c\n'
			 '0002\tdrivers/iommu/fake.c drivers/iommu/tests/t.c\n')
		self.assertBadInput(lambda: iommu_kunit.check_series_map(self.top),
				    'lists drivers/iommu/fake.c 2 times',
				    'under the patch that adds it')

	def test_unknown_patch(self):
		self.map('0001\tinclude/linux/h.h\n'
			 '0002\tdrivers/iommu/fake.c\n0007\tdrivers/iommu/tests/t.c\n')
		self.assertBadInput(lambda: iommu_kunit.check_series_map(self.top), 'names patch 0007, which '
				    'drivers/iommu/patches/ does not have')

	def test_malformed(self):
		self.map('include/linux/h.h 0001\n')
		self.assertBadInput(lambda: iommu_kunit.check_series_map(self.top), 'tools/series.map:3: malformed line')

	def test_no_map(self):
		os.remove(self.path('tools', 'series.map'))
		self.assertBadInput(lambda: iommu_kunit.check_series_map(self.top), 'tools/series.map: cannot read it')


class TotalTest(TmpTestCase):
	"""make total: one verdict from the results of separate jobs."""

	def setUp(self):
		super().setUp()
		self.results = self.path('results')
		write(self.path('kunitconfig', 'um.suites'), '# um\niommu_map\n')
		write(self.path('kunitconfig', 'x86_64.suites'),
		      'iommu_map\niommu_dma\nskip: iommu_dma.case1\n')
		write(self.path('kunitconfig', 'mainline', 'um.suites'), 'iommu_map_pt\n')
		# 6.12 is a backport series of its own: not mainline's suites.
		write(self.path('kunitconfig', '6.12', 'um.kunitconfig'), '')
		self.put('7.3', 'um', {'iommu_map': ['PASS', 'PASS'], 'iommu_map_pt': ['PASS']})
		self.put('7.3', 'x86_64', {'iommu_map': ['PASS'], 'iommu_dma': ['PASS', 'SKIP']})
		self.put('6.12', 'um', {'iommu_map': ['PASS', 'PASS']})

	def put(self, kernel, leg, suites):
		write(os.path.join(self.results, f'debian-{kernel}', f'kunit-{leg}.json'),
		      kunit_json(suites) if isinstance(suites, dict) else suites)

	def total(self, legs='', kernels='', scope=''):
		out, err = io.StringIO(), io.StringIO()
		rc = results.total(self.top, self.results, scope, legs.split(), kernels.split(),
				   out=out, err=err)
		return rc, out.getvalue(), err.getvalue()

	def test_pass(self):
		rc, out, _ = self.total('um x86_64', '7.3 6.12')
		self.assertEqual(rc, 1, out)	# 6.12 x86_64 is missing
		self.put('6.12', 'x86_64', {'iommu_map': ['PASS'], 'iommu_dma': ['PASS']})
		rc, out, err = self.total('um x86_64', '7.3 6.12')
		self.assertEqual(rc, 0, out + err)
		self.assertEqual(out.splitlines(), [
			'[iommu-kunit] KERNEL=7.3 leg um: PASS (3 cases)',
			'[iommu-kunit] KERNEL=7.3 leg x86_64: PASS (3 cases)',
			'[iommu-kunit] KERNEL=6.12 leg um: PASS (2 cases)',
			'[iommu-kunit] KERNEL=6.12 leg x86_64: PASS (2 cases)',
			'total: 9 passed, 0 failed, 1 skipped',
			'[iommu-kunit] make total: PASS, 4 legs',
		])
		self.assertEqual(err, '')

	def test_missing_results(self):
		rc, out, _ = self.total('um x86_64', '6.12')
		self.assertEqual(rc, 1)
		json_path = os.path.join(self.results, 'debian-6.12', 'kunit-x86_64.json')
		self.assertIn(f'KERNEL=6.12 leg x86_64: FAIL: no results in {json_path}', out)
		self.assertIn('KERNEL=6.12 leg um: PASS', out)
		self.assertIn('total: 2 passed, 0 failed, 0 skipped', out)
		self.assertTrue(out.endswith('[iommu-kunit] make total: FAIL\n'), out)

	def test_skipped_case(self):
		"""A case the leg's .suites does not allow to skip fails it."""
		self.put('6.12', 'um', {'iommu_map': ['PASS', 'SKIP']})
		rc, out, err = self.total('um', '6.12')
		self.assertEqual(rc, 1)
		self.assertIn('case iommu_map.case1 was skipped', err)

	def test_failed_case(self):
		self.put('6.12', 'um', {'iommu_map': ['PASS', 'FAIL']})
		rc, out, _ = self.total('um', '6.12')
		self.assertEqual(rc, 1)
		self.assertIn('KERNEL=6.12 leg um: FAIL (1 of 2 cases failed', out)

	def test_suite_missing(self):
		"""7.3's UML leg expects mainline's iommu_map_pt too; the reason
		goes to stderr, as make run's check says it."""
		self.put('7.3', 'um', {'iommu_map': ['PASS']})
		rc, out, err = self.total('um', '7.3')
		self.assertEqual(rc, 1)
		self.assertIn('KERNEL=7.3 leg um: FAIL (0 of 1 cases failed, or an expected '
			      'suite did not run', out)
		self.assertIn('iommu-kunit: error: suite iommu_map_pt is missing', err)

	def test_suite_skipped(self):
		self.put('6.12', 'um', {'iommu_map': ['SKIP', 'SKIP']})
		rc, out, err = self.total('um', '6.12')
		self.assertEqual(rc, 1)
		self.assertIn('suite iommu_map was skipped entirely', err)

	def test_not_json(self):
		self.put('6.12', 'um', 'KTAP version 1\n1..1\nok 1 iommu_map\n')
		rc, out, _ = self.total('um', '6.12')
		self.assertEqual(rc, 1)
		self.assertIn('KERNEL=6.12 leg um: FAIL: ', out)
		self.assertIn('is not kunit.py JSON', out)

	def test_patches_check_is_not_totalled(self):
		rc, out, _ = self.total('um patches-check', '6.12')
		self.assertEqual(rc, 0, out)
		self.assertIn('make total: PASS, 1 legs', out)

	def test_nothing_to_total(self):
		self.assertBadInput(lambda: self.total('s390', '7.2', 'ci'),
				    'nothing to total', 'LEGS=s390', '(SCOPE=ci)')


class KernelTest(unittest.TestCase):
	"""Where each kernel comes from, and kernel series."""

	def test_kernel_source(self):
		self.assertEqual(iommu_kunit.kernel_source('7.3'), 'experimental')
		with self.assertRaises(UsageError) as cm:
			iommu_kunit.kernel_source('5.4')
		self.assertIn("unknown kernel '5.4': use one of: 6.12 7.2 7.3", str(cm.exception))

	def test_kernel_series(self):
		for kver, series in (('7.3.0', '7.3'), ('6.12.117', '6.12'), ('7.2.9', '7.2')):
			with self.subTest(kver=kver):
				self.assertEqual(iommu_kunit.kernel_series(kver), series)


if __name__ == '__main__':
	unittest.main()
