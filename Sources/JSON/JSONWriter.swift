extension JSONValue {
    /// Compact JSON text: members in their order, no whitespace, `"`, `\` and control characters
    /// escaped, everything else (including `/` and non-ASCII) written as UTF-8. A non-finite
    /// `.number` has no JSON form and is written as `null`, as JavaScript's JSON.stringify does.
    public var serialized: String {
        var output = ""
        write(to: &output)
        return output
    }

    public var serializedBytes: [UInt8] { Array(serialized.utf8) }

    private func write(to output: inout String) {
        switch self {
        case .null: output += "null"
        case .bool(let value): output += value ? "true" : "false"
        case .integer(let value): output += String(value)
        // Swift prints the shortest form that reads back to the same Double ("0.1", "1e+20").
        case .number(let value): output += value.isFinite ? String(describing: value) : "null"
        case .string(let value): Self.writeString(value, to: &output)
        case .array(let elements):
            output += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { output += "," }
                element.write(to: &output)
            }
            output += "]"
        case .object(let members):
            output += "{"
            for (index, member) in members.enumerated() {
                if index > 0 { output += "," }
                Self.writeString(member.key, to: &output)
                output += ":"
                member.value.write(to: &output)
            }
            output += "}"
        }
    }

    private static func writeString(_ text: String, to output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            case "\u{00}"..."\u{1F}": output += "\\u" + hex(scalar.value, width: 4)
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
