#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Unit tests for tools/qemu/qemu-system-x86_64, the QEMU wrapper kunit.py
# exec finds first on PATH (it drops kunit.py's "-accel kvm" when
# IOMMU_KUNIT_QEMU_ACCEL=tcg), in front of a fake QEMU.
#
#   python3 tools/tests/qemu_wrapper_test.py [-v]

"""Unit tests for tools/qemu/qemu-system-x86_64."""

import os
import shutil
import subprocess
import tempfile
import unittest

from helpers import REPO, write

QEMU_WRAPPER_DIR = os.path.join(REPO, 'tools', 'qemu')
QEMU_WRAPPER = os.path.join(QEMU_WRAPPER_DIR, 'qemu-system-x86_64')


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
			os.symlink(shutil.which(tool) or tool, os.path.join(tools, tool))
		r = self.run_wrapper(os.pathsep.join([QEMU_WRAPPER_DIR, tools]), 'tcg')
		self.assertEqual(r.returncode, 127, r.stdout + r.stderr)
		self.assertEqual(r.stdout, '')
		self.assertIn('qemu-system-x86_64: not found on PATH', r.stderr)


if __name__ == '__main__':
	unittest.main()
