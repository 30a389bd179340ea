#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct ApplyError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The machine's file system under a root directory (`/` in the image, a scratch directory in
/// tests), written the way coreos-cloudinit writes: temporary file, chmod, chown, rename.
public struct MachineFiles: Sendable {
    public let root: String

    public init(root: String) { self.root = root.hasSuffix("/") ? String(root.dropLast()) : root }

    /// `/etc/hosts` → `<root>/etc/hosts`
    public func hostPath(_ path: String) -> String { root + SystemPath.clean(path) }

    public func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(hostPath(path), "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer.prefix(count)
        }
        return ferror(file) == 0 ? bytes : nil
    }

    public func readText(_ path: String) -> String? { read(path).map { String(decoding: $0, as: UTF8.self) } }

    public func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(hostPath(path), &info) == 0
    }

    /// Creates missing parents with mode 0755; a parent that exists but is not a directory is an error.
    public func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(ApplyError) {
        var current = ""
        for part in SystemPath.clean(path).split(separator: "/") {
            current += "/" + part
            var info = stat()
            if stat(hostPath(current), &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFDIR else { throw ApplyError("\(current) exists and is not a directory") }
                continue
            }
            if mkdir(hostPath(current), mode) != 0, errno != EEXIST {
                throw ApplyError("cannot create \(current): \(Self.reason())")
            }
            chmod(hostPath(current), mode)
        }
    }

    /// Replaces `path` atomically with `content`, mode `mode` (not subject to the umask) and owner.
    public func write(_ path: String, _ content: [UInt8], mode: UInt32 = 0o644, owner: Owner? = nil) throws(ApplyError) {
        let cleaned = SystemPath.clean(path)
        let directory = SystemPath.parent(of: cleaned)
        try makeDirectories(directory)
        var template = Array((hostPath(directory == "/" ? "" : directory) + "/.cloudinit-temp-XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw ApplyError("cannot create a temporary file in \(directory): \(Self.reason())") }
        let temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var failure: String?
        let written = content.withUnsafeBytes { buffer -> Int in
            var offset = 0
            while offset < buffer.count {
                let count = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if count <= 0 { return -1 }
                offset += count
            }
            return offset
        }
        if written != content.count { failure = "cannot write \(cleaned): \(Self.reason())" }
        else if fchmod(descriptor, mode_t(mode)) != 0 { failure = "cannot chmod \(cleaned): \(Self.reason())" }
        else if let owner, fchown(descriptor, owner.uid, owner.gid) != 0 { failure = "cannot chown \(cleaned): \(Self.reason())" }
        else if fsync(descriptor) != 0 { failure = "cannot sync \(cleaned): \(Self.reason())" }
        close(descriptor)
        if failure == nil, rename(temporary, hostPath(cleaned)) != 0 { failure = "cannot rename into \(cleaned): \(Self.reason())" }
        if let failure {
            unlink(temporary)
            throw ApplyError(failure)
        }
    }

    public func write(_ path: String, text: String, mode: UInt32 = 0o644, owner: Owner? = nil) throws(ApplyError) {
        try write(path, Array(text.utf8), mode: mode, owner: owner)
    }

    public func remove(_ path: String) { unlink(hostPath(path)) }

    /// Symlinks `path` to `target`, replacing a file that is there.
    public func symlink(_ path: String, to target: String) throws(ApplyError) {
        try makeDirectories(SystemPath.parent(of: path))
        unlink(hostPath(path))
        if Glibc.symlink(target, hostPath(path)) != 0 { throw ApplyError("cannot link \(path) to \(target): \(Self.reason())") }
    }

    public func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(hostPath(path), &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func fileSize(_ path: String) -> Int? {
        var info = stat()
        guard lstat(hostPath(path), &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return Int(info.st_size)
    }

    public func setMode(_ path: String, _ mode: mode_t) throws(ApplyError) {
        if Glibc.chmod(hostPath(path), mode) != 0 { throw ApplyError("cannot chmod \(path): \(Self.reason())") }
    }

    public func chown(_ path: String, _ owner: Owner) throws(ApplyError) {
        if lchown(hostPath(path), owner.uid, owner.gid) != 0 { throw ApplyError("cannot chown \(path): \(Self.reason())") }
    }

    static func reason() -> String { String(cString: strerror(errno)) }
}

/// A file owner as `write_files` gives it (`user`, `user:group`, `:group`, numeric ids), resolved
/// against the running machine's accounts, as `chown` would.
public struct Owner: Sendable, Equatable {
    public let uid: uid_t
    public let gid: gid_t

    public init(uid: uid_t, gid: gid_t) {
        self.uid = uid
        self.gid = gid
    }

    public static func resolve(_ text: String) throws(ApplyError) -> Owner {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        var uid = uid_t.max, gid = gid_t.max   // -1 leaves the id unchanged
        if let user = parts.first, !user.isEmpty {
            if let account = getpwnam(user) {
                uid = account.pointee.pw_uid
                // `user:` means the user's login group.
                if parts.count == 2, parts[1].isEmpty { gid = account.pointee.pw_gid }
            } else if let number = uid_t(user) {
                uid = number
            } else {
                throw ApplyError("unknown user \(user) in owner \(text)")
            }
        }
        if parts.count == 2, !parts[1].isEmpty {
            if let group = getgrnam(parts[1]) { gid = group.pointee.gr_gid }
            else if let number = gid_t(parts[1]) { gid = number }
            else { throw ApplyError("unknown group \(parts[1]) in owner \(text)") }
        }
        return Owner(uid: uid, gid: gid)
    }
}
