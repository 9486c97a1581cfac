import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import Keycloak
import Logging
import NIOCore

/// Portal login against the master realm (or any OIDC provider): `POST /v1/login`, `/v1/login/refresh`,
/// `/v1/logout`. The provider's answers are mapped to the contract's problems; its bodies are never passed on.
struct LoginController: Sendable {
    let oidc: OIDCClient
    let issuer: String
    let client: OIDCClientCredentials
    let scope: String
    let throttle: LoginThrottle
    let metrics: BrokerMetrics
    let clock: @Sendable () -> Date

    func addRoutes(to router: Router<BrokerRequestContext>) {
        router.post("/v1/login") { request, context in try await login(request, context) }
        router.post("/v1/login/refresh") { request, context in try await refresh(request, context) }
        router.post("/v1/logout") { request, context in try await logout(request, context) }
    }

    func login(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let credentials = try await Self.credentials(request)
        let tokens = try await passwordGrant(
            issuer: issuer, client: client, scope: scope, credentials: credentials, throttleScope: "master", context: context)
        return Self.tokenResponse(tokens)
    }

    func refresh(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let refreshToken = try await Self.refreshToken(request)
        let start = ContinuousClock.now
        do {
            let tokens = try await oidc.refresh(issuer: issuer, client: client, refreshToken: refreshToken)
            metrics.recordUpstream("keycloak", operation: "refresh", outcome: "success", duration: ContinuousClock.now - start)
            return Self.tokenResponse(tokens)
        } catch {
            throw problem(error, operation: "refresh", duration: ContinuousClock.now - start, context: context)
        }
    }

    func logout(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let refreshToken = try await Self.refreshToken(request)
        let start = ContinuousClock.now
        do {
            try await oidc.logout(issuer: issuer, client: client, refreshToken: refreshToken)
            metrics.recordUpstream("keycloak", operation: "logout", outcome: "success", duration: ContinuousClock.now - start)
            return Response(status: .noContent, headers: [.cacheControl: "no-store"])
        } catch {
            throw problem(error, operation: "logout", duration: ContinuousClock.now - start, context: context)
        }
    }

    /// Ends a session the broker holds tokens of and will not hand out (a tenant login whose second factor
    /// cannot or did not happen). Best effort, never an error to the caller; counted and timed like every
    /// other Keycloak call.
    func endSession(issuer: String, client: OIDCClientCredentials, refreshToken: String) async {
        let start = ContinuousClock.now
        let outcome: String
        do {
            try await oidc.logout(issuer: issuer, client: client, refreshToken: refreshToken)
            outcome = "success"
        } catch {
            switch error {
            case .unavailable, .unsupported: outcome = "error"
            default: outcome = "refused"
            }
        }
        metrics.recordUpstream("keycloak", operation: "logout", outcome: outcome, duration: ContinuousClock.now - start)
    }

    /// A password grant behind the broker's throttle: refused with 429 before the provider is asked when the
    /// username or the client address has too many recent failures.
    func passwordGrant(
        issuer: String, client: OIDCClientCredentials, scope: String?, credentials: (username: String, password: String), throttleScope: String,
        context: BrokerRequestContext
    ) async throws -> OIDCTokenResponse {
        let userKey = LoginThrottle.userKey(throttleScope, credentials.username)
        let address = context.clientAddress
        if let wait = throttle.retryAfter(user: userKey, address: address, now: clock().timeIntervalSince1970) {
            context.logger.notice("login throttled", metadata: ["username": .string(credentials.username), "retry_after": .stringConvertible(wait)])
            metrics.recordUpstream("keycloak", operation: "password", outcome: "throttled", duration: nil)
            throw Problem(
                .tooManyRequests, code: "too_many_attempts", detail: "too many failed logins; try again in \(wait) s",
                headers: [.retryAfter: String(wait)])
        }
        let start = ContinuousClock.now
        do {
            let tokens = try await oidc.password(
                issuer: issuer, client: client, username: credentials.username, password: credentials.password, scope: scope)
            throttle.recordSuccess(user: userKey)
            metrics.recordUpstream("keycloak", operation: "password", outcome: "success", duration: ContinuousClock.now - start)
            context.logger.info("password grant succeeded", metadata: ["username": .string(credentials.username), "issuer": .string(issuer)])
            return tokens
        } catch {
            let duration = ContinuousClock.now - start
            if case .invalidCredentials = error { throttle.recordFailure(user: userKey, address: address, now: clock().timeIntervalSince1970) }
            throw problem(error, operation: "password", duration: duration, context: context, username: credentials.username)
        }
    }

    /// The contract's problem for a provider failure; the reason goes to the log, never to the client. `duration`
    /// is how long the failed call took.
    func problem(_ failure: OIDCFailure, operation: String, duration: Duration, context: BrokerRequestContext, username: String? = nil) -> Problem {
        var metadata: Logger.Metadata = ["operation": .string(operation), "reason": .string(failure.logDescription)]
        if let username { metadata["username"] = .string(username) }
        let outcome: String
        let problem: Problem
        switch failure {
        case .invalidCredentials:
            outcome = "refused"
            problem = Problem(.unauthorized, code: "invalid_credentials", detail: "the username or the password is wrong")
        case .accountDisabled:
            outcome = "refused"
            problem = Problem(.forbidden, code: "account_disabled", detail: "the account is disabled")
        case .accountSetupRequired:
            outcome = "refused"
            problem = Problem(
                .forbidden, code: "account_setup_required",
                detail: "the account is not fully set up (a required action or profile field is pending in the identity provider)")
        case .invalidRefreshToken:
            outcome = "refused"
            problem = Problem(.unauthorized, code: "invalid_refresh_token", detail: "the refresh token is invalid, expired or its session has ended; log in again")
        case .unavailable, .unsupported:
            outcome = "error"
            problem = Problem(
                .serviceUnavailable, code: "upstream_unavailable", detail: "the identity provider cannot be reached or answered an error; try again later",
                headers: [.retryAfter: "5"])
        }
        metrics.recordUpstream("keycloak", operation: operation, outcome: outcome, duration: duration)
        if outcome == "error" {
            context.logger.error("identity provider call failed", metadata: metadata)
        } else {
            context.logger.notice("identity provider refused", metadata: metadata)
        }
        return problem
    }

    static func tokenResponse(_ tokens: OIDCTokenResponse) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store", HTTPField.Name("Pragma")!: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(bytes: tokens.json.serialized())))
    }

    /// `{"username", "password"}`: both non-empty strings, no other fields; every bad field reported.
    static func credentials(_ request: Request) async throws -> (username: String, password: String) {
        let body = try await RequestBody.object(request)
        var errors = [Problem.FieldError]()
        for key in body.keys.sorted() where key != "username" && key != "password" {
            errors.append(.init(field: String(key.prefix(64)), message: "unknown field"))
        }
        let username = body["username"]?.stringValue
        if username == nil || username!.isEmpty || username!.count > 255 || username!.contains(where: { $0.isNewline || $0.asciiValue.map { $0 < 0x20 } == true }) {
            errors.append(.init(field: "username", message: "required: a string of 1-255 characters without control characters"))
        }
        let password = body["password"]?.stringValue
        if password == nil || password!.isEmpty || password!.utf8.count > 1024 {
            errors.append(.init(field: "password", message: "required: a string of 1-1024 bytes"))
        }
        guard errors.isEmpty, let username, let password else {
            throw Problem(.unprocessableContent, code: "validation_failed", detail: "the request breaks \(errors.count) rule(s)", errors: errors)
        }
        return (username, password)
    }

    /// `{"refresh_token"}`: a non-empty string of at most 16 KiB.
    static func refreshToken(_ request: Request) async throws -> String {
        let body = try await RequestBody.object(request)
        var errors = [Problem.FieldError]()
        for key in body.keys.sorted() where key != "refresh_token" { errors.append(.init(field: String(key.prefix(64)), message: "unknown field")) }
        let token = body["refresh_token"]?.stringValue
        if token == nil || token!.isEmpty || token!.utf8.count > 16 * 1024 {
            errors.append(.init(field: "refresh_token", message: "required: a string of at most 16 KiB"))
        }
        guard errors.isEmpty, let token else {
            throw Problem(.unprocessableContent, code: "validation_failed", detail: "the request breaks \(errors.count) rule(s)", errors: errors)
        }
        return token
    }
}

extension BrokerRequestContext {
    /// The client's IP address, from the connection (not from forwarded headers, which a client can forge).
    var clientAddress: String? { remoteAddress?.ipAddress }
}
