import Foundation
import SQLKit

/// Tenant client secrets: sealed on their way into a row, opened on their way out, and (re)sealed at start-up.
extension SQLTenantStore {
    /// What the record id of a tenant's sealed client secret is (its associated data).
    static func secretRecord(_ tenantId: String) -> String { "tenants/\(tenantId)/keycloak.clientSecret" }

    /// The row for `tenant`, its client secret sealed. `current`: the row being replaced, whose sealed secret is
    /// kept byte for byte when the secret did not change (no new nonce, no write of a secret nobody sent).
    func row(_ tenant: Tenant, replacing current: (tenant: Tenant, row: StoredTenantRow)? = nil) throws(StoreError) -> StoredTenantRow {
        var row = StoredTenantRow(tenant)
        guard let secret = row.clientSecret else { return row }
        if let current, current.tenant.keycloak.clientSecret == secret, let sealed = current.row.clientSecret, SecretSealer.isSealed(sealed) {
            row.clientSecret = sealed
            return row
        }
        do {
            row.clientSecret = try sealer.seal(secret, record: Self.secretRecord(tenant.tenantId))
        } catch {
            throw .unavailable("no secrets key: this process cannot store tenant secrets")
        }
        return row
    }

    /// The tenant of a full row, its client secret opened. A row written before secrets were sealed holds it in
    /// plaintext until `sealSecrets` runs (at start-up): it is read as is.
    func decode(_ row: StoredTenantRow) throws -> Tenant {
        var row = row
        if let stored = row.clientSecret, SecretSealer.isSealed(stored) {
            do {
                row.clientSecret = try sealer.open(stored, record: Self.secretRecord(row.tenantId))
            } catch {
                logger.error(
                    "a tenant's client secret cannot be opened; every instance needs the same --secrets-key",
                    metadata: ["tenant": .string(row.tenantId), "reason": .string(error.description)])
                throw StoreError.corrupt("tenant \(row.tenantId): client secret: \(error.description)")
            }
        }
        return try TenantCodec.decode(row: row)
    }

    static let keyCheckRecord = "broker_settings/secrets_key_check"
    static let keyCheckText = "token-broker secrets key check"

    /// Seals every client secret still stored in plaintext (rows from before sealing) and seals again, under the
    /// sealing key, those sealed under an older one (rotation), in one transaction; run at start-up. Throws
    /// `.corrupt` when the store was sealed under a key the sealer does not hold (nothing changes): every
    /// instance of one store needs the same secrets key, and one without it stops here, not at a tenant login.
    public func sealSecrets() async throws(StoreError) -> (sealed: Int, resealed: Int) {
        guard let current = sealer.currentKeyId else { return (0, 0) }
        let lock = backend.isPostgres ? " FOR UPDATE" : ""
        let sealer = self.sealer
        do {
            return try await backend.transaction { db in
                struct Setting: Codable { var value: String }
                if let check = try await db.raw(
                    "SELECT value FROM broker_settings WHERE name = 'secrets_key_check'\(unsafeRaw: lock)"
                ).all(decoding: Setting.self).first?.value {
                    do throws(SecretSealer.SealingError) {
                        guard try sealer.open(check, record: Self.keyCheckRecord) == Self.keyCheckText else { throw .cannotOpen }
                    } catch {
                        throw StoreError.corrupt(
                            "this store's secrets are sealed under secrets key \(SecretSealer.keyId(of: check) ?? "?"), which this instance does not have "
                                + "(its key: \(current)); give every instance the same --secrets-key (or secrets.key file)")
                    }
                    if SecretSealer.keyId(of: check) != current {
                        try await db.raw("UPDATE broker_settings SET value = \(bind: try sealer.seal(Self.keyCheckText, record: Self.keyCheckRecord)) WHERE name = 'secrets_key_check'").run()
                    }
                } else {
                    try await db.raw(
                        "INSERT INTO broker_settings (name, value) VALUES ('secrets_key_check', \(bind: try sealer.seal(Self.keyCheckText, record: Self.keyCheckRecord)))"
                    ).run()
                }
                struct Row: Codable { var tenant_id: String; var client_secret: String }
                let rows = try await db.raw(
                    """
                    SELECT tenant_id, client_secret FROM tenants WHERE client_secret IS NOT NULL
                    AND client_secret NOT LIKE \(bind: SecretSealer.prefix + current + ":%")\(unsafeRaw: lock)
                    """
                ).all(decoding: Row.self)
                var counts = (sealed: 0, resealed: 0)
                for row in rows {
                    let record = Self.secretRecord(row.tenant_id)
                    let plain: String
                    if SecretSealer.isSealed(row.client_secret) {
                        do throws(SecretSealer.SealingError) {
                            plain = try sealer.open(row.client_secret, record: record)
                        } catch {
                            throw StoreError.corrupt("tenant \(row.tenant_id): client secret: \(error.description)")
                        }
                        counts.resealed += 1
                    } else {
                        plain = row.client_secret
                        counts.sealed += 1
                    }
                    let sealed = try sealer.seal(plain, record: record)
                    try await db.raw("UPDATE tenants SET client_secret = \(bind: sealed) WHERE tenant_id = \(bind: row.tenant_id)").run()
                }
                return counts
            }
        } catch {
            throw backend.translate(error)
        }
    }

    /// The client secret column as stored (sealed, or plaintext from before sealing); for tests and diagnostics.
    func storedClientSecret(_ tenantId: String) async throws -> String? {
        struct Row: Codable { var client_secret: String? }
        return try await backend.read { db in
            try await db.raw("SELECT client_secret FROM tenants WHERE tenant_id = \(bind: tenantId)").all(decoding: Row.self)
        }.first?.client_secret
    }

    /// Overwrites the stored client secret column as is (tests: rows from before sealing, values moved between rows).
    func overwriteStoredClientSecret(_ tenantId: String, _ value: String?) async throws {
        try await backend.transaction { db in
            try await db.raw("UPDATE tenants SET client_secret = \(bind: value) WHERE tenant_id = \(bind: tenantId)").run()
        }
    }
}
