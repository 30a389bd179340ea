import Foundation

/// What a host tool is, for cache keys and `--dry-run`: the executable found in PATH, the digest of
/// its bytes (a rebuilt or replaced tool is a different tool) and the version line it prints.
public struct ToolIdentity: Sendable, Codable, Equatable {
    public let name: String
    public let path: String
    public let sha256: String
    public let version: String

    public init(name: String, path: String, sha256: String, version: String) {
        self.name = name
        self.path = path
        self.sha256 = sha256
        self.version = version
    }

    /// How each tool names its version; tools not listed are identified by their bytes alone.
    private static let versionArguments: [String: [String]] = [
        "mmdebstrap": ["--version"], "apt-get": ["--version"], "mksquashfs": ["-version"],
        "mkfs.erofs": ["-V"], "mke2fs": ["-V"], "mkfs.vfat": ["--help"], "mcopy": ["--version"],
        "mmd": ["--version"], "veritysetup": ["--version"], "qemu-img": ["--version"],
        "cc": ["--version"], "make": ["--version"], "ld": ["--version"], "objcopy": ["--version"],
        "swift": ["--version"],
    ]

    /// Looks `name` up in PATH (plus the sbin directories, as `Command.run` does).
    public static func resolve(_ name: String) throws -> ToolIdentity {
        guard let path = Command.locate(name) else {
            throw SupportError("the host tool '\(name)' is not installed (run scripts/setup.sh)")
        }
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath()
        var version = ""
        if let arguments = versionArguments[name], let output = try? Command.run([path] + arguments) {
            let text = output.text.isEmpty ? output.standardError : output.text
            version = text.split(separator: "\n").first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        }
        return ToolIdentity(name: name, path: path, sha256: try Digests.sha256(file: real), version: version)
    }
}

/// Host tools resolved once per build and shared by every stage that names them.
public final class ToolRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var resolved: [String: ToolIdentity] = [:]

    public init() {}

    public func identity(of name: String) throws -> ToolIdentity {
        lock.lock()
        defer { lock.unlock() }
        if let known = resolved[name] { return known }
        let identity = try ToolIdentity.resolve(name)
        resolved[name] = identity
        return identity
    }

    public func identities(of names: [String]) throws -> [ToolIdentity] {
        try names.map { try identity(of: $0) }
    }

    /// Every tool resolved so far, by name.
    public var resolvedIdentities: [ToolIdentity] {
        lock.lock()
        defer { lock.unlock() }
        return resolved.values.sorted { $0.name < $1.name }
    }
}

/// The running coresdk's own code, for cache keys: the digest of its executable, so any change to
/// the code that assembles an image (what it removes from /usr, the initramfs, the GPT writer)
/// makes new cache entries.
public enum CodeIdentity {
    public static let executable: URL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()

    public static func digest() throws -> String {
        try Digests.sha256(file: URL(fileURLWithPath: "/proc/self/exe"))
    }
}
