# The two commands of the README, and the steps they are made of.
#
#   make demo    set everything up, then run the end-to-end demo
#   make test    set everything up, then run the quality gates and the test suite
#
# Both are idempotent: a second run finds the Debian packages, the virtual
# environment and the firmware up to date and goes straight to the job.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BUILD ?= build
DEB_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi qemu-system-arm chromium clang libclang-rt-14-dev
# The test suite's independent CCSDS receiver (tests/link/test_gr_satellites.py): only
# `make test` installs it; the demo does not need GNU Radio.
DEB_TEST_PACKAGES := gr-satellites gnuradio
PYTEST_ARGS ?=

export TRIAGE_BUILD_DIR := $(abspath $(BUILD))

.PHONY: help demo test setup debian-packages test-packages venv firmware lint check-generated generate pytest clean

help:
	@echo "make demo   - set up, then run the end-to-end demo"
	@echo "make test   - set up, then run the quality gates and the test suite"
	@echo "make setup  - only the set-up: Debian packages, venv, firmware"
	@echo "make generate - regenerate every generated file (check-generated: fail if stale)"

demo: setup
	$(VENV)/bin/triage demo

test: setup test-packages lint check-generated pytest

setup: debian-packages venv firmware

# Installs only the packages of $(1) that are missing; uses sudo when not root.
define install_missing
	@command -v dpkg-query >/dev/null || { echo "error: not a Debian/Ubuntu system; install $(1) by hand" >&2; exit 1; }
	@missing=""; \
	for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi; \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

debian-packages:
	$(call install_missing,$(DEB_PACKAGES))

test-packages:
	$(call install_missing,$(DEB_TEST_PACKAGES))

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "error: Python 3.11 is required, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

firmware: debian-packages
	@$(MAKE) --no-print-directory -s -C mcu_firmware BUILD=$(abspath $(BUILD)) all

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Every generated file (the contract's C headers and sources, triage_config.h,
# WIRE_FORMAT.md, the shipped classifier's C): `generate` writes them, and the
# test command fails when one is stale.
generate: venv
	$(VENV)/bin/triage generate

check-generated: venv
	$(VENV)/bin/triage generate --check

pytest: venv firmware
	$(VENV)/bin/python -m pytest -n 2 $(PYTEST_ARGS)

clean:
	rm -rf $(BUILD)
