#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The runner's deciding logic: the leg x kernel table and what follows from it.

tools/iommu-kunit (bash) gets a tree, stages the overlay and runs kunit.py;
every decision it takes from the table below comes from here, one
subcommand each:

  iommu_kunit.py table
	ALL_LEGS, ALL_KERNELS, KERNEL_SOURCE (an associative array: each
	kernel's kernel-source), DEFAULT_KERNEL, MAINLINE_SERIES (shell)
  iommu_kunit.py kernel-source KERNEL
	system, sid or experimental: where Debian's linux-source-KERNEL is
  iommu_kunit.py packages LEG|coverage [--kernel KERNEL]
	the Debian packages (without --kernel: a KDIR, no linux-source)
  iommu_kunit.py [--top DIR] leg LEG [--kernel-series S] [--ccache|--no-ccache]
	LEG_CC, LEG_MAKE_ARGS, LEG_KUNIT_ARGS, LEG_KUNITCONFIGS, LEG_SUITES
	(shell: kunit.py's and make's arguments, the leg's kunitconfig
	fragments and expected-suites files for kernel series S)
  iommu_kunit.py [--top DIR] run-vars [--leg LEG [--kernel KERNEL|--kdir DIR]
	[--kernel-series S] [--ccache|--no-ccache] [--cache DIR]]
	make run's answers in one Python start (shell): table's, and with
	--leg the leg's packages as LEG_PACKAGES, leg's LEG_* for kernel
	series S (default: KERNEL, itself DEFAULT_KERNEL by default; --kdir
	needs --kernel-series) and, if the tree's kunit.py is there (the
	KDIR's, or Debian's in the cache DIR/linux-source-KERNEL),
	junit-mode's answer for it as JUNIT_MODE, that kunit.py as
	JUNIT_MODE_FOR
  iommu_kunit.py junit-mode KUNIT_PY
	kunit: the tree's kunit.py has --junit (7.2 on); convert: the runner
	converts its JSON (6.12)
  iommu_kunit.py [--top DIR] mutant-legs [--scope ci] [--legs WORDS]
	"LEG run" or "LEG skip" (SCOPE=ci) a line: the legs make mutate
	mutates, whatever the kernel
  iommu_kunit.py [--top DIR] mutants LEG --kernel-series S [--mutants GLOB]
	[--scope ci]
	the leg's mutants on kernel series S whose file name matches GLOB
	(with --scope ci: and whose header's CI: line names LEG), a line
	each, relative to the top
  iommu_kunit.py mutant-kmemleak MUTANT
	on if the mutant's header has the line "Oracle: kmemleak", else off
  iommu_kunit.py test-matrix [--scope ci] [--legs WORDS] [--kernels WORDS]
	"KERNEL LEG... [patches-check]" a line: what make test runs
  iommu_kunit.py patch-files PATCH...
	the kernel files the patches touch, a line each
  iommu_kunit.py legs-for-patches [--legs WORDS] PATCH...
	the legs make presubmit runs for these patches
  iommu_kunit.py legs-to-build [--scope ci] PATCH
	the legs a patch of the series builds on (bisectability)
  iommu_kunit.py [--top DIR] check-series-map
	tools/series.map against the overlay (exit 2 on a problem)
  iommu_kunit.py [--top DIR] total --results DIR [--scope ci] [--legs WORDS]
	[--kernels WORDS]
	make total's verdict from results/debian-<kernel>/kunit-<leg>.json

WORDS is one argument of space-separated words (LEGS=, KERNELS= as
given; empty: all). "(shell)" output is assignments for bash's eval, its
values quoted; every other answer is plain words or lines. Bad input
(an unknown leg or kernel, no patch, a malformed tools/series.map) is one
line "iommu-kunit: error: ..." on stderr and exit status 2, like the
runner's own errors.

Adding a leg or a kernel is one entry in LEGS or KERNELS (and the leg's
kunitconfig/<leg>.kunitconfig and .suites).
"""
import collections
import fnmatch
import os
import shlex
import sys

# The repository: the overlay, kunitconfig/, tools/series.map.
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What every leg needs from Debian: the kernel build tools, kunit.py's
# Python, what the overlay is applied with, ccache and git.
COMMON_PACKAGES = ('make', 'gcc', 'libc6-dev', 'bc', 'flex', 'bison',
		   'python3', 'perl', 'rsync', 'patch', 'xz-utils', 'ccache',
		   'git')

# Package sets that are not a leg's, on top of COMMON_PACKAGES: make
# coverage's (its leg's come on top, from that leg).
EXTRA_PACKAGES = {
	'coverage': ('lcov',),
}

Leg = collections.namedtuple('Leg', (
	# kunit.py's --arch= (None: its default, UML).
	'kunit_arch',
	# The compiler, and make's CROSS_COMPILE= ('' for a native build).
	'cc', 'cross_compile',
	# Debian packages on top of COMMON_PACKAGES.
	'packages',
	# Kernel files (fnmatch patterns, '*' crossing '/') whose change
	# matters to this leg in make presubmit and in the series' bisect
	# builds: its tests exercise them or it alone builds them. A file no
	# leg names matters to every leg.
	'triggers',
))

# Every leg, in the order the runner runs them. The kunitconfig fragments
# and suite lists are files: kunitconfig/<leg>.kunitconfig and .suites,
# and those of kunitconfig_dir().
LEGS = {
	'um': Leg(
		kunit_arch=None, cc='gcc', cross_compile='',
		packages=(),
		triggers=('drivers/iommu/iommu.c',
			  # The sync_map logic: the fake's (um, x86_64) and
			  # s390's.
			  'include/linux/iommu-sync-map.h')),
	'x86_64': Leg(
		kunit_arch='x86_64', cc='gcc', cross_compile='',
		# busybox-static: the shell of the guest's /init
		# (tools/qemu/init).
		packages=('libelf-dev', 'libssl-dev', 'qemu-system-x86',
			  'busybox-static'),
		triggers=('drivers/iommu/iommu.c',
			  'drivers/iommu/dma-iommu.*',
			  'drivers/iommu/tests/iommu_dma*',
			  'include/linux/iommu-sync-map.h')),
	's390': Leg(
		kunit_arch='s390', cc='s390x-linux-gnu-gcc',
		cross_compile='s390x-linux-gnu-',
		packages=('libelf-dev', 'libssl-dev', 'gcc-s390x-linux-gnu',
			  'qemu-system-misc'),
		triggers=('drivers/iommu/s390-*',
			  'drivers/iommu/tests/iommu_s390*',
			  'arch/s390/*',
			  'include/linux/iommu-sync-map.h')),
}

# Not a leg, but a part of make test's matrix: the series applies with git
# am on a clean tree, bisects and runs with bare kunit.py.
PATCHES_CHECK = 'patches-check'

Kernel = collections.namedtuple('Kernel', (
	# Where Debian's linux-source-<version> comes from: 'system' (the
	# machine's own apt sources, bookworm, installed as a package) or
	# the Debian suite it is fetched from into .cache/.
	'source',
	# What make test runs on it: legs, and PATCHES_CHECK for the series.
	'test',
	# What make test SCOPE=ci runs (.ci/run: 90 minutes on 2 cores with
	# a cold ccache).
	'ci',
))

_ALL = tuple(LEGS) + (PATCHES_CHECK,)

# Every kernel KERNEL= names, Debian's linux-source-<version>.
KERNELS = {
	# SCOPE=ci: 6.12's s390 leg (a cold s390 build, about 7 minutes) and
	# its series check are left to make test.
	'6.12': Kernel(source='system', test=_ALL, ci=('um', 'x86_64')),
	# SCOPE=ci: left out for time.
	'7.2': Kernel(source='sid', test=('um',), ci=()),
	'7.3': Kernel(source='experimental', test=_ALL, ci=_ALL),
}

# The kernel KERNEL= defaults to (the machine's own).
DEFAULT_KERNEL = '6.12'
# The kernel series the series (drivers/iommu/patches/) is based on: make
# test runs it first, make patches on it.
MAINLINE_SERIES = '7.3'

# Where the overlay's new files live, and its series.
OVERLAY_DIRS = ('arch', 'drivers', 'include', 'lib')
PATCHES_DIR = 'drivers/iommu/patches'
SERIES_MAP = 'tools/series.map'
# tools/series.map's lines that describe a series, not a patch.
SERIES_KEYWORDS = ('series', 'subject', 'depends', 'to', 'cc')


class Error(Exception):
	"""Bad input: the message goes out as one 'iommu-kunit: error:' line."""


def check_scope(scope):
	"""scope, if it is one make test and make mutate know: '' or 'ci'."""
	if scope not in ('', 'ci'):
		raise Error(f'unknown scope {scope!r}: use ci, or none')
	return scope


def check_leg(name):
	"""name, if it is a leg; Error otherwise."""
	if name not in LEGS:
		raise Error(f"unknown leg '{name}': use one of: {' '.join(LEGS)}")
	return name


def check_kernel(name):
	"""name, if it is a kernel of the table; Error otherwise."""
	if name not in KERNELS:
		raise Error(f"unknown kernel '{name}': use one of: {' '.join(KERNELS)}")
	return name


# ------------------------------------------------------------ the kernels

def kernel_source(kernel):
	"""Where Debian's linux-source-<kernel> comes from."""
	return KERNELS[check_kernel(kernel)].source


def matrix_kernels():
	"""The kernels in make test's order: mainline first (the series'
	base), then the others in the table's order."""
	return [MAINLINE_SERIES] + [k for k in KERNELS if k != MAINLINE_SERIES]


def test_matrix(scope='', legs=(), kernels=()):
	"""What make test runs, as [(kernel, [leg or PATCHES_CHECK, ...])]:
	SCOPE=ci's share or all of it, only the legs (and patches-check) of
	legs and the kernels of kernels when they name any; a kernel left
	with nothing to run is left out."""
	check_scope(scope)
	for w in legs:
		if w != PATCHES_CHECK and w not in LEGS:
			raise Error(f"unknown leg '{w}' in LEGS=: use some of: "
				    f"{' '.join(LEGS)} {PATCHES_CHECK}")
	for k in kernels:
		if k not in KERNELS:
			raise Error(f"unknown kernel '{k}' in KERNELS=: use some of: "
				    f"{' '.join(KERNELS)}")
	out = []
	for k in matrix_kernels():
		if kernels and k not in kernels:
			continue
		items = KERNELS[k].ci if scope == 'ci' else KERNELS[k].test
		items = [w for w in items if not legs or w in legs]
		if items:
			out.append((k, items))
	return out


# ---------------------------------------------------------------- the legs

def packages(name, kernel=None):
	"""The Debian packages leg (or EXTRA_PACKAGES set) name needs, with
	Debian's kernel kernel (None: the user's KDIR): linux-source-<kernel>
	too when it comes from the machine's own apt sources."""
	if name in EXTRA_PACKAGES:
		pkgs = COMMON_PACKAGES + EXTRA_PACKAGES[name]
	else:
		pkgs = COMMON_PACKAGES + LEGS[check_leg(name)].packages
	if kernel is not None and kernel_source(kernel) == 'system':
		pkgs += (f'linux-source-{kernel}',)
	return list(pkgs)


def compiler(leg, ccache):
	"""The CC= of the leg's builds: through ccache if ccache is true."""
	cc = LEGS[check_leg(leg)].cc
	return f'ccache {cc}' if ccache else cc


def make_args(leg, ccache):
	"""The kernel make's arguments for the leg: ARCH=, CROSS_COMPILE=, CC=."""
	spec = LEGS[check_leg(leg)]
	args = [f'ARCH={leg}']
	if spec.cross_compile:
		args.append(f'CROSS_COMPILE={spec.cross_compile}')
	return args + [f'CC={compiler(leg, ccache)}']


def kunit_arch_args(leg):
	"""kunit.py's arguments for the leg's architecture (none for UML)."""
	spec = LEGS[check_leg(leg)]
	args = []
	if spec.kunit_arch:
		args.append(f'--arch={spec.kunit_arch}')
	if spec.cross_compile:
		args.append(f'--cross_compile={spec.cross_compile}')
	return args


def kunitconfig_dir(top, series):
	"""Where the kunitconfig fragments and suite lists that not every
	kernel shares live for kernel series series: kunitconfig/<series>/
	if there is one (6.12: a backport lacking mainline's newer APIs),
	else kunitconfig/mainline/ (what the mainline series adds: 7.2, 7.3,
	a newer KDIR). A kernel with patch deltas only
	(drivers/iommu/patches/7.2/) still gets mainline's."""
	d = os.path.join(top, 'kunitconfig', series)
	return d if os.path.isdir(d) else os.path.join(top, 'kunitconfig', 'mainline')


def leg_files(top, leg, suffix, series):
	"""The leg's files with suffix (kunitconfig, suites) that exist, for
	kernel series series: the leg's own, then the kernel's."""
	check_leg(leg)
	name = f'{leg}.{suffix}'
	paths = [os.path.join(top, 'kunitconfig', name)]
	if series:
		paths.append(os.path.join(kunitconfig_dir(top, series), name))
	return [p for p in paths if os.path.isfile(p)]


def leg_shell(top, leg, series, ccache):
	"""The leg's decisions as bash assignments (see the module's doc)."""
	def array(name, words):
		return f"{name}=({' '.join(shlex.quote(w) for w in words)})"
	return [
		f'LEG_CC={shlex.quote(compiler(leg, ccache))}',
		array('LEG_MAKE_ARGS', make_args(leg, ccache)),
		array('LEG_KUNIT_ARGS', kunit_arch_args(leg)),
		array('LEG_KUNITCONFIGS', leg_files(top, leg, 'kunitconfig', series)),
		array('LEG_SUITES', leg_files(top, leg, 'suites', series)),
	]


def have_ccache():
	"""Whether ccache is on PATH (builds use it if so)."""
	import shutil	# here: it imports a dozen modules a run rarely needs
	return shutil.which('ccache') is not None


def junit_mode(kunit_py):
	"""How a run gets its JUnit XML from the tree whose kunit.py is
	kunit_py: 'kunit' if that kunit.py defines --junit (7.2 on), else
	'convert' (check-results.py converts the JSON: 6.12)."""
	with open(kunit_py, errors='replace') as f:
		return 'kunit' if "'--junit'" in f.read() else 'convert'


# ------------------------------------------------------------- the patches

def patch_files(paths):
	"""The files patches paths touch (their '--- a/' and '+++ b/' lines,
	not /dev/null), sorted, each once."""
	files = set()
	for path in paths:
		with open(path, errors='replace') as f:
			for line in f:
				for prefix in ('+++ b/', '--- a/'):
					if line.startswith(prefix):
						files.add(line[len(prefix):].rstrip('\n').split('\t')[0])
	return sorted(files)


def file_legs(path):
	"""The legs whose triggers name kernel file path, in the table's
	order; None if no leg names it (it matters to every leg)."""
	legs = [leg for leg, spec in LEGS.items()
		if any(fnmatch.fnmatchcase(path, p) for p in spec.triggers)]
	return legs or None


def legs_for_patches(paths, order=()):
	"""The legs make presubmit runs for patches paths, among (and in the
	order of) order, all legs if empty: those each file's triggers name,
	every one of order for a file no leg names."""
	if not paths:
		raise Error('no patch given')
	order = [check_leg(leg) for leg in order] or list(LEGS)
	want = set()
	for f in patch_files(paths):
		want.update(file_legs(f) or order)
	return [leg for leg in order if leg in want]


def legs_to_build(path, scope=''):
	"""The legs a patch of the series builds on: UML, and those the
	triggers of its files name (a file no leg names builds on UML like
	the rest). None with SCOPE=ci: on 2 cores the builds before the
	fake's Kconfig exists cannot reuse the legs' ccache and would cost CI
	about 20 minutes."""
	check_scope(scope)
	if scope == 'ci':
		return []
	want = {'um'}
	for f in patch_files([path]):
		want.update(file_legs(f) or ())
	return [leg for leg in LEGS if leg in want]


# ---------------------------------------------------------------- mutants

MUTANTS_DIR = 'tools/mutants'


def versioned_patches(top, d, series):
	"""The patches of directory d (relative to top) for kernel series
	series, relative to top, as the runner's versioned_patches gives them:
	d's *.patch, where d/<series>/ has one of the same name that one
	instead (an empty one: left out), then the other non-empty patches of
	d/<series>/; in the order of their file names."""
	def patches(rel):
		path = os.path.join(top, rel)
		if not os.path.isdir(path):
			return []
		return [n for n in os.listdir(path) if n.endswith('.patch') and
			not n.startswith('.') and os.path.isfile(os.path.join(path, n))]
	back = f'{d}/{series}'
	own = patches(d)
	out = []
	for n in own:
		b = os.path.join(top, back, n)
		if os.path.isfile(b):
			if os.path.getsize(b) > 0:
				out.append(f'{back}/{n}')
		else:
			out.append(f'{d}/{n}')
	out += [f'{back}/{n}' for n in patches(back)
		if n not in own and os.path.getsize(os.path.join(top, back, n)) > 0]
	return sorted(out, key=lambda p: (p.rsplit('/', 1)[-1] + '\t' + p).encode())


def mutant_header(path):
	"""A mutant's header: its "Key: words" lines before the patch itself
	(the first line that starts with "--- " or "diff "), as
	{key: [words]}. Legs: the legs a shared mutant runs on; CI: the legs
	make mutate SCOPE=ci runs it on; Oracle: kmemleak (the runner's
	mutant_kmemleak reads that one)."""
	out = {}
	with open(path, errors='replace') as f:
		for line in f:
			if line.startswith(('--- ', 'diff ')):
				break
			key, sep, value = line.rstrip('\n').partition(': ')
			if sep and key in ('Legs', 'CI', 'Oracle'):
				out[key] = value.split()
	return out


def mutant_kmemleak(path):
	"""on if a mutant's header has the line "Oracle: kmemleak" (the
	leaks only kmemleak sees: its x86_64 run scans), off otherwise."""
	return 'on' if 'kmemleak' in mutant_header(path).get('Oracle', []) else 'off'


def patches_under(d):
	"""The non-empty *.patch files under directory d and its
	subdirectories (a series' copies), in file-name order."""
	out = []
	for root, dirs, names in os.walk(d):
		dirs.sort()
		out += [os.path.join(root, n) for n in sorted(names)
			if n.endswith('.patch') and not n.startswith('.') and
			os.path.getsize(os.path.join(root, n)) > 0]
	return out


def mutant_files(top, leg):
	"""Every mutant file that may run on leg, on any kernel series: its
	own (tools/mutants/<leg>/ and its series' copies), then the shared
	ones whose Legs: line names it."""
	shared = patches_under(os.path.join(top, MUTANTS_DIR, 'shared'))
	return (patches_under(os.path.join(top, MUTANTS_DIR, leg)) +
		[p for p in shared if leg in mutant_header(p).get('Legs', [])])


def leg_has_mutants(top, leg, scope=''):
	"""Whether leg has mutants of its own or shared ones (a "Legs:" line
	naming it), on any kernel: make mutate picks its legs before it knows
	the kernel. With scope 'ci': one whose CI: line names leg."""
	return any(scope != 'ci' or leg in mutant_header(p).get('CI', [])
		   for p in mutant_files(top, leg))


def mutant_legs(top, legs=(), scope=''):
	"""The legs make mutate mutates, among (and in the order of) legs,
	all if empty, as [(leg, 'run' or 'skip')]: those with mutants and a
	kunitconfig/<leg>.kunitconfig; 'skip': with scope 'ci', a leg none of
	whose mutants has a CI: line naming it (s390's: its tree's build is
	about 8 minutes that CI does not have, and UML kills the shared
	sync-map regressions too)."""
	check_scope(scope)
	out = []
	for leg in [check_leg(leg) for leg in legs] or list(LEGS):
		if (not leg_has_mutants(top, leg) or
		    not os.path.isfile(os.path.join(top, 'kunitconfig', f'{leg}.kunitconfig'))):
			continue
		out.append((leg, 'run' if leg_has_mutants(top, leg, scope) else 'skip'))
	return out


def mutants(top, leg, series, glob='', scope=''):
	"""The mutants of leg on kernel series series, relative to top: its
	own (tools/mutants/<leg>/, with series' copies), then those of
	tools/mutants/shared/ whose "Legs:" line names it; only those whose
	file name matches glob if there is one, and with scope 'ci' only
	those whose "CI:" line names leg (CI's 90 minutes: make mutate
	without SCOPE runs them all)."""
	check_leg(leg)
	check_scope(scope)
	own = versioned_patches(top, f'{MUTANTS_DIR}/{leg}', series)
	shared = [m for m in versioned_patches(top, f'{MUTANTS_DIR}/shared', series)
		  if leg in mutant_header(os.path.join(top, m)).get('Legs', [])]
	return [m for m in own + shared
		if (not glob or fnmatch.fnmatchcase(m.rsplit('/', 1)[-1], glob)) and
		(scope != 'ci' or leg in mutant_header(os.path.join(top, m)).get('CI', []))]


# ------------------------------------------------------------- series map

def overlay_new_files(top):
	"""The files the overlay adds, relative to top: everything under the
	overlay's directories but patches and editors' swap files, sorted as
	LC_ALL=C sort does."""
	files = []
	for d in OVERLAY_DIRS:
		for root, dirs, names in os.walk(os.path.join(top, d)):
			dirs[:] = [n for n in dirs
				   if not os.path.islink(os.path.join(root, n))]
			for n in names:
				p = os.path.join(root, n)
				if (n.endswith('.patch') or fnmatch.fnmatchcase(n, '.*.swp') or
				    os.path.islink(p) or not os.path.isfile(p)):
					continue
				files.append(os.path.relpath(p, top))
	return sorted(files, key=lambda s: s.encode())


def read_series_map(top):
	"""tools/series.map as [(patch number, [file, ...])], comments and
	blank lines left out. Error if it is missing or a line does not start
	with a patch number."""
	path = os.path.join(top, SERIES_MAP)
	try:
		with open(path) as f:
			lines = f.read().splitlines()
	except OSError as e:
		raise Error(f'{SERIES_MAP}: cannot read it ({e.strerror})') from e
	rows = []
	for i, line in enumerate(lines, 1):
		if line.startswith('#') or not line.split():
			continue
		if line.split()[0] in SERIES_KEYWORDS:
			continue
		number, *files = line.split()
		if not number.isdigit():
			raise Error(f'{SERIES_MAP}:{i}: malformed line (expected a patch '
				    f'number, then the files that patch adds): {line.strip()}')
		rows.append((number, files))
	return rows


def check_series_map(top):
	"""Checks tools/series.map against the overlay: every new file is
	listed exactly once (under the patch that adds it), and every patch
	number it names exists in drivers/iommu/patches/. Error on the first
	problem."""
	rows = read_series_map(top)
	counts = collections.Counter(f for _, files in rows for f in files)
	for f in overlay_new_files(top):
		if counts[f] != 1:
			raise Error(f'{SERIES_MAP} lists {f} {counts[f]} times (it must be '
				    'listed once, under the patch that adds it)')
	patches = os.path.join(top, PATCHES_DIR)
	names = os.listdir(patches) if os.path.isdir(patches) else []
	for number, _ in rows:
		if not any(fnmatch.fnmatchcase(n, f'{number}-*.patch') for n in names):
			raise Error(f'{SERIES_MAP} names patch {number}, which '
				    f'{PATCHES_DIR}/ does not have')


# ------------------------------------------------------------------ total

def check_results_module():
	"""tools/check-results.py (a dash in its name: loaded by path), whose
	verdicts, counts and total line make total reuses."""
	import importlib.util
	path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
			    'check-results.py')
	spec = importlib.util.spec_from_file_location('check_results', path)
	module = importlib.util.module_from_spec(spec)
	spec.loader.exec_module(module)
	return module


def log(msg, out):
	print(f'[iommu-kunit] {msg}', file=out)


def total(top, results, scope='', legs=(), kernels=(), out=sys.stdout,
	  err=sys.stderr):
	"""make total: a line per kernel and leg of make test's matrix (under
	scope, legs, kernels), from results/debian-<kernel>/kunit-<leg>.json
	that separate jobs may have made. A leg passes if its JSON is there,
	every suite it expects on that kernel ran and no case failed.
	patches-check leaves no results: its job's exit status is its
	verdict. Then the total line of all the legs' cases and the verdict.
	Returns 0 if every leg passed, 1 otherwise."""
	matrix = test_matrix(scope, legs, kernels)
	if not matrix:
		raise Error(f"nothing to total: no kernel of KERNELS={' '.join(kernels)} "
			    f"has a leg of LEGS={' '.join(legs)} in make test's matrix"
			    + (f' (SCOPE={scope})' if scope else ''))
	cr = check_results_module()
	rc, count, jsons = 0, 0, []
	for k, items in matrix:
		for leg in items:
			if leg == PATCHES_CHECK:
				continue
			count += 1
			json_path = os.path.join(results, f'debian-{k}', f'kunit-{leg}.json')
			what = f'KERNEL={k} leg {leg}'
			if not os.path.isfile(json_path):
				log(f'{what}: FAIL: no results in {json_path} (its job did '
				    'not run, or its results/ were not collected here)', out)
				rc = 1
				continue
			expected = []
			for path in leg_files(top, leg, 'suites', k):
				expected += cr.read_expected(path)
			try:
				n, failed = cr.count(json_path)
				bad = cr.problems(cr.load(json_path), expected)
			except ValueError as e:
				log(f'{what}: FAIL: {json_path} is not kunit.py JSON ({e})', out)
				rc = 1
				continue
			for msg in bad:
				print(f'iommu-kunit: error: {msg}', file=err)
			if not bad and failed == 0:
				log(f'{what}: PASS ({n} cases)', out)
			else:
				log(f'{what}: FAIL ({failed} of {n} cases failed, or an '
				    f'expected suite did not run: see {json_path})', out)
				rc = 1
			jsons.append(json_path)
	if jsons:
		out.flush()
		cr.total(jsons, out=out)
	log(f'make total: PASS, {count} legs' if rc == 0 else 'make total: FAIL', out)
	return rc


# -------------------------------------------------------------------- CLI

SUBCOMMANDS = ('table', 'kernel-source', 'packages', 'leg', 'run-vars',
	       'junit-mode', 'mutant-legs', 'mutants', 'mutant-kmemleak', 'test-matrix',
	       'patch-files', 'legs-for-patches', 'legs-to-build',
	       'check-series-map', 'total')


def words(arg):
	"""A WORDS argument as a list ('' or None: empty)."""
	return (arg or '').split()


def parse(argv, flags=(), options=()):
	"""argv's options (--name VALUE or --name=VALUE for options, --name
	for flags) and positional arguments: ({name: value}, [positional])."""
	opts, pos = {}, []
	it = iter(argv)
	for a in it:
		name, eq, value = a.partition('=')
		if name in options:
			if not eq:
				value = next(it, None)
				if value is None:
					raise Error(f'{name} needs a value')
			opts[name] = value
		elif a in flags:
			opts[a] = True
		elif a.startswith('--'):
			raise Error(f'unknown option {a}')
		else:
			pos.append(a)
	return opts, pos


def shell_words(name, values):
	return f"{name}={shlex.quote(' '.join(values))}"


def table_shell():
	"""The table as bash assignments (see the module's doc)."""
	sources = ' '.join(f'[{shlex.quote(k)}]={shlex.quote(v.source)}'
			   for k, v in KERNELS.items())
	return [shell_words('ALL_LEGS', LEGS), shell_words('ALL_KERNELS', KERNELS),
		f'KERNEL_SOURCE=({sources})',
		shell_words('DEFAULT_KERNEL', [DEFAULT_KERNEL]),
		shell_words('MAINLINE_SERIES', [MAINLINE_SERIES])]


def run_shell(top, leg, kernel, kdir, series, ccache, cache):
	"""make run's answers for leg on Debian's kernel kernel (None: the
	default) or the user's tree kdir, kernel series series (None: the
	kernel's), as bash assignments: the leg's packages, leg_shell's and,
	if the tree's kunit.py is there (kdir's, or Debian's unpacked in
	cache/linux-source-<kernel>), junit_mode's and that kunit.py."""
	check_leg(leg)
	if kdir is not None and kernel is not None:
		raise Error('--kernel and --kdir are exclusive')
	if kdir is None:
		kernel = check_kernel(kernel or DEFAULT_KERNEL)
		tree = os.path.join(cache, f'linux-source-{kernel}') if cache else None
	else:
		tree = kdir
	series = series or kernel
	if not series:
		raise Error('run-vars: --kdir needs --kernel-series')
	lines = [shell_words('LEG_PACKAGES', packages(leg, kernel))]
	lines += leg_shell(top, leg, series, ccache)
	kunit_py = tree and os.path.join(tree, 'tools', 'testing', 'kunit', 'kunit.py')
	if kunit_py and os.path.isfile(kunit_py):
		lines += [f'JUNIT_MODE={junit_mode(kunit_py)}',
			  f'JUNIT_MODE_FOR={shlex.quote(kunit_py)}']
	return lines


def main(argv, out=sys.stdout, err=sys.stderr):
	"""Runs one subcommand; returns its exit status."""
	try:
		return run(argv, out, err)
	except Error as e:
		print(f'iommu-kunit: error: {e}', file=err)
		return 2
	except OSError as e:
		print(f'iommu-kunit: error: {e.filename}: {e.strerror}', file=err)
		return 2


def run(argv, out, err):
	top = TOP
	if argv[:1] == ['--top']:
		if len(argv) < 2:
			raise Error('--top needs a value')
		top, argv = argv[1], argv[2:]
	if not argv:
		raise Error(f"no subcommand: use one of: {' '.join(SUBCOMMANDS)}")
	cmd, args = argv[0], argv[1:]

	def say(*lines):
		for line in lines:
			print(line, file=out)

	def exactly(pos, n, what):
		if len(pos) != n:
			raise Error(f'{cmd}: expected {what}')
		return pos

	def ccache_choice(opts):
		if '--ccache' in opts and '--no-ccache' in opts:
			raise Error('--ccache and --no-ccache are exclusive')
		return (True if '--ccache' in opts else
			False if '--no-ccache' in opts else have_ccache())

	if cmd == 'table':
		_, pos = parse(args)
		exactly(pos, 0, 'no argument')
		say(*table_shell())
	elif cmd == 'run-vars':
		opts, pos = parse(args, flags=('--ccache', '--no-ccache'),
				  options=('--leg', '--kernel', '--kdir', '--kernel-series',
					   '--cache'))
		exactly(pos, 0, 'no positional argument')
		lines = table_shell()
		if '--leg' in opts:
			lines += run_shell(top, opts['--leg'], opts.get('--kernel'),
					   opts.get('--kdir'), opts.get('--kernel-series'),
					   ccache_choice(opts), opts.get('--cache'))
		elif len(opts):
			raise Error('run-vars: its options go with --leg')
		say(*lines)
	elif cmd == 'mutant-legs':
		opts, pos = parse(args, options=('--scope', '--legs'))
		exactly(pos, 0, 'no positional argument')
		for leg, what in mutant_legs(top, words(opts.get('--legs')),
					     opts.get('--scope', '')):
			say(f'{leg} {what}')
	elif cmd == 'mutants':
		opts, pos = parse(args, options=('--kernel-series', '--mutants', '--scope'))
		leg = exactly(pos, 1, 'LEG')[0]
		if not opts.get('--kernel-series'):
			raise Error('mutants: --kernel-series S is required')
		say(*mutants(top, leg, opts['--kernel-series'], opts.get('--mutants', ''),
			     opts.get('--scope', '')))
	elif cmd == 'mutant-kmemleak':
		_, pos = parse(args)
		say(mutant_kmemleak(exactly(pos, 1, 'MUTANT')[0]))
	elif cmd == 'junit-mode':
		_, pos = parse(args)
		say(junit_mode(exactly(pos, 1, 'KUNIT_PY')[0]))
	elif cmd == 'kernel-source':
		_, pos = parse(args)
		say(kernel_source(exactly(pos, 1, 'KERNEL')[0]))
	elif cmd == 'packages':
		opts, pos = parse(args, options=('--kernel',))
		say(' '.join(packages(exactly(pos, 1, 'LEG or coverage')[0],
				      opts.get('--kernel'))))
	elif cmd == 'leg':
		opts, pos = parse(args, flags=('--ccache', '--no-ccache'),
				  options=('--kernel-series',))
		leg = exactly(pos, 1, 'LEG')[0]
		say(*leg_shell(top, leg, opts.get('--kernel-series', ''),
			       ccache_choice(opts)))
	elif cmd == 'test-matrix':
		opts, pos = parse(args, options=('--scope', '--legs', '--kernels'))
		exactly(pos, 0, 'no positional argument')
		for k, items in test_matrix(opts.get('--scope', ''), words(opts.get('--legs')),
					    words(opts.get('--kernels'))):
			say(' '.join([k] + items))
	elif cmd == 'patch-files':
		_, pos = parse(args)
		if not pos:
			raise Error('no patch given')
		say(*patch_files(pos))
	elif cmd == 'legs-for-patches':
		opts, pos = parse(args, options=('--legs',))
		say(' '.join(legs_for_patches(pos, words(opts.get('--legs')))))
	elif cmd == 'legs-to-build':
		opts, pos = parse(args, options=('--scope',))
		say(' '.join(legs_to_build(exactly(pos, 1, 'one PATCH')[0],
					   opts.get('--scope', ''))))
	elif cmd == 'check-series-map':
		_, pos = parse(args)
		exactly(pos, 0, 'no argument')
		check_series_map(top)
	elif cmd == 'total':
		opts, pos = parse(args, options=('--results', '--scope', '--legs', '--kernels'))
		exactly(pos, 0, 'no positional argument')
		if '--results' not in opts:
			raise Error('total: --results DIR is required')
		return total(top, opts['--results'], opts.get('--scope', ''),
			     words(opts.get('--legs')), words(opts.get('--kernels')), out, err)
	else:
		raise Error(f"unknown subcommand '{cmd}': use one of: {' '.join(SUBCOMMANDS)}")
	return 0


if __name__ == '__main__':
	sys.exit(main(sys.argv[1:]))
