import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import Logging
import NIOCore
import ServiceLifecycle
import LoopbackServer
import Synchronization

/// A stand-in for a tenant's OTP Manager on loopback, speaking `spec/otp-manager.md`: `POST {base}otp/generate`
/// creates a 6-digit code per `reference` (and honours `Idempotency-Key`: a repeated key sends nothing new),
/// `POST {base}otp/verify` answers `{"valid": true|false}` (404 for an unknown reference). Behaviours are
/// switchable: fail the next N calls with 503, answer 429 with `Retry-After`, hang, accept any code; `goDown()`
/// refuses connections. Every request is recorded with its `Idempotency-Key`.
public final class OTPManagerDouble: Sendable {
    public enum Behaviour: Sendable, Equatable {
        case normal
        /// Every call waits this long, then answers normally.
        case hang(Duration)
        /// Every verify says valid, whatever the code (a lenient manager).
        case acceptAny
        /// Every send is refused with 400 (a recipient the manager will not text).
        case rejectSends
    }

    public struct Recorded: Sendable {
        public let path: String
        public let idempotencyKey: String?
        public let requestId: String?
        public let body: [String: JSONValue]
    }

    struct State {
        var codes: [String: String] = [:]
        var idempotent: [String: String] = [:]
        var sends = 0
        var failNext = 0
        var rateLimitNext = 0
        var retryAfter = 1
        var requests: [Recorded] = []
    }

    private let state = Mutex(State())
    private let behaviour = Mutex<Behaviour>(.normal)
    private let server = LoopbackServer(label: "otp-manager-double")

    public init() {}

    public var port: Int { server.port }
    /// The `Otp_Manager_Url` a tenant names (with the trailing slash of the seeds' example).
    public var url: String { "http://\(server.host):\(port)/" }
    public func set(_ new: Behaviour) { behaviour.withLock { $0 = new } }
    /// The next `count` calls answer 503.
    public func failNext(_ count: Int) { state.withLock { $0.failNext = count } }
    /// The next `count` calls answer 429 with `Retry-After: seconds`.
    public func rateLimitNext(_ count: Int, retryAfter seconds: Int) { state.withLock { $0.rateLimitNext = count; $0.retryAfter = seconds } }
    public var requests: [Recorded] { state.withLock { $0.requests } }
    /// Codes actually sent (idempotent repeats not counted).
    public var sends: Int { state.withLock { $0.sends } }
    public func code(for reference: String) -> String? { state.withLock { $0.codes[reference] } }
    public func calls(_ path: String) -> Int { state.withLock { $0.requests.filter { $0.path == path }.count } }

    public func start() async throws {
        let router = Router()
        router.post("/otp/generate") { [self] request, _ in try await handle(request, path: "generate") }
        router.post("/otp/verify") { [self] request, _ in try await handle(request, path: "verify") }
        // A site whose OTP Manager differs: other paths and field names (`to` for recipient, `code` for otp).
        router.post("/custom/send") { [self] request, _ in try await handle(request, path: "generate") }
        router.post("/custom/check") { [self] request, _ in try await handle(request, path: "verify") }
        try await server.start(router)
    }

    /// Stops listening (connections refused) and waits for it; `start()` again reuses the port.
    public func goDown() async { await server.goDown() }

    /// Stops without waiting (for `defer` in synchronous contexts).
    public func stop() { server.stop() }

    func handle(_ request: Request, path: String) async throws -> Response {
        let bytes = try await request.body.collect(upTo: 1 << 16)
        guard var body = try? JSONParser().parseObject(Array(buffer: bytes)) else {
            return Self.json(.object(["error": .string("bad json")]), status: .badRequest)
        }
        let key = request.headers[HTTPField.Name("Idempotency-Key")!]
        let recorded = Recorded(path: path, idempotencyKey: key, requestId: request.headers[HTTPField.Name("X-Request-Id")!], body: body)
        if let to = body["to"], body["recipient"] == nil { body["recipient"] = to }
        if let code = body["code"], body["otp"] == nil { body["otp"] = code }
        let refusal = state.withLock { state -> Response? in
            state.requests.append(recorded)
            if state.failNext > 0 {
                state.failNext -= 1
                return Self.json(.object(["error": .string("unavailable")]), status: .serviceUnavailable)
            }
            if state.rateLimitNext > 0 {
                state.rateLimitNext -= 1
                return Self.json(.object(["error": .string("slow down")]), status: .tooManyRequests, headers: [.retryAfter: String(state.retryAfter)])
            }
            return nil
        }
        if let refusal { return refusal }
        let mode = behaviour.withLock { $0 }
        if case .hang(let delay) = mode { try await Task.sleep(for: delay) }
        guard let reference = body["reference"]?.stringValue else { return Self.json(.object(["error": .string("reference missing")]), status: .unprocessableContent) }
        if path == "generate" {
            if mode == .rejectSends { return Self.json(.object(["error": .string("invalid recipient")]), status: .badRequest) }
            guard body["recipient"]?.stringValue != nil, body["tenantId"]?.stringValue != nil else {
                return Self.json(.object(["error": .string("recipient missing")]), status: .unprocessableContent)
            }
            let otpId = state.withLock { state -> String in
                if let key, let earlier = state.idempotent[key] { return earlier }
                state.sends += 1
                state.codes[reference] = String(format: "%06d", Int.random(in: 0...999_999))
                let otpId = "otp-\(state.sends)"
                if let key { state.idempotent[key] = otpId }
                return otpId
            }
            return Self.json(.object(["otpId": .string(otpId), "status": .string("sent")]))
        }
        guard let expected = code(for: reference) else { return Self.json(.object(["error": .string("unknown reference")]), status: .notFound) }
        let valid = mode == .acceptAny || body["otp"]?.stringValue == expected
        return Self.json(.object(["valid": .bool(valid)]))
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: value.serialized())))
    }
}
