#!/usr/bin/env bash
# Sourced by the test, bench and demo commands: builds and starts the test server on 127.0.0.1 (port $1, static
# folders after it), stops it when the calling script exits, and waits until it answers.
build_profile=${FETCHSPAN_SERVER_PROFILE:-dev}
cargo build -q -p fetchspan-testserver --profile "$build_profile"
server_dir=$([ "$build_profile" = dev ] && echo debug || echo "$build_profile")
server_port=$1
shift
# The server listens on $1 and the two ports after it (HTTP/1.1 cross-origin, HTTP/2).
# (A name of its own: this file is sourced, so a `port` of the caller's would be overwritten.)
for server_port_taken in "$server_port" $((server_port + 1)) $((server_port + 2)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$server_port_taken") 2>/dev/null; then
    echo "port $server_port_taken on 127.0.0.1 is already in use; stop whatever listens there first" >&2
    exit 1
  fi
done
static_args=()
for dir in "$@"; do static_args+=(--static "$dir"); done
"target/$server_dir/fetchspan-testserver" --port "$server_port" "${static_args[@]}" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$server_port") 2>/dev/null && break
  sleep 0.1
done
# A server that exited (a port taken meanwhile) or never answered stops the command here, not after its suites.
if ! kill -0 "$server_pid" 2>/dev/null || ! (exec 3<>"/dev/tcp/127.0.0.1/$server_port") 2>/dev/null; then
  echo "the test server did not start on 127.0.0.1:$server_port (see its error above)" >&2
  exit 1
fi
