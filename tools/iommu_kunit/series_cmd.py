# SPDX-License-Identifier: GPL-2.0-only
"""make patches and make patches-check: the tree (mainline unless KERNEL=
or KDIR= says otherwise) prepared, then series.py, which holds the
series' own logic behind a narrow interface."""

import os
from typing import TYPE_CHECKING

from . import series, table
from .commands import prepare_main, tree_choice
from .common import EXIT_PASS, Context
from .sources import Tree

if TYPE_CHECKING:
	from .cli import Opts


def patches_check(ctx: Context, tree: Tree, scope: str) -> None:
	"""make patches-check on a prepared tree (make test calls it too)."""
	series.patches_check(ctx, tree, scope)


def main(ctx: Context, opts: 'Opts') -> int:
	# The series is mainline's: make patches and patches-check use the
	# mainline kernel unless told otherwise.
	kernel, kdir = tree_choice(opts, table.MAINLINE_SERIES)
	if opts.command == 'patches':
		# Who signs the series off, before the tree is fetched or copied.
		who = series.sender(ctx)
	tree = prepare_main(ctx, kernel, kdir)
	if opts.command == 'patches':
		out = opts.patch_dir or os.path.join(tree.results, 'patches')
		if not os.path.isabs(out):
			out = os.path.join(ctx.top, out)
		series.patches(ctx, tree, out, who)
	else:
		patches_check(ctx, tree, opts.scope)
	return EXIT_PASS
