#!/usr/bin/env python3
"""An OTLP/HTTP trace receiver for the tracing tests: decodes each export with the official OTLP
protobuf schema (opentelemetry-proto) and prints one JSON line per span on stdout.

Usage: otlp-sink.py FILE  -> prints "listening PORT PID" and appends a JSON line per span received to FILE.
Only POST /v1/traces with Content-Type application/x-protobuf is accepted; anything else is answered
404/415 and written to FILE as {"error": ...}, so a broker that sent another encoding or path fails the
test instead of passing silently.
"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def value(any_value):
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [value(v) for v in any_value.array_value.values]
    return getattr(any_value, kind) if kind else None


LOCK = threading.Lock()


def record(lines):
    with LOCK, open(sys.argv[1], "a") as out:
        out.write("".join(line + "\n" for line in lines))


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
        if self.path != "/v1/traces" or content_type != "application/x-protobuf":
            record([json.dumps({"error": f"{self.path} {content_type}"})])
            self.send_response(404 if self.path != "/v1/traces" else 415)
            self.end_headers()
            return
        lines = []
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            resource = {a.key: value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    lines.append(json.dumps({
                        "service": resource.get("service.name"),
                        "name": span.name,
                        "kind": KINDS.get(span.kind, str(span.kind)),
                        "traceId": span.trace_id.hex(),
                        "spanId": span.span_id.hex(),
                        "parentSpanId": span.parent_span_id.hex(),
                        "status": span.status.code,
                        "attributes": {a.key: value(a.value) for a in span.attributes},
                    }))
        record(lines)
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]} {os.getpid()}", flush=True)
server.serve_forever()
