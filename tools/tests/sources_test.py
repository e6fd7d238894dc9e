#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Unit tests for tools/iommu_kunit/sources.py and locks.py: kernel
# versions, the KDIR checks, the package check and its stamp, Debian's
# kernels fetched with the private apt configuration (apt-get, apt-cache
# and dpkg-deb mocked; tar real, on a tarball made here), unpacked into a
# temporary directory then renamed, pinned until REFRESH=1, the record of
# the kernel that ran, and two runs taking turns on a lock.
#
#   python3 tools/tests/sources_test.py [-v]

"""Unit tests for tools/iommu_kunit/sources.py and locks.py."""

import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import unittest
from typing import Any, Dict, List
from unittest import mock

from helpers import TOOLS, TmpTestCase, done, make_kernel_tree, read, write
from iommu_kunit import locks, sources
from iommu_kunit.common import Context, InfraError, UsageError


class KernelVersionTest(TmpTestCase):

	def test_version(self) -> None:
		tree = make_kernel_tree(self.path('linux'), (6, 12, 117))
		self.assertEqual(sources.kernel_version(tree), '6.12.117')
		self.assertEqual(sources.kernel_version(self.path('nope')), '')
		write(self.path('x', 'Makefile'), 'all:\n\ttrue\n')
		self.assertEqual(sources.kernel_version(self.path('x')), '')


class FindSourceTest(TmpTestCase):
	"""KDIR= checks: usage errors, before anything is run."""

	def find(self, kdir: str) -> sources.Tree:
		return sources.find_source(self.ctx(), None, kdir)

	def test_kdir_missing(self) -> None:
		kdir = self.path('nonexistent')
		with self.assertRaisesRegex(UsageError, f'KDIR={kdir} does not exist'):
			self.find(kdir)

	def test_kdir_not_a_kernel(self) -> None:
		kdir = self.path('notakernel')
		write(os.path.join(kdir, 'Makefile'), 'all:\n\ttrue\n')
		with self.assertRaisesRegex(UsageError, f'KDIR={kdir} is not a Linux kernel source tree'):
			self.find(kdir)

	def test_kdir_without_kunit(self) -> None:
		kdir = make_kernel_tree(self.path('linux'))
		os.remove(os.path.join(kdir, 'tools', 'testing', 'kunit', 'kunit.py'))
		with self.assertRaisesRegex(UsageError, 'is not a Linux kernel source tree'):
			self.find(kdir)

	def test_kdir_too_old(self) -> None:
		kdir = make_kernel_tree(self.path('linux-6.6'), (6, 6, 0), sync_map_returns='void')
		with self.assertRaisesRegex(UsageError, f'kernel 6.6.0 at {kdir} is too old: its '
					    'iotlb_sync_map returns void'):
			self.find(kdir)

	def test_kdir_good(self) -> None:
		"""A good tree: its version and a work copy of its own."""
		kdir = make_kernel_tree(self.path('linux'), (7, 3, 0))
		t = self.find(kdir + '/')
		self.assertEqual((t.kver, t.series, t.src, t.kdir), ('7.3.0', '7.3', kdir, kdir))
		self.assertRegex(t.name, r'^kdir-[0-9a-f]{10}$')
		self.assertEqual(t.work, os.path.join(self.cache, 'work', t.name))
		self.assertEqual(t.wsrc, os.path.join(t.work, 'src'))
		self.assertEqual(t.results, os.path.join(self.results, t.name))
		self.assertEqual(t.side(self.ctx(), 'mutate').wsrc, t.work + '-mutate/src')
		self.assertIn('kernel 7.3.0 (KDIR=', sources.describe(t))

	def test_record(self) -> None:
		"""results/<tree>/kernel.json: the kernel that ran."""
		kdir = make_kernel_tree(self.path('linux'), (7, 3, 0))
		t = self.find(kdir)
		path = sources.record(t)
		data = json.loads(read(path))
		self.assertEqual(data['kernel'], '7.3.0')
		self.assertEqual(data['source'], 'kdir')
		self.assertEqual(data['path'], kdir)
		debian = t._replace(kdir=None, kernel='7.3', pkgver='7.3~rc7-1~exp1', name='debian-7.3',
				    results=os.path.join(self.results, 'debian-7.3'))
		data = json.loads(read(sources.record(debian)))
		self.assertEqual((data['debian_package'], data['debian_version'], data['tree']),
				 ('linux-source-7.3', '7.3~rc7-1~exp1', 'debian-7.3'))


class EnsurePackagesTest(TmpTestCase):
	"""One dpkg-query for all packages, none once a check passed."""

	def setUp(self) -> None:
		super().setUp()
		self.status = write(self.path('dpkg-status'), '')
		os.utime(self.status, (1, 1))
		self.missing: List[str] = []

	def handler(self, cmd: List[str], kw: Dict[str, Any]) -> Any:
		if cmd[0] == 'dpkg-query':
			return done(cmd, 0, ''.join(f'{p} ii\n' for p in cmd[3:]
						    if p not in self.missing))
		return done(cmd, 1)

	def test_stamp(self) -> None:
		c = self.ctx(self.handler)
		for _ in range(3):
			sources.ensure_packages(c, 'um', ['make', 'gcc'], self.status)
		self.assertEqual(len(c.ran('dpkg-query')), 1)
		# Another list: checked once more.
		sources.ensure_packages(c, 'um', ['make', 'gcc', 'ccache'], self.status)
		self.assertEqual(len(c.ran('dpkg-query')), 2)
		# dpkg's database changed since: checked again.
		os.utime(self.status)
		time.sleep(0.01)
		sources.ensure_packages(c, 'um', ['make', 'gcc', 'ccache'], self.status)
		self.assertEqual(len(c.ran('dpkg-query')), 3)

	def test_missing_not_root(self) -> None:
		self.missing = ['ccache']
		c = self.ctx(self.handler)
		with mock.patch('os.getuid', return_value=1000), \
		     self.assertRaises(InfraError) as cm:
			sources.ensure_packages(c, 'um', ['make', 'ccache'], self.status)
		self.assertEqual(cm.exception.code, 3)
		self.assertIn('missing Debian packages: ccache', str(cm.exception))
		self.assertIn('apt-get install -y ccache', str(cm.exception))
		self.assertEqual(c.ran('apt-get'), [])
		self.assertFalse(os.path.exists(os.path.join(self.cache, 'packages-ok.um')))

	def test_missing_root_installs(self) -> None:
		self.missing = ['ccache']
		c = self.ctx(lambda cmd, kw: done(cmd, 0, 'make ii\n') if cmd[0] == 'dpkg-query'
			     else done(cmd, 0))
		with mock.patch('os.getuid', return_value=0), \
		     contextlib.redirect_stdout(io.StringIO()):
			sources.ensure_packages(c, 'um', ['make', 'ccache'], self.status)
		self.assertEqual(c.ran('apt-get')[-1][-1:], ['ccache'])
		self.assertIn('install', c.ran('apt-get')[-1])
		c = self.ctx(lambda cmd, kw: done(cmd, 0, '') if cmd[0] == 'dpkg-query'
			     else done(cmd, 100))
		with mock.patch('os.getuid', return_value=0), \
		     contextlib.redirect_stdout(io.StringIO()), \
		     self.assertRaisesRegex(InfraError, 'apt-get update failed'):
			sources.ensure_packages(c, 'um', ['make'], self.status)


def kernel_tarball(path: str, version: tuple) -> None:
	"""A .tar.xz holding one kernel tree, as Debian's linux-source has."""
	tree = make_kernel_tree(path + '.d/linux-source', version)
	with tarfile.open(path, 'w:xz') as tar:
		tar.add(tree, arcname='linux-source-7.3')


class FetchTest(TmpTestCase):
	"""linux-source-7.3 from Debian experimental, apt mocked."""

	def setUp(self) -> None:
		super().setUp()
		self.candidate = '7.3~rc7-1~exp1'
		self.version = (7, 3, 0)
		self.download_fails = False
		fakebin = self.path('fakebin')
		for tool in ('apt-get', 'apt-cache', 'dpkg-deb', 'xz', 'tar'):
			write(os.path.join(fakebin, tool), '#!/bin/sh\nexit 1\n')
			os.chmod(os.path.join(fakebin, tool), 0o755)
		env = dict(os.environ, PATH=fakebin + os.pathsep + os.environ['PATH'],
			   IOMMU_KUNIT_DEBIAN_MIRROR='http://mirror.example/debian')
		self.c = self.ctx(self.handler, env=env)
		self.src = os.path.join(self.cache, 'linux-source-7.3')

	def handler(self, cmd: List[str], kw: Dict[str, Any]) -> Any:
		if cmd[0] == 'apt-get' and 'update' in cmd:
			return done(cmd)
		if cmd[0] == 'apt-cache':
			return done(cmd, 0, f'linux-source-7.3:\n  Installed: (none)\n'
				    f'  Candidate: {self.candidate}\n')
		if cmd[0] == 'apt-get' and 'download' in cmd:
			if self.download_fails:
				return done(cmd, 100)
			write(os.path.join(kw['cwd'], f'linux-source-7.3_{self.candidate}_all.deb'), 'deb')
			return done(cmd)
		if cmd[:2] == ['dpkg-deb', '-f']:
			return done(cmd, 0, self.candidate + '\n')
		if cmd[:2] == ['dpkg-deb', '-x']:
			os.makedirs(os.path.join(cmd[3], 'usr', 'src'), exist_ok=True)
			kernel_tarball(os.path.join(cmd[3], 'usr', 'src', 'linux-source-7.3.tar.xz'),
				       self.version)
			return done(cmd)
		if cmd[0] == 'tar':
			r = subprocess.run(cmd, capture_output=True, text=True)
			return done(cmd, r.returncode, r.stdout, r.stderr)
		return done(cmd, 1)

	def fetch(self, refresh: bool = False) -> str:
		with contextlib.redirect_stdout(io.StringIO()) as out:
			v = sources.fetch_debian_source(self.c, '7.3', self.src, refresh)
		self.out = out.getvalue()
		locks.release_all(self.c)
		return v

	def test_fetch_once_then_pinned(self) -> None:
		self.assertEqual(self.fetch(), self.candidate)
		self.assertEqual(sources.kernel_version(self.src), '7.3.0')
		self.assertEqual(read(self.src + '.unpacked'), self.candidate + '\n')
		sources_file = read(os.path.join(self.cache, 'apt', 'sources.list.d', 'debian.sources'))
		self.assertIn('URIs: http://mirror.example/debian', sources_file)
		self.assertIn('Suites: sid experimental', sources_file)
		update = self.c.ran('apt-get')[0]
		self.assertIn('Dir::Etc::sourcelist=/dev/null', update)
		self.assertIn(f"Dir::State::Lists={os.path.join(self.cache, 'apt')}/lists", update)
		# Nothing left behind but the tree and its stamp.
		self.assertEqual(sorted(n for n in os.listdir(self.cache) if 'linux' in n),
				 ['linux-source-7.3', 'linux-source-7.3.lock', 'linux-source-7.3.unpacked'])
		self.assertEqual([n for n in os.listdir(os.path.join(self.cache, 'apt'))
				  if n.startswith('fetch-7.3.')], [])
		# Pinned: Debian has a newer one, no network asked.
		n = len(self.c.calls)
		self.candidate = '7.3-1~exp1'
		self.assertEqual(self.fetch(), '7.3~rc7-1~exp1')
		self.assertEqual(len(self.c.calls), n)

	def test_refresh(self) -> None:
		self.fetch()
		# The same version: nothing downloaded.
		self.assertEqual(self.fetch(refresh=True), self.candidate)
		self.assertIn('is what Debian experimental has: up to date', self.out)
		self.assertEqual(len(self.c.ran('dpkg-deb')), 2)
		# A newer one: fetched and unpacked in place of the old.
		self.candidate, self.version = '7.3-1~exp1', (7, 3, 1)
		self.assertEqual(self.fetch(refresh=True), '7.3-1~exp1')
		self.assertIn('linux-source-7.3: 7.3~rc7-1~exp1 -> 7.3-1~exp1', self.out)
		self.assertEqual(sources.kernel_version(self.src), '7.3.1')

	def test_failed_download_leaves_nothing(self) -> None:
		self.download_fails = True
		with self.assertRaisesRegex(InfraError, 'apt-get download linux-source-7.3='):
			self.fetch()
		self.assertFalse(os.path.exists(self.src))
		self.assertFalse(os.path.exists(self.src + '.unpacked'))
		self.assertEqual([n for n in os.listdir(os.path.join(self.cache, 'apt'))
				  if n.startswith('fetch-')], [])
		locks.release_all(self.c)
		self.download_fails = False
		self.assertEqual(self.fetch(), self.candidate)

	def test_corrupt_tarball(self) -> None:
		handler = self.handler

		def corrupt(cmd: List[str], kw: Dict[str, Any]) -> Any:
			if cmd[:2] == ['dpkg-deb', '-x']:
				write(os.path.join(cmd[3], 'usr', 'src', 'linux-source-7.3.tar.xz'), 'junk')
				return done(cmd)
			return handler(cmd, kw)
		self.c.handler = corrupt
		with self.assertRaisesRegex(InfraError, 'tar -xf linux-source-7.3.tar.xz failed'):
			self.fetch()
		self.assertEqual([n for n in os.listdir(self.cache) if n.startswith('linux')],
				 ['linux-source-7.3.lock'])

	def test_no_such_package(self) -> None:
		self.candidate = '(none)'
		with self.assertRaisesRegex(InfraError, 'Debian experimental at '
					    'http://mirror.example/debian has no package'):
			self.fetch()

	def test_not_debian(self) -> None:
		self.c.env['PATH'] = self.path('empty')
		with self.assertRaisesRegex(InfraError, 'this system has no apt-get'):
			self.fetch()

	def test_mirror_from_the_machines_sources(self) -> None:
		ctx = Context(top=self.top, environ={})
		deb822 = write(self.path('debian.sources'),
			       'Types: deb\nURIs: http://deb.example.org/debian/\nSuites: bookworm\n')
		self.assertEqual(sources.debian_mirror(ctx, (deb822,)), 'http://deb.example.org/debian')
		lst = write(self.path('sources.list'),
			    '# deb http://no/debian x\ndeb [arch=amd64] https://m.example/debian bookworm main\n')
		self.assertEqual(sources.debian_mirror(ctx, (self.path('none'), lst)),
				 'https://m.example/debian')
		self.assertEqual(sources.debian_mirror(ctx, ()), 'http://deb.debian.org/debian')


class InstalledSourceTest(TmpTestCase):
	"""linux-source-6.12 from the machine's apt sources: unpacked again
	only when dpkg says its version changed."""

	def setUp(self) -> None:
		super().setUp()
		self.usr_src = self.path('usr-src')
		os.makedirs(self.usr_src)
		kernel_tarball(os.path.join(self.usr_src, 'linux-source-6.12.tar.xz'), (6, 12, 117))
		self.status = write(self.path('dpkg-status'), '')
		self.version = '6.12.117-1'

		def handler(cmd: List[str], kw: Dict[str, Any]) -> Any:
			if cmd[0] == 'dpkg-query':
				return done(cmd, 0, self.version)
			r = subprocess.run(cmd, capture_output=True, text=True)
			return done(cmd, r.returncode, r.stdout, r.stderr)
		self.c = self.ctx(handler)
		self.src = os.path.join(self.cache, 'linux-source-6.12')

	def unpack(self) -> str:
		with mock.patch.object(sources, 'USR_SRC', self.usr_src), \
		     contextlib.redirect_stdout(io.StringIO()):
			v = sources.unpack_installed_source(self.c, '6.12', self.src,
							    dpkg_status=self.status)
		locks.release_all(self.c)
		return v

	def test_unpack_once(self) -> None:
		os.utime(self.status, (1, 1))
		self.assertEqual(self.unpack(), '6.12.117-1')
		self.assertEqual(sources.kernel_version(self.src), '6.12.117')
		self.assertEqual(len(self.c.ran('tar')), 1)
		# The stamp is newer than dpkg's database: nothing asked.
		n = len(self.c.calls)
		self.assertEqual(self.unpack(), '6.12.117-1')
		self.assertEqual(len(self.c.calls), n)
		# dpkg changed, the same version: asked, not unpacked.
		time.sleep(0.01)
		os.utime(self.status)
		self.assertEqual(self.unpack(), '6.12.117-1')
		self.assertEqual(len(self.c.ran('tar')), 1)
		self.assertEqual(len(self.c.ran('dpkg-query')), 2)
		# Upgraded: unpacked again.
		time.sleep(0.01)
		os.utime(self.status)
		self.version = '6.12.118-1'
		self.assertEqual(self.unpack(), '6.12.118-1')
		self.assertEqual(len(self.c.ran('tar')), 2)

	def test_changed_under_this_run(self) -> None:
		"""A tree this run already uses is not replaced under it."""
		os.utime(self.status, (1, 1))
		self.unpack()
		locks.hold(self.c, self.src, shared=True)
		time.sleep(0.01)
		os.utime(self.status)
		self.version = '6.12.118-1'
		with mock.patch.object(sources, 'USR_SRC', self.usr_src), \
		     self.assertRaisesRegex(InfraError, 'changed while this run uses it'):
			sources.unpack_installed_source(self.c, '6.12', self.src, dpkg_status=self.status)
		locks.release_all(self.c)
		self.assertEqual(sources.kernel_version(self.src), '6.12.117')

	def test_missing_tarball(self) -> None:
		os.unlink(os.path.join(self.usr_src, 'linux-source-6.12.tar.xz'))
		with self.assertRaisesRegex(InfraError, 'apt-get install linux-source-6.12'):
			self.unpack()


HOLD = '''
import sys
sys.path.insert(0, {tools!r})
from iommu_kunit import common, locks
ctx = common.Context()
locks.hold(ctx, {target!r}, shared={shared})
print('held', flush=True)
{after}
'''


class LockTest(TmpTestCase):
	"""Two runs that share a work copy take turns; the runner that a run
	starts itself (make bench) goes on under its parent's lock; a command
	a run started keeps the lock; a killed run leaves no lock behind;
	runs that only use an unpacked kernel share it."""

	def setUp(self) -> None:
		super().setUp()
		self.target = os.path.join(self.cache, 'work', 'debian-6.12')

	def start(self, shared: bool = False, after: str = 'sys.stdin.read()',
		  env: Any = None) -> 'subprocess.Popen[str]':
		code = HOLD.format(tools=TOOLS, target=self.target, shared=shared, after=after)
		proc = subprocess.Popen([sys.executable, '-c', code], text=True,
					stdin=subprocess.PIPE, stdout=subprocess.PIPE,
					stderr=subprocess.PIPE, env=env)
		self.addCleanup(self.reap, proc)
		return proc

	@staticmethod
	def reap(proc: 'subprocess.Popen[str]') -> None:
		if proc.poll() is None:
			proc.kill()
		proc.wait()
		for f in (proc.stdin, proc.stdout, proc.stderr):
			if f:
				f.close()

	def holder(self, shared: bool = False) -> 'subprocess.Popen[str]':
		a = self.start(shared)
		assert a.stdout is not None
		self.assertEqual(a.stdout.readline(), 'held\n')
		return a

	def test_second_run_waits(self) -> None:
		a = self.holder()
		b = self.start()
		assert b.stdout is not None and a.stdin is not None
		self.assertEqual(b.stdout.readline(),
				 f'[iommu-kunit] waiting: another run of the runner is using {self.target}\n')
		self.assertIsNone(b.poll())
		a.stdin.close()
		self.assertEqual(a.wait(timeout=10), 0)
		self.assertEqual(b.stdout.readline(),
				 f'[iommu-kunit] the other run is done with {self.target}: going on\n')
		self.assertEqual(b.stdout.readline(), 'held\n')

	def test_shared(self) -> None:
		"""Shared holds do not wait for each other; an exclusive one
		waits for them."""
		a = self.holder(shared=True)
		b = self.holder(shared=True)
		c = self.start()
		assert c.stdout is not None and a.stdin is not None and b.stdin is not None
		self.assertIn('waiting', c.stdout.readline())
		a.stdin.close()
		b.stdin.close()
		self.assertEqual(c.stdout.readline()[:31], '[iommu-kunit] the other run is ')

	def test_runner_run_by_the_holder(self) -> None:
		ctx = Context(top=self.top, environ={})
		locks.hold(ctx, self.target)
		locks.hold(ctx, self.target)
		a = self.start(env=dict(os.environ, **{locks.ENV: ctx.env[locks.ENV]}))
		assert a.stdout is not None
		self.assertEqual(a.stdout.readline(), 'held\n')
		locks.release_all(ctx)
		self.assertNotIn(locks.ENV, ctx.env)

	def test_command_keeps_the_lock(self) -> None:
		"""A build the run left running still holds its lock."""
		a = self.start(after="r = ctx.run(['sh', '-c', 'sleep 60 >/dev/null 2>&1 & echo $!'], "
			       "capture=True); print(r.stdout.strip(), flush=True)")
		assert a.stdout is not None
		self.assertEqual(a.stdout.readline(), 'held\n')
		pid = int(a.stdout.readline())
		self.assertEqual(a.wait(timeout=10), 0)
		ctx = Context(top=self.top, environ={})
		fd = os.open(self.target + '.lock', os.O_WRONLY)
		try:
			import fcntl
			with self.assertRaises(BlockingIOError):
				fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
			os.kill(pid, 9)
			for _ in range(100):
				try:
					fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
					break
				except BlockingIOError:
					time.sleep(0.02)
			else:
				self.fail('the lock stayed held')
		finally:
			os.close(fd)
		del ctx

	def test_killed_holder(self) -> None:
		a = self.holder()
		a.kill()
		a.wait(timeout=10)
		ctx = Context(top=self.top, environ={})
		with contextlib.redirect_stdout(io.StringIO()) as out:
			locks.hold(ctx, self.target)
		self.assertEqual(out.getvalue(), '')
		locks.release_all(ctx)


if __name__ == '__main__':
	unittest.main()
