import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Minimal HTTP helpers over AsyncHTTPClient for the process-level tests.
enum HTTP {
    struct Reply {
        let status: Int
        let headers: HTTPHeaders
        let body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    static func get(_ url: String, headers: [(String, String)] = [], client: HTTPClient = .shared) async throws -> Reply {
        try await get(url, headerList: headers, client: client)
    }

    static func get(_ url: String, headerList headers: [(String, String)], client: HTTPClient) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await client.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 4 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: Array(buffer: body))
    }
}
