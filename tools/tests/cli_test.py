#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Unit tests for the runner's command line (tools/iommu_kunit/cli.py) and
# the Makefile in front of it: the variables each command takes, every bad
# input and its exit code (2, before any setup: no command is run), help,
# the environment's variables ignored with a note, kunit.py's options
# passed through, the verdict line and the exit codes, make's variables
# reaching the runner. The commands themselves are mocked.
#
#   python3 tools/tests/cli_test.py [-v]

"""Unit tests for tools/iommu_kunit/cli.py and the Makefile."""

import contextlib
import io
import os
import shlex
import subprocess
import sys
import unittest
from typing import Any, Dict, List
from unittest import mock

from helpers import REPO, TmpTestCase, make_kernel_tree, write
from iommu_kunit import cli, common
from iommu_kunit.common import InfraError, TestFailure, UsageError

RUNNER = os.path.join(REPO, 'tools', 'iommu-kunit')


def clean_env(**extra: str) -> Dict[str, str]:
	"""The environment without the runner's variables, plus extra."""
	env = {k: v for k, v in os.environ.items()
	       if k not in cli.VARIABLES and k not in cli.ENV_IGNORED and
	       not k.startswith(('IOMMU_KUNIT_', 'MAKE'))}
	env.update(extra)
	return env


class ParseTest(TmpTestCase):
	"""Arguments as make passes them (VAR=value) or as options."""

	def parse(self, *argv: str, env: Any = None) -> cli.Opts:
		err = io.StringIO()
		with contextlib.redirect_stderr(err):
			opts = cli.parse(list(argv), env if env is not None else clean_env())
		self.notes = err.getvalue()
		return opts

	def bad(self, *argv: str, env: Any = None) -> str:
		"""The usage error argv gives (exit code 2)."""
		with self.assertRaises(UsageError) as cm:
			self.parse(*argv, env=env)
		self.assertEqual(cm.exception.code, 2)
		return str(cm.exception)

	def test_defaults(self) -> None:
		o = self.parse('run')
		self.assertEqual((o.command, o.arch, o.kernel, o.kdir, o.suite, o.n),
				 ('run', 'um', None, None, '', 20))
		self.assertEqual(o.kunit, cli.KunitArgs())

	def test_make_variables_and_options(self) -> None:
		o = self.parse('run', 'ARCH=s390', 'KERNEL=7.2', 'SUITE=iommu_*')
		self.assertEqual((o.arch, o.kernel, o.suite), ('s390', '7.2', 'iommu_*'))
		o = self.parse('run', '--arch', 'x86_64', '--kernel=7.3')
		self.assertEqual((o.arch, o.kernel), ('x86_64', '7.3'))
		o = self.parse('flake', 'N=3')
		self.assertEqual(o.n, 3)
		o = self.parse('test', 'LEGS=um patches-check', 'KERNELS=7.3 6.12', 'SCOPE=ci')
		self.assertEqual((o.legs, o.kernels, o.scope),
				 (('um', 'patches-check'), ('7.3', '6.12'), 'ci'))
		o = self.parse('fetch', 'KERNEL=7.3', 'REFRESH=1')
		self.assertTrue(o.refresh)
		self.assertEqual(self.parse('run', 'ARCH=').arch, 'um')

	def test_relative_kdir(self) -> None:
		"""A relative KDIR= is made absolute (later steps run elsewhere)."""
		old = os.getcwd()
		os.chdir(self.tmp)
		try:
			self.assertEqual(self.parse('run', 'KDIR=linux').kdir,
					 os.path.join(self.tmp, 'linux'))
		finally:
			os.chdir(old)

	def test_unknown_variables(self) -> None:
		"""make run SUITES=x JOBS=8: one line naming both."""
		msg = self.bad('run', 'SUITES=x', 'JOBS=8')
		self.assertIn('unknown variables SUITES=x JOBS=8: no make target takes them', msg)
		self.assertIn('make run takes: ARCH= KERNEL= KDIR= SUITE= KUNIT_ARGS=', msg)
		self.assertIn('unknown variable N=3: make run does not take it',
			      self.bad('run', 'N=3'))
		self.assertIn('unknown variable ARCH=um: make total does not take it',
			      self.bad('total', 'ARCH=um'))
		self.assertIn("takes: no variable", self.bad('selftest', 'ARCH=um'))
		self.assertIn("unknown argument 'frob'", self.bad('run', 'frob'))

	def test_bad_values(self) -> None:
		for argv, fragment in (
			(['run', 'KERNEL=7.9'], 'unknown KERNEL=7.9: use one of: 6.12 7.2 7.3 '),
			(['run', 'KERNEL=7.3', 'KDIR=/tmp'], 'KDIR= and KERNEL= are exclusive'),
			(['run', 'ARCH=arm64'], 'unknown ARCH=arm64: use one of: um x86_64 s390'),
			(['test', 'SCOPE=nightly'], 'unknown SCOPE=nightly'),
			(['test', 'LEGS=arm64'], "unknown leg 'arm64' in LEGS="),
			(['test', 'KERNELS=5.4'], "unknown kernel '5.4' in KERNELS="),
			(['test', 'KERNELS=7.3', 'KERNEL=6.12'], 'KERNELS= picks among'),
			(['flake', 'N=0'], 'N=0: make flake needs a positive integer'),
			(['flake', 'N=-3'], 'N=-3: make flake needs a positive integer'),
			(['flake', 'N=ten'], 'N=ten: make flake needs a positive integer'),
			(['fetch', 'REFRESH=yes'], 'REFRESH=yes: use REFRESH=1'),
			(['run', '--timeout=soon'], "argument --timeout: a positive integer, not 'soon'"),
			(['run', 'KUNIT_ARGS=--jobs=0'], "KUNIT_ARGS: argument --jobs: a positive integer, not '0'"),
			(['run', 'KUNIT_ARGS=--alltests'], "kunit.py option '--alltests' is not "
			 'passed through'),
			(['run', 'KUNIT_ARGS=--raw_output=some'], 'invalid choice'),
			(['run', 'KUNIT_ARGS="--timeout'], 'KUNIT_ARGS='),
			(['run', '--bogus'], 'unrecognized arguments: --bogus'),
		):
			with self.subTest(argv=argv):
				self.assertIn(fragment, self.bad(*argv))

	def test_unknown_command(self) -> None:
		self.assertIn("unknown command 'frobnicate'", self.bad('frobnicate'))
		self.assertIn('no command', self.bad())

	def test_kunit_args_pass_through(self) -> None:
		"""KUNIT_ARGS= and the options of the same names add up."""
		o = self.parse('run', 'KUNIT_ARGS=--kconfig_add CONFIG_KASAN=y --kernel_args=a=1 '
			       '--timeout=600 --raw_output --jobs 3', '--kernel_args', 'b')
		self.assertEqual(o.kunit, cli.KunitArgs(kconfig_add=('CONFIG_KASAN=y',),
							kernel_args=('b', 'a=1'), timeout=600,
							raw_output='all', jobs=3))
		o = self.parse('run', '--timeout', '5', '--raw_output=kunit', 'SUITE=x')
		self.assertEqual((o.kunit.timeout, o.kunit.raw_output, o.suite), (5, 'kunit', 'x'))
		# Only the commands that run kunit.py take them.
		self.assertIn('KUNIT_ARGS', self.bad('total', 'KUNIT_ARGS=--timeout=5'))

	def test_environment_ignored(self) -> None:
		"""An exported ARCH, KDIR, KERNEL, CROSS_COMPILE ... is not taken:
		a note says so; the command line's value is."""
		env = clean_env(ARCH='arm64', KDIR='/src/linux', KERNEL='7.3',
				CROSS_COMPILE='aarch64-linux-gnu-', SUITE='iommu_dma')
		o = self.parse('run', env=env)
		self.assertEqual((o.arch, o.kdir, o.kernel, o.suite), ('um', None, None, ''))
		for name in ('ARCH=arm64', 'KDIR=/src/linux', 'KERNEL=7.3',
			     'CROSS_COMPILE=aarch64-linux-gnu-', 'SUITE=iommu_dma'):
			self.assertIn(f'iommu-kunit: note: {name} in the environment is ignored',
				      self.notes)
		# make exports its command-line variables: the same value on the
		# command line is no note.
		o = self.parse('run', 'ARCH=x86_64', env=clean_env(ARCH='x86_64'))
		self.assertEqual((o.arch, self.notes), ('x86_64', ''))

	def test_build_environment_dropped(self) -> None:
		"""ARCH, CROSS_COMPILE and make's variables never reach a build."""
		ctx = common.Context(top=self.top, environ=clean_env(
			ARCH='arm64', CROSS_COMPILE='x-', MAKEFLAGS='ARCH=um -j8', KBUILD_OUTPUT='/o'))
		for name in ('ARCH', 'CROSS_COMPILE', 'MAKEFLAGS', 'KBUILD_OUTPUT'):
			self.assertNotIn(name, ctx.env)
		self.assertLessEqual(set(cli.VARIABLES), set(common.BUILD_ENV_DROPPED))

	def test_every_command_has_help(self) -> None:
		for name, cmd in cli.COMMANDS.items():
			with self.subTest(command=name):
				out = io.StringIO()
				with contextlib.redirect_stdout(out):
					self.assertEqual(cli.main([name, '--help'], clean_env()), 0)
				self.assertIn(f'usage: iommu-kunit {name}', out.getvalue())
				for v in cmd.variables:
					self.assertIn(f'{v}= ({cli.VARIABLES[v][0]})', out.getvalue())
				self.assertEqual('--kconfig_add' in out.getvalue(), cmd.kunit)

	def test_help(self) -> None:
		"""make help: every target with its variables, every variable,
		the exit codes and the KERNEL= policy."""
		out = io.StringIO()
		with contextlib.redirect_stdout(out):
			self.assertEqual(cli.main(['help'], clean_env()), 0)
		text = out.getvalue()
		for name in list(cli.COMMANDS) + ['clean', 'distclean']:
			self.assertIn(f'\n  {name} ', text)
		for v in cli.VARIABLES:
			self.assertIn(f'\n  {v}=', text)
		for fragment in ('Exit codes: 0 pass; 1 a test failed', '2 usage',
				 '3 infrastructure', 'make itself exits 2', 'REFRESH=1',
				 'pinned', '--kconfig_add'):
			self.assertIn(fragment, text)
		with contextlib.redirect_stderr(io.StringIO()):
			self.assertEqual(cli.main(['help', 'ARCH=um'], clean_env()), 2)


class VerdictTest(TmpTestCase):
	"""The exit code of each outcome, and the verdict line that says it."""

	def main(self, exc: Any = None, rc: int = 0, argv: Any = None) -> Any:
		def dispatch(ctx: common.Context, opts: cli.Opts) -> int:
			if exc is not None:
				raise exc
			return rc
		out, err = io.StringIO(), io.StringIO()
		env = clean_env(IOMMU_KUNIT_CACHE=self.path('cache'))
		with mock.patch.object(cli, 'dispatch', dispatch), \
		     contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
			code = cli.main(argv or ['run'], env)
		return code, out.getvalue(), err.getvalue()

	def test_codes(self) -> None:
		for exc, rc, code, word in (
			(None, 0, 0, 'PASS'), (None, 1, 1, 'FAIL'),
			(TestFailure('x'), 0, 1, 'FAIL'), (UsageError('x'), 0, 2, 'USAGE'),
			(InfraError('x'), 0, 3, 'ERROR'), (RuntimeError('bug'), 0, 3, 'ERROR'),
			(None, 3, 3, 'ERROR'),
		):
			with self.subTest(exc=exc, rc=rc):
				got, out, err = self.main(exc, rc)
				self.assertEqual(got, code)
				last = out.splitlines()[-1]
				self.assertRegex(last, rf'^\[iommu-kunit\] verdict: run {word} '
						 rf'\(exit {code}: .*\) in [0-9.]+ s$')
				if exc is not None and not isinstance(exc, RuntimeError):
					self.assertIn('iommu-kunit: error: x', err)
		_, _, err = self.main(RuntimeError('bug'))
		self.assertIn('Traceback', err)
		self.assertIn('the runner itself failed', err)

	def test_usage_before_anything(self) -> None:
		"""A bad argument: exit 2 and the verdict, no command run."""
		called: List[Any] = []
		def dispatch(c: Any, o: Any) -> int:
			called.append(o)
			return 0
		with mock.patch.object(cli, 'dispatch', dispatch):
			out, err = io.StringIO(), io.StringIO()
			with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
				code = cli.main(['run', 'ARCH=arm64'], clean_env())
		self.assertEqual((code, called), (2, []))
		self.assertIn('iommu-kunit: error: unknown ARCH=arm64', err.getvalue())
		self.assertIn('verdict: run USAGE (exit 2', out.getvalue())


class RunnerScriptTest(TmpTestCase):
	"""tools/iommu-kunit and the Makefile, as processes: bad input dies
	at once, with no cache made; make passes its command-line variables
	(only those) and exits 2 on any failure, the runner's code on its
	verdict line."""

	def env(self, **extra: str) -> Dict[str, str]:
		return clean_env(IOMMU_KUNIT_CACHE=self.path('cache'),
				 IOMMU_KUNIT_RESULTS=self.path('results'), LC_ALL='C', **extra)

	def test_runner_bad_input(self) -> None:
		r = subprocess.run([sys.executable, RUNNER, 'run', 'SUITES=x', 'JOBS=8'],
				   env=self.env(), capture_output=True, text=True, timeout=30)
		self.assertEqual(r.returncode, 2, r.stderr)
		self.assertIn('unknown variables SUITES=x JOBS=8', r.stderr)
		self.assertIn('verdict: run USAGE (exit 2', r.stdout)
		self.assertFalse(os.path.exists(self.path('cache')))

	def fake_python(self, rc: int) -> str:
		"""A python3 for the Makefile that prints its arguments (and the
		environment's ARCH) and exits rc."""
		path = write(self.path('python'), '#!/bin/sh\n'
			     'for a; do printf "arg: %s\\n" "$a"; done\n'
			     'echo "env ARCH=${ARCH-unset}"\n'
			     f'echo "[iommu-kunit] verdict: x (exit {rc})"\nexit {rc}\n')
		os.chmod(path, 0o755)
		return path

	def make(self, *args: str, rc: int = 0, **env: str) -> 'subprocess.CompletedProcess[str]':
		return subprocess.run(['make', '-s', '-C', REPO, *args], capture_output=True,
				      text=True, timeout=30,
				      env=self.env(IOMMU_KUNIT_PYTHON=self.fake_python(rc), **env))

	def test_make_passes_command_line_variables(self) -> None:
		r = self.make('run', 'ARCH=x86_64', "SUITE=it's *", ARCH='s390')
		self.assertEqual(r.returncode, 0, r.stderr)
		args = [line[5:] for line in r.stdout.splitlines() if line.startswith('arg: ')]
		self.assertEqual(args[0], 'tools/iommu-kunit')
		self.assertEqual(args[1], 'run')
		self.assertEqual(sorted(args[2:]), ['ARCH=x86_64', "SUITE=it's *"])
		# Only the command line's: an exported variable is the runner's
		# to note and ignore, not make's to pass.
		r = self.make('run', ARCH='s390')
		args = [line[5:] for line in r.stdout.splitlines() if line.startswith('arg: ')]
		self.assertEqual(args[1:], ['run'])
		self.assertIn('env ARCH=s390', r.stdout)

	def test_make_help_is_the_default(self) -> None:
		r = self.make()
		args = [line[5:] for line in r.stdout.splitlines() if line.startswith('arg: ')]
		self.assertEqual(args[1:], ['help'])

	def test_make_exit_codes(self) -> None:
		for rc in (1, 2, 3):
			with self.subTest(rc=rc):
				r = self.make('run', rc=rc)
				self.assertEqual(r.returncode, 2)
				self.assertIn(f'verdict: x (exit {rc})', r.stdout)

	def test_make_clean_takes_no_variable(self) -> None:
		r = self.make('clean', 'FOO=1')
		self.assertEqual(r.returncode, 2)
		self.assertIn('make clean: takes no variable (given: FOO)', r.stderr)

	def test_makefile_targets_are_the_commands(self) -> None:
		with open(os.path.join(REPO, 'Makefile')) as f:
			text = f.read()
		line = text.split('COMMANDS :=', 1)[1].split('\n\n', 1)[0]
		self.assertEqual(sorted(shlex.split(line.replace('\\\n', ' '))),
				 sorted(['help'] + list(cli.COMMANDS)))


class CiRunTest(TmpTestCase):
	""".ci/run: every stage runs whatever the others gave; the total
	line, then one verdict line; the first failing stage's code."""

	def ci(self, codes: Dict[str, int]) -> 'subprocess.CompletedProcess[str]':
		cases = ''.join(f'\t{name}) exit {rc} ;;\n' for name, rc in codes.items())
		fake = write(self.path('python'), '#!/bin/sh\n'
			     'echo "ran: $2"\n'
			     '[ "$2" != total ] || echo "total: 5 passed, 0 failed, 0 skipped"\n'
			     f'case "$2" in\n{cases}esac\nexit 0\n')
		os.chmod(fake, 0o755)
		return subprocess.run(['bash', os.path.join(REPO, '.ci', 'run')], capture_output=True,
				      text=True, timeout=30, env=clean_env(IOMMU_KUNIT_PYTHON=fake))

	def test_all_pass(self) -> None:
		r = self.ci({})
		self.assertEqual(r.returncode, 0, r.stderr)
		lines = r.stdout.splitlines()
		self.assertEqual([line[5:] for line in lines if line.startswith('ran: ')],
				 ['selftest', 'test', 'flake', 'mutate', 'buildcheck'])
		self.assertEqual(lines[-2], 'total: 5 passed, 0 failed, 0 skipped')
		self.assertRegex(lines[-1], r'^\[ci\] verdict: PASS \(selftest PASS, test PASS, '
				 r'flake PASS, mutate PASS, buildcheck PASS\) in [0-9]+ s$')

	def test_every_stage_runs(self) -> None:
		r = self.ci({'selftest': 1, 'flake': 3})
		self.assertEqual(r.returncode, 1)
		self.assertIn('ran: mutate', r.stdout)
		self.assertRegex(r.stdout.splitlines()[-1], r'^\[ci\] verdict: FAIL \(selftest '
				 r'FAIL\(exit 1\), test PASS, flake FAIL\(exit 3\), mutate PASS, '
				 r'buildcheck PASS\)')


class KdirBeforeSetupTest(TmpTestCase):
	"""KDIR= is checked before anything else runs (usage errors)."""

	def test_kdir_checks_through_commands(self) -> None:
		from iommu_kunit import commands
		kdir = make_kernel_tree(self.path('linux-6.7'), (6, 7, 0))
		self.assertEqual(commands.series_of(None, kdir), '6.7')
		with self.assertRaises(UsageError):
			commands.series_of(None, self.path('nope'))
		old = make_kernel_tree(self.path('linux-6.6'), (6, 6, 0), sync_map_returns='void')
		with self.assertRaisesRegex(UsageError, 'too old'):
			commands.series_of(None, old)


if __name__ == '__main__':
	unittest.main()
