"""tollway's server next to LiteLLM's proxy and the minimal pass-throughs, in one run, against
../shared/bench's fake upstream; then the in-process transport against the bare SDK.

    .venv/bin/python benchmarks/bench_server.py [--n 2000] [--reps 3] [--conc "1 32"] [--no-stream]
        [--skip-litellm] [--litellm-n 500] [--max-seconds 60] [--only a,b] [--out DIR]

LiteLLM's proxy serves tens of requests a second, so it gets its own (smaller) N; every load run
is also bounded by --max-seconds (req/s and percentiles are over the requests done by then).

Needs the bench venvs of ../shared/bench/README.md (/tmp/bench-venv/base, /tmp/bench-venv/litellm).
Writes DIR/results.jsonl, DIR/RESULTS.md (the shared report) and DIR/inproc.jsonl.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = Path(os.environ.get("BENCH_DIR", HERE.parent.parent / "shared" / "bench"))
BASE_PY = os.environ.get("VENV_BASE", "/tmp/bench-venv/base") + "/bin/python"
LITELLM_BIN = os.environ.get("VENV_LITELLM", "/tmp/bench-venv/litellm") + "/bin/litellm"
PORT_BASE = 18000  # fake upstream; peers at +100.. (--port-base moves them all)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def peers(key: str, base: int) -> list[tuple[str, int, list[str], dict[str, str], list[str]]]:
    """(name, port, start command, extra env, extra run_peer args); ports from ``base``."""
    tollway = [str(HERE / "peers" / "tollway.sh")]
    litellm_env = {"LITELLM_MASTER_KEY": key, "LITELLM_BIN": LITELLM_BIN}
    return [
        ("direct", base, [], {}, []),
        (
            "passthrough-httpx",
            base + 100,
            [str(BENCH / "peers" / "passthrough.sh")],
            {"PASSTHROUGH_CLIENT": "httpx"},
            [],
        ),
        (
            "passthrough-aiohttp",
            base + 101,
            [str(BENCH / "peers" / "passthrough.sh")],
            {"PASSTHROUGH_CLIENT": "aiohttp"},
            [],
        ),
        (
            "litellm-proxy",
            base + 200,
            [str(BENCH / "peers" / "litellm.sh")],
            litellm_env,
            ["--header", f"Authorization: Bearer {key}"],
        ),
        # the server's default: the native aiohttp client (tollway.upstream_aiohttp)
        ("tollway", base + 300, tollway, {"TOLLWAY_UPSTREAM_CLIENT": "aiohttp"}, ["--model", "router:bench"]),
        (
            "tollway-httpx-aiohttp",
            base + 301,
            tollway,
            {"TOLLWAY_UPSTREAM_CLIENT": "httpx-aiohttp"},
            ["--model", "router:bench"],
        ),
        (
            "tollway-httpx",
            base + 302,
            tollway,
            {"TOLLWAY_UPSTREAM_CLIENT": "httpx"},
            ["--model", "router:bench"],
        ),
    ]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--conc", default="1 32")
    ap.add_argument("--no-stream", action="store_true")
    ap.add_argument("--skip-litellm", action="store_true")
    ap.add_argument("--litellm-n", type=int, default=500, help="requests per measurement for LiteLLM")
    ap.add_argument("--max-seconds", type=int, default=60, help="bound of one load run")
    ap.add_argument("--only", help="comma-separated peer names")
    ap.add_argument("--port-base", type=int, default=PORT_BASE, help="fake upstream port; peers above it")
    ap.add_argument("--out", default=str(HERE / "results" / time.strftime("%Y%m%d-%H%M%S")))
    args = ap.parse_args()
    out = Path(args.out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    upstream_port = args.port_base
    taken = [p for _, p, _, _, _ in peers("", upstream_port) if port_open(p)]
    if taken:
        sys.exit(f"ports {taken} are taken (another bench running?): wait, or pass --port-base")
    upstream = subprocess.Popen(
        [BASE_PY, str(BENCH / "fake_upstream.py"), "--host", "127.0.0.1", "--port", str(upstream_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        for _ in range(100):
            if port_open(upstream_port):
                break
            time.sleep(0.1)
        run_machine_probe(out, "start")
        key = "sk-bench-" + secrets.token_hex(16)
        only = set(args.only.split(",")) if args.only else None
        for stream in [False] if args.no_stream else [False, True]:
            for name, port, cmd, env, extra in peers(key, upstream_port):
                if (only and name not in only) or (args.skip_litellm and name == "litellm-proxy"):
                    continue
                run_peer(out, name, port, cmd, env, extra, args, upstream_port, upstream.pid, stream)
        run_machine_probe(out, "end")
        report = subprocess.run([BASE_PY, str(BENCH / "report.py"), str(out)], capture_output=True, text=True)
        (out / "RESULTS.md").write_text(report.stdout)
        print(f"report: {out / 'RESULTS.md'}")
    finally:
        os.killpg(upstream.pid, signal.SIGTERM)
        upstream.wait(timeout=10)
    return 0


def run_peer(
    out: Path,
    name: str,
    port: int,
    cmd: list[str],
    env: dict[str, str],
    extra: list[str],
    args: argparse.Namespace,
    upstream_port: int,
    upstream_pgid: int,
    stream: bool,
) -> None:
    argv = [
        str(BENCH / "run_peer.sh"),
        "--name",
        name,
        "--port",
        str(port),
        "-n",
        str(args.litellm_n if name == "litellm-proxy" else args.n),
        "--max-seconds",
        str(args.max_seconds),
        "--reps",
        str(args.reps),
        "--conc",
        args.conc,
        "--out",
        str(out / "results.jsonl"),
        "--log-dir",
        str(out / "logs"),
        "--python",
        BASE_PY,
        "--upstream-port",
        str(upstream_port),
        "--upstream-pgid",
        str(upstream_pgid),
        *extra,
    ]
    if stream:
        argv.append("--stream")
    if cmd:
        argv += ["--", *cmd]
    print(f"== {name}{' (stream)' if stream else ''}", flush=True)
    result = subprocess.run(argv, env={**os.environ, **env, "BENCH_PY": BASE_PY})
    if result.returncode:
        print(f"   {name} FAILED (rc={result.returncode})", flush=True)


def run_machine_probe(out: Path, when: str) -> None:
    with open(out / "machine.jsonl", "a") as f:
        subprocess.run([BASE_PY, str(BENCH / "machine_probe.py"), when], stdout=f)


if __name__ == "__main__":
    raise SystemExit(main())
