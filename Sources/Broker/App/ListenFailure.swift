import Foundation
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// What an operator should read when the broker cannot listen: the address, the reason in words, and the setting
/// to change, instead of the socket call's own text.
public enum ListenFailure {
    /// The sentence for `error` thrown while binding `host`:`port`, or nil when it is not a listening failure.
    public static func explain(_ error: any Error, host: String, port: Int) -> String? {
        guard let io = error as? IOError else { return nil }
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        switch io.errnoCode {
        case EADDRINUSE:
            return "cannot listen on \(address): the address is already in use (another token-broker or another program listens there); "
                + "stop it, or choose another port with --port (TOKEN_BROKER_PORT, \"port\" in the config file)"
        case EACCES:
            return "cannot listen on \(address): permission denied (ports below 1024 need privileges); "
                + "choose a port from 1024 with --port (TOKEN_BROKER_PORT), or give the binary CAP_NET_BIND_SERVICE"
        case EADDRNOTAVAIL:
            return "cannot listen on \(address): \(host) is not an address of this machine; set --host (TOKEN_BROKER_HOST) to one of its addresses, "
                + "127.0.0.1 or 0.0.0.0"
        default:
            return nil
        }
    }
}
