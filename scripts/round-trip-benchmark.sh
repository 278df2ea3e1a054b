#!/usr/bin/env bash
# CPU per round trip of wsload beside a minimal epoll client (benchmarks/epoll_echo_client.c),
# both against a Node `ws` echo server, side by side, several repetitions: the default closed
# loop, 50 connections x 2,000 messages of a streamed-chunk-like JSON text. Counts the client
# process's user + sys CPU only (wait4's rusage), set-up included; prints each run, then the
# median and the range per client and the ratio of the medians.
# Usage: scripts/round-trip-benchmark.sh [build-dir] [repetitions]
# The "session" client is the same loop written as a scripted session (--scenario: a repeat
# of request steps), for the session driver's cost per message beside the prompt loop's; the
# "prompt-ses" client is the built-in prompt session (a scenario of one send_prompts step over
# a file of 2,000 prompts, one session per connection): the prompt loop inside a session.
# "pipelined" is the prompt loop with 8 requests in flight, matched by a correlation id
# (--in-flight 8 --correlation /id), and "pipe-ses" the same in the built-in prompt session.
# WSLOAD_BASELINE=/path/to/an/older/wsload adds that binary's prompt loop, session and
# pipelined loop (before/after).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
repetitions=${2:-7}
cmake -S . -B "$build" >/dev/null
cmake --build "$build" -j2 --target wsload_cli
node_dir="$build/benchmark-node"
mkdir -p "$node_dir"
cp benchmarks/node/package.json benchmarks/node/echo_server.js "$node_dir/"
[ -d "$node_dir/node_modules/ws" ] || npm install --prefix "$node_dir" --no-audit --no-fund >/dev/null
"${CC:-cc}" -O2 -Wall -Wextra -Werror -o "$build/epoll_echo_client" benchmarks/epoll_echo_client.c

port_file="$node_dir/port"
rm -f "$port_file"
node "$node_dir/echo_server.js" >"$port_file" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$port_file" ] && break; sleep 0.05; done
port=$(head -1 "$port_file")
[ -n "$port" ] || { echo "the echo server did not start" >&2; exit 1; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$build" "$port" "$repetitions" "$node_dir" <<'PY'
import json, os, statistics, subprocess, sys
build, port, repetitions, node_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
connections, messages = 50, 2000
message = '{"type":"chunk","index":12,"text":"and so the prince"}'
scenario = os.path.join(node_dir, "round-trip-session.json")
with open(scenario, "w") as f:
    json.dump({"steps": [{"repeat": messages, "steps": [
        {"request": "echo", "send": message, "until": "/type==chunk"}]}]}, f)
prompt_scenario = os.path.join(node_dir, "round-trip-prompt-session.json")
with open(prompt_scenario, "w") as f:
    json.dump({"steps": [{"send_prompts": True}]}, f)
prompts = os.path.join(node_dir, "round-trip-prompts.txt")
with open(prompts, "w") as f:
    f.write((message + "\n") * messages)
texts = os.path.join(node_dir, "round-trip-texts.txt")  # filled into the correlated template
with open(texts, "w") as f:
    f.write("and so the prince\n" * messages)
correlated = ["--in-flight", "8", "--correlation", "/id",
              "--template", '{"type":"chunk","id":{{sequence}},"text":{{prompt}}}']
clients = {
    "wsload": [f"{build}/bin/wsload", "run", "--url", f"ws://127.0.0.1:{port}",
               "-c", str(connections), "-n", str(messages), "--prompt", message,
               "--min-rps", "0", "--summary", "", "--quiet"],
    "epoll": [f"{build}/epoll_echo_client", port, str(connections), str(messages), message],
    "session": [f"{build}/bin/wsload", "run", "--url", f"ws://127.0.0.1:{port}",
                "-c", str(connections), "-n", "1", "--scenario", scenario,
                "--min-rps", "0", "--max-latency", "3600", "--summary", "", "--quiet"],
    "prompt-ses": [f"{build}/bin/wsload", "run", "--url", f"ws://127.0.0.1:{port}",
                   "-c", str(connections), "-n", "1", "--prompts", prompts,
                   "--scenario", prompt_scenario, "--min-rps", "0", "--summary", "", "--quiet"],
    "pipelined": [f"{build}/bin/wsload", "run", "--url", f"ws://127.0.0.1:{port}",
                  "-c", str(connections), "-n", str(messages), "--prompt", "and so the prince",
                  "--min-rps", "0", "--summary", "", "--quiet"] + correlated,
    "pipe-ses": [f"{build}/bin/wsload", "run", "--url", f"ws://127.0.0.1:{port}",
                 "-c", str(connections), "-n", "1", "--prompts", texts,
                 "--scenario", prompt_scenario, "--min-rps", "0", "--summary", "",
                 "--quiet"] + correlated,
}
if os.environ.get("WSLOAD_BASELINE"):
    clients["baseline"] = [os.environ["WSLOAD_BASELINE"]] + clients["wsload"][1:]
    clients["base-ses"] = [os.environ["WSLOAD_BASELINE"]] + clients["session"][1:]
    clients["base-pipe"] = [os.environ["WSLOAD_BASELINE"]] + clients["pipelined"][1:]
figures = {name: [] for name in clients}
for repetition in range(repetitions):
    for name, command in clients.items():
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        if status != 0:
            sys.exit(f"{name} failed: {child.stderr.read().decode()}")
        round_trips = connections * messages
        cpu = (usage.ru_utime + usage.ru_stime) * 1e6 / round_trips
        figures[name].append((cpu, usage.ru_utime * 1e6 / round_trips,
                              usage.ru_stime * 1e6 / round_trips))
        print(f"run {repetition + 1} {name:10} {cpu:6.2f} us per round trip "
              f"({figures[name][-1][1]:.2f} user + {figures[name][-1][2]:.2f} sys)")
medians = {}
for name, runs in figures.items():
    total = [r[0] for r in runs]
    medians[name] = statistics.median(total)
    print(f"{name:10} median {medians[name]:.2f} us (user {statistics.median(r[1] for r in runs):.2f}"
          f", sys {statistics.median(r[2] for r in runs):.2f}), range {min(total):.2f} to {max(total):.2f}")
for name in medians:
    if name != "epoll":
        print(f"ratio {name} / epoll: {medians[name] / medians['epoll']:.2f}")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
