"""A thin local runner: one run at a time per pipeline root, each component recorded in ML Metadata.

`Runner.execute` records the execution RUNNING, gives the component fresh output
folders ``<root>/<Component>/<output>/<execution id>/``, and records the outputs and
the COMPLETE state once the component returns (FAILED if it raises). A lock file
keeps two runs from sharing a root; executions a killed run left RUNNING are marked
CANCELED when the next run starts. Nothing a completed execution wrote is touched.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from keras_synthad.pipelines.config import PipelineConfig
from keras_synthad.pipelines.metadata import PIPELINE_CONTEXT, RUN_CONTEXT, Artifact, MetadataStore


@dataclass
class Component:
    """One component run: its inputs, its outputs (name -> artifact type) and the work.

    ``body(folders, log)`` writes into ``folders[output]`` and returns
    ``{output: properties}``.
    """

    name: str
    inputs: dict[str, Artifact]
    outputs: dict[str, str]
    body: Callable


class Runner:
    def __init__(self, config: PipelineConfig, log=print):
        self.config = config
        self.log = log
        config.root.mkdir(parents=True, exist_ok=True)
        self._lock = open(config.root / ".lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise RuntimeError(
                f"Another run of this pipeline holds {config.root / '.lock'}; wait for it to finish."
            ) from None
        self.store = MetadataStore(config.metadata)
        self.pipeline_context = self.store.context(PIPELINE_CONTEXT, config.name)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        self.run_name = f"{config.name}-{stamp}-{os.getpid()}"
        self.run_context = self.store.context(RUN_CONTEXT, self.run_name)
        cancelled = self.store.cancel_unfinished(self.pipeline_context)
        if cancelled:
            log(f"[Runner] marked {len(cancelled)} execution(s) of an interrupted run CANCELED: {cancelled}")

    def close(self) -> None:
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def run(self, step: Component):
        """Run `step` as one recorded execution; returns its artifact (or ``{output: artifact}``)."""
        component, inputs, outputs, body = step.name, step.inputs, step.outputs, step.body
        contexts = [self.pipeline_context, self.run_context]
        execution_id = self.store.begin(component, inputs, contexts)
        folders = {name: self.config.root / component / name / str(execution_id) for name in outputs}
        start = time.perf_counter()
        messages = []
        log = messages.append

        try:
            for folder in folders.values():
                if folder.exists():
                    raise RuntimeError(
                        f"{folder} already exists but execution {execution_id} is new: the metadata store "
                        f"{self.config.metadata} does not belong to the pipeline root {self.config.root}."
                    )
            properties = body(folders, log)
        except BaseException as err:
            self.store.fail(execution_id, f"{type(err).__name__}: {err}")
            self.log(f"[{component}] " + "; ".join([*messages, f"failed: {type(err).__name__}"]))
            raise
        artifacts = {
            name: Artifact(0, type_name, str(folders[name]), properties.get(name, {}))
            for name, type_name in outputs.items()
        }
        self.store.complete(execution_id, artifacts, contexts, {"seconds": round(time.perf_counter() - start, 3)})
        seconds = time.perf_counter() - start
        self.log(f"[{component}] " + "; ".join(messages) + f" ({seconds:.1f}s, execution {execution_id})")
        return next(iter(artifacts.values())) if len(artifacts) == 1 else artifacts
