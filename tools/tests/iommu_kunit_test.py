#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Host-side unit tests for the pure logic of tools/iommu-kunit and of
# tools/qemu/qemu-system-x86_64, in the style of the kernel's
# tools/testing/kunit/kunit_tool_test.py.
#
# The runner's bash functions are called by sourcing it in a subprocess
# (its last line only runs main when executed, not when sourced), on
# temporary directories that mimic the project's layout, so the tests
# depend neither on the repository's patches nor on a kernel tree, and
# nothing here builds, downloads or installs anything.
#
#   python3 tools/tests/iommu_kunit_test.py [-v]

"""Unit tests for tools/iommu-kunit and tools/qemu/qemu-system-x86_64."""

import difflib
import json
import os
import shlex
import shutil
import sys
import subprocess
import tempfile
import time
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
RUNNER = os.path.join(REPO, 'tools', 'iommu-kunit')
QEMU_WRAPPER_DIR = os.path.join(REPO, 'tools', 'qemu')
QEMU_WRAPPER = os.path.join(QEMU_WRAPPER_DIR, 'qemu-system-x86_64')

# A command that dies in argument checking must not get anywhere near a
# build, a download or a package install: generous for a loaded machine.
QUICK_SECS = 10

KCONFIG = [
	'# SPDX-License-Identifier: GPL-2.0-only\n',
	'menuconfig IOMMU_SUPPORT\n',
	'\tbool "IOMMU Hardware Support"\n',
	'\tdepends on MMU\n',
	'\tdefault y\n',
	'\n',
	'if IOMMU_SUPPORT\n',
	'\n',
	'config IOMMU_DEBUGFS\n',
	'\tbool "Export IOMMU internals in DebugFS"\n',
	'\n',
	'endif\n',
]

# KCONFIG with one line added after "default y": a hunk with three lines
# of context on each side.
KCONFIG_PATCHED = KCONFIG[:5] + ['\tselect IOMMU_KUNIT_OVERLAY\n'] + KCONFIG[5:]

# Run from a fake bin directory in every test of the runner: called, they
# only leave a mark and fail.
HEAVY_TOOLS = ('apt-get', 'apt-cache', 'dpkg-deb', 'tar', 'xz', 'rsync',
	       'make', 'gcc', 'python3', 'git', 'perl')

# Positional parameters for the sourcing shell: were the runner's guard
# missing, the main it then runs would die at once in parse_args.
NO_MAIN_ARGS = ['run', 'IOMMU_KUNIT_TEST_SOURCED_WITHOUT_GUARD=1']

FAILED_PATCH_OUTPUT = ('patching file drivers/iommu/Kconfig\n'
		       'Hunk #1 FAILED at 93.\n'
		       '1 out of 1 hunk FAILED')


def write(path, text=''):
	"""Creates file path (and its directories) holding text."""
	os.makedirs(os.path.dirname(path), exist_ok=True)
	with open(path, 'w') as f:
		f.write(text)


def read(path):
	"""The contents of file path."""
	with open(path) as f:
		return f.read()


def kconfig_patch(fuzzy=False):
	"""A git-style patch of drivers/iommu/Kconfig from KCONFIG to
	KCONFIG_PATCHED; fuzzy: its first context line differs from the
	tree's, so that it applies only with fuzz."""
	lines = list(difflib.unified_diff(KCONFIG, KCONFIG_PATCHED,
					  'a/drivers/iommu/Kconfig',
					  'b/drivers/iommu/Kconfig', n=3))
	text = ''.join(lines)
	if fuzzy:
		old = ' \tbool "IOMMU Hardware Support"\n'
		assert old in text
		text = text.replace(old, ' \tbool "IOMMU hardware support"\n')
	return ('From: Test <test@example.org>\nSubject: [PATCH] x\n\n---\n' +
		'diff --git a/drivers/iommu/Kconfig b/drivers/iommu/Kconfig\n' + text)


def kconfig_patch_file(directory):
	"""kconfig_patch() in a file of directory; its path."""
	path = os.path.join(directory, 'kconfig.patch')
	write(path, kconfig_patch())
	return path


def make_kernel_tree(root, version=(6, 12, 117), sync_map_returns='int',
		     kconfig=True):
	"""A tiny fake kernel tree: what find_source checks for, and
	drivers/iommu/Kconfig for the patches to apply to."""
	v, p, s = version
	write(os.path.join(root, 'Makefile'),
	      '# SPDX-License-Identifier: GPL-2.0\n'
	      f'VERSION = {v}\nPATCHLEVEL = {p}\nSUBLEVEL = {s}\n'
	      'EXTRAVERSION =\nNAME = Baby Opossum Posse\n')
	write(os.path.join(root, 'include', 'linux', 'iommu.h'),
	      'struct iommu_domain_ops {\n'
	      f'\t{sync_map_returns} (*iotlb_sync_map)(struct iommu_domain *domain,\n'
	      '\t\t\t      unsigned long iova, size_t size);\n'
	      '};\n')
	write(os.path.join(root, 'tools', 'testing', 'kunit', 'kunit.py'))
	if kconfig:
		write(os.path.join(root, 'drivers', 'iommu', 'Kconfig'),
		      ''.join(KCONFIG))
	return root


class RunnerTestCase(unittest.TestCase):
	"""Common fixtures: a temporary directory, an environment whose cache
	and results point into it, and a bin directory first on PATH whose
	dpkg-query claims every package is installed and whose apt-get,
	tar, make and the other heavy tools only record that they were
	called and fail: whatever a regression in the runner makes it do,
	no test installs, downloads, unpacks or builds anything."""

	def setUp(self):
		self.tmp = tempfile.mkdtemp(prefix='iommu-kunit-test.')
		self.addCleanup(shutil.rmtree, self.tmp)
		self.cache = os.path.join(self.tmp, 'cache')
		self.results = os.path.join(self.tmp, 'results')
		self.top = os.path.join(self.tmp, 'top')
		os.makedirs(self.top)
		self.fakebin = os.path.join(self.tmp, 'fakebin')
		self.called = os.path.join(self.tmp, 'called')
		os.makedirs(self.called)
		write(os.path.join(self.fakebin, 'dpkg-query'),
		      '#!/bin/sh\nfor p; do case $p in -*) ;; *) echo "$p ii install ok installed" ;; esac; done\n')
		os.chmod(os.path.join(self.fakebin, 'dpkg-query'), 0o755)
		for tool in HEAVY_TOOLS:
			path = os.path.join(self.fakebin, tool)
			# python3 runs tools/iommu_kunit.py, the runner's
			# decisions (no build, no download): nothing else.
			passthrough = (f'case "$1" in */tools/iommu_kunit.py) exec '
				       f'{shlex.quote(sys.executable)} "$@" ;; esac\n'
				       if tool == 'python3' else '')
			write(path, '#!/bin/sh\n' + passthrough +
			      f'touch {shlex.quote(os.path.join(self.called, tool))}\n'
			      'exit 1\n')
			os.chmod(path, 0o755)
		self.env = dict(os.environ)
		for var in ('IOMMU_KUNIT_QEMU_ACCEL', 'IOMMU_KUNIT_DEBIAN_MIRROR',
			    'CCACHE_DIR', 'CCACHE_BASEDIR', 'CCACHE_DEPEND',
			    'CCACHE_NODEPEND'):
			self.env.pop(var, None)
		self.env.update({
			# python3 on PATH: the fake below, unless a test says.
			'IOMMU_KUNIT_PYTHON': 'python3',
			'IOMMU_KUNIT_CACHE': self.cache,
			'IOMMU_KUNIT_RESULTS': self.results,
			'PATH': self.fakebin + os.pathsep + os.environ.get('PATH', '/usr/bin:/bin'),
			'LC_ALL': 'C',
		})

	def tearDown(self):
		self.assertNothingHeavy()

	def assertNothingHeavy(self):
		"""No package tool, unpacker or build tool was run."""
		self.assertEqual(sorted(os.listdir(self.called)), [])

	def source(self, body, env=None, **variables):
		"""Runs body in bash after sourcing the runner and setting
		variables (name=value, after the source so they override the
		runner's own); returns the CompletedProcess."""
		script = f'source {shlex.quote(RUNNER)}\n'
		for name, value in variables.items():
			script += f'{name}={shlex.quote(str(value))}\n'
		script += body + '\n'
		return subprocess.run(['bash', '-c', script, 'bash', *NO_MAIN_ARGS],
				      env=env or self.env, cwd=self.tmp,
				      capture_output=True, text=True, timeout=60)

	def lines(self, body, **variables):
		"""The output lines of a body that must succeed."""
		r = self.source(body, **variables)
		self.assertEqual(r.returncode, 0, r.stderr)
		return r.stdout.splitlines()

	def command(self, *args):
		"""Runs the runner as a command; returns the CompletedProcess
		and the seconds it took."""
		t0 = time.monotonic()
		r = subprocess.run([RUNNER, *args], env=self.env, cwd=self.tmp,
				   capture_output=True, text=True, timeout=60)
		return r, time.monotonic() - t0

	def assertDies(self, r, *fragments):
		"""r exited 2 with an iommu-kunit error naming every fragment."""
		self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
		self.assertIn('iommu-kunit: error: ', r.stderr)
		for fragment in fragments:
			self.assertIn(fragment, r.stderr)


class SourceGuardTest(RunnerTestCase):

	def test_guard_line(self):
		"""The runner ends with the guard that lets these tests source it."""
		with open(RUNNER) as f:
			last = f.read().rstrip('\n').rsplit('\n', 1)[-1]
		self.assertEqual(last, 'if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi')

	def test_source_does_not_run_main(self):
		"""Sourcing defines the functions and runs nothing."""
		r = self.source('declare -F main parse_args stage_overlay; echo sourced')
		self.assertEqual(r.returncode, 0, r.stderr)
		self.assertEqual(r.stdout.splitlines(),
				 ['main', 'parse_args', 'stage_overlay', 'sourced'])
		self.assertEqual(r.stderr, '')
		self.assertFalse(os.path.exists(self.cache))
		self.assertNothingHeavy()

	def test_source_keeps_strict_mode(self):
		"""set -euo pipefail still applies to the sourcing shell."""
		flags, pipefail = self.lines('echo "$-"; shopt -o pipefail | cut -f2')
		self.assertIn('e', flags)
		self.assertIn('u', flags)
		self.assertEqual(pipefail, 'on')


class VersionedPatchesTest(RunnerTestCase):

	def setUp(self):
		super().setUp()
		self.dir = 'drivers/iommu/patches'
		for name in ('0001-a.patch', '0002-b.patch', '6.12/0002-b.patch',
			     '6.12/0003-c.patch'):
			write(os.path.join(self.top, self.dir, name), name + '\n')

	def versioned(self, kver, d=None):
		return self.lines(f'versioned_patches {shlex.quote(d or self.dir)}',
				  TOP=self.top, KVER=kver)

	def test_backport_series(self):
		"""6.12: the backport replaces 0002 and adds 0003."""
		self.assertEqual(self.versioned('6.12.117'), [
			'drivers/iommu/patches/0001-a.patch',
			'drivers/iommu/patches/6.12/0002-b.patch',
			'drivers/iommu/patches/6.12/0003-c.patch',
		])

	def test_mainline_series(self):
		"""A kernel with no backport directory gets the mainline ones."""
		self.assertEqual(self.versioned('7.3.0'), [
			'drivers/iommu/patches/0001-a.patch',
			'drivers/iommu/patches/0002-b.patch',
		])

	def test_empty_dir(self):
		os.makedirs(os.path.join(self.top, 'empty'))
		self.assertEqual(self.versioned('6.12.117', 'empty'), [])
		self.assertEqual(self.versioned('7.3.0', 'empty'), [])

	def test_order_by_file_name_across_dirs(self):
		"""Sorted by file name, not by directory: backport-only patches
		land between the mainline ones."""
		d = os.path.join(self.top, 'm')
		for name in ('0001-a.patch', '0004-d.patch', '0010-j.patch',
			     '6.12/0002-b.patch', '6.12/0005-e.patch',
			     '6.12/0010-j.patch', '6.12/0011-k.patch',
			     '6.12/notes.txt', 'README'):
			write(os.path.join(d, name), name + '\n')
		self.assertEqual(self.versioned('6.12.3', 'm'), [
			'm/0001-a.patch',
			'm/6.12/0002-b.patch',
			'm/0004-d.patch',
			'm/6.12/0005-e.patch',
			'm/6.12/0010-j.patch',
			'm/6.12/0011-k.patch',
		])

	def test_empty_backport_drops(self):
		"""An empty patch of the same name in the backport directory:
		that kernel does not get the mainline patch (tests of an API it
		lacks); an empty backport-only one is nothing either."""
		write(os.path.join(self.top, self.dir, '0004-d.patch'), 'd\n')
		write(os.path.join(self.top, self.dir, '6.12', '0004-d.patch'))
		write(os.path.join(self.top, self.dir, '6.12', '0005-e.patch'))
		self.assertEqual(self.versioned('6.12.117'), [
			'drivers/iommu/patches/0001-a.patch',
			'drivers/iommu/patches/6.12/0002-b.patch',
			'drivers/iommu/patches/6.12/0003-c.patch',
		])
		self.assertIn('drivers/iommu/patches/0004-d.patch',
			      self.versioned('7.3.0'))

	def test_status_when_last_backport_replaces(self):
		"""versioned_patches returns 0 (under set -e, a non-zero status
		would kill its caller) when the last *.patch of the backport
		directory replaces a mainline one."""
		os.remove(os.path.join(self.top, self.dir, '6.12', '0003-c.patch'))
		r = self.source(f'versioned_patches {self.dir}; echo "rc=$?"',
				TOP=self.top, KVER='6.12.117')
		self.assertEqual(r.stdout.splitlines(), [
			'drivers/iommu/patches/0001-a.patch',
			'drivers/iommu/patches/6.12/0002-b.patch',
			'rc=0',
		])


class KernelSeriesTest(RunnerTestCase):

	def test_kernel_series(self):
		for kver, series in (('7.3.0', '7.3'), ('6.12.117', '6.12'),
				     ('7.2.9', '7.2')):
			with self.subTest(kver=kver):
				self.assertEqual(self.lines('kernel_series', KVER=kver), [series])

	def test_kernel_version(self):
		tree = make_kernel_tree(os.path.join(self.tmp, 'linux'), (6, 12, 117))
		self.assertEqual(self.lines(f'kernel_version {shlex.quote(tree)}'),
				 ['6.12.117'])

	def test_kernel_suite(self):
		"""Where each kernel comes from: tools/iommu_kunit.py's table,
		loaded once."""
		self.assertEqual(self.lines('load_table; kernel_suite 6.12; kernel_suite 7.2; '
					    'kernel_suite 7.3'), ['system', 'sid', 'experimental'])
		self.assertEqual(self.source('load_table; kernel_suite 7.9').returncode, 1)


class LegVarsTest(RunnerTestCase):
	"""The runner asks tools/iommu_kunit.py about the leg for the kernel
	in use (the lookup itself: tools/tests/iommu_kunit_py_test.py)."""

	def setUp(self):
		super().setUp()
		self.leg = os.path.join(self.top, 'kunitconfig', 'um.kunitconfig')
		self.delta = os.path.join(self.top, 'kunitconfig', '6.12', 'um.kunitconfig')
		write(self.leg, 'CONFIG_KUNIT=y\n')
		write(self.delta, 'CONFIG_IOMMU_API=y\n')
		write(os.path.join(self.top, 'kunitconfig', 'mainline', 'um.kunitconfig'),
		      'CONFIG_IOMMU_DEBUG_PAGEALLOC=y\n')

	def test_kernel_series(self):
		"""The kernel in use's series (KVER) picks the fragments."""
		self.assertEqual(self.lines('leg_vars um; printf "%s\\n" "${LEG_KUNITCONFIGS[@]}"',
					    TOP=self.top, KVER='6.12.117'), [self.leg, self.delta])

	def test_s390(self):
		self.assertEqual(self.lines('leg_vars s390; echo "${LEG_MAKE_ARGS[1]}"; '
					    'echo "${LEG_KUNIT_ARGS[*]}"', TOP=self.top, KVER='7.3.0'),
				 ['CROSS_COMPILE=s390x-linux-gnu-',
				  '--arch=s390 --cross_compile=s390x-linux-gnu-'])

	def test_ccache_if_there(self):
		"""Builds go through ccache if it is on PATH, and only then."""
		cc = 'leg_vars x86_64; echo "$LEG_CC"'
		self.assertEqual(self.lines(f'PATH={shlex.quote(self.fakebin)}; {cc}',
					    TOP=self.top, KVER='7.3.0'), ['gcc'])
		write(os.path.join(self.fakebin, 'ccache'), '#!/bin/sh\nexit 1\n')
		os.chmod(os.path.join(self.fakebin, 'ccache'), 0o755)
		self.assertEqual(self.lines(f'PATH={shlex.quote(self.fakebin)}; {cc}',
					    TOP=self.top, KVER='7.3.0'), ['ccache gcc'])

	def test_leg_suites(self):
		"""The expected suites, as one file: the leg's, then the kernel's."""
		write(os.path.join(self.top, 'kunitconfig', 'um.suites'), 'iommu_map\n')
		write(os.path.join(self.top, 'kunitconfig', 'mainline', 'um.suites'),
		      'iommu_dma_link\n')
		work = os.path.join(self.tmp, 'work')
		for kver, suites in (('7.3.0', 'iommu_map\niommu_dma_link\n'),
				     ('6.12.117', 'iommu_map\n')):
			with self.subTest(kver=kver):
				out = self.lines('leg_vars um; leg_suites um', TOP=self.top,
						 KVER=kver, WORK=work)
				self.assertEqual(read(out[0]), suites)

	def test_run_leg(self):
		"""run_leg gives kunit.py and make the table's arguments for the
		leg (kunit.py and make stubbed: they print what they get)."""
		wsrc = os.path.join(self.tmp, 'wsrc')
		for f in ('drivers/iommu/.kunitconfig', 'drivers/iommu/Kconfig',
			  'tools/testing/kunit/kunit.py'):
			write(os.path.join(wsrc, f))
		write(os.path.join(self.top, 'kunitconfig', 's390.kunitconfig'))
		fake = os.path.join(self.tmp, 'python')
		write(fake, '#!/bin/sh\n'
		      f'case "$1" in */tools/iommu_kunit.py) exec {shlex.quote(sys.executable)} "$@" ;; esac\n'
		      'for a; do echo "python: $a"; done\n')
		os.chmod(fake, 0o755)
		r = self.source('make() { for a; do echo "make: $a"; done; }\n'
				'log() { :; }\nrun_leg || true',
				TOP=self.top, KVER='7.3.0', ARCH='s390', PYTHON=fake,
				WORK=os.path.join(self.tmp, 'work'), WSRC=wsrc,
				RESULTS=os.path.join(self.tmp, 'res'))
		out = r.stdout.splitlines()
		cc = 'ccache s390x-linux-gnu-gcc' if shutil.which('ccache') else 's390x-linux-gnu-gcc'
		self.assertIn('python: config', out)
		for arg in ('--arch=s390', '--cross_compile=s390x-linux-gnu-', f'CC={cc}',
			    '--kunitconfig=' + os.path.join(self.top, 'kunitconfig', 's390.kunitconfig')):
			self.assertIn('python: ' + arg, out)
		# (make's output goes to the build's log.)
		built = read(os.path.join(self.tmp, 'work', 'build-s390', 'build.log')).splitlines()
		for arg in ('ARCH=s390', 'CROSS_COMPILE=s390x-linux-gnu-', f'CC={cc}'):
			self.assertIn('make: ' + arg, built)

	def run_counting(self, kdir=False, kver='6.12.117', *args):
		"""A make run through main, stubbed past the tree (prepare: a
		work copy whose kunit.py is a hard link to the tree's; make and
		kunit.py print their arguments): its output lines, and the
		starts of tools/iommu_kunit.py, a line each."""
		tree = (os.path.join(self.tmp, 'kdir') if kdir else
			os.path.join(self.cache, 'linux-source-' + kver.rsplit('.', 1)[0]))
		make_kernel_tree(tree, version=tuple(int(x) for x in kver.split('.')))
		write(os.path.join(tree, 'tools', 'testing', 'kunit', 'kunit.py'),
		      "parser.add_argument('--junit',\n")
		wsrc = os.path.join(self.tmp, 'wsrc')
		kunit_py = os.path.join(wsrc, 'tools', 'testing', 'kunit', 'kunit.py')
		os.makedirs(os.path.dirname(kunit_py))
		os.link(os.path.join(tree, 'tools', 'testing', 'kunit', 'kunit.py'), kunit_py)
		for f in ('drivers/iommu/.kunitconfig', 'drivers/iommu/Kconfig'):
			write(os.path.join(wsrc, f))
		starts = os.path.join(self.tmp, 'starts')
		write(starts)
		fake = os.path.join(self.tmp, 'python')
		write(fake, '#!/bin/sh\n'
		      f'case "$1" in */tools/iommu_kunit.py) echo "$4 $5 $6" >> {shlex.quote(starts)}; '
		      f'exec {shlex.quote(sys.executable)} "$@" ;; esac\n'
		      'for a; do echo "python: $a"; done\n')
		os.chmod(fake, 0o755)
		args = [f'KDIR={tree}'] if kdir else list(args)
		r = self.source('make() { for a; do echo "make: $a"; done; }\n'
				f'prepare() {{ KVER={kver}; WSRC={shlex.quote(wsrc)}; '
				f'WORK={shlex.quote(os.path.join(self.tmp, "work"))}; '
				f'RESULTS={shlex.quote(os.path.join(self.tmp, "res"))}; }}\n'
				'main run ' + ' '.join(shlex.quote(a) for a in args),
				TOP=self.top, PYTHON=fake)
		return r, read(starts).splitlines()

	def test_run_starts_python_once(self):
		"""make run asks tools/iommu_kunit.py once (run-vars): the
		table, the packages, the leg and the JUnit mode (it was three
		starts, and a grep)."""
		for kdir, kver, args in ((False, '6.12.117', ()), (False, '7.3.0', ('KERNEL=7.3',)),
					 (True, '7.3.0', ())):
			with self.subTest(kdir=kdir, kver=kver):
				shutil.rmtree(self.tmp + '/wsrc', ignore_errors=True)
				r, starts = self.run_counting(kdir, kver, *args)
				self.assertEqual(len(starts), 1, starts)
				self.assertTrue(starts[0].startswith('run-vars --leg um'), starts)
				self.assertIn('python: --junit=' + os.path.join(self.tmp, 'res', 'kunit-um.xml'),
					      r.stdout.splitlines())

	def test_run_asks_anew(self):
		"""An answer run-vars gave for another tree is not used: the
		work copy's kunit.py is not the tree's (and 6.12's has no
		--junit), and its series is not the kernel's."""
		r, starts = self.run_counting(False, '6.12.117')
		os.unlink(os.path.join(self.tmp, 'starts'))
		os.unlink(os.path.join(self.tmp, 'wsrc', 'tools', 'testing', 'kunit', 'kunit.py'))
		write(os.path.join(self.tmp, 'wsrc', 'tools', 'testing', 'kunit', 'kunit.py'),
		      "parser.add_argument('--json',\n")
		r = self.source('make() { :; }\nKVER=6.12.117 WSRC=$TOP/../wsrc; junit_mode; '
				'LEG_VARS_FOR="um 7.3 $(ccache_flag)"; leg_vars um; '
				'printf "%s\\n" "${LEG_KUNITCONFIGS[@]}"; echo "$LEG_VARS_FOR"',
				TOP=self.top, PYTHON=os.path.join(self.tmp, 'python'),
				JUNIT_MODE='kunit', JUNIT_MODE_FOR=os.path.join(
					self.cache, 'linux-source-6.12', 'tools', 'testing', 'kunit', 'kunit.py'))
		self.assertEqual(r.returncode, 0, r.stderr)
		ccache = '--ccache' if shutil.which('ccache') else '--no-ccache'
		self.assertEqual(r.stdout.splitlines(), ['convert', self.leg, self.delta,
							 f'um 6.12 {ccache}'])
		self.assertEqual([s.split()[0] for s in read(os.path.join(self.tmp, 'starts')).splitlines()],
				 ['junit-mode', 'leg'])

	def test_unknown_leg(self):
		"""A leg the table does not have stops the runner."""
		r = self.source('leg_vars arm64; echo "not reached"', TOP=self.top, KVER='7.3.0')
		self.assertDies(r, "unknown leg 'arm64'")
		self.assertEqual(r.stdout, '')


class ParseArgsTest(RunnerTestCase):
	"""Bad arguments die in parse_args: exit 2 with the reason, quickly,
	before any package check, download or cache directory."""

	def assertDiesEarly(self, args, *fragments):
		r, secs = self.command(*args)
		self.assertDies(r, *fragments)
		self.assertLess(secs, QUICK_SECS)
		self.assertNothingHeavy()
		self.assertFalse(os.path.exists(self.cache), 'the cache was created')
		self.assertEqual(r.stdout, '')

	def test_unknown_kernel(self):
		self.assertDiesEarly(['run', 'KERNEL=7.9'], 'unknown KERNEL=7.9',
				     'use one of: 6.12 7.2 7.3 ')

	def test_kernel_and_kdir(self):
		self.assertDiesEarly(['run', 'KERNEL=7.3', 'KDIR=/tmp'],
				     'KDIR= and KERNEL= are exclusive')

	def test_unknown_arch(self):
		self.assertDiesEarly(['run', 'ARCH=arm64'], 'unknown ARCH=arm64',
				     'um x86_64 s390')

	def test_unknown_argument(self):
		self.assertDiesEarly(['run', 'BOGUS=1'], "unknown argument 'BOGUS=1'")

	def test_unknown_command(self):
		self.assertDiesEarly(['frobnicate'], "unknown command 'frobnicate'")

	def test_good_arguments(self):
		"""Sourced: the values parse_args leaves, with the defaults."""
		show = 'echo "$ARCH|$KERNEL|$KERNEL_GIVEN|$KDIR|$SUITE|$FLAKE_N"'
		self.assertEqual(self.lines('parse_args; ' + show), ['um|6.12||||20'])
		self.assertEqual(self.lines('parse_args ARCH=s390 KERNEL=7.2 SUITE=iommu_* N=3; ' + show),
				 ['s390|7.2|7.2||iommu_*|3'])
		self.assertEqual(self.lines('parse_args ARCH= KDIR=/src; ' + show),
				 ['um|6.12||/src||20'])

	def test_relative_kdir(self):
		"""A relative KDIR= is made absolute, so that later steps that
		run from $TOP (checkpatch, patches-check) find the same tree."""
		self.assertEqual(self.lines('parse_args KDIR=linux; echo "$KDIR"'),
				 [os.path.join(self.tmp, 'linux')])
		kdir = make_kernel_tree(os.path.join(self.tmp, 'linux'), (7, 3, 0))
		r = self.source('parse_args KDIR=linux; find_source; cd "$TOP"; '
				'find_source; echo "$SRC"')
		self.assertEqual(r.returncode, 0, r.stderr)
		self.assertEqual(r.stdout.strip(), kdir)


class FindSourceTest(RunnerTestCase):
	"""KDIR= checks, called directly (no package check at all) and
	through the prepare command (with a dpkg-query that reports every
	package installed and an apt-get that must not be called)."""

	def find_source(self, kdir):
		return self.source('find_source; echo "$KVER|$SRC|$TREE_NAME|$WORK|$WSRC"',
				   KDIR=kdir)

	def prepare(self, kdir):
		r, secs = self.command('prepare', 'KDIR=' + kdir)
		self.assertLess(secs, QUICK_SECS)
		self.assertNothingHeavy()
		return r

	def test_kdir_missing(self):
		kdir = os.path.join(self.tmp, 'nonexistent')
		self.assertDies(self.find_source(kdir), f'KDIR={kdir} does not exist')
		self.assertDies(self.prepare(kdir), f'KDIR={kdir} does not exist')

	def test_kdir_not_a_kernel(self):
		kdir = os.path.join(self.tmp, 'notakernel')
		write(os.path.join(kdir, 'Makefile'), 'all:\n\ttrue\n')
		msg = f'KDIR={kdir} is not a Linux kernel source tree'
		self.assertDies(self.find_source(kdir), msg)
		self.assertDies(self.prepare(kdir), msg)

	def test_kdir_without_kunit(self):
		kdir = make_kernel_tree(os.path.join(self.tmp, 'linux'))
		os.remove(os.path.join(kdir, 'tools', 'testing', 'kunit', 'kunit.py'))
		self.assertDies(self.find_source(kdir), 'is not a Linux kernel source tree')

	def test_kdir_too_old(self):
		kdir = make_kernel_tree(os.path.join(self.tmp, 'linux-6.6'), (6, 6, 0),
					sync_map_returns='void')
		msg = f'kernel 6.6.0 at {kdir} is too old'
		self.assertDies(self.find_source(kdir), msg, 'returns void')
		self.assertDies(self.prepare(kdir), msg)

	def test_kdir_good(self):
		"""A good tree sets KVER and a work copy of its own in the cache."""
		kdir = make_kernel_tree(os.path.join(self.tmp, 'linux'), (7, 3, 0))
		r = self.find_source(kdir + '/')
		self.assertEqual(r.returncode, 0, r.stderr)
		kver, src, tree, work, wsrc = r.stdout.strip().split('|')
		self.assertEqual((kver, src), ('7.3.0', kdir))
		self.assertRegex(tree, r'^kdir-[0-9a-f]{10}$')
		self.assertEqual(work, os.path.join(self.cache, 'work', tree))
		self.assertEqual(wsrc, os.path.join(work, 'src'))


class NotApplyingTest(RunnerTestCase):

	def setUp(self):
		super().setUp()
		os.makedirs(os.path.join(self.top, 'drivers/iommu/patches/6.12'))
		self.patch = os.path.join(self.top, 'drivers/iommu/patches/0001-x.patch')

	def not_applying(self, kver):
		return self.lines('not_applying "$P" "$OUT"; echo', TOP=self.top,
				  KVER=kver, SRC='/src/linux', P=self.patch,
				  OUT=FAILED_PATCH_OUTPUT)

	def test_backport_kernel(self):
		self.assertEqual(self.not_applying('6.12.117'), [
			'drivers/iommu/patches/0001-x.patch does not apply to the kernel 6.12.117 at /src/linux',
			'  patch set tried: the mainline series with the 6.12 backport deltas (drivers/iommu/patches/6.12/)',
			'  first failure: drivers/iommu/Kconfig: Hunk #1 FAILED at 93.',
			"  supported kernels: 6.12 7.2 7.3 (KERNEL=; mainline is 7.3, the series's base; backport deltas for: 6.12)",
		])

	def test_mainline_kernel(self):
		out = self.not_applying('7.3.0')
		self.assertIn('kernel 7.3.0 at /src/linux', out[0])
		self.assertEqual(out[1], '  patch set tried: the mainline series (drivers/iommu/patches/)')
		self.assertEqual(out[2], '  first failure: drivers/iommu/Kconfig: Hunk #1 FAILED at 93.')

	def test_unrecognised_output(self):
		"""No known failure line: the first line of patch's output."""
		out = self.lines('not_applying "$P" "$OUT"; echo', TOP=self.top,
				 KVER='7.3.0', SRC='/src', P=self.patch,
				 OUT='patch: **** Only garbage was found in the patch input.')
		self.assertEqual(out[2], '  first failure: patch: **** Only garbage was found in the patch input.')


class StageOverlayTest(RunnerTestCase):
	"""stage_overlay on a fake tree: GNU patch with no fuzz, files
	staged in $WORK/stage, the tree never written to."""

	def setUp(self):
		super().setUp()
		self.src = make_kernel_tree(os.path.join(self.tmp, 'linux'))
		self.work = os.path.join(self.tmp, 'work')
		self.patch = os.path.join(self.top, 'drivers/iommu/patches/0001-x.patch')
		self.new_file = 'include/linux/iommu-new.h'
		write(os.path.join(self.top, self.new_file), '/* new */\n')

	def stage(self, extra=''):
		return self.source(f'EXTRA_PATCHES=({extra}); stage_overlay', TOP=self.top,
				   SRC=self.src, KVER='6.12.117', WORK=self.work,
				   OVERLAY_DIRS='drivers include')

	def test_applies_exactly(self):
		write(self.patch, kconfig_patch())
		r = self.stage()
		self.assertEqual(r.returncode, 0, r.stderr)
		stage = os.path.join(self.work, 'stage')
		self.assertEqual(read(os.path.join(stage, 'drivers/iommu/Kconfig')),
				 ''.join(KCONFIG_PATCHED))
		self.assertEqual(read(os.path.join(stage, self.new_file)), '/* new */\n')
		self.assertEqual(read(os.path.join(self.work, 'manifest.new')).splitlines(),
				 ['drivers/iommu/Kconfig', self.new_file])
		self.assertEqual(read(os.path.join(self.src, 'drivers/iommu/Kconfig')),
				 ''.join(KCONFIG), 'the kernel tree was written to')
		self.assertEqual(os.listdir(os.path.join(stage, 'drivers/iommu')),
				 ['Kconfig'], 'backup or reject files left in the stage')

	def test_fuzz_is_an_error(self):
		write(self.patch, kconfig_patch(fuzzy=True))
		# The patch is good for GNU patch's default fuzz factor: only
		# the runner's -F0 refuses it.
		dry = subprocess.run(['patch', '--dry-run', '-p1', '-d', self.src,
				      '-i', self.patch], capture_output=True, text=True,
				     env=self.env)
		self.assertEqual(dry.returncode, 0, dry.stdout)
		self.assertIn('with fuzz', dry.stdout)
		r = self.stage()
		self.assertDies(r, 'drivers/iommu/patches/0001-x.patch does not apply to the kernel 6.12.117',
				'first failure: drivers/iommu/Kconfig: Hunk #1 FAILED')
		self.assertEqual(read(os.path.join(self.src, 'drivers/iommu/Kconfig')),
				 ''.join(KCONFIG))

	def test_extra_patch_after_the_overlay(self):
		"""EXTRA_PATCHES (mutants, presubmit) apply after the series."""
		write(self.patch, kconfig_patch())
		extra = os.path.join(self.tmp, 'extra.patch')
		write(extra, ''.join(difflib.unified_diff(
			KCONFIG_PATCHED, KCONFIG_PATCHED[:-1] + ['endif # IOMMU_SUPPORT\n'],
			'a/drivers/iommu/Kconfig', 'b/drivers/iommu/Kconfig')))
		r = self.stage(shlex.quote(extra))
		self.assertEqual(r.returncode, 0, r.stderr)
		staged = read(os.path.join(self.work, 'stage/drivers/iommu/Kconfig'))
		self.assertIn('\tselect IOMMU_KUNIT_OVERLAY\n', staged)
		self.assertTrue(staged.endswith('endif # IOMMU_SUPPORT\n'))

	def test_file_an_earlier_patch_creates(self):
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
		r = self.stage()
		self.assertEqual(r.returncode, 0, r.stderr)
		self.assertEqual(read(os.path.join(self.work, 'stage/drivers/iommu/tests/Makefile')),
				 'a\nb\n')
		self.assertEqual(read(os.path.join(self.work, 'stage/drivers/iommu/Kconfig')),
				 ''.join(KCONFIG_PATCHED))

	def test_new_file_in_the_tree(self):
		write(os.path.join(self.src, self.new_file), '/* tree */\n')
		self.assertDies(self.stage(), f'overlay file {self.new_file} exists in the kernel tree')

	def test_patch_of_missing_file(self):
		write(self.patch, kconfig_patch())
		os.remove(os.path.join(self.src, 'drivers/iommu/Kconfig'))
		self.assertDies(self.stage(), 'changes drivers/iommu/Kconfig, which',
				'does not have')


class StageReuseTest(RunnerTestCase):
	"""A rerun whose overlay, patches and patched tree files did not
	change reuses the staged work copy (STAGED=unchanged); an edit to new
	files of the overlay that no patch changes stages those files alone
	(STAGED_FILES); any other change, or a staged file changed in the
	work copy, stages everything again."""

	def setUp(self):
		super().setUp()
		self.src = make_kernel_tree(os.path.join(self.tmp, 'linux'))
		self.work = os.path.join(self.tmp, 'work')
		self.wsrc = os.path.join(self.work, 'src')
		self.patch = os.path.join(self.top, 'drivers/iommu/patches/0001-x.patch')
		self.new_file = 'include/linux/iommu-new.h'
		write(os.path.join(self.top, self.new_file), '/* new */\n')
		write(self.patch, kconfig_patch())
		# Debian's tree, synced already: no rsync (a fake that fails).
		write(os.path.join(self.work, 'synced'), '')
		os.utime(os.path.join(self.work, 'synced'), (2**31, 2**31))

	def prepare(self, extra=''):
		"""Stages and syncs (with the real Python); returns STAGED."""
		lines = self.lines(f'EXTRA_PATCHES=({extra}); stage_overlay; sync_work_tree; '
				   'echo "FILES=${STAGED_FILES[*]}"; echo "STAGED=$STAGED"',
				   TOP=self.top, SRC=self.src,
				   KVER='6.12.117', WORK=self.work, WSRC=self.wsrc, KDIR='',
				   OVERLAY_DIRS='drivers include', PYTHON=sys.executable)
		self.staged_files = lines[-2].split('=', 1)[1].split()
		return lines[-1].split('=', 1)[1]

	def assert_staged(self):
		self.assertEqual(read(os.path.join(self.wsrc, 'drivers/iommu/Kconfig')),
				 ''.join(KCONFIG_PATCHED))
		self.assertEqual(read(os.path.join(self.wsrc, self.new_file)), '/* new */\n')

	def test_rerun_reuses(self):
		self.assertNotEqual(self.prepare(), 'unchanged')
		self.assert_staged()
		self.assertEqual(self.prepare(), 'unchanged')
		self.assert_staged()

	def test_overlay_file_changed(self):
		"""Staged alone, twice in a row, then nothing to do."""
		self.prepare()
		self.assertEqual(self.staged_files, [])
		for text in ('/* edited */\n', '/* again */\n'):
			write(os.path.join(self.top, self.new_file), text)
			self.assertNotEqual(self.prepare(), 'unchanged')
			self.assertEqual(self.staged_files, [self.new_file])
			self.assertEqual(read(os.path.join(self.wsrc, self.new_file)), text)
			self.assertEqual(read(os.path.join(self.work, 'stage', self.new_file)), text)
		self.assertEqual(self.prepare(), 'unchanged')
		self.assertEqual(read(os.path.join(self.wsrc, 'drivers/iommu/Kconfig')),
				 ''.join(KCONFIG_PATCHED))

	def test_overlay_file_a_patch_changes(self):
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
		self.assertNotEqual(self.prepare(), 'unchanged')
		self.assertEqual(self.staged_files, [])
		self.assertEqual(read(os.path.join(self.wsrc, self.new_file)),
				 ''.join(['edited\n'] + lines[1:-1] + ['patched\n']))

	def test_overlay_file_added(self):
		self.prepare()
		write(os.path.join(self.top, 'include/linux/iommu-other.h'), '/* other */\n')
		self.assertNotEqual(self.prepare(), 'unchanged')
		self.assertEqual(self.staged_files, [])
		self.assertEqual(read(os.path.join(self.wsrc, 'include/linux/iommu-other.h')),
				 '/* other */\n')
		os.unlink(os.path.join(self.top, 'include/linux/iommu-other.h'))
		self.assertNotEqual(self.prepare(), 'unchanged')
		self.assertEqual(self.staged_files, [])
		self.assertFalse(os.path.exists(os.path.join(self.wsrc, 'include/linux/iommu-other.h')))
		self.assert_staged()

	def test_work_copy_file_changed_and_overlay_edited(self):
		self.prepare()
		write(os.path.join(self.wsrc, 'drivers/iommu/Kconfig'), 'damaged\n')
		write(os.path.join(self.top, self.new_file), '/* edited */\n')
		self.assertNotEqual(self.prepare(), 'unchanged')
		self.assertEqual(self.staged_files, [])
		self.assertEqual(read(os.path.join(self.wsrc, 'drivers/iommu/Kconfig')),
				 ''.join(KCONFIG_PATCHED))
		self.assertEqual(read(os.path.join(self.wsrc, self.new_file)), '/* edited */\n')

	def test_patch_changed(self):
		self.prepare()
		write(self.patch, kconfig_patch().replace('IOMMU_KUNIT_OVERLAY', 'IOMMU_KUNIT_OTHER'))
		self.assertNotEqual(self.prepare(), 'unchanged')
		self.assertIn('IOMMU_KUNIT_OTHER',
			      read(os.path.join(self.wsrc, 'drivers/iommu/Kconfig')))

	def test_patched_tree_file_changed(self):
		"""The user's tree changes a file a patch applies to."""
		self.prepare()
		kconfig = os.path.join(self.src, 'drivers/iommu/Kconfig')
		write(kconfig, ''.join(KCONFIG) + '# more\n')
		self.assertNotEqual(self.prepare(), 'unchanged')
		self.assertTrue(read(os.path.join(self.wsrc, 'drivers/iommu/Kconfig'))
				.endswith('# more\n'))

	def test_extra_patch(self):
		self.prepare()
		extra = os.path.join(self.tmp, 'extra.patch')
		write(extra, ''.join(difflib.unified_diff(
			KCONFIG_PATCHED, KCONFIG_PATCHED[:-1] + ['endif # IOMMU_SUPPORT\n'],
			'a/drivers/iommu/Kconfig', 'b/drivers/iommu/Kconfig')))
		self.assertNotEqual(self.prepare(shlex.quote(extra)), 'unchanged')
		self.assertTrue(read(os.path.join(self.wsrc, 'drivers/iommu/Kconfig'))
				.endswith('endif # IOMMU_SUPPORT\n'))
		# Back without it: staged again, the mutant gone.
		self.assertNotEqual(self.prepare(), 'unchanged')
		self.assert_staged()

	def test_work_copy_file_changed(self):
		self.prepare()
		write(os.path.join(self.wsrc, 'drivers/iommu/Kconfig'), 'damaged\n')
		self.assertNotEqual(self.prepare(), 'unchanged')
		self.assert_staged()

	def test_interrupted_stage(self):
		"""A run killed after staging began leaves no key to trust."""
		self.prepare()
		write(os.path.join(self.top, self.new_file), '/* edited */\n')
		r = self.source('stage_overlay', TOP=self.top, SRC=self.src, KVER='6.12.117',
				WORK=self.work, WSRC=self.wsrc, KDIR='', OVERLAY_DIRS='drivers include')
		self.assertEqual(r.returncode, 0, r.stderr)
		write(os.path.join(self.top, self.new_file), '/* new */\n')
		self.assertNotEqual(self.prepare(), 'unchanged')
		self.assert_staged()

	def test_interrupted_incremental_stage(self):
		"""Killed after an edited file alone was staged: staged again."""
		self.prepare()
		write(os.path.join(self.top, self.new_file), '/* edited */\n')
		r = self.source('stage_overlay; echo "${STAGED_FILES[*]}"', TOP=self.top,
				SRC=self.src, KVER='6.12.117', WORK=self.work, WSRC=self.wsrc,
				KDIR='', OVERLAY_DIRS='drivers include')
		self.assertEqual(r.returncode, 0, r.stderr)
		self.assertEqual(r.stdout.split(), [self.new_file])
		write(os.path.join(self.top, self.new_file), '/* new */\n')
		self.assertNotEqual(self.prepare(), 'unchanged')
		self.assertEqual(self.staged_files, [])
		self.assert_staged()


class EnsurePackagesTest(RunnerTestCase):
	"""One dpkg-query for all packages, none once a check passed."""

	def test_stamp(self):
		log = os.path.join(self.tmp, 'dpkg-query.log')
		write(os.path.join(self.fakebin, 'dpkg-query'),
		      f'#!/bin/sh\necho x >> {shlex.quote(log)}\n'
		      'for p; do case $p in -*) ;; *) echo "$p ii" ;; esac; done\n')
		for _ in range(3):
			self.lines('ensure_packages um', KDIR='/nonexistent')
		self.assertEqual(read(log), 'x\n')
		# Another leg's list: checked once more.
		self.lines('ensure_packages x86_64', KDIR='/nonexistent')
		self.assertEqual(read(log), 'x\nx\n')

	def test_missing(self):
		write(os.path.join(self.fakebin, 'dpkg-query'),
		      '#!/bin/sh\nfor p; do case $p in -*|ccache) ;; *) echo "$p ii" ;; esac; done\n'
		      'echo "dpkg-query: no packages found matching ccache" >&2; exit 1\n')
		r = self.source('ensure_packages um', KDIR='/nonexistent')
		if os.getuid() == 0:
			# As root it installs: the fake apt-get fails.
			self.assertDies(r, 'apt-get update failed')
			os.unlink(os.path.join(self.called, 'apt-get'))
		else:
			self.assertEqual(r.returncode, 2)
			self.assertIn('apt-get install -y ccache', r.stderr)
		self.assertFalse(os.path.exists(os.path.join(self.cache, 'packages-ok.um')))


class QemuAccelTest(RunnerTestCase):

	def accel(self, arch, kver, env_accel=None):
		env = dict(self.env)
		if env_accel is not None:
			env['IOMMU_KUNIT_QEMU_ACCEL'] = env_accel
		r = self.source('qemu_accel', env=env, ARCH=arch, KVER=kver)
		self.assertEqual(r.returncode, 0, r.stderr)
		return r.stdout.strip()

	def test_env_override(self):
		self.assertEqual(self.accel('x86_64', '7.3.0', 'tcg'), 'tcg')
		self.assertEqual(self.accel('x86_64', '7.3.0', 'kvm'), 'kvm')
		self.assertEqual(self.accel('x86_64', '6.12.117', 'tcg'), 'tcg')

	def test_not_x86(self):
		self.assertEqual(self.accel('s390', '7.3.0'), 'kvm')
		self.assertEqual(self.accel('um', '7.3.0'), 'kvm')

	def test_x86_6_12(self):
		"""6.12 boots under any KVM, kvm_pvm included."""
		self.assertEqual(self.accel('x86_64', '6.12.117'), 'kvm')

	def test_x86_7_on_this_host(self):
		expected = 'tcg' if os.path.isdir('/sys/module/kvm_pvm') else 'kvm'
		self.assertEqual(self.accel('x86_64', '7.3.0'), expected)

	def test_note(self):
		env = dict(self.env, IOMMU_KUNIT_QEMU_ACCEL='tcg')
		r = self.source('echo "[$(qemu_accel_note)]"', env=env, ARCH='x86_64', KVER='7.3.0')
		self.assertEqual(r.stdout.strip(), '[ (QEMU: TCG, no KVM)]')
		r = self.source('echo "[$(qemu_accel_note)]"', env=env, ARCH='um', KVER='7.3.0')
		self.assertEqual(r.stdout.strip(), '[]')


class LegExtraArgsTest(RunnerTestCase):
	"""leg_extra_args: the x86_64 guest's initramfs and /init (kmemleak,
	make coverage's counters), nothing for the other legs but make
	coverage's gcov."""

	def args(self, arch, variant=''):
		build = os.path.join(self.tmp, 'build')
		os.makedirs(build, exist_ok=True)
		out = self.lines(f'leg_extra_args {shlex.quote(build)} {variant}',
				 ARCH=arch, TOP='/top', TOOLS='/top/tools')
		return build, out

	def test_x86_64_boots_the_init(self):
		build, out = self.args('x86_64')
		self.assertEqual(out, [
			f'--kunitconfig={build}/initramfs.kunitconfig',
			'--qemu_config=/top/tools/qemu/x86_64.py',
			f'--qemu_args=-serial file:{build}/guest.out'])
		self.assertEqual(read(os.path.join(build, 'initramfs.kunitconfig')),
				 'CONFIG_INITRAMFS_SOURCE="initramfs.list"\n')
		initramfs = read(os.path.join(build, 'initramfs.list')).splitlines()
		self.assertIn('file /init /top/tools/qemu/init 0755 0 0', initramfs)
		self.assertIn('file /bin/busybox /bin/busybox 0755 0 0', initramfs)
		self.assertIn('nod /dev/ttyS1 0600 0 0 c 4 65', initramfs)

	def test_x86_64_coverage_adds_gcov(self):
		build, out = self.args('x86_64', 'coverage')
		self.assertEqual(out[0], '--kunitconfig=/top/kunitconfig/coverage/x86_64.kunitconfig')
		self.assertIn(f'--qemu_args=-serial file:{build}/guest.out', out)
		self.assertEqual([a for a in out if a.startswith('--make_options=')],
				 ['--make_options=GCOV_PROFILE_iommu.o=y',
				  '--make_options=GCOV_PROFILE_dma-iommu.o=y',
				  '--make_options=GCOV_PROFILE_s390-iommu.o=y'])

	def test_other_legs(self):
		for arch in ('um', 's390'):
			with self.subTest(arch=arch):
				self.assertEqual(self.args(arch)[1], [])
		self.assertEqual(self.args('um', 'coverage')[1],
				 ['--kunitconfig=/top/kunitconfig/coverage/um.kunitconfig'])


class CcacheDependTest(RunnerTestCase):
	"""Our builds use ccache's depend mode unless the user chose; kunit.py's
	own loop in make bench gets ccache as the user has it."""

	SHOW = ('ccache_depend_mode\n'
		'echo "ours=${CCACHE_DEPEND-unset}/${CCACHE_NODEPEND-unset}"\n'
		'with_users_ccache sh -c \'echo "users=${CCACHE_DEPEND-unset}/${CCACHE_NODEPEND-unset}"\'')

	def modes(self, **user):
		env = dict(self.env, **user)
		r = self.source(self.SHOW, env=env)
		self.assertEqual(r.returncode, 0, r.stderr)
		return r.stdout.splitlines()

	def test_unset(self):
		self.assertEqual(self.modes(), ['ours=1/unset', 'users=unset/unset'])

	def test_user_depend(self):
		self.assertEqual(self.modes(CCACHE_DEPEND='1'), ['ours=1/unset', 'users=1/unset'])

	def test_user_nodepend(self):
		self.assertEqual(self.modes(CCACHE_NODEPEND='1'),
				 ['ours=unset/1', 'users=unset/1'])


class HoldLockTest(RunnerTestCase):
	"""Two runs that share a work copy take turns; the runner that a run
	starts itself (make bench) goes on under its parent's lock; a killed
	run leaves no lock behind."""

	def setUp(self):
		super().setUp()
		self.target = os.path.join(self.tmp, 'cache', 'work', 'debian-6.12')

	def start(self, body, stdin=None):
		script = f'source {shlex.quote(RUNNER)}\n{body}\n'
		proc = subprocess.Popen(['bash', '-c', script, 'bash', *NO_MAIN_ARGS],
					env=self.env, cwd=self.tmp, text=True, stdin=stdin,
					stdout=subprocess.PIPE, stderr=subprocess.PIPE)
		self.addCleanup(self.reap, proc)
		return proc

	@staticmethod
	def reap(proc):
		if proc.poll() is None:
			proc.kill()
		proc.wait()
		for f in (proc.stdin, proc.stdout, proc.stderr):
			if f:
				f.close()

	def holder(self):
		"""A run holding the lock until its stdin closes."""
		a = self.start(f'hold_lock {shlex.quote(self.target)}; echo held; read -r _ || true',
			       stdin=subprocess.PIPE)
		self.assertEqual(a.stdout.readline(), 'held\n')
		return a

	def test_second_run_waits(self):
		a = self.holder()
		b = self.start(f'hold_lock {shlex.quote(self.target)}; echo "got it"')
		self.assertEqual(b.stdout.readline(),
				 f'[iommu-kunit] waiting: another run of the runner is using {self.target}\n')
		self.assertIsNone(b.poll())
		a.stdin.close()
		self.assertEqual(a.wait(timeout=QUICK_SECS), 0)
		out, err = b.communicate(timeout=QUICK_SECS)
		self.assertEqual(b.returncode, 0, err)
		self.assertEqual(out, f'[iommu-kunit] the other run is done with {self.target}: going on\n'
				 'got it\n')

	def test_runner_run_by_the_holder(self):
		t = shlex.quote(self.target)
		r = self.source(f'hold_lock {t}; hold_lock {t}; '
				f'bash -c \'source {shlex.quote(RUNNER)}; hold_lock {t}; echo child\' bash run')
		self.assertEqual(r.returncode, 0, r.stderr)
		self.assertEqual(r.stdout, 'child\n')

	def test_progress_monitor_keeps_no_lock(self):
		"""A run's background progress monitor (and its sleep) neither
		outlives it nor keeps its lock: the next run goes on at once."""
		t = shlex.quote(self.target)
		r = self.source(f'hold_lock {t}; PROGRESS_SECS=600; '
				f'progress_monitor {shlex.quote(self.tmp)} /nonexistent & mon=$!; '
				'sleep 0.2; kill "$mon"; wait "$mon" || true')
		self.assertEqual(r.returncode, 0, r.stderr)
		r = subprocess.run(['bash', '-c', f'source {shlex.quote(RUNNER)}; '
				    f'flock -n {t}.lock true && echo free', 'bash', *NO_MAIN_ARGS],
				   env=self.env, capture_output=True, text=True, timeout=QUICK_SECS)
		self.assertEqual(r.stdout, 'free\n', r.stderr)

	def test_killed_holder(self):
		a = self.holder()
		a.kill()
		a.wait(timeout=QUICK_SECS)
		r = self.source(f'hold_lock {shlex.quote(self.target)}; echo free')
		self.assertEqual(r.returncode, 0, r.stderr)
		self.assertEqual(r.stdout, 'free\n')


class ShardTest(RunnerTestCase):
	"""make test's matrix, and the share of it LEGS= and KERNELS= pick:
	the runner passes them to tools/iommu_kunit.py (whose tests cover the
	matrix itself) and checks them first."""

	def matrix(self, **variables):
		return self.lines('parse_shards; test_matrix', **variables)

	def test_share(self):
		self.assertEqual(self.matrix(), ['7.3 um x86_64 s390 patches-check',
						 '6.12 um x86_64 s390 patches-check', '7.2 um'])
		self.assertEqual(self.matrix(LEGS_GIVEN='um', KERNELS='7.3 7.2'), ['7.3 um', '7.2 um'])
		self.assertEqual(self.matrix(LEGS_GIVEN='x86_64 s390', KERNELS='6.12', SCOPE='ci'),
				 ['6.12 x86_64'])

	def test_patches_check_alone(self):
		self.assertEqual(self.matrix(LEGS_GIVEN='patches-check'),
				 ['7.3 patches-check', '6.12 patches-check'])
		self.assertEqual(self.lines('parse_shards; echo "[$LEGS]"', LEGS_GIVEN='patches-check um'),
				 ['[um]'])

	def test_bad_input(self):
		for args, fragment in ((['LEGS=arm64'], "unknown leg 'arm64' in LEGS="),
				       (['KERNELS=5.4'], "unknown kernel '5.4' in KERNELS="),
				       (['KERNELS=7.3', 'KERNEL=6.12'], 'KERNELS= picks among'),
				       (['LEGS=s390', 'KERNELS=7.2'], 'nothing to run')):
			r, secs = self.command('test', *args)
			self.assertDies(r, fragment)
			self.assertLess(secs, QUICK_SECS)
		r, secs = self.command('total', 'LEGS=s390', 'KERNELS=7.2')
		self.assertDies(r, 'nothing to total')
		r, secs = self.command('presubmit', 'LEGS=patches-check',
				       'PATCHES=' + kconfig_patch_file(self.tmp))
		self.assertDies(r, 'LEGS=patches-check names no leg for make presubmit')


class SelftestFirstTest(RunnerTestCase):
	"""make test runs the runner's own unit tests before anything else,
	and stops if they fail."""

	STUBS = ('ensure_packages() { echo "packages $1 KDIR=$KDIR"; }\n'
		 'test_tree() { echo "test_tree $*"; }\n'
		 'log() { :; }\n')

	def run_test(self, unittest_rc):
		fake = os.path.join(self.tmp, 'python')
		write(fake, '#!/bin/sh\n'
		      f'case "$1" in */tools/iommu_kunit.py) exec {shlex.quote(sys.executable)} "$@" ;; esac\n'
		      f'echo "python $*"\nexit {unittest_rc}\n')
		os.chmod(fake, 0o755)
		return self.source(self.STUBS + 'parse_args KERNELS=7.2\ncmd_test', PYTHON=fake)

	def test_first(self):
		r = self.run_test(0)
		self.assertEqual(r.returncode, 0, r.stderr)
		tests = os.path.join(REPO, 'tools', 'tests')
		self.assertEqual(r.stdout.splitlines(), [
			'packages um KDIR=selftest',
			f'python -m unittest discover -s {tests} -p *_test.py -q',
			'test_tree um'])

	def test_failing_stops(self):
		r = self.run_test(1)
		self.assertDies(r, "the runner's own unit tests failed")
		self.assertNotIn('test_tree', r.stdout)


def kunit_json(suites):
	"""kunit.py's JSON for suites {name: [status, ...]}."""
	return json.dumps({'name': 'KUnit Test Group', 'test_cases': [], 'sub_groups': [
		{'name': name, 'sub_groups': [], 'test_cases': [
			{'name': f'case{i}', 'status': st} for i, st in enumerate(statuses)]}
		for name, statuses in suites.items()]})


class TotalTest(RunnerTestCase):
	"""make total: one verdict from the results of separate jobs, decided
	by tools/iommu_kunit.py (its cases: tools/tests/iommu_kunit_py_test.py);
	here, what the runner passes it and its exit status."""

	def setUp(self):
		super().setUp()
		write(os.path.join(self.top, 'kunitconfig', 'um.suites'), 'iommu_map\n')
		write(os.path.join(self.top, 'kunitconfig', 'mainline', 'um.suites'), 'iommu_map_pt\n')
		write(os.path.join(self.top, 'kunitconfig', '6.12', 'um.kunitconfig'), '')
		self.put('7.3', 'um', {'iommu_map': ['PASS', 'PASS'], 'iommu_map_pt': ['PASS']})
		self.put('6.12', 'um', {'iommu_map': ['PASS', 'PASS']})

	def put(self, kernel, leg, suites):
		write(os.path.join(self.results, f'debian-{kernel}', f'kunit-{leg}.json'),
		      kunit_json(suites))

	def total(self, **variables):
		variables.setdefault('SCOPE', 'ci')
		return self.source('parse_shards; cmd_total', TOP=self.top, PYTHON=sys.executable,
				   **variables)

	def test_pass_and_fail(self):
		r = self.total(LEGS_GIVEN='um', KERNELS='7.3 6.12')
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		self.assertEqual(r.stdout.splitlines(), [
			'[iommu-kunit] KERNEL=7.3 leg um: PASS (3 cases)',
			'[iommu-kunit] KERNEL=6.12 leg um: PASS (2 cases)',
			'total: 5 passed, 0 failed, 0 skipped',
			'[iommu-kunit] make total: PASS, 2 legs'])
		self.put('6.12', 'um', {'iommu_map': ['PASS', 'FAIL']})
		r = self.total(LEGS_GIVEN='um', KERNELS='7.3 6.12')
		self.assertEqual(r.returncode, 1)
		self.assertIn('KERNEL=6.12 leg um: FAIL (1 of 2 cases failed', r.stdout)
		self.assertIn('make total: FAIL', r.stdout)

	def test_scope_and_results_dir(self):
		"""SCOPE= and IOMMU_KUNIT_RESULTS reach the decision: the full
		matrix has 7.2's UML leg, whose results are missing here."""
		r = self.total(LEGS_GIVEN='um', SCOPE='')
		self.assertEqual(r.returncode, 1)
		self.assertIn(f'KERNEL=7.2 leg um: FAIL: no results in {self.results}/debian-7.2/',
			      r.stdout)

	def test_one_tree(self):
		r = self.total(KERNEL_GIVEN='7.3')
		self.assertDies(r, 'KERNEL= and KDIR= do not apply')


class MutantKmemleakTest(RunnerTestCase):
	"""A mutant's run scans with kmemleak only if its header says so."""

	def kmemleak(self, text):
		path = os.path.join(self.tmp, 'm.patch')
		write(path, text)
		return self.lines(f'mutant_kmemleak {shlex.quote(path)}')

	def test_header(self):
		self.assertEqual(self.kmemleak('Oracle: kmemleak\nLeaks.\n\n--- a/x\n'), ['on'])
		self.assertEqual(self.kmemleak('Leaks.\n\n--- a/x\n'), ['off'])
		# Only a line of its own, not a mention.
		self.assertEqual(self.kmemleak('Seen by Oracle: kmemleak too.\n'), ['off'])


class MutantsFilterTest(RunnerTestCase):
	"""make mutate MUTANTS=glob applies only the mutants it names, and a
	glob that names none is an error, not an empty pass."""

	STUBS = ('use_side_tree() { ARCH=$2; WORK=$TOP/w; RESULTS=$TOP/r; }\n'
		 'stage_overlay() { [ ${#EXTRA_PATCHES[@]} -eq 0 ] || '
		 'echo "staged $(basename "${EXTRA_PATCHES[0]}")"; }\n'
		 'sync_work_tree() { :; }\n'
		 'run_leg() { :; }\n'
		 'log() { :; }\n')

	def setUp(self):
		super().setUp()
		m = os.path.join(self.top, 'tools', 'mutants', 'um')
		for name in ('01-a.patch', '02-b.patch', '03-bb.patch'):
			write(os.path.join(m, name), '--- a/x\n')
		write(os.path.join(self.top, 'kunitconfig', 'um.kunitconfig'))

	def staged(self, glob):
		r = self.source(self.STUBS + 'SURVIVORS=(); MUTANTS_KILLED=0; '
				'MUTANTS_TOTAL=0\nmutate_tree\n'
				'echo "total $MUTANTS_TOTAL"',
				TOP=self.top, KVER='7.3.0', LEGS='um', MUTANTS=glob)
		self.assertEqual(r.returncode, 0, r.stderr)
		return r.stdout.splitlines()

	def test_all(self):
		self.assertEqual(self.staged(''), ['staged 01-a.patch', 'staged 02-b.patch',
						   'staged 03-bb.patch', 'total 3'])

	def test_glob(self):
		self.assertEqual(self.staged('*-b*'), ['staged 02-b.patch',
						       'staged 03-bb.patch', 'total 2'])

	def test_legs_and_scope(self):
		"""The legs and mutants come from tools/iommu_kunit.py
		mutant-legs and mutants (their cases: iommu_kunit_py_test.py);
		SCOPE=ci reaches both: the mutants with a CI: line naming the
		leg, and a leg with none is left out."""
		write(os.path.join(self.top, 'tools', 'mutants', 'shared', 's.patch'),
		      'Legs: um s390\nCI: um\n--- a/x\n')
		write(os.path.join(self.top, 'tools', 'mutants', 'um', '02-b.patch'),
		      'CI: um\n--- a/x\n')
		write(os.path.join(self.top, 'kunitconfig', 's390.kunitconfig'))
		body = (self.STUBS.replace('log() { :; }', 'log() { echo "$*"; }') +
			'SURVIVORS=(); MUTANTS_KILLED=0; MUTANTS_TOTAL=0\nmutate_tree')
		out = self.lines(body, TOP=self.top, KVER='7.3.0', LEGS='um s390', SCOPE='ci')
		self.assertEqual([o for o in out if o.startswith('staged')],
				 ['staged 02-b.patch', 'staged s.patch'])
		self.assertIn('mutants s390: left to make mutate without SCOPE=ci', out)
		self.assertEqual(out[-1], 'kernel 7.3.0: killed 0/2')
		out = self.lines(body, TOP=self.top, KVER='7.3.0', LEGS='s390', SCOPE='')
		self.assertEqual([o for o in out if o.startswith('staged')], ['staged s.patch'])

	def test_glob_matching_none(self):
		r = self.source(self.STUBS + 'mutate_tree() { :; }\n'
				'MUTANTS_TOTAL=0\ncmd_mutate',
				TOP=self.top, KERNEL_GIVEN='7.3', MUTANTS='*zz*')
		self.assertDies(r, 'no mutant', 'MUTANTS=*zz*')


class LegsForFilesTest(RunnerTestCase):
	"""make presubmit and the series' bisect builds take their legs from
	tools/iommu_kunit.py's table (its cases: iommu_kunit_py_test.py); here,
	that LEGS= and SCOPE= reach it."""

	def patch(self, name, *files):
		path = os.path.join(self.tmp, name)
		write(path, ''.join(f'--- a/{f}\n+++ b/{f}\n@@ -1 +1 @@\n-x\n+y\n' for f in files))
		return path

	def legs(self, func, *patches, **variables):
		return self.lines(f'{func} ' + ' '.join(shlex.quote(p) for p in patches),
				  **variables)[0].split()

	def test_presubmit(self):
		self.assertEqual(self.legs('parse_shards; legs_for_patches',
					   self.patch('a', 'drivers/iommu/dma-iommu.c'),
					   self.patch('b', 'arch/s390/pci/pci.c')), ['x86_64', 's390'])
		# make presubmit LEGS=um: only those of LEGS.
		self.assertEqual(self.legs('parse_shards; legs_for_patches',
					   self.patch('p', 'mm/page_alloc.c'), LEGS_GIVEN='um'), ['um'])

	def test_bisect(self):
		p = self.patch('p', 'drivers/iommu/s390-iommu.c')
		self.assertEqual(self.legs('legs_to_build', p), ['um', 's390'])
		self.assertEqual(self.lines('legs_to_build ' + shlex.quote(p), SCOPE='ci'), [''])


class QemuWrapperTest(unittest.TestCase):
	"""tools/qemu/qemu-system-x86_64 in front of a fake QEMU that prints
	its arguments, one a line."""

	ARGS = ['-nodefaults', '-accel', 'kvm', '-accel', 'hvf', '-accel', 'tcg',
		'-serial', 'stdio']

	def setUp(self):
		self.tmp = tempfile.mkdtemp(prefix='iommu-kunit-qemu.')
		self.addCleanup(shutil.rmtree, self.tmp)
		self.fake_dir = os.path.join(self.tmp, 'fake')
		write(os.path.join(self.fake_dir, 'qemu-system-x86_64'),
		      '#!/bin/sh\necho FAKE\nfor a in "$@"; do printf \'%s\\n\' "$a"; done\n')
		os.chmod(os.path.join(self.fake_dir, 'qemu-system-x86_64'), 0o755)
		self.env = dict(os.environ)
		self.env.pop('IOMMU_KUNIT_QEMU_ACCEL', None)

	def run_wrapper(self, path, accel=None):
		env = dict(self.env, PATH=path)
		if accel is not None:
			env['IOMMU_KUNIT_QEMU_ACCEL'] = accel
		return subprocess.run([QEMU_WRAPPER, *self.ARGS], env=env,
				      capture_output=True, text=True, timeout=10)

	def fake_path(self):
		"""The wrapper first (as run_leg puts it), then the fake QEMU,
		then the rest: the fake one must win over any real one."""
		return os.pathsep.join([QEMU_WRAPPER_DIR, self.fake_dir,
					os.environ.get('PATH', '/usr/bin:/bin')])

	def received(self, r):
		self.assertEqual(r.returncode, 0, r.stderr)
		lines = r.stdout.splitlines()
		self.assertEqual(lines[0], 'FAKE')
		return lines[1:]

	def test_tcg_drops_other_accelerators(self):
		self.assertEqual(self.received(self.run_wrapper(self.fake_path(), 'tcg')),
				 ['-nodefaults', '-accel', 'tcg', '-serial', 'stdio'])

	def test_unset_passes_everything(self):
		self.assertEqual(self.received(self.run_wrapper(self.fake_path())), self.ARGS)

	def test_kvm_passes_everything(self):
		self.assertEqual(self.received(self.run_wrapper(self.fake_path(), 'kvm')), self.ARGS)

	def test_wrapper_dir_twice(self):
		"""The wrapper never runs itself, however often PATH names it."""
		path = os.pathsep.join([QEMU_WRAPPER_DIR, QEMU_WRAPPER_DIR + '/',
					self.fake_dir, os.environ.get('PATH', '/usr/bin:/bin')])
		self.assertEqual(self.received(self.run_wrapper(path)), self.ARGS)

	def test_no_qemu(self):
		"""Only the wrapper and the tools it needs on PATH: exit 127."""
		tools = os.path.join(self.tmp, 'tools')
		os.makedirs(tools)
		for tool in ('bash', 'dirname'):
			os.symlink(shutil.which(tool), os.path.join(tools, tool))
		r = self.run_wrapper(os.pathsep.join([QEMU_WRAPPER_DIR, tools]), 'tcg')
		self.assertEqual(r.returncode, 127, r.stdout + r.stderr)
		self.assertEqual(r.stdout, '')
		self.assertIn('qemu-system-x86_64: not found on PATH', r.stderr)


if __name__ == '__main__':
	unittest.main()
