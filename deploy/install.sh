#!/usr/bin/env bash
# Installs Pantau on Debian 12 or Raspberry Pi OS (amd64, arm64, armhf) for one role:
#   site    — a site box: pantau-gateway
#   central — the command center: pantau-broker and pantau-dashboard
# Safe to run again (an upgrade does exactly that): the user, directories and configs that exist are
# kept; the program tree and the systemd units are replaced.
#
#   sudo deploy/install.sh --role site
#   sudo deploy/install.sh --role central --no-start
#   deploy/install.sh --role site --root /tmp/throwaway     # into a directory tree, for tests
#
# Pasang Pantau di Debian 12 / Raspberry Pi OS untuk satu peran: "site" (gateway lokasi) atau
# "central" (broker + dasbor di ruang kendali). Aman dijalankan ulang.
set -euo pipefail

ROLE=""
ROOT=""
PREFIX=/opt/pantau
START=1
REBUILD=1
NODE="${NODE:-$(command -v node || true)}"
MIN_NODE=20

say() { printf '%s\n' "$*"; }
die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat <<'EOF'
Usage: install.sh --role site|central [--root DIR] [--prefix /opt/pantau] [--no-start] [--node PATH]
                  [--no-rebuild]
  --role       site: the site box daemon; central: the broker and the dashboard
  --root       install into this directory tree instead of / (no systemctl is run)
  --prefix     where the program goes (default /opt/pantau)
  --no-start   enable the services but do not start them (configure first)
  --node       the Node.js binary the services run (default: node on PATH)
  --no-rebuild when the copied native module (better-sqlite3) does not load under this Node, only
               say what to do; by default 'npm rebuild better-sqlite3' is tried first if npm is here
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
  --role) ROLE="${2:-}"; shift 2 ;;
  --role=*) ROLE="${1#*=}"; shift ;;
  --root) ROOT="${2:-}"; shift 2 ;;
  --root=*) ROOT="${1#*=}"; shift ;;
  --prefix) PREFIX="${2:-}"; shift 2 ;;
  --prefix=*) PREFIX="${1#*=}"; shift ;;
  --no-start) START=0; shift ;;
  --no-rebuild) REBUILD=0; shift ;;
  --node) NODE="${2:-}"; shift 2 ;;
  --node=*) NODE="${1#*=}"; shift ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; die "unknown option: $1" ;;
  esac
done

case "$ROLE" in
site) UNITS=(pantau-gateway.service); CONFIGS=(site.yaml) ;;
central) UNITS=(pantau-broker.service pantau-dashboard.service); CONFIGS=(central.yaml dashboard.yaml backbone.yaml) ;;
*) usage >&2; die "--role must be site or central" ;;
esac
ROOT="${ROOT%/}"
[ "$(id -u)" -eq 0 ] || die "run as root (sudo): it creates a system user and installs systemd units"
case "$PREFIX" in /*) ;; *) die "--prefix must be an absolute path" ;; esac

SRC="$(cd "$(dirname "$0")/.." && pwd)"

# --- Node.js ------------------------------------------------------------------------------------
[ -n "$NODE" ] && [ -x "$NODE" ] || die "Node.js ${MIN_NODE} or newer is needed and none was found.
  Debian 12's own nodejs package is version 18: too old. Install Node ${MIN_NODE}+ for $(uname -m)
  (e.g. the official tarball from a machine with internet, unpacked under /usr/local), then run this again."
NODE_VERSION="$("$NODE" -p 'process.versions.node')"
[ "${NODE_VERSION%%.*}" -ge "$MIN_NODE" ] ||
  die "Node.js ${NODE_VERSION} at ${NODE} is too old: Pantau needs ${MIN_NODE} or newer."
case "$(uname -m)" in
x86_64 | aarch64 | arm64 | armv7l | armv8l) ;;
*) say "warning: $(uname -m) is not a tested architecture (amd64, arm64, armhf)" ;;
esac

# --- The program ------------------------------------------------------------------------------------
for pkg in gateway broker dashboard; do
  [ -f "$SRC/$pkg/dist/cli.js" ] || die "$SRC/$pkg/dist/cli.js is missing: run 'npm install && npm run build' in $SRC first"
done
DEST="$ROOT$PREFIX"
if [ "$(cd "$SRC" && pwd -P)" != "$(mkdir -p "$DEST" && cd "$DEST" && pwd -P)" ]; then
  say "installing the program into $DEST"
  # A fresh copy beside the old one, then swapped in: a half-copied tree never runs.
  rm -rf "$DEST.new"
  mkdir -p "$DEST.new"
  tar -C "$SRC" --exclude=./.git --exclude=./.pantau-demo --exclude=./test/artifacts \
    --exclude=./.ci/vitest-report.json -cf - . | tar -C "$DEST.new" -xf -
  rm -rf "$DEST.old"
  [ -d "$DEST" ] && mv "$DEST" "$DEST.old"
  mv "$DEST.new" "$DEST"
  rm -rf "$DEST.old"
fi

# --- The native module -------------------------------------------------------------------------------
# node_modules is copied from the machine that built the tree. better-sqlite3 (the central's store
# and the site box's outbox) is compiled code: built for another CPU (amd64 vs a Pi's arm64/armhf) or
# another Node major version it does not load, and every daemon would die at its first database. It
# loads its binary only when a database is opened, so the check opens one.
native_error() {
  (cd "$DEST/broker" && "$NODE" -e "new (require('better-sqlite3'))(':memory:').close()" 2>&1)
}
if ! err="$(native_error)"; then
  first="$(printf '%s\n' "$err" | grep -m1 -E 'Error|error' || printf '%s' "$err" | head -n1)"
  say "better-sqlite3's native module in $DEST does not load under Node $NODE_VERSION ($(uname -m)):"
  say "  $first"
  NPM="$(dirname "$NODE")/npm"
  [ -x "$NPM" ] || NPM="$(command -v npm || true)"
  if [ "$REBUILD" -eq 1 ] && [ -n "$NPM" ]; then
    say "rebuilding it for this box: (cd $DEST && $NPM rebuild better-sqlite3)"
    (cd "$DEST" && PATH="$(dirname "$NODE"):$PATH" "$NPM" rebuild better-sqlite3) || true
  fi
  native_error >/dev/null || die "better-sqlite3 does not load under $NODE (Node $NODE_VERSION, $(uname -m)).
  The tree was built on a machine with another CPU or Node version, and its node_modules came along.
  Fix it on this box, then run this script again:
    cd $DEST && npm rebuild better-sqlite3
  (this needs the npm that came with Node $NODE_VERSION, and either the npm registry and GitHub for a
  prebuilt binary, or a compiler: apt-get install -y build-essential python3; offline also
  --nodedir=$(dirname "$(dirname "$NODE")") so node-gyp takes the headers of this Node)
  or build the tree (npm install && npm run build) on a machine with the same CPU ($(uname -m)) and
  Node major version ($NODE_VERSION), e.g. on one Pi, and install from that copy.
  Modul native better-sqlite3 tidak bisa dimuat: jalankan 'npm rebuild better-sqlite3' di $DEST pada
  kotak ini, atau bangun ulang (npm install && npm run build) di mesin dengan CPU dan versi Node yang
  sama, lalu jalankan skrip ini lagi."
  say "better-sqlite3 loads now"
fi

# --- The pantau user ----------------------------------------------------------------------------------
PASSWD="$ROOT/etc/passwd"
if grep -q '^pantau:' "$PASSWD" 2>/dev/null; then
  say "user pantau exists"
else
  say "creating the system user pantau"
  ROOT_OPT=()
  [ -n "$ROOT" ] && ROOT_OPT=(--root "$ROOT")
  useradd "${ROOT_OPT[@]}" --system --user-group --home-dir /var/lib/pantau --no-create-home \
    --shell /usr/sbin/nologin --comment "Pantau monitoring" pantau
fi
uid_of() { awk -F: '$1 == "pantau" { print $3 }' "$ROOT/etc/passwd"; }
gid_of() { awk -F: '$1 == "pantau" { print $3 }' "$ROOT/etc/group"; }
PUID="$(uid_of)"
PGID="$(gid_of)"
[ -n "$PUID" ] && [ -n "$PGID" ] || die "the pantau user or group is missing from $ROOT/etc/passwd or group"

# --- Directories and configs ------------------------------------------------------------------------------
# A site box applies a config pushed from the central or made on its installer page by rewriting
# site.yaml itself (temp file + rename): its folder is writable by the pantau group there. At the
# central, /etc/pantau stays read-only to the services; the files they change (accounts, users) live
# in /var/lib/pantau.
ETC_MODE=0750
CONF_MODE=0640
[ "$ROLE" = site ] && ETC_MODE=0770 && CONF_MODE=0660
install -d -m "$ETC_MODE" -o 0 -g "$PGID" "$ROOT/etc/pantau"
install -d -m 0750 -o "$PUID" -g "$PGID" "$ROOT/var/lib/pantau"
[ "$ROLE" = site ] && install -d -m 0750 -o "$PUID" -g "$PGID" "$ROOT/var/lib/pantau/gateway"
if [ "$ROLE" = central ]; then
  for f in credentials.yaml:accounts users.yaml:users; do
    target="$ROOT/var/lib/pantau/${f%%:*}"
    [ -e "$target" ] && continue
    printf '%s: []\n' "${f#*:}" >"$target.tmp"
    chown "$PUID:$PGID" "$target.tmp"
    chmod 0600 "$target.tmp"
    mv "$target.tmp" "$target"
    say "wrote an empty /var/lib/pantau/${f%%:*}"
  done
fi
for c in "${CONFIGS[@]}"; do
  target="$ROOT/etc/pantau/$c"
  if [ -e "$target" ]; then
    say "keeping /etc/pantau/$c"
  else
    example="$SRC/deploy/examples/$c"
    [ "$c" = backbone.yaml ] && example="$SRC/deploy/backbone.example.yaml"
    install -m "$CONF_MODE" -o 0 -g "$PGID" "$example" "$target"
    say "wrote /etc/pantau/$c from the example: edit it"
  fi
done

# --- systemd units ------------------------------------------------------------------------------------
UNIT_DIR="$ROOT/etc/systemd/system"
install -d -m 0755 "$UNIT_DIR" "$UNIT_DIR/multi-user.target.wants"
for u in "${UNITS[@]}"; do
  sed -e "s#/opt/pantau#$PREFIX#g" -e "s#/usr/bin/node #$NODE #g" "$SRC/systemd/$u" >"$UNIT_DIR/$u.tmp"
  chmod 0644 "$UNIT_DIR/$u.tmp"
  mv "$UNIT_DIR/$u.tmp" "$UNIT_DIR/$u"
  # What `systemctl enable` does, also when there is no running systemd (a --root tree).
  ln -sfn "../$u" "$UNIT_DIR/multi-user.target.wants/$u"
done

if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  if [ "$START" -eq 1 ]; then
    for u in "${UNITS[@]}"; do systemctl restart "$u" || say "warning: $u did not start: journalctl -u $u"; done
  fi
fi

say ""
say "Pantau ($ROLE) installed in $PREFIX; configs in /etc/pantau; state in /var/lib/pantau."
if [ "$ROLE" = site ]; then
  say "Next / Berikutnya:"
  say "  1. edit /etc/pantau/site.yaml and put the site box password in /etc/pantau/site.pw (chmod 640, group pantau)"
  say "     ubah /etc/pantau/site.yaml, simpan kata sandi gateway di /etc/pantau/site.pw"
  say "  2. node $PREFIX/gateway/dist/cli.js check-config /etc/pantau/site.yaml"
  say "  3. systemctl restart pantau-gateway && journalctl -fu pantau-gateway"
else
  say "Next / Berikutnya:"
  say "  1. edit /etc/pantau/backbone.yaml, central.yaml and dashboard.yaml"
  say "     ubah backbone.yaml (lokasi dan tautan), central.yaml dan dashboard.yaml"
  say "  2. sudo -u pantau node $PREFIX/broker/dist/cli.js credentials add-gateway --file /var/lib/pantau/credentials.yaml --site <id>"
  say "     sudo -u pantau node $PREFIX/dashboard/dist/cli.js users add --file /var/lib/pantau/users.yaml --username admin --role admin"
  say "     (or enroll site boxes with one-time tokens: docs/install.md / daftarkan kotak lokasi dengan token)"
  say "  3. systemctl restart pantau-broker pantau-dashboard"
fi
