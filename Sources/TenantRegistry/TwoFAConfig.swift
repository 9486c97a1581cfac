/// The tenant's second-factor policy. When disabled, every other field is nil.
public struct TwoFAConfig: Sendable, Equatable {
    public var isEnabled: Bool
    public var channelType: Channel?
    public var serviceIdentifier: String?
    public var otpExpiry: Int?
    public var retryLimit: Int?

    /// The single channel a tenant sends codes on.
    public enum Channel: String, Sendable {
        case sms = "SMS"
        case email = "Email"
    }

    public static let disabled = TwoFAConfig(isEnabled: false)

    public init(isEnabled: Bool, channelType: Channel? = nil, serviceIdentifier: String? = nil, otpExpiry: Int? = nil, retryLimit: Int? = nil) {
        self.isEnabled = isEnabled
        self.channelType = channelType
        self.serviceIdentifier = serviceIdentifier
        self.otpExpiry = otpExpiry
        self.retryLimit = retryLimit
    }
}
