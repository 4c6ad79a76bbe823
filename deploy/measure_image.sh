#!/usr/bin/env bash
# Measure the Docker image without a Docker engine: build its two stages as real Debian root filesystems with
# debootstrap + chroot, performing the Dockerfile's steps, then measure the runtime stage and run it.
#
#   sudo deploy/measure_image.sh [WORKDIR]      # default WORKDIR: /tmp/moments-image (kept, reused for the base)
#
# Needs root, debootstrap (apt-get install debootstrap), Debian's archive and PyPI. Takes ~5-10 minutes.
# Not part of CI. The numbers go into docs/deploy.md ("Sizes").
#
# Equivalence with the Dockerfile: debian:bookworm-slim is itself `debootstrap --variant=minbase bookworm`
# made "slim" (docs, man pages and locales excluded through /etc/dpkg/dpkg.cfg.d); this script does the same,
# then runs the Dockerfile's RUN steps with the same packages and pip commands, and copies what its COPY lines
# copy. Layers are not reproduced: the sizes are of the final runtime filesystem, as `docker image ls` counts it
# (uncompressed), and a gzip of it as an estimate of the pulled (compressed) size.
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-/tmp/moments-image}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
GRAPHVIZ=${GRAPHVIZ:-yes}  # the Dockerfile's build argument of the same name
BASE=$WORK/base
BUILD=$WORK/build
RUNTIME=$WORK/runtime
OUT=$WORK/results.txt

[ "$(id -u)" = 0 ] || { echo "run as root (debootstrap and chroot need it)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "apt-get install debootstrap" >&2; exit 2; }
[ "$(realpath -m "$WORK")" != / ] || { echo "WORKDIR must not be /" >&2; exit 2; }
mkdir -p "$WORK"

mounted=()
mount_api() {  # what `docker run` gives a container: /proc, /dev, /dev/pts, and the host's DNS
  local root=$1
  mount -t proc proc "$root/proc" && mounted+=("$root/proc")
  mount --bind /dev "$root/dev" && mounted+=("$root/dev")
  mount --bind /dev/pts "$root/dev/pts" && mounted+=("$root/dev/pts")
  cp /etc/resolv.conf "$root/etc/resolv.conf"
}
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}"; done
  mounted=()
}
trap unmount_all EXIT

# A clean environment, as a container's: nothing of the host's pip or Python configuration leaks in.
in_root() {
  local root=$1; shift
  env -i PATH=/opt/moments/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 \
    chroot "$root" "$@"
}

# Bytes of file contents (apparent size), as Docker counts a layer: not disk blocks, which round every small file
# up to 4 KiB. Printed in MB (10^6 bytes), the unit of `docker image ls`.
size_bytes() { du -sx --apparent-size --block-size=1 "$1" | cut -f1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }
gzip_bytes() { tar -C "$1" --numeric-owner -cf - . | gzip -6 -c | wc -c; }

# ---- FROM debian:bookworm-slim ----------------------------------------------------------------------------------
if [ ! -f "$BASE/.done" ]; then
  rm -rf "$BASE"
  debootstrap --variant=minbase bookworm "$BASE" "$MIRROR"
  # debuerreotype's "slimify", as the official -slim images: no docs, man pages or locales, now or later.
  cat >"$BASE/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  # ...and apt set up as in those images (debuerreotype-minimizing-config): apt-get install leaves no .deb
  # files or package caches behind, and fetches no translations.
  clean='"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true";'
  printf 'DPkg::Post-Invoke { %s };\nAPT::Update::Post-Invoke { %s };\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n' \
    "$clean" "$clean" >"$BASE/etc/apt/apt.conf.d/docker-clean"
  echo 'Acquire::GzipIndexes "true";' >"$BASE/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Acquire::Languages "none";' >"$BASE/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$BASE/etc/apt/apt.conf.d/docker-autoremove-suggests"
  find "$BASE/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$BASE/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$BASE"/usr/share/{groff,info,linda,lintian,locale,man}/*
  rm -rf "$BASE"/var/lib/apt/lists/* "$BASE"/var/cache/apt/*.bin "$BASE"/var/cache/apt/archives/*.deb
  touch "$BASE/.done"
fi
base_size=$(size_bytes "$BASE")

# ---- build stage ------------------------------------------------------------------------------------------------
rm -rf "$BUILD" && cp -a "$BASE" "$BUILD" && rm -f "$BUILD/.done"
mount_api "$BUILD"
in_root "$BUILD" apt-get update -qq
in_root "$BUILD" apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
# COPY pyproject.toml README.md LICENSE bot storage -> /src
mkdir -p "$BUILD/src"
(cd "$ROOT_DIR" && tar --exclude=__pycache__ -cf - pyproject.toml README.md LICENSE bot storage) | tar -C "$BUILD/src" -xf -
in_root "$BUILD" python3 -m venv /opt/moments
# Networks that intercept TLS (a company proxy, a CI sandbox) have a CA of their own: pip in the build root trusts
# the host's bundle. Only the build stage sees it; the runtime root, which is measured, never does.
host_ca=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
pip_env=()
if [ -f "$host_ca" ]; then
  cp "$host_ca" "$BUILD/tmp/host-ca.crt"
  pip_env=(env PIP_CERT=/tmp/host-ca.crt)
fi
in_root "$BUILD" "${pip_env[@]}" /opt/moments/bin/pip install --no-cache-dir --quiet /src
in_root "$BUILD" /opt/moments/bin/pip uninstall --quiet --yes pip setuptools
unmount_all

# ---- runtime stage ----------------------------------------------------------------------------------------------
rm -rf "$RUNTIME" && cp -a "$BASE" "$RUNTIME" && rm -f "$RUNTIME/.done"
mount_api "$RUNTIME"
in_root "$RUNTIME" apt-get update -qq
in_root "$RUNTIME" apt-get install -y -qq --no-install-recommends python3 ca-certificates tzdata >/dev/null
rm -rf "$RUNTIME"/var/lib/apt/lists/* "$RUNTIME"/var/cache/apt/archives/*.deb
unmount_all
python_size=$(size_bytes "$RUNTIME")
mount_api "$RUNTIME"
if [ "$GRAPHVIZ" = yes ]; then
  in_root "$RUNTIME" apt-get update -qq
  in_root "$RUNTIME" apt-get install -y -qq --no-install-recommends graphviz >/dev/null
fi
in_root "$RUNTIME" sh -c 'rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb && groupadd --gid 10001 moments \
  && useradd --no-log-init --no-create-home --uid 10001 --gid moments --home-dir /app --shell /usr/sbin/nologin moments \
  && mkdir -p /app/data && chown moments:moments /app/data'
unmount_all
graphviz_size=$(( $(size_bytes "$RUNTIME") - python_size ))
# COPY --from=build /opt/moments /opt/moments; COPY config.yaml playbooks training -> /app
cp -a "$BUILD/opt/moments" "$RUNTIME/opt/moments"
(cd "$ROOT_DIR" && tar --exclude=__pycache__ -cf - config.yaml playbooks training) | tar -C "$RUNTIME/app" -xf -
rm -f "$RUNTIME/etc/resolv.conf" && touch "$RUNTIME/etc/resolv.conf"  # Docker bind-mounts its own

# ---- measure ----------------------------------------------------------------------------------------------------
image_size=$(size_bytes "$RUNTIME")
image_gzip=$(gzip_bytes "$RUNTIME")
venv_size=$(size_bytes "$RUNTIME/opt/moments")
base_gzip=$(gzip_bytes "$BASE")
site=$(echo "$RUNTIME"/opt/moments/lib/python3*/site-packages)
{
  echo "measured: $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -m), commit $(git -C "$ROOT_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "command: deploy/measure_image.sh $WORK (GRAPHVIZ=$GRAPHVIZ)"
  echo "python: $(in_root "$RUNTIME" /opt/moments/bin/python --version 2>&1)"
  echo "base (bookworm minbase, slimmed): $(mib "$base_size"), gzip $(mib "$base_gzip")"
  echo "+ python3 ca-certificates tzdata: $(mib $(( python_size - base_size )))"
  echo "+ graphviz: $(mib "$graphviz_size")"
  echo "+ venv /opt/moments: $(mib "$venv_size")"
  echo "runtime image filesystem: $(mib "$image_size") ($image_size bytes)"
  echo "runtime image, tar | gzip -6: $(mib "$image_gzip") ($image_gzip bytes)"
  echo "largest packages in the venv:"
  du -s --apparent-size --block-size=1 "$site"/* | sort -rn | head -n 8 | while read -r bytes path; do
    echo "  $(mib "$bytes")  $(basename "$path")"
  done
} | tee "$OUT"

# ---- run it: as the image's user, in its working directory, with its command ------------------------------------
cp "$ROOT_DIR/deploy/smoke.py" "$RUNTIME/tmp/smoke.py"
mount_api "$RUNTIME"
run_as() {
  env -i PATH=/opt/moments/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/app LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MPLCONFIGDIR=/tmp/matplotlib MOMENTS_LOG_FORMAT=json \
    DATABASE_URL=sqlite:///data/moments.db \
    chroot --userspec=10001:10001 "$RUNTIME" sh -c "cd /app && $*"
}
echo "moments db upgrade:" | tee -a "$OUT"
run_as moments db upgrade 2>&1 | tee -a "$OUT"
echo "smoke (bot: moments run --webhook --no-scheduler, and moments scheduler, against the Bot API stand-in):" \
  | tee -a "$OUT"
run_as python /tmp/smoke.py | tee -a "$OUT"
if [ "$GRAPHVIZ" = yes ]; then
  echo "moments graph (Graphviz's dot, as the moments user):" | tee -a "$OUT"
  run_as moments graph refund-without-receipt -o /tmp/graph.png 2>&1 | tee -a "$OUT"
  run_as 'echo "$(wc -c </tmp/graph.png) bytes of $(head -c 4 /tmp/graph.png | tail -c 3)"' | tee -a "$OUT"
fi
unmount_all
rm -rf "$RUNTIME/tmp/smoke.py" "$RUNTIME/tmp/graph.png" "$RUNTIME"/tmp/matplotlib
echo "results in $OUT"
