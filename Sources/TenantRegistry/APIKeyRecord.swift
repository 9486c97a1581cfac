import Foundation
import JOSE

/// An API key as stored: only a SHA-256 hash of its 256-bit secret is kept.
public struct APIKeyRecord: Sendable, Equatable {
    /// Lowercase letters and digits; the `<id>` in `tbk_<id>_<secret>`.
    public var id: String
    public var name: String
    /// Hex SHA-256 of the secret.
    public var secretHash: String
    public var scopes: [String]
    /// Tenant ids the key may act for, or `["*"]`.
    public var tenants: [String]
    public var createdAt: Date
    public var revokedAt: Date?

    public static let knownScopes: Set<String> = ["token:mint", "token:introspect", "otp", "tenants:read", "tenants:write", "admin"]

    /// Whether the key is a system admin.
    public var isAdmin: Bool { scopes.contains("admin") }

    /// Whether the key may act for `tenantId`.
    public func allows(tenant tenantId: String) -> Bool {
        tenants.contains("*") || tenants.contains(tenantId)
    }

    /// Creates a key with a fresh id and secret; returns the record and the full key, shown once.
    public static func generate(name: String, scopes: [String], tenants: [String], now: Date) -> (record: APIKeyRecord, key: String) {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        let id = String(decoding: Crypto.randomBytes(12).map { alphabet[Int($0) % alphabet.count] }, as: UTF8.self)
        let secret = Base64URL.encode(Crypto.randomBytes(32))
        let record = APIKeyRecord(
            id: id, name: name, secretHash: hash(secret: secret), scopes: scopes, tenants: tenants, createdAt: now,
            revokedAt: nil)
        return (record, "tbk_\(id)_\(secret)")
    }

    /// Splits `tbk_<id>_<secret>`; nil when the text is not shaped like a key.
    public static func parse(_ presented: String) -> (id: String, secret: String)? {
        guard presented.hasPrefix("tbk_"), presented.utf8.count <= 256 else { return nil }
        let rest = presented.dropFirst(4)
        guard let separator = rest.firstIndex(of: "_") else { return nil }
        let id = String(rest[..<separator])
        let secret = String(rest[rest.index(after: separator)...])
        guard (1...64).contains(id.utf8.count), id.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) }),
            !secret.isEmpty
        else { return nil }
        return (id, secret)
    }

    /// The stored form of a secret: hex SHA-256.
    public static func hash(secret: String) -> String {
        Crypto.hex(Crypto.sha256(Array(secret.utf8)))
    }

    /// Whether the key is limited to `tenantId` or its subtenants alone: the tenant's own key, revoked when the
    /// tenant is deleted, exported and purged with it. A key for every tenant (`*`), for others too, or with the
    /// `admin` scope (a system admin's, whatever its tenants) is not the tenant's.
    public func isLimited(to tenantId: String) -> Bool {
        !isAdmin && !tenants.isEmpty && tenants.allSatisfy { $0 == tenantId || $0.hasPrefix(tenantId + "/") }
    }

    /// Whether `secret` is this key's, compared in constant time.
    public func matches(secret: String) -> Bool {
        Crypto.constantTimeEqual(Array(Self.hash(secret: secret).utf8), Array(secretHash.utf8))
    }
}
