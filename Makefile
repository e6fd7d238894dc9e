# SPDX-License-Identifier: GPL-2.0-only
#
# Every target but clean and distclean is a command of the runner,
# tools/iommu-kunit (Python: tools/iommu_kunit/): `make help` lists them
# and their variables, `tools/iommu-kunit COMMAND --help` says more.
#
# Only make's command line passes variables (make run ARCH=x86_64): each
# one given there goes to the runner, which rejects one the target does not
# take; an ARCH=, KERNEL=, KDIR= ... exported in the environment is ignored
# (the runner says so). make exits 2 on any failure: the runner's own exit
# code (0 pass, 1 test failure, 2 usage, 3 infrastructure) is on its last
# line, "[iommu-kunit] verdict: ... (exit N)", and tools/iommu-kunit
# returns it.

.DEFAULT_GOAL := help

# Debian's python3 (0.01 s to start; a pyenv shim on PATH takes 0.15 s),
# unless IOMMU_KUNIT_PYTHON names another.
PYTHON := $(or $(IOMMU_KUNIT_PYTHON),$(wildcard /usr/bin/python3),python3)
RUNNER := $(PYTHON) tools/iommu-kunit

# The variables of make's command line, quoted for the shell.
cmdline_vars := $(strip $(foreach v,$(.VARIABLES),$(if $(filter command line,$(origin $(v))),$(v))))
quote = '$(subst ','\'',$(1))'
runner_args := $(foreach v,$(cmdline_vars),$(call quote,$(v)=$($(v))))

COMMANDS := help run test total checkpatch prepare fetch coverage mutate presubmit \
	flake bench objdump patches patches-check buildcheck selftest

.PHONY: $(COMMANDS) clean distclean

$(COMMANDS):
	@$(RUNNER) $@ $(runner_args)

clean distclean:
	@if [ -n "$(cmdline_vars)" ]; then \
		echo "make $@: takes no variable (given: $(cmdline_vars))" >&2; exit 2; fi
	rm -rf $(if $(filter clean,$@),.cache/work results,.cache results)
