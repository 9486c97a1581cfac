import HTTPTypes
import Hummingbird
import JOSE
import Keycloak
import OTP
import TenantRegistry
import Tokens

/// The one place where failures become HTTP answers. Every error a route, middleware or fast path can meet maps
/// here, and only here, to one status and one problem `code` (RFC 9457, on `/v1`) or OAuth `error` (RFC 6749
/// §5.2, on `/oauth2/*`): the domain errors (`AccessDenial`, `TokenIssuer.Refusal`, `ChallengeError`,
/// `OIDCFailure`, `StoreError`, `ValidationFailure`) and the HTTP layer's (`APIError`, `OAuthFailure`,
/// `LoginRefusal`, `ForwardAuthRefusal`). Details are written for the client: never secrets, tokens or upstream bodies.
enum ErrorMapping {
    /// 429 `rate_limited` for a tenant's per-minute limit `policy` (shared by the instances on one store).
    static func minuteLimit(_ policy: String, what: String, limit: Int, retryAfter wait: Int) -> Problem {
        let decision = RateDecision(allowed: false, limit: limit, window: 60, remaining: 0, reset: wait, retryAfter: wait)
        return Problem(
            .tooManyRequests, code: "rate_limited", detail: "the tenant's \(what) per minute (\(limit)) are used up; try again in \(wait) s",
            headers: RateLimitHeaders.refusal(decision, policy: policy))
    }

    /// The challenge of a 401 on `/v1`.
    static let bearerChallenge = "Bearer realm=\"token-broker\""

    /// The answer to anything a handler threw; unknown errors are logged (by type only) and answered 500.
    static func response(for error: any Error, request: Request, context: BrokerRequestContext) throws -> Response {
        if let problem = problem(for: error) { return try problem.response(from: request, context: context) }
        if let failure = error as? OAuthFailure { return try failure.oauthError.response(from: request, context: context) }
        if let error = error as? OAuthError { return try error.response(from: request, context: context) }
        if let error = error as? any HTTPResponseError { return try translate(error, request: request, context: context) }
        context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
        return try APIError.internalError.problem.response(from: request, context: context)
    }

    /// The problem for a domain or HTTP-layer error, nil for anything else.
    static func problem(for error: any Error) -> Problem? {
        switch error {
        case let problem as Problem: problem
        case let error as APIError: error.problem
        case let error as AccessDenial: error.problem
        case let error as TokenIssuer.Refusal: error.problem
        case let error as ChallengeError: error.problem
        case let error as LoginRefusal: error.problem
        case let error as OIDCFailure: error.problem
        case let error as ValidationFailure: error.problem
        case let error as StoreError: error.problem
        default: nil
        }
    }

    /// Hummingbird's own errors (404 from the router, 413 from body limits, 405) become problems with a code.
    static func translate(_ error: any HTTPResponseError, request: Request, context: BrokerRequestContext) throws -> Response {
        let code: String
        switch error.status {
        case .notFound: code = "not_found"
        case .methodNotAllowed: code = "method_not_allowed"
        case .contentTooLarge: code = "payload_too_large"
        case .badRequest: code = "malformed_request"
        case .unsupportedMediaType: code = "unsupported_media_type"
        default: code = error.status.code >= 500 ? "internal_error" : "request_error"
        }
        if error.status.code >= 500 {
            context.logger.error("server error", metadata: ["status": .stringConvertible(error.status.code)])
        }
        return try Problem(error.status, code: code).response(from: request, context: context)
    }

    /// A JSON parser's refusal in words fit for `detail`.
    static func describe(_ error: JSONParser.Failure) -> String {
        switch error {
        case .tooLarge: "too large"
        case .tooDeep: "nested too deeply"
        case .duplicateKey: "duplicate key"
        case .invalid(let offset): "syntax error at byte \(offset)"
        }
    }
}

extension APIError {
    var problem: Problem {
        switch self {
        case .notFound: Problem(.notFound, code: "not_found", detail: "no such resource")
        case .methodNotAllowed: Problem(.methodNotAllowed, code: "method_not_allowed")
        case .internalError: Problem(.internalServerError, code: "internal_error", detail: "see the broker's log for this request id")
        case .malformedFraming:
            Problem(.badRequest, code: "malformed_request", detail: "the request body's framing is malformed (Content-Length or chunked encoding)")
        case .malformedJSON(let failure):
            Problem(.badRequest, code: "malformed_json", detail: "the body is not valid JSON (\(ErrorMapping.describe(failure)))")
        case .payloadTooLarge(let limit): Problem(.contentTooLarge, code: "payload_too_large", detail: "the body exceeds \(limit / 1024) KiB")
        case .invalid(let detail, let errors):
            Problem(.unprocessableContent, code: "validation_failed", detail: detail ?? "the request breaks \(errors.count) rule(s)", errors: errors)
        case .apiKeyNotFound: Problem(.notFound, code: "api_key_not_found", detail: "no such API key")
        }
    }
}

extension AccessDenial {
    var problem: Problem {
        switch self {
        case .unauthenticated:
            Problem(.unauthorized, code: "unauthorized", detail: "credentials are missing or invalid", headers: [.wwwAuthenticate: ErrorMapping.bearerChallenge])
        case .tenantNotFound: Problem(.notFound, code: "tenant_not_found", detail: "no such tenant")
        case .subtenantNotFound: Problem(.notFound, code: "subtenant_not_found", detail: "no such subtenant")
        case .forbidden: Problem(.forbidden, code: "forbidden", detail: "these credentials do not allow this action")
        case .tenantInactive(let status): Problem(.forbidden, code: "tenant_inactive", detail: "the tenant is \(status.rawValue)")
        }
    }
}

extension TokenIssuer.Refusal {
    var problem: Problem {
        switch self {
        case .unknownTenant: AccessDenial.tenantNotFound.problem
        case .unknownSubtenant: AccessDenial.subtenantNotFound.problem
        case .subtenantRequired:
            Problem(.forbidden, code: "forbidden", detail: "these credentials may act only for some subtenants of this tenant: name one (subtenant)")
        case .inactiveTenant(let status): AccessDenial.tenantInactive(status).problem
        case .invalid(let errors): ValidationFailure(errors).problem
        case .rateLimited(let decision):
            Problem(
                .tooManyRequests, code: "rate_limited",
                detail: "the tenant's mint limit (\(decision.limit) per \(decision.window) s) is used up; try again in \(decision.retryAfter) s",
                headers: RateLimitHeaders.refusal(decision, policy: TokenIssuer.mintPolicy))
        }
    }
}

extension ValidationFailure {
    var problem: Problem {
        switch kind {
        case .invalid: APIError.invalid(errors).problem
        case .notUpdatable: Problem(.unprocessableContent, code: "field_not_updatable", detail: "these fields cannot be changed", errors: errors)
        }
    }
}

extension StoreError {
    var problem: Problem {
        switch self {
        case .conflict("subtenantId"): Problem(.conflict, code: "subtenant_exists", detail: "a subtenant with this subtenantId exists in the tenant")
        case .conflict(let what):
            Problem(.conflict, code: "tenant_exists", detail: "a tenant with this \(what == "domain" ? "domain" : "tenantId") exists")
        case .notFound: AccessDenial.tenantNotFound.problem
        case .subtenantNotFound: AccessDenial.subtenantNotFound.problem
        case .versionMismatch: Problem(.preconditionFailed, code: "precondition_failed", detail: "the tenant changed since the ETag in If-Match")
        case .unavailable:
            Problem(.serviceUnavailable, code: "store_unavailable", detail: "the registry store cannot be reached; nothing was written")
        case .corrupt: APIError.internalError.problem
        case .notDeleted: Problem(.conflict, code: "tenant_not_deleted", detail: "only a deleted tenant can be purged; delete it first")
        case .lastAdminKey:
            Problem(
                .conflict, code: "last_admin_key",
                detail: "this is the last active admin API key; create another admin key first (token-broker api-keys revoke can still revoke it)")
        }
    }
}

extension ChallengeError {
    var problem: Problem {
        switch self {
        case .tenantNotFound: return AccessDenial.tenantNotFound.problem
        case .tenantInactive(let status): return AccessDenial.tenantInactive(status).problem
        case .twoFactorDisabled: return Problem(.conflict, code: "two_factor_disabled", detail: "the tenant has two-factor authentication off")
        case .twoFactorIncomplete: return Problem(.conflict, code: "two_factor_disabled", detail: "the tenant's two-factor configuration is incomplete")
        case .notFound: return Problem(.notFound, code: "challenge_not_found", detail: "no such challenge")
        case .expired: return Problem(.gone, code: "otp_expired", detail: "the challenge has expired; start again")
        case .exhausted: return Problem(.tooManyRequests, code: "otp_attempts_exhausted", detail: "no attempts left; the challenge is dead, start again")
        case .malformedOTP: return APIError.invalid([FieldError("otp", "1-32 letters or digits")]).problem
        case .wrongOTP(let remaining):
            var problem = Problem(.unauthorized, code: "invalid_otp", detail: "the code is wrong; \(remaining) attempt(s) left")
            problem.extra = ["attemptsRemaining": .int(Int64(remaining))]
            return problem
        case .resendLimitReached(let sends):
            return Problem(.tooManyRequests, code: "resend_limit_reached", detail: "this challenge was sent \(sends) times, the most allowed")
        case .resendTooSoon(let wait):
            return Problem(.tooManyRequests, code: "resend_too_soon", detail: "wait \(wait) s before asking for another code", headers: [.retryAfter: String(wait)])
        case .recipientSealed: return Problem(.serviceUnavailable, code: "otp_unavailable", detail: "the code cannot be resent; log in again")
        case .heldTokensSealed: return Problem(.serviceUnavailable, code: "otp_unavailable", detail: "the login cannot be completed; log in again")
        case .upstream(.timeout):
            return Problem(.gatewayTimeout, code: "otp_timeout", detail: "the OTP Manager did not answer in time; the attempt was not counted")
        case .upstream(.unavailable), .upstream(.notSent):
            return Problem(
                .serviceUnavailable, code: "otp_unavailable", detail: "the OTP Manager cannot be reached; the attempt was not counted",
                headers: [.retryAfter: "5"])
        case .upstream(.rejected):
            return Problem(.badGateway, code: "otp_rejected", detail: "the OTP Manager refused to send a code to this recipient")
        case .rateLimited(let limit, let wait):
            return ErrorMapping.minuteLimit("otp", what: "OTP sends", limit: limit, retryAfter: wait)
        }
    }
}

extension LoginRefusal {
    var problem: Problem {
        switch self {
        case .tenantRateLimited(let limit, let wait): ErrorMapping.minuteLimit("login", what: "logins", limit: limit, retryAfter: wait)
        case .throttled(let wait):
            Problem(.tooManyRequests, code: "too_many_attempts", detail: "too many login attempts; try again in \(wait) s", headers: [.retryAfter: String(wait)])
        case .recipientMissing(let channel, let claim):
            Problem(
                .unprocessableContent, code: "recipient_missing",
                detail: "the account has no \(channel == .sms ? "phone number" : "email address") (claim \(claim)) for the second factor")
        }
    }
}

extension OIDCFailure {
    var problem: Problem {
        switch self {
        case .invalidCredentials, .clientRefused: Problem(.unauthorized, code: "invalid_credentials", detail: "the username or the password is wrong")
        case .accountDisabled: Problem(.forbidden, code: "account_disabled", detail: "the account is disabled")
        case .accountSetupRequired:
            Problem(
                .forbidden, code: "account_setup_required",
                detail: "the account is not fully set up (a required action or profile field is pending in the identity provider)")
        case .invalidRefreshToken:
            Problem(.unauthorized, code: "invalid_refresh_token", detail: "the refresh token is invalid, expired or its session has ended; log in again")
        case .unavailable, .unsupported:
            Problem(
                .serviceUnavailable, code: "upstream_unavailable", detail: "the identity provider cannot be reached or answered an error; try again later",
                headers: [.retryAfter: "5"])
        }
    }
}

extension OAuthFailure {
    var oauthError: OAuthError {
        switch self {
        case .invalidRequest(let description): OAuthError(.badRequest, error: "invalid_request", description: description)
        case .bodyTooLarge: OAuthError(.contentTooLarge, error: "invalid_request", description: "the body is too large")
        case .unsupportedGrantType(let description): OAuthError(.badRequest, error: "unsupported_grant_type", description: description)
        case .grantNotAllowed(let description): OAuthError(.badRequest, error: "unauthorized_client", description: description)
        case .invalidTarget(let description): OAuthError(.badRequest, error: "invalid_target", description: description)
        case .invalidGrant(let description): OAuthError(.badRequest, error: "invalid_grant", description: description)
        case .invalidClient(let bearer):
            OAuthError(
                .unauthorized, error: "invalid_client", description: "client authentication failed",
                headers: [.wwwAuthenticate: bearer ? ErrorMapping.bearerChallenge : "Basic realm=\"token-broker\""])
        case .insufficientScope(let description): OAuthError(.forbidden, error: "insufficient_scope", description: description)
        case .revocationNotAllowed: OAuthError(.forbidden, error: "unauthorized_client", description: "this client may not revoke that token")
        case .slowDown(let decision):
            OAuthError(
                .tooManyRequests, error: "slow_down",
                description: "the tenant's mint limit (\(decision.limit) per \(decision.window) s) is used up; try again in \(decision.retryAfter) s",
                headers: RateLimitHeaders.refusal(decision, policy: TokenIssuer.mintPolicy))
        }
    }
}

extension ForwardAuthRefusal {
    /// The answer: 401 or 403, no body, `Cache-Control: no-store`, the reason in `WWW-Authenticate`.
    var response: Response {
        switch self {
        case .missingToken:
            return Response(status: .unauthorized, headers: [.wwwAuthenticate: ErrorMapping.bearerChallenge, .cacheControl: "no-store"])
        case .invalidToken(let description):
            // Foundation's replacingOccurrences costs more than the rest of a cached refusal: only when needed.
            let safe = description.utf8.contains(UInt8(ascii: "\"")) ? description.replacingOccurrences(of: "\"", with: "'") : description
            return Response(status: .unauthorized, headers: [
                .wwwAuthenticate: "Bearer error=\"invalid_token\", error_description=\"\(safe)\"", .cacheControl: "no-store",
            ])
        case .noTenantHint:
            return Response(status: .forbidden, headers: [
                .wwwAuthenticate: "Bearer error=\"insufficient_scope\", error_description=\"the request names no tenant (X-Forwarded-Host or ?tenant=)\"",
                .cacheControl: "no-store",
            ])
        case .wrongTenant:
            return Response(status: .forbidden, headers: [
                .wwwAuthenticate: "Bearer error=\"insufficient_scope\", error_description=\"the token belongs to another tenant\"",
                .cacheControl: "no-store",
            ])
        case .wrongSubtenant:
            return Response(status: .forbidden, headers: [
                .wwwAuthenticate: "Bearer error=\"insufficient_scope\", error_description=\"the token belongs to another subtenant\"",
                .cacheControl: "no-store",
            ])
        }
    }
}
