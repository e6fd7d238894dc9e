# SPDX-License-Identifier: GPL-2.0-only
"""The leg x kernel table and every decision taken from it: packages,
compilers, kunit.py and make arguments, kunitconfig fragments and expected
suites, make test's matrix, the legs a patch needs, the mutants of a leg,
the series map.

Adding a leg or a kernel is one entry in LEGS or KERNELS (and the leg's
kunitconfig/<leg>.kunitconfig and .suites)."""

import collections
import fnmatch
import os
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from .common import UsageError

# What every leg needs from Debian: the kernel build tools, kunit.py's
# Python, what the overlay is applied with, ccache and git.
COMMON_PACKAGES: Tuple[str, ...] = (
	'make', 'gcc', 'libc6-dev', 'bc', 'flex', 'bison', 'python3', 'perl',
	'rsync', 'patch', 'xz-utils', 'ccache', 'git')

# Package sets that are not a leg's, on top of COMMON_PACKAGES: make
# coverage's (its leg's come on top, from that leg).
EXTRA_PACKAGES: Dict[str, Tuple[str, ...]] = {
	'coverage': ('lcov',),
	# make buildcheck: sparse, clang (6.12), and what checkpatch's SPDX check
	# runs (Debian's python3 with ply and git).
	'buildcheck': ('sparse', 'clang', 'lld', 'python3-ply', 'python3-git'),
}

# What make selftest needs, and no more (it runs first, on a machine that
# may have nothing yet): what its tests run (make, git, rsync, patch, tar
# with xz), the type checker and the shell linter.
SELFTEST_PACKAGES: Tuple[str, ...] = (
	'make', 'python3', 'git', 'rsync', 'patch', 'xz-utils', 'python3-mypy', 'shellcheck')


class Leg(NamedTuple):
	# kunit.py's --arch= (None: its default, UML).
	kunit_arch: Optional[str]
	# The compiler, and make's CROSS_COMPILE= ('' for a native build).
	cc: str
	cross_compile: str
	# Debian packages on top of COMMON_PACKAGES.
	packages: Tuple[str, ...]
	# Kernel files (fnmatch patterns, '*' crossing '/') whose change
	# matters to this leg in make presubmit and in the series' bisect
	# builds: its tests exercise them or it alone builds them. A file no
	# leg names matters to every leg.
	triggers: Tuple[str, ...]


# Every leg, in the order the runner runs them. The kunitconfig fragments
# and suite lists are files: kunitconfig/<leg>.kunitconfig and .suites,
# and those of kunitconfig_dir().
LEGS: Dict[str, Leg] = {
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

# Architectures make buildcheck builds that are no leg: never booted.
BUILD_ONLY: Dict[str, Leg] = {
	'arm64': Leg(
		kunit_arch='arm64', cc='aarch64-linux-gnu-gcc',
		cross_compile='aarch64-linux-gnu-',
		packages=('libelf-dev', 'libssl-dev', 'gcc-aarch64-linux-gnu'),
		triggers=()),
}

# kunit.py's options that say which architecture it builds for.
KUNIT_ARCH_OPTIONS = ('--arch', '--cross_compile')


def build_spec(arch: str) -> Leg:
	"""A leg's, or a build-only architecture's, compiler and packages."""
	if arch in BUILD_ONLY:
		return BUILD_ONLY[arch]
	return LEGS[check_leg(arch)]


def build_make_args(arch: str, ccache: bool, llvm: bool = False) -> List[str]:
	"""The kernel make's ARCH=, CROSS_COMPILE=, CC= (or LLVM=1) for a build of
	arch (make buildcheck)."""
	spec = build_spec(arch)
	if llvm:
		return [f'ARCH={arch}', 'LLVM=1']
	args = [f'ARCH={arch}']
	if spec.cross_compile:
		args.append(f'CROSS_COMPILE={spec.cross_compile}')
	return args + [f'CC=ccache {spec.cc}' if ccache else f'CC={spec.cc}']


# Not a leg, but a part of make test's matrix: the series applies with git
# am on a clean tree, bisects and runs with bare kunit.py.
PATCHES_CHECK = 'patches-check'


class Kernel(NamedTuple):
	# Where Debian's linux-source-<version> comes from: 'system' (the
	# machine's own apt sources, bookworm, installed as a package) or
	# the Debian suite it is fetched from into .cache/.
	source: str
	# What make test runs on it: legs, and PATCHES_CHECK for the series.
	test: Tuple[str, ...]
	# What make test SCOPE=ci runs (.ci/run: 90 minutes on 2 cores with
	# a cold ccache).
	ci: Tuple[str, ...]


_ALL = tuple(LEGS) + (PATCHES_CHECK,)

# Every kernel KERNEL= names, Debian's linux-source-<version>.
KERNELS: Dict[str, Kernel] = {
	# SCOPE=ci: the UML leg alone (about 5 minutes cold): the 6.12
	# delta applies, builds and runs the core's suites. The x86_64 leg
	# (dma-iommu's suites, about 11 minutes cold), the s390 leg and the
	# series check are left to make test: CI's 90 minutes also hold
	# make buildcheck's x86_64 module build.
	'6.12': Kernel(source='system', test=_ALL, ci=('um',)),
	# SCOPE=ci: left out for time.
	'7.2': Kernel(source='sid', test=('um',), ci=()),
	'7.3': Kernel(source='experimental', test=_ALL, ci=_ALL),
}

# The kernel KERNEL= defaults to (the machine's own).
DEFAULT_KERNEL = '6.12'
# The kernel series the series (drivers/iommu/patches/) is based on: make
# test runs it first, make patches and make presubmit on it.
MAINLINE_SERIES = '7.3'

# Where the overlay's new files live, and its series.
OVERLAY_DIRS = ('arch', 'drivers', 'include', 'lib')
PATCHES_DIR = 'drivers/iommu/patches'
SERIES_MAP = 'tools/series.map'
# tools/series.map's lines that describe a series, not a patch.
SERIES_KEYWORDS = ('series', 'subject', 'depends', 'to', 'cc')
MUTANTS_DIR = 'tools/mutants'
# Not a KUnit suite: the x86_64 leg's kmemleak scan after the suites
# (kmemleak.py), listed in x86_64.suites.
KMEMLEAK_SUITE = 'iommu_kmemleak'


def check_scope(scope: str) -> str:
	"""scope, if it is one make test and make mutate know: '' or 'ci'."""
	if scope not in ('', 'ci'):
		raise UsageError(f'unknown SCOPE={scope}: use SCOPE=ci (what .ci/run '
				 'runs) or leave it empty')
	return scope


def check_leg(name: str) -> str:
	"""name, if it is a leg; UsageError otherwise."""
	if name not in LEGS:
		raise UsageError(f"unknown leg '{name}': use one of: {' '.join(LEGS)}")
	return name


def check_kernel(name: str) -> str:
	"""name, if it is a kernel of the table; UsageError otherwise."""
	if name not in KERNELS:
		raise UsageError(f"unknown kernel '{name}': use one of: {' '.join(KERNELS)}")
	return name


def kernel_series(version: str) -> str:
	"""The series (VERSION.PATCHLEVEL) of a kernel version 'V.P.S'."""
	return '.'.join(version.split('.')[:2])


# ------------------------------------------------------------ the kernels

def kernel_source(kernel: str) -> str:
	"""Where Debian's linux-source-<kernel> comes from."""
	return KERNELS[check_kernel(kernel)].source


def matrix_kernels() -> List[str]:
	"""The kernels in make test's order: mainline first (the series'
	base), then the others in the table's order."""
	return [MAINLINE_SERIES] + [k for k in KERNELS if k != MAINLINE_SERIES]


def check_shards(legs: Sequence[str], kernels: Sequence[str]) -> None:
	"""LEGS= (legs, and patches-check) and KERNELS= (the table's)."""
	for w in legs:
		if w != PATCHES_CHECK and w not in LEGS:
			raise UsageError(f"unknown leg '{w}' in LEGS=: use some of: "
					 f"{' '.join(LEGS)} {PATCHES_CHECK}")
	for k in kernels:
		if k not in KERNELS:
			raise UsageError(f"unknown kernel '{k}' in KERNELS=: use some of: "
					 f"{' '.join(KERNELS)}")


def test_matrix(scope: str = '', legs: Sequence[str] = (),
		kernels: Sequence[str] = ()) -> List[Tuple[str, List[str]]]:
	"""What make test runs, as [(kernel, [leg or PATCHES_CHECK, ...])]:
	SCOPE=ci's share or all of it, only the legs (and patches-check) of
	legs and the kernels of kernels when they name any; a kernel left
	with nothing to run is left out."""
	check_scope(scope)
	check_shards(legs, kernels)
	out = []
	for k in matrix_kernels():
		if kernels and k not in kernels:
			continue
		items = KERNELS[k].ci if scope == 'ci' else KERNELS[k].test
		chosen = [w for w in items if not legs or w in legs]
		if chosen:
			out.append((k, chosen))
	return out


# ---------------------------------------------------------------- the legs

def packages(name: str, kernel: Optional[str] = None) -> List[str]:
	"""The Debian packages leg (or EXTRA_PACKAGES set) name needs, with
	Debian's kernel kernel (None: the user's KDIR): linux-source-<kernel>
	too when it comes from the machine's own apt sources."""
	if name == 'selftest':
		return list(SELFTEST_PACKAGES)
	if name in EXTRA_PACKAGES:
		pkgs = COMMON_PACKAGES + EXTRA_PACKAGES[name]
	else:
		pkgs = COMMON_PACKAGES + LEGS[check_leg(name)].packages
	if kernel is not None and kernel_source(kernel) == 'system':
		pkgs += (f'linux-source-{kernel}',)
	return list(pkgs)


def compiler(leg: str, ccache: bool) -> str:
	"""The CC= of the leg's builds: through ccache if ccache is true."""
	cc = LEGS[check_leg(leg)].cc
	return f'ccache {cc}' if ccache else cc


def make_args(leg: str, ccache: bool) -> List[str]:
	"""The kernel make's arguments for the leg: ARCH=, CROSS_COMPILE=, CC=."""
	spec = LEGS[check_leg(leg)]
	args = [f'ARCH={leg}']
	if spec.cross_compile:
		args.append(f'CROSS_COMPILE={spec.cross_compile}')
	return args + [f'CC={compiler(leg, ccache)}']


def kunit_arch_args(leg: str) -> List[str]:
	"""kunit.py's arguments for the leg's architecture (none for UML)."""
	spec = LEGS[check_leg(leg)]
	args = []
	if spec.kunit_arch:
		args.append(f'--arch={spec.kunit_arch}')
	if spec.cross_compile:
		args.append(f'--cross_compile={spec.cross_compile}')
	return args


def kunitconfig_dir(top: str, series: str) -> str:
	"""Where the kunitconfig fragments and suite lists that not every
	kernel shares live for kernel series series: kunitconfig/<series>/
	if there is one (6.12: a backport lacking mainline's newer APIs),
	else kunitconfig/mainline/ (what the mainline series adds: 7.2, 7.3,
	a newer KDIR). A kernel with patch deltas only
	(drivers/iommu/patches/7.2/) still gets mainline's."""
	d = os.path.join(top, 'kunitconfig', series)
	return d if os.path.isdir(d) else os.path.join(top, 'kunitconfig', 'mainline')


def leg_files(top: str, leg: str, suffix: str, series: str) -> List[str]:
	"""The leg's files with suffix (kunitconfig, suites) that exist, for
	kernel series series: the leg's own, then the kernel's."""
	check_leg(leg)
	name = f'{leg}.{suffix}'
	paths = [os.path.join(top, 'kunitconfig', name)]
	if series:
		paths.append(os.path.join(kunitconfig_dir(top, series), name))
	return [p for p in paths if os.path.isfile(p)]


def read_suites(path: str) -> List[str]:
	"""The suite names of a .suites file ('#' starts a comment; "skip:"
	lines are read_skips()')."""
	with open(path) as f:
		names = [line.split('#')[0].strip() for line in f]
	return [s for s in names if s and not s.startswith('skip:')]


def read_skips(path: str) -> List[str]:
	"""The case globs ("suite.case[.param]") of a .suites file's "skip:"
	lines: the cases allowed to skip in the leg, each for a reason its
	comment gives."""
	with open(path) as f:
		lines = [line.split('#')[0].strip() for line in f]
	return [s[5:].strip() for s in lines if s.startswith('skip:')]


def expected_skips(top: str, leg: str, series: str) -> List[str]:
	"""The case globs leg may skip on kernel series series: no other case
	of its suites may (its configuration gives every case what it needs)."""
	out: List[str] = []
	for path in leg_files(top, leg, 'suites', series):
		out += read_skips(path)
	return out


def expected_suites(top: str, leg: str, series: str) -> List[str]:
	"""The suites leg must run on kernel series series, in order."""
	out: List[str] = []
	for path in leg_files(top, leg, 'suites', series):
		out += [s for s in read_suites(path) if s not in out]
	return out


def check_suite_glob(top: str, leg: str, series: str, glob: str) -> List[str]:
	"""The KUnit suites of leg on series that SUITE=glob (kunit.py's
	filter: "suite" or "suite.test") selects; UsageError if none."""
	suites = [s for s in expected_suites(top, leg, series) if s != KMEMLEAK_SUITE]
	chosen = [s for s in suites if fnmatch.fnmatchcase(s, glob.split('.')[0])]
	if not chosen:
		raise UsageError(f'SUITE={glob} selects no suite of leg {leg} on kernel '
				 f"{series} (its suites: {' '.join(suites)}): kunit.py "
				 'would run nothing')
	return chosen


def have_ccache() -> bool:
	"""Whether ccache is on PATH (builds use it if so)."""
	import shutil	# here: it imports a dozen modules a run rarely needs
	return shutil.which('ccache') is not None


def junit_mode(kunit_py: str) -> str:
	"""How a run gets its JUnit XML from the tree whose kunit.py is
	kunit_py: 'kunit' if that kunit.py defines --junit (7.2 on), else
	'convert' (results.py converts the JSON and the KTAP: 6.12)."""
	with open(kunit_py, errors='replace') as f:
		return 'kunit' if "'--junit'" in f.read() else 'convert'


# ------------------------------------------------------------- the patches

def patch_files(paths: Sequence[str]) -> List[str]:
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


def file_legs(path: str) -> Optional[List[str]]:
	"""The legs whose triggers name kernel file path, in the table's
	order; None if no leg names it (it matters to every leg)."""
	legs = [leg for leg, spec in LEGS.items()
		if any(fnmatch.fnmatchcase(path, p) for p in spec.triggers)]
	return legs or None


def legs_for_patches(paths: Sequence[str], order: Sequence[str] = ()) -> List[str]:
	"""The legs make presubmit runs for patches paths, among (and in the
	order of) order, all legs if empty: those each file's triggers name,
	every one of order for a file no leg names."""
	if not paths:
		raise UsageError('no patch given')
	chosen = [check_leg(leg) for leg in order] or list(LEGS)
	want = set()
	for f in patch_files(paths):
		want.update(file_legs(f) or chosen)
	return [leg for leg in chosen if leg in want]


def legs_to_build(path: str, scope: str = '') -> List[str]:
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


def versioned_patches(top: str, d: str, series: str) -> List[str]:
	"""The patches of directory d (relative to top) for kernel series
	series, relative to top: d's *.patch, where d/<series>/ has one of
	the same name that one instead (an empty one: left out), then the
	other non-empty patches of d/<series>/; in the order of their file
	names."""
	def patches(rel: str) -> List[str]:
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


def overlay_patches(top: str, series: str) -> List[str]:
	"""The series' patches for kernel series series, relative to top."""
	return versioned_patches(top, PATCHES_DIR, series)


def backport_series(top: str) -> List[str]:
	"""The kernel series with backport deltas of their own."""
	d = os.path.join(top, PATCHES_DIR)
	if not os.path.isdir(d):
		return []
	return sorted(n for n in os.listdir(d) if os.path.isdir(os.path.join(d, n)))


def patch_set_name(top: str, series: str) -> str:
	"""Which set of patches a kernel series gets, in words."""
	if os.path.isdir(os.path.join(top, PATCHES_DIR, series)):
		return (f'the mainline series with the {series} backport deltas '
			f'({PATCHES_DIR}/{series}/)')
	return f'the mainline series ({PATCHES_DIR}/)'


# ---------------------------------------------------------------- mutants

def mutant_header(path: str) -> Dict[str, List[str]]:
	"""The "Legs:", "CI:" and "Oracle:" lines of a mutant's header
	(before its patch starts), each as its list of words."""
	out = {}
	with open(path, errors='replace') as f:
		for line in f:
			if line.startswith(('--- ', 'diff ')):
				break
			key, sep, value = line.rstrip('\n').partition(': ')
			if sep and key in ('Legs', 'CI', 'Oracle'):
				out[key] = value.split()
	return out


def mutant_kmemleak(path: str) -> bool:
	"""Whether a mutant's header has the line "Oracle: kmemleak" (the
	leaks only kmemleak sees: its x86_64 run scans)."""
	return 'kmemleak' in mutant_header(path).get('Oracle', [])


def patches_under(d: str) -> List[str]:
	"""The non-empty *.patch files under directory d and its
	subdirectories (a series' copies), in file-name order."""
	out = []
	for root, dirs, names in os.walk(d):
		dirs.sort()
		out += [os.path.join(root, n) for n in sorted(names)
			if n.endswith('.patch') and not n.startswith('.') and
			os.path.getsize(os.path.join(root, n)) > 0]
	return out


def mutant_files(top: str, leg: str) -> List[str]:
	"""Every mutant file that may run on leg, on any kernel series: its
	own (tools/mutants/<leg>/ and its series' copies), then the shared
	ones whose Legs: line names it."""
	shared = patches_under(os.path.join(top, MUTANTS_DIR, 'shared'))
	return (patches_under(os.path.join(top, MUTANTS_DIR, leg)) +
		[p for p in shared if leg in mutant_header(p).get('Legs', [])])


def leg_has_mutants(top: str, leg: str, scope: str = '') -> bool:
	"""Whether leg has mutants of its own or shared ones (a "Legs:" line
	naming it), on any kernel. With scope 'ci': one whose CI: line names
	leg."""
	return any(scope != 'ci' or leg in mutant_header(p).get('CI', [])
		   for p in mutant_files(top, leg))


def mutant_legs(top: str, legs: Sequence[str] = (),
		scope: str = '') -> List[Tuple[str, str]]:
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


def mutants(top: str, leg: str, series: str, glob: str = '',
	    scope: str = '') -> List[str]:
	"""The mutants of leg on kernel series series, relative to top: its
	own (tools/mutants/<leg>/, with series' copies), then those of
	tools/mutants/shared/ whose "Legs:" line names it; only those whose
	file name matches glob if there is one, and with scope 'ci' only
	those whose "CI:" line names leg."""
	check_leg(leg)
	check_scope(scope)
	own = versioned_patches(top, f'{MUTANTS_DIR}/{leg}', series)
	shared = [m for m in versioned_patches(top, f'{MUTANTS_DIR}/shared', series)
		  if leg in mutant_header(os.path.join(top, m)).get('Legs', [])]
	return [m for m in own + shared
		if (not glob or fnmatch.fnmatchcase(m.rsplit('/', 1)[-1], glob)) and
		(scope != 'ci' or leg in mutant_header(os.path.join(top, m)).get('CI', []))]


# ------------------------------------------------------------- series map

def overlay_new_files(top: str) -> List[str]:
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


def read_series_map(top: str) -> List[Tuple[str, List[str]]]:
	"""tools/series.map's patches as [(patch number, [file, ...])], the
	lines that describe a series (upstream.py reads them), comments and
	blank lines left out. UsageError if it is missing or a line does not
	start with a patch number."""
	path = os.path.join(top, SERIES_MAP)
	try:
		with open(path) as f:
			lines = f.read().splitlines()
	except OSError as e:
		raise UsageError(f'{SERIES_MAP}: cannot read it ({e.strerror})') from e
	rows = []
	for i, line in enumerate(lines, 1):
		if line.startswith('#') or not line.split():
			continue
		if line.split()[0] in SERIES_KEYWORDS:
			continue
		number, *files = line.split()
		if not number.isdigit():
			raise UsageError(f'{SERIES_MAP}:{i}: malformed line (expected a patch '
					 f'number, then the files that patch adds): {line.strip()}')
		rows.append((number, files))
	return rows


def check_series_map(top: str) -> None:
	"""Checks tools/series.map against the overlay: every new file is
	listed exactly once (under the patch that adds it), and every patch
	number it names exists in drivers/iommu/patches/. UsageError on the
	first problem."""
	rows = read_series_map(top)
	counts = collections.Counter(f for _, files in rows for f in files)
	for f in overlay_new_files(top):
		if counts[f] != 1:
			raise UsageError(f'{SERIES_MAP} lists {f} {counts[f]} times (it must be '
					 'listed once, under the patch that adds it)')
	patches = os.path.join(top, PATCHES_DIR)
	names = os.listdir(patches) if os.path.isdir(patches) else []
	for number, _ in rows:
		if not any(fnmatch.fnmatchcase(n, f'{number}-*.patch') for n in names):
			raise UsageError(f'{SERIES_MAP} names patch {number}, which '
					 f'{PATCHES_DIR}/ does not have')
