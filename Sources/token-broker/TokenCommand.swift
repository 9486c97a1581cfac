import ArgumentParser
import AsyncHTTPClient
import Broker
import Foundation
import JOSE
import KeyRing
import NIOCore
import TenantRegistry
import Tokens

/// `token-broker token ...`: mint and inspect cx-tenant tokens offline.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Mint or inspect tokens (development and operations tools).",
        subcommands: [Mint.self, Inspect.self])

    struct Mint: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign a cx-tenant token with the local active key and print it.",
            discussion: "Uses the same issuer, base domain and key ring settings as `serve` (flags, TOKEN_BROKER_*, --config).")
        @OptionGroup var options: KeyRingOptions
        @Option(help: "Tenant id, e.g. tenant1.") var tenant: String
        @Option(help: "Lifetime in seconds (default: --token-ttl, capped by --max-token-ttl).") var ttl: Int?
        @Option(help: "Audience (default https://<tenant domain>).") var aud: String?
        @Option(help: "Subject (default token-broker-cli).") var sub: String = "token-broker-cli"
        @Option(help: "Space-separated scopes.") var scope: String = ""
        @Option(help: "Comma-separated roles.") var roles: String = ""
        @Option(help: "Issuer (default as serve: http://<host>:<port>).") var issuer: String?
        @Option(help: "Base domain of tenant domains (default expertflow.com).") var baseDomain: String?

        func validate() throws {
            guard TenantRules.isValidTenantId(tenant) else {
                throw ValidationError("--tenant must be 1-63 lowercase letters, digits or '-', starting with a letter")
            }
            if let ttl, ttl <= 0 { throw ValidationError("--ttl must be positive") }
        }

        func run() throws {
            var extra = [String: String]()
            if let issuer { extra["issuer"] = issuer }
            if let baseDomain { extra["baseDomain"] = baseDomain }
            let configuration = try options.configuration(extra: extra)
            let ttl = self.ttl ?? configuration.tokenTTL
            guard ttl <= configuration.maxTokenTTL else {
                throw ValidationError("--ttl \(ttl) exceeds --max-token-ttl \(configuration.maxTokenTTL)")
            }
            let snapshot = try report { () throws(KeyRingError) in try KeyRingDirectory(path: configuration.keysDir).load() }
            let request = CXToken.Request(
                tenantId: tenant, tenantDomain: "\(tenant).\(configuration.baseDomain)", subject: sub, clientId: "token-broker-cli",
                audience: aud, scope: scope.split(separator: " ").map(String.init),
                roles: roles.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }, ttl: ttl)
            let minted = try CXToken.mint(request, issuer: configuration.issuer, key: snapshot.active)
            print(minted.token)
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode a JWT, print header and claims, and say whether signature and time claims verify.",
            discussion: "Exit status: 0 valid, 1 invalid, 2 usage error. Without --jwks, keys come from the local key ring.")
        @Argument(help: "The token (or - to read it from standard input).") var jwt: String
        @Option(help: "Verify against the JWKS at this URL instead of the local key ring.") var jwks: String?
        @OptionGroup var options: KeyRingOptions
        @Option(help: "Expected issuer (not checked when absent).") var issuer: String?
        @Option(help: "Expected audience (not checked when absent).") var audience: String?
        @Option(help: "Clock skew tolerated, seconds.") var leeway: Int = 60

        func validate() throws {
            guard (0...300).contains(leeway) else { throw ValidationError("--leeway must be between 0 and 300") }
        }

        func run() async throws {
            var token = jwt
            if token == "-" { token = (readLine(strippingNewline: true) ?? "") }
            token = token.trimmingCharacters(in: .whitespacesAndNewlines)
            do {
                let header = try JWS.unverifiedHeader(token)
                let claims = try JWS.unverifiedClaims(token)
                print("header: " + JSONValue.object(header).serializedString())
                print("claims: " + JSONValue.object(claims).serializedString())
            } catch {
                print("invalid: \(error.description)")
                throw ExitCode.failure
            }
            let keys: [String: JWSPublicKey]
            if let jwks {
                keys = try await Self.fetchJWKS(jwks)
            } else {
                let directory = try options.configuration().keysDir
                keys = try report { () throws(KeyRingError) in try KeyRingDirectory(path: directory).load() }.verificationKeys
            }
            let verified: VerifiedJWT
            do {
                verified = try JWS.verify(token) { keys[$0] }
                print("signature: valid (kid \(verified.key.kid), \(verified.key.algorithm.rawValue))")
            } catch {
                print("signature: INVALID: \(error.description)")
                throw ExitCode.failure
            }
            let validator = ClaimsValidator(
                issuers: issuer.map { [$0] }, audiences: audience.map { [$0] }, types: nil, leeway: Double(leeway))
            let now = Date().timeIntervalSince1970
            do {
                try validator.validate(verified, now: now)
                let exp = verified.claims["exp"]?.numberValue ?? now
                print("time claims: valid (expires in \(Int(exp - now)) s)")
            } catch {
                print("time claims: INVALID: \(error.description)")
                throw ExitCode.failure
            }
        }

        static func fetchJWKS(_ url: String) async throws -> [String: JWSPublicKey] {
            do {
                var request = HTTPClientRequest(url: url)
                request.headers.add(name: "Accept", value: "application/json")
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                guard response.status == .ok else { throw OperatorError(description: "JWKS fetch answered \(response.status.code)") }
                let body = try await response.body.collect(upTo: 512 * 1024)
                return try JWKSet(json: Array(buffer: body)).keys
            } catch let error as OperatorError {
                FileHandle.standardError.write(Data("token-broker: \(error.description)\n".utf8))
            } catch {
                FileHandle.standardError.write(Data("token-broker: cannot fetch JWKS from \(url): \(error)\n".utf8))
            }
            throw ExitCode.failure
        }
    }
}
