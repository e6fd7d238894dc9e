# SPDX-License-Identifier: GPL-2.0-only
"""One leg on a work copy: kunit.py config, the kernel's make, kunit.py exec.

kunit.py run is config + build + exec. The runner calls kunit.py config
only when what it depends on changed (the kunitconfigs, our Kconfig, the
compiler, --kconfig_add), builds with the kernel's make as kunit.py build
runs it but without regenerating compile_commands.json on every run (a
"[iommu-kunit] building: N objects compiled so far" line every 30 s while
make is silent; make's output goes to the build directory's build.log),
and lets kunit.py exec boot the kernel and parse the results. Then:
the KTAP saved beside the JSON, kmemleak's case (x86_64), the JUnit XML
(converted here where the tree's kunit.py has no --junit), the kernel
version in the JSON, and the check that every expected suite ran."""

import contextlib
import hashlib
import os
import re
import subprocess
import sys
import threading
import time
from typing import IO, Iterator, List, NamedTuple, Optional, Sequence

from . import kmemleak, ktap, qemu, results, table
from .common import Context, KunitArgs, UsageError, cpus, log, read_text, write_text
from .sources import Tree


class LegResult(NamedTuple):
	# 'pass', 'fail' (a case failed, a suite is missing, kmemleak) or
	# 'infra' (config, build or boot failed: no results).
	status: str
	json: str
	xml: str
	ktap: str
	message: str = ''


@contextlib.contextmanager
def redirected(out: Optional[IO[str]]) -> Iterator[None]:
	"""The run's own lines (stdout and stderr) into out, if given."""
	if out is None:
		yield
		return
	with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
		yield


def progress_monitor(build: str, mark: float, stop: threading.Event,
		     every: float, out: IO[str]) -> None:
	"""Says how many objects make compiled so far, every `every` seconds
	while make runs (kunit.py is silent then)."""
	start = time.monotonic()
	last = -1
	while not stop.wait(every):
		n = 0
		for root, _, names in os.walk(build):
			for name in names:
				if name.endswith('.o'):
					try:
						if os.stat(os.path.join(root, name)).st_mtime >= mark:
							n += 1
					except OSError:
						pass
		if n != last:
			last = n
			log(f'building: {n} objects compiled so far, '
			    f'{int(time.monotonic() - start)}s elapsed', out)


def build_errors(build_log: str, n: int = 40) -> List[str]:
	"""The lines of make's log that say error, as the runner shows them."""
	try:
		lines = read_text(build_log).splitlines()
	except OSError:
		return []
	return [line for line in lines if re.search(r'error|Error', line)][:n]


def config_stamp(wsrc: str, kunitconfigs: Sequence[str], cc: str,
		 extra: Sequence[str], kconfig_add: Sequence[str]) -> str:
	"""What kunit.py config depends on: when it changes, config runs."""
	h = hashlib.sha1()
	for path in [os.path.join(wsrc, 'drivers/iommu/.kunitconfig'), *kunitconfigs,
		     os.path.join(wsrc, 'drivers/iommu/Kconfig')]:
		try:
			with open(path, 'rb') as f:
				h.update(f.read())
		except OSError:
			h.update(b'\0missing ' + path.encode())
	h.update(' '.join([cc, *extra, *kconfig_add]).encode())
	return h.hexdigest()


def run_leg(ctx: Context, tree: Tree, leg: str, suite: str = '',
	    kunit: KunitArgs = KunitArgs(), coverage: bool = False,
	    kmemleak_on: bool = True, out: Optional[IO[str]] = None) -> LegResult:
	"""Runs the suites of leg on the work copy of tree (staged before),
	and checks the results; out: where its lines go (the terminal)."""
	with redirected(out):
		return _run_leg(ctx, tree, leg, suite, kunit, coverage, kmemleak_on, out)


def _run_leg(ctx: Context, tree: Tree, leg: str, suite: str, kunit: KunitArgs,
	     coverage: bool, kmemleak_on: bool, out: Optional[IO[str]]) -> LegResult:
	name = leg + ('-cov' if coverage else '')
	if not os.path.isfile(os.path.join(ctx.top, 'kunitconfig', f'{leg}.kunitconfig')):
		raise UsageError(f'ARCH={leg} has no kunitconfig/{leg}.kunitconfig yet')
	build = os.path.join(tree.work, f'build-{name}')
	json_path = os.path.join(tree.results, f'kunit-{name}.json')
	xml_path = os.path.join(tree.results, f'kunit-{name}.xml')
	ktap_path = os.path.join(tree.results, f'kunit-{name}.ktap')
	os.makedirs(build, exist_ok=True)
	os.makedirs(tree.results, exist_ok=True)
	for p in (json_path, xml_path, ktap_path):
		if os.path.lexists(p):
			os.unlink(p)

	def infra(msg: str) -> LegResult:
		log(f'ARCH={leg}: {msg}')
		return LegResult('infra', json_path, xml_path, ktap_path, msg)

	ccache = table.have_ccache()
	cc = table.compiler(leg, ccache)
	kunitconfigs = table.leg_files(ctx.top, leg, 'kunitconfig', tree.series)
	extra = qemu.leg_extra_args(ctx, leg, build, coverage)
	common = ([f'--build_dir={build}',
		   f'--kunitconfig={tree.wsrc}/drivers/iommu/.kunitconfig'] +
		  [f'--kunitconfig={k}' for k in kunitconfigs] +
		  ['--make_options', f'CC={cc}'] + table.kunit_arch_args(leg))
	make_args = table.make_args(leg, ccache) + [f'O={build}',
						    f'--jobs={kunit.jobs or cpus()}']
	for a in extra:
		if a.startswith('--make_options='):
			make_args.append(a[len('--make_options='):])
		else:
			common.append(a)
	# A --qemu_config names the arch, in place of --arch=.
	if any(a.startswith('--qemu_config=') for a in extra):
		common = [a for a in common if not a.startswith('--arch=')]
	config_args = common + [f'--kconfig_add={k}' for k in kunit.kconfig_add]
	kunit_py = os.path.join('tools', 'testing', 'kunit', 'kunit.py')

	stamp = config_stamp(tree.wsrc, kunitconfigs, cc, extra, kunit.kconfig_add)
	stamp_file = os.path.join(build, '.iommu-kunit-config')
	try:
		old_stamp = read_text(stamp_file).strip()
	except OSError:
		old_stamp = ''
	if not os.path.isfile(os.path.join(build, '.config')) or old_stamp != stamp:
		log(f"ARCH={leg}: kunit.py config {' '.join(config_args)}")
		if ctx.run([ctx.python, kunit_py, 'config'] + config_args, cwd=tree.wsrc,
			   out=out).returncode != 0:
			return infra('kunit.py config failed')
		write_text(stamp_file, stamp + '\n')

	log(f"ARCH={leg}: make {' '.join(make_args)}")
	mark = time.time() - 1
	stop = threading.Event()
	every = float(ctx.env.get('IOMMU_KUNIT_PROGRESS_SECS', '30'))
	mon = threading.Thread(target=progress_monitor,
			       args=(build, mark, stop, every, out or sys.stdout), daemon=True)
	mon.start()
	t0 = time.monotonic()
	build_log = os.path.join(build, 'build.log')
	try:
		with open(build_log, 'w') as blog:
			rc = ctx.run(['make', '-C', tree.wsrc] + make_args, out=blog).returncode
	finally:
		stop.set()
		mon.join()
	log(f'ARCH={leg}: make took {int(time.monotonic() - t0)} s')
	if rc != 0:
		print('\n'.join(build_errors(build_log)), flush=True)
		return infra(f'the build failed (exit {rc}), full log in {build_log}')

	junit_mode = table.junit_mode(os.path.join(tree.wsrc, kunit_py))
	exec_args = list(common)
	if coverage:
		# Counters of this run only: UML adds to the .gcda files it finds.
		for root, _, names in os.walk(build):
			for n in names:
				if n.endswith('.gcda'):
					os.unlink(os.path.join(root, n))
	guest_out = os.path.join(build, 'guest.out')
	if os.path.lexists(guest_out):
		os.unlink(guest_out)
	# Booted with kmemleak=off, kmemleak costs nothing (its hooks check
	# that it is on) and /init's scan fails at once, without its wait.
	scan = leg == 'x86_64' and kmemleak_on
	if leg == 'x86_64' and not kmemleak_on:
		exec_args.append('--kernel_args=kmemleak=off')
	exec_args += [f'--kernel_args={k}' for k in kunit.kernel_args]
	if kunit.timeout is not None:
		exec_args.append(f'--timeout={kunit.timeout}')
	raw = kunit.raw_output is not None
	if raw:
		exec_args.append(f'--raw_output={kunit.raw_output}' if kunit.raw_output
				 else '--raw_output')
	else:
		exec_args.append(f'--json={json_path}')
		if junit_mode == 'kunit':
			exec_args.append(f'--junit={xml_path}')
	if suite:
		exec_args.append(suite)
	log(f"ARCH={leg}: kunit.py exec {' '.join(exec_args[len(common):])}"
	    f'{qemu.accel_note(ctx, leg, tree.kver)}')
	env = qemu.wrapper_env(ctx, leg, tree.kver)
	rc = ctx.run([ctx.python, kunit_py, 'exec'] + exec_args, cwd=tree.wsrc, env=env,
		     out=out).returncode
	test_log = os.path.join(build, 'test.log')
	try:
		with open(test_log, errors='replace') as f:
			ktap_lines = ktap.extract(f)
	except OSError:
		ktap_lines = []
	if ktap_lines:
		write_text(ktap_path, '\n'.join(ktap_lines) + '\n')
	if raw and ktap_lines:
		# --raw_output: kunit.py exec printed the kernel's output and
		# parsed nothing; its parse command reads the saved log.
		parse = [ctx.python, kunit_py, 'parse', f'--json={json_path}']
		if junit_mode == 'kunit':
			parse.append(f'--junit={xml_path}')
		ctx.run(parse + [test_log], cwd=tree.wsrc, stdout=subprocess.DEVNULL)
	if not ktap_lines:
		return infra(f'the kernel printed no KTAP (exit {rc}): it did not boot or '
			     f'crashed before the suites; see {test_log}')
	if not os.path.isfile(json_path):
		return infra(f'kunit.py wrote no results (exit {rc})')
	log(f'ARCH={leg}: results in {json_path}, {xml_path} (JUnit) and {ktap_path} (KTAP)')

	failed = rc != 0 or results.count(json_path)[1] > 0
	logs = ktap.case_logs(ktap_lines)
	expected = table.expected_suites(ctx.top, leg, tree.series)
	if scan:
		passed, message = kmemleak.check(read_text(guest_out)
						 if os.path.isfile(guest_out) else '')
		kmemleak.report(passed, message)
		kmemleak.add_json(json_path, passed)
		logs[f'{kmemleak.SUITE}.{kmemleak.CASE}'] = message.splitlines()
		if junit_mode == 'kunit' and os.path.isfile(xml_path):
			kmemleak.add_junit(xml_path, passed, message)
		failed = failed or not passed
	elif leg == 'x86_64':
		log(f'ARCH={leg}: kmemleak off for this run')
		expected = [s for s in expected if s != table.KMEMLEAK_SUITE]
	if junit_mode != 'kunit':
		results.junit(json_path, xml_path, logs)
	results.set_kernel(json_path, tree.kver)
	if not results.check(json_path, expected, suite,
			     skips=table.expected_skips(ctx.top, leg, tree.series)):
		failed = True
	if not os.path.isfile(xml_path):
		log(f'ARCH={leg}: no JUnit XML in {xml_path}')
		failed = True
	return LegResult('fail' if failed else 'pass', json_path, xml_path, ktap_path)
