#!/usr/bin/env bash
# Sets up a fresh machine for fetchspan's build, tests, benchmark and demo. Idempotent: every step checks first
# and skips what is already installed at the right version.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
say() { printf 'setup: %s\n' "$*"; }

if ! rustup target list --installed | grep -x wasm32-unknown-unknown >/dev/null; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The three engines the browser suites run in, with their WebDriver servers: Chromium (chromedriver), Firefox ESR
# (geckodriver, from crates.io below) and WebKitGTK's MiniBrowser (WebKitWebDriver, under xvfb-run).
missing=()
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || missing+=(chromium chromium-driver)
[ -x /usr/lib/firefox-esr/firefox-esr ] || missing+=(firefox-esr)
[ -x /usr/bin/WebKitWebDriver ] && [ -x /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser ] || missing+=(webkit2gtk-driver)
command -v xvfb-run >/dev/null 2>&1 || missing+=(xvfb xauth)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing from Debian: ${missing[*]}"
  # As root, or through sudo otherwise.
  as_root=()
  [ "$(id -u)" = 0 ] || as_root=(sudo)
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# Node.js as Vite 8 (a bundler fixture) needs it: 20.19+ or 22.12+. Not installed here: Debian's is older.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
  process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a > 22 ? 0 : 1)' 2>/dev/null; then
  say "fetchspan's tests need Node.js 20.19+ or 22.12+ (found: $(node --version 2>/dev/null || echo none))"
  exit 1
fi

# Pinned, like wasm-bindgen-cli: a new geckodriver release must not change the test command underneath us.
GECKODRIVER_VERSION=0.37.1
# Its output read whole (awk, not `grep -q`, which stops reading at the match: under pipefail the SIGPIPE geckodriver
# may then get read as "not installed", a needless 2-minute reinstall now and then).
gecko=$(geckodriver --version 2>/dev/null | awk 'NR == 1 { print $2 }' || true)
if [ "$gecko" != "$GECKODRIVER_VERSION" ]; then
  say "installing geckodriver $GECKODRIVER_VERSION (about 2 minutes)"
  cargo install geckodriver --version "$GECKODRIVER_VERSION" --force
fi

if ! command -v wasm-pack >/dev/null 2>&1; then
  say "installing wasm-pack (about 3 minutes)"
  cargo install wasm-pack --locked
fi

# wasm-bindgen-cli must match the wasm-bindgen pinned in Cargo.toml (and so in Cargo.lock). Installed without
# --locked: its lock file pins a crate version this registry lacks.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$want" != "$have" ]; then
  say "installing wasm-bindgen-cli $want (found: ${have:-none})"
  cargo install wasm-bindgen-cli --version "$want" --force
fi

# A marker written once `npm install` succeeded: an interrupted one installs again, and so does a changed
# package.json or package-lock.json.
installed=node_modules/.fetchspan-installed
if [ ! -f "$installed" ] || [ package-lock.json -nt "$installed" ] || [ package.json -nt "$installed" ]; then
  say "installing npm dev dependencies (playwright-core, binaryen)"
  # `npm install`, not `npm ci`: Vite 8 lists an optional dependency this registry lacks, which `npm ci` refuses
  # and `npm install` skips. The lock file is left as it is.
  npm install --no-audit --no-fund
  touch "$installed"
fi
say "ready"
