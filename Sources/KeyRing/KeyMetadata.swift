import Foundation
import JOSE

/// One key's entry in `keyring.json`.
public struct KeyMetadata: Codable, Sendable, Equatable {
    public var kid: String
    public var alg: JWSAlgorithm
    public var created: Date
    public var state: KeyState
    public var file: String
    public var activated: Date?
    public var retired: Date?
}
