# SPDX-License-Identifier: GPL-2.0-only
"""The command line: `tools/iommu-kunit COMMAND [VAR=value ...] [--option ...]`.

Each make target is a subcommand (argparse, as kunit.py's run, config,
build, exec). Its settings are make's variables, given as VAR=value words
(what the Makefile passes: only the variables of make's command line) or
as the options of the same name (--arch, --kernel, ...); a variable the
command does not take is a usage error naming it. kunit.py's own options
--kconfig_add, --kernel_args, --timeout, --raw_output and --jobs pass
through, on the command line or in KUNIT_ARGS="...".

The environment does not choose: an ARCH=, KDIR=, KERNEL=, CROSS_COMPILE=
(or any of the variables below) exported in the environment is ignored,
with a note saying so, and ARCH, CROSS_COMPILE and make's own variables
never reach the kernel's make.

Every command ends with a verdict line, "[iommu-kunit] verdict: ...
(exit N)", and exits 0 (pass), 1 (a test failed, a mutant survived, a
flake run differed), 2 (usage: bad arguments or inputs, nothing run) or
3 (infrastructure: a fetch, a package install, a build or a boot failed)."""

import argparse
import os
import re
import shlex
import sys
import time
import traceback
from typing import Callable, Dict, List, NamedTuple, NoReturn, Optional, Sequence, Tuple

from . import table
from .common import (EXIT_FAIL, EXIT_INFRA, EXIT_PASS, EXIT_USAGE, Context, KunitArgs,
		     RunnerError, UsageError, error, note)

# make's variables: the option each one is, and what it means.
VARIABLES: Dict[str, Tuple[str, str]] = {
	'ARCH': ('--arch', 'the leg: um (default), x86_64 or s390'),
	'KERNEL': ('--kernel', "Debian's kernel: 6.12 (default), 7.2 or 7.3 (mainline)"),
	'KDIR': ('--kdir', 'your own kernel tree instead of KERNEL= (never modified)'),
	'SUITE': ('--suite', 'kunit.py\'s filter glob ("suite" or "suite.test"); it must '
		  "select one of the leg's suites"),
	'KUNIT_ARGS': ('--kunit-args', "kunit.py options passed through (--kconfig_add, "
		       '--kernel_args, --timeout, --raw_output, --jobs), as one word'),
	'LEGS': ('--legs', 'a share of the legs (make test: patches-check too)'),
	'KERNELS': ('--kernels', "a share of make test's kernels"),
	'SCOPE': ('--scope', 'ci: what .ci/run runs'),
	'N': ('--n', 'make flake: how many runs (a positive integer, default 20)'),
	'MUTANTS': ('--mutants', 'make mutate: a glob of mutant file names (must match one)'),
	'CONFIGS': ('--configs', 'make buildcheck: globs of configuration and run names, '
		    'separated by spaces or commas (each must match one)'),
	'PATCHES': ('--patches', 'make presubmit: a patch file, or a directory of *.patch'),
	'PATCH_DIR': ('--patch-dir', 'make patches: where the series goes'),
	'REFRESH': ('--refresh', 'make fetch: 1 asks Debian for a newer version of KERNEL='),
}

# Also never taken from the environment, though no command takes it.
ENV_IGNORED = ('CROSS_COMPILE',)

TREE = ('KERNEL', 'KDIR')
KUNIT = ('KUNIT_ARGS',)


class Command(NamedTuple):
	help: str
	variables: Tuple[str, ...]
	# Takes kunit.py's pass-through options.
	kunit: bool
	module: str


COMMANDS: Dict[str, Command] = {
	'run': Command('build a KUnit kernel with the overlay and run the suites',
		       ('ARCH',) + TREE + ('SUITE',) + KUNIT, True, 'commands'),
	'test': Command('every kernel and leg, checkpatch, the series check (CI)',
			TREE + ('SCOPE', 'LEGS', 'KERNELS', 'SUITE') + KUNIT, True, 'commands'),
	'total': Command("the verdict and total of make test's results (of separate jobs)",
			 ('SCOPE', 'LEGS', 'KERNELS'), False, 'commands'),
	'checkpatch': Command('checkpatch.pl --strict on the new files and the series',
			      TREE, False, 'commands'),
	'prepare': Command('the work copy only (tree synced, overlay staged)',
			   ('ARCH',) + TREE, False, 'commands'),
	'fetch': Command("get Debian's kernel source (REFRESH=1: a newer one if Debian "
			 'has it); prints the version unpacked', ('KERNEL', 'REFRESH'),
			 False, 'commands'),
	'coverage': Command('the suites on a gcov kernel: lcov HTML and the table of '
			    'error lines no case reaches', ('ARCH',) + TREE + ('SUITE',) + KUNIT,
			    True, 'coverage_cmd'),
	'mutate': Command('deliberate regressions: each must make a test fail',
			  TREE + ('LEGS', 'SCOPE', 'MUTANTS', 'SUITE') + KUNIT, True, 'mutate'),
	'presubmit': Command('run the legs candidate patches need (on mainline by default)',
			     ('PATCHES',) + TREE + ('LEGS', 'SUITE') + KUNIT, True, 'presubmit'),
	'flake': Command('the UML leg N times: the results must not differ',
			 ('N',) + TREE + ('SUITE',) + KUNIT, True, 'flake'),
	'bench': Command("edit->result loop on UML, default tree and KDIR, vs kunit.py's",
			 TREE, False, 'bench'),
	'objdump': Command('s390_iommu_iotlb_sync_map() before/after, s390 cross build',
			   TREE, False, 'objdump'),
	'patches': Command('the upstream series (git format-patch), on mainline by default',
			   ('PATCH_DIR',) + TREE, False, 'series_cmd'),
	'patches-check': Command('git am on a clean tree, a build after each patch, bare '
				 'kunit.py', TREE + ('SCOPE',), False, 'series_cmd'),
	'buildcheck': Command("the series as build bots and KernelCI meet it: configurations "
			      "built (W=1, modules, sparse, clang, other arches) and runs",
			      ('SCOPE', 'CONFIGS'), False, 'buildcheck'),
	'selftest': Command("the runner's own unit tests, mypy --strict and shellcheck",
			    (), False, 'selftest'),
}

EPILOG = """\
Variables are given as VAR=value (make's command line: make run ARCH=x86_64)
or as the option of the same name (--arch=x86_64). The environment's ARCH=,
KERNEL=, KDIR=, CROSS_COMPILE= ... are ignored (with a note).

Exit codes: 0 pass; 1 a test failed, a mutant survived or a flake run
differed; 2 usage (bad arguments or inputs, nothing run); 3 infrastructure
(a fetch, a package install, a build or a boot failed). make itself exits 2
on any failure: the verdict line "[iommu-kunit] verdict: ... (exit N)" gives
the runner's code, and tools/iommu-kunit returns it.

KERNEL= policy: 6.12 is the machine's linux-source-6.12 package (unpacked
again when dpkg says it changed); 7.2 and 7.3 are fetched from Debian sid
and experimental once and then pinned: every run prints the version it
uses, and `make fetch KERNEL=7.3 REFRESH=1` asks Debian for a newer one
(re-downloaded and re-unpacked if there is; the work copies' build
directories start over).
"""


class Parser(argparse.ArgumentParser):
	"""argparse whose errors are the runner's usage errors (exit 2)."""

	def error(self, message: str) -> NoReturn:
		see = f' (see {self.prog} --help)' if self.prog.startswith('iommu-kunit') else ''
		raise UsageError(f'{self.prog}: {message}{see}')


def positive_int(what: str) -> Callable[[str], int]:
	def conv(value: str) -> int:
		if not re.fullmatch(r'[0-9]+', value.strip()) or int(value) < 1:
			raise argparse.ArgumentTypeError(f'a positive integer, not {value!r}')
		return int(value)
	return conv


def add_kunit_options(p: argparse.ArgumentParser) -> None:
	"""kunit.py's options the runner passes through (the same names)."""
	g = p.add_argument_group("kunit.py's options, passed through (or in KUNIT_ARGS=)")
	g.add_argument('--kconfig_add', action='append', default=[], metavar='CONFIG_X=y',
		       help='kunit.py config: one more Kconfig option (repeatable)')
	g.add_argument('--kernel_args', action='append', default=[], metavar='ARG',
		       help="kunit.py exec: one more kernel command line argument (repeatable)")
	g.add_argument('--timeout', type=positive_int('--timeout'), metavar='SECONDS',
		       help='kunit.py exec: how long the suites may run')
	g.add_argument('--raw_output', nargs='?', const='all', choices=('all', 'full', 'kunit'),
		       help="kunit.py exec: print the kernel's output as it comes "
		       '(the results are parsed from its log after)')
	g.add_argument('--jobs', type=positive_int('--jobs'), metavar='N',
		       help="the kernel's make: jobs (default: the CPUs)")


def build_parser() -> Parser:
	p = Parser(prog='iommu-kunit',
		   description='Runner for the IOMMU KUnit suites: puts the overlay on a '
		   "work copy of a kernel tree and runs the kernel's kunit.py on it.",
		   epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
	sub = p.add_subparsers(dest='command', metavar='COMMAND')
	sub.add_parser('help', help='this help')
	for name, cmd in COMMANDS.items():
		lines = [f'  {v}= ({VARIABLES[v][0]})  {VARIABLES[v][1]}' for v in cmd.variables]
		epilog = ('make variables this command takes:\n' + '\n'.join(lines)
			  if lines else 'This command takes no variable.')
		sp = sub.add_parser(name, help=cmd.help, description=cmd.help, epilog=epilog,
				    formatter_class=argparse.RawDescriptionHelpFormatter)
		for v in cmd.variables:
			opt, helptext = VARIABLES[v]
			sp.add_argument(opt, dest=v.lower(), metavar=v, help=helptext)
		if cmd.kunit:
			add_kunit_options(sp)
		sp.add_argument('vars', nargs='*', metavar='VAR=value',
				help="the same, as make's command line gives them")
	return p


class Opts(NamedTuple):
	"""A command's settings, checked."""
	command: str
	arch: str = 'um'
	kernel: Optional[str] = None
	kdir: Optional[str] = None
	suite: str = ''
	legs: Tuple[str, ...] = ()
	kernels: Tuple[str, ...] = ()
	scope: str = ''
	n: int = 20
	mutants: str = ''
	configs: str = ''
	patches: str = ''
	patch_dir: str = ''
	refresh: bool = False
	kunit: KunitArgs = KunitArgs()
	# The variables given on the command line.
	given: Tuple[str, ...] = ()


def parse_kunit_args(text: str) -> argparse.Namespace:
	"""KUNIT_ARGS="...": kunit.py's pass-through options."""
	p = Parser(prog='KUNIT_ARGS', add_help=False)
	add_kunit_options(p)
	try:
		words = shlex.split(text)
	except ValueError as e:
		raise UsageError(f'KUNIT_ARGS={text}: {e}') from e
	ns, rest = p.parse_known_args(words)
	if rest:
		raise UsageError(f"KUNIT_ARGS: kunit.py option {rest[0]!r} is not passed through "
				 '(these are: --kconfig_add, --kernel_args, --timeout, '
				 '--raw_output, --jobs)')
	return ns


def split_vars(args: Sequence[str]) -> Tuple[List[str], List[str]]:
	"""(the VAR=value words, the rest): a word VAR=value (VAR upper
	case) that is not the value of the option before it."""
	words: List[str] = []
	rest: List[str] = []
	prev = ''
	for a in args:
		takes_value = (prev.startswith('--') and '=' not in prev and
			       prev not in ('--raw_output', '--help'))
		if not takes_value and re.match(r'[A-Z_][A-Z0-9_]*=', a):
			words.append(a)
		else:
			rest.append(a)
		prev = a
	return words, rest


def parse(argv: Sequence[str], environ: Optional[Dict[str, str]] = None) -> Opts:
	"""The command line, checked: UsageError on anything wrong."""
	environ = dict(os.environ if environ is None else environ)
	p = build_parser()
	args = list(argv)
	if not args:
		raise UsageError('no command: make help (or tools/iommu-kunit --help) '
				 'lists them')
	if args[0] not in COMMANDS and args[0] not in ('help', '-h', '--help'):
		raise UsageError(f"unknown command '{args[0]}' (use one of: "
				 f"{' '.join(COMMANDS)}; --help says more)")
	words, rest = split_vars(args)
	ns = p.parse_args(rest)
	cmd = COMMANDS[ns.command]
	given: List[str] = [v for v in cmd.variables if getattr(ns, v.lower(), None) is not None]
	unknown: List[str] = []
	for word in ns.vars + words:
		m = re.fullmatch(r'([A-Za-z_][A-Za-z0-9_]*)=(.*)', word, re.S)
		if not m:
			raise UsageError(f"unknown argument '{word}' (make {ns.command} takes "
					 f"variables: {' '.join(v + '=' for v in cmd.variables) or 'none'})")
		name, value = m.group(1), m.group(2)
		if name not in cmd.variables:
			unknown.append(word)
			continue
		setattr(ns, name.lower(), value)
		if name not in given:
			given.append(name)
	if unknown:
		names = [w.split('=', 1)[0] for w in unknown]
		why = ('no make target takes ' + ('it' if len(names) == 1 else 'them')
		       if all(n not in VARIABLES for n in names) else
		       f'make {ns.command} does not take it' if len(names) == 1 else
		       f'make {ns.command} does not take them')
		raise UsageError(f"unknown variable{'s' if len(unknown) > 1 else ''} "
				 f"{' '.join(unknown)}: {why} (make {ns.command} takes: "
				 f"{' '.join(v + '=' for v in cmd.variables) or 'no variable'})")
	for name in list(VARIABLES) + list(ENV_IGNORED):
		if name in environ and name not in given:
			note(f'{name}={environ[name]} in the environment is ignored: only '
			     "make's command line (or tools/iommu-kunit's) sets it")

	def var(name: str) -> str:
		value = getattr(ns, name.lower(), None)
		return '' if value is None else str(value)

	kunit = KunitArgs()
	if cmd.kunit:
		extra = parse_kunit_args(var('KUNIT_ARGS')) if var('KUNIT_ARGS') else None
		kunit = KunitArgs(
			kconfig_add=tuple(ns.kconfig_add + (extra.kconfig_add if extra else [])),
			kernel_args=tuple(ns.kernel_args + (extra.kernel_args if extra else [])),
			timeout=ns.timeout if ns.timeout is not None else (extra.timeout if extra else None),
			raw_output=ns.raw_output if ns.raw_output is not None else
			(extra.raw_output if extra else None),
			jobs=ns.jobs if ns.jobs is not None else (extra.jobs if extra else None))
	arch = var('ARCH') or 'um'
	if 'ARCH' in cmd.variables:
		if arch not in table.LEGS:
			raise UsageError(f"unknown ARCH={arch}: use one of: {' '.join(table.LEGS)}")
	kernel = var('KERNEL') or None
	kdir = var('KDIR') or None
	if kernel and kdir:
		raise UsageError(f'KDIR= and KERNEL= are exclusive: KDIR={kdir} is your own tree, '
				 f"KERNEL={kernel} a Debian linux-source package")
	if kernel and kernel not in table.KERNELS:
		raise UsageError(f"unknown KERNEL={kernel}: use one of: {' '.join(table.KERNELS)} "
				 "(Debian's linux-source-<version> packages), or KDIR= for your "
				 'own tree')
	if kdir and not os.path.isabs(kdir):
		kdir = os.path.join(os.getcwd(), kdir)
	scope = table.check_scope(var('SCOPE'))
	legs = tuple(var('LEGS').split())
	kernels = tuple(var('KERNELS').split())
	table.check_shards(legs, kernels)
	if kernels and (kernel or kdir):
		raise UsageError('KERNELS= picks among Debian\'s kernels for make test and make '
				 'total; with KERNEL= or KDIR= (one tree), leave it out')
	n = 20
	if var('N'):
		if not re.fullmatch(r'[0-9]+', var('N')) or int(var('N')) < 1:
			raise UsageError(f"N={var('N')}: make flake needs a positive integer "
					 '(N=20)')
		n = int(var('N'))
	refresh = False
	if var('REFRESH'):
		if var('REFRESH') not in ('0', '1'):
			raise UsageError(f'REFRESH={var("REFRESH")}: use REFRESH=1 (ask Debian for '
					 'a newer version) or leave it out')
		refresh = var('REFRESH') == '1'
	return Opts(command=ns.command, arch=arch, kernel=kernel, kdir=kdir,
		    suite=var('SUITE'), legs=legs, kernels=kernels, scope=scope, n=n,
		    mutants=var('MUTANTS'), configs=var('CONFIGS'), patches=var('PATCHES'),
		    patch_dir=var('PATCH_DIR'),
		    refresh=refresh, kunit=kunit, given=tuple(given))


VERDICT = {
	EXIT_PASS: 'PASS',
	EXIT_FAIL: 'FAIL',
	EXIT_USAGE: 'USAGE',
	EXIT_INFRA: 'ERROR',
}
MEANING = {
	EXIT_PASS: 'passed',
	EXIT_FAIL: 'a test failed, a mutant survived or a flake run differed',
	EXIT_USAGE: 'bad arguments or inputs, nothing was run',
	EXIT_INFRA: 'infrastructure: a fetch, a package install, a build or a boot failed',
}


def verdict(command: str, code: int, seconds: float) -> str:
	return (f'[iommu-kunit] verdict: {command} {VERDICT.get(code, "ERROR")} '
		f'(exit {code}: {MEANING.get(code, "?")}) in {seconds:.1f} s')


def dispatch(ctx: Context, opts: Opts) -> int:
	"""Runs the command's module's main(ctx, opts)."""
	import importlib
	module = importlib.import_module(f'.{COMMANDS[opts.command].module}', __package__)
	rc: int = module.main(ctx, opts)
	return rc


def help_text() -> str:
	"""make help: the targets with their variables, and the variables."""
	lines = ['usage: make TARGET [VAR=value ...]   (or tools/iommu-kunit COMMAND '
		 '[VAR=value ...] [--option ...])', '', 'Targets (make help: this; '
		 'tools/iommu-kunit TARGET --help: one in full):']
	for name, cmd in COMMANDS.items():
		lines.append(f'  {name:<14}{cmd.help}')
		if cmd.variables:
			lines.append(f"  {'':<14}  {' '.join(v + '=' for v in cmd.variables)}"
				     + ('  (and kunit.py options)' if cmd.kunit else ''))
	lines += ['  clean         drop work copies, build dirs and results (keeps the '
		  'unpacked kernels and ccache)',
		  '  distclean     drop .cache entirely', '', 'Variables:']
	for v, (opt, text) in VARIABLES.items():
		lines.append(f'  {v + "=":<12}{text}')
	lines += ['', 'kunit.py options passed through (KUNIT_ARGS="..." or on '
		  'tools/iommu-kunit\'s command line):',
		  '  --kconfig_add CONFIG_X=y, --kernel_args ARG, --timeout SECONDS, '
		  '--raw_output[=all|full|kunit], --jobs N', '', EPILOG]
	return '\n'.join(lines)


def main(argv: Sequence[str], environ: Optional[Dict[str, str]] = None) -> int:
	"""The runner: parses, runs, prints the verdict; its exit code."""
	t0 = time.monotonic()
	command = argv[0] if argv else ''
	if command == 'help':
		if len(argv) > 1:
			error(f"make help takes no variable (given: {' '.join(argv[1:])})")
			return EXIT_USAGE
		print(help_text(), end='', flush=True)
		return 0
	if command in ('-h', '--help') or (len(argv) == 2 and argv[1] in ('-h', '--help')):
		try:
			build_parser().parse_args(list(argv))
		except SystemExit as e:
			return int(e.code or 0)
		except UsageError as e:
			error(str(e))
			return EXIT_USAGE
		return 0
	try:
		opts = parse(argv, environ)
		code = dispatch(Context(environ=environ), opts)
	except SystemExit as e:
		code = int(e.code or 0)
	except RunnerError as e:
		error(str(e))
		code = e.code
	except KeyboardInterrupt:
		error('interrupted')
		code = 130
	except Exception:
		traceback.print_exc()
		error('the runner itself failed (a bug: the traceback above)')
		code = EXIT_INFRA
	if code != 130:
		print(verdict(command or '(none)', code, time.monotonic() - t0), flush=True)
	return code


def entry() -> None:
	sys.exit(main(sys.argv[1:]))
