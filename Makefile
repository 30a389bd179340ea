# The two commands of README: `make image` and `make test`.
BOARD ?= amd64-usr
CORESDK := .build/release/coresdk

.PHONY: setup image test bench clean

setup:
	./scripts/setup.sh

image: setup
	$(CORESDK) build image --board $(BOARD)

# Unit tests and the end-to-end tests that build real images (swift test), then the C tool's own test.
test: setup
	swift test
	bash recipes/gptprio/test.sh

bench: setup
	bash bench/build-image.sh

clean:
	rm -rf out/$(BOARD) out/cache
