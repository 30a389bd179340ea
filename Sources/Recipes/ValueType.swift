import Foundation

/// Why a value was refused; `ValueType` adds where it was written (and, for a value of the wrong
/// type, the key and what was written instead).
struct InvalidValue: Error {
    let message: String
    /// Set when the value is simply not of the expected type: "expected X for 'key', got 'Y'".
    let expected: String?

    init(_ message: String) {
        self.message = message
        expected = nil
    }

    init(expected: String, got text: String) {
        message = "expected \(expected), got '\(text)'"
        self.expected = expected
    }
}

/// How one kind of value is written, documented and read. The reference's type column, the
/// "expected …" of error messages and the parser live together so they cannot drift apart.
struct ValueType<Value> {
    /// The type column of the reference (Markdown).
    let doc: String
    /// For messages: "a string", "a size".
    let expected: String
    /// For messages about lists of these: "strings".
    let plural: String
    private let read: (YAMLValue) throws -> Value

    init(doc: String, expected: String, plural: String, read: @escaping (YAMLValue) throws -> Value) {
        self.doc = doc
        self.expected = expected
        self.plural = plural
        self.read = read
    }

    func parse(_ value: YAMLValue) throws -> Value {
        do {
            return try read(value)
        } catch let invalid as InvalidValue {
            throw invalid.expected.map { value.typeError(expected: $0) } ?? value.error(invalid.message)
        }
    }

    /// A value written as one scalar; `convert` throws `InvalidValue` for text it refuses.
    static func scalar(doc: String, expected: String, plural: String,
                       _ convert: @escaping (String) throws -> Value) -> ValueType {
        ValueType(doc: doc, expected: expected, plural: plural) { value in
            try convert(try value.scalarText(expected: expected))
        }
    }

    /// The same type with one more check, which may look at the file the value came from.
    func checked(_ check: @escaping (Value, YAMLValue) throws -> Void) -> ValueType {
        ValueType(doc: doc, expected: expected, plural: plural) { value in
            let parsed = try self.parse(value)
            try check(parsed, value)
            return parsed
        }
    }

    /// A YAML list of these, each remembered with its location.
    static func list<Element>(of element: ValueType<Element>, nonEmpty: Bool = false) -> ValueType
    where Value == [Located<Element>] {
        let expected = "a list of \(element.plural)"
        return ValueType(doc: "list of \(element.plural)", expected: expected, plural: "lists of \(element.plural)") { value in
            let items = try value.items(expected: expected)
            if nonEmpty && items.isEmpty {
                throw InvalidValue("'\(value.key)' must list at least one entry")
            }
            return try items.map { Located(try element.parse($0), at: $0.location) }
        }
    }

    /// Refuses a list that names the same thing twice, at the second mention.
    func unique<Element: Hashable>() -> ValueType where Value == [Located<Element>] {
        checked { entries, value in
            try rejectDuplicates(entries, by: \.value, at: \.location) { "'\($0)' is listed twice in '\(value.key)'" }
        }
    }

    /// The values of a located list, for fields that need no locations.
    func withoutLocations<Element>() -> ValueType<[Element]> where Value == [Located<Element>] {
        ValueType<[Element]>(doc: doc, expected: expected, plural: plural) { try self.parse($0).map(\.value) }
    }

    /// A nested mapping decoded by its own key table.
    static func mapping(_ model: Value.Type, doc: String) -> ValueType where Value: ConfigModel {
        ValueType(doc: doc, expected: "a mapping", plural: "mappings") { try Value.keys.decode($0) }
    }

    static func choice(_ type: Value.Type) -> ValueType where Value: RawRepresentable & CaseIterable, Value.RawValue == String {
        let names = Value.allCases.map(\.rawValue)
        let expected = "one of \(names.joined(separator: ", "))"
        return scalar(doc: names.map { "`\($0)`" }.joined(separator: ", "), expected: expected,
                      plural: "values from \(names.joined(separator: ", "))") { text in
            guard let choice = Value(rawValue: text) else { throw InvalidValue(expected: expected, got: text) }
            return choice
        }
    }
}

/// Refuses the second of two entries with the same key, pointing at it and at the first.
func rejectDuplicates<Item, Key: Hashable>(_ items: [Item], by key: (Item) -> Key,
                                           at location: (Item) -> SourceLocation,
                                           message: (Key) -> String) throws {
    var first: [Key: SourceLocation] = [:]
    for item in items {
        if let earlier = first[key(item)] {
            throw ConfigError(location: location(item), message: "\(message(key(item))) (first at line \(earlier.line))")
        }
        first[key(item)] = location(item)
    }
}

// MARK: - Scalars

extension ValueType where Value == String {
    static var string: ValueType {
        scalar(doc: "string", expected: "a string", plural: "strings") { $0 }
    }

    /// Text that must fit on one line (it ends up in command lines and `KEY=value` files).
    static var line: ValueType {
        scalar(doc: "string (one line)", expected: "a string", plural: "strings") { text in
            guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw InvalidValue("'\(text)' must be one line without control characters")
            }
            return text
        }
    }

    /// A token without spaces: versions, compressor names, partition type aliases.
    static var word: ValueType {
        scalar(doc: "string (no spaces)", expected: "a string", plural: "strings") { text in
            guard !text.isEmpty, !text.unicodeScalars.contains(where: { $0.properties.isWhitespace
                || $0.properties.generalCategory == .control }) else {
                throw InvalidValue("'\(text)' must be a non-empty string without spaces")
            }
            return text
        }
    }

    static var name: ValueType {
        pattern(#/[a-z0-9][a-z0-9.+-]*/#, doc: "name", expected: "a name", plural: "names",
                rule: "lowercase letters, digits and . + -, starting with a letter or digit")
    }

    static var kernelModule: ValueType {
        pattern(#/[a-z0-9][a-z0-9_-]*/#, doc: "kernel module name", expected: "a kernel module name",
                plural: "kernel module names", rule: "lowercase letters, digits, _ and -, as modprobe takes them")
    }

    /// A name that must equal its file's name, as `recipes/<name>.yaml` promises.
    static var fileName: ValueType {
        name.checked { name, value in
            guard name == value.file.baseName else {
                throw InvalidValue("name '\(name)' differs from the file name '\(value.file.baseName)'; "
                                   + "rename the file or change '\(value.key)'")
            }
        }
    }

    /// A recipe's name: its file's name, and not the libraries' folder `recipes/lib/`.
    static var recipeName: ValueType {
        fileName.checked { name, value in
            guard name != Recipe.libraryFolderName else {
                throw InvalidValue("'\(name)' cannot name a recipe: recipes/\(name)/ is the folder of the libraries "
                                   + "that recipes list in 'libraries'; rename \(value.file.displayPath)")
            }
        }
    }

    /// A folder of `recipes/lib/` (sources several recipes build), which must exist there.
    static var recipeLibrary: ValueType {
        pattern(#/[a-z0-9][a-z0-9.+-]*/#, doc: "name of a folder in `recipes/lib/`", expected: "a library name",
                plural: "library names", rule: "lowercase letters, digits and . + -, the name of a folder in recipes/lib/")
            .checked { name, value in
                let folder = Recipe.libraryFolder(of: value.file.companionDirectory)
                guard try ContainedPath.resolve(name, in: folder, folderName: "recipes/lib/").isDirectory == true else {
                    let known = RecipeRepository.names(in: folder, suffix: "")
                    throw InvalidValue("no library '\(name)' in recipes/lib/ (known: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
                }
            }
    }

    static var debianPackage: ValueType {
        scalar(doc: "Debian package name", expected: "a Debian package name", plural: "Debian package names") { text in
            if text.contains(where: { "=<>( ".contains($0) }) {
                throw InvalidValue("'\(text)' carries a version; list the bare package name, versions are pinned by the board's lock file")
            }
            guard (try? #/[a-z0-9][a-z0-9+.-]+/#.wholeMatch(in: text)) != nil else {
                throw InvalidValue("'\(text)' is not a Debian package name (lowercase letters, digits and + . -, at least two characters)")
            }
            return text
        }
    }

    static var unitName: ValueType {
        pattern(#/[A-Za-z0-9:_.\\@-]+\.(?:service|socket|timer|path|mount|target)/#, doc: "systemd unit name",
                expected: "a systemd unit name", plural: "systemd unit names",
                rule: "letters, digits and : _ . \\ @ -, ending in .service, .socket, .timer, .path, .mount or .target")
    }

    static var command: ValueType {
        pattern(#/[A-Za-z0-9._+-]+/#, doc: "command name", expected: "a command name", plural: "command names",
                rule: "a command looked up in PATH, without '/' or spaces")
    }

    static var imagePrefix: ValueType {
        pattern(#/[a-z][a-z0-9_]*/#, doc: "string", expected: "an image prefix", plural: "image prefixes",
                rule: "lowercase letters, digits and _, starting with a letter (it names files and KEY= lines)")
    }

    static var osID: ValueType {
        pattern(#/[a-z0-9._-]+/#, doc: "string", expected: "an os-release ID", plural: "os-release IDs",
                rule: "lowercase letters, digits and . _ - (os-release(5))")
    }

    /// Goes between double quotes in os-release, so nothing that a shell would expand.
    static var displayName: ValueType {
        line.checked { text, _ in
            guard !text.isEmpty, !text.contains(where: { "\"\\$`".contains($0) }) else {
                throw InvalidValue("'\(text)' must be a non-empty line without \" \\ $ or `")
            }
        }
    }

    static var gptLabel: ValueType {
        scalar(doc: "string, at most 36 characters", expected: "a partition label", plural: "partition labels") { text in
            // GPT stores names as 36 UTF-16 code units (UEFI spec 5.3.3).
            guard !text.isEmpty, text.utf16.count <= 36 else {
                throw InvalidValue("label '\(text)' must have 1 to 36 characters (GPT names are 36 UTF-16 units), it has \(text.utf16.count)")
            }
            return text
        }
    }

    static var guid: ValueType {
        scalar(doc: "GUID", expected: "a GUID", plural: "GUIDs") { text in
            guard (try? #/[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}/#.wholeMatch(in: text)) != nil else {
                throw InvalidValue("'\(text)' is not a GUID like 7130c94a-213a-4e5a-8e26-6cce9662f132")
            }
            guard text.contains(where: { $0 != "0" && $0 != "-" }) else {
                throw InvalidValue("the all-zero GUID marks an unused GPT entry; choose another or leave the key out")
            }
            return text
        }
    }

    /// An absolute path in the image, written the one way it can be written.
    static var imagePath: ValueType {
        scalar(doc: "absolute path", expected: "an absolute path", plural: "absolute paths") { text in
            let components = text.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            guard text.hasPrefix("/"), !components.isEmpty,
                  !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
                throw InvalidValue("'\(text)' must be an absolute, normalized path of a file in the image "
                                   + "(like /usr/lib/foo.conf: no //, . or .. and no trailing /)")
            }
            return text
        }
    }

    /// A file or folder inside the recipe's own folder (`recipes/<name>/`), which must exist.
    static func recipeFile(allowDirectories: Bool) -> ValueType {
        let what = allowDirectories ? "file or folder" : "file"
        return ValueType(doc: "relative path of a \(what) in `recipes/<name>/`", expected: "a relative path",
                         plural: "relative paths") { value in
            let text = try value.scalarText(expected: "a relative path")
            let folder = value.file.companionDirectory
            let found = try ContainedPath.resolve(text, in: folder, folderName: "recipes/\(value.file.baseName)/")
            guard let isDirectory = found.isDirectory else {
                throw InvalidValue("'\(text)' does not exist in recipes/\(value.file.baseName)/")
            }
            if isDirectory && !allowDirectories {
                throw InvalidValue("'\(text)' is a folder; '\(value.key)' takes files (a source recipe can build from folders)")
            }
            return found.relative
        }
    }

    /// A relative path that stays inside `folderName`; whether it exists is checked by the caller.
    static func relativePath(in folderName: String) -> ValueType {
        scalar(doc: "relative path in `\(folderName)`", expected: "a relative path", plural: "relative paths") { text in
            _ = try ContainedPath.normalize(text, folderName: folderName)
            return text
        }
    }

    private static func pattern(_ regex: Regex<Substring>, doc: String, expected: String, plural: String,
                                rule: String) -> ValueType {
        scalar(doc: doc, expected: expected, plural: plural) { text in
            guard (try? regex.wholeMatch(in: text)) != nil else {
                throw InvalidValue("'\(text)' is not a valid \(expected.split(separator: " ").dropFirst().joined(separator: " ")): use \(rule)")
            }
            return text
        }
    }
}

extension ValueType where Value == Int {
    static func integer(_ range: ClosedRange<Int>) -> ValueType {
        let bounds = range.upperBound == Int.max ? "≥ \(range.lowerBound)" : "\(range.lowerBound)–\(range.upperBound)"
        let expected = range.upperBound == Int.max ? "an integer ≥ \(range.lowerBound)"
                                                   : "an integer from \(range.lowerBound) to \(range.upperBound)"
        return scalar(doc: "integer \(bounds)", expected: expected, plural: "integers") { text in
            guard text.allSatisfy(\.isASCIIDigit) || (text.first == "-" && text.dropFirst().allSatisfy(\.isASCIIDigit)),
                  let number = Int(text), range.contains(number) else {
                throw InvalidValue(expected: expected, got: text)
            }
            return number
        }
    }
}

extension ValueType where Value == UInt32 {
    /// Digits 0–7 as chmod takes them; quoted, because YAML would read 0644 as a number.
    static var octalMode: ValueType {
        scalar(doc: "octal string, e.g. `\"0644\"`", expected: "an octal mode", plural: "octal modes") { text in
            guard !text.isEmpty, text.allSatisfy({ ("0"..."7").contains($0) }) else {
                throw InvalidValue("mode '\(text)' must be octal digits like \"0644\"")
            }
            guard let mode = UInt32(text, radix: 8), mode <= 0o7777 else {
                throw InvalidValue("mode '\(text)' is larger than 07777")
            }
            return mode
        }
    }
}

extension ValueType where Value == Bool {
    static var bool: ValueType {
        scalar(doc: "boolean", expected: "true or false", plural: "booleans") { text in
            switch text.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: throw InvalidValue(expected: "true or false", got: text)
            }
        }
    }
}

extension ValueType where Value == UInt64 {
    static var size: ValueType {
        scalar(doc: "size", expected: "a size", plural: "sizes") { try ByteSize.parse($0) }
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
