import CYAML

/// One node of a YAML document as written, with the 1-based line it starts on. Scalars keep their
/// text: coreos-cloudinit reads string fields from the text (`off` stays "off", `0644` stays "0644"),
/// and the YAML 1.1 type of a plain scalar matters only where a field wants a bool, int or float.
public indirect enum YAMLNode: Sendable, Equatable {
    case scalar(YAMLScalar)
    case mapping([(key: YAMLNode, value: YAMLNode)], line: Int)
    case sequence([YAMLNode], line: Int)

    public var line: Int {
        switch self {
        case .scalar(let scalar): scalar.line
        case .mapping(_, let line), .sequence(_, let line): line
        }
    }

    public var scalar: YAMLScalar? { if case .scalar(let s) = self { s } else { nil } }

    public static func == (a: YAMLNode, b: YAMLNode) -> Bool {
        switch (a, b) {
        case let (.scalar(x), .scalar(y)): x == y
        case let (.sequence(x, l1), .sequence(y, l2)): x == y && l1 == l2
        case let (.mapping(x, l1), .mapping(y, l2)):
            l1 == l2 && x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }
}

public struct YAMLScalar: Sendable, Equatable {
    public let text: String
    /// Quoted and block scalars are always strings; only plain ones are resolved (YAML 1.1).
    public let isPlain: Bool
    /// An explicit tag such as `!!binary`, in its short form.
    public let tag: String?
    public let line: Int

    public enum Kind: Sendable, Equatable { case null, bool(Bool), int(Int), float(Double), string, binary }

    /// The type YAML 1.1 (go-yaml v1, which coreos-cloudinit used) gives the scalar.
    public var kind: Kind {
        if tag == "!!binary" { return .binary }
        if tag == "!!str" || !isPlain { return .string }
        return YAML11.resolve(text)
    }
}

/// YAML 1.1's implicit typing of plain scalars, as go-yaml v1 applies it.
enum YAML11 {
    static func resolve(_ text: String) -> YAMLScalar.Kind {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE": return .bool(true)
        case "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
        }
        if let value = integer(text) { return .int(value) }
        if let value = float(text) { return .float(value) }
        return .string
    }

    /// Decimal, `0` octal, `0x` hex and `0b` binary, with an optional sign and `_` separators.
    static func integer(_ text: String) -> Int? {
        var body = Substring(text.replacingAll("_", with: ""))
        var negative = false
        if let sign = body.first, sign == "-" || sign == "+" { negative = sign == "-"; body = body.dropFirst() }
        guard !body.isEmpty else { return nil }
        let magnitude: Int?
        if body.hasPrefix("0x") { magnitude = Int(body.dropFirst(2), radix: 16) }
        else if body.hasPrefix("0b") { magnitude = Int(body.dropFirst(2), radix: 2) }
        else if body.count > 1, body.hasPrefix("0") { magnitude = Int(body.dropFirst(), radix: 8) }
        else { magnitude = body.allSatisfy(\.isASCIIDigit) ? Int(body) : nil }
        return magnitude.map { negative ? -$0 : $0 }
    }

    /// `1.5`, `-.5`, `6.8523015e+5`: digits with a point, optionally an exponent.
    static func float(_ text: String) -> Double? {
        let body = text.replacingAll("_", with: "")
        guard body.contains("."), body.allSatisfy({ $0.isASCIIDigit || "+-.eE".contains($0) }),
              body.contains(where: \.isASCIIDigit) else { return nil }
        return Double(body)
    }
}

/// A YAML syntax error with the line libyaml reports.
public struct YAMLSyntaxError: Error, Sendable, Equatable {
    public let line: Int
    public let message: String
}

public enum YAMLLoader {
    /// Loads the first document of `text`. An empty document is nil.
    public static func load(_ text: String) throws(YAMLSyntaxError) -> YAMLNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw YAMLSyntaxError(line: 1, message: "out of memory") }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        var document = yaml_document_t()
        let loaded = bytes.withUnsafeBufferPointer { buffer -> Bool in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            return yaml_parser_load(&parser, &document) == 1
        }
        guard loaded else {
            let problem = parser.problem.map { String(cString: $0) } ?? "cannot parse the document"
            var message = problem
            if let context = parser.context.map({ String(cString: $0) }) { message = "\(problem) (\(context))" }
            throw YAMLSyntaxError(line: Int(parser.problem_mark.line) + 1, message: message)
        }
        defer { yaml_document_delete(&document) }
        guard let root = yaml_document_get_root_node(&document) else { return nil }
        return convert(root, in: &document, depth: 0)
    }

    private static func convert(_ node: UnsafeMutablePointer<yaml_node_t>, in document: inout yaml_document_t,
                                depth: Int) -> YAMLNode {
        let line = Int(node.pointee.start_mark.line) + 1
        // Aliases are shared nodes; a self-referencing document stops here instead of recursing forever.
        guard depth < 256 else { return .scalar(YAMLScalar(text: "", isPlain: true, tag: nil, line: line)) }
        switch node.pointee.type {
        case YAML_SCALAR_NODE:
            let scalar = node.pointee.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            return .scalar(YAMLScalar(text: text, isPlain: scalar.style == YAML_PLAIN_SCALAR_STYLE,
                                      tag: shortTag(node.pointee.tag), line: line))
        case YAML_SEQUENCE_NODE:
            var items: [YAMLNode] = []
            var item = node.pointee.data.sequence.items.start
            while let current = item, current != node.pointee.data.sequence.items.top {
                if let child = yaml_document_get_node(&document, current.pointee) {
                    items.append(convert(child, in: &document, depth: depth + 1))
                }
                item = current + 1
            }
            return .sequence(items, line: line)
        case YAML_MAPPING_NODE:
            var pairs: [(key: YAMLNode, value: YAMLNode)] = []
            var pair = node.pointee.data.mapping.pairs.start
            while let current = pair, current != node.pointee.data.mapping.pairs.top {
                if let key = yaml_document_get_node(&document, current.pointee.key),
                   let value = yaml_document_get_node(&document, current.pointee.value) {
                    pairs.append((convert(key, in: &document, depth: depth + 1),
                                  convert(value, in: &document, depth: depth + 1)))
                }
                pair = current + 1
            }
            return .mapping(pairs, line: line)
        default:
            return .scalar(YAMLScalar(text: "", isPlain: true, tag: nil, line: line))
        }
    }

    /// libyaml reports resolved tags (`tag:yaml.org,2002:binary`); the rules speak of `!!binary`.
    /// Its default tags for untagged nodes are dropped so plain scalars are resolved by YAML 1.1 rules.
    private static func shortTag(_ tag: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let tag else { return nil }
        let text = String(cString: tag)
        let prefix = "tag:yaml.org,2002:"
        guard text.hasPrefix(prefix) else { return text }
        let name = String(text.dropFirst(prefix.count))
        return ["str", "seq", "map"].contains(name) ? nil : "!!" + name
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension String {
    /// `replacing(_:with:)` without Foundation (the in-image agent links only the standard library).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty, contains(target) else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
