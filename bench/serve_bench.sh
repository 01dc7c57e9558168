#!/usr/bin/env bash
# Serving throughput and latency under load: `ferryd serve` driven by bench/loadgen.cc (closed loop, keep-alive,
# C connections each sending the next request when the previous answer is in). Prints markdown tables:
#   - mlp, cnn and cnn_large (bench/make_serve_models.py), TF Serving predict (row format, one instance) and
#     KServe v2 infer, at 1/8/32/64 clients, with dynamic batching off (max_batch_size: 64) and on (--batching),
#     switched at run time through PUT /v1/models/<m>/config;
#   - the REST overhead: predict and infer on a tiny model (Add of 4 floats) vs GET /v2/health/live, 32 clients;
#   - one batch's compute time (`ferryd run --repeat 50` at batch 1..64 and at the batch sizes the server ran);
#   - the targets: cnn (and cnn_large) at 32 clients, batching on >= 1.5x off with p99 <= max_queue_delay + 2 x one
#     batch's compute; tiny predict >= 0.7x the trivial endpoint.
# Each model is benchmarked alone (the others unloaded), so it has the daemon's whole thread budget.
#
#   bench/serve_bench.sh FERRYD --http [--old OTHER_FERRYD] [--duration S] [--threads T]
#       runs bench/http_bench.py instead: the HTTP layer measured with wrk (trivial GET, mlp784 against a Node.js +
#       onnxruntime-node server, a 1 MB JSON image beside its compute time), --old measuring another build too.
#   bench/serve_bench.sh FERRYD [--duration S] [--warmup S] [--quick] [--sweep] [--clients "1 8 32 64"]
#                        [--models "mlp cnn cnn_large"] [--batching "{max_queue_delay_us: 0}"] [--threads T]
#                        [--instances N] [--loadgen PATH] [--log-level L] [--keep DIR]
#
# --duration/--warmup: seconds measured / discarded per run (default 5 / 1); --quick: 2 / 0.5 s, TF Serving only.
# --batching: the dynamic_batching value for "on" (default: no delay; the instance takes whatever is queued when it
# is free, which beat 500-4000 us delays and preferred sizes in --sweep, bench/RESULTS.md).
# --sweep: also try several dynamic_batching settings on the cnn at 1, 8 and 32 clients. --threads: the daemon's
# inference_threads (its compute thread budget; default: every core); `ferryd run --threads` gets T / N. --instances N:
# the benchmarked models run N cpu instances (config.yaml instances; they share the thread budget). --loadgen: default
# <ferryd's dir>/bench/ferry_loadgen, else compiled into the scratch dir with ${CXX:-c++}. --log-level: ferryd's
# (default info: an access line per request, as deployed; written to a file that is emptied between runs).
# --keep DIR: keep the models, bodies, results.jsonl and ferryd.log there instead of a deleted temp dir.
# Models and bodies: bench/make_serve_models.py (fixed seeds). Exit 1 when a run had failures or errors.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ferryd=""
duration=5
warmup=1
quick=0
sweep=0
clients_list="1 8 32 64"
models="mlp cnn cnn_large"
batching="{max_queue_delay_us: 0}"
loadgen=""
log_level="info"
keep=""
threads="$(nproc)"  # the daemon's default (inference_threads: 0): every core
instances=1
http=0
old_ferryd=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --http) http=1; shift ;;
    --old) old_ferryd="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --quick) quick=1; duration=2; warmup=0.5; shift ;;
    --sweep) sweep=1; shift ;;
    --clients) clients_list="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    --batching) batching="$2"; shift 2 ;;
    --loadgen) loadgen="$2"; shift 2 ;;
    --log-level) log_level="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --instances) instances="$2"; shift 2 ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    -*) echo "serve_bench: unknown option $1" >&2; exit 2 ;;
    *) ferryd="$1"; shift ;;
  esac
done
[[ -n "$ferryd" ]] || { echo "usage: bench/serve_bench.sh FERRYD [options] (--help)" >&2; exit 2; }
if [[ $http == 1 ]]; then
  exec "${FERRY_PYTHON:-/usr/bin/python3}" "$here/http_bench.py" "$ferryd" --duration "$duration" --threads "$threads" \
    ${old_ferryd:+--old "$old_ferryd"}
fi
ferryd="$(realpath "$ferryd")"
[[ -x "$ferryd" ]] || { echo "serve_bench: no ferryd at $ferryd" >&2; exit 2; }
python="${FERRY_PYTHON:-/usr/bin/python3}"
report="$python $here/serve_report.py"
protocols="tfs kserve"
[[ $quick == 1 ]] && protocols="tfs"
# The delay in microseconds, for the p99 check.
delay_us="$(grep -o 'max_queue_delay_us: *[0-9]*' <<<"$batching" | grep -o '[0-9]*$' || echo 0)"

if [[ -n "$keep" ]]; then
  scratch="$keep"
  rm -rf "$scratch" && mkdir -p "$scratch"
else
  scratch="$(mktemp -d "${TMPDIR:-/tmp}/ferry-serve-bench.XXXXXX")"
fi
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  [[ -z "$keep" ]] && rm -rf "$scratch"
  return 0
}
trap cleanup EXIT

if [[ -z "$loadgen" ]]; then
  loadgen="$(dirname "$ferryd")/bench/ferry_loadgen"
  if [[ ! -x "$loadgen" ]]; then
    loadgen="$scratch/ferry_loadgen"
    echo "serve_bench: compiling the load generator into $loadgen" >&2
    "${CXX:-c++}" -std=c++20 -O2 -pthread -o "$loadgen" "$here/loadgen.cc"
  fi
fi

echo "serve_bench: writing models and bodies into $scratch" >&2
"$python" "$here/make_serve_models.py" "$scratch" >&2
results="$scratch/results.jsonl"
compute="$scratch/compute.tsv"
: >"$results"
: >"$compute"
warnings=()

# "<model> <batch> <median ms>" of `ferryd run --repeat 50` on an input of <batch> copies of the example.
measure_compute() {
  local model="$1" batch="$2" in="$scratch/$1.b$2.json" ms="error"
  if [[ ! -f "$in" ]]; then
    "$python" -c 'import json, sys
d = json.load(open(sys.argv[1])); b = int(sys.argv[2])
for v in d.values():
    v["data"] = v["data"] * b; v["shape"][0] = b
json.dump(d, open(sys.argv[3], "w"))' "$scratch/$model.b1.json" "$batch" "$in"
  fi
  if "$ferryd" run --model "$scratch/repo/$model/1/model.onnx" --inputs "$in" --repeat 50 --threads "$run_threads" \
      >/dev/null 2>"$scratch/run.err"; then
    ms="$(grep -o 'latency_ms median=[0-9.eE+-]*' "$scratch/run.err" | tail -1 | cut -d= -f2)"
  else
    warnings+=("ferryd run $model batch $batch failed: $(tail -1 "$scratch/run.err")")
  fi
  echo "$model $batch ${ms:-error}" >>"$compute"
}

start=$SECONDS
run_threads=$((threads / instances))  # what each instance of the model under test gets from the budget
((run_threads >= 1)) || run_threads=1
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
for model in $models; do
  for b in 1 8 16 32 64; do measure_compute "$model" "$b"; done
done

port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
log="$scratch/ferryd.log"
printf 'model_repository: repo\ninference_threads: %s\n' "$threads" >"$scratch/ferryd.yaml"
"$ferryd" serve --config "$scratch/ferryd.yaml" --host 127.0.0.1 --port "$port" --log-level "$log_level" 2>>"$log" &
server_pid=$!
for _ in $(seq 600); do
  curl -sf "$base/v2/health/ready" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { echo "serve_bench: ferryd exited: $(tail -3 "$log")" >&2; exit 1; }
  sleep 0.1
done
curl -sf "$base/v2/health/ready" >/dev/null || { echo "serve_bench: ferryd not ready after 60 s" >&2; exit 1; }
echo "serve_bench: ferryd (pid $server_pid) ready on $base" >&2

set_config() {  # model, yaml text
  local code
  code="$(curl -s -o "$scratch/put.out" -w '%{http_code}' -X PUT --data-binary "$2" "$base/v1/models/$1/config")"
  if [[ "$code" != 200 ]]; then
    echo "serve_bench: PUT config of $1 failed ($code): $(cat "$scratch/put.out")" >&2
    exit 1
  fi
}

ticks="$(getconf CLK_TCK)"
cpu_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }  # jiffies, all cores
proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }   # jiffies of one process

# One load generator run, recorded with its labels (a JSON object), the server's statistics around it, and where
# the machine's CPU went meanwhile (ferryd, the load generator, everything else: other work on a shared machine).
# run_load LABELS_JSON MODEL CLIENTS PATH [BODY]
run_load() {
  local labels="$1" model="$2" clients="$3" path="$4" body="${5:-}" out busy0 busy1 srv0 srv1 t0 t1 cpu
  local args=(--port "$port" --clients "$clients" --path "$path" --warmup "$warmup" --duration "$duration")
  [[ -n "$body" ]] && args+=(--body "$body")
  curl -s "$base/v2/models/$model/stats" >"$scratch/before.json" || true
  : >"$log"
  busy0="$(cpu_busy)"; srv0="$(proc_cpu "$server_pid")"; t0="$(date +%s.%N)"
  out="$("$loadgen" "${args[@]}" 2>&1)" || warnings+=("$labels: $out")
  busy1="$(cpu_busy)"; srv1="$(proc_cpu "$server_pid")"; t1="$(date +%s.%N)"
  cpu="$(grep -o '"cpu_s":[0-9.]*' <<<"$out" | cut -d: -f2 || true)"
  labels="$(awk -v l="$labels" -v b="$((busy1 - busy0))" -v s="$((srv1 - srv0))" -v g="${cpu:-0}" -v hz="$ticks" \
    -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" 'BEGIN {
      sub(/}$/, "", l)
      printf "%s, \"ferryd_cores\": %.2f, \"loadgen_cores\": %.2f, \"other_cores\": %.2f}", l, s / hz / w, g / w,
             (b - s) / hz / w - g / w }')"
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "serve_bench: ferryd died during $labels: $(tail -5 "$log")" >&2
    exit 1
  fi
  curl -s "$base/v2/models/$model/stats" >"$scratch/after.json" || true
  $report record "$results" "$labels" "$out" "$scratch/before.json" "$scratch/after.json"
  echo "serve_bench: $labels $out" >&2
}

base_config="max_batch_size: 64"
[[ "$instances" != 1 ]] && base_config+=$'\n'"instances: [{kind: cpu, count: $instances}]"

labels() {  # key value ...: a JSON object; integer values are numbers, the rest strings (none holds a quote)
  local out="" sep=""
  while [[ $# -gt 1 ]]; do
    if [[ "$2" =~ ^[0-9]+$ ]]; then out+="$sep\"$1\": $2"; else out+="$sep\"$1\": \"$2\""; fi
    sep=", "
    shift 2
  done
  echo "{$out}"
}

# Loads `model` and unloads every other one, so the model under test has the daemon's whole thread budget (the
# budget is shared by the instances of every loaded model, busy or not).
serve_only() {
  local m code action
  for m in $(ls "$scratch/repo"); do
    [[ "$m" == "$1" ]] && action=load || action=unload
    code="$(curl -s -o "$scratch/put.out" -w '%{http_code}' -X POST "$base/v2/repository/models/$m/$action")"
    [[ "$code" == 200 ]] || { echo "serve_bench: $action $m failed ($code): $(cat "$scratch/put.out")" >&2; exit 1; }
  done
}

path_of() {  # model, protocol
  if [[ "$2" == tfs ]]; then echo "/v1/models/$1:predict"; else echo "/v2/models/$1/infer"; fi
}

for model in $models; do
  serve_only "$model"
  for mode in off on; do
    if [[ $mode == off ]]; then
      set_config "$model" "$base_config"
    else
      set_config "$model" "$base_config
dynamic_batching: $batching"
    fi
    for protocol in $protocols; do
      for c in $clients_list; do
        run_load "$(labels section main model "$model" protocol "$protocol" batching "$mode" clients "$c")" \
          "$model" "$c" "$(path_of "$model" "$protocol")" "$scratch/$model.$protocol.json"
      done
    done
  done
  set_config "$model" "$base_config"
done

serve_only tiny
for protocol in $protocols; do
  run_load "$(labels section overhead model tiny protocol "$protocol" endpoint "POST $(path_of tiny "$protocol")" \
    clients 32)" tiny 32 "$(path_of tiny "$protocol")" "$scratch/tiny.$protocol.json"
done
run_load "$(labels section overhead model tiny protocol health endpoint "GET /v2/health/live" clients 32)" \
  tiny 32 /v2/health/live

if [[ $sweep == 1 ]]; then
  serve_only cnn
  for setting in "{max_queue_delay_us: 0}" "{max_queue_delay_us: 500}" "{max_queue_delay_us: 2000}" \
      "{max_queue_delay_us: 4000}" "{max_queue_delay_us: 2000, preferred_batch_sizes: [8, 16, 32]}" \
      "{max_queue_delay_us: 2000, preferred_batch_sizes: [32]}"; do
    set_config cnn "$base_config
dynamic_batching: $setting"
    for c in 1 8 32; do
      run_load "$(labels section sweep model cnn protocol tfs batching "$setting" clients "$c")" \
        cnn "$c" "$(path_of cnn tfs)" "$scratch/cnn.tfs.json"
    done
  done
  set_config cnn "$base_config"
fi
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

kill -TERM "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=""
while read -r model b; do
  grep -q "^$model $b " "$compute" || measure_compute "$model" "$b"
done < <($report batches "$results")

$report report "$results" "$compute" "$delay_us"
echo
echo "dynamic_batching (on): \`$batching\`, max_batch_size 64, $instances instance(s) sharing $threads compute" \
     "threads (\`ferryd run --threads $run_threads\` for the compute times);" \
     "ferryd --log-level $log_level. Each run: $warmup s warm-up, then $duration s measured; the load generator" \
     "runs on the same $(nproc)-core machine. Total bench time $((SECONDS - start)) s; load average (1/5/15 min)" \
     "before: $load_before, after the load runs: $load_after."
if [[ ${#warnings[@]} -gt 0 ]]; then
  echo
  printf -- '- WARNING: %s\n' "${warnings[@]}"
  exit 1
fi
