# SPDX-License-Identifier: GPL-2.0-only
"""The upstream series: make patches and make patches-check.

This module's interface is two functions, each taking the prepared tree
(its work copy staged with the overlay, for checkpatch) and its options:

  patches(ctx, tree, out_dir) -> str
	the overlay's patches, in order, each carrying the new files
	tools/series.map gives it, as git format-patch mails with a cover
	letter (tools/cover-letter.txt) in out_dir, each checkpatch --strict
	clean; returns out_dir.
  patches_check(ctx, tree, scope) -> None
	git am of those mails on a clean copy of the tree, a build after
	each patch on the legs table.legs_to_build() names (none with
	scope 'ci'), then bare `kunit.py run --kunitconfig=drivers/iommu`
	on the patched tree, which must run the UML suites.

Both raise TestFailure when the series fails what they check (a patch
that does not apply or does not build, a checkpatch finding, bare
kunit.py missing suites) and InfraError when they cannot check."""

import os
import shutil

from . import qemu, sources, table, treesync
from .common import Context, InfraError, TestFailure, cpus, log, read_text, write_text
from .overlay import patch_old_files
from .sources import Tree


def git_id(ctx: Context, *args: str, cwd: str) -> int:
	"""git with an identity for its commits (none may be configured)."""
	env = dict(ctx.env)
	name = env.get('GIT_COMMITTER_NAME', 'IOMMU KUnit')
	email = env.get('GIT_COMMITTER_EMAIL', 'iommu-kunit@example.org')
	return ctx.run(['git', '-c', f'user.name={name}', '-c', f'user.email={email}'] +
		       list(args), cwd=cwd).returncode


def cover_letter(template: str, generated: str) -> str:
	"""The cover letter: the template's first line as the subject, the
	rest (blank lines around it dropped) as the blurb."""
	lines = template.splitlines()
	subject = lines[0].strip() if lines else ''
	text = lines[1:]
	while text and not text[0].strip():
		text.pop(0)
	while text and not text[-1].strip():
		text.pop()
	out = []
	for line in generated.splitlines():
		if '*** SUBJECT HERE ***' in line:
			line = line.replace('*** SUBJECT HERE ***', subject)
		if line == '*** BLURB HERE ***':
			out.extend(text)
			continue
		out.append(line)
	return '\n'.join(out) + '\n'


def checkpatch_mail(ctx: Context, tree: Tree, mail: str) -> str:
	"""checkpatch --strict's findings on a mail ('' when clean). New
	files under drivers/iommu/ are the IOMMU SUBSYSTEM entry's; the one
	elsewhere is added to it by its patch: FILE_PATH_CHANGES is answered."""
	r = ctx.run(['perl', 'scripts/checkpatch.pl', '--strict', '--quiet', '--ignore',
		     'FILE_PATH_CHANGES,UNKNOWN_COMMIT_ID', mail], cwd=tree.wsrc, capture=True)
	return (r.stdout + r.stderr).strip() if r.returncode != 0 else ''


def patches(ctx: Context, tree: Tree, out_dir: str) -> str:
	"""make patches: the series as mails in out_dir."""
	top = ctx.top
	table.check_series_map(top)
	series = table.overlay_patches(top, tree.series)
	rows = dict(table.read_series_map(top))
	repo = os.path.join(tree.work, 'series-repo')
	shutil.rmtree(repo, ignore_errors=True)
	os.makedirs(repo)
	for p in series:
		for f in patch_old_files([os.path.join(top, p)]):
			# Files an earlier patch of the series creates are not
			# in the tree.
			dst = os.path.join(repo, f)
			if os.path.exists(dst) or not os.path.isfile(os.path.join(tree.src, f)):
				continue
			os.makedirs(os.path.dirname(dst), exist_ok=True)
			shutil.copyfile(os.path.join(tree.src, f), dst)
	for cmd in (['init', '-q'], ['add', '-A'],
		    ['commit', '-q', '-m', f'Linux {tree.kver} (the files this series changes)'],
		    ['tag', 'base']):
		if git_id(ctx, *cmd, cwd=repo) != 0:
			raise InfraError(f"git {' '.join(cmd)} failed in {repo}")
	for p in series:
		n = os.path.basename(p)[:4]
		if git_id(ctx, 'am', '-q', os.path.join(top, p), cwd=repo) != 0:
			raise TestFailure(f'{p} does not apply with git am to {tree.kver}')
		for f in rows.get(n, []):
			dst = os.path.join(repo, f)
			os.makedirs(os.path.dirname(dst), exist_ok=True)
			shutil.copyfile(os.path.join(top, f), dst)
			git_id(ctx, 'add', f, cwd=repo)
		if git_id(ctx, 'commit', '-q', '--amend', '--no-edit', cwd=repo) != 0:
			raise InfraError(f'git commit --amend failed in {repo}')
	shutil.rmtree(out_dir, ignore_errors=True)
	if git_id(ctx, 'format-patch', '-q', '--zero-commit', '--cover-letter', '-o', out_dir,
		  'base..HEAD', cwd=repo) != 0:
		raise InfraError('git format-patch failed')
	cover = os.path.join(out_dir, '0000-cover-letter.patch')
	write_text(cover, cover_letter(read_text(os.path.join(top, 'tools', 'cover-letter.txt')),
				       read_text(cover)))
	made = sorted(n for n in os.listdir(out_dir) if n.endswith('.patch'))
	for n in made:
		if n == '0000-cover-letter.patch':
			continue
		found = checkpatch_mail(ctx, tree, os.path.join(out_dir, n))
		if found:
			raise TestFailure(f'checkpatch --strict on {n}:\n{found}')
	log(f'series: {len(made) - 1} patches and a cover letter in {out_dir}, '
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
	mails_dir = patches(ctx, tree, os.path.join(clean, 'patches'))
	src = os.path.join(clean, 'src')
	log(f'patches-check: clean copy of {tree.src} in {src}')
	shutil.rmtree(src, ignore_errors=True)
	if ctx.run(['rsync', '-a', f'--link-dest={tree.src}'] + treesync.rsync_excludes() +
		   [tree.src + '/', src + '/']).returncode != 0:
		raise InfraError(f'rsync of {tree.src} into {src} failed')
	mails = [os.path.join(mails_dir, n) for n in sorted(os.listdir(mails_dir))
		 if n.endswith('.patch') and n != '0000-cover-letter.patch']
	# Only the files the series changes: git replaces them (never writing
	# through the hard links to the tree).
	if git_id(ctx, 'init', '-q', cwd=src) != 0:
		raise InfraError(f'git init failed in {src}')
	for f in sorted(set(patch_old_files(mails))):
		path = os.path.join(src, f)
		if os.path.isfile(path):
			shutil.copy2(path, path + '.tmp')
			os.replace(path + '.tmp', path)
			git_id(ctx, 'add', '-f', f, cwd=src)
	git_id(ctx, 'commit', '-q', '-m', 'base', cwd=src)
	for n, p in enumerate(mails, 1):
		if git_id(ctx, 'am', '-q', p, cwd=src) != 0:
			raise TestFailure(f'patch {n} ({os.path.basename(p)}) does not apply with '
					  f'git am to a clean {tree.kver}')
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
	if ctx.run([ctx.python, 'tools/testing/kunit/kunit.py', 'run',
		    '--kunitconfig=drivers/iommu', f'--build_dir={clean}/build-kunit',
		    f'--json={json_path}', '--make_options', f'CC={cc}'], cwd=src).returncode != 0:
		raise TestFailure('bare kunit.py failed on the patched tree')
	expected = table.read_suites(os.path.join(ctx.top, 'kunitconfig', 'um.suites'))
	if not results.check(json_path, expected):
		raise TestFailure('bare kunit.py did not run all our suites')
	if scope == 'ci':
		log('patches-check: the series applies in order (SCOPE=ci: no bisect builds) '
		    'and runs with bare kunit.py')
	else:
		log('patches-check: the series applies, bisects and runs with bare kunit.py')
