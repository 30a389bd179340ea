import Foundation
import Yams

/// A configuration file as read from disk: where it is, how messages name it, and its text.
struct ConfigFile {
    let url: URL
    /// Relative to the repository root, e.g. `recipes/etcd.yaml`.
    let displayPath: String
    let text: String

    /// The name the file gives its content: `recipes/etcd.yaml` → `etcd`.
    var baseName: String { url.deletingPathExtension().lastPathComponent }

    /// The folder next to the file that holds what it refers to: `recipes/etcd.yaml` → `recipes/etcd/`.
    var companionDirectory: URL { url.deletingPathExtension() }

    static func read(_ url: URL, displayPath: String) throws -> ConfigFile {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ConfigError(location: nil, message: "cannot read \(displayPath)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(location: SourceLocation(file: displayPath, line: 1, column: 1),
                              message: "the file is not UTF-8 text")
        }
        return ConfigFile(url: url, displayPath: displayPath, text: text)
    }

    /// The document's root. An empty file is an empty mapping, so it reports the keys it lacks.
    func root() throws -> YAMLValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw syntaxError(error)
        }
        let start = SourceLocation(file: displayPath, line: 1, column: 1)
        return YAMLValue(node: node ?? Node([(Node, Node)]()), key: "", file: self,
                         location: node.map(location(of:)) ?? start)
    }

    func location(of node: Node) -> SourceLocation {
        SourceLocation(file: displayPath, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    private func syntaxError(_ error: YamlError) -> ConfigError {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: displayPath, line: mark.line, column: mark.column) }
        func explained(_ problem: String, _ context: YamlError.Context?) -> String {
            guard let context else { return "YAML syntax error: \(problem)" }
            return "YAML syntax error: \(problem) (\(context.text) at line \(context.mark.line))"
        }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            return ConfigError(location: at(mark), message: explained(problem, context))
        case let .reader(problem, offset, _, _):
            let prefix = text.utf8.prefix(offset ?? 0)
            let line = prefix.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            return ConfigError(location: SourceLocation(file: displayPath, line: line.count,
                                                        column: (line.last?.count ?? 0) + 1),
                               message: "YAML syntax error: \(problem)")
        default:
            return ConfigError(location: SourceLocation(file: displayPath, line: 1, column: 1), message: "YAML syntax error: \(error)")
        }
    }
}

/// One node of a configuration file, with the key it is the value of (for messages) and where it
/// was written. Every typed read goes through here, so every error carries a location.
struct YAMLValue {
    let node: Node
    /// The key this is the value of (or an entry of), e.g. `depends`.
    let key: String
    let file: ConfigFile
    let location: SourceLocation

    func error(_ message: String) -> ConfigError { ConfigError(location: location, message: message) }

    func typeError(expected: String) -> ConfigError {
        error("expected \(expected)\(key.isEmpty ? "" : " for '\(key)'"), got \(summary)")
    }

    /// What the user wrote, in a few words.
    var summary: String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let scalar):
            if isNull { return "nothing" }
            return "'\(scalar.string)'"
        }
    }

    /// `key:` with nothing after it, `~` or `null` (unquoted).
    var isNull: Bool { node.tag.description == Tag.Name.null.rawValue }

    /// The text of a scalar; types that are written as scalars parse it themselves.
    func scalarText(expected: String) throws -> String {
        guard case .scalar(let scalar) = node, !isNull else {
            throw typeError(expected: expected)
        }
        return scalar.string
    }

    func items(expected: String) throws -> [YAMLValue] {
        guard case .sequence(let sequence) = node else { throw typeError(expected: expected) }
        return sequence.map { child($0, key: key) }
    }

    /// The key/value pairs of a mapping, in the order written; keys must be plain strings.
    func pairs(expected: String) throws -> [(key: Located<String>, value: YAMLValue)] {
        guard case .mapping(let mapping) = node else { throw typeError(expected: expected) }
        return try mapping.map { pair in
            let keyValue = child(pair.key, key: key)
            guard case .scalar(let scalar) = pair.key else {
                throw keyValue.error("expected a key name in \(expected), got \(keyValue.summary)")
            }
            return (Located(scalar.string, at: keyValue.location), child(pair.value, key: scalar.string))
        }
    }

    /// A default written as YAML text, decoded as if it stood where the mapping is.
    func substitute(yaml: String, key: String) -> YAMLValue {
        // The defaults are literals in this module's key tables; a test decodes every one.
        let node = (try? Yams.compose(yaml: yaml)).flatMap { $0 } ?? Node("")
        return YAMLValue(node: node, key: key, file: file, location: location)
    }

    private func child(_ node: Node, key: String) -> YAMLValue {
        YAMLValue(node: node, key: key, file: file, location: file.location(of: node))
    }
}
