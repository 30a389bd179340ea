/// Typed reading of documents and attributes for the request and response models. `path` names the element in
/// messages (`request/app[2]/event[1]`), since the tree keeps no source positions.
extension XMLElement {
    /// The root of an Omaha document, which must be called `name`; `kind` is the error otherwise.
    static func omahaRoot(of bytes: some Sequence<UInt8>, limits: XMLLimits, named name: String,
                          otherwise kind: OmahaError.Kind) throws(OmahaError) -> XMLElement {
        let root: XMLElement
        do throws(XMLError) { root = try XMLDocument.parse(bytes, limits: limits) } catch { throw OmahaError(error) }
        guard root.name == name else { throw OmahaError(kind, "the root element is <\(root.name)>, not an Omaha <\(name)>") }
        return root
    }

    /// `transform` of each child called `name`, with its path (`request/app[2]`) for messages.
    func mapChildren<Value>(_ name: String, at path: String,
                            _ transform: (XMLElement, String) throws(OmahaError) -> Value) throws(OmahaError) -> [Value] {
        var values: [Value] = []
        for (index, child) in children(name).enumerated() {
            values.append(try transform(child, "\(path)/\(name)[\(index + 1)]"))
        }
        return values
    }

    /// A decimal integer as update_engine prints it (`%d`: digits, optionally a leading `-`).
    func integer(_ attribute: String, at path: String) throws(OmahaError) -> Int? {
        guard let text = self[attribute: attribute] else { return nil }
        guard text.first != "+", let value = Int(text) else {
            throw OmahaError(.invalidContent, "\(path)@\(attribute) is \"\(text)\", not an integer")
        }
        return value
    }

    func requiredInteger(_ attribute: String, at path: String) throws(OmahaError) -> Int {
        guard let value = try integer(attribute, at: path) else {
            throw OmahaError(.invalidContent, "\(path) has no \(attribute)")
        }
        return value
    }

    func requiredText(_ attribute: String, at path: String) throws(OmahaError) -> String {
        guard let value = self[attribute: attribute], !value.isEmpty else {
            throw OmahaError(.invalidContent, "\(path) has no \(attribute)")
        }
        return value
    }

    /// Builds elements whose optional attributes are left out when nil.
    init(_ name: String, optional attributes: [(String, String?)], children: [XMLElement] = []) {
        self.init(name, children: children)
        for case let (attribute, value?) in attributes { setAttribute(attribute, to: value) }
    }
}
