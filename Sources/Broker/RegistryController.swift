import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import TenantRegistry

/// The dashboard, the audit log and API key management.
struct RegistryController: Sendable {
    let service: TenantService

    func addRoutes(to router: Router<BrokerRequestContext>) {
        router.get("/v1/dashboard/summary") { _, context in
            _ = try Policy.requireSystemAdmin(context)
            let summary = service.summary()
            let active = summary.byStatus[.active] ?? 0
            return JSONResponse.make(.object([
                "total": .int(Int64(summary.total)), "active": .int(Int64(active)), "inactive": .int(Int64(summary.total - active)),
                "byStatus": .object(Dictionary(uniqueKeysWithValues: TenantStatus.allCases.map { ($0.rawValue, JSONValue.int(Int64(summary.byStatus[$0] ?? 0))) })),
            ]), headers: [.cacheControl: "no-store"])
        }
        router.get("/v1/dashboard/new-tenants") { request, context in
            _ = try Policy.requireSystemAdmin(context)
            let months = try request.integer("months", default: 12, in: 1...60)
            let rows = service.newTenantsByMonth(months: months).map { JSONValue.object(["month": .string($0.month), "count": .int(Int64($0.count))]) }
            return JSONResponse.make(.object(["months": .array(rows)]), headers: [.cacheControl: "no-store"])
        }
        router.get("/v1/dashboard/upcoming-expiries") { request, context in
            _ = try Policy.requireSystemAdmin(context)
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
        let caller = try Policy.requireListing(context)
        let limit = try request.integer("limit", default: 100, in: 1...1000)
        let tenantId = request.uri.queryParameters["tenantId"].map(String.init)
        if let tenantId, !TenantRules.isValidTenantId(tenantId) || !caller.canSee(tenantId) { throw Policy.tenantNotFound }
        if tenantId == nil, !caller.isSystemAdmin {
            throw Problem(
                .unprocessableContent, code: "validation_failed", detail: "tenantId is required for callers limited to some tenants",
                errors: [.init(field: "tenantId", message: "is required")])
        }
        var since: Date?
        if let text = request.uri.queryParameters["since"] {
            guard let date = RFC3339.parse(String(text)) else {
                throw Problem(
                    .unprocessableContent, code: "validation_failed", detail: "since must be an RFC 3339 date-time",
                    errors: [.init(field: "since", message: "must be an RFC 3339 date-time")])
            }
            since = date
        }
        do {
            let events = try await service.store.audit(tenantId: tenantId, since: since, limit: limit)
            let items = events.map { event in
                JSONValue.object([
                    "at": .string(RFC3339.format(event.at)), "actor": .string(event.actor), "action": .string(event.action),
                    "tenantId": event.tenantId.map(JSONValue.string) ?? .null, "outcome": .string(event.outcome),
                    "requestId": event.requestId.map(JSONValue.string) ?? .null,
                ])
            }
            return JSONResponse.make(.object(["items": .array(items)]), headers: [.cacheControl: "no-store"])
        } catch {
            throw error.problem
        }
    }

    func createKey(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let caller = try Policy.requireSystemAdmin(context)
        let body = try await RequestBody.object(request)
        let (name, scopes, tenants) = try APIKeyRequest.parse(body)
        let (record, key) = APIKeyRecord.generate(name: name, scopes: scopes, tenants: tenants, now: service.clock())
        do {
            try await service.createAPIKey(record, actor: .init(name: caller.subject, requestId: context.requestId))
        } catch {
            throw error.problem
        }
        return JSONResponse.make(.object(["id": .string(record.id), "key": .string(key)]), status: .created, headers: [.cacheControl: "no-store"])
    }

    func listKeys(_ context: BrokerRequestContext) async throws -> Response {
        _ = try Policy.requireSystemAdmin(context)
        do {
            let items = try await service.store.apiKeys().map(APIKeyRequest.json)
            return JSONResponse.make(.object(["items": .array(items)]), headers: [.cacheControl: "no-store"])
        } catch {
            throw error.problem
        }
    }

    func revokeKey(_ context: BrokerRequestContext) async throws -> Response {
        let caller = try Policy.requireSystemAdmin(context)
        let id = context.parameters.get("id") ?? ""
        do {
            try await service.revokeAPIKey(id: id, actor: .init(name: caller.subject, requestId: context.requestId))
        } catch StoreError.notFound {
            throw Problem(.notFound, code: "api_key_not_found", detail: "no such API key")
        } catch {
            throw error.problem
        }
        return Response(status: .noContent)
    }
}

/// Validation of API key create bodies, shared by the HTTP API and the CLI.
public enum APIKeyRequest {
    public static func parse(_ body: [String: JSONValue]) throws(ValidationFailure) -> (name: String, scopes: [String], tenants: [String]) {
        var errors = [FieldError]()
        for key in body.keys.sorted() where !["name", "scopes", "tenants"].contains(key) { errors.append(FieldError(key, "unknown field")) }
        var name = ""
        if case .string(let value)? = body["name"], (1...100).contains(value.count), value.allSatisfy({ !$0.isNewline }) {
            name = value
        } else {
            errors.append(FieldError("name", "must be a string of 1-100 characters"))
        }
        let scopes = stringList(body["scopes"], "scopes", errors: &errors) { APIKeyRecord.knownScopes.contains($0) }
        if body["scopes"]?.arrayValue?.isEmpty == true { errors.append(FieldError("scopes", "must name at least one scope")) }
        let tenants = stringList(body["tenants"], "tenants", errors: &errors) { $0 == "*" || TenantRules.isValidTenantId($0) } ?? []
        if body["tenants"]?.arrayValue?.isEmpty == true { errors.append(FieldError("tenants", "must name tenant ids or [\"*\"]")) }
        if !errors.isEmpty { throw ValidationFailure(errors) }
        return (name, scopes ?? [], tenants)
    }

    static func stringList(_ value: JSONValue?, _ field: String, errors: inout [FieldError], allowed: (String) -> Bool) -> [String]? {
        guard case .array(let items)? = value else {
            errors.append(FieldError(field, "must be an array of strings"))
            return nil
        }
        var out = [String]()
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item, allowed(text) else {
                errors.append(FieldError("\(field)[\(index)]", "is not allowed"))
                continue
            }
            if !out.contains(text) { out.append(text) }
        }
        return out
    }

    public static func json(_ record: APIKeyRecord) -> JSONValue {
        .object([
            "id": .string(record.id), "name": .string(record.name), "scopes": .array(record.scopes.map(JSONValue.string)),
            "tenants": .array(record.tenants.map(JSONValue.string)), "createdAt": .string(RFC3339.format(record.createdAt)),
            "revokedAt": record.revokedAt.map { .string(RFC3339.format($0)) } ?? .null,
        ])
    }
}
