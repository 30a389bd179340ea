# Sourced by benchmarks that take an image: sets CORESDK and `image` (the first argument, or the
# default board's image, built into out/ when needed).
CORESDK=${CORESDK:-.build/release/coresdk}
image=${1:-}
if [ -z "$image" ]; then
  "$CORESDK" build image --board amd64-usr >/dev/null
  image=$(ls -t out/amd64-usr/*/coreos_production_image.bin | head -1)
fi
