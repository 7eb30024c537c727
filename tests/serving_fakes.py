"""Stand-ins for TF Serving's REST and gRPC front ends over one SavedModel (no TF Serving
binary can be installed here). They follow TF Serving's documented request and
response formats: REST ``:predict`` with columnar ``inputs`` -> ``outputs`` and
``GET .../metadata``, gRPC ``PredictionService/Predict`` and ``GetModelMetadata``, the
metadata being the SavedModel's own ``SignatureDefMap``."""

from __future__ import annotations

import json
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.python.tools import saved_model_utils
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc


class _Model:
    def __init__(self, path, name):
        self.signatures = tf.saved_model.load(str(path)).signatures
        self.name = name
        self.signature_defs = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in saved_model_utils.get_meta_graph_def(str(path), "serve").signature_def.items():
            self.signature_defs.signature_def[key].CopyFrom(signature)

    def run(self, signature, inputs):
        outputs = self.signatures[signature or "serving_default"](**{k: tf.constant(v) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in outputs.items()}


def rest_server(path, name="synthad"):
    model = _Model(path, name)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            if self.path != f"/v1/models/{model.name}:predict":
                self.send_error(404, f"Servable not found for request: {self.path}")
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            inputs = {k: tf.constant(v, tf.float32) for k, v in body["inputs"].items()}
            outputs = model.run(body.get("signature_name"), inputs)
            payload = json.dumps({"outputs": {k: v.tolist() for k, v in outputs.items()}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):  # noqa: N802
            if self.path != f"/v1/models/{model.name}/metadata":
                self.send_error(404, f"Servable not found for request: {self.path}")
                return
            signatures = json_format.MessageToDict(model.signature_defs, preserving_proto_field_name=True)
            payload = json.dumps({"model_spec": {"name": model.name}, "metadata": {"signature_def": signatures}})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def grpc_server(path, name="synthad"):
    model = _Model(path, name)

    class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):  # noqa: N802 (the service's name)
            if request.model_spec.name != model.name:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found: {request.model_spec.name}")
            inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            outputs = model.run(request.model_spec.signature_name, inputs)
            response = predict_pb2.PredictResponse()
            for key, value in outputs.items():
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
            return response

        def GetModelMetadata(self, request, context):  # noqa: N802
            if request.model_spec.name != model.name:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found: {request.model_spec.name}")
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = model.name
            response.metadata["signature_def"].Pack(model.signature_defs)
            return response

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"
