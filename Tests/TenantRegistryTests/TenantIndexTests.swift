import Foundation
import StoreTestSupport
import Testing

@testable import TenantRegistry

/// The hash indexes behind `TenantDirectory.tenant(id:)` / `tenant(domain:)` must answer exactly what the
/// snapshot's dictionaries (`byId`, `byDomain`) answer, for every query.
@Suite("tenant hash index") struct TenantIndexTests {
    static func tenant(
        _ id: String, domain: String, version: Int = 1, status: StoredStatus = .active, expiresAt: Date? = nil
    ) -> Tenant {
        Tenant(
            tenantId: id, domain: domain,
            keycloak: KeycloakSettings(realm: id, clientId: "cx-portal", clientSecret: nil, issuer: nil, otpManagerURL: nil),
            campaigns: [:], dialer: [:], mediaServer: nil, twoFA: .disabled, logo: nil, subscriptionExpiresAt: expiresAt,
            storedStatus: status, createdAt: Date(timeIntervalSince1970: 0), updatedAt: Date(timeIntervalSince1970: 0),
            deletedAt: nil, version: version)
    }

    /// Ids and domains of every length class the index treats apart: up to 7 bytes, 8-15 (two words),
    /// 16-32 (inline), longer: split at the first dot, or compared against the view.
    static func tenants(_ count: Int) -> [Tenant] {
        (0..<count).map { index in
            let id: String
            switch index % 5 {
            case 0: id = "t\(index)"
            case 1: id = "tenant-\(index)"
            case 2: id = "a\(index)-" + String(repeating: "x", count: 20)
            case 3: id = "b\(index)-" + String(repeating: "y", count: 63 - "b\(index)-".count)
            default: id = String(format: "t%014d", index)
            }
            let domain: String
            switch index % 4 {
            case 0: domain = "d\(index).io"
            case 1: domain = "\(id).expertflow.com"
            case 2: domain = "sub.sub.\(index).example.org"
            default:
                domain = index % 8 == 3
                    ? String(repeating: "l", count: 63) + "." + String(repeating: "m", count: 63) + ".t\(index).com"  // long
                    : "lbl\(index)." + String(repeating: "s", count: 50) + ".com"  // split: an inline label and a shared suffix
            }
            return tenant(id, domain: domain)
        }
    }

    /// Queries that must miss (or hit only as the dictionary does): near misses of every stored key.
    static func nearMisses(_ key: String) -> [String] {
        // A trailing NUL leaves the zero-padded words of a short key unchanged: only its length tells it apart.
        var variants = [key + "x", key + "\u{0}", String(key.dropLast()), String(key.dropFirst()), key.uppercased(), "x" + key]
        if let dot = key.firstIndex(of: ".") {
            // Around the first dot, where split keys are cut: a NUL before it (same zero-padded label words),
            // no dot, the label alone, the suffix alone.
            variants += [key[..<dot] + "\u{0}" + key[dot...], key.replacingOccurrences(of: ".", with: "-"),
                         String(key[..<dot]), String(key[dot...]), String(key[key.index(after: dot)...])]
        }
        var bytes = Array(key.utf8)
        if !bytes.isEmpty {
            bytes[bytes.count / 2] ^= 0x01
            variants.append(String(decoding: bytes, as: UTF8.self))
            bytes[bytes.count / 2] ^= 0x01
            bytes[bytes.count - 1] ^= 0x02
            variants.append(String(decoding: bytes, as: UTF8.self))
        }
        return variants
    }

    /// The index's answer, completed by the dictionary when the index is unsure (as `TenantSnapshot` does).
    func answer(_ index: TenantIndex, _ query: String, _ dictionary: [String: TenantView]) -> TenantView? {
        switch index.probe(query) {
        case .hit(let slot): TenantIndex.view(at: slot).takeUnretainedValue()
        case .miss: nil
        case .unsure: dictionary[query]
        }
    }

    /// A copy in its own storage, as a key parsed from a request is.
    static func fresh(_ text: String) -> String { String(decoding: Array(text.utf8), as: UTF8.self) }

    @Test("every id and every domain among 5,000 tenants is found, and is the dictionary's view")
    func everyKeyIsFound() {
        let directory = TenantDirectory()
        let tenants = Self.tenants(5_000)
        directory.merge(tenants)
        let snapshot = directory.current
        #expect(snapshot.byId.count == 5_000 && snapshot.byDomain.count == 5_000)
        for tenant in tenants {
            let byId = directory.tenant(id: Self.fresh(tenant.tenantId))
            #expect(byId != nil && byId === snapshot.byId[tenant.tenantId], "id \(tenant.tenantId)")
            #expect(byId?.tenantId == tenant.tenantId)
            let byDomain = directory.tenant(domain: Self.fresh(tenant.domain))
            #expect(byDomain != nil && byDomain === snapshot.byDomain[tenant.domain], "domain \(tenant.domain)")
            #expect(byDomain?.domain == tenant.domain)
            #expect(snapshot.tenant(id: tenant.tenantId) === byId && snapshot.tenant(domain: tenant.domain) === byDomain)
            #expect(directory.withTenant(id: Self.fresh(tenant.tenantId)) { $0 === byId && $0 != nil })
            #expect(directory.withTenant(domain: Self.fresh(tenant.domain)) { $0 === byDomain && $0 != nil })
        }
    }

    @Test("near misses, other-case keys, the empty string and the other index's keys are not found, as in the dictionaries")
    func missesAreMisses() {
        let directory = TenantDirectory()
        let tenants = Self.tenants(2_000)
        directory.merge(tenants)
        let snapshot = directory.current
        for tenant in tenants.prefix(500) {
            for query in Self.nearMisses(tenant.tenantId) + [tenant.domain] {
                #expect(directory.tenant(id: query) === snapshot.byId[query], "id query \(query)")
                #expect(directory.withTenant(id: query) { $0 === snapshot.byId[query] }, "borrowed id query \(query)")
            }
            for query in Self.nearMisses(tenant.domain) + [tenant.tenantId] {
                #expect(directory.tenant(domain: query) === snapshot.byDomain[query], "domain query \(query)")
                #expect(directory.withTenant(domain: query) { $0 === snapshot.byDomain[query] }, "borrowed domain query \(query)")
            }
        }
        for query in ["", "T0", "TENANT-1", "D0.IO", "unknown", "unknown.expertflow.com", String(repeating: "z", count: 300)] {
            #expect(directory.tenant(id: query) == nil && directory.tenant(domain: query) == nil, "\(query)")
        }
        // Lookups are case-sensitive, as the dictionaries are: no normalisation of the query.
        #expect(directory.tenant(id: "tenant-1") != nil && directory.tenant(id: "Tenant-1") == nil)
        #expect(directory.tenant(domain: "d0.io") != nil && directory.tenant(domain: "D0.io") == nil)
        #expect(TenantDirectory().tenant(id: "t0") == nil && TenantDirectory().tenant(domain: "d0.io") == nil)
    }

    @Test("keys that all share one hash (and so one probe chain) are still told apart by their bytes", arguments: [0, 0b111, 0xFFFF_0000_0000_0000] as [UInt64])
    func forcedCollisions(hashMask: UInt64) {
        let views = Self.tenants(600).map { TenantView($0) }
        let byId = Dictionary(uniqueKeysWithValues: views.map { ($0.tenantId, $0) })
        let byDomain = Dictionary(uniqueKeysWithValues: views.map { ($0.domain, $0) })
        let ids = TenantIndex(byId, key: .tenantId, seed: 42, hashMask: hashMask)
        let domains = TenantIndex(byDomain, key: .domain, seed: 42, hashMask: hashMask)
        defer {
            ids.release()
            domains.release()
        }
        #expect(ids.isComplete && domains.isComplete && ids.count == 600 && domains.count == 600)
        // Ids: one suffix, `expertflow.com`, of the default domains. Domains: two, of the split ones.
        #expect(ids.slotSize == 64 && domains.slotSize == 64 && ids.suffixCount == 1 && domains.suffixCount == 2)
        for view in views {
            #expect(answer(ids, Self.fresh(view.tenantId), byId) === view)
            #expect(answer(domains, Self.fresh(view.domain), byDomain) === view)
            for query in Self.nearMisses(view.tenantId) {
                #expect(answer(ids, query, byId) === byId[query])
            }
            for query in Self.nearMisses(view.domain) {
                #expect(answer(domains, query, byDomain) === byDomain[query])
            }
        }
    }

    @Test("slots are 64 bytes, 4/3 as many as keys; short keys are inline")
    func shortKeys() {
        let views = (0..<1_000).map { TenantView(Self.tenant($0 % 2 == 0 ? "t\($0)" : "tenant-\($0)-abcd", domain: "d\($0).io")) }
        let byId = Dictionary(uniqueKeysWithValues: views.map { ($0.tenantId, $0) })
        for hashMask in [.max, 0] as [UInt64] {
            let index = TenantIndex(byId, key: .tenantId, hashMask: hashMask)
            defer { index.release() }
            #expect(index.slotSize == 64 && index.capacity == 1_333 && index.count == 1_000 && index.isComplete)
            #expect(!index.isHugePageMapped && index.suffixCount == 0)
            for view in views {
                #expect(answer(index, Self.fresh(view.tenantId), byId) === view)
                for query in Self.nearMisses(view.tenantId) {
                    #expect(answer(index, query, byId) === byId[query], "\(query)")
                }
            }
        }
        let empty = TenantIndex([:], key: .domain)
        defer { empty.release() }
        #expect(empty.capacity == 16 && empty.count == 0)
        guard case .miss = empty.probe("anything") else {
            Issue.record("an empty index answers a miss")
            return
        }
    }

    @Test("domains longer than 32 bytes are split at their first dot into an inline label and a few shared suffixes", arguments: [.max, 0] as [UInt64])
    func splitDomains(hashMask: UInt64) {
        let views = (0..<3_000).map { number in
            let id = number % 3 == 0 ? "t\(number)" : String(format: "tenant-%07d", number)
            let domain = switch number % 4 {
            case 0: "\(id).expertflow-cloud.example.com"
            case 1: "x\(number % 100).example.org.long-suffix-name.net"
            case 2: "a.\(number).example-long-suffix-name-for-tests.io"  // a suffix of its own
            default: "\(id)-\(String(repeating: "q", count: 15)).e.co"  // short suffix: one word ending at the key's end
            }
            return TenantView(Self.tenant(id, domain: domain))
        }
        let byDomain = Dictionary(views.map { ($0.domain, $0) }, uniquingKeysWith: { first, _ in first })
        let index = TenantIndex(byDomain, key: .domain, hashMask: hashMask)
        defer { index.release() }
        #expect(index.slotSize == 64 && index.isComplete && index.count == byDomain.count)
        let suffixes = Set(byDomain.keys.filter { $0.utf8.count > 32 }.map { $0.split(separator: ".", maxSplits: 1)[1] })
        #expect(suffixes.count > 750 && index.suffixCount == suffixes.count)
        for (domain, view) in byDomain {
            #expect(answer(index, Self.fresh(domain), byDomain) === view, "\(domain)")
            for query in Self.nearMisses(domain) {
                #expect(answer(index, query, byDomain) === byDomain[query], "\(query)")
            }
        }
    }

    @Test("non-ASCII keys and queries get the dictionary's answer (String equality is canonical equivalence)")
    func unicode() {
        let directory = TenantDirectory()
        // Never valid through the API, but a directory takes what the store holds.
        directory.merge([
            Self.tenant("tenantK", domain: "kelvin.example.com"),
            Self.tenant("caf\u{E9}", domain: "caf\u{E9}.example.com"),
            Self.tenant("plain", domain: "plain.example.com"),
        ])
        let snapshot = directory.current
        let queries = [
            "tenant\u{212A}",  // KELVIN SIGN: canonically equivalent to "K"
            "tenantK", "tenantk", "caf\u{E9}", "cafe\u{301}", "cafe", "caf", "plain", "pl\u{61}in", "plai\u{F1}",
            "caf\u{E9}.example.com", "cafe\u{301}.example.com", "plain.example.com", "kelvin.example.com",
        ]
        for query in queries {
            #expect(directory.tenant(id: query) === snapshot.byId[query], "id \(query)")
            #expect(directory.tenant(domain: query) === snapshot.byDomain[query], "domain \(query)")
            #expect(directory.withTenant(id: query) { $0 === snapshot.byId[query] }, "borrowed id \(query)")
            #expect(directory.withTenant(domain: query) { $0 === snapshot.byDomain[query] }, "borrowed domain \(query)")
        }
        #expect(directory.tenant(id: "tenant\u{212A}")?.tenantId == "tenantK")
        #expect(directory.tenant(id: "cafe\u{301}")?.tenantId == "caf\u{E9}")
        #expect(directory.tenant(domain: "cafe\u{301}.example.com")?.tenantId == "caf\u{E9}")
        #expect(directory.tenant(id: "cafe") == nil)
    }

    @Test("a thread sees a merge at once, and each directory answers with its own tenants")
    func refreshAndIsolation() async throws {
        let first = TenantDirectory()
        let second = TenantDirectory()
        first.merge([Self.tenant("shared", domain: "first.example.com")])
        second.merge([Self.tenant("shared", domain: "second.example.com")])
        for _ in 0..<3 {
            #expect(first.tenant(id: "shared")?.domain == "first.example.com")
            #expect(second.tenant(id: "shared")?.domain == "second.example.com")
            #expect(first.tenant(domain: "second.example.com") == nil && second.tenant(domain: "first.example.com") == nil)
        }
        first.merge([Self.tenant("shared", domain: "first.example.org", version: 2)])
        #expect(first.tenant(id: "shared")?.version == 2)
        #expect(first.tenant(domain: "first.example.org")?.tenantId == "shared")
        #expect(first.tenant(domain: "first.example.com") == nil)
        #expect(first.current.byId["shared"]?.version == 2)
        // An older version changes nothing.
        first.merge([Self.tenant("shared", domain: "stale.example.org", version: 1)])
        #expect(first.tenant(id: "shared")?.domain == "first.example.org")

        // Other threads, each with its own cached snapshot, see every merge made before they look.
        for version in 3...6 {
            first.merge([Self.tenant("shared", domain: "v\(version).example.org", version: version)])
            let seen = await withTaskGroup(of: Int?.self) { group in
                for _ in 0..<8 {
                    group.addTask { first.tenant(domain: "v\(version).example.org")?.version }
                }
                return await group.reduce(into: [Int?]()) { $0.append($1) }
            }
            #expect(seen == Array(repeating: version, count: 8))
            // A new thread of its own (offPool starts one), resumed from there when its lookup is done.
            let seenByThread = try await offPool { first.tenant(id: "shared")?.version }
            #expect(seenByThread == version)
        }
    }

    /// Tenants whose status, end and domain cover what an entry reads from its slot, and what it leaves to the view.
    static func entryTenants() -> [Tenant] {
        let end = Date(timeIntervalSince1970: 1_800_000_000.25)
        let longId = "e-" + String(repeating: "w", count: 40)  // over 32 bytes: not inline, so its domain is the view's
        return [
            tenant("active", domain: "active.expertflow.com"),
            tenant("ending", domain: "ending.expertflow.com", expiresAt: end),
            tenant("suspended", domain: "suspended.expertflow.com", status: .suspended),
            tenant("deleted", domain: "deleted.expertflow.com", status: .deleted, expiresAt: end),
            tenant("suspended-ended", domain: "suspended-ended.expertflow.com", status: .suspended, expiresAt: end),
            tenant("custom", domain: "contact.example.org"),
            tenant("prefix", domain: "prefixx.expertflow.com"),  // starts with the id, but not `<id>.`
            tenant("other-base", domain: "other-base.cx.example.net"),
            tenant("tenantK", domain: "tenantK.expertflow.com"),
            tenant("accent", domain: "accent.caf\u{E9}.example"),  // non-ASCII suffix: never a default domain
            tenant(longId, domain: "\(longId).expertflow.com", expiresAt: end),
            tenant("nested", domain: "nested.nested.expertflow.com"),
        ]
    }

    @Test("an entry answers status, stored status and domain exactly as its view, by id and by domain")
    func entriesAnswerAsTheirViews() {
        let directory = TenantDirectory()
        let tenants = Self.entryTenants() + Self.tenants(300)
        directory.merge(tenants)
        let snapshot = directory.current
        let end = Date(timeIntervalSince1970: 1_800_000_000.25)
        // Just before and just after the end: the neighbouring Doubles of the stored instant.
        let justBefore = Date(timeIntervalSinceReferenceDate: end.timeIntervalSinceReferenceDate.nextDown)
        let justAfter = Date(timeIntervalSinceReferenceDate: end.timeIntervalSinceReferenceDate.nextUp)
        let times = [Date(timeIntervalSince1970: 0), end.addingTimeInterval(-0.25), justBefore, end, justAfter, .distantFuture]
        let domains = tenants.map(\.domain)
        for tenant in tenants {
            guard let view = snapshot.byId[tenant.tenantId] else {
                Issue.record("\(tenant.tenantId) missing")
                continue
            }
            let queries = [tenant.domain] + Self.nearMisses(tenant.domain) + domains.prefix(20)
                + ["\(tenant.tenantId).", "\(tenant.tenantId)", tenant.domain.replacingOccurrences(of: "K", with: "\u{212A}")]
            for lookup in [{ directory.withTenantEntry(id: Self.fresh(tenant.tenantId), $0) }, { directory.withTenantEntry(domain: Self.fresh(tenant.domain), $0) }]
                as [((TenantEntry?) -> Void) -> Void]
            {
                lookup { entry in
                    guard let entry else {
                        Issue.record("no entry for \(tenant.tenantId)")
                        return
                    }
                    #expect(entry.view === view)
                    #expect(entry.storedStatus == view.storedStatus, "\(tenant.tenantId)")
                    for time in times {
                        #expect(entry.status(at: time) == view.status(at: time), "\(tenant.tenantId) at \(time.timeIntervalSince1970)")
                    }
                    for query in queries {
                        #expect(entry.hasDomain(query) == (view.domain == query), "\(tenant.tenantId) hasDomain \(query)")
                    }
                }
            }
        }
        // The statuses themselves, so that agreeing with the view cannot hide a view that is wrong too.
        directory.withTenantEntry(id: "ending") { entry in
            #expect(entry?.status(at: justBefore) == .active && entry?.status(at: end) == .expired)
        }
        directory.withTenantEntry(id: "deleted") { #expect($0?.status(at: .distantPast) == .deleted) }
        directory.withTenantEntry(id: "suspended-ended") { #expect($0?.status(at: .distantFuture) == .suspended) }
        // KELVIN SIGN is canonically "K": String equality, and so `hasDomain`, says these are equal.
        directory.withTenantEntry(id: "tenantK") { entry in
            #expect(entry?.hasDomain("tenant\u{212A}.expertflow.com") == true)
            #expect(entry?.hasDomain("tenantK.expertflow.com") == true && entry?.hasDomain("tenantk.expertflow.com") == false)
        }
        directory.withTenantEntry(id: "tenant\u{212A}") { #expect($0?.view.tenantId == "tenantK") }  // the dictionary's answer
        directory.withTenantEntry(id: "unknown") { #expect($0 == nil) }
        directory.withTenantEntry(domain: "unknown.expertflow.com") { #expect($0 == nil) }
    }

    @Test("a table of 2 MiB or more is mapped for huge pages and answers every key")
    func hugePageTable() {
        // 40,000 keys: 53,333 slots of 64 bytes, 3.4 MB.
        let views = (0..<40_000).map { TenantView(Self.tenant(String(format: "tenant-%06d", $0), domain: String(format: "tenant-%06d.expertflow.com", $0))) }
        let byId = Dictionary(uniqueKeysWithValues: views.map { ($0.tenantId, $0) })
        let index = TenantIndex(byId, key: .tenantId)
        defer { index.release() }
        #expect(index.isHugePageMapped && index.count == 40_000 && index.suffixCount == 1)
        for view in views {
            #expect(answer(index, Self.fresh(view.tenantId), byId) === view)
        }
        #expect(answer(index, "tenant-040000", byId) == nil)
    }
}
