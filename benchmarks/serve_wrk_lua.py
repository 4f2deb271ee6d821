"""A wrk script that POSTs the same test-split bodies as `benchmarks.bench_serve`, round robin, so the server can
be loaded by a client written in C instead of Python clients sharing its 2 cores.

    .venv/bin/python -m benchmarks.serve_wrk_lua --artifact runs/demo/retriever --data runs/demo/data --out post.lua
    semid serve runs/demo/retriever --port 8123 --beam 20 &
    wrk -t1 -c64 -d15s --latency -s post.lua http://127.0.0.1:8123/search      # Debian: apt-get install wrk
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.bench_serve import artifact_payloads


def wrk_script(bodies: list[dict[str, object]]) -> str:
    rows = "\n".join(f"  [[{json.dumps(b)}]]," for b in bodies)
    return (
        f"bodies = {{\n{rows}\n}}\ni = 0\nrequest = function()\n  i = i + 1\n"
        '  return wrk.format("POST", "/search", {["Content-Type"] = "application/json"}, bodies[(i % #bodies) + 1])\n'
        "end\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--artifact", type=Path, default=Path("runs/demo/retriever"))
    ap.add_argument("--data", type=Path, default=Path("runs/demo/data"), help="dataset folder (test queries)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--n", type=int, default=200, help="distinct bodies")
    ap.add_argument("--out", type=Path, default=Path("post.lua"))
    args = ap.parse_args()
    _, bodies = artifact_payloads(args.artifact, args.data, args.k, args.n)
    if any("]]" in json.dumps(b) for b in bodies):  # ]] would end the Lua long string early
        raise SystemExit(f"{args.data}: a test query that a Lua long string cannot hold")
    args.out.write_text(wrk_script(bodies), encoding="utf-8")
    print(f"{len(bodies)} bodies -> {args.out}")


if __name__ == "__main__":
    main()
