/// What a user-data blob is, decided as coreos-cloudinit decides it (spec §1.1).
public enum UserData: Sendable, Equatable {
    case empty
    case cloudConfig(String)
    case script([UInt8])
    case ignition
    case unrecognized

    public static let header = "#cloud-config"

    /// Gunzips first when the blob starts with gzip's magic bytes.
    public init(_ raw: [UInt8]) {
        let bytes = Gzip.isCompressed(raw) ? (Gzip.decompress(raw) ?? raw) : raw
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { self = .empty; return }
        let text = String(decoding: bytes, as: UTF8.self)
        let firstLine = text.prefix { $0 != "\n" && $0 != "\r\n" }
        if Self.trimmingTrailingWhitespace(firstLine) == Self.header {
            self = .cloudConfig(text)
        } else if bytes.starts(with: Array("#!".utf8)) {
            self = .script(bytes)
        } else if Self.isIgnition(text) {
            self = .ignition
        } else {
            self = .unrecognized
        }
    }

    /// JSON with `ignitionVersion` or `ignition.version` (JSON is YAML, so libyaml reads it).
    static func isIgnition(_ text: String) -> Bool {
        guard text.drop(while: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).first == "{",
              case .mapping(let pairs, _)? = try? YAMLLoader.load(text) else { return false }
        return pairs.contains { pair in
            switch pair.key.scalar?.text {
            case "ignitionVersion": return true
            case "ignition":
                if case .mapping(let inner, _) = pair.value { return inner.contains { $0.key.scalar?.text == "version" } }
                return false
            default: return false
            }
        }
    }

    static func trimmingTrailingWhitespace(_ text: Substring) -> Substring {
        var end = text.endIndex
        while end > text.startIndex, let last = text[..<end].last, last == " " || last == "\t" || last == "\r" || last == "\r\n" {
            end = text.index(before: end)
        }
        return text[..<end]
    }
}

/// `$private_ipv4` and friends, replaced over the whole user-data text before it is parsed (spec §2).
/// `\$private_ipv4` stays literal; a token without a value becomes empty, as upstream.
public struct Substitutions: Sendable {
    public static let tokens = ["public_ipv4", "private_ipv4", "public_ipv6", "private_ipv6"]
    public var values: [String: String]

    public init(values: [String: String]) { self.values = values }

    public func apply(to text: String) -> String {
        var result = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character == "\\", text[text.index(after: index)...].hasPrefix("$"),
               let token = Self.token(at: text.index(after: index), in: text) {
                result += "$" + token
                index = text.index(index, offsetBy: token.count + 2)
            } else if character == "$", let token = Self.token(at: index, in: text) {
                result += values[token] ?? ""
                index = text.index(index, offsetBy: token.count + 1)
            } else {
                result.append(character)
                index = text.index(after: index)
            }
        }
        return result
    }

    private static func token(at dollar: String.Index, in text: String) -> String? {
        let rest = text[text.index(after: dollar)...]
        return tokens.first { rest.hasPrefix($0) }
    }
}
