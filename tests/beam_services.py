"""Beam's portable path on this machine, for tests: a local job service and external SDK workers.

Flink, Spark and Dataflow run a pipeline through the same steps: the submitting process
translates it to a portable proto, serialises every transform, stages the artifacts and
sends the job to a job service (the Job API); the SDK harnesses that run the transforms are
separate processes. Here the job service is Beam's Python one and the harnesses come from
Beam's external worker pool, each started as its own process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

WORKER_STARTED = "Starting worker with command"  # the pool's log line for each worker process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def wait_for(port: int, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("localhost", port), timeout=1):
            return
        time.sleep(0.5)
    raise TimeoutError(f"{process.args} did not listen on port {port} within {seconds:.0f}s")


@contextlib.contextmanager
def portable_runner(log_dir: Path):
    """Yield the Beam flags of a job service and worker pool running until the block ends.

    The pool's log (``log_dir / "worker_pool.log"``) gets `WORKER_STARTED` for every worker process.
    """
    # The pool starts each worker as `python -m ...`: this interpreter's, so it imports what the tests import.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    job_port, pool_port = free_port(), free_port()
    commands = {
        "job_service": ["apache_beam.runners.portability.local_job_service_main", f"--port={job_port}"],
        "worker_pool": ["apache_beam.runners.worker.worker_pool_main", f"--service_port={pool_port}"],
    }
    services = {}
    try:
        for name, command in commands.items():
            with open(log_dir / f"{name}.log", "w") as log:
                services[name] = subprocess.Popen(
                    [sys.executable, "-m", *command],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # its own process group: the workers it starts stop with it
                )
        wait_for(job_port, services["job_service"])
        wait_for(pool_port, services["worker_pool"])
        yield [
            "--runner=PortableRunner",
            f"--job_endpoint=localhost:{job_port}",
            "--environment_type=EXTERNAL",
            f"--environment_config=localhost:{pool_port}",
        ]
    finally:
        for process in services.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
