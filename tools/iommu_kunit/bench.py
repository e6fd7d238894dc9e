# SPDX-License-Identifier: GPL-2.0-only
"""make bench: the edit->result loop on UML with warm build directories, in
two modes: the default tree (Debian's, in the cache) and a KDIR (a git
repository of the same source under .cache/bench/, made once; make bench
never edits a tree of yours, so KDIR= is refused). In each mode, medians of
IOMMU_KUNIT_BENCH_N (5) runs of: ours (a line added to
drivers/iommu/tests/iommu_map_kunit.c, then the runner's make run),
lib/kunit (a line added to lib/kunit/kunit-example-test.c, then kunit.py
run --kunitconfig=lib/kunit as a developer types it), each with a line
compiled anew and with one ccache has, and the floor (the kernel's make
with only the link to do, plus booting the kernel). Then the runner's
overhead: a no-op make run against a bare kunit.py run of the same suites
in the same build directory. Edited files are put back at the end (or at
the start of the next run if one was killed). Every figure goes to
.cache/bench.log."""

import os
import shutil
import statistics
import sys
import time
from typing import IO, TYPE_CHECKING, Callable, Dict, List, Optional, Sequence

from . import table
from .commands import ensure_leg_packages, find, prepare, prepare_main
from .common import EXIT_PASS, Context, InfraError, UsageError, cpus, log
from .sources import Tree

if TYPE_CHECKING:
	from .cli import Opts


def bench_n(ctx: Context) -> int:
	value = ctx.env.get('IOMMU_KUNIT_BENCH_N', '5')
	if not value.isdigit() or int(value) < 1:
		raise UsageError(f'IOMMU_KUNIT_BENCH_N={value}: a positive integer, please')
	return int(value)


class Bench:
	def __init__(self, ctx: Context, kernel: str, logf: IO[str]):
		self.ctx = ctx
		self.kernel = kernel
		self.log = logf
		self.orig = os.path.join(ctx.cache, 'bench', 'orig')

	def time(self, fn: Callable[[], int], what: str) -> int:
		"""Milliseconds fn takes; its output goes to the log."""
		t0 = time.monotonic()
		if fn() != 0:
			raise InfraError(f'benchmark step failed: {what} (see {self.log.name})')
		return int((time.monotonic() - t0) * 1000)

	def run(self, cmd: Sequence[str], cwd: Optional[str] = None,
		env: Optional[Dict[str, str]] = None) -> int:
		self.log.flush()
		return self.ctx.run(cmd, cwd=cwd, env=env, out=self.log).returncode

	def edit(self, path: str, token: str) -> None:
		"""A real change to the C file path: one more line of code,
		made of token, or of the time when token is 'new' (a new compile
		every time). Written to a new file renamed over the old, as an
		editor does (never through a hard link). The original is kept in
		.cache/bench/orig/ (the path, / as %) until restore()."""
		os.makedirs(self.orig, exist_ok=True)
		keep = os.path.join(self.orig, path.replace('/', '%'))
		if not os.path.isfile(keep):
			shutil.copy2(path, keep)
		if token == 'new':
			token = str(time.time_ns())
		tmp = os.path.join(self.ctx.cache, 'bench', 'edit.tmp')
		with open(keep) as f, open(tmp, 'w') as g:
			g.write(f.read())
			g.write(f'static const char bench_edit_{token}[] __maybe_unused = "x";\n')
		os.replace(tmp, path)

	def restore(self) -> None:
		if not os.path.isdir(self.orig):
			return
		for n in os.listdir(self.orig):
			keep = os.path.join(self.orig, n)
			tmp = os.path.join(self.ctx.cache, 'bench', 'edit.tmp')
			shutil.copy2(keep, tmp)
			os.replace(tmp, n.replace('%', '/'))
			os.unlink(keep)

	def kdir(self, tree: Tree) -> str:
		"""The tree the KDIR mode measures, as a developer has it:
		Debian's tree in a git repository (made once), under
		.cache/bench/. (Debian's .gitignore ignores everything at the
		top: those lines go.)"""
		d = os.path.join(self.ctx.cache, 'bench', f'linux-{self.kernel}')
		if not os.path.isfile(d + '.ready'):
			log(f'making the KDIR-mode tree {d}: a git repository of '
			    f'linux-source-{self.kernel} (once)')
			tmp = d + '.tmp'
			shutil.rmtree(tmp, ignore_errors=True)
			shutil.rmtree(d, ignore_errors=True)
			os.makedirs(os.path.dirname(d), exist_ok=True)
			if self.run(['cp', '-a', tree.src, tmp]):
				raise InfraError(f'copying {tree.src} failed')
			gi = os.path.join(tmp, '.gitignore')
			with open(gi) as f:
				lines = [line for line in f if line.rstrip('\n') not in ('/*', '!/debian/')]
			with open(gi, 'w') as f:
				f.writelines(lines)
			for cmd in (['git', 'init', '-q'], ['git', 'add', '-A'],
				    ['git', '-c', 'user.name=bench', '-c', 'user.email=bench@localhost',
				     'commit', '-q', '--no-gpg-sign', '-m', f'linux-source-{self.kernel}']):
				if self.run(cmd, cwd=tmp):
					raise InfraError(f"{' '.join(cmd)} failed in {tmp}")
			os.rename(tmp, d)
			open(d + '.ready', 'w').close()
		return d

	def ours(self, kdir: Optional[str]) -> int:
		"""make run, as a developer types it."""
		runner = [sys.executable, os.path.join(self.ctx.tools, 'iommu-kunit'), 'run',
			  'ARCH=um']
		return self.run(runner + ([f'KDIR={kdir}'] if kdir else [f'KERNEL={self.kernel}']))

	def lib_kunit(self, tree_dir: str, build: str) -> int:
		"""kunit.py's own loop for lib/kunit, ccache as the user has it."""
		return self.run([self.ctx.python, 'tools/testing/kunit/kunit.py', 'run',
				 '--kunitconfig=lib/kunit', f'--build_dir={build}',
				 f'--jobs={cpus()}', '--make_options', 'CC=ccache gcc'],
				cwd=tree_dir, env=self.ctx.users_env())

	def bare_kunit(self, tree: Tree) -> int:
		"""A bare kunit.py run of our suites in our build directory."""
		configs = [f'--kunitconfig={k}' for k in
			   table.leg_files(self.ctx.top, 'um', 'kunitconfig', tree.series)]
		return self.run([self.ctx.python, 'tools/testing/kunit/kunit.py', 'run',
				 f'--build_dir={tree.work}/build-um',
				 f'--json={tree.work}/bench.json',
				 f'--kunitconfig={tree.wsrc}/drivers/iommu/.kunitconfig'] + configs +
				[f'--jobs={cpus()}', '--make_options', 'CC=ccache gcc'],
				cwd=tree.wsrc, env=self.ctx.users_env())

	def make_link(self, tree: Tree) -> int:
		vmlinux = os.path.join(tree.work, 'build-um', 'vmlinux')
		if os.path.lexists(vmlinux):
			os.unlink(vmlinux)
		return self.run(['make', '-C', tree.wsrc, 'ARCH=um', f'O={tree.work}/build-um',
				 f'--jobs={cpus()}', 'CC=ccache gcc'])

	def boot(self, tree: Tree) -> int:
		with open(os.devnull) as null:
			self.log.flush()
			return self.ctx.run([os.path.join(tree.work, 'build-um', 'linux'),
					     'mem=1G', 'console=tty', 'kunit_shutdown=halt',
					     'kunit.enable=1'], out=self.log, stdin=null).returncode

	def mode(self, name: str, tree: Tree, tree_dir: str, kdir: Optional[str],
		 n: int) -> List[int]:
		"""One mode: medians of n loops, ours and lib/kunit's, compiled
		and ccache, and the floor: [ours, lib, ours_cached, lib_cached,
		floor] (ms)."""
		ours_f = os.path.join(self.ctx.top, 'drivers/iommu/tests/iommu_map_kunit.c')
		lib_f = os.path.join(tree_dir, 'lib/kunit/kunit-example-test.c')
		libdir = os.path.join(tree.work, 'build-bench-lib-kunit')
		log(f'{name}: warming both build dirs (a first build takes minutes)')
		for v in ('a', 'b'):
			self.edit(ours_f, v)
			self.time(lambda: self.ours(kdir), 'make run')
			self.edit(lib_f, v)
			self.time(lambda: self.lib_kunit(tree_dir, libdir), 'kunit.py run')
		ours, lib, oursc, libc, link, boot = [], [], [], [], [], []
		for i in range(n):
			self.edit(ours_f, 'new')
			ours.append(self.time(lambda: self.ours(kdir), 'make run'))
			self.edit(lib_f, 'new')
			lib.append(self.time(lambda: self.lib_kunit(tree_dir, libdir), 'kunit.py run'))
			v = 'a' if i % 2 == 0 else 'b'
			self.edit(ours_f, v)
			oursc.append(self.time(lambda: self.ours(kdir), 'make run'))
			self.edit(lib_f, v)
			libc.append(self.time(lambda: self.lib_kunit(tree_dir, libdir), 'kunit.py run'))
			link.append(self.time(lambda: self.make_link(tree), 'make (link)'))
			boot.append(self.time(lambda: self.boot(tree), 'boot'))
		self.restore()
		log(f'{name}: ours {ours} lib/kunit {lib} (compiled); ours {oursc} lib/kunit '
		    f'{libc} (ccache); make+link {link} boot {boot} (ms)')
		return [median(ours), median(lib), median(oursc), median(libc),
			median(link) + median(boot)]


def median(values: Sequence[int]) -> int:
	return int(statistics.median_low(values))


def fmt_ms(ms: int) -> str:
	return f'{ms // 1000}.{ms % 1000:03d}s'


def ratio(a: int, b: int) -> str:
	return f'{a / b:.2f}' if b else 'n/a'


def main(ctx: Context, opts: 'Opts') -> int:
	if opts.kdir:
		raise UsageError('make bench measures a KDIR tree of its own (.cache/bench/, a git '
				 "copy of Debian's tree); it edits files there and does not touch "
				 'yours: run it without KDIR=')
	n = bench_n(ctx)
	kernel = opts.kernel or table.DEFAULT_KERNEL
	logpath = os.path.join(ctx.cache, 'bench.log')
	os.makedirs(ctx.cache, exist_ok=True)
	with open(logpath, 'w') as logf:
		b = Bench(ctx, kernel, logf)
		b.restore()
		try:
			tree = prepare_main(ctx, kernel, None, 'um')
			kdir_src = b.kdir(tree)
			default = b.mode('default', tree, tree.wsrc, None, n)
			r, bare = [], []
			for _ in range(n):
				r.append(b.time(lambda: b.ours(None), 'make run'))
				bare.append(b.time(lambda: b.bare_kunit(tree), 'kunit.py run'))
			ensure_leg_packages(ctx, 'um', None)
			ktree = find(ctx, None, kdir_src)
			prepare(ctx, ktree)
			kdir_line = b.mode('kdir', ktree, kdir_src, kdir_src, n)
		finally:
			b.restore()
	log(f'edit->result, medians of {n} (kernel {tree.kver}, UML, {cpus()} CPUs). '
	    'The edit: one line of code')
	log('added to drivers/iommu/tests/iommu_map_kunit.c (ours: make run) or '
	    'lib/kunit/kunit-example-test.c')
	log('(kunit.py run --kunitconfig=lib/kunit, in the same tree); compiled: a new line '
	    'every time;')
	log('ccache: one of two lines, alternated, whose objects ccache has. Floor: the '
	    "kernel's make with")
	log('only the link to do, plus booting the kernel, in our build directory.')
	for name, (o, lb, oc, lc, f) in (('default', default), ('kdir', kdir_line)):
		log(f'  {name:<8} compiled: ours {fmt_ms(o)}  lib/kunit {fmt_ms(lb)}  ratio '
		    f'{ratio(o, lb)}   ccache: ours {fmt_ms(oc)}  lib/kunit {fmt_ms(lc)}  ratio '
		    f'{ratio(oc, lc)}  (target <= 0.70)')
		log(f"  {'':<8} floor {fmt_ms(f)}  ours/floor {ratio(o, f)} compiled, "
		    f'{ratio(oc, f)} ccache')
	log(f'  (default: Debian\'s tree in the cache; kdir: KDIR={kdir_src}, a git tree)')
	log(f'runner overhead, no-op rerun (default tree), medians of {n}:')
	log(f'  make run: {fmt_ms(median(r))}   bare kunit.py run: {fmt_ms(median(bare))}   '
	    f'ratio {ratio(median(r), median(bare))} (target <= 1.10)')
	log(f"every run's figures: {logpath}")
	return EXIT_PASS
