# SPDX-License-Identifier: GPL-2.0-only
#
# make run     build a KUnit kernel with the overlay and run the suites
# make test    every leg plus checkpatch (what .ci/run calls)
# make bench   edit->result loop benchmark on UML
#
# Options: ARCH=um|x86_64|s390  KDIR=/path/to/linux  SUITE=glob
ARCH ?= um
KDIR ?=
SUITE ?=

RUNNER := tools/iommu-kunit
OPTS = ARCH=$(ARCH) KDIR=$(KDIR) SUITE=$(SUITE)

.PHONY: run test checkpatch bench mutate prepare clean distclean

run test checkpatch bench mutate prepare:
	@$(RUNNER) $@ $(OPTS)

clean:
	rm -rf .cache/work results

distclean:
	rm -rf .cache results
