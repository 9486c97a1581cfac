import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import TenantRegistry
import Tokens

/// `/v1/tenants/{tenantId}/subtenants`: create, list, read, partial update and logical delete of a tenant's
/// subtenants; `/v1/tenants/{tenantId}/features`: the effective feature switches of the tenant or a subtenant.
struct SubtenantRoutes: Sendable {
    let service: TenantService

    func addRoutes(to router: Router<BrokerRequestContext>) {
        let group = router.group("/v1/tenants/:tenantId")
        group.post("subtenants") { request, context in try await create(request, context) }
        group.get("subtenants") { _, context in try await list(context) }
        group.get("subtenants/:subtenantId") { _, context in try await read(context) }
        group.patch("subtenants/:subtenantId") { request, context in try await patch(request, context) }
        group.delete("subtenants/:subtenantId") { request, context in try await delete(request, context) }
        group.get("features") { request, context in try features(request, context) }
    }

    /// The path's ids; anything that is not a valid id cannot exist (404, the id not echoed).
    func ids(_ context: BrokerRequestContext) throws(AccessDenial) -> (tenantId: String, subtenantId: String) {
        let tenantId = try TenantLoginRoutes.tenantId(context)
        let subtenantId = context.parameters.get("subtenantId") ?? ""
        guard TenantRules.isValidTenantId(subtenantId) else { throw .subtenantNotFound }
        return (tenantId, subtenantId)
    }

    /// A caller allowed to change the tenant's subtenants: system admins and the tenant's own admins, not while the
    /// tenant is inactive (unless a system admin).
    func writer(_ context: BrokerRequestContext, tenantId: String) throws -> CallerIdentity {
        let caller = try AccessPolicy.tenantWrite(context.caller, tenantId: tenantId)
        guard let view = service.directory.tenant(id: tenantId), !view.storedStatus.isGone else { throw AccessDenial.tenantNotFound }
        try AccessPolicy.writable(caller, status: view.status(at: service.clock()))
        return caller
    }

    func actor(_ caller: CallerIdentity, _ context: BrokerRequestContext) -> TenantService.Actor {
        .init(name: caller.subject, requestId: context.requestId)
    }

    func create(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let tenantId = try TenantLoginRoutes.tenantId(context)
        let caller = try writer(context, tenantId: tenantId)
        let body = try await RequestBody.object(request)
        let subtenant = try await service.createSubtenant(tenantId, body: body, actor: actor(caller, context))
        context.logger.notice("subtenant created", metadata: ["subtenant": .string(subtenant.subtenantId)])
        return respond(subtenant, status: .created, headers: [.location: "/v1/tenants/\(tenantId)/subtenants/\(subtenant.subtenantId)"])
    }

    func list(_ context: BrokerRequestContext) async throws -> Response {
        let tenantId = try TenantLoginRoutes.tenantId(context)
        _ = try AccessPolicy.tenantRead(context.caller, tenantId: tenantId)
        guard service.directory.tenant(id: tenantId) != nil else { throw AccessDenial.tenantNotFound }
        let items = try await service.subtenants(of: tenantId).map { subtenant -> JSONValue in
            .object([
                "subtenantId": .string(subtenant.subtenantId), "displayName": subtenant.displayName.map(JSONValue.string) ?? .null,
                "status": .string(subtenant.storedStatus.rawValue), "createdAt": .string(RFC3339.format(subtenant.createdAt)),
            ])
        }
        return JSONResponse.make(.object(["items": .array(items)]), headers: [.cacheControl: "no-store"])
    }

    func read(_ context: BrokerRequestContext) async throws -> Response {
        let (tenantId, subtenantId) = try ids(context)
        _ = try AccessPolicy.subtenantRead(context.caller, tenantId: tenantId, subtenantId: subtenantId)
        guard let subtenant = try await service.subtenant(tenantId, subtenantId) else { throw AccessDenial.subtenantNotFound }
        return respond(subtenant)
    }

    func patch(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let (tenantId, subtenantId) = try ids(context)
        let caller = try writer(context, tenantId: tenantId)
        let ifMatch = try TenantRoutes.ifMatchVersion(request)
        let body = try await RequestBody.object(request)
        return respond(try await service.patchSubtenant(tenantId, subtenantId, body: body, ifMatch: ifMatch, actor: actor(caller, context)))
    }

    func delete(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let (tenantId, subtenantId) = try ids(context)
        let caller = try writer(context, tenantId: tenantId)
        try await service.deleteSubtenant(tenantId, subtenantId, ifMatch: try TenantRoutes.ifMatchVersion(request), actor: actor(caller, context))
        context.logger.notice("subtenant deleted", metadata: ["subtenant": .string(subtenantId)])
        return Response(status: .noContent)
    }

    /// The effective switches, from memory: the tenant's, with a subtenant's own over them when `?subtenant=` names one.
    func features(_ request: Request, _ context: BrokerRequestContext) throws -> Response {
        let tenantId = try TenantLoginRoutes.tenantId(context)
        let subtenantId = request.uri.queryParameters["subtenant"].map(String.init)
        _ = try AccessPolicy.featuresRead(context.caller, tenantId: tenantId, subtenantId: subtenantId)
        if let subtenantId, !TenantRules.isValidTenantId(subtenantId) { throw AccessDenial.subtenantNotFound }
        guard let features = service.effectiveFeatures(tenantId, subtenant: subtenantId) else {
            throw subtenantId == nil ? AccessDenial.tenantNotFound : AccessDenial.subtenantNotFound
        }
        return JSONResponse.make(.object(["features": .object(features.mapValues(JSONValue.bool))]), headers: [.cacheControl: "no-store"])
    }

    func respond(_ subtenant: Subtenant, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.eTag] = subtenant.etag
        fields[.cacheControl] = "no-store"
        return JSONResponse.make(Self.document(subtenant), status: status, headers: fields)
    }

    /// The subtenant document.
    static func document(_ subtenant: Subtenant) -> JSONValue {
        .object([
            "tenantId": .string(subtenant.tenantId), "subtenantId": .string(subtenant.subtenantId),
            "displayName": subtenant.displayName.map(JSONValue.string) ?? .null, "features": .object(subtenant.features.mapValues(JSONValue.bool)),
            "status": .string(subtenant.storedStatus.rawValue), "createdAt": .string(RFC3339.format(subtenant.createdAt)),
            "updatedAt": .string(RFC3339.format(subtenant.updatedAt)), "deletedAt": subtenant.deletedAt.map { .string(RFC3339.format($0)) } ?? .null,
        ])
    }
}
