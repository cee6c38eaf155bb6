#!/bin/sh
# make demo: the whole path in one command, on loopback, in a throwaway
# ATOMCODE_HOME: test collector ← agent ← CLI/library; then status and
# what the collector received.
set -u
build=$(cd "${1:-build}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/atc-demo.XXXXXX)
export ATOMCODE_HOME="$T/home"
mkdir -m 700 "$ATOMCODE_HOME"
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$T"' EXIT INT TERM
python3 "$top/tests/collector.py" --port-file "$T/port" --log "$T/requests.log" \
    >/dev/null 2>&1 &
pids="$pids $!"
i=0; while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
export ATOMCODE_TELEMETRY_ENDPOINT="http://127.0.0.1:$(cat "$T/port")/v1/events"
export ATOMCODE_TELEMETRYD=/bin/false
echo "== collector on $ATOMCODE_TELEMETRY_ENDPOINT; ATOMCODE_HOME=$ATOMCODE_HOME"
"$build/atomcode-telemetryd" 2>"$T/agent.err" &
pids="$pids $!"
sleep 0.3
echo "== emitting 3 events through the library"
"$build/atomcode-telemetry" emit open_atomcode --mode tui
"$build/atomcode-telemetry" emit tool_call --payload '{"name":"bash","success":false,"duration_ms":12,"error_kind":"execution_failed","error_data":"cannot open /home/alice/secret/notes.txt"}'
"$build/atomcode-telemetry" emit llm_chat --payload '{"duration_ms":900,"tool_calls_count":1,"input_tokens":1000,"output_tokens":80,"cached_tokens":0,"had_error":false,"context_window":128000,"system_tokens":400,"tool_def_tokens":300,"tool_result_tokens":100,"message_tokens":200,"messages_count":4}'
echo "== atomcode-telemetry flush --wait"
"$build/atomcode-telemetry" flush --wait
echo "== atomcode-telemetry status"
"$build/atomcode-telemetry" status
echo "== what the collector received"
python3 - "$T/requests.log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    h = r["headers"]
    print("POST %s -> %s  (%d records, %s bytes gzip, Idempotency-Key %s)" % (
        r["path"], r["status"], len(r["records"]), r["body_bytes"], h.get("idempotency-key")))
    env = {"device_id", "launch_id", "session_id", "ts", "schema_version", "app_version",
           "os", "arch", "locale", "repo_origin", "mode"}
    for rec in r["records"]:
        print("    %s  %s" % (rec["event_id"], json.dumps(
            {k: v for k, v in sorted(rec.items()) if k not in env and k != "event_id"})))
PY
