# SPDX-License-Identifier: GPL-2.0-only
"""make presubmit PATCHES=file-or-dir: a pre-submit check of posted kernel
patches.

Applies the candidate patch(es) on top of the overlay in a work copy of
its own (<work>-presubmit; never KDIR, never the main work copy), on
mainline (7.3, which posted patches target) unless KERNEL= or KDIR= says
otherwise, picks the legs the touched files need (table.legs_for_patches),
runs them and prints one verdict line per leg, with the failing cases.
A patch that does not apply is a usage error, not a test failure.
Writes results/<tree>/presubmit-<leg>.json, .xml and .ktap (the leg's
results) and presubmit.json and .xml (one case per leg)."""

import os
import shutil
from typing import TYPE_CHECKING, List

from . import overlay, results, sources, table
from .commands import (check_suite, ensure_leg_packages, exit_code, find, series_of,
		       side_tree, tree_choice)
from .common import Context, UsageError, log
from .kunit_run import run_leg

if TYPE_CHECKING:
	from .cli import Opts


def candidate_patches(spec: str) -> List[str]:
	"""PATCHES=: a patch file or a directory of *.patch, checked."""
	if not spec:
		raise UsageError('PATCHES= names no patch (a file, or a directory of *.patch)')
	if os.path.isdir(spec):
		d = os.path.abspath(spec)
		found = sorted((os.path.join(d, n) for n in os.listdir(d) if n.endswith('.patch')),
			       key=lambda s: s.encode())
	elif os.path.isfile(spec):
		found = [os.path.abspath(spec)]
	else:
		raise UsageError(f'PATCHES={spec} does not exist')
	if not found:
		raise UsageError(f'PATCHES={spec} holds no *.patch file')
	for p in found:
		with open(p, errors='replace') as f:
			if not any(line.startswith('+++ ') for line in f):
				raise UsageError(f'{p} is not a patch (no +++ line)')
	return found


def main(ctx: Context, opts: 'Opts') -> int:
	if table.PATCHES_CHECK in opts.legs:
		raise UsageError(f'LEGS={" ".join(opts.legs)} names no leg for make presubmit '
				 f'to run' if opts.legs == (table.PATCHES_CHECK,) else
				 'patches-check is not a leg make presubmit runs')
	patches = candidate_patches(opts.patches)
	kernel, kdir = tree_choice(opts, table.MAINLINE_SERIES)
	legs = table.legs_for_patches(patches, opts.legs)
	check_suite(ctx.top, legs, series_of(kernel, kdir), opts.suite)
	log(f"presubmit: {len(patches)} patch(es), legs: {' '.join(legs)}")
	ensure_leg_packages(ctx, 'um', kernel)
	tree = find(ctx, kernel, kdir)
	statuses: List[str] = []
	items: List[results.Case] = []
	for leg in legs:
		ensure_leg_packages(ctx, leg, kernel)
		side, link_dest = side_tree(ctx, tree, 'presubmit')
		try:
			overlay.WorkCopy(ctx, side, link_dest).prepare(patches)
		except overlay.PatchError as e:
			raise UsageError(str(e)) from e
		os.makedirs(side.work, exist_ok=True)
		logfile = os.path.join(side.work, f'presubmit-{leg}.log')
		with open(logfile, 'w') as out:
			res = run_leg(ctx, side, leg, opts.suite, opts.kunit, out=out)
		for src, suffix in ((res.json, 'json'), (res.xml, 'xml'), (res.ktap, 'ktap')):
			dst = os.path.join(tree.results, f'presubmit-{leg}.{suffix}')
			if os.path.isfile(src):
				os.makedirs(tree.results, exist_ok=True)
				shutil.copyfile(src, dst)
			elif os.path.lexists(dst):
				os.unlink(dst)
		if res.status == 'infra' or not os.path.isfile(res.json):
			text = f'no results: build or boot failed, see {logfile}'
			log(f'presubmit {leg}: FAIL ({text})')
			statuses.append('infra')
			items.append(results.Case(leg, 'ERROR', text, log=logfile))
			continue
		cases, fails = results.count(res.json)
		if res.status == 'pass':
			log(f'presubmit {leg}: PASS ({cases} cases)')
			items.append(results.Case(leg, 'PASS', f'{cases} cases', log=logfile))
		else:
			log(f'presubmit {leg}: FAIL ({fails} of {cases} cases failed)')
			failed = results.failed_cases(res.json)
			for line in failed:
				print(f'    failed: {line}', flush=True)
			items.append(results.Case(leg, 'FAIL', '\n'.join(failed) or
						  'an expected suite did not run', log=logfile))
		statuses.append(res.status)
	results.report(tree.results, 'presubmit', 'presubmit', tree.kver, items,
		       {'patches': patches})
	sources.record(tree)
	return exit_code(statuses)
