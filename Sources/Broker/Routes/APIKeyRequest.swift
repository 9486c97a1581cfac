import JOSE
import TenantRegistry

/// Validation of API key create bodies, shared by the HTTP API and the CLI.
public enum APIKeyRequest {
    public static func parse(_ body: [String: JSONValue]) throws(ValidationFailure) -> (name: String, scopes: [String], tenants: [String]) {
        var errors = FieldError.unknownFields(in: body, allowed: ["name", "scopes", "tenants"])
        var name = ""
        if case .string(let value)? = body["name"], (1...100).contains(value.count), value.allSatisfy({ !$0.isNewline }) {
            name = value
        } else {
            errors.append(FieldError("name", "must be a string of 1-100 characters"))
        }
        let scopes = stringList(
            body["scopes"], "scopes", errors: &errors, rule: "is not a scope; the scopes are \(APIKeyRecord.knownScopes.sorted().joined(separator: ", "))"
        ) { APIKeyRecord.knownScopes.contains($0) }
        if body["scopes"]?.arrayValue?.isEmpty == true { errors.append(FieldError("scopes", "must name at least one scope")) }
        let tenants = stringList(
            body["tenants"], "tenants", errors: &errors, rule: "must be *, a tenant id (t1) or a tenant and subtenant id (t1/sub1)"
        ) { $0 == "*" || isTenantEntry($0) } ?? []
        if body["tenants"]?.arrayValue?.isEmpty == true { errors.append(FieldError("tenants", "must name tenant ids or [\"*\"]")) }
        if !errors.isEmpty { throw ValidationFailure(errors) }
        return (name, scopes ?? [], tenants)
    }

    /// `t1` (the tenant and all its subtenants) or `t1/sub1` (that subtenant only).
    static func isTenantEntry(_ entry: String) -> Bool {
        let parts = entry.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        return (1...2).contains(parts.count) && parts.allSatisfy { TenantRules.isValidTenantId(String($0)) }
    }

    static func stringList(
        _ value: JSONValue?, _ field: String, errors: inout [FieldError], rule: String, allowed: (String) -> Bool
    ) -> [String]? {
        guard case .array(let items)? = value else {
            errors.append(FieldError(field, "must be an array of strings"))
            return nil
        }
        var out = [String]()
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item else {
                errors.append(FieldError("\(field)[\(index)]", "must be a string"))
                continue
            }
            guard allowed(text) else {
                // The value is named only when it is short and printable: it is the caller's own input, echoed back.
                let shown = text.count <= 64 && text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F } ? "'\(text)' " : ""
                errors.append(FieldError("\(field)[\(index)]", shown + rule))
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
