import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import NIOCore
import OTP
import TenantRegistry
import Tokens

/// The OTP proxy for components: `POST /v1/tenants/{id}/otp` sends a code, `.../otp/{challengeId}/verify`
/// checks one. The rules (expiry, attempts) are the challenge service's.
struct OTPRoutes: Sendable {
    let challenges: ChallengeService

    func addRoutes(to router: Router<BrokerRequestContext>) {
        router.post("/v1/tenants/:tenantId/otp") { request, context in try await issue(request, context) }
        router.post("/v1/tenants/:tenantId/otp/:challengeId/verify") { request, context in try await verify(request, context) }
    }

    func issue(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let tenantId = context.parameters.get("tenantId") ?? ""
        let caller = try AccessPolicy.tenantScope(context.caller, tenantId: tenantId, scope: AccessPolicy.otpScope)
        let body = try await RequestBody.object(request)
        var errors = FieldError.unknownFields(in: body, allowed: ["recipient", "purpose"])
        let purpose: String
        switch body["purpose"] {
        case nil, .null?: purpose = "verification"
        case .string(let value)? where OTPRules.isPurpose(value) && value != OTPRules.loginPurpose: purpose = value
        default:
            purpose = ""
            errors.append(FieldError("purpose", "1-64 characters of a-z, 0-9, '-', '_' (not 'login')"))
        }
        let view = try challenges.activeTenant(tenantId)
        guard view.twoFA.isEnabled, let channel = view.twoFA.channelType else {
            if errors.isEmpty { throw ChallengeError.twoFactorDisabled }
            throw APIError.invalid(errors)
        }
        let recipient = body["recipient"]?.stringValue ?? ""
        if !OTPRules.isValidRecipient(recipient, channel) {
            errors.append(FieldError("recipient", channel == .sms ? "a phone number: + and 6-15 digits" : "an email address"))
        }
        guard errors.isEmpty else { throw APIError.invalid(errors) }
        let sent = try await challenges.start(
            view: view, purpose: purpose, recipient: recipient, by: .init(actor: caller.subject, requestId: context.requestId, logger: context.logger))
        var response = Self.accepted(sent.challenge, expiresIn: challenges.expiresIn(sent.challenge))
        if let quota = sent.quota { RateLimitHeaders.append(quota, policy: "otp", now: challenges.now, to: &response.headers) }
        return response
    }

    func verify(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let tenantId = context.parameters.get("tenantId") ?? ""
        let caller = try AccessPolicy.tenantScope(context.caller, tenantId: tenantId, scope: AccessPolicy.otpScope)
        let body = try await RequestBody.object(request)
        let otp = try Self.fields(body, required: ["otp"])["otp"]!
        _ = try challenges.activeTenant(tenantId)
        let challengeId = context.parameters.get("challengeId") ?? ""
        _ = try await challenges.check(
            tenantId: tenantId, challengeId: challengeId, otp: otp, login: false,
            by: .init(actor: caller.subject, requestId: context.requestId, logger: context.logger))
        return Self.json(.object(["verified": .bool(true)]), status: .ok)
    }

    /// 202 with a challenge's public state.
    static func accepted(_ challenge: OTPChallenge, expiresIn: Int) -> Response {
        json(
            .object([
                "challengeId": .string(challenge.challengeId), "channel": .string(challenge.channel), "expiresIn": .int(Int64(expiresIn)),
                "attemptsRemaining": .int(Int64(challenge.attemptsRemaining)),
            ]), status: .accepted)
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: value.serialized())))
    }

    /// Required string fields, no others; every bad field reported.
    static func fields(_ body: [String: JSONValue], required: [String]) throws(APIError) -> [String: String] {
        var errors = FieldError.unknownFields(in: body, allowed: Set(required))
        var values = [String: String]()
        for name in required {
            if let value = body[name]?.stringValue, !value.isEmpty, value.utf8.count <= 128 {
                values[name] = value
            } else {
                errors.append(FieldError(name, "required: a string of 1-128 characters"))
            }
        }
        guard errors.isEmpty else { throw .invalid(errors) }
        return values
    }
}
