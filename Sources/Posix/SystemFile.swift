#if canImport(Glibc)
import Glibc
#endif

/// A file or block device through POSIX calls: what the payload reader, the installers and the agents need,
/// without Foundation (the in-image update engine is built from this module).
public final class SystemFile {
    public let path: String
    private let descriptor: Int32

    public enum Mode { case read, readWrite, create(mode: mode_t) }

    public init(_ path: String, _ mode: Mode = .read) throws(SystemFileError) {
        self.path = path
        let flags: Int32 = switch mode {
        case .read: O_RDONLY
        case .readWrite: O_RDWR
        case .create: O_RDWR | O_CREAT | O_TRUNC
        }
        let permissions: mode_t = if case .create(let mode) = mode { mode } else { 0 }
        descriptor = open(path, flags | O_CLOEXEC, permissions)
        guard descriptor >= 0 else { throw SystemFileError(path: path, "cannot open") }
    }

    deinit { close(descriptor) }

    public var size: UInt64 {
        get throws(SystemFileError) {
            let end = lseek(descriptor, 0, SEEK_END)
            guard end >= 0 else { throw SystemFileError(path: path, "cannot find the size of") }
            return UInt64(end)
        }
    }

    /// Up to `count` bytes at `offset`; fewer only at the end of the file.
    public func read(count: Int, at offset: UInt64) throws(SystemFileError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let result = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if result < 0 && errno == EINTR { continue }
            guard result >= 0 else { throw SystemFileError(path: path, "cannot read") }
            if result == 0 { break }
            done += result
        }
        return Array(bytes.prefix(done))
    }

    public func write(_ bytes: some Collection<UInt8>, at offset: UInt64) throws(SystemFileError) {
        let bytes = Array(bytes)
        var done = 0
        while done < bytes.count {
            let result = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done)) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { throw SystemFileError(path: path, "cannot write") }
            done += result
        }
    }

    /// Writes at the current position: for terminals and pipes, which have no offsets.
    public func write(_ bytes: some Collection<UInt8>) throws(SystemFileError) {
        let bytes = Array(bytes)
        var done = 0
        while done < bytes.count {
            let result = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + done, bytes.count - done) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { throw SystemFileError(path: path, "cannot write") }
            done += result
        }
    }

    public func truncate(to size: UInt64) throws(SystemFileError) {
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw SystemFileError(path: path, "cannot resize") }
    }

    public func synchronize() throws(SystemFileError) {
        guard fsync(descriptor) == 0 else { throw SystemFileError(path: path, "cannot flush") }
    }

    /// A whole (small) file, or nil when it cannot be read or holds more than `limit` bytes. Read to
    /// its end, not to its size: /proc and /sys files say they hold 0 or 4096 bytes.
    public static func contents(of path: String, limit: Int = 16 << 20) -> [UInt8]? {
        guard let file = try? SystemFile(path) else { return nil }
        var bytes: [UInt8] = []
        while true {
            guard let chunk = try? file.read(count: 65536, at: UInt64(bytes.count)) else { return nil }
            bytes += chunk
            guard bytes.count <= limit else { return nil }
            if chunk.count < 65536 { return bytes }
        }
    }

    /// Makes the entries of a directory (new and renamed files) durable.
    public static func synchronizeDirectory(_ path: String) throws(SystemFileError) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SystemFileError(path: path, "cannot open") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw SystemFileError(path: path, "cannot flush") }
    }

    /// Writes `bytes` to a temporary file beside `path`, flushes it and renames it over `path`, so
    /// readers see the old contents or the new, never a part.
    public static func replace(_ path: String, with bytes: some Collection<UInt8>, mode: mode_t = 0o644) throws(SystemFileError) {
        let temporary = path + ".tmp-\(getpid())"
        do {
            let file = try SystemFile(temporary, .create(mode: mode))
            try file.write(bytes, at: 0)
            try file.synchronize()
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let failure = SystemFileError(path: path, "cannot rename \(temporary) to")
            unlink(temporary)
            throw failure
        }
    }
}

/// A failed system call on a file: what was done, the file, and the system's reason.
public struct SystemFileError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String

    init(path: String, _ doing: String) {
        self.path = path
        reason = "\(doing) \(path): \(String(cString: strerror(errno)))"
    }

    public var description: String { reason }
}
