# The two commands of README: `make image` and `make test`; `make check` is the fast tier.
BOARD ?= amd64-usr
CORESDK := .build/release/coresdk
# The end-to-end tests run exactly the coresdk that `setup` has just built from these sources.
export CORESDK_BINARY := $(abspath $(CORESDK))

.PHONY: setup image check test bench clean

setup:
	./scripts/setup.sh

image: setup
	$(CORESDK) build image --board $(BOARD)

# Minutes, no VMs: unit tests, then the recipe tests that boot nothing (the GPT library the C
# tools share, gptprio's C tool).
check: setup
	swift test --skip EndToEndTests
	bash recipes/lib/gpt/test.sh
	bash recipes/gptprio/test.sh

# Everything: unit tests and the end-to-end tests that build and boot real images (swift test),
# then each recipe library's and source recipe's own test (the C tools, the bootloader and the
# initramfs, booted under QEMU).
test: setup
	swift test
	set -e; for recipe_test in recipes/lib/*/test.sh recipes/*/test.sh; do echo "== $$recipe_test"; bash "$$recipe_test"; done

bench: setup
	bash bench/build-image.sh
	bash bench/boot.sh
	bash bench/inject.sh
	bash bench/payload.sh
	bash bench/cluster.sh
	bash bench/update-server.sh
	bash bench/agents.sh

clean:
	rm -rf out/$(BOARD) out/cache
