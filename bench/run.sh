#!/usr/bin/env bash
# Runs the codec benchmark suite and reports it (this is what `./x bench` calls).
#
#   bench/run.sh [--smoke] [Google Benchmark flags, e.g. --benchmark_filter=records]
#
# 1. builds xgate_bench (unless XGATE_BENCH names a binary already built),
# 2. runs it, writing Google Benchmark JSON to $OUT/results.json,
# 3. measures peak memory of encoding and decoding, one process per measurement, into
#    $OUT/rss.jsonl: xgate on every workload, every contender on the largest one,
# 4. prints a table per workload and the targets, writes $OUT/results.md and draws
#    $OUT/throughput.png and $OUT/ratio.png (SVG when gnuplot has no pngcairo),
# 5. runs the store benchmarks (xgate_store_bench: local LMDB store and xgated on
#    loopback) into $OUT/store.json and prints their table,
# 6. runs the channel benchmarks (xgate_channel_bench: messages through the hub on loopback,
#    TCP and HTTP long-poll) into $OUT/channel.json and prints their table,
# 7. runs the migration benchmarks (xgate_migrate_bench: move downtime, checkpoint
#    overhead) into $OUT/migrate.json,
# 8. runs the move benchmark through real processes (xgate_move_bench: xgated and two
#    nodes, in the clear and over TLS) into $OUT/move.json,
# 9. runs the store at scale (xgate_scale_bench: xgated over 10k and 100k small documents,
#    XGATE_SCALE_SIZES to change them, e.g. "10000 100000 1000000") into $OUT/scale.jsonl.
#
# Environment: BUILD_DIR (default: build/ at the top of the repository),
# XGATE_BENCH (the binary; default $BUILD_DIR/bin/xgate_bench, built first),
# XGATE_STORE_BENCH (default $BUILD_DIR/bin/xgate_store_bench, built first),
# XGATE_CHANNEL_BENCH (default $BUILD_DIR/bin/xgate_channel_bench, built first),
# XGATE_MIGRATE_BENCH (default $BUILD_DIR/bin/xgate_migrate_bench, built first),
# XGATE_MOVE_BENCH (default $BUILD_DIR/bin/xgate_move_bench, built first),
# XGATE_SCALE_BENCH (default $BUILD_DIR/bin/xgate_scale_bench, built first),
# XGATE_BENCH_OUT (default $BUILD_DIR/bench).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build}
out=${XGATE_BENCH_OUT:-$build/bench}

smoke=()
args=()
for a in "$@"; do
  case $a in
    --smoke) smoke=(--smoke) ;;
    *) args+=("$a") ;;
  esac
done

bin=${XGATE_BENCH:-}
if [[ -z $bin ]]; then
  bin=$build/bin/xgate_bench
  if [[ ! -f $build/CMakeCache.txt ]]; then
    generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    cmake -S "$root" -B "$build" "${generator[@]}"
  fi
  cmake --build "$build" --target xgate_bench xgate_store_bench xgate_channel_bench xgate_migrate_bench xgate_move_bench \
    xgate_scale_bench
fi
store_bin=${XGATE_STORE_BENCH:-$(dirname "$bin")/xgate_store_bench}
channel_bin=${XGATE_CHANNEL_BENCH:-$(dirname "$bin")/xgate_channel_bench}
migrate_bin=${XGATE_MIGRATE_BENCH:-$(dirname "$bin")/xgate_migrate_bench}
move_bin=${XGATE_MOVE_BENCH:-$(dirname "$bin")/xgate_move_bench}
scale_bin=${XGATE_SCALE_BENCH:-$(dirname "$bin")/xgate_scale_bench}
if [[ ! -x $bin ]]; then
  echo "run.sh: $bin was not built (is libbenchmark-dev installed? the root CMakeLists skips bench/ without it)" >&2
  exit 1
fi

mkdir -p "$out"
echo "== xgate_bench ${smoke[*]} ${args[*]}"
"$bin" "${smoke[@]}" --benchmark_out="$out/results.json" --benchmark_out_format=json "${args[@]}"

echo
echo "== peak memory"
read -r -a workloads <<<"$(python3 "$here/report.py" "$out/results.json" --workloads)"
: >"$out/rss.jsonl"
rss() {
  local line
  if line=$("$bin" "${smoke[@]}" --rss "$@"); then :; else echo "run.sh: xgate_bench --rss $* failed" >&2; fi
  [[ -n ${line:-} ]] && echo "$line" >>"$out/rss.jsonl"
  return 0
}
if ((${#workloads[@]} > 0)); then
  largest=${workloads[0]}
  for c in xgate boost_xml boost_binary cereal_xml; do
    rss "$largest" encode "$c"
    rss "$largest" decode "$c"
  done
  rss "$largest" decode pugixml_parse
  for w in "${workloads[@]:1}"; do
    rss "$w" encode xgate
    rss "$w" decode xgate
  done
fi

echo
python3 "$here/report.py" "$out/results.json" --rss "$out/rss.jsonl" --out "$out"

echo
echo "== store: the local LMDB store and xgated on loopback (items_per_second = documents or requests per second)"
if [[ ! -x $store_bin ]]; then
  echo "run.sh: $store_bin was not built" >&2
  exit 1
fi
store_args=()
if ((${#smoke[@]})); then
  export XGATE_BENCH_SMOKE=1
  store_args=(--benchmark_min_time=0.001)
fi
"$store_bin" "${store_args[@]}" --benchmark_out="$out/store.json" --benchmark_out_format=json

echo
echo "== channel: messages through the hub on loopback, 1 KB bodies, over TCP and HTTP long-poll"
echo "   (items_per_second = messages delivered per second; p50_us/p99_us = send to delivery)"
if [[ ! -x $channel_bin ]]; then
  echo "run.sh: $channel_bin was not built" >&2
  exit 1
fi
"$channel_bin" --benchmark_out="$out/channel.json" --benchmark_out_format=json

echo
echo "== migrate: move downtime (safe point on A to running on B) and checkpoint overhead, in one process"
if [[ ! -x $migrate_bin ]]; then
  echo "run.sh: $migrate_bin was not built" >&2
  exit 1
fi
"$migrate_bin" --benchmark_out="$out/migrate.json" --benchmark_out_format=json

echo
echo "== migrate: move downtime through real processes (xgated, two migrate nodes), in the clear and over TLS"
if [[ ! -x $move_bin ]]; then
  echo "run.sh: $move_bin was not built" >&2
  exit 1
fi
"$move_bin" --benchmark_out="$out/move.json" --benchmark_out_format=json

echo
echo "== store at scale: xgated over N small documents (XGATE_SCALE_SIZES, default 10000 100000)"
if [[ ! -x $scale_bin ]]; then
  echo "run.sh: $scale_bin was not built" >&2
  exit 1
fi
if ((${#smoke[@]})); then
  "$scale_bin" --smoke --json "$out/scale.jsonl"
else
  read -r -a sizes <<<"${XGATE_SCALE_SIZES:-10000 100000}"
  "$scale_bin" "${sizes[@]}" --json "$out/scale.jsonl"
fi
