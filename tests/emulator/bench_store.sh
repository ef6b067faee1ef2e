#!/bin/sh
# Object-store throughput: curl a 2 GiB object from the emulator and a 2 GiB file from
# nginx (sendfile on), best of N runs each; prints both rates and the ratio.
# Run by .ci/run.  Usage: tests/emulator/bench_store.sh [SIZE_BYTES] [RUNS]
set -eu
SIZE=${1:-2147483648}
RUNS=${2:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d /tmp/hcdl-bench.XXXXXX)
chmod 755 "$TMP"      # nginx workers run as an unprivileged user when started as root
EMU_PID=; NGX_PID=
cleanup() {
    [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null && wait "$EMU_PID" 2>/dev/null || true
    [ -n "$NGX_PID" ] && kill "$NGX_PID" 2>/dev/null && wait "$NGX_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- emulator ------------------------------------------------------------------------
python3 "$HERE/server.py" --quiet --port 0 --config-out "$TMP/emu.json" >/dev/null &
EMU_PID=$!
i=0; while [ ! -s "$TMP/emu.json" ]; do i=$((i+1)); [ $i -gt 200 ] && { echo "emulator did not start" >&2; exit 1; }; sleep 0.05; done
CONTROL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["control"])' "$TMP/emu.json")
# Creating the object computes its ETag (MD5 of 2 GiB, a few seconds) before we time anything.
URL=$(curl -s -X POST "$CONTROL/objects" -H 'Content-Type: application/json' \
      -d "{\"name\":\"bench.bin\",\"size\":$SIZE,\"ttl\":7200}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')

# --- nginx ---------------------------------------------------------------------------
NPORT=$(free_port)
mkdir -p "$TMP/www" "$TMP/logs"
# A real (non-sparse) file, read once so nginx serves it from the page cache as the
# emulator serves its 2 MiB pattern file.  BENCH_SPARSE=1 uses a sparse file instead.
if [ "${BENCH_SPARSE:-0}" = 1 ]; then
    truncate -s "$SIZE" "$TMP/www/bench.bin"
else
    head -c "$SIZE" /dev/zero > "$TMP/www/bench.bin"
    cat "$TMP/www/bench.bin" > /dev/null
fi
cat > "$TMP/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/logs/error.log;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path $TMP/cb; proxy_temp_path $TMP/px; fastcgi_temp_path $TMP/fc;
    uwsgi_temp_path $TMP/uw; scgi_temp_path $TMP/sc;
    server { listen 127.0.0.1:$NPORT; root $TMP/www; }
}
EOF
nginx -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/logs/error.log" &
NGX_PID=$!
i=0; until curl -s -o /dev/null "http://127.0.0.1:$NPORT/"; do i=$((i+1)); [ $i -gt 100 ] && { echo "nginx did not start" >&2; exit 1; }; sleep 0.05; done

best() {   # best download rate in bytes/s over $RUNS runs
    b=0
    for _ in $(seq "$RUNS"); do
        out=$(curl -s -o /dev/null -w '%{http_code} %{size_download} %{speed_download}' "$1")
        set -- "$1" $out
        [ "$2" = 200 ] && [ "$3" = "$SIZE" ] || { echo "bad download from $1: status $2, $3 bytes" >&2; exit 1; }
        r=$4
        b=$(python3 -c "print(max(float('$b'), float('$r')))")
    done
    echo "$b"
}
E=$(best "$URL")
N=$(best "http://127.0.0.1:$NPORT/bench.bin")
python3 - "$E" "$N" "$SIZE" <<'EOF'
import sys
e, n, size = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
mib = 1048576
print(f"object size      : {size} bytes")
print(f"emulator (GET)   : {e / mib:9.1f} MiB/s")
print(f"nginx (sendfile) : {n / mib:9.1f} MiB/s")
print(f"ratio emu/nginx  : {e / n:9.2f}   (requirement >= 0.50)")
EOF
