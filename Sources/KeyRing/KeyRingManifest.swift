import Foundation

/// The whole `keyring.json` document.
struct KeyRingManifest: Codable {
    var version: Int = 1
    var keys: [KeyMetadata]

    static let fileName = "keyring.json"

    static func decode(_ data: Data, path: String) throws(KeyRingError) -> KeyRingManifest {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let manifest: KeyRingManifest
        do {
            manifest = try decoder.decode(KeyRingManifest.self, from: data)
        } catch {
            throw .metadata(path: path, reason: "not a valid key ring manifest (\(error))")
        }
        guard manifest.version == 1 else { throw .metadata(path: path, reason: "unsupported version \(manifest.version)") }
        var seen = Set<String>()
        for key in manifest.keys {
            guard seen.insert(key.kid).inserted else { throw .metadata(path: path, reason: "kid \(key.kid) is listed twice") }
            guard key.file == "\(key.kid).pem", !key.kid.contains("/"), !key.kid.hasPrefix(".") else {
                throw .metadata(path: path, reason: "file of \(key.kid) must be \(key.kid).pem")
            }
        }
        guard manifest.keys.filter({ $0.state == .active }).count <= 1 else {
            throw .metadata(path: path, reason: "more than one key is active")
        }
        return manifest
    }

    func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? encoder.encode(self)) ?? Data()
    }
}
