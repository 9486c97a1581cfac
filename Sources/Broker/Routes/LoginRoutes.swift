import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import Keycloak
import NIOCore
import TenantRegistry

/// Portal login against the master realm (or any OIDC provider): `POST /v1/login`, `/v1/login/refresh`,
/// `/v1/logout`. The provider's answers are mapped to the contract's problems; its bodies are never passed on.
struct LoginRoutes: Sendable {
    let login: LoginService

    func addRoutes(to router: Router<BrokerRequestContext>) {
        router.post("/v1/login") { request, context in
            let tokens = try await login.login(try await Self.credentials(request), clientAddress: context.clientAddress, logger: context.logger)
            return Self.tokenResponse(tokens.json.serialized())
        }
        router.post("/v1/login/refresh") { request, context in
            Self.tokenResponse(try await login.refresh(try await Self.refreshToken(request), logger: context.logger).json.serialized())
        }
        router.post("/v1/logout") { request, context in
            try await login.logout(try await Self.refreshToken(request), logger: context.logger)
            return Response(status: .noContent, headers: [.cacheControl: "no-store"])
        }
    }

    /// 200 with a token response's JSON, never cached.
    static func tokenResponse(_ json: [UInt8]) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store", HTTPField.Name("Pragma")!: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }

    /// `{"username", "password"}`: both non-empty strings, no other fields; every bad field reported.
    static func credentials(_ request: Request) async throws -> LoginService.Credentials {
        let body = try await RequestBody.object(request)
        var errors = FieldError.unknownFields(in: body, allowed: ["username", "password"])
        let username = body["username"]?.stringValue
        if username == nil || username!.isEmpty || username!.count > 255 || username!.contains(where: { $0.isNewline || $0.asciiValue.map { $0 < 0x20 } == true }) {
            errors.append(FieldError("username", "required: a string of 1-255 characters without control characters"))
        }
        let password = body["password"]?.stringValue
        if password == nil || password!.isEmpty || password!.utf8.count > 1024 {
            errors.append(FieldError("password", "required: a string of 1-1024 bytes"))
        }
        guard errors.isEmpty, let username, let password else { throw APIError.invalid(errors) }
        return LoginService.Credentials(username: username, password: password)
    }

    /// `{"refresh_token"}`: a non-empty string of at most 16 KiB.
    static func refreshToken(_ request: Request) async throws -> String {
        let body = try await RequestBody.object(request)
        var errors = FieldError.unknownFields(in: body, allowed: ["refresh_token"])
        let token = body["refresh_token"]?.stringValue
        if token == nil || token!.isEmpty || token!.utf8.count > 16 * 1024 {
            errors.append(FieldError("refresh_token", "required: a string of at most 16 KiB"))
        }
        guard errors.isEmpty, let token else { throw APIError.invalid(errors) }
        return token
    }
}
