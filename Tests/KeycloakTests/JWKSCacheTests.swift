import Foundation
import JOSE
import Keycloak
import KeycloakDouble
import Logging
import Testing

@Suite("Keycloak JWKS cache", .serialized) struct JWKSCacheTests {
    let logger = Logger(label: "test")

    func claims(_ double: KeycloakDouble, realm: String) -> [String: JSONValue] {
        let now = Int64(Date().timeIntervalSince1970)
        return ["iss": .string(double.issuer(realm)), "exp": .int(now + 60), "iat": .int(now), "sub": .string("u1"), "typ": .string("Bearer")]
    }

    func verify(_ token: String, cache: JWKSCache, url: String) async throws -> VerifiedJWT {
        let kid = try #require(try JWS.unverifiedHeader(token)["kid"]?.stringValue)
        let key = try await cache.key(jwksURL: url, kid: kid).get()
        return try JWS.verify(token) { $0 == kid ? key : nil }
    }

    @Test("Keycloak's JWKS is used by kid, its enc key skipped, and a known kid needs no second fetch")
    func basic() async throws {
        let double = try KeycloakDouble(realms: ["master", "tenant1"])
        try await double.start()
        defer { double.stop() }
        let cache = JWKSCache(minimumRefetchInterval: .seconds(10), logger: logger)
        let token = try double.token("tenant1", claims: claims(double, realm: "tenant1"))
        #expect(try await verify(token, cache: cache, url: double.jwksURL("tenant1")).claims["sub"] == .string("u1"))
        #expect(try await verify(token, cache: cache, url: double.jwksURL("tenant1")).claims["sub"] == .string("u1"))
        #expect(double.certsRequestCount == 1)
        #expect(cache.cachedKey(jwksURL: double.jwksURL("tenant1"), kid: "kc-tenant1-enc") == nil, "the enc key must be skipped")
        // Another realm's token does not verify with this realm's keys.
        let master = try double.token("master", claims: claims(double, realm: "master"))
        #expect(throws: (any Error).self) { try JWS.verify(master) { cache.cachedKey(jwksURL: double.jwksURL("tenant1"), kid: $0) } }
    }

    @Test("after a rotation the first token with the new kid verifies after exactly one refetch; the dropped kid then fails")
    func rotation() async throws {
        let double = try KeycloakDouble(realms: ["tenant1"])
        try await double.start()
        defer { double.stop() }
        let cache = JWKSCache(minimumRefetchInterval: .milliseconds(1), logger: logger)
        let old = try double.token("tenant1", claims: claims(double, realm: "tenant1"))
        _ = try await verify(old, cache: cache, url: double.jwksURL("tenant1"))
        #expect(double.certsRequestCount == 1)
        _ = try double.rotate("tenant1", dropOld: true)
        let fresh = try double.token("tenant1", claims: claims(double, realm: "tenant1"))
        _ = try await verify(fresh, cache: cache, url: double.jwksURL("tenant1"))
        #expect(double.certsRequestCount == 2, "exactly one refetch for the new kid")
        #expect(cache.cachedKey(jwksURL: double.jwksURL("tenant1"), kid: "kc-tenant1-1") == nil, "the disabled key is gone")
    }

    @Test("a flood of tokens with random unknown kids causes at most one fetch per rate-limit window, and none verifies")
    func unknownKidFlood() async throws {
        let double = try KeycloakDouble(realms: ["tenant1"])
        try await double.start()
        defer { double.stop() }
        let cache = JWKSCache(minimumRefetchInterval: .seconds(60), logger: logger)
        let url = double.jwksURL("tenant1")
        _ = try await cache.key(jwksURL: url, kid: "kc-tenant1-1").get()
        let before = double.certsRequestCount
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<500 {
                group.addTask { (try? await cache.key(jwksURL: url, kid: "forged-\(index)-\(UUID().uuidString)").get()) != nil }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.allSatisfy { !$0 }, "no unknown kid may resolve to a key")
        #expect(double.certsRequestCount - before <= 1, "\(double.certsRequestCount - before) fetches in one window")
    }

    @Test("when Keycloak fails, the last good keys keep serving and the cache says it is stale")
    func staleIfError() async throws {
        let double = try KeycloakDouble(realms: ["tenant1"])
        try await double.start()
        defer { double.stop() }
        let cache = JWKSCache(minimumRefetchInterval: .milliseconds(1), logger: logger)
        let url = double.jwksURL("tenant1")
        let token = try double.token("tenant1", claims: claims(double, realm: "tenant1"))
        _ = try await verify(token, cache: cache, url: url)
        double.set(.failing)
        #expect(await cache.key(jwksURL: url, kid: "unknown").failureValue == .unknownKid)
        #expect(cache.isServingStale(jwksURL: url))
        _ = try await verify(token, cache: cache, url: url)
        let cold = JWKSCache(minimumRefetchInterval: .milliseconds(1), logger: logger)
        if case .unavailable = await cold.key(jwksURL: url, kid: "kc-tenant1-1").failureValue {} else {
            Issue.record("a cache that never fetched successfully must report the issuer unavailable")
        }
        let nowhere = JWKSCache(logger: logger)
        if case .unavailable = await nowhere.key(jwksURL: "http://127.0.0.1:1/certs", kid: "x").failureValue {} else {
            Issue.record("a refused connection must be unavailable")
        }
    }
}

extension Result {
    var failureValue: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}

@Suite("Keycloak JWKS cache: the budget for unknown kids") struct JWKSBudgetTests {
    @Test("forged tokens naming many issuers with unknown kids cost at most the budget's burst in fetches; known issuers are unaffected")
    func budget() async throws {
        let realms = (0..<12).map { "realm\($0)" }
        let double = try KeycloakDouble(realms: realms)
        try await double.start()
        defer { double.stop() }
        let cache = JWKSCache(
            minimumRefetchInterval: .milliseconds(1), missFetchBudget: .init(burst: 4, perSecond: 0.001), logger: Logger(label: "test"))
        for realm in realms {
            let answer = await cache.key(jwksURL: double.jwksURL(realm), kid: "forged-kid")
            #expect(answer.isFailure)
        }
        #expect(double.certsRequestCount == 4, "12 issuers, a burst of 4")
        #expect(cache.refusedFetches == 8)
        // The four fetched issuers' real keys are known now: verifying their tokens needs no budget.
        let kid = try #require(try JWS.unverifiedHeader(try double.token("realm0", claims: ["sub": .string("u")]))["kid"]?.stringValue)
        #expect(cache.cachedKey(jwksURL: double.jwksURL("realm0"), kid: kid) != nil)
    }
}

extension Result {
    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}
