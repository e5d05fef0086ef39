#!/usr/bin/env bash
# Builds the image iofog-example/config-echo:1 offline (see scripts/build-example-images.sh).
exec "$(dirname "$0")/../../scripts/build-example-images.sh" config-echo
