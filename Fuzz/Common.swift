// Shared by every fuzz target (compiled into each one, next to the JOSE sources it tests): the fixed keys,
// the invariant check, small helpers, and the mode that writes a target's seed corpus.
@testable import JOSE

#if canImport(Glibc)
import Glibc
#endif

/// Stops the process with `message` when an invariant does not hold: libFuzzer reports the trap as a crash
/// and saves the input that caused it.
@inline(__always)
func require(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) {
    if !condition { fatalError("fuzz invariant broken: \(message())", file: file, line: line) }
}

/// The keys the targets sign and verify with: the RFC 7515 A.2 (RS256), RFC 7515 A.3 (ES256) and RFC 8037
/// (EdDSA) example keys, which make the RFCs' own tokens verify, and one fuzz-only RSA key for PS256 (so that
/// its kid, the RFC 7638 thumbprint, differs from the RS256 key's). Published test keys, not secrets:
/// `Fuzz/rfc-keys.py` rebuilds the RFC ones from their JWKs and checks them against the RFC signatures; the
/// PS256 key is `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`.
enum FuzzKeys {
    static let rs256 = load(.rs256, """
        -----BEGIN PRIVATE KEY-----
        MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCh+BYK4uPJtGXO
        jS1lYmM2K5J9vinh8CR3/BYlzJChNuOL2TSXxbbqY913EeZ8dCn5VrD7io8ImtxL
        aYk8wTM/U+3QGbh3hCUv7JFP5IV3aVlL6kKA0ywPVb9ilE8TA5a8bpvfbr3SvaNn
        juygxmj3AbONv/s4yDQs4v5tJ/reSlpIdJed1LnPmt7Ex1sFhSwsD174pcF1A5L5
        ROjtZMEQxrZHYJqkeDrrnGya11UxMFBji4NmXG9veoKjlnAqH2QbgtPr8jkiGUkf
        toaHLFcW9Qr4NY2ai50Xw0Byj3+H2JoY2PyrZ62EWQwuz3WTOTY8BwNNb2BvniHg
        VFbK5emhAgMBAAECggEAEq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyW
        PEAeP88vLNO97IjlA7/GQ5sLKMgvfTeXZx9SE+7YwVol2NXOoAJe46sui395IW/G
        O+pWJ1O0BkTGoVEn2bKVRUCgu+GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzj
        kn439X0M/V51gfpRLI9JYanrC4D4qAdGcopV/0ZHHzQlBjudU2QvXt4ehNYTCBr6
        XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl/x/jTj3ccPDVZFD9pIuhLhBOneufuBiB
        4cS98l2SR/RQyGWSeWjnczT0QU91p1DhOVRuOopznQKBgQDgHMQQ60imZV1URk0K
        pLttoLhyt3SmqdEf/kgHePDdtzEafpAu+cS191R2JiuoF2yzWXnwFDcqGigp5BNr
        0AHQfD8/Lk8l1Mk09jxxCfui5nYooNyac8YFjm3vItzVCVDnEd3BbVWG8qf6deqE
        lMGAg+C2V0L4oNXnP7LZcPAZRwKBgQC5A8R+CZW2MvRTLLHzwZkUXV866cff7tx6
        kqa0finGG0KgeqlaZPxgCZnFp7AeAcCMtiynVlJ7vMVgePsLq6XtON4tB5kP9jAP
        rq3rbAOal78eUH5OcED6eNuCV8ixEu1eWcPNCS/l1OW1EnXUEoEHKl54Xrrz2uNw
        kgMTP1FZ1wKBgAcCn1dwJKufzBWQxWQp1vsM5fggqPN1qGb5y0MAk3g7/Ls5bkUp
        5u9SN0Ai3Ya6hNnvWJMb7sXQX6U/zyO2M/hTip7tUeh7CXgwo59dkpN75gJLVds2
        9+DAncu3KXU4f2Fa+7bLNrur53k8KwPOq2bbuTG69QtV7Jr5MR0AHWKNAoGBAIf/
        evpitUf+4JYbLpvNXWcY052Mpz22aR84mY3nh3F2LF2mjMJDpTg7FmuyPcVw6EcG
        yoAe9fa65iNqCq+jdw6PVNGo2hxfjSiZ8IIzHdsPXI89//pMjZcQK9r+CCoRjaZj
        OYiIDktVWZzmevJuv6WywUqd57LE3Zar3dLSIkx1AoGAIYd7DHOhrWvxkwPQsRM2
        tOgrjbcrfvtQJipd+DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd/QJQ3
        ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp/gh6A56
        03k2+ZQwVK0JKSHuLFkuQ3U=
        -----END PRIVATE KEY-----
        """)

    static let ps256 = load(.ps256, """
        -----BEGIN PRIVATE KEY-----
        MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDdlqLKq4DnqFMp
        OmVG+NhiHdYJwwLS0WJG/jZIilxjPzMZmAI1bHRLCv1H7Oy5V3UUm5CLw+HtxxAF
        nIBuj56+FR7jKeiR5ufp6pSqEcP5NN3lBebKjjFUbxeXcs2pYSVN5/9EPrI7Z8Hw
        CI+0XTuQ7emhfEBqgOtJYAKuwcdLlebyLwlS1Uxx4eX7YN1ubNP8nZH/uAZVHXaN
        lkBI0WRY9Lp/jH3vamtTuVh4pJN4DfHGUaarxFvzAVur1ulOeaCQpoB58O7Dzqwf
        MsCxE8bbtDTvPP/XdA7VjjRk8u5YMS0280avmnCdLCAXpOHBY3E7XH8Jt0+RmPxs
        e79EiQufAgMBAAECggEAAbq8v4cyJNy39XDqvHCRw8ZG1uGqQnn24eX3B37o9K9Y
        F0GL9t3HVJSb4HVVbabkl4oVSTn4p/HvSpPrnrFJRGOGz7ASjBz4v2cgzOkBlg7X
        EoQGxprwgJ+zV+/B8in7cA24/M/edT88kMKIWJiHr/xjX+rH1+z0qShyLOn/Q7Q+
        lKN1iOOxR/ZT2nfX9i77+5m3F81r7F1SLA9DCbT/gN25GpZF3lWAhzQTU1oWev7W
        KbnAiP0cHmtPztMfuMJrVhSXqf5MRCSgwKUTfgiDZ4r6qe2CSJXFcvYxlOBMfWFl
        bNQbue7TVQ3xJW5QuD+MSTI48fsAi43t3EhITvV50QKBgQD/S3lbOP0w7wZ7tOeD
        djGyAglmcaSTb1Vbs5lTfdrZ6m6pJVLiZl84vJbtRaP9xacdo0xQFea8QBF78WYD
        H75LjK/qi9lag3C2JydBLKBmjtkg2lCM8L5CVnkmDOlzMB/6xxlWCJ7TZaXfUz3F
        W3BPxgIf8OrsUAcb+wLLoHa/7wKBgQDeM1O/cZDz5SYUizFQ8oCeDr/duFwoLnsC
        40ezAH9RsbniJryB9Pa/H/dcuK0WR+OfDcrmmwxdnrOznfKApEarmaUiRjJ5wUu+
        x1VAZqs2OyWMPuDU8zHnJ+z+yzWXWCvR+vhxQduzTGhfnGIH2K2LsKggbyi3D0iZ
        BItso22/UQKBgQC0GPFWukBbefPv5zH/mqz6L9ejzn3UiJEF7RA4RyvR2UER0EPF
        dYStSNWMMzm6N+ppzR5zzM+GdAghkK1vfMBJGcmsQ9YktV8ZEUvu/WV2lEV2mKyE
        kP0XXVt/zVIPMZ8N0dD80X4CEc5PWrDT/mqfzEcJc3K3HMm3In/ZWK0NPwKBgHoz
        ykxQngK0tNO5lZ7KL9g9jmHXQb/LiFWXP9h/XoZEc1GgMi5a1dVZNEanPnIxiUrx
        X/ShsxRN8tDG/hanwkIf1wTZjGsP1qOOpyErFeBWeRj/f9E+CuTxPVMH2Wpp0HfE
        ShyntreOPxzOOc/M5+0ac+yalc7PtgKJ0FAoNXRxAoGBAJ8FZKqG4RCNDwf1RdOg
        jYne3Z3gsq4h69rJfC6Hh30TZW7/5jelKoSlGkTxv4U29lCTj5bEOFhgYZtAbRQZ
        x/L/iRsQaCxQ33hRoeoxhABnwOZb3W6JP982cPZbOKH04oIPEYpoAGZy3IBCJbrT
        ARQ3OtxgipHc1zh6BAgV++co
        -----END PRIVATE KEY-----
        """)

    static let es256 = load(.es256, """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjpsQnnGQmL+YBIff
        H1136cspYG6+0iY7X1fCE9+E9LKhRANCAAR/zc4ncPbEXUGDy+5v20t7WAczNXvp
        7xO6z248e9FURcfxRM0bvZt+hyzf7bnuufSzaV1uqQskrYpGIyiFiOWt
        -----END PRIVATE KEY-----
        """)

    static let edDSA = load(.edDSA, """
        -----BEGIN PRIVATE KEY-----
        MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g
        -----END PRIVATE KEY-----
        """)

    /// Every signing key, in a fixed order (an input byte picks one by index).
    static let all: [JWSPrivateKey] = [es256, rs256, ps256, edDSA]

    /// The verification keys, each bound to its one algorithm.
    static let publicKeys: [JWSPublicKey] = all.map(\.publicKey)

    /// The public keys as a published JWKS document would carry them, read back through `JWKSet`, so that
    /// lookups go through the same path as keys fetched from an issuer.
    static let jwksDocument: [UInt8] = JWKSet(keys: publicKeys).serialized()
    static let jwks: JWKSet = {
        guard let set = try? JWKSet(json: jwksDocument), set.keys.count == all.count else {
            fatalError("the fuzz keys' own JWKS does not read back")
        }
        return set
    }()

    /// The kid lookup `JWS.verify(_:key:)` is given: the JWKS, no fallback.
    static func lookup(_ kid: String) -> JWSPublicKey? { jwks.keys[kid] }

    /// The signing key whose public half is `key` (same JWK), if it is one of ours.
    static func signer(of key: JWSPublicKey) -> JWSPrivateKey? {
        all.first { $0.publicKey.jwk == key.jwk }
    }

    private static func load(_ algorithm: JWSAlgorithm, _ pem: String) -> JWSPrivateKey {
        do {
            return try JWSPrivateKey(pem: Array(pem.utf8), algorithm: algorithm)
        } catch {
            fatalError("fuzz key for \(algorithm.rawValue) does not load: \(error)")
        }
    }
}

/// The part of a compact token a signature covers: everything before the second dot.
func signingInput(of token: String) -> Substring? {
    guard let first = token.utf8.firstIndex(of: UInt8(ascii: ".")) else { return nil }
    let rest = token.utf8[token.utf8.index(after: first)...]
    guard let second = rest.firstIndex(of: UInt8(ascii: ".")) else { return nil }
    return Substring(token.utf8[..<second])
}

/// A value with numbers in the form serialisation gives them: `serialized()` writes an integral double
/// below 9e15 as an integer, which parses back as `.int`, so both forms compare equal here.
func normalized(_ value: JSONValue) -> JSONValue {
    switch value {
    case .double(let number) where number == number.rounded() && abs(number) < 9.0e15:
        return .int(Int64(number))
    case .array(let values):
        return .array(values.map(normalized))
    case .object(let members):
        return .object(members.mapValues(normalized))
    default:
        return value
    }
}

/// Reads a fuzz input front to back: structured choices first, the rest as data. Past the end every read
/// gives zero, so any input is usable.
struct FuzzReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func uint16() -> Int { Int(byte()) << 8 | Int(byte()) }

    /// Whatever has not been read yet.
    mutating func rest() -> [UInt8] {
        guard position < bytes.count else { return [] }
        defer { position = bytes.count }
        return Array(bytes[position...])
    }
}

/// Seed files for a target's corpus: a name and the bytes.
typealias Seed = (name: String, bytes: [UInt8])

/// The seed-writing mode: with `TB_FUZZ_WRITE_CORPUS=<dir>` set, a target writes its seeds there and exits
/// before fuzzing starts (`scripts/fuzz --make-corpus` regenerates `Fuzz/corpus/` this way).
func writeCorpusIfAsked(_ seeds: () -> [Seed]) {
    guard let directory = getenv("TB_FUZZ_WRITE_CORPUS").map({ String(cString: $0) }) else { return }
    for seed in seeds() {
        let path = directory + "/" + seed.name
        guard let file = fopen(path, "wb") else { fatalError("cannot write \(path)") }
        _ = seed.bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
    }
    exit(0)
}
