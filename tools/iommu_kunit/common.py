# SPDX-License-Identifier: GPL-2.0-only
"""What every module of the runner shares: exit codes and the errors that
carry them, logging, the checkout's paths, and how subprocesses are run
(the environment they get, the locks they inherit)."""

import os
import subprocess
import sys
from typing import Any, Dict, IO, Mapping, NamedTuple, Optional, Sequence

# The runner's exit codes (RUNNER-NOTES.md, "Exit codes").
EXIT_PASS = 0
# A test failed, a mutant survived, a flake run differed.
EXIT_FAIL = 1
# Bad arguments, variables or inputs (KDIR=, PATCHES=): nothing was run.
EXIT_USAGE = 2
# Infrastructure: a fetch, a package install, a build or a boot failed.
EXIT_INFRA = 3

# The repository: the overlay, kunitconfig/, tools/.
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class KunitArgs(NamedTuple):
	"""kunit.py's options the user passes through (KUNIT_ARGS=, or the
	same options on the runner's command line)."""
	kconfig_add: Sequence[str] = ()
	kernel_args: Sequence[str] = ()
	timeout: Optional[int] = None
	raw_output: Optional[str] = None
	jobs: Optional[int] = None


class RunnerError(Exception):
	"""A failure that ends the command: one 'iommu-kunit: error:' line
	(the message may have more lines), and the exit code code."""

	code = EXIT_INFRA


class UsageError(RunnerError):
	"""Bad input: exit 2."""

	code = EXIT_USAGE


class InfraError(RunnerError):
	"""Something the runner needs could not be had or made: exit 3."""

	code = EXIT_INFRA


class TestFailure(RunnerError):
	"""A test failed (or a mutant survived, a flake run differed): exit 1."""

	code = EXIT_FAIL


def log(msg: str, out: Optional[IO[str]] = None) -> None:
	"""A line of the runner's progress, on stdout, at once."""
	stream = out or sys.stdout
	print(f'[iommu-kunit] {msg}', file=stream, flush=True)


def error(msg: str) -> None:
	"""An error line on stderr (a message of several lines as it is)."""
	sys.stdout.flush()
	print(f'iommu-kunit: error: {msg}', file=sys.stderr, flush=True)


def note(msg: str) -> None:
	"""A note on stderr: something the runner ignored or chose."""
	print(f'iommu-kunit: note: {msg}', file=sys.stderr, flush=True)


# Variables of the user's environment that the kernel's make (kbuild) reads:
# kept away from every build, since only the runner's own arguments choose
# the architecture and the compiler. MAKEFLAGS and friends carry the make
# command line that started the runner (ARCH=, KERNEL=, ..., a jobserver)
# into the kernel's make: cut too.
# The runner's own variables go too (make exports its command line's).
BUILD_ENV_DROPPED = ('ARCH', 'CROSS_COMPILE', 'KBUILD_OUTPUT', 'LLVM',
		     'MAKEFLAGS', 'MFLAGS', 'MAKEOVERRIDES', 'MAKELEVEL',
		     'GNUMAKEFLAGS', 'KERNEL', 'KDIR', 'SUITE', 'KUNIT_ARGS', 'LEGS',
		     'KERNELS', 'SCOPE', 'N', 'MUTANTS', 'CONFIGS', 'PATCHES', 'PATCH_DIR',
		     'REFRESH')


class Context:
	"""Where a run works: the checkout (top), the cache and results
	directories, the Python that runs kunit.py, the environment commands
	get, and the lock file descriptors they inherit."""

	def __init__(self, top: str = TOP, environ: Optional[Mapping[str, str]] = None):
		env = dict(os.environ if environ is None else environ)
		self.top = top
		self.tools = os.path.join(top, 'tools')
		self.cache = env.get('IOMMU_KUNIT_CACHE') or os.path.join(top, '.cache')
		self.results_top = env.get('IOMMU_KUNIT_RESULTS') or os.path.join(top, 'results')
		# The Python that runs kunit.py: this one, or IOMMU_KUNIT_PYTHON.
		self.python = env.get('IOMMU_KUNIT_PYTHON') or sys.executable or 'python3'
		# ccache: one cache for every work copy, paths relative to them,
		# and its depend mode unless the user chose (see ccache_env).
		env.setdefault('CCACHE_DIR', os.path.join(self.cache, 'ccache'))
		env.setdefault('CCACHE_BASEDIR', os.path.join(self.cache, 'work'))
		self.ccache_depend_ours = ('CCACHE_DEPEND' not in env and
					   'CCACHE_NODEPEND' not in env)
		if self.ccache_depend_ours:
			env['CCACHE_DEPEND'] = '1'
		for name in BUILD_ENV_DROPPED:
			env.pop(name, None)
		self.env = env
		# The locks this run holds: lock file -> descriptor (locks.py).
		self.locks: Dict[str, int] = {}

	def users_env(self) -> Dict[str, str]:
		"""The environment with ccache as the user has it (make bench's
		kunit.py loop): without the depend mode the runner chose."""
		env = dict(self.env)
		if self.ccache_depend_ours:
			env.pop('CCACHE_DEPEND', None)
		return env

	def run(self, cmd: Sequence[str], cwd: Optional[str] = None,
		env: Optional[Mapping[str, str]] = None, check: bool = False,
		stdout: Optional[int] = None, stderr: Optional[int] = None,
		out: Optional[IO[str]] = None, text_input: Optional[str] = None,
		capture: bool = False,
		stdin: Optional[IO[str]] = None) -> 'subprocess.CompletedProcess[str]':
		"""Runs cmd with the run's environment; the locks this run holds
		are inherited (a build left running keeps them). capture: its
		output is returned; out: its stdout and stderr go to that file."""
		so: Any = stdout
		se: Any = stderr
		if capture:
			so = se = subprocess.PIPE
		elif out is not None:
			so, se = out, subprocess.STDOUT
		sys.stdout.flush()
		kw: Dict[str, Any] = {'stdout': so, 'stderr': se, 'stdin': stdin}
		if text_input is not None:
			kw = {'stdout': so, 'stderr': se, 'input': text_input}
		r: 'subprocess.CompletedProcess[str]' = subprocess.run(
			list(cmd), cwd=cwd, env=dict(env or self.env), check=check,
			text=True, pass_fds=tuple(self.locks.values()), **kw)
		return r


def cpus() -> int:
	"""The CPUs this run may use (nproc's answer): make's --jobs."""
	try:
		return len(os.sched_getaffinity(0)) or 1
	except (AttributeError, OSError):
		return os.cpu_count() or 1


def read_text(path: str) -> str:
	with open(path, errors='replace') as f:
		return f.read()


def write_text(path: str, text: str) -> None:
	"""Writes path (its directory made), through a temporary file: a run
	killed half way leaves the old file or the new one."""
	os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
	tmp = path + '.tmp'
	with open(tmp, 'w') as f:
		f.write(text)
	os.replace(tmp, path)


def newer(a: str, b: str) -> bool:
	"""Whether file a exists and its mtime is newer than b's (b missing:
	False), as test's -nt."""
	try:
		return os.stat(a).st_mtime_ns > os.stat(b).st_mtime_ns
	except FileNotFoundError:
		return False
