/// Reads the subset of XML 1.0 that Omaha peers write: an optional declaration, comments, processing
/// instructions (skipped), elements, attributes, text, CDATA, the five predefined entities and
/// numeric character references.
///
/// It is strict where leniency is a risk and small on purpose: a `<!DOCTYPE` is refused outright,
/// so there are no DTDs and no custom entities (the defence against entity bombs), and the reader
/// keeps its own stack instead of recursing, so hostile nesting costs no call stack. Everything
/// else it refuses, it refuses with a line and column.
public enum XMLDocument {
    /// The root element of `bytes`. At most `limits.maxBytes + 1` bytes are taken from the sequence.
    public static func parse(_ bytes: some Sequence<UInt8>, limits: XMLLimits = .default) throws(XMLError) -> XMLElement {
        let taken = limits.maxBytes < Int.max ? max(0, limits.maxBytes) + 1 : Int.max
        var reader = XMLReader(input: XMLInput(bytes: Array(bytes.prefix(taken))), limits: limits)
        return try reader.readDocument()
    }

    public static func parse(_ text: String, limits: XMLLimits = .default) throws(XMLError) -> XMLElement {
        try parse(text.utf8, limits: limits)
    }
}

/// One pass over the input. `offset` only moves forward, and every loop advances it or throws, so
/// the work is linear in the (bounded) input.
struct XMLReader {
    let input: XMLInput
    let limits: XMLLimits
    private var offset = 0
    /// Elements opened and not yet closed, innermost last, with the offset of their `<`.
    private var open: [(element: XMLElement, start: Int)] = []
    private var root: XMLElement?
    private var elementCount = 0

    init(input: XMLInput, limits: XMLLimits) {
        self.input = input
        self.limits = limits
    }

    mutating func readDocument() throws(XMLError) -> XMLElement {
        guard input.count <= limits.maxBytes else {
            throw input.error(at: limits.maxBytes, "the document is larger than \(limits.maxBytes) bytes")
        }
        try input.validateCharacters()
        if input.hasPrefix("\u{FEFF}", at: 0) { offset = 3 }
        if input.hasPrefix("<?xml", at: offset), input.isWhitespace(at: offset + 5) || input.hasPrefix("?>", at: offset + 5) {
            try readDeclaration()
        }
        while offset < input.count {
            if byte == UInt8(ascii: "<") { try readMarkup() } else { try readText() }
        }
        if let innermost = open.last {
            throw input.error(at: input.count, "<\(innermost.element.name)> (\(position(innermost.start))) is not closed")
        }
        guard let root else { throw input.error(at: input.count, "the document has no root element") }
        return root
    }

    // MARK: Markup

    private mutating func readMarkup() throws(XMLError) {
        if input.hasPrefix("<!--", at: offset) {
            try skipComment()
        } else if input.hasPrefix("<![CDATA[", at: offset) {
            try readCDATA()
        } else if input.hasPrefix("<!DOCTYPE", at: offset) {
            throw input.error(at: offset, "DOCTYPE is not accepted: Omaha documents have no DTD and no custom entities")
        } else if input.hasPrefix("<!", at: offset) {
            throw input.error(at: offset, "markup declarations are not accepted")
        } else if input.hasPrefix("<?", at: offset) {
            try skipProcessingInstruction()
        } else if input.hasPrefix("</", at: offset) {
            try readEndTag()
        } else {
            try readStartTag()
        }
    }

    /// `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`: only UTF-8 is read, so any other
    /// declared encoding is refused rather than misread.
    private mutating func readDeclaration() throws(XMLError) {
        let start = offset
        offset += 5
        var pseudoAttributes: [XMLAttribute] = []
        while true {
            let separated = skipWhitespace()
            if input.hasPrefix("?>", at: offset) {
                offset += 2
                break
            }
            guard separated, offset < input.count else { throw input.error(at: offset, "malformed XML declaration") }
            let attributeStart = offset
            let attribute = try readAttribute()
            guard ["version", "encoding", "standalone"].contains(attribute.name),
                  !pseudoAttributes.contains(where: { $0.name == attribute.name }) else {
                throw input.error(at: attributeStart, "unexpected \(attribute.name) in the XML declaration")
            }
            pseudoAttributes.append(attribute)
        }
        guard let version = pseudoAttributes.first, version.name == "version", version.value.hasPrefix("1.") else {
            throw input.error(at: start, "the XML declaration must start with version=\"1.x\"")
        }
        if let encoding = pseudoAttributes.first(where: { $0.name == "encoding" }),
           !["utf-8", "utf8"].contains(encoding.value.lowercased()) {
            throw input.error(at: start, "encoding \"\(encoding.value)\" is not supported; send UTF-8")
        }
    }

    /// XML 1.0 §2.5: `--` may not occur inside a comment.
    private mutating func skipComment() throws(XMLError) {
        let start = offset
        guard let dashes = input.firstOffset(of: "--", from: offset + 4) else {
            throw input.error(at: start, "the comment is not closed with -->")
        }
        guard input.hasPrefix("-->", at: dashes) else { throw input.error(at: dashes, "'--' is not allowed inside a comment") }
        offset = dashes + 3
    }

    private mutating func skipProcessingInstruction() throws(XMLError) {
        let start = offset
        offset += 2
        let target = try readName("processing instruction target")
        guard target.lowercased() != "xml" else {
            throw input.error(at: start, "the XML declaration is allowed only at the very start of the document")
        }
        guard input.isWhitespace(at: offset) || input.hasPrefix("?>", at: offset) else {
            throw input.error(at: offset, "expected whitespace or ?> after <?\(target)")
        }
        guard let end = input.firstOffset(of: "?>", from: offset) else {
            throw input.error(at: start, "the processing instruction <?\(target) is not closed with ?>")
        }
        offset = end + 2
    }

    private mutating func readStartTag() throws(XMLError) {
        let start = offset
        offset += 1
        let name = try readName("element")
        if let root, open.isEmpty {
            throw input.error(at: start, "<\(name)> is a second root element after </\(root.name)>; a document has one")
        }
        elementCount += 1
        guard elementCount <= limits.maxElements else {
            throw input.error(at: start, "the document has more than \(limits.maxElements) elements")
        }
        let maxDepth = min(limits.maxDepth, XMLLimits.depthCeiling)
        guard open.count < maxDepth else {
            throw input.error(at: start, "elements are nested more than \(maxDepth) deep")
        }
        var element = XMLElement(name)
        while true {
            let separated = skipWhitespace()
            guard offset < input.count else { throw input.error(at: start, "the tag <\(name) is not closed with >") }
            if byte == UInt8(ascii: ">") {
                offset += 1
                open.append((element, start))
                return
            }
            if input.hasPrefix("/>", at: offset) {
                offset += 2
                close(element)
                return
            }
            guard separated else { throw input.error(at: offset, "expected whitespace, > or /> in <\(name)>") }
            let attributeStart = offset
            let attribute = try readAttribute()
            guard element[attribute: attribute.name] == nil else {
                throw input.error(at: attributeStart, "attribute \(attribute.name) appears twice in <\(name)>")
            }
            guard element.attributes.count < limits.maxAttributesPerElement else {
                throw input.error(at: attributeStart, "<\(name)> has more than \(limits.maxAttributesPerElement) attributes")
            }
            element.setAttribute(attribute.name, to: attribute.value)
        }
    }

    private mutating func readEndTag() throws(XMLError) {
        let start = offset
        offset += 2
        let name = try readName("element")
        skipWhitespace()
        guard offset < input.count, byte == UInt8(ascii: ">") else {
            throw input.error(at: offset, "expected > to end </\(name)")
        }
        offset += 1
        guard let innermost = open.popLast() else { throw input.error(at: start, "</\(name)> closes no open element") }
        guard innermost.element.name == name else {
            throw input.error(at: start, "</\(name)> does not close <\(innermost.element.name)> (\(position(innermost.start)))")
        }
        close(innermost.element)
    }

    private mutating func close(_ element: XMLElement) {
        var element = element
        // Whitespace that indents child elements is layout, not content.
        if !element.children.isEmpty && element.text.utf8.allSatisfy(XMLInput.isWhitespace) { element.text = "" }
        if open.isEmpty {
            root = element
        } else {
            open[open.count - 1].element.children.append(element)
        }
    }

    // MARK: Names, attributes and references

    private mutating func readName(_ what: String) throws(XMLError) -> String {
        let start = offset
        guard let (first, length) = input.scalar(at: offset), XMLInput.isNameStart(first) else {
            throw input.error(at: offset, "expected \(what) name")
        }
        offset += length
        while let (scalar, length) = input.scalar(at: offset), XMLInput.isNameCharacter(scalar) {
            offset += length
            guard offset - start <= limits.maxNameLength else {
                throw input.error(at: start, "\(what) name is longer than \(limits.maxNameLength) bytes")
            }
        }
        return input.string(start..<offset)
    }

    private mutating func readAttribute() throws(XMLError) -> XMLAttribute {
        let name = try readName("attribute")
        skipWhitespace()
        guard offset < input.count, byte == UInt8(ascii: "=") else {
            throw input.error(at: offset, "expected = after attribute \(name)")
        }
        offset += 1
        skipWhitespace()
        guard offset < input.count, byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") else {
            throw input.error(at: offset, "the value of \(name) must be in \" or ' quotes")
        }
        let quote = byte
        let valueStart = offset
        offset += 1
        var value = ""
        var run = offset
        while true {
            guard offset < input.count else { throw input.error(at: valueStart, "the value of \(name) is not closed") }
            switch byte {
            case quote:
                value += input.text(run..<offset, inAttribute: true)
                offset += 1
                guard value.utf8.count <= limits.maxAttributeLength else {
                    throw input.error(at: valueStart, "the value of \(name) is longer than \(limits.maxAttributeLength) bytes")
                }
                return XMLAttribute(name: name, value: value)
            case UInt8(ascii: "<"):
                throw input.error(at: offset, "< is not allowed in the value of \(name); write &lt;")
            case UInt8(ascii: "&"):
                value += input.text(run..<offset, inAttribute: true)
                value += try readReference()
                run = offset
            default:
                offset += 1
            }
        }
    }

    /// `&lt;` `&gt;` `&amp;` `&quot;` `&apos;`, `&#N;` and `&#xN;` naming an XML character. Without a
    /// DTD no other entity exists, so any other name is an error, not an empty string.
    private mutating func readReference() throws(XMLError) -> String {
        let start = offset
        // The longest reference worth reading, `&#x0010FFFF;`, is 12 bytes; looking further for
        // the `;` would only let a stray `&` scan the rest of the document.
        var end = offset + 1
        while end < input.count, end - start < 12, input.bytes[end] != UInt8(ascii: ";") { end += 1 }
        guard end < input.count, input.bytes[end] == UInt8(ascii: ";"), end > start + 1 else {
            throw input.error(at: start, "& does not start a reference; write a literal & as &amp;")
        }
        let body = input.string((start + 1)..<end)
        offset = end + 1
        switch body {
        case "lt": return "<"
        case "gt": return ">"
        case "amp": return "&"
        case "quot": return "\""
        case "apos": return "'"
        default: break
        }
        guard body.hasPrefix("#") else {
            throw input.error(at: start, "unknown entity &\(body);: only &lt; &gt; &amp; &quot; &apos; and &#N; exist without a DTD")
        }
        let hexadecimal = body.hasPrefix("#x")
        let digits = body.dropFirst(hexadecimal ? 2 : 1)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ hexadecimal ? $0.isHexDigit : $0.isDecimalDigit }),
              let value = UInt32(digits, radix: hexadecimal ? 16 : 10), XMLInput.isCharacter(value),
              let scalar = Unicode.Scalar(value) else {
            throw input.error(at: start, "&\(body); is not a valid character reference")
        }
        return String(Character(scalar))
    }

    // MARK: Character data

    private mutating func readText() throws(XMLError) {
        guard !open.isEmpty else {
            // Outside the root only whitespace may stand (XML 1.0 §2.8 `Misc`); not even references.
            while offset < input.count, byte != UInt8(ascii: "<") {
                guard XMLInput.isWhitespace(byte) else {
                    throw input.error(at: offset, root.map { "text after </\($0.name)>" } ?? "text before the root element")
                }
                offset += 1
            }
            return
        }
        let start = offset
        var text = ""
        var run = offset
        while offset < input.count, byte != UInt8(ascii: "<") {
            if byte == UInt8(ascii: "&") {
                text += input.text(run..<offset)
                text += try readReference()
                run = offset
            } else if input.hasPrefix("]]>", at: offset) {
                throw input.error(at: offset, "]]> is not allowed in text")
            } else {
                offset += 1
            }
        }
        text += input.text(run..<offset)
        try append(text, at: start)
    }

    private mutating func readCDATA() throws(XMLError) {
        let start = offset
        guard !open.isEmpty else {
            throw input.error(at: start, root == nil ? "CDATA before the root element" : "CDATA after the root element")
        }
        guard let end = input.firstOffset(of: "]]>", from: offset + 9) else {
            throw input.error(at: start, "the CDATA section is not closed with ]]>")
        }
        let text = input.text((offset + 9)..<end)
        offset = end + 3
        try append(text, at: start)
    }

    /// Appends to the innermost open element in place: holding a copy of it would make every
    /// append copy the text so far.
    private mutating func append(_ text: String, at start: Int) throws(XMLError) {
        let innermost = open.count - 1
        guard open[innermost].element.text.utf8.count + text.utf8.count <= limits.maxTextLength else {
            throw input.error(at: start, "the text of <\(open[innermost].element.name)> is longer than \(limits.maxTextLength) bytes")
        }
        open[innermost].element.text += text
    }

    // MARK: Helpers

    private var byte: UInt8 { input.bytes[offset] }

    @discardableResult
    private mutating func skipWhitespace() -> Bool {
        let start = offset
        while input.isWhitespace(at: offset) { offset += 1 }
        return offset > start
    }

    private func position(_ offset: Int) -> String {
        let error = input.error(at: offset, "")
        return "opened at line \(error.line), column \(error.column)"
    }
}

private extension UInt8 {
    var isDecimalDigit: Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) }
    var isHexDigit: Bool {
        isDecimalDigit || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}
