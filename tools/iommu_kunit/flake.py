# SPDX-License-Identifier: GPL-2.0-only
"""make flake [N=20]: the UML leg N times (no rebuild after the first);
fails if any case's result differs from the first run's. Writes
results/<tree>/flake.json and flake.xml (one case per run)."""

import difflib
import os
from typing import TYPE_CHECKING, List

from . import results, sources
from .commands import check_suite, prepare_main, series_of, tree_choice
from .common import EXIT_FAIL, EXIT_PASS, Context, InfraError, error, log
from .kunit_run import run_leg

if TYPE_CHECKING:
	from .cli import Opts


def main(ctx: Context, opts: 'Opts') -> int:
	kernel, kdir = tree_choice(opts)
	check_suite(ctx.top, ['um'], series_of(kernel, kdir), opts.suite)
	tree = prepare_main(ctx, kernel, kdir, 'um')
	first: List[str] = []
	items: List[results.Case] = []
	rc = EXIT_PASS
	os.makedirs(tree.work, exist_ok=True)
	for i in range(1, opts.n + 1):
		logfile = os.path.join(tree.work, f'flake-{i}.log')
		with open(logfile, 'w') as out:
			res = run_leg(ctx, tree, 'um', opts.suite, opts.kunit, out=out)
		if res.status == 'infra' or not os.path.isfile(res.json):
			results.report(tree.results, 'flake', 'flake', tree.kver, items +
				       [results.Case(f'run {i}', 'ERROR', f'no results, see {logfile}')],
				       {'runs': opts.n})
			raise InfraError(f'flake run {i} gave no results (see {logfile})')
		now = results.all_cases(res.json)
		if i == 1:
			first = now
		elif now != first:
			diff = [f'    {line}' for line in difflib.unified_diff(
				first, now, 'run 1', f'run {i}', lineterm='', n=0)]
			print('\n'.join(diff), flush=True)
			error(f'flake: run {i} differs from run 1')
			items.append(results.Case(f'run {i}', 'FAIL', '\n'.join(diff), log=logfile))
			rc = EXIT_FAIL
			break
		passed = sum(1 for c in now if c.endswith(' PASS'))
		log(f'flake: run {i}/{opts.n}: {passed} passed, same as run 1')
		items.append(results.Case(f'run {i}', 'PASS', f'{passed} passed', log=logfile))
	if rc == EXIT_PASS:
		log(f'flake: {opts.n} runs, identical results')
	results.report(tree.results, 'flake', 'flake', tree.kver, items,
		       {'runs': opts.n, 'cases': first})
	sources.record(tree)
	return rc
