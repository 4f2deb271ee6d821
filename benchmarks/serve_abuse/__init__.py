"""Parts of benchmarks.bench_serve_abuse: the abuse test of `semid serve`."""

HOST = "127.0.0.1"  # loopback only
