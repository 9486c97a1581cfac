import Foundation
import JOSE

/// Validation of subtenant bodies and of `features`, every broken rule reported at once.
public enum SubtenantRules {
    static let createFields: Set<String> = ["subtenantId", "displayName", "features"]
    static let updatableFields: Set<String> = ["displayName", "features"]
    /// The most feature switches one tenant or subtenant may carry.
    public static let maxFeatures = 64

    /// A feature name: `[a-z0-9][a-z0-9._-]{0,63}`, ASCII only (a look-alike letter is not a feature name).
    public static func isFeatureName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 64, isLowerAlnum(first) else { return false }
        return bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// `features` as sent: an object of at most 64 feature names to booleans. nil (absent) and `null` are no features.
    public static func parseFeatures(_ value: JSONValue?, field: String = "features", errors: inout [FieldError]) -> [String: Bool] {
        switch value {
        case nil, .null?: return [:]
        case .object(let members)?:
            var features = [String: Bool]()
            if members.count > maxFeatures { errors.append(FieldError(field, "at most \(maxFeatures) features")) }
            for name in members.keys.sorted() {
                let shown = String(name.prefix(64))
                guard isFeatureName(name) else {
                    errors.append(FieldError("\(field).\(shown)", "a feature name is 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"))
                    continue
                }
                guard case .bool(let on) = members[name]! else {
                    errors.append(FieldError("\(field).\(shown)", "must be true or false"))
                    continue
                }
                features[name] = on
            }
            return features
        default:
            errors.append(FieldError(field, "must be an object of feature names to true or false"))
            return [:]
        }
    }

    static func parseDisplayName(_ value: JSONValue?, errors: inout [FieldError]) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let name)? where (1...200).contains(name.count) && !name.contains(where: { $0.isNewline || ($0.asciiValue.map { $0 < 0x20 } ?? false) }):
            return name
        default:
            errors.append(FieldError("displayName", "must be a string of 1-200 characters without control characters"))
            return nil
        }
    }

    /// A new subtenant of `tenantId` from a create body.
    public static func parseCreate(_ body: [String: JSONValue], tenantId: String, now: Date) throws(ValidationFailure) -> Subtenant {
        var errors = [FieldError]()
        for key in body.keys.sorted() where !createFields.contains(key) { errors.append(FieldError(String(key.prefix(64)), "unknown field")) }
        var subtenantId = ""
        if case .string(let id)? = body["subtenantId"], TenantRules.isValidTenantId(id) {
            subtenantId = id
        } else {
            errors.append(FieldError("subtenantId", "required: 1-63 lowercase letters, digits or '-', starting with a letter"))
        }
        let displayName = parseDisplayName(body["displayName"], errors: &errors)
        let features = parseFeatures(body["features"], errors: &errors)
        guard errors.isEmpty else { throw ValidationFailure(errors) }
        return Subtenant(tenantId: tenantId, subtenantId: subtenantId, displayName: displayName, features: features, createdAt: now, updatedAt: now)
    }

    /// `subtenant` with a PATCH body applied: `displayName` (null clears it) and `features` (replaced as a whole) only.
    public static func applyPatch(_ body: [String: JSONValue], to subtenant: Subtenant, now: Date) throws(ValidationFailure) -> Subtenant {
        // As for tenants: a body that touches a fixed (or unknown) field changes nothing and says which.
        let fixed = body.keys.sorted().filter { !updatableFields.contains($0) }.map { FieldError(String($0.prefix(64)), "cannot be changed") }
        if !fixed.isEmpty { throw ValidationFailure(fixed, kind: .notUpdatable) }
        var errors = [FieldError]()
        var updated = subtenant
        if body.keys.contains("displayName") { updated.displayName = parseDisplayName(body["displayName"], errors: &errors) }
        if body.keys.contains("features") { updated.features = parseFeatures(body["features"], errors: &errors) }
        if !errors.isEmpty { throw ValidationFailure(errors) }
        updated.updatedAt = now
        return updated
    }
}
