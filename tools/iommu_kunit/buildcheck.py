# SPDX-License-Identifier: GPL-2.0-only
"""make buildcheck: the series as the kernel's build bots and KernelCI meet it.

The series (upstream.py) applied to the pristine tree, in its scratch git
repository, then each configuration of CONFIGS built there in a build
directory of its own (.cache/work/<tree>-buildcheck/<name>): its .config
from kunit.py's for the architecture, the in-tree drivers/iommu/.kunitconfig
where it says so, and its options, through make olddefconfig; every option
it asks for must be in the result, and those it expects Kconfig to drop
must be dropped. Then the kernel's make with W=1 (and sparse, C=2, on the
directories the series touches, clang where it says so): it must build and
link (vmlinux, and modules with modpost), and no warning may point at a
file the series adds or at a line it changes. scripts/kernel-doc -Wall
checks every new file. Runs check what KernelCI sees: the suites pass
after another suite's WARN, kunit.py's default run (KUNIT_ALL_TESTS) fails
nothing the pristine tree passes, and the in-tree .kunitconfig's x86_64
and s390 instructions, run with bare kunit.py, fail nothing.

One verdict line per configuration and run; JSON and JUnit under
results/<tree>/buildcheck.{json,xml}. CONFIGS=glob picks some; SCOPE=ci the
cheapest that catch each kind of failure (.ci/run)."""

import fnmatch
import os
import re
import shlex
import time
from typing import TYPE_CHECKING, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from . import qemu, results, sources, table, upstream
from .commands import ensure_leg_packages, find
from .common import (EXIT_FAIL, EXIT_PASS, Context, InfraError, UsageError, cpus, log,
		     read_text, write_text)
from .sources import Tree

if TYPE_CHECKING:
	from .cli import Opts

# Every suite the series adds, as options (the s390 one is bool).
SUITES = ('IOMMU_FAKE_KUNIT_TEST', 'IOMMU_MAP_KUNIT_TEST', 'IOMMU_MAP_SG_KUNIT_TEST',
	  'IOMMU_SYNC_MAP_KUNIT_TEST', 'KUNIT_SCRIPT_KUNIT_TEST')
DMA_SUITES = ('IOMMU_DMA_KUNIT_TEST', 'IOMMU_DMA_LINK_KUNIT_TEST', 'IOMMU_DMA_PHYS_KUNIT_TEST',
	      'IOMMU_DMA_LINK_BLK_KUNIT_TEST', 'IOMMU_DMA_LINK_DMABUF_KUNIT_TEST')
# COMPILE_TEST (AMDv1's prompt without AMD_IOMMU) also defaults WERROR
# on, which W=1 then turns into other drivers' errors (drivers/input's
# synaptics.c with GCC 12: -Werror=format-overflow): not the series'.
NO_WERROR = ('WERROR=n',)
GENERIC_PT = ('COMPILE_TEST=y', 'GENERIC_PT=y', 'IOMMU_PT=y', 'IOMMU_PT_AMDV1=y') + NO_WERROR
FAULTS = ('DEBUG_KERNEL=y', 'DEBUG_FS=y', 'FAULT_INJECTION=y', 'FAILSLAB=y',
	  'FAIL_PAGE_ALLOC=y')
P2PDMA = ('PCI=y', 'MEMORY_HOTPLUG=y', 'MEMORY_HOTREMOVE=y', 'ZONE_DEVICE=y',
	  'PCI_P2PDMA=y')
TRACING = ('FTRACE=y', 'ENABLE_DEFAULT_TRACERS=y')
# sparse runs on the directories the series touches most.
SPARSE_DIRS = ('drivers/iommu/', 'lib/kunit/', 'drivers/dma-buf/')

class Config(NamedTuple):
	name: str
	arch: str
	# What it checks, for the verdict line and the docs.
	why: str
	# The in-tree drivers/iommu/.kunitconfig first.
	intree: bool = True
	# NAME=value (value n: unset), on top.
	options: Tuple[str, ...] = ()
	# Options Kconfig must drop (their dependencies do not hold).
	dropped: Tuple[str, ...] = ()
	# make's targets: () is the default (vmlinux, and modules with MODULES).
	targets: Tuple[str, ...] = ()
	kernel: str = table.MAINLINE_SERIES
	llvm: bool = False
	sparse: bool = False
	ci: bool = False


def m(names: Sequence[str]) -> Tuple[str, ...]:
	return tuple(f'{n}=m' for n in names)


def y(names: Sequence[str]) -> Tuple[str, ...]:
	return tuple(f'{n}=y' for n in names)


CONFIGS: Tuple[Config, ...] = (
	Config('um-kunitconfig', 'um', 'the in-tree .kunitconfig as kunit.py builds it'),
	Config('um-modules-faults', 'um',
	       'every suite a module (the generic_pt one beside AMDv1 built in), fault '
	       'injection without its debugfs',
	       options=('MODULES=y',) + m(SUITES + ('IOMMU_MAP_PT_KUNIT_TEST',)) + GENERIC_PT +
	       FAULTS + ('FAULT_INJECTION_DEBUG_FS=n',)),
	Config('um-pt-module', 'um',
	       'generic_pt as modules: the generic_pt suite cannot be built (the fake is '
	       'built in)',
	       options=('MODULES=y', 'COMPILE_TEST=y', 'GENERIC_PT=y', 'IOMMU_PT=m',
			'IOMMU_PT_AMDV1=m', 'IOMMU_MAP_PT_KUNIT_TEST=m') + NO_WERROR,
	       dropped=('IOMMU_MAP_PT_KUNIT_TEST',)),
	# KUNIT_ALL_TESTS=m makes each prompt (if !KUNIT_ALL_TESTS) m-visible:
	# every test, the .kunitconfig's =y ones too, can only be m.
	Config('um-all-tests-m', 'um', 'KUNIT_ALL_TESTS=m: every test a module',
	       options=('MODULES=y', 'KUNIT_ALL_TESTS=m') + m(SUITES)),
	Config('um-kunit-m', 'um',
	       'KUNIT=m (distributions): the suites and the fake are dropped, as their '
	       'help says', intree=False,
	       options=('MODULES=y', 'KUNIT=m', 'IOMMU_SUPPORT=y', 'KUNIT_ALL_TESTS=m'),
	       dropped=('IOMMU_FAKE',) + SUITES[:4]),
	# AMDv1 built in through COMPILE_TEST, not AMD_IOMMU: ACPI and the AMD
	# driver are about 250 more objects of a cold build in CI's time.
	# COMPILE_TEST's hw_random drivers are not wanted.
	Config('x86_64-modules', 'x86_64',
	       'every suite a module, dma-iommu\'s, the IOVA-link API\'s and generic_pt\'s '
	       '(AMDv1 built in) too (modpost: every symbol they need exported); sparse',
	       options=('MODULES=y',) + m(SUITES + DMA_SUITES + ('IOMMU_MAP_PT_KUNIT_TEST',)) +
	       P2PDMA + TRACING + FAULTS + GENERIC_PT +
	       ('FAULT_INJECTION_DEBUG_FS=y', 'HW_RANDOM=n'),
	       sparse=True, ci=True),
	# The dma-buf suite needs PCI_P2PDMA (its exporter's MMIO ranges).
	Config('x86_64-no-tracepoints', 'x86_64',
	       'dma-iommu\'s suites without TRACEPOINTS (no page log: those cases skip)',
	       options=y(DMA_SUITES) + P2PDMA, dropped=('TRACEPOINTS',)),
	Config('x86_64-no-pci', 'x86_64', 'dma-iommu\'s suites without PCI (no untrusted '
	       'PCI function, no P2PDMA: no dma-buf suite)', options=y(DMA_SUITES) + ('PCI=n',),
	       dropped=('PCI_P2PDMA', 'IOMMU_DMA_LINK_DMABUF_KUNIT_TEST')),
	Config('x86_64-no-amd-intel', 'x86_64',
	       'dma-iommu\'s suites with no other IOMMU driver',
	       options=y(DMA_SUITES) + P2PDMA + ('AMD_IOMMU=n', 'INTEL_IOMMU=n')),
	Config('s390-pci', 's390', 'the s390 suite, with PCI',
	       options=('PCI=y', 'S390_IOMMU_KUNIT_TEST=y')),
	Config('s390-no-pci', 's390', 'without PCI: no S390_IOMMU, no s390 suite',
	       options=('PCI=n', 'S390_IOMMU_KUNIT_TEST=y'),
	       dropped=('S390_IOMMU', 'S390_IOMMU_KUNIT_TEST')),
	Config('arm64-all-tests', 'arm64', 'the in-tree .kunitconfig with KUNIT_ALL_TESTS=y',
	       options=('KUNIT_ALL_TESTS=y',)),
	Config('um-kunitconfig-6.12-clang', 'um', 'clang (LLVM=1) on 6.12; mainline asks '
	       'for clang 17, bookworm has 14', kernel='6.12', llvm=True),
	Config('x86_64-modules-6.12-clang', 'x86_64', 'every suite a module, clang, 6.12',
	       options=('MODULES=y',) + m(SUITES + ('IOMMU_DMA_KUNIT_TEST',)) + ('PCI=y',) +
	       TRACING + FAULTS + ('FAULT_INJECTION_DEBUG_FS=y',), kernel='6.12', llvm=True),
	Config('um-modules-6.12', 'um', 'every suite a module, 6.12, gcc',
	       options=('MODULES=y',) + m(SUITES) + FAULTS, kernel='6.12'),
)


class Run(NamedTuple):
	name: str
	why: str
	ci: bool = False


RUNS: Tuple[Run, ...] = (
	Run('run-warn-first', 'the in-tree .kunitconfig on UML, bare kunit.py, after a '
	    'suite that WARNs: every case of ours passes', ci=True),
	Run('run-isolated', 'the in-tree .kunitconfig on UML, bare kunit.py with '
	    '--run_isolated=suite, then =test: every case passes alone', ci=True),
	Run('run-x86_64-intree', 'the in-tree .kunitconfig\'s x86_64 instructions, bare '
	    'kunit.py: no case fails'),
	Run('run-s390-intree', 'the in-tree .kunitconfig\'s s390 instructions, bare '
	    'kunit.py: no case fails'),
	Run('run-all-tests', 'kunit.py run with no arguments (KernelCI: UML, '
	    'KUNIT_ALL_TESTS), with and without the series: nothing that passes without '
	    'fails with it'),
)

WARN_FIRST_SUITE = '''// SPDX-License-Identifier: GPL-2.0-only
/* make buildcheck: a suite that WARNs, before any IOMMU suite runs. */
#include <kunit/test.h>

static void warn_first_test(struct kunit *test)
{
	WARN(1, "buildcheck: a WARN before the IOMMU suites\\n");
}

static struct kunit_case warn_first_cases[] = {
	KUNIT_CASE(warn_first_test),
	{}
};

static struct kunit_suite warn_first_suite = {
	.name = "buildcheck_warn_first",
	.test_cases = warn_first_cases,
};
kunit_test_suite(warn_first_suite);
'''


def selected(globs: str, scope: str) -> Tuple[List[Config], List[Run]]:
	"""The configurations and runs CONFIGS= (globs, separated by spaces or
	commas) and SCOPE= pick, in their table's order; a glob that picks
	nothing is a usage error."""
	patterns = [g for g in re.split(r'[\s,]+', globs) if g]
	names = [c.name for c in CONFIGS] + [r.name for r in RUNS]
	for g in patterns:
		if not fnmatch.filter(names, g):
			raise UsageError(f'CONFIGS={g} names no configuration or run '
					 f'({" ".join(names)})')

	def pick(name: str, ci: bool) -> bool:
		return ((not patterns or any(fnmatch.fnmatchcase(name, g) for g in patterns)) and
			(scope != 'ci' or ci))

	configs = [c for c in CONFIGS if pick(c.name, c.ci)]
	runs = [r for r in RUNS if pick(r.name, r.ci)]
	if not configs and not runs:
		raise UsageError(f'CONFIGS={globs} SCOPE={scope} picks no configuration or run')
	return configs, runs


def option_lines(options: Sequence[str]) -> List[str]:
	lines = []
	for o in options:
		name, value = o.split('=', 1)
		lines.append(f'# CONFIG_{name} is not set' if value == 'n' else f'CONFIG_{name}={value}')
	return lines


def read_config(path: str) -> Dict[str, str]:
	values = {}
	for line in read_text(path).splitlines():
		mt = re.match(r'CONFIG_(\w+)=(.*)', line)
		if mt:
			values[mt.group(1)] = mt.group(2)
	return values


def merged_options(first: Sequence[str], then: Sequence[str]) -> List[str]:
	"""NAME=value options, one per name: a name in then overrides first's."""
	values = dict(o.split('=', 1) for o in [*first, *then])
	return [f'{k}={v}' for k, v in values.items()]


def config_problems(final: Dict[str, str], c: Config, asked: Sequence[str]) -> List[str]:
	"""What the final .config does not give of what c asked for."""
	problems = []
	for o in asked:
		name, value = o.split('=', 1)
		if name in c.dropped:
			continue
		got = final.get(name, 'n')
		if value != got:
			problems.append(f'CONFIG_{name}={value} asked, .config has {got}')
	for name in c.dropped:
		if final.get(name, 'n') != 'n':
			problems.append(f'CONFIG_{name} should be dropped by Kconfig, .config has '
					f'{final[name]}')
	return problems


def intree_options(src: str) -> List[str]:
	opts = []
	for line in read_text(os.path.join(src, 'drivers/iommu/.kunitconfig')).splitlines():
		mt = re.match(r'CONFIG_(\w+)=(.*)', line)
		if mt:
			opts.append(f'{mt.group(1)}={mt.group(2)}')
	return opts


def make_cmd(c: Config, src: str, build: str, ccache: bool) -> List[str]:
	return (['make', '-C', src, f'O={build}', f'-j{cpus()}'] +
		table.build_make_args(c.arch, ccache, c.llvm))


WARNING = re.compile(r'^(\S+\.[ch]):(\d+):(?:\d+:)? (warning|error): (.*)$')


def our_warnings(log_text: str, src: str, new: Set[str],
		 changed: Dict[str, Set[int]]) -> List[str]:
	"""Compiler and sparse warnings at files the series adds, or at lines
	it changes in the files it changes; modpost's problems."""
	found = []
	for line in log_text.splitlines():
		if 'modpost' in line and ('ERROR' in line or 'WARNING' in line):
			found.append(line.strip())
			continue
		mt = WARNING.match(line.strip())
		if not mt:
			continue
		path = os.path.normpath(mt.group(1))
		if path.startswith(src.rstrip('/') + '/'):
			path = path[len(src.rstrip('/')) + 1:]
		if path in new or int(mt.group(2)) in changed.get(path, set()):
			found.append(line.strip())
	return found


def added_files(repo: str, base: str) -> Set[str]:
	"""The files the series adds to this tree (git diff --diff-filter=A):
	6.12's series, without the IOVA-link API, adds fewer than the
	overlay has."""
	r = upstream.run(['git', 'diff', '--name-only', '--diff-filter=A', base, 'HEAD'],
			 cwd=repo)
	return set(r.stdout.split())


def changed_lines(repo: str, base: str) -> Dict[str, Set[int]]:
	"""The lines the series adds or changes, by file (git diff -U0)."""
	r = upstream.run(['git', 'diff', '-U0', base, 'HEAD'], cwd=repo)
	lines: Dict[str, Set[int]] = {}
	path = ''
	for line in r.stdout.splitlines():
		if line.startswith('+++ b/'):
			path = line[6:]
		mt = re.match(r'@@ -\S+ \+(\d+)(?:,(\d+))? @@', line)
		if mt and path:
			start, n = int(mt.group(1)), int(mt.group(2) or 1)
			lines.setdefault(path, set()).update(range(start, start + n))
	return lines


class Outcome(NamedTuple):
	name: str
	ok: bool
	seconds: float
	detail: str


def build_config(ctx: Context, c: Config, src: str, work: str, new: Set[str],
		 changed: Dict[str, Set[int]]) -> Outcome:
	start = time.monotonic()
	build = os.path.join(work, c.name)
	os.makedirs(build, exist_ok=True)
	arch = 'um' if c.arch == 'um' else c.arch
	base = qemu.arch_kconfig(src, arch) if c.arch in ('um', 'x86_64', 's390', 'arm64') else ''
	asked = merged_options(intree_options(src) if c.intree else [], c.options)
	write_text(os.path.join(build, '.config'),
		   base + '\n' + '\n'.join(option_lines(asked)) + '\n')
	ccache = table.have_ccache() and not c.llvm
	mk = make_cmd(c, src, build, ccache)
	blog = os.path.join(build, 'build.log')
	r = ctx.run(mk + ['olddefconfig'], capture=True)
	if r.returncode:
		return Outcome(c.name, False, time.monotonic() - start,
			       'make olddefconfig failed: ' + (r.stdout + r.stderr)[-300:])
	problems = config_problems(read_config(os.path.join(build, '.config')), c, asked)
	if problems:
		return Outcome(c.name, False, time.monotonic() - start, '; '.join(problems))
	with open(blog, 'w') as f:
		ok = ctx.run(mk + ['W=1'] + list(c.targets), out=f).returncode == 0
	if ok and c.sparse:
		with open(blog, 'a') as f:
			ok = ctx.run(mk + ['W=1', 'C=2'] + list(SPARSE_DIRS), out=f).returncode == 0
	text = read_text(blog)
	if not ok:
		errs = [ln for ln in text.splitlines() if 'error' in ln.lower()][-5:]
		return Outcome(c.name, False, time.monotonic() - start,
			       f'the build failed ({build}/build.log): ' + ' | '.join(errs))
	warns = our_warnings(text, src, new, changed)
	if warns:
		return Outcome(c.name, False, time.monotonic() - start,
			       f'{len(warns)} warning(s) of ours: ' + ' | '.join(warns[:5]))
	return Outcome(c.name, True, time.monotonic() - start, c.why)


def kernel_doc(ctx: Context, kernel: str, src: str, new: Set[str]) -> Outcome:
	start = time.monotonic()
	files = sorted(f for f in new if f.endswith(('.c', '.h')))
	# A Perl or a Python script, by kernel: its own #! line says which.
	r = ctx.run(['./scripts/kernel-doc', '-Wall', '-none'] + files, cwd=src,
		    capture=True)
	out = (r.stdout + r.stderr).strip()
	return Outcome(kernel_doc_name(kernel), r.returncode == 0 and not out,
		       time.monotonic() - start,
		       out[-400:] or f'scripts/kernel-doc -Wall -none on {len(files)} new files')


def kunit_json(ctx: Context, src: str, build: str, args: Sequence[str],
	       json_path: str, make_options: Sequence[str] = ()) -> bool:
	if os.path.lexists(json_path):
		os.unlink(json_path)
	cmd = [ctx.python, 'tools/testing/kunit/kunit.py', 'run', f'--build_dir={build}',
	       f'--json={json_path}'] + list(args)
	if make_options:
		cmd += ['--make_options', ' '.join(make_options)]
	ctx.run(cmd, cwd=src)
	return os.path.isfile(json_path)


def case_results(json_path: str) -> Dict[str, str]:
	"""suite.case[.param] -> PASS/FAIL/SKIP/ERROR from kunit.py's JSON."""
	out = {}
	for group in results.load(json_path).get('sub_groups', []):
		for name, status in results.leaves(group, group['name'] + '.'):
			out[name] = status
	return out


def failures(json_path: str) -> List[str]:
	return sorted(k for k, v in case_results(json_path).items() if v not in ('PASS', 'SKIP'))


def run_check(ctx: Context, r: Run, tree: Tree, src: str, repo_base: str,
	      work: str) -> Outcome:
	start = time.monotonic()
	cc = ['CC=ccache gcc'] if table.have_ccache() else []
	build = os.path.join(work, r.name)
	json_path = os.path.join(build, 'results.json')
	if r.name == 'run-warn-first':
		# make patches-check's build of the same .kunitconfig, so that
		# after it only the WARNing suite is compiled.
		build = os.path.join(tree.work + '-series', 'build-kunit')
		json_path = os.path.join(work, r.name + '.json')
		os.makedirs(work, exist_ok=True)
		path = os.path.join(src, 'kernel', 'buildcheck_warn_first_kunit.c')
		write_text(path, WARN_FIRST_SUITE)
		mk = os.path.join(src, 'kernel', 'Makefile')
		text = read_text(mk)
		write_text(mk, text + 'obj-$(CONFIG_KUNIT) += buildcheck_warn_first_kunit.o\n')
		try:
			ok = kunit_json(ctx, src, build, ['--kunitconfig=drivers/iommu'],
					json_path, cc)
		finally:
			write_text(mk, text)
			os.unlink(path)
		if not ok:
			return Outcome(r.name, False, time.monotonic() - start, 'no results')
		got = case_results(json_path)
		warned = any(k.startswith('buildcheck_warn_first.') for k in got)
		bad = failures(json_path)
		bad = [b for b in bad if not b.startswith('buildcheck_warn_first.')]
		ok = warned and not bad
		return Outcome(r.name, ok, time.monotonic() - start,
			       r.why if ok else f'failed: {bad[:8]}' if bad
			       else 'the WARNing suite did not run')
	if r.name == 'run-isolated':
		# The same build directory again (after run-warn-first, a relink
		# without the WARNing suite); each boot's JSON would overwrite
		# the last, so kunit.py's exit status and its failure lines.
		build = os.path.join(tree.work + '-series', 'build-kunit')
		bad = []
		for mode in ('suite', 'test'):
			cmd = [ctx.python, 'tools/testing/kunit/kunit.py',
			       'run' if mode == 'suite' else 'exec', f'--build_dir={build}',
			       f'--run_isolated={mode}']
			if mode == 'suite':
				cmd += ['--kunitconfig=drivers/iommu']
				cmd += ['--make_options', cc[0]] if cc else []
			p = ctx.run(cmd, cwd=src, capture=True)
			if p.returncode:
				lines = [ln.strip() for ln in (p.stdout + p.stderr).splitlines()
					 if '[FAILED]' in ln or '[CRASHED]' in ln or 'rror' in ln]
				bad.append(f'--run_isolated={mode}: exit {p.returncode} '
					   + ' | '.join(lines[:6]))
		return Outcome(r.name, not bad, time.monotonic() - start,
			       r.why if not bad else '; '.join(bad))
	if r.name in ('run-x86_64-intree', 'run-s390-intree'):
		leg = 'x86_64' if 'x86_64' in r.name else 's390'
		args = ['--kunitconfig=drivers/iommu'] + table.kunit_arch_args(leg)
		args += documented_args(src, leg)
		mo = [table.build_make_args(leg, table.have_ccache())[-1]]
		if not kunit_json(ctx, src, build, args, json_path, mo):
			return Outcome(r.name, False, time.monotonic() - start, 'no results')
		bad = failures(json_path)
		return Outcome(r.name, not bad, time.monotonic() - start,
			       r.why if not bad else f'failed: {bad[:8]}')
	# run-all-tests: the pristine tree (the repository's base), then with
	# the series.
	tip = upstream.run(['git', 'rev-parse', 'HEAD'], cwd=src).stdout.strip()
	pjson = os.path.join(work, r.name + '-pristine', 'results.json')
	upstream.run(['git', 'checkout', '-q', '-f', repo_base], cwd=src)
	try:
		ok = kunit_json(ctx, src, os.path.join(work, r.name + '-pristine'), [], pjson, cc)
	finally:
		upstream.run(['git', 'checkout', '-q', '-f', tip], cwd=src)
	if not ok:
		return Outcome(r.name, False, time.monotonic() - start, 'no results (pristine)')
	if not kunit_json(ctx, src, build, [], json_path, cc):
		return Outcome(r.name, False, time.monotonic() - start, 'no results (series)')
	before = case_results(pjson)
	worse = [k for k in failures(json_path) if before.get(k) in ('PASS', 'SKIP', None)]
	return Outcome(r.name, not worse, time.monotonic() - start,
		       r.why if not worse else f'fail with the series only: {worse[:8]}')


def documented_args(src: str, leg: str) -> List[str]:
	"""kunit.py run's arguments as the in-tree .kunitconfig's comments give
	them for leg: its first command for that architecture, "#\t" lines
	joined where they end in a backslash."""
	cmds, cur = [], ''
	for line in read_text(os.path.join(src, 'drivers/iommu/.kunitconfig')).splitlines():
		if not line.startswith('#\t'):
			cur = ''
			continue
		part = line[2:].strip()
		if part.startswith('./tools/testing/kunit/kunit.py run'):
			cur = part
		elif cur:
			cur += ' ' + part
		else:
			continue
		if cur.endswith('\\'):
			cur = cur[:-1]
		else:
			cmds.append(cur)
			cur = ''
	for cmd in cmds:
		words = shlex.split(cmd)
		if f'--arch={leg}' in words:
			return [w for w in words[2:] if w != 'run' and not
				w.startswith(('--kunitconfig',) + table.KUNIT_ARCH_OPTIONS)]
	raise InfraError(f'drivers/iommu/.kunitconfig gives no kunit.py command for {leg}')


def series_tree(ctx: Context, tree: Tree) -> Tuple[str, str]:
	"""The scratch repository with every series applied: (src, base)."""
	from . import series
	who = ('iommu-kunit buildcheck', 'buildcheck@localhost')
	made = series.make(ctx, tree, os.path.join(tree.work + '-series', 'patches'), who)
	repo = series.repo_of(tree)
	last = made[-1][0].name
	base = upstream.run(['git', 'rev-parse', upstream.BASE_BRANCH], cwd=repo).stdout.strip()
	upstream.run(['git', 'checkout', '-q', '-f', f'series/{last}'], cwd=repo)
	return repo, base


def report(tree: Tree, outcomes: List[Outcome]) -> None:
	results.report(tree.results, 'buildcheck', 'buildcheck', tree.kver,
		       [results.Case(o.name, 'PASS' if o.ok else 'FAIL', o.detail,
				     seconds=round(o.seconds)) for o in outcomes])


def kernel_doc_name(kernel: str) -> str:
	"""kernel-doc's verdict name: mainline's plain, a backport's with its
	kernel, so that one run's summary tells them apart."""
	return 'kernel-doc' if kernel == table.MAINLINE_SERIES else f'kernel-doc-{kernel}'


def kernel_names(kernel: str, configs: Sequence[Config], runs: Sequence[Run]) -> Set[str]:
	names = {c.name for c in configs if c.kernel == kernel} | {kernel_doc_name(kernel)}
	return names | ({r.name for r in runs} if kernel == table.MAINLINE_SERIES else set())


def extra_packages(configs: Sequence[Config]) -> List[str]:
	"""make buildcheck's own packages: clang and lld only where a
	configuration builds with them."""
	return [p for p in table.EXTRA_PACKAGES['buildcheck']
		if p not in ('clang', 'lld') or any(c.llvm for c in configs)]


def main(ctx: Context, opts: 'Opts') -> int:
	from . import locks
	configs, runs = selected(opts.configs, opts.scope)
	outcomes: List[Outcome] = []
	mainline = table.MAINLINE_SERIES
	for kernel in sorted({c.kernel for c in configs} | ({mainline} if runs else set())):
		for name in {c.arch for c in configs if c.kernel == kernel} | {'um'}:
			sources.ensure_packages(ctx, f'buildcheck-{name}',
						table.packages('um', kernel) +
						list(table.build_spec(name).packages) +
						extra_packages(configs))
		if runs:
			for leg in ('x86_64', 's390'):
				ensure_leg_packages(ctx, leg, kernel)
		tree = find(ctx, kernel, None)
		work = tree.work + '-buildcheck'
		locks.hold(ctx, tree.work + '-series')
		src, base = series_tree(ctx, tree)
		new = added_files(src, base)
		changed = changed_lines(src, base)
		for c in (c for c in configs if c.kernel == kernel):
			o = build_config(ctx, c, src, work, new, changed)
			log(f'buildcheck {o.name}: {"PASS" if o.ok else "FAIL"} ({o.seconds:.0f} s): '
			    f'{o.detail}')
			outcomes.append(o)
		if (kernel == mainline and not opts.configs or
		    any(c.kernel == kernel for c in configs)):
			o = kernel_doc(ctx, kernel, src, new)
			log(f'buildcheck {o.name}: {"PASS" if o.ok else "FAIL"}: {o.detail}')
			outcomes.append(o)
		if kernel == mainline:
			for r in runs:
				o = run_check(ctx, r, tree, src, base, work)
				log(f'buildcheck {o.name}: {"PASS" if o.ok else "FAIL"} '
				    f'({o.seconds:.0f} s): {o.detail}')
				outcomes.append(o)
		upstream.run(['git', 'checkout', '-q', '-f', upstream.BASE_BRANCH], cwd=src)
		report(tree, [o for o in outcomes if o.name in kernel_names(kernel, configs, runs)])
	bad = [o.name for o in outcomes if not o.ok]
	log(f'buildcheck: {len(outcomes) - len(bad)} of {len(outcomes)} passed'
	    + (f'; failed: {" ".join(bad)}' if bad else ''))
	return EXIT_FAIL if bad else EXIT_PASS
