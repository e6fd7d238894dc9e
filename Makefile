# SPDX-License-Identifier: GPL-2.0-only
#
# make run     build a KUnit kernel with the overlay and run the suites
# make test    every leg plus checkpatch (what .ci/run calls)
#   LEGS="um x86_64 s390 patches-check" KERNELS="6.12 7.2 7.3": a share of it
# make total   the verdict and total of make test's results (of separate jobs)
# make bench   edit->result loop on UML, default tree and KDIR, vs kunit.py's
# make coverage [ARCH=um|x86_64]   gcov kernel, lcov HTML and the table of
#   error lines no case reaches, in results/<tree>/coverage/<arch>/
#
# make mutate [MUTANTS=glob]  deliberate regressions, each must make a test fail
# make presubmit PATCHES=file-or-dir   run the legs candidate patches need
# make flake [N=20]   the UML leg N times, results must not differ
# make objdump  s390_iommu_iotlb_sync_map() before/after, s390 cross build
# make patches [PATCH_DIR=dir]   the upstream series (git format-patch)
# make patches-check   git am on a clean tree, build after each patch, bare kunit.py
# make selftest  the runner's own unit tests (seconds, no kernel build)
#
# Options: ARCH=um|x86_64|s390  KERNEL=6.12|7.2|7.3  KDIR=/path/to/linux  SUITE=glob
#   KERNEL= Debian's linux-source-<version> (default 6.12, the machine's own;
#   7.2 from sid, 7.3 from experimental, fetched once into .cache/);
#   KDIR= your own kernel tree instead (not both)
ARCH ?= um
KERNEL ?=
KDIR ?=
SUITE ?=
PATCHES ?=
N ?= 20
PATCH_DIR ?=
SCOPE ?=
LEGS ?=
KERNELS ?=
MUTANTS ?=

RUNNER := tools/iommu-kunit
OPTS = ARCH=$(ARCH) KERNEL=$(KERNEL) KDIR=$(KDIR) SUITE=$(SUITE) PATCHES=$(PATCHES) PATCH_DIR=$(PATCH_DIR) N=$(N) SCOPE=$(SCOPE) LEGS="$(LEGS)" KERNELS="$(KERNELS)" MUTANTS="$(MUTANTS)"

.PHONY: selftest run test total checkpatch bench coverage mutate presubmit flake objdump patches patches-check prepare clean distclean

run test total checkpatch bench coverage mutate presubmit flake objdump patches patches-check prepare:
	@$(RUNNER) $@ $(OPTS)

selftest:
	@python3 -m unittest discover -s tools/tests -p "*_test.py"

clean:
	rm -rf .cache/work results

distclean:
	rm -rf .cache results
