# SPDX-License-Identifier: GPL-2.0-only
"""make buildcheck: not implemented yet (a stub, so that the target
exists; its checks come with the series' rework)."""

from typing import TYPE_CHECKING

from .common import EXIT_USAGE, Context

if TYPE_CHECKING:
	from .cli import Opts


def main(ctx: Context, opts: 'Opts') -> int:
	print('make buildcheck: not implemented yet', flush=True)
	return EXIT_USAGE
