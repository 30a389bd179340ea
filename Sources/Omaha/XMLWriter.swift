/// Writes elements the way Nebraska and update_engine do: a UTF-8 declaration, two-space
/// indentation, and an explicit end tag for every element (`<ping status="ok"></ping>`, the form
/// in the spec's examples, payload doc §5.2 and §5.4).
extension XMLElement {
    /// The whole document: declaration, this element as the root, and a final newline.
    public func serialized() -> String {
        var output = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        write(to: &output, indentation: "")
        return output
    }

    /// `indentation` nil writes compactly, for mixed content where layout would change the text.
    /// Recursion is bounded by the tree's depth, which is the program's own making or, for a parsed
    /// tree, at most `XMLLimits.maxDepth`.
    private func write(to output: inout String, indentation: String?) {
        output += (indentation ?? "") + "<" + name
        for attribute in attributes {
            output += " " + attribute.name + "=\"" + Self.escaped(attribute.value, inAttribute: true) + "\""
        }
        output += ">" + Self.escaped(text, inAttribute: false)
        if let indentation, text.isEmpty, !children.isEmpty {
            output += "\n"
            for child in children { child.write(to: &output, indentation: indentation + "  ") }
            output += indentation
        } else {
            for child in children { child.write(to: &output, indentation: nil) }
        }
        output += "</" + name + ">" + (indentation == nil ? "" : "\n")
    }

    /// All five special characters are escaped everywhere. In attribute values tab and line ends
    /// become character references too, since a reader turns them into spaces (XML 1.0 §3.3.3); a
    /// carriage return in text likewise, since a reader turns it into a line feed (§2.11).
    static func escaped(_ text: String, inAttribute: Bool) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            case "\r": result += "&#13;"
            case "\n" where inAttribute: result += "&#10;"
            case "\t" where inAttribute: result += "&#9;"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
