import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import NIOCore
import TenantRegistry
import Tokens

/// Deprovisioning, for system admins: `GET /v1/tenants/{id}/export`, the tenant's data in one JSON bundle, and
/// `POST /v1/tenants/{id}/purge`, the deep deletion of a deleted tenant, leaving a tombstone.
struct DeprovisioningRoutes: Sendable {
    let service: TenantService
    /// Audit events read from the store per page while the export streams.
    var auditPageSize = 1_000

    func addRoutes(to router: Router<BrokerRequestContext>) {
        router.get("/v1/tenants/:tenantId/export") { request, context in try await export(request, context) }
        router.post("/v1/tenants/:tenantId/purge") { request, context in try await purge(request, context) }
    }

    /// `{"exportedAt", "tenant", "subtenants", "apiKeys", "audit"}` for a tenant of any status: the document as
    /// `GET /v1/tenants/{id}` shows it (no client secret; the logo included), every subtenant, the metadata of
    /// every API key limited to the tenant or its subtenants (never a secret or its hash), and the tenant's
    /// whole audit trail, oldest first. The audit trail is streamed, page by page from the store, so a long one
    /// is never held in memory; everything before it is read before the answer starts, so a missing tenant or
    /// an unreachable store is still a clean 404 or 503. A store failure in the middle of the trail ends the
    /// answer early (the JSON is then incomplete and the connection closes): a client must check the bundle
    /// parses.
    func export(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        _ = try AccessPolicy.systemAdmin(context.caller)
        let tenantId = context.parameters.get("tenantId") ?? ""
        guard TenantRules.isValidTenantId(tenantId), let tenant = try await service.tenant(tenantId) else { throw AccessDenial.tenantNotFound }
        let now = service.clock()
        let subtenants = try await service.subtenants(of: tenantId)
        let keys = try await service.apiKeys().filter { $0.isLimited(to: tenantId) }
        let head = JSONValue.object([
            "exportedAt": .string(RFC3339.format(now)),
            "tenant": TenantCodec.document(tenant, now: now),
            "subtenants": .array(subtenants.map(SubtenantRoutes.document)),
            "apiKeys": .array(keys.map(APIKeyRequest.json)),
        ]).serialized()
        // The head's closing brace gives way to the audit array, written as it is read.
        let opening = Array(head.dropLast()) + Array(",\"audit\":[".utf8)
        let store = service.store
        let pageSize = auditPageSize
        let logger = context.logger
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(bytes: opening))
            var after: Int64 = 0
            var first = true
            while true {
                let page: [(id: Int64, event: AuditEvent)]
                do {
                    page = try await store.auditPage(tenantId: tenantId, afterId: after, limit: pageSize)
                } catch {
                    logger.error("export ended early: the audit trail could not be read", metadata: ["tenant": .string(tenantId), "error": .string("\(error)")])
                    throw error
                }
                var chunk: [UInt8] = []
                for (_, event) in page {
                    if !first { chunk.append(UInt8(ascii: ",")) }
                    first = false
                    chunk += Self.auditJSON(event).serialized()
                }
                if !chunk.isEmpty { try await writer.write(ByteBuffer(bytes: chunk)) }
                guard page.count == pageSize, let last = page.last else { break }
                after = last.id
            }
            try await writer.write(ByteBuffer(bytes: Array("]}".utf8)))
            try await writer.finish(nil)
        }
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        headers[.contentDisposition] = "attachment; filename=\"\(tenantId)-export.json\""
        return Response(status: .ok, headers: headers, body: body)
    }

    /// `{"confirm": "<tenantId>"}`: the id typed again, so no purge happens by a slip of a path. 200
    /// `{"purged": {"apiKeys", "challenges", "revocations", "subtenants", "counters"}}`; 409 `tenant_not_deleted`
    /// unless the tenant is deleted (a purged one included); 422 for a missing or wrong confirmation.
    func purge(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let caller = try AccessPolicy.systemAdmin(context.caller)
        let tenantId = context.parameters.get("tenantId") ?? ""
        guard TenantRules.isValidTenantId(tenantId) else { throw AccessDenial.tenantNotFound }
        let body = try await RequestBody.object(request)
        var errors: [FieldError] = []
        for name in body.keys where name != "confirm" { errors.append(FieldError(String(name.prefix(64)), "unknown field")) }
        if body["confirm"]?.stringValue != tenantId { errors.append(FieldError("confirm", "must be the tenant's id, typed again")) }
        guard errors.isEmpty else { throw APIError.invalid(errors) }
        let report = try await service.purge(tenantId, actor: .init(name: caller.subject, requestId: context.requestId))
        return JSONResponse.make(.object(["purged": Self.countsJSON(report.counts)]), headers: [.cacheControl: "no-store"])
    }

    /// An audit event as `/v1/audit` shows it.
    static func auditJSON(_ event: AuditEvent) -> JSONValue {
        var members: [String: JSONValue] = [
            "at": .string(RFC3339.format(event.at)), "actor": .string(event.actor), "action": .string(event.action),
            "tenantId": event.tenantId.map(JSONValue.string) ?? .null, "outcome": .string(event.outcome),
            "requestId": event.requestId.map(JSONValue.string) ?? .null,
        ]
        if let counts = event.counts { members["counts"] = countsJSON(counts) }
        return .object(members)
    }

    private static func countsJSON(_ counts: [String: Int]) -> JSONValue {
        .object(counts.mapValues { .int(Int64($0)) })
    }
}
