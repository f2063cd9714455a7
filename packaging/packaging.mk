# --- shipping: one .deb per tool, single executables (packaging/README.md) -------------------
# Paste into the Makefile (or `include packaging/packaging.mk`). Uses deps, build/.tsc-stamp.
DEBS ?= debs
BUNDLE := build/packaging/bundle
VERSION := $(shell node -p 'require("./package.json").version' 2>/dev/null)
PACKAGING_SOURCES := $(wildcard packaging/*.mjs packaging/*.sh) tools/hwdetect/data/hwdetect.service tools/hwdetect/scripts/capture-sysfs.sh $(wildcard tools/atomic/data/*)
.PHONY: bundle debs dist check-packaging

bundle: deps $(BUNDLE)/.stamp
$(BUNDLE)/.stamp: build/.tsc-stamp $(PACKAGING_SOURCES)
	node packaging/bundle.mjs $(BUNDLE)
	@touch $@

# debs/debian-atomic-<tool>_$(VERSION)_all.deb, checked by lintian (errors and warnings fail).
debs: deps $(DEBS)/.stamp
$(DEBS)/.stamp: $(BUNDLE)/.stamp
	packaging/build-debs.sh $(DEBS)
	@touch $@

# dist/debian-atomic (Node SEA) and dist/<tool> links to it; sizes in dist/SIZES. Not committed.
dist: deps dist/debian-atomic
dist/debian-atomic: $(BUNDLE)/.stamp
	packaging/sea.sh $(BUNDLE) dist

# The .debs installed in a fresh trixie tree, and the single executables: --help and one real
# invocation each (about 3 minutes, most of it mmdebstrap and apt).
check-packaging: debs dist
	scripts/run-tests.sh packaging
