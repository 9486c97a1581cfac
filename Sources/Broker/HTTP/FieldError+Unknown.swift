import JOSE
import TenantRegistry

extension FieldError {
    /// One "unknown field" error per member of `body` not in `allowed`, in name order; names cut to 64 characters
    /// so a client cannot make the answer echo a huge key.
    static func unknownFields(in body: [String: JSONValue], allowed: Set<String>) -> [FieldError] {
        // The common case, every member allowed, costs no sorted copy of the keys (a mint's body is on the hot path).
        if body.keys.allSatisfy(allowed.contains) { return [] }
        return body.keys.sorted().filter { !allowed.contains($0) }.map { FieldError(String($0.prefix(64)), "unknown field") }
    }
}
