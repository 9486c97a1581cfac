import Hummingbird
import TenantRegistry

extension Request {
    /// A query parameter that must be a whole number in `range`; 422 otherwise.
    func integer(_ name: String, default value: Int, in range: ClosedRange<Int>) throws(APIError) -> Int {
        guard let text = uri.queryParameters[Substring(name)] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw .invalid(
                detail: "query parameter \(name) is out of range",
                [FieldError(name, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")])
        }
        return number
    }
}
