"""A local S3-compatible server for the tests, the conformance runner and trying
runner-cwl's S3 support: moto's server process on loopback, with one bucket.

    python scripts/s3server.py start [--port 9000] [--bucket runs]   # prints the env to source
    python scripts/s3server.py stop

``start`` writes ``$RUNNER_S3_DIR/env`` (default /tmp/runner-s3) with
AWS_ENDPOINT_URL and dummy credentials (moto accepts any).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

STATE = Path(os.environ.get("RUNNER_S3_DIR", "/tmp/runner-s3"))
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class S3Server:
    """A moto_server process; ``env`` holds what a client needs to reach it."""

    def __init__(self, port: int | None = None, log: str | None = None) -> None:
        exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.env = {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}
        out = open(log, "ab") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"moto_server exited with {self.proc.returncode}") from None
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto_server did not start within 30 s")

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def make_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--bucket", default="runs")
    args = parser.parse_args()
    pidfile = STATE / "pid"
    if args.action == "stop":
        if pidfile.exists():
            try:
                os.killpg(int(pidfile.read_text()), signal.SIGTERM)
            except ProcessLookupError:
                pass
            pidfile.unlink()
        return 0
    STATE.mkdir(parents=True, exist_ok=True)
    server = S3Server(args.port, log=str(STATE / "server.log"))
    server.make_bucket(args.bucket)
    pidfile.write_text(str(server.proc.pid))
    env = "".join(f"export {k}={v}\n" for k, v in server.env.items())
    (STATE / "env").write_text(env)
    print(env + f"# bucket s3://{args.bucket} on {server.endpoint}; stop: python scripts/s3server.py stop", end="")
    print(f"\n# or: . {STATE}/env")
    return 0


if __name__ == "__main__":
    sys.exit(main())
