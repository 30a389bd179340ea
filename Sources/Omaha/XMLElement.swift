/// One attribute as written: name and value with references already replaced.
public struct XMLAttribute: Sendable, Hashable {
    public let name: String
    public let value: String
}

/// An element of the Omaha subset of XML: a name, attributes in document order, child elements and
/// the character data directly inside it. Omaha never mixes text with elements, so text is kept as
/// one string; whitespace that only indents child elements is not part of it.
public struct XMLElement: Sendable, Hashable {
    public var name: String
    /// In insertion (document) order, which the writer keeps, so output is deterministic. Names are
    /// unique: `setAttribute` replaces a value in place.
    public private(set) var attributes: [XMLAttribute]
    public var children: [XMLElement]
    public var text: String

    /// `XMLElement("ping", ["status": "ok"])`. A name given twice keeps its first position and last value.
    public init(_ name: String, _ attributes: KeyValuePairs<String, String> = [:], children: [XMLElement] = [],
                text: String = "") {
        self.name = name
        self.attributes = []
        self.children = children
        self.text = text
        for (attribute, value) in attributes { setAttribute(attribute, to: value) }
    }

    public subscript(attribute name: String) -> String? {
        attributes.first { $0.name == name }?.value
    }

    public mutating func setAttribute(_ name: String, to value: String) {
        if let index = attributes.firstIndex(where: { $0.name == name }) {
            attributes[index] = XMLAttribute(name: name, value: value)
        } else {
            attributes.append(XMLAttribute(name: name, value: value))
        }
    }

    public mutating func removeAttribute(_ name: String) {
        attributes.removeAll { $0.name == name }
    }

    /// The first child called `name`: update_engine's XPath lookups take the first match.
    public func child(_ name: String) -> XMLElement? {
        children.first { $0.name == name }
    }

    public func children(_ name: String) -> [XMLElement] {
        children.filter { $0.name == name }
    }
}
