#!/usr/bin/env bash
# A/B of the per-request cost: the package built from git revision REV (A) against the working tree's (B), on one
# page, in paired interleaved rounds (uninstrumented, A, B), so that a small change is measured against the same
# noise: about ±10 µs at 40 rounds, where two separate runs of tests/bench/run.sh differ by ±30 µs.
#   bash tests/bench/ab.sh REV [rounds=40] [paths=whole,stream] [users=0|1]
# users=1 runs the users' configuration (onSpanEnd, endpoint, a signal on every other request) instead of bare.
set -euo pipefail
cd "$(dirname "$0")/../.."
rev=${1:?usage: bash tests/bench/ab.sh REV [rounds] [paths] [users]}
shift
export PATH="$HOME/.cargo/bin:$PATH"
bash tests/setup.sh
out=target/bench-ab
rm -rf "$out" && mkdir -p "$out"
# A: the revision's package, built in a worktree of its own (its own cargo target, the same node_modules).
tree=$out/tree
git worktree prune
git worktree add -f --detach "$tree" "$rev" >/dev/null
ln -s "$PWD/node_modules" "$tree/node_modules"
# Its cargo target is kept between runs (target/bench-ab-cargo), so a second A/B against the same REV builds fast.
(cd "$tree" && CARGO_TARGET_DIR="$OLDPWD/target/bench-ab-cargo" bash js/build.sh >/dev/null)
cp -r "$tree/pkg" "$out/a"
git worktree remove --force "$tree"
# B: the working tree's.
bash js/build.sh >/dev/null
cp -r pkg "$out/b"
cp tests/bench/ab.html "$out/index.html"
cp tests/bench/ab.js tests/bench/reads.js "$out"/
export FETCHSPAN_SERVER_PROFILE=release
exec 9>/tmp/fetchspan-browser.lock
flock 9
source tests/server.sh 47851 "$out"
node tests/bench/ab.mjs http://127.0.0.1:47851/index.html "$@"
