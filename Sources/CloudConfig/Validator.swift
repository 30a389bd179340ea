/// One finding about a cloud-config, as `coreos-cloudinit -validate` reports it.
public struct ValidationEntry: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable { case error, warning, info }
    public let kind: Kind
    public let line: Int
    public let message: String

    public init(_ kind: Kind, line: Int, _ message: String) {
        self.kind = kind
        self.line = line
        self.message = message
    }

    /// `line 2: error: test error`, upstream's text form.
    public var description: String { "line \(line): \(kind.rawValue): \(message)" }
}

public struct ValidationReport: Sendable, Equatable {
    /// In document order (by line; rule order within a line).
    public let entries: [ValidationEntry]
    public var hasErrors: Bool { entries.contains { $0.kind == .error } }
    public var errors: [ValidationEntry] { entries.filter { $0.kind == .error } }
}

/// coreos-cloudinit's validation rules (spec §4.1) with its messages and levels.
public enum Validator {
    public static func validate(_ raw: [UInt8]) -> ValidationReport {
        switch UserData(raw) {
        case .empty, .script, .ignition:
            return ValidationReport(entries: [])
        case .unrecognized:
            return ValidationReport(entries: [ValidationEntry(.error, line: 1, ##"must be "#cloud-config" or begin with "#!""##)])
        case .cloudConfig(let text):
            return validate(cloudConfig: text)
        }
    }

    public static func validate(cloudConfig text: String) -> ValidationReport {
        let root: YAMLNode
        do {
            guard let node = try YAMLLoader.load(text) else { return ValidationReport(entries: []) }
            root = node
        } catch {
            return ValidationReport(entries: [ValidationEntry(.error, line: error.line, error.message)])
        }
        guard case .mapping = root else {
            return ValidationReport(entries: [ValidationEntry(.error, line: root.line,
                                                              "a cloud-config must be a mapping of keys, not a \(describe(root))")])
        }
        var rules = Rules()
        rules.discoveryURL(root)
        rules.contentEncodings(root)
        rules.structure(root, as: .structure(Schema.document), name: "")
        rules.values(root)
        rules.readOnlyPaths(root)
        rules.misplacedWriteFiles(root)
        let ordered = rules.entries.enumerated().sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }
        return ValidationReport(entries: ordered.map(\.element))
    }

    static func describe(_ node: YAMLNode) -> String {
        switch node {
        case .scalar: "scalar"
        case .sequence: "list"
        case .mapping: "mapping"
        }
    }
}

private struct Rules {
    var entries: [ValidationEntry] = []

    mutating func add(_ kind: ValidationEntry.Kind, _ line: Int, _ message: String) {
        entries.append(ValidationEntry(kind, line: line, message))
    }

    // Rule 1: etcd's discovery must be a request URI (etcd2's is not checked upstream).
    mutating func discoveryURL(_ root: YAMLNode) {
        guard let (key, value) = root.member("coreos")?.value.member("etcd")?.value.member("discovery"),
              let text = value.scalar?.text else { return }
        if !Self.isRequestURI(text) { add(.warning, key.line, "discovery URL is not valid") }
    }

    /// Go's url.ParseRequestURI: an absolute URL with a scheme, or an absolute path.
    static func isRequestURI(_ text: String) -> Bool {
        guard !text.isEmpty, !text.contains(where: { $0 == " " || $0.asciiValue.map { $0 < 0x20 } ?? false }) else {
            return false
        }
        if text.hasPrefix("/") { return true }
        guard let colon = text.firstIndex(of: ":") else { return false }
        let scheme = text[..<colon]
        guard let first = scheme.first, first.isLetter, first.isASCII,
              scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }) else { return false }
        return text.index(after: colon) < text.endIndex
    }

    // Rule 2: write_files content must decode with its encoding.
    mutating func contentEncodings(_ root: YAMLNode) {
        for file in root.member("write_files")?.value.items ?? [] {
            guard let encoding = file.member("encoding")?.value.scalar?.text,
                  let decoder = ContentEncoding(encoding), decoder != .plain,
                  let (key, value) = file.member("content"), let scalar = value.scalar else { continue }
            if decoder.decode(WriteFile.rawContent(scalar)) == nil {
                add(.error, key.line, "content cannot be decoded as \"\(encoding)\"")
            }
        }
    }

    // Rule 3: unknown and deprecated keys, and types, at every depth. A value of the wrong type is
    // reported at its key's line (`keyLine`), as upstream counts lines by key.
    mutating func structure(_ node: YAMLNode, as type: FieldType, name: String, keyLine: Int? = nil) {
        if let scalar = node.scalar, scalar.kind == .null { return }
        let line = keyLine ?? node.line
        switch type {
        case .structure(let fields):
            guard case .mapping(let pairs, _) = node else { return typeMismatch(line, name, type) }
            for (key, value) in pairs {
                let text = key.scalar?.text ?? ""
                guard let field = fields.field(named: text) else {
                    add(.warning, key.line, "unrecognized key \"\(text)\"")
                    continue
                }
                if let reason = field.deprecation { add(.warning, key.line, "deprecated key \"\(text)\" (\(reason))") }
                structure(value, as: field.type, name: text, keyLine: key.line)
            }
        case .structureList(let fields):
            guard case .sequence(let items, _) = node else { return typeMismatch(line, name, type) }
            for (index, item) in items.enumerated() { structure(item, as: .structure(fields), name: "\(name)[\(index)]") }
        case .stringList:
            guard case .sequence(let items, _) = node else { return typeMismatch(line, name, type) }
            for (index, item) in items.enumerated() { structure(item, as: .string, name: "\(name)[\(index)]") }
        case .string, .bool, .int, .float:
            guard let scalar = node.scalar else { return typeMismatch(line, name, type) }
            let compatible = switch (type, scalar.kind) {
            case (.string, _), (.bool, .bool), (.int, .int), (.float, .float), (.float, .int): true
            default: false
            }
            if !compatible { typeMismatch(line, name, type) }
        }
    }

    private mutating func typeMismatch(_ line: Int, _ name: String, _ type: FieldType) {
        add(.warning, line, "incorrect type for \"\(name)\" (want \(type.name))")
    }

    // Rule 4: values with a fixed vocabulary or pattern.
    mutating func values(_ root: YAMLNode) {
        for file in root.member("write_files")?.value.items ?? [] {
            check(file, "encoding") { ContentEncoding($0) != nil }
            check(file, "permissions", Permissions.isValid)
        }
        guard let coreos = root.member("coreos")?.value else { return }
        for unit in coreos.member("units")?.value.items ?? [] {
            check(unit, "command") { UnitCommand(rawValue: $0) != nil }
        }
        if let update = coreos.member("update")?.value {
            check(update, "reboot_strategy") { RebootStrategy(rawValue: $0) != nil }
        }
        if let locksmith = coreos.member("locksmith")?.value {
            check(locksmith, "window_start", RebootWindow.isValidStart)
            check(locksmith, "window_length", RebootWindow.isValidLength)
        }
        if let etcd2 = coreos.member("etcd2")?.value {
            check(etcd2, "proxy") { ["on", "off", "readonly"].contains($0) }
        }
    }

    private mutating func check(_ parent: YAMLNode, _ key: String, _ isValid: (String) -> Bool) {
        guard let (keyNode, value) = parent.member(key), let scalar = value.scalar, scalar.kind != .null else { return }
        if !isValid(scalar.text) { add(.error, keyNode.line, "invalid value \(scalar.text)") }
    }

    // Rule 5: /usr is read-only on the machine.
    mutating func readOnlyPaths(_ root: YAMLNode) {
        for file in root.member("write_files")?.value.items ?? [] {
            guard let (key, value) = file.member("path"), let path = value.scalar?.text else { continue }
            if SystemPath.parent(of: path).hasPrefix("/usr") {
                add(.error, key.line, "file cannot be written to a read-only filesystem")
            }
        }
    }

    // Rule 6: a common slip, nesting write_files under coreos.
    mutating func misplacedWriteFiles(_ root: YAMLNode) {
        if let (key, _) = root.member("coreos")?.value.member("write_files") {
            add(.info, key.line, "write_files doesn't belong under coreos")
        }
    }
}

extension YAMLNode {
    /// The pair whose key matches `name` in either spelling (hyphen or underscore).
    func member(_ name: String) -> (key: YAMLNode, value: YAMLNode)? {
        guard case .mapping(let pairs, _) = self else { return nil }
        return pairs.first { $0.key.scalar.map { Schema.normalized($0.text) } == name }
    }

    var items: [YAMLNode] { if case .sequence(let items, _) = self { items } else { [] } }
}
