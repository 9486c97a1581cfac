import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import TenantRegistry
import Tokens

/// The dashboard, the audit log and API key management.
struct RegistryRoutes: Sendable {
    let service: TenantService

    func addRoutes(to router: Router<BrokerRequestContext>) {
        router.get("/v1/dashboard/summary") { _, context in
            _ = try AccessPolicy.systemAdmin(context.caller)
            let summary = service.summary()
            let active = summary.byStatus[.active] ?? 0
            let subtenants = service.subtenants.counts()
            return JSONResponse.make(.object([
                "subtenants": .object(["total": .int(Int64(subtenants.total)), "active": .int(Int64(subtenants.active))]),
                "total": .int(Int64(summary.total)), "active": .int(Int64(active)), "inactive": .int(Int64(summary.total - active)),
                "byStatus": .object(Dictionary(uniqueKeysWithValues: TenantStatus.allCases.map { ($0.rawValue, JSONValue.int(Int64(summary.byStatus[$0] ?? 0))) })),
            ]), headers: [.cacheControl: "no-store"])
        }
        router.get("/v1/dashboard/new-tenants") { request, context in
            _ = try AccessPolicy.systemAdmin(context.caller)
            let months = try request.integer("months", default: 12, in: 1...60)
            let rows = service.newTenantsByMonth(months: months).map { JSONValue.object(["month": .string($0.month), "count": .int(Int64($0.count))]) }
            return JSONResponse.make(.object(["months": .array(rows)]), headers: [.cacheControl: "no-store"])
        }
        router.get("/v1/dashboard/upcoming-expiries") { request, context in
            _ = try AccessPolicy.systemAdmin(context.caller)
            let days = try request.integer("days", default: 30, in: 1...365)
            let items = service.upcomingExpiries(days: days).map {
                JSONValue.object(["tenantId": .string($0.tenantId), "expiresAt": .string(RFC3339.format($0.expiresAt)), "daysLeft": .int(Int64($0.daysLeft))])
            }
            return JSONResponse.make(.object(["items": .array(items)]), headers: [.cacheControl: "no-store"])
        }
        router.get("/v1/audit") { request, context in try await audit(request, context) }
        router.post("/v1/api-keys") { request, context in try await createKey(request, context) }
        router.get("/v1/api-keys") { _, context in try await listKeys(context) }
        router.delete("/v1/api-keys/:id") { _, context in try await revokeKey(context) }
    }

    func audit(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let caller = try AccessPolicy.listing(context.caller)
        let limit = try request.integer("limit", default: 100, in: 1...1000)
        let tenantId = request.uri.queryParameters["tenantId"].map(String.init)
        if let tenantId, !TenantRules.isValidTenantId(tenantId) || !caller.canSee(tenantId) { throw AccessDenial.tenantNotFound }
        // A caller limited to some subtenants does not read the whole tenant's trail.
        if let tenantId, !caller.mayActFor(tenantId, subtenant: nil) { throw AccessDenial.forbidden }
        if tenantId == nil, !caller.isSystemAdmin {
            throw APIError.invalid(detail: "tenantId is required for callers limited to some tenants", [FieldError("tenantId", "is required")])
        }
        var since: Date?
        if let text = request.uri.queryParameters["since"] {
            guard let date = RFC3339.parse(String(text)) else {
                throw APIError.invalid(detail: "since must be an RFC 3339 date-time", [FieldError("since", "must be an RFC 3339 date-time")])
            }
            since = date
        }
        let events = try await service.audit(tenantId: tenantId, since: since, limit: limit)
        let items = events.map(DeprovisioningRoutes.auditJSON)
        return JSONResponse.make(.object(["items": .array(items)]), headers: [.cacheControl: "no-store"])
    }

    func createKey(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let caller = try AccessPolicy.systemAdmin(context.caller)
        let body = try await RequestBody.object(request)
        let (name, scopes, tenants) = try APIKeyRequest.parse(body)
        // A key for a deleted or purged tenant could never act, and would outlive the purge that wipes its keys.
        let gone = tenants.enumerated().compactMap { index, entry -> FieldError? in
            let tenantId = String(entry.prefix { $0 != "/" })
            guard let status = service.directory.current.byId[tenantId]?.storedStatus, status.isGone else { return nil }
            return FieldError("tenants[\(index)]", "names a \(status.rawValue) tenant: no key can be created for it")
        }
        guard gone.isEmpty else { throw APIError.invalid(gone) }
        let (record, key) = APIKeyRecord.generate(name: name, scopes: scopes, tenants: tenants, now: service.clock())
        try await service.createAPIKey(record, actor: .init(name: caller.subject, requestId: context.requestId))
        return JSONResponse.make(.object(["id": .string(record.id), "key": .string(key)]), status: .created, headers: [.cacheControl: "no-store"])
    }

    func listKeys(_ context: BrokerRequestContext) async throws -> Response {
        _ = try AccessPolicy.systemAdmin(context.caller)
        let items = try await service.apiKeys().map(APIKeyRequest.json)
        return JSONResponse.make(.object(["items": .array(items)]), headers: [.cacheControl: "no-store"])
    }

    func revokeKey(_ context: BrokerRequestContext) async throws -> Response {
        let caller = try AccessPolicy.systemAdmin(context.caller)
        let id = context.parameters.get("id") ?? ""
        do {
            try await service.revokeAPIKey(id: id, actor: .init(name: caller.subject, requestId: context.requestId))
        } catch {
            // A store error of its own for a key: "no such tenant" would mislead.
            if error == .notFound { throw APIError.apiKeyNotFound }
            throw error
        }
        return Response(status: .noContent)
    }
}
