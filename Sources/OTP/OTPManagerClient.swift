import AsyncHTTPClient
import Foundation
import JOSE
import Logging
import NIOCore
import Synchronization
import Upstream

/// The client for every tenant's OTP Manager: one connection pool per upstream host (AsyncHTTPClient), retries
/// with exponential backoff and full jitter inside one deadline, `Retry-After` honoured inside it, the same
/// `Idempotency-Key` on every retry of a send, and per-tenant isolation (a concurrency limit and a breaker).
public final class OTPManagerClient: Sendable {
    public let settings: OTPManagerSettings
    let httpClient: HTTPClient
    let logger: Logger

    struct TenantState {
        var inFlight = 0
        var consecutiveFailures = 0
        var openUntil: ContinuousClock.Instant?
    }
    private let tenants = Mutex<[String: TenantState]>([:])

    public init(settings: OTPManagerSettings, httpClient: HTTPClient = UpstreamHTTP.client, logger: Logger) {
        self.settings = settings
        self.httpClient = httpClient
        self.logger = logger
    }

    /// Asks the OTP Manager to send a code; returns its `otpId` when it gave one.
    public func generate(
        tenantId: String, baseURL: String, fields: [String: JSONValue], idempotencyKey: String, requestId: String
    ) async throws(OTPUpstreamFailure) -> String? {
        let object = try await call(
            tenantId: tenantId, url: Self.join(baseURL, settings.generatePath), fields: fields, idempotencyKey: idempotencyKey, requestId: requestId,
            isVerify: false)
        return object?[settings.wire("otpId")]?.stringValue
    }

    /// Asks the OTP Manager whether the code is valid. A 400/401/404/422 is a definitive "not valid".
    public func verify(tenantId: String, baseURL: String, fields: [String: JSONValue], requestId: String) async throws(OTPUpstreamFailure) -> Bool {
        let object = try await call(
            tenantId: tenantId, url: Self.join(baseURL, settings.verifyPath), fields: fields, idempotencyKey: nil, requestId: requestId, isVerify: true)
        return object?[settings.wire("valid")] == .bool(true)
    }

    /// `base` + `path` with exactly one slash between them.
    public static func join(_ base: String, _ path: String) -> String {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        var path = Substring(path)
        while path.hasPrefix("/") { path = path.dropFirst() }
        return base + "/" + path
    }

    // MARK: - Isolation

    private func enter(_ tenantId: String) throws(OTPUpstreamFailure) {
        let now = ContinuousClock.now
        let refusal: String? = tenants.withLock { tenants in
            var state = tenants[tenantId, default: TenantState()]
            if let open = state.openUntil, open > now { return "circuit open after \(state.consecutiveFailures) failures" }
            guard state.inFlight < settings.perTenantConcurrency else { return "\(state.inFlight) calls already in flight" }
            state.inFlight += 1
            tenants[tenantId] = state
            return nil
        }
        if let refusal { throw .notSent(refusal) }
    }

    private func leave(_ tenantId: String, failed: Bool) {
        tenants.withLock { tenants in
            var state = tenants[tenantId, default: TenantState()]
            state.inFlight = max(0, state.inFlight - 1)
            if failed {
                state.consecutiveFailures += 1
                if state.consecutiveFailures >= settings.breakerThreshold {
                    state.openUntil = ContinuousClock.now + .milliseconds(Int64(settings.breakerCooldown * 1000))
                }
            } else {
                state.consecutiveFailures = 0
                state.openUntil = nil
            }
            tenants[tenantId] = state
        }
    }

    // MARK: - Calls with retry

    private func call(
        tenantId: String, url: String, fields: [String: JSONValue], idempotencyKey: String?, requestId: String, isVerify: Bool
    ) async throws(OTPUpstreamFailure) -> [String: JSONValue]? {
        try enter(tenantId)
        do {
            let result = try await attempts(url: url, fields: fields, idempotencyKey: idempotencyKey, requestId: requestId, isVerify: isVerify)
            leave(tenantId, failed: false)
            return result
        } catch {
            // A definitive refusal means the manager is up: it does not count towards the breaker.
            if case .rejected = error { leave(tenantId, failed: false) } else { leave(tenantId, failed: true) }
            throw error
        }
    }

    private func attempts(
        url: String, fields: [String: JSONValue], idempotencyKey: String?, requestId: String, isVerify: Bool
    ) async throws(OTPUpstreamFailure) -> [String: JSONValue]? {
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int64(settings.deadline * 1000))
        var wireFields = [String: JSONValue]()
        for (name, value) in fields { wireFields[settings.wire(name)] = value }
        let body = JSONValue.object(wireFields).serialized()
        var last: OTPUpstreamFailure = .unavailable("no attempt made")
        for attempt in 1...max(1, settings.tries) {
            let remaining = deadline - clock.now
            guard remaining > .milliseconds(1) else { throw .timeout }
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "X-Request-Id", value: requestId)
            if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
            request.body = .bytes(ByteBuffer(bytes: body))
            var retryAfter: Double?
            do {
                let response = try await httpClient.tracedExecute(request, timeout: remaining.timeAmount, operation: isVerify ? "OTP Manager verify" : "OTP Manager generate")
                let bytes = try await response.body.collect(upTo: 64 * 1024)
                let status = Int(response.status.code)
                switch status {
                case 200..<300:
                    guard let object = try? JSONParser(maxBytes: 64 * 1024).parseObject(Array(buffer: bytes)) else {
                        if isVerify { throw OTPUpstreamFailure.unavailable("status \(status) without a JSON object") }
                        return nil
                    }
                    return object
                case 400, 401, 404, 422:
                    // A definitive answer, never retried: "not valid" to a verify, a refusal to send.
                    if isVerify { return [settings.wire("valid"): .bool(false)] }
                    throw OTPUpstreamFailure.rejected(status)
                case 429, 503:
                    last = .unavailable("status \(status)")
                    retryAfter = response.headers.first(name: "Retry-After").flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
                case 500..<600:
                    last = .unavailable("status \(status)")
                    if isVerify { throw last }
                case 400..<500:
                    if isVerify { throw OTPUpstreamFailure.unavailable("status \(status)") }
                    throw OTPUpstreamFailure.rejected(status)
                default:
                    throw OTPUpstreamFailure.unavailable("status \(status)")
                }
            } catch let failure as OTPUpstreamFailure {
                throw failure
            } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
                // The request may have reached the manager: a verify is not repeated; a send is (same Idempotency-Key).
                if isVerify || clock.now >= deadline { throw .timeout }
                last = .timeout
            } catch {
                let connectFailure = UpstreamHTTP.isConnectFailure(error)
                if isVerify && !connectFailure { throw .unavailable("the call failed after it was sent") }
                last = .unavailable(connectFailure ? "connection failed" : "transport error")
            }
            guard attempt < settings.tries else { break }
            let left = (deadline - clock.now)
            let leftSeconds = Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18
            var wait = Double.random(in: 0...min(settings.backoffCap, settings.backoffBase * pow(2, Double(attempt - 1))))
            if let retryAfter {
                guard retryAfter < leftSeconds else {
                    throw last
                }
                wait = max(wait, retryAfter)
            }
            guard wait < leftSeconds else { throw last == .timeout ? .timeout : last }
            try? await Task.sleep(for: .milliseconds(Int64(wait * 1000)))
        }
        throw last
    }
}
