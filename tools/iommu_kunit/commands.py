# SPDX-License-Identifier: GPL-2.0-only
"""make run, test, total, checkpatch, prepare and fetch, and what every
command that builds shares: the checks made before any setup, and the
preparation of a work copy (packages, tree, lock, overlay)."""

import os
import time
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

from . import locks, overlay, results, sources, table
from .common import (EXIT_FAIL, EXIT_INFRA, EXIT_PASS, Context, InfraError, RunnerError,
		     TestFailure, UsageError, error, log)
from .kunit_run import LegResult, run_leg
from .sources import Tree

if TYPE_CHECKING:
	from .cli import Opts


# ------------------------------------------------------- before any setup

def tree_choice(opts: 'Opts', default: str = table.DEFAULT_KERNEL) -> Tuple[Optional[str], Optional[str]]:
	"""(Debian's kernel, KDIR): KDIR= if given, else KERNEL= or default."""
	if opts.kdir:
		return None, opts.kdir
	return opts.kernel or default, None


def series_of(kernel: Optional[str], kdir: Optional[str]) -> str:
	"""The kernel series of the tree a command will use, known before any
	download: the table's key for KERNEL=, the Makefile's for KDIR= (whose
	checks come first: usage errors)."""
	if kdir:
		src = sources.check_kdir(kdir)
		kver = sources.kernel_version(src)
		sources.check_sync_map(src, kver)
		return table.kernel_series(kver)
	assert kernel is not None
	return kernel


def check_suite(top: str, legs: Sequence[str], series: str, suite: str) -> None:
	"""SUITE= must select one of the suites of each leg run."""
	if suite:
		for leg in legs:
			table.check_suite_glob(top, leg, series, suite)


def exit_code(statuses: Sequence[str]) -> int:
	"""Many verdicts as one exit code: infrastructure first, then fail."""
	if 'infra' in statuses:
		return EXIT_INFRA
	if 'fail' in statuses:
		return EXIT_FAIL
	return EXIT_PASS


# -------------------------------------------------------------- the tree

def ensure_leg_packages(ctx: Context, leg: str, kernel: Optional[str]) -> None:
	"""The Debian packages leg (or 'coverage', 'selftest') needs, with
	Debian's kernel (None: a KDIR)."""
	name = leg if kernel is None else f'{leg}-{kernel}'
	sources.ensure_packages(ctx, name, table.packages(leg, kernel))


def find(ctx: Context, kernel: Optional[str], kdir: Optional[str],
	 refresh: bool = False) -> Tree:
	"""The pristine tree; says which kernel it is (every run does)."""
	tree = sources.find_source(ctx, kernel, kdir, refresh)
	log(sources.describe(tree))
	return tree


def prepare(ctx: Context, tree: Tree, extra: Sequence[str] = (),
	    link_dest: Optional[str] = None, lock: bool = True) -> overlay.Staged:
	"""The work copy of tree, with the overlay (and extra patches)
	staged: held for the rest of the run. A patch that does not apply is
	a usage error for a KDIR (the user's tree) and for extra patches
	given as PATCHES= (the caller says), an infrastructure one for
	Debian's kernels."""
	if lock:
		locks.hold(ctx, tree.work)
	try:
		return overlay.WorkCopy(ctx, tree, link_dest).prepare(extra)
	except overlay.PatchError as e:
		if tree.kdir:
			raise UsageError(str(e)) from e
		raise InfraError(str(e)) from e


def prepare_main(ctx: Context, kernel: Optional[str], kdir: Optional[str],
		 leg: str = 'um') -> Tree:
	"""Packages, tree, work copy: what make run does before its leg."""
	ensure_leg_packages(ctx, leg, kernel)
	tree = find(ctx, kernel, kdir)
	prepare(ctx, tree)
	log(f'work copy {tree.wsrc}')
	return tree


def side_tree(ctx: Context, tree: Tree, what: str) -> Tuple[Tree, Optional[str]]:
	"""A work copy of its own for tree (<work>-<what>), held: the
	mutants', presubmit's, coverage's, the series'. A KDIR's starts as
	hard links to the main work copy (ours, never linked to the user's
	files), not as a copy of the whole tree."""
	side = tree.side(ctx, what)
	locks.hold(ctx, side.work)
	return side, (tree.wsrc if tree.kdir else None)


def leg_status(res: LegResult) -> str:
	return res.status


# ------------------------------------------------------------------ run

def main_run(ctx: Context, opts: 'Opts') -> int:
	kernel, kdir = tree_choice(opts)
	check_suite(ctx.top, [opts.arch], series_of(kernel, kdir), opts.suite)
	tree = prepare_main(ctx, kernel, kdir, opts.arch)
	res = run_leg(ctx, tree, opts.arch, opts.suite, opts.kunit)
	sources.record(tree)
	return exit_code([res.status])


def main_prepare(ctx: Context, opts: 'Opts') -> int:
	kernel, kdir = tree_choice(opts)
	prepare_main(ctx, kernel, kdir, opts.arch)
	return EXIT_PASS


def main_fetch(ctx: Context, opts: 'Opts') -> int:
	kernel = opts.kernel or table.DEFAULT_KERNEL
	if table.kernel_source(kernel) == 'system':
		sources.ensure_packages(ctx, f'fetch-{kernel}', [f'linux-source-{kernel}', 'xz-utils'])
	find(ctx, kernel, None, opts.refresh)
	return EXIT_PASS


# ------------------------------------------------------------ checkpatch

def checkpatch(ctx: Context, tree: Tree) -> bool:
	"""checkpatch.pl --strict on every new C file and every patch of the
	kernel's set, from the work copy's top (checkpatch then knows the
	tree it checks against and, with no .git there, skips spdxcheck.py)."""
	files = [f for f in table.overlay_new_files(ctx.top) if f.endswith(('.c', '.h'))]
	patches = table.overlay_patches(ctx.top, tree.series)
	ok = True
	for f in files + patches:
		path = os.path.join(ctx.top, f)
		cmd = ['perl', 'scripts/checkpatch.pl', '--strict', '--quiet']
		if f.endswith('.patch'):
			# FILE_PATH_CHANGES: new files under drivers/iommu/ are the
			# IOMMU SUBSYSTEM entry's. UNKNOWN_COMMIT_ID: the work copy
			# has no git history to look the Fixes: commit up in.
			# --no-signoff: the sender's Signed-off-by is added by
			# make patches, whose checkpatch run checks it.
			cmd += ['--no-signoff', '--ignore', 'FILE_PATH_CHANGES,UNKNOWN_COMMIT_ID',
				path]
		else:
			cmd += ['-f', path]
		r = ctx.run(cmd, cwd=tree.wsrc, capture=True)
		text = (r.stdout + r.stderr).strip()
		if text:
			print(text, flush=True)
			ok = False
	log('checkpatch --strict: clean' if ok else 'checkpatch --strict: problems above')
	return ok


def main_checkpatch(ctx: Context, opts: 'Opts') -> int:
	kernel, kdir = tree_choice(opts)
	tree = prepare_main(ctx, kernel, kdir)
	return EXIT_PASS if checkpatch(ctx, tree) else EXIT_FAIL


# ------------------------------------------------------------------ test

class Verdicts:
	"""make test's verdict lines, the JSON files of its legs, its code."""

	def __init__(self) -> None:
		self.lines: List[str] = []
		self.jsons: List[str] = []
		self.statuses: List[str] = []

	def add(self, line: str, status: str) -> None:
		word = {'pass': 'PASS', 'fail': 'FAIL'}.get(status, 'ERROR')
		self.lines.append(f'{line}: {word}')
		self.statuses.append(status)


def test_tree(ctx: Context, opts: 'Opts', kernel: Optional[str], kdir: Optional[str],
	      items: Sequence[str], v: Verdicts) -> None:
	"""Checkpatch, the legs of items and, if named, patches-check, on one
	tree; verdict lines into v."""
	from . import series_cmd
	name = f'KDIR={kdir}' if kdir else f'KERNEL={kernel}'
	try:
		tree = prepare_main(ctx, kernel, kdir)
	except RunnerError as e:
		error(str(e))
		v.add(f'{name}: preparing the tree', 'infra' if e.code != 2 else 'usage')
		return
	label = f'{name} ({tree.kver})'
	v.add(f'{label} checkpatch', 'pass' if checkpatch(ctx, tree) else 'fail')
	for what in items:
		if what == table.PATCHES_CHECK:
			try:
				series_cmd.patches_check(ctx, tree, opts.scope)
				v.add(f'{label} patches-check', 'pass')
			except RunnerError as e:
				error(str(e))
				v.add(f'{label} patches-check', 'fail' if e.code == EXIT_FAIL else 'infra')
			continue
		leg = what
		if not os.path.isfile(os.path.join(ctx.top, 'kunitconfig', f'{leg}.kunitconfig')):
			continue
		try:
			ensure_leg_packages(ctx, leg, kernel)
			res = run_leg(ctx, tree, leg, opts.suite, opts.kunit)
			status = res.status
		except RunnerError as e:
			error(str(e))
			status = 'infra'
		v.add(f'{label} leg {leg}', status)
		json_path = os.path.join(tree.results, f'kunit-{leg}.json')
		if os.path.isfile(json_path):
			v.jsons.append(json_path)
	sources.record(tree)


def main_test(ctx: Context, opts: 'Opts') -> int:
	from . import selftest
	v = Verdicts()
	plan: List[Tuple[Optional[str], Optional[str], List[str]]] = []
	if opts.kdir or opts.kernel:
		kernel, kdir = tree_choice(opts)
		legs = [w for w in opts.legs if w != table.PATCHES_CHECK] if opts.legs \
			else list(table.LEGS)
		items = legs + ([table.PATCHES_CHECK]
				if not opts.legs or table.PATCHES_CHECK in opts.legs else [])
		if not items:
			raise UsageError(f"LEGS={' '.join(opts.legs)} leaves nothing to run")
		plan.append((kernel, kdir, items))
	else:
		matrix = table.test_matrix(opts.scope, opts.legs, opts.kernels)
		if not matrix:
			raise UsageError(f"nothing to run: no kernel of KERNELS={' '.join(opts.kernels)} "
					 f"has a leg of LEGS={' '.join(opts.legs)} in make test's matrix"
					 + (f' (SCOPE={opts.scope})' if opts.scope else ''))
		plan = [(k, None, items) for k, items in matrix]
	for kernel, kdir, items in plan:
		check_suite(ctx.top, [i for i in items if i in table.LEGS],
			    series_of(kernel, kdir), opts.suite)
	# The runner's own unit tests first: seconds, and a broken runner
	# stops here, before any package, download or build.
	log("the runner's own unit tests (make selftest)")
	if selftest.run_all(ctx, quiet=True) != EXIT_PASS:
		raise TestFailure("the runner's own unit tests failed (make selftest): fix them first")
	for kernel, kdir, items in plan:
		t0 = time.monotonic()
		if not kdir:
			log(f"make test: kernel {kernel}: {' '.join(items)}")
		test_tree(ctx, opts, kernel, kdir, items, v)
		if not kdir and not opts.kernel:
			v.lines.append(f'KERNEL={kernel}: {int(time.monotonic() - t0)} s')
	for line in v.lines:
		log(line)
	if v.jsons:
		print(results.total_line(v.jsons), flush=True)
	if 'usage' in v.statuses and not [s for s in v.statuses if s not in ('pass', 'usage')]:
		return 2
	return exit_code(v.statuses)


# ----------------------------------------------------------------- total

def main_total(ctx: Context, opts: 'Opts') -> int:
	return results.total(ctx.top, ctx.results_top, opts.scope, opts.legs, opts.kernels)


def main(ctx: Context, opts: 'Opts') -> int:
	return {
		'run': main_run,
		'prepare': main_prepare,
		'fetch': main_fetch,
		'checkpatch': main_checkpatch,
		'test': main_test,
		'total': main_total,
	}[opts.command](ctx, opts)
