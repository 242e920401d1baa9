"""A stand-in OpenTelemetry collector: takes OTLP/HTTP trace exports (protobuf, POST /v1/traces),
decodes them with the OpenTelemetry project's own protobuf definitions (PyPI opentelemetry-proto)
and writes each span as a JSON line, {name, traceId, spanId, parentSpanId, kind, attributes}.

    python3 otlp_collector.py PORT SPANS_FILE
"""
import http.server
import json
import sys

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

port, out = int(sys.argv[1]), sys.argv[2]


def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


class Collector(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != "/v1/traces" or self.headers.get("Content-Type") != "application/x-protobuf":
            self.send_response(415)
            self.end_headers()
            return
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        with open(out, "a") as f:
            for resource in request.resource_spans:
                service = {a.key: value(a.value) for a in resource.resource.attributes}.get("service.name")
                for scope in resource.scope_spans:
                    for s in scope.spans:
                        f.write(json.dumps({"service": service, "name": s.name, "traceId": s.trace_id.hex(), "spanId": s.span_id.hex(),
                                            "parentSpanId": s.parent_span_id.hex(), "kind": s.kind,
                                            "attributes": {a.key: value(a.value) for a in s.attributes}}) + "\n")
        answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), Collector).serve_forever()
