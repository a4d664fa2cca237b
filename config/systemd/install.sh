#!/usr/bin/env bash
# Installs commune-edge as a systemd service on Raspberry Pi OS / Debian (run as root
# from a checkout where `npm ci && npm run build` has run):
#
#   sudo config/systemd/install.sh            # install or upgrade, enable and start
#   sudo config/systemd/install.sh --no-start # install only
#   config/systemd/install.sh --root /tmp/x --no-systemctl --no-npm   # stage into a directory (tests, packaging)
#
# Layout: code in /opt/commune-edge, config in /etc/commune-edge/ (config.yaml, env
# with secrets, mode 0600), data in /var/lib/commune-edge/, logs in journald
# (rotation: /etc/systemd/journald.conf.d/commune-edge.conf). Runs as the system
# user `commune-edge` (group dialout for RS-485 adapters). An existing config.yaml
# and env are never overwritten; the store is never touched.
set -euo pipefail

ROOT=""
SYSTEMCTL=1
START=1
NPM=1
SERVICE_USER=commune-edge
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="${2:?--root DIR}"; shift 2 ;;
    --no-systemctl) SYSTEMCTL=0; shift ;;
    --no-start) START=0; shift ;;
    --no-npm) NPM=0; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PREFIX="$ROOT/opt/commune-edge"
ETC="$ROOT/etc/commune-edge"
VAR="$ROOT/var/lib/commune-edge"
UNIT_DIR="$ROOT/etc/systemd/system"
JOURNALD_DIR="$ROOT/etc/systemd/journald.conf.d"
staged() { [ -n "$ROOT" ]; }

say() { echo "install.sh: $*"; }
die() { echo "install.sh: $*" >&2; exit 1; }

# --- preconditions -----------------------------------------------------------
command -v node >/dev/null || die "Node.js >= 20 is required (https://github.com/nodesource/distributions or apt install nodejs)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "Node.js >= 20 is required, found $(node --version)"
[ -x "$SRC/dist/gateway/main.js" ] || die "no build in $SRC/dist: run 'npm ci && npm run build' first"
if ! staged; then
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo), or use --root DIR to stage"
  # fping: ICMP probes and the LAN sweep; socat: the systemd watchdog channel (gateway/watchdog.ts).
  missing=()
  command -v fping >/dev/null || missing+=(fping)
  command -v socat >/dev/null || missing+=(socat)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi

# --- user ----------------------------------------------------------------------
if ! staged && ! id "$SERVICE_USER" >/dev/null 2>&1; then
  say "creating system user $SERVICE_USER"
  useradd --system --home-dir /var/lib/commune-edge --no-create-home --shell /usr/sbin/nologin \
    --groups dialout --user-group "$SERVICE_USER"
fi
owner() { if staged; then :; else chown "$@"; fi; }

# --- code ----------------------------------------------------------------------
say "installing code into $PREFIX"
mkdir -p "$PREFIX"
# Replace the code atomically enough for an upgrade: a fresh copy, then swap.
tmp="$PREFIX.new"
rm -rf "$tmp"
mkdir -p "$tmp"
cp -a "$SRC/package.json" "$SRC/README.md" "$tmp/"
[ -f "$SRC/package-lock.json" ] && cp -a "$SRC/package-lock.json" "$tmp/"
cp -a "$SRC/dist" "$SRC/config" "$tmp/"
mkdir -p "$tmp/dashboards" && [ -d "$SRC/dashboards/web" ] && cp -a "$SRC/dashboards/web" "$tmp/dashboards/"
if [ "$NPM" -eq 1 ]; then
  # Production dependencies only, from the lock file; native modules (better-sqlite3,
  # serialport) come as prebuilt binaries for linux-arm64 / armv7 / x64.
  say "installing production dependencies (npm ci --omit=dev)"
  (cd "$tmp" && npm ci --omit=dev --no-audit --no-fund)
fi
rm -rf "$PREFIX.old"
if [ -d "$PREFIX/dist" ]; then mv "$PREFIX" "$PREFIX.old"; else rm -rf "$PREFIX"; fi
mv "$tmp" "$PREFIX"
rm -rf "$PREFIX.old"
owner -R root:root "$PREFIX"

# --- config and data -----------------------------------------------------------
mkdir -p "$ETC" "$VAR"
chmod 0750 "$ETC" "$VAR"
owner root:"$SERVICE_USER" "$ETC"
owner "$SERVICE_USER:$SERVICE_USER" "$VAR"
if [ ! -f "$ETC/config.yaml" ]; then
  say "no $ETC/config.yaml: installing the example (edit it: commune code, hamlets, devices)"
  cp "$SRC/config/examples/commune.yaml" "$ETC/config.yaml"
  chmod 0640 "$ETC/config.yaml"
  owner root:"$SERVICE_USER" "$ETC/config.yaml"
fi
if [ ! -f "$ETC/env" ]; then
  cat > "$ETC/env" <<'ENV'
# Secrets for commune-edge, referenced by name from config.yaml (tokenEnv, passwordEnv, ...).
# This file is read by systemd only (mode 0600, root). Example:
# CE_INFLUX_TOKEN=...
ENV
  chmod 0600 "$ETC/env"
  owner root:root "$ETC/env"
fi

# --- systemd -------------------------------------------------------------------
mkdir -p "$UNIT_DIR" "$JOURNALD_DIR"
install -m 0644 "$SRC/config/systemd/commune-edge.service" "$UNIT_DIR/commune-edge.service"
install -m 0644 "$SRC/config/systemd/journald-commune-edge.conf" "$JOURNALD_DIR/commune-edge.conf"

say "checking $ETC/config.yaml"
checker="$PREFIX/dist/gateway/main.js"
[ "$NPM" -eq 1 ] || checker="$SRC/dist/gateway/main.js"   # staged without dependencies: same code, the checkout's modules
if ! "$checker" check-config "$ETC/config.yaml"; then
  say "the config has problems (above); fix them, then: systemctl restart commune-edge"
  START=0
fi

if [ "$SYSTEMCTL" -eq 1 ] && ! staged; then
  systemctl daemon-reload
  systemctl restart systemd-journald || true
  systemctl enable commune-edge.service
  if [ "$START" -eq 1 ]; then
    systemctl restart commune-edge.service
    say "started; follow the log with: journalctl -u commune-edge -f"
  fi
fi
say "done"
