/// Synthetic tenants for the registry benchmarks (RegistryBenchmarks, registry-memory, registry-reload).
///
/// Every tenant is made the way the API makes one: its create body is JSON *text* parsed with JOSE's
/// `JSONParser` and validated by `TenantRules.parseCreate`. So each tenant's strings are its own heap
/// allocations, as after a real create or a reload from the store, and never shared string literals
/// (which would make the memory figures look better than production).
///
/// Tenant `i` (0-based): id `tenant-0000042` (14 bytes, so Swift keeps it inline as a small string),
/// domain `tenant-0000042.expertflow.com` (29 bytes, a heap string), realm = id, 2FA enabled on SMS or
/// Email alternately, an OTP manager URL, a media server and a subscription end; no logo.
import Foundation
import JOSE
import TenantRegistry

public enum RegistryFixtures {
    public static let baseDomain = "expertflow.com"
    /// A fixed "now" so runs are comparable; tenant `i` is created `i` seconds before it.
    public static let epoch = Date(timeIntervalSince1970: 1_760_000_000)

    public static func tenantId(_ index: Int) -> String {
        let digits = String(index)
        return "tenant-" + String(repeating: "0", count: max(0, 7 - digits.count)) + digits
    }

    public static func domain(_ index: Int) -> String { "\(tenantId(index)).\(baseDomain)" }

    /// The create body of tenant `index`, as a POST /tenants would carry it.
    public static func body(_ index: Int) -> String {
        let id = tenantId(index)
        let channel = index.isMultiple(of: 2) ? "SMS" : "Email"
        return """
            {"tenantId":"\(id)","keycloak":{"realm":"\(id)","clientId":"cx-portal","clientSecret":"secret-\(index)",\
            "Otp_Manager_Url":"http://otp:3000/"},"campaigns":{},"dialer":{},\
            "mediaServer":{"host":"media1.expertflow.com","port":5060},\
            "twoFAConfig":{"isEnabled":true,"channelType":"\(channel)","serviceIdentifier":"\(channel.lowercased())-1",\
            "otpExpiry":120,"retryLimit":3},"subscription":{"expiresAt":"2099-01-01T00:00:00Z"}}
            """
    }

    /// Tenants `range` (ids and domains unique across ranges).
    public static func makeTenants(_ range: Range<Int>) -> [Tenant] {
        let parser = JSONParser()
        var tenants = [Tenant]()
        tenants.reserveCapacity(range.count)
        for index in range {
            do {
                let object = try parser.parseObject(array: Array(body(index).utf8))
                tenants.append(try TenantRules.parseCreate(
                    object, baseDomain: baseDomain, now: epoch.addingTimeInterval(-Double(index))))
            } catch {
                fatalError("fixture tenant \(index) is invalid: \(error)")
            }
        }
        return tenants
    }

    public static func makeTenants(_ count: Int) -> [Tenant] { makeTenants(0..<count) }

    /// A fresh copy of `text` in its own storage, as a key parsed from a request would be (so `==` cannot
    /// short-cut on identical storage with the dictionary's key).
    public static func freshCopy(_ text: String) -> String {
        String(decoding: Array(text.utf8), as: UTF8.self)
    }
}
