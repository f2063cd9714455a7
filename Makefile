# Debian Atomic: the glue. Every stage is a small tool that can also run alone;
# see README.md. Parameters: VARIANT (a treefile in variants/treefiles/), FORMAT, CACHE.
#
#   make                 deps, then the default variant's bootable image build/$(VARIANT)/disk.qcow2, and build/$(VARIANT)/report.html
#   make run             boot the image in QEMU, serial console here, logged in as root (Ctrl-a x quits)
#   make iso             an installer ISO of the variant, build/$(VARIANT)/installer.iso (ISO_CONFIG=install config)
#   make check           deps, then every test (unit + hostile-input suites, newcomer dry runs, boot tests of base and server)
#   make check-slow      reproducibility, Day-2 updates (OSTree HTTP, registry), package layering, Secure Boot, installer ISO, derived images, desktops, hwdetect report, make run, fresh clones (QEMU, slow)
#   make debs / make dist  one .deb per tool in debs/; single executables in dist/ (packaging/)
#
# Layout: build/<variant>/{treefile.json,rootfs/,disk.<format>,...}, build/repo (the OSTree repo,
# shared by all variants: one ref per variant), build/test-logs/.
VARIANT ?= base
# INCREMENTAL=1: rootfs starts from the cached tree of the same inputs and apt-installs only the
# packages added since (mkosi's --incremental): a fast rebuild, not byte-identical to a cold one.
INCREMENTAL ?=
TREES ?= $(CACHE)/trees
# ALLOW_EXPIRED=1: accept a mirror whose Release is past Valid-Until (a frozen snapshot; forky expires in days).
ALLOW_EXPIRED ?=
FORMAT ?= qcow2
CACHE ?= $(HOME)/.cache/debian-atomic
# The .debs of the tools (make debs); images install some of them (atomic, hwdetect).
DEBS ?= debs
BUILD := build/$(VARIANT)
REPO ?= build/repo
NODE ?= node
# Step records (tools/report): each tool call in a recipe of a file in $(BUILD) appends one line to
# $(BUILD)/steps.ndjson (DEBIAN_ATOMIC_STEPS, set for those recipes only); DEBIAN_ATOMIC_RUN names
# this make run (a sub-make keeps it), so the report tells what this run rebuilt from what was up to date.
ifeq ($(origin DEBIAN_ATOMIC_RUN),undefined)
DEBIAN_ATOMIC_RUN := $(shell echo "$$(date -u +%Y%m%dT%H%M%SZ)-$$PPID")
endif
export DEBIAN_ATOMIC_RUN
$(BUILD)/%: private STEPS_FILE := $(abspath $(BUILD))/steps.ndjson
STEPS_ENV = $(if $(STEPS_FILE),DEBIAN_ATOMIC_STEPS=$(STEPS_FILE) )
TOOL = $(STEPS_ENV)$(NODE) tools/$(1)/dist/bin.js
# A step's record (the tool's JSON on stdout) replaces the previous one only when the step succeeded:
# a failed run leaves the prior outputs as they were.
RECORD = > $@.tmp && mv -f $@.tmp $@
RECORD_TO = > $(1).tmp && mv -f $(1).tmp $(1)
export DEBIAN_ATOMIC_CACHE := $(CACHE)
# Reproducible by default: the time of the last commit of this checkout.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH

# variants/: treefiles (one per variant, and the fragments they include), hardware policies
# (hwdetect), tasks (comps-sync's package groups), files (what treefiles add to the tree).
TREEFILES := $(wildcard variants/treefiles/*.yaml)
POLICIES := $(wildcard variants/hardware/*.yaml)

TS_SOURCES := $(shell find tools/*/src -name '*.ts' 2>/dev/null) $(wildcard tools/*/package.json tools/*/tsconfig.json)

.PHONY: all deps toolbox build lint format test check check-slow resolve plan rootfs install-debs hwdetect-apply usr-unify commit image iso report iso-test derived-test podman boot-test raw-boot-test hwdetect-boot-test boot-test-images hwdetect-report-test registry-test layering-test secureboot-test desktop-test oci oci-boot-test run run-test newcomer-test fresh-clone-test serve update-test comps-sync clean help FORCE
.DELETE_ON_ERROR:

all: image

help:
	@sed -n '1,15p' Makefile

deps:
	@scripts/deps.sh

toolbox: deps
	@scripts/toolbox.sh

# Every path to the compiled tools goes through here, so every target installs what it needs
# first (deps is idempotent: a second run checks and returns). tsc from node_modules, never npx:
# npx would fetch an unrelated package named "tsc" when the dependencies are missing.
build: build/.tsc-stamp
build/.tsc-stamp: $(TS_SOURCES) package-lock.json | deps
	node_modules/.bin/tsc -b $(wildcard tools/*/tsconfig.json)
	@scripts/link-bins.sh
	@mkdir -p build && touch $@

lint: build
	$(call TOOL,treefile-lint) --quiet $(TREEFILES) >/dev/null
	for p in $(POLICIES); do $(call TOOL,hwdetect) plan --quiet --any-hardware --policy $$p >/dev/null || exit 1; done
	node_modules/.bin/prettier --check --log-level warn $(FORMATTED)

# The sources prettier keeps in one shape (.prettierrc.json); `make format` rewrites them.
FORMATTED := tools packaging scripts bench examples
format: deps
	node_modules/.bin/prettier --write --log-level warn $(FORMATTED)

test: build
	scripts/run-tests.sh $(UNIT_DIRS)

# Unit and integration suites of every tool, then the boot tests: the default variant, and the
# server variant with hwdetect on the target.
UNIT_DIRS = $(filter-out tools/e2e/,$(wildcard tools/*/))
check: deps build lint debs dist
	@scripts/check.sh fast $(UNIT_DIRS)

# Every public target installs what it needs before it compiles or builds anything: each is
# dry-run (make -n) in a copy of the tree without node_modules or build/ (a fresh clone).
newcomer-test: build
	E2E_TESTS=test/newcomer.ts scripts/run-tests.sh tools/e2e

# The build report (tools/report): $(BUILD)/report.json and report.html, the steps of this run
# (rebuilt, or cache hits with their last build) and the image's size by package. make, make commit,
# make oci and make iso end with it; make report alone reports the last recorded run.
REPORT_TOOL = $(NODE) tools/report/dist/bin.js --quiet $(BUILD) >/dev/null
REPORT = @$(REPORT_TOOL)
report: build
	@DEBIAN_ATOMIC_RUN= $(REPORT_TOOL)
	@echo "$(BUILD)/report.html"

# --- stages -------------------------------------------------------------------------------
# One tool call per step, each with its own output file: any step runs alone (make plan, make
# usr-unify...), or is swapped for another program writing the same file.
#   resolve → plan → rootfs → install-debs → hwdetect-apply → usr-unify → commit → image | oci → iso
# resolved.json and treefile.json are rewritten only when their bytes change (resolve runs every
# time, in well under a second: it follows includes), so later steps rebuild only when their
# real input changed.
resolve: $(BUILD)/resolved.json
$(BUILD)/resolved.json: build/.tsc-stamp FORCE
	$(call TOOL,treefile-lint) --resolve --output $@ variants/treefiles/$(VARIANT).yaml

# A variant with a hwdetect-policy gets the packages its hardware policy plans for any hardware,
# and the plan (hwdetect-plan.json) that hwdetect-apply writes into the tree; a changed plan
# dates treefile.json too. Without a policy, treefile.json is resolved.json. What the plan reads
# beyond resolved.json (which names its policy): the policy and hwdetect's code.
plan: $(BUILD)/treefile.json
$(BUILD)/treefile.json: $(BUILD)/resolved.json $(POLICIES) $(wildcard tools/hwdetect/src/*.ts) | build
	$(call TOOL,hwdetect) plan --quiet --treefile $< --output-treefile $@ --output $(BUILD)/hwdetect-plan.json

# rootfs, install-debs, hwdetect-apply and usr-unify change one tree in place: any change to what
# any of them reads starts again from a fresh mmdebstrap, so the tree's prerequisites are all of
# it (each output also depends on the code of the tools that made it, as osbuild keys stages).
# Every image gets `atomic` (tools/atomic, the update client) from its .deb built in the same run
# (make debs), installed with the tree's own dpkg; an enabled hardware policy adds hwdetect's the
# same way; then the plan is applied before usr-unify runs dracut (which reads the plan's
# initramfs drivers).
LIB_SRC := $(wildcard tools/lib/src/*.ts)
# Files the treefiles add to the tree (add-files, postprocess scripts): treefile.json names them, not their bytes.
VARIANT_FILES := $(shell find variants/files -type f 2>/dev/null)
ON_TARGET_SRC := $(wildcard tools/atomic/src/*.ts tools/atomic/data/* tools/oci-wrap/src/*.ts tools/disk-image/src/*.ts tools/hwdetect/src/*.ts)
ATOMIC_DEB = $(DEBS)/debian-atomic-atomic_$(VERSION)_all.deb
HWDETECT_DEB = $(DEBS)/debian-atomic-hwdetect_$(VERSION)_all.deb
rootfs: $(BUILD)/rootfs.json
$(BUILD)/rootfs.json: $(BUILD)/treefile.json $(VARIANT_FILES) $(LIB_SRC) $(ON_TARGET_SRC) $(wildcard tools/rootfs/src/*.ts tools/usr-unify/src/*.ts) | build $(DEBS)/.stamp
	$(call TOOL,rootfs) --treefile $< --output $(BUILD)/rootfs --cache $(CACHE)/apt $(if $(ALLOW_EXPIRED),--allow-expired) $(if $(INCREMENTAL),--incremental --trees $(TREES)) $(RECORD)

install-debs: $(BUILD)/install-debs.json
$(BUILD)/install-debs.json: $(BUILD)/rootfs.json
	$(call TOOL,rootfs) install-debs --root $(BUILD)/rootfs $(ATOMIC_DEB) $(RECORD)

hwdetect-apply: $(BUILD)/hwdetect-apply.json
$(BUILD)/hwdetect-apply.json: $(BUILD)/install-debs.json
	$(call TOOL,hwdetect) apply --quiet --if-planned --plan $(BUILD)/hwdetect-plan.json --install-deb $(HWDETECT_DEB) --root $(BUILD)/rootfs $(RECORD)

usr-unify: $(BUILD)/usr-unify.json
$(BUILD)/usr-unify.json: $(BUILD)/hwdetect-apply.json
	$(call TOOL,usr-unify) $(BUILD)/rootfs $(RECORD)

commit: $(BUILD)/commit.json
	$(REPORT)
$(BUILD)/commit.json: $(BUILD)/usr-unify.json $(wildcard tools/ostree-commit/src/*.ts) | toolbox
	$(call TOOL,ostree-commit) --repo $(REPO) $(BUILD)/rootfs $(RECORD)

# Users, hostname, kernel arguments, disk sizes, update remote: see tools/disk-image/README.md.
DISK_CONFIG ?=
image: $(BUILD)/disk.$(FORMAT)
	$(REPORT)
$(BUILD)/disk.$(FORMAT): $(BUILD)/commit.json $(DISK_CONFIG) $(wildcard tools/disk-image/src/*.ts) | toolbox
	$(call TOOL,disk-image) --repo $(REPO) --commit $< --format $(FORMAT) $(if $(DISK_CONFIG),--config $(DISK_CONFIG)) --output $@ $(call RECORD_TO,$(BUILD)/disk.json)

# The installer ISO (tools/iso-image): the variant's OCI image to install, the live system of
# variants/treefiles/installer.yaml that installs it with `atomic install to-disk`, and ISO_CONFIG (a
# disk-image config; its install.device makes the install unattended) as /install.yaml.
ISO_CONFIG ?=
INSTALLER_COMMIT := build/installer/commit.json
iso: $(BUILD)/installer.iso
	$(REPORT)
$(BUILD)/installer.iso: $(BUILD)/oci.json $(INSTALLER_COMMIT) $(ISO_CONFIG) $(wildcard tools/iso-image/src/*.ts) | toolbox
	$(call TOOL,iso-image) --live-repo $(REPO) --live-commit $(INSTALLER_COMMIT) --oci oci:$(BUILD)/oci:latest $(if $(ISO_CONFIG),--config $(ISO_CONFIG)) --output $@ $(call RECORD_TO,$(BUILD)/iso.json)
# The live system's commit, by its own make run (it rewrites commit.json only when the commit changes).
ifneq ($(VARIANT),installer)
$(INSTALLER_COMMIT): FORCE
	$(MAKE) --no-print-directory VARIANT=installer commit
endif

# Day 1 from the ISO (check-slow): QEMU with UEFI and Secure Boot, the ISO as a CD-ROM and a blank
# 8 GB disk; an unattended install, then one answered on the serial console; each disk booted alone.
iso-test: oci $(INSTALLER_COMMIT)
	VARIANT=$(VARIANT) DEBIAN_ATOMIC_ISO_TEST=1 E2E_TESTS=test/iso.ts scripts/run-tests.sh tools/e2e

# Derived images (check-slow): examples/derived/Containerfile built with podman 5 (scripts/podman.sh:
# the host's, or trixie's from the cache) FROM the variant's image in a docker-registry on the host;
# a disk of it boots; a base machine switches to it; a rebuild with one more package is an upgrade.
PODMAN ?= scripts/podman.sh
podman: deps
	@$(PODMAN) --version >/dev/null
derived-test: oci podman
	VARIANT=$(VARIANT) PODMAN=$(PODMAN) DEBIAN_ATOMIC_DERIVED_TEST=1 E2E_TESTS=test/derived.ts scripts/run-tests.sh tools/e2e

# The proof: boot the image in QEMU (OVMF, TCG) and check it from inside over SSH.
boot-test: commit
	VARIANT=$(VARIANT) E2E_TESTS="test/boot.ts test/serve.ts" scripts/run-tests.sh tools/e2e
# The same commit as a raw disk image (disk-image --format raw) boots too (check-slow).
raw-boot-test: commit
	VARIANT=$(VARIANT) E2E_TESTS=test/boot-raw.ts scripts/run-tests.sh tools/e2e

# hwdetect on the target: the server variant (its policy enables it) built from the treefile, with
# debian-atomic-hwdetect from this run's .deb, booted with an extra NVMe disk and checked over SSH.
HWDETECT_VARIANT ?= server
hwdetect-boot-test: build
	$(MAKE) --no-print-directory VARIANT=$(HWDETECT_VARIANT) commit
	VARIANT=$(HWDETECT_VARIANT) E2E_TESTS=test/hwdetect.ts scripts/run-tests.sh tools/e2e
# The commits the two boot tests boot: make check builds them while the unit suites run.
boot-test-images: commit
	$(MAKE) --no-print-directory VARIANT=$(HWDETECT_VARIANT) commit
# The boot-time check reports differing kernel arguments, and its command applies them (3 boots).
hwdetect-report-test: build
	$(MAKE) --no-print-directory VARIANT=$(HWDETECT_VARIANT) commit
	VARIANT=$(HWDETECT_VARIANT) E2E_TESTS=test/hwdetect-report.ts scripts/run-tests.sh tools/e2e

# The OS as a bootable OCI image (ostree container format); keeps the previous layer assignment.
oci: $(BUILD)/oci.json
	$(REPORT)
$(BUILD)/oci.json: $(BUILD)/commit.json
	$(call TOOL,oci-wrap) --repo $(REPO) --commit $< --output oci:$(BUILD)/oci:latest $(if $(wildcard $(BUILD)/oci/index.json),--previous oci:$(BUILD)/oci:latest) $(RECORD)

# oci-wrap -> local docker-registry -> disk-image --oci docker://... -> boots in QEMU.
oci-boot-test: commit
	VARIANT=$(VARIANT) OCI_BOOT_TEST=1 scripts/run-tests.sh tools/oci-wrap

# Boot the variant's image with the serial console on this terminal, logged in as root through
# systemd credentials (nothing baked into the image), writes to a throwaway overlay; SSH port printed.
# A desktop variant also gets a screen: QEMU's window, or VNC on 127.0.0.1 (RUN_DISPLAY=gtk|vnc|none).
run: image
	@scripts/run-vm.sh $(BUILD)/disk.$(FORMAT) $(FORMAT) $(BUILD)/treefile.json

# make run, driven as a person would (check-slow): logged in on the console, SSH, Ctrl-a x, image unchanged.
run-test: image
	VARIANT=$(VARIANT) E2E_TESTS=test/run.ts scripts/run-tests.sh tools/e2e

# The README's first commands in fresh clones of this checkout's HEAD: `make`, `make run-test`
# there, and `make VARIANT=server` (check-slow; the caches in $(CACHE) are shared, as on any machine).
fresh-clone-test:
	@scripts/fresh-clone-test.sh

# Serve the repository (with the variant's commit) over HTTP; a QEMU guest reaches it as http://10.0.2.2:$(PORT)/
PORT ?= 8000
serve: commit
	$(NODE) tools/e2e/dist/serve-bin.js --port $(PORT) $(REPO)

# Day 2: upgrade over HTTP (GPG-verified), reboot, rollback, tampered updates, 5 power cuts (8 boots).
update-test: commit
	VARIANT=$(VARIANT) DEBIAN_ATOMIC_UPDATE_TEST=1 E2E_TESTS=test/update.ts scripts/run-tests.sh tools/e2e

# Day 2 from a registry (tools/atomic): docker-registry on the host, v1 → v2 pulling the changed
# layers only, rollback, switch to the server variant's image, power cuts, signature policy (6 boots).
REGISTRY_SWITCH_VARIANT ?= server
registry-test: commit
	$(MAKE) --no-print-directory VARIANT=$(REGISTRY_SWITCH_VARIANT) commit
	VARIANT=$(VARIANT) REGISTRY_SWITCH_VARIANT=$(REGISTRY_SWITCH_VARIANT) DEBIAN_ATOMIC_REGISTRY_TEST=1 E2E_TESTS=test/registry.ts scripts/run-tests.sh tools/e2e

# Package layering (atomic install, as rpm-ostree install): a signed apt repository on the host (jq and
# its dependencies, a failing postinst, a conflict), install → reboot → upgrade → uninstall, overrides,
# a power cut during install; measures one install's time and the local commit's size (7 boots).
layering-test: commit
	VARIANT=$(VARIANT) DEBIAN_ATOMIC_LAYERING_TEST=1 E2E_TESTS=test/layering.ts scripts/run-tests.sh tools/e2e

# Secure Boot as on a PC (OVMF enforcing it, Microsoft's keys): the signed chain from inside the guest,
# a kernel without its signature refused (GRUB falls back to the previous deployment), a bootloader
# update cut in the middle (6 boots); then update-test's upgrade, rollback and power cuts with it on (8 boots).
secureboot-test: commit
	VARIANT=$(VARIANT) DEBIAN_ATOMIC_SECUREBOOT_TEST=1 E2E_TESTS=test/secureboot.ts scripts/run-tests.sh tools/e2e
	VARIANT=$(VARIANT) DEBIAN_ATOMIC_SECURE_BOOT=1 DEBIAN_ATOMIC_UPDATE_TEST=1 E2E_TESTS=test/update.ts scripts/run-tests.sh tools/e2e

# The desktops (check-slow): each of DESKTOP_VARIANTS built, booted with a graphics card to its
# greeter (GDM, SDDM; checked over SSH and on a QEMU screendump kept in build/test-logs/), Flathub
# configured, a Flatpak app kept through atomic upgrade and atomic rollback (3 boots each).
DESKTOP_VARIANTS ?= workstation kde
desktop-test: build
	@scripts/check.sh desktop $(DESKTOP_VARIANTS)

# Slower proofs, run before resolving issues: reproducibility (two clean builds), Day-2 updates,
# hwdetect's report of differing kernel arguments.
SLOW_TESTS ?= test/update.ts
check-slow: commit
	@VARIANT=$(VARIANT) SLOW_TESTS="$(SLOW_TESTS)" scripts/check.sh slow

# Keep variants/tasks/tasks.yaml in step with Debian's tasks (exit 1 = drift, without SAVE=1 nothing is written).
SAVE ?=
comps-sync: build
	$(call TOOL,comps-sync) $(if $(SAVE),--save) --suite trixie --arch amd64 --exclude variants/tasks/tasks-exclude.yaml variants/tasks/tasks.yaml

clean:
	rm -rf build dist debs

include packaging/packaging.mk

FORCE:
