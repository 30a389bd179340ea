# The two commands of README: `make image` and `make test`.
BOARD ?= amd64-usr
CORESDK := .build/release/coresdk

.PHONY: setup image test unit-test e2e-test bench clean

setup:
	./scripts/setup.sh

image: setup
	$(CORESDK) build image --board $(BOARD)

# Unit tests, the C tool's own test, then end-to-end tests that build real images.
SHELL := /bin/bash

test: setup
	swift test 2>&1 | tee .build/test.log | grep -Ev '^\[[0-9]+/[0-9]+\] (Compiling|Write|Emitting)'; test $${PIPESTATUS[0]} -eq 0
	bash recipes/gptprio/test.sh

bench: setup
	bash bench/build-image.sh

clean:
	rm -rf out/$(BOARD) out/cache
