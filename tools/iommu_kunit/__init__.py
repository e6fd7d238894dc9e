# SPDX-License-Identifier: GPL-2.0-only
"""The runner for the IOMMU KUnit suites, shaped like the kernel's
kunit_tool (tools/testing/kunit/): argparse subcommands (cli.py), and a
module for each part of the work:

  common.py     exit codes and errors, logging, paths, how commands run
  table.py      the leg x kernel table and the decisions taken from it
  locks.py      flock-based locks between runs
  sources.py    Debian packages, kernel trees (fetch, unpack, KDIR checks)
  overlay.py    staging the overlay (patch -F0) and the stage key
  treesync.py   a KDIR's incremental sync into its work copy
  ktap.py       KTAP from kunit.py's test.log, and each case's log
  qemu.py       the x86_64 guest (initramfs, QEMU accelerator), qemu_configs
  kunit_run.py  kunit.py config / the kernel's make / kunit.py exec: a leg
  results.py    kunit.py's JSON checked, JUnit, totals, JSON+JUnit reports
  kmemleak.py   kmemleak's scan as the case iommu_kmemleak
  coverage.py   make coverage's table and the guest's gcov counters
  series.py     make patches and make patches-check
  commands.py   run, test, total, checkpatch, prepare, fetch
  mutate.py, presubmit.py, flake.py, bench.py, objdump.py, coverage_cmd.py,
  buildcheck.py, selftest.py: one command each

tools/iommu-kunit is its entry point (python3 tools/iommu-kunit --help)."""
