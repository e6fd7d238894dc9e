# SPDX-License-Identifier: GPL-2.0-only
"""make mutate: do the tests catch a broken kernel?

Applies each deliberate regression of tools/mutants/ (table.mutant_legs
and table.mutants pick the legs and, per kernel series, the mutants:
MUTANTS= a glob of their file names, SCOPE=ci those whose "CI:" line
names the leg), one at a time, on top of the overlay in a work copy of its
own (<work>-mutate), rebuilds that leg incrementally and runs it. A mutant
is killed only if the tests ran and at least one failed; a build failure
is not a kill. On x86_64 a mutant's kernel boots with kmemleak=off unless
its header says "Oracle: kmemleak". By default on 6.12 and on mainline,
or on the one tree KERNEL= or KDIR= names. Writes results/<tree>/
mutate.json and mutate.xml; exits 1 if any mutant survived."""

import os
import time
from typing import TYPE_CHECKING, List, Optional, Tuple

from . import results, sources, table
from .commands import (check_suite, ensure_leg_packages, find, prepare, series_of,
		       side_tree)
from .common import EXIT_FAIL, EXIT_INFRA, EXIT_PASS, Context, RunnerError, UsageError, error, log
from .kunit_run import run_leg

if TYPE_CHECKING:
	from .cli import Opts

Plan = List[Tuple[Optional[str], Optional[str], str, List[Tuple[str, str, List[str]]]]]


def plan(ctx: Context, opts: 'Opts') -> Plan:
	"""[(kernel, kdir, series, [(leg, 'run' or 'skip', mutants)])]: what
	make mutate runs, decided before any setup."""
	if table.PATCHES_CHECK in opts.legs:
		raise UsageError(f'LEGS={" ".join(opts.legs)}: patches-check is not a leg '
				 'make mutate runs')
	trees: List[Tuple[Optional[str], Optional[str]]]
	if opts.kdir:
		trees = [(None, opts.kdir)]
	elif opts.kernel:
		trees = [(opts.kernel, None)]
	else:
		trees = [(table.DEFAULT_KERNEL, None), (table.MAINLINE_SERIES, None)]
	out: Plan = []
	legs = table.mutant_legs(ctx.top, opts.legs, opts.scope)
	for kernel, kdir in trees:
		series = series_of(kernel, kdir)
		chosen: List[Tuple[str, str, List[str]]] = []
		for leg, what in legs:
			if what == 'skip':
				chosen.append((leg, what, []))
				continue
			check_suite(ctx.top, [leg], series, opts.suite)
			chosen.append((leg, what, table.mutants(ctx.top, leg, series, opts.mutants,
								opts.scope)))
		out.append((kernel, kdir, series, chosen))
	if opts.mutants and not any(ms for *_, legs_ in out for _, _, ms in legs_):
		raise UsageError(f'no mutant of these legs and kernels matches '
				 f'MUTANTS={opts.mutants}')
	return out


def main(ctx: Context, opts: 'Opts') -> int:
	todo = plan(ctx, opts)
	killed_all, total_all = 0, 0
	survivors: List[str] = []
	infra = False
	for kernel, kdir, _, legs in todo:
		ensure_leg_packages(ctx, 'um', kernel)
		tree = find(ctx, kernel, kdir)
		items: List[results.Case] = []
		killed, total = 0, 0
		for leg, what, mutants in legs:
			if what == 'skip':
				log(f'mutants {leg}: left to make mutate without SCOPE=ci')
				continue
			ensure_leg_packages(ctx, leg, kernel)
			side, link_dest = side_tree(ctx, tree, 'mutate')
			for m in mutants:
				name = os.path.basename(m)[:-len('.patch')]
				total += 1
				t0 = time.monotonic()
				os.makedirs(side.work, exist_ok=True)
				logfile = os.path.join(side.work, f'mutant-{name}.log')
				status, verdict, cases, fails = 'FAIL', '', 0, 0
				try:
					prepare(ctx, side, [os.path.join(ctx.top, m)], link_dest, lock=False)
					with open(logfile, 'w') as out:
						res = run_leg(ctx, side, leg, opts.suite, opts.kunit,
							      kmemleak_on=table.mutant_kmemleak(
								      os.path.join(ctx.top, m)), out=out)
					if res.status == 'infra' or not os.path.isfile(res.json):
						verdict = ('SURVIVED (no results: build or boot failed, '
							   f'see {logfile})')
					else:
						cases, fails = results.count(res.json)
						if cases > 0 and fails > 0:
							verdict = f'KILLED ({fails} of {cases} cases failed)'
							status = 'PASS'
							killed += 1
						else:
							verdict = 'SURVIVED (tests passed)'
				except RunnerError as e:
					error(str(e))
					verdict = f'NOT RUN ({str(e).splitlines()[0]})'
					status = 'ERROR'
					infra = True
				if status != 'PASS':
					survivors.append(f'{tree.kver}:{leg}/{name}')
				secs = time.monotonic() - t0
				log(f'mutant {leg}/{name} ({tree.kver}): {verdict} in {int(secs)}s')
				items.append(results.Case(f'{leg}/{name}', status, verdict, leg=leg,
							  mutant=m, cases=cases, failed=fails,
							  seconds=round(secs, 1), log=logfile))
			# Leave the mutation tree clean for the next run.
			try:
				prepare(ctx, side, [], link_dest, lock=False)
			except RunnerError as e:
				error(str(e))
				infra = True
		log(f'kernel {tree.kver}: killed {killed}/{total}')
		killed_all += killed
		total_all += total
		results.report(tree.results, 'mutate', 'mutate', tree.kver, items,
			       {'killed': killed, 'total': total})
		sources.record(tree)
	log(f'killed {killed_all}/{total_all}')
	if survivors:
		error(f"surviving mutants: {' '.join(survivors)}")
	if infra:
		return EXIT_INFRA
	return EXIT_FAIL if survivors else EXIT_PASS

