import HTTPTypes

/// What every answer gets after its handler, from the router's middleware and from the fast paths alike, so
/// that a fast answer is the router's byte for byte: the request id (the client's when it is short and plain,
/// else a new one) appended after the handler's headers and the server's `Content-Length`.
enum ResponseDecoration {
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!

    /// The request's id: the one the client sent in `X-Request-Id` when acceptable, else a new one.
    static func requestID(sent value: String?) -> String {
        acceptedRequestID(value) ?? RequestIDs.next()
    }

    /// Appends `X-Request-Id` (appended: no handler sets it, and assignment would search the fields first).
    static func appendRequestID(_ id: String, to headers: inout HTTPFields) {
        headers.append(HTTPField(name: requestIDHeader, value: id))
    }

    /// The fast paths' answer headers: the handler's, the length the server would add, then the request id.
    /// `requestID`: what the client sent in `X-Request-Id`, if anything.
    static func fastAnswerHeaders(_ headers: HTTPFields, contentLength: Int, requestID sent: String?) -> HTTPFields {
        var headers = headers
        headers.append(HTTPField(name: .contentLength, value: String(contentLength)))
        appendRequestID(requestID(sent: sent), to: &headers)
        return headers
    }

    /// A client-supplied id is reused only when it is short and plain, so it cannot inject into logs or headers.
    static func acceptedRequestID(_ value: String?) -> String? {
        guard let value, (1...128).contains(value.utf8.count),
            value.utf8.allSatisfy({ byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D
                    || byte == 0x5F || byte == 0x2E || byte == 0x3A
            })
        else { return nil }
        return value
    }
}
