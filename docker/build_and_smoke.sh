#!/usr/bin/env bash
# Build one image and smoke-test it: the graph starts with the synthetic camera, /cmd_vel
# answers an instruction, `stop` zeroes it, the graph stops. Needs Docker (and, for the
# Jetson image, a Jetson with the NVIDIA container runtime).
#   docker/build_and_smoke.sh humble     # x86_64, docker/Dockerfile
#   docker/build_and_smoke.sh jetson     # on the Orin NX, docker/Dockerfile.jetson
# Extra `docker build` arguments go after the image name, e.g.
#   docker/build_and_smoke.sh jetson --build-arg L4T_BASE=... --build-arg JETSON_INDEX=...
set -euo pipefail
cd "$(dirname "$0")/.."
image="${1:-}"
shift || true
case "$image" in
    humble) file=docker/Dockerfile; tag=mobile-vla:humble; run=(); device=cpu ;;
    jetson) file=docker/Dockerfile.jetson; tag=mobile-vla:jetson; run=(--runtime nvidia); device=auto ;;
    *) echo "usage: docker/build_and_smoke.sh humble|jetson [docker build arguments]" >&2; exit 2 ;;
esac
command -v docker >/dev/null || { echo 'docker is not installed' >&2; exit 2; }
started=$(date +%s)
docker build -f "$file" -t "$tag" "$@" .
echo "== built $tag in $(( $(date +%s) - started )) s; smoke test"
docker run --rm --ipc=host "${run[@]}" -e SMOKE_DEVICE="$device" "$tag" docker/smoke.sh
