import Foundation
import JOSE
import StoreTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A free loopback port (bound, read and released; good enough for tests).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
            guard bind(fd, pointer, length) == 0 else { return -1 }
            return getsockname(fd, pointer, &length)
        }
    }
    guard bound == 0 else { throw TestFailure("cannot bind a free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Sends one raw HTTP/1.1 request (so the Host header is exactly ours) and returns status line and body.
func rawRequest(port: Int, host: String, path: String = "/", authorization: String? = nil) async throws -> (status: Int, text: String) {
    let connection = try RawConnection(port: port)
    var request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n"
    if let authorization { request += "Authorization: \(authorization)\r\n" }
    connection.send(request + "\r\n")
    let text = try await offPool { connection.readAll() }
    let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
    return (status, text)
}

@Suite("a real nginx in front of the broker", .serialized) struct NginxForwardAuthTests {
    @Test("nginx auth_request to /v1/verify passes a valid token to the upstream, refuses missing or bad tokens (401) and other tenants (403)")
    func forwardAuth() async throws {
        let nginx = "/usr/sbin/nginx"
        try #require(FileManager.default.isExecutableFile(atPath: nginx), "nginx is not installed; scripts/install-test-deps.sh installs it")
        let scratch = ScratchDirectory()
        let database = "sqlite:\(scratch.path)/registry.sqlite"
        let key = try await bootstrapAdminKey(database: database, directory: scratch.path)
        let broker = try await BrokerProcess.serve(keysDir: scratch.path + "/keys", directory: scratch.path, extraArguments: ["--database", database])
        defer { broker.signal(SIGKILL) }
        for id in ["tenant1", "tenant2"] {
            #expect(try await HTTP.send(.POST, broker.baseURL + "/v1/tenants", key: key, json: tenantBody(id)).status == 201)
        }
        let minted = try JSONParser().parseObject(try await HTTP.send(.POST, broker.baseURL + "/v1/tenants/tenant1/token", key: key).body)
        let token = try #require(minted["access_token"]?.stringValue)

        let gatewayPort = try freePort()
        let upstreamPort = try freePort()
        for directory in ["logs", "tmp"] { try FileManager.default.createDirectory(atPath: scratch.path + "/" + directory, withIntermediateDirectories: true) }
        let configuration = """
            worker_processes 1;
            daemon off;
            pid \(scratch.path)/nginx.pid;
            error_log \(scratch.path)/logs/error.log warn;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path \(scratch.path)/tmp/body;
                proxy_temp_path \(scratch.path)/tmp/proxy;
                fastcgi_temp_path \(scratch.path)/tmp/fastcgi;
                uwsgi_temp_path \(scratch.path)/tmp/uwsgi;
                scgi_temp_path \(scratch.path)/tmp/scgi;
                upstream token_broker { server 127.0.0.1:\(broker.port); keepalive 8; }
                upstream app_backend { server 127.0.0.1:\(upstreamPort); }
                server {
                    listen 127.0.0.1:\(upstreamPort);
                    location / { return 200 "upstream ok tenant=$http_x_auth_tenant roles=$http_x_auth_roles\\n"; }
                }
                server {
                    listen 127.0.0.1:\(gatewayPort);
                    location = /_token_broker_verify {
                        internal;
                        proxy_pass http://token_broker/v1/verify;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_pass_request_body off;
                        proxy_set_header Content-Length "";
                        proxy_set_header X-Forwarded-Host $host;
                        proxy_set_header Authorization $http_authorization;
                    }
                    location / {
                        auth_request /_token_broker_verify;
                        auth_request_set $auth_tenant $upstream_http_x_auth_tenant;
                        auth_request_set $auth_roles $upstream_http_x_auth_roles;
                        proxy_set_header X-Auth-Tenant $auth_tenant;
                        proxy_set_header X-Auth-Roles $auth_roles;
                        proxy_pass http://app_backend;
                    }
                }
            }
            """
        let configPath = scratch.path + "/nginx.conf"
        try Data(configuration.utf8).write(to: URL(fileURLWithPath: configPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: nginx)
        process.arguments = ["-p", scratch.path, "-c", configPath]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let deadline = ContinuousClock.now + .seconds(15)
        while !RawConnection.accepts(port: gatewayPort), ContinuousClock.now < deadline {
            try #require(process.isRunning, "nginx exited: \((try? String(contentsOfFile: scratch.path + "/logs/error.log", encoding: .utf8)) ?? "")")
            try await Task.sleep(for: .milliseconds(20))
        }
        try #require(RawConnection.accepts(port: gatewayPort), "nginx did not listen within 15 s")

        let passed = try await rawRequest(port: gatewayPort, host: "tenant1.expertflow.com", authorization: "Bearer \(token)")
        #expect(passed.status == 200, "\(passed.text.prefix(300))")
        #expect(passed.text.contains("upstream ok tenant=tenant1"))
        let missing = try await rawRequest(port: gatewayPort, host: "tenant1.expertflow.com")
        #expect(missing.status == 401)
        #expect(!missing.text.contains("upstream ok"))
        let invalid = try await rawRequest(port: gatewayPort, host: "tenant1.expertflow.com", authorization: "Bearer \(token.dropLast(4))AAAA")
        #expect(invalid.status == 401)
        let otherTenant = try await rawRequest(port: gatewayPort, host: "tenant2.expertflow.com", authorization: "Bearer \(token)")
        #expect(otherTenant.status == 403)
        #expect(!otherTenant.text.contains("upstream ok"))
        let apiKeyAsToken = try await rawRequest(port: gatewayPort, host: "tenant1.expertflow.com", authorization: "Bearer \(key)")
        #expect(apiKeyAsToken.status == 401)
    }
}
