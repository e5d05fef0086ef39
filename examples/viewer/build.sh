#!/usr/bin/env bash
# Builds the image iofog-example/viewer:1 offline (see scripts/build-example-images.sh).
exec "$(dirname "$0")/../../scripts/build-example-images.sh" viewer
