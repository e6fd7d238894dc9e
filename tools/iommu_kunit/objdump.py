# SPDX-License-Identifier: GPL-2.0-only
"""make objdump: s390_iommu_iotlb_sync_map() before (the tree's own) and
after the overlay, built with s390's defconfig (expolines on) in
.cache/objdump/{before,after}/: instruction counts and any indirect
branch (an expoline thunk other than the return's, or a basr through a
register)."""

import os
import re
from typing import TYPE_CHECKING, List, Tuple

from . import table
from .commands import prepare_main, tree_choice
from .common import EXIT_PASS, Context, InfraError, cpus, log

if TYPE_CHECKING:
	from .cli import Opts

INDIRECT = re.compile(r'__s390_indirect_jump_r([0-9]|1[0-35])$|basr\s+%r[0-9]+,%r[0-9]+')


def function_lines(disassembly: str, name: str) -> List[str]:
	"""The lines of function name in objdump -d's output."""
	out, inside = [], False
	for line in disassembly.splitlines():
		if line.endswith(f'<{name}>:'):
			inside = True
			continue
		if inside and not line.strip():
			inside = False
		if inside:
			out.append(line)
	return out


def count(lines: List[str]) -> Tuple[int, int]:
	"""(instructions but the nopr padding after the function, indirect
	branches)."""
	insns = [line for line in lines if re.match(r'^ +[0-9a-f]+:', line)]
	n = sum(1 for line in insns if not re.search(r'nopr\s+%r7$', line))
	ind = sum(1 for line in lines if INDIRECT.search(line))
	return n, ind


def main(ctx: Context, opts: 'Opts') -> int:
	kernel, kdir = tree_choice(opts)
	tree = prepare_main(ctx, kernel, kdir, 's390')
	mk = table.make_args('s390', table.have_ccache())
	for which in ('before', 'after'):
		d = os.path.join(ctx.cache, 'objdump', which)
		src = tree.src if which == 'before' else tree.wsrc
		os.makedirs(d, exist_ok=True)
		log(f'objdump: building drivers/iommu/s390-iommu.o ({which}) in {d}')
		if ctx.run(['make', '-s', '-C', src, f'O={d}'] + mk + ['defconfig'],
			   capture=True).returncode or \
		   ctx.run(['make', '-s', '-C', src, f'O={d}'] + mk +
			   [f'-j{cpus()}', 'drivers/iommu/s390-iommu.o']).returncode:
			raise InfraError(f'the s390 build of drivers/iommu/s390-iommu.o ({which}) failed')
		r = ctx.run(['s390x-linux-gnu-objdump', '-dr', '--no-show-raw-insn',
			     os.path.join(d, 'drivers/iommu/s390-iommu.o')], capture=True)
		if r.returncode:
			raise InfraError(f's390x-linux-gnu-objdump failed: {r.stderr.strip()}')
		lines = function_lines(r.stdout, 's390_iommu_iotlb_sync_map')
		out = os.path.join(d, 's390_iommu_iotlb_sync_map.s')
		with open(out, 'w') as f:
			f.write('\n'.join(lines) + '\n')
		n, ind = count(lines)
		log(f'objdump: {which}: s390_iommu_iotlb_sync_map: {n} instructions, {ind} '
		    f'indirect branches ({out})')
	return EXIT_PASS
