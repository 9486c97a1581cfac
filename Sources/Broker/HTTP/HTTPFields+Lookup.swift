import HTTPTypes

extension HTTPFields {
    /// The same answer as `self[name]` (the values of a repeated field joined with ", "), without that
    /// subscript's generic join for the usual case of one field: on the hot path (forward-auth, caller
    /// authentication) the join cost more than the lookup.
    func value(of name: HTTPField.Name) -> String? {
        var found: String?
        for field in self where field.name == name {
            // A repeated field (two Authorization headers, say) keeps the subscript's joined value, which no
            // parser here accepts as one credential.
            if found != nil { return self[name] }
            found = field.value
        }
        return found
    }
}
