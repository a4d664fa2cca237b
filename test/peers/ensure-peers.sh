#!/usr/bin/env bash
# Installs the real peers the integration tests run against, from Debian, when
# they are missing (CI and fresh machines run as root). Nothing is started here:
# each test starts its own peer on a free 127.0.0.1 port and stops it.
set -euo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
# InfluxDB 1.x server (Debian's `influxdb` is 1.6: /usr/bin/influxd).
command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || need+=(influxdb)
# Serial pty pairs for the Modbus RTU tests.
command -v socat >/dev/null 2>&1 || need+=(socat)
# SNMP agent for the SNMP probe tests (v2c community and a v3 user).
command -v snmpd >/dev/null 2>&1 || [ -x /usr/sbin/snmpd ] || need+=(snmpd)
# ICMP probes and the LAN sweep ping many hosts from one process.
command -v fping >/dev/null 2>&1 || [ -x /usr/bin/fping ] || need+=(fping)
# The half-year report's PDF is checked by rendering it and extracting its text back.
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
# Headless browser for the dashboard tests, driven by playwright-core (no browser download).
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
# `docker-compose config` validates docker-compose.yml without a Docker engine.
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "ensure-peers: installing ${need[*]} from Debian" >&2
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "ensure-peers: need root to install ${need[*]} (apt-get install ${need[*]})" >&2; exit 1
  fi
else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's packages start their services; the tests use their own instances.
for svc in "${need[@]}"; do
  (command -v systemctl >/dev/null && $SUDO systemctl stop "$svc" 2>/dev/null) || true
  (command -v service >/dev/null && $SUDO service "$svc" stop >/dev/null 2>&1) || true
done
