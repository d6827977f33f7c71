"""S3 transfer figures: a 1 GiB file up to and back from a local S3 server (moto),
through runner-cwl's own transfer code, and a workflow moving it between two jobs
through an S3 job store; MB/s and the peak RSS of the process doing it.

    python benchmarks/s3_transfer.py [--mib 1024]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from s3server import S3Server  # noqa: E402

CHILD = """
import os, resource, sys, time
from cwl_runner import remote
action, path, url = sys.argv[1:4]
start = time.monotonic()
if action == "up":
    remote.upload_file(path, url)
else:
    remote.fetch(url, path)
took = time.monotonic() - start
print(took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def transfer(action: str, path: str, url: str, env: dict[str, str]) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, action, path, url], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), int(out[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="s3bench-") as tmp:
        server = S3Server(log=os.path.join(tmp, "server.log"))
        try:
            server.make_bucket("bench")
            env = {**os.environ, **server.env}
            source = os.path.join(tmp, "big.bin")
            with open(source, "wb") as handle:
                block = os.urandom(2**20)
                for _ in range(args.mib):
                    handle.write(block)
            size_mb = args.mib * 2**20 / 1e6
            url = "s3://bench/big.bin"
            up, up_rss = transfer("up", source, url, env)
            down, down_rss = transfer("down", os.path.join(tmp, "back.bin"), url, env)
            for what, took_s, rss_kib in (("upload  ", up, up_rss), ("download", down, down_rss)):
                print(
                    f"{what} {args.mib} MiB: {took_s:6.1f} s  {size_mb / took_s:7.1f} MB/s  "
                    f"peak RSS {rss_kib / 1024:6.0f} MiB"
                )
            os.unlink(os.path.join(tmp, "back.bin"))
            start = time.monotonic()
            run = subprocess.run(
                ["/usr/bin/time", "-f", "maxrss_kib=%M", str(Path(sys.executable).with_name("runner-cwl")), "--quiet"]
                + ["--jobstore", f"s3://bench/{uuid.uuid4().hex}", "--outdir", os.path.join(tmp, "out")]
                + [str(ROOT / "tests/data/s3/bigfile.cwl"), "--mib", str(args.mib)],
                env=env,
                capture_output=True,
                text=True,
            )
            took = time.monotonic() - start
            if run.returncode != 0:
                print(run.stderr, file=sys.stderr)
                return 1
            rss = f"{int(run.stderr.rsplit('maxrss_kib=', 1)[1].split()[0]) / 1024:.0f} MiB"
            print(
                f"workflow: a {args.mib} MiB output uploaded by its job and staged for the next one: "
                f"{took:.1f} s, leader peak RSS {rss}"
            )
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
