/// Adds SSH keys to a cloud-config's top-level `ssh_authorized_keys` by editing its text, so the
/// user's comments and formatting survive. Keys already listed are not added twice.
public enum KeyMerging {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public static func adding(_ keys: [String], to text: String) throws(Failure) -> String {
        let root: YAMLNode?
        do { root = try YAMLLoader.load(text) } catch { throw Failure(description: "line \(error.line): \(error.message)") }
        let existing = root.map { CloudConfig($0).sshAuthorizedKeys } ?? []
        var seen = Set(existing.map(AuthorizedKeySets.trimmed))
        let new = keys.map(AuthorizedKeySets.trimmed).filter { !$0.isEmpty && seen.insert($0).inserted }
        guard !new.isEmpty else { return text }

        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        switch root?.member("ssh_authorized_keys") {
        case nil:
            lines += ["ssh_authorized_keys:"] + new.map { "  - \(quoted($0))" }
        case let (key, value)? where value.scalar?.kind == .null:
            // `ssh_authorized_keys:` with nothing after it.
            lines.insert(contentsOf: new.map { "  - \(quoted($0))" }, at: key.line)
        case let (key, .sequence(items, line))? where line > key.line || items.first.map({ $0.line > key.line }) == true:
            // A block list: new items go first, indented like the existing ones.
            let first = items.first?.line ?? line
            let indent = String(lines[first - 1].prefix { $0 == " " })
            lines.insert(contentsOf: new.map { "\(indent)- \(quoted($0))" }, at: first - 1)
        case let (key, .sequence(items, _))?:
            // A flow list on the key's line, `[a, b]`: written out again with the new keys.
            let all = (items.compactMap { $0.scalar?.text } + new).map(quoted).joined(separator: ", ")
            guard items.allSatisfy({ $0.line == key.line }), let open = lines[key.line - 1].firstIndex(of: "["),
                  let close = lines[key.line - 1].lastIndex(of: "]") else {
                throw Failure(description: "line \(key.line): ssh_authorized_keys spans several lines in flow style; write it as a block list")
            }
            lines[key.line - 1].replaceSubrange(open...close, with: "[\(all)]")
        case let (key, _)?:
            throw Failure(description: "line \(key.line): ssh_authorized_keys is not a list")
        }
        let merged = lines.joined(separator: "\n") + "\n"
        // The edit must mean exactly "the old keys plus the new ones".
        let check = (try? YAMLLoader.load(merged)).flatMap { $0 }.map { CloudConfig($0).sshAuthorizedKeys.map(AuthorizedKeySets.trimmed) }
        guard let check, Set(check) == Set(existing.map(AuthorizedKeySets.trimmed) + new) else {
            throw Failure(description: "could not add the keys to ssh_authorized_keys without changing the rest of the document")
        }
        return merged
    }

    /// A YAML double-quoted scalar.
    static func quoted(_ text: String) -> String {
        "\"" + text.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
    }
}
