#!/bin/sh
# The image's entry point. `docker run IMAGE [overrides]` runs garay with the Hydra
# overrides; `docker run IMAGE COMMAND [args]` runs COMMAND when it is a program on PATH
# (ray, garay-best, python, bash ...), as Ray's cluster launcher (`... IMAGE bash`) and the
# compose file (`ray start ...`) need.
set -e
if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ] && command -v "$1" > /dev/null 2>&1; then
    exec "$@"
fi
exec garay "$@"
