import Hummingbird
import NIOCore
import TenantRegistry
import Tokens

/// Tenant user login with a second factor: `POST /v1/tenants/{id}/login`, `/login/otp`, `/login/otp/resend`.
struct TenantLoginRoutes: Sendable {
    let logins: TenantLoginService

    func addRoutes(to router: Router<BrokerRequestContext>) {
        router.post("/v1/tenants/:tenantId/login") { request, context in try await login(request, context) }
        router.post("/v1/tenants/:tenantId/login/otp") { request, context in try await loginOTP(request, context) }
        router.post("/v1/tenants/:tenantId/login/otp/resend") { request, context in try await resend(request, context) }
    }

    /// The path's tenant id; anything that is not a valid id cannot exist (404, the id not echoed).
    static func tenantId(_ context: BrokerRequestContext) throws(AccessDenial) -> String {
        let tenantId = context.parameters.get("tenantId") ?? ""
        guard TenantRules.isValidTenantId(tenantId) else { throw .tenantNotFound }
        return tenantId
    }

    func login(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let tenantId = try Self.tenantId(context)
        let credentials = try await LoginRoutes.credentials(request)
        let answer = try await logins.login(
            tenantId: tenantId, credentials: credentials, clientAddress: context.clientAddress, requestId: context.requestId, logger: context.logger)
        var response: Response
        switch answer.outcome {
        case .tokens(let tokens): response = LoginRoutes.tokenResponse(tokens.json.serialized())
        case .challenge(let challenge): response = OTPRoutes.accepted(challenge, expiresIn: logins.challenges.expiresIn(challenge))
        }
        let now = logins.tenants.clock()
        if let quota = answer.loginQuota { RateLimitHeaders.append(quota, policy: "login", now: now, to: &response.headers) }
        if let quota = answer.otpQuota { RateLimitHeaders.append(quota, policy: "otp", now: now, to: &response.headers) }
        return response
    }

    func loginOTP(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let tenantId = try Self.tenantId(context)
        let body = try await RequestBody.object(request)
        let fields = try OTPRoutes.fields(body, required: ["challengeId", "otp"])
        let tokens = try await logins.completeLogin(
            tenantId: tenantId, challengeId: fields["challengeId"]!, otp: fields["otp"]!, requestId: context.requestId, logger: context.logger)
        return LoginRoutes.tokenResponse(tokens)
    }

    func resend(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let tenantId = try Self.tenantId(context)
        let body = try await RequestBody.object(request)
        let challengeId = try OTPRoutes.fields(body, required: ["challengeId"])["challengeId"]!
        let sent = try await logins.resend(tenantId: tenantId, challengeId: challengeId, requestId: context.requestId, logger: context.logger)
        var response = OTPRoutes.accepted(sent.challenge, expiresIn: logins.challenges.expiresIn(sent.challenge))
        if let quota = sent.quota { RateLimitHeaders.append(quota, policy: "otp", now: logins.tenants.clock(), to: &response.headers) }
        return response
    }
}
