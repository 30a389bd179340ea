import Codecs

/// A cloud-config document decoded into what the agent applies. Values of the wrong type are left
/// out (the validator reports them); the text of string fields is kept as written.
public struct CloudConfig: Sendable, Equatable {
    public var hostname: String?
    public var sshAuthorizedKeys: [String] = []
    public var users: [User] = []
    public var writeFiles: [WriteFile] = []
    public var manageEtcHosts: String?
    public var etcd: EnvironmentSection
    public var etcd2: EnvironmentSection
    public var fleet: EnvironmentSection
    public var flannel: EnvironmentSection
    public var locksmith: EnvironmentSection
    public var oem: [String: String] = [:]
    public var update: [String: String] = [:]
    public var units: [Unit] = []

    public init(parsing text: String) throws(YAMLSyntaxError) {
        self.init(try YAMLLoader.load(text) ?? .mapping([], line: 1))
    }

    init(_ root: YAMLNode) {
        let coreos = root.member("coreos")?.value
        hostname = root.string("hostname")
        sshAuthorizedKeys = root.strings("ssh_authorized_keys")
        users = root.list("users").compactMap(User.init)
        writeFiles = root.list("write_files").map(WriteFile.init)
        manageEtcHosts = root.string("manage_etc_hosts")
        etcd = EnvironmentSection(coreos?.member("etcd")?.value, fields: Schema.etcd, naming: .etcd)
        etcd2 = EnvironmentSection(coreos?.member("etcd2")?.value, fields: Schema.etcd2, naming: .prefix("ETCD_"))
        fleet = EnvironmentSection(coreos?.member("fleet")?.value, fields: Schema.fleet, naming: .prefix("FLEET_"))
        flannel = EnvironmentSection(coreos?.member("flannel")?.value, fields: Schema.flannel, naming: .flannel)
        locksmith = EnvironmentSection(coreos?.member("locksmith")?.value, fields: Schema.locksmith, naming: .locksmith)
        for field in Schema.oem { oem[field.name] = coreos?.member("oem")?.value.string(field.name) }
        for field in Schema.update { update[field.name] = coreos?.member("update")?.value.string(field.name) }
        units = coreos?.list("units").compactMap(Unit.init) ?? []
    }
}

public struct User: Sendable, Equatable {
    public var name: String
    public var passwordHash: String?
    public var gecos: String?
    public var homeDirectory: String?
    public var noCreateHome = false
    public var primaryGroup: String?
    public var groups: [String] = []
    public var noUserGroup = false
    public var system = false
    public var noLogInit = false
    public var shell: String?
    public var sshAuthorizedKeys: [String] = []

    init?(_ node: YAMLNode) {
        guard let name = node.string("name"), !name.isEmpty else { return nil }
        self.name = name
        passwordHash = node.string("passwd")
        gecos = node.string("gecos")
        homeDirectory = node.string("homedir")
        noCreateHome = node.bool("no_create_home")
        primaryGroup = node.string("primary_group")
        groups = node.strings("groups")
        noUserGroup = node.bool("no_user_group")
        system = node.bool("system")
        noLogInit = node.bool("no_log_init")
        shell = node.string("shell")
        sshAuthorizedKeys = node.strings("ssh_authorized_keys")
    }
}

public struct WriteFile: Sendable, Equatable {
    public var path: String
    /// As written; `!!binary` content is already base64-decoded by YAML.
    public var rawContent: [UInt8]
    public var encoding: String
    public var permissions: String?
    public var owner: String?

    init(_ node: YAMLNode) {
        path = node.string("path") ?? ""
        rawContent = node.member("content")?.value.scalar.map(Self.rawContent) ?? []
        encoding = node.string("encoding") ?? ""
        permissions = node.string("permissions")
        owner = node.string("owner")
    }

    static func rawContent(_ scalar: YAMLScalar) -> [UInt8] {
        scalar.kind == .binary ? (Base64.decode(Array(scalar.text.utf8.filter { $0 != 0x20 })) ?? []) : Array(scalar.text.utf8)
    }

    /// The bytes to write, or nil when the content does not decode with the encoding.
    public var content: [UInt8]? { ContentEncoding(encoding)?.decode(rawContent) }

    /// The mode to give the file: octal as upstream, whether or not it has a leading 0; 0644 by default.
    public var mode: UInt32? {
        guard let permissions, !permissions.isEmpty else { return 0o644 }
        return Permissions.isValid(permissions) ? UInt32(permissions, radix: 8) : nil
    }
}

enum Permissions {
    /// `^0?[0-7]{3,4}$`
    static func isValid(_ text: String) -> Bool {
        let digits = text.count == 5 && text.hasPrefix("0") ? text.dropFirst() : Substring(text)
        return (3...4).contains(digits.count) && digits.allSatisfy { ("0"..."7").contains($0) }
    }
}

public enum UnitCommand: String, Sendable {
    case start, stop, restart, reload
    case tryRestart = "try-restart"
    case reloadOrRestart = "reload-or-restart"
    case reloadOrTryRestart = "reload-or-try-restart"
}

public enum RebootStrategy: String, Sendable { case etcdLock = "etcd-lock", reboot, off }

enum RebootWindow {
    /// An optional weekday (`sun`…`sat`, any case), then `H:M` with hours 0–23 and minutes 0–59.
    static func isValidStart(_ text: String) -> Bool {
        var clock = Substring(text)
        if let space = text.firstIndex(of: " ") {
            let day = text[..<space].lowercased()
            guard ["sun", "mon", "tue", "wed", "thu", "fri", "sat"].contains(day) else { return false }
            clock = text[text.index(after: space)...]
        }
        let parts = clock.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }),
              let hours = Int(parts[0]), let minutes = Int(parts[1]) else { return false }
        return hours <= 23 && minutes <= 59
    }

    /// A signed Go duration: groups of a number (with optional fraction) and a unit, e.g. `1h30m`.
    static func isValidLength(_ text: String) -> Bool {
        var rest = Substring(text)
        if rest.first == "-" || rest.first == "+" { rest = rest.dropFirst() }
        guard !rest.isEmpty else { return false }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCIIDigit || $0 == "." }
            guard number.filter({ $0 == "." }).count <= 1 else { return false }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { ("a"..."z").contains($0) }
            guard !unit.isEmpty else { return false }
            rest = rest.dropFirst(unit.count)
        }
        return true
    }
}

public struct Unit: Sendable, Equatable {
    public struct DropIn: Sendable, Equatable {
        public var name: String
        public var content: String
    }

    public var name: String
    public var runtime = false
    public var enable = false
    public var mask = false
    public var content: String?
    public var command: String?
    public var dropIns: [DropIn] = []

    public init(name: String, runtime: Bool = false, enable: Bool = false, mask: Bool = false,
                content: String? = nil, command: String? = nil, dropIns: [DropIn] = []) {
        self.name = name
        self.runtime = runtime
        self.enable = enable
        self.mask = mask
        self.content = content
        self.command = command
        self.dropIns = dropIns
    }

    init?(_ node: YAMLNode) {
        guard let name = node.string("name"), !name.isEmpty else { return nil }
        self.name = name
        runtime = node.bool("runtime")
        enable = node.bool("enable")
        mask = node.bool("mask")
        content = node.string("content").flatMap { $0.isEmpty ? nil : $0 }
        command = node.string("command").flatMap { $0.isEmpty ? nil : $0 }
        // Drop-ins missing a name or content are skipped silently, as upstream.
        dropIns = node.list("drop_ins").compactMap { item in
            guard let name = item.string("name"), !name.isEmpty,
                  let content = item.string("content"), !content.isEmpty else { return nil }
            return DropIn(name: name, content: content)
        }
    }

    /// `.network`, `.netdev` and `.link` units belong to systemd-networkd.
    public var isNetworkUnit: Bool { [".network", ".netdev", ".link"].contains { name.hasSuffix($0) } }

    /// `<etc|run>/systemd/<system|network>`
    public var directory: String {
        "/\(runtime ? "run" : "etc")/systemd/\(isNetworkUnit ? "network" : "system")"
    }
}

/// A section whose keys become `KEY=value` environment lines (etcd, etcd2, fleet, flannel, locksmith).
public struct EnvironmentSection: Sendable, Equatable {
    enum Naming: Sendable, Equatable { case etcd, prefix(String), flannel, locksmith }

    /// Set keys in schema order with values formatted as coreos-cloudinit prints them.
    public private(set) var values: [(key: String, value: String)] = []

    public static func == (a: Self, b: Self) -> Bool { a.values.elementsEqual(b.values) { $0 == $1 } }
    public var isEmpty: Bool { values.isEmpty }
    public subscript(key: String) -> String? { values.first { $0.key == key }?.value }

    let naming: Naming

    init(_ node: YAMLNode?, fields: [Field], naming: Naming) {
        self.naming = naming
        guard let node else { return }
        for field in fields {
            guard let scalar = node.member(field.name)?.value.scalar,
                  let text = Self.format(scalar, as: field.type) else { continue }
            values.append((field.name, text))
        }
    }

    /// Go's default formatting; zero values (empty, false, 0) are skipped as upstream skips them.
    static func format(_ scalar: YAMLScalar, as type: FieldType) -> String? {
        switch (type, scalar.kind) {
        case (_, .null): return nil
        case (.string, _): return scalar.text.isEmpty ? nil : scalar.text
        case (.bool, .bool(let value)): return value ? "true" : nil
        case (.int, .int(let value)): return value == 0 ? nil : String(value)
        case (.float, .int(let value)): return value == 0 ? nil : String(value)
        case (.float, .float(let value)):
            guard value != 0 else { return nil }
            if value == value.rounded(), abs(value) < 1e21 { return String(Int(value)) }
            return String(value)
        default: return nil
        }
    }

    /// The environment variable a key sets (spec §1.6–1.7).
    public func environmentName(of key: String) -> String {
        switch naming {
        case .etcd: key == "snapshot_count" ? "ETCD_SNAPSHOTCOUNT" : "ETCD_" + key.uppercased()
        case .prefix(let prefix): prefix + key.uppercased()
        case .flannel: key == "interface" ? "FLANNELD_IFACE" : "FLANNELD_" + key.uppercased()
        case .locksmith:
            switch key {
            case "window_start": "REBOOT_WINDOW_START"
            case "window_length": "REBOOT_WINDOW_LENGTH"
            default: "LOCKSMITHD_" + key.uppercased()
            }
        }
    }

    public var environment: [(name: String, value: String)] { values.map { (environmentName(of: $0.key), $0.value) } }
}

extension YAMLNode {
    func string(_ key: String) -> String? {
        guard let scalar = member(key)?.value.scalar, scalar.kind != .null else { return nil }
        return scalar.text
    }

    func bool(_ key: String) -> Bool {
        if case .bool(let value)? = member(key)?.value.scalar?.kind { value } else { false }
    }

    func strings(_ key: String) -> [String] {
        (member(key)?.value.items ?? []).compactMap { $0.scalar.flatMap { $0.kind == .null ? nil : $0.text } }
    }

    func list(_ key: String) -> [YAMLNode] { member(key)?.value.items ?? [] }
}

/// Path arithmetic for absolute paths on the machine, without Foundation.
enum SystemPath {
    /// Joins onto `/` and removes `.`, `..` and repeated slashes (Go's path.Clean).
    static func clean(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    static func parent(of path: String) -> String {
        let cleaned = clean(path)
        guard let slash = cleaned.lastIndex(of: "/"), slash != cleaned.startIndex else { return "/" }
        return String(cleaned[..<slash])
    }
}
