#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Unit tests for the runner's commands (tools/iommu_kunit/commands.py,
# mutate.py, presubmit.py, flake.py, buildcheck.py): what they check
# before any setup (SUITE=, MUTANTS=, PATCHES=, LEGS=), the order they do
# things in (make test: the unit tests first), their verdict lines, the
# reports they write under results/ and their exit codes. The tree, the
# work copy and the legs are stubbed (a leg's stub writes the JSON
# kunit.py would): nothing is fetched, staged or built.
#
#   python3 tools/tests/commands_test.py [-v]

"""Unit tests for the runner's commands."""

import contextlib
import io
import json
import os
import unittest
from typing import Any, Dict, List, Optional, Tuple
from unittest import mock

from helpers import TmpTestCase, kunit_json, make_checkout, make_kernel_tree, patch_text, read, write
from iommu_kunit import (buildcheck, cli, commands, flake, mutate, overlay, presubmit,
			 selftest, sources)
from iommu_kunit.common import InfraError, TestFailure, UsageError
from iommu_kunit.kunit_run import LegResult


def fake_tree(tmp: str, kernel: Optional[str] = '7.3', kdir: Optional[str] = None,
	      kver: str = '7.3.0') -> sources.Tree:
	name = f'debian-{kernel}' if kernel else 'kdir-0123456789'
	work = os.path.join(tmp, 'cache', 'work', name)
	return sources.Tree(src=kdir or os.path.join(tmp, 'src'), kver=kver,
			    series=kver.rsplit('.', 1)[0], name=name, work=work,
			    wsrc=os.path.join(work, 'src'),
			    results=os.path.join(tmp, 'results', name), kdir=kdir, kernel=kernel,
			    pkgver='1')


class CommandTestCase(TmpTestCase):
	"""A fake checkout; the tree, work copies and legs stubbed."""

	def setUp(self) -> None:
		super().setUp()
		make_checkout(self.top)
		self.c = self.ctx()
		# What each leg's run gives: 'pass', 'fail', 'infra', or a
		# {suite: statuses} to write as its JSON.
		self.leg_outcome: Dict[str, Any] = {}
		self.legs_run: List[Tuple[str, str, str]] = []

	def opts(self, *argv: str) -> cli.Opts:
		with contextlib.redirect_stderr(io.StringIO()):
			return cli.parse(list(argv), {'PATH': os.environ['PATH']})

	def fake_run_leg(self, ctx: Any, tree: sources.Tree, leg: str, suite: str = '',
			 kunit: Any = None, coverage: bool = False, kmemleak_on: bool = True,
			 out: Any = None) -> LegResult:
		self.legs_run.append((tree.kver, leg, suite))
		js = os.path.join(tree.results, f'kunit-{leg}.json')
		outcome = self.leg_outcome.get(leg, 'pass')
		if outcome == 'infra':
			return LegResult('infra', js, js[:-4] + 'xml', js[:-4] + 'ktap', 'no build')
		suites = outcome if isinstance(outcome, dict) else \
			{'iommu_map': ['PASS', 'FAIL' if outcome == 'fail' else 'PASS']}
		write(js, kunit_json(suites))
		write(js[:-4] + 'xml', '<testsuites/>')
		failed = any(s != 'PASS' for v in suites.values() for s in v)
		return LegResult('fail' if failed else 'pass', js, js[:-4] + 'xml', js[:-4] + 'ktap')

	def run_cmd(self, module: Any, *argv: str, **patches: Any) -> Tuple[int, str, str]:
		opts = self.opts(*argv)
		out, err = io.StringIO(), io.StringIO()
		with contextlib.ExitStack() as stack:
			for name, value in patches.items():
				stack.enter_context(mock.patch.object(module, name, value))
			stack.enter_context(contextlib.redirect_stdout(out))
			stack.enter_context(contextlib.redirect_stderr(err))
			rc = module.main(self.c, opts)
		return rc, out.getvalue(), err.getvalue()


class RunTest(CommandTestCase):

	def run_run(self, *argv: str) -> Tuple[int, str, str]:
		t = fake_tree(self.tmp, '6.12', kver='6.12.117')
		return self.run_cmd(commands, 'run', *argv, prepare_main=lambda c, k, d, leg='um': t,
				    run_leg=self.fake_run_leg)

	def test_exit_codes(self) -> None:
		for outcome, code in (('pass', 0), ('fail', 1), ('infra', 3)):
			with self.subTest(outcome=outcome):
				self.leg_outcome['um'] = outcome
				self.assertEqual(self.run_run()[0], code)
		kernel = json.loads(read(os.path.join(self.tmp, 'results', 'debian-6.12',
						      'kernel.json')))
		self.assertEqual(kernel['kernel'], '6.12.117')

	def test_suite_checked_before_setup(self) -> None:
		"""SUITE= selecting no suite of the leg: exit 2, nothing done."""
		with self.assertRaisesRegex(UsageError, 'SUITE=iommu_dma selects no suite of leg '
					    'um on kernel 6.12'):
			self.run_run('SUITE=iommu_dma')
		self.assertEqual((self.legs_run, self.c.calls), ([], []))
		self.assertFalse(os.path.exists(self.cache))
		self.assertEqual(self.run_run('SUITE=iommu_map.case1')[0], 0)
		self.assertEqual(self.legs_run[-1], ('6.12.117', 'um', 'iommu_map.case1'))

	def test_suite_of_a_kdir_series(self) -> None:
		kdir = make_kernel_tree(self.path('linux'), (7, 3, 0))
		self.assertEqual(commands.series_of(None, kdir), '7.3')
		commands.check_suite(self.top, ['um'], '7.3', 'iommu_map_pt')
		with self.assertRaises(UsageError):
			commands.check_suite(self.top, ['um'], '6.12', 'iommu_map_pt')


class MakeTestTest(CommandTestCase):
	"""make test: the runner's unit tests first; a verdict line per
	kernel and leg, the total line, one exit code."""

	def run_test(self, *argv: str, selftest_rc: int = 0) -> Tuple[int, str, str]:
		self.trees: List[str] = []
		self.checked: List[str] = []

		def prepare_main(ctx: Any, kernel: Optional[str], kdir: Optional[str],
				 leg: str = 'um') -> sources.Tree:
			if kernel == '6.12' and self.leg_outcome.get('prepare') == 'infra':
				raise InfraError('fetching linux-source-6.12 failed')
			self.trees.append(str(kernel or kdir))
			return fake_tree(self.tmp, kernel, kdir, f'{kernel}.0')

		def patches_check(ctx: Any, tree: sources.Tree, scope: str) -> None:
			self.checked.append(tree.kver)
			if self.leg_outcome.get('patches-check') == 'fail':
				raise TestFailure('patch 3 does not apply')
		from iommu_kunit import series_cmd
		with mock.patch.object(selftest, 'run_all', return_value=selftest_rc), \
		     mock.patch.object(series_cmd, 'patches_check', patches_check), \
		     mock.patch.object(commands, 'ensure_leg_packages', lambda *a: None):
			return self.run_cmd(commands, 'test', *argv, prepare_main=prepare_main,
					    run_leg=self.fake_run_leg,
					    checkpatch=lambda c, t: True)

	def test_unit_tests_first(self) -> None:
		rc, out, _ = self.run_test('KERNELS=7.2')
		self.assertEqual(rc, 0)
		self.assertLess(out.index("the runner's own unit tests"), out.index('kernel 7.2'))
		self.assertEqual(self.legs_run, [('7.2.0', 'um', '')])

	def test_failing_unit_tests_stop(self) -> None:
		with self.assertRaisesRegex(TestFailure, "the runner's own unit tests failed"):
			self.run_test('KERNELS=7.2', selftest_rc=1)
		self.assertEqual(self.legs_run, [])

	def test_verdicts(self) -> None:
		self.leg_outcome['x86_64'] = 'fail'
		rc, out, _ = self.run_test('SCOPE=ci')
		self.assertEqual(rc, 1)
		lines = [line[14:] for line in out.splitlines() if line.startswith('[iommu-kunit] K')]
		self.assertEqual(lines[:8], [
			'KERNEL=7.3 (7.3.0) checkpatch: PASS', 'KERNEL=7.3 (7.3.0) leg um: PASS',
			'KERNEL=7.3 (7.3.0) leg x86_64: FAIL', 'KERNEL=7.3 (7.3.0) leg s390: PASS',
			'KERNEL=7.3 (7.3.0) patches-check: PASS', lines[5],
			'KERNEL=6.12 (6.12.0) checkpatch: PASS', 'KERNEL=6.12 (6.12.0) leg um: PASS'])
		self.assertRegex(lines[5], r'^KERNEL=7\.3: [0-9]+ s$')
		self.assertIn('total: 7 passed, 1 failed, 0 skipped', out)
		self.assertEqual(self.checked, ['7.3.0'])

	def test_infrastructure_wins_and_goes_on(self) -> None:
		"""A tree that cannot be had is an ERROR line; the other kernels
		still run; the exit code says infrastructure."""
		self.leg_outcome.update(prepare='infra', um='fail')
		rc, out, err = self.run_test('SCOPE=ci', 'LEGS=um x86_64')
		self.assertEqual(rc, 3)
		self.assertIn('KERNEL=6.12: preparing the tree: ERROR', out)
		self.assertIn('fetching linux-source-6.12 failed', err)
		self.assertEqual(self.trees, ['7.3'])

	def test_one_tree(self) -> None:
		rc, out, _ = self.run_test('KERNEL=7.2', 'LEGS=um')
		self.assertEqual(rc, 0)
		self.assertEqual(self.checked, [])
		rc, out, _ = self.run_test('KERNEL=7.2')
		self.assertEqual(self.checked, ['7.2.0'])
		self.leg_outcome['patches-check'] = 'fail'
		rc, out, _ = self.run_test('KERNEL=7.2', 'LEGS=patches-check')
		self.assertEqual(rc, 1)
		self.assertIn('patches-check: FAIL', out)

	def test_nothing_to_run(self) -> None:
		with self.assertRaisesRegex(UsageError, 'nothing to run: no kernel of KERNELS=7.2 '
					    'has a leg of LEGS=s390'):
			self.run_test('LEGS=s390', 'KERNELS=7.2')
		with self.assertRaisesRegex(UsageError, 'SUITE=iommu_s390 selects no suite of leg um'):
			self.run_test('SUITE=iommu_s390', 'KERNELS=7.3')
		self.assertEqual(self.legs_run, [])


class MutateTest(CommandTestCase):
	"""make mutate: each mutant the table picks, applied and run; killed
	only if cases ran and one failed; a report under results/."""

	def setUp(self) -> None:
		super().setUp()
		m = os.path.join(self.top, 'tools', 'mutants')
		for name in ('01-a.patch', '02-b.patch', '03-bb.patch'):
			write(os.path.join(m, 'um', name), '--- a/x\n')
		self.staged: List[List[str]] = []

	def run_mutate(self, *argv: str, killed: Tuple[str, ...] = ('01-a', '02-b', '03-bb'),
		       apply_fails: str = '') -> Tuple[int, str, str]:
		current: List[str] = []

		def prepare(ctx: Any, tree: sources.Tree, extra: Any = (), link_dest: Any = None,
			    lock: bool = True) -> None:
			names = [os.path.basename(p)[:-6] for p in extra]
			if apply_fails and apply_fails in names:
				raise InfraError(f'{apply_fails} does not apply to the kernel')
			self.staged.append(names)
			current[:] = names

		def run_leg(ctx: Any, tree: sources.Tree, leg: str, *a: Any, **kw: Any) -> LegResult:
			self.leg_outcome[leg] = 'fail' if current and current[0] in killed else 'pass'
			return self.fake_run_leg(ctx, tree, leg, **kw)

		t = fake_tree(self.tmp)
		return self.run_cmd(mutate, 'mutate', *argv, find=lambda c, k, d: t._replace(
			kernel=k, kver=f'{k}.0', series=k,
			results=os.path.join(self.tmp, 'results', f'debian-{k}')),
			prepare=prepare, run_leg=run_leg,
			side_tree=lambda c, tree, what: (tree, None),
			ensure_leg_packages=lambda *a: None)

	def test_all_killed(self) -> None:
		rc, out, _ = self.run_cmd_ok('KERNEL=7.3', 'LEGS=um')
		self.assertEqual(rc, 0)
		self.assertEqual(self.staged, [['01-a'], ['02-b'], ['03-bb'], []])
		self.assertIn('mutant um/01-a (7.3.0): KILLED (1 of 2 cases failed)', out)
		self.assertIn('kernel 7.3.0: killed 3/3', out)
		data = json.loads(read(os.path.join(self.tmp, 'results', 'debian-7.3', 'mutate.json')))
		self.assertEqual((data['killed'], data['total'], data['kernel']), (3, 3, '7.3.0'))
		self.assertTrue(os.path.isfile(os.path.join(self.tmp, 'results', 'debian-7.3',
							    'mutate.xml')))

	def run_cmd_ok(self, *argv: str, **kw: Any) -> Tuple[int, str, str]:
		return self.run_mutate(*argv, **kw)

	def test_survivor(self) -> None:
		rc, out, err = self.run_mutate('KERNEL=7.3', 'LEGS=um', killed=('01-a',))
		self.assertEqual(rc, 1)
		self.assertIn('mutant um/02-b (7.3.0): SURVIVED (tests passed)', out)
		self.assertIn('surviving mutants: 7.3.0:um/02-b 7.3.0:um/03-bb', err)
		data = json.loads(read(os.path.join(self.tmp, 'results', 'debian-7.3', 'mutate.json')))
		self.assertEqual([i['status'] for i in data['items']], ['PASS', 'FAIL', 'FAIL'])

	def test_glob(self) -> None:
		self.run_mutate('KERNEL=7.3', 'LEGS=um', 'MUTANTS=*-b*')
		self.assertEqual(self.staged, [['02-b'], ['03-bb'], []])

	def test_glob_matching_none_before_setup(self) -> None:
		with self.assertRaisesRegex(UsageError, 'no mutant of these legs and kernels '
					    r'matches MUTANTS=\*zz\*'):
			self.run_mutate('MUTANTS=*zz*')
		self.assertEqual((self.staged, self.c.calls), ([], []))

	def test_default_kernels(self) -> None:
		"""Without KERNEL= or KDIR=: 6.12 and mainline."""
		rc, out, _ = self.run_mutate('LEGS=um', 'MUTANTS=01-*')
		self.assertEqual([k for k, _, _ in self.legs_run], ['6.12.0', '7.3.0'])
		self.assertIn('killed 2/2', out)

	def test_legs_and_scope(self) -> None:
		"""SCOPE=ci: the mutants whose CI: line names the leg; a leg with
		none is left out, saying so."""
		write(os.path.join(self.top, 'tools', 'mutants', 'shared', 's.patch'),
		      'Legs: um s390\nCI: um\n--- a/x\n')
		write(os.path.join(self.top, 'tools', 'mutants', 'um', '02-b.patch'),
		      'CI: um\n--- a/x\n')
		rc, out, _ = self.run_mutate('KERNEL=7.3', 'LEGS=um s390', 'SCOPE=ci',
					     killed=('02-b', 's'))
		self.assertEqual(rc, 0)
		self.assertEqual(self.staged, [['02-b'], ['s'], []])
		self.assertIn('mutants s390: left to make mutate without SCOPE=ci', out)

	def test_not_applying_is_infrastructure(self) -> None:
		rc, out, err = self.run_mutate('KERNEL=7.3', 'LEGS=um', apply_fails='02-b')
		self.assertEqual(rc, 3)
		self.assertIn('mutant um/02-b (7.3.0): NOT RUN (02-b does not apply', out)

	def test_patches_check_is_no_leg(self) -> None:
		with self.assertRaisesRegex(UsageError, 'patches-check is not a leg'):
			self.run_mutate('LEGS=patches-check')


class PresubmitTest(CommandTestCase):

	def patch(self, name: str, *files: str) -> str:
		return write(self.path('patches', name), patch_text(*files))

	def run_presubmit(self, *argv: str, apply_fails: bool = False) -> Tuple[int, str, str]:
		self.prepared: List[List[str]] = []

		class WorkCopy:
			def __init__(wc, ctx: Any, tree: sources.Tree, link: Any) -> None:
				wc.tree = tree

			def prepare(wc, extra: Any) -> None:
				if apply_fails:
					raise overlay.PatchError('x.patch does not apply to the kernel '
								 '7.3.0', 'x.patch')
				self.prepared.append(list(extra))
		t = fake_tree(self.tmp)
		with mock.patch.object(overlay, 'WorkCopy', WorkCopy):
			return self.run_cmd(presubmit, 'presubmit', *argv,
					    find=lambda c, k, d: t._replace(kernel=k),
					    run_leg=self.fake_run_leg,
					    side_tree=lambda c, tree, what: (tree.side(c, what), None),
					    ensure_leg_packages=lambda *a: None)

	def test_legs_and_verdicts(self) -> None:
		p = self.patch('a.patch', 'drivers/iommu/dma-iommu.c', 'arch/s390/pci/pci.c')
		self.leg_outcome['s390'] = 'fail'
		rc, out, _ = self.run_presubmit(f'PATCHES={p}')
		self.assertEqual(rc, 1)
		self.assertIn('presubmit: 1 patch(es), legs: x86_64 s390', out)
		self.assertIn('presubmit x86_64: PASS (2 cases)', out)
		self.assertIn('presubmit s390: FAIL (1 of 2 cases failed)', out)
		self.assertIn('    failed: iommu_map.case1 FAIL', out)
		self.assertEqual(self.prepared, [[p], [p]])
		res = os.path.join(self.tmp, 'results', 'debian-7.3')
		for f in ('presubmit.json', 'presubmit.xml', 'presubmit-x86_64.json',
			  'presubmit-s390.json', 'presubmit-s390.xml'):
			self.assertTrue(os.path.isfile(os.path.join(res, f)), f)
		data = json.loads(read(os.path.join(res, 'presubmit.json')))
		self.assertEqual([i['status'] for i in data['items']], ['PASS', 'FAIL'])
		self.assertEqual(data['patches'], [p])

	def test_mainline_by_default(self) -> None:
		p = self.patch('a.patch', 'drivers/iommu/s390-iommu.c')
		self.run_presubmit(f'PATCHES={p}')
		self.run_presubmit(f'PATCHES={p}', 'KERNEL=6.12')
		self.assertEqual([leg for _, leg, _ in self.legs_run], ['s390', 's390'])
		self.assertEqual(presubmit.tree_choice(self.opts('presubmit', f'PATCHES={p}'),
						       '7.3'), ('7.3', None))

	def test_build_failure(self) -> None:
		p = self.patch('a.patch', 'drivers/iommu/iommu.c')
		self.leg_outcome['x86_64'] = 'infra'
		rc, out, _ = self.run_presubmit(f'PATCHES={p}')
		self.assertEqual(rc, 3)
		self.assertIn('presubmit x86_64: FAIL (no results: build or boot failed', out)

	def test_bad_patches(self) -> None:
		empty = self.path('empty')
		os.makedirs(empty)
		notpatch = write(self.path('notes.patch'), 'just words\n')
		cases: List[Tuple[List[str], str]] = [
			([], 'PATCHES= names no patch'),
			([f'PATCHES={self.path("nope")}'], 'does not exist'),
			([f'PATCHES={empty}'], 'holds no *.patch file'),
			([f'PATCHES={notpatch}'], 'is not a patch (no +++ line)'),
			([f'PATCHES={notpatch}', 'LEGS=patches-check'], 'names no leg for make presubmit'),
		]
		for argv, fragment in cases:
			with self.subTest(argv=argv):
				with self.assertRaises(UsageError) as cm:
					self.run_presubmit(*argv)
				self.assertIn(fragment, str(cm.exception))
		self.assertEqual(self.legs_run, [])

	def test_not_applying_is_usage(self) -> None:
		p = self.patch('a.patch', 'drivers/iommu/iommu.c')
		with self.assertRaisesRegex(UsageError, 'does not apply to the kernel 7.3.0'):
			self.run_presubmit(f'PATCHES={p}', apply_fails=True)

	def test_directory_in_order(self) -> None:
		b = self.patch('0002-b.patch', 'drivers/iommu/s390-iommu.c')
		a = self.patch('0001-a.patch', 'drivers/iommu/s390-iommu.c')
		self.run_presubmit(f'PATCHES={os.path.dirname(a)}')
		self.assertEqual(self.prepared, [[a, b]])


class FlakeTest(CommandTestCase):

	def run_flake(self, *argv: str, differ_at: int = 0) -> Tuple[int, str, str]:
		n = [0]

		def run_leg(ctx: Any, tree: sources.Tree, leg: str, *a: Any, **kw: Any) -> LegResult:
			n[0] += 1
			if n[0] == differ_at:
				self.leg_outcome['um'] = 'fail'
			return self.fake_run_leg(ctx, tree, leg)
		t = fake_tree(self.tmp, '6.12', kver='6.12.117')
		return self.run_cmd(flake, 'flake', *argv, prepare_main=lambda *a: t, run_leg=run_leg)

	def test_identical(self) -> None:
		rc, out, _ = self.run_flake('N=3')
		self.assertEqual(rc, 0)
		self.assertIn('flake: run 3/3: 2 passed, same as run 1', out)
		self.assertIn('flake: 3 runs, identical results', out)
		data = json.loads(read(os.path.join(self.tmp, 'results', 'debian-6.12', 'flake.json')))
		self.assertEqual((data['runs'], data['passed']), (3, 3))

	def test_differs(self) -> None:
		rc, out, err = self.run_flake('N=5', differ_at=2)
		self.assertEqual(rc, 1)
		self.assertIn('-iommu_map.case1 PASS', out)
		self.assertIn('+iommu_map.case1 FAIL', out)
		self.assertIn('flake: run 2 differs from run 1', err)
		root = read(os.path.join(self.tmp, 'results', 'debian-6.12', 'flake.xml'))
		self.assertIn('failures="1"', root)

	def test_no_results(self) -> None:
		self.leg_outcome['um'] = 'infra'
		with self.assertRaisesRegex(InfraError, 'flake run 1 gave no results'):
			self.run_flake('N=2')


class SmallCommandsTest(CommandTestCase):

	def test_selftest_checks(self) -> None:
		"""make selftest: every test module once, in two processes; mypy
		on the package and the tests; shellcheck on every shell file
		left."""
		from helpers import REPO
		from iommu_kunit.common import Context
		ctx = Context(top=REPO, environ={})
		checks = selftest.checks(ctx, quiet=True)
		mods = checks['unit tests'][4:] + checks['unit tests (treesync)'][4:]
		self.assertEqual(sorted(mods), sorted(n[:-3] for n in os.listdir(
			os.path.join(REPO, 'tools', 'tests')) if n.endswith('_test.py')))
		self.assertIn('--strict', checks['mypy --strict'])
		for f in selftest.SHELL_FILES:
			self.assertTrue(os.path.isfile(os.path.join(REPO, f)), f)
		self.assertEqual(checks['shellcheck'][1:],
				 [os.path.join(REPO, f) for f in selftest.SHELL_FILES])

	def test_checkpatch_leaves_the_sign_off_to_make_patches(self) -> None:
		"""The overlay's patches carry no Signed-off-by (make patches adds
		the sender's); new files are checked as files."""
		write(os.path.join(self.top, 'drivers/iommu/patches/0001-x.patch'), 'p\n')
		write(os.path.join(self.top, 'drivers/iommu/tests/new.c'), 'c\n')
		tree = fake_tree(self.tmp)
		self.assertTrue(commands.checkpatch(self.c, tree))
		runs = self.c.ran('perl', 'scripts/checkpatch.pl')
		self.assertEqual(len(runs), 2, runs)
		self.assertIn('-f', runs[0])
		self.assertNotIn('--no-signoff', runs[0])
		self.assertIn('--no-signoff', runs[1])
		self.assertTrue(runs[1][-1].endswith('0001-x.patch'))

	def test_coverage_arch(self) -> None:
		from iommu_kunit import coverage_cmd
		with self.assertRaisesRegex(UsageError, 'make coverage runs on ARCH=um or '
					    'ARCH=x86_64'):
			self.run_cmd(coverage_cmd, 'coverage', 'ARCH=s390')
		self.assertEqual(self.c.calls, [])

	def test_objdump_count(self) -> None:
		from iommu_kunit import objdump
		text = ('0000000000000120 <s390_iommu_iotlb_sync_map>:\n'
			' 120:\tstmg\t%r6,%r15,48(%r15)\n'
			' 126:\tbrasl\t%r14,0 <zpci_refresh_trans>\n'
			'\t\t\t128: R_390_PLT32DBL\tzpci_refresh_trans+0x2\n'
			' 12c:\tjg\t0 <__s390_indirect_jump_r14>\n'
			' 132:\tbasr\t%r14,%r1\n'
			' 134:\tnopr\t%r7\n'
			'\n0000000000000200 <other>:\n 200:\tbr\t%r14\n')
		lines = objdump.function_lines(text, 's390_iommu_iotlb_sync_map')
		self.assertEqual(len(lines), 6)
		self.assertEqual(objdump.count(lines), (4, 1))

	def test_bench_helpers(self) -> None:
		from iommu_kunit import bench
		self.assertEqual(bench.median([5, 1, 3, 2]), 2)
		self.assertEqual(bench.fmt_ms(5640), '5.640s')
		self.assertEqual(bench.ratio(564, 885), '0.64')
		self.c.env['IOMMU_KUNIT_BENCH_N'] = '0'
		with self.assertRaisesRegex(UsageError, 'IOMMU_KUNIT_BENCH_N=0'):
			bench.main(self.c, self.opts('bench'))
		with self.assertRaisesRegex(UsageError, 'make bench measures a KDIR tree of its own'):
			bench.main(self.c, self.opts('bench', 'KDIR=/src'))

	def test_bench_edit_and_restore(self) -> None:
		"""An edit is a new file renamed over the old (never through a
		hard link); the original comes back."""
		from iommu_kunit import bench
		f = write(self.path('tree', 'a.c'), 'int a;\n')
		linked = self.path('tree', 'link.c')
		os.link(f, linked)
		b = bench.Bench(self.c, '6.12', io.StringIO())
		b.edit(f, 'x')
		b.edit(f, 'y')
		self.assertEqual(read(f), 'int a;\nstatic const char bench_edit_y[] __maybe_unused = "x";\n')
		self.assertEqual(read(linked), 'int a;\n')
		b.edit(f, 'new')
		self.assertRegex(read(f), r'bench_edit_[0-9]+\[\]')
		b.restore()
		self.assertEqual(read(f), 'int a;\n')
		self.assertEqual(os.listdir(os.path.join(self.cache, 'bench', 'orig')), [])

	def test_buildcheck_checks_its_glob_first(self) -> None:
		with self.assertRaisesRegex(UsageError, 'CONFIGS=nope names no configuration'):
			self.run_cmd(buildcheck, 'buildcheck', 'CONFIGS=nope')
		self.assertEqual(self.legs_run, [])

	def test_fetch_prints_the_version(self) -> None:
		t = fake_tree(self.tmp)._replace(pkgver='7.3~rc7-1~exp1', src='/c/linux-source-7.3')
		asked = []

		def find_source(c: Any, k: Any, d: Any, refresh: bool = False) -> sources.Tree:
			asked.append(refresh)
			return t
		with mock.patch.object(sources, 'find_source', find_source):
			rc, out, _ = self.run_cmd(commands, 'fetch', 'KERNEL=7.3', 'REFRESH=1')
		self.assertEqual(asked, [True])
		self.assertEqual(rc, 0)
		self.assertIn('kernel 7.3.0 (Debian linux-source-7.3 7.3~rc7-1~exp1, unpacked in '
			      '/c/linux-source-7.3; pinned until make fetch KERNEL=7.3 REFRESH=1)', out)

	def test_total(self) -> None:
		write(os.path.join(self.results, 'debian-7.3', 'kunit-um.json'),
		      kunit_json({'iommu_map': ['PASS'], 'kunit_script': ['PASS'],
				  'iommu_map_pt': ['PASS']}))
		rc, out, _ = self.run_cmd(commands, 'total', 'LEGS=um', 'KERNELS=7.3', 'SCOPE=ci')
		self.assertEqual(rc, 0, out)
		self.assertIn('make total: PASS, 1 legs', out)
		with self.assertRaisesRegex(UsageError, 'nothing to total'):
			self.run_cmd(commands, 'total', 'LEGS=s390', 'KERNELS=7.2')


if __name__ == '__main__':
	unittest.main()
