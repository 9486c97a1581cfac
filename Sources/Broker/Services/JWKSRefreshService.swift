import Keycloak
import ServiceLifecycle

/// Refreshes external issuers' key sets before their max-age runs out, so verification rarely waits on a fetch.
struct JWKSRefreshService: Service {
    let cache: JWKSCache

    func run() async throws {
        // Cancelled at graceful shutdown, so a sleeping refresh loop never delays it.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(30))
                await cache.refreshExpired()
            }
        }
    }
}
