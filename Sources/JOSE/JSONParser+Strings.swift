/// Strings and numbers: escapes, UTF-8 validation, integer and floating-point literals.
extension JSONParser.Cursor {
    mutating func parseHex4() throws(JSONParser.Failure) -> UInt32 {
        guard index + 4 <= count else { throw fail() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = base[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw fail()
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// A String from raw bytes that must be valid UTF-8. ASCII (the common case) skips the
    /// generic validator; anything else goes through the standard library's strict validation.
    @inline(__always)
    static func makeString(_ bytes: UnsafeBufferPointer<UInt8>, ascii: Bool) -> String? {
        if ascii { return String(decoding: bytes, as: UTF8.self) }
        return String(validating: bytes, as: UTF8.self)
    }

    mutating func parseString() throws(JSONParser.Failure) -> String {
        index += 1
        // Fast path: no escapes before the closing quote (the common case for JWT claims).
        var scan = index
        var high: UInt8 = 0
        while scan < count {
            let byte = base[scan]
            if byte == UInt8(ascii: "\"") {
                let bytes = UnsafeBufferPointer(start: base + index, count: scan - index)
                guard let string = Self.makeString(bytes, ascii: high < 0x80) else { throw fail() }
                index = scan + 1
                return string
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
            high |= byte
            scan += 1
        }
        var out = [UInt8]()
        out.reserveCapacity(scan - index + 16)
        while true {
            guard index < count else { throw fail() }
            let byte = base[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let string = out.withUnsafeBufferPointer({ String(validating: $0, as: UTF8.self) }) else { throw fail() }
                return string
            case UInt8(ascii: "\\"):
                guard index < count else { throw fail() }
                let escape = base[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 2 <= count, base[index] == UInt8(ascii: "\\"),
                            base[index + 1] == UInt8(ascii: "u")
                        else { throw fail() }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail() }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw fail()
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw fail() }
                    out.append(contentsOf: UTF8.encode(unicode)!)
                default: throw fail()
                }
            case 0..<0x20: throw fail()
            default: out.append(byte)
            }
        }
    }

    @inline(__always)
    func isDigit(_ at: Int) -> Bool {
        at < count && base[at] &- UInt8(ascii: "0") < 10
    }

    mutating func parseNumber() throws(JSONParser.Failure) -> JSONValue {
        let start = index
        var isInteger = true
        let negative = index < count && base[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < count else { throw fail() }
        // Accumulated as a negative number so that Int64.min fits; nil once it overflows.
        var magnitude: Int64? = 0
        if base[index] == UInt8(ascii: "0") {
            index += 1
        } else if isDigit(index) {
            var value: Int64 = 0
            var overflow = false
            while isDigit(index) {
                if !overflow {
                    let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                    let (next, o2) = times10.subtractingReportingOverflow(Int64(base[index] &- UInt8(ascii: "0")))
                    overflow = o1 || o2
                    value = next
                }
                index += 1
            }
            magnitude = overflow ? nil : value
        } else {
            throw fail()
        }
        if index < count, base[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            let digits = index
            while isDigit(index) { index += 1 }
            if index == digits { throw fail() }
        }
        if index < count, base[index] == UInt8(ascii: "e") || base[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < count, base[index] == UInt8(ascii: "+") || base[index] == UInt8(ascii: "-") { index += 1 }
            let digits = index
            while isDigit(index) { index += 1 }
            if index == digits { throw fail() }
        }
        if isInteger, let negated = magnitude {
            if negative { return .int(negated) }
            if negated != .min { return .int(-negated) }
        }
        let text = String(decoding: UnsafeBufferPointer(start: base + start, count: index - start), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw fail() }
        return .double(value)
    }
}
