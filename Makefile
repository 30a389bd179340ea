# The two commands of README: `make image` and `make test`.
BOARD ?= amd64-usr
CORESDK := .build/release/coresdk

.PHONY: setup image test bench clean

setup:
	./scripts/setup.sh

image: setup
	$(CORESDK) build image --board $(BOARD)

# Unit tests and the end-to-end tests that build and boot real images (swift test), then each
# source recipe's own test (the C tools, the bootloader and the initramfs, booted under QEMU).
test: setup
	swift test
	set -e; for recipe_test in recipes/*/test.sh; do echo "== $$recipe_test"; bash "$$recipe_test"; done

bench: setup
	bash bench/build-image.sh
	bash bench/boot.sh
	bash bench/inject.sh
	bash bench/payload.sh
	bash bench/cluster.sh

clean:
	rm -rf out/$(BOARD) out/cache
