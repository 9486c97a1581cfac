import Foundation
import JOSE
import StoreTestSupport
import Testing

/// The OTLP/HTTP receiver of `Tests/Support/scripts/otlp-sink.py`: every span it decoded, one JSON object each.
final class OTLPSink: Sendable {
    let script: LoopbackScript
    let file: String
    var endpoint: String { "http://127.0.0.1:\(script.port)/v1/traces" }

    init(in scratch: ScratchDirectory) throws {
        file = scratch.path + "/spans.jsonl"
        _ = FileManager.default.createFile(atPath: file, contents: nil)
        script = try LoopbackScript("otlp-sink.py", [file])
    }

    var records: [[String: JSONValue]] {
        get throws {
            // Only complete lines: the receiver may be appending the last one right now.
            let text = try String(contentsOfFile: file, encoding: .utf8)
            let complete = text.hasSuffix("\n") ? Substring(text) : text[..<(text.lastIndex(of: "\n") ?? text.startIndex)]
            return try complete.split(separator: "\n").map { try JSONParser().parseObject(Array($0.utf8)) }
        }
    }

    /// Polls until `done` holds for the spans received, or `timeout` passes; returns the spans either way.
    func spans(within timeout: Duration = .seconds(15), until done: ([[String: JSONValue]]) -> Bool) async throws -> [[String: JSONValue]] {
        let deadline = ContinuousClock.now + timeout
        var spans = try records
        while !done(spans), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            spans = try records
        }
        return spans
    }
}

extension [String: JSONValue] {
    var name: String? { self["name"]?.stringValue }
    var attributes: [String: JSONValue] { self["attributes"]?.objectValue ?? [:] }
}

@Suite("OpenTelemetry tracing with the real binary", .serialized) struct TracingTests {
    @Test("--tracing-endpoint: a server span per request continues the caller's trace, upstream calls are client spans that carry it to Keycloak, and no credential reaches a span")
    func exportsSpans() async throws {
        let scratch = ScratchDirectory()
        let sink = try OTLPSink(in: scratch)
        let double = try await loginDouble()
        defer { double.stop() }
        let broker = try await BrokerProcess.serve(
            keysDir: scratch.path + "/keys", directory: scratch.path,
            extraArguments: [
                "--database", "sqlite:\(scratch.path)/db.sqlite", "--keycloak-url", double.base,
                "--tracing-endpoint", sink.endpoint.replacingOccurrences(of: "http://", with: "http://collector:tracing-secret@"),
                // A refused request's access line is written at debug (RefusalLog); this test reads the 401's line.
                "--log-level", "debug",
            ],
            environment: ["OTEL_BSP_SCHEDULE_DELAY": "100"])
        defer { broker.signal(SIGKILL) }

        let callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
        let callerSpan = "00f067aa0ba902b7"
        #expect(try await HTTP.get(broker.baseURL + "/healthz", headers: [("traceparent", "00-\(callerTrace)-\(callerSpan)-01")]).status == 200)
        let refused = try await HTTP.get(
            broker.baseURL + "/v1/verify?tenant=t1&access_token=leaked-query-secret&Access_Token=leaked-case-secret&access%5Ftoken=leaked-encoded-secret&leaked-bare-secret",
            headers: [("Authorization", "Bearer leaked-header-secret"), ("User-Agent", "leaked-agent")])
        #expect(refused.status == 401)
        let login = try await HTTP.send(.POST, broker.baseURL + "/v1/login", key: nil, json: credentials("ada", "s3cr&t +=%é"))
        #expect(login.status == 200, "\(login.text)")

        let spans = try await sink.spans { spans in
            spans.contains { $0.name == "/v1/login" } && spans.contains { $0.name == "OIDC token" } && spans.contains { $0.name == "/v1/verify" }
                && spans.contains { $0.name == "/healthz" }
        }
        #expect(!spans.contains { $0["error"] != nil }, "the sink refused an export: \(spans)")

        let health = try #require(spans.first { $0.name == "/healthz" }, "\(spans)")
        #expect(health["kind"] == .string("server"))
        #expect(health["service"] == .string("token-broker"))
        #expect(health["traceId"] == .string(callerTrace), "the caller's traceparent is continued")
        #expect(health["parentSpanId"] == .string(callerSpan))
        #expect(health.attributes["http.response.status_code"] == .int(200))

        let verify = try #require(spans.first { $0.name == "/v1/verify" })
        #expect(verify.attributes["http.response.status_code"] == .int(401))
        #expect(verify.attributes["url.query"] == .string("tenant=t1&REDACTED&REDACTED&REDACTED&REDACTED"), "only the API's own parameters keep their values: \(verify)")
        #expect(verify.attributes["http.route"] == .string("/v1/verify"))
        #expect(Set(verify.attributes.keys) == ["http.request.method", "url.path", "url.query", "http.route", "http.response.status_code"],
            "no header, address or other attribute: \(verify.attributes.keys.sorted())")
        #expect(verify["parentSpanId"] == .string(""), "a request without traceparent starts its own trace")
        let verifyTrace = try #require(verify["traceId"]?.stringValue)
        #expect(broker.log.contains("tracing on") && !broker.log.contains("tracing-secret"), "the endpoint's credentials are not logged")
        let verifyLine = try #require(broker.log.split(separator: "\n").first { $0.contains("\"route\":\"/v1/verify\"") })
        #expect(verifyLine.contains("\"traceId\":\"\(verifyTrace)\""), "the request's log line names its trace: \(verifyLine)")

        let server = try #require(spans.first { $0.name == "/v1/login" })
        let upstream = try #require(spans.first { $0.name == "OIDC token" })
        #expect(upstream["kind"] == .string("client"))
        #expect(upstream["traceId"] == server["traceId"])
        #expect(upstream["parentSpanId"] == server["spanId"], "the Keycloak call is a child of the login request")
        #expect(upstream.attributes["http.response.status_code"] == .int(200))
        let http = try #require(spans.first { $0["parentSpanId"] == upstream["spanId"] }, "AsyncHTTPClient's HTTP span under it")
        #expect(http.attributes["url.path"]?.stringValue?.hasSuffix("/protocol/openid-connect/token") == true)
        let sent = try #require(double.traceparents.last { $0.path == "token" }?.values)
        #expect(sent.count == 1, "exactly one traceparent: \(sent)")
        #expect(sent.first?.hasPrefix("00-\(server["traceId"]?.stringValue ?? "?")-") == true, "\(sent)")

        let exported = try String(contentsOfFile: sink.file, encoding: .utf8)
        for secret in [
            "leaked-query-secret", "leaked-case-secret", "leaked-encoded-secret", "leaked-bare-secret", "leaked-header-secret", "leaked-agent",
            "s3cr&t", "ada@example.com", "Bearer",
        ] {
            #expect(!exported.contains(secret), "\(secret) reached a span")
        }
    }

    @Test("SIGTERM exports the spans still batched before the broker exits")
    func flushOnShutdown() async throws {
        let scratch = ScratchDirectory()
        let sink = try OTLPSink(in: scratch)
        let broker = try await BrokerProcess.serve(
            keysDir: scratch.path + "/keys", directory: scratch.path,
            extraArguments: ["--database", "sqlite:\(scratch.path)/db.sqlite", "--tracing-endpoint", sink.endpoint],
            environment: ["OTEL_BSP_SCHEDULE_DELAY": "600000"])
        for _ in 0..<3 { #expect(try await HTTP.get(broker.baseURL + "/.well-known/jwks.json").status == 200) }
        #expect(try sink.records.isEmpty, "nothing is sent before the batch is due")
        broker.signal(SIGTERM)
        #expect(try await broker.waitForExit() == 0)
        #expect(try sink.records.filter { $0.name == "/.well-known/jwks.json" }.count == 3)
    }

    @Test("without --tracing-endpoint nothing is exported, even when OTEL_EXPORTER_OTLP_ENDPOINT is set")
    func offByDefault() async throws {
        let scratch = ScratchDirectory()
        let sink = try OTLPSink(in: scratch)
        let broker = try await BrokerProcess.serve(
            keysDir: scratch.path + "/keys", directory: scratch.path, extraArguments: ["--database", "sqlite:\(scratch.path)/db.sqlite"],
            environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(sink.script.port)", "OTEL_BSP_SCHEDULE_DELAY": "100"])
        for _ in 0..<3 { #expect(try await HTTP.get(broker.baseURL + "/healthz").status == 200) }
        // Not a wait for something to happen: five export intervals (100 ms) in which nothing may reach the sink.
        try await Task.sleep(for: .milliseconds(500))
        broker.signal(SIGTERM)
        #expect(try await broker.waitForExit() == 0)
        #expect(try sink.records.isEmpty)
        #expect(!broker.log.contains("traceId"))
    }

    @Test("a bad tracing set-up is a clear start-up error, not a crash", arguments: [
        (["--tracing-endpoint", "otel-collector:4318"], [:], "--tracing-endpoint"),
        (["--tracing-endpoint", "http://127.0.0.1:4318/v1/traces"], ["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"], "OTEL_EXPORTER_OTLP_PROTOCOL=grpc"),
        (["--tracing-endpoint", "http://127.0.0.1:4318/v1/traces"], ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"],
         "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc"),
        (["--tracing-endpoint", "http://127.0.0.1:4318/v1/traces"], ["OTEL_TRACES_EXPORTER": "zipkin"], "OTEL_TRACES_EXPORTER=zipkin"),
        (["--tracing-endpoint", "http://127.0.0.1:4318/"], [:], "has no path"),
        (["--tracing-endpoint", "http://127.0.0.1:4318/v1/traces"], ["OTEL_PROPAGATORS": "tracecontext,baggage"], "OTEL_PROPAGATORS=tracecontext,baggage"),
        (["--tracing-endpoint", "http://127.0.0.1:4318/v1/traces"], ["OTEL_TRACES_SAMPLER": "xray"], "OTEL_TRACES_SAMPLER=xray"),
    ] as [([String], [String: String], String)])
    func badTracingSetUp(flags: [String], environment: [String: String], named: String) async throws {
        let scratch = ScratchDirectory()
        let result = try await BrokerProcess.run(
            ["serve", "--port", "0", "--keys-dir", scratch.path + "/keys", "--database", "sqlite:\(scratch.path)/db.sqlite"] + flags,
            environment: environment, directory: scratch.path)
        #expect(result.status == 1, "exit \(result.status): \(result.stderr)")
        #expect(result.stderr.contains(named), "\(result.stderr)")
    }
}
