/// A logo whose content was checked against its declared type.
public struct Logo: Sendable, Equatable {
    public var contentType: String
    public var data: [UInt8]
}
