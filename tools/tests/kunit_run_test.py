#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Unit tests for tools/iommu_kunit/kunit_run.py and qemu.py: one leg's
# kunit.py config (only when its inputs change), the kernel's make and
# kunit.py exec, each given the table's arguments and the user's
# pass-through options; then the KTAP saved, kmemleak's case, the JUnit
# XML (kunit.py's, or converted with each failure's text), the kernel
# version in the JSON and the check of the expected suites. kunit.py and
# make are mocked: the mock writes what kunit.py would (test.log, JSON).
# Also the QEMU accelerator choice, the x86_64 guest's arguments, kunit.py's
# qemu_configs read as kunit.py reads them, and ccache's mode.
#
#   python3 tools/tests/kunit_run_test.py [-v]

"""Unit tests for tools/iommu_kunit/kunit_run.py and qemu.py."""

import contextlib
import io
import json
import os
import shutil
import threading
import time
import unittest
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional

from helpers import TEST_LOG, TmpTestCase, done, kunit_json, make_checkout, read, write
from iommu_kunit import common, ktap, qemu, sources
from iommu_kunit.common import UsageError
from iommu_kunit.kunit_run import KunitArgs, progress_monitor, run_leg

KMEMLEAK_CLEAN = '=== kmemleak\n=== kmemleak end\n'


def opt(cmd: List[str], name: str) -> Optional[str]:
	"""The value of --name=VALUE in cmd (None if absent)."""
	for a in cmd:
		if a.startswith(name + '='):
			return a[len(name) + 1:]
	return None


class RunLegTest(TmpTestCase):

	def setUp(self) -> None:
		super().setUp()
		make_checkout(self.top)
		self.kver = '7.3.0'
		self.junit = True
		self.statuses: Dict[str, List[str]] = {'iommu_map': ['PASS', 'FAIL'],
						       'kunit_script': ['PASS'],
						       'iommu_map_pt': ['PASS']}
		self.make_rc = 0
		self.test_log: Optional[str] = TEST_LOG
		self.guest = KMEMLEAK_CLEAN

	def tree(self) -> sources.Tree:
		work = self.path('cache', 'work', 'debian-7.3')
		wsrc = os.path.join(work, 'src')
		write(os.path.join(wsrc, 'drivers/iommu/.kunitconfig'), 'CONFIG_KUNIT=y\n')
		write(os.path.join(wsrc, 'drivers/iommu/Kconfig'), 'config IOMMU\n')
		write(os.path.join(wsrc, 'tools/testing/kunit/kunit.py'),
		      "parser.add_argument('--junit',\n" if self.junit else "'--json'\n")
		return sources.Tree(src='/src', kver=self.kver, series=self.kver[:3] if
				    self.kver.startswith('7') else '6.12', name='debian-7.3',
				    work=work, wsrc=wsrc, results=self.path('results', 'debian-7.3'),
				    kdir=None, kernel='7.3', pkgver='1')

	def handler(self, cmd: List[str], kw: Dict[str, Any]) -> Any:
		if cmd[1:3] == ['tools/testing/kunit/kunit.py', 'config']:
			write(os.path.join(opt(cmd, '--build_dir') or '', '.config'), 'CONFIG_X=y\n')
			return done(cmd)
		if cmd[0] == 'make':
			return done(cmd, self.make_rc, 'drivers/x.c:1: error: oops\n' if self.make_rc else '')
		if cmd[1:3] == ['tools/testing/kunit/kunit.py', 'exec']:
			build = opt(cmd, '--build_dir') or ''
			if self.test_log is not None:
				write(os.path.join(build, 'test.log'), self.test_log)
			if opt(cmd, '--qemu_args'):
				write(os.path.join(build, 'guest.out'), self.guest)
			js = opt(cmd, '--json')
			if js and self.test_log is not None:
				write(js, kunit_json(self.statuses))
			xml = opt(cmd, '--junit')
			if xml:
				write(xml, '<?xml version="1.0"?><testsuite name="main" tests="3" '
				      'failures="1"><testsuite name="iommu_map"><testcase name="case1">'
				      '<failure>Test Failed</failure></testcase></testsuite></testsuite>')
			failed = any(s != 'PASS' for v in self.statuses.values() for s in v)
			return done(cmd, 1 if failed else 0)
		if cmd[1:3] == ['tools/testing/kunit/kunit.py', 'parse']:
			write(opt(cmd, '--json') or '', kunit_json(self.statuses))
			if opt(cmd, '--junit'):
				write(opt(cmd, '--junit') or '', '<?xml version="1.0"?><testsuite/>')
			return done(cmd)
		return done(cmd, 127)

	def run_leg(self, leg: str = 'um', **kw: Any) -> Any:
		self.c = self.ctx(self.handler)
		self.t = self.tree()
		out = io.StringIO()
		with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
			res = run_leg(self.c, self.t, leg, **kw)
		self.out = out.getvalue()
		return res

	def kunit(self, what: str) -> List[List[str]]:
		return [c for c in self.c.calls if c[1:3] == ['tools/testing/kunit/kunit.py', what]]

	def test_s390_arguments(self) -> None:
		"""kunit.py and make get the table's arguments for the leg."""
		res = self.run_leg('s390')
		config, = self.kunit('config')
		make, = self.c.ran('make')
		cc = 'ccache s390x-linux-gnu-gcc' if shutil.which('ccache') else 's390x-linux-gnu-gcc'
		for arg in ('--arch=s390', '--cross_compile=s390x-linux-gnu-', f'CC={cc}',
			    '--kunitconfig=' + os.path.join(self.top, 'kunitconfig', 's390.kunitconfig'),
			    f'--kunitconfig={self.t.wsrc}/drivers/iommu/.kunitconfig'):
			self.assertIn(arg, config)
		for arg in ('ARCH=s390', 'CROSS_COMPILE=s390x-linux-gnu-', f'CC={cc}',
			    f"O={self.t.work}/build-s390", f'--jobs={common.cpus()}'):
			self.assertIn(arg, make)
		self.assertEqual(make[:3], ['make', '-C', self.t.wsrc])
		self.assertEqual(res.status, 'fail')

	def test_config_only_when_inputs_change(self) -> None:
		self.run_leg()
		self.run_leg()
		self.assertEqual(len(self.kunit('config')), 0)
		write(os.path.join(self.top, 'kunitconfig', 'um.kunitconfig'), 'CONFIG_KUNIT=m\n')
		self.run_leg()
		self.assertEqual(len(self.kunit('config')), 1)
		self.run_leg(kunit=KunitArgs(kconfig_add=('CONFIG_KASAN=y',)))
		config, = self.kunit('config')
		self.assertIn('--kconfig_add=CONFIG_KASAN=y', config)
		self.run_leg(kunit=KunitArgs(kconfig_add=('CONFIG_KASAN=y',)))
		self.assertEqual(self.kunit('config'), [])

	def test_no_op_rerun_runs_make_and_exec_only(self) -> None:
		"""What a rerun with nothing changed costs: the kernel's make and
		kunit.py exec, no other command."""
		self.run_leg()
		self.run_leg()
		self.assertEqual([c[0] if c[0] == 'make' else c[2] for c in self.c.calls],
				 ['make', 'exec'])

	def test_pass_through(self) -> None:
		"""--kernel_args, --timeout to kunit.py exec; --jobs to make."""
		self.run_leg(suite='iommu_map', kunit=KunitArgs(kernel_args=('a=1', 'b'),
								timeout=600, jobs=3))
		exe, = self.kunit('exec')
		for arg in ('--kernel_args=a=1', '--kernel_args=b', '--timeout=600'):
			self.assertIn(arg, exe)
		self.assertEqual(exe[-1], 'iommu_map')
		self.assertIn('--jobs=3', self.c.ran('make')[0])

	def test_raw_output(self) -> None:
		"""--raw_output: kunit.py exec prints the kernel's output and
		parses nothing; its parse command reads the saved log after."""
		self.statuses = {'iommu_map': ['PASS'], 'kunit_script': ['PASS'],
				 'iommu_map_pt': ['PASS']}
		res = self.run_leg(kunit=KunitArgs(raw_output='all'))
		exe, = self.kunit('exec')
		self.assertIn('--raw_output=all', exe)
		self.assertIsNone(opt(exe, '--json'))
		parse, = self.kunit('parse')
		self.assertEqual(parse[-1], os.path.join(self.t.work, 'build-um', 'test.log'))
		self.assertEqual(opt(parse, '--json'), res.json)
		self.assertEqual(res.status, 'pass')

	def test_results_files(self) -> None:
		"""JSON, JUnit and KTAP beside each other; the kernel version in
		the JSON."""
		res = self.run_leg()
		self.assertEqual(res.json, self.path('results', 'debian-7.3', 'kunit-um.json'))
		self.assertEqual(res.xml, self.path('results', 'debian-7.3', 'kunit-um.xml'))
		self.assertEqual(res.ktap, self.path('results', 'debian-7.3', 'kunit-um.ktap'))
		ktap_text = read(res.ktap)
		self.assertTrue(ktap_text.startswith('KTAP version 1\n1..2\n'))
		self.assertNotIn('Linux version', ktap_text)
		self.assertNotIn('reboot: System halted', ktap_text)
		data = json.loads(read(res.json))
		self.assertEqual(data['kernel'], '7.3.0')
		self.assertEqual(data['sub_groups'][0]['kernel'], '7.3.0')
		self.assertEqual(opt(self.kunit('exec')[0], '--junit'), res.xml)
		self.assertIn('results in', self.out)

	def test_junit_converted_with_failure_text(self) -> None:
		"""A kunit.py without --junit (6.12): the JUnit XML is written
		from the JSON, each failure with what its case printed."""
		self.junit = False
		self.kver = '6.12.117'
		self.statuses = {'iommu_map': ['PASS', 'FAIL'], 'kunit_script': ['PASS']}
		# JSON names as kunit.py gives them for TEST_LOG's cases.
		res = self.run_leg()
		self.assertIsNone(opt(self.kunit('exec')[0], '--junit'))
		root = ET.parse(res.xml).getroot()
		self.assertEqual((root.get('tests'), root.get('failures')), ('3', '1'))
		self.assertEqual(res.status, 'fail')

	def test_junit_failure_text_from_ktap(self) -> None:
		from iommu_kunit import results
		js = write(self.path('r.json'), json.dumps({'name': 'x', 'sub_groups': [
			{'name': 'iommu_map', 'test_cases': [
				{'name': 'iommu_map_test_success', 'status': 'PASS'},
				{'name': 'iommu_map_test_unaligned', 'status': 'FAIL'}],
			 'sub_groups': [{'name': 'iommu_map_test_sync_error', 'sub_groups': [],
					 'test_cases': [{'name': 'ENOMEM', 'status': 'PASS'},
							{'name': 'EIO', 'status': 'FAIL'}]}]}]}))
		xml = self.path('r.xml')
		results.junit(js, xml, ktap.case_logs(ktap.extract(TEST_LOG.splitlines())))
		root = ET.parse(xml).getroot()
		fails = {c.get('name'): c.find('failure') for c in root.iter('testcase')}
		self.assertIsNone(fails['iommu_map_test_success'])
		text = getattr(fails['iommu_map_test_unaligned'], 'text', '')
		self.assertIn('EXPECTATION FAILED at drivers/iommu/tests/iommu_map_kunit.c:42', text)
		self.assertIn('ret == 0 (0x0)', text)
		self.assertIn('ASSERTION FAILED at x.c:7',
			      getattr(fails['iommu_map_test_sync_error.EIO'], 'text', ''))

	def test_x86_64_guest_and_kmemleak(self) -> None:
		self.statuses = {'iommu_map': ['PASS'], 'iommu_dma': ['PASS']}
		res = self.run_leg('x86_64')
		exe, = self.kunit('exec')
		build = os.path.join(self.t.work, 'build-x86_64')
		self.assertNotIn('--arch=x86_64', exe)
		self.assertEqual(opt(exe, '--qemu_config'),
				 os.path.join(self.top, 'tools', 'qemu', 'x86_64.py'))
		self.assertEqual(opt(exe, '--qemu_args'), f'-serial file:{build}/guest.out')
		groups = [g['name'] for g in json.loads(read(res.json))['sub_groups']]
		self.assertEqual(groups[-1], 'iommu_kmemleak')
		root = ET.parse(res.xml).getroot()
		self.assertEqual(root.findall('testsuite')[-1].get('name'), 'iommu_kmemleak')
		self.assertEqual(res.status, 'pass', self.out)
		self.assertIsNone(opt(exe, '--kernel_args'))

	def test_x86_64_leak_fails(self) -> None:
		self.statuses = {'iommu_map': ['PASS'], 'iommu_dma': ['PASS']}
		self.guest = ('=== kmemleak\nunreferenced object 0x1 (size 8):\n  backtrace (crc 0):\n'
			      '    [<ffffffff8149a4b6>] iommu_dma_alloc+0x2b6/0x470\n=== kmemleak end\n')
		res = self.run_leg('x86_64')
		self.assertEqual(res.status, 'fail')
		self.assertIn('1 leak(s) from the code under test', self.out)

	def test_x86_64_kmemleak_off(self) -> None:
		"""A mutant's run without kmemleak: booted with kmemleak=off, and
		iommu_kmemleak not expected."""
		self.statuses = {'iommu_map': ['PASS'], 'iommu_dma': ['PASS']}
		res = self.run_leg('x86_64', kmemleak_on=False)
		self.assertIn('--kernel_args=kmemleak=off', self.kunit('exec')[0])
		self.assertEqual(res.status, 'pass', self.out)
		self.assertIn('kmemleak off for this run', self.out)

	def test_suite_missing_fails(self) -> None:
		self.statuses = {'iommu_map': ['PASS']}
		res = self.run_leg()
		self.assertEqual(res.status, 'fail')
		self.assertIn('suite kunit_script is missing from the results', self.out)
		# SUITE= narrows what is expected.
		res = self.run_leg(suite='iommu_map')
		self.assertEqual(res.status, 'pass')

	def test_build_failure_is_infrastructure(self) -> None:
		self.make_rc = 2
		res = self.run_leg()
		self.assertEqual(res.status, 'infra')
		self.assertIn('the build failed (exit 2), full log in', res.message)
		self.assertIn('drivers/x.c:1: error: oops', self.out)
		self.assertEqual(self.kunit('exec'), [])

	def test_no_ktap_is_infrastructure(self) -> None:
		"""A kernel that did not boot to its suites."""
		self.test_log = 'Kernel panic - not syncing: no init\n'
		res = self.run_leg()
		self.assertEqual(res.status, 'infra')
		self.assertIn('printed no KTAP', res.message)

	def test_unknown_leg_files(self) -> None:
		os.unlink(os.path.join(self.top, 'kunitconfig', 's390.kunitconfig'))
		with self.assertRaisesRegex(UsageError, 'no kunitconfig/s390.kunitconfig'):
			self.run_leg('s390')

	def test_progress(self) -> None:
		build = self.path('build')
		write(os.path.join(build, 'a.o'), '')
		stop = threading.Event()
		out = io.StringIO()
		t = threading.Thread(target=progress_monitor, args=(build, 0.0, stop, 0.02, out))
		t.start()
		time.sleep(0.1)
		stop.set()
		t.join()
		self.assertEqual(out.getvalue().splitlines()[0][:58],
				 '[iommu-kunit] building: 1 objects compiled so far, 0s elap')


class QemuTest(TmpTestCase):

	def accel(self, leg: str, kver: str, env_accel: Optional[str] = None,
		  pvm: bool = False) -> str:
		env = dict(os.environ)
		env.pop('IOMMU_KUNIT_QEMU_ACCEL', None)
		if env_accel is not None:
			env['IOMMU_KUNIT_QEMU_ACCEL'] = env_accel
		ctx = common.Context(top=self.top, environ=env)
		if pvm:
			os.makedirs(self.path('kvm_pvm'), exist_ok=True)
		elif os.path.isdir(self.path('kvm_pvm')):
			os.rmdir(self.path('kvm_pvm'))
		return qemu.accel(ctx, leg, kver, self.path('kvm_pvm'))

	def test_env_override(self) -> None:
		self.assertEqual(self.accel('x86_64', '7.3.0', 'tcg'), 'tcg')
		self.assertEqual(self.accel('x86_64', '7.3.0', 'kvm', pvm=True), 'kvm')
		self.assertEqual(self.accel('x86_64', '6.12.117', 'tcg'), 'tcg')

	def test_kvm_pvm(self) -> None:
		"""kvm_pvm: TCG for 7.x on x86_64; 6.12 boots under any KVM."""
		self.assertEqual(self.accel('x86_64', '7.3.0', pvm=True), 'tcg')
		self.assertEqual(self.accel('x86_64', '6.12.117', pvm=True), 'kvm')
		self.assertEqual(self.accel('x86_64', '7.3.0'), 'kvm')
		self.assertEqual(self.accel('s390', '7.3.0', pvm=True), 'kvm')

	def test_note_and_env(self) -> None:
		ctx = common.Context(top=self.top, environ={'IOMMU_KUNIT_QEMU_ACCEL': 'tcg',
							    'PATH': '/usr/bin'})
		self.assertEqual(qemu.accel_note(ctx, 'x86_64', '7.3.0'), ' (QEMU: TCG, no KVM)')
		self.assertEqual(qemu.accel_note(ctx, 'um', '7.3.0'), '')
		env = qemu.wrapper_env(ctx, 'x86_64', '7.3.0')
		self.assertEqual(env['PATH'], os.path.join(self.top, 'tools', 'qemu') + ':/usr/bin')
		self.assertEqual(env['IOMMU_KUNIT_QEMU_ACCEL'], 'tcg')

	def extra(self, leg: str, coverage: bool = False) -> List[str]:
		ctx = common.Context(top='/top', environ={})
		return qemu.leg_extra_args(ctx, leg, self.path('build'), coverage)

	def test_x86_64_boots_the_init(self) -> None:
		build = self.path('build')
		self.assertEqual(self.extra('x86_64'), [
			f'--kunitconfig={build}/initramfs.kunitconfig',
			'--qemu_config=/top/tools/qemu/x86_64.py',
			f'--qemu_args=-serial file:{build}/guest.out'])
		self.assertEqual(read(os.path.join(build, 'initramfs.kunitconfig')),
				 'CONFIG_INITRAMFS_SOURCE="initramfs.list"\n')
		initramfs = read(os.path.join(build, 'initramfs.list')).splitlines()
		self.assertIn('file /init /top/tools/qemu/init 0755 0 0', initramfs)
		self.assertIn('file /bin/busybox /bin/busybox 0755 0 0', initramfs)
		self.assertIn('nod /dev/ttyS1 0600 0 0 c 4 65', initramfs)

	def test_x86_64_coverage_adds_gcov(self) -> None:
		out = self.extra('x86_64', True)
		self.assertEqual(out[0], '--kunitconfig=/top/kunitconfig/coverage/x86_64.kunitconfig')
		self.assertEqual([a for a in out if a.startswith('--make_options=')],
				 ['--make_options=GCOV_PROFILE_iommu.o=y',
				  '--make_options=GCOV_PROFILE_dma-iommu.o=y',
				  '--make_options=GCOV_PROFILE_s390-iommu.o=y'])

	def test_other_legs(self) -> None:
		self.assertEqual(self.extra('um'), [])
		self.assertEqual(self.extra('s390'), [])
		self.assertEqual(self.extra('um', True),
				 ['--kunitconfig=/top/kunitconfig/coverage/um.kunitconfig'])

	def kunit_dir(self) -> str:
		d = self.path('linux', 'tools', 'testing', 'kunit')
		write(os.path.join(d, 'qemu_config.py'),
		      'from dataclasses import dataclass\nfrom typing import List\n\n'
		      '@dataclass(frozen=True)\nclass QemuArchParams:\n  linux_arch: str\n'
		      '  kconfig: str\n  qemu_arch: str\n  kernel_path: str\n'
		      '  kernel_command_line: str\n  extra_qemu_params: List[str]\n')
		write(os.path.join(d, 'qemu_configs', 's390.py'),
		      "from ..qemu_config import QemuArchParams\n\n"
		      "QEMU_ARCH = QemuArchParams(linux_arch='s390', kconfig='''\nCONFIG_EXPERT=y\n"
		      "CONFIG_NUMA=y''', qemu_arch='s390x', kernel_path='arch/s390/boot/bzImage',\n"
		      "kernel_command_line='console=ttyS0', extra_qemu_params=[])\n")
		write(os.path.join(d, 'configs', 'arch_uml.config'), 'CONFIG_UML_PCI_OVER_VIRTIO=y\n')
		return d

	def test_qemu_config_imported(self) -> None:
		"""kunit.py's qemu_configs are imported as kunit_kernel.py does
		(their "from ..qemu_config import" finds the tree's module)."""
		d = self.kunit_dir()
		params = qemu.load_qemu_config(os.path.join(d, 'qemu_configs', 's390.py'), d)
		self.assertEqual(params.linux_arch, 's390')
		self.assertEqual(qemu.arch_kconfig(self.path('linux'), 's390'),
				 '\nCONFIG_EXPERT=y\nCONFIG_NUMA=y')
		self.assertEqual(qemu.arch_kconfig(self.path('linux'), 'um'),
				 'CONFIG_UML_PCI_OVER_VIRTIO=y\n')

	def test_our_qemu_config(self) -> None:
		"""tools/qemu/x86_64.py is a kunit.py qemu_config too."""
		from helpers import REPO
		d = self.kunit_dir()
		params = qemu.load_qemu_config(os.path.join(REPO, 'tools', 'qemu', 'x86_64.py'), d)
		self.assertIn('kunit_shutdown=none', params.kernel_command_line)
		self.assertEqual(params.qemu_arch, 'x86_64')

	def test_broken_qemu_config(self) -> None:
		d = self.kunit_dir()
		bad = write(os.path.join(d, 'qemu_configs', 'x.py'), 'X = 1\n')
		with self.assertRaisesRegex(common.InfraError, 'has no QEMU_ARCH'):
			qemu.load_qemu_config(bad, d)


class CcacheModeTest(unittest.TestCase):
	"""Our builds use ccache's depend mode unless the user chose; make
	bench's kunit.py loop gets ccache as the user has it."""

	def modes(self, **user: str) -> List[str]:
		env = {k: v for k, v in os.environ.items() if not k.startswith('CCACHE_')}
		env.update(user)
		ctx = common.Context(top='/top', environ=env)
		users = ctx.users_env()
		return [f"{ctx.env.get('CCACHE_DEPEND', 'unset')}/{ctx.env.get('CCACHE_NODEPEND', 'unset')}",
			f"{users.get('CCACHE_DEPEND', 'unset')}/{users.get('CCACHE_NODEPEND', 'unset')}",
			ctx.env['CCACHE_DIR'], ctx.env['CCACHE_BASEDIR']]

	def test_unset(self) -> None:
		self.assertEqual(self.modes(IOMMU_KUNIT_CACHE='/c'),
				 ['1/unset', 'unset/unset', '/c/ccache', '/c/work'])

	def test_user_depend(self) -> None:
		self.assertEqual(self.modes(CCACHE_DEPEND='1')[:2], ['1/unset', '1/unset'])

	def test_user_nodepend(self) -> None:
		self.assertEqual(self.modes(CCACHE_NODEPEND='1', CCACHE_DIR='/mine')[:3],
				 ['unset/1', 'unset/1', '/mine'])


if __name__ == '__main__':
	unittest.main()
