# SPDX-License-Identifier: GPL-2.0-only
#
# kunit.py --qemu_config for the x86_64 leg: kunit.py's own x86_64 config,
# but with kunit_shutdown=none, so that the kernel goes on to run
# tools/qemu/init from its initramfs after the suites (kmemleak's scan, and
# make coverage's counters), and panic=-1, so that a kernel that cannot run
# it ends QEMU (-no-reboot) instead of hanging until kunit.py's timeout.
# This line comes last on the kernel's command line (kunit.py puts its own
# first), so "--" hands the rest to busybox, as init's arguments.
from ..qemu_config import QemuArchParams

QEMU_ARCH = QemuArchParams(linux_arch='x86_64',
			   kconfig='''
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y''',
			   qemu_arch='x86_64',
			   kernel_path='arch/x86/boot/bzImage',
			   kernel_command_line='console=ttyS0 kunit_shutdown=none panic=-1 '
					   'rdinit=/bin/busybox -- sh /init',
			   extra_qemu_params=['-bios', 'qboot.rom'])
