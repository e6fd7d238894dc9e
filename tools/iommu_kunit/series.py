# SPDX-License-Identifier: GPL-2.0-only
"""The upstream series: make patches and make patches-check.

  patches(ctx, tree, out_dir) -> str
	one directory per series of tools/series.map under out_dir, made by
	git (upstream.py) from the sender's identity, each with its cover
	letter, To:/Cc:, base-commit, checkpatch --strict clean; returns
	out_dir.
  patches_check(ctx, tree, scope) -> None
	the same series (under a local name when no sender is set), each
	applied with git am alone or after the series it names, and its
	first patch with git am -3 after an unrelated upstream change; then
	every patch in order, a build after each on the legs
	table.legs_to_build() names (none with scope 'ci'), then bare
	`kunit.py run --kunitconfig=drivers/iommu` on the patched tree, which
	must run the UML suites.

Both raise TestFailure when the series fails what they check and
InfraError when they cannot check; patches raises UsageError without a
sender."""

import os
from typing import List, Optional, Tuple

from . import qemu, sources, table, upstream
from .common import (Context, InfraError, TestFailure, UsageError, cpus, log,
		     read_text, write_text)
from .sources import Tree


def repo_of(tree: Tree) -> str:
	"""The series' scratch git repository of the pristine tree."""
	return os.path.join(tree.work + '-series', 'repo')


def backport_series(ctx: Context, tree: Tree) -> Optional[str]:
	"""The kernel series whose deltas the tree gets, if it has any."""
	d = os.path.join(ctx.top, table.PATCHES_DIR, tree.series)
	return tree.series if os.path.isdir(d) else None


def base_desc(tree: Tree) -> str:
	"""What the series are based on, in words, for their cover letters."""
	if tree.kdir:
		return tree.kdir
	return (f"v{tree.kver} as Debian's linux-source-{tree.kernel} ships it "
		"(a tree without git history: its base-commit is the scratch "
		"repository's commit of that tree)")


def make(ctx: Context, tree: Tree, out_dir: str,
	 who: Tuple[str, str]) -> List[Tuple[upstream.Series, str]]:
	table.check_series_map(ctx.top)
	try:
		made = upstream.build(ctx.top, tree.src, repo_of(tree), out_dir,
				      backport_series(ctx, tree), who, base_desc(tree))
	except upstream.Error as e:
		raise TestFailure(f'the series of {tree.kver}: {e}') from e
	for s, d in made:
		log(f'series {s.name}: {len(upstream.mails_of(d))} patches and a cover '
		    f'letter in {d}')
	return made


def sender(ctx: Context) -> Tuple[str, str]:
	"""Who sends the series (git's identity); UsageError if no one."""
	try:
		return upstream.identity(ctx.env)
	except upstream.Error as e:
		raise UsageError(str(e)) from e


def patches(ctx: Context, tree: Tree, out_dir: str,
	    who: Optional[Tuple[str, str]] = None) -> str:
	"""make patches: the series, one directory each, in out_dir, signed
	off by who (the sender, by default)."""
	who = who or sender(ctx)
	make(ctx, tree, out_dir, who)
	log(f'series: in {out_dir}, signed off by {who[0]} <{who[1]}>, '
	    'checkpatch --strict clean')
	return out_dir


def build_series_leg(ctx: Context, leg: str, src: str, build: str) -> bool:
	"""Builds the patched tree src for leg in build: the leg's own
	configuration, as kunit.py builds it (so that ccache has seen these
	objects); before the patch that adds the in-tree .kunitconfig, its
	options by hand (unknown ones are dropped)."""
	ccache = table.have_ccache()
	mk = table.make_args(leg, ccache)
	os.makedirs(build, exist_ok=True)
	try:
		config = read_text(os.path.join(src, 'drivers/iommu/.kunitconfig'))
	except OSError:
		config = 'CONFIG_KUNIT=y\nCONFIG_IOMMU_SUPPORT=y\nCONFIG_IOMMU_FAKE_KUNIT_TEST=y\n'
	for path in table.leg_files(ctx.top, leg, 'kunitconfig', table.kernel_series(
			sources.kernel_version(src))):
		config += read_text(path)
	config += qemu.arch_kconfig(src, leg) + '\n'
	write_text(os.path.join(build, '.config'), config)
	if ctx.run(['make', '-s', '-C', src, f'O={build}'] + mk + ['olddefconfig'],
		   capture=True).returncode != 0:
		return False
	with open(os.path.join(build, 'build.log'), 'w') as blog:
		return ctx.run(['make', '-s', '-C', src, f'O={build}'] + mk +
			       [f'-j{cpus()}'], out=blog).returncode == 0


def patches_check(ctx: Context, tree: Tree, scope: str) -> None:
	"""make patches-check on tree (its work copy prepared)."""
	from . import locks, results
	from .commands import ensure_leg_packages
	clean = tree.work + '-series'
	locks.hold(ctx, clean)
	try:
		who = upstream.identity(ctx.env)
	except upstream.Error:
		# Checked, never sent: a local name, as no sender is set.
		who = ('iommu-kunit series check', 'series-check@localhost')
	made = make(ctx, tree, os.path.join(clean, 'patches'), who)
	src = repo_of(tree)
	try:
		upstream.check(ctx.top, tree.src, src, made, log=log)
	except upstream.Error as e:
		raise TestFailure(str(e)) from e
	mails = [m for _, d in made for m in upstream.mails_of(d)]
	if ctx.run(['git', 'checkout', '-q', '-f', '-B', 'patches-check',
		    upstream.BASE_BRANCH], cwd=src).returncode != 0:
		raise InfraError(f'{src} has no base branch')
	env = upstream.git_env(('patches-check', 'check@localhost'))
	for n, p in enumerate(mails, 1):
		if ctx.run(['git', 'am', '-q', p], cwd=src, env=env).returncode != 0:
			raise TestFailure(f'patch {n} ({os.path.basename(p)}) does not apply with '
					  'git am after the series before it')
		legs = table.legs_to_build(p, scope)
		for leg in legs:
			ensure_leg_packages(ctx, leg, None)
			build = os.path.join(clean, f'build-{leg}')
			if not build_series_leg(ctx, leg, src, build):
				raise TestFailure(f'the {leg} build fails after patch {n} '
						  f'({os.path.basename(p)}): see {build}/build.log')
		if legs:
			log(f'patches-check: patch {n}/{len(mails)} applies and builds '
			    f"({' '.join(legs)}): {os.path.basename(p)}")
		else:
			log(f'patches-check: patch {n}/{len(mails)} applies (SCOPE=ci: no bisect '
			    f'build): {os.path.basename(p)}')
	json_path = os.path.join(clean, 'kunit-in-tree.json')
	if os.path.lexists(json_path):
		os.unlink(json_path)
	log('patches-check: ./tools/testing/kunit/kunit.py run --kunitconfig=drivers/iommu')
	cc = table.compiler('um', table.have_ccache())
	ok = ctx.run([ctx.python, 'tools/testing/kunit/kunit.py', 'run',
		      '--kunitconfig=drivers/iommu', f'--build_dir={clean}/build-kunit',
		      f'--json={json_path}', '--make_options', f'CC={cc}'], cwd=src).returncode == 0
	ctx.run(['git', 'checkout', '-q', '-f', upstream.BASE_BRANCH], cwd=src)
	if not ok:
		raise TestFailure('bare kunit.py failed on the patched tree')
	expected = table.read_suites(os.path.join(ctx.top, 'kunitconfig', 'um.suites'))
	if not results.check(json_path, expected):
		raise TestFailure('bare kunit.py did not run all our suites')
	if scope == 'ci':
		log('patches-check: the series apply (SCOPE=ci: no bisect builds) '
		    'and run with bare kunit.py')
	else:
		log('patches-check: the series apply, bisect and run with bare kunit.py')
