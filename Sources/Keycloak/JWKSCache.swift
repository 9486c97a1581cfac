import AsyncHTTPClient
import Foundation
import JOSE
import Logging
import NIOCore
import Synchronization
import Upstream

/// Signing keys of external issuers (Keycloak realms), fetched from their `jwks_uri` and served from memory.
///
/// - A known kid is answered from memory, with no I/O.
/// - An unknown kid triggers at most one fetch per issuer at a time (single flight), and at most one per
///   `minimumRefetchInterval`; after it, a kid that is still unknown is refused. There is never a fallback
///   to another key.
/// - Fetches triggered by unknown kids also share one budget across all issuers (`missFetchBudget`): anyone can
///   send forged tokens naming each of thousands of tenant realms, and without it each would cost one request to
///   Keycloak per `minimumRefetchInterval`. Scheduled refreshes of known issuers do not spend from it.
/// - Keys with `use: enc` or an algorithm the broker cannot verify with are skipped (see `JWKSet`).
/// - When the issuer cannot be reached, the last good keys keep serving for up to `staleLimit`.
public final class JWKSCache: Sendable {
    /// Why no key could be given.
    public enum Failure: Error, Equatable, Sendable {
        case unknownKid
        case unavailable(String)
    }

    struct Entry: Sendable {
        var keys: [String: JWSPublicKey] = [:]
        var fetchedAt: ContinuousClock.Instant?
        var lastAttempt: ContinuousClock.Instant?
        var lastError: String?
        var inFlight: Task<Void, Never>?
        var maxAge: Duration = .seconds(300)
    }

    let httpClient: HTTPClient
    let minimumRefetchInterval: Duration
    let staleLimit: Duration
    let logger: Logger
    private let entries = Mutex<[String: Entry]>([:])
    /// kid → the one key set that has it and the key, fresh within the stale limit; a kid found in several
    /// key sets is left out (callers then go by issuer). Rebuilt after every fetch.
    private let byKid = Mutex<[String: IndexedKey]>([:])

    /// One entry of `byKid`. A struct, not a tuple: a tuple as a generic argument costs a runtime metadata
    /// lookup on every access, and this index is read for every Keycloak token verified.
    private struct IndexedKey: Sendable {
        let jwksURL: String
        let key: JWSPublicKey
        let fetchedAt: ContinuousClock.Instant
    }
    /// Fetches for unknown kids, across all issuers: a token bucket.
    public struct Budget: Sendable {
        /// Fetches that may start at once.
        public var burst: Double
        /// Fetches added back per second.
        public var perSecond: Double

        public init(burst: Double, perSecond: Double) {
            self.burst = burst
            self.perSecond = perSecond
        }
    }
    let missFetchBudget: Budget
    private let budgetState = Mutex<(tokens: Double, at: ContinuousClock.Instant)>((0, .now))
    private let refusedFetchCount = Atomic<Int>(0)
    private let fetchCount = Atomic<Int>(0)
    private let failedFetchCount = Atomic<Int>(0)
    private let hitCount = Atomic<Int>(0)
    private let missCount = Atomic<Int>(0)

    /// Told how long each fetch took, success or failure alike (for a latency histogram).
    let onFetch: @Sendable (Duration) -> Void
    /// How long one JWKS fetch may take (`--keycloak-timeout`).
    let timeout: Duration

    public init(
        httpClient: HTTPClient = UpstreamHTTP.client, minimumRefetchInterval: Duration = .seconds(10), staleLimit: Duration = .seconds(86_400),
        missFetchBudget: Budget = Budget(burst: 20, perSecond: 2),
        timeout: Duration = .seconds(10), logger: Logger, onFetch: @escaping @Sendable (Duration) -> Void = { _ in }
    ) {
        self.missFetchBudget = missFetchBudget
        budgetState.withLock { $0 = (missFetchBudget.burst, .now) }
        self.httpClient = httpClient
        self.timeout = timeout
        self.minimumRefetchInterval = minimumRefetchInterval
        self.staleLimit = staleLimit
        self.logger = logger
        self.onFetch = onFetch
    }

    /// How many JWKS fetches this cache has made (for metrics and tests).
    public var fetches: Int { fetchCount.load(ordering: .relaxed) }

    /// Fetches for unknown kids not made because the budget was spent (for metrics and tests).
    public var refusedFetches: Int { refusedFetchCount.load(ordering: .relaxed) }

    /// Takes one fetch from the budget, if there is one.
    private func spendBudget() -> Bool {
        budgetState.withLock { state in
            let now = ContinuousClock.now
            let elapsed = now - state.at
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            state.tokens = min(missFetchBudget.burst, state.tokens + seconds * missFetchBudget.perSecond)
            state.at = now
            guard state.tokens >= 1 else { return false }
            state.tokens -= 1
            return true
        }
    }

    /// Lookups answered from memory, lookups that were not, and fetches that failed (for metrics).
    public var counters: (hits: Int, misses: Int, fetches: Int, failedFetches: Int) {
        (hitCount.load(ordering: .relaxed), missCount.load(ordering: .relaxed), fetchCount.load(ordering: .relaxed), failedFetchCount.load(ordering: .relaxed))
    }

    /// What the cache holds per issuer, for `/readyz` and metrics.
    public struct Status: Sendable {
        public let jwksURL: String
        public let keys: Int
        /// Seconds since the last successful fetch; nil if none succeeded.
        public let age: Double?
        /// The last fetch failed: older keys keep serving (stale-if-error) until the stale limit.
        public let stale: Bool
        public let lastError: String?
    }

    public func statuses() -> [Status] {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            entries.map { url, entry in
                let age = entry.fetchedAt.map { now - $0 }.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
                return Status(jwksURL: url, keys: entry.keys.count, age: age, stale: entry.lastError != nil && entry.fetchedAt != nil, lastError: entry.lastError)
            }.sorted { $0.jwksURL < $1.jwksURL }
        }
    }

    /// Seeds the keys of `jwksURL` without a fetch (offline priming, benchmarks).
    public func prime(jwksURL: String, keys: JWKSet, maxAge: Duration = .seconds(300)) {
        entries.withLock { entries in
            var entry = entries[jwksURL] ?? Entry()
            entry.keys = keys.keys
            entry.fetchedAt = ContinuousClock.now
            entry.lastError = nil
            entry.maxAge = maxAge
            entries[jwksURL] = entry
        }
        rebuildKidIndex()
    }

    /// The key `kid` of the issuer whose keys live at `jwksURL`.
    public func key(jwksURL: String, kid: String) async -> Result<JWSPublicKey, Failure> {
        if let key = cachedKey(jwksURL: jwksURL, kid: kid) {
            hitCount.add(1, ordering: .relaxed)
            return .success(key)
        }
        missCount.add(1, ordering: .relaxed)
        await refreshIfAllowed(jwksURL, forUnknownKid: true)
        if let key = cachedKey(jwksURL: jwksURL, kid: kid) { return .success(key) }
        let state = entries.withLock { $0[jwksURL] }
        if state?.fetchedAt == nil, let error = state?.lastError { return .failure(.unavailable(error)) }
        return .failure(.unknownKid)
    }

    /// The key from memory only, if it is known and not older than the stale limit.
    public func cachedKey(jwksURL: String, kid: String) -> JWSPublicKey? {
        entries.withLock { entries in
            guard let entry = entries[jwksURL], let fetched = entry.fetchedAt, ContinuousClock.now - fetched < staleLimit else { return nil }
            return entry.keys[kid]
        }
    }

    /// The key `kid` and the key set it belongs to, from memory, when exactly one cached key set has it.
    public func cachedKey(kid: String) -> (jwksURL: String, key: JWSPublicKey)? {
        byKid.withLock { index in
            guard let found = index[kid], ContinuousClock.now - found.fetchedAt < staleLimit else { return nil }
            return (found.jwksURL, found.key)
        }
    }

    private func rebuildKidIndex() {
        let snapshot = entries.withLock { $0 }
        var index = [String: IndexedKey]()
        var ambiguous = Set<String>()
        for (url, entry) in snapshot {
            guard let fetched = entry.fetchedAt else { continue }
            for (kid, key) in entry.keys {
                if index[kid] != nil { ambiguous.insert(kid) }
                index[kid] = IndexedKey(jwksURL: url, key: key, fetchedAt: fetched)
            }
        }
        for kid in ambiguous { index[kid] = nil }
        byKid.withLock { $0 = index }
    }

    /// Whether the last fetch failed while older keys keep serving.
    public func isServingStale(jwksURL: String) -> Bool {
        entries.withLock { $0[jwksURL].map { $0.lastError != nil && $0.fetchedAt != nil } ?? false }
    }

    /// Fetches now unless a fetch ran within the minimum interval; concurrent callers share one fetch. A fetch for
    /// an unknown kid also needs the shared budget.
    func refreshIfAllowed(_ jwksURL: String, forUnknownKid: Bool = false) async {
        let task: Task<Void, Never>? = entries.withLock { entries in
            var entry = entries[jwksURL] ?? Entry()
            if let running = entry.inFlight { return running }
            if let last = entry.lastAttempt, ContinuousClock.now - last < minimumRefetchInterval { return nil }
            if forUnknownKid, !spendBudget() {
                refusedFetchCount.add(1, ordering: .relaxed)
                return nil
            }
            entry.lastAttempt = ContinuousClock.now
            let fetch = Task { await self.fetch(jwksURL) }
            entry.inFlight = fetch
            entries[jwksURL] = entry
            return fetch
        }
        await task?.value
    }

    /// Refreshes every issuer whose keys are older than their max-age (bounded 1 min ... 24 h). Called periodically.
    public func refreshExpired() async {
        let due: [String] = entries.withLock { entries in
            entries.compactMap { url, entry in
                guard let fetched = entry.fetchedAt else { return nil }
                // Refresh at 80% of max-age, so keys are renewed before they are due.
                return ContinuousClock.now - fetched >= entry.maxAge * 0.8 ? url : nil
            }
        }
        for url in due { await refreshIfAllowed(url) }
    }

    private func fetch(_ jwksURL: String) async {
        fetchCount.add(1, ordering: .relaxed)
        var result: Result<(JWKSet, Duration), Failure>
        let start = ContinuousClock.now
        do {
            var request = HTTPClientRequest(url: jwksURL)
            request.headers.add(name: "Accept", value: "application/json")
            let response = try await httpClient.tracedExecute(request, timeout: timeout.timeAmount, operation: "OIDC GET jwks")
            guard response.status == .ok else { throw Failure.unavailable("JWKS answered \(response.status.code)") }
            let body = try await response.body.collect(upTo: 512 * 1024)
            let set = try JWKSet(json: Array(buffer: body))
            result = .success((set, Self.maxAge(response.headers.first(name: "Cache-Control"))))
        } catch let failure as Failure {
            result = .failure(failure)
        } catch let error as JOSEError {
            result = .failure(.unavailable("JWKS is not valid: \(error.description)"))
        } catch {
            result = .failure(.unavailable("JWKS cannot be fetched: \(type(of: error))"))
        }
        onFetch(ContinuousClock.now - start)
        entries.withLock { entries in
            var entry = entries[jwksURL] ?? Entry()
            entry.inFlight = nil
            switch result {
            case .success(let (set, maxAge)):
                entry.keys = set.keys
                entry.fetchedAt = ContinuousClock.now
                entry.lastError = nil
                entry.maxAge = maxAge
            case .failure(let failure):
                entry.lastError = "\(failure)"
                failedFetchCount.add(1, ordering: .relaxed)
            }
            entries[jwksURL] = entry
        }
        rebuildKidIndex()
        switch result {
        case .success(let (set, _)):
            logger.info("JWKS fetched", metadata: ["jwksURL": .string(jwksURL), "keys": .stringConvertible(set.keys.count), "skipped": .stringConvertible(set.skipped.count)])
        case .failure(let failure):
            logger.warning("JWKS fetch failed; keeping the last good keys", metadata: ["jwksURL": .string(jwksURL), "error": .string("\(failure)")])
        }
    }

    /// `max-age` from Cache-Control, bounded to 1 minute ... 24 hours (default 5 minutes).
    static func maxAge(_ header: String?) -> Duration {
        guard let header, let range = header.range(of: "max-age=") else { return .seconds(300) }
        let digits = header[range.upperBound...].prefix { $0.isNumber }
        let seconds = Int(digits) ?? 300
        return .seconds(min(max(seconds, 60), 86_400))
    }
}
