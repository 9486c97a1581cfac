import HTTPTypes
import Hummingbird
import NIOCore

/// `/console/`: the operator console, a single page on the public API. Its three files are embedded in the binary
/// (`PackageResources`, SwiftPM's `embedInCode`), so there is nothing to install beside it, and every answer under
/// `/console` carries the same strict headers: scripts and styles from the broker only (no inline script), no
/// framing, no referrer, no sniffing, images from the broker or `data:` (the logo preview).
struct ConsoleRoutes: Sendable {
    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; "
        + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    /// The headers of every answer under `/console`, the 404s and the redirect included: `ConsoleHeadersMiddleware`
    /// sets them, so the routes themselves set only what differs per answer.
    static let securityHeaders: HTTPFields = [
        HTTPField.Name("Content-Security-Policy")!: contentSecurityPolicy,
        HTTPField.Name("X-Frame-Options")!: "DENY",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Cross-Origin-Opener-Policy")!: "same-origin",
        HTTPField.Name("Cross-Origin-Resource-Policy")!: "same-origin",
        .cacheControl: "no-cache",
    ]

    struct Asset: Sendable {
        let contentType: String
        let bytes: ByteBuffer
    }

    static let assets: [String: Asset] = [
        "": Asset(contentType: "text/html; charset=utf-8", bytes: ByteBuffer(bytes: PackageResources.index_html)),
        "index.html": Asset(contentType: "text/html; charset=utf-8", bytes: ByteBuffer(bytes: PackageResources.index_html)),
        "console.js": Asset(contentType: "text/javascript; charset=utf-8", bytes: ByteBuffer(bytes: PackageResources.console_js)),
        "console.css": Asset(contentType: "text/css; charset=utf-8", bytes: ByteBuffer(bytes: PackageResources.console_css)),
    ]

    func addRoutes(to router: Router<BrokerRequestContext>) {
        // The router does not tell `/console` from `/console/`: the raw path's last character decides between the
        // redirect and the page; a file is named by the catch-all's components.
        router.get("/console") { request, _ in Self.answer(path: request.uri.path, file: "") }
        router.get("/console/**") { request, context in
            Self.answer(path: request.uri.path, file: context.parameters.getCatchAll().joined(separator: "/"))
        }
    }

    /// `/console` redirects to `console/` (relative, so a reverse proxy's path prefix is kept, and the page's
    /// relative URLs resolve), `/console/` is the page, `/console/<file>` one of the files or 404.
    static func answer(path: String, file: String) -> Response {
        if file.isEmpty, !path.hasSuffix("/") {
            return Response(status: .permanentRedirect, headers: [.location: "console/"])
        }
        return answer(for: file)
    }

    static func answer(for name: String) -> Response {
        guard let asset = assets[name] else {
            return Response(
                status: .notFound, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "not found\n")))
        }
        return Response(status: .ok, headers: [.contentType: asset.contentType], body: .init(byteBuffer: asset.bytes))
    }
}

/// Puts the console's headers on every answer to a path under `/console`, also those the routes never make: the
/// router's 404 and 405, a malformed path, a problem answer for any error. Outside the error mapping
/// (`RequestObservabilityMiddleware`), so it sees the final answer.
struct ConsoleHeadersMiddleware: RouterMiddleware {
    typealias Context = BrokerRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        let trimmed = path.drop { $0 == "/" }
        guard trimmed.hasPrefix("console") else { return try await next(request, context) }
        var response = try await next(request, context)
        for field in ConsoleRoutes.securityHeaders where response.headers[field.name] == nil || field.name != .cacheControl {
            response.headers[field.name] = field.value
        }
        return response
    }
}
