"""ML Metadata: every component run is an Execution, every output an Artifact, linked by Events.

As in TFX, an execution is recorded as RUNNING (with its input events) before the
component starts, and its output artifacts are recorded LIVE together with the
COMPLETE state in one transaction once the component has finished writing them.
A process killed mid-way therefore leaves one RUNNING execution and no artifact; the
next run marks such executions CANCELED (`cancel_unfinished`). Contexts group the
executions of one pipeline and of one run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd

PIPELINE_CONTEXT = "pipeline"
RUN_CONTEXT = "pipeline_run"


@dataclass
class Artifact:
    """A recorded artifact: MLMD id, type name, URI and its custom properties."""

    id: int
    type: str
    uri: str
    properties: dict = field(default_factory=dict)


def _value(value) -> mlmd.Value:
    if isinstance(value, bool):
        return mlmd.Value(int_value=int(value))
    if isinstance(value, int):
        return mlmd.Value(int_value=value)
    if isinstance(value, float):
        return mlmd.Value(double_value=value)
    return mlmd.Value(string_value=str(value))


def _plain(value: mlmd.Value):
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


class MetadataStore:
    """An MLMD SQLite store (created if missing) with the pipeline's types."""

    def __init__(self, path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        config = mlmd.ConnectionConfig()
        config.sqlite.filename_uri = str(path)
        config.sqlite.connection_mode = mlmd.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.store = metadata_store.MetadataStore(config)
        self._types: dict[tuple[str, str], int] = {}

    # --- types and contexts ------------------------------------------------------------

    def _type_id(self, kind: str, name: str) -> int:
        key = (kind, name)
        if key not in self._types:
            proto = {"artifact": mlmd.ArtifactType, "execution": mlmd.ExecutionType, "context": mlmd.ContextType}[kind]
            put = getattr(self.store, f"put_{kind}_type")
            self._types[key] = put(proto(name=name))
        return self._types[key]

    def context(self, kind: str, name: str) -> mlmd.Context:
        type_id = self._type_id("context", kind)
        found = self.store.get_context_by_type_and_name(kind, name)
        if found is not None:
            return found
        context = mlmd.Context(type_id=type_id, name=name)
        context.id = self.store.put_contexts([context])[0]
        return context

    # --- executions --------------------------------------------------------------------

    def begin(self, component: str, inputs: dict[str, Artifact], contexts, properties=None) -> int:
        """Record a RUNNING execution of `component` with INPUT events; returns its id."""
        execution = mlmd.Execution(
            type_id=self._type_id("execution", component), last_known_state=mlmd.Execution.RUNNING
        )
        for key, value in (properties or {}).items():
            execution.custom_properties[key].CopyFrom(_value(value))
        pairs = []
        for key, artifact in inputs.items():
            event = mlmd.Event(type=mlmd.Event.INPUT)
            event.path.steps.add().key = key
            pairs.append((self.store.get_artifacts_by_id([artifact.id])[0], event))
        execution_id, _, _ = self.store.put_execution(execution, pairs, contexts, reuse_context_if_already_exist=True)
        return execution_id

    def complete(
        self, execution_id: int, outputs: dict[str, Artifact], contexts, properties=None
    ) -> dict[str, Artifact]:
        """Record `outputs` LIVE with OUTPUT events and the execution COMPLETE, in one transaction."""
        execution = self.store.get_executions_by_id([execution_id])[0]
        execution.last_known_state = mlmd.Execution.COMPLETE
        for key, value in (properties or {}).items():
            execution.custom_properties[key].CopyFrom(_value(value))
        pairs = []
        for key, artifact in outputs.items():
            proto = mlmd.Artifact(
                type_id=self._type_id("artifact", artifact.type), uri=artifact.uri, state=mlmd.Artifact.LIVE
            )
            for name, value in artifact.properties.items():
                proto.custom_properties[name].CopyFrom(_value(value))
            event = mlmd.Event(type=mlmd.Event.OUTPUT)
            event.path.steps.add().key = key
            pairs.append((proto, event))
        _, ids, _ = self.store.put_execution(execution, pairs, contexts, reuse_context_if_already_exist=True)
        for artifact, artifact_id in zip(outputs.values(), ids, strict=True):
            artifact.id = artifact_id
        return outputs

    def fail(self, execution_id: int, message: str) -> None:
        execution = self.store.get_executions_by_id([execution_id])[0]
        execution.last_known_state = mlmd.Execution.FAILED
        execution.custom_properties["error"].CopyFrom(_value(message[:2000]))
        self.store.put_executions([execution])

    def cancel_unfinished(self, pipeline_context: mlmd.Context) -> list[int]:
        """Mark executions still RUNNING in this pipeline CANCELED (their process ended); returns their ids."""
        stale = [
            e
            for e in self.store.get_executions_by_context(pipeline_context.id)
            if e.last_known_state == mlmd.Execution.RUNNING
        ]
        for execution in stale:
            execution.last_known_state = mlmd.Execution.CANCELED
            execution.custom_properties["note"].CopyFrom(_value("the process ended before the execution completed"))
        if stale:
            self.store.put_executions(stale)
        return [e.id for e in stale]

    # --- queries -----------------------------------------------------------------------

    def _artifact(self, proto: mlmd.Artifact) -> Artifact:
        type_name = self.store.get_artifact_types_by_id([proto.type_id])[0].name
        return Artifact(proto.id, type_name, proto.uri, {k: _plain(v) for k, v in proto.custom_properties.items()})

    def artifacts(self, context: mlmd.Context, type_name: str) -> list[Artifact]:
        """LIVE artifacts of `type_name` in `context`, oldest first."""
        protos = [
            a
            for a in self.store.get_artifacts_by_context(context.id)
            if a.state == mlmd.Artifact.LIVE and a.type_id == self._type_id("artifact", type_name)
        ]
        return [self._artifact(a) for a in sorted(protos, key=lambda a: a.id)]

    def artifact(self, artifact_id: int) -> Artifact:
        return self._artifact(self.store.get_artifacts_by_id([artifact_id])[0])

    def executions(self, context: mlmd.Context) -> list[tuple[str, str, int]]:
        """(component, state, id) of every execution in `context`, oldest first."""
        result = []
        for execution in sorted(self.store.get_executions_by_context(context.id), key=lambda e: e.id):
            component = self.store.get_execution_types_by_id([execution.type_id])[0].name
            result.append((component, mlmd.Execution.State.Name(execution.last_known_state), execution.id))
        return result

    def upstream(self, artifact_id: int) -> list[Artifact]:
        """Every artifact the given one was derived from (transitively), by walking the events back."""
        seen, frontier, found = {artifact_id}, [artifact_id], []
        while frontier:
            producing = {
                e.execution_id for e in self.store.get_events_by_artifact_ids(frontier) if e.type == mlmd.Event.OUTPUT
            }
            frontier = []
            if producing:
                for event in self.store.get_events_by_execution_ids(list(producing)):
                    if event.type == mlmd.Event.INPUT and event.artifact_id not in seen:
                        seen.add(event.artifact_id)
                        frontier.append(event.artifact_id)
            found += [self.artifact(i) for i in frontier]
        return found
