import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import TenantRegistry
import Tokens

/// `/v1/tenants`: create, list, read, partial update, logical delete, suspend and resume.
struct TenantRoutes: Sendable {
    let service: TenantService

    func addRoutes(to router: Router<BrokerRequestContext>) {
        let group = router.group("/v1/tenants")
        group.post { request, context in try await create(request, context) }
        group.get { request, context in try await list(request, context) }
        group.get(":tenantId") { request, context in try await read(request, context) }
        group.patch(":tenantId") { request, context in try await patch(request, context) }
        group.delete(":tenantId") { request, context in try await delete(request, context) }
        group.post(":tenantId/suspend") { request, context in
            try await setStatus(request, context, .suspended)
        }
        group.post(":tenantId/resume") { request, context in
            try await setStatus(request, context, .active)
        }
    }

    func actor(_ caller: CallerIdentity, _ context: BrokerRequestContext) -> TenantService.Actor {
        .init(name: caller.subject, requestId: context.requestId)
    }

    func tenantId(_ context: BrokerRequestContext) throws -> String {
        let id = context.parameters.get("tenantId") ?? ""
        // Anything that is not a valid id cannot exist: the same 404, and the id is not echoed.
        guard TenantRules.isValidTenantId(id) else { throw AccessDenial.tenantNotFound }
        return id
    }

    func respond(_ tenant: Tenant, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.eTag] = tenant.etag
        fields[.cacheControl] = "no-store"
        return JSONResponse.make(TenantCodec.document(tenant, now: service.clock()), status: status, headers: fields)
    }

    func create(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let caller = try AccessPolicy.systemAdmin(context.caller)
        let body = try await RequestBody.object(request, limit: RequestBody.tenantLimit)
        let tenant = try await service.create(body, actor: actor(caller, context))
        context.logger.notice("tenant created", metadata: ["tenant": .string(tenant.tenantId)])
        return respond(tenant, status: .created, headers: [.location: "/v1/tenants/\(tenant.tenantId)"])
    }

    func read(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let id = try tenantId(context)
        _ = try AccessPolicy.tenantRead(context.caller, tenantId: id)
        guard let tenant = try await service.tenant(id) else { throw AccessDenial.tenantNotFound }
        return respond(tenant)
    }

    func list(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let caller = try AccessPolicy.listing(context.caller)
        let limit = try request.integer("limit", default: 50, in: 1...500)
        var status: TenantStatus?
        if let text = request.uri.queryParameters["status"] {
            guard let parsed = TenantStatus(rawValue: String(text)) else {
                throw APIError.invalid(detail: "unknown status", [FieldError("status", "must be active, suspended, expired, deleted or purged")])
            }
            status = parsed
        }
        var after: String?
        if let cursor = request.uri.queryParameters["cursor"] {
            guard let bytes = Base64URL.decode(cursor), let id = String(validating: bytes, as: UTF8.self), TenantRules.isValidTenantId(id) else {
                throw APIError.invalid(detail: "invalid cursor", [FieldError("cursor", "must be a nextCursor value from an earlier page")])
            }
            after = id
        }
        let now = service.clock()
        // Callers limited to some tenants get only those, filtered by the database; one extra row says whether
        // another page exists.
        let rows = try await service.list(
            status: status, limit: limit + 1, after: after, only: caller.visibleTenants, now: now)
        let page = rows.prefix(limit)
        let items = page.map { tenant -> JSONValue in
            .object([
                "tenantId": .string(tenant.tenantId), "domain": .string(tenant.domain), "status": .string(tenant.status(at: now).rawValue),
                "createdAt": .string(RFC3339.format(tenant.createdAt)),
                "expiresAt": tenant.subscriptionExpiresAt.map { JSONValue.string(RFC3339.format($0)) } ?? .null,
            ])
        }
        let next: JSONValue = rows.count > limit ? .string(Base64URL.encode(Array(page.last!.tenantId.utf8))) : .null
        return JSONResponse.make(.object(["items": .array(items), "nextCursor": next]), headers: [.cacheControl: "no-store"])
    }

    func patch(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let id = try tenantId(context)
        let caller = try AccessPolicy.tenantWrite(context.caller, tenantId: id)
        try AccessPolicy.writable(caller, status: service.directory.current.byId[id]?.status(at: service.clock()))
        let ifMatch = try Self.ifMatchVersion(request)
        let body = try await RequestBody.object(request, limit: RequestBody.tenantLimit)
        let tenant = try await service.patch(id, body: body, ifMatch: ifMatch, systemAdmin: caller.isSystemAdmin, actor: actor(caller, context))
        return respond(tenant)
    }

    func delete(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let id = try tenantId(context)
        let caller = try AccessPolicy.tenantAdmin(context.caller, tenantId: id)
        _ = try await service.setStatus(id, to: .deleted, ifMatch: try Self.ifMatchVersion(request), actor: actor(caller, context))
        context.logger.notice("tenant deleted", metadata: ["tenant": .string(id)])
        return Response(status: .noContent)
    }

    func setStatus(_ request: Request, _ context: BrokerRequestContext, _ status: StoredStatus) async throws -> Response {
        let id = try tenantId(context)
        let caller = try AccessPolicy.tenantAdmin(context.caller, tenantId: id)
        let tenant = try await service.setStatus(id, to: status, ifMatch: try Self.ifMatchVersion(request), actor: actor(caller, context))
        return respond(tenant)
    }

    /// `If-Match: "v7"` → 7; `*` or absent → nil; anything else can never match → 412.
    static func ifMatchVersion(_ request: Request) throws -> Int? {
        guard let header = request.headers[.ifMatch]?.trimmingCharacters(in: .whitespaces) else { return nil }
        if header == "*" { return nil }
        guard header.hasPrefix("\"v"), header.hasSuffix("\""), header.count > 3, let version = Int(header.dropFirst(2).dropLast()) else {
            throw StoreError.versionMismatch
        }
        return version
    }
}
