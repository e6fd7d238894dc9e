# SPDX-License-Identifier: GPL-2.0-only
"""make coverage [ARCH=um|x86_64]: the suites on a gcov kernel, an lcov
HTML report and the table of coverage.py (the functions under test, and
the error lines no case reaches) in results/<tree>/coverage/<arch>/.
It builds in a work copy of its own (<work>-coverage): on UML, with the
linker script fix that lets UML write its counters
(tools/coverage/um-gcov-fini-array.patch) and a kernel series' own fixes
(tools/coverage/<series>/um-*.patch)."""

import glob
import os
import shutil
from typing import TYPE_CHECKING, List

from . import coverage, sources
from .commands import (check_suite, ensure_leg_packages, find, prepare, series_of,
		       side_tree, tree_choice)
from .common import EXIT_FAIL, EXIT_PASS, Context, InfraError, UsageError, log
from .kunit_run import run_leg

if TYPE_CHECKING:
	from .cli import Opts

LCOV_RC = ['--rc', 'lcov_branch_coverage=1']


def main(ctx: Context, opts: 'Opts') -> int:
	arch = opts.arch
	if arch not in ('um', 'x86_64'):
		raise UsageError('make coverage runs on ARCH=um or ARCH=x86_64 (nothing '
				 "collects s390's counters yet)")
	kernel, kdir = tree_choice(opts)
	check_suite(ctx.top, [arch], series_of(kernel, kdir), opts.suite)
	ensure_leg_packages(ctx, 'coverage', None)
	ensure_leg_packages(ctx, arch, kernel)
	tree = find(ctx, kernel, kdir)
	side, link_dest = side_tree(ctx, tree, 'coverage')
	out = os.path.join(tree.results, 'coverage', arch)
	extra: List[str] = []
	if arch == 'um':
		extra.append(os.path.join(ctx.tools, 'coverage', 'um-gcov-fini-array.patch'))
		extra += sorted(glob.glob(os.path.join(ctx.tools, 'coverage', tree.series,
						       'um-*.patch')))
	prepare(ctx, side, extra, link_dest, lock=False)
	build = os.path.join(side.work, f'build-{arch}-cov')
	res = run_leg(ctx, side, arch, opts.suite, opts.kunit, coverage=True)
	if not os.path.isfile(res.json):
		raise InfraError('the suites did not run on the coverage kernel: no coverage '
				 'to report')
	shutil.rmtree(out, ignore_errors=True)
	os.makedirs(out)
	if arch != 'um':
		guest = os.path.join(build, 'guest.out')
		try:
			with open(guest, errors='replace') as f:
				complete = any(line.startswith('=== end') for line in f)
		except OSError:
			complete = False
		if not complete:
			raise InfraError(f'the guest sent no gcov counters ({guest})')
		if coverage.unpack(guest, build) != 0:
			raise InfraError("could not unpack the guest's gcov counters")
	iommu = os.path.join(build, 'drivers', 'iommu')
	if not glob.glob(os.path.join(iommu, '**', '*.gcda'), recursive=True):
		raise InfraError(f'no gcov counters (.gcda) in {iommu}: the kernel wrote none')
	lcov_log = os.path.join(out, 'lcov.log')
	with open(lcov_log, 'w') as lf:
		# (Debian's lcov 1.16 warns about its own Perl: its output
		# goes to a log.)
		if ctx.run(['lcov', '--quiet'] + LCOV_RC + ['--capture', '--directory', iommu,
			    '--output-file', os.path.join(out, 'all.info')], out=lf).returncode:
			raise InfraError(f'lcov could not read the counters in {iommu} '
					 f'(see {lcov_log})')
		if ctx.run(['lcov', '--quiet'] + LCOV_RC + ['--extract',
			    os.path.join(out, 'all.info'), '*/drivers/iommu/*',
			    '*/include/linux/iommu-sync-map.h', '--output-file',
			    os.path.join(out, 'coverage.info')], out=lf).returncode:
			raise InfraError(f'lcov --extract failed (see {lcov_log})')
		if ctx.run(['genhtml', '--quiet', '--branch-coverage', '--legend', '--title',
			    f'IOMMU KUnit, {arch}, {tree.kver}', '--output-directory',
			    os.path.join(out, 'html'), os.path.join(out, 'coverage.info')],
			   out=lf).returncode:
			raise InfraError(f'genhtml failed (see {lcov_log})')
	table_txt = os.path.join(out, 'table.txt')
	import contextlib
	with open(table_txt, 'w') as tf, contextlib.redirect_stdout(tf):
		rc = coverage.table(os.path.join(out, 'coverage.info'), arch,
				    os.path.join(ctx.top, 'Documentation', 'coverage.rst'))
	with open(table_txt) as tf:
		print(tf.read(), end='', flush=True)
	log(f'coverage: {out}/html/index.html (lcov HTML), {table_txt}, suites\' results '
	    f'in {side.results}')
	sources.record(tree)
	if rc == 2:
		raise InfraError('none of the functions under test is in the tracefile')
	return EXIT_FAIL if rc or res.status == 'fail' else EXIT_PASS
