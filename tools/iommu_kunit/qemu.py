# SPDX-License-Identifier: GPL-2.0-only
"""The QEMU legs' glue: kunit.py's qemu_configs read as kunit.py reads
them, the x86_64 guest (tools/qemu/: its /init, its kunit.py QEMU config,
the QEMU wrapper that picks TCG) and the accelerator it gets."""

import importlib.util
import os
import sys
from typing import Any, Dict, List, Optional

from .common import Context, InfraError

# Files make coverage profiles on the x86_64 guest (the only ones: the
# guest sends their counters out of its second serial port).
COVERAGE_FILES = ('iommu.o', 'dma-iommu.o', 's390-iommu.o')


def load_qemu_config(config_path: str, kunit_dir: str) -> Any:
	"""The QEMU_ARCH (a QemuArchParams) of a kunit.py qemu_config file,
	imported as kunit_kernel._get_qemu_ops() imports it: as a module of
	the tree's qemu_configs package, so that its "from ..qemu_config
	import QemuArchParams" finds the tree's own qemu_config.py."""
	saved = sys.path[:]
	had = sys.modules.pop('qemu_config', None)
	sys.path.insert(0, kunit_dir)
	try:
		name = '.' + os.path.join('qemu_configs', os.path.basename(config_path))
		spec = importlib.util.spec_from_file_location(name, config_path)
		if spec is None or spec.loader is None:
			raise InfraError(f'cannot load {config_path}')
		module = importlib.util.module_from_spec(spec)
		try:
			spec.loader.exec_module(module)
		except (ImportError, SyntaxError, OSError) as e:
			raise InfraError(f'cannot load {config_path}: {e}') from e
		if not hasattr(module, 'QEMU_ARCH'):
			raise InfraError(f'{config_path} has no QEMU_ARCH')
		return module.QEMU_ARCH
	finally:
		sys.path[:] = saved
		sys.modules.pop('qemu_config', None)
		if had is not None:
			sys.modules['qemu_config'] = had


def arch_kconfig(tree_src: str, leg: str) -> str:
	"""The kconfig kunit.py adds for leg's architecture on the tree:
	configs/arch_uml.config for UML, else qemu_configs/<leg>.py's."""
	kunit_dir = os.path.join(tree_src, 'tools', 'testing', 'kunit')
	if leg == 'um':
		with open(os.path.join(kunit_dir, 'configs', 'arch_uml.config')) as f:
			return f.read()
	params = load_qemu_config(os.path.join(kunit_dir, 'qemu_configs', f'{leg}.py'),
				  kunit_dir)
	return str(params.kconfig)


def accel(ctx: Context, leg: str, kver: str, kvm_pvm: str = '/sys/module/kvm_pvm') -> str:
	"""The accelerator QEMU gets for the x86_64 leg:
	IOMMU_KUNIT_QEMU_ACCEL=kvm or tcg if set; otherwise KVM (kunit.py's
	choice), except on a host whose KVM is kvm_pvm (this project's CI
	machines), where a 7.x x86_64 kernel never gets past "Decompressing
	Linux..." (6.12 boots): there, TCG. tools/qemu/qemu-system-x86_64
	applies it."""
	chosen = ctx.env.get('IOMMU_KUNIT_QEMU_ACCEL', '')
	if chosen:
		return chosen
	try:
		major = int(kver.split('.')[0])
	except ValueError:
		major = 0
	if leg == 'x86_64' and os.path.isdir(kvm_pvm) and major >= 7:
		return 'tcg'
	return 'kvm'


def accel_note(ctx: Context, leg: str, kver: str) -> str:
	if leg == 'x86_64' and accel(ctx, leg, kver) == 'tcg':
		return ' (QEMU: TCG, no KVM)'
	return ''


def leg_extra_args(ctx: Context, leg: str, build: str, coverage: bool = False) -> List[str]:
	"""The leg's extra kunit.py arguments (and --make_options=... for
	the kernel's make) for build directory build; coverage: make
	coverage's gcov build. The x86_64 guest boots with an initramfs whose
	/init (tools/qemu/init) runs after the suites (kunit_shutdown=none in
	tools/qemu/x86_64.py): it scans for leaks with kmemleak, and on the
	gcov build sends the counters of the files under test; both go out
	on the second serial port into build/guest.out."""
	out = []
	if coverage:
		out.append(f'--kunitconfig={ctx.top}/kunitconfig/coverage/{leg}.kunitconfig')
	if leg != 'x86_64':
		return out
	os.makedirs(build, exist_ok=True)
	with open(os.path.join(build, 'initramfs.list'), 'w') as f:
		f.write('dir /dev 0755 0 0\n'
			'nod /dev/console 0600 0 0 c 5 1\n'
			'nod /dev/ttyS1 0600 0 0 c 4 65\n'
			'dir /bin 0755 0 0\n'
			'file /bin/busybox /bin/busybox 0755 0 0\n'
			'dir /sys 0755 0 0\n'
			f'file /init {ctx.tools}/qemu/init 0755 0 0\n')
	# Relative to the build directory, kbuild's working directory: a path
	# of the work copy's own would differ in autoconf.h between work
	# copies (a mutant's, the series'), and ccache's depend mode, which
	# hashes the headers, would then compile each copy's kernel anew.
	with open(os.path.join(build, 'initramfs.kunitconfig'), 'w') as f:
		f.write('CONFIG_INITRAMFS_SOURCE="initramfs.list"\n')
	out += [f'--kunitconfig={build}/initramfs.kunitconfig',
		f'--qemu_config={ctx.tools}/qemu/{leg}.py',
		f'--qemu_args=-serial file:{build}/guest.out']
	if coverage:
		out += [f'--make_options=GCOV_PROFILE_{f}=y' for f in COVERAGE_FILES]
	return out


def wrapper_env(ctx: Context, leg: str, kver: str,
		env: Optional[Dict[str, str]] = None) -> Dict[str, str]:
	"""The environment kunit.py exec runs in: tools/qemu first on PATH
	(its qemu-system-x86_64 applies IOMMU_KUNIT_QEMU_ACCEL)."""
	e = dict(env if env is not None else ctx.env)
	e['IOMMU_KUNIT_QEMU_ACCEL'] = accel(ctx, leg, kver)
	e['PATH'] = os.path.join(ctx.tools, 'qemu') + os.pathsep + e.get('PATH', '')
	return e
