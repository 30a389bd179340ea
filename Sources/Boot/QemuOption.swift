import Disk
import Foundation

/// One option of `coresdk qemu` and of the generated `<prefix>_production_qemu.sh`: its name, what
/// its value looks like, its help, and the setting it stores. The options themselves are
/// `QemuOption.all` (next to `QemuMachine`); their defaults are a new `QemuMachine`'s settings.
/// `QemuInvocation(parsing:)` parses with them in Swift and `QemuScript` renders the same parser
/// in bash, so both accept, normalize and reject the same values with the same words.
public struct QemuOption: Sendable {
    public enum Launcher: Sendable { case coresdk, script }

    /// What a value must look like, and so what each side checks.
    public enum Kind: Sendable {
        case flag
        /// Any file name, made absolute without resolving symlinks (as `realpath -ms`).
        case path
        case integer(minimum: Int, maximum: Int?, unit: String?)
        case choice([String])
        /// A value matching the pattern; `expected` completes "'VALUE' is not ...".
        case pattern(QemuValuePattern, _ expected: String)
        case link
    }

    public let name: String
    public let valueName: String
    public let kind: Kind
    public let repeatable: Bool
    public let launchers: Set<Launcher>
    public let help: String
    /// Stores `text` into the invocation when it is valid (as `kind` says); false when it is not.
    let store: @Sendable (inout QemuInvocation, String) -> Bool
    /// The stored value in the form the command line and the script use; nil when unset.
    let current: @Sendable (QemuInvocation) -> String?

    init(name: String, valueName: String = "", kind: Kind, repeatable: Bool = false,
         launchers: Set<Launcher> = [.coresdk, .script], help: String,
         store: @escaping @Sendable (inout QemuInvocation, String) -> Bool,
         current: @escaping @Sendable (QemuInvocation) -> String?) {
        self.name = name
        self.valueName = valueName
        self.kind = kind
        self.repeatable = repeatable
        self.launchers = launchers
        self.help = help
        self.store = store
        self.current = current
    }

    public var flag: String { "--\(name)" }
    var takesValue: Bool { if case .flag = kind { false } else { true } }
    /// A path's setting is no default to show: the image has none, and the script's is its neighbour.
    var showsDefault: Bool { if case .path = kind { false } else { takesValue } }
    var shellVariable: String { name.replacingOccurrences(of: "-", with: "_") }

    static func flag(_ name: String, launchers: Set<Launcher> = [.coresdk, .script], help: String,
                     _ property: WritableKeyPath<QemuInvocation, Bool> & Sendable) -> QemuOption {
        QemuOption(name: name, kind: .flag, launchers: launchers, help: help,
                   store: { invocation, _ in invocation[keyPath: property] = true; return true },
                   current: { $0[keyPath: property] ? "1" : nil })
    }

    static func integer(_ name: String, _ valueName: String, _ range: ClosedRange<Int>, help: String,
                        _ property: WritableKeyPath<QemuInvocation, Int> & Sendable) -> QemuOption {
        integer(name, valueName, .integer(minimum: range.lowerBound, maximum: range.upperBound, unit: nil), help, property)
    }

    static func integer(_ name: String, _ valueName: String, _ range: PartialRangeFrom<Int>, unit: String? = nil,
                        help: String, _ property: WritableKeyPath<QemuInvocation, Int> & Sendable) -> QemuOption {
        integer(name, valueName, .integer(minimum: range.lowerBound, maximum: nil, unit: unit), help, property)
    }

    private static func integer(_ name: String, _ valueName: String, _ kind: Kind, _ help: String,
                                _ property: WritableKeyPath<QemuInvocation, Int> & Sendable) -> QemuOption {
        QemuOption(name: name, valueName: valueName, kind: kind, help: help,
                   store: { invocation, text in
                       guard let number = kind.integer(text) else { return false }
                       invocation[keyPath: property] = number
                       return true
                   },
                   current: { String($0[keyPath: property]) })
    }

    static func path(_ name: String, _ valueName: String, launchers: Set<Launcher> = [.coresdk, .script], help: String,
                     _ property: WritableKeyPath<QemuInvocation, URL> & Sendable) -> QemuOption {
        QemuOption(name: name, valueName: valueName, kind: .path, launchers: launchers, help: help,
                   store: { invocation, text in invocation[keyPath: property] = Kind.file(text); return true },
                   current: { $0[keyPath: property].path })
    }

    static func path(_ name: String, _ valueName: String, help: String,
                     _ property: WritableKeyPath<QemuInvocation, URL?> & Sendable) -> QemuOption {
        QemuOption(name: name, valueName: valueName, kind: .path, help: help,
                   store: { invocation, text in invocation[keyPath: property] = Kind.file(text); return true },
                   current: { $0[keyPath: property]?.path })
    }

    static func choice<Value: RawRepresentable<String> & CaseIterable & Sendable>(
        _ name: String, help: String, _ property: WritableKeyPath<QemuInvocation, Value> & Sendable
    ) -> QemuOption {
        let names = Value.allCases.map(\.rawValue)
        return QemuOption(name: name, valueName: names.joined(separator: "|"), kind: .choice(names), help: help,
                          store: { invocation, text in
                              guard let value = Value(rawValue: text) else { return false }
                              invocation[keyPath: property] = value
                              return true
                          },
                          current: { $0[keyPath: property].rawValue })
    }

    /// `--name=value` is `--name` with `value` attached; `--=x` and single-dash words are not split.
    static func split(_ argument: String) -> (name: String, value: String?) {
        let body = argument.dropFirst(2)
        guard argument.hasPrefix("--"), body.first != "=", let equals = body.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }
}

extension QemuOption.Kind {
    /// Whole numbers as both sides read them: ASCII digits only, at most 18 of them (always an
    /// `Int`, and never past bash's 64-bit arithmetic), leading zeros ignored.
    func integer(_ text: String) -> Int? {
        guard case .integer(let minimum, let maximum, _) = self, QemuValuePattern.number.match(text) != nil,
              let number = Int(text), number >= minimum, number <= maximum ?? .max else { return nil }
        return number
    }

    static func bounds(_ range: ClosedRange<Int>) -> String { "\(range.lowerBound)-\(range.upperBound)" }

    /// What a valid value is, for the help; nil when any value is.
    var rule: String? {
        switch self {
        case .integer(let minimum, let maximum, let unit):
            maximum.map { Self.bounds(minimum...$0) } ?? "at least \(minimum)" + (unit.map { " \($0)" } ?? "")
        case .flag, .path, .choice, .pattern, .link: nil
        }
    }

    /// Why `value` is not valid for `flag`.
    func invalid(_ flag: String, _ value: String) -> String {
        switch self {
        case .integer: "\(flag) must be \(rule ?? ""), got \(value)"
        case .choice(let names): "\(flag) must be \(names.dropLast().joined(separator: ", ")) or \(names.last ?? ""), got \(value)"
        case .pattern(_, let expected): "\(flag): '\(value)' is not \(expected)"
        case .link: "\(flag): '\(value)' is not \(QemuMachine.Link.expected)"
        case .flag, .path: QemuUsageError.needsValue(flag)
        }
    }

    /// `text` made absolute against the working directory and lexically normalized, as
    /// `realpath -ms` does (symlinks are left for QEMU to follow).
    static func file(_ text: String) -> URL {
        let joined = text.hasPrefix("/") ? text : FileManager.default.currentDirectoryPath + "/" + text
        var components: [Substring] = []
        for component in joined.split(separator: "/") where component != "." {
            if component == ".." { _ = components.popLast() } else { components.append(component) }
        }
        return URL(fileURLWithPath: "/" + components.joined(separator: "/"))
    }
}

/// A POSIX extended regular expression a whole value must match: bash checks it as
/// `[[ $value =~ ^(PATTERN)$ ]]`, Swift with ICU, which reads the bracket expressions, intervals
/// and alternations used here the same way. Groups are numbered as bash numbers them: 0 and 1 the
/// whole value, the pattern's own from 2.
public struct QemuValuePattern: Sendable {
    public let source: String

    init(_ source: String) { self.source = source }

    static let digits = "[0-9]{1,18}"
    static let number = QemuValuePattern(digits)

    /// The groups when `text` matches (an empty string for a group that took no part), else nil.
    func match(_ text: String) -> [String]? {
        // \A and \z: ICU's $ would also match before a final newline, bash's does not.
        guard let expression = try? NSRegularExpression(pattern: "\\A(\(source))\\z"),
              let match = expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) else { return nil }
        return (0..<match.numberOfRanges).map { Range(match.range(at: $0), in: text).map { String(text[$0]) } ?? "" }
    }
}

/// A command line that `coresdk qemu` (or the script) cannot take; its message is the same on both.
public struct QemuUsageError: Error, Equatable, CustomStringConvertible {
    public let message: String

    public var description: String { message }

    static func unknownOption(_ argument: String) -> String { "unknown option \(argument) (see --help)" }
    static func unexpectedArgument(_ argument: String) -> String { "unexpected argument \(argument) (see --help)" }
    static func needsValue(_ flag: String) -> String { "\(flag) needs a value" }
    static func takesNoValue(_ flag: String) -> String { "\(flag) takes no value" }
    static let missingImage = "missing IMAGE (see --help)"
}

/// `coresdk qemu`'s command line, parsed: the machine and what to do with it.
public struct QemuInvocation: Sendable {
    public var machine: QemuMachine
    public var dryRun = false
    public var json = false
    /// `-h`/`--help` came before anything wrong; the rest was not read.
    public var showHelp = false

    public init(machine: QemuMachine) { self.machine = machine }

    /// Reads IMAGE, the options and, after `--`, QEMU's own arguments, exactly as the script reads
    /// its options (the script takes `--image` instead of IMAGE, and no `--json`).
    public init(parsing arguments: [String]) throws(QemuUsageError) {
        self.init(machine: QemuMachine(image: URL(fileURLWithPath: "/")))
        func failure(_ message: String) -> QemuUsageError { QemuUsageError(message: message) }
        var remaining = arguments[...]
        var image: String?
        while let argument = remaining.popFirst() {
            if argument == "--" {
                machine.extraArguments = Array(remaining)
                break
            }
            let (name, attached) = QemuOption.split(argument)
            if name == "-h" || name == "--help" {
                showHelp = true
                return
            }
            guard name.hasPrefix("-") else {
                guard image == nil else { throw failure(QemuUsageError.unexpectedArgument(argument)) }
                image = argument
                continue
            }
            guard let option = QemuOption.all.first(where: { $0.flag == name && $0.launchers.contains(.coresdk) }) else {
                throw failure(QemuUsageError.unknownOption(argument))
            }
            var value = attached ?? ""
            if !option.takesValue {
                guard attached == nil else { throw failure(QemuUsageError.takesNoValue(name)) }
            } else {
                if attached == nil, let next = remaining.first, !next.hasPrefix("-") {
                    value = next
                    remaining.removeFirst()
                }
                guard !value.isEmpty else { throw failure(QemuUsageError.needsValue(name)) }
            }
            guard option.store(&self, value) else { throw failure(option.kind.invalid(name, value)) }
        }
        guard let image else { throw failure(QemuUsageError.missingImage) }
        machine.image = QemuOption.Kind.file(image)
    }
}

extension QemuOption {
    /// `[--snapshot] [--ssh-port PORT] ... [-- QEMU ARGS]`, with IMAGE first for coresdk.
    public static func synopsis(for launcher: Launcher) -> String {
        let options = all.filter { $0.launchers.contains(launcher) }.map { option in
            "[" + ([option.flag] + (option.takesValue ? [option.valueName] : []) + (option.repeatable ? ["..."] : []))
                .joined(separator: " ") + "]"
        }
        return ((launcher == .coresdk ? ["IMAGE"] : []) + options + ["[-- QEMU ARGS]"]).joined(separator: " ")
    }

    /// One entry per option, with its rule and default (a new machine's setting).
    public static func optionsHelp(for launcher: Launcher) -> String {
        let defaults = QemuInvocation(machine: QemuMachine(image: URL(fileURLWithPath: "/")))
        let entries = all.filter { $0.launchers.contains(launcher) }.map { option in
            let facts = [option.kind.rule, option.showsDefault ? option.current(defaults).map { "default \($0)" } : nil]
                .compactMap { $0 }
            let help = option.help.hasSuffix(".") ? String(option.help.dropLast()) : option.help
            return (([option.flag] + (option.takesValue ? [option.valueName] : [])).joined(separator: " "),
                    help + (facts.isEmpty ? "" : " (\(facts.joined(separator: ", ")))") + ".")
        } + [("-h, --help", "Show this help."), ("-- QEMU ARGS", "Passed to QEMU unchanged.")]
        // 80 columns: ArgumentParser rewraps longer lines of `coresdk help qemu`.
        let column = 28, width = 80
        return entries.map { name, help in
            var lines = [""]
            for word in help.split(separator: " ") {
                if lines[lines.count - 1].count + word.count >= width - column { lines.append("") }
                lines[lines.count - 1] += (lines[lines.count - 1].isEmpty ? "" : " ") + word
            }
            let indent = String(repeating: " ", count: column)
            let label = "  \(name)"
            let first = label.count < column - 1 ? label.padding(toLength: column, withPad: " ", startingAt: 0) : label + "\n" + indent
            return first + lines.joined(separator: "\n" + indent)
        }.joined(separator: "\n")
    }
}

/// QEMU's command line as data (`QemuMachine.commandLine`), rendered here in Swift and by
/// `QemuScript` in bash.
public enum QemuCommandLine {
    /// What the machine works out rather than is told.
    public enum Fact: Sendable {
        /// kvm or tcg: `accelerator`, with auto resolved by `QemuMachine.kvmUsable()`.
        case accelerator, cpuModel
        /// raw or qcow2, from the image's first bytes (`DiskImage.Format`).
        case imageFormat
        /// The copy of the firmware's variable store this run writes to.
        case firmwareVariables
        case defaultLinkMAC
        /// Within `eachLink`: the link's position and parts.
        case linkIndex, linkRole, linkHost, linkPort
    }

    public indirect enum Piece: Sendable, ExpressibleByStringInterpolation {
        case text(String)
        case fact(Fact)
        /// The option's value; `otherwise` when it is unset.
        case option(QemuOption, otherwise: [Piece])
        /// `pieces` when the option is set, nothing otherwise.
        case whenSet(QemuOption, [Piece])

        public init(stringLiteral value: String) { self = .text(value) }
        static func value(_ option: QemuOption, otherwise: Piece...) -> Piece { .option(option, otherwise: otherwise) }
        static func ifSet(_ option: QemuOption, _ pieces: Piece...) -> Piece { .whenSet(option, pieces) }
    }

    /// One argument.
    public struct Word: Sendable, ExpressibleByStringInterpolation {
        let pieces: [Piece]

        init(_ pieces: Piece...) { self.pieces = pieces }
        public init(stringLiteral value: String) { pieces = [.text(value)] }
        static func fact(_ fact: Fact) -> Word { Word(.fact(fact)) }
        static func value(_ option: QemuOption) -> Word { Word(.value(option)) }
    }

    public enum Section: Sendable {
        case always([Word])
        /// Once, when there are links.
        case ifLinks([Word])
        /// Once per link.
        case eachLink([Word])
        case extraArguments
    }

    static func render(_ sections: [Section], for machine: QemuMachine, variables: URL) throws -> [String] {
        let invocation = QemuInvocation(machine: machine)
        let accelerator = machine.accelerator.resolved
        let format = try DiskImage.Format(of: machine.image).rawValue
        func value(_ fact: Fact, _ item: (offset: Int, element: QemuMachine.Link)?) -> String {
            switch fact {
            case .accelerator: accelerator.rawValue
            case .cpuModel: accelerator.cpuModel ?? ""
            case .imageFormat: format
            case .firmwareVariables: variables.path
            case .defaultLinkMAC: QemuMachine.defaultLinkMAC(sshPort: machine.sshPort)
            case .linkIndex: item.map { String($0.offset) } ?? ""
            case .linkRole: item?.element.role.rawValue ?? ""
            case .linkHost: item?.element.host ?? ""
            case .linkPort: item.map { String($0.element.port) } ?? ""
            }
        }
        func text(_ pieces: [Piece], _ item: (offset: Int, element: QemuMachine.Link)?) -> String {
            pieces.map { piece in
                switch piece {
                case .text(let text): text
                case .fact(let fact): value(fact, item)
                case .option(let option, let otherwise): option.current(invocation) ?? text(otherwise, item)
                case .whenSet(let option, let pieces): option.current(invocation) == nil ? "" : text(pieces, item)
                }
            }.joined()
        }
        return sections.flatMap { section -> [String] in
            switch section {
            case .always(let words): words.map { text($0.pieces, nil) }
            case .ifLinks(let words): machine.links.isEmpty ? [] : words.map { text($0.pieces, nil) }
            case .eachLink(let words): machine.links.enumerated().flatMap { item in words.map { text($0.pieces, item) } }
            case .extraArguments: machine.extraArguments
            }
        }
    }
}
