# SPDX-License-Identifier: GPL-2.0-only
"""make selftest: the runner's own checks, side by side on the 2 cores:

  - its unit tests (tools/tests/*_test.py, unittest, in the style of the
    kernel's kunit_tool_test.py: mocked trees and commands, no kernel
    build, no package tool), in two processes;
  - mypy --strict on the package (tools/iommu_kunit/) and the entry
    point, and mypy on the tests (their defs unannotated, checked);
  - shellcheck on the shell that is left (tools/qemu/init and
    qemu-system-x86_64, .ci/run).

The packages they need (python3-mypy, shellcheck) are installed as the
legs' are (as root; otherwise the line to run is printed)."""

import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Dict, List, Tuple

from . import sources, table
from .common import EXIT_FAIL, EXIT_PASS, Context, log

if TYPE_CHECKING:
	from .cli import Opts

SHELL_FILES = ('tools/qemu/init', 'tools/qemu/qemu-system-x86_64', '.ci/run')
SHM = '/dev/shm'


def test_modules(ctx: Context) -> List[str]:
	return sorted(n[:-3] for n in os.listdir(os.path.join(ctx.tools, 'tests'))
		      if n.endswith('_test.py'))


# The slowest test module (git and rsync on real trees), in a process of
# its own beside the others: the 2 cores both work.
SLOW = ('treesync_test',)


def checks(ctx: Context, quiet: bool) -> Dict[str, List[str]]:
	"""The commands of make selftest, by name."""
	py = sys.executable or 'python3'
	cache = os.path.join(ctx.cache, 'mypy')
	unit = [py, '-m', 'unittest'] + (['-q'] if quiet else [])
	mods = test_modules(ctx)
	return {
		'unit tests': unit + [m for m in mods if m not in SLOW],
		'unit tests (treesync)': unit + [m for m in mods if m in SLOW],
		'mypy --strict': [py, '-m', 'mypy', '--strict', '--cache-dir', cache,
				  '--scripts-are-modules', os.path.join(ctx.tools, 'iommu_kunit'),
				  os.path.join(ctx.tools, 'iommu-kunit')],
		'mypy (tests)': [py, '-m', 'mypy', '--check-untyped-defs', '--cache-dir',
				 cache + '-tests', os.path.join(ctx.tools, 'tests')],
		'shellcheck': ['shellcheck'] + [os.path.join(ctx.top, f) for f in SHELL_FILES],
	}


def run_all(ctx: Context, quiet: bool = False) -> int:
	"""Runs the checks at once; says how each went; 0 if all passed."""
	sources.ensure_packages(ctx, 'selftest', table.packages('selftest'))
	env = dict(ctx.env)
	env['PYTHONPATH'] = ctx.tools + os.pathsep + env.get('PYTHONPATH', '')
	env['MYPYPATH'] = ctx.tools
	# The tests make and remove thousands of small directories (git
	# repositories, work copies): on a tmpfs that costs nothing, on this
	# machine's ext4 3 ms a directory removed.
	if 'TMPDIR' not in env and os.path.isdir(SHM) and os.access(SHM, os.W_OK):
		env['TMPDIR'] = SHM
	t0 = time.monotonic()
	procs: List[Tuple[str, 'subprocess.Popen[str]']] = []
	for name, cmd in checks(ctx, quiet).items():
		cwd = os.path.join(ctx.tools, 'tests') if name.startswith('unit') else ctx.top
		procs.append((name, subprocess.Popen(cmd, cwd=cwd, env=env, text=True,
						     stdout=subprocess.PIPE,
						     stderr=subprocess.STDOUT)))
	rc = EXIT_PASS
	ran = 0
	for name, proc in procs:
		out, _ = proc.communicate()
		ok = proc.returncode == 0
		if not ok or (not quiet and name.startswith('unit')):
			sys.stdout.write(out)
		for line in out.splitlines():
			if line.startswith('Ran '):
				ran += int(line.split()[1])
		summary = [line for line in out.splitlines() if line.startswith(('Ran ', 'Success',
								 'Found '))]
		log(f"selftest: {name}: {'PASS' if ok else 'FAIL'}"
		    f"{' (' + '; '.join(summary) + ')' if summary else ''}")
		if not ok:
			rc = EXIT_FAIL
	log(f'selftest: {ran} unit tests, {time.monotonic() - t0:.1f} s')
	return rc


def main(ctx: Context, opts: 'Opts') -> int:
	return run_all(ctx)
