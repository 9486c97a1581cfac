import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import Keycloak
import Logging
import NIOCore
import OTP
import TenantRegistry

/// The OTP proxy for components (`/v1/tenants/{id}/otp`, `.../verify`) and tenant user login with a second
/// factor (`/v1/tenants/{id}/login`, `/login/otp`, `/login/otp/resend`). Expiry, attempts and resends are
/// enforced here, with the budget in the store, whatever the OTP Manager would accept.
struct OTPController: Sendable {
    let tenants: TenantService
    let client: OTPManagerClient
    let policy: OTPPolicy
    /// AES-256-GCM key for the tokens and recipients a challenge holds.
    let sealingKey: [UInt8]
    let login: LoginController
    let keycloakURL: String
    let metrics: BrokerMetrics

    func addRoutes(to router: Router<BrokerRequestContext>) {
        router.post("/v1/tenants/:tenantId/otp") { request, context in try await issue(request, context) }
        router.post("/v1/tenants/:tenantId/otp/:challengeId/verify") { request, context in try await verifyForComponent(request, context) }
        router.post("/v1/tenants/:tenantId/login") { request, context in try await tenantLogin(request, context) }
        router.post("/v1/tenants/:tenantId/login/otp") { request, context in try await loginOTP(request, context) }
        router.post("/v1/tenants/:tenantId/login/otp/resend") { request, context in try await resend(request, context) }
    }

    // MARK: - Components

    func issue(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let (caller, tenantId) = try Policy.tenantCaller(context, scope: "otp")
        let body = try await RequestBody.object(request)
        var errors = [Problem.FieldError]()
        for key in body.keys.sorted() where key != "recipient" && key != "purpose" { errors.append(.init(field: String(key.prefix(64)), message: "unknown field")) }
        let purpose: String
        switch body["purpose"] {
        case nil, .null?: purpose = "verification"
        case .string(let value)? where OTPRules.isPurpose(value) && value != OTPRules.loginPurpose: purpose = value
        default:
            purpose = ""
            errors.append(.init(field: "purpose", message: "1-64 characters of a-z, 0-9, '-', '_' (not 'login')"))
        }
        let view = try activeTenant(tenantId)
        guard view.twoFA.isEnabled, let channel = view.twoFA.channelType else {
            if errors.isEmpty { throw Problem(.conflict, code: "two_factor_disabled", detail: "the tenant has two-factor authentication off") }
            throw validation(errors)
        }
        let recipient = body["recipient"]?.stringValue ?? ""
        if !OTPRules.isValidRecipient(recipient, channel) {
            errors.append(.init(field: "recipient", message: channel == .sms ? "a phone number: + and 6-15 digits" : "an email address"))
        }
        guard errors.isEmpty else { throw validation(errors) }
        let challenge = try await start(
            view: view, channel: channel, purpose: purpose, recipient: recipient, sealedTokens: nil, actor: caller.subject, context: context)
        return accepted(challenge)
    }

    func verifyForComponent(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let (caller, tenantId) = try Policy.tenantCaller(context, scope: "otp")
        let body = try await RequestBody.object(request)
        let otp = try Self.fields(body, required: ["otp"])["otp"]!
        _ = try activeTenant(tenantId)
        let challengeId = context.parameters.get("challengeId") ?? ""
        _ = try await check(tenantId: tenantId, challengeId: challengeId, otp: otp, login: false, actor: caller.subject, context: context)
        return Self.json(.object(["verified": .bool(true)]), status: .ok)
    }

    // MARK: - Tenant login

    func tenantLogin(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let tenantId = context.parameters.get("tenantId") ?? ""
        guard TenantRules.isValidTenantId(tenantId) else { throw Policy.tenantNotFound }
        let credentials = try await LoginController.credentials(request)
        let view = try activeTenant(tenantId)
        guard let stored = try await tenants.tenant(tenantId) else { throw Policy.tenantNotFound }
        let (issuer, client) = stored.realmClient(keycloakURL: keycloakURL)
        let tokens = try await login.passwordGrant(
            issuer: issuer, client: client, scope: login.scope, credentials: credentials, throttleScope: tenantId, context: context)
        // The tenant's policy as it is now: a PATCH that turned 2FA off or on applies to this login.
        guard view.twoFA.isEnabled else { return LoginController.tokenResponse(tokens) }
        guard let channel = view.twoFA.channelType else {
            // Never hand out tokens without the second factor a tenant asked for, even if its settings are incomplete.
            if let refresh = tokens.refreshToken { await login.endSession(issuer: issuer, client: client, refreshToken: refresh) }
            throw Problem(.conflict, code: "two_factor_disabled", detail: "the tenant's two-factor configuration is incomplete")
        }
        // The tokens came straight from the provider's token endpoint over our own connection (OIDC Core §3.1.3.7).
        var claims = (try? JWS.unverifiedClaims(tokens.accessToken)) ?? [:]
        if let idToken = tokens.idToken, let idClaims = try? JWS.unverifiedClaims(idToken) {
            claims.merge(idClaims) { access, _ in access }
        }
        let claimName = channel == .sms ? policy.phoneClaim : policy.emailClaim
        guard let recipient = JSONValue.object(claims).value(atPath: claimName)?.stringValue, OTPRules.isValidRecipient(recipient, channel) else {
            if let refresh = tokens.refreshToken {
                await login.endSession(issuer: issuer, client: client, refreshToken: refresh)
            }
            context.logger.notice("tenant login without a second-factor address", metadata: ["tenant": .string(tenantId), "claim": .string(claimName)])
            throw Problem(
                .unprocessableContent, code: "recipient_missing",
                detail: "the account has no \(channel == .sms ? "phone number" : "email address") (claim \(claimName)) for the second factor")
        }
        let challengeId = OTPRules.newChallengeId()
        let sealed = Base64URL.encode(Crypto.sealAESGCM(key: sealingKey, plaintext: tokens.json.serialized(), aad: Array(challengeId.utf8)))
        let challenge = try await start(
            view: view, channel: channel, purpose: OTPRules.loginPurpose, recipient: recipient, sealedTokens: sealed,
            actor: "login:\(tenantId):\(credentials.username)", context: context, challengeId: challengeId)
        return accepted(challenge)
    }

    func loginOTP(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let tenantId = context.parameters.get("tenantId") ?? ""
        guard TenantRules.isValidTenantId(tenantId) else { throw Policy.tenantNotFound }
        let body = try await RequestBody.object(request)
        let fields = try Self.fields(body, required: ["challengeId", "otp"])
        _ = try activeTenant(tenantId)
        let challenge = try await check(
            tenantId: tenantId, challengeId: fields["challengeId"]!, otp: fields["otp"]!, login: true, actor: "login:\(tenantId)", context: context)
        guard let sealed = challenge.sealedTokens.flatMap({ Base64URL.decode($0) }),
            let plain = Crypto.openAESGCM(key: sealingKey, sealed: sealed, aad: Array(challenge.challengeId.utf8))
        else {
            context.logger.error(
                "held tokens cannot be opened (another instance with a different --otp-sealing-key?)", metadata: ["challenge": .string(challenge.challengeId)])
            throw Problem(.serviceUnavailable, code: "otp_unavailable", detail: "the login cannot be completed; log in again")
        }
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store", HTTPField.Name("Pragma")!: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(bytes: plain)))
    }

    func resend(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let tenantId = context.parameters.get("tenantId") ?? ""
        guard TenantRules.isValidTenantId(tenantId) else { throw Policy.tenantNotFound }
        let body = try await RequestBody.object(request)
        let challengeId = try Self.fields(body, required: ["challengeId"])["challengeId"]!
        _ = try activeTenant(tenantId)
        let challenge = try await live(tenantId: tenantId, challengeId: challengeId, login: true, actor: "login:\(tenantId)", context: context)
        let now = tenants.clock()
        guard let sends = try await tenants.store.reserveResend(challengeId, now: now, maxSends: 1 + policy.resendLimit, spacing: policy.resendSpacing) else {
            // Tell why: the challenge may have ended or expired since it was read.
            guard let current = try await tenants.store.challenge(challengeId), current.state != .verified else {
                throw Problem(.notFound, code: "challenge_not_found", detail: "no such challenge")
            }
            if current.state == .exhausted { throw Self.exhausted }
            if current.expiresAt <= now { throw Self.expired }
            if current.sends >= 1 + policy.resendLimit {
                throw Problem(.tooManyRequests, code: "resend_limit_reached", detail: "this challenge was sent \(current.sends) times, the most allowed")
            }
            let wait = max(1, Int((current.lastSentAt.timeIntervalSince1970 + policy.resendSpacing - now.timeIntervalSince1970).rounded(.up)))
            throw Problem(.tooManyRequests, code: "resend_too_soon", detail: "wait \(wait) s before asking for another code", headers: [.retryAfter: String(wait)])
        }
        guard let sealed = challenge.sealedRecipient.flatMap({ Base64URL.decode($0) }),
            let recipient = Crypto.openAESGCM(key: sealingKey, sealed: sealed, aad: Array(("recipient:" + challengeId).utf8))
        else {
            try await tenants.store.refundResend(challengeId, previousSentAt: challenge.lastSentAt)
            throw Problem(.serviceUnavailable, code: "otp_unavailable", detail: "the code cannot be resent; log in again")
        }
        let start = ContinuousClock.now
        do {
            let otpId = try await client.generate(
                tenantId: tenantId, baseURL: challenge.otpManagerURL,
                fields: sendFields(challenge, recipient: String(decoding: recipient, as: UTF8.self), now: now),
                idempotencyKey: "\(challengeId)-\(sends)", requestId: context.requestId)
            metrics.recordUpstream("otp", operation: "generate", outcome: "success", duration: ContinuousClock.now - start)
            if let otpId { try await tenants.store.setChallengeOTPId(challengeId, otpId: otpId) }
        } catch {
            let duration = ContinuousClock.now - start
            try? await tenants.store.refundResend(challengeId, previousSentAt: challenge.lastSentAt)
            throw await upstreamProblem(error, operation: "generate", duration: duration, challenge: challenge, actor: "login:\(tenantId)", context: context)
        }
        await audit("otp.resent", challenge, actor: "login:\(tenantId)", context: context)
        var updated = challenge
        updated.sends = sends
        return accepted(updated)
    }

    // MARK: - Shared steps

    /// Creates a challenge with the tenant's current rules and sends the first code. Nothing is kept when the send fails.
    func start(
        view: TenantView, channel: TwoFAConfig.Channel, purpose: String, recipient: String, sealedTokens: String?, actor: String,
        context: BrokerRequestContext, challengeId: String = OTPRules.newChallengeId()
    ) async throws -> OTPChallenge {
        guard let url = view.otpManagerURL, let service = view.twoFA.serviceIdentifier, let expiry = view.twoFA.otpExpiry,
            let limit = view.twoFA.retryLimit
        else { throw Problem(.conflict, code: "two_factor_disabled", detail: "the tenant's two-factor configuration is incomplete") }
        let now = tenants.clock()
        let sealedRecipient = Base64URL.encode(
            Crypto.sealAESGCM(key: sealingKey, plaintext: Array(recipient.utf8), aad: Array(("recipient:" + challengeId).utf8)))
        var challenge = OTPChallenge(
            challengeId: challengeId, tenantId: view.tenantId, purpose: purpose, channel: channel.rawValue,
            maskedRecipient: OTPRules.mask(recipient, channel), sealedRecipient: sealedRecipient, serviceIdentifier: service, otpManagerURL: url,
            createdAt: now, expiresAt: now.addingTimeInterval(Double(expiry)), maxAttempts: limit, sealedTokens: sealedTokens)
        try await tenants.store.createChallenge(challenge)
        let start = ContinuousClock.now
        do {
            challenge.otpId = try await client.generate(
                tenantId: view.tenantId, baseURL: url, fields: sendFields(challenge, recipient: recipient, now: now),
                idempotencyKey: "\(challengeId)-1", requestId: context.requestId)
            metrics.recordUpstream("otp", operation: "generate", outcome: "success", duration: ContinuousClock.now - start)
        } catch {
            let duration = ContinuousClock.now - start
            try? await tenants.store.deleteChallenge(challengeId)
            throw await upstreamProblem(error, operation: "generate", duration: duration, challenge: challenge, actor: actor, context: context)
        }
        if let otpId = challenge.otpId { try await tenants.store.setChallengeOTPId(challengeId, otpId: otpId) }
        context.logger.info(
            "OTP sent", metadata: ["challenge": .string(challengeId), "recipient": .string(challenge.maskedRecipient), "channel": .string(channel.rawValue)])
        await audit("otp.sent", challenge, actor: actor, context: context)
        return challenge
    }

    func sendFields(_ challenge: OTPChallenge, recipient: String, now: Date) -> [String: JSONValue] {
        [
            "tenantId": .string(challenge.tenantId), "channelType": .string(challenge.channel), "serviceIdentifier": .string(challenge.serviceIdentifier),
            "recipient": .string(recipient), "expirySeconds": .int(Int64(max(1, challenge.expiresAt.timeIntervalSince(now).rounded(.up)))),
            "reference": .string(challenge.challengeId),
        ]
    }

    /// The challenge if it belongs to this tenant and flow and is still alive; the contract's problem otherwise.
    func live(tenantId: String, challengeId: String, login: Bool, actor: String, context: BrokerRequestContext) async throws -> OTPChallenge {
        let notFound = Problem(.notFound, code: "challenge_not_found", detail: "no such challenge")
        guard OTPRules.isChallengeId(challengeId), let challenge = try await tenants.store.challenge(challengeId), challenge.tenantId == tenantId,
            (challenge.purpose == OTPRules.loginPurpose) == login
        else { throw notFound }
        switch challenge.state {
        case .verified: throw notFound
        case .exhausted: throw Self.exhausted
        case .pending: break
        }
        if challenge.expiresAt <= tenants.clock() {
            await audit("otp.expired", challenge, actor: actor, context: context)
            throw Self.expired
        }
        return challenge
    }

    /// Spends one attempt (atomically, before the OTP Manager is asked) and checks the code. Returns the
    /// challenge, now verified, or throws 401 / 410 / 429 / 503 / 504.
    func check(tenantId: String, challengeId: String, otp: String, login: Bool, actor: String, context: BrokerRequestContext) async throws -> OTPChallenge {
        guard OTPRules.isOTP(otp) else {
            throw Problem(
                .unprocessableContent, code: "validation_failed", detail: "the request breaks 1 rule(s)",
                errors: [.init(field: "otp", message: "1-32 letters or digits")])
        }
        let challenge = try await live(tenantId: tenantId, challengeId: challengeId, login: login, actor: actor, context: context)
        guard let used = try await tenants.store.reserveAttempt(challengeId, now: tenants.clock()) else {
            // Lost a race: the last attempt went to a parallel guess, or the challenge just expired.
            let current = try await tenants.store.challenge(challengeId) ?? challenge
            if current.expiresAt <= tenants.clock() { throw Self.expired }
            if current.state == .verified { throw Problem(.notFound, code: "challenge_not_found", detail: "no such challenge") }
            throw Self.exhausted
        }
        var fields: [String: JSONValue] = ["tenantId": .string(tenantId), "reference": .string(challengeId), "otp": .string(otp)]
        if let otpId = challenge.otpId { fields["otpId"] = .string(otpId) }
        let valid: Bool
        let start = ContinuousClock.now
        do {
            valid = try await client.verify(tenantId: tenantId, baseURL: challenge.otpManagerURL, fields: fields, requestId: context.requestId)
            metrics.recordUpstream("otp", operation: "verify", outcome: valid ? "valid" : "invalid", duration: ContinuousClock.now - start)
        } catch {
            let duration = ContinuousClock.now - start
            // The OTP Manager never judged the code: the user keeps the attempt.
            try? await tenants.store.refundAttempt(challengeId)
            throw await upstreamProblem(error, operation: "verify", duration: duration, challenge: challenge, actor: actor, context: context)
        }
        let remaining = max(0, challenge.maxAttempts - used)
        if valid {
            guard try await tenants.store.finishChallenge(challengeId, as: .verified) else {
                throw Problem(.notFound, code: "challenge_not_found", detail: "no such challenge")
            }
            context.logger.info("OTP verified", metadata: ["challenge": .string(challengeId)])
            await audit("otp.verified", challenge, actor: actor, context: context)
            return challenge
        }
        context.logger.notice("wrong OTP", metadata: ["challenge": .string(challengeId), "attempts_remaining": .stringConvertible(remaining)])
        await audit("otp.failed", challenge, actor: actor, context: context, outcome: "failure")
        if remaining == 0, try await tenants.store.finishChallenge(challengeId, as: .exhausted) {
            await audit("otp.exhausted", challenge, actor: actor, context: context, outcome: "failure")
            await endHeldSession(challenge)
        }
        var problem = Problem(.unauthorized, code: "invalid_otp", detail: "the code is wrong; \(remaining) attempt(s) left")
        problem.extra = ["attemptsRemaining": .int(Int64(remaining))]
        throw problem
    }

    /// Ends the Keycloak session of the tokens a dead login challenge held (best effort: the tokens are gone either way).
    func endHeldSession(_ challenge: OTPChallenge) async {
        guard challenge.purpose == OTPRules.loginPurpose, let sealed = challenge.sealedTokens.flatMap({ Base64URL.decode($0) }),
            let plain = Crypto.openAESGCM(key: sealingKey, sealed: sealed, aad: Array(challenge.challengeId.utf8)),
            let refresh = (try? JSONParser().parseObject(plain))?["refresh_token"]?.stringValue,
            let stored = try? await tenants.tenant(challenge.tenantId)
        else { return }
        let (issuer, client) = stored.realmClient(keycloakURL: keycloakURL)
        await login.endSession(issuer: issuer, client: client, refreshToken: refresh)
    }

    /// The contract's problem for a failed OTP Manager operation that took `duration`; counted, timed (unless
    /// nothing was sent), logged and audited.
    func upstreamProblem(
        _ error: any Error, operation: String, duration: Duration, challenge: OTPChallenge, actor: String, context: BrokerRequestContext
    ) async -> Problem {
        let failure = error as? OTPUpstreamFailure ?? .unavailable("\(type(of: error))")
        metrics.recordUpstream(
            "otp", operation: operation, outcome: failure == .timeout ? "timeout" : "error", duration: failure.wasSent ? duration : nil)
        context.logger.error(
            "OTP Manager call failed",
            metadata: ["challenge": .string(challenge.challengeId), "operation": .string(operation), "reason": .string("\(failure)")])
        await audit("otp.upstream_error", challenge, actor: actor, context: context, outcome: "failure")
        switch failure {
        case .timeout:
            return Problem(.gatewayTimeout, code: "otp_timeout", detail: "the OTP Manager did not answer in time; the attempt was not counted")
        case .unavailable, .notSent:
            return Problem(
                .serviceUnavailable, code: "otp_unavailable", detail: "the OTP Manager cannot be reached; the attempt was not counted",
                headers: [.retryAfter: "5"])
        case .rejected:
            return Problem(.badGateway, code: "otp_rejected", detail: "the OTP Manager refused to send a code to this recipient")
        }
    }

    func audit(_ action: String, _ challenge: OTPChallenge, actor: String, context: BrokerRequestContext, outcome: String = "success") async {
        let event = AuditEvent(
            at: tenants.clock(), actor: actor, action: "\(action):\(challenge.challengeId)", tenantId: challenge.tenantId, outcome: outcome,
            requestId: context.requestId)
        do {
            try await tenants.store.append(event)
        } catch {
            context.logger.warning("audit event not written", metadata: ["action": .string(action), "error": .string("\(error)")])
        }
    }

    func activeTenant(_ tenantId: String) throws -> TenantView {
        guard let view = tenants.directory.current.byId[tenantId] else { throw Policy.tenantNotFound }
        let status = view.status(at: tenants.clock())
        guard status == .active else {
            if status == .deleted { throw Policy.tenantNotFound }
            throw Policy.tenantInactive(status)
        }
        return view
    }

    func accepted(_ challenge: OTPChallenge) -> Response {
        let expiresIn = max(0, Int(challenge.expiresAt.timeIntervalSince(tenants.clock()).rounded(.up)))
        return Self.json(
            .object([
                "challengeId": .string(challenge.challengeId), "channel": .string(challenge.channel), "expiresIn": .int(Int64(expiresIn)),
                "attemptsRemaining": .int(Int64(challenge.attemptsRemaining)),
            ]), status: .accepted)
    }

    func validation(_ errors: [Problem.FieldError]) -> Problem {
        Problem(.unprocessableContent, code: "validation_failed", detail: "the request breaks \(errors.count) rule(s)", errors: errors)
    }

    static let expired = Problem(.gone, code: "otp_expired", detail: "the challenge has expired; start again")
    static let exhausted = Problem(.tooManyRequests, code: "otp_attempts_exhausted", detail: "no attempts left; the challenge is dead, start again")

    static func json(_ value: JSONValue, status: HTTPResponse.Status) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: value.serialized())))
    }

    /// Required string fields, no others; every bad field reported.
    static func fields(_ body: [String: JSONValue], required: [String]) throws -> [String: String] {
        var errors = [Problem.FieldError]()
        for key in body.keys.sorted() where !required.contains(key) { errors.append(.init(field: String(key.prefix(64)), message: "unknown field")) }
        var values = [String: String]()
        for name in required {
            if let value = body[name]?.stringValue, !value.isEmpty, value.utf8.count <= 128 {
                values[name] = value
            } else {
                errors.append(.init(field: name, message: "required: a string of 1-128 characters"))
            }
        }
        guard errors.isEmpty else {
            throw Problem(.unprocessableContent, code: "validation_failed", detail: "the request breaks \(errors.count) rule(s)", errors: errors)
        }
        return values
    }
}

extension Tenant {
    /// The issuer of the tenant's realm (`keycloak.issuer`, or `<keycloak-url>/realms/<realm>`) and the tenant's
    /// client there: what tenant login, session ends and introspection of the realm's tokens use.
    func realmClient(keycloakURL: String) -> (issuer: String, client: OIDCClientCredentials) {
        (keycloak.issuer ?? "\(keycloakURL)/realms/\(keycloak.realm)", OIDCClientCredentials(clientId: keycloak.clientId, clientSecret: keycloak.clientSecret))
    }
}
